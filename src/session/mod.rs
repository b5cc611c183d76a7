//! One run, end to end: check, lower, instantiate, simulate, record, write.
//! The command line and the tests both drive runs through here; `cuda` runs
//! on the GPU, `metadata` describes a run in its outputs.

mod cuda;
mod metadata;

pub use cuda::run_cuda;
pub use metadata::{metadata, recorders_meta};

use crate::check::{check_file, Checked};
use crate::engine::cpu::CpuEngine;
use crate::engine::Engine;
use crate::ir::Ir;
use crate::network::Network;
use crate::record::{summarise, write_npz, NpzArray, PopulationSummary, Recording};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A model ready to run.
pub struct Prepared {
    pub ir: Ir,
    pub checked: Checked,
    /// FNV-1a hash of every source text (model and imports); the overrides
    /// are stored beside it.
    pub model_hash: String,
    pub sets: Vec<(String, String)>,
    pub path: PathBuf,
}

pub enum PrepareError {
    /// The model file could not be read.
    Io(String),
    /// The model has errors (diagnostics inside).
    Invalid(Box<Checked>),
    /// Lowering failed (a checker gap; reported, never a panic).
    Lowering(String),
}

pub fn prepare(path: &Path, sets: &[(String, String)]) -> Result<Prepared, PrepareError> {
    let checked = check_file(path, sets).map_err(PrepareError::Io)?;
    let Some(model) = &checked.model else {
        return Err(PrepareError::Invalid(Box::new(checked)));
    };
    let mut ir = crate::ir::lower(model).map_err(PrepareError::Lowering)?;
    crate::network::estimate_pair_probabilities(&mut ir).map_err(PrepareError::Lowering)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for i in 0..checked.sources.len() {
        feed(checked.sources.file(i as u32).text.as_bytes());
    }
    Ok(Prepared {
        ir,
        checked,
        model_hash: format!("{h:016x}"),
        sets: sets.to_vec(),
        path: path.to_path_buf(),
    })
}

/// How a run ended.
pub struct RunResult {
    pub recording: Recording,
    pub summary: Vec<PopulationSummary>,
    pub engine: String,
    pub threads: usize,
    pub wall_seconds: f64,
    pub build_seconds: f64,
    pub steps_done: u64,
    /// Stopped early (Ctrl-C) or by an error.
    pub partial: bool,
    /// Why the run stopped early, if not by a request.
    pub error: Option<RunError>,
    pub synapses: usize,
    /// See [`crate::network::Network::synapse_bytes`].
    pub synapse_bytes: usize,
    /// See [`Engine::extra_synapse_bytes`].
    pub extra_synapse_bytes: usize,
}

