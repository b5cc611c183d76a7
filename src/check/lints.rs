//! Warnings: things that are legal but probably not what the author meant.

use super::expr::{const_value, eval};
use super::linear;
use super::model::*;
use super::units::{self, Dim};
use super::Checker;
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{AssignOp, BinOp, Item, Span, UnOp};

/// Every warning the checker gives (`cbmc check --allow CODE` takes these).
pub const WARNING_CODES: &[&str] = &[
    "cbm::W101",
    "cbm::W102",
    "cbm::W103",
    "cbm::W104",
    "cbm::W105",
    "cbm::W106",
    "cbm::W107",
    "cbm::W108",
    "cbm::W109",
    "cbm::W110",
    "cbm::W111",
    "cbm::W112",
    "cbm::W113",
    "cbm::W114",
    "cbm::W115",
    "cbm::W116",
    "cbm::W117",
    "cbm::W118",
    "cbm::W119",
    "cbm::W120",
    "cbm::W121",
];

pub fn run(c: &mut Checker, items: &[Item], m: &Model) {
    unused_parameters(c, m);
    unconnected_and_unrecorded(c, items, m);
    short_time_constants(c, m);
    unstable_euler(c, m);
    fires_at_rest(c, m);
    plasticity(c, m);
    noise_that_depends_on_dt(c, m);
    reversed_driving_forces(c, m);
    bins_longer_than_the_run(c, m);
    own_spike_time_in_its_handler(c, m);
    spikes_without_reset(c, m);
    drawn_delays_out_of_sight(c, m);
}

/// In synapse code, `delay` is the synapse's own delay unless the type has
/// a parameter or state variable so named, or the protocol a signal (those
/// come first). Where the projection draws a delay per synapse and its code
/// reads such a `delay`, the code never sees the drawn delays.
fn drawn_delays_out_of_sight(c: &mut Checker, m: &Model) {
    // (where `delay` is read, what it is) -> the projections concerned: one
    // warning for a synapse type that several projections use.
    let mut found: Vec<(Span, &str, Vec<&str>)> = Vec::new();
    for p in m.projections.iter().filter(|p| p.delay_draw.is_some()) {
        let ty = &m.synapses[p.synapse];
        let named = |v: &[Var]| v.iter().position(|v| v.name == "delay");
        let hiding = [
            named(&ty.params).map(|k| (Ref::SynParam(k), "parameter")),
            named(&ty.state).map(|k| (Ref::SynState(k), "state variable")),
            m.signals
                .iter()
                .position(|s| s.name == "delay")
                .map(|i| (Ref::Signal(i), "protocol signal")),
        ];
        for (r, what) in hiding.into_iter().flatten() {
            let mut spans = Vec::new();
            let h = &p.handlers;
            for body in [&h.on_pre, &h.on_post, &h.on_teacher]
                .into_iter()
                .chain(h.every.iter().map(|(_, b)| b))
            {
                for_each_expr(body, &mut |e| find_ref(e, r, &mut spans));
            }
            let Some(&span) = spans.first() else {
                continue;
            };
            match found.iter_mut().find(|(s, w, _)| *s == span && *w == what) {
                Some((_, _, names)) => names.push(&p.name),
                None => found.push((span, what, vec![&p.name])),
            }
        }
    }
    for (span, what, names) in found {
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let (who, draws) = match names.len() {
            1 => (names[0].clone(), "draws"),
            _ => (names.join(", "), "draw"),
        };
        c.emit(
            Diagnostic::warning(
                "cbm::W119",
                span,
                format!(
                    "`delay` here is the {what} `delay`, not the delays {who} {draws} per synapse"
                ),
            )
            .label(format!("the {what}"))
            .help(format!(
                "rename the {what}: `delay` in synapse code is then each synapse's own delay"
            )),
        );
    }
}

/// `pre.last_spike` in `on_pre` is the time of the spike being handled
/// (section 4.1 sets it first), so `t - pre.last_spike` is 0 there; the
/// same for `post.last_spike` in `on_post`. A rule that means the previous
/// spike (Tsodyks-Markram recovery, a triplet rule) then never recovers.
fn own_spike_time_in_its_handler(c: &mut Checker, m: &Model) {
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for p in &m.projections {
        let handlers = [
            (
                "on_pre",
                "pre",
                Ref::Pre(CellRef::LastSpike),
                &p.handlers.on_pre,
            ),
            (
                "on_post",
                "post",
                Ref::Post(CellRef::LastSpike),
                &p.handlers.on_post,
            ),
        ];
        for (handler, cell, r, body) in handlers {
            let mut spans = Vec::new();
            for_each_expr(body, &mut |e| find_ref(e, r, &mut spans));
            for span in spans {
                if !seen.insert((span.file, span.start)) {
                    continue;
                }
                found.push(
                    Diagnostic::warning(
                        "cbm::W116",
                        span,
                        format!("in `{handler}`, `{cell}.last_spike` is the time of the spike being handled: `t - {cell}.last_spike` is 0 here"),
                    )
                    .label("this spike, not the previous one")
                    .help(format!("for the time since the previous spike, keep it in a per-synapse variable: `state {{ t_prev: s = -1000 s }}`, read `t - t_prev`, then set `t_prev = t` at the end of `{handler}`")),
                );
            }
        }
    }
    c.diagnostics.extend(found);
}

