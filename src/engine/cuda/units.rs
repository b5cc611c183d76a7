//! The generated source compiled as several relocatable units side by side,
//! to be linked by the driver (`CBMC_NVRTC_UNITS=k`): the step's tasks
//! spread over `k` units by the size of their code, and a main unit (0)
//! with the phases, the entry point and the module's globals. NVRTC's back
//! end (ptxas) takes most of a cold compile and works on one function after
//! another; the units give it the host's cores.
//!
//! The source carries what this needs (codegen/mod.rs): each task in a
//! guard that leaves only its declaration in a unit without `CBM_HAS_<t>`,
//! the phases and entry points only in unit 0, and the globals declared
//! `extern` outside unit 0 (`CBM_GLOBAL` in kernels/templates/prelude.cu).
//! Without `CBM_UNIT` the source is one program, as usual.

use super::codegen::UNIT_GUARD;
use super::nvrtc::{self, Compiled};
use std::time::Instant;

/// How the kernels are compiled (`CBMC_NVRTC_UNITS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// As one program (`0`; the default on a host of fewer than 4 cores).
    Whole,
    /// As `k` task units and a main unit, linked (`k`, or `auto`: one a
    /// host core).
    Units(usize),
    /// The default on a host of 4 cores or more (`tiered`): `k` units
    /// first, so that the run starts soon, and the whole program beside
    /// the run, which takes over between two chunks once it is compiled
    /// and is what the cache keeps for later runs (`super::tiers`). On an
    /// H200's host (16 cores, twentieth session) the cerebellum's 8 units
    /// compiled and linked in 0.29-0.35 s against 1.13-1.16 s as one
    /// program, but ran its 60 s in 0.646 s against 0.528 s.
    Tiered(usize),
}

/// Task units of a tiered compile: 8 were the fastest to compile on an
/// H200's host of 16 cores (0.29-0.35 s, against 0.39 s for 4 and 0.55-0.60 s
/// for 15 or 16), with a core left for the whole program.
const TIERED_UNITS: usize = 8;

/// How the environment asks for the kernels to be compiled
/// (`CBMC_NVRTC_UNITS`: `0`, a number of units, `auto` for one per host
/// core, or `tiered`; unset, tiered on 4 cores or more, else whole).
pub fn from_env() -> Result<Plan, String> {
    parse(std::env::var("CBMC_NVRTC_UNITS").ok().as_deref(), || {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    })
}

/// `from_env` of the variable's value `v`, with `cores` host cores.
fn parse(v: Option<&str>, cores: impl Fn() -> usize) -> Result<Plan, String> {
    let tiered = |cores: usize| Plan::Tiered(cores.saturating_sub(1).clamp(1, TIERED_UNITS));
    match v {
        None | Some("") => Ok(match cores() {
            c if c >= 4 => tiered(c),
            _ => Plan::Whole,
        }),
        Some("tiered") => Ok(tiered(cores())),
        Some("auto") => Ok(Plan::Units(cores().clamp(1, 64))),
        Some("0") => Ok(Plan::Whole),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&k| k <= 64)
            .map(Plan::Units)
            .ok_or_else(|| {
                format!(
                    "CBMC_NVRTC_UNITS is `{v}`: it takes a number of units, 0 to 64, auto or tiered"
                )
            }),
    }
}

/// The tasks of `source` (by the number in their guard) and the bytes of
/// each one's code.
pub fn task_sizes(source: &str) -> Vec<(usize, usize)> {
    let starts: Vec<(usize, usize)> = source
        .match_indices(UNIT_GUARD)
        .filter_map(|(at, _)| {
            let rest = &source[at + UNIT_GUARD.len()..];
            let t = rest[..rest.find(')')?].parse().ok()?;
            Some((t, at))
        })
        .collect();
    let end = source
        .find("#if !defined(CBM_UNIT) || CBM_UNIT == 0")
        .unwrap_or(source.len());
    starts
        .iter()
        .enumerate()
        .map(|(k, &(t, at))| {
            let next = starts.get(k + 1).map_or(end, |&(_, a)| a);
            (t, next.saturating_sub(at))
        })
        .collect()
}

/// The tasks spread over `k` units, largest first, each into the unit with
/// the least code so far.
pub fn partition(sizes: &[(usize, usize)], k: usize) -> Vec<Vec<usize>> {
    let k = k.max(1);
    let mut order = sizes.to_vec();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut units = vec![vec![]; k];
    let mut load = vec![0usize; k];
    for (t, size) in order {
        let u = (0..k).min_by_key(|&u| (load[u], u)).unwrap_or(0);
        units[u].push(t);
        load[u] += size;
    }
    units.retain(|u| !u.is_empty());
    for u in &mut units {
        u.sort_unstable();
    }
    units
}

/// The source of unit `unit` (0: the main unit) holding `tasks`.
pub fn unit_source(source: &str, unit: usize, tasks: &[usize]) -> String {
    let mut head = format!("#define CBM_UNIT {unit}\n");
    for t in tasks {
        head.push_str(&format!("#define CBM_HAS_{t} 1\n"));
    }
    head + source
}

