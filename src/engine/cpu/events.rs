//! Events beyond delivery: teacher spikes reaching their targets, `on_post`
//! and `on_teacher` handlers run by target, periodic (`every`) rules.

use super::*;

impl CpuEngine {
    /// Teacher spikes arriving at `pi` now: note the time and run the
    /// `on_teacher` code of every projection that names this teacher.
    pub(super) fn teacher_arrivals(&mut self, pi: usize, t: f64, signals: &[f64]) {
        for ti in 0..self.projs.len() {
            if self.ir.projections[ti].target != pi || self.projs[ti].arrivals.is_none() {
                continue;
            }
            let s = self.step;
            let proj = &mut self.projs[ti];
            let n = proj.n_target;
            let slot = (s % proj.slots as u64) as usize;
            let arrivals = proj.arrivals.as_mut().expect("checked above");
            let mut arrived = std::mem::take(&mut self.scratch);
            arrived.clear();
            for j in 0..n {
                if arrivals[slot * n + j] > 0 {
                    arrivals[slot * n + j] = 0;
                    self.teacher_times[ti][j] = t;
                    arrived.push(j as u32);
                }
            }
            for qi in 0..self.projs.len() {
                if self.ir.projections[qi].teacher != Some(ti)
                    || self.projs[qi].on_teacher.is_empty()
                {
                    continue;
                }
                for &j in &arrived {
                    self.run_by_target(qi, j as usize, Handler::Teacher, t, signals);
                }
            }
            self.scratch = arrived;
        }
    }

    pub(super) fn run_by_target(
        &mut self,
        qi: usize,
        j: usize,
        h: Handler,
        t: f64,
        signals: &[f64],
    ) {
        let clock = self.clock();
        let q = &self.ir.projections[qi];
        let proj = &mut self.projs[qi];
        let Some((offsets, ids)) = &proj.csc else {
            return;
        };
        let ids = &ids[offsets[j] as usize..offsets[j + 1] as usize];
        let which = match h {
            Handler::Teacher => native::Handler::Teacher,
            Handler::Post => native::Handler::Post,
        };
        let side = SynapseSide::of(q, &self.pops, &self.teacher_times, signals);
        if let Some(f) = self.native.as_ref().and_then(|n| n.synapse(qi, which)) {
            let range = offsets[j] as usize..offsets[j + 1] as usize;
            // The index is lent out for the call (the call borrows `proj`).
            let Some((offsets, ids)) = proj.csc.take() else {
                return;
            };
            native::bind::synapses(f, proj, &side, Over::Synapses(&ids[range]), clock, None);
            proj.csc = Some((offsets, ids));
            return;
        }
        let prog = match h {
            Handler::Teacher => &proj.on_teacher,
            Handler::Post => &proj.on_post,
        };
        let mut env = SynapseEnv::batch(ids, &mut proj.net, &proj.bounds, &side, t, None);
        vm::run(prog, &mut env, &mut proj.regs);
    }

