//! The CPU engine against closed forms.

mod common;
use common::*;

/// A leaky cell under constant drive with [exact] integration reaches
/// threshold after n* = ceil(ln((Vinf - theta)/(Vinf - Vreset)) / (-dt/tau))
/// steps, every time, so it spikes floor(steps / n*) times.
#[test]
fn leaky_cell_spike_count_matches_formula() {
    let model = r#"
simulation { dt = 0.1 ms  duration = 1 s }
neuron Lif {
    parameters { tau = 20 ms; EL = -70 mV; drive = 25 mV; theta = -50 mV; V_reset = -70 mV }
    state { V = V_reset }
    equations { dV/dt = (EL + drive - V) / tau  [exact] }
    spike when V >= theta
    reset { V = V_reset }
}
population N[3] = Lif()
record s = spike_times(N)
"#;
    let r = run_text("lif", model);
    let (tau, dt) = (0.02_f64, 1e-4_f64);
    let (v_inf, theta, v_reset) = (-0.045_f64, -0.05_f64, -0.07_f64);
    let n_star = (((v_inf - theta) / (v_inf - v_reset)).ln() / (-dt / tau)).ceil() as u64;
    let expected = 10_000 / n_star;
    for (cell, &count) in totals(&r, 0).iter().enumerate() {
        assert_eq!(
            count, expected,
            "cell {cell}: {count} spikes, formula says {expected} (period {n_star} steps)"
        );
    }
    // And the first spike is at step n* - 1 (0-based).
    let (_, t) = f64s(&r, "s_t");
    assert!(
        (t[0] - (n_star - 1) as f64 * dt).abs() < 1e-12,
        "first spike at {} s",
        t[0]
    );
}

#[test]
fn exponential_conductance_decays_exactly() {
    let model = r#"
simulation { dt = 0.5 ms  duration = 50 ms }
neuron G {
    parameters { tau = 4.15 ms }
    state { g: 1/ms = 1 /ms }
    equations { dg/dt = -g / tau  [exact] }
}
population P[1] = G()
record g = trace(P.g, cells = [0])
"#;
    let r = run_text("decay", model);
    let (_, g) = f64s(&r, "g");
    assert_eq!(g.len(), 100);
    for (s, v) in g.iter().enumerate() {
        // Recorded after step s: s + 1 decay factors (1 /ms = 1000 /s).
        let want = 1000.0 * (-((s + 1) as f64) * 0.5 / 4.15).exp();
        assert!(((v - want) / want).abs() < 1e-12, "step {s}: {v} vs {want}");
    }
}

fn rate_within_3_sigma(counts: &[u64], steps: u64, p_expected: f64) {
    let n = counts.len() as f64;
    let per_step: Vec<f64> = counts.iter().map(|&c| c as f64 / steps as f64).collect();
    let mean = per_step.iter().sum::<f64>() / n;
    let var = per_step.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let se = (var / n).sqrt();
    assert!(se > 0.0);
    assert!(
        (mean - p_expected).abs() < 3.0 * se,
        "rate per step {mean} vs expected {p_expected} (se {se})"
    );
}

#[test]
fn bernoulli_with_refractory_rate_is_p_over_1_plus_kp() {
    let model = r#"
simulation { dt = 1 ms  duration = 20 s }
population S[500] = bernoulli(p = 0.03, refractory = 5 ms)
record s = spike_counts(S, bin = 1 s)
"#;
    let r = run_text("bern", model);
    let p = 0.03;
    rate_within_3_sigma(&totals(&r, 0), 20_000, p / (1.0 + 5.0 * p));
}

#[test]
fn bernoulli_without_constant_rate_uses_per_step_draws_and_same_rate() {
    // A rate that depends on t takes the per-step path; same statistics.
    let model = r#"
simulation { dt = 1 ms  duration = 20 s }
population S[500] = bernoulli(rate = 30 Hz + 0 Hz * t / 1 s, refractory = 5 ms)
record s = spike_counts(S, bin = 1 s)
"#;
    let r = run_text("bern_t", model);
    let p = 0.03;
    rate_within_3_sigma(&totals(&r, 0), 20_000, p / (1.0 + 5.0 * p));
}

#[test]
fn poisson_rate_matches() {
    let model = r#"
simulation { dt = 1 ms  duration = 20 s }
population S[500] = poisson(rate = 10 Hz)
record s = spike_counts(S, bin = 1 s)
"#;
    let r = run_text("poisson", model);
    rate_within_3_sigma(&totals(&r, 0), 20_000, 1.0 - (-0.01f64).exp());
}

/// Each cell's count against its own spike probability per step `p[i]`
/// (with `k` refractory steps after a spike: rate p / (1 + k p)): a cell
/// of probability 0 never spikes, one of 1 every step it may, the others
/// within 5 sd, and the sum of squared z-scores near the number of cells.
fn counts_follow_per_cell_probabilities(counts: &[u64], steps: u64, p: &[f64], k: f64) {
    assert_eq!(counts.len(), p.len());
    let mut chi2 = 0.0;
    let mut free = 0.0;
    for (i, (&c, &p)) in counts.iter().zip(p).enumerate() {
        if p <= 0.0 {
            assert_eq!(c, 0, "cell {i} of probability {p} spiked");
            continue;
        }
        if p >= 1.0 {
            assert_eq!(c, steps / (1 + k as u64), "cell {i} of probability {p}");
            continue;
        }
        let rate = p / (1.0 + k * p);
        let mean = rate * steps as f64;
        // A renewal process's count variance: n rate (1 - p) / (1 + k p)^2.
        let sd = (steps as f64 * rate * (1.0 - p) / (1.0 + k * p).powi(2)).sqrt();
        let z = (c as f64 - mean) / sd;
        assert!(
            z.abs() < 5.0,
            "cell {i}: {c} spikes, expected {mean:.1} (sd {sd:.1})"
        );
        chi2 += z * z;
        free += 1.0;
    }
    assert!(
        (chi2 - free).abs() < 5.0 * (2.0 * free).sqrt(),
        "sum of squared z-scores {chi2:.1} for {free} cells"
    );
}

/// `i` in a source's rate gives each cell its own constant rate (geometric
/// gaps from each cell's own probability): a rate of 0 never spikes, a
/// probability of 1 spikes every step it is free to.
#[test]
fn source_rates_follow_the_cell_index() {
    let model = r#"
simulation { dt = 1 ms  duration = 50 s }
population P[30] = poisson(rate = max(0 Hz, 2 Hz * (i - 2)))
population B[12] = bernoulli(p = select(i > 10, 1, 0.01 * i), refractory = 4 ms)
record p = spike_counts(P, bin = 50 s)
record b = spike_counts(B, bin = 50 s)
"#;
    let r = run_text("source_index", model);
    let steps = 50_000;
    let p: Vec<f64> = (0..30)
        .map(|i| 1.0 - (-(2.0 * (i as f64 - 2.0)).max(0.0) * 1e-3).exp())
        .collect();
    counts_follow_per_cell_probabilities(&totals(&r, 0), steps, &p, 0.0);
    let p: Vec<f64> = (0..12)
        .map(|i| if i > 10 { 1.0 } else { 0.01 * i as f64 })
        .collect();
    counts_follow_per_cell_probabilities(&totals(&r, 1), steps, &p, 4.0);
}

/// A rate drawn per cell: the spread of the counts is the drawn rates'
/// (a shared rate would give a variance near the mean count, 200 here;
/// uniform(5, 15) Hz over 20 s adds 20^2 * 100/12 = 3,333), and the mean
/// is the distribution's.
#[test]
fn source_rates_drawn_per_cell_spread_the_counts() {
    let model = r#"
simulation { dt = 1 ms  duration = 20 s  seed = 4 }
population P[600] = poisson(rate = uniform(5 Hz, 15 Hz))
record p = spike_counts(P, bin = 20 s)
"#;
    let r = run_text("source_drawn", model);
    let c: Vec<f64> = totals(&r, 0).iter().map(|&c| c as f64).collect();
    let n = c.len() as f64;
    let mean = c.iter().sum::<f64>() / n;
    let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // Per cell: 20 s x (1 - exp(-r dt)) / dt, r ~ U(5, 15) Hz; about 199.
    let expected = (0..1000)
        .map(|k| {
            let r = 5.0 + 10.0 * (k as f64 + 0.5) / 1000.0;
            20_000.0 * (1.0 - (-r * 1e-3_f64).exp())
        })
        .sum::<f64>()
        / 1000.0;
    let se = (var / n).sqrt();
    assert!(
        (mean - expected).abs() < 4.0 * se,
        "mean count {mean} vs {expected} (se {se})"
    );
    assert!(
        var > 2_500.0 && var < 4_500.0,
        "variance of the counts {var}"
    );
}

