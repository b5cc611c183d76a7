//! Every generated CUDA kernel executed without a GPU: the generated source
//! is compiled by the host C++ compiler against kernels/host_shim.h (a fiber
//! per CUDA thread, real warp exchanges, grid barriers, a shuffled schedule)
//! and stepped against the CPU engine. Spikes, recordings and state must
//! agree bitwise. Skips with a message when there is no C++ compiler.

#[path = "common/emu.rs"]
mod emu;
#[path = "common/models.rs"]
mod models;
#[path = "common/mutants.rs"]
mod mutants;
#[path = "common/state.rs"]
mod state;

use cbmc::engine::cuda::codegen::{Delivery, Generated, Variant};
use cbmc::ir::Ir;
use emu::{build_library, compare, compare_with, have_cxx, Setup};
use std::path::{Path, PathBuf};

fn prepare(file: &str, sets: &[(&str, &str)]) -> Ir {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    match cbmc::session::prepare(&path, &sets) {
        Ok(p) => p.ir,
        Err(_) => panic!("{file} does not check"),
    }
}

fn library(ir: &Ir, name: &str) -> PathBuf {
    library_of(ir, name, Variant::default())
}

/// The kernels of `ir` as `variant` makes them.
/// (Compare with `compare_with` and the same variant where it is `fuse`:
/// that changes the buffers too.)
fn library_of(ir: &Ir, name: &str, variant: Variant) -> PathBuf {
    let generated = cbmc::engine::cuda::codegen::generate_with(ir, &variant).expect("generate");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cuda_emu");
    build_library(&generated.source, &dir, name)
}

/// The step of fewer phases (`CBMC_CUDA_FUSE=1`): per-target flags, rows
/// per step parity, one-warp populations, traces recorded by the cells.
fn fused() -> Variant {
    Variant {
        fuse: true,
        ..Variant::default()
    }
}

/// The step of fewer phases with its rules in their deliveries' phase,
/// ordered by the deliveries' flags (`CBMC_CUDA_RULE_FLAGS=1`).
fn fused_rules() -> Variant {
    Variant {
        rule_flags: true,
        ..fused()
    }
}

/// The step of fewer phases with its spike sources drawn a step early
/// (`CBMC_CUDA_EARLY_SOURCES=1`): their deliveries run beside the cells of
/// the step, a launch's first step drawn before it.
fn fused_early() -> Variant {
    Variant {
        early_sources: true,
        ..fused()
    }
}

/// The usual step with its spike sources drawn a step early: their
/// deliveries move into the cells' phase.
fn usual_early() -> Variant {
    Variant {
        early_sources: true,
        ..Variant::default()
    }
}

/// Every delivery that can finds its spiking synapses through source
/// words, a task's warps are spread over the blocks and start at equal
/// shares of the grid (the generation barrier too, though the emulated
/// grid barrier is the host's either way).
fn words_and_spread() -> Variant {
    Variant {
        delivery: Delivery::Words,
        spread: true,
        even_shares: true,
        generation_barrier: true,
        ..Variant::default()
    }
}

/// The persistent kernel of `lib` (built with `variant`) on grids of
/// `blocks` x 64 threads with chunks of `chunk` steps, the whole state
/// compared after each chunk where `full_state`: every step as the CPU
/// engine's, and enough spikes to test something.
fn on_persistent_grids(
    label: &str,
    ir: &Ir,
    lib: &Path,
    variant: &Variant,
    grids: &[(i32, u32, bool)],
) {
    for &(blocks, chunk, full_state) in grids {
        let setup = Setup {
            blocks,
            threads: 64,
            persistent: true,
            chunk,
            full_state,
        };
        let c = compare_with(label, ir, lib, &setup, variant);
        eprintln!("{label} {setup:?}: {c:?}");
        assert_eq!(c.steps, ir.steps);
        assert!(c.spikes > 300, "too few spikes to test anything: {c:?}");
    }
}

fn skip() -> bool {
    if !have_cxx() {
        eprintln!("skipped: no host C++ compiler (g++) to emulate the CUDA kernels");
        return true;
    }
    false
}

