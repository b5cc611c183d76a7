//! The CUDA engine: kernels generated from the IR (`codegen`), compiled by
//! NVRTC at run time (`nvrtc`), run on the GPU through the driver API
//! (`driver`) behind the same `Engine` trait as the CPU engine (`engine`).
//!
//! Nothing here needs a GPU or the CUDA toolkit to build: cudarc loads the
//! libraries at run time, and every entry point checks that they are present
//! before calling into them.

mod buffers;
pub mod codegen;
pub mod driver;
pub mod engine;
pub mod nvrtc;
mod schedule;
mod source_words;
pub mod tiers;
pub mod units;

pub use engine::{Device, GpuEngine, GpuOptions};

use crate::ir::Ir;

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
    /// Units linked into the module (`CBMC_NVRTC_UNITS`; 0: one program).
    pub linked_units: usize,
    /// Loading the module and finding its functions and globals.
    pub load_seconds: f64,
    /// Creating the CUDA context (before the module: once per process).
    pub context_seconds: f64,
    /// A tiered compile's whole program: what became of it (`tiers`).
    pub beside: Option<tiers::Outcome>,
}

impl CompileReport {
    /// How the kernels were had: "from the cache", "compiled", or
    /// "compiled as N task units and a main unit, linked,".
    pub fn how(&self) -> String {
        match (self.cached, self.linked_units) {
            (true, _) => "from the cache".to_string(),
            (false, 0) => "compiled".to_string(),
            (false, n) => format!("compiled as {} task units and a main unit, linked,", n - 1),
        }
    }

    /// What became of a tiered compile's whole program, as "; ..." (empty
    /// for another compile).
    pub fn beside_note(&self) -> String {
        self.beside
            .as_ref()
            .map_or(String::new(), |b| format!("; {}", b.describe()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_says_how_its_kernels_were_had() {
        let mut r = CompileReport::default();
        assert_eq!(
            (r.how().as_str(), r.beside_note()),
            ("compiled", String::new())
        );
        r.linked_units = 9;
        r.beside = Some(tiers::Outcome::TookOver {
            step: 46000,
            seconds: 1.027,
        });
        assert_eq!(r.how(), "compiled as 8 task units and a main unit, linked,");
        assert_eq!(
            r.beside_note(),
            "; the whole program, compiled beside the run in 1.027 s, took over at step 46000"
        );
        r.beside = Some(tiers::Outcome::After { seconds: 0.9 });
        assert!(r.beside_note().ends_with("is cached for the next run"));
        r.cached = true;
        assert_eq!(r.how(), "from the cache");
    }
}