/// A cell with a spike condition but neither `reset` nor `refractory`
/// spikes on every step the condition holds (a Hodgkin-Huxley cell with
/// `spike when V >= 0 mV` counts each step of its action potential). Not
/// said of a condition that draws (`rand() < rate * dt`): a new draw each
/// step is what such a cell is for.
fn spikes_without_reset(c: &mut Checker, m: &Model) {
    for n in &m.neurons {
        let Some(spike) = &n.spike else { continue };
        let draws = linear::inline_aliases(spike, &n.aliases).draws_random();
        if !n.reset.is_empty() || draws {
            continue;
        }
        if !m
            .populations
            .iter()
            .any(|p| matches!(p.kind, PopulationKind::Neuron { neuron, .. } if m.neurons.get(neuron).is_some_and(|x| x.name == n.name)))
        {
            continue;
        }
        if let Some(r) = &n.refractory {
            // Held at its value when the cell spiked, a variable the
            // condition reads still meets it when the period ends.
            let held_in_condition = r.held.iter().find(|&&v| {
                let mut at = Vec::new();
                find_ref(spike, Ref::State(v), &mut at);
                !at.is_empty()
            });
            if let Some(&v) = held_in_condition {
                let name = &n.state[v].name;
                c.emit(
                    Diagnostic::warning(
                        "cbm::W117",
                        spike.span,
                        format!("`{}` has no `reset`: its refractory period holds `{name}` where it spiked, so it spikes again as soon as the period ends", n.name),
                    )
                    .label("still true after the refractory period")
                    .help(format!("add a `reset` that ends the condition (`reset {{ {name} = ... }}`)")),
                );
            }
            continue;
        }
        c.emit(
            Diagnostic::warning(
                "cbm::W117",
                spike.span,
                format!("`{}` spikes on every step its condition holds: it has no `reset` and no `refractory`", n.name),
            )
            .label("true for several steps in a row?")
            .help("add a `reset` that ends the condition (`reset { V = EL }`), a `refractory` period, or a condition true for one step only (an upward crossing: keep the last value in a state variable)"),
        );
    }
}

/// Call `f` on every expression of `stmts` (values, conditions), nested too.
fn for_each_expr(stmts: &[TStmt], f: &mut dyn FnMut(&TExpr)) {
    for s in stmts {
        match s {
            TStmt::Let { value, .. } | TStmt::Assign { value, .. } => f(value),
            TStmt::If {
                cond,
                then,
                otherwise,
            } => {
                f(cond);
                for_each_expr(then, f);
                for_each_expr(otherwise, f);
            }
        }
    }
}

/// The spans of `r` in `e`.
fn find_ref(e: &TExpr, r: Ref, out: &mut Vec<Span>) {
    match &e.kind {
        TKind::Ref(x) if *x == r => out.push(e.span),
        TKind::Unary(_, x) => find_ref(x, r, out),
        TKind::Binary(_, a, b) => {
            find_ref(a, r, out);
            find_ref(b, r, out);
        }
        TKind::Call(_, args) => args.iter().for_each(|a| find_ref(a, r, out)),
        _ => {}
    }
}

/// A `spike_counts` or `rate` recorder stores complete bins only: one whose
/// bin is longer than the run writes no bins at all.
fn bins_longer_than_the_run(c: &mut Checker, m: &Model) {
    let steps = whole_steps(m.duration, m.dt);
    for r in &m.recorders {
        let (RecorderKind::SpikeCounts { bin_steps, .. } | RecorderKind::Rate { bin_steps, .. }) =
            r.kind
        else {
            continue;
        };
        if f64::from(bin_steps) <= steps {
            continue;
        }
        c.emit(
            Diagnostic::warning(
                "cbm::W115",
                r.span,
                format!(
                    "the bin of `{}` ({}) is longer than the run ({}): no bin is complete, so it records nothing",
                    r.name,
                    units::format_quantity(f64::from(bin_steps) * m.dt, Dim::TIME),
                    units::format_quantity(steps * m.dt, Dim::TIME)
                ),
            )
            .label("bin longer than the run")
            .help("use a bin that divides the duration (a bin is stored when it is complete)"),
        );
    }
}

fn unused_parameters(c: &mut Checker, m: &Model) {
    let vars = m
        .neurons
        .iter()
        .flat_map(|n| n.params.iter().map(move |p| (p, n.name.as_str())));
    let syn = m
        .synapses
        .iter()
        .flat_map(|s| s.params.iter().map(move |p| (p, s.name.as_str())));
    let mut found = Vec::new();
    for (p, owner) in vars.chain(syn) {
        if !c.used.contains(&p.span) {
            found.push(
                Diagnostic::warning(
                    "cbm::W101",
                    p.span,
                    format!("parameter `{}` of `{owner}` is never used", p.name),
                )
                .label("unused")
                .help("remove it, or use it in an equation"),
            );
        }
    }
    c.diagnostics.extend(found);
}

