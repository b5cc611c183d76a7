//! The CUDA engine: kernels generated from the IR (`codegen`), compiled by
//! NVRTC at run time (`nvrtc`), run on the GPU through the driver API
//! (`driver`) behind the same `Engine` trait as the CPU engine (`engine`).
//!
//! Nothing here needs a GPU or the CUDA toolkit to build: cudarc loads the
//! libraries at run time, and every entry point checks that they are present
//! before calling into them.

pub mod codegen;
pub mod driver;
pub mod engine;
pub mod nvrtc;
mod schedule;

pub use engine::{Device, GpuEngine, GpuOptions};

use crate::ir::Ir;
use crate::record::Recording;
use crate::session::RunResult;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The widest task's useful number of threads: cells of a population, or a
/// warp per target of a projection.
pub fn parallel_items(ir: &Ir) -> usize {
    let pops = ir.populations.iter().map(|p| p.size).max().unwrap_or(1);
    let targets = ir
        .projections
        .iter()
        .map(|q| 32 * ir.populations[q.target].size)
        .max()
        .unwrap_or(0);
    pops.max(targets).max(32)
}

/// Compilation and load times of a CUDA run.
#[derive(Clone, Debug, Default)]
pub struct CompileReport {
    pub compile_seconds: f64,
    pub cached: bool,
    pub cubin: bool,
    pub arch: String,
    /// Loading the module and finding its functions and globals.
    pub load_seconds: f64,
    /// Creating the CUDA context (before the module: once per process).
    pub context_seconds: f64,
}

/// Run on the GPU, as `session::run_cpu` runs on the CPU.
pub fn run_cuda(
    ir: &Ir,
    opts: &GpuOptions,
    stop: &AtomicBool,
    progress_every: u64,
    progress: &mut dyn FnMut(u64),
    report: &mut CompileReport,
) -> Result<RunResult, String> {
    let t0 = Instant::now();
    crate::network::check_memory(ir, crate::record::estimated_bytes(ir))?;
    let net = crate::network::build(ir)?;
    let synapses = net.projections.iter().map(|p| p.len()).sum();
    let mut generated = codegen::generate(ir)?;
    if std::env::var_os("CBMC_CUDA_PROFILE").is_some_and(|v| v != "0") {
        generated.source = codegen::profiled(&generated.source);
    }
    let build_seconds = t0.elapsed().as_secs_f64();
    let dev = driver::CudaDevice::new(
        &generated.source,
        generated.phases.len(),
        parallel_items(ir),
    )?;
    *report = CompileReport {
        compile_seconds: dev.compiled.seconds,
        cached: dev.compiled.cached,
        cubin: dev.compiled.cubin,
        arch: dev.compiled.arch.clone(),
        load_seconds: dev.load_seconds,
        context_seconds: dev.context_seconds,
    };
    let gaps = net.gaps.clone();
    let mut engine = GpuEngine::new(ir, net, generated, dev, opts)?;
    let rec = Recording::for_run(ir, &|q| engine.synapse_pairs(q), &gaps);
    let built = crate::session::Built {
        threads: 1,
        build_seconds,
        synapses,
    };
    let result = crate::session::drive(ir, &mut engine, rec, built, stop, progress_every, progress);
    let names = engine.generated().phases.clone();
    if let Some(p) = engine.device().profile(&names) {
        eprintln!("{p}");
    }
    result
}
