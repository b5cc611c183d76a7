//! Switches of the generated source that change how the kernels work but
//! not what they compute: `#define`s in front of it (and one that changes
//! the generated step itself), for comparisons on a GPU
//! (`scripts/gpu-check.sh`) and for the profiling timers.

/// Whether runs use the step of fewer phases (`Variant::fuse`) unless
/// `CBMC_CUDA_FUSE` says otherwise. Off until a GPU session has timed it
/// and run the parity tests with it (`scripts/gpu-check.sh`, section "one
/// phase a step"): host emulation checks its results, but not its speed
/// nor the GPU's memory ordering.
pub const FUSE_BY_DEFAULT: bool = false;

/// The source's switches that change how the kernels work but not what
/// they compute, for comparisons on a GPU: each a `#define` before the
/// source (and so part of the compilation cache's key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Variant {
    /// Timers around each phase and task (`CBM_PROFILE`; see
    /// kernels/templates/entry.cu).
    pub profile: bool,
    /// How deliveries find their spiking synapses (`CBM_DELIVERY`).
    pub delivery: Delivery,
    /// A task's consecutive warps on different multiprocessors (`CBM_SPREAD`).
    pub spread: bool,
    /// The grid barrier by one count of arrivals that the host zeroes
    /// before each launch (`CBM_COUNTER_BARRIER`; kernels/templates/prelude.cu).
    pub counter_barrier: bool,
    /// Fewer phases a step (`CBMC_CUDA_FUSE=1`; `generate_with` builds the
    /// step differently, so it is no `#define`): deliveries with a delay
    /// of one step ordered by per-target flags in their targets' phase,
    /// last spike and teacher steps kept per step parity where a periodic
    /// rule reads them, a population with gap junctions that fits one warp
    /// updated by one warp, traces recorded by the cells' own threads.
    /// Needs the persistent kernel (every block resident).
    pub fuse: bool,
}

/// See `CBM_DELIVERY` in kernels/templates/prelude.cu.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delivery {
    /// The way estimated cheaper for each projection.
    #[default]
    Auto,
    /// Test each synapse's source for a spike.
    Scan,
    /// Through the targets' source words wherever they have them.
    Words,
}

impl Variant {
    /// The variant the environment asks for (the default where it is
    /// silent): `CBMC_CUDA_PROFILE=1`, `CBMC_CUDA_DELIVERY=auto|scan|words`,
    /// `CBMC_CUDA_SPREAD=1`, `CBMC_CUDA_BARRIER=generation|counter`,
    /// `CBMC_CUDA_FUSE=1`.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As `from_env`, with the variables' values from `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let on = |name: &str| var(name).is_some_and(|v| !v.is_empty() && v != "0");
        // Set, the variable decides (`0` or empty: off); unset, the default.
        let on_or =
            |name: &str, default: bool| var(name).map_or(default, |v| !v.is_empty() && v != "0");
        let delivery = match var("CBMC_CUDA_DELIVERY").as_deref() {
            None | Some("") | Some("auto") => Delivery::Auto,
            Some("scan") => Delivery::Scan,
            Some("words") => Delivery::Words,
            Some(other) => {
                return Err(format!(
                    "CBMC_CUDA_DELIVERY is `{other}`: it takes auto, scan or words"
                ))
            }
        };
        let counter_barrier = match var("CBMC_CUDA_BARRIER").as_deref() {
            None | Some("") | Some("generation") => false,
            Some("counter") => true,
            Some(other) => {
                return Err(format!(
                    "CBMC_CUDA_BARRIER is `{other}`: it takes generation or counter"
                ))
            }
        };
        Ok(Variant {
            profile: on("CBMC_CUDA_PROFILE"),
            delivery,
            spread: on("CBMC_CUDA_SPREAD"),
            counter_barrier,
            fuse: on_or("CBMC_CUDA_FUSE", FUSE_BY_DEFAULT),
        })
    }

    /// `source` with this variant's `#define`s in front (none for the default).
    pub fn apply(&self, source: &str) -> String {
        let mut defs = String::new();
        if self.profile {
            defs.push_str("#define CBM_PROFILE 1\n");
        }
        match self.delivery {
            Delivery::Auto => {}
            Delivery::Scan => defs.push_str("#define CBM_DELIVERY 1\n"),
            Delivery::Words => defs.push_str("#define CBM_DELIVERY 2\n"),
        }
        if self.spread {
            defs.push_str("#define CBM_SPREAD 1\n");
        }
        if self.counter_barrier {
            defs.push_str("#define CBM_COUNTER_BARRIER 1\n");
        }
        format!("{defs}{source}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Variant, String> {
        Variant::from_vars(|name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_environment_chooses_the_variant() {
        assert_eq!(from(&[]).map(|v| v.fuse), Ok(FUSE_BY_DEFAULT));
        assert_eq!(from(&[("CBMC_CUDA_FUSE", "0")]).map(|v| v.fuse), Ok(false));
        let plain = Variant {
            fuse: FUSE_BY_DEFAULT,
            ..Variant::default()
        };
        assert_eq!(from(&[]), Ok(plain));
        assert_eq!(Variant::default().apply("x"), "x");
        let v = from(&[
            ("CBMC_CUDA_DELIVERY", "scan"),
            ("CBMC_CUDA_SPREAD", "1"),
            ("CBMC_CUDA_BARRIER", "counter"),
            ("CBMC_CUDA_PROFILE", "0"),
            ("CBMC_CUDA_FUSE", "1"),
        ])
        .expect("valid");
        assert!(v.fuse);
        assert_eq!(
            v.apply("x"),
            "#define CBM_DELIVERY 1\n#define CBM_SPREAD 1\n#define CBM_COUNTER_BARRIER 1\nx"
        );
        let words = from(&[("CBMC_CUDA_DELIVERY", "words"), ("CBMC_CUDA_PROFILE", "1")]);
        assert_eq!(
            words.expect("valid").apply(""),
            "#define CBM_PROFILE 1\n#define CBM_DELIVERY 2\n"
        );
    }

    #[test]
    fn a_value_it_does_not_know_is_an_error_that_lists_the_choices() {
        let e = from(&[("CBMC_CUDA_DELIVERY", "fast")]).expect_err("unknown");
        assert!(
            e.contains("`fast`") && e.contains("auto, scan or words"),
            "{e}"
        );
        let e = from(&[("CBMC_CUDA_BARRIER", "flags")]).expect_err("unknown");
        assert!(e.contains("generation or counter"), "{e}");
    }
}
