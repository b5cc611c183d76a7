//! On a GPU (CBMC_REQUIRE_GPU=1; skipped otherwise): the CUDA engine against
//! the CPU engine. Models without transcendental functions at step time must
//! agree bitwise; the cerebellum (randn() in the olive, log() in the source
//! gaps) must give identical spike trains and weights for 10 s, or else agree
//! within the statistical bounds stated below.

#[path = "common/emu.rs"]
mod emu;
#[path = "common/models.rs"]
mod models;
#[path = "common/state.rs"]
mod state;

use cbmc::engine::cpu::CpuEngine;
use cbmc::engine::cuda::driver::{self, CudaDevice};
use cbmc::engine::cuda::tiers::Beside;
use cbmc::engine::cuda::units::Plan;
use cbmc::engine::cuda::{codegen, parallel_items, GpuEngine, GpuOptions};
use cbmc::engine::{Engine, StateView};
use cbmc::ir::{Expr, Func, Ir, PopulationKindIr, SourceIr, Stmt};
use cbmc::network::rng::POISSON_EXACT_MAX;
use emu::{compare_on_with, Setup};

fn gpu_required() -> bool {
    if std::env::var("CBMC_REQUIRE_GPU").is_ok_and(|v| v == "1") {
        if let Err(e) = driver::usable() {
            panic!("CBMC_REQUIRE_GPU=1 but the CUDA engine cannot run: {e}");
        }
        true
    } else {
        eprintln!("skipped: set CBMC_REQUIRE_GPU=1 on a machine with a GPU");
        false
    }
}

/// The variant the environment asks for (`CBMC_CUDA_DELIVERY`,
/// `CBMC_CUDA_SPREAD`, `CBMC_CUDA_BARRIER`, `CBMC_CUDA_FUSE`:
/// scripts/gpu-check.sh runs the parity tests in each), else the default
/// for `ir`, as `cbmc run` would choose it.
fn variant(ir: &Ir) -> codegen::Variant {
    let target = cbmc::engine::cuda::driver::Target::find().expect("a GPU");
    codegen::Variant::from_env_for(ir, target.cooperative()).expect("CBMC_CUDA_* variables")
}

/// The kernels of `ir` on the GPU, in variant `v`.
fn device(ir: &Ir, v: &codegen::Variant) -> CudaDevice {
    let g = codegen::generate_with(ir, v).expect("generate");
    let dev = CudaDevice::new(&g.source, g.phases.len(), parallel_items(ir)).expect("CUDA device");
    // (`cbmc run` falls back to the usual kernels; a test must not test
    // something else silently, nor wait where not every block is resident.)
    assert!(
        !v.fuse || dev.persistent(),
        "CBMC_CUDA_FUSE=1 needs the persistent kernel: cooperative launches, \
         and CBMC_CUDA_NO_PERSISTENT unset"
    );
    dev
}

