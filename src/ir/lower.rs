//! Lowering a checked model to the IR.

use super::fold::{fold, fold_stmts};
use super::*;
use crate::check::linear;
use crate::check::model::{
    self as m, CellRef, Init, Method, Model, Ref, TExpr, TKind, TStmt, Target, Ty,
};
use crate::check::units::Dim;
use crate::syntax::ast::AssignOp;

/// Lower a checked model. Err only for values the checker accepted but that
/// turn out not to be constant (a message for the user, not a panic).
pub fn lower(model: &Model) -> Result<Ir, String> {
    let mut populations = Vec::new();
    let mut layouts = Vec::new();
    for p in &model.populations {
        let (pop, layout) = population(model, p)?;
        populations.push(pop);
        layouts.push(layout);
    }
    let mut projections = Vec::new();
    for p in &model.projections {
        projections.push(projection(model, p, &layouts)?);
    }
    let gaps = model
        .gaps
        .iter()
        .map(|g| {
            let l = &layouts[g.population];
            GapIr {
                name: g.name.clone(),
                population: g.population,
                partners: g.partners,
                distinct: g.distinct,
                coupling: g.coupling,
                voltage: l.state[g.voltage],
                target: l.target(g.target),
            }
        })
        .collect();
    let recorders = model
        .recorders
        .iter()
        .map(|r| recorder(r, &layouts))
        .collect::<Result<_, _>>()?;
    Ok(Ir {
        model_name: model.name.clone(),
        dt: model.dt,
        steps: model.steps(),
        seed: model.seed,
        populations,
        projections,
        gaps,
        recorders,
        signals: model.signals.clone(),
        schedule: model.schedule.clone(),
    })
}

/// A recorder in IR terms: the variables it reads, where lowering put them.
fn recorder(r: &m::Recorder, layouts: &[Layout]) -> Result<RecorderIr, String> {
    Ok(RecorderIr {
        name: r.name.clone(),
        kind: match &r.kind {
            m::RecorderKind::SpikeCounts {
                population,
                bin_steps,
                cells,
            } => RecorderKindIr::SpikeCounts {
                population: *population,
                bin_steps: *bin_steps,
                cells: *cells,
            },
            m::RecorderKind::SpikeTimes { population, cells } => RecorderKindIr::SpikeTimes {
                population: *population,
                cells: *cells,
            },
            m::RecorderKind::Rate {
                population,
                bin_steps,
            } => RecorderKindIr::Rate {
                population: *population,
                bin_steps: *bin_steps,
            },
            m::RecorderKind::Trace {
                population,
                var,
                cells,
                every_steps,
            } => {
                let l = &layouts[*population];
                let var = match var {
                    m::TraceVar::State(i) => l.state[*i],
                    m::TraceVar::Input(i) => l.inputs[*i],
                    m::TraceVar::Param(i) => match l.params.get(*i) {
                        Some(Expr::Var(v)) => *v,
                        _ => {
                            return Err(format!(
                                "internal error: recorder `{}` traces a parameter with one value for all cells",
                                r.name
                            ))
                        }
                    },
                };
                RecorderKindIr::Trace {
                    population: *population,
                    var,
                    cells: cells.clone(),
                    every_steps: *every_steps,
                }
            }
            m::RecorderKind::Weights {
                projection,
                var,
                every_steps,
                max_synapses,
            } => RecorderKindIr::Weights {
                projection: *projection,
                var: *var,
                every_steps: *every_steps,
                max_synapses: *max_synapses,
            },
            m::RecorderKind::Wiring {
                projection,
                max_synapses,
            } => RecorderKindIr::Wiring {
                projection: *projection,
                max_synapses: *max_synapses,
            },
        },
    })
}

fn is_comparison(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
    )
}

/// Where a neuron type's variables went in a population's `vars`, and what
/// each parameter became (a constant, or a per-cell variable).
#[derive(Clone, Default)]
struct Layout {
    state: Vec<usize>,
    inputs: Vec<usize>,
    params: Vec<Expr>,
    /// The variable holding each cell's index, where the population's
    /// arguments use `i`.
    cell_index: Option<usize>,
}

impl Layout {
    fn target(&self, t: m::TargetVar) -> usize {
        match t {
            m::TargetVar::Input(i) => self.inputs[i],
            m::TargetVar::State(i) => self.state[i],
        }
    }
}