/// A rate that changes along the population and in time: each cell draws
/// each step from its own probability of that step. The cells' rates are
/// 3 i Hz outside the stimulus and 4 times that inside it (a quarter of
/// each trial).
#[test]
fn source_rates_along_the_population_and_in_time() {
    let model = r#"
simulation { dt = 1 ms  duration = 40 s }
protocol stim { trial = 1 s; cs = window(0 ms, 250 ms) }
population P[20] = poisson(rate = 3 Hz * i * (1 + 3 * cs))
population Inside[20] = bernoulli(p = 0.004 * i * cs)
record p = spike_counts(P, bin = 250 ms)
record q = spike_counts(Inside, bin = 250 ms)
"#;
    let r = run_text("source_moving", model);
    let (shape, c) = u16s(&r, "p");
    assert_eq!(shape, vec![160, 20]);
    let (mut inside, mut outside) = (vec![0u64; 20], vec![0u64; 20]);
    for (b, row) in c.chunks(20).enumerate() {
        let to = if b % 4 == 0 {
            &mut inside
        } else {
            &mut outside
        };
        for (t, &x) in to.iter_mut().zip(row) {
            *t += u64::from(x);
        }
    }
    let p_of = |hz: f64| 1.0 - (-hz * 1e-3_f64).exp();
    let p_in: Vec<f64> = (0..20).map(|i| p_of(12.0 * i as f64)).collect();
    let p_out: Vec<f64> = (0..20).map(|i| p_of(3.0 * i as f64)).collect();
    counts_follow_per_cell_probabilities(&inside, 10_000, &p_in, 0.0);
    counts_follow_per_cell_probabilities(&outside, 30_000, &p_out, 0.0);
    // The Bernoulli source spikes only inside the window.
    let (_, q) = u16s(&r, "q");
    let mut q_in = vec![0u64; 20];
    for (b, row) in q.chunks(20).enumerate() {
        for (i, &x) in row.iter().enumerate() {
            if b % 4 == 0 {
                q_in[i] += u64::from(x);
            } else {
                assert_eq!(x, 0, "cell {i} spiked outside the window (bin {b})");
            }
        }
    }
    let p: Vec<f64> = (0..20).map(|i| 0.004 * i as f64).collect();
    counts_follow_per_cell_probabilities(&q_in, 10_000, &p, 0.0);
}

#[test]
fn spike_arrives_exactly_delay_steps_later() {
    let model = r#"
simulation { dt = 1 ms  duration = 30 ms }
neuron Sink {
    inputs { I: mV/ms }
    state { V = 0 mV }
    equations { dV/dt = I [euler] }
}
synapse Kick { parameters { amount: mV/ms } on_pre { target += amount } }
population Src[1] = spike_times(times = [10 ms])
population Dst[1] = Sink()
projection p: Src -> Dst.I { synapse = Kick(amount = 1 mV/ms)  connect = one_to_one()  delay = 3 ms }
record i = trace(Dst.I, cells = [0])
"#;
    let r = run_text("delay", model);
    let (_, i) = f64s(&r, "i");
    for (s, v) in i.iter().enumerate() {
        let want = if s == 13 { 1.0 } else { 0.0 };
        assert_eq!(*v, want, "step {s}: input {v}");
    }
}

/// The first projection's shortest delay in steps and (target cell, delay in
/// steps) of each of its synapses, as the network draws them, and the run.
fn drawn_delays_and_run(
    name: &str,
    model: &str,
) -> (usize, Vec<(u32, usize)>, cbmc::session::RunResult) {
    let (p, r) = run_file(&model_file(name, model), &[], 1);
    let net = cbmc::network::build(&p.ir).expect("network");
    let q = &net.projections[0];
    let shortest = p.ir.projections[0].delay_steps as usize;
    let delays = q
        .post
        .iter()
        .zip(&q.delay_extra)
        .map(|(&cell, &extra)| (cell, shortest + extra as usize))
        .collect();
    (shortest, delays, r)
}

/// Delays drawn per synapse: each target's one synapse delivers exactly its
/// own delay after the spike, and the rounded uniform draw covers every
/// whole step of the range (the end steps with half the others' share).
#[test]
fn each_synapse_delivers_after_its_own_drawn_delay() {
    let model = r#"
simulation { dt = 1 ms  duration = 30 ms  seed = 4 }
neuron Sink {
    inputs { I: mV/ms }
    state { V = 0 mV }
    equations { dV/dt = I [euler] }
}
synapse Kick { on_pre { target += 1 mV/ms } }
population Src[1] = spike_times(times = [10 ms])
population Dst[600] = Sink()
projection p: Src -> Dst.I { synapse = Kick()  connect = all_to_all()  delay = uniform(1 ms, 7 ms) }
record i = trace(Dst.I, cells = 600)
"#;
    let (shortest, delays, r) = drawn_delays_and_run("drawn_delays", model);
    assert_eq!(shortest, 1);
    let (shape, i) = f64s(&r, "i");
    assert_eq!(shape, [30, 600]);
    let mut per_delay = [0usize; 8];
    // All to all from one cell: synapse k reaches cell k.
    for (k, &(cell, delay)) in delays.iter().enumerate() {
        assert!((1..=7).contains(&delay), "synapse {k}: delay {delay} steps");
        per_delay[delay] += 1;
        for s in 0..30 {
            let want = if s == 10 + delay { 1.0 } else { 0.0 };
            assert_eq!(i[s * 600 + cell as usize], want, "cell {cell}, step {s}");
        }
    }
    // 600 draws: 50 expected at 1 and 7 ms, 100 at each step between.
    for (d, &n) in per_delay.iter().enumerate().skip(1) {
        let expected = if d == 1 || d == 7 { 50.0 } else { 100.0 };
        assert!(
            (n as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "{n} synapses of {d} steps"
        );
    }
}

/// `delay` in synapse code gives way to the synapse type's own names and to
/// protocol signals (older models keep their meaning).
#[test]
fn a_parameter_or_signal_named_delay_takes_precedence() {
    let model = r#"
simulation { dt = 1 ms  duration = 30 ms  seed = 3 }
protocol pr { trial = 10 ms  delay = window(0 ms, 5 ms) }
neuron Sink { inputs { I: mV/ms } state { V = 0 mV } equations { dV/dt = I + 0 mV/ms * delay [euler] } }
synapse Gated { on_pre { if delay > 0 { target += 1 mV/ms } } }
synapse Own {
    parameters { delay = 42 ms }
    state { seen: ms = 0 ms }
    on_pre { seen = delay; target += 0 mV/ms }
}
population Src[1] = spike_times(times = [7 ms, 12 ms])
population Dst[1] = Sink()
projection gated: Src -> Dst.I { synapse = Gated()  connect = all_to_all()  delay = uniform(1 ms, 3 ms) }
projection own: Src -> Dst.I { synapse = Own()  connect = all_to_all()  delay = uniform(1 ms, 3 ms) }
record i = trace(Dst.I, cells = [0])
record w = weights(own.seen, every = 29 ms)
"#;
    let r = run_text("delay_precedence", model);
    let (_, i) = f64s(&r, "i");
    // The spike at 7 ms falls outside the signal's window (0-5 ms of each
    // 10 ms trial) and deposits nothing; the one at 12 ms deposits.
    let total: f64 = i.iter().sum();
    assert_eq!(total, 1.0, "one deposit, from the spike at 12 ms");
    assert!(i[..13].iter().all(|&x| x == 0.0));
    let (_, seen) = f64s(&r, "w");
    assert_eq!(seen[1], 0.042, "the parameter, not the drawn delay");
}

/// A pulse with delays drawn per synapse starts at each synapse's own
/// arrival and lasts its steps.
#[test]
fn a_pulse_starts_at_each_synapses_own_arrival() {
    let model = r#"
simulation { dt = 1 ms  duration = 30 ms  seed = 4 }
neuron Sink { inputs { I: mV/ms } state { V = 0 mV } equations { dV/dt = I [euler] } }
synapse Kick { on_pre { target += 1 mV/ms for 3 ms } }
population Src[1] = spike_times(times = [10 ms])
population Dst[100] = Sink()
projection p: Src -> Dst.I { synapse = Kick()  connect = all_to_all()  delay = uniform(1 ms, 7 ms) }
record i = trace(Dst.I, cells = 100)
"#;
    let (_, delays, r) = drawn_delays_and_run("drawn_pulse", model);
    let (_, i) = f64s(&r, "i");
    for &(cell, delay) in &delays {
        for s in 0..30 {
            let want = if (10 + delay..10 + delay + 3).contains(&s) {
                1.0
            } else {
                0.0
            };
            assert_eq!(i[s * 100 + cell as usize], want, "cell {cell}, step {s}");
        }
    }
}

/// `delay` in synapse code is the synapse's own drawn delay (and the one
/// delay of a projection without a draw): `t + delay` in `on_pre` is when
/// the spike arrives.
#[test]
fn synapse_code_reads_its_own_delay() {
    let model = r#"
simulation { dt = 1 ms  duration = 30 ms  seed = 4 }
neuron Sink { inputs { I: mV/ms } state { V = 0 mV } equations { dV/dt = I [euler] } }
synapse Kick {
    state { arrival: ms = -1 ms }
    on_pre { target += 1 mV/ms; arrival = t + delay }
}
population Src[1] = spike_times(times = [10 ms])
population Dst[50] = Sink()
projection drawn: Src -> Dst.I { synapse = Kick()  connect = all_to_all()  delay = uniform(1 ms, 7 ms) }
projection fixed: Src -> Dst.I { synapse = Kick()  connect = all_to_all()  delay = 3 ms }
record d = weights(drawn.arrival, every = 29 ms)
record f = weights(fixed.arrival, every = 29 ms)
"#;
    let r = run_text("own_delay", model);
    let (shape, arrival) = f64s(&r, "d");
    assert_eq!(shape, [2, 50]);
    let (_, delay) = f64s(&r, "d_delay");
    assert!(delay.iter().any(|&d| d != delay[0]), "delays differ");
    for (k, d) in delay.iter().enumerate() {
        assert_eq!(arrival[50 + k], 10.0 * 0.001 + d, "synapse {k}");
    }
    let (_, fixed) = f64s(&r, "f");
    assert!(fixed[50..].iter().all(|&a| a == 10.0 * 0.001 + 3.0 * 0.001));
}

/// A teacher with delays drawn per synapse: each target hears its teacher
/// spike after that synapse's own delay (`on_teacher` runs then).
#[test]
fn a_teachers_drawn_delays_reach_each_target_after_its_own() {
    let model = r#"
simulation { dt = 1 ms  duration = 30 ms  seed = 9 }
neuron Sink { inputs { I: mV/ms } state { V = 0 mV } equations { dV/dt = I [euler] } }
synapse Kick { state { w = 1 } on_pre { target += w * 0 mV/ms } }
synapse Taught { state { heard: ms = -1 ms } on_pre { target += 0 mV/ms } on_teacher { heard = t } }
population Src[1] = spike_times(times = [10 ms])
population Dst[60] = Sink()
projection teach: Src -> Dst.I { synapse = Kick()  connect = all_to_all()  delay = uniform(1 ms, 9 ms) }
projection taught: Src -> Dst.I { synapse = Taught()  connect = all_to_all()  teacher = teach }
record d = weights(teach, every = 29 ms)
record h = weights(taught.heard, every = 29 ms)
"#;
    let r = run_text("teacher_delays", model);
    let (_, delay) = f64s(&r, "d_delay");
    let post = u32s(&r, "d_post");
    let (_, heard) = f64s(&r, "h");
    let heard_post = u32s(&r, "h_post");
    assert!(delay.iter().any(|&d| d != delay[0]), "delays differ");
    for (k, &cell) in post.iter().enumerate() {
        let j = heard_post.iter().position(|&c| c == cell).expect("cell");
        let steps = (delay[k] / 0.001).round();
        assert_eq!(heard[60 + j], (10.0 + steps) * 0.001, "cell {cell}");
    }
}

#[test]
fn pulse_lasts_its_duration() {
    let model = r#"
simulation { dt = 1 ms  duration = 20 ms }
neuron Sink { inputs { I: mV/ms } state { V = 0 mV } equations { dV/dt = I [euler] } }
synapse Pulse { on_pre { target += 1 mV/ms for 3 ms } }
population Src[1] = spike_times(times = [5 ms])
population Dst[1] = Sink()
projection p: Src -> Dst.I { synapse = Pulse()  connect = one_to_one()  delay = 0 ms }
record i = trace(Dst.I, cells = [0])
"#;
    let r = run_text("pulse", model);
    let (_, i) = f64s(&r, "i");
    let on: Vec<usize> = i
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        on,
        vec![5, 6, 7],
        "a zero-delay 3 ms pulse covers the spike's own step and the next two"
    );
}