/// Does the model evaluate a function whose last bit differs between libm
/// and CUDA (exp, expm1, log, sin, cos, tanh, pow, randn, and rand_poisson
/// beyond its exact range, where it uses randn's log and cos) while it
/// runs? A
/// rand_poisson whose mean is a constant within the exact range is the
/// same on every engine.
fn transcendental_at_step_time(ir: &Ir) -> bool {
    fn e(x: &Expr) -> bool {
        match x {
            Expr::Call(Func::RandPoisson, a, _) => {
                !matches!(a.first(), Some(Expr::Const(m)) if *m <= POISSON_EXACT_MAX)
                    || a.iter().any(e)
            }
            Expr::Call(f, a, _) => !f.same_on_every_engine() || a.iter().any(e),
            Expr::Binary(cbmc::ir::BinOp::Pow, _, _) => true,
            Expr::Binary(_, a, b) => e(a) || e(b),
            Expr::Unary(_, a) => e(a),
            _ => false,
        }
    }
    fn s(v: &[Stmt]) -> bool {
        let mut hit = false;
        cbmc::ir::visit_exprs(v, &mut |x| hit |= e(x));
        hit
    }
    ir.populations.iter().any(|p| match &p.kind {
        PopulationKindIr::Neuron(n) => s(&n.step) || s(&n.reset) || n.spike.as_ref().is_some_and(e),
        PopulationKindIr::Source(SourceIr::SpikeTimes { .. }) => false,
        PopulationKindIr::Source(src) => match src.fixed_probability(ir.dt) {
            // Geometric gaps draw with log().
            Some(p) => p > 0.0 && p < 1.0,
            // So do those of cells with constant probabilities of their own.
            None if src.per_cell_constant() => true,
            // A time-varying rate becomes a probability through exp().
            None => matches!(src, SourceIr::Poisson { .. }) || src.rate_or_p().is_some_and(e),
        },
    }) || ir.projections.iter().any(|q| {
        s(&q.on_pre) || s(&q.on_post) || s(&q.on_teacher) || q.every.iter().any(|(_, b)| s(b))
    })
}

/// Chunks of 100 steps, the whole state compared after each.
fn chunks_of_100_whole_state() -> Setup {
    Setup {
        blocks: 0,
        threads: 0,
        persistent: true,
        chunk: 100,
        full_state: true,
    }
}

#[test]
fn models_without_transcendentals_agree_bitwise_on_the_gpu() {
    if !gpu_required() {
        return;
    }
    let mut exact = 0;
    for (name, mut ir) in models::all_models() {
        if transcendental_at_step_time(&ir) {
            continue;
        }
        ir.steps = ir.steps.min(2000);
        let setup = chunks_of_100_whole_state();
        let v = variant(&ir);
        let c = compare_on_with(&name, &ir, device(&ir, &v), &setup, &v);
        eprintln!(
            "{name}: bitwise over {} steps, {} spikes",
            c.steps, c.spikes
        );
        exact += 1;
    }
    assert!(exact >= 3, "only {exact} transcendental-free models");
}

/// 10 s of the cerebellum. Identical spike trains and weights are expected;
/// if the last bits of log/cos/exp make them part, then per population the
/// mean rate must agree within 5% (or 0.2 Hz) and the mean PF->PKJ weight
/// within 2%, and the report says at which step they parted.
#[test]
fn cerebellum_10s_matches_the_cpu_engine() {
    if !gpu_required() {
        return;
    }
    let path = models::root().join("models/cerebellum.cbm");
    let sets = vec![("duration".to_string(), "10 s".to_string())];
    let Ok(p) = cbmc::session::prepare(&path, &sets) else {
        panic!("cerebellum.cbm does not check")
    };
    let ir = p.ir;
    let net = cbmc::network::build(&ir).expect("network");
    let mut cpu = CpuEngine::new(&ir, net.clone(), 1);
    let v = variant(&ir);
    eprintln!("cerebellum kernels: {v:?}");
    let g = codegen::generate_with(&ir, &v).expect("generate");
    let mut gpu =
        GpuEngine::new(&ir, net, g, device(&ir, &v), &GpuOptions::default()).expect("engine");
    let n_pop = ir.populations.len();
    let mut counts = vec![[0u64; 2]; n_pop];
    let mut first_difference: Option<(u64, String)> = None;
    for s in 0..ir.steps {
        if gpu.needs_chunk() {
            gpu.run_chunk().expect("GPU run");
        }
        cpu.step().expect("CPU step");
        gpu.step().expect("GPU step");
        for (p, c) in counts.iter_mut().enumerate() {
            c[0] += cpu.spikes(p).len() as u64;
            c[1] += gpu.spikes(p).len() as u64;
            if first_difference.is_none() && cpu.spikes(p) != gpu.spikes(p) {
                first_difference = Some((s, ir.populations[p].name.clone()));
            }
        }
    }
    gpu.sync_state().expect("sync");
    let q = ir.projection_index("pf_pkj").expect("pf_pkj");
    let w = ir.projections[q]
        .vars
        .iter()
        .position(|v| v.name == "w")
        .expect("w");
    let (wc, wg) = (cpu.synapse_var(q, w), gpu.synapse_var(q, w));
    let same_weights = wc.iter().zip(wg).all(|(a, b)| a.to_bits() == b.to_bits());
    let secs = ir.steps as f64 * ir.dt;
    for (p, c) in counts.iter().enumerate() {
        eprintln!(
            "{:<4} CPU {:8.3} Hz  GPU {:8.3} Hz",
            ir.populations[p].name,
            c[0] as f64 / secs / ir.populations[p].size as f64,
            c[1] as f64 / secs / ir.populations[p].size as f64
        );
    }
    match (&first_difference, same_weights) {
        (None, true) => eprintln!("identical spike trains and PF->PKJ weights for 10 s"),
        _ => {
            eprintln!(
                "spike trains part at {first_difference:?}; weights identical: {same_weights}"
            );
            for (p, c) in counts.iter().enumerate() {
                let n = ir.populations[p].size as f64;
                let (a, b) = (c[0] as f64 / secs / n, c[1] as f64 / secs / n);
                assert!(
                    (a - b).abs() <= (0.05 * a).max(0.2),
                    "{}: {a} Hz on the CPU, {b} Hz on the GPU",
                    ir.populations[p].name
                );
            }
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let (a, b) = (mean(wc), mean(wg));
            assert!(
                (a - b).abs() <= 0.02 * a.abs(),
                "mean PF->PKJ weight {a} vs {b}"
            );
        }
    }
}

