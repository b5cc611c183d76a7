//! Recorders: what a run keeps, accumulated step by step, and the `.npz`
//! file it ends in.

mod npz;

pub use npz::{write_npz, NpzArray};
use std::borrow::Cow;

use crate::engine::StateView;
use crate::ir::{InitIr, Ir, RecorderKindIr, SourceIr};

/// Everything recorded so far in one run.
pub struct Recording {
    dt: f64,
    recs: Vec<(String, Buffer)>,
    /// Spikes per cell per population over the whole run (for the summary).
    pub totals: Vec<Vec<u64>>,
    pub steps: u64,
    /// `totals` as they were after `mark` steps, for rates over the end of
    /// a run (`window_rates`).
    mark: Option<u64>,
    totals_at_mark: Option<Vec<Vec<u64>>>,
    /// Per population, (var, min, max) of one tracked variable.
    ranges: Vec<Option<(usize, f64, f64)>>,
    gap_pairs: Vec<(String, Vec<(u32, u32)>)>,
}

enum Buffer {
    Counts {
        pop: usize,
        bin: u32,
        cells: usize,
        data: Vec<u16>,
        current: Vec<u16>,
    },
    Times {
        pop: usize,
        cells: usize,
        t: Vec<f64>,
        i: Vec<u32>,
    },
    Trace {
        pop: usize,
        var: usize,
        cells: Vec<usize>,
        every: u32,
        data: Vec<f64>,
        t: Vec<f64>,
    },
    Weights {
        proj: usize,
        var: usize,
        every: u32,
        ids: Vec<usize>,
        pre: Vec<u32>,
        post: Vec<u32>,
        /// Each recorded synapse's delay in seconds (None: one delay).
        delay: Option<Vec<f64>>,
        data: Vec<f64>,
        t: Vec<f64>,
    },
    Rate {
        pop: usize,
        bin: u32,
        size: usize,
        data: Vec<f64>,
        current: u64,
    },
    /// Which cells each (sampled) synapse joins, and its delay where drawn:
    /// known before the run, nothing to add in its steps.
    Wiring {
        proj: usize,
        ids: Vec<usize>,
        pre: Vec<u32>,
        post: Vec<u32>,
        delay: Option<Vec<f64>>,
    },
}

/// Bytes a run's recorders will hold at its end, roughly: spike counts,
/// rates, traces and weight snapshots (whose sizes the model fixes), spike
/// times of sources with rates constant in time (their expected number), and the
/// per-cell spike totals. Spike times of neurons depend on the activity and
/// are not counted.
pub fn recording_bytes(ir: &Ir) -> u64 {
    let steps = ir.steps;
    let synapses = crate::network::expected_synapses(ir);
    let per_run: u64 = ir
        .recorders
        .iter()
        .map(|r| match &r.kind {
            RecorderKindIr::SpikeCounts {
                bin_steps, cells, ..
            } => steps / (*bin_steps).max(1) as u64 * *cells as u64 * 2,
            RecorderKindIr::Rate { bin_steps, .. } => steps / (*bin_steps).max(1) as u64 * 8,
            RecorderKindIr::SpikeTimes { population, cells } => {
                match &ir.populations[*population].kind {
                    crate::ir::PopulationKindIr::Source(src) => {
                        let size = ir.populations[*population].size;
                        mean_probability(src, ir.dt, size)
                            .map_or(0, |p| (p * steps as f64 * *cells as f64 * 12.0) as u64)
                    }
                    crate::ir::PopulationKindIr::Neuron(_) => 0,
                }
            }
            RecorderKindIr::Trace {
                cells, every_steps, ..
            } => steps.div_ceil((*every_steps).max(1) as u64) * (cells.len() as u64 + 1) * 8,
            RecorderKindIr::Weights {
                projection,
                every_steps,
                max_synapses,
                ..
            } => {
                let recorded = synapses[*projection].min(*max_synapses as u64);
                steps.div_ceil((*every_steps).max(1) as u64) * (recorded + 1) * 8
            }
            // pre and post (u32), and a delay (f64) where drawn.
            RecorderKindIr::Wiring {
                projection,
                max_synapses,
            } => synapses[*projection].min(*max_synapses as u64) * 16,
        })
        .fold(0u64, u64::saturating_add);
    let totals: u64 = ir.populations.iter().map(|p| p.size as u64 * 8).sum();
    // Saving writes from the buffers themselves (`arrays` borrows them), so
    // a recording needs its size once.
    per_run.saturating_add(totals)
}

