//! The checked model: names resolved, every expression typed with its physical
//! dimension, values in SI base units. This is what lowering to the IR reads.

use super::units::Dim;
// The built-ins, connection rules and protocol signals are IR vocabulary:
// the checker resolves a model into them and lowering passes them through.
pub use crate::ir::{apply_binary, Func, Signal, Wiring};
use crate::syntax::ast::{AssignOp, BinOp, Span, UnOp};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ty {
    Num(Dim),
    Bool,
    /// The expression already had an error; stay quiet about it.
    Error,
}

impl Ty {
    pub fn dim(self) -> Option<Dim> {
        match self {
            Ty::Num(d) => Some(d),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TExpr {
    pub kind: TKind,
    pub ty: Ty,
    pub span: Span,
}

impl TExpr {
    /// The first reference in `self` (left to right) that `wanted` accepts,
    /// with where it was written.
    pub fn find_ref(&self, wanted: &dyn Fn(Ref) -> bool) -> Option<(Ref, Span)> {
        match &self.kind {
            TKind::Ref(r) if wanted(*r) => Some((*r, self.span)),
            TKind::Unary(_, x) => x.find_ref(wanted),
            TKind::Binary(_, a, b) => a.find_ref(wanted).or_else(|| b.find_ref(wanted)),
            TKind::Call(_, args) => args.iter().find_map(|a| a.find_ref(wanted)),
            _ => None,
        }
    }

    /// Does it call `rand()`, `randn()` or `rand_poisson()`?
    pub fn draws_random(&self) -> bool {
        match &self.kind {
            TKind::Call(f, args) => f.is_random() || args.iter().any(TExpr::draws_random),
            TKind::Unary(_, x) => x.draws_random(),
            TKind::Binary(_, a, b) => a.draws_random() || b.draws_random(),
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
pub enum TKind {
    Const(f64),
    Bool(bool),
    Ref(Ref),
    Unary(UnOp, Box<TExpr>),
    Binary(BinOp, Box<TExpr>, Box<TExpr>),
    Call(Func, Vec<TExpr>),
    Error,
}

/// What a name in an expression refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// Simulation time `t` and step `dt`.
    Time,
    Dt,
    /// The owning neuron's variables (in neuron code).
    Param(usize),
    State(usize),
    Input(usize),
    /// An alias from a neuron's equations block, inlined when lowering.
    Alias(usize),
    /// A `let` inside a statement block.
    Local(usize),
    /// The owning synapse's shared parameters and per-synapse state.
    SynParam(usize),
    SynState(usize),
    /// The presynaptic or postsynaptic cell (in synapse code).
    Pre(CellRef),
    Post(CellRef),
    /// A protocol signal (0 or 1 at each time).
    Signal(usize),
    /// `delay` in synapse code: the synapse's own delay (a time).
    SynDelay,
    /// `i` in a population's arguments: the cell's index in its population
    /// (0 to size - 1), so that a value can vary along it.
    CellIndex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellRef {
    Param(usize),
    State(usize),
    Input(usize),
    /// Time of the cell's last spike (-1e9 s before the first).
    LastSpike,
    /// Whether the cell spiked in this step.
    Spiked,
    /// Time of the last spike that reached the cell through the projection's
    /// teacher (e.g. the climbing fibre of a Purkinje cell).
    LastTeacher,
}

#[derive(Clone, Debug)]
pub enum TStmt {
    Let {
        local: usize,
        value: TExpr,
    },
    Assign {
        target: Target,
        op: AssignOp,
        value: TExpr,
        /// Pulse length in steps for `target += x for 2 ms` (deposits only).
        pulse_steps: Option<u32>,
        span: Span,
    },
    If {
        cond: TExpr,
        then: Vec<TStmt>,
        otherwise: Vec<TStmt>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A neuron's own state variable.
    State(usize),
    /// A synapse's per-synapse state variable.
    SynState(usize),
    /// The projection's target variable on the postsynaptic cell: an
    /// accumulating deposit that arrives after the delay.
    Deposit,
}

/// How a per-cell or per-synapse value starts.
#[derive(Clone, Debug)]
pub enum Init {
    /// An expression of constants and parameters.
    Expr(TExpr),
    Normal {
        mean: TExpr,
        sd: TExpr,
        /// `10%` was written: sd is relative to the mean.
        sd_relative: bool,
        low: Option<TExpr>,
        high: Option<TExpr>,
    },
    Uniform {
        low: TExpr,
        high: TExpr,
    },
}

impl Init {
    /// The same value or distribution with `f` applied to each of its
    /// expressions (a relative sd stays relative).
    pub fn map(self, f: &dyn Fn(TExpr) -> TExpr) -> Init {
        match self {
            Init::Expr(e) => Init::Expr(f(e)),
            Init::Normal {
                mean,
                sd,
                sd_relative,
                low,
                high,
            } => Init::Normal {
                mean: f(mean),
                sd: if sd_relative { sd } else { f(sd) },
                sd_relative,
                low: low.map(f),
                high: high.map(f),
            },
            Init::Uniform { low, high } => Init::Uniform {
                low: f(low),
                high: f(high),
            },
        }
    }

    /// Its expressions: the value, or a distribution's arguments.
    pub fn exprs(&self) -> Vec<&TExpr> {
        match self {
            Init::Expr(e) => vec![e],
            Init::Normal {
                mean,
                sd,
                low,
                high,
                ..
            } => [Some(mean), Some(sd), low.as_ref(), high.as_ref()]
                .into_iter()
                .flatten()
                .collect(),
            Init::Uniform { low, high } => vec![low, high],
        }
    }
}

#[derive(Clone, Debug)]
pub struct Var {
    pub name: String,
    pub dim: Dim,
    pub init: Option<Init>,
    pub span: Span,
    /// The unit written in its declaration (`g: 1/ms`), if any, and that
    /// unit's size in SI: how to show its values (traces, figures).
    pub unit: Option<(String, f64)>,
    /// Declared as a bare number with no unit (`tau = 200`); used to hint.
    pub bare_number: bool,
    /// Its declaration had an error: uses of it stay quiet.
    pub broken: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Euler,
    Exact,
    Rk4,
}

#[derive(Clone, Debug)]
pub struct Equation {
    pub var: usize,
    pub rhs: TExpr,
    pub method: Method,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct NeuronType {
    pub name: String,
    pub params: Vec<Var>,
    pub state: Vec<Var>,
    pub inputs: Vec<Var>,
    pub aliases: Vec<(String, TExpr)>,
    pub equations: Vec<Equation>,
    pub update: Vec<TStmt>,
    pub spike: Option<TExpr>,
    pub reset: Vec<TStmt>,
    pub refractory: Option<Refractory>,
    pub locals: usize,
    pub span: Span,
}

/// `refractory PERIOD holding VARS`. The period may read parameters, so
/// each population's own values give its length (`PopulationKind::Neuron`'s
/// `refractory_steps`).
#[derive(Clone, Debug)]
pub struct Refractory {
    pub period: TExpr,
    /// The state variables held during the period.
    pub held: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct SynapseType {
    pub name: String,
    pub params: Vec<Var>,
    pub state: Vec<Var>,
    /// `bounds X in [lo, hi]`, in terms of the type's parameters: each
    /// projection evaluates them with its own values (`Projection::bounds`).
    pub bounds: Vec<Bound>,
    pub span: Span,
}

/// One `bounds` line of a synapse type.
#[derive(Clone, Debug)]
pub struct Bound {
    pub var: usize,
    /// Constant expressions of numbers, dt and the type's parameters.
    pub low: TExpr,
    pub high: TExpr,
    pub span: Span,
}

/// A synapse type's event code, typed in the context of one projection
/// (its `pre.` and `post.` names depend on the populations it joins).
#[derive(Clone, Debug, Default)]
pub struct Handlers {
    pub on_pre: Vec<TStmt>,
    pub on_post: Vec<TStmt>,
    pub on_teacher: Vec<TStmt>,
    /// (period in steps, body).
    pub every: Vec<(u32, Vec<TStmt>)>,
    pub locals: usize,
}

#[derive(Clone, Debug)]
pub enum SourceKind {
    /// Spike with probability 1 - exp(-rate dt) per step; rate may vary with t.
    /// It may differ between cells (`i`, a distribution).
    Poisson { rate: Init },
    /// Spike with probability p per step, then `refractory_steps` blocked.
    Bernoulli { p: Init, refractory_steps: u32 },
    /// Every listed cell (or all) spikes at each listed time (step indices).
    SpikeTimes {
        steps: Vec<u64>,
        cells: Option<Vec<usize>>,
    },
}

#[derive(Clone, Debug)]
pub enum PopulationKind {
    Neuron {
        neuron: usize,
        /// Parameter values and initial states set by the population.
        overrides: Vec<(OverrideVar, Init)>,
        /// The refractory period in steps, with this population's values.
        refractory_steps: u32,
    },
    Source(Box<SourceKind>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverrideVar {
    Param(usize),
    State(usize),
}

#[derive(Clone, Debug)]
pub struct Population {
    pub name: String,
    pub size: usize,
    pub kind: PopulationKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetVar {
    Input(usize),
    State(usize),
}

#[derive(Clone, Debug)]
pub struct Projection {
    pub name: String,
    pub source: usize,
    pub target: usize,
    pub target_var: TargetVar,
    pub synapse: usize,
    /// Shared parameter values (SI), overriding the synapse type's defaults.
    pub params: Vec<f64>,
    /// Per-synapse state initialisers, one per synapse state variable.
    pub state_init: Vec<Init>,
    /// (state variable, low, high) in SI units: the type's bounds with this
    /// projection's parameter values.
    pub bounds: Vec<(usize, f64, f64)>,
    pub wiring: Wiring,
    /// `probability(p = EXPR)` whose p reads each pair's cells
    /// (`exp(-abs(pre.x - post.x) / 50 um)`): `wiring` is then the
    /// all-to-all pairs it draws from, each kept with this probability.
    pub pair_probability: Option<TExpr>,
    /// `connect = same_as(P)`: the synapses of projection P (declared
    /// before, between the same populations), pair for pair; `wiring` is
    /// then P's rule, for the estimates made before the network is built.
    pub wiring_of: Option<usize>,
    /// The delay in steps; with `delay_draw`, the shortest one.
    pub delay_steps: u32,
    /// `delay = uniform(...)` or `normal(...)`: a delay per synapse.
    pub delay_draw: Option<DelayDraw>,
    pub teacher: Option<usize>,
    pub handlers: Handlers,
    pub span: Span,
}

/// Delays drawn per synapse (in seconds), each rounded to whole steps, from
/// the projection's `delay_steps` to `max_steps`.
#[derive(Clone, Debug)]
pub struct DelayDraw {
    pub init: Init,
    pub max_steps: u32,
}

#[derive(Clone, Debug)]
pub struct GapJunction {
    pub name: String,
    pub population: usize,
    /// Each cell picks this many partners; every picked pair couples both ends.
    pub partners: usize,
    pub distinct: bool,
    /// Coupling coefficient in SI (dimension: target / voltage).
    pub coupling: f64,
    pub voltage: usize,
    pub target: TargetVar,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum RecorderKind {
    SpikeCounts {
        population: usize,
        bin_steps: u32,
        cells: usize,
    },
    SpikeTimes {
        population: usize,
        /// Only cells 0..cells are recorded.
        cells: usize,
    },
    Trace {
        population: usize,
        var: TraceVar,
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
    /// Which cells a projection's synapses join (and their delays where
    /// drawn), once: for any synapse type, with or without state.
    Wiring {
        projection: usize,
        max_synapses: usize,
    },
}

impl RecorderKind {
    /// The suffixes of the arrays this recorder writes to the `.npz`, after
    /// its name (`crate::npz_keys`; `record::Recording::arrays` writes them,
    /// and a test keeps the two in step). `model` tells whether a recorded
    /// projection has delays drawn per synapse.
    pub fn array_suffixes(&self, model: &Model) -> &'static [&'static str] {
        use crate::npz_keys::*;
        match self {
            RecorderKind::SpikeCounts { .. } | RecorderKind::Rate { .. } => &["", BIN],
            RecorderKind::SpikeTimes { .. } => &[TIMES, SPIKING_CELLS],
            RecorderKind::Trace { .. } => &["", TIMES, TRACE_CELLS],
            RecorderKind::Weights { projection, .. }
                if model
                    .projections
                    .get(*projection)
                    .is_some_and(|q| q.delay_draw.is_some()) =>
            {
                &["", TIMES, PRE, POST, DELAY]
            }
            RecorderKind::Weights { .. } => &["", TIMES, PRE, POST],
            RecorderKind::Wiring { projection, .. }
                if model
                    .projections
                    .get(*projection)
                    .is_some_and(|q| q.delay_draw.is_some()) =>
            {
                &[PRE, POST, DELAY]
            }
            RecorderKind::Wiring { .. } => &[PRE, POST],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceVar {
    State(usize),
    Input(usize),
    /// A parameter with a value per cell in the population (drawn, or
    /// along it): constant in time, recorded to see the values.
    Param(usize),
}

#[derive(Clone, Debug)]
pub struct Recorder {
    pub name: String,
    pub kind: RecorderKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    pub dt: f64,
    pub duration: f64,
    pub seed: u64,
    pub neurons: Vec<NeuronType>,
    pub synapses: Vec<SynapseType>,
    pub populations: Vec<Population>,
    pub projections: Vec<Projection>,
    pub gaps: Vec<GapJunction>,
    pub recorders: Vec<Recorder>,
    pub signals: Vec<Signal>,
    /// Population update order within a step.
    pub schedule: Vec<usize>,
}

/// The nearest whole number of steps of `dt` in `duration`, halves rounded
/// up: also when the division lands a hair below the half (0.15 ms / 0.1 ms
/// is 1.4999999999999998, which `round` takes to 1 while 0.25 ms / 0.1 ms
/// goes to 3).
pub fn whole_steps(duration: f64, dt: f64) -> f64 {
    ((duration / dt) * (1.0 + 1e-12)).round()
}

impl Model {
    pub fn steps(&self) -> u64 {
        whole_steps(self.duration, self.dt).max(0.0) as u64
    }
    pub fn population_index(&self, name: &str) -> Option<usize> {
        self.populations.iter().position(|p| p.name == name)
    }
    pub fn projection_index(&self, name: &str) -> Option<usize> {
        self.projections.iter().position(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::whole_steps;

    /// Halves round up whichever side of the half the division lands on.
    #[test]
    fn whole_steps_round_halves_up() {
        for (duration, dt, steps) in [
            (0.15e-3, 0.1e-3, 2.0),
            (0.25e-3, 0.1e-3, 3.0),
            (0.35e-3, 0.1e-3, 4.0),
            (1.05e-3, 0.1e-3, 11.0),
            (10.5e-3, 1e-3, 11.0),
            (10.4e-3, 1e-3, 10.0),
            (1.0, 1e-3, 1000.0),
            (60.0, 1e-4, 600_000.0),
        ] {
            assert_eq!(whole_steps(duration, dt), steps, "{duration} / {dt}");
        }
    }
}