/// Translation of typed expressions in one context.
struct Ctx<'a> {
    dt: f64,
    /// Neuron context: the population's layout and aliases.
    layout: Option<&'a Layout>,
    aliases: &'a [(String, TExpr)],
    /// Synapse context: shared parameter values and pre/post layouts.
    syn_params: &'a [f64],
    /// Synapse context: what `delay` reads (a constant, or the synapse
    /// variable that holds each synapse's drawn delay).
    syn_delay: Option<Expr>,
    pre: Option<&'a Layout>,
    post: Option<&'a Layout>,
    local_base: usize,
    site: u32,
}

impl<'a> Ctx<'a> {
    /// A context for cell code (or, with no layout, for source rates).
    fn cell(dt: f64, layout: Option<&'a Layout>, aliases: &'a [(String, TExpr)]) -> Self {
        Ctx {
            dt,
            layout,
            aliases,
            syn_params: &[],
            syn_delay: None,
            pre: None,
            post: None,
            local_base: 0,
            site: 0,
        }
    }

    fn expr(&mut self, e: &TExpr) -> Result<Expr, String> {
        Ok(match &e.kind {
            TKind::Const(v) => Expr::Const(*v),
            TKind::Bool(b) => Expr::Const(f64::from(u8::from(*b))),
            TKind::Error => {
                return Err("internal error: an expression with an error reached lowering".into())
            }
            TKind::Unary(op, x) => Expr::Unary(*op, Box::new(self.expr(x)?)),
            TKind::Binary(op, a, b) if is_comparison(*op) && a.ty == Ty::Num(Dim::TIME) => {
                // Times live on the step grid but are stored as seconds, so
                // `t - pre.last_spike <= 100 ms` could miss its boundary step
                // by a rounding error. Compare the difference with a
                // tolerance far below one step: boundaries are exact.
                let tol = self.dt * 1e-6;
                let diff =
                    Expr::Binary(BinOp::Sub, Box::new(self.expr(a)?), Box::new(self.expr(b)?));
                let c = |v: f64| Box::new(Expr::Const(v));
                match op {
                    BinOp::Lt => Expr::Binary(BinOp::Lt, Box::new(diff), c(-tol)),
                    BinOp::Le => Expr::Binary(BinOp::Le, Box::new(diff), c(tol)),
                    BinOp::Gt => Expr::Binary(BinOp::Gt, Box::new(diff), c(tol)),
                    BinOp::Ge => Expr::Binary(BinOp::Ge, Box::new(diff), c(-tol)),
                    BinOp::Eq => Expr::Binary(
                        BinOp::Le,
                        Box::new(Expr::Call(Func::Abs, vec![diff], 0)),
                        c(tol),
                    ),
                    _ => Expr::Binary(
                        BinOp::Gt,
                        Box::new(Expr::Call(Func::Abs, vec![diff], 0)),
                        c(tol),
                    ),
                }
            }
            TKind::Binary(op, a, b) => {
                Expr::Binary(*op, Box::new(self.expr(a)?), Box::new(self.expr(b)?))
            }
            TKind::Call(f, args) => {
                let args = args
                    .iter()
                    .map(|a| self.expr(a))
                    .collect::<Result<Vec<_>, _>>()?;
                // Each random call draws its own numbers (its site); other
                // calls need none, so that adding `sqrt(dt / 1 ms)` to a
                // noisy expression does not change which numbers it draws.
                let site = if f.is_random() {
                    self.site += 1;
                    if self.site >= crate::network::rng::SITES {
                        return Err(format!(
                            "more than {} calls of rand(), randn() and rand_poisson() in one cell type",
                            crate::network::rng::SITES - 1
                        ));
                    }
                    self.site
                } else {
                    0
                };
                Expr::Call(*f, args, site)
            }
            TKind::Ref(r) => self.reference(*r)?,
        })
    }

