//! Neuron populations: a step of their cells (generated code or the
//! interpreter), spikes, and the check for values that are no longer finite.

use super::*;

impl CpuEngine {
    pub(super) fn update_neurons(&mut self, pi: usize) -> Result<(), NumericalError> {
        let s = self.step;
        let t = self.time();
        let signals = self.signals();
        // Inputs start at zero; arriving deposits and gap currents fill them.
        {
            let pop = &mut self.pops[pi];
            let nrt = pop.neuron.as_ref().expect("neuron population");
            for &v in &nrt.inputs {
                pop.vars[v].fill(0.0);
            }
        }
        let cells_add_arrivals = self.pops[pi]
            .neuron
            .as_ref()
            .is_some_and(|n| n.cells_add_arrivals);
        for (qi, q) in self.ir.projections.iter().enumerate() {
            if q.target != pi || cells_add_arrivals {
                continue;
            }
            let proj = &mut self.projs[qi];
            let n = proj.n_target;
            let slot = (s % proj.slots as u64) as usize;
            let target = &mut self.pops[pi].vars[q.target_var];
            let ring = &mut proj.ring[slot * n..(slot + 1) * n];
            for j in 0..n {
                target[j] += ring[j];
                ring[j] = 0.0;
            }
        }
        self.teacher_arrivals(pi, t, &signals);
        for (gi, g) in self.ir.gaps.iter().enumerate() {
            if g.population != pi {
                continue;
            }
            let pop = &mut self.pops[pi];
            let (v, target) = (g.voltage, g.target);
            for &(i, j) in &self.gaps[gi].pairs {
                let (i, j) = (i as usize, j as usize);
                let current = g.coupling * (pop.vars[v][j] - pop.vars[v][i]);
                pop.vars[target][i] += current;
                pop.vars[target][j] -= current;
            }
        }
        let rng = self.rng;
        let clock = self.clock();
        let pop = &mut self.pops[pi];
        let native = self.native.as_ref().and_then(|n| n.cells[pi].as_ref());
        match native {
            Some(f) => {
                native::bind::cells(f, pop, &mut self.projs, &signals, clock, self.pool.as_ref())
            }
            None => interpret_cells(pop, pi, &mut self.regs, rng, t, s, &signals),
        }
        let pop = &self.pops[pi];
        let nrt = pop.neuron.as_ref().expect("neuron population");
        for &v in &nrt.checked {
            if all_finite(&pop.vars[v]) {
                continue;
            }
            if let Some(cell) = pop.vars[v].iter().position(|x| !x.is_finite()) {
                return Err(NumericalError {
                    population: self.ir.populations[pi].name.clone(),
                    variable: nrt.var_names[v].clone(),
                    cell,
                    step: s,
                    value: pop.vars[v][cell],
                });
            }
        }
        Ok(())
    }
}

/// Are all `xs` finite? The common case in one pass without early exit:
/// `x * 0` is a zero for a finite x and NaN for an infinite or NaN one,
/// and a NaN stays in its sum; four sums so that the compiler vectorises.
pub(super) fn all_finite(xs: &[f64]) -> bool {
    let mut sums = [0.0f64; 4];
    let chunks = xs.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (s, x) in sums.iter_mut().zip(c) {
            *s += x * 0.0;
        }
    }
    for x in rest {
        sums[0] += x * 0.0;
    }
    sums.iter().all(|s| *s == 0.0)
}

/// The interpreter's cell update: the step program over all cells, the
/// spike condition and refractory counts, the reset of the cells that fired.
pub(super) fn interpret_cells(
    pop: &mut PopRt,
    pi: usize,
    regs: &mut Regs,
    rng: Rng,
    t: f64,
    s: u64,
    signals: &[f64],
) {
    {
        let nrt = pop.neuron.as_ref().expect("neuron population");
        let n = pop.size;
        let mut env = NeuronEnv {
            vars: &mut pop.vars,
            refr: &pop.refr,
            mask: None,
            time: t,
            signals,
            rng,
            population: pi,
            step: s,
        };
        vm::run(&nrt.step, &mut env, regs);
        let mut fired = vec![0.0; n];
        if let Some((prog, reg)) = &nrt.spike {
            vm::run(prog, &mut env, regs);
            let cond = regs.reg(*reg);
            for i in 0..n {
                let free = pop.refr[i] == 0;
                if pop.refr[i] > 0 {
                    pop.refr[i] -= 1;
                }
                if cond[i] != 0.0 && free {
                    fired[i] = 1.0;
                    pop.spikes.push(i as u32);
                    pop.refr[i] = nrt.refractory;
                }
            }
            if !pop.spikes.is_empty() && !nrt.reset.is_empty() {
                let mut env = NeuronEnv {
                    vars: &mut pop.vars,
                    refr: &pop.refr,
                    mask: Some(&fired),
                    time: t,
                    signals,
                    rng,
                    population: pi,
                    step: s,
                };
                vm::run(&nrt.reset, &mut env, regs);
            }
        }
    }
}
