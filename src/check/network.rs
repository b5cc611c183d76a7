//! Checking the network: populations (spike sources: `sources.rs`), the schedule,
//! and the driver that checks every network item in order.

use super::expr::{CellScope, Scope};
use super::linear;
use super::model::*;
use super::{unknown_setting, Checker};
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{self, Expr, ExprKind, Item, Span};

/// What a named argument sets.
pub(super) enum ArgVar {
    Param(usize),
    State(usize),
}

impl Checker {
    pub(super) fn network(&mut self, items: &[Item], m: &mut Model) {
        for item in items {
            if let Item::Population(p) = item {
                if let Some(pop) = self.population(p, m) {
                    m.populations.push(pop);
                } else {
                    self.broken.insert(p.name.name.clone());
                    // Keep indices aligned with declarations for later checks.
                    let size = match &p.size.kind {
                        ExprKind::Number { value, unit: None } if *value >= 1.0 && *value < 1e8 => {
                            *value as usize
                        }
                        _ => 1,
                    };
                    m.populations.push(Population {
                        name: p.name.name.clone(),
                        size,
                        kind: PopulationKind::Source(Box::new(SourceKind::SpikeTimes {
                            steps: vec![],
                            cells: None,
                        })),
                        span: p.name.span,
                    });
                }
            }
        }
        self.schedule(items, m);
        let names: Vec<&ast::ProjectionDecl> = items
            .iter()
            .filter_map(|i| {
                if let Item::Projection(p) = i {
                    Some(p)
                } else {
                    None
                }
            })
            .collect();
        for p in &names {
            if let Some(proj) = self.projection(p, &names, items, m) {
                m.projections.push(proj);
            } else {
                self.broken.insert(p.name.name.clone());
            }
        }
        // A synapse type that no projection uses is still checked, without
        // knowing its pre/post cells.
        for item in items {
            if let Item::Synapse(s) = item {
                if !names
                    .iter()
                    .any(|p| synapse_name(p).is_some_and(|n| n == s.name.name))
                {
                    if let Some(ty) = m.synapses.iter().find(|t| t.name == s.name.name).cloned() {
                        self.handlers(s, &ty, None, None, false, None, &m.signals);
                    }
                    // Types from imported libraries may go unused.
                    if s.name.span.file == 0 {
                        self.emit(
                            Diagnostic::warning(
                                "cbm::W109",
                                s.name.span,
                                format!("synapse type `{}` is never used", s.name.name),
                            )
                            .label("no projection uses it"),
                        );
                    }
                }
            }
        }
        for item in items {
            match item {
                Item::GapJunction(g) => {
                    if let Some(gap) = self.gap(g, m) {
                        m.gaps.push(gap);
                    }
                }
                Item::Record(r) => {
                    if let Some(rec) = self.recorder(r, m) {
                        m.recorders.push(rec);
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) fn population(&mut self, p: &ast::PopulationDecl, m: &Model) -> Option<Population> {
        let size = self.count(&p.size, "the population size", 1)? as usize;
        if size > 100_000_000 {
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    p.size.span,
                    "a population of more than 10^8 cells",
                )
                .label("too large"),
            );
            return None;
        }
        let call = &p.model;
        let kind = match call.name.name.as_str() {
            "poisson" | "bernoulli" | "spike_times" => {
                PopulationKind::Source(Box::new(self.source(call, size, m)?))
            }
            name => {
                let Some(ni) = m.neurons.iter().position(|n| n.name == name) else {
                    let mut d = Diagnostic::error(
                        "cbm::E003",
                        call.name.span,
                        format!("unknown cell type `{name}`"),
                    )
                    .label("not a neuron type or spike source");
                    d = if m.synapses.iter().any(|s| s.name == name) {
                        d.help(format!("`{name}` is a synapse type; populations are made of neuron types or spike sources"))
                    } else {
                        let mut names: Vec<String> =
                            m.neurons.iter().map(|n| n.name.clone()).collect();
                        names.extend(["poisson", "bernoulli", "spike_times"].map(String::from));
                        match super::expr::closest(name, &names) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d.help("spike sources: poisson(rate), bernoulli(p or rate, refractory), spike_times(times, cells)"),
                        }
                    };
                    self.emit(d);
                    return None;
                };
                let neuron = &m.neurons[ni];
                let scope = Scope {
                    params: &neuron.params,
                    context: "a population argument",
                    constants_first: true,
                    cells: Some(size),
                    ..Scope::default()
                };
                let args = self.named_args(
                    call,
                    &neuron.params,
                    &neuron.state,
                    &scope,
                    true,
                    &format!("neuron `{}`", neuron.name),
                );
                // The type's parameters with this population's values.
                let params = params_of_population(neuron, &args);
                self.check_population_distributions(neuron, &args, &params, &p.name.name, size);
                if !self.parameters_have_values(neuron, &args, call) {
                    return None;
                }
                let refractory_steps =
                    self.population_refractory(neuron, &args, &params, &p.name.name, p.name.span)?;
                let overrides = args
                    .into_iter()
                    .map(|(v, init)| match v {
                        ArgVar::Param(i) => (OverrideVar::Param(i), init),
                        ArgVar::State(i) => (OverrideVar::State(i), init),
                    })
                    .collect();
                PopulationKind::Neuron {
                    neuron: ni,
                    overrides,
                    refractory_steps,
                }
            }
        };
        Some(Population {
            name: p.name.name.clone(),
            size,
            kind,
            span: p.name.span,
        })
    }

    pub(super) fn schedule(&mut self, items: &[Item], m: &mut Model) {
        let mut order: Vec<usize> = Vec::new();
        for item in items {
            if let Item::Schedule(s) = item {
                for id in &s.order {
                    match m.population_index(&id.name) {
                        Some(i) if order.contains(&i) => self.emit(
                            Diagnostic::error(
                                "cbm::E030",
                                id.span,
                                format!("`{}` appears twice in the schedule", id.name),
                            )
                            .label("again"),
                        ),
                        Some(i) => order.push(i),
                        None => self.emit(
                            Diagnostic::error(
                                "cbm::E003",
                                id.span,
                                format!("unknown population `{}` in the schedule", id.name),
                            )
                            .label("not a population"),
                        ),
                    }
                }
            }
        }
        // Populations the schedule leaves out follow in declaration order.
        for i in 0..m.populations.len() {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        m.schedule = order;
    }

    /// The distributions of a population's initial values and per-cell
    /// parameters, with the parameter values the population gives (see
    /// `check_distribution`).
    fn check_population_distributions(
        &mut self,
        neuron: &NeuronType,
        args: &[(ArgVar, Init)],
        params: &[Var],
        population: &str,
        size: usize,
    ) {
        let mut state_inits: Vec<Option<Init>> =
            neuron.state.iter().map(|v| v.init.clone()).collect();
        let mut param_inits = Vec::new();
        for (v, init) in args {
            match v {
                ArgVar::Param(_) => param_inits.push(init),
                ArgVar::State(i) => state_inits[*i] = Some(init.clone()),
            }
        }
        let scope = Scope {
            params,
            context: "a population argument",
            constants_first: true,
            cells: Some(size),
            ..Scope::default()
        };
        let owner = format!("population `{population}`");
        let per_cell = per_cell_values(params, &state_inits);
        for init in state_inits.iter().flatten().chain(param_inits) {
            self.check_distribution(init, &scope, Some(&owner));
            self.distribution_of_constants(init, &per_cell, params, &neuron.state, &owner);
        }
    }

    /// A distribution is drawn from constants: its arguments cannot use a
    /// parameter or state variable that has a value per cell in this
    /// population (`a = normal(...)`, then `V = uniform(a, ...)`). An
    /// expression may (`V = a` starts each cell at its own `a`).
    fn distribution_of_constants(
        &mut self,
        init: &Init,
        per_cell: &dyn Fn(Ref) -> bool,
        params: &[Var],
        state: &[Var],
        owner: &str,
    ) {
        if matches!(init, Init::Expr(_)) {
            return;
        }
        let (name, span) = match init.exprs().iter().find_map(|e| e.find_ref(per_cell)) {
            Some((Ref::Param(j), span)) => (params[j].name.as_str(), span),
            Some((Ref::State(j), span)) => (state[j].name.as_str(), span),
            Some((Ref::CellIndex, span)) => ("i", span),
            _ => return,
        };
        self.emit(
            Diagnostic::error(
                "cbm::E028",
                span,
                format!("a distribution's arguments must be constants: `{name}` has a value per cell in {owner}"),
            )
            .label("a different value in each cell")
            .help(if name == "i" {
                "a distribution is one for the whole population: draw a parameter declared before this one, and add it to a value of `i` here (`noise = normal(...), I = noise + i * ...`)".to_string()
            } else {
                format!("give `{name}` one value in {owner}, or write this distribution's arguments out")
            }),
        );
    }

    /// Every parameter declared without a value (`th: mV`) must get one from
    /// the population (`N(th = -50 mV)`).
    fn parameters_have_values(
        &mut self,
        neuron: &NeuronType,
        args: &[(ArgVar, Init)],
        call: &ast::Call,
    ) -> bool {
        let mut ok = true;
        for (i, param) in neuron.params.iter().enumerate() {
            let given = args
                .iter()
                .any(|(v, _)| matches!(v, ArgVar::Param(j) if *j == i));
            if param.init.is_none() && !given && !param.broken {
                self.emit(
                    Diagnostic::error(
                        "cbm::E026",
                        call.span,
                        format!(
                            "parameter `{}` of `{}` has no value: the population must give it one",
                            param.name, neuron.name
                        ),
                    )
                    .label("no value for it here")
                    .help(format!(
                        "e.g. `{}({} = ...)`, or give it a default in the neuron's parameters block",
                        neuron.name, param.name
                    )),
                );
                ok = false;
            }
        }
        ok
    }

    /// The refractory period of a population in steps, from its own
    /// parameter values (`LIF(t_ref = 3 ms)`, `--set Cells.t_ref=3ms`): one
    /// constant whole number of steps, the same for every cell.
    fn population_refractory(
        &mut self,
        neuron: &NeuronType,
        args: &[(ArgVar, Init)],
        params: &[Var],
        population: &str,
        span: Span,
    ) -> Option<u32> {
        let Some(r) = &neuron.refractory else {
            return Some(0);
        };
        let scope = Scope {
            params,
            context: "the refractory period",
            ..Scope::default()
        };
        // Reported at the population where it gives a value the period
        // reads; at the neuron's period where the defaults make it.
        let mut period = r.period.clone();
        if self.literal_eval(&period).is_none() {
            let gives_one = args.iter().any(|(v, _)| {
                matches!(v, ArgVar::Param(i) if linear::mentions(&r.period, Ref::Param(*i)))
            });
            if gives_one {
                period.span = span;
            }
            if self.const_eval(&period, &scope).is_none() {
                self.emit(
                    Diagnostic::error(
                        "cbm::E020",
                        span,
                        format!("the refractory period of population `{population}` must be one constant for all its cells"),
                    )
                    .label("a parameter of the period has a value per cell here")
                    .help("give the parameters the refractory period reads one value each, e.g. `t_ref = 2 ms`"),
                );
                return None;
            }
        }
        self.steps_of(
            &period,
            &format!("the refractory period of population `{population}`"),
            &scope,
            0,
        )
    }

    /// Named arguments of a call that set parameters (`params`) or initial
    /// values (`state`) of a neuron or synapse type. Distributions are
    /// allowed for state, and for parameters when `params_may_vary`.
    pub(super) fn named_args(
        &mut self,
        call: &ast::Call,
        params: &[Var],
        state: &[Var],
        scope: &Scope,
        params_may_vary: bool,
        owner: &str,
    ) -> Vec<(ArgVar, Init)> {
        let mut out = Vec::new();
        for a in &call.args {
            let Some(name) = &a.name else {
                self.emit(
                    Diagnostic::error(
                        "cbm::E026",
                        a.value.span,
                        "arguments are named: `name = value`",
                    )
                    .label("no name"),
                );
                continue;
            };
            if let Some(i) = params.iter().position(|v| v.name == name.name) {
                if let Some(init) = self.init(&a.value, scope, params_may_vary) {
                    if !self.uses_earlier_params_only(&init, i, params, owner) {
                        continue;
                    }
                    // A declaration in error has no dimension to hold to.
                    if !params[i].broken {
                        let what = format!("`{}`", name.name);
                        self.check_init_dim(&init, params[i].dim, &what, scope);
                    }
                    out.push((ArgVar::Param(i), init));
                }
            } else if let Some(i) = state.iter().position(|v| v.name == name.name) {
                if let Some(init) = self.init(&a.value, scope, true) {
                    if !state[i].broken {
                        let what = format!("the initial `{}`", name.name);
                        self.check_init_dim(&init, state[i].dim, &what, scope);
                    }
                    out.push((ArgVar::State(i), init));
                }
            } else {
                let known: Vec<&str> = params
                    .iter()
                    .chain(state)
                    .map(|v| v.name.as_str())
                    .collect();
                self.emit(unknown_setting(&name.name, name.span, &known, owner));
            }
        }
        out
    }

    /// A parameter's value is worked out in declaration order, so an
    /// argument for parameter `i` may use parameters before it (with the
    /// values this call gives them), as a default in the type may; itself
    /// or a later one is an error, not a value lowering cannot find.
    fn uses_earlier_params_only(
        &mut self,
        init: &Init,
        i: usize,
        params: &[Var],
        owner: &str,
    ) -> bool {
        let not_yet = |r: Ref| matches!(r, Ref::Param(j) | Ref::SynParam(j) if j >= i);
        let Some((Ref::Param(j) | Ref::SynParam(j), span)) =
            init.exprs().iter().find_map(|e| e.find_ref(&not_yet))
        else {
            return true;
        };
        let (name, used) = (&params[i].name, &params[j].name);
        let earlier: Vec<&str> = params[..i].iter().map(|v| v.name.as_str()).collect();
        let reason = if i == j {
            format!("`{name}` cannot be given in terms of itself")
        } else {
            format!("`{used}` is declared after `{name}` in {owner}")
        };
        let help = if earlier.is_empty() {
            format!("write the value of `{name}` out: it is the first parameter, so it can use only numbers and dt")
        } else {
            format!(
                "write the value out, or use parameters declared before `{name}`: {}",
                earlier.join(", ")
            )
        };
        self.emit(
            Diagnostic::error(
                "cbm::E026",
                span,
                format!("the value of parameter `{name}` uses `{used}`: {reason}"),
            )
            .label("not known yet")
            .help(help),
        );
        false
    }

    pub(super) fn pop_ref(&mut self, id: &ast::Ident, m: &Model) -> Option<usize> {
        if self.broken.contains(&id.name) {
            return None;
        }
        let i = m.population_index(&id.name);
        if i.is_none() {
            let names: Vec<String> = m.populations.iter().map(|p| p.name.clone()).collect();
            let mut d = Diagnostic::error(
                "cbm::E003",
                id.span,
                format!("unknown population `{}`", id.name),
            )
            .label("not a population");
            if let Some(s) = super::expr::closest(&id.name, &names) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.emit(d);
        }
        i
    }
}

pub(super) fn list_items(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::List(v) => v.iter().collect(),
        _ => vec![e],
    }
}

pub(super) fn cell_scope(m: &Model, pop: usize) -> CellScope<'_> {
    match &m.populations[pop].kind {
        PopulationKind::Neuron { neuron, .. } => {
            let n = &m.neurons[*neuron];
            CellScope {
                params: &n.params,
                state: &n.state,
                inputs: &n.inputs,
                is_source: false,
            }
        }
        PopulationKind::Source(_) => CellScope {
            params: &[],
            state: &[],
            inputs: &[],
            is_source: true,
        },
    }
}