/// Tiered compilation (`engine::cuda::tiers`, the default on a host of 4
/// cores or more): a run starts on kernels linked from units and the whole
/// program takes over between two chunks (here at the fourth launch).
/// Across the take-over every step's spikes, and the whole state after
/// each chunk, equal the CPU engine's bitwise.
#[test]
fn the_whole_program_takes_over_between_chunks_with_the_same_results() {
    if !gpu_required() {
        return;
    }
    let mut done = 0;
    for (name, mut ir) in models::all_models() {
        // (At least 4 chunks of 100 steps: the take-over is at the fourth.)
        if transcendental_at_step_time(&ir) || ir.steps < 400 {
            continue;
        }
        ir.steps = ir.steps.min(1000);
        let v = variant(&ir);
        let g = codegen::generate_with(&ir, &v).expect("generate");
        let target = driver::Target::find().expect("a GPU");
        let units = target.compile_as(&g.source, Plan::Units(4)).expect("units");
        let whole = target.compile_as(&g.source, Plan::Whole).expect("whole");
        let mut dev = CudaDevice::load(target, units, g.phases.len(), parallel_items(&ir))
            .expect("CUDA device");
        assert!(dev.compiled.linked >= 2, "{name}: not linked from units");
        dev.offer(Beside::after_launches(whole, 3).expect("a thread"));
        let setup = chunks_of_100_whole_state();
        let c = compare_on_with(&name, &ir, dev, &setup, &v);
        assert!(
            c.engine.contains("the whole program from step 300"),
            "{name}: {}",
            c.engine
        );
        eprintln!(
            "{name}: bitwise over {} steps across the take-over",
            c.steps
        );
        done += 1;
    }
    assert!(done >= 3, "only {done} transcendental-free models");
}

/// Runs everywhere: the bitwise GPU test above has models to work on.
#[test]
fn there_are_models_without_transcendentals_to_compare_bitwise() {
    let names: Vec<String> = models::all_models()
        .into_iter()
        .filter(|(_, ir)| !transcendental_at_step_time(ir))
        .map(|(n, _)| n)
        .collect();
    eprintln!("transcendental-free models: {names:?}");
    assert!(names.len() >= 3, "{names:?}");
}