#[test]
fn every_kernel_kind_matches_the_cpu_engine_step_by_step() {
    if skip() {
        return;
    }
    let ir = prepare("tests/cuda_models/kernels.cbm", &[]);
    let lib = library(&ir, "kernels");
    let setups = [
        // Full state after every step, persistent kernel with grid barriers.
        Setup {
            blocks: 2,
            threads: 64,
            persistent: true,
            chunk: 1,
            full_state: true,
        },
        // One launch per phase, an odd grid.
        Setup {
            blocks: 3,
            threads: 32,
            persistent: false,
            chunk: 1,
            full_state: true,
        },
        // One warp for everything, long chunks (recordings across chunk ends).
        Setup {
            blocks: 1,
            threads: 32,
            persistent: true,
            chunk: 37,
            full_state: true,
        },
        // Each chunk started before the host has served the one before
        // (GpuOptions::overlap), as runs do; spikes and recordings compared.
        Setup {
            blocks: 2,
            threads: 64,
            persistent: true,
            chunk: 37,
            full_state: false,
        },
    ];
    for setup in &setups {
        let c = compare("kernels.cbm", &ir, &lib, setup);
        eprintln!("kernels.cbm {setup:?}: {c:?}");
        assert_eq!(c.steps, ir.steps);
        assert!(c.spikes > 500, "too few spikes to test anything: {c:?}");
    }
    // The other ways of the kernels (`CBMC_CUDA_DELIVERY=words`,
    // `CBMC_CUDA_SPREAD=1`, `CBMC_CUDA_SHARES=even`,
    // `CBMC_CUDA_BARRIER=generation`): the same results.
    let lib = library_of(&ir, "kernels_words", words_and_spread());
    let label = "kernels.cbm, words and spread";
    every_step_alike(
        label,
        &ir,
        &lib,
        &Variant::default(),
        &[&setups[0], &setups[3]],
    );
    // The step of fewer phases (persistent kernel only: its flag waits
    // need every block resident), the whole state after every step too.
    let lib = library_of(&ir, "kernels_fused", fused());
    let persistent = [&setups[0], &setups[2], &setups[3]];
    every_step_alike("kernels.cbm, fused", &ir, &lib, &fused(), &persistent);
    let lib = library_of(&ir, "kernels_fused_rules", fused_rules());
    let label = "kernels.cbm, fused, rules flagged";
    every_step_alike(label, &ir, &lib, &fused_rules(), &[&setups[0], &setups[3]]);
    // Its sources drawn a step early: time-varying ones, spike times, a
    // teacher, a rule and an `on_post` reading a source's last spikes
    // (kept in three rows).
    kernels_containing(
        "kernels.cbm, sources early",
        &ir,
        &fused_early(),
        &[
            "cbm_src_Drive(s + 1, c0,",
            "cbm_src_Times(s + 1, c0,",
            "cbm_src_Drive(s, c0,",
            "LSPK_Const[((u64)s % 3ull)",
        ],
    );
    let lib = library_of(&ir, "kernels_fused_early", fused_early());
    let label = "kernels.cbm, fused, sources early";
    every_step_alike(label, &ir, &lib, &fused_early(), &persistent);
    // And in the usual step, in one launch per phase too (the prologue a
    // launch of its own).
    let lib = library_of(&ir, "kernels_early", usual_early());
    let all: Vec<&Setup> = setups.iter().collect();
    every_step_alike(
        "kernels.cbm, sources early",
        &ir,
        &lib,
        &usual_early(),
        &all,
    );
}

/// The kernels of `ir` as `variant` makes them, which must contain each
/// of `needles` (what a test relies on the generator to have done).
fn kernels_containing(label: &str, ir: &Ir, variant: &Variant, needles: &[&str]) -> Generated {
    let g = cbmc::engine::cuda::codegen::generate_with(ir, variant).expect("generate");
    for n in needles {
        assert!(g.source.contains(n), "{label}: no `{n}` in the kernels");
    }
    g
}

/// `lib` against the CPU engine in each of `setups` (`variant`: what the
/// buffers are laid out for, see `library_of`): every step the same.
fn every_step_alike(label: &str, ir: &Ir, lib: &Path, variant: &Variant, setups: &[&Setup]) {
    for setup in setups {
        let c = compare_with(label, ir, lib, setup, variant);
        eprintln!("{label}, {setup:?}: {c:?}");
        assert_eq!(c.steps, ir.steps);
    }
}

