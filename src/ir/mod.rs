//! The IR: the contract between the language and the engines.
//!
//! Flat and explicit. Every population is instantiated (parameters folded to
//! constants, or per-cell variables where a population draws them from a
//! distribution); ODEs are already discretised into assignments; assignment
//! operators are expanded; constants are folded (`exp(-dt/tau)` is a number).
//! Both engines consume this and nothing else.

mod fold;
mod lower;
mod ops;

pub use crate::syntax::ast::{BinOp, UnOp};
pub use lower::lower;
pub use ops::{apply_binary, apply_call, max, min, Func};

#[derive(Clone, Debug)]
pub struct Ir {
    pub model_name: String,
    pub dt: f64,
    pub steps: u64,
    pub seed: u64,
    pub populations: Vec<PopulationIr>,
    pub projections: Vec<ProjectionIr>,
    pub gaps: Vec<GapIr>,
    pub recorders: Vec<RecorderIr>,
    pub signals: Vec<Signal>,
    /// Population update order within a step.
    pub schedule: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Wiring {
    /// Pairs (source, target) listed at check time (`index(target = ...)`).
    Explicit {
        pairs: Vec<(u32, u32)>,
    },
    AllToAll {
        allow_self: bool,
    },
    OneToOne,
    /// k sources per target; in a projection of a population onto itself,
    /// a cell is not its own source unless `allow_self`.
    FixedInDegree {
        k: usize,
        replace: bool,
        allow_self: bool,
    },
    /// k targets per source (the same rule for self-connections).
    FixedOutDegree {
        k: usize,
        replace: bool,
        allow_self: bool,
    },
    Probability {
        p: f64,
        allow_self: bool,
    },
    /// `probability(p = EXPR)` with p read from each pair's cells
    /// (`Expr::Pre`, `Expr::Post`: their values as they start): every pair
    /// is drawn with its own probability (at most 1, at least 0; NaN
    /// never). `expected`: the mean probability over the pairs, for
    /// estimates made before the network is built (1 until
    /// `network::estimate_pair_probabilities` has sampled it).
    PairProbability {
        p: Expr,
        allow_self: bool,
        expected: f64,
    },
    /// Source i contacts targets [i*m, (i+1)*m), m = targets per source.
    Blocks {
        per_source: usize,
    },
}

impl Wiring {
    /// The most synapses one target can receive from a source of `n_src`
    /// cells, whatever the seed: the CUDA delivery sizes its rounds by it.
    pub fn max_in_degree(&self, n_src: usize) -> usize {
        match self {
            Wiring::Explicit { pairs } => {
                let mut count = std::collections::HashMap::new();
                for &(_, j) in pairs {
                    *count.entry(j).or_insert(0usize) += 1;
                }
                count.into_values().max().unwrap_or(0)
            }
            Wiring::OneToOne | Wiring::Blocks { .. } => 1,
            Wiring::FixedInDegree { k, .. } => *k,
            // With replacement a source may draw the same target k times.
            Wiring::FixedOutDegree {
                k, replace: true, ..
            } => n_src.saturating_mul(*k),
            Wiring::AllToAll { .. }
            | Wiring::FixedOutDegree { .. }
            | Wiring::Probability { .. }
            | Wiring::PairProbability { .. } => n_src,
        }
    }
}

impl Wiring {
    /// The synapses a target receives on average from a source of `n_src`
    /// cells onto `n_tgt` targets, before any is drawn (the CUDA code
    /// generator chooses how a delivery finds its spiking synapses by it).
    pub fn mean_in_degree(&self, n_src: usize, n_tgt: usize) -> f64 {
        let per_target = |synapses: f64| synapses / n_tgt.max(1) as f64;
        match self {
            Wiring::Explicit { pairs } => per_target(pairs.len() as f64),
            Wiring::AllToAll { .. } => n_src as f64,
            Wiring::OneToOne => 1.0,
            // (in floating point: the products may not fit a usize)
            Wiring::Blocks { per_source } => per_target(n_src as f64 * *per_source as f64),
            Wiring::FixedInDegree { k, .. } => *k as f64,
            Wiring::FixedOutDegree { k, .. } => per_target(n_src as f64 * *k as f64),
            Wiring::Probability { p, .. } => p * n_src as f64,
            Wiring::PairProbability { expected, .. } => expected * n_src as f64,
        }
    }
}

/// A protocol signal: 1 inside [start, end) of every trial, else 0; probe
/// trials (every `probe_every`-th trial) silence the signals listed for them.
#[derive(Clone, Debug)]
pub struct Signal {
    pub name: String,
    pub start: f64,
    pub end: f64,
    pub trial: f64,
    pub trials: Option<u64>,
    pub probe_every: Option<u64>,
    pub silenced_in_probe: bool,
}

impl Signal {
    /// The signal's value (0 or 1) at time `t`.
    pub fn value_at(&self, t: f64) -> f64 {
        let trial = (t / self.trial).floor();
        if let Some(n) = self.trials {
            if trial >= n as f64 {
                return 0.0;
            }
        }
        if self.silenced_in_probe {
            if let Some(k) = self.probe_every {
                if (trial as u64 + 1).is_multiple_of(k) {
                    return 0.0;
                }
            }
        }
        let within = t - trial * self.trial;
        f64::from(u8::from(
            within >= self.start - 1e-12 && within < self.end - 1e-12,
        ))
    }
}

#[derive(Clone, Debug)]
pub struct PopulationIr {
    pub name: String,
    pub size: usize,
    pub kind: PopulationKindIr,
}

#[derive(Clone, Debug)]
pub enum PopulationKindIr {
    Neuron(NeuronIr),
    Source(SourceIr),
}

#[derive(Clone, Debug)]
pub enum SourceIr {
    /// Spike when u < 1 - exp(-rate * dt); `rate` is evaluated once per step
    /// (for each cell where it reads `per_cell` values).
    Poisson { rate: Expr, per_cell: Vec<VarIr> },
    /// Spike when u < p, then `refractory_steps` steps blocked.
    Bernoulli {
        p: Expr,
        refractory_steps: u32,
        per_cell: Vec<VarIr>,
    },
    SpikeTimes {
        steps: Vec<u64>,
        cells: Option<Vec<usize>>,
    },
}

impl SourceIr {
    /// The per-step spike probability of a source with a constant rate (both
    /// engines then draw geometric gaps from it).
    pub fn fixed_probability(&self, dt: f64) -> Option<f64> {
        match self.rate_or_p()? {
            Expr::Const(v) => Some(self.probability(*v, dt)),
            _ => None,
        }
    }