#[test]
fn fixed_indegree_gives_exactly_k_inputs() {
    let dir = temp_dir("indeg");
    let path = dir.join("m.cbm");
    std::fs::write(
        &path,
        r#"
simulation { dt = 1 ms  duration = 1 ms }
neuron Sink { inputs { I: mV/ms } state { V = 0 mV } equations { dV/dt = I [euler] } }
synapse S { state { w = 1 } on_pre { target += w * 1 mV/ms } }
population A[100] = poisson(rate = 1 Hz)
population B[37] = Sink()
projection with: A -> B.I { synapse = S()  connect = fixed_indegree(20, replace = true) }
projection without: A -> B.I { synapse = S()  connect = fixed_indegree(100) }
"#,
    )
    .unwrap();
    let p = cbmc::session::prepare(&path, &[]).ok().expect("valid");
    let net = cbmc::network::build(&p.ir).unwrap();
    for (q, k) in [(0, 20), (1, 100)] {
        let (offsets, ids) = net.projections[q].by_target(37);
        for j in 0..37 {
            assert_eq!(offsets[j + 1] - offsets[j], k, "projection {q}, target {j}");
        }
        assert_eq!(ids.len(), 37 * k as usize);
    }
    // Without replacement: 100 of 100 means every source exactly once.
    let (offsets, ids) = net.projections[1].by_target(37);
    for j in 0..37 {
        let mut pre: Vec<u32> = ids[offsets[j] as usize..offsets[j + 1] as usize]
            .iter()
            .map(|&s| net.projections[1].pre[s as usize])
            .collect();
        pre.sort_unstable();
        assert_eq!(pre, (0..100).collect::<Vec<u32>>());
    }
}

/// A population wired onto itself by a fixed degree has no self-connections
/// unless `allow_self = true` (as `all_to_all` and `probability`): with
/// replacement and without, in- and out-degree; k = n - 1 without
/// replacement is every other cell, k = n is E024.
#[test]
fn fixed_degrees_onto_the_same_population_skip_self_unless_allowed() {
    let dir = temp_dir("no_autapses");
    let path = dir.join("m.cbm");
    let model = |rules: &str| {
        format!(
            r#"
simulation {{ dt = 1 ms  duration = 1 ms }}
neuron C {{ inputs {{ I: mV/ms }} state {{ V = 0 mV }} equations {{ dV/dt = I [euler] }} }}
synapse S {{ state {{ w = 1 }} on_pre {{ target += w * 1 mV/ms }} }}
population E[30] = C()
{rules}
"#
        )
    };
    let rules = [
        "fixed_indegree(12, replace = true)",
        "fixed_indegree(29)",
        "fixed_outdegree(12, replace = true)",
        "fixed_outdegree(29)",
        "fixed_indegree(25, replace = true, allow_self = true)",
    ];
    let text: String = rules
        .iter()
        .enumerate()
        .map(|(q, r)| format!("projection p{q}: E -> E.I {{ synapse = S()  connect = {r} }}\n"))
        .collect();
    std::fs::write(&path, model(&text)).unwrap();
    let p = cbmc::session::prepare(&path, &[]).ok().expect("valid");
    let net = cbmc::network::build(&p.ir).unwrap();
    for (pn, rule) in net.projections.iter().zip(&rules).take(4) {
        let selfs = pn.pre.iter().zip(&pn.post).filter(|(a, b)| a == b).count();
        assert_eq!(selfs, 0, "{rule}: self-connections");
    }
    // 29 of the 29 others: every other cell exactly once.
    let pn = &net.projections[1];
    for j in 0..30u32 {
        let mut pre: Vec<u32> = (0..pn.pre.len())
            .filter(|&s| pn.post[s] == j)
            .map(|s| pn.pre[s])
            .collect();
        pre.sort_unstable();
        let others: Vec<u32> = (0..30).filter(|&i| i != j).collect();
        assert_eq!(pre, others, "target {j}");
    }
    // Allowed: 30 x 25 draws from 30 cells with replacement pick some selves.
    let pn = &net.projections[4];
    assert!(pn.pre.iter().zip(&pn.post).any(|(a, b)| a == b));
    // 30 distinct sources among 29 others is impossible.
    std::fs::write(
        &path,
        model("projection p: E -> E.I { synapse = S()  connect = fixed_indegree(30) }"),
    )
    .unwrap();
    assert!(cbmc::session::prepare(&path, &[]).is_err(), "E024");
}