    /// Deliver the spikes `pi` just emitted and run spike-driven plasticity.
    /// Projections are independent (each has its own ring buffer and synapse
    /// state), so they run in parallel without changing any result.
    pub(super) fn after_spikes(&mut self, pi: usize, t: f64, signals: &[f64]) {
        let spikes = std::mem::take(&mut self.pops[pi].spikes);
        if self.pops[pi].keeps_marks {
            let pop = &mut self.pops[pi];
            for &i in &spikes {
                pop.spiked[i as usize] = true;
                pop.last_spike[i as usize] = t;
            }
        }
        let clock = self.clock();
        let pops = &self.pops;
        let teacher_times = &self.teacher_times;
        let ir = &self.ir;
        let native = self.native.as_ref();
        // Waking the pool costs microseconds: only worth it for a
        // projection with many synapse events this step.
        let pool = self.pool.as_ref();
        let busy: Vec<bool> = (self.projs.iter().zip(&ir.projections))
            .map(|(proj, q)| {
                let offsets = &proj.net.offsets;
                let events = |i: &u32| (offsets[*i as usize + 1] - offsets[*i as usize]) as usize;
                // The fan-out bounds answer most steps without a sum.
                let (least, most) = proj.fan_out;
                pool.is_some()
                    && q.source == pi
                    && spikes.len() * most >= PARALLEL_MIN_WORK
                    && (spikes.len() * least >= PARALLEL_MIN_WORK
                        || spikes.iter().map(events).sum::<usize>() >= PARALLEL_MIN_WORK)
            })
            .collect();
        let work = |(qi, proj): (usize, &mut ProjRt)| {
            let q = &ir.projections[qi];
            if q.source == pi && !spikes.is_empty() {
                let code = native.and_then(|n| n.synapse(qi, native::Handler::Pre));
                let side = SynapseSide::of(q, pops, teacher_times, signals);
                // A busy projection's targets split between the threads.
                let parts = pool.filter(|_| busy[qi]);
                deliver(proj, q, &side, code, &spikes, clock, parts);
            }
        };
        // Busy projections side by side, unless each splits its own work
        // between the threads (generated code, not counting), which
        // balances better.
        let side_by_side = || {
            let busy_ones = self.projs.iter().enumerate().filter(|(qi, _)| busy[*qi]);
            let (mut count, mut split) = (0, 0);
            for (_, p) in busy_ones {
                let counts = p
                    .counting
                    .as_ref()
                    .is_some_and(|c| c.worth_it(spikes.len()));
                count += 1;
                split += usize::from(!p.target_parts.is_empty() && !counts);
            }
            count > 1 && split < count
        };
        match &self.pool {
            Some(pool) if side_by_side() => {
                pool.install(|| self.projs.par_iter_mut().enumerate().for_each(work))
            }
            _ => self.projs.iter_mut().enumerate().for_each(work),
        }
        self.pops[pi].spikes = spikes;
        for qi in 0..self.projs.len() {
            if self.ir.projections[qi].target != pi || self.projs[qi].on_post.is_empty() {
                continue;
            }
            let spikes = self.pops[pi].spikes.clone();
            for j in spikes {
                self.run_by_target(qi, j as usize, Handler::Post, t, signals);
            }
        }
    }

    pub(super) fn periodic(&mut self, t: f64, signals: &[f64]) {
        let s = self.step;
        let clock = self.clock();
        let pops = &self.pops;
        let teacher_times = &self.teacher_times;
        let ir = &self.ir;
        let native = self.native.as_ref();
        let due = |proj: &ProjRt| {
            proj.every
                .iter()
                .any(|(period, _)| s.is_multiple_of(*period as u64))
        };
        // The work of a projection's rules due now, as their last calls did it.
        let work_due = |proj: &ProjRt| {
            (proj.every.iter().zip(&proj.every_work))
                .filter(|((period, _), _)| s.is_multiple_of(*period as u64))
                .map(|(_, &w)| w as usize)
                .sum::<usize>()
        };
        let busy = |proj: &ProjRt| work_due(proj) >= PARALLEL_MIN_WORK;
        let pool = self.pool.as_ref();
        let work = |(qi, proj): (usize, &mut ProjRt)| {
            if !due(proj) {
                return;
            }
            let q = &ir.projections[qi];
            let side = SynapseSide::of(q, pops, teacher_times, signals);
            for k in 0..proj.every.len() {
                if s.is_multiple_of(proj.every[k].0 as u64) {
                    // A busy rule's synapses split between the threads.
                    let parts = pool.filter(|_| proj.every_work[k] as usize >= PARALLEL_MIN_WORK);
                    proj.every_work[k] = match native
                        .and_then(|n| n.synapse(qi, native::Handler::Every(k)))
                    {
                        Some(f) => native::bind::synapses(f, proj, &side, Over::All, clock, parts),
                        None => {
                            periodic_rule(proj, k, &side, t);
                            // (At most every synapse.)
                            proj.net.len() as u64
                        }
                    };
                }
            }
        };
        // As in `after_spikes`.
        let busy_ones = || self.projs.iter().filter(|p| due(p) && busy(p));
        let side_by_side =
            busy_ones().count() > 1 && busy_ones().all(|p| p.source_parts.is_empty());
        match &self.pool {
            Some(pool) if side_by_side => {
                pool.install(|| self.projs.par_iter_mut().enumerate().for_each(work))
            }
            _ => self.projs.iter_mut().enumerate().for_each(work),
        }
    }
}

/// Synapse events below which a projection's work is not worth handing to
/// another thread.
pub(super) const PARALLEL_MIN_WORK: usize = 50_000;

#[derive(Clone, Copy)]
pub(super) enum Handler {
    Teacher,
    Post,
}
