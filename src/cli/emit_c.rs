//! `cbmc emit-c FILE`: print the C source the CPU engine generates for a
//! model (its cell updates and synapse handlers), for review.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The model file.
    pub file: PathBuf,
    /// Override a setting or parameter: NAME=VALUE (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

pub fn main(args: Args) -> ExitCode {
    let sets = match super::parse_sets(&args.sets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let prepared = match super::run::load(&args.file, &sets) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print!(
        "{}",
        cbmc::engine::cpu::native::codegen::generate(&prepared.ir).source
    );
    ExitCode::SUCCESS
}
