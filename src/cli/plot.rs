//! `cbmc plot RUN.npz`: figures and report.html from a run file.

use cbmc::analysis::{self, PlotOptions, PlotOutput};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The run file written by `cbmc run`.
    pub file: PathBuf,
    /// Output folder for the figures and report.html (default: RUN-plots
    /// next to the .npz).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    /// Also write every figure as SVG.
    #[arg(long)]
    pub svg: bool,
}

pub fn main(args: Args) -> ExitCode {
    if args.file.extension().is_some_and(|e| e == "cbm") {
        eprintln!(
            "error: {} is a model; `cbmc plot` draws a run's .npz: `cbmc run {}` writes out/{}.npz and plots it",
            args.file.display(),
            args.file.display(),
            args.file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        return ExitCode::from(1);
    }
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| analysis::default_out_dir(&args.file));
    match plot(&args.file, out_dir, args.svg) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Plot a run file and say where the report is. `cbmc run` calls this too.
pub fn plot(npz: &Path, out_dir: PathBuf, svg: bool) -> Result<PlotOutput, String> {
    let t0 = Instant::now();
    // A bug in drawing must not take the process down with a panic message:
    // report it as an error (after `cbmc run`, the .npz is already safe).
    let opts = PlotOptions { out_dir, svg };
    let out = std::panic::catch_unwind(|| analysis::plot_npz(npz, &opts)).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Err(format!("plotting failed (internal error: {what})"))
    })?;
    println!(
        "plotted {} figures in {:.2} s (reading {:.2} s): {}",
        out.figures.len(),
        t0.elapsed().as_secs_f64(),
        out.load_seconds,
        out.report.display()
    );
    Ok(out)
}
