//! Host emulation of the CUDA engine: the generated source compiled by the
//! host C++ compiler against kernels/host_shim.h and loaded with libloading,
//! behind the same `Device` trait the GPU uses.
#![allow(dead_code)]

use cbmc::engine::cpu::CpuEngine;
use cbmc::engine::cuda::codegen::{self, Generated, Variant};
use cbmc::engine::cuda::{Device, GpuEngine, GpuOptions};
use cbmc::engine::{Engine, StateView};
use cbmc::ir::Ir;
use cbmc::record::{NpzArray, Recording};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Is there a host C++ compiler? (Tests skip with a message when not.)
pub fn have_cxx() -> bool {
    Command::new(cxx())
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cxx() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "g++".into())
}

/// Compile a generated module into a shared library in `dir`.
pub fn build_library(source: &str, dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create dir");
    let cu = dir.join(format!("{name}.cu"));
    std::fs::write(&cu, source).expect("write source");
    let wrapper = dir.join(format!("{name}_emu.cpp"));
    std::fs::write(
        &wrapper,
        format!(
            "#include \"host_shim.h\"\n#include \"{}\"\n#include \"host_driver.h\"\n",
            cu.display()
        ),
    )
    .expect("write wrapper");
    let lib = dir.join(format!("lib{name}_emu.so"));
    let kernels = super::models::root().join("kernels");
    let out = Command::new(cxx())
        .args([
            "-O1",
            "-std=c++17",
            "-shared",
            "-fPIC",
            "-ffp-contract=off",
            "-fno-fast-math",
            // libm's pow as the CPU engine calls it (not x * x for pow(x, 2)).
            "-fno-builtin",
            "-U_FORTIFY_SOURCE",
        ])
        .arg("-I")
        .arg(&kernels)
        .arg("-o")
        .arg(&lib)
        .arg(&wrapper)
        .output()
        .expect("run the C++ compiler");
    assert!(
        out.status.success(),
        "the generated code of {name} does not compile on the host:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

type SetTable = unsafe extern "C" fn(*const u64, i32, u32, u32);
type Run = unsafe extern "C" fn(i64, i32, i64, i32, i32, u32, i32) -> i32;

/// The generated module run on the host: memory is host memory.
pub struct HostDevice {
    lib: libloading::Library,
    bufs: Vec<Vec<u64>>,
    pub blocks: i32,
    pub threads: i32,
    pub seed: u32,
    pub persistent: bool,
    pub launches: u64,
}

impl HostDevice {
    pub fn load(lib: &Path, blocks: i32, threads: i32, persistent: bool) -> Self {
        // SAFETY: a library we just built; its initialisers are trivial.
        let lib = unsafe { libloading::Library::new(lib) }.expect("load emulation library");
        HostDevice {
            lib,
            bufs: vec![],
            blocks,
            threads,
            seed: 1,
            persistent,
            launches: 0,
        }
    }
}

impl Device for HostDevice {
    fn describe(&self) -> String {
        format!(
            "host emulation ({} x {} threads, {})",
            self.blocks,
            self.threads,
            if self.persistent {
                "persistent kernel"
            } else {
                "one launch per phase"
            }
        )
    }
    fn alloc(&mut self, bytes: usize) -> Result<u64, String> {
        let v = vec![0u64; bytes.div_ceil(8).max(1)];
        let a = v.as_ptr() as u64;
        self.bufs.push(v);
        Ok(a)
    }
    fn upload(&mut self, dst: u64, data: &[u8]) -> Result<(), String> {
        // SAFETY: `dst` is one of our buffers, at least `data.len()` bytes long.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst as *mut u8, data.len()) };
        Ok(())
    }
    fn download(&mut self, src: u64, out: &mut [u8]) -> Result<(), String> {
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, out.as_mut_ptr(), out.len()) };
        Ok(())
    }
    fn set_table(&mut self, table: &[u64], key: [u32; 2]) -> Result<(), String> {
        // SAFETY: the symbol's signature is that of host_driver.h.
        unsafe {
            let f: libloading::Symbol<SetTable> = self
                .lib
                .get(b"cbm_emu_set_table")
                .map_err(|e| e.to_string())?;
            f(table.as_ptr(), table.len() as i32, key[0], key[1]);
        }
        Ok(())
    }
    fn launch(&mut self, s0: u64, n: u32, c0: u64) -> Result<(), String> {
        self.seed = self.seed.wrapping_mul(747796405).wrapping_add(2891336453);
        self.launches += 1;
        // SAFETY: as above.
        let rc = unsafe {
            let f: libloading::Symbol<Run> =
                self.lib.get(b"cbm_emu_run").map_err(|e| e.to_string())?;
            f(
                s0 as i64,
                n as i32,
                c0 as i64,
                self.blocks,
                self.threads,
                self.seed,
                self.persistent as i32,
            )
        };
        if rc != 0 {
            return Err(format!("host emulation failed ({rc})"));
        }
        Ok(())
    }
}

/// How a comparison runs.
#[derive(Clone, Debug)]
pub struct Setup {
    pub blocks: i32,
    pub threads: i32,
    pub persistent: bool,
    pub chunk: u32,
    /// Compare every cell and synapse variable after each chunk.
    pub full_state: bool,
}

/// What a comparison covered.
#[derive(Default, Debug)]
pub struct Compared {
    pub steps: u64,
    pub spikes: u64,
    pub state_checks: u64,
    pub values: u64,
    /// The device's description at the end of the comparison.
    pub engine: String,
}

use crate::state::same;