/// An empty vector with room for exactly `n` values where that much can be
/// had: a recording's size is known before the run, and growing by
/// doubling would ask for up to twice the memory the check allowed for.
fn reserved<T>(n: u64) -> Vec<T> {
    let mut v = Vec::new();
    let _ = v.try_reserve_exact(usize::try_from(n).unwrap_or(0));
    v
}

/// The synapses (storage positions) a weights recorder samples out of `n`:
/// all of them, or `max` spread evenly. Engines that copy weights
/// themselves (CUDA) pick the same ones.
pub fn sampled_synapses(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        (0..n).collect()
    } else {
        (0..max).map(|k| k * n / max).collect()
    }
}

impl Recording {
    /// `synapses[q]` gives (pre, post) of projection q, to sample weights.
    pub fn new(ir: &Ir, synapses: &[(&[u32], &[u32])]) -> Self {
        // Rows a recorder holds at the end of the run: one per `every`
        // steps, from step 0 (`first`) or one per whole bin.
        let samples = |every: u32, first: bool| {
            let every = u64::from(every.max(1));
            if first {
                ir.steps.div_ceil(every)
            } else {
                ir.steps / every
            }
        };
        let recs = ir
            .recorders
            .iter()
            .map(|r| {
                let b = match &r.kind {
                    RecorderKindIr::SpikeCounts {
                        population,
                        bin_steps,
                        cells,
                    } => Buffer::Counts {
                        pop: *population,
                        bin: *bin_steps,
                        cells: *cells,
                        data: reserved(samples(*bin_steps, false).saturating_mul(*cells as u64)),
                        current: vec![0; *cells],
                    },
                    RecorderKindIr::SpikeTimes { population, cells } => Buffer::Times {
                        pop: *population,
                        cells: *cells,
                        t: vec![],
                        i: vec![],
                    },
                    RecorderKindIr::Trace {
                        population,
                        var,
                        cells,
                        every_steps,
                    } => Buffer::Trace {
                        pop: *population,
                        var: *var,
                        cells: cells.clone(),
                        every: *every_steps,
                        data: reserved(
                            samples(*every_steps, true).saturating_mul(cells.len() as u64),
                        ),
                        t: reserved(samples(*every_steps, true)),
                    },
                    RecorderKindIr::Weights {
                        projection,
                        var,
                        every_steps,
                        max_synapses,
                    } => {
                        let (pre, post) = synapses[*projection];
                        let n = post.len();
                        let ids = sampled_synapses(n, *max_synapses);
                        Buffer::Weights {
                            proj: *projection,
                            var: *var,
                            every: *every_steps,
                            pre: ids.iter().map(|&k| pre[k]).collect(),
                            post: ids.iter().map(|&k| post[k]).collect(),
                            delay: None,
                            data: reserved(
                                samples(*every_steps, true).saturating_mul(ids.len() as u64),
                            ),
                            t: reserved(samples(*every_steps, true)),
                            ids,
                        }
                    }
                    RecorderKindIr::Rate {
                        population,
                        bin_steps,
                    } => Buffer::Rate {
                        pop: *population,
                        bin: *bin_steps,
                        size: ir.populations[*population].size,
                        data: vec![],
                        current: 0,
                    },
                    RecorderKindIr::Wiring {
                        projection,
                        max_synapses,
                    } => {
                        let (pre, post) = synapses[*projection];
                        let ids = sampled_synapses(post.len(), *max_synapses);
                        Buffer::Wiring {
                            proj: *projection,
                            pre: ids.iter().map(|&k| pre[k]).collect(),
                            post: ids.iter().map(|&k| post[k]).collect(),
                            delay: None,
                            ids,
                        }
                    }
                };
                (r.name.clone(), b)
            })
            .collect();
        Recording {
            dt: ir.dt,
            recs,
            totals: ir.populations.iter().map(|p| vec![0; p.size]).collect(),
            steps: 0,
            mark: None,
            totals_at_mark: None,
            ranges: vec![None; ir.populations.len()],
            gap_pairs: vec![],
        }
    }