fn unconnected_and_unrecorded(c: &mut Checker, items: &[Item], m: &Model) {
    let _ = items;
    // A model without any connection is a study of isolated cells (an f-I
    // curve, a gallery of firing patterns): only in a network is a
    // population left out of it worth a word.
    let network = !m.projections.is_empty() || !m.gaps.is_empty();
    for (i, p) in m.populations.iter().enumerate() {
        let connected = m.projections.iter().any(|q| q.source == i || q.target == i)
            || m.gaps.iter().any(|g| g.population == i);
        if !connected && network {
            c.emit(
                Diagnostic::warning(
                    "cbm::W102",
                    p.span,
                    format!("population `{}` is never connected", p.name),
                )
                .label("no projection or gap junction")
                .help("connect it with a projection, or remove it"),
            );
        }
        let recorded = m.recorders.iter().any(|r| match &r.kind {
            RecorderKind::SpikeCounts { population, .. }
            | RecorderKind::SpikeTimes { population, .. }
            | RecorderKind::Rate { population, .. }
            | RecorderKind::Trace { population, .. } => *population == i,
            RecorderKind::Weights { .. } | RecorderKind::Wiring { .. } => false,
        });
        if !recorded {
            c.emit(
                Diagnostic::warning(
                    "cbm::W103",
                    p.span,
                    format!("population `{}` is never recorded", p.name),
                )
                .label("no recorder")
                .help(format!(
                    "add e.g. `record {}_spikes = spike_counts({}, bin = 50 ms)`",
                    p.name, p.name
                )),
            );
        }
    }
}

fn param_value(n: &NeuronType, i: usize) -> Option<f64> {
    match &n.params[i].init {
        Some(Init::Expr(e)) => eval(e, &|r| match r {
            Ref::Param(j) if j < i => param_value(n, j),
            _ => None,
        }),
        _ => None,
    }
}

fn short_time_constants(c: &mut Checker, m: &Model) {
    let dt = m.dt;
    let mut found = Vec::new();
    for n in &m.neurons {
        for (i, p) in n.params.iter().enumerate() {
            if p.dim == Dim::TIME && p.name.starts_with("tau") {
                if let Some(v) = param_value(n, i) {
                    if v > 0.0 && v < dt {
                        found.push(short_tau(&p.name, p.span, v, dt));
                    } else if v <= 0.0 {
                        found.push(
                            Diagnostic::error(
                                "cbm::E020",
                                p.span,
                                format!(
                                    "time constant `{}` must be positive, found {}",
                                    p.name,
                                    units::format_quantity(v, Dim::TIME)
                                ),
                            )
                            .label("not positive"),
                        );
                    }
                }
            }
        }
    }
    for s in &m.synapses {
        for p in &s.params {
            if p.dim == Dim::TIME && p.name.starts_with("tau") {
                if let Some(Init::Expr(e)) = &p.init {
                    if let Some(v) = const_value(e) {
                        if v > 0.0 && v < dt {
                            found.push(short_tau(&p.name, p.span, v, dt));
                        } else if v <= 0.0 {
                            found.push(
                                Diagnostic::error(
                                    "cbm::E020",
                                    p.span,
                                    format!("time constant `{}` must be positive", p.name),
                                )
                                .label("not positive"),
                            );
                        }
                    }
                }
            }
        }
    }
    c.diagnostics.extend(found);
}

fn short_tau(name: &str, span: Span, v: f64, dt: f64) -> Diagnostic {
    Diagnostic::warning(
        "cbm::W104",
        span,
        format!(
            "time constant `{name}` ({}) is shorter than the time step ({})",
            units::format_quantity(v, Dim::TIME),
            units::format_quantity(dt, Dim::TIME)
        ),
    )
    .label("tau < dt")
    .help("the step cannot resolve it: use a smaller dt or [exact] integration")
}

/// Explicit Euler on dx/dt = a + b x is stable only for |b| dt < 1 (and
/// oscillates for |b| dt > 1). Inputs are taken as zero.
fn unstable_euler(c: &mut Checker, m: &Model) {
    let mut found = Vec::new();
    for n in &m.neurons {
        for eq in &n.equations {
            if eq.method != Method::Euler {
                continue;
            }
            let rhs = linear::inline_aliases(&eq.rhs, &n.aliases);
            let Some((_, Some(b))) = linear::coefficients(&rhs, Ref::State(eq.var)) else {
                continue;
            };
            let env = |r: Ref| match r {
                Ref::Param(i) => param_value(n, i),
                Ref::Input(_) => Some(0.0),
                Ref::State(i) => match &n.state[i].init {
                    Some(Init::Expr(e)) => eval(e, &|r| {
                        if let Ref::Param(j) = r {
                            param_value(n, j)
                        } else {
                            None
                        }
                    }),
                    None => Some(0.0),
                    _ => None,
                },
                Ref::Dt => Some(m.dt),
                _ => None,
            };
            if let Some(b) = eval(&b, &env) {
                // x' = -b x by Euler: x *= 1 - b dt each step. From b dt = 1
                // on, x overshoots its target and flips sign every step;
                // from 2 on, the flips grow.
                let k = b.abs() * m.dt;
                if k >= 1.0 {
                    let what = if k >= 2.0 {
                        "unstable here: the solution grows, flipping sign every step"
                    } else {
                        "wrong here: the solution overshoots, flipping sign every step"
                    };
                    found.push(
                        Diagnostic::warning("cbm::W105", eq.span, format!("explicit Euler is {what} (the rate of `{}` times dt is {k:.3}; it must be below 1 to decay smoothly, and below 2 not to grow)", n.state[eq.var].name))
                            .label(if k >= 2.0 { "unstable step" } else { "oscillating step" })
                            .help("use [exact] (linear equations) or [rk4], or a smaller dt"),
                    );
                }
            }
        }
    }
    c.diagnostics.extend(found);
}