fn synapse_name(p: &ast::ProjectionDecl) -> Option<&str> {
    p.settings
        .iter()
        .find(|s| s.name.name == "synapse")
        .and_then(|s| match &s.value.kind {
            ExprKind::Call(c) => Some(c.name.name.as_str()),
            ExprKind::Path(p) => p.parts.first().map(|i| i.name.as_str()),
            _ => None,
        })
}

/// A neuron type's parameters with the values a population gives them.
fn params_of_population(neuron: &NeuronType, args: &[(ArgVar, Init)]) -> Vec<Var> {
    let mut params = neuron.params.clone();
    for (v, init) in args {
        if let ArgVar::Param(i) = v {
            params[*i].init = Some(init.clone());
        }
    }
    params
}

/// Does parameter `param` of neuron population `pop` have a value per cell
/// (drawn, or along the population), kept as a variable of each cell?
pub(super) fn param_per_cell(m: &Model, pop: usize, param: usize) -> bool {
    let PopulationKind::Neuron {
        neuron, overrides, ..
    } = &m.populations[pop].kind
    else {
        return false;
    };
    let neuron = &m.neurons[*neuron];
    let mut params = neuron.params.clone();
    let mut state_inits: Vec<Option<Init>> = neuron.state.iter().map(|v| v.init.clone()).collect();
    for (v, init) in overrides {
        match v {
            OverrideVar::Param(i) => params[*i].init = Some(init.clone()),
            OverrideVar::State(i) => state_inits[*i] = Some(init.clone()),
        }
    }
    per_cell_values(&params, &state_inits)(Ref::Param(param))
}

