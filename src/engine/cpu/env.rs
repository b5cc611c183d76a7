//! The data a program sees: a batch of cells, or a batch of synapses.

use super::native::bind::SynapseSide;
use super::vm::Env;
use super::PopRt;
use crate::ir::CellAccess;
use crate::network::rng::{self, stream, Rng};
use crate::network::ProjectionNet;

/// All cells of one neuron population.
pub struct NeuronEnv<'a> {
    pub vars: &'a mut Vec<Vec<f64>>,
    pub refr: &'a [u32],
    /// Extra mask (the reset block runs for spiking cells only).
    pub mask: Option<&'a [f64]>,
    pub time: f64,
    pub signals: &'a [f64],
    pub rng: Rng,
    pub population: usize,
    pub step: u64,
}

impl Env for NeuronEnv<'_> {
    fn len(&self) -> usize {
        self.refr.len()
    }
    fn var(&self, var: usize, out: &mut [f64]) {
        out.copy_from_slice(&self.vars[var]);
    }
    fn refractory(&self, out: &mut [f64]) {
        for (o, &r) in out.iter_mut().zip(self.refr) {
            *o = f64::from(u8::from(r > 0));
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
    fn rand(&self, site: u32, normal: bool, out: &mut [f64]) {
        let st = stream(rng::STEP_RNG, self.population, site);
        let (lo, hi) = (self.step as u32, (self.step >> 32) as u32);
        for (i, o) in out.iter_mut().enumerate() {
            let w = self.rng.words(st, i as u32, lo, hi);
            *o = if normal {
                Rng::normal(w[0], w[1])
            } else {
                Rng::uniform(w[0])
            };
        }
    }
    fn rand_poisson(&self, site: u32, mean: &[f64], out: &mut [f64]) {
        let st = stream(rng::STEP_RNG, self.population, site);
        for (i, (o, m)) in out.iter_mut().zip(mean).enumerate() {
            *o = self.rng.poisson(st, i as u32, self.step, *m);
        }
    }
    fn store(&mut self, var: usize, vals: &[f64], mask: Option<&[f64]>, held: bool) {
        let col = &mut self.vars[var][..vals.len()];
        // The common case, an unconditional store, is a plain copy.
        if mask.is_none() && self.mask.is_none() && !held {
            col.copy_from_slice(vals);
            return;
        }
        for i in 0..vals.len() {
            if mask.is_some_and(|m| m[i] == 0.0)
                || self.mask.is_some_and(|m| m[i] == 0.0)
                || (held && self.refr[i] > 0)
            {
                continue;
            }
            col[i] = vals[i];
        }
    }
    fn deposit(&mut self, _: &[f64], _: Option<&[f64]>, _: u32) {}
}

/// A batch of synapses of one projection (by source or by target).
pub struct SynapseEnv<'a> {
    pub ids: &'a [u32],
    pub vars: &'a mut Vec<Vec<f64>>,
    pub pre: &'a [u32],
    pub post: &'a [u32],
    pub pre_pop: &'a PopRt,
    pub post_pop: &'a PopRt,
    pub last_teacher: Option<&'a [f64]>,
    pub bounds: &'a [Option<(f64, f64)>],
    /// (ring, slots, targets, first slot) when deposits are allowed.
    pub deposit: Option<(&'a mut Vec<f64>, usize, usize, usize)>,
    /// Each synapse's delay beyond the first slot's, in steps (empty: none).
    pub delay_extra: &'a [u32],
    pub time: f64,
    pub signals: &'a [f64],
}

fn cell(pop: &PopRt, a: CellAccess, teacher: Option<&[f64]>, i: usize) -> f64 {
    match a {
        CellAccess::Var(v) => pop.vars[v][i],
        CellAccess::LastSpike => pop.last_spike[i],
        CellAccess::Spiked => f64::from(u8::from(pop.spiked[i])),
        CellAccess::LastTeacher => teacher.map(|t| t[i]).unwrap_or(-1e9),
    }
}

/// out[k] = the cell value of synapse ids[k]'s pre or post cell.
fn gather_cells(
    pop: &PopRt,
    a: CellAccess,
    teacher: Option<&[f64]>,
    ids: &[u32],
    cells: &[u32],
    out: &mut [f64],
) {
    let col: &[f64] = match a {
        CellAccess::Var(v) => &pop.vars[v],
        CellAccess::LastSpike => &pop.last_spike,
        CellAccess::LastTeacher => match teacher {
            Some(t) => t,
            None => {
                out.fill(-1e9);
                return;
            }
        },
        CellAccess::Spiked => {
            for (o, &k) in out.iter_mut().zip(ids) {
                *o = f64::from(u8::from(pop.spiked[cells[k as usize] as usize]));
            }
            return;
        }
    };
    for (o, &k) in out.iter_mut().zip(ids) {
        *o = col[cells[k as usize] as usize];
    }
}

impl Env for SynapseEnv<'_> {
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn var(&self, var: usize, out: &mut [f64]) {
        let col = &self.vars[var];
        for (o, &k) in out.iter_mut().zip(self.ids) {
            *o = col[k as usize];
        }
    }
    fn time(&self) -> f64 {
        self.time
    }
    fn signal(&self, s: usize) -> f64 {
        self.signals.get(s).copied().unwrap_or(0.0)
    }
    fn pre(&self, a: CellAccess, out: &mut [f64]) {
        gather_cells(self.pre_pop, a, None, self.ids, self.pre, out);
    }
    fn post(&self, a: CellAccess, out: &mut [f64]) {
        gather_cells(
            self.post_pop,
            a,
            self.last_teacher,
            self.ids,
            self.post,
            out,
        );
    }
    fn rand(&self, _: u32, _: bool, out: &mut [f64]) {
        out.fill(0.0);
    }
    fn store(&mut self, var: usize, vals: &[f64], mask: Option<&[f64]>, _: bool) {
        let bounds = self.bounds.get(var).copied().flatten();
        let col = &mut self.vars[var];
        let vals = &vals[..self.ids.len()];
        match (mask, bounds) {
            (None, Some((lo, hi))) => {
                for (&k, &v) in self.ids.iter().zip(vals) {
                    col[k as usize] = v.clamp(lo, hi);
                }
            }
            (None, None) => {
                for (&k, &v) in self.ids.iter().zip(vals) {
                    col[k as usize] = v;
                }
            }
            (Some(m), _) => {
                for ((&k, &v), &m) in self.ids.iter().zip(vals).zip(m) {
                    if m != 0.0 {
                        col[k as usize] = match bounds {
                            Some((lo, hi)) => v.clamp(lo, hi),
                            None => v,
                        };
                    }
                }
            }
        }
    }
    fn deposit(&mut self, vals: &[f64], mask: Option<&[f64]>, pulse: u32) {
        let Some((ring, slots, n, first)) = self.deposit.as_mut() else {
            return;
        };
        if self.delay_extra.is_empty() {
            for p in 0..pulse as usize {
                let base = ((*first + p) % *slots) * *n;
                for (i, &k) in self.ids.iter().enumerate() {
                    if mask.is_some_and(|m| m[i] == 0.0) {
                        continue;
                    }
                    ring[base + self.post[k as usize] as usize] += vals[i];
                }
            }
            return;
        }
        // Delays drawn per synapse: a ring cell may get several synapses'
        // pulses in one step, so synapse by synapse (each one's pulse steps
        // in order), as the generated code and the CUDA engine add them.
        for (i, &k) in self.ids.iter().enumerate() {
            if mask.is_some_and(|m| m[i] == 0.0) {
                continue;
            }
            let extra = self.delay_extra[k as usize] as usize;
            for p in 0..pulse as usize {
                let base = ((*first + extra + p) % *slots) * *n;
                ring[base + self.post[k as usize] as usize] += vals[i];
            }
        }
    }
}