#[test]
fn gap_junction_currents_sum_to_zero() {
    let model = r#"
simulation { dt = 1 ms  duration = 100 ms }
neuron Cell {
    parameters { gL = 0.1 /ms; EL = -60 mV }
    state { V = normal(-60 mV, 5 mV) }
    inputs { I_gap: mV/ms }
    equations { dV/dt = gL*(EL - V) + I_gap [euler] }
    update { V += 1 mV * randn() }
}
population IO[16] = Cell()
gap_junction g on IO { partners = 3; coupling = 0.025 /ms; voltage = V; target = I_gap }
record i = trace(IO.I_gap, cells = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
"#;
    let r = run_text("gap", model);
    let (shape, i) = f64s(&r, "i");
    let mut nonzero = 0;
    for row in i.chunks(shape[1]) {
        let sum: f64 = row.iter().sum();
        let scale: f64 = row.iter().map(|x| x.abs()).sum();
        assert!(
            sum.abs() <= 1e-12 * scale.max(1e-30),
            "currents sum to {sum}"
        );
        if scale > 0.0 {
            nonzero += 1;
        }
    }
    assert!(
        nonzero > 90,
        "the currents should be nonzero (voltages differ)"
    );
}

#[test]
fn pulse_length_and_period_follow_projection_arguments() {
    let model = r#"
simulation { dt = 1 ms  duration = 20 ms }
neuron Sink { inputs { g: 1 } state { V = 0 mV } update { V += g * 1 mV } }
synapse Pulse {
    parameters { d = 2 ms; period = 2 ms }
    state { h = 1; ticks = 0 }
    on_pre { target += h for d }
    every period { ticks += 1 }
}
population Src[1] = spike_times(times = [5 ms])
population Dst[1] = Sink()
projection p: Src -> Dst.g { synapse = Pulse(d = 3 ms, period = 5 ms)  connect = one_to_one()  delay = 0 ms }
record v = trace(Dst.V, cells = [0])
record ticks = weights(p.ticks, every = 1 ms)
"#;
    let r = run_text("pulse_args", model);
    let (_, v) = f64s(&r, "v");
    assert!(
        (v[19] - 0.003).abs() < 1e-15,
        "a 3-step pulse adds 3 mV, got {}",
        v[19]
    );
    let (_, ticks) = f64s(&r, "ticks");
    // Steps 0, 5, 10, 15 are multiples of the 5 ms period.
    assert_eq!(ticks[19], 4.0);
}

/// `[rk4]` with `holding V`: while V is held, an RK4 partner integrating
/// V sees it where it stays (x does not move while V = 0), as an Euler
/// partner does; before, its stages moved V by dt * slope.
#[test]
fn rk4_stages_keep_a_held_variable_still() {
    let model = r#"
simulation { dt = 0.1 ms  duration = 10 ms }
neuron N {
    parameters { slope: mV/ms = 10 mV/ms }
    state { V = 0 mV; x = 0; y = 0 }
    equations {
        dV/dt = slope           [rk4]
        dx/dt = V / (mV*ms)     [rk4]
        dy/dt = V / (mV*ms)     [euler]
    }
    spike when V >= 5 mV
    reset { V = 0 mV }
    refractory 5 ms holding V
}
population P[1] = N()
record v = trace(P.V, cells = [0])
record x = trace(P.x, cells = [0])
record y = trace(P.y, cells = [0])
"#;
    let r = run_text("rk4_holding", model);
    let (_, v) = f64s(&r, "v");
    let (_, x) = f64s(&r, "x");
    let (_, y) = f64s(&r, "y");
    // V reaches 5 mV at step 5 and is reset; held for the 50 steps after.
    let held: Vec<usize> = (1..v.len())
        .filter(|&i| v[i] == 0.0 && v[i - 1] == 0.0)
        .collect();
    assert!(held.len() > 40, "V is held: {held:?}");
    for &i in &held {
        assert_eq!(x[i], x[i - 1], "step {i}: x moved while V was held");
        assert_eq!(y[i], y[i - 1], "step {i}: y moved while V was held");
    }
}

/// Bounds written with a synapse parameter take each projection's value of
/// it (`Grow()` keeps the default 1, `Grow(hi = 3)` clips at 3), and so does
/// an override (`--set pa.hi=2`).
#[test]
fn bounds_follow_each_projections_parameters() {
    let model = r#"
simulation { dt = 1 ms  duration = 20 ms }
neuron Sink { inputs { g: 1 } state { V = 0 } update { V += g } }
synapse Grow {
    parameters { hi = 1; step = 0.3 }
    state { w = 0.5 }
    on_pre { target += w; w += step }
    bounds w in [0, hi]
}
population Src[1] = spike_times(times = [1 ms, 2 ms, 3 ms, 4 ms, 5 ms, 6 ms, 7 ms, 8 ms, 9 ms, 10 ms, 11 ms, 12 ms])
population A[1] = Sink()
population B[1] = Sink()
projection pa: Src -> A.g { synapse = Grow()  connect = all_to_all() }
projection pb: Src -> B.g { synapse = Grow(hi = 3)  connect = all_to_all() }
record wa = weights(pa.w, every = 1 ms)
record wb = weights(pb.w, every = 1 ms)
"#;
    let r = run_text("bounds_per_projection", model);
    let top = |key: &str| f64s(&r, key).1.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(top("wa"), 1.0, "the type's default bound");
    assert_eq!(top("wb"), 3.0, "the projection's own bound");
    let path = temp_dir("bounds_overridden").join("m.cbm");
    std::fs::write(&path, model).unwrap();
    let r = run_file(&path, &[("pa.hi", "2")], 1).1;
    let top = |key: &str| f64s(&r, key).1.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(top("wa"), 2.0, "an override of the bound's parameter");
    assert_eq!(top("wb"), 3.0);
}

/// `[exact]` with a coefficient b that passes through zero during the run:
/// `dZ/dt = -k Z` is Z e^(-k dt) (no term free of Z, so no -k * 0 / k), and
/// `dY/dt = a - k Y` uses a dt expm1(z)/z, z = -k dt, which is a dt at z = 0
/// (the form (Y + a/b) e^(b dt) - a/b was 0/0 there: NaN).
#[test]
fn exact_integration_survives_a_coefficient_passing_through_zero() {
    let model = r#"
simulation { dt = 1 ms  duration = 4 ms }
neuron N {
    state { k: 1/ms = 0.5 /ms; Z = 1; Y = 1 }
    equations {
        dZ/dt = -k * Z [exact]
        dY/dt = 1/ms - k * Y [exact]
        dk/dt = -0.5 /ms/ms [euler]
    }
}
population P[1] = N()
record Z = trace(P.Z, cells = [0])
record Y = trace(P.Y, cells = [0])
"#;
    let r = run_text("exact_through_zero", model);
    let (_, z) = f64s(&r, "Z");
    let (_, y) = f64s(&r, "Y");
    // k at the start of steps 0..3, in 1/ms: 0.5, 0, -0.5, -1.
    let (mut zw, mut yw) = (1.0_f64, 1.0_f64);
    for (s, k) in [0.5_f64, 0.0, -0.5, -1.0].into_iter().enumerate() {
        let x = -k;
        zw *= x.exp();
        yw = yw * x.exp() + if x == 0.0 { 1.0 } else { x.exp_m1() / x };
        assert!(
            (z[s] - zw).abs() <= 1e-12 * zw.abs(),
            "Z after step {s}: {} vs {zw}",
            z[s]
        );
        assert!(
            (y[s] - yw).abs() <= 1e-12 * yw.abs(),
            "Y after step {s}: {} vs {yw}",
            y[s]
        );
    }
}

/// `[rk4]` evaluates each stage at its own time (t, t + dt/2, t + dt/2,
/// t + dt): dq/dt = t is integrated exactly (q = t^2 / 2 at the end of each
/// step), where a frozen t would give the Euler sums 0, 1, 3, 6 ...
#[test]
fn rk4_stages_see_their_own_time() {
    let model = r#"
simulation { dt = 1 ms  duration = 5 ms }
neuron N {
    state { q = 0 }
    equations { dq/dt = t / ms / ms [rk4] }
}
population P[1] = N()
record q = trace(P.q, cells = [0])
"#;
    let r = run_text("rk4_time", model);
    let (_, q) = f64s(&r, "q");
    for (s, v) in q.iter().enumerate() {
        let want = ((s + 1) * (s + 1)) as f64 / 2.0;
        assert!((v - want).abs() < 1e-12, "after step {s}: {v}, want {want}");
    }
}

/// A refractory period that reads a parameter takes each population's own
/// value (and `--set`'s): a cell always above threshold spikes once every
/// refractory period plus one step.
#[test]
fn refractory_period_follows_population_arguments() {
    let model = r#"
simulation { dt = 1 ms  duration = 120 ms }
neuron Always {
    parameters { t_ref = 3 ms; theta = -50 mV }
    state { V = 0 mV }
    spike when V >= theta
    refractory t_ref + 1 ms holding V
}
population Default[2] = Always()
population Short[2] = Always(t_ref = 0 ms)
population Long[2] = Always(t_ref = 9 ms)
record s = spike_counts(Default, bin = 1 ms)
"#;
    let dir = temp_dir("refractory_args");
    let path = dir.join("refractory_args.cbm");
    std::fs::write(&path, model).unwrap();
    // Spikes every (period / dt + 1) steps: 5, 2 and 11 steps; 120 steps.
    let (_, r) = run_file(&path, &[], 1);
    assert_eq!(totals(&r, 0), vec![24, 24], "4 ms period: every 5 steps");
    assert_eq!(totals(&r, 1), vec![60, 60], "1 ms period: every 2 steps");
    assert_eq!(totals(&r, 2), vec![11, 11], "10 ms period: every 11 steps");
    let (_, r) = run_file(&path, &[("Default.t_ref", "5 ms")], 1);
    assert_eq!(
        totals(&r, 0),
        vec![18, 18],
        "--set: 6 ms period, every 7 steps"
    );
}

/// Protocol signals are 1 inside their window of every trial, 0 outside,
/// and silenced in probe trials when asked (`probe = off`).
#[test]
fn protocol_windows_and_probe_trials() {
    let model = r#"
simulation { dt = 1 ms  duration = 2 s }
protocol eyeblink {
    trial = 500 ms
    trials = 3
    probe_every = 2
    cs = window(100 ms, 300 ms)
    us = window(250 ms, 260 ms, probe = off)
}
neuron Probe {
    state { a = 0; b = 0 }
    update { a = cs; b = us }
}
population P[1] = Probe()
population CS[50] = poisson(rate = 500 Hz * cs)
record a = trace(P.a, cells = [0])
record b = trace(P.b, cells = [0])
record cs_times = spike_times(CS)
"#;
    let r = run_text("protocol", model);
    let (_, times) = f64s(&r, "cs_times_t");
    assert!(
        times.len() > 1000,
        "the CS-driven source should fire in its windows"
    );
    for t in times {
        let step = (t * 1000.0).round() as usize;
        assert!(
            step / 500 < 3 && (100..300).contains(&(step % 500)),
            "CS source fired outside its window at {t} s"
        );
    }
    let (_, a) = f64s(&r, "a");
    let (_, b) = f64s(&r, "b");
    for s in 0..2000usize {
        let (trial, within) = (s / 500, s % 500);
        let want_cs = if trial < 3 && (100..300).contains(&within) {
            1.0
        } else {
            0.0
        };
        // Trial 2 (the second, counting from 1) is a probe: no US.
        let want_us = if trial < 3 && trial != 1 && (250..260).contains(&within) {
            1.0
        } else {
            0.0
        };
        assert_eq!(a[s], want_cs, "cs at step {s}");
        assert_eq!(b[s], want_us, "us at step {s}");
    }
}

/// Time comparisons hold exactly on the step grid: `t - pre.last_spike <=
/// 100 ms` includes the step 100 ms after the spike even though 0.52 - 0.42
/// is not exactly 0.1 in floating point.
#[test]
fn time_windows_are_exact_on_the_step_grid() {
    let model = r#"
simulation { dt = 1 ms  duration = 700 ms }
neuron Sink { inputs { g: 1 } state { V = 0 mV } update { V += g * 1 mV } }
synapse Count {
    state { inclusive = 0; exclusive = 0 }
    on_pre { target += 0 }
    every 10 ms {
        if t - pre.last_spike <= 100 ms { inclusive += 1 }
        if t - pre.last_spike < 100 ms { exclusive += 1 }
    }
}
population Src[1] = spike_times(times = [420 ms])
population Dst[1] = Sink()
projection p: Src -> Dst.g { synapse = Count()  connect = one_to_one() }
record inc = weights(p.inclusive, every = 1 ms)
record exc = weights(p.exclusive, every = 1 ms)
"#;
    let r = run_text("time_grid", model);
    let (_, inc) = f64s(&r, "inc");
    let (_, exc) = f64s(&r, "exc");
    // Checks at 420, 430, ..., 520 ms: 11 inclusive, 10 exclusive.
    assert_eq!(inc[699], 11.0);
    assert_eq!(exc[699], 10.0);
}

/// `index(target = i / 4)`: source i contacts target floor(i / 4) only.
#[test]
fn index_wiring_follows_its_expression() {
    let model = r#"
simulation { dt = 1 ms  duration = 30 ms }
neuron Sink { inputs { g: 1 } state { V = 0 mV } update { V += g * 1 mV } }
synapse S { on_pre { target += 1 } }
population Src[18] = spike_times(times = [10 ms], cells = [0, 1, 2, 3, 5, 17])
population Dst[4] = Sink()
projection p: Src -> Dst.g { synapse = S()  connect = index(target = i / 4) }
record v = trace(Dst.V, cells = [0, 1, 2, 3])
"#;
    let r = run_text("index_wiring", model);
    let (shape, v) = f64s(&r, "v");
    let last = &v[(shape[0] - 1) * 4..];
    // Cells 0-3 reach target 0, cell 5 target 1, cell 17 (17/4 = 4) none.
    assert_eq!(last, &[0.004, 0.001, 0.0, 0.0]);
}

/// The engines compute what the model says, IEEE-exactly, down to the sign
/// of a zero: -0 decays to -0, `0 - (-0)` and `+0 + 0` are +0, `0 * -1` is
/// -0 (no rewrite to `-x`, `x` or `0`). The engines' parity tests run the
/// same model through the interpreter, the native code and the CUDA kernels.
#[test]
fn signed_zeros_are_kept() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cuda_models/signed_zeros.cbm");
    let (_, r) = common::run_file(&path, &[], 1);
    for (key, negative) in [
        ("neg", true),
        ("neg_b", false),
        ("pos_c", false),
        ("pos_d", true),
    ] {
        let (_, v) = common::f64s(&r, key);
        assert_eq!(v.len(), 100, "{key}");
        for x in v {
            assert!(x == 0.0 && x.is_sign_negative() == negative, "{key}: {x:e}");
        }
    }
}