/// Which parameters and state variables have a value per cell in a
/// population: drawn, or worked out from one that has (in declaration
/// order, parameters first: the order lowering works values out in).
fn per_cell_values(params: &[Var], state_inits: &[Option<Init>]) -> impl Fn(Ref) -> bool {
    // Drawn, or an expression that uses a value per cell (`p`, `s`: those
    // of the parameters and state variables before it).
    let per_cell = |init: Option<&Init>, p: &[bool], s: &[bool]| match init {
        Some(Init::Expr(e)) => e
            .find_ref(&|r| match r {
                Ref::Param(j) => p.get(j) == Some(&true),
                Ref::State(j) => s.get(j) == Some(&true),
                Ref::CellIndex => true,
                _ => false,
            })
            .is_some(),
        Some(_) => true,
        None => false,
    };
    let mut params_per_cell: Vec<bool> = Vec::with_capacity(params.len());
    for v in params {
        let yes = per_cell(v.init.as_ref(), &params_per_cell, &[]);
        params_per_cell.push(yes);
    }
    let mut state_per_cell: Vec<bool> = Vec::with_capacity(state_inits.len());
    for init in state_inits {
        let yes = per_cell(init.as_ref(), &params_per_cell, &state_per_cell);
        state_per_cell.push(yes);
    }
    move |r| match r {
        Ref::Param(j) => params_per_cell.get(j) == Some(&true),
        Ref::State(j) => state_per_cell.get(j) == Some(&true),
        Ref::CellIndex => true,
        _ => false,
    }
}
