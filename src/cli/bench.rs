//! `cbmc bench FILE`: time a model without and with recording.

use super::run::Backend;
use cbmc::session;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

#[derive(clap::Args)]
pub struct Args {
    /// The model file.
    file: PathBuf,
    /// Override a setting or parameter: NAME=VALUE (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// Simulated duration, e.g. 60s.
    #[arg(long)]
    duration: Option<String>,
    /// CPU threads, 1 to 1024 or `auto` (one per core); results are the same for any number.
    #[arg(long, default_value_t = 1, value_parser = super::parse_threads)]
    threads: usize,
    /// Repetitions of each measurement (the fastest is reported).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Engine: cpu, cuda, or auto (CUDA when usable); CUDA's wall time
    /// excludes compiling the kernels.
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
}

pub fn main(args: Args) -> ExitCode {
    let sets = match super::overrides(&args.sets, None, args.duration.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let prepared = match super::load(&args.file, &sets) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if prepared.ir.steps == 0 {
        eprintln!("error: the run has no steps: give a duration, e.g. --duration 10s");
        return ExitCode::from(2);
    }
    let use_cuda = match super::run::wants_cuda(args.backend, false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut bare = prepared.ir.clone();
    bare.recorders.clear();
    let stop = AtomicBool::new(false);
    let sim = prepared.ir.steps as f64 * prepared.ir.dt;
    println!(
        "model {} ({} steps of {} ms, {sim} s simulated), {}",
        args.file.display(),
        prepared.ir.steps,
        prepared.ir.dt * 1e3,
        if use_cuda {
            "CUDA engine (wall time without compiling)".to_string()
        } else {
            format!("{} thread(s)", args.threads)
        }
    );
    println!(
        "{:<16} {:>10} {:>12} {:>10} {:>10}",
        "", "wall s", "steps/s", "x real", "build s"
    );
    let mut engine = String::new();
    let mut compiles: Vec<cbmc::engine::cuda::CompileReport> = vec![];
    let (mut extra_bytes, mut synapses, mut synapse_bytes) = (0, 0, 0);
    for (label, ir) in [("no recording", &bare), ("with recording", &prepared.ir)] {
        let mut best: Option<session::RunResult> = None;
        for _ in 0..args.repeat {
            let run = if use_cuda {
                let mut report = cbmc::engine::cuda::CompileReport::default();
                let opts = super::gpu_options_from_env();
                let r =
                    session::run_cuda(ir, &opts, args.threads, &stop, 0, &mut |_| {}, &mut report);
                if r.is_ok() {
                    compiles.push(report);
                }
                r
            } else {
                session::run_cpu(ir, args.threads, &stop, 0, &mut |_| {})
            };
            match run {
                Ok(r) => {
                    if best
                        .as_ref()
                        .is_none_or(|b| r.wall_seconds < b.wall_seconds)
                    {
                        best = Some(r);
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        let Some(r) = best else {
            return ExitCode::from(1);
        };
        engine = r.engine.clone();
        (extra_bytes, synapses, synapse_bytes) =
            (r.extra_synapse_bytes, r.synapses, r.synapse_bytes);
        println!(
            "{label:<16} {:>10.3} {:>12.0} {:>10.1} {:>10.3}",
            r.wall_seconds,
            r.steps_done as f64 / r.wall_seconds,
            sim / r.wall_seconds,
            r.build_seconds
        );
    }
    println!("engine: {engine}");
    if let Some(first) = compiles.first() {
        let later = compiles[1..].iter().map(|c| c.compile_seconds);
        println!(
            "cuda kernels for {}: {} in {:.3} s the first time (module load {:.3} s{}){}",
            first.arch,
            first.how(),
            first.compile_seconds,
            first.load_seconds,
            first.beside_note(),
            match later.reduce(f64::max) {
                Some(most) => format!("; at most {most:.3} s in the later runs"),
                None => String::new(),
            }
        );
    }
    let per_synapse = |bytes: usize| bytes as f64 / synapses.max(1) as f64;
    println!("synapses: {synapses}; synapse memory {synapse_bytes} bytes ({:.1} bytes/synapse: pre and post index u32, each per-synapse variable f64, CSR offsets)", per_synapse(synapse_bytes));
    if extra_bytes > 0 {
        println!(
            "the engine's own synapse data: {extra_bytes} bytes more ({:.1} bytes/synapse: target indices in 1 or 2 bytes, counting masks)",
            per_synapse(extra_bytes)
        );
    }
    ExitCode::SUCCESS
}