    /// The rate (poisson) or probability (bernoulli) expression.
    pub fn rate_or_p(&self) -> Option<&Expr> {
        match self {
            SourceIr::Poisson { rate, .. } => Some(rate),
            SourceIr::Bernoulli { p, .. } => Some(p),
            SourceIr::SpikeTimes { .. } => None,
        }
    }

    /// The spike probability per step of a value of `rate_or_p`.
    pub fn probability(&self, value: f64, dt: f64) -> f64 {
        match self {
            SourceIr::Poisson { .. } => 1.0 - (-value * dt).exp(),
            _ => value,
        }
    }

    /// Values of each cell that the rate reads as `Expr::Var` (a drawn rate,
    /// the cell index): made when the network is built, constant in time.
    pub fn per_cell(&self) -> &[VarIr] {
        match self {
            SourceIr::Poisson { per_cell, .. } | SourceIr::Bernoulli { per_cell, .. } => per_cell,
            SourceIr::SpikeTimes { .. } => &[],
        }
    }

    /// The rate differs between cells but not in time: each cell has a
    /// constant probability, and both engines draw geometric gaps from it.
    pub fn per_cell_constant(&self) -> bool {
        self.rate_or_p().is_some_and(|e| {
            walk_finds(e, &|x| matches!(x, Expr::Var(_)))
                && !walk_finds(e, &|x| matches!(x, Expr::Time | Expr::Signal(_)))
        })
    }

