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
        let n = spikes.len();
        // Synapse events per projection this step (none counted, and no
        // list made, on one thread).
        let events: Vec<usize> = match pool {
            None => vec![],
            Some(_) => (self.projs.iter().zip(&ir.projections))
                .map(|(proj, q)| {
                    let offsets = &proj.net.offsets;
                    let fan_out =
                        |i: &u32| (offsets[*i as usize + 1] - offsets[*i as usize]) as usize;
                    let (least, most) = proj.fan_out;
                    match () {
                        _ if q.source != pi => 0,
                        // The fan-out bounds answer most steps without a sum.
                        _ if n * most < PARALLEL_MIN_WORK => 0,
                        _ if least == most => n * most,
                        _ => spikes.iter().map(fan_out).sum(),
                    }
                })
                .collect(),
        };
        let events_of = |qi: usize| events.get(qi).copied().unwrap_or(0);
        let busy = |qi: usize| events_of(qi) >= PARALLEL_MIN_WORK;
        // Split by targets (`parts.rs`): every part walks every spike, so
        // only with many synapses a spike (and not where counting does it).
        let split = |qi: usize, proj: &ProjRt| {
            events_of(qi) >= SPLIT_MIN_WORK
                && events_of(qi) >= SPLIT_MIN_FAN_OUT * n
                && !proj.target_parts.is_empty()
                && !proj.counting.as_ref().is_some_and(|c| c.worth_it(n))
        };
        let work = |(qi, proj): (usize, &mut ProjRt)| {
            let q = &ir.projections[qi];
            if q.source == pi && n > 0 {
                let code = native.and_then(|n| n.synapse(qi, native::Handler::Pre));
                let side = SynapseSide::of(q, pops, teacher_times, signals);
                let parts = pool.filter(|_| split(qi, proj));
                deliver(proj, q, &side, code, &spikes, clock, parts);
            }
        };
        // Busy projections side by side, unless each splits its own work
        // between the threads, which balances better.
        let side_by_side = || {
            let busy_ones: Vec<usize> = (0..self.projs.len()).filter(|&qi| busy(qi)).collect();
            busy_ones.len() > 1 && busy_ones.iter().any(|&qi| !split(qi, &self.projs[qi]))
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
        let split = |proj: &ProjRt, k: usize| {
            proj.every_work[k] as usize >= SPLIT_MIN_WORK && !proj.source_parts.is_empty()
        };
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
                    let parts = pool.filter(|_| split(proj, k));
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
        // Busy projections side by side, unless each splits its rules due
        // now between the threads.
        let splits = |p: &ProjRt| {
            (0..p.every.len())
                .filter(|&k| s.is_multiple_of(p.every[k].0 as u64))
                .all(|k| split(p, k))
        };
        let busy_ones = || self.projs.iter().filter(|p| due(p) && busy(p));
        let side_by_side = busy_ones().count() > 1 && busy_ones().any(|p| !splits(p));
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

/// Work (synapses visited) below which a projection's own work is not
/// split between threads: a split wakes them all and, for `on_pre`, has
/// every part read each spike's synapse range and search it for its
/// targets. (A review measured splits of 60,000 events a step cost time.)
pub(super) const SPLIT_MIN_WORK: usize = 100_000;

/// Synapses per spike below which `on_pre` is not split: with 2 a spike,
/// two threads took twice as long as one.
pub(super) const SPLIT_MIN_FAN_OUT: usize = 16;

#[derive(Clone, Copy)]
pub(super) enum Handler {
    Teacher,
    Post,
}
