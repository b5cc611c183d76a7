//! The native CPU engine.
//!
//! Event-driven: synapses are stored by source (CSR), so a spike touches only
//! its own synapses; deposits wait in per-projection ring buffers (slots x
//! targets) until their delay has passed; plasticity runs on events (post
//! spikes, teacher arrivals) through a by-target index, and periodic rules
//! whose guard depends only on the presynaptic cell skip silent sources.

mod counting;
mod env;
pub mod native;
mod synapses;
pub mod vm;
mod wheel;

use super::spike_gaps::SpikeGaps;
use super::{Engine, NumericalError, StateView};
use crate::ir::{Expr, Ir, PopulationKindIr, SourceIr, Stmt};
use crate::network::rng::{self, stream, Rng};
use crate::network::{GapNet, Network, ProjectionNet};
use env::{NeuronEnv, SynapseEnv};
use native::bind::{Over, SynapseSide};
use rayon::prelude::*;
pub(crate) use synapses::hoisted_guard;
use synapses::{deliver, fast_deposit, periodic, periodic_rule, FastDeposit, Periodic};
use vm::{Program, Reg, Regs};

pub struct CpuEngine {
    ir: Ir,
    rng: Rng,
    step: u64,
    pops: Vec<PopRt>,
    projs: Vec<ProjRt>,
    gaps: Vec<GapNet>,
    regs: Regs,
    scratch: Vec<u32>,
    threads: usize,
    /// Per projection: when a spike through it last reached each target
    /// (kept for projections that are some projection's teacher).
    teacher_times: Vec<Vec<f64>>,
    pool: Option<rayon::ThreadPool>,
    /// The model's generated native code, when a C compiler was found.
    native: Option<native::Native>,
    /// How the programs run: "native code", or why they are interpreted.
    code: String,
    /// The error that stopped the run: stepping again returns it again (the
    /// state is that at the end of the failing step, as on the GPU).
    failed: Option<NumericalError>,
}

/// How the CPU engine runs the model's programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuCode {
    /// Generated C, compiled once (the interpreter when no compiler works).
    Native,
    /// The vectorised interpreter.
    Interpret,
}

impl CpuCode {
    /// Native unless `CBMC_CPU_CODE=interpret`.
    pub fn from_env() -> Self {
        if native::interpret_requested() {
            CpuCode::Interpret
        } else {
            CpuCode::Native
        }
    }
}

pub(crate) struct PopRt {
    pub size: usize,
    pub vars: Vec<Vec<f64>>,
    pub spiked: Vec<bool>,
    pub spikes: Vec<u32>,
    pub last_spike: Vec<f64>,
    pub refr: Vec<u32>,
    neuron: Option<NeuronRt>,
    source: Option<SourceRt>,
}

struct NeuronRt {
    step: Program,
    spike: Option<(Program, Reg)>,
    reset: Program,
    refractory: u32,
    inputs: Vec<usize>,
    checked: Vec<usize>,
    var_names: Vec<String>,
    /// The native cell function adds the arriving ring slots itself
    /// (`native::codegen::arriving_read_by_cells`).
    cells_add_arrivals: bool,
}

struct SourceRt {
    kind: SourceIr,
    /// For fixed p: the gaps between spikes, each cell's spike count, and
    /// the cells waiting for their next spike.
    spike_gaps: Option<SpikeGaps>,
    wheel: wheel::Wheel,
    /// Reused buffer: the gaps drawn this step.
    gaps: Vec<u64>,
    count: Vec<u32>,
    cursor: usize,
}