    /// The recording of a run on any engine: `pairs(q)` gives (pre, post) of
    /// every synapse of projection q in the engine's storage order.
    pub fn for_run(
        ir: &Ir,
        pairs: &dyn Fn(usize) -> (Vec<u32>, Vec<u32>),
        gaps: &[crate::network::GapNet],
    ) -> Self {
        let pairs: Vec<(Vec<u32>, Vec<u32>)> = (0..ir.projections.len()).map(pairs).collect();
        let refs: Vec<(&[u32], &[u32])> = pairs
            .iter()
            .map(|(a, b)| (a.as_slice(), b.as_slice()))
            .collect();
        let mut rec = Recording::new(ir, &refs);
        rec.set_gap_pairs(ir, gaps);
        rec
    }

    /// Store the delay of each recorded synapse of a projection with delays
    /// drawn per synapse (`delay_extra[q]`: each synapse's steps beyond the
    /// projection's shortest, in network order; empty for one delay).
    pub fn set_synapse_delays(&mut self, ir: &Ir, delay_extra: &[Vec<u32>]) {
        for (_, b) in self.recs.iter_mut() {
            if let Buffer::Weights {
                proj, ids, delay, ..
            }
            | Buffer::Wiring {
                proj, ids, delay, ..
            } = b
            {
                let q = &ir.projections[*proj];
                if q.delay_draw.is_some() {
                    let extra = &delay_extra[*proj];
                    *delay = Some(
                        ids.iter()
                            .map(|&k| f64::from(q.delay_steps + extra[k]) * ir.dt)
                            .collect(),
                    );
                }
            }
        }
    }

    /// Store which cells each gap junction couples (key `<name>_pairs`,
    /// shape pairs x 2), so figures can tell coupled cells apart.
    pub fn set_gap_pairs(&mut self, ir: &Ir, gaps: &[crate::network::GapNet]) {
        self.gap_pairs = ir
            .gaps
            .iter()
            .zip(gaps)
            .map(|(g, n)| (g.name.clone(), n.pairs.clone()))
            .collect();
    }

    /// The spike totals of the populations whose spikes the engine counts
    /// itself (`StateView::spike_totals`), as they are now. Call at the end
    /// of a run, before reading `totals`; `without_last_step` leaves out the
    /// spikes of the step that just ran (a step that failed is not recorded).
    pub fn take_engine_totals(&mut self, view: &dyn StateView, without_last_step: bool) {
        for (p, totals) in self.totals.iter_mut().enumerate() {
            if let Some(counted) = view.spike_totals(p) {
                for (t, &c) in totals.iter_mut().zip(counted) {
                    *t = u64::from(c);
                }
                if without_last_step {
                    for &i in view.spikes(p) {
                        totals[i as usize] -= 1;
                    }
                }
            }
        }
    }

    /// Remember the spike totals after `steps` steps.
    pub fn mark_after(&mut self, steps: u64) {
        self.mark = Some(steps);
        if steps == 0 {
            self.totals_at_mark = Some(self.totals.clone());
        }
    }

    /// Mean rate (Hz) of each population since the mark.
    pub fn window_rates(&self) -> Option<Vec<f64>> {
        let (seconds, counts) = self.window_counts()?;
        Some(
            counts
                .iter()
                .map(|c| c.iter().sum::<u64>() as f64 / (c.len().max(1) as f64 * seconds))
                .collect(),
        )
    }