    /// The refractory steps after a spike (bernoulli only).
    pub fn refractory_steps(&self) -> u32 {
        match self {
            SourceIr::Bernoulli {
                refractory_steps, ..
            } => *refractory_steps,
            _ => 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    /// Persists across steps.
    State,
    /// Zeroed at the start of each step, then filled by deposits and couplings.
    Input,
    /// A parameter that differs between cells; constant in time.
    CellParam,
}

#[derive(Clone, Debug)]
pub struct VarIr {
    pub name: String,
    pub kind: VarKind,
    pub init: InitIr,
}

/// How a per-cell or per-synapse value starts (SI units).
#[derive(Clone, Debug)]
pub enum InitIr {
    Const(f64),
    /// Per-element expression of other variables (evaluated in declaration order).
    Expr(Expr),
    Normal {
        mean: f64,
        sd: f64,
        low: f64,
        high: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    /// The element's index in its population, from 0: the variable behind
    /// `i` in a population's arguments (`I = i * 0.5 nA`), which the
    /// expressions of the values that use it read.
    CellIndex,
}

#[derive(Clone, Debug)]
pub struct NeuronIr {
    pub type_name: String,
    pub vars: Vec<VarIr>,
    /// The per-step program: integration of the ODEs, then the update block.
    pub step: Vec<Stmt>,
    pub spike: Option<Expr>,
    pub reset: Vec<Stmt>,
    pub refractory_steps: u32,
    /// Number of local slots the programs use.
    pub locals: usize,
    /// Variables whose values are checked for NaN/inf after each step.
    pub checked_vars: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Const(f64),
    /// A variable of the element being computed: a cell variable in neuron
    /// code, a per-synapse variable in synapse code.
    Var(usize),
    Local(usize),
    /// Simulation time in seconds at the start of the step.
    Time,
    /// 1 while the cell is refractory (its `holding` variables frozen), else
    /// 0. Cell code only: an RK4 stage of a held variable stays put.
    Refractory,
    Signal(usize),
    Pre(CellAccess),
    Post(CellAccess),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// rand() and randn() carry a call-site number so each draws its own stream.
    Call(Func, Vec<Expr>, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellAccess {
    Var(usize),
    LastSpike,
    Spiked,
    LastTeacher,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// var = value. `held`: skipped while the cell is refractory.
    Set {
        var: usize,
        value: Expr,
        held: bool,
    },
    SetLocal {
        local: usize,
        value: Expr,
    },
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    /// Add to the projection's target on the postsynaptic cell after the
    /// delay, for `pulse_steps` consecutive steps.
    Deposit {
        value: Expr,
        pulse_steps: u32,
    },
}

impl Stmt {
    /// This statement with every expression in it (conditions included)
    /// replaced by `f` of it.
    pub fn map_exprs(&self, f: &mut dyn FnMut(&Expr) -> Expr) -> Stmt {
        match self {
            Stmt::Set { var, value, held } => Stmt::Set {
                var: *var,
                value: f(value),
                held: *held,
            },
            Stmt::SetLocal { local, value } => Stmt::SetLocal {
                local: *local,
                value: f(value),
            },
            Stmt::Deposit { value, pulse_steps } => Stmt::Deposit {
                value: f(value),
                pulse_steps: *pulse_steps,
            },
            Stmt::If {
                cond,
                then,
                otherwise,
            } => Stmt::If {
                cond: f(cond),
                then: then.iter().map(|s| s.map_exprs(f)).collect(),
                otherwise: otherwise.iter().map(|s| s.map_exprs(f)).collect(),
            },
        }
    }
}

/// How many deposit statements `stmts` hold (in all branches).
pub fn count_deposits(stmts: &[Stmt]) -> usize {
    stmts
        .iter()
        .map(|s| match s {
            Stmt::Deposit { .. } => 1,
            Stmt::If {
                then, otherwise, ..
            } => count_deposits(then) + count_deposits(otherwise),
            _ => 0,
        })
        .sum()
}

/// Call `f` on `e` and every expression inside it, outermost first.
pub fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Unary(_, x) => walk(x, f),
        Expr::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        Expr::Call(_, args, _) => args.iter().for_each(|a| walk(a, f)),
        _ => {}
    }
}

/// Is `e`, or any expression inside it, one for which `f` holds?
pub fn walk_finds(e: &Expr, f: &dyn Fn(&Expr) -> bool) -> bool {
    let mut found = false;
    walk(e, &mut |x| found |= f(x));
    found
}

/// Does any expression of `stmts` read synapse (or cell) variable `v`?
pub fn reads_var(stmts: &[Stmt], v: usize) -> bool {
    let mut found = false;
    visit_exprs(stmts, &mut |e| {
        walk(e, &mut |x| found |= *x == Expr::Var(v))
    });
    found
}

/// Call `f` on every top-level expression of `stmts` (values and
/// conditions), in order.
pub fn visit_exprs(stmts: &[Stmt], f: &mut dyn FnMut(&Expr)) {
    for s in stmts {
        match s {
            Stmt::Set { value, .. }
            | Stmt::SetLocal { value, .. }
            | Stmt::Deposit { value, .. } => f(value),
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                f(cond);
                visit_exprs(then, f);
                visit_exprs(otherwise, f);
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProjectionIr {
    pub name: String,
    pub source: usize,
    pub target: usize,
    /// Index of the target variable in the target population's `vars`.
    pub target_var: usize,
    pub synapse_type: String,
    pub vars: Vec<VarIr>,
    pub on_pre: Vec<Stmt>,
    pub on_post: Vec<Stmt>,
    pub on_teacher: Vec<Stmt>,
    pub every: Vec<(u32, Vec<Stmt>)>,
    /// (var, low, high): clipped after every handler that runs.
    pub bounds: Vec<(usize, f64, f64)>,
    pub wiring: Wiring,
    /// `connect = same_as(P)`: the synapses of projection P (an earlier
    /// one, between the same populations), pair for pair; `wiring` is P's.
    pub wiring_of: Option<usize>,
    /// The delay in steps; with `delay_draw`, the shortest one.
    pub delay_steps: u32,
    /// Delays drawn per synapse (the network holds each synapse's).
    pub delay_draw: Option<DelayDrawIr>,
    pub teacher: Option<usize>,
    pub locals: usize,
    pub max_pulse_steps: u32,
}

/// Per-synapse delays: drawn from `init` (seconds), each rounded to whole
/// steps (halves up) and kept within `delay_steps ..= max_steps`.
#[derive(Clone, Debug)]
pub struct DelayDrawIr {
    pub init: InitIr,
    pub max_steps: u32,
    /// The synapse variable that holds each synapse's delay in seconds,
    /// where synapse code reads `delay` (the network fills it in).
    pub var: Option<usize>,
}

impl ProjectionIr {
    /// Slots of the projection's per-target ring buffer: a deposit lands
    /// `delay_steps` ahead (at most the longest drawn delay) and a pulse
    /// occupies up to `max_pulse_steps`. Every engine (and the memory
    /// estimate) sizes its rings so.
    pub fn ring_slots(&self) -> usize {
        (self.longest_delay_steps() + self.max_pulse_steps) as usize
    }

    /// The longest delay of any synapse, in steps.
    pub fn longest_delay_steps(&self) -> u32 {
        self.delay_draw
            .as_ref()
            .map_or(self.delay_steps, |d| d.max_steps)
    }

    /// The bounds of per-synapse variable `var`, if it has any (one at most:
    /// a second is error E020).
    pub fn bounds_of(&self, var: usize) -> Option<(f64, f64)> {
        self.bounds
            .iter()
            .find(|b| b.0 == var)
            .map(|&(_, lo, hi)| (lo, hi))
    }
}

#[derive(Clone, Debug)]
pub struct GapIr {
    pub name: String,
    pub population: usize,
    pub partners: usize,
    pub distinct: bool,
    pub coupling: f64,
    pub voltage: usize,
    pub target: usize,
}

#[derive(Clone, Debug)]
pub enum RecorderKindIr {
    SpikeCounts {
        population: usize,
        bin_steps: u32,
        cells: usize,
    },
    SpikeTimes {
        population: usize,
        cells: usize,
    },
    Trace {
        population: usize,
        var: usize,
        cells: Vec<usize>,
        every_steps: u32,
    },
    Weights {
        projection: usize,
        var: usize,
        every_steps: u32,
        max_synapses: usize,
    },
    Rate {
        population: usize,
        bin_steps: u32,
    },
    /// A projection's synapses' cells (and drawn delays), written once.
    Wiring {
        projection: usize,
        max_synapses: usize,
    },
}

#[derive(Clone, Debug)]
pub struct RecorderIr {
    pub name: String,
    pub kind: RecorderKindIr,
}

impl Ir {
    /// For each population: does any synapse code read its spike marks
    /// (`pre.last_spike`, `pre.spiked`, or the `post.` ones)? An engine may
    /// skip keeping marks that nobody reads (the 100,000 input cells of a
    /// Brunel network spend a third of its run writing them).
    pub fn spike_marks_read(&self) -> Vec<bool> {
        let mut read = vec![false; self.populations.len()];
        for q in &self.projections {
            let mut blocks: Vec<&[Stmt]> = vec![&q.on_pre, &q.on_post, &q.on_teacher];
            blocks.extend(q.every.iter().map(|(_, b)| b.as_slice()));
            for b in blocks {
                visit_exprs(b, &mut |e| {
                    e.map_leaves(&mut |leaf| {
                        match leaf {
                            Expr::Pre(CellAccess::LastSpike | CellAccess::Spiked) => {
                                read[q.source] = true
                            }
                            Expr::Post(CellAccess::LastSpike | CellAccess::Spiked) => {
                                read[q.target] = true
                            }
                            _ => {}
                        }
                        None
                    });
                });
            }
        }
        read
    }

    pub fn projection_index(&self, name: &str) -> Option<usize> {
        self.projections.iter().position(|p| p.name == name)
    }
}

impl Expr {
    /// A copy of the tree in which every leaf for which `f` gives a
    /// replacement is replaced (`t` by a time, a variable by a value).
    pub fn map_leaves(&self, f: &mut dyn FnMut(&Expr) -> Option<Expr>) -> Expr {
        match self {
            Expr::Unary(op, x) => Expr::Unary(*op, Box::new(x.map_leaves(f))),
            Expr::Binary(op, a, b) => {
                Expr::Binary(*op, Box::new(a.map_leaves(f)), Box::new(b.map_leaves(f)))
            }
            Expr::Call(func, args, site) => {
                Expr::Call(*func, args.iter().map(|a| a.map_leaves(f)).collect(), *site)
            }
            leaf => f(leaf).unwrap_or_else(|| leaf.clone()),
        }
    }

    /// Does the expression read nothing but constants, time, signals and
    /// the leaves `leaf` accepts (e.g. only `Expr::Pre`: a value of the
    /// presynaptic cell alone), and draw no random number?
    pub fn reads_only(&self, leaf: &dyn Fn(&Expr) -> bool) -> bool {
        match self {
            Expr::Const(_) | Expr::Time | Expr::Signal(_) => true,
            Expr::Unary(_, x) => x.reads_only(leaf),
            Expr::Binary(_, a, b) => a.reads_only(leaf) && b.reads_only(leaf),
            Expr::Call(f, args, _) => !f.is_random() && args.iter().all(|a| a.reads_only(leaf)),
            e => leaf(e),
        }
    }

    /// The same expression, constants compared by their bits (so 0 and -0
    /// differ, and a NaN equals itself), unlike `==`: for rewrites that
    /// must keep every result bit.
    pub fn same(&self, other: &Expr) -> bool {
        let all =
            |a: &[Expr], b: &[Expr]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y));
        match (self, other) {
            (Expr::Const(a), Expr::Const(b)) => a.to_bits() == b.to_bits(),
            (Expr::Unary(o1, a), Expr::Unary(o2, b)) => o1 == o2 && a.same(b),
            (Expr::Binary(o1, a1, b1), Expr::Binary(o2, a2, b2)) => {
                o1 == o2 && a1.same(a2) && b1.same(b2)
            }
            (Expr::Call(f1, a1, s1), Expr::Call(f2, a2, s2)) => f1 == f2 && s1 == s2 && all(a1, a2),
            (Expr::Const(_), _)
            | (Expr::Unary(..), _)
            | (Expr::Binary(..), _)
            | (Expr::Call(..), _) => false,
            (a, b) => a == b,
        }
    }
}