/// A cell whose spike condition already holds in its initial state with no
/// input fires at step 0 and, after every reset that restores it, again.
fn fires_at_rest(c: &mut Checker, m: &Model) {
    let mut found = Vec::new();
    for (pi, pop) in m.populations.iter().enumerate() {
        let PopulationKind::Neuron {
            neuron, overrides, ..
        } = &pop.kind
        else {
            continue;
        };
        let n = &m.neurons[*neuron];
        let Some(spike) = &n.spike else { continue };
        let param = |i: usize| -> Option<f64> {
            match overrides.iter().find(|(v, _)| *v == OverrideVar::Param(i)) {
                Some((_, Init::Expr(e))) => const_value(e),
                Some(_) => None,
                None => param_value(n, i),
            }
        };
        let value = |e: &TExpr| {
            eval(e, &|r| {
                if let Ref::Param(j) = r {
                    param(j)
                } else {
                    None
                }
            })
        };
        // Each state variable's initial values to try: its value, or for
        // a draw its bounds and middle (a normal without bounds: its mean
        // and 3 s.d. either side).
        let state0 = |i: usize| -> Option<Vec<f64>> {
            let init = match overrides.iter().find(|(v, _)| *v == OverrideVar::State(i)) {
                Some((_, init)) => Some(init),
                None => n.state[i].init.as_ref(),
            };
            match init {
                Some(Init::Expr(e)) => value(e).map(|v| vec![v]),
                None => Some(vec![0.0]),
                Some(Init::Uniform { low, high }) => {
                    let (a, b) = (value(low)?, value(high)?);
                    Some(vec![a, 0.5 * (a + b), b])
                }
                Some(Init::Normal {
                    mean,
                    sd,
                    sd_relative,
                    low,
                    high,
                }) => {
                    let mu = value(mean)?;
                    let sd = value(sd)? * if *sd_relative { mu.abs() } else { 1.0 };
                    let lo = low.as_ref().map_or(Some(mu - 3.0 * sd), value)?;
                    let hi = high.as_ref().map_or(Some(mu + 3.0 * sd), value)?;
                    Some(vec![lo.max(mu - 3.0 * sd), mu, hi.min(mu + 3.0 * sd)])
                }
            }
        };
        let spike = linear::inline_aliases(spike, &n.aliases);
        // Every combination of the tried values (of at most 4 drawn
        // variables), the condition holding for all of them.
        // (A variable whose initial value is not known here is None: a
        // condition that reads it is not judged.)
        let tried: Vec<Option<Vec<f64>>> = (0..n.state.len()).map(state0).collect();
        let len = |v: &Option<Vec<f64>>| v.as_ref().map_or(1, Vec::len);
        let drawn = tried.iter().filter(|v| len(v) > 1).count();
        // (At most 3^4 combinations: counted only then, so no overflow.)
        let holds_for_all = drawn <= 4
            && (0..tried.iter().map(len).product::<usize>()).all(|mut k| {
                let pick: Vec<Option<f64>> = tried
                    .iter()
                    .map(|v| {
                        let x = v.as_ref().map(|v| v[k % v.len()]);
                        k /= len(v);
                        x
                    })
                    .collect();
                let env = |r: Ref| match r {
                    Ref::Param(i) => param(i),
                    Ref::State(i) => pick.get(i).copied().flatten(),
                    Ref::Input(_) => Some(0.0),
                    Ref::Time => Some(0.0),
                    Ref::Dt => Some(m.dt),
                    _ => None,
                };
                eval(&spike, &env) == Some(1.0)
            });
        if holds_for_all {
            let _ = pi;
            found.push(
                Diagnostic::warning("cbm::W106", pop.span, format!("`{}` fires at step 0 with no input: its spike condition already holds in the initial state", pop.name))
                    .label("spikes at rest")
                    .help(format!("check `{}`'s resting threshold against its leak reversal potential", n.name)),
            );
        }
    }
    c.diagnostics.extend(found);
}

