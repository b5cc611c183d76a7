//! Switches of the generated source that change how the kernels work but
//! not what they compute: `#define`s in front of it (and one that changes
//! the generated step itself), for comparisons on a GPU
//! (`scripts/gpu-check.sh`) and for the profiling timers.

use crate::ir::Ir;

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
    /// Unless the environment says, on wherever the step is fused: on an
    /// H200 (twentieth session) the cerebellum's 60 s, with its sources
    /// drawn early, took 0.481 s with it against 0.500 s without.
    pub spread: bool,
    /// The grid barrier by a generation counter that the last block to
    /// arrive advances (`CBM_GENERATION_BARRIER`), instead of one count of
    /// arrivals that the host zeroes before each launch (the default since
    /// the fifteenth session: on an H200 the floor's 60 s took 0.192
    /// against 0.261 s, the cerebellum's 0.742 against 0.819 s;
    /// kernels/templates/prelude.cu).
    pub generation_barrier: bool,
    /// The tasks of a phase start at equal shares of the grid in turn
    /// (`CBM_EVEN_SHARES`), instead of at warps of their own, packed by
    /// the warps each keeps busy (`schedule::rotations`).
    pub even_shares: bool,
    /// Fewer phases a step (`CBMC_CUDA_FUSE=1`; `generate_with` builds the
    /// step differently, so it is no `#define`): deliveries with a delay
    /// of one step ordered by per-target flags in their targets' phase,
    /// last spike and teacher steps kept per step parity where a periodic
    /// rule reads them, a population with gap junctions that fits one warp
    /// updated by one warp, traces recorded by the cells' own threads.
    /// Needs the persistent kernel (every block resident). Unless the
    /// environment says, it is used where it pays (`super::fuse_pays`).
    pub fuse: bool,
    /// With `fuse`, a periodic rule of a flagged delivery's projection
    /// shares the delivery's phase, each synapse waiting for its target's
    /// flag (`CBMC_CUDA_RULE_FLAGS=1`; `schedule::Flag::Synapses`), instead
    /// of a phase of its own in its steps. Off by default: on an H200 the
    /// cerebellum took 0.581 s for 60 s with it (the rule first in the
    /// phase) against 0.545 s without.
    pub rule_flags: bool,
    /// Spike sources drawn a step early (`CBMC_CUDA_EARLY_SOURCES=1`;
    /// `generate_with` builds the step differently, fused or not): at step
    /// `s` a source draws the spikes of step `s + 1`, which depend on
    /// nothing but its own state and the time, so the deliveries of a
    /// source's spikes need not wait for them in their step and run beside
    /// the cells they feed, with no flags, instead of before them at the
    /// start of the next step. A launch's first step has its sources'
    /// spikes drawn before it, behind a grid barrier of its own
    /// (`cbm_prologue`; with one launch per phase, a launch of its own).
    /// Unless the environment says, on wherever the step is fused: on an
    /// H200 (twentieth session) the cerebellum's 60 s took 0.502 s with it
    /// against 0.528 s without, x64 fused 0.948 s (5 s) with it against
    /// 1.287 s without; x64's usual step 0.987 s with it against 0.924 s.
    pub early_sources: bool,
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
    /// The variant the environment asks for, for the kernels of `ir` on a
    /// device that does (`cooperative`) or does not take cooperative
    /// launches: `CBMC_CUDA_PROFILE=1`, `CBMC_CUDA_DELIVERY=auto|scan|words`,
    /// `CBMC_CUDA_SPREAD=1`, `CBMC_CUDA_BARRIER=counter|generation`,
    /// `CBMC_CUDA_SHARES=packed|even`, `CBMC_CUDA_FUSE=0|1`,
    /// `CBMC_CUDA_RULE_FLAGS=0|1`, `CBMC_CUDA_EARLY_SOURCES=0|1`. Where it
    /// is silent, the default: the fused step where it pays for `ir` and
    /// the device can run it, and with it the sources drawn early and the
    /// warps spread.
    pub fn from_env_for(ir: &Ir, cooperative: bool) -> Result<Self, String> {
        Self::from_vars(
            |name| std::env::var(name).ok(),
            cooperative && super::fuse_pays(ir),
        )
    }

    /// As `from_env_for`, with the variables' values from `var`, and
    /// `fuse` where `CBMC_CUDA_FUSE` is unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, fuse: bool) -> Result<Self, String> {
        // Set, the variable decides (`0` or empty: off); unset, the default.
        let on_or =
            |name: &str, default: bool| var(name).map_or(default, |v| !v.is_empty() && v != "0");
        let on = |name: &str| on_or(name, false);
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
        // A variable of two values: unset, empty or the default (`usual`)
        // gives false, `other` true.
        let either = |name: &str, usual: &str, other: &str| match var(name).as_deref() {
            None | Some("") => Ok(false),
            Some(v) if v == usual => Ok(false),
            Some(v) if v == other => Ok(true),
            Some(v) => Err(format!("{name} is `{v}`: it takes {usual} or {other}")),
        };
        let generation_barrier = either("CBMC_CUDA_BARRIER", "counter", "generation")?;
        let even_shares = either("CBMC_CUDA_SHARES", "packed", "even")?;
        let fuse = on_or("CBMC_CUDA_FUSE", fuse);
        Ok(Variant {
            profile: on("CBMC_CUDA_PROFILE"),
            delivery,
            spread: on_or("CBMC_CUDA_SPREAD", fuse),
            generation_barrier,
            even_shares,
            fuse,
            rule_flags: on("CBMC_CUDA_RULE_FLAGS"),
            early_sources: on_or("CBMC_CUDA_EARLY_SOURCES", fuse),
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
        if self.generation_barrier {
            defs.push_str("#define CBM_GENERATION_BARRIER 1\n");
        }
        if self.even_shares {
            defs.push_str("#define CBM_EVEN_SHARES 1\n");
        }
        format!("{defs}{source}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variant of `pairs` (name, value), where the fused step would
    /// be the default or not (`fuse`).
    fn from_with(pairs: &[(&str, &str)], fuse: bool) -> Result<Variant, String> {
        Variant::from_vars(
            |name| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            },
            fuse,
        )
    }

    fn from(pairs: &[(&str, &str)]) -> Result<Variant, String> {
        from_with(pairs, false)
    }

    #[test]
    fn the_environment_chooses_the_variant() {
        // Unset, the fused step is the model's default; set, it decides.
        // The sources are drawn early with the fused step unless told.
        for default in [false, true] {
            assert_eq!(from_with(&[], default).map(|v| v.fuse), Ok(default));
            let early = |pairs: &[(&str, &str)]| from_with(pairs, default).map(|v| v.early_sources);
            assert_eq!(early(&[]), Ok(default));
            assert_eq!(early(&[("CBMC_CUDA_FUSE", "0")]), Ok(false));
            assert_eq!(early(&[("CBMC_CUDA_FUSE", "1")]), Ok(true));
            assert_eq!(
                early(&[("CBMC_CUDA_FUSE", "1"), ("CBMC_CUDA_EARLY_SOURCES", "0")]),
                Ok(false)
            );
            assert_eq!(
                early(&[("CBMC_CUDA_FUSE", "0"), ("CBMC_CUDA_EARLY_SOURCES", "1")]),
                Ok(true)
            );
            assert_eq!(
                from_with(&[("CBMC_CUDA_FUSE", "0")], default).map(|v| v.fuse),
                Ok(false)
            );
            assert_eq!(
                from_with(&[("CBMC_CUDA_FUSE", "1")], default).map(|v| v.fuse),
                Ok(true)
            );
        }
        assert_eq!(from(&[]), Ok(Variant::default()));
        assert_eq!(
            from(&[("CBMC_CUDA_BARRIER", "counter")]),
            Ok(Variant::default())
        );
        assert_eq!(Variant::default().apply("x"), "x");
        let v = from(&[
            ("CBMC_CUDA_DELIVERY", "scan"),
            ("CBMC_CUDA_SPREAD", "1"),
            ("CBMC_CUDA_BARRIER", "generation"),
            ("CBMC_CUDA_SHARES", "even"),
            ("CBMC_CUDA_PROFILE", "0"),
            ("CBMC_CUDA_FUSE", "1"),
            ("CBMC_CUDA_RULE_FLAGS", "1"),
            ("CBMC_CUDA_EARLY_SOURCES", "1"),
        ])
        .expect("valid");
        assert!(v.fuse && v.rule_flags && v.early_sources);
        assert_eq!(
            v.apply("x"),
            "#define CBM_DELIVERY 1\n#define CBM_SPREAD 1\n#define CBM_GENERATION_BARRIER 1\n#define CBM_EVEN_SHARES 1\nx"
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
        assert!(e.contains("counter or generation"), "{e}");
        let e = from(&[("CBMC_CUDA_SHARES", "odd")]).expect_err("unknown");
        assert!(e.contains("packed or even"), "{e}");
    }
}