    /// Each cell's rate (Hz) since the mark, per population.
    pub fn window_cell_rates(&self) -> Option<Vec<Vec<f64>>> {
        let (seconds, counts) = self.window_counts()?;
        Some(
            counts
                .iter()
                .map(|c| c.iter().map(|&n| n as f64 / seconds).collect())
                .collect(),
        )
    }

    /// Seconds since the mark, and each cell's spikes in them.
    fn window_counts(&self) -> Option<(f64, Vec<Vec<u64>>)> {
        let (mark, at) = (self.mark?, self.totals_at_mark.as_ref()?);
        let seconds = (self.steps - mark) as f64 * self.dt;
        let counts = self
            .totals
            .iter()
            .zip(at)
            .map(|(now, then)| now.iter().zip(then).map(|(n, t)| n - t).collect())
            .collect();
        Some((seconds, counts))
    }

    /// Track the smallest and largest value of variable `var` of population
    /// `pop` over the run.
    pub fn track_range(&mut self, pop: usize, var: usize) {
        self.ranges[pop] = Some((var, f64::INFINITY, f64::NEG_INFINITY));
    }

    pub fn range(&self, pop: usize) -> Option<(f64, f64)> {
        self.ranges[pop].map(|(_, lo, hi)| (lo, hi))
    }

    /// Record the step that just ran (index `step`).
    pub fn after_step(&mut self, step: u64, view: &dyn StateView) {
        let t = step as f64 * self.dt;
        for (p, totals) in self.totals.iter_mut().enumerate() {
            // (Counted by the engine: taken in `take_engine_totals`.)
            if view.spike_totals(p).is_some() {
                continue;
            }
            for &i in view.spikes(p) {
                totals[i as usize] += 1;
            }
        }
        if self.mark == Some(step + 1) {
            self.take_engine_totals(view, false);
            self.totals_at_mark = Some(self.totals.clone());
        }
        for (p, r) in self.ranges.iter_mut().enumerate() {
            if let Some((var, lo, hi)) = r {
                for &v in view.var(p, *var) {
                    *lo = lo.min(v);
                    *hi = hi.max(v);
                }
            }
        }
        for (_, b) in self.recs.iter_mut() {
            match b {
                Buffer::Counts {
                    pop,
                    bin,
                    cells,
                    data,
                    current,
                } => {
                    for &i in view.spikes(*pop) {
                        if (i as usize) < *cells {
                            current[i as usize] = current[i as usize].saturating_add(1);
                        }
                    }
                    if (step + 1).is_multiple_of(*bin as u64) {
                        data.extend_from_slice(current);
                        current.fill(0);
                    }
                }
                Buffer::Times {
                    pop,
                    cells,
                    t: ts,
                    i,
                } => {
                    for &c in view.spikes(*pop) {
                        if (c as usize) < *cells {
                            ts.push(t);
                            i.push(c);
                        }
                    }
                }
                Buffer::Trace {
                    pop,
                    var,
                    cells,
                    every,
                    data,
                    t: ts,
                } => {
                    if step.is_multiple_of(*every as u64) {
                        let v = view.var(*pop, *var);
                        data.extend(cells.iter().map(|&c| v[c]));
                        ts.push(t);
                    }
                }
                Buffer::Weights {
                    proj,
                    var,
                    every,
                    ids,
                    data,
                    t: ts,
                    ..
                } => {
                    if step.is_multiple_of(*every as u64) {
                        let w = view.synapse_var(*proj, *var);
                        data.extend(ids.iter().map(|&k| w[k]));
                        ts.push(t);
                    }
                }
                Buffer::Rate {
                    pop,
                    bin,
                    size,
                    data,
                    current,
                } => {
                    *current += view.spikes(*pop).len() as u64;
                    if (step + 1).is_multiple_of(*bin as u64) {
                        data.push(*current as f64 / (*size as f64 * *bin as f64 * self.dt));
                        *current = 0;
                    }
                }
                Buffer::Wiring { .. } => {}
            }
        }
        self.steps = step + 1;
    }