/// After a value went NaN or infinite, stepping again gives the same error
/// and leaves the state as it was (the end of the failing step), as the CUDA
/// engine does: the failing step is never run twice.
#[test]
fn a_numerical_error_is_final() {
    use cbmc::engine::{Engine, StateView};
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cuda_models/blowup.cbm");
    let p = cbmc::session::prepare(&path, &[])
        .ok()
        .expect("blowup.cbm checks");
    let net = cbmc::network::build(&p.ir).expect("network");
    let mut e = cbmc::engine::cpu::CpuEngine::new(&p.ir, net, 1);
    // Every cell variable's bits.
    let snapshot = |e: &cbmc::engine::cpu::CpuEngine| -> Vec<u64> {
        let mut bits = Vec::new();
        for (pi, pop) in p.ir.populations.iter().enumerate() {
            if let cbmc::ir::PopulationKindIr::Neuron(n) = &pop.kind {
                for v in 0..n.vars.len() {
                    bits.extend(e.var(pi, v).iter().map(|x| x.to_bits()));
                }
            }
        }
        bits
    };
    let first = loop {
        if let Err(err) = e.step() {
            break err;
        }
        assert!(e.steps_done() < p.ir.steps, "no error in blowup.cbm");
    };
    let state = snapshot(&e);
    let again = e.step().expect_err("the error stays");
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
    assert_eq!(e.steps_done(), first.step);
    assert_eq!(
        state,
        snapshot(&e),
        "stepping after the error changed the state"
    );
}

/// The engine keeps spike marks (`last_spike`, `spiked`) only for the
/// populations whose marks synapse code reads: here A's (as `pre.`) and
/// B's (as `post.`), not C's, whose spikes are only delivered.
#[test]
fn spike_marks_are_kept_where_synapse_code_reads_them() {
    let path = model_file(
        "marks_read",
        r#"
simulation { dt = 1 ms  duration = 10 ms }
neuron Sink { inputs { g: 1 } state { V = 0 } update { V += g } }
synapse Stdp {
    state { w = 1 }
    on_pre { target += w; if t - post.last_spike < 5 ms { w -= 0.1 } }
    every 5 ms { if t - pre.last_spike < 5 ms { w += 0.01 } }
}
synapse Plain { on_pre { target += 1 } }
population A[3] = poisson(rate = 10 Hz)
population B[3] = Sink()
population C[3] = poisson(rate = 10 Hz)
projection ab: A -> B.g { synapse = Stdp()  connect = one_to_one() }
projection cb: C -> B.g { synapse = Plain()  connect = one_to_one() }
"#,
    );
    let p = cbmc::session::prepare(&path, &[]).ok().expect("valid");
    assert_eq!(p.ir.spike_marks_read(), vec![true, true, false]);
}

/// A constant-rate source's spike totals come from the engine's own counts
/// (`StateView::spike_totals`), not from the recorder: they must equal the
/// recorded spikes, cell by cell, also when a value runs away mid-run (the
/// failed step's spikes are not counted, as they are not recorded).
#[test]
fn engine_counted_spike_totals_match_the_recorded_spikes() {
    for (name, unstable) in [("totals_ok", "0"), ("totals_blowup", "1")] {
        let model = format!(
            r#"
simulation {{ dt = 1 ms  duration = 2 s }}
neuron N {{ parameters {{ k = {unstable} /ms }} inputs {{ g: 1 }} state {{ V = 1 }} equations {{ dV/dt = k * V [euler] }} update {{ V += g * 0 }} }}
synapse K {{ on_pre {{ target += 1 }} }}
population S[40] = poisson(rate = 100 Hz)
population P[2] = N()
projection sp: S -> P.g {{ synapse = K()  connect = all_to_all() }}
record s = spike_times(S)
"#
        );
        let r = run_text(name, &model);
        assert_eq!(r.error.is_some(), unstable == "1", "{name}");
        let recorded = u32s(&r, "s_i");
        let mut per_cell = vec![0u64; 40];
        for i in recorded {
            per_cell[i as usize] += 1;
        }
        assert_eq!(r.recording.totals[0], per_cell, "{name}");
        assert!(per_cell.iter().sum::<u64>() > 100, "{name}");
    }
}

/// `--set TYPE.param=VALUE` changes a type's default: populations that use
/// the default follow it, one that gives its own value keeps it; the same
/// for a synapse type's parameter.
#[test]
fn a_type_default_can_be_overridden() {
    let path = model_file(
        "type_default",
        r#"
simulation { dt = 1 ms  duration = 200 ms }
neuron Lif {
    parameters { drive = 0 mV/ms }
    state { V = 0 mV }
    inputs { g: mV }
    equations { dV/dt = drive - V / 10 ms [exact] }
    update { V += g }
    spike when V > 10 mV; reset { V = 0 mV }
}
synapse Kick { parameters { j = 0 mV } on_pre { target += j } }
population A[2] = Lif()
population B[2] = Lif(drive = 0 mV/ms)
population S[2] = spike_times(times = [10 ms, 20 ms, 30 ms])
population C[2] = Lif(drive = 0 mV/ms)
projection sc: S -> C.g { synapse = Kick()  connect = one_to_one() }
"#,
    );
    let (_, r) = run_file(&path, &[("Lif.drive", "2 mV/ms"), ("Kick.j", "20 mV")], 1);
    let spikes = |pop: usize| totals(&r, pop).iter().sum::<u64>();
    assert!(spikes(0) > 10, "A follows the new default");
    assert_eq!(spikes(1), 0, "B keeps its own value");
    assert_eq!(
        spikes(3),
        6,
        "C is kicked over threshold by j = 20 mV, 3 times"
    );
}