/// Every mechanism of the step of fewer phases in one small model
/// (tests/cuda_models/fused_teacher.cbm): flagged deposits and teacher
/// arrivals, rows per step parity read by a deferred rule, a population
/// with gap junctions whose step waits for per-cell flags, a trace that
/// lists a cell twice (one-warp populations: kernels.cbm, the cerebellum); and
/// last spikes read before they are written (fused_on_teacher.cbm).
#[test]
fn the_fused_step_matches_the_cpu_engine() {
    if skip() {
        return;
    }
    let ir = prepare("tests/cuda_models/fused_teacher.cbm", &[]);
    let g = kernels_containing(
        "fused_teacher.cbm, fused",
        &ir,
        &fused(),
        &[
            "#define CBM_FLAG_0 1",
            "#define CBM_FLAG_1 1",
            "#define CBM_CELLFLAG_2 1",
            "LSPK_S[((u64)s & 1ull)",
            "TARR_t_p[((u64)s & 1ull)",
            "by the cells' own threads",
        ],
    );
    // With its rule in the delivery's phase, each synapse waiting for its
    // target's flag (`CBMC_CUDA_RULE_FLAGS=1`), and without.
    let rules = cbmc::engine::cuda::codegen::generate_with(&ir, &fused_rules()).expect("generate");
    assert_eq!(rules.phases.len() + 1, g.phases.len(), "{:?}", rules.phases);
    assert!(rules.source.contains("cbm_await(FLAG_s_p + pj_, s);"));
    for (name, variant) in [
        ("fused_teacher", fused()),
        ("fused_teacher_rules", fused_rules()),
    ] {
        let lib = library_of(&ir, name, variant);
        on_persistent_grids(
            name,
            &ir,
            &lib,
            &variant,
            &[(2, 1, true), (3, 37, true), (1, 15, false)],
        );
    }
    // A rule and `on_teacher` both read `post.last_spike`; `on_teacher`
    // runs before the step that writes it (fused_on_teacher.cbm).
    let ir = prepare("tests/cuda_models/fused_on_teacher.cbm", &[]);
    let lib = library_of(&ir, "fused_on_teacher", fused());
    let setup = Setup {
        blocks: 2,
        threads: 64,
        persistent: true,
        chunk: 1,
        full_state: true,
    };
    let c = compare_with("fused_on_teacher.cbm", &ir, &lib, &setup, &fused());
    assert_eq!(c.steps, ir.steps);
}

/// Sources drawn a step early (`CBMC_CUDA_EARLY_SOURCES=1`): a rule that
/// reads a source's last spikes runs at the start of the next step beside
/// the source drawing the step after (three rows: early_sources.cbm); a
/// source whose spikes an `on_post` reads before it in the step is not
/// drawn early (late_source.cbm). Chunks of one step (every launch starts
/// with its prologue), odd ones and ones started ahead.
#[test]
fn sources_drawn_early_match_the_cpu_engine() {
    if skip() {
        return;
    }
    for (file, drawn_early, late) in [
        ("early_sources", "cbm_src_S(s + 1, c0,", None),
        (
            "late_source",
            "cbm_src_S(s + 1, c0,",
            Some("cbm_src_Late(s, c0,"),
        ),
    ] {
        let ir = prepare(&format!("tests/cuda_models/{file}.cbm"), &[]);
        // Where nothing reads S before it, a rule deferred beside it
        // reads its three rows; else Late stays in its step.
        let others = match late {
            Some(late) => vec![late],
            None => vec![
                "cbm_every0_watch(s - 1, c0, r0_)); // deferred",
                "LSPK_S[((u64)s % 3ull)",
            ],
        };
        let needles: Vec<&str> = std::iter::once(drawn_early).chain(others).collect();
        kernels_containing(file, &ir, &fused_early(), &needles);
        // The usual step, one launch per phase, chunks of one step and of
        // more (the prologue launched before each).
        let lib = library_of(&ir, &format!("{file}_early_usual"), usual_early());
        for (chunk, full_state) in [(1, true), (37, true), (15, false)] {
            let setup = Setup {
                blocks: 3,
                threads: 32,
                persistent: false,
                chunk,
                full_state,
            };
            let c = compare_with(file, &ir, &lib, &setup, &usual_early());
            eprintln!("{file}, usual step, sources early, {setup:?}: {c:?}");
            assert_eq!(c.steps, ir.steps);
        }
        let lib = library_of(&ir, &format!("{file}_early"), fused_early());
        let label = format!("{file}, sources early");
        on_persistent_grids(
            &label,
            &ir,
            &lib,
            &fused_early(),
            &[(2, 1, true), (3, 37, true), (2, 15, false)],
        );
    }
}

