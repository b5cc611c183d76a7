//! Spike sources: their first spikes, and each step's spikes (geometric
//! gaps on a timing wheel for constant rates, a draw per cell otherwise;
//! spike trains given as times).

use super::*;

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
        let refractory = match &src.kind {
            SourceIr::Bernoulli {
                refractory_steps, ..
            } => *refractory_steps as u64,
            _ => 0,
        };
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
            SourceIr::Bernoulli { p, .. } | SourceIr::Poisson { rate: p } => {
                let v = eval_time(p, t, &signals);
                let prob = if matches!(src.kind, SourceIr::Poisson { .. }) {
                    1.0 - (-v * dt).exp()
                } else {
                    v
                };
                let st = stream(rng::SOURCE, pi, 0);
                for i in 0..pop.size {
                    if pop.refr[i] > 0 {
                        pop.refr[i] -= 1;
                        continue;
                    }
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

pub(super) fn eval_time(e: &Expr, t: f64, signals: &[f64]) -> f64 {
    match e {
        Expr::Const(c) => *c,
        e => {
            let at_t = e.map_leaves(&mut |leaf| match leaf {
                Expr::Time => Some(Expr::Const(t)),
                Expr::Signal(i) => Some(Expr::Const(signals.get(*i).copied().unwrap_or(0.0))),
                _ => None,
            });
            crate::network::eval_scalar(&at_t, &|_| None).unwrap_or(0.0)
        }
    }
}