fn plasticity(c: &mut Checker, m: &Model) {
    let mut found = Vec::new();
    for p in &m.projections {
        let ty = &m.synapses[p.synapse];
        if !p.handlers.on_teacher.is_empty() && p.teacher.is_none() {
            found.push(Diagnostic::warning("cbm::W107", p.span, format!("`on_teacher` of `{}` never runs: projection `{}` names no teacher", ty.name, p.name)).label("no `teacher = ...`").help("add `teacher = <projection>` (e.g. the climbing-fibre projection onto the same cells)"));
        }
        for (_, body) in &p.handlers.every {
            if body.iter().all(never_runs) && !body.is_empty() {
                found.push(Diagnostic::warning("cbm::W107", p.span, format!("a periodic rule of `{}` can never change anything: its condition is always false", ty.name)).label("dead plasticity rule"));
            }
        }
        // Initial values outside their bounds are clipped at the first event.
        for (var, lo, hi) in &p.bounds {
            let mean = match &p.state_init[*var] {
                Init::Expr(e) => const_value(e),
                Init::Normal { mean, .. } => const_value(mean),
                Init::Uniform { low, high } => const_value(low)
                    .zip(const_value(high))
                    .map(|(a, b)| if a < *lo || a > *hi { a } else { b }),
            };
            if let Some(v) = mean {
                if v < *lo || v > *hi {
                    found.push(
                        Diagnostic::warning(
                            "cbm::W108",
                            p.span,
                            format!(
                                "initial `{}` ({}) of `{}` is outside its bounds [{}, {}]",
                                ty.state[*var].name,
                                units::trim_float(v),
                                p.name,
                                units::trim_float(*lo),
                                units::trim_float(*hi)
                            ),
                        )
                        .label("starts out of bounds")
                        .help("it will be clipped at the first plasticity event"),
                    );
                }
            }
        }
    }
    c.diagnostics.extend(found);
}

fn never_runs(s: &TStmt) -> bool {
    match s {
        TStmt::If {
            cond,
            then,
            otherwise,
        } => match const_value(cond) {
            Some(0.0) => otherwise.iter().all(never_runs),
            _ => then.iter().all(never_runs) && otherwise.iter().all(never_runs),
        },
        TStmt::Let { .. } => true,
        TStmt::Assign { .. } => false,
    }
}

/// What an expression draws and reads, for the noise lint: a random number
/// (`rand`, `randn`), `dt` (outside a Poisson count's mean), a Poisson
/// count, and a Poisson count whose mean does not involve `dt` (a count per
/// step, where one per unit time was meant: `rand_poisson(n * rate * dt)`).
#[derive(Clone, Copy, Default)]
struct NoiseUse {
    random: bool,
    dt: bool,
    count: bool,
    count_per_step: bool,
}

impl NoiseUse {
    /// Either's draws and reads.
    fn or(self, b: NoiseUse) -> NoiseUse {
        NoiseUse {
            random: self.random || b.random,
            dt: self.dt || b.dt,
            count: self.count || b.count,
            count_per_step: self.count_per_step || b.count_per_step,
        }
    }
    /// `known`: what the update block's locals hold, then (after
    /// `n.locals` of them) what its state variables are set to; empty
    /// outside the update block.
    fn of(e: &TExpr, n: &NeuronType, known: &[NoiseUse]) -> NoiseUse {
        let locals = known;
        let both = NoiseUse::or;
        match &e.kind {
            TKind::Ref(Ref::Dt) => NoiseUse {
                dt: true,
                ..NoiseUse::default()
            },
            TKind::Ref(Ref::Local(k)) => locals.get(*k).copied().unwrap_or_default(),
            TKind::Ref(Ref::State(k)) => known.get(n.locals + *k).copied().unwrap_or_default(),
            // A parameter computed from dt (`kick = sigma * sqrt(1 - exp(-2 * dt / tau))`,
            // the exact Ornstein-Uhlenbeck step) brings dt with it.
            TKind::Ref(Ref::Param(k)) => match n.params.get(*k).and_then(|p| p.init.as_ref()) {
                Some(Init::Expr(e)) => NoiseUse {
                    dt: NoiseUse::of(e, n, locals).dt,
                    ..NoiseUse::default()
                },
                _ => NoiseUse::default(),
            },
            TKind::Ref(Ref::Alias(k)) => n
                .aliases
                .get(*k)
                .map_or_else(NoiseUse::default, |(_, a)| NoiseUse::of(a, n, locals)),
            // A count's mean with dt in it is a rate per unit time, right
            // for a count; it does not make the count's effect scale.
            TKind::Call(Func::RandPoisson, args) => {
                let mean = args.iter().fold(NoiseUse::default(), |u, a| {
                    both(u, NoiseUse::of(a, n, locals))
                });
                NoiseUse {
                    dt: false,
                    count: true,
                    count_per_step: mean.count_per_step || !mean.dt,
                    ..mean
                }
            }
            TKind::Call(f, args) => args.iter().fold(
                NoiseUse {
                    random: f.is_random(),
                    ..NoiseUse::default()
                },
                |u, a| both(u, NoiseUse::of(a, n, locals)),
            ),
            TKind::Unary(_, x) => NoiseUse::of(x, n, locals),
            TKind::Binary(_, a, b) => both(NoiseUse::of(a, n, locals), NoiseUse::of(b, n, locals)),
            _ => NoiseUse::default(),
        }
    }
}

