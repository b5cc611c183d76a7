//! Spike sources: their first spikes, and each step's spikes (geometric
//! gaps on a timing wheel for rates constant in time, a draw per cell
//! otherwise; spike trains given as times).

use super::*;
use crate::ir::CellAccess;

impl CpuEngine {
    pub(super) fn init_sources(&mut self) {
        let rng = self.rng;
        for (pi, pop) in self.pops.iter_mut().enumerate() {
            if let Some(src) = &mut pop.source {
                if let Some(g) = &src.spike_gaps {
                    for i in 0..pop.size {
                        src.wheel.put(0, g.draw(&rng, pi, i, 0), i as u32);
                    }
                }
            }
        }
    }

    pub(super) fn update_source(&mut self, pi: usize) {
        let s = self.step;
        let dt = self.ir.dt;
        let t = self.time();
        let signals = self.signals();
        let rng = self.rng;
        let pop = &mut self.pops[pi];
        let Some(src) = pop.source.as_mut() else {
            return;
        };
        let refractory = u64::from(src.kind.refractory_steps());
        if let Some(g) = &src.spike_gaps {
            // Each cell's next spike step is drawn when it spikes (geometric
            // gaps), so the cost scales with the number of spikes.
            src.wheel.take(s, &mut pop.spikes);
            for &i in &pop.spikes {
                src.count[i as usize] += 1;
            }
            let mut gaps = std::mem::take(&mut src.gaps);
            g.draw_each(&rng, pi, &pop.spikes, &src.count, &mut gaps);
            for (&i, &gap) in pop.spikes.iter().zip(&gaps) {
                src.wheel.put(s, s + 1 + refractory + gap, i);
            }
            src.gaps = gaps;
            return;
        }
        match &src.kind {
            SourceIr::SpikeTimes { steps, cells } => {
                while src.cursor < steps.len() && steps[src.cursor] < s {
                    src.cursor += 1;
                }
                let mut fire = false;
                while src.cursor < steps.len() && steps[src.cursor] == s {
                    fire = true;
                    src.cursor += 1;
                }
                if fire {
                    match cells {
                        Some(c) => {
                            let mut c = c.clone();
                            c.sort_unstable();
                            c.dedup();
                            pop.spikes.extend(c.into_iter().map(|i| i as u32));
                        }
                        None => pop.spikes.extend(0..pop.size as u32),
                    }
                }
            }
            SourceIr::Bernoulli { p: e, .. } | SourceIr::Poisson { rate: e, .. } => {
                // This step's probability: one for all cells, or, where the
                // rate reads the cells' own values, each cell's.
                let shared = match &src.per_cell_rate {
                    Some((program, result)) => {
                        src.probabilities.clear();
                        for start in (0..pop.size).step_by(RATE_BATCH) {
                            let mut env = SourceEnv {
                                vars: &pop.vars,
                                cells: start..(start + RATE_BATCH).min(pop.size),
                                time: t,
                                signals: &signals,
                            };
                            vm::run(program, &mut env, &mut src.regs);
                            let rates = src.regs.reg(*result);
                            src.probabilities
                                .extend(rates.iter().map(|&v| src.kind.probability(v, dt)));
                        }
                        None
                    }
                    None => {
                        let v = crate::network::eval_scalar(&at_time(e, t, &signals), &|_| None);
                        Some(src.kind.probability(v.unwrap_or(0.0), dt))
                    }
                };
                let st = stream(rng::SOURCE, pi, 0);
                for i in 0..pop.size {
                    if pop.refr[i] > 0 {
                        pop.refr[i] -= 1;
                        continue;
                    }
                    let prob = shared.unwrap_or_else(|| src.probabilities[i]);
                    let w = rng.words(st, i as u32, s as u32, (s >> 32) as u32);
                    if Rng::uniform(w[0]) < prob {
                        pop.spikes.push(i as u32);
                        pop.refr[i] = refractory as u32;
                    }
                }
            }
        }
    }
}

/// Cells whose rates one run of a source's rate program works out.
const RATE_BATCH: usize = 4096;

/// `e` with the time and the protocol signals of this step put in.
fn at_time(e: &Expr, t: f64, signals: &[f64]) -> Expr {
    e.map_leaves(&mut |leaf| match leaf {
        Expr::Time => Some(Expr::Const(t)),
        Expr::Signal(i) => Some(Expr::Const(signals.get(*i).copied().unwrap_or(0.0))),
        _ => None,
    })
}

/// What a source's rate reads: the per-cell values of `cells`, the time
/// and the protocol signals (it has no synapses and draws nothing).
struct SourceEnv<'a> {
    vars: &'a [Vec<f64>],
    cells: std::ops::Range<usize>,
    time: f64,
    signals: &'a [f64],
}

impl vm::Env for SourceEnv<'_> {
    fn len(&self) -> usize {
        self.cells.len()
    }
    fn var(&self, var: usize, out: &mut [f64]) {
        match self.vars.get(var) {
            Some(col) => out.copy_from_slice(&col[self.cells.clone()]),
            None => out.fill(f64::NAN),
        }
    }
    fn time(&self) -> f64 {
        self.time
    }
    fn signal(&self, s: usize) -> f64 {
        self.signals.get(s).copied().unwrap_or(0.0)
    }
    fn pre(&self, _: CellAccess, out: &mut [f64]) {
        out.fill(0.0);
    }
    fn post(&self, _: CellAccess, out: &mut [f64]) {
        out.fill(0.0);
    }
    fn rand(&self, _: u32, _: bool, out: &mut [f64]) {
        out.fill(0.0);
    }
    fn store(&mut self, _: usize, _: &[f64], _: Option<&[f64]>, _: bool) {}
    fn deposit(&mut self, _: &[f64], _: Option<&[f64]>, _: u32) {}
}
