//! The `cbmc` command line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;

#[derive(Parser)]
#[command(
    name = "cbmc",
    version,
    about = "Compile and run spiking neural circuits (.cbm models)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, resolve names, check units and values, and lint models.
    Check(cli::check::Args),
    /// Simulate a model, record it to .npz and print a summary.
    Run(cli::run::Args),
    /// Time a model with and without recording.
    Bench(cli::bench::Args),
    /// Run the 1 Hz experiments (seeds, scaled weights, plasticity off).
    Validate(cli::validate::Args),
    /// Draw a run's figures and report.html from its .npz.
    Plot(cli::plot::Args),
    /// Print the CUDA source generated for a model.
    EmitCuda(cli::emit_cuda::Args),
    /// Print the C source the CPU engine generates for a model.
    EmitC(cli::emit_c::Args),
}

fn main() -> ExitCode {
    restore_sigpipe();
    end_quietly_when_output_fails();
    // The checker and lowering walk expression trees recursively; a long
    // `else if` chain or sum in a generated model makes a deep one. The
    // parser refuses absurd sizes (syntax/parser.rs); this gives everything
    // below them room (only the pages used are ever touched).
    const STACK: usize = 256 << 20;
    match std::thread::Builder::new().stack_size(STACK).spawn(run) {
        Ok(thread) => thread.join().unwrap_or(ExitCode::from(101)),
        Err(_) => run(),
    }
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(a) => cli::check::main(a),
        Command::Run(a) => cli::run::main(a),
        Command::Bench(a) => cli::bench::main(a),
        Command::Validate(a) => cli::validate::main(a),
        Command::Plot(a) => cli::plot::main(a),
        Command::EmitCuda(a) => cli::emit_cuda::main(a),
        Command::EmitC(a) => cli::emit_c::main(a),
    }
}

/// Rust ignores SIGPIPE, so printing to a closed pipe (`cbmc check m.cbm |
/// head`) would fail with a panic; like other command-line tools, end
/// quietly instead. Files are always written before the summary is printed.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: sets the disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `println!` panics when standard output cannot be written (`> /dev/full`,
/// a full disk). Files are always written before anything is printed about
/// them, so end with a one-line error and status 1 instead of a panic.
fn end_quietly_when_output_fails() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "error: {message}");
            std::process::exit(1);
        }
        default(info);
    }));
}