pub(crate) struct ProjRt {
    pub net: ProjectionNet,
    ring: Vec<f64>,
    slots: usize,
    n_target: usize,
    on_pre: Program,
    /// `on_pre` has several deposit statements (see `synapses::deliver`).
    on_pre_deposits_several: bool,
    /// `on_pre` when it only deposits a product of synapse variables.
    fast_deposit: Option<FastDeposit>,
    /// `on_pre` as counting, when it deposits a constant (native mode only,
    /// so the parity tests compare it with delivery one by one).
    counting: Option<counting::Counting>,
    /// The target index in the width native code reads (see
    /// `native::post_width`), when narrower than `net.post`.
    pub(crate) post_narrow: NarrowIndex,
    on_post: Program,
    on_teacher: Program,
    every: Vec<(u32, Periodic)>,
    csc: Option<(Vec<u32>, Vec<u32>)>,
    /// Arrival counts of this projection's spikes (when it is a teacher).
    arrivals: Option<Vec<u32>>,
    /// Reusable buffers: synapse ids of a batch, interpreter registers.
    ids: Vec<u32>,
    regs: Regs,
    pub bounds: Vec<Option<(f64, f64)>>,
    /// Room for generated code's per-target values.
    scratch: Vec<f64>,
}

/// A copy of a projection's target index in fewer bytes per synapse.
pub(crate) enum NarrowIndex {
    U8(Vec<u8>),
    U16(Vec<u16>),
    None,
}

impl NarrowIndex {
    fn of(post: &[u32], width: usize) -> Self {
        // The width holds every target cell (`post_width`), so no index is cut.
        match width {
            1 => NarrowIndex::U8(post.iter().map(|&j| j as u8).collect()),
            2 => NarrowIndex::U16(post.iter().map(|&j| j as u16).collect()),
            _ => NarrowIndex::None,
        }
    }
}

impl CpuEngine {
    /// An engine running native code where it can (see [`CpuCode::from_env`]).
    pub fn new(ir: &Ir, net: Network, threads: usize) -> Self {
        Self::with_code(ir, net, threads, CpuCode::from_env())
    }

