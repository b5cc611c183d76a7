//! `cbmc emit-cuda FILE`: print the CUDA source generated for a model.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The model file.
    pub file: PathBuf,
    /// Override a setting or parameter: NAME=VALUE (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Also compile each entry point with NVRTC for this architecture (e.g. 90
    /// for sm_90), as a run does, and report the time and size.
    #[arg(long)]
    pub arch: Option<u32>,
}

pub fn main(args: Args) -> ExitCode {
    let prepared = match super::load_model(&args.file, &args.sets) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // The kernels a run would compile, on a GPU that does or does not take
    // cooperative launches: with the variant the environment asks for
    // (`CBMC_CUDA_DELIVERY`, `CBMC_CUDA_FUSE`, ...), else the default.
    // Printed: the cooperative one's.
    use cbmc::engine::cuda::codegen::{generate_with, one_entry, Variant};
    use cbmc::engine::cuda::{nvrtc, units};
    let ir = &prepared.ir;
    let kernels = |cooperative: bool| {
        Variant::from_env_for(ir, cooperative)
            .and_then(|v| generate_with(ir, &v))
            .map(|g| g.source)
    };
    let compiled = |arch: u32| -> Result<(), String> {
        // Each entry point alone, as a run compiles the one it launches
        // (one launch per phase where cooperative launches are not to be
        // had, so from such a run's kernels); as units too where a run
        // would compile them (linking needs a GPU's driver), and tiered
        // both ways.
        // The ways to compile: Some(k) as k units, None as one program.
        let ways = match units::from_env()? {
            units::Plan::Whole => vec![None],
            units::Plan::Units(k) => vec![Some(k)],
            units::Plan::Tiered(k) => vec![Some(k), None],
        };
        let entries = [("cbm_run", true), ("cbm_phase_kernel", false)];
        for ((entry, persistent), way) in entries
            .into_iter()
            .flat_map(|e| ways.iter().map(move |w| (e, *w)))
        {
            let source = one_entry(&kernels(persistent)?, persistent);
            let c = match way {
                Some(k) => units::compile(&source, arch, None, k)?,
                None => nvrtc::compile(&source, arch, None)?,
            };
            if c.units.is_empty() {
                eprintln!(
                    "{entry}: compiled for {} in {:.3} s: {} bytes of {}",
                    c.arch,
                    c.seconds,
                    c.image.len(),
                    if c.cubin { "CUBIN" } else { "PTX" }
                );
            } else {
                eprintln!(
                    "{entry}: compiled for {} in {:.3} s as {} relocatable units of {} bytes in all (linked on a GPU)",
                    c.arch,
                    c.seconds,
                    c.units.len(),
                    c.units.iter().map(Vec::len).sum::<usize>()
                );
            }
        }
        Ok(())
    };
    let shown = kernels(true).map(|source| print!("{source}"));
    if let Err(e) = shown.and_then(|()| args.arch.map_or(Ok(()), compiled)) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
