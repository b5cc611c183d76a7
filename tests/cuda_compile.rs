//! NVRTC compiles the generated kernels of every model to CUBIN for sm_80
//! and sm_90. Skips with a message when libnvrtc is absent; fails instead
//! when CBMC_REQUIRE_NVRTC=1 (CI installs NVRTC from pip).

#[path = "common/models.rs"]
mod models;

use cbmc::engine::cuda::{codegen, nvrtc};

fn nvrtc_here() -> bool {
    match nvrtc::available() {
        Ok(()) => true,
        Err(e) => {
            if std::env::var("CBMC_REQUIRE_NVRTC").is_ok_and(|v| v == "1") {
                panic!("CBMC_REQUIRE_NVRTC=1 but {e}");
            }
            eprintln!("skipped: {e}");
            false
        }
    }
}

/// The generated CUDA of models/cerebellum.cbm with `--set`s.
fn cerebellum(sets: &[(&str, &str)]) -> codegen::Generated {
    codegen::generate(&cerebellum_ir(sets)).expect("generate")
}

/// models/cerebellum.cbm with `--set`s.
fn cerebellum_ir(sets: &[(&str, &str)]) -> cbmc::ir::Ir {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/cerebellum.cbm");
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let Ok(p) = cbmc::session::prepare(&path, &sets) else {
        panic!("cerebellum.cbm does not check")
    };
    p.ir
}

#[test]
fn every_model_compiles_to_cubin_for_sm80_and_sm90() {
    if !nvrtc_here() {
        return;
    }
    let models = models::all_models();
    assert!(models.len() >= 10, "only {} models found", models.len());
    let mut compiled = 0;
    for (name, ir) in &models {
        let g = codegen::generate(ir).unwrap_or_else(|e| panic!("{name}: {e}"));
        for arch in [80, 90] {
            let c = nvrtc::compile(&g.source, arch, None)
                .unwrap_or_else(|e| panic!("{name} for sm_{arch}:\n{e}"));
            assert!(
                c.cubin && c.image.len() > 1000,
                "{name}: no CUBIN for sm_{arch}"
            );
            compiled += 1;
        }
    }
    let (major, minor) = nvrtc::version().expect("version");
    eprintln!(
        "NVRTC {major}.{minor}: {} models, {compiled} CUBINs (sm_80, sm_90)",
        models.len()
    );
}

/// The kernels' variants (`codegen::Variant`): profiling timers, each way
/// of finding a delivery's spiking synapses, warps spread over the blocks,
/// tasks in equal shares of the grid, the generation barrier, the step of
/// fewer phases (with the profile's timers too, as gpu-check.sh runs it),
/// with its rules flagged, with its sources drawn a step early; the usual
/// step with its sources drawn early, one launch per phase.
#[test]
fn every_variant_of_the_kernels_compiles() {
    if !nvrtc_here() {
        return;
    }
    let ir = cerebellum_ir(&[]);
    let variants = [
        codegen::Variant {
            profile: true,
            ..Default::default()
        },
        codegen::Variant {
            delivery: codegen::Delivery::Scan,
            spread: true,
            even_shares: true,
            ..Default::default()
        },
        codegen::Variant {
            delivery: codegen::Delivery::Words,
            generation_barrier: true,
            ..Default::default()
        },
        codegen::Variant {
            fuse: true,
            profile: true,
            ..Default::default()
        },
        codegen::Variant {
            fuse: true,
            rule_flags: true,
            ..Default::default()
        },
        codegen::Variant {
            fuse: true,
            early_sources: true,
            profile: true,
            ..Default::default()
        },
    ];
    for v in variants {
        let g = codegen::generate_with(&ir, &v).expect("generate");
        let source = codegen::one_entry(&g.source, true);
        let c = nvrtc::compile(&source, 90, None).unwrap_or_else(|e| panic!("{v:?}: {e}"));
        assert!(c.cubin && c.image.len() > 1000, "{v:?}");
    }
    // The usual step with sources drawn early, in one launch per phase
    // (whose phase -1 is the prologue).
    let early = codegen::Variant {
        early_sources: true,
        ..Default::default()
    };
    let g = codegen::generate_with(&ir, &early).expect("generate");
    let source = codegen::one_entry(&g.source, false);
    let c = nvrtc::compile(&source, 90, None).unwrap_or_else(|e| panic!("{early:?}: {e}"));
    assert!(c.cubin && c.image.len() > 1000);
    // The fused x64 variant: its olive's step waits for per-cell flags.
    let path = models::root().join("models/variants/cerebellum_x64.cbm");
    let Ok(p) = cbmc::session::prepare(&path, &[]) else {
        panic!("cerebellum_x64.cbm does not check")
    };
    let fused = codegen::Variant {
        fuse: true,
        ..Default::default()
    };
    let g = codegen::generate_with(&p.ir, &fused).expect("generate");
    assert!(g.source.contains("#define CBM_CELLFLAG_5 1"));
    let source = codegen::one_entry(&g.source, true);
    let c = nvrtc::compile(&source, 90, None).unwrap_or_else(|e| panic!("x64, fused: {e}"));
    assert!(c.cubin);
}

