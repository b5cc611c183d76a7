//! A run on the GPU: the CUDA engine behind the same loop as the CPU's.

use super::{drive, Built, RunResult};
use crate::engine::cuda::{codegen, driver, parallel_items, CompileReport, GpuEngine, GpuOptions};
use crate::ir::Ir;
use crate::record::Recording;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Run on the GPU, as `session::run_cpu` runs on the CPU; the network is
/// drawn on `threads` CPU threads.
pub fn run_cuda(
    ir: &Ir,
    opts: &GpuOptions,
    threads: usize,
    stop: &AtomicBool,
    progress_every: u64,
    progress: &mut dyn FnMut(u64),
    report: &mut CompileReport,
) -> Result<RunResult, String> {
    super::check_memory(ir)?;
    let target = driver::Target::find()?;
    let mut variant = codegen::Variant::from_env_for(ir, target.cooperative())?;
    // (Only a CBMC_CUDA_FUSE=1 asks for it here: the default is the
    // usual step where the device cannot wait.)
    if variant.fuse && !target.cooperative() {
        eprintln!(
            "note: CBMC_CUDA_FUSE=1 needs cooperative launches, which this device does not \
             take: the usual kernels run instead"
        );
        variant.fuse = false;
    }
    let generated = codegen::generate_with(ir, &variant)?;
    // The network is built while NVRTC compiles: for a large model the
    // compilation is then hidden behind the build (cerebellum x64: ~1 s
    // beside ~1.4 s). NVRTC stays on this thread, whose stack its parser
    // has always had; the build gets a thread with a stack as large.
    let (net, compiled, build_seconds) = std::thread::scope(|scope| {
        let building = std::thread::Builder::new()
            .name("network".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, || {
                let t0 = Instant::now();
                let net = crate::network::build_on(ir, threads);
                (net, t0.elapsed().as_secs_f64())
            });
        let compiled = target.compile(&generated.source);
        let (net, build_seconds) = match building {
            Ok(b) => b
                .join()
                .unwrap_or_else(|_| (Err("building the network failed".to_string()), 0.0)),
            // No thread to be had: build here, after the compilation.
            Err(_) => {
                let t0 = Instant::now();
                (
                    crate::network::build_on(ir, threads),
                    t0.elapsed().as_secs_f64(),
                )
            }
        };
        (net, compiled, build_seconds)
    });
    let net = net?;
    let (synapses, synapse_bytes) = (net.synapse_count(), net.synapse_bytes());
    let dev = driver::CudaDevice::load(
        target,
        compiled?,
        generated.phases.len(),
        parallel_items(ir),
    )?;
    *report = CompileReport {
        compile_seconds: dev.compiled.seconds,
        cached: dev.compiled.cached,
        cubin: dev.compiled.cubin,
        arch: dev.compiled.arch.clone(),
        linked_units: dev.compiled.linked,
        load_seconds: dev.load_seconds,
        context_seconds: dev.context_seconds,
        beside: None,
    };
    let gaps = net.gaps.clone();
    let delays = net.recorded_delays(ir);
    let mut engine = GpuEngine::new(ir, net, generated, dev, opts)?;
    let mut rec = Recording::for_run(ir, &|q| engine.synapse_pairs(q), &gaps);
    rec.set_synapse_delays(ir, &delays);
    drop(delays);
    let built = Built {
        threads,
        build_seconds,
        synapses,
        synapse_bytes,
    };
    let result = drive(ir, &mut engine, rec, built, stop, progress_every, progress);
    // (After the run's own time: a whole program still compiling beside
    // it is waited for, so that the cache has it for the next run.)
    report.beside = engine.device().whole_program_outcome();
    let names = engine.generated().phases.clone();
    if let Some(p) = engine.device().profile(&names) {
        eprintln!("{p}");
    }
    if variant.profile {
        eprintln!("{}", engine.host_profile());
    }
    result
}