    /// The arrays to write, keyed as `crate::npz_keys` names them.
    pub fn arrays(&self) -> Vec<(String, NpzArray<'_>)> {
        use crate::npz_keys::*;
        let mut out = Vec::new();
        for (name, pairs) in &self.gap_pairs {
            let data = Cow::Owned(pairs.iter().flat_map(|&(a, b)| [a, b]).collect());
            out.push((
                key(name, GAP_PAIRS),
                NpzArray::U32 {
                    shape: vec![pairs.len(), 2],
                    data,
                },
            ));
        }
        for (name, b) in &self.recs {
            match b {
                Buffer::Counts {
                    cells, data, bin, ..
                } => {
                    let rows = data.len() / (*cells).max(1);
                    out.push((
                        name.clone(),
                        NpzArray::U16 {
                            shape: vec![rows, *cells],
                            data: Cow::Borrowed(&data[..rows * *cells]),
                        },
                    ));
                    out.push((
                        key(name, BIN),
                        NpzArray::F64 {
                            shape: vec![],
                            data: Cow::Owned(vec![*bin as f64 * self.dt]),
                        },
                    ));
                }
                Buffer::Times { t, i, .. } => {
                    out.push((key(name, TIMES), NpzArray::f64_vec(t)));
                    out.push((key(name, SPIKING_CELLS), NpzArray::u32_vec(i)));
                }
                Buffer::Trace { cells, data, t, .. } => {
                    out.push((
                        name.clone(),
                        NpzArray::F64 {
                            shape: vec![t.len(), cells.len()],
                            data: Cow::Borrowed(data),
                        },
                    ));
                    out.push((key(name, TIMES), NpzArray::f64_vec(t)));
                    out.push((
                        key(name, TRACE_CELLS),
                        NpzArray::U32 {
                            shape: vec![cells.len()],
                            data: Cow::Owned(cells.iter().map(|&c| c as u32).collect()),
                        },
                    ));
                }
                Buffer::Weights {
                    ids,
                    pre,
                    post,
                    delay,
                    data,
                    t,
                    ..
                } => {
                    out.push((
                        name.clone(),
                        NpzArray::F64 {
                            shape: vec![t.len(), ids.len()],
                            data: Cow::Borrowed(data),
                        },
                    ));
                    out.push((key(name, TIMES), NpzArray::f64_vec(t)));
                    out.push((key(name, PRE), NpzArray::u32_vec(pre)));
                    out.push((key(name, POST), NpzArray::u32_vec(post)));
                    if let Some(delay) = delay {
                        out.push((key(name, DELAY), NpzArray::f64_vec(delay)));
                    }
                }
                Buffer::Wiring {
                    pre, post, delay, ..
                } => {
                    out.push((key(name, PRE), NpzArray::u32_vec(pre)));
                    out.push((key(name, POST), NpzArray::u32_vec(post)));
                    if let Some(delay) = delay {
                        out.push((key(name, DELAY), NpzArray::f64_vec(delay)));
                    }
                }
                Buffer::Rate { data, bin, .. } => {
                    out.push((name.clone(), NpzArray::f64_vec(data)));
                    out.push((
                        key(name, BIN),
                        NpzArray::F64 {
                            shape: vec![],
                            data: Cow::Owned(vec![*bin as f64 * self.dt]),
                        },
                    ));
                }
            }
        }
        out
    }
}

/// Per-population firing statistics over a run (written to the metadata,
/// read back by `cbmc plot`; missing fields read as zero).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PopulationSummary {
    pub name: String,
    pub cells: usize,
    pub mean_hz: f64,
    pub min_hz: f64,
    pub median_hz: f64,
    pub max_hz: f64,
    pub silent: usize,
}

/// The median of sorted values: the middle one, or the mean of the two
/// middle ones for an even count (0 for none).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