/// `rand_poisson` through the engine: every cell and every call site draws
/// its own counts, with a Poisson count's mean and variance (a mean in one
/// part and one split into three); a mean that varies with time is
/// followed, and a negative one counts as none.
#[test]
fn rand_poisson_gives_each_cell_and_call_site_its_own_poisson_counts() {
    let model = r#"
simulation { dt = 0.1 ms  duration = 20 ms }
neuron Counter {
    parameters { n = 1000; nu = 8 Hz }
    state { a = 0; b = 0; c = 0 }
    update {
        a = rand_poisson(n * nu * dt)
        b = rand_poisson(50 * n * nu * dt)
        c = rand_poisson(select(t < 10 ms, n * nu * dt, -n * nu * dt))
    }
}
population P[400] = Counter()
record a = trace(P.a, cells = 400)
record b = trace(P.b, cells = 400)
record c = trace(P.c, cells = 400)
"#;
    let r = run_text("rand_poisson", model);
    let (shape, a) = f64s(&r, "a");
    let (_, b) = f64s(&r, "b");
    let (_, c) = f64s(&r, "c");
    assert_eq!(shape, vec![200, 400]);
    let stats = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        let v = x.iter().map(|k| (k - m) * (k - m)).sum::<f64>() / (x.len() - 1) as f64;
        (m, v)
    };
    for (x, mean) in [(&a, 0.8), (&b, 40.0)] {
        assert!(x.iter().all(|k| k.fract() == 0.0 && *k >= 0.0));
        let (m, v) = stats(x);
        let n = x.len() as f64;
        assert!(
            (m - mean).abs() < 5.0 * (mean / n).sqrt(),
            "mean {mean}: {m}"
        );
        let se_v = ((2.0 * mean * mean + mean) / n).sqrt();
        assert!((v - mean).abs() < 6.0 * se_v, "mean {mean}: variance {v}");
    }
    // Two call sites, and two neighbouring cells, are uncorrelated.
    let corr = |x: &[f64], y: &[f64]| {
        let ((mx, vx), (my, vy)) = (stats(x), stats(y));
        let cov = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - mx) * (q - my))
            .sum::<f64>()
            / (x.len() - 1) as f64;
        cov / (vx * vy).sqrt()
    };
    let limit = 5.0 / (a.len() as f64).sqrt();
    assert!(corr(&a, &b).abs() < limit, "sites a, b: {}", corr(&a, &b));
    assert!(corr(&a[1..], &a[..a.len() - 1]).abs() < limit);
    // c: mean 0.8 in the first 100 steps, none after.
    let (first, last) = c.split_at(100 * 400);
    let (m, _) = stats(first);
    assert!(
        (m - 0.8).abs() < 5.0 * (0.8 / first.len() as f64).sqrt(),
        "{m}"
    );
    assert!(last.iter().all(|k| *k == 0.0));
}

/// Every random call of a cell type draws its own numbers, however many
/// there are (the 257th is not the 1st again), and so does every state
/// variable's initial draw (the 17th is not the 1st again).
#[test]
fn many_random_calls_and_initial_draws_stay_independent() {
    let inits: Vec<String> = (0..17).map(|k| format!("x{k} = uniform(0, 1)")).collect();
    let filler = vec!["rand()"; 255].join(" + ");
    let model = format!(
        r#"
simulation {{ dt = 1 ms  duration = 3 ms }}
neuron Many {{
    state {{ {}; first = 0; filler = 0; last = 0 }}
    update {{
        first = rand()
        filler = {filler}
        last = rand()
    }}
}}
population P[50] = Many()
record x0 = trace(P.x0, cells = 50)
record x16 = trace(P.x16, cells = 50)
record first = trace(P.first, cells = 50)
record last = trace(P.last, cells = 50)
"#,
        inits.join("; ")
    );
    let r = run_text("many_random", &model);
    let differ = |a: &str, b: &str| {
        let ((_, x), (_, y)) = (f64s(&r, a), f64s(&r, b));
        x.iter().zip(&y).filter(|(p, q)| p != q).count()
    };
    assert_eq!(
        differ("x0", "x16"),
        150,
        "the 17th variable's draws repeat the 1st's"
    );
    assert_eq!(
        differ("first", "last"),
        150,
        "the 257th call repeats the 1st"
    );
}

/// Initial values worked out from per-cell parameters, in the order the
/// checker allows them: a parameter from an earlier drawn one (`b = a * 2`),
/// a state variable from a parameter worked out so (`V = b`) and from an
/// earlier state variable (`U = V + W`). Every cell starts with its own
/// values, related as written (`V` once started at 0: it was worked out
/// before `b`).
#[test]
fn initial_values_follow_per_cell_parameters_worked_out_from_drawn_ones() {
    let model = r#"
simulation { dt = 1 ms  duration = 1 ms }
neuron C {
    parameters { a = 1 mV; b = 2 mV }
    state { V = b; W = a; U = V + W }
    update { V += 0 mV }
}
population P[50] = C(a = normal(1 mV, 10%), b = a * 2)
record v = trace(P.V, cells = 50)
record w = trace(P.W, cells = 50)
record u = trace(P.U, cells = 50)
"#;
    let r = run_text("per_cell_exprs", model);
    let (_, v) = f64s(&r, "v");
    let (_, w) = f64s(&r, "w");
    let (_, u) = f64s(&r, "u");
    assert_eq!(v.len(), 50);
    for i in 0..50 {
        assert!(w[i] > 0.5e-3 && w[i] < 1.5e-3, "cell {i}: W = {}", w[i]);
        assert_eq!(v[i], 2.0 * w[i], "cell {i}: V = 2 a");
        assert_eq!(u[i], v[i] + w[i], "cell {i}: U = V + W");
    }
    assert!(w.iter().any(|&x| x != w[0]), "a is drawn per cell");
}

/// `i` and `n_cells` in a population's arguments: each cell's own values
/// along the population, in parameters (`I`, and `J` worked out from it)
/// and initial values; a drawn parameter beside them keeps its draws (the
/// index has a variable of its own, not one of the drawn ones' streams).
#[test]
fn population_arguments_vary_along_the_cell_index() {
    let model = |args: &str| {
        format!(
            r#"
simulation {{ dt = 1 ms  duration = 1 ms  seed = 3 }}
neuron C {{
    parameters {{ a = 1 mV; I = 0 mV; J = 0 mV }}
    state {{ V = 0 mV; W = a; X = J }}
    update {{ V += 0 mV }}
}}
population P[10] = C({args})
record v = trace(P.V, cells = 10)
record w = trace(P.W, cells = 10)
record x = trace(P.X, cells = 10)
"#
        )
    };
    let r = run_text(
        "cell_index",
        &model("a = normal(1 mV, 10%), I = 2 mV * i / (n_cells - 1), J = I + 1 mV, V = -i * 1 mV"),
    );
    let (_, v) = f64s(&r, "v");
    let (_, w) = f64s(&r, "w");
    let (_, x) = f64s(&r, "x");
    assert_eq!(v.len(), 10);
    for i in 0..10 {
        let f = i as f64;
        assert_eq!(v[i], -f * 1e-3, "cell {i}: V = -i mV");
        assert_eq!(x[i], 2e-3 * f / 9.0 + 1e-3, "cell {i}: X = J = I + 1 mV");
    }
    let plain = run_text("cell_index_plain", &model("a = normal(1 mV, 10%)"));
    assert_eq!(
        w,
        f64s(&plain, "w").1,
        "the draws of `a` are those without `i`"
    );
}

/// sin, cos and tanh, and `pi`: each is its function (a trace of each
/// against Rust's), with angles in radians.
#[test]
fn trigonometric_functions_are_what_they_say() {
    let model = r#"
simulation { dt = 1 ms  duration = 50 ms }
neuron C {
    state { s = 0; c = 0; h = 0; hs = 0; hc = 0 }
    update {
        s = sin(2 * pi * 10 Hz * t)
        c = cos(2 * pi * 10 Hz * t)
        h = tanh(40 Hz * t - 1)
        hs = sinh(40 Hz * t - 1)
        hc = cosh(40 Hz * t - 1)
    }
}
population P[1] = C()
record s = trace(P.s, cells = 1)
record c = trace(P.c, cells = 1)
record h = trace(P.h, cells = 1)
record hs = trace(P.hs, cells = 1)
record hc = trace(P.hc, cells = 1)
"#;
    let r = run_text("trig", model);
    let (_, s) = f64s(&r, "s");
    let (_, c) = f64s(&r, "c");
    let (_, h) = f64s(&r, "h");
    let (_, hs) = f64s(&r, "hs");
    let (_, hc) = f64s(&r, "hc");
    assert_eq!(s.len(), 50);
    for k in 0..50 {
        // Recorded after the step's update, which saw the step's start time.
        let t = k as f64 * 1e-3;
        let angle = 2.0 * std::f64::consts::PI * 10.0 * t;
        assert!((s[k] - angle.sin()).abs() < 1e-12, "step {k}: sin {}", s[k]);
        assert!((c[k] - angle.cos()).abs() < 1e-12, "step {k}: cos {}", c[k]);
        assert!(
            (h[k] - (40.0 * t - 1.0).tanh()).abs() < 1e-12,
            "step {k}: tanh {}",
            h[k]
        );
        let x = 40.0 * t - 1.0;
        assert!((hs[k] - x.sinh()).abs() < 1e-12, "step {k}: sinh {}", hs[k]);
        assert!((hc[k] - x.cosh()).abs() < 1e-12, "step {k}: cosh {}", hc[k]);
        assert!((hc[k] * hc[k] - hs[k] * hs[k] - 1.0).abs() < 1e-9);
    }
    // A quarter period in: sin is 1, cos 0.
    assert!((s[25] - 1.0).abs() < 1e-12 && c[25].abs() < 1e-12);
}

