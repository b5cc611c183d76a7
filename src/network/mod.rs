//! Instantiation: wiring, per-synapse values and initial state, computed once
//! on the host from the IR and the seed, by the same code for every engine.

mod chunks;
mod memory;
pub mod rng;

pub use memory::{available_bytes, check_memory, estimated_bytes, expected_synapses};

use crate::ir::{
    CellAccess, DelayDrawIr, Expr, InitIr, Ir, PopulationKindIr, ProjectionIr, UnOp, VarIr,
    VarKind, Wiring,
};
use rng::{stream, Rng};

#[derive(Clone, Debug)]
pub struct Network {
    pub populations: Vec<PopulationNet>,
    pub projections: Vec<ProjectionNet>,
    pub gaps: Vec<GapNet>,
}

impl Network {
    pub fn synapse_count(&self) -> usize {
        self.projections.iter().map(|p| p.len()).sum()
    }

    /// Each projection's `delay_extra` where a `weights` or `wiring`
    /// recorder records the projection (empty elsewhere, and for one
    /// delay): what a recording needs of the drawn delays.
    pub fn recorded_delays(&self, ir: &Ir) -> Vec<Vec<u32>> {
        use crate::ir::RecorderKindIr::{Weights, Wiring};
        let recorded = |q: usize| {
            ir.recorders.iter().any(|r| {
                matches!(r.kind, Weights { projection, .. } | Wiring { projection, .. } if projection == q)
            })
        };
        self.projections
            .iter()
            .enumerate()
            .map(|(q, p)| {
                if recorded(q) {
                    p.delay_extra.clone()
                } else {
                    vec![]
                }
            })
            .collect()
    }

    /// Bytes of the synapses as built: pre and post index (u32), each
    /// per-synapse variable (f64), CSR offsets (u32), drawn delays (u32).
    pub fn synapse_bytes(&self) -> usize {
        self.projections
            .iter()
            .map(|p| {
                p.len() * (8 + 8 * p.vars.len()) + p.offsets.len() * 4 + p.delay_extra.len() * 4
            })
            .sum()
    }
}

#[derive(Clone, Debug, Default)]
pub struct PopulationNet {
    /// Initial values, `vars[var][cell]` (empty for spike sources).
    pub vars: Vec<Vec<f64>>,
}

/// Synapses stored by presynaptic cell (CSR): the synapses of source `i` are
/// `offsets[i]..offsets[i+1]`, ordered by target, then by draw.
#[derive(Clone, Debug, Default)]
pub struct ProjectionNet {
    pub offsets: Vec<u32>,
    pub pre: Vec<u32>,
    pub post: Vec<u32>,
    /// Per-synapse values, `vars[var][synapse]`.
    pub vars: Vec<Vec<f64>>,
    /// With delays drawn per synapse: each synapse's delay beyond the
    /// projection's shortest, in steps (empty: one delay for all).
    pub delay_extra: Vec<u32>,
}