    pub fn with_code(ir: &Ir, net: Network, threads: usize, code: CpuCode) -> Self {
        let (native, code) = match code {
            CpuCode::Interpret => (None, "interpreted (CBMC_CPU_CODE=interpret)".to_string()),
            // Generated code trusts every index; the interpreter checks them.
            CpuCode::Native if !fits(ir, &net) => (
                None,
                "interpreted: the network does not match the model".to_string(),
            ),
            CpuCode::Native => match native::load(ir) {
                Ok(n) => {
                    let how = if n.cached {
                        "native code, cached".to_string()
                    } else {
                        format!("native code, compiled in {:.2} s", n.compile_seconds)
                    };
                    (Some(n), how)
                }
                // The first line: the reason (a compiler's log follows).
                Err(e) => (
                    None,
                    format!("interpreted: {}", e.lines().next().unwrap_or("")),
                ),
            },
        };
        let rng = Rng::new(ir.seed);
        let mut pops = Vec::new();
        for (pi, (pop, pnet)) in ir.populations.iter().zip(net.populations).enumerate() {
            let n = pop.size;
            let cells_add_arrivals = native
                .as_ref()
                .and_then(|n| n.cells[pi].as_ref())
                .is_some_and(|f| {
                    f.args
                        .iter()
                        .any(|a| matches!(a, native::Arg::Arriving { .. }))
                });
            let (neuron, source) = match &pop.kind {
                PopulationKindIr::Neuron(nir) => (
                    Some(NeuronRt {
                        step: vm::compile(&nir.step, nir.locals),
                        spike: nir.spike.as_ref().map(|s| vm::compile_expr(s, nir.locals)),
                        reset: vm::compile(&nir.reset, nir.locals),
                        refractory: nir.refractory_steps,
                        inputs: nir
                            .vars
                            .iter()
                            .enumerate()
                            .filter(|(_, v)| v.kind == crate::ir::VarKind::Input)
                            .map(|(i, _)| i)
                            .collect(),
                        checked: nir.checked_vars.clone(),
                        var_names: nir.vars.iter().map(|v| v.name.clone()).collect(),
                        cells_add_arrivals,
                    }),
                    None,
                ),
                PopulationKindIr::Source(s) => {
                    let fixed_p = s.fixed_probability(ir.dt);
                    (
                        None,
                        Some(SourceRt {
                            kind: s.clone(),
                            spike_gaps: fixed_p.map(SpikeGaps::new),
                            wheel: wheel::Wheel::new(if fixed_p.is_some() { n } else { 0 }),
                            gaps: vec![],
                            count: vec![0; n],
                            cursor: 0,
                        }),
                    )
                }
            };
            pops.push(PopRt {
                size: n,
                vars: pnet.vars,
                spiked: vec![false; n],
                spikes: vec![],
                last_spike: vec![-1e9; n],
                refr: vec![0; n],
                neuron,
                source,
            });
        }
        let teachers: Vec<usize> = ir.projections.iter().filter_map(|p| p.teacher).collect();
        let mut projs = Vec::new();
        for (qi, (q, qnet)) in ir.projections.iter().zip(net.projections).enumerate() {
            let n_target = ir.populations[q.target].size;
            let slots = q.ring_slots();
            let needs_csc = !q.on_post.is_empty() || !q.on_teacher.is_empty();
            let csc = needs_csc.then(|| qnet.by_target(n_target));
            let every = q
                .every
                .iter()
                .map(|(period, body)| (*period, periodic(body, q.locals)))
                .collect();
            let is_teacher = teachers.contains(&qi);
            let bounds = (0..q.vars.len()).map(|v| q.bounds_of(v)).collect();
            let counting = match q.on_pre.as_slice() {
                [Stmt::Deposit {
                    value: Expr::Const(c),
                    pulse_steps: 1,
                }] if native.is_some() => counting::Counting::new(&qnet, n_target, *c),
                _ => None,
            };
            let post_narrow = match native {
                Some(_) => NarrowIndex::of(&qnet.post, native::post_width(ir, qi)),
                None => NarrowIndex::None,
            };
            projs.push(ProjRt {
                counting,
                post_narrow,
                net: qnet,
                ring: vec![0.0; slots * n_target],
                slots,
                n_target,
                on_pre: vm::compile(&q.on_pre, q.locals),
                on_pre_deposits_several: crate::ir::count_deposits(&q.on_pre) > 1,
                fast_deposit: fast_deposit(&q.on_pre),
                on_post: vm::compile(&q.on_post, q.locals),
                on_teacher: vm::compile(&q.on_teacher, q.locals),
                every,
                csc,
                arrivals: is_teacher.then(|| vec![0; slots * n_target]),
                ids: vec![],
                regs: Regs::default(),
                bounds,
                scratch: vec![],
            });
        }
        let mut engine = CpuEngine {
            ir: ir.clone(),
            rng,
            step: 0,
            failed: None,
            pops,
            projs,
            gaps: net.gaps,
            regs: Regs::default(),
            scratch: vec![],
            threads: threads.max(1),
            teacher_times: ir
                .projections
                .iter()
                .enumerate()
                .map(|(qi, q)| {
                    if teachers.contains(&qi) {
                        vec![-1e9; ir.populations[q.target].size]
                    } else {
                        vec![]
                    }
                })
                .collect(),
            // With one thread everything runs inline; a pool that fails to
            // start (no threads available) also falls back to inline.
            pool: (threads > 1)
                .then(|| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .ok()
                })
                .flatten(),
            native,
            code,
        };
        engine.init_sources();
        engine
    }

    fn init_sources(&mut self) {
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

    fn signals(&self) -> Vec<f64> {
        let t = self.time();
        self.ir.signals.iter().map(|s| s.value_at(t)).collect()
    }

    fn time(&self) -> f64 {
        self.step as f64 * self.ir.dt
    }

    fn update_source(&mut self, pi: usize) {
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

    fn update_neurons(&mut self, pi: usize) -> Result<(), NumericalError> {
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
            Some(f) => native::bind::cells(f, pop, &mut self.projs, &signals, clock),
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

    /// Time, step and key for generated code.
    fn clock(&self) -> native::bind::Clock {
        native::bind::Clock {
            t: self.time(),
            s: self.step,
            key: self.rng.key(),
        }
    }
}

/// Are all `xs` finite? The common case in one pass without early exit:
/// `x * 0` is a zero for a finite x and NaN for an infinite or NaN one,
/// and a NaN stays in its sum; four sums so that the compiler vectorises.
fn all_finite(xs: &[f64]) -> bool {
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
fn interpret_cells(
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

impl CpuEngine {
    /// Teacher spikes arriving at `pi` now: note the time and run the
    /// `on_teacher` code of every projection that names this teacher.
    fn teacher_arrivals(&mut self, pi: usize, t: f64, signals: &[f64]) {
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

    fn run_by_target(&mut self, qi: usize, j: usize, h: Handler, t: f64, signals: &[f64]) {
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
            native::bind::synapses(f, proj, &side, Over::Synapses(&ids[range]), clock);
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
    fn after_spikes(&mut self, pi: usize, t: f64, signals: &[f64]) {
        let spikes = std::mem::take(&mut self.pops[pi].spikes);
        for &i in &spikes {
            self.pops[pi].spiked[i as usize] = true;
            self.pops[pi].last_spike[i as usize] = t;
        }
        let clock = self.clock();
        let pops = &self.pops;
        let teacher_times = &self.teacher_times;
        let ir = &self.ir;
        let native = self.native.as_ref();
        let work = |(qi, proj): (usize, &mut ProjRt)| {
            let q = &ir.projections[qi];
            if q.source == pi && !spikes.is_empty() {
                let code = native.and_then(|n| n.synapse(qi, native::Handler::Pre));
                let side = SynapseSide::of(q, pops, teacher_times, signals);
                deliver(proj, q, &side, code, &spikes, clock);
            }
        };
        // Waking the pool costs microseconds: only worth it when several
        // projections each have many synapse events this step.
        let busy = || {
            self.projs
                .iter()
                .zip(&ir.projections)
                .filter(|(p, q)| {
                    q.source == pi
                        && spikes
                            .iter()
                            .map(|&i| {
                                (p.net.offsets[i as usize + 1] - p.net.offsets[i as usize]) as usize
                            })
                            .sum::<usize>()
                            >= PARALLEL_MIN_WORK
                })
                .count()
        };
        match &self.pool {
            Some(pool) if busy() > 1 => {
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

    fn periodic(&mut self, t: f64, signals: &[f64]) {
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
        let work = |(qi, proj): (usize, &mut ProjRt)| {
            if !due(proj) {
                return;
            }
            let q = &ir.projections[qi];
            let side = SynapseSide::of(q, pops, teacher_times, signals);
            for k in 0..proj.every.len() {
                if s.is_multiple_of(proj.every[k].0 as u64) {
                    match native.and_then(|n| n.synapse(qi, native::Handler::Every(k))) {
                        Some(f) => native::bind::synapses(f, proj, &side, Over::All, clock),
                        None => periodic_rule(proj, k, &side, t),
                    }
                }
            }
        };
        let busy = self
            .projs
            .iter()
            .filter(|p| due(p) && p.net.len() >= PARALLEL_MIN_WORK)
            .count();
        match &self.pool {
            Some(pool) if busy > 1 => {
                pool.install(|| self.projs.par_iter_mut().enumerate().for_each(work))
            }
            _ => self.projs.iter_mut().enumerate().for_each(work),
        }
    }
}

/// Synapse events below which a projection's work is not worth handing to
/// another thread.
const PARALLEL_MIN_WORK: usize = 50_000;

#[derive(Clone, Copy)]
enum Handler {
    Teacher,
    Post,
}

/// Does `net` have the sizes `ir` says, and only indices inside them? (The
/// network is built from the IR, so it does unless a caller mixed them up.)
fn fits(ir: &Ir, net: &Network) -> bool {
    let pops_fit = ir.populations.len() == net.populations.len()
        && ir
            .populations
            .iter()
            .zip(&net.populations)
            .all(|(p, n)| n.vars.iter().all(|v| v.len() == p.size));
    let projs_fit = ir.projections.len() == net.projections.len()
        && ir.projections.iter().zip(&net.projections).all(|(q, n)| {
            let (n_src, n_tgt) = (ir.populations[q.source].size, ir.populations[q.target].size);
            n.offsets.len() == n_src + 1
                && n.offsets.first() == Some(&0)
                && n.offsets.windows(2).all(|w| w[0] <= w[1])
                && n.offsets.last().map(|&o| o as usize) == Some(n.post.len())
                && n.pre.len() == n.post.len()
                && n.pre.iter().all(|&i| (i as usize) < n_src)
                && n.post.iter().all(|&j| (j as usize) < n_tgt)
                && n.vars.iter().all(|v| v.len() == n.post.len())
        });
    pops_fit && projs_fit
}

fn eval_time(e: &Expr, t: f64, signals: &[f64]) -> f64 {
    fn sub(e: &Expr, t: f64, sig: &[f64]) -> Expr {
        match e {
            Expr::Time => Expr::Const(t),
            Expr::Signal(i) => Expr::Const(sig.get(*i).copied().unwrap_or(0.0)),
            Expr::Unary(op, x) => Expr::Unary(*op, Box::new(sub(x, t, sig))),
            Expr::Binary(op, a, b) => {
                Expr::Binary(*op, Box::new(sub(a, t, sig)), Box::new(sub(b, t, sig)))
            }
            Expr::Call(f, a, s) => Expr::Call(*f, a.iter().map(|x| sub(x, t, sig)).collect(), *s),
            e => e.clone(),
        }
    }
    match e {
        Expr::Const(c) => *c,
        e => crate::network::eval_scalar(&sub(e, t, signals), &|_| None).unwrap_or(0.0),
    }
}

impl Engine for CpuEngine {
    fn step(&mut self) -> Result<(), NumericalError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let t = self.time();
        let signals = self.signals();
        for pop in self.pops.iter_mut() {
            for &i in &pop.spikes {
                pop.spiked[i as usize] = false;
            }
            pop.spikes.clear();
        }
        // A step in which a value goes NaN or infinite still runs to its
        // end, as on the GPU (whose threads cannot stop each other mid-step),
        // so that both engines stop in the same state. The error reported is
        // the first in schedule order; the step is not counted as done.
        let mut first_error = None;
        for k in 0..self.ir.schedule.len() {
            let pi = self.ir.schedule[k];
            if self.pops[pi].source.is_some() {
                self.update_source(pi);
            } else if let Err(e) = self.update_neurons(pi) {
                first_error.get_or_insert(e);
            }
            self.after_spikes(pi, t, &signals);
        }
        self.periodic(t, &signals);
        if let Some(e) = first_error {
            self.failed = Some(e.clone());
            return Err(e);
        }
        self.step += 1;
        Ok(())
    }

    fn steps_done(&self) -> u64 {
        self.step
    }

    fn extra_synapse_bytes(&self) -> usize {
        let narrow = |p: &ProjRt| match &p.post_narrow {
            NarrowIndex::U8(x) => x.len(),
            NarrowIndex::U16(x) => 2 * x.len(),
            NarrowIndex::None => 0,
        };
        let counting = |p: &ProjRt| p.counting.as_ref().map_or(0, |c| c.bytes());
        self.projs.iter().map(|p| narrow(p) + counting(p)).sum()
    }

    fn describe(&self) -> String {
        format!(
            "cpu ({} thread{}, {})",
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.code
        )
    }
}

impl CpuEngine {
    /// (pre, post) cell of every synapse of a projection, in storage order.
    pub fn synapse_pairs(&self, projection: usize) -> (Vec<u32>, Vec<u32>) {
        let net = &self.projs[projection].net;
        (net.pre.clone(), net.post.clone())
    }
}

impl StateView for CpuEngine {
    fn spikes(&self, population: usize) -> &[u32] {
        &self.pops[population].spikes
    }
    fn var(&self, population: usize, var: usize) -> &[f64] {
        &self.pops[population].vars[var]
    }
    fn synapse_var(&self, projection: usize, var: usize) -> &[f64] {
        &self.projs[projection].net.vars[var]
    }
}