/// A projection's initial values read each synapse's two cells as they
/// start: a parameter worked out from `i`, a drawn one and a state
/// variable, synapse by synapse (`weights` records every synapse with its
/// cells).
#[test]
fn synapse_initial_values_read_their_cells() {
    let model = r#"
simulation { dt = 1 ms  duration = 2 ms  seed = 4 }
neuron C {
    parameters { phi = 0; a = 0 }
    state { V = 0 mV }
    inputs { syn: mV }
    update { V += syn }
}
synapse S {
    state { w = 0; u = 0 mV }
    on_pre { target += u * w }
}
population A[6] = C(phi = 2 * pi * i / n_cells, a = uniform(0, 1))
population B[5] = C(phi = pi * i / n_cells, V = i * 1 mV)
projection ab: A -> B.syn {
    synapse = S(w = cos(pre.phi - post.phi) + pre.a, u = post.V * 2 - 1 mV)
    connect = all_to_all
}
record w = weights(ab.w, every = 1 ms)
record u = weights(ab.u, every = 1 ms)
record a = trace(A.V, cells = 1)
"#;
    let (prepared, r) = {
        let dir = temp_dir("syn_init_cells");
        let path = dir.join("m.cbm");
        std::fs::write(&path, model).unwrap();
        run_file(&path, &[], 1)
    };
    let net = cbmc::network::build(&prepared.ir).unwrap();
    let a_of = |cell: usize| {
        let cbmc::ir::PopulationKindIr::Neuron(n) = &prepared.ir.populations[0].kind else {
            panic!("A is a cell population")
        };
        let v = n
            .vars
            .iter()
            .position(|v| v.name == "a")
            .expect("a drawn per cell");
        net.populations[0].vars[v][cell]
    };
    let (_, w) = f64s(&r, "w");
    let (_, u) = f64s(&r, "u");
    let pre = u32s(&r, "w_pre");
    let post = u32s(&r, "w_post");
    assert_eq!(pre.len(), 30);
    let pi = std::f64::consts::PI;
    for k in 0..30 {
        let (i, j) = (pre[k] as usize, post[k] as usize);
        let phi_i = 2.0 * pi * i as f64 / 6.0;
        let phi_j = pi * j as f64 / 5.0;
        assert_eq!(
            w[k],
            (phi_i - phi_j).cos() + a_of(i),
            "synapse {i} -> {j}: w"
        );
        assert_eq!(u[k], j as f64 * 1e-3 * 2.0 - 1e-3, "synapse {i} -> {j}: u");
    }
    assert!((0..6).any(|i| a_of(i) != a_of(0)), "a is drawn per cell");
}

/// `probability(p = EXPR)` with p read from each pair's cells: a pair of
/// probability 1 is always drawn and one of 0 (or below, or not a number)
/// never, whatever the seed; in between, counts as expected; the same
/// network on any thread count; and the estimate made before the build is
/// close to what it draws.
#[test]
fn pair_probabilities_read_each_pairs_cells() {
    let model = |p: &str| {
        format!(
            r#"
simulation {{ dt = 1 ms  duration = 1 ms  seed = 9 }}
neuron C {{
    parameters {{ x = 0 um }}
    state {{ V = 0 mV }}
    inputs {{ syn: mV }}
    update {{ V += syn }}
}}
synapse S {{
    on_pre {{ target += 1 mV }}
}}
population A[300] = C(x = i * 10 um)
population B[200] = C(x = i * 15 um)
projection ab: A -> B.syn {{
    synapse = S()
    connect = probability(p = {p})
}}
projection aa: A -> A.syn {{
    synapse = S()
    connect = probability(p = {p})
}}
record a = spike_counts(A, bin = 1 ms)
record b = spike_counts(B, bin = 1 ms)
"#
        )
    };
    let prepare = |name: &str, p: &str| {
        let dir = temp_dir(name);
        let path = dir.join("m.cbm");
        std::fs::write(&path, model(p)).unwrap();
        match cbmc::session::prepare(&path, &[]) {
            Ok(p) => p.ir,
            Err(_) => panic!("{name}: the model does not check"),
        }
    };
    let pairs = |net: &cbmc::network::Network, q: usize| -> Vec<(u32, u32)> {
        let n = &net.projections[q];
        n.pre.iter().copied().zip(n.post.iter().copied()).collect()
    };
    // 0/1 (and beyond: 2 is always, -1 and 0/0 never): the cells within
    // 52 um of each other (distances are multiples of 5 um), exactly.
    let ir = prepare(
        "pair_p_sharp",
        "select(abs(pre.x - post.x) <= 52 um, 2, select(pre.x > post.x, -1, 0 / 0))",
    );
    let net = cbmc::network::build(&ir).unwrap();
    let mut expected = Vec::new();
    for i in 0..300u32 {
        for j in 0..200u32 {
            if (f64::from(i) * 10.0 - f64::from(j) * 15.0).abs() <= 52.0 {
                expected.push((i, j));
            }
        }
    }
    let got = pairs(&net, 0);
    let missing: Vec<_> = expected
        .iter()
        .filter(|p| !got.contains(p))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|p| !expected.contains(p))
        .take(5)
        .collect();
    assert!(
        got == expected,
        "A -> B: the pairs within 52 um; missing {missing:?}, extra {extra:?}"
    );
    // Onto itself: no cell is its own partner (allow_self is off).
    let own = pairs(&net, 1);
    assert!(own.iter().all(|&(i, j)| i != j && i.abs_diff(j) <= 5));
    assert_eq!(own.len(), 300 * 10 - 2 * (1 + 2 + 3 + 4 + 5));
    // Falling with distance: a count within 5 sd of the sum of the
    // probabilities; the same pairs on 3 threads; the estimate within 20%.
    let ir = prepare("pair_p_smooth", "exp(-abs(pre.x - post.x) / 200 um)");
    let net = cbmc::network::build(&ir).unwrap();
    let (mut mean, mut var) = (0.0, 0.0);
    for i in 0..300 {
        for j in 0..200 {
            let p = (-((i as f64) * 10.0 - (j as f64) * 15.0).abs() / 200.0).exp();
            mean += p;
            var += p * (1.0 - p);
        }
    }
    let n = net.projections[0].len() as f64;
    assert!(
        (n - mean).abs() < 5.0 * var.sqrt(),
        "{n} synapses, expected {mean:.0}"
    );
    let threaded = cbmc::network::build_on(&ir, 3).unwrap();
    assert_eq!(pairs(&threaded, 0), pairs(&net, 0), "3 threads");
    let cbmc::ir::Wiring::PairProbability { expected, .. } = ir.projections[0].wiring else {
        panic!("A -> B draws each pair with its own probability")
    };
    let drawn = n / (300.0 * 200.0);
    assert!(
        (expected - drawn).abs() < 0.2 * drawn,
        "estimated {expected}, drew {drawn}"
    );
    // A -> A: 90,000 pairs, so a random sample of them (a grid of sources
    // and targets read every sampled source's own neighbourhood, and came
    // out too high for a kernel falling with distance).
    let cbmc::ir::Wiring::PairProbability { expected, .. } = ir.projections[1].wiring else {
        panic!("A -> A draws each pair with its own probability")
    };
    let drawn = net.projections[1].len() as f64 / (300.0 * 299.0);
    assert!(
        (expected - drawn).abs() < 0.1 * drawn,
        "A -> A: estimated {expected}, drew {drawn}"
    );
}

/// A parameter with a value per cell can be traced: its values, the same
/// in every sample (drawn within their bounds, or along the population).
#[test]
fn parameters_with_a_value_per_cell_are_traced() {
    let model = r#"
simulation { dt = 1 ms  duration = 10 ms }
neuron L {
    parameters { tau = 10 ms; nu = 1 Hz; k = 2 }
    state { V = 0 mV }
    equations { dV/dt = -V / tau + nu * 1 mV }
}
population Drawn[4] = L(nu = uniform(1 Hz, 5 Hz))
population Along[4] = L(nu = 1 Hz * i, k = nu / 1 Hz + 1)
record drawn = trace(Drawn.nu)
record along = trace(Along.k)
"#;
    let r = run_text("trace_parameters", model);
    let (shape, drawn) = f64s(&r, "drawn");
    assert_eq!(shape, vec![10, 4]);
    let first = &drawn[..4];
    assert!(first.iter().all(|x| (1.0..5.0).contains(x)), "{first:?}");
    assert!(
        first.windows(2).any(|w| w[0] != w[1]),
        "one value: {first:?}"
    );
    for row in drawn.chunks(4) {
        assert_eq!(row, first);
    }
    let (_, along) = f64s(&r, "along");
    for row in along.chunks(4) {
        assert_eq!(row, &[1.0, 2.0, 3.0, 4.0]);
    }
}