/// Run on the CPU engine. `progress` is called with the steps done, at most
/// every `progress_every` steps; `stop` ends the run after the current step.
pub fn run_cpu(
    ir: &Ir,
    threads: usize,
    stop: &AtomicBool,
    progress_every: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<RunResult, String> {
    run_cpu_with(ir, threads, stop, progress_every, progress, &mut |_| {})
}

/// `run_cpu`, letting the caller configure the recording first (marks,
/// tracked ranges).
pub fn run_cpu_with(
    ir: &Ir,
    threads: usize,
    stop: &AtomicBool,
    progress_every: u64,
    progress: &mut dyn FnMut(u64),
    setup: &mut dyn FnMut(&mut Recording),
) -> Result<RunResult, String> {
    let t0 = Instant::now();
    let net = instantiate(ir, threads)?;
    let built = Built {
        threads,
        build_seconds: t0.elapsed().as_secs_f64(),
        synapses: net.synapse_count(),
        synapse_bytes: net.synapse_bytes(),
    };
    let gaps = net.gaps.clone();
    let delays = net.recorded_delays(ir);
    let mut engine = CpuEngine::new(ir, net, threads);
    let mut rec = Recording::for_run(ir, &|q| engine.synapse_pairs(q), &gaps);
    rec.set_synapse_delays(ir, &delays);
    drop(delays);
    setup(&mut rec);
    drive(ir, &mut engine, rec, built, stop, progress_every, progress)
}

/// The network a run starts from, after making sure that it and the
/// recordings fit in memory (a clear error now, not an abort mid-run).
fn instantiate(ir: &Ir, threads: usize) -> Result<Network, String> {
    check_memory(ir)?;
    crate::network::build_on(ir, threads)
}

/// Whether the network and the recordings fit in memory.
fn check_memory(ir: &Ir) -> Result<(), String> {
    crate::network::check_memory(ir, crate::record::recording_bytes(ir))
}

/// What building a network for a run measured.
pub struct Built {
    pub threads: usize,
    pub build_seconds: f64,
    pub synapses: usize,
    pub synapse_bytes: usize,
}

/// Step an engine through `ir`'s steps, until `stop` is set or a value goes
/// NaN, recording into `rec` after every step; the run's result.
pub fn drive(
    ir: &Ir,
    engine: &mut dyn Engine,
    mut rec: Recording,
    built: Built,
    stop: &AtomicBool,
    progress_every: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<RunResult, String> {
    let t1 = Instant::now();
    let mut error = None;
    let mut partial = false;
    while engine.steps_done() < ir.steps {
        if stop.load(Ordering::Relaxed) {
            partial = true;
            break;
        }
        let s = engine.steps_done();
        // A device that fails before the first step is an error the caller
        // can act on (`--backend auto` falls back to the CPU); later, what
        // was recorded until then is kept, like a numerical error.
        if let Err(e) = engine.prepare() {
            if s == 0 {
                return Err(e);
            }
            error = Some(RunError::Device(format!(
                "{e}, at step {s}; the run stopped there"
            )));
            partial = true;
            break;
        }
        if let Err(e) = engine.step() {
            (error, partial) = (Some(RunError::Numerical(e)), true);
            break;
        }
        rec.after_step(s, &*engine);
        if progress_every > 0 && (s + 1).is_multiple_of(progress_every) {
            progress(s + 1);
        }
    }
    // A step that failed is not recorded, nor are its spikes counted.
    let failed_step = matches!(error, Some(RunError::Numerical(_)));
    rec.take_engine_totals(&*engine, failed_step);
    let wall_seconds = t1.elapsed().as_secs_f64();
    Ok(RunResult {
        summary: summarise(ir, &rec),
        engine: engine.describe(),
        threads: built.threads,
        wall_seconds,
        build_seconds: built.build_seconds,
        steps_done: engine.steps_done(),
        partial,
        error,
        synapses: built.synapses,
        synapse_bytes: built.synapse_bytes,
        extra_synapse_bytes: engine.extra_synapse_bytes(),
        recording: rec,
    })
}

/// Why a run stopped before its end.
#[derive(Clone, Debug)]
pub enum RunError {
    /// A value went NaN or infinite.
    Numerical(crate::engine::NumericalError),
    /// The device failed mid-run (a launch, a copy).
    Device(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Numerical(e) => e.fmt(f),
            RunError::Device(e) => f.write_str(e),
        }
    }
}

/// Write `<dir>/<stem>.npz` and `<dir>/<stem>.meta.json`.
pub fn write_outputs(
    dir: &Path,
    stem: &str,
    p: &Prepared,
    r: &RunResult,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create output folder {}: {e}", dir.display()))?;
    let meta = metadata(p, r);
    let meta_text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    let mut arrays = r.recording.arrays();
    let bytes = meta_text.clone().into_bytes();
    arrays.push((
        crate::npz_keys::META.into(),
        NpzArray::U8 {
            shape: vec![bytes.len()],
            data: bytes.into(),
        },
    ));
    let path = dir.join(format!("{stem}.npz"));
    write_npz(&path, &arrays)?;
    let meta_path = dir.join(format!("{stem}.meta.json"));
    crate::files::write_atomically(&meta_path, meta_text.as_bytes()).map_err(|e| {
        format!(
            "{e}; the results are complete in {} (its `meta` array holds the same record)",
            path.display()
        )
    })?;
    Ok(path)
}

/// Fail early, before a long run, if the output folder cannot be written.
pub fn check_writable(dir: &Path) -> Result<(), String> {
    if !dir.exists() && dir.symlink_metadata().is_ok() {
        return Err(format!(
            "the output folder {} is a link to something that does not exist: choose another with -o",
            dir.display()
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "the output folder {} is a file, not a folder: choose another with -o",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create output folder {}: {e}", dir.display()))?;
    let probe = dir.join(".cbmc-write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| format!("cannot write to output folder {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