impl ProjectionNet {
    pub fn len(&self) -> usize {
        self.post.len()
    }
    pub fn is_empty(&self) -> bool {
        self.post.is_empty()
    }
    /// Synapses grouped by target (CSC): (offsets, synapse ids).
    pub fn by_target(&self, n_target: usize) -> (Vec<u32>, Vec<u32>) {
        let mut counts = vec![0u32; n_target + 1];
        for &j in &self.post {
            counts[j as usize + 1] += 1;
        }
        for i in 0..n_target {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut ids = vec![0u32; self.post.len()];
        for (s, &j) in self.post.iter().enumerate() {
            ids[fill[j as usize] as usize] = s as u32;
            fill[j as usize] += 1;
        }
        (counts, ids)
    }
}

/// Gap-junction pairs; each couples both ends.
#[derive(Clone, Debug, Default)]
pub struct GapNet {
    pub pairs: Vec<(u32, u32)>,
}

/// Build the network a run starts from. Pure function of the IR (and so of
/// the model, the overrides and the seed).
/// `session` checks first that it fits in memory ([`check_memory`]).
pub fn build(ir: &Ir) -> Result<Network, String> {
    build_on(ir, 1)
}

/// [`build`] with the wiring and the synapses' initial values drawn on up
/// to `threads` threads: the same network whatever the count (`chunks.rs`).
pub fn build_on(ir: &Ir, threads: usize) -> Result<Network, String> {
    let rng = Rng::new(ir.seed);
    let mut populations = Vec::new();
    for pi in 0..ir.populations.len() {
        let vars = population_vars(ir, pi, &rng, threads)?;
        populations.push(PopulationNet { vars });
    }
    let mut projections = Vec::new();
    for (qi, q) in ir.projections.iter().enumerate() {
        let n_src = ir.populations[q.source].size;
        let n_dst = ir.populations[q.target].size;
        // A pair's probability and a synapse's initial values may read
        // the cells as they start.
        let (pre_vars, post_vars) = (&populations[q.source].vars, &populations[q.target].vars);
        let pair_p = |i: usize, j: usize| match &q.wiring {
            Wiring::PairProbability { p, .. } => {
                eval_leaves(p, &|leaf| cell_value(leaf, pre_vars, i, post_vars, j))
                    .unwrap_or(f64::NAN)
            }
            _ => f64::NAN,
        };
        let pairs = match q.wiring_of {
            // The synapses of an earlier projection, pair for pair.
            Some(r) => {
                let of: &ProjectionNet = projections.get(r).ok_or_else(|| {
                    format!(
                        "internal error: `{}` takes the synapses of a later projection",
                        q.name
                    )
                })?;
                of.pre.iter().zip(&of.post).map(|(&i, &j)| (i, j)).collect()
            }
            None => wire(
                &q.wiring,
                n_src,
                n_dst,
                q.source == q.target,
                &rng,
                stream(rng::WIRING, qi, 0),
                threads,
                Some(&pair_p),
            ),
        };
        let mut net = csr(pairs, n_src, n_dst);
        if net.len() > u32::MAX as usize / 2 {
            return Err(format!(
                "projection `{}` has {} synapses, more than this engine supports",
                q.name,
                net.len()
            ));
        }
        let cells = |e: usize, leaf: &Expr| {
            cell_value(
                leaf,
                pre_vars,
                net.pre[e] as usize,
                post_vars,
                net.post[e] as usize,
            )
        };
        net.vars = init_vars(
            &q.vars,
            net.len(),
            &rng,
            threads,
            |var, site| stream(rng::SYN_INIT, qi, (var as u32) << 4 | site),
            &cells,
        )?;
        if let Some(d) = &q.delay_draw {
            let s = stream(rng::DELAY, qi, 0);
            net.delay_extra = draw_delays(q, d, net.len(), &rng, s, ir.dt, threads);
            // What synapse code reads as `delay`, in seconds.
            if let Some(v) = d.var {
                net.vars[v] = net
                    .delay_extra
                    .iter()
                    .map(|&x| f64::from(q.delay_steps + x) * ir.dt)
                    .collect();
            }
        }
        projections.push(net);
    }
    let gaps = ir
        .gaps
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            let n = ir.populations[g.population].size;
            let mut pairs = Vec::new();
            let mut seen = Vec::new();
            for i in 0..n {
                let mut seq = rng.sequence(stream(rng::GAP, gi, 0), i as u32);
                // Partners are other cells: draw from n-1 and skip i.
                let picks = if g.distinct {
                    sample_distinct(&mut seq, n - 1, g.partners, &mut seen)
                } else {
                    (0..g.partners).map(|_| seq.below(n - 1)).collect()
                };
                for p in picks {
                    let j = if p >= i { p + 1 } else { p };
                    pairs.push((i as u32, j as u32));
                }
            }
            GapNet { pairs }
        })
        .collect();
    Ok(Network {
        populations,
        projections,
        gaps,
    })
}