/// `connect = same_as(P)`: the synapses of P, pair for pair (for drawn
/// in-degrees and per-pair probabilities, on any thread count), with
/// values and delays of their own; a projection drawn with the same rule
/// gets other synapses.
#[test]
fn same_as_takes_the_synapses_of_another_projection() {
    let model = r#"
simulation { dt = 0.1 ms  duration = 1 ms  seed = 3 }
neuron C {
    parameters { x = 0 um }
    inputs { I_ampa: mV; I_nmda: mV }
    state { V = 0 mV }
    update { V += I_ampa + I_nmda }
}
synapse K {
    parameters { J = 0.1 mV }
    state { w = uniform(0, 1) }
    on_pre { target += J * w }
}
population In[300] = C(x = i * 10 um)
population Out[40] = C(x = i * 75 um)
projection ampa: In -> Out.I_ampa { synapse = K(); connect = fixed_indegree(30) }
projection nmda: In -> Out.I_nmda { synapse = K(J = 0.05 mV); connect = same_as(ampa); delay = uniform(1 ms, 5 ms) }
projection other: In -> Out.I_nmda { synapse = K(); connect = fixed_indegree(30) }
projection near: In -> Out.I_ampa { synapse = K(); connect = probability(p = exp(-abs(pre.x - post.x) / 200 um)) }
projection near_too: In -> Out.I_nmda { synapse = K(); connect = same_as(near) }
record o = spike_counts(Out, bin = 1 ms)
"#;
    let path = model_file("same_as", model);
    let ir = match cbmc::session::prepare(&path, &[]) {
        Ok(p) => p.ir,
        Err(_) => panic!("the model does not check"),
    };
    let pairs = |net: &cbmc::network::Network, q: usize| -> Vec<(u32, u32)> {
        let n = &net.projections[q];
        n.pre.iter().copied().zip(n.post.iter().copied()).collect()
    };
    let one = cbmc::network::build_on(&ir, 1).unwrap();
    let three = cbmc::network::build_on(&ir, 3).unwrap();
    for net in [&one, &three] {
        assert_eq!(pairs(net, 1), pairs(net, 0), "nmda against ampa");
        assert_ne!(pairs(net, 2), pairs(net, 0), "other against ampa");
        assert_eq!(pairs(net, 4), pairs(net, 3), "near_too against near");
        // Values drawn for each projection: not the same numbers.
        assert_ne!(net.projections[1].vars[0], net.projections[0].vars[0]);
        assert!(net.projections[1].delay_extra.iter().any(|&d| d > 0));
    }
    assert_eq!(pairs(&one, 1), pairs(&three, 1));
    assert_eq!(pairs(&one, 4), pairs(&three, 4));
    assert_eq!(pairs(&one, 0).len(), 40 * 30);
    // The estimate made before the build is the projection's it copies.
    let expected = |q: usize| match ir.projections[q].wiring {
        cbmc::ir::Wiring::PairProbability { expected, .. } => expected,
        _ => panic!("projection {q} draws pairs by probability"),
    };
    assert_eq!(expected(4), expected(3));
    assert!(pairs(&one, 3).len() > 100, "{} pairs", pairs(&one, 3).len());
}

/// `--set PROTOCOL.trials` and a signal's window, applied as if written in
/// the file: the stimulus stops after the trials given, and the window
/// moves.
#[test]
fn protocol_settings_are_set_from_the_command_line() {
    let model = r#"
simulation { dt = 1 ms  duration = 10 s }
protocol eyeblink { trial = 1 s; trials = 5; cs = window(100 ms, 400 ms) }
population MF[10] = poisson(rate = 200 Hz * cs)
record mf = spike_counts(MF, bin = 100 ms)
"#;
    let path = model_file("protocol_set", model);
    let per_bin = |sets: &[(&str, &str)]| -> Vec<u32> {
        let (_, r) = run_file(&path, sets, 1);
        let (_, c) = u16s(&r, "mf");
        c.chunks(10)
            .map(|row| row.iter().map(|&x| u32::from(x)).sum())
            .collect()
    };
    let active = |bins: &[u32]| -> Vec<usize> {
        bins.iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(b, _)| b)
            .collect()
    };
    let window = |trials: usize, from: usize, to: usize| -> Vec<usize> {
        (0..trials)
            .flat_map(|t| (from..to).map(move |b| t * 10 + b))
            .collect()
    };
    assert_eq!(active(&per_bin(&[])), window(5, 1, 4));
    assert_eq!(
        active(&per_bin(&[("eyeblink.trials", "8")])),
        window(8, 1, 4)
    );
    assert_eq!(
        active(&per_bin(&[("eyeblink.cs", "window(500 ms, 600 ms)")])),
        window(5, 5, 6)
    );
}

/// `mod(a, b)`: a - b floor(a / b), with the sign of b, in b's unit: the
/// phase within a period, also for times before its start.
#[test]
fn mod_gives_the_phase_within_a_period() {
    let model = r#"
simulation { dt = 1 ms  duration = 30 ms }
neuron C {
    state { ph = 0 ms; back = 0 ms }
    update {
        ph = mod(t, 7 ms)
        back = mod(t - 20 ms, 7 ms)
    }
}
population P[1] = C()
record ph = trace(P.ph, cells = 1)
record back = trace(P.back, cells = 1)
"#;
    let r = run_text("mod", model);
    let (_, ph) = f64s(&r, "ph");
    let (_, back) = f64s(&r, "back");
    for k in 0..30 {
        let want = (k % 7) as f64 * 1e-3;
        assert!((ph[k] - want).abs() < 1e-15, "step {k}: {} s", ph[k]);
        // (t - 20 ms is rounded: where it is a whole period, the phase may
        // be a period less a rounding error rather than 0.)
        let b = (k as i64 - 20).rem_euclid(7) as f64 * 1e-3;
        let close = (back[k] - b).abs() < 1e-15 || (b == 0.0 && (back[k] - 7e-3).abs() < 1e-15);
        assert!(close, "step {k}: {} s, expected {b} s", back[k]);
        assert!((0.0..7e-3).contains(&back[k]));
    }
}

/// Model constants: a population size, a count and a synapse argument
/// from them (the constant before the type's parameter of its name),
/// changed for a run by `--set` as if written in the file.
#[test]
fn model_constants_size_and_drive_the_network() {
    let model = r#"
let N = 30
let k = N / 10
let kick = 2 mV
simulation { dt = 1 ms  duration = 3 ms }
neuron C {
    state { V = 0 mV }
    inputs { I: mV }
    update { V += I }
}
synapse Jump { parameters { kick = 5 mV } on_pre { target += kick } }
population Src[N] = spike_times(times = [0 ms])
population Dst[N] = C()
projection p: Src -> Dst.I { synapse = Jump(kick = kick); connect = fixed_indegree(k) }
record v = trace(Dst.V, cells = 2)
"#;
    let path = model_file("model_constants", model);
    let v_of = |sets: &[(&str, &str)]| {
        let (prepared, r) = run_file(&path, sets, 1);
        let (_, v) = f64s(&r, "v");
        (prepared.ir.populations[1].size, v[v.len() - 1])
    };
    // Every source spikes once: each target gets k kicks.
    let (n, v) = v_of(&[]);
    assert_eq!(n, 30);
    assert!((v - 3.0 * 2e-3).abs() < 1e-12, "{v}");
    let (n, v) = v_of(&[("N", "50"), ("kick", "1 mV")]);
    assert_eq!(n, 50);
    assert!((v - 5.0 * 1e-3).abs() < 1e-12, "{v}");
}

/// `let` and `for` are whole words: `letter = 5` in an update assigns the
/// state variable `letter` (it used to define a local `ter`, leaving
/// `letter` at 0), and `formula = 3` after `w += 1` is a statement of its
/// own (it was read as `w += 1 for mula`, a syntax error); `let` still
/// defines locals and aliases.
#[test]
fn names_that_start_with_a_keyword_are_assigned() {
    let model = r#"
simulation { dt = 1 ms  duration = 3 ms }
neuron N {
    state { letter = 0; V = 0; w = 0; formula = 0 }
    equations {
        let a = 1 / 1 ms
        dV/dt = a
    }
    update {
        let b = 2
        letter = 5 + b
        w += 1
        formula = 3
    }
}
population P[1] = N()
record l = trace(P.letter)
record v = trace(P.V)
record f = trace(P.formula)
"#;
    let r = run_text("let_word", model);
    let (_, l) = f64s(&r, "l");
    assert!(l.iter().all(|&x| x == 7.0), "{l:?}");
    let (_, f) = f64s(&r, "f");
    assert!(f.iter().all(|&x| x == 3.0), "{f:?}");
    let (_, v) = f64s(&r, "v");
    assert!((v[2] - 3.0).abs() < 1e-12, "{v:?}");
}