/// Compile `source` for `sm_<arch>` as `k` task units and a main unit, on
/// as many threads, each to a relocatable CUBIN; through the disk cache in
/// `cache`, which holds the linked image (stored by the driver once it has
/// linked them: `Compiled::store`).
pub fn compile(
    source: &str,
    arch: u32,
    cache: Option<&std::path::Path>,
    k: usize,
) -> Result<Compiled, String> {
    nvrtc::available()?;
    let t0 = Instant::now();
    let version = nvrtc::version()?;
    let extra = std::env::var(nvrtc::EXTRA_OPTIONS_VAR).ok();
    let mut opts = nvrtc::options(version, true, extra.as_deref());
    opts.push("-rdc=true".to_string());
    let key = crate::engine::cache::hash128(&[
        source.as_bytes(),
        opts.join(" ").as_bytes(),
        format!("nvrtc {}.{} sm_{arch} units {k}", version.0, version.1).as_bytes(),
    ]);
    let entry = cache.map(|d| d.join(format!("{key}.cubin")));
    if let Some(image) = entry
        .as_deref()
        .and_then(crate::engine::cache::read_intact)
        .filter(|i| !i.is_empty())
    {
        let seconds = t0.elapsed().as_secs_f64();
        return Ok(Compiled::image(image, true, true, seconds, arch));
    }
    let mut sources = vec![unit_source(source, 0, &[])];
    for (u, tasks) in partition(&task_sizes(source), k).iter().enumerate() {
        sources.push(unit_source(source, u + 1, tasks));
    }
    let sm = format!("sm_{arch}");
    // NVRTC's parser wants a large stack (see session/cuda.rs), so each
    // thread gets one; a thread not to be had is an error, not a panic.
    let compiled: Vec<Result<(bool, Vec<u8>), String>> = std::thread::scope(|scope| {
        let running: Vec<_> = sources
            .iter()
            .map(|s| {
                let (opts, sm) = (&opts, &sm);
                std::thread::Builder::new()
                    .name("nvrtc unit".into())
                    .stack_size(64 << 20)
                    .spawn_scoped(scope, move || nvrtc::compile_now(s, opts, sm, true))
            })
            .collect();
        running
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err("an NVRTC thread failed".to_string())),
                Err(e) => Err(format!("no thread for NVRTC: {e}")),
            })
            .collect()
    });
    let mut units = vec![];
    for (u, c) in compiled.into_iter().enumerate() {
        let (cubin, image) = c.map_err(|e| format!("unit {u} of {}: {e}", sources.len()))?;
        if !cubin {
            return Err(format!("unit {u}: NVRTC made PTX, not a CUBIN to link"));
        }
        units.push(image);
    }
    if let Some(d) = cache {
        let _ = std::fs::create_dir_all(d);
    }
    Ok(Compiled {
        units,
        store: entry,
        whole: Some(source.to_string()),
        ..Compiled::image(vec![], true, false, t0.elapsed().as_secs_f64(), arch)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_units_asked_for_are_a_number_one_per_core_or_tiered() {
        let cores = || 16;
        assert_eq!(parse(None, cores), Ok(Plan::Tiered(8)));
        assert_eq!(parse(Some(""), cores), Ok(Plan::Tiered(8)));
        assert_eq!(parse(Some("0"), cores), Ok(Plan::Whole));
        assert_eq!(parse(Some("8"), cores), Ok(Plan::Units(8)));
        assert_eq!(parse(Some("auto"), cores), Ok(Plan::Units(16)));
        assert_eq!(parse(Some("auto"), || 500), Ok(Plan::Units(64)));
        // Unset on a small host: one program; asked for, a unit a core
        // but one.
        assert_eq!(parse(None, || 2), Ok(Plan::Whole));
        assert_eq!(parse(None, || 4), Ok(Plan::Tiered(3)));
        assert_eq!(parse(Some("tiered"), || 2), Ok(Plan::Tiered(1)));
        for bad in ["-1", "many", "65", "Tiered"] {
            let e = parse(Some(bad), cores).expect_err(bad);
            assert!(e.contains(&format!("`{bad}`")) && e.contains("auto"), "{e}");
        }
    }

    #[test]
    fn tasks_are_found_by_their_guards_and_spread_by_size() {
        let src = format!(
            "head\n{UNIT_GUARD}0)\nA\n#else\naaaaaaaaaaaaaaaa\n#endif\n{UNIT_GUARD}1)\nB\n#else\nb\n#endif\n{UNIT_GUARD}2)\nC\n#else\ncccccccc\n#endif\n#if !defined(CBM_UNIT) || CBM_UNIT == 0\ntail\n#endif\n"
        );
        let sizes = task_sizes(&src);
        assert_eq!(sizes.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(
            sizes[0].1 > sizes[2].1 && sizes[2].1 > sizes[1].1,
            "{sizes:?}"
        );
        // The largest alone, the two others together; never an empty unit.
        assert_eq!(partition(&sizes, 2), [vec![0], vec![1, 2]]);
        assert_eq!(partition(&sizes, 5).len(), 3);
        assert_eq!(partition(&sizes, 1), [vec![0, 1, 2]]);
        let unit = unit_source(&src, 2, &[1, 2]);
        assert!(unit.starts_with("#define CBM_UNIT 2\n#define CBM_HAS_1 1\n#define CBM_HAS_2 1\n"));
    }
}