/// Floyd's algorithm: k distinct values from 0..n, in draw order.
/// Membership is kept in a bitmap (`seen`, reused between calls, clear
/// between them): a list search made drawing 1,000 sources for each of
/// Brunel's 12,500 cells take seconds.
fn sample_distinct(seq: &mut rng::Sequence, n: usize, k: usize, seen: &mut Vec<u64>) -> Vec<usize> {
    if seen.len() * 64 < n {
        seen.resize(n.div_ceil(64), 0);
    }
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    for j in n - k..n {
        let t = seq.below(j + 1);
        // j itself is never chosen yet: earlier picks are below it.
        let pick = if seen[t / 64] >> (t % 64) & 1 == 1 {
            j
        } else {
            t
        };
        seen[pick / 64] |= 1 << (pick % 64);
        chosen.push(pick);
    }
    for &c in &chosen {
        seen[c / 64] &= !(1 << (c % 64));
    }
    chosen
}

/// `k` cells of `0..n`, with or without replacement, never `except`: drawn
/// among the n - 1 others, numbered past it.
fn draw(
    seq: &mut rng::Sequence,
    n: usize,
    k: usize,
    replace: bool,
    except: Option<usize>,
    seen: &mut Vec<u64>,
) -> Vec<usize> {
    let pool = n - usize::from(except.is_some());
    let picks: Vec<usize> = if replace {
        (0..k).map(|_| seq.below(pool)).collect()
    } else {
        sample_distinct(seq, pool, k, seen)
    };
    match except {
        Some(x) => picks.into_iter().map(|c| c + usize::from(c >= x)).collect(),
        None => picks,
    }
}

/// Population `pi`'s variables as they start, cell by cell (for a spike
/// source, the values its rate reads: a drawn rate, the cell index).
fn population_vars(ir: &Ir, pi: usize, rng: &Rng, threads: usize) -> Result<Vec<Vec<f64>>, String> {
    let p = &ir.populations[pi];
    let vars = match &p.kind {
        PopulationKindIr::Neuron(n) => &n.vars[..],
        PopulationKindIr::Source(s) => s.per_cell(),
    };
    init_vars(
        vars,
        p.size,
        rng,
        threads,
        |var, site| stream(rng::CELL_INIT, pi, (var as u32) << 4 | site),
        &|_, _| None,
    )
}

/// Each `PairProbability` wiring's mean probability (its `expected`), for
/// what is estimated before the network is built (the memory it needs,
/// the CUDA delivery's way): the cells' values worked out as the build
/// does, and the probability of 65,536 pairs drawn at random (all of them
/// in a smaller projection). At random, not on a grid: a grid of sources
/// and one of targets put each sampled source's own neighbourhood in its
/// row, so a kernel that falls with distance read 20 times too high.
pub fn estimate_pair_probabilities(ir: &mut Ir) -> Result<(), String> {
    let rng = Rng::new(ir.seed);
    let mut vars: Vec<Option<Vec<Vec<f64>>>> = vec![None; ir.populations.len()];
    for qi in 0..ir.projections.len() {
        let q = &ir.projections[qi];
        let Wiring::PairProbability { p, allow_self, .. } = &q.wiring else {
            continue;
        };
        // `same_as(P)`: P's synapses, so P's estimate (P comes first).
        let of_earlier = q.wiring_of.and_then(|r| match ir.projections[r].wiring {
            Wiring::PairProbability { expected, .. } => Some(expected),
            _ => None,
        });
        if let Some(mean) = of_earlier {
            if let Wiring::PairProbability { expected, .. } = &mut ir.projections[qi].wiring {
                *expected = mean;
            }
            continue;
        }
        for pi in [q.source, q.target] {
            if vars[pi].is_none() {
                vars[pi] = Some(population_vars(ir, pi, &rng, 1)?);
            }
        }
        let (pre_vars, post_vars) = (
            vars[q.source].as_deref().unwrap_or_default(),
            vars[q.target].as_deref().unwrap_or_default(),
        );
        let (n_src, n_dst) = (ir.populations[q.source].size, ir.populations[q.target].size);
        let skip_self = q.source == q.target && !allow_self;
        let pairs = n_src as u64 * n_dst as u64;
        let mut seq = rng.sequence(stream(rng::WIRING, qi, 1), 0);
        let (mut sum, mut count) = (0.0, 0u64);
        for k in 0..pairs.min(SAMPLED_PAIRS) {
            let (i, j) = if pairs <= SAMPLED_PAIRS {
                ((k / n_dst as u64) as usize, (k % n_dst as u64) as usize)
            } else {
                (seq.below(n_src), seq.below(n_dst))
            };
            if skip_self && i == j {
                continue;
            }
            let v = eval_leaves(p, &|leaf| cell_value(leaf, pre_vars, i, post_vars, j));
            // As drawn: at most 1, at least 0, never where not a number.
            sum += v.filter(|v| !v.is_nan()).map_or(0.0, |v| v.clamp(0.0, 1.0));
            count += 1;
        }
        let mean = if count > 0 { sum / count as f64 } else { 0.0 };
        if let Wiring::PairProbability { expected, .. } = &mut ir.projections[qi].wiring {
            *expected = mean;
        }
    }
    Ok(())
}

