//! `cbmc run FILE`: simulate, record, summarise.

use cbmc::session::{self, Prepared, RunResult};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The model file.
    pub file: PathBuf,
    /// Override a setting or parameter: NAME=VALUE, unit-checked (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Random seed (same as --set seed=N).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated duration, e.g. 60s or "500 ms" (same as --set duration=...).
    #[arg(long, allow_hyphen_values = true)]
    pub duration: Option<String>,
    /// Engine: auto (CUDA when usable, else CPU), cpu or cuda.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: Backend,
    /// CPU threads, 1 to 1024 or `auto` (one per core); results are the same for any number.
    #[arg(long, default_value_t = 1, value_parser = super::parse_threads)]
    pub threads: usize,
    /// Output folder.
    #[arg(short = 'o', long = "out", default_value = "out")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Do not draw the figures and report.html after the run.
    #[arg(long)]
    pub no_plot: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Auto,
    Cpu,
    Cuda,
}

/// Whether to run on the CUDA engine, decided before the run: auto takes
/// the GPU when it and NVRTC are usable (saying why not, unless `quiet`),
/// cuda insists on it.
pub fn wants_cuda(backend: Backend, quiet: bool) -> Result<bool, String> {
    Ok(match backend {
        Backend::Cpu => false,
        Backend::Cuda => {
            cbmc::engine::cuda::driver::usable()
                .map_err(|e| format!("--backend cuda: {e}; use --backend cpu (or auto)"))?;
            true
        }
        Backend::Auto => match cbmc::engine::cuda::driver::usable() {
            Ok(_) => true,
            Err(e) => {
                if !quiet {
                    eprintln!("backend: cpu ({e})");
                }
                false
            }
        },
    })
}

pub fn main(args: Args) -> ExitCode {
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    let sets = super::overrides(&args.sets, args.seed, args.duration.as_deref())?;
    let prepared = super::load(&args.file, &sets)?;
    let use_cuda = wants_cuda(args.backend, args.quiet)?;
    session::check_writable(&args.out)?;
    let ir = &prepared.ir;
    let signals = super::stop::StopOnSignal::install();
    let stop = &signals.stop;
    let bar = (!args.quiet).then(|| progress_bar(ir.steps, ir.dt));
    let every = (ir.steps / 200).clamp(1, 10_000);
    let total = ir.steps as f64 * ir.dt;
    let mut tick = |s: u64| {
        if let Some(b) = &bar {
            b.set_position(s);
            let rate = s as f64 / b.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!(
                "{:.1} of {total:.1} s simulated, {rate:.0} steps/s",
                s as f64 * ir.dt
            ));
        }
    };
    let result = if use_cuda {
        let mut report = cbmc::engine::cuda::CompileReport::default();
        let opts = super::gpu_options_from_env();
        match session::run_cuda(ir, &opts, args.threads, stop, every, &mut tick, &mut report) {
            Ok(r) => {
                if !args.quiet {
                    eprintln!(
                        "cuda: kernels for {} {} in {:.3} s, module loaded in {:.3} s (CUDA context created in {:.3} s){}",
                        report.arch,
                        report.how(),
                        report.compile_seconds,
                        report.load_seconds,
                        report.context_seconds,
                        report.beside_note()
                    );
                }
                r
            }
            Err(e) if args.backend == Backend::Auto => {
                eprintln!("backend: cpu (the CUDA engine failed: {e})");
                session::run_cpu(ir, args.threads, stop, every, &mut tick)?
            }
            Err(e) => return Err(e),
        }
    } else {
        session::run_cpu(ir, args.threads, stop, every, &mut tick)?
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let stem = args
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run")
        .to_string();
    signals.saving();
    let path = session::write_outputs(&args.out, &stem, &prepared, &result)?;
    signals.saved();
    print_summary(&prepared, &result);
    println!("wrote {}", path.display());
    if !args.no_plot {
        // The .npz is written: a plotting failure is only a warning.
        let dir = cbmc::analysis::default_out_dir(&path);
        if let Err(e) = super::plot::plot(&path, dir, false) {
            eprintln!("warning: {e}");
            eprintln!("the run itself is saved in {}", path.display());
        }
    }
    if let Some(e) = &result.error {
        eprintln!("error: {e}");
        eprintln!("everything recorded until then is in {}", path.display());
        if matches!(e, session::RunError::Numerical(_)) {
            eprintln!("hint: a value that runs away is most often a step too large for its integration method: try a smaller dt, or `[exact]` for linear equations; an `exp` term (AdEx) can overflow inside an `[rk4]` stage before the spike test, so keep the spike threshold well below where it diverges");
        }
        return Ok(ExitCode::from(1));
    }
    if result.partial {
        eprintln!(
            "stopped early at step {} of {}: the output is marked partial",
            result.steps_done, ir.steps
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(steps: u64, dt: f64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(steps);
    let style = indicatif::ProgressStyle::with_template("{bar:30} {msg}, ETA {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(format!("0.0 of {:.1} s simulated", steps as f64 * dt));
    bar
}

pub fn print_summary(p: &Prepared, r: &RunResult) {
    let sim = r.steps_done as f64 * p.ir.dt;
    println!(
        "{:<8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "pop", "cells", "mean Hz", "min", "median", "max", "silent"
    );
    for s in &r.summary {
        println!(
            "{:<8} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7}",
            s.name, s.cells, s.mean_hz, s.min_hz, s.median_hz, s.max_hz, s.silent
        );
    }
    let rtf = if r.wall_seconds > 0.0 {
        sim / r.wall_seconds
    } else {
        f64::INFINITY
    };
    println!("simulated {sim:.3} s in {:.3} s wall ({rtf:.1}x real time) on {}; network built in {:.3} s", r.wall_seconds, r.engine, r.build_seconds);
}
