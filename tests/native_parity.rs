//! The CPU engine's generated native code against its interpreter: every
//! model, step by step, must give the same spikes, the same cell and synapse
//! state and the same numerical errors, bit for bit.
//!
//! Skips with a message when no C compiler works; fails instead when
//! CBMC_REQUIRE_CC=1 (CI sets it).

#[path = "common/models.rs"]
mod models;
#[path = "common/mutants.rs"]
mod mutants;
#[path = "common/state.rs"]
mod state;

use cbmc::engine::cpu::{CpuCode, CpuEngine};
use cbmc::engine::{Engine, StateView};
use cbmc::ir::Ir;

/// The native engine for `ir`, or None (after saying why) when there is no
/// working C compiler and none is required.
fn native_engine(ir: &Ir) -> Option<CpuEngine> {
    let net = cbmc::network::build(ir).expect("network");
    let engine = CpuEngine::with_code(ir, net, 1, CpuCode::Native);
    if engine.describe().contains("native code") {
        return Some(engine);
    }
    let msg = format!("no native code: {}", engine.describe());
    // With a working compiler, generated code that does not compile is a
    // bug, never a reason to skip.
    let no_compiler = msg.contains("no C compiler") || msg.contains("does not run");
    if !no_compiler || std::env::var("CBMC_REQUIRE_CC").is_ok_and(|v| v == "1") {
        panic!("{msg} (CBMC_REQUIRE_CC=1)");
    }
    eprintln!("skipped: {msg}");
    None
}

/// Step both for `steps` steps; compare the whole state every
/// `state_every` steps. Returns the number of spikes compared.
fn compare(label: &str, ir: &Ir, steps: u64, state_every: u64) -> Option<u64> {
    let mut native = native_engine(ir)?;
    let net = cbmc::network::build(ir).expect("network");
    let mut interp = CpuEngine::with_code(ir, net, 1, CpuCode::Interpret);
    let mut spikes = 0;
    for s in 0..steps {
        let (a, b) = (interp.step(), native.step());
        if state::same_outcome(label, s, &a, &b, ("interpreter", "native")) {
            return Some(spikes);
        }
        for (p, pop) in ir.populations.iter().enumerate() {
            assert_eq!(
                interp.spikes(p),
                native.spikes(p),
                "{label}: step {s}: spikes of `{}`",
                pop.name
            );
            spikes += interp.spikes(p).len() as u64;
        }
        if (s + 1) % state_every != 0 && s + 1 != steps {
            continue;
        }
        state::assert_same_state(label, s, ir, &interp, &native, ("interpreter", "native"));
    }
    Some(spikes)
}

#[test]
fn every_model_runs_the_same_native_and_interpreted() {
    let mut n = 0;
    let mut spikes = 0;
    for (name, ir) in models::all_models() {
        // The cerebellum has its own, longer comparison below.
        if name.ends_with("models/cerebellum.cbm") {
            continue;
        }
        match compare(&name, &ir, ir.steps.min(500), 1) {
            Some(s) => spikes += s,
            None => return,
        }
        n += 1;
    }
    assert!(n > 20, "only {n} models");
    assert!(spikes > 10_000, "only {spikes} spikes compared");
    eprintln!("{n} models, {spikes} spikes compared");
}

#[test]
fn cerebellum_runs_the_same_native_and_interpreted() {
    let path = models::root().join("models/cerebellum.cbm");
    let Ok(prepared) = cbmc::session::prepare(&path, &[]) else {
        panic!("models/cerebellum.cbm does not check");
    };
    let ir = prepared.ir;
    // 3 s: plasticity every 5 ms, teacher spikes, gap currents, IO noise.
    if let Some(spikes) = compare("cerebellum", &ir, 3000, 250) {
        assert!(spikes > 300_000, "only {spikes} spikes");
    }
}

/// Valid mutants of the models (numbers changed: zeros of both signs, tiny
/// and huge values; see tests/common/mutants.rs), 60 steps each, the whole
/// state after every step. `CBMC_FUZZ_SEED=N` changes the mutants,
/// `CBMC_FUZZ_SCALE=K` makes K times as many.
#[test]
fn mutated_models_run_the_same_native_and_interpreted() {
    let (seed, mutants) = mutants::from_env(0x5EED, 100, 60, 32 << 20);
    for m in &mutants {
        if m.run(|| compare(&m.name, &m.ir, m.ir.steps, 1)).is_none() {
            return; // no C compiler (said why)
        }
    }
    eprintln!("{} mutants compared (seed {seed})", mutants.len());
}