/// How many pairs [`estimate_pair_probabilities`] samples.
const SAMPLED_PAIRS: u64 = 1 << 16;

/// The probability of each pair (source, target) of a `PairProbability`
/// wiring, from the two cells' values.
type PairP<'a> = &'a (dyn Fn(usize, usize) -> f64 + Sync);

#[allow(clippy::too_many_arguments)]
fn wire(
    w: &Wiring,
    n_src: usize,
    n_dst: usize,
    same: bool,
    rng: &Rng,
    s: u32,
    threads: usize,
    pair_p: Option<PairP>,
) -> Vec<(u32, u32)> {
    let mut pairs = Vec::new();
    match *w {
        Wiring::AllToAll { allow_self } => {
            for j in 0..n_dst {
                for i in 0..n_src {
                    if allow_self || !same || i != j {
                        pairs.push((i as u32, j as u32));
                    }
                }
            }
        }
        Wiring::Explicit { pairs: ref listed } => pairs.extend_from_slice(listed),
        Wiring::OneToOne => pairs.extend((0..n_src.min(n_dst)).map(|i| (i as u32, i as u32))),
        Wiring::Blocks { per_source } => {
            for i in 0..n_src {
                for j in i * per_source..(i + 1) * per_source {
                    pairs.push((i as u32, j as u32));
                }
            }
        }
        Wiring::FixedInDegree {
            k,
            replace,
            allow_self,
        }
        | Wiring::FixedOutDegree {
            k,
            replace,
            allow_self,
        } => {
            let draws = Draws {
                k,
                replace,
                skip_self: same && !allow_self,
                rng,
                s,
                threads,
            };
            pairs = match w {
                // Each target draws its sources.
                Wiring::FixedInDegree { .. } => draws.each(n_dst, n_src, |j, i| (i, j)),
                // Each source draws its targets.
                _ => draws.each(n_src, n_dst, |i, j| (i, j)),
            };
        }
        Wiring::Probability { allow_self, .. } | Wiring::PairProbability { allow_self, .. } => {
            // Each target's sources from its own sequence, one number per
            // source, whatever the thread count; a pair is drawn with its
            // probability (the one of the rule, or its cells' from
            // `pair_p`, which `build_on` gives; a NaN: never).
            let constant = match *w {
                Wiring::Probability { p, .. } => p,
                _ => f64::NAN,
            };
            let fixed = move |_: usize, _: usize| constant;
            let p: PairP = match (w, pair_p) {
                (Wiring::PairProbability { .. }, Some(f)) => f,
                _ => &fixed,
            };
            let skip_self = same && !allow_self;
            pairs = chunks::map_runs(n_dst, threads, |targets| {
                let mut pairs = Vec::new();
                for j in targets {
                    let mut seq = rng.sequence(s, j as u32);
                    for i in 0..n_src {
                        let u = Rng::uniform(seq.next_word());
                        if u < p(i, j) && !(skip_self && i == j) {
                            pairs.push((i as u32, j as u32));
                        }
                    }
                }
                pairs
            });
        }
    }
    pairs
}