pub fn summarise(ir: &Ir, rec: &Recording) -> Vec<PopulationSummary> {
    let seconds = rec.steps as f64 * ir.dt;
    ir.populations
        .iter()
        .zip(&rec.totals)
        .map(|(p, totals)| {
            let mut rates: Vec<f64> = totals
                .iter()
                .map(|&c| {
                    if seconds > 0.0 {
                        c as f64 / seconds
                    } else {
                        0.0
                    }
                })
                .collect();
            rates.sort_by(|a, b| a.total_cmp(b));
            let n = rates.len().max(1);
            PopulationSummary {
                name: p.name.clone(),
                cells: p.size,
                mean_hz: rates.iter().sum::<f64>() / n as f64,
                min_hz: rates.first().copied().unwrap_or(0.0),
                median_hz: median(&rates),
                max_hz: rates.last().copied().unwrap_or(0.0),
                silent: totals.iter().filter(|&&c| c == 0).count(),
            }
        })
        .collect()
}

/// A source's spike probability per step, on average over its cells,
/// where it is constant in time: the shared one, the mean over up to 1,000
/// cells of a rate along the population, or the probability of a drawn
/// rate's mean (within its bounds). None where it changes in time.
fn mean_probability(src: &SourceIr, dt: f64, size: usize) -> Option<f64> {
    if let Some(p) = src.fixed_probability(dt) {
        return Some(p);
    }
    if !src.per_cell_constant() {
        return None;
    }
    let rate = src.rate_or_p()?;
    let p_of = |v: f64| src.probability(v, dt).clamp(0.0, 1.0);
    match &src.per_cell().first()?.init {
        InitIr::CellIndex => {
            let n = size.clamp(1, 1000);
            let cells = (0..n).map(|k| if n == 1 { 0 } else { k * (size - 1) / (n - 1) });
            let total: f64 = cells
                .filter_map(|i| crate::network::eval_scalar(rate, &|_| Some(i as f64)))
                .map(|v| if v.is_nan() { 0.0 } else { p_of(v) })
                .sum();
            Some(total / n as f64)
        }
        InitIr::Uniform { low, high } => Some(p_of((low + high) / 2.0)),
        InitIr::Normal {
            mean, low, high, ..
        } => Some(p_of(mean.clamp(*low, *high))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(super::median(&[]), 0.0);
        assert_eq!(super::median(&[3.0]), 3.0);
        assert_eq!(super::median(&[1.0, 2.0, 7.0]), 2.0);
        assert_eq!(super::median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
    }

    /// The spike times of a source whose cells have rates of their own are
    /// counted at their mean rate, as a shared rate's are.
    #[test]
    fn spike_times_of_sources_with_rates_of_their_own_are_counted() {
        let bytes = |source: &str| {
            let text = format!(
                "simulation {{ dt = 1 ms; duration = 10 s }}\npopulation S[100] = {source}\nrecord s = spike_times(S)\n"
            );
            let checked = crate::check::check_text(std::path::Path::new("m.cbm"), &text);
            let model = checked.model.expect("a valid model");
            super::recording_bytes(&crate::ir::lower(&model).expect("lowered"))
        };
        let shared = bytes("poisson(rate = 20 Hz)");
        // 100 cells x 200 spikes x 12 bytes, less the Poisson shortfall.
        assert!(shared > 230_000 && shared < 245_000, "{shared} bytes");
        for per_cell in [
            "poisson(rate = 40 Hz * i / (n_cells - 1))",
            "poisson(rate = uniform(10 Hz, 30 Hz))",
            "poisson(rate = normal(20 Hz, 5 Hz, low = 0 Hz))",
            "bernoulli(rate = uniform(0 Hz, 40 Hz))",
        ] {
            let b = bytes(per_cell);
            assert!(
                b > shared * 9 / 10 && b < shared * 11 / 10,
                "{per_cell}: {b} bytes against {shared}"
            );
        }
    }
}