/// Noise whose strength depends on the step. `V += sigma * randn()` in
/// `update` adds one kick per step: halving dt doubles the kicks, so the
/// same model is noisier at a finer step (the earlier program's IO noise
/// was written so). `randn()` inside `dV/dt` is multiplied by dt, so it
/// fades as dt shrinks. A diffusion whose spread per unit time is fixed
/// scales the kick by sqrt(dt).
fn noise_that_depends_on_dt(c: &mut Checker, m: &Model) {
    let mut found = Vec::new();
    for n in &m.neurons {
        for eq in &n.equations {
            let noise = NoiseUse::of(&eq.rhs, n, &[]);
            // Noise that involves dt (`sigma * sqrt(2 * gL / dt) * randn()`,
            // white noise under Euler) is taken as scaled on purpose.
            if noise.count_per_step {
                found.push(count_per_step(eq.rhs.span));
            } else if noise.count && !noise.dt {
                let var = &n.state[eq.var].name;
                found.push(
                    Diagnostic::warning("cbm::W112", eq.rhs.span, format!("a Poisson count in d{var}/dt is multiplied by dt each step, so this input fades as dt shrinks"))
                        .label("a count inside the derivative")
                        .help(format!("add the count in `update` instead: `{var} += J * rand_poisson(inputs * rate * dt)` (J: the jump per input spike)")),
                );
            } else if noise.random && !noise.dt {
                let var = &n.state[eq.var].name;
                found.push(
                    Diagnostic::warning("cbm::W112", eq.rhs.span, format!("a random number in d{var}/dt is multiplied by dt each step, so this noise fades as dt shrinks"))
                        .label("noise inside the derivative")
                        .help(format!("add the noise in `update` instead, scaled for a fixed spread per unit time: `{var} += sigma * sqrt(dt / 1 ms) * randn()` (sigma: the spread after 1 ms)")),
                );
            }
        }
        // A count or draw kept in a state variable (`k = rand_poisson(2)`,
        // then `V += J * k`) is followed through it, wherever it is set
        // every step (not under an `if` on `t`).
        let blank = vec![NoiseUse::default(); n.locals + n.state.len()];
        let mut known = blank.clone();
        fresh_state_values(&n.update, n, &mut known, true);
        per_step_noise(&n.update, n, &mut known, &mut found);
        // A random spike condition is a probability per step: without dt
        // in it, a finer step fires the cell more often per second. Only
        // values drawn unconditionally, every step, count here (one drawn
        // when a branch fires, as a renewal cell's next time, does not).
        if let Some(spike) = &n.spike {
            let mut every_step = blank;
            fresh_state_values(&n.update, n, &mut every_step, false);
            let u = NoiseUse::of(spike, n, &every_step);
            if u.count_per_step || (u.random && !u.dt) {
                found.push(
                    Diagnostic::warning("cbm::W112", spike.span, "a random spike condition whose probability does not involve dt: at a finer step the cell fires more often per second")
                        .label("a chance per step, not per unit time")
                        .help("scale it by the step, e.g. `spike when rand() < rate * dt` (a Poisson cell of that rate for rate x dt << 1)"),
                );
            }
        }
    }
    c.diagnostics.extend(found);
}

/// W112 for `rand_poisson(m)` whose mean has no `dt` in it: m input spikes
/// per step arrive twice as often at half the step.
fn count_per_step(span: Span) -> Diagnostic {
    Diagnostic::warning("cbm::W112", span, "a Poisson count whose mean does not involve dt: the same mean per step gives more input per second at a finer step")
        .label("a count per step, not per unit time")
        .help("give the mean as inputs x rate x dt, e.g. `rand_poisson(1000 * 5 Hz * dt)`: the same input per second at any dt")
}

/// What state variables are set to afresh (`x = ...` not reading x) in
/// `stmts`, into `known` after the locals (and what locals hold, in
/// order, on the way). Branches count when `into_ifs`, except under an
/// `if` on `t` (values drawn at chosen times).
fn fresh_state_values(stmts: &[TStmt], n: &NeuronType, known: &mut [NoiseUse], into_ifs: bool) {
    for s in stmts {
        match s {
            TStmt::Let { local, value } => {
                let u = NoiseUse::of(value, n, known);
                if let Some(slot) = known.get_mut(*local) {
                    *slot = u;
                }
            }
            TStmt::Assign {
                target: Target::State(v),
                op: AssignOp::Set,
                value,
                ..
            } if !linear::mentions(value, Ref::State(*v)) => {
                let u = NoiseUse::of(value, n, known);
                if let Some(slot) = known.get_mut(n.locals + *v) {
                    *slot = slot.or(u);
                }
            }
            TStmt::If {
                cond,
                then,
                otherwise,
            } if into_ifs && !linear::mentions(cond, Ref::Time) => {
                fresh_state_values(then, n, known, into_ifs);
                fresh_state_values(otherwise, n, known, into_ifs);
            }
            _ => {}
        }
    }
}