    fn reference(&mut self, r: Ref) -> Result<Expr, String> {
        let missing = || format!("internal error: reference {r:?} out of context");
        Ok(match r {
            Ref::Time => Expr::Time,
            Ref::Dt => Expr::Const(self.dt),
            Ref::Signal(i) => Expr::Signal(i),
            Ref::SynDelay => self
                .syn_delay
                .clone()
                .ok_or_else(|| "`delay` outside synapse code".to_string())?,
            Ref::Local(i) => Expr::Local(self.local_base + i),
            Ref::Param(i) => self
                .layout
                .and_then(|l| l.params.get(i))
                .cloned()
                .ok_or_else(missing)?,
            Ref::State(i) => Expr::Var(
                *self
                    .layout
                    .and_then(|l| l.state.get(i))
                    .ok_or_else(missing)?,
            ),
            Ref::Input(i) => Expr::Var(
                *self
                    .layout
                    .and_then(|l| l.inputs.get(i))
                    .ok_or_else(missing)?,
            ),
            Ref::Alias(i) => {
                let a = self.aliases.get(i).ok_or_else(missing)?.1.clone();
                self.expr(&a)?
            }
            Ref::SynParam(i) => Expr::Const(*self.syn_params.get(i).ok_or_else(missing)?),
            Ref::SynState(i) => Expr::Var(i),
            Ref::CellIndex => {
                Expr::Var(self.layout.and_then(|l| l.cell_index).ok_or_else(missing)?)
            }
            Ref::Pre(c) => cell(self.pre, c, true).ok_or_else(missing)?,
            Ref::Post(c) => cell(self.post, c, false).ok_or_else(missing)?,
        })
    }