fn compare_arrays(label: &str, a: &[(String, NpzArray)], b: &[(String, NpzArray)]) {
    assert_eq!(
        a.len(),
        b.len(),
        "{label}: recorder arrays differ in number"
    );
    for ((ka, va), (kb, vb)) in a.iter().zip(b) {
        assert_eq!(ka, kb, "{label}: recorder keys");
        match (va, vb) {
            (
                NpzArray::F64 {
                    shape: sa,
                    data: da,
                },
                NpzArray::F64 {
                    shape: sb,
                    data: db,
                },
            ) => {
                assert_eq!(sa, sb, "{label}: shape of `{ka}`");
                for (i, (x, y)) in da.iter().zip(db.iter()).enumerate() {
                    assert!(
                        same(*x, *y),
                        "{label}: `{ka}`[{i}] is {x:e} on the CPU, {y:e} in the CUDA kernels"
                    );
                }
            }
            (
                NpzArray::U32 {
                    shape: sa,
                    data: da,
                },
                NpzArray::U32 {
                    shape: sb,
                    data: db,
                },
            ) => {
                assert_eq!((sa, da), (sb, db), "{label}: `{ka}`")
            }
            (
                NpzArray::U16 {
                    shape: sa,
                    data: da,
                },
                NpzArray::U16 {
                    shape: sb,
                    data: db,
                },
            ) => {
                assert_eq!((sa, da), (sb, db), "{label}: `{ka}`")
            }
            (
                NpzArray::U8 {
                    shape: sa,
                    data: da,
                },
                NpzArray::U8 {
                    shape: sb,
                    data: db,
                },
            ) => {
                assert_eq!((sa, da), (sb, db), "{label}: `{ka}`")
            }
            _ => panic!("{label}: `{ka}` has different types"),
        }
    }
}

/// Step the CPU engine and the emulated CUDA engine side by side on `ir`;
/// spikes, errors, recordings and (optionally) the whole state must agree bitwise.
pub fn compare(label: &str, ir: &Ir, lib: &Path, setup: &Setup) -> Compared {
    compare_with(label, ir, lib, setup, &Variant::default())
}

/// As `compare`, for a library built from `generate_with(ir, variant)`.
pub fn compare_with(
    label: &str,
    ir: &Ir,
    lib: &Path,
    setup: &Setup,
    variant: &Variant,
) -> Compared {
    let dev = HostDevice::load(lib, setup.blocks, setup.threads, setup.persistent);
    compare_on_with(label, ir, dev, setup, variant)
}

/// Copy the device's state back and assert that every cell and synapse
/// variable equals the CPU engine's after step `s`; the number compared.
fn same_whole_state<D: Device>(
    label: &str,
    s: u64,
    ir: &Ir,
    cpu: &CpuEngine,
    gpu: &mut GpuEngine<D>,
) -> u64 {
    gpu.sync_state().expect("sync");
    crate::state::assert_same_state(
        label,
        s,
        ir,
        cpu as &dyn StateView,
        &*gpu as &dyn StateView,
        ("CPU", "CUDA"),
    )
}

/// As `compare`, on any device (the GPU test uses the real one).
/// The module must have been generated with `variant`.
pub fn compare_on_with<D: Device>(
    label: &str,
    ir: &Ir,
    dev: D,
    setup: &Setup,
    variant: &Variant,
) -> Compared {
    let net = cbmc::network::build(ir).expect("network");
    let mut cpu = CpuEngine::new(ir, net.clone(), 1);
    let generated: Generated = codegen::generate_with(ir, variant).expect("generate");
    let mut gpu = GpuEngine::new(
        ir,
        net,
        generated,
        dev,
        &GpuOptions {
            chunk_steps: setup.chunk,
            // The whole state is compared after each chunk, so the device
            // may not run ahead; without that, the overlapped path is tested,
            // with the recordings copied aside first for odd chunk lengths
            // and not for even ones, so that both ways run.
            overlap: !setup.full_state,
            stage: setup.chunk % 2 == 1,
        },
    )
    .expect("engine");
    let pairs: Vec<(Vec<u32>, Vec<u32>)> = (0..ir.projections.len())
        .map(|q| cpu.synapse_pairs(q))
        .collect();
    let refs: Vec<(&[u32], &[u32])> = pairs
        .iter()
        .map(|(a, b)| (a.as_slice(), b.as_slice()))
        .collect();
    let mut rec_cpu = Recording::new(ir, &refs);
    let mut rec_gpu = Recording::new(ir, &refs);
    let mut c = Compared::default();
    let label = format!("{label} [{}]", gpu.describe());
    for s in 0..ir.steps {
        if gpu.needs_chunk() {
            gpu.run_chunk().expect("device run");
        }
        let a = cpu.step();
        let b = gpu.step();
        if crate::state::same_outcome(&label, s, &a, &b, ("CPU", "CUDA")) {
            // Both stopped after this step: nothing after it may have run.
            if setup.full_state {
                c.values += same_whole_state(&label, s, ir, &cpu, &mut gpu);
            }
            c.steps = s;
            c.engine = gpu.describe();
            return c;
        }
        for p in 0..ir.populations.len() {
            let (x, y) = (cpu.spikes(p), gpu.spikes(p));
            assert_eq!(
                x, y,
                "{label}: step {s}: spikes of `{}` differ",
                ir.populations[p].name
            );
            c.spikes += x.len() as u64;
        }
        rec_cpu.after_step(s, &cpu as &dyn StateView);
        rec_gpu.after_step(s, &gpu as &dyn StateView);
        c.steps = s + 1;
        // At the end of each chunk (the state is on the device until then).
        if setup.full_state && gpu.needs_chunk() {
            c.state_checks += 1;
            c.values += same_whole_state(&label, s, ir, &cpu, &mut gpu);
        }
    }
    compare_arrays(&label, &rec_cpu.arrays(), &rec_gpu.arrays());
    c.engine = gpu.describe();
    c
}