impl<'a> SynapseEnv<'a> {
    /// The synapses `ids` of a projection's network, seen from `side`;
    /// `deposit` as the field.
    pub fn batch(
        ids: &'a [u32],
        net: &'a mut ProjectionNet,
        bounds: &'a [Option<(f64, f64)>],
        side: &SynapseSide<'a>,
        time: f64,
        deposit: Option<(&'a mut Vec<f64>, usize, usize, usize)>,
    ) -> Self {
        SynapseEnv {
            ids,
            vars: &mut net.vars,
            pre: &net.pre,
            post: &net.post,
            pre_pop: side.pre,
            post_pop: side.post,
            last_teacher: side.teacher,
            bounds,
            deposit,
            delay_extra: &net.delay_extra,
            time,
            signals: side.signals,
        }
    }
}

/// The cells of a source population, for guards on the presynaptic cell.
pub struct SourceCellEnv<'a> {
    pub pop: &'a PopRt,
    pub time: f64,
    pub signals: &'a [f64],
}

impl Env for SourceCellEnv<'_> {
    fn len(&self) -> usize {
        self.pop.size
    }
    fn var(&self, _: usize, out: &mut [f64]) {
        out.fill(0.0);
    }
    fn time(&self) -> f64 {
        self.time
    }
    fn signal(&self, s: usize) -> f64 {
        self.signals.get(s).copied().unwrap_or(0.0)
    }
    fn pre(&self, a: CellAccess, out: &mut [f64]) {
        match a {
            CellAccess::Var(v) => out.copy_from_slice(&self.pop.vars[v]),
            CellAccess::LastSpike => out.copy_from_slice(&self.pop.last_spike),
            _ => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = cell(self.pop, a, None, i);
                }
            }
        }
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
