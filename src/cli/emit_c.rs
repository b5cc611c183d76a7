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
    let prepared = match super::load_model(&args.file, &args.sets) {
        Ok(p) => p,
        Err(code) => return code,
    };
    print!(
        "{}",
        cbmc::engine::cpu::native::codegen::generate(&prepared.ir).source
    );
    ExitCode::SUCCESS
}