#[test]
fn other_seeds_and_a_larger_grid() {
    if skip() {
        return;
    }
    for seed in ["11", "12"] {
        let ir = prepare(
            "tests/cuda_models/kernels.cbm",
            &[("seed", seed), ("duration", "150 ms")],
        );
        let lib = library(&ir, &format!("kernels_seed{seed}"));
        let setup = Setup {
            blocks: 4,
            threads: 96,
            persistent: true,
            chunk: 25,
            full_state: true,
        };
        let c = compare("kernels.cbm", &ir, &lib, &setup);
        eprintln!("kernels.cbm seed {seed}: {c:?}");
        assert_eq!(c.steps, ir.steps);
    }
}

#[test]
fn cerebellum_matches_the_cpu_engine() {
    if skip() {
        return;
    }
    let ir = prepare("models/cerebellum.cbm", &[("duration", "400 ms")]);
    let lib = library(&ir, "cerebellum");
    let setup = Setup {
        blocks: 2,
        threads: 64,
        persistent: true,
        chunk: 100,
        full_state: true,
    };
    let c = compare("cerebellum.cbm", &ir, &lib, &setup);
    eprintln!("cerebellum.cbm: {c:?}");
    assert_eq!(c.steps, ir.steps);
    assert!(c.spikes > 10_000, "{c:?}");
    // One phase a step but every fifth (`CBMC_CUDA_FUSE=1`): the
    // deliveries ordered by per-target flags, the rule reading its rows per
    // step parity, the olive in one warp, its trace recorded by its cells.
    let g = cbmc::engine::cuda::codegen::generate_with(&ir, &fused()).expect("generate");
    assert_eq!(g.phases[0].len(), 13, "{:?}", g.phases);
    assert_eq!(g.phases.len(), 3, "{:?}", g.phases);
    let lib = library_of(&ir, "cerebellum_fused", fused());
    let c = compare_with("cerebellum.cbm, fused", &ir, &lib, &setup, &fused());
    eprintln!("cerebellum.cbm, fused: {c:?}");
    assert_eq!(c.steps, ir.steps);
    // Its PF and MF drawn a step early (`CBMC_CUDA_EARLY_SOURCES=1`): their
    // deliveries share the cells' phase unflagged, the PKJ wait only for
    // the BC deliveries.
    let g = cbmc::engine::cuda::codegen::generate_with(&ir, &fused_early()).expect("generate");
    assert_eq!(g.phases[0].len(), 14, "{:?}", g.phases);
    assert!(
        g.phases[0].contains(&"deliver_pf_pkj".to_string()),
        "{:?}",
        g.phases
    );
    assert!(
        g.source.contains("#define CBM_FLAG_0 0"),
        "the PF->PKJ delivery is flagged"
    );
    let lib = library_of(&ir, "cerebellum_fused_early", fused_early());
    let c = compare_with(
        "cerebellum.cbm, sources early",
        &ir,
        &lib,
        &setup,
        &fused_early(),
    );
    eprintln!("cerebellum.cbm, sources early: {c:?}");
    assert_eq!(c.steps, ir.steps);
}