fn per_step_noise(
    stmts: &[TStmt],
    n: &NeuronType,
    locals: &mut [NoiseUse],
    found: &mut Vec<Diagnostic>,
) {
    for s in stmts {
        match s {
            TStmt::Let { local, value } => {
                let u = NoiseUse::of(value, n, locals);
                if let Some(slot) = locals.get_mut(*local) {
                    *slot = u;
                }
            }
            TStmt::Assign {
                target: Target::State(v),
                op,
                value,
                span,
                ..
            } => {
                // What the variable itself holds is no new kick (`x = x - 1`
                // after a random reset elsewhere): its own record is left out.
                let own = n.locals + *v;
                let held = locals.get_mut(own).map(std::mem::take);
                let u = NoiseUse::of(value, n, locals);
                if let (Some(slot), Some(h)) = (locals.get_mut(own), held) {
                    *slot = h;
                }
                // A kick adds to the value it had (`+=`, `x = x * a + ...`); a
                // fresh draw (`xi = sigma * randn()`) is not one.
                let accumulates =
                    !matches!(op, AssignOp::Set) || linear::mentions(value, Ref::State(*v));
                if u.count_per_step && accumulates {
                    found.push(count_per_step(*span));
                } else if u.random && !u.dt && accumulates {
                    let var = &n.state[*v].name;
                    found.push(
                        Diagnostic::warning("cbm::W112", *span, format!("`{var}` gets a random kick every step whose size does not depend on dt: at a finer step the cell gets more kicks of the same size, so it is noisier"))
                            .label("noise per step, not per unit time")
                            .help("scale the kick by sqrt(dt / 1 ms) for a spread per unit time that does not depend on dt, e.g. `sigma * sqrt(dt / 1 ms) * randn()` (the same at dt = 1 ms)"),
                    );
                }
            }
            TStmt::Assign { .. } => {}
            // A kick at chosen times (`if t == t_kick`) is not one per step.
            TStmt::If { cond, .. } if linear::mentions(cond, Ref::Time) => {}
            TStmt::If {
                then, otherwise, ..
            } => {
                per_step_noise(then, n, locals, found);
                per_step_noise(otherwise, n, locals, found);
            }
        }
    }
}

/// `g * (V - E)` in dV/dt pushes V away from E: a driving force written the
/// wrong way round (the earlier program's inhibition became excitation this
/// way, among others). The right-hand side is split into additive terms,
/// through sums that are divided or multiplied by positive factors
/// (`(gL*(EL - V) + g*(V - E)) / C`) and through both branches of
/// `select`; a term is flagged when it is one difference between the
/// equation's own variable and something free of it, times factors that
/// are positive as far as the model says (parameters, state, inputs,
/// positive constants, `exp`, powers, sums, `min`/`max`/`clip` of such),
/// and its sign makes it grow with the variable. A product with two such
/// differences (`(V - Vr) * (V - Vc)`, quadratic models) is left alone.
/// The same holds for update maps (`V += dt * (...)`).
fn reversed_driving_forces(c: &mut Checker, m: &Model) {
    let mut found = Vec::new();
    for n in &m.neurons {
        for eq in &n.equations {
            let rhs = linear::inline_aliases(&eq.rhs, &n.aliases);
            reversed_terms(&rhs, 1, n, eq.var, &mut found);
        }
        update_maps(&n.update, n, &mut found);
    }
    c.diagnostics.extend(found);
}

fn update_maps(stmts: &[TStmt], n: &NeuronType, found: &mut Vec<Diagnostic>) {
    for s in stmts {
        match s {
            TStmt::Assign {
                target: Target::State(v),
                op: op @ (AssignOp::Add | AssignOp::Sub),
                value,
                ..
            } => {
                let sign = if matches!(op, AssignOp::Add) { 1 } else { -1 };
                let value = linear::inline_aliases(value, &n.aliases);
                reversed_terms(&value, sign, n, *v, found);
            }
            TStmt::If {
                then, otherwise, ..
            } => {
                update_maps(then, n, found);
                update_maps(otherwise, n, found);
            }
            _ => {}
        }
    }
}

fn reversed_terms(e: &TExpr, sign: i8, n: &NeuronType, var: usize, found: &mut Vec<Diagnostic>) {
    let own = Ref::State(var);
    for_each_term(e, sign, own, n, &mut |term, sign| {
        let Some((difference, sign)) = driving_force(term, sign, own, n) else {
            return;
        };
        let TKind::Binary(_, a, b) = &difference.kind else {
            return;
        };
        // sign * (a - b) grows with the variable when a is the variable.
        let own_first = matches!(a.kind, TKind::Ref(r) if r == own);
        if own_first != (sign > 0) {
            return;
        }
        let name = &n.state[var].name;
        let other = value_name(n, if own_first { b } else { a }, n.state[var].dim);
        found.push(
            Diagnostic::warning("cbm::W113", term.span, format!("this term pushes `{name}` away from {other}: the driving force is reversed"))
                .label(format!("grows as `{name}` moves past {other}"))
                .help(format!("a leak or a conductance pulls `{name}` toward its reversal: write the difference as ({other} - {name}), or negate the term (ignore this if the term is meant to be regenerative)")),
        );
    });
}

/// How a message names the other side of a driving force.
fn value_name(n: &NeuronType, e: &TExpr, dim: Dim) -> String {
    match &e.kind {
        TKind::Ref(Ref::Param(i)) => n.params.get(*i).map(|v| format!("`{}`", v.name)),
        TKind::Ref(Ref::State(i)) => n.state.get(*i).map(|v| format!("`{}`", v.name)),
        TKind::Ref(Ref::Input(i)) => n.inputs.get(*i).map(|v| format!("`{}`", v.name)),
        _ => const_value(e).map(|v| units::format_quantity(v, dim)),
    }
    .unwrap_or_else(|| "its reversal".into())
}