/// Fixed in- or out-degree wiring: `k` partners drawn for each cell.
struct Draws<'r> {
    k: usize,
    replace: bool,
    /// The cell is not its own partner (a projection onto its source).
    skip_self: bool,
    rng: &'r Rng,
    s: u32,
    threads: usize,
}

impl Draws<'_> {
    /// The partners of each of `cells` cells among `partners`, each cell
    /// from its own sequence, as (pre, post) pairs by `pair(cell, partner)`.
    fn each(
        &self,
        cells: usize,
        partners: usize,
        pair: impl Fn(u32, u32) -> (u32, u32) + Sync,
    ) -> Vec<(u32, u32)> {
        chunks::map_runs(cells, self.threads, |run| {
            let (mut pairs, mut seen) = (Vec::new(), Vec::new());
            for c in run {
                let mut seq = self.rng.sequence(self.s, c as u32);
                let except = self.skip_self.then_some(c);
                let picks = draw(&mut seq, partners, self.k, self.replace, except, &mut seen);
                pairs.extend(picks.into_iter().map(|p| pair(c as u32, p as u32)));
            }
            pairs
        })
    }
}

/// Synapses in (pre, post) order: a counting sort by post (skipped when the
/// wiring drew the pairs target by target, already in that order), then a
/// stable one by pre, which also gives the offsets.
/// (Linear: a comparison sort of the x64 cerebellum's 26M pairs was nearly
/// half of its network's build time; a large network's build is mostly
/// memory traffic, so no pass or copy more than needed.)
fn csr(pairs: Vec<(u32, u32)>, n_src: usize, n_dst: usize) -> ProjectionNet {
    let by_post = if pairs.is_sorted_by_key(|p| p.1) {
        pairs
    } else {
        counting_sort(&pairs, n_dst, |p| p.1)
    };
    let offsets = run_starts(&by_post, n_src, |p| p.0);
    let mut next = offsets.clone();
    let mut post = vec![0u32; by_post.len()];
    for &(i, j) in &by_post {
        let at = &mut next[i as usize];
        post[*at as usize] = j;
        *at += 1;
    }
    drop(by_post);
    let pre = (0..n_src)
        .flat_map(|i| std::iter::repeat_n(i as u32, (offsets[i + 1] - offsets[i]) as usize))
        .collect();
    ProjectionNet {
        offsets,
        pre,
        post,
        vars: vec![],
        delay_extra: vec![],
    }
}

/// Where each key's run starts once `pairs` are sorted by `key` (below
/// `n`): `n + 1` offsets, the last the number of pairs.
fn run_starts(pairs: &[(u32, u32)], n: usize, key: impl Fn(&(u32, u32)) -> u32) -> Vec<u32> {
    let mut starts = vec![0u32; n + 1];
    for p in pairs {
        starts[key(p) as usize + 1] += 1;
    }
    for i in 0..n {
        starts[i + 1] += starts[i];
    }
    starts
}

/// `pairs` stably sorted by `key` (below `n`).
fn counting_sort(
    pairs: &[(u32, u32)],
    n: usize,
    key: impl Fn(&(u32, u32)) -> u32,
) -> Vec<(u32, u32)> {
    let mut next = run_starts(pairs, n, &key);
    let mut out = vec![(0, 0); pairs.len()];
    for p in pairs {
        let at = &mut next[key(p) as usize];
        out[*at as usize] = *p;
        *at += 1;
    }
    out
}