/// A run compiles only the entry point it launches; each compiles alone.
#[test]
fn each_entry_point_compiles_alone() {
    if !nvrtc_here() {
        return;
    }
    let g = cerebellum(&[]);
    for persistent in [true, false] {
        let source = codegen::one_entry(&g.source, persistent);
        let c = nvrtc::compile(&source, 90, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.cubin && c.image.len() > 1000);
    }
}

#[test]
fn a_compile_error_shows_the_generated_line_and_the_model_construct() {
    if !nvrtc_here() {
        return;
    }
    let g = cerebellum(&[]);
    // Break one line of the PKJ update.
    let broken = g
        .source
        .replacen("V_PKJ_theta[i] = ", "V_PKJ_theta[i] = undefined_name + ", 1);
    let e = nvrtc::compile(&broken, 90, None).expect_err("must not compile");
    assert!(e.contains("undefined_name"), "{e}");
    assert!(e.contains("generated line"), "{e}");
    assert!(e.contains("from the model: population PKJ"), "{e}");
}

#[test]
fn the_disk_cache_skips_compilation() {
    if !nvrtc_here() {
        return;
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("nvrtc_cache");
    let _ = std::fs::remove_dir_all(&dir);
    let g = cerebellum(&[]);
    let cold = nvrtc::compile(&g.source, 90, Some(&dir)).expect("compile");
    assert!(!cold.cached);
    let warm = nvrtc::compile(&g.source, 90, Some(&dir)).expect("compile");
    assert!(warm.cached);
    assert_eq!(cold.image, warm.image);
    // A new seed changes no code, so it is cached too.
    let g7 = cerebellum(&[("seed", "7")]);
    assert_eq!(g.source, g7.source, "the seed must not change the code");
    eprintln!(
        "cerebellum sm_90: cold {:.3} s, cached {:.4} s",
        cold.seconds, warm.seconds
    );
}

/// The schedule the GPU speed depends on (docs/cuda.md): two phases per
/// step, the climbing-fibre delivery and the recorders deferred into the
/// next step's first phase, and the PF->PKJ rule alone in a third phase
/// that runs every 5 steps. No NVRTC needed.
#[test]
fn the_cerebellum_step_takes_two_phases_and_the_rule_a_third() {
    let g = cerebellum(&[]);
    assert_eq!(g.phases.len(), 3, "{:?}", g.phases);
    for deferred in ["deliver_cf_pkj", "record_IO_V", "record_weights"] {
        assert!(
            g.phases[0].contains(&format!("{deferred} (step before)")),
            "{:?}",
            g.phases
        );
    }
    assert!(
        g.phases[1].iter().any(|t| t == "deliver_pf_pkj"),
        "{:?}",
        g.phases
    );
    assert_eq!(g.phases[2], ["every0_pf_pkj"]);
    assert!(g
        .source
        .contains("case 2: return ((parts & 2) && ((u64)(s) % 5ull == 0ull));"));
}

/// The step of fewer phases (`CBMC_CUDA_FUSE=1`; docs/cuda.md): every
/// delivery deferred into the next step's one phase (those with a delay of
/// one step ordered by flags), the olive in one warp with its trace, the
/// rule in a phase of its own every fifth step, the weights recorder after
/// it every hundredth. With `CBMC_CUDA_RULE_FLAGS=1`, the rule deferred
/// into the one phase, last (its synapses ordered after the PF->PKJ
/// delivery by the same flags). No NVRTC needed.
#[test]
fn the_fused_cerebellum_step_is_one_phase_but_every_fifth() {
    let ir = cerebellum_ir(&[]);
    let fused = codegen::Variant {
        fuse: true,
        ..Default::default()
    };
    let g = codegen::generate_with(&ir, &fused).expect("generate");
    assert_eq!(g.phases.len(), 3, "{:?}", g.phases);
    for q in [
        "pf_pkj", "pf_bc", "mf_dcn", "bc_pkj", "pkj_dcn", "dcn_io", "cf_pkj",
    ] {
        let deferred = format!("deliver_{q} (step before)");
        assert!(g.phases[0].contains(&deferred), "{:?}", g.phases);
    }
    assert!(
        g.phases[0].iter().any(|t| t == "cells_IO"),
        "{:?}",
        g.phases
    );
    assert_eq!(g.phases[1], ["every0_pf_pkj (step before)"]);
    assert_eq!(g.phases[2], ["record_weights (step before)"]);
    assert!(g
        .source
        .contains("case 1: return ((parts & 1) && ((u64)(s - 1) % 5ull == 0ull));"));
    assert!(!g.source.contains("cbm_await(FLAG_pf_pkj + pj_, s);"));
    // The rule last in the one phase, each synapse waiting for its
    // target's PF->PKJ flag.
    let rules = codegen::Variant {
        rule_flags: true,
        ..fused
    };
    let g = codegen::generate_with(&ir, &rules).expect("generate");
    assert_eq!(g.phases.len(), 2, "{:?}", g.phases);
    assert_eq!(
        g.phases[0].last().map(String::as_str),
        Some("every0_pf_pkj (step before)"),
        "{:?}",
        g.phases
    );
    assert_eq!(g.phases[1], ["record_weights (step before)"]);
    assert!(g.source.contains("cbm_await(FLAG_pf_pkj + pj_, s);"));
    // The four deliveries with a delay of one step, and no other, flagged.
    for (q, flagged) in [(0, 1), (1, 1), (2, 1), (3, 0), (4, 0), (5, 1), (6, 0)] {
        let want = format!("#define CBM_FLAG_{q} {flagged}");
        let any = format!("#define CBM_FLAG_{q} ");
        assert!(
            g.source.contains(&want) || (flagged == 0 && !g.source.contains(&any)),
            "{want}"
        );
    }
}

/// The kernels compiled as relocatable units side by side
/// (`CBMC_NVRTC_UNITS`; linking them needs a GPU's driver): every task in
/// exactly one unit, and each unit a CUBIN for sm_80 and sm_90.
#[test]
fn the_kernels_compile_as_units() {
    use cbmc::engine::cuda::units;
    if !nvrtc_here() {
        return;
    }
    let g = cerebellum(&[]);
    let source = codegen::one_entry(&g.source, true);
    let sizes = units::task_sizes(&source);
    assert_eq!(sizes.len(), g.phases.iter().map(Vec::len).sum::<usize>());
    let parts = units::partition(&sizes, 4);
    let mut all: Vec<usize> = parts.concat();
    all.sort_unstable();
    assert_eq!(all, (0..sizes.len()).collect::<Vec<_>>());
    for arch in [80, 90] {
        let c = units::compile(&source, arch, None, 4)
            .unwrap_or_else(|e| panic!("units for sm_{arch}: {e}"));
        assert_eq!(
            c.units.len(),
            parts.len() + 1,
            "the main unit and {parts:?}"
        );
        assert!(c.units.iter().all(|u| u.len() > 1000), "sm_{arch}");
    }
}

/// The fused step is the default where its flags are few enough to pay
/// (`codegen::fuse_pays`): the cerebellum's four one-step deliveries reach
/// 776 cells; x64's reach 64 times as many, CUBA's 8,000.
#[test]
fn the_fused_step_is_the_default_for_few_flagged_targets() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ir = |file: &str| {
        cbmc::session::prepare(&root.join(file), &[])
            .unwrap_or_else(|_| panic!("{file} does not check"))
            .ir
    };
    let small = ir("models/cerebellum.cbm");
    assert!(codegen::fuse_pays(&small));
    for large in [
        "models/variants/cerebellum_x64.cbm",
        "bench/models/cuba.cbm",
    ] {
        assert!(!codegen::fuse_pays(&ir(large)), "{large}");
    }
    // What a run on a GPU would build with the environment silent, and
    // without cooperative launches (no waits): the usual step.
    let silent = |_: &str| None;
    // The fused step draws its sources a step early, its warps spread.
    let v = codegen::Variant::from_vars(silent, codegen::fuse_pays(&small)).expect("variant");
    assert!(v.fuse && v.early_sources && v.spread);
    let usual = codegen::Variant::from_vars(silent, false).expect("variant");
    assert!(!usual.fuse && !usual.early_sources && !usual.spread);
}

/// A pulse's length does not grow the kernel: long pulses add into the ring
/// in memory (a line per slot once made `for 65536 ms` a 10 MB source that
/// took the host compiler many minutes). Host emulation checks the results
/// (`tests/cuda_models/long_pulse.cbm`, 100 steps).
#[test]
fn a_long_pulse_does_not_grow_the_kernel() {
    let path = models::root().join("tests/cuda_models/long_pulse.cbm");
    let text = std::fs::read_to_string(&path).expect("long_pulse.cbm");
    let size = |pulse: &str| {
        let t = text.replace("for 100 ms", pulse);
        let checked = cbmc::check::check_text(&path, &t);
        let model = checked.model.expect("checks");
        let ir = cbmc::ir::lower(&model).expect("lowers");
        codegen::generate(&ir).expect("generates").source.len()
    };
    let (short, long) = (size("for 100 ms"), size("for 65536 ms"));
    assert!(
        long < short + 100,
        "{short} bytes for 100 steps, {long} for 65536"
    );
}