#[test]
fn a_runaway_value_stops_both_engines_at_the_same_place() {
    if skip() {
        return;
    }
    let ir = prepare("tests/cuda_models/blowup.cbm", &[]);
    let lib = library(&ir, "blowup");
    // One launch per phase with chunks of 64 steps: the phase kernels
    // themselves must skip the steps after the error (as on a GPU). Chunks
    // of 4 steps started ahead: the error comes in a chunk computed while
    // the host serves the one before.
    for (chunk, persistent, full_state) in [
        (1, false, true),
        (64, true, true),
        (64, false, true),
        (4, true, false),
    ] {
        let setup = Setup {
            blocks: 1,
            threads: 64,
            persistent,
            chunk,
            full_state,
        };
        let c = compare("blowup.cbm", &ir, &lib, &setup);
        assert!(c.steps > 0 && c.steps < ir.steps, "no error seen: {c:?}");
    }
    // The kernels' other ways, chunks started ahead: none is started after
    // the chunk with the error.
    let lib = library_of(&ir, "blowup_words", words_and_spread());
    let setup = Setup {
        blocks: 1,
        threads: 64,
        persistent: true,
        chunk: 4,
        full_state: false,
    };
    let c = compare("blowup.cbm", &ir, &lib, &setup);
    assert!(c.steps > 0 && c.steps < ir.steps, "no error seen: {c:?}");
    // The step of fewer phases: the flagged deliveries of the step with
    // the error still run in the launch's last iteration; with its source
    // drawn early (in the usual step too, and there also in one launch per
    // phase), the source has drawn the step after the error's.
    kernels_containing(
        "blowup.cbm",
        &ir,
        &fused_early(),
        &["cbm_src_Noise(s + 1, c0,"],
    );
    for (name, variant) in [
        ("blowup_fused", fused()),
        ("blowup_fused_early", fused_early()),
        ("blowup_early", usual_early()),
    ] {
        let lib = library_of(&ir, name, variant);
        let launches = if variant.fuse {
            &[true][..]
        } else {
            &[true, false][..]
        };
        for (&persistent, full_state) in launches.iter().flat_map(|p| [(p, true), (p, false)]) {
            let setup = Setup {
                full_state,
                persistent,
                ..setup.clone()
            };
            let c = compare_with(name, &ir, &lib, &setup, &variant);
            assert!(c.steps > 0 && c.steps < ir.steps, "no error seen: {c:?}");
        }
    }
}

/// Every model in models/ (but the cerebellum, which has its own test, and its
/// large variants), the
/// CUDA and checker test models and the examples of docs/language.md, for up
/// to 200 steps each.
#[test]
fn every_model_runs_like_the_cpu_engine() {
    if skip() {
        return;
    }
    let mut n = 0;
    let mut spikes = 0;
    for (name, mut ir) in models::all_models() {
        if name.ends_with("cerebellum.cbm") || name.contains("variants/") {
            continue;
        }
        ir.steps = ir.steps.min(200);
        // Every other model with all deliveries through source words and
        // spread warps (the cerebellum's big fan-ins take them by default).
        // Every fourth with the step of fewer phases (persistent kernel),
        // every other of those with its sources drawn a step early; every
        // fourth its sources drawn early in the usual step (with words and
        // spread warps, one launch per phase).
        let variant = if n % 4 == 3 {
            Variant {
                early_sources: true,
                ..words_and_spread()
            }
        } else if n % 2 == 1 {
            words_and_spread()
        } else if n % 8 == 2 {
            fused()
        } else if n % 8 == 6 {
            fused_early()
        } else {
            Variant::default()
        };
        let lib = library_of(&ir, &format!("model{n}"), variant);
        let setup = Setup {
            blocks: 2,
            threads: 64,
            persistent: n % 2 == 0,
            chunk: 50,
            // A third with chunks started ahead (GpuOptions::overlap).
            full_state: n % 3 != 2,
        };
        let c = compare_with(&name, &ir, &lib, &setup, &variant);
        spikes += c.spikes;
        n += 1;
    }
    eprintln!("{n} models stepped in host emulation, {spikes} spikes compared");
    assert!(n >= 10);
}

/// A few valid mutants of the models (numbers changed: zeros of both signs,
/// tiny and huge values; see tests/common/mutants.rs), 60 steps each, the
/// whole state compared. Each costs a C++ compilation, so CI runs few;
/// `CBMC_FUZZ_SCALE=K` runs K times as many, `CBMC_FUZZ_SEED=N` others.
#[test]
fn mutated_models_run_like_the_cpu_engine() {
    if skip() {
        return;
    }
    let (seed, mutants) = mutants::from_env(0xC0DA, 6, 60, 32 << 20);
    for (i, m) in mutants.iter().enumerate() {
        let setup = Setup {
            blocks: 2,
            threads: 64,
            persistent: i % 2 == 0,
            chunk: 7,
            full_state: true,
        };
        m.run(|| {
            compare(
                &m.name,
                &m.ir,
                &library(&m.ir, &format!("mutant{i}")),
                &setup,
            )
        });
    }
    let n = mutants.len();
    eprintln!("{n} mutants stepped in host emulation (seed {seed})");
}

