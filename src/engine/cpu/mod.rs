//! The native CPU engine.
//!
//! Event-driven: synapses are stored by source (CSR), so a spike touches only
//! its own synapses; deposits wait in per-projection ring buffers (slots x
//! targets) until their delay has passed; plasticity runs on events (post
//! spikes, teacher arrivals) through a by-target index, and periodic rules
//! whose guard depends only on the presynaptic cell skip silent sources.

mod cells;
mod counting;
mod env;
mod events;
pub mod native;
mod parts;
mod sources;
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
    /// Whether `spiked` and `last_spike` are kept: only where synapse code
    /// reads them (`Ir::spike_marks_read`).
    pub keeps_marks: bool,
    pub refr: Vec<u32>,
    /// Where a large population's update is split between threads
    /// (`parts::cell_parts`; empty: never).
    pub(crate) cell_parts: Vec<u32>,
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
    /// For probabilities constant in time: the gaps between spikes, each
    /// cell's spike count, and the cells waiting for their next spike.
    spike_gaps: Option<SpikeGaps>,
    wheel: wheel::Wheel,
    /// Reused buffer: the gaps drawn this step.
    gaps: Vec<u64>,
    count: Vec<u32>,
    cursor: usize,
    /// A rate that reads the cells' own values and changes in time: its
    /// program (run over all cells each step), registers and the cells'
    /// probabilities of the step.
    per_cell_rate: Option<(Program, Reg)>,
    regs: Regs,
    probabilities: Vec<f64>,
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
    /// The work each periodic rule's last call did (synapses visited, see
    /// `native::SynapseFn`): whether the next is worth splitting.
    every_work: Vec<u64>,
    csc: Option<(Vec<u32>, Vec<u32>)>,
    /// Arrival counts of this projection's spikes (when it is a teacher).
    arrivals: Option<Vec<u32>>,
    /// Reusable buffers: synapse ids of a batch, interpreter registers.
    ids: Vec<u32>,
    regs: Regs,
    pub bounds: Vec<Option<(f64, f64)>>,
    /// Room for generated code's per-target values.
    scratch: Vec<f64>,
    /// Where this projection's work is split between threads, by target
    /// cells (`on_pre`) and by source cells (periodic rules); empty: never
    /// (see `parts.rs`).
    pub(crate) target_parts: Vec<u32>,
    pub(crate) source_parts: Vec<u32>,
    /// The fewest and the most synapses of one source cell.
    fan_out: (usize, usize),
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
        let marks_read = ir.spike_marks_read();
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
                    let spike_gaps = SpikeGaps::of_source(s, ir.dt, &pnet.vars, n);
                    let wheel_cells = if spike_gaps.is_some() { n } else { 0 };
                    (
                        None,
                        Some(SourceRt {
                            kind: s.clone(),
                            spike_gaps,
                            wheel: wheel::Wheel::new(wheel_cells),
                            gaps: vec![],
                            count: vec![0; n],
                            cursor: 0,
                            per_cell_rate: s
                                .rate_or_p()
                                .filter(|_| !s.per_cell().is_empty())
                                .map(|e| vm::compile_expr(e, 0)),
                            regs: Regs::default(),
                            probabilities: vec![],
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
                keeps_marks: marks_read[pi],
                refr: vec![0; n],
                cell_parts: match native.as_ref().and_then(|f| f.cells[pi].as_ref()) {
                    Some(_) => parts::cell_parts(n, threads),
                    None => vec![],
                },
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
            // Delays drawn per synapse: every deposit finds its own ring
            // slot (the generated code and the interpreter do; counting and
            // the fast deposit assume one slot per step).
            let one_delay = q.delay_draw.is_none();
            let counting = match q.on_pre.as_slice() {
                [Stmt::Deposit {
                    value: Expr::Const(c),
                    pulse_steps: 1,
                }] if native.is_some() && one_delay => counting::Counting::new(&qnet, n_target, *c),
                _ => None,
            };
            // Only generated code runs in parts (not an interpreted
            // `on_pre` with several deposits, say).
            let generated =
                |h: native::Handler| native.as_ref().and_then(|n| n.synapse(qi, h)).is_some();
            let target_parts = if generated(native::Handler::Pre) {
                parts::target_parts(&qnet, n_target, threads)
            } else {
                vec![]
            };
            let rules_generated = (0..q.every.len()).all(|k| generated(native::Handler::Every(k)));
            let source_parts = if rules_generated && !q.every.is_empty() {
                parts::source_parts(&qnet, threads)
            } else {
                vec![]
            };
            let post_narrow = match native {
                Some(_) => NarrowIndex::of(&qnet.post, native::post_width(ir, qi)),
                None => NarrowIndex::None,
            };
            let fan_out = qnet
                .offsets
                .windows(2)
                .map(|w| (w[1] - w[0]) as usize)
                .fold((usize::MAX, 0), |(a, b), d| (a.min(d), b.max(d)));
            projs.push(ProjRt {
                fan_out,
                target_parts,
                source_parts,
                counting,
                post_narrow,
                net: qnet,
                ring: vec![0.0; slots * n_target],
                slots,
                n_target,
                on_pre: vm::compile(&q.on_pre, q.locals),
                on_pre_deposits_several: crate::ir::count_deposits(&q.on_pre) > 1,
                fast_deposit: fast_deposit(&q.on_pre).filter(|_| one_delay),
                on_post: vm::compile(&q.on_post, q.locals),
                on_teacher: vm::compile(&q.on_teacher, q.locals),
                every_work: vec![0; q.every.len()],
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

    fn signals(&self) -> Vec<f64> {
        let t = self.time();
        self.ir.signals.iter().map(|s| s.value_at(t)).collect()
    }

    fn time(&self) -> f64 {
        self.step as f64 * self.ir.dt
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
                && (q.delay_draw.is_none() || n.delay_extra.len() == n.post.len())
        });
    pops_fit && projs_fit
}

impl Engine for CpuEngine {
    fn step(&mut self) -> Result<(), NumericalError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let t = self.time();
        let signals = self.signals();
        for pop in self.pops.iter_mut() {
            if pop.keeps_marks {
                for &i in &pop.spikes {
                    pop.spiked[i as usize] = false;
                }
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
    fn spike_totals(&self, population: usize) -> Option<&[u32]> {
        let src = self.pops[population].source.as_ref()?;
        src.spike_gaps.as_ref().map(|_| src.count.as_slice())
    }
}