/// Call `f` on every additive term of `e` with its sign (+1 or -1),
/// looking inside sums scaled by positive factors and both branches of a
/// `select`; a lone difference `(V - E)` is one term.
fn for_each_term<'a>(
    e: &'a TExpr,
    sign: i8,
    own: Ref,
    n: &NeuronType,
    f: &mut dyn FnMut(&'a TExpr, i8),
) {
    match &e.kind {
        TKind::Binary(BinOp::Sub, ..) if lone_difference(e, own) => f(e, sign),
        TKind::Binary(BinOp::Add, a, b) => {
            for_each_term(a, sign, own, n, f);
            for_each_term(b, sign, own, n, f);
        }
        TKind::Binary(BinOp::Sub, a, b) => {
            for_each_term(a, sign, own, n, f);
            for_each_term(b, -sign, own, n, f);
        }
        TKind::Unary(UnOp::Neg, x) => for_each_term(x, -sign, own, n, f),
        TKind::Call(Func::Select, args) if args.len() == 3 => {
            for_each_term(&args[1], sign, own, n, f);
            for_each_term(&args[2], sign, own, n, f);
        }
        _ => {
            // A sum times positive factors: its terms, each with the factors.
            let mut factors = Vec::new();
            if let Some(scaled) = product_factors(e, sign, &mut factors) {
                let mut sums = factors
                    .iter()
                    .filter(|f| linear::mentions(f, own) && !lone_difference(f, own));
                if let (Some(sum), None) = (sums.next(), sums.next()) {
                    let is_sum = matches!(sum.kind, TKind::Binary(BinOp::Add | BinOp::Sub, ..));
                    let others_positive = factors
                        .iter()
                        .filter(|f| !std::ptr::eq(**f, *sum))
                        .all(|f| !linear::mentions(f, own) && positive(f, n));
                    if is_sum && others_positive && factors.len() > 1 {
                        for_each_term(sum, scaled, own, n, f);
                        return;
                    }
                }
            }
            f(e, sign)
        }
    }
}

/// `(own - x)` or `(x - own)` with x free of own.
fn lone_difference(e: &TExpr, own: Ref) -> bool {
    let TKind::Binary(BinOp::Sub, a, b) = &e.kind else {
        return false;
    };
    let alone = |x: &TExpr| matches!(x.kind, TKind::Ref(r) if r == own);
    (alone(a) && !linear::mentions(b, own)) || (alone(b) && !linear::mentions(a, own))
}

/// Not negative as far as the model says: names (conductances, rates and
/// gating variables are), constants of zero or more, and what `exp`, `abs`,
/// powers, sums, products, `min`, `max` and `clip` make of them.
fn positive(e: &TExpr, n: &NeuronType) -> bool {
    let positive = |x: &TExpr| positive(x, n);
    match &e.kind {
        // A parameter whose default is negative is not (`g_neg = -0.1 /ms`).
        TKind::Ref(Ref::Param(i)) => !matches!(
            n.params.get(*i).and_then(|p| p.init.as_ref()),
            Some(Init::Expr(d)) if const_value(d).is_some_and(|v| v < 0.0)
        ),
        TKind::Ref(_) => true,
        TKind::Const(v) => *v >= 0.0,
        TKind::Call(Func::Exp | Func::Abs, _) => true,
        TKind::Call(Func::Min | Func::Max | Func::Clip, args) => args.iter().all(positive),
        TKind::Binary(BinOp::Pow, base, _) => positive(base),
        TKind::Binary(BinOp::Add | BinOp::Mul | BinOp::Div, a, b) => positive(a) && positive(b),
        _ => false,
    }
}

/// The one difference `(A - B)` involving `own` in a product term, and the
/// sign the term's other factors give it; None if the term is not such a
/// product.
fn driving_force<'a>(
    term: &'a TExpr,
    sign: i8,
    own: Ref,
    n: &NeuronType,
) -> Option<(&'a TExpr, i8)> {
    let mut factors = Vec::new();
    let sign = product_factors(term, sign, &mut factors)?;
    let mut difference = None;
    for f in factors {
        if !linear::mentions(f, own) {
            if !positive(f, n) {
                return None;
            }
            continue;
        }
        if !lone_difference(f, own) || difference.is_some() {
            return None;
        }
        difference = Some(f);
    }
    Some((difference?, sign))
}

/// Flatten a product/quotient into its factors (a negation or a negative
/// constant flips the sign); None for anything else at the top.
fn product_factors<'a>(e: &'a TExpr, sign: i8, out: &mut Vec<&'a TExpr>) -> Option<i8> {
    match &e.kind {
        TKind::Binary(BinOp::Mul | BinOp::Div, a, b) => {
            // A divisor is a factor too, as long as it does not change sign.
            let sign = product_factors(a, sign, out)?;
            product_factors(b, sign, out)
        }
        TKind::Unary(UnOp::Neg, x) => product_factors(x, -sign, out),
        TKind::Const(v) if *v < 0.0 => Some(-sign),
        _ => {
            out.push(e);
            Some(sign)
        }
    }
}
