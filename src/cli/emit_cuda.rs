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
    // The kernels a run on a GPU that takes cooperative launches would
    // compile: with the variant the environment asks for
    // (`CBMC_CUDA_DELIVERY`, `CBMC_CUDA_FUSE`, ...), else the default.
    use cbmc::engine::cuda::codegen::{generate_with, Variant};
    let generated = match Variant::from_env_for(&prepared.ir, true)
        .and_then(|v| generate_with(&prepared.ir, &v))
    {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{}", generated.source);
    if let Some(arch) = args.arch {
        use cbmc::engine::cuda::{nvrtc, units};
        let k = match units::from_env() {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        // Each entry point alone, as a run compiles the one it launches
        // (one launch per phase: where cooperative launches are not to be
        // had, so from the kernels such a run builds); with
        // CBMC_NVRTC_UNITS, as units (linking needs a GPU's driver).
        for (entry, persistent) in [("cbm_run", true), ("cbm_phase_kernel", false)] {
            let kernels = match Variant::from_env_for(&prepared.ir, persistent)
                .and_then(|v| generate_with(&prepared.ir, &v))
            {
                Ok(g) => g.source,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let source = cbmc::engine::cuda::codegen::one_entry(&kernels, persistent);
            let compiled = match k {
                0 => nvrtc::compile(&source, arch, None),
                k => units::compile(&source, arch, None, k),
            };
            match compiled {
                Ok(c) if !c.units.is_empty() => eprintln!(
                    "{entry}: compiled for {} in {:.3} s as {} relocatable units of {} bytes in all (linked on a GPU)",
                    c.arch,
                    c.seconds,
                    c.units.len(),
                    c.units.iter().map(Vec::len).sum::<usize>()
                ),
                Ok(c) => eprintln!(
                    "{entry}: compiled for {} in {:.3} s: {} bytes of {}",
                    c.arch,
                    c.seconds,
                    c.image.len(),
                    if c.cubin { "CUBIN" } else { "PTX" }
                ),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    }
    ExitCode::SUCCESS
}