    fn stmts(&mut self, stmts: &[TStmt], held: &[usize]) -> Result<Vec<Stmt>, String> {
        let mut out = Vec::new();
        for s in stmts {
            match s {
                TStmt::Let { local, value } => out.push(Stmt::SetLocal {
                    local: self.local_base + local,
                    value: self.expr(value)?,
                }),
                TStmt::If {
                    cond,
                    then,
                    otherwise,
                } => out.push(Stmt::If {
                    cond: self.expr(cond)?,
                    then: self.stmts(then, held)?,
                    otherwise: self.stmts(otherwise, held)?,
                }),
                TStmt::Assign {
                    target,
                    op,
                    value,
                    pulse_steps,
                    ..
                } => {
                    let v = self.expr(value)?;
                    match target {
                        Target::Deposit => {
                            let value = if *op == AssignOp::Sub {
                                Expr::Unary(UnOp::Neg, Box::new(v))
                            } else {
                                v
                            };
                            out.push(Stmt::Deposit {
                                value,
                                pulse_steps: pulse_steps.unwrap_or(1),
                            });
                        }
                        Target::State(i) | Target::SynState(i) => {
                            let var = match target {
                                Target::State(_) => *self
                                    .layout
                                    .and_then(|l| l.state.get(*i))
                                    .ok_or("internal error: state out of range")?,
                                _ => *i,
                            };
                            let cur = Expr::Var(var);
                            let value = match op {
                                AssignOp::Set => v,
                                AssignOp::Add => {
                                    Expr::Binary(BinOp::Add, Box::new(cur), Box::new(v))
                                }
                                AssignOp::Sub => {
                                    Expr::Binary(BinOp::Sub, Box::new(cur), Box::new(v))
                                }
                                AssignOp::Mul => {
                                    Expr::Binary(BinOp::Mul, Box::new(cur), Box::new(v))
                                }
                                AssignOp::Div => {
                                    Expr::Binary(BinOp::Div, Box::new(cur), Box::new(v))
                                }
                            };
                            let held = matches!(target, Target::State(_)) && held.contains(i);
                            out.push(Stmt::Set { var, value, held });
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

fn cell(layout: Option<&Layout>, c: CellRef, _pre: bool) -> Option<Expr> {
    let access = |a: CellAccess| Some(a);
    let a = match c {
        CellRef::LastSpike => access(CellAccess::LastSpike),
        CellRef::Spiked => access(CellAccess::Spiked),
        CellRef::LastTeacher => access(CellAccess::LastTeacher),
        CellRef::State(i) => access(CellAccess::Var(*layout?.state.get(i)?)),
        CellRef::Input(i) => access(CellAccess::Var(*layout?.inputs.get(i)?)),
        CellRef::Param(i) => match layout?.params.get(i)? {
            Expr::Var(v) => access(CellAccess::Var(*v)),
            e => return Some(e.clone()),
        },
    }?;
    Some(if _pre { Expr::Pre(a) } else { Expr::Post(a) })
}

fn population(model: &Model, p: &m::Population) -> Result<(PopulationIr, Layout), String> {
    let dt = model.dt;
    let (neuron, overrides, refractory_steps) = match &p.kind {
        m::PopulationKind::Source(s) => {
            let kind = match s.as_ref() {
                m::SourceKind::Poisson { rate } => {
                    let (rate, per_cell) = source_rate(dt, rate, "rate")?;
                    SourceIr::Poisson { rate, per_cell }
                }
                m::SourceKind::Bernoulli {
                    p,
                    refractory_steps,
                } => {
                    let (p, per_cell) = source_rate(dt, p, "p")?;
                    SourceIr::Bernoulli {
                        p,
                        refractory_steps: *refractory_steps,
                        per_cell,
                    }
                }
                m::SourceKind::SpikeTimes { steps, cells } => SourceIr::SpikeTimes {
                    steps: steps.clone(),
                    cells: cells.clone(),
                },
            };
            return Ok((
                PopulationIr {
                    name: p.name.clone(),
                    size: p.size,
                    kind: PopulationKindIr::Source(kind),
                },
                Layout::default(),
            ));
        }
        m::PopulationKind::Neuron {
            neuron,
            overrides,
            refractory_steps,
        } => (&model.neurons[*neuron], overrides, *refractory_steps),
    };
    let n_state = neuron.state.len();
    let n_inputs = neuron.inputs.len();
    let mut layout = Layout {
        state: (0..n_state).collect(),
        inputs: (n_state..n_state + n_inputs).collect(),
        params: vec![],
        cell_index: None,
    };
    let mut vars: Vec<VarIr> = Vec::new();
    let mut cell_params = Vec::new();
    // `i` in the population's arguments reads a variable of its own, after
    // the other per-cell ones: each variable draws from a random stream of
    // its place, so the draws of a model are the same with `i` or without.
    // Its place is known once the parameters are lowered; until then they
    // read a stand-in.
    const INDEX_STAND_IN: usize = usize::MAX;
    let uses_index = overrides.iter().any(|(_, init)| {
        init.exprs()
            .iter()
            .any(|e| e.find_ref(&|r| r == Ref::CellIndex).is_some())
    });
    if uses_index {
        layout.cell_index = Some(INDEX_STAND_IN);
    }
    // Parameters: constants, or per-cell variables when drawn per cell.
    for (i, param) in neuron.params.iter().enumerate() {
        let over = overrides
            .iter()
            .find(|(v, _)| *v == m::OverrideVar::Param(i))
            .map(|(_, init)| init);
        let init = over
            .or(param.init.as_ref())
            .ok_or_else(|| format!("parameter `{}` of `{}` has no value", param.name, p.name))?;
        let mut ctx = Ctx::cell(dt, Some(&layout), &[]);
        let lowered = init_ir(&mut ctx, init)?;
        let e = match lowered {
            InitIr::Const(v) => Expr::Const(v),
            other => {
                let var = n_state + n_inputs + cell_params.len();
                cell_params.push(VarIr {
                    name: param.name.clone(),
                    kind: VarKind::CellParam,
                    init: other,
                });
                Expr::Var(var)
            }
        };
        layout.params.push(e);
    }
    if uses_index {
        // (Only per-cell parameters can read it: `layout.params` holds
        // constants and their variables.)
        let index = n_state + n_inputs + cell_params.len();
        let mut place = |e: &Expr| -> Option<Expr> {
            matches!(e, Expr::Var(INDEX_STAND_IN)).then_some(Expr::Var(index))
        };
        for p in &mut cell_params {
            if let InitIr::Expr(e) = &p.init {
                p.init = InitIr::Expr(e.map_leaves(&mut place));
            }
        }
        layout.cell_index = Some(index);
        cell_params.push(VarIr {
            name: "i".into(),
            kind: VarKind::CellParam,
            init: InitIr::CellIndex,
        });
    }
    for (i, s) in neuron.state.iter().enumerate() {
        let over = overrides
            .iter()
            .find(|(v, _)| *v == m::OverrideVar::State(i))
            .map(|(_, init)| init);
        let mut ctx = Ctx::cell(dt, Some(&layout), &[]);
        let init = match over.or(s.init.as_ref()) {
            Some(init) => init_ir(&mut ctx, init)?,
            None => InitIr::Const(0.0),
        };
        vars.push(VarIr {
            name: s.name.clone(),
            kind: VarKind::State,
            init,
        });
    }
    for input in &neuron.inputs {
        vars.push(VarIr {
            name: input.name.clone(),
            kind: VarKind::Input,
            init: InitIr::Const(0.0),
        });
    }
    vars.extend(cell_params);

    let held: Vec<usize> = neuron
        .refractory
        .as_ref()
        .map(|r| r.held.clone())
        .unwrap_or_default();
    let mut ctx = Ctx::cell(dt, Some(&layout), &neuron.aliases);
    let mut next_local = neuron.locals;
    let mut step = integrate(&mut ctx, neuron, &held, &mut next_local)?;
    step.extend(ctx.stmts(&neuron.update, &held)?);
    let spike = match &neuron.spike {
        Some(s) => Some(fold(ctx.expr(s)?)),
        None => None,
    };
    let reset = fold_stmts(ctx.stmts(&neuron.reset, &[])?);
    let ir = NeuronIr {
        type_name: neuron.name.clone(),
        vars,
        step: fold_stmts(step),
        spike,
        reset,
        refractory_steps,
        locals: next_local,
        checked_vars: (0..n_state).collect(),
    };
    Ok((
        PopulationIr {
            name: p.name.clone(),
            size: p.size,
            kind: PopulationKindIr::Neuron(ir),
        },
        layout,
    ))
}

/// A spike source's rate (or probability) and the per-cell values it
/// reads: a distribution becomes a variable drawn per cell (`Var(0)`), `i`
/// a variable holding each cell's index.
fn source_rate(dt: f64, init: &Init, name: &str) -> Result<(Expr, Vec<VarIr>), String> {
    let layout = Layout {
        cell_index: Some(0),
        ..Layout::default()
    };
    let mut ctx = Ctx::cell(dt, Some(&layout), &[]);
    let (e, init) = match init_ir(&mut ctx, init)? {
        InitIr::Const(v) => return Ok((Expr::Const(v), vec![])),
        InitIr::Expr(e) => (e, InitIr::CellIndex),
        drawn => (Expr::Var(0), drawn),
    };
    let mut per_cell = vec![];
    if crate::ir::walk_finds(&e, &|x| *x == Expr::Var(0)) {
        per_cell.push(VarIr {
            name: if matches!(init, InitIr::CellIndex) {
                "i".into()
            } else {
                name.into()
            },
            kind: VarKind::CellParam,
            init,
        });
    }
    Ok((e, per_cell))
}

fn init_ir(ctx: &mut Ctx, init: &Init) -> Result<InitIr, String> {
    let constant = |ctx: &mut Ctx, e: &TExpr| -> Result<f64, String> {
        match fold(ctx.expr(e)?) {
            Expr::Const(v) => Ok(v),
            _ => Err("a distribution's arguments must be constants".to_string()),
        }
    };
    Ok(match init {
        Init::Expr(e) => match fold(ctx.expr(e)?) {
            Expr::Const(v) => InitIr::Const(v),
            other => InitIr::Expr(other),
        },
        Init::Normal {
            mean,
            sd,
            sd_relative,
            low,
            high,
        } => {
            let mean_v = constant(ctx, mean)?;
            let mut sd_v = constant(ctx, sd)?;
            if *sd_relative {
                sd_v *= mean_v.abs();
            }
            let low = match low {
                Some(l) => constant(ctx, l)?,
                None => f64::NEG_INFINITY,
            };
            let high = match high {
                Some(h) => constant(ctx, h)?,
                None => f64::INFINITY,
            };
            // The checker reports this where it can evaluate the bounds; a
            // clear error here rather than a panic when clamping.
            if low > high || low.is_nan() || high.is_nan() {
                return Err(format!(
                    "normal(...): the lower bound {low} is above the upper bound {high}"
                ));
            }
            InitIr::Normal {
                mean: mean_v,
                sd: sd_v,
                low,
                high,
            }
        }
        Init::Uniform { low, high } => InitIr::Uniform {
            low: constant(ctx, low)?,
            high: constant(ctx, high)?,
        },
    })
}

/// Discretise the ODEs. Every right-hand side sees the start-of-step values:
/// new values go to locals first and are stored at the end.
fn integrate(
    ctx: &mut Ctx,
    n: &m::NeuronType,
    held: &[usize],
    next_local: &mut usize,
) -> Result<Vec<Stmt>, String> {
    let dt = ctx.dt;
    let mut out = Vec::new();
    let mut stores = Vec::new();
    let mut alloc = || {
        *next_local += 1;
        *next_local - 1
    };
    let c = Expr::Const;
    let bin = |op, a: Expr, b: Expr| Expr::Binary(op, Box::new(a), Box::new(b));
    let rk4: Vec<&m::Equation> = n
        .equations
        .iter()
        .filter(|e| e.method == Method::Rk4)
        .collect();
    for eq in n.equations.iter().filter(|e| e.method != Method::Rk4) {
        let x = Expr::Var(eq.var);
        let new = match eq.method {
            Method::Euler => bin(BinOp::Add, x, bin(BinOp::Mul, c(dt), ctx.expr(&eq.rhs)?)),
            _ => {
                let rhs = linear::inline_aliases(&eq.rhs, &n.aliases);
                let (a, b) = linear::coefficients(&rhs, Ref::State(eq.var))
                    .ok_or("internal error: [exact] on a nonlinear equation")?;
                let a = ctx.expr(&retype(a))?;
                match b {
                    None => bin(BinOp::Add, x, bin(BinOp::Mul, c(dt), a)),
                    Some(b) => {
                        let b = ctx.expr(&retype(b))?;
                        let growth =
                            Expr::Call(Func::Exp, vec![bin(BinOp::Mul, b.clone(), c(dt))], 0);
                        if matches!(fold(a.clone()), Expr::Const(z) if z == 0.0) {
                            // dx/dt = b x: x(t+dt) = x exp(b dt). (The general
                            // form would add and subtract a zero, which no
                            // engine may drop: it turns -0 into +0.)
                            bin(BinOp::Mul, x, growth)
                        } else if !matches!(fold(b.clone()), Expr::Const(z) if z != 0.0) {
                            // b varies (in time, or per cell), or is zero: a/b
                            // would be 0/0 where b is zero. x(t+dt) = x exp(z)
                            // + a dt phi(z), z = b dt, phi(z) = expm1(z) / z,
                            // phi(0) = 1. z is computed once, into a local.
                            let lz = alloc();
                            out.push(Stmt::SetLocal {
                                local: lz,
                                value: bin(BinOp::Mul, b, c(dt)),
                            });
                            let z = Expr::Local(lz);
                            let growth = Expr::Call(Func::Exp, vec![z.clone()], 0);
                            let phi = Expr::Call(
                                Func::Select,
                                vec![
                                    bin(BinOp::Eq, z.clone(), c(0.0)),
                                    c(1.0),
                                    bin(BinOp::Div, Expr::Call(Func::Expm1, vec![z.clone()], 0), z),
                                ],
                                0,
                            );
                            bin(
                                BinOp::Add,
                                bin(BinOp::Mul, x, growth),
                                bin(BinOp::Mul, bin(BinOp::Mul, a, c(dt)), phi),
                            )
                        } else {
                            // x(t+dt) = (x + a/b) exp(b dt) - a/b
                            let a_over_b = bin(BinOp::Div, a, b);
                            bin(
                                BinOp::Sub,
                                bin(BinOp::Mul, bin(BinOp::Add, x, a_over_b.clone()), growth),
                                a_over_b,
                            )
                        }
                    }
                }
            }
        };
        let l = alloc();
        out.push(Stmt::SetLocal {
            local: l,
            value: new,
        });
        stores.push((eq.var, l));
    }
    if !rk4.is_empty() {
        // Classic RK4 over the rk4 equations together, other state frozen.
        let rhs: Vec<Expr> = rk4
            .iter()
            .map(|eq| ctx.expr(&eq.rhs))
            .collect::<Result<_, _>>()?;
        let vars: Vec<usize> = rk4.iter().map(|e| e.var).collect();
        let mut ks: Vec<Vec<usize>> = Vec::new();
        for (stage, frac) in [0.0, 0.5, 0.5, 1.0].into_iter().enumerate() {
            // Stage inputs: x + frac*dt*k_prev
            let mut shifted = Vec::new();
            for (j, v) in vars.iter().enumerate() {
                if stage == 0 {
                    shifted.push(Expr::Var(*v));
                } else {
                    let l = alloc();
                    let moved = bin(
                        BinOp::Add,
                        Expr::Var(*v),
                        bin(BinOp::Mul, c(frac * dt), Expr::Local(ks[stage - 1][j])),
                    );
                    // A held variable stays put in every stage while the
                    // cell is refractory, as it does in Euler: the variables
                    // coupled to it see the value it keeps.
                    let value = if held.contains(v) {
                        Expr::Call(
                            Func::Select,
                            vec![Expr::Refractory, Expr::Var(*v), moved],
                            0,
                        )
                    } else {
                        moved
                    };
                    out.push(Stmt::SetLocal { local: l, value });
                    shifted.push(Expr::Local(l));
                }
            }
            let mut k = Vec::new();
            for r in &rhs {
                let l = alloc();
                let mut value = substitute(r, &vars, &shifted);
                if stage > 0 {
                    // Each stage at its own time: t + frac dt (signals and
                    // rand() stay those of the step's start).
                    value = at_time(&value, &bin(BinOp::Add, Expr::Time, c(frac * dt)));
                }
                out.push(Stmt::SetLocal { local: l, value });
                k.push(l);
            }
            ks.push(k);
        }
        for (j, v) in vars.iter().enumerate() {
            let sum = bin(
                BinOp::Add,
                bin(
                    BinOp::Add,
                    Expr::Local(ks[0][j]),
                    bin(BinOp::Mul, c(2.0), Expr::Local(ks[1][j])),
                ),
                bin(
                    BinOp::Add,
                    bin(BinOp::Mul, c(2.0), Expr::Local(ks[2][j])),
                    Expr::Local(ks[3][j]),
                ),
            );
            let l = alloc();
            out.push(Stmt::SetLocal {
                local: l,
                value: bin(BinOp::Add, Expr::Var(*v), bin(BinOp::Mul, c(dt / 6.0), sum)),
            });
            stores.push((*v, l));
        }
    }
    for (var, l) in stores {
        out.push(Stmt::Set {
            var,
            value: Expr::Local(l),
            held: held.contains(&var),
        });
    }
    Ok(out)
}

/// `e` with the time `t` replaced by `time`.
fn at_time(e: &Expr, time: &Expr) -> Expr {
    e.map_leaves(&mut |leaf| matches!(leaf, Expr::Time).then(|| time.clone()))
}

/// Replace references to `vars[j]` by `with[j]`.
fn substitute(e: &Expr, vars: &[usize], with: &[Expr]) -> Expr {
    e.map_leaves(&mut |leaf| match leaf {
        Expr::Var(v) => vars.iter().position(|x| x == v).map(|j| with[j].clone()),
        _ => None,
    })
}

/// The symbolic helpers build trees without types; lowering does not need them.
fn retype(e: TExpr) -> TExpr {
    TExpr { ty: Ty::Error, ..e }
}

fn projection(
    model: &Model,
    p: &m::Projection,
    layouts: &[Layout],
) -> Result<ProjectionIr, String> {
    let ty = &model.synapses[p.synapse];
    let dt = model.dt;
    let mut ctx = Ctx {
        dt,
        layout: None,
        aliases: &[],
        syn_params: &p.params,
        syn_delay: None,
        pre: Some(&layouts[p.source]),
        post: Some(&layouts[p.target]),
        local_base: 0,
        site: 0,
    };
    let mut vars = Vec::new();
    for (i, v) in ty.state.iter().enumerate() {
        vars.push(VarIr {
            name: v.name.clone(),
            kind: VarKind::State,
            init: init_ir(&mut ctx, &p.state_init[i])?,
        });
    }
    // `delay` in synapse code: the one delay, or each synapse's drawn one,
    // kept in a variable after the type's state (added below if read).
    let delay_var = vars.len();
    ctx.syn_delay = Some(match &p.delay_draw {
        Some(_) => Expr::Var(delay_var),
        None => Expr::Const(f64::from(p.delay_steps) * dt),
    });
    let h = &p.handlers;
    let mut on_pre = ctx.stmts(&h.on_pre, &[])?;
    let mut on_post = ctx.stmts(&h.on_post, &[])?;
    let mut on_teacher = ctx.stmts(&h.on_teacher, &[])?;
    let mut every = Vec::new();
    for (period, body) in &h.every {
        every.push((*period, ctx.stmts(body, &[])?));
    }
    let reads_delay = p.delay_draw.is_some()
        && [&on_pre, &on_post, &on_teacher]
            .into_iter()
            .chain(every.iter().map(|e| &e.1))
            .any(|b| crate::ir::reads_var(b, delay_var));
    if reads_delay {
        vars.push(VarIr {
            name: "delay".into(),
            kind: VarKind::State,
            // Filled in by the network from the drawn delays. Not
            // `InitIr::Const`: the folding below would replace every read
            // of `delay` with that constant.
            init: InitIr::Expr(Expr::Const(0.0)),
        });
    }
    // A per-synapse variable that starts equal everywhere and that no handler
    // changes is a constant: fold it, so delivery does not load it.
    for (v, var) in vars.iter().enumerate() {
        let InitIr::Const(c) = var.init else { continue };
        let written = [&on_pre, &on_post, &on_teacher]
            .into_iter()
            .chain(every.iter().map(|e| &e.1))
            .any(|b| writes(b, v));
        if !written {
            for body in [&mut on_pre, &mut on_post, &mut on_teacher]
                .into_iter()
                .chain(every.iter_mut().map(|e| &mut e.1))
            {
                *body = body.iter().map(|s| replace_var_stmt(s, v, c)).collect();
            }
        }
    }
    let on_pre = fold_stmts(on_pre);
    let on_post = fold_stmts(on_post);
    let on_teacher = fold_stmts(on_teacher);
    let every: Vec<(u32, Vec<Stmt>)> = every.into_iter().map(|(p, b)| (p, fold_stmts(b))).collect();
    let max_pulse_steps = max_pulse(&on_pre).max(1);
    // A probability read from each pair's cells draws from all pairs.
    let wiring = match (&p.pair_probability, &p.wiring) {
        (Some(pair_p), Wiring::AllToAll { allow_self }) => Wiring::PairProbability {
            p: fold(ctx.expr(pair_p)?),
            allow_self: *allow_self,
            expected: 1.0,
        },
        (Some(_), _) => return Err("internal error: a pair probability without all pairs".into()),
        (None, w) => w.clone(),
    };
    Ok(ProjectionIr {
        name: p.name.clone(),
        source: p.source,
        target: p.target,
        target_var: layouts[p.target].target(p.target_var),
        synapse_type: ty.name.clone(),
        vars,
        on_pre,
        on_post,
        on_teacher,
        every,
        bounds: p.bounds.clone(),
        wiring,
        wiring_of: p.wiring_of,
        delay_steps: p.delay_steps,
        delay_draw: match &p.delay_draw {
            Some(d) => Some(DelayDrawIr {
                init: init_ir(&mut ctx, &d.init)?,
                max_steps: d.max_steps,
                var: reads_delay.then_some(delay_var),
            }),
            None => None,
        },
        teacher: p.teacher,
        locals: h.locals,
        max_pulse_steps,
    })
}

fn writes(stmts: &[Stmt], v: usize) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::Set { var, .. } => *var == v,
        Stmt::If {
            then, otherwise, ..
        } => writes(then, v) || writes(otherwise, v),
        _ => false,
    })
}

fn replace_var_stmt(s: &Stmt, v: usize, c: f64) -> Stmt {
    s.map_exprs(&mut |x| replace_var(x, v, c))
}

fn replace_var(e: &Expr, v: usize, c: f64) -> Expr {
    e.map_leaves(&mut |leaf| matches!(leaf, Expr::Var(x) if *x == v).then_some(Expr::Const(c)))
}

fn max_pulse(stmts: &[Stmt]) -> u32 {
    stmts
        .iter()
        .map(|s| match s {
            Stmt::Deposit { pulse_steps, .. } => *pulse_steps,
            Stmt::If {
                then, otherwise, ..
            } => max_pulse(then).max(max_pulse(otherwise)),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}