/// `n` values of a constant or a distribution from stream `s` (zeros for an
/// expression, which `init_vars` fills in).
fn draw_column(init: &InitIr, n: usize, rng: &Rng, s: u32, threads: usize) -> Vec<f64> {
    match init {
        InitIr::Const(c) => vec![*c; n],
        InitIr::Normal {
            mean,
            sd,
            low,
            high,
        } => chunks::map_runs(n, threads, |run| {
            run.map(|e| {
                let w = rng.words(s, e as u32, (e >> 32) as u32, 0);
                (mean + sd * Rng::normal(w[0], w[1])).clamp(*low, *high)
            })
            .collect()
        }),
        InitIr::Uniform { low, high } => chunks::map_runs(n, threads, |run| {
            run.map(|e| {
                low + (high - low) * Rng::uniform(rng.words(s, e as u32, (e >> 32) as u32, 0)[0])
            })
            .collect()
        }),
        InitIr::CellIndex => (0..n).map(|i| i as f64).collect(),
        InitIr::Expr(_) => vec![0.0; n],
    }
}

/// Each synapse's delay beyond the projection's shortest, in steps: drawn
/// in seconds, rounded to whole steps (halves up) and kept within the
/// bounds (which the checker made whole steps).
fn draw_delays(
    q: &ProjectionIr,
    d: &DelayDrawIr,
    n: usize,
    rng: &Rng,
    s: u32,
    dt: f64,
    threads: usize,
) -> Vec<u32> {
    draw_column(&d.init, n, rng, s, threads)
        .into_iter()
        .map(|x| {
            let steps = crate::check::model::whole_steps(x, dt)
                .clamp(q.delay_steps as f64, d.max_steps as f64);
            steps as u32 - q.delay_steps
        })
        .collect()
}

/// Initial values of per-element variables, in declaration order (an
/// expression may use variables declared before it).
/// `cells(element, leaf)`: a value of the element's cells that its
/// expressions read (a synapse's `pre.X`, `post.X`), or None.
fn init_vars(
    vars: &[VarIr],
    n: usize,
    rng: &Rng,
    threads: usize,
    stream_of: impl Fn(usize, u32) -> u32,
    cells: &dyn Fn(usize, &Expr) -> Option<f64>,
) -> Result<Vec<Vec<f64>>, String> {
    // Each variable's draws have their own stream site, 16 apart.
    if vars.len() > (rng::SITES / 16) as usize {
        return Err(format!(
            "more than {} variables in one cell or synapse type",
            rng::SITES / 16
        ));
    }
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(vars.len());
    // Per-cell parameters come last in a population's vars but may be used by
    // state initial values, so fill in two passes: non-expressions first,
    // then expressions, per-cell parameters before state (a parameter's
    // expression uses only earlier parameters; a state variable's, any
    // parameter and earlier state).
    out.resize(vars.len(), vec![]);
    for (v, var) in vars.iter().enumerate() {
        out[v] = draw_column(&var.init, n, rng, stream_of(v, 0), threads);
    }
    let params_first = (0..vars.len())
        .filter(|&v| vars[v].kind == VarKind::CellParam)
        .chain((0..vars.len()).filter(|&v| vars[v].kind != VarKind::CellParam));
    for v in params_first {
        let var = &vars[v];
        if let InitIr::Expr(e) = &var.init {
            let mut col = vec![0.0; n];
            for (i, x) in col.iter_mut().enumerate() {
                let leaf = |l: &Expr| match l {
                    Expr::Var(k) => out.get(*k).and_then(|c| c.get(i)).copied(),
                    other => cells(i, other),
                };
                *x = eval_leaves(e, &leaf).ok_or_else(|| {
                    format!(
                        "the initial value of `{}` is not computable before the run",
                        var.name
                    )
                })?;
            }
            out[v] = col;
        }
    }
    Ok(out)
}