/// A device that fails on its `fails_at`-th chunk (a lost GPU, an ECC
/// error): what was recorded before is kept and the run is marked partial
/// with the device's message; a device that fails before the first step
/// is an error the caller can act on (`--backend auto` falls back).
struct FailingDevice {
    inner: emu::HostDevice,
    chunks: u32,
    fails_at: u32,
}

impl cbmc::engine::cuda::Device for FailingDevice {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn alloc(&mut self, bytes: usize) -> Result<u64, String> {
        self.inner.alloc(bytes)
    }
    fn upload(&mut self, dst: u64, data: &[u8]) -> Result<(), String> {
        self.inner.upload(dst, data)
    }
    fn download(&mut self, src: u64, out: &mut [u8]) -> Result<(), String> {
        self.inner.download(src, out)
    }
    fn set_table(&mut self, table: &[u64], key: [u32; 2]) -> Result<(), String> {
        self.inner.set_table(table, key)
    }
    fn launch(&mut self, s0: u64, n: u32, c0: u64) -> Result<(), String> {
        self.chunks += 1;
        if self.chunks == self.fails_at {
            return Err("the device fell off the bus".into());
        }
        self.inner.launch(s0, n, c0)
    }
}

#[test]
fn a_device_failing_mid_run_keeps_what_was_recorded() {
    if skip() {
        return;
    }
    use cbmc::engine::cuda::{codegen, GpuEngine, GpuOptions};
    let ir = prepare("tests/cuda_models/kernels.cbm", &[]);
    let lib = library(&ir, "kernels_failing");
    let run = |fails_at: u32| {
        let net = cbmc::network::build(&ir).expect("network");
        let gaps = net.gaps.clone();
        let dev = FailingDevice {
            inner: emu::HostDevice::load(&lib, 2, 64, true),
            chunks: 0,
            fails_at,
        };
        let generated = codegen::generate(&ir).expect("generate");
        let opts = GpuOptions {
            chunk_steps: 100,
            overlap: true,
            stage: true,
        };
        let mut engine = GpuEngine::new(&ir, net, generated, dev, &opts).expect("engine");
        let rec = cbmc::record::Recording::for_run(&ir, &|q| engine.synapse_pairs(q), &gaps);
        let built = cbmc::session::Built {
            threads: 1,
            build_seconds: 0.0,
            synapses: 0,
            synapse_bytes: 0,
        };
        let stop = std::sync::atomic::AtomicBool::new(false);
        cbmc::session::drive(&ir, &mut engine, rec, built, &stop, 0, &mut |_| {})
    };
    let r = run(3).expect("a failure mid-run still gives a result");
    assert_eq!(r.steps_done, 200, "two chunks of 100 steps ran");
    assert!(r.partial);
    let error = r.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("fell off the bus") && error.contains("step 200"),
        "{error}"
    );
    let drive = r
        .summary
        .iter()
        .find(|p| p.name == "Drive")
        .expect("summary");
    assert!(
        drive.mean_hz > 10.0,
        "the spikes of the first 200 steps are kept: {drive:?}"
    );
    let e = run(1)
        .err()
        .expect("a failure before the first step is an error");
    assert!(e.contains("fell off the bus"), "{e}");
}

/// With each chunk started before the host has served the one before
/// (`GpuOptions::overlap`), the device is a chunk ahead of the steps
/// served: copying its state back is refused, not answered with a later
/// step's state. Without overlap it is allowed.
#[test]
fn the_state_is_not_copied_back_while_a_chunk_runs_ahead() {
    if skip() {
        return;
    }
    use cbmc::engine::cuda::{codegen, GpuEngine, GpuOptions};
    let ir = prepare("tests/cuda_models/kernels.cbm", &[]);
    assert!(ir.steps > 20, "the model must outlast two chunks");
    let lib = library(&ir, "kernels_ahead");
    for overlap in [true, false] {
        let net = cbmc::network::build(&ir).expect("network");
        let dev = emu::HostDevice::load(&lib, 2, 64, true);
        let generated = codegen::generate(&ir).expect("generate");
        let opts = GpuOptions {
            chunk_steps: 10,
            overlap,
            stage: true,
        };
        let mut engine = GpuEngine::new(&ir, net, generated, dev, &opts).expect("engine");
        engine.run_chunk().expect("the first chunk");
        let synced = engine.sync_state();
        assert_eq!(synced.is_ok(), !overlap, "overlap {overlap}: {synced:?}");
    }
}