/// A value of a synapse's (or a pair's) cells as they start: `pre.X` of
/// source cell `i`, `post.X` of target cell `j`.
fn cell_value(
    leaf: &Expr,
    pre_vars: &[Vec<f64>],
    i: usize,
    post_vars: &[Vec<f64>],
    j: usize,
) -> Option<f64> {
    match leaf {
        Expr::Pre(CellAccess::Var(v)) => pre_vars.get(*v)?.get(i).copied(),
        Expr::Post(CellAccess::Var(v)) => post_vars.get(*v)?.get(j).copied(),
        _ => None,
    }
}

/// Evaluate an expression of constants and variables (no time, no noise).
pub fn eval_scalar(e: &Expr, var: &dyn Fn(usize) -> Option<f64>) -> Option<f64> {
    eval_leaves(e, &|leaf| match leaf {
        Expr::Var(v) => var(*v),
        _ => None,
    })
}

/// Evaluate an expression whose leaves other than constants `leaf` gives
/// values for (None: not computable); no noise.
fn eval_leaves(e: &Expr, leaf: &dyn Fn(&Expr) -> Option<f64>) -> Option<f64> {
    Some(match e {
        Expr::Const(c) => *c,
        Expr::Unary(UnOp::Neg, x) => -eval_leaves(x, leaf)?,
        Expr::Unary(UnOp::Not, x) => f64::from(u8::from(eval_leaves(x, leaf)? == 0.0)),
        Expr::Binary(op, a, b) => {
            crate::ir::apply_binary(*op, eval_leaves(a, leaf)?, eval_leaves(b, leaf)?)
        }
        // (Built-ins take at most 3 arguments: no allocation per call, as a
        // pair probability is worked out for every pair of two populations.)
        Expr::Call(f, args, _) if !f.is_random() && args.len() <= 3 => {
            let mut v = [0.0; 3];
            for (slot, a) in v.iter_mut().zip(args) {
                *slot = eval_leaves(a, leaf)?;
            }
            crate::ir::apply_call(*f, &v[..args.len()])
        }
        Expr::Call(..) => return None,
        other => leaf(other)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drawn on several threads, the wiring and the initial values are
    /// those of one thread.
    #[test]
    fn threads_draw_the_same_network() {
        let rng = Rng::new(8);
        let (n_src, n_dst) = (300, 20_000);
        let rules = [
            Wiring::FixedInDegree {
                k: 5,
                replace: false,
                allow_self: false,
            },
            Wiring::FixedOutDegree {
                k: 300,
                replace: true,
                allow_self: false,
            },
            Wiring::Probability {
                p: 0.01,
                allow_self: true,
            },
        ];
        for w in rules {
            let one = wire(&w, n_src, n_dst, false, &rng, 1, 1, None);
            assert!(!one.is_empty());
            assert_eq!(
                wire(&w, n_src, n_dst, false, &rng, 1, 3, None),
                one,
                "{w:?}"
            );
        }
        let normal = InitIr::Normal {
            mean: 1.0,
            sd: 0.5,
            low: 0.0,
            high: 2.0,
        };
        for init in [
            normal,
            InitIr::Uniform {
                low: -1.0,
                high: 1.0,
            },
        ] {
            let one = draw_column(&init, 50_000, &rng, 2, 1);
            let bits = |c: &[f64]| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&draw_column(&init, 50_000, &rng, 2, 4)), bits(&one));
        }
    }

    /// The bitmap gives Floyd's draws exactly as a search of the list
    /// does, and is clear again after each call.
    #[test]
    fn sample_distinct_matches_floyds_list_search() {
        let rng = Rng::new(11);
        let mut seen = Vec::new();
        for (c, (n, k)) in [
            (1, 1),
            (10, 10),
            (100, 7),
            (1000, 999),
            (70, 64),
            (5000, 300),
        ]
        .into_iter()
        .enumerate()
        {
            let mut a = rng.sequence(3, c as u32);
            let mut b = rng.sequence(3, c as u32);
            let mut expected: Vec<usize> = vec![];
            for j in n - k..n {
                let t = b.below(j + 1);
                expected.push(if expected.contains(&t) { j } else { t });
            }
            assert_eq!(sample_distinct(&mut a, n, k, &mut seen), expected);
            assert!(seen.iter().all(|&w| w == 0));
        }
    }

    /// The counting sort orders synapses as a stable sort by (pre, post).
    #[test]
    fn csr_orders_like_a_stable_sort() {
        let mut seq = Rng::new(5).sequence(0, 0);
        let pairs: Vec<(u32, u32)> = (0..5000)
            .map(|_| (seq.below(37) as u32, seq.below(23) as u32))
            .collect();
        let net = csr(pairs.clone(), 37, 23);
        let mut expected = pairs;
        expected.sort_by_key(|&(i, j)| (i, j));
        let got: Vec<(u32, u32)> = net
            .pre
            .iter()
            .copied()
            .zip(net.post.iter().copied())
            .collect();
        assert_eq!(got, expected);
        for i in 0..37 {
            let (a, b) = (net.offsets[i] as usize, net.offsets[i + 1] as usize);
            assert!(net.pre[a..b].iter().all(|&p| p == i as u32));
        }
        assert_eq!(net.offsets[37] as usize, net.pre.len());
    }

    /// `Wiring::max_in_degree` bounds the fan-in every rule draws, and is
    /// exact where the rule fixes it (the CUDA delivery sizes its rounds by it).
    #[test]
    fn max_in_degree_bounds_every_rule() {
        let (n_src, n_dst) = (40, 30);
        let rules = [
            (Wiring::AllToAll { allow_self: false }, true),
            (Wiring::OneToOne, true),
            (
                Wiring::FixedInDegree {
                    k: 7,
                    replace: true,
                    allow_self: false,
                },
                true,
            ),
            (
                Wiring::FixedInDegree {
                    k: 7,
                    replace: false,
                    allow_self: true,
                },
                true,
            ),
            (
                Wiring::FixedOutDegree {
                    k: 20,
                    replace: true,
                    allow_self: true,
                },
                false,
            ),
            (
                Wiring::FixedOutDegree {
                    k: 20,
                    replace: false,
                    allow_self: false,
                },
                false,
            ),
            (
                Wiring::Probability {
                    p: 0.9,
                    allow_self: true,
                },
                false,
            ),
            (
                Wiring::Explicit {
                    pairs: vec![(0, 3), (1, 3), (2, 3), (0, 4)],
                },
                true,
            ),
        ];
        for (w, exact) in rules {
            for same in [false, true] {
                let n_dst = if same { n_src } else { n_dst };
                let pairs = wire(&w, n_src, n_dst, same, &Rng::new(3), 0, 1, None);
                let mut fan_in = vec![0usize; n_dst];
                for &(_, j) in &pairs {
                    fan_in[j as usize] += 1;
                }
                let most = fan_in.iter().copied().max().unwrap_or(0);
                // The mean is the rule's expectation: within 10% here
                // (a cell that is not its own source takes off at most 1).
                let mean = pairs.len() as f64 / n_dst as f64;
                let expected = w.mean_in_degree(n_src, n_dst);
                assert!(
                    (mean - expected).abs() <= 0.1 * expected + 1.0,
                    "{w:?} (same {same}): mean fan-in {mean}, expected {expected}"
                );
                let bound = w.max_in_degree(n_src);
                assert!(
                    most <= bound,
                    "{w:?} (same {same}): fan-in {most} > {bound}"
                );
                let self_dropped = same && matches!(w, Wiring::AllToAll { .. });
                if exact && !self_dropped {
                    assert_eq!(most, bound, "{w:?} (same {same})");
                }
            }
        }
        let blocks = Wiring::Blocks { per_source: 3 };
        let pairs = wire(&blocks, 10, 30, false, &Rng::new(3), 0, 1, None);
        let mut fan_in = [0usize; 30];
        pairs.iter().for_each(|&(_, j)| fan_in[j as usize] += 1);
        assert_eq!(fan_in.iter().max(), Some(&blocks.max_in_degree(10)));
    }
}
