//! Front end, second stage: resolve names, check dimensions and values,
//! lint. Produces the checked `Model` that lowering turns into the IR.

pub mod expr;
pub mod linear;
mod lints;
pub mod load;
pub mod model;
mod network;
pub mod overrides;
mod projection;
mod protocol;
mod recorders;
mod stmt;
pub mod units;

use crate::diagnostics::{Diagnostic, SourceMap};
use crate::syntax::ast::{self, Item, Span};
use expr::{const_value, Scope};
use model::*;
use std::collections::HashSet;
use std::path::Path;
use units::Dim;

/// The result of checking a model file.
pub struct Checked {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    /// Present when there were no errors.
    pub model: Option<Model>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Read, parse and check a model with `--set NAME=VALUE` overrides applied.
/// Err only when the model file itself cannot be read.
pub fn check_file(path: &Path, sets: &[(String, String)]) -> Result<Checked, String> {
    let loaded = load::load(path)?;
    Ok(check_loaded(loaded, sets))
}

/// Check a model given as text (tests, fuzzing).
pub fn check_text(path: &Path, text: &str) -> Checked {
    check_loaded(load::load_text(path, text.to_string()), &[])
}

fn check_loaded(mut loaded: load::Loaded, sets: &[(String, String)]) -> Checked {
    let mut diagnostics = std::mem::take(&mut loaded.diagnostics);
    let mut model = None;
    if !diagnostics.iter().any(|d| d.is_error()) {
        let mut items = loaded.items;
        let ok = overrides::apply(&mut items, sets, &mut loaded.sources, &mut diagnostics);
        if ok {
            let mut c = Checker::default();
            let m = c.model(&items);
            diagnostics.extend(c.diagnostics);
            if !diagnostics.iter().any(|d| d.is_error()) {
                model = Some(m);
            }
        }
    }
    // One diagnostic per place and message (synapse code is checked once per
    // projection that uses it), errors first, then in file order.
    let mut seen = HashSet::new();
    diagnostics.retain(|d| seen.insert((d.code, d.span, d.message.clone())));
    diagnostics.sort_by_key(|d| (std::cmp::Reverse(d.severity), d.span.file, d.span.start));
    Checked {
        sources: loaded.sources,
        diagnostics,
        model,
    }
}

/// The largest seed: 2^53, below which every whole number is exact in a
/// double (the language's numbers).
const MAX_SEED: f64 = 9_007_199_254_740_992.0;

#[derive(Default)]
pub struct Checker {
    pub diagnostics: Vec<Diagnostic>,
    /// Declaration spans of parameters that some expression uses.
    pub used: HashSet<Span>,
    /// Populations and projections whose declaration had an error: other
    /// items that mention them stay quiet instead of piling on.
    pub broken: HashSet<String>,
    pub dt: f64,
}

impl Checker {
    pub fn emit(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn model(&mut self, items: &[Item]) -> Model {
        let mut m = Model {
            name: "model".into(),
            dt: 1e-4,
            duration: 1.0,
            seed: 1,
            neurons: vec![],
            synapses: vec![],
            populations: vec![],
            projections: vec![],
            gaps: vec![],
            recorders: vec![],
            signals: vec![],
            schedule: vec![],
        };
        self.duplicates(items);
        for item in items {
            match item {
                Item::Model(name) => m.name = name.name.clone(),
                Item::Simulation(s) => self.simulation(s, &mut m),
                _ => {}
            }
        }
        self.dt = m.dt;
        for item in items {
            if let Item::Protocol(p) = item {
                self.protocol(p, &mut m);
            }
        }
        for item in items {
            if let Item::Neuron(n) = item {
                let t = self.neuron(n, &m.signals);
                m.neurons.push(t);
            }
        }
        for item in items {
            if let Item::Synapse(s) = item {
                let t = self.synapse_type(s);
                m.synapses.push(t);
            }
        }
        self.network(items, &mut m);
        self.output_key_clashes(&m);
        // Lints read the model as checked; after an error they would mostly
        // repeat it in other words.
        if !self.diagnostics.iter().any(|d| d.is_error()) {
            lints::run(self, items, &m);
        }
        m
    }

    fn duplicates(&mut self, items: &[Item]) {
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for item in items {
            let name = match item {
                Item::Neuron(n) => &n.name,
                Item::Synapse(s) => &s.name,
                Item::Population(p) => &p.name,
                Item::Projection(p) => &p.name,
                Item::GapJunction(g) => &g.name,
                Item::Record(r) => &r.name,
                Item::Protocol(p) => &p.name,
                _ => continue,
            };
            if seen.iter().any(|(n, _)| *n == name.name) {
                self.emit(
                    ast_dup(&name.name, name.span)
                        .help("every neuron, synapse, population, projection, gap junction, recorder and protocol needs its own name"),
                );
            } else {
                seen.push((&name.name, name.span));
            }
        }
    }

    fn simulation(&mut self, s: &ast::Settings, m: &mut Model) {
        let scope = Scope {
            context: "simulation settings",
            ..Scope::default()
        };
        self.duplicate_settings(&s.settings);
        // dt first: the other settings may be written in steps (`100 * dt`).
        for set in s.settings.iter().filter(|x| x.name.name == "dt") {
            let e = self.expr(&set.value, &scope);
            if let Some(v) = self.positive_const(&e, Dim::TIME, "dt", &scope) {
                m.dt = v;
            }
        }
        self.dt = m.dt;
        for set in &s.settings {
            let e = self.expr(&set.value, &scope);
            match set.name.name.as_str() {
                "dt" => {}
                "duration" => {
                    if self.expect_dim(&e, Dim::TIME, "the duration", &scope) {
                        match self.const_eval(&e, &scope) {
                            Some(v) if v >= 0.0 && v.is_finite() => {
                                m.duration = v;
                                self.duration_in_whole_steps(&e, v);
                            }
                            _ => self.emit(
                                Diagnostic::error(
                                    "cbm::E020",
                                    e.span,
                                    "the duration must be a constant time of zero or more",
                                )
                                .label("here"),
                            ),
                        }
                    }
                }
                "seed" => {
                    if self.expect_dim(&e, Dim::NONE, "the seed", &scope) {
                        match const_value(&e) {
                            // Every whole number up to 2^53 is exact in a
                            // double; above it, two seeds could be one.
                            Some(v) if (0.0..=MAX_SEED).contains(&v) && v.fract() == 0.0 => {
                                m.seed = v as u64
                            }
                            _ => self.emit(
                                Diagnostic::error(
                                    "cbm::E020",
                                    e.span,
                                    "the seed must be a whole number from 0 to 2^53 (9007199254740992)",
                                )
                                .label("here"),
                            ),
                        }
                    }
                }
                other => self.emit(unknown_setting(
                    other,
                    set.name.span,
                    &["dt", "duration", "seed"],
                    "simulation",
                )),
            }
        }
        if m.dt > 0.0 && m.duration / m.dt > 1e12 {
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    s.keyword_span,
                    "more than 10^12 steps: duration / dt is too large",
                )
                .label("simulation"),
            );
        }
    }

    /// A duration that is not a whole number of steps runs for the nearest
    /// whole number (docs/language.md section 3.3): say so, since `10.7 ms`
    /// at dt = 1 ms silently becoming 11 steps surprises.
    fn duration_in_whole_steps(&mut self, e: &TExpr, duration: f64) {
        let steps = duration / self.dt;
        let rounded = steps.round();
        if (steps - rounded).abs() <= 1e-6 * rounded.max(1.0) {
            return;
        }
        self.emit(
            Diagnostic::warning(
                "cbm::W111",
                e.span,
                format!(
                    "the duration ({}) is not a whole number of steps (dt = {}): the run has {} steps ({})",
                    units::format_quantity(duration, Dim::TIME),
                    units::format_quantity(self.dt, Dim::TIME),
                    rounded,
                    units::format_quantity(rounded * self.dt, Dim::TIME)
                ),
            )
            .label(format!("{steps:.3} steps"))
            .help("use a multiple of dt"),
        );
    }

    /// The value of an expression of constants, `dt` and parameters with
    /// constant values (None when it depends on anything else).
    pub fn const_eval(&self, e: &TExpr, scope: &Scope) -> Option<f64> {
        self.const_eval_depth(e, scope, 0)
    }

    fn const_eval_depth(&self, e: &TExpr, scope: &Scope, depth: usize) -> Option<f64> {
        if depth > 32 {
            return None;
        }
        let var = |v: Option<&Var>| -> Option<f64> {
            match &v?.init {
                Some(Init::Expr(x)) => self.const_eval_depth(x, scope, depth + 1),
                _ => None,
            }
        };
        expr::eval(e, &|r| match r {
            Ref::Dt => Some(self.dt),
            Ref::Param(i) => var(scope.params.get(i)),
            Ref::SynParam(i) => var(scope.syn_params.get(i)),
            _ => None,
        })
    }

    /// A constant of dimension `dim`, strictly positive and finite.
    pub fn positive_const(
        &mut self,
        e: &TExpr,
        dim: Dim,
        what: &str,
        scope: &Scope,
    ) -> Option<f64> {
        if !self.expect_dim(e, dim, what, scope) {
            return None;
        }
        match self.const_eval(e, scope) {
            Some(v) if v > 0.0 && v.is_finite() => Some(v),
            Some(v) => {
                self.emit(
                    Diagnostic::error(
                        "cbm::E020",
                        e.span,
                        format!(
                            "{what} must be positive, found {}",
                            units::format_quantity(v, dim)
                        ),
                    )
                    .label("not positive"),
                );
                None
            }
            None => {
                self.emit(
                    Diagnostic::error("cbm::E020", e.span, format!("{what} must be a constant"))
                        .label("not a constant"),
                );
                None
            }
        }
    }

    /// A constant time that is a whole number of steps, at least `min` steps.
    pub fn steps_of(&mut self, e: &TExpr, what: &str, scope: &Scope, min: u32) -> Option<u32> {
        if !self.expect_dim(e, Dim::TIME, what, scope) {
            return None;
        }
        let Some(v) = self.const_eval(e, scope) else {
            self.emit(
                Diagnostic::error("cbm::E020", e.span, format!("{what} must be a constant"))
                    .label("not a constant"),
            );
            return None;
        };
        let steps = v / self.dt;
        let rounded = steps.round();
        if v < 0.0 || !v.is_finite() {
            self.emit(
                Diagnostic::error("cbm::E020", e.span, format!("{what} cannot be negative"))
                    .label(units::format_quantity(v, Dim::TIME)),
            );
            return None;
        }
        if (steps - rounded).abs() > 1e-6 * rounded.max(1.0) {
            self.emit(
                Diagnostic::error(
                    "cbm::E021",
                    e.span,
                    format!(
                        "{what} ({}) is not a whole number of time steps (dt = {})",
                        units::format_quantity(v, Dim::TIME),
                        units::format_quantity(self.dt, Dim::TIME)
                    ),
                )
                .label(format!("{steps:.3} steps"))
                .help(format!(
                    "use a multiple of dt, e.g. {}",
                    units::format_quantity(rounded.max(1.0) * self.dt, Dim::TIME)
                )),
            );
            return None;
        }
        if rounded < min as f64 {
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    e.span,
                    format!("{what} must be at least {min} step(s)"),
                )
                .label(units::format_quantity(v, Dim::TIME)),
            );
            return None;
        }
        if rounded > u32::MAX as f64 / 2.0 {
            self.emit(
                Diagnostic::error("cbm::E020", e.span, format!("{what} is too long"))
                    .label("too many steps"),
            );
            return None;
        }
        Some(rounded as u32)
    }

    /// Declarations of parameters or state: `name [: unit] [= value]`.
    fn decls(
        &mut self,
        decls: &[ast::Decl],
        scope_base: &Scope,
        vars_kind: VarsKind,
        out: &mut Vec<Var>,
    ) {
        for d in decls {
            if out.iter().any(|v| v.name == d.name.name) {
                self.emit(ast_dup(&d.name.name, d.name.span));
                continue;
            }
            let written = d.unit.as_ref().and_then(|u| self.unit(u));
            let unit = written.as_ref().map(|(dim, _)| *dim);
            let mut scope = scope_base.clone();
            match vars_kind {
                VarsKind::Params => scope.params = out,
                VarsKind::State => scope.state = out,
                VarsKind::SynParams => scope.syn_params = out,
                VarsKind::SynState => scope.syn_state = out,
                VarsKind::Inputs => {}
            }
            let init = match &d.value {
                None => None,
                Some(v) if vars_kind == VarsKind::Inputs => {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E026",
                            v.span,
                            format!(
                                "input `{}` cannot have a value: inputs start each step at zero",
                                d.name.name
                            ),
                        )
                        .label("remove this")
                        .help("give the unit only, e.g. `g_exc: 1/ms`"),
                    );
                    None
                }
                Some(v) => {
                    let allow_dist = matches!(vars_kind, VarsKind::State | VarsKind::SynState);
                    self.init(v, &scope, allow_dist)
                }
            };
            let value_failed = d.value.is_some() && init.is_none() && vars_kind != VarsKind::Inputs;
            let bare = unit.is_none()
                && matches!(&init, Some(Init::Expr(e)) if expr::is_bare_literal(e) && const_value(e) != Some(0.0));
            let dim = match (unit, &init) {
                (Some(u), Some(i)) => {
                    let what = format!("the value of `{}`", d.name.name);
                    self.check_init_dim(i, u, &what, &scope);
                    u
                }
                (Some(u), None) => u,
                (None, Some(i)) => {
                    // The first value with a dimension of its own (not a
                    // bare 0, which fits any) gives the dimension; a
                    // distribution's other arguments must have it too.
                    let dim = init_dim(i).unwrap_or(Dim::NONE);
                    let what = format!("the value of `{}`", d.name.name);
                    self.check_init_dim(i, dim, &what, &scope);
                    dim
                }
                (None, None) if value_failed => Dim::NONE,
                (None, None) => {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E026",
                            d.span,
                            format!("`{}` needs a unit or a value", d.name.name),
                        )
                        .label("neither given")
                        .help(format!(
                            "e.g. `{}: mV` or `{} = -60 mV`",
                            d.name.name, d.name.name
                        )),
                    );
                    Dim::NONE
                }
            };
            let broken = value_failed || (d.unit.is_some() && unit.is_none());
            out.push(Var {
                name: d.name.name.clone(),
                dim,
                init,
                span: d.name.span,
                unit: written.filter(|_| !broken).map(|(_, shown)| shown),
                bare_number: bare,
                broken,
            });
        }
    }

    pub fn check_init_dim(&mut self, i: &Init, want: Dim, what: &str, scope: &Scope) {
        match i {
            Init::Expr(e) => {
                self.expect_dim(e, want, what, scope);
            }
            Init::Normal {
                mean,
                sd,
                sd_relative,
                low,
                high,
            } => {
                self.expect_dim(mean, want, what, scope);
                if !sd_relative {
                    self.expect_dim(sd, want, "the standard deviation", scope);
                }
                for b in [low, high].into_iter().flatten() {
                    self.expect_dim(b, want, "the bound", scope);
                }
            }
            Init::Uniform { low, high } => {
                self.expect_dim(low, want, what, scope);
                self.expect_dim(high, want, what, scope);
            }
        }
    }

    /// A distribution's values in range: no negative standard deviation, no
    /// `low` above `high` (the network builder relies on it). Where it is
    /// written (`owner` None), values made of literals alone are checked;
    /// values that use parameters are checked for each population or
    /// projection (`owner`), with `scope` holding its parameter values, since
    /// each may give the parameters other values.
    pub fn check_distribution(&mut self, init: &Init, scope: &Scope, owner: Option<&str>) {
        let dim = init_dim(init).unwrap_or(Dim::NONE);
        // The values to check here, or None.
        let values = |c: &Checker, es: &[&TExpr]| -> Option<Vec<f64>> {
            let literal: Option<Vec<f64>> = es.iter().map(|e| c.literal_eval(e)).collect();
            match owner {
                None => literal,
                Some(_) if literal.is_some() => None, // checked where written
                Some(_) => es.iter().map(|e| c.const_eval(e, scope)).collect(),
            }
        };
        let whose = owner.map_or(String::new(), |o| {
            format!(" (in {o}, with its parameter values)")
        });
        let mut bounds = None;
        match init {
            Init::Expr(_) => {}
            Init::Normal {
                sd,
                sd_relative,
                low,
                high,
                ..
            } => {
                if let Some(v) = values(self, &[sd]).map(|v| v[0]).filter(|v| *v < 0.0) {
                    let shown = if *sd_relative {
                        format!("{}%", v * 100.0)
                    } else {
                        units::format_quantity(v, dim)
                    };
                    self.emit(
                        Diagnostic::error(
                            "cbm::E020",
                            sd.span,
                            format!(
                                "a standard deviation cannot be negative, found {shown}{whose}"
                            ),
                        )
                        .label("negative"),
                    );
                }
                if let (Some(low), Some(high)) = (low, high) {
                    bounds = Some((low, high));
                }
            }
            Init::Uniform { low, high } => bounds = Some((low, high)),
        }
        let Some((low, high)) = bounds else {
            return;
        };
        let Some(v) = values(self, &[low, high]) else {
            return;
        };
        let (l, h) = (v[0], v[1]);
        if l > h || l.is_nan() || h.is_nan() {
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    low.span.to(high.span),
                    format!(
                        "the lower bound {} is above the upper bound {}{whose}",
                        units::format_quantity(l, dim),
                        units::format_quantity(h, dim)
                    ),
                )
                .label("low > high")
                .help("give the bounds as (low, high)"),
            );
        }
    }

    /// The value of an expression of literals and `dt` alone.
    fn literal_eval(&self, e: &TExpr) -> Option<f64> {
        expr::eval(e, &|r| match r {
            Ref::Dt => Some(self.dt),
            _ => None,
        })
    }

    /// An initial value: an expression, or `normal(mean, sd[, low, high])` /
    /// `uniform(low, high)` where distributions are allowed.
    pub fn init(&mut self, e: &ast::Expr, scope: &Scope, allow_dist: bool) -> Option<Init> {
        if let ast::ExprKind::Call(c) = &e.kind {
            let name = c.name.name.as_str();
            if name == "normal" || name == "uniform" {
                if !allow_dist {
                    self.emit(Diagnostic::error("cbm::E028", e.span, format!("`{name}(...)` is not allowed here: this value is shared by every cell or synapse")).label("a distribution").help("per-cell or per-synapse values belong in state, or in a population's or projection's arguments"));
                    return None;
                }
                let mut named = std::collections::HashMap::new();
                let mut positional = Vec::new();
                for a in &c.args {
                    match &a.name {
                        Some(n) => {
                            named.insert(n.name.clone(), a.value.clone());
                        }
                        None => positional.push(a.value.clone()),
                    }
                }
                let keys: &[&str] = if name == "normal" {
                    &["mean", "sd", "low", "high"]
                } else {
                    &["low", "high"]
                };
                let mut get = |i: usize, c: &mut Checker| -> Option<TExpr> {
                    let v = positional
                        .get(i)
                        .cloned()
                        .or_else(|| named.remove(keys[i]))?;
                    Some(c.expr(&v, scope))
                };
                if name == "normal" {
                    let mean = get(0, self);
                    let sd = get(1, self);
                    let low = get(2, self);
                    let high = get(3, self);
                    let (Some(mean), Some(sd)) = (mean, sd) else {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E014",
                                e.span,
                                "normal(mean, sd) needs a mean and a standard deviation",
                            )
                            .label("missing argument"),
                        );
                        return None;
                    };
                    // `10%` (or `-10%`, reported below) is relative to the mean.
                    let percent = |e: &ast::Expr| match &e.kind {
                        ast::ExprKind::Percent(_) => true,
                        ast::ExprKind::Unary(_, x) => matches!(x.kind, ast::ExprKind::Percent(_)),
                        _ => false,
                    };
                    // The sd as `get(1)` takes it: the second positional
                    // argument, else the one named `sd`.
                    let sd_arg = c
                        .args
                        .iter()
                        .filter(|a| a.name.is_none())
                        .nth(1)
                        .or_else(|| {
                            c.args
                                .iter()
                                .find(|a| a.name.as_ref().is_some_and(|n| n.name == "sd"))
                        });
                    let rel = sd_arg.is_some_and(|a| percent(&a.value));
                    let init = Init::Normal {
                        mean,
                        sd,
                        sd_relative: rel,
                        low,
                        high,
                    };
                    self.check_distribution(&init, scope, None);
                    return Some(init);
                }
                let (Some(low), Some(high)) = (get(0, self), get(1, self)) else {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E014",
                            e.span,
                            "uniform(low, high) needs two bounds",
                        )
                        .label("missing argument"),
                    );
                    return None;
                };
                let init = Init::Uniform { low, high };
                self.check_distribution(&init, scope, None);
                return Some(init);
            }
        }
        let t = self.expr(e, scope);
        if t.ty == Ty::Error {
            return None;
        }
        Some(Init::Expr(t))
    }

    /// A declaration's unit (`mV/ms`, `1/ms`, `nS`): its dimension, and the
    /// unit as written with its size in SI units (how its values are shown).
    /// None, with a diagnostic, if a name in it is not a unit.
    fn unit(&mut self, u: &ast::UnitExpr) -> Option<(Dim, (String, f64))> {
        let mut dim = Dim::NONE;
        let mut scale = 1.0;
        let (mut num, mut den) = (Vec::new(), Vec::new());
        let mut ok = true;
        for (name, pow) in &u.factors {
            if name.name == "1" {
                continue;
            }
            let Some(unit) = units::lookup(&name.name) else {
                self.emit(expr::unknown_unit(&name.name, name.span));
                ok = false;
                continue;
            };
            dim = dim * unit.dim.powi(*pow);
            scale *= unit.scale.powi(*pow);
            let text = match pow.abs() {
                1 => name.name.clone(),
                p => format!("{}^{p}", name.name),
            };
            if *pow > 0 {
                num.push(text);
            } else {
                den.push(text);
            }
        }
        let num = if num.is_empty() {
            "1".to_string()
        } else {
            num.join("*")
        };
        let text = match den.len() {
            0 => num,
            1 => format!("{num}/{}", den[0]),
            _ => format!("{num}/({})", den.join("*")),
        };
        ok.then_some((dim, (text, scale)))
    }

    fn neuron(&mut self, n: &ast::NeuronDef, signals: &[Signal]) -> NeuronType {
        let base = Scope {
            context: "a parameter or initial value",
            signals: &[],
            ..Scope::default()
        };
        let mut params = Vec::new();
        self.decls(&n.parameters, &base, VarsKind::Params, &mut params);
        let base = Scope {
            params: &params,
            context: "an initial value",
            ..Scope::default()
        };
        let mut state = Vec::new();
        self.decls(&n.state, &base, VarsKind::State, &mut state);
        let mut inputs = Vec::new();
        self.decls(&n.inputs, &base, VarsKind::Inputs, &mut inputs);
        for i in &inputs {
            if state.iter().chain(&params).any(|v| v.name == i.name) {
                self.emit(ast_dup(&i.name, i.span));
            }
        }
        for s in &state {
            if params.iter().any(|v| v.name == s.name) {
                self.emit(ast_dup(&s.name, s.span));
            }
        }
        let mut aliases: Vec<(String, TExpr)> = Vec::new();
        let mut equations = Vec::new();
        for item in &n.equations {
            let scope = Scope {
                params: &params,
                state: &state,
                inputs: &inputs,
                aliases: &aliases,
                signals,
                allow_time: true,
                allow_random: true,
                context: "equations",
                ..Scope::default()
            };
            match item {
                ast::EquationItem::Let(l) => {
                    let v = self.expr(&l.value, &scope);
                    aliases.push((l.name.name.clone(), v));
                }
                ast::EquationItem::Ode(o) => {
                    let rhs = self.expr(&o.rhs, &scope);
                    let Some(var) = state.iter().position(|v| v.name == o.var.name) else {
                        let why = if params.iter().any(|v| v.name == o.var.name) {
                            "is a parameter"
                        } else if inputs.iter().any(|v| v.name == o.var.name) {
                            "is an input"
                        } else {
                            "is not declared"
                        };
                        self.emit(
                            Diagnostic::error(
                                "cbm::E029",
                                o.var.span,
                                format!(
                                    "`d{}/dt`: `{}` {why}; only state variables have equations",
                                    o.var.name, o.var.name
                                ),
                            )
                            .label("not a state variable")
                            .help("declare it in the `state` block"),
                        );
                        continue;
                    };
                    if equations.iter().any(|e: &Equation| e.var == var) {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E029",
                                o.var.span,
                                format!("a second equation for `{}`", o.var.name),
                            )
                            .label("already has one"),
                        );
                        continue;
                    }
                    let want = state[var].dim / Dim::TIME;
                    self.expect_dim(&rhs, want, &format!("d{}/dt", o.var.name), &scope);
                    let method = match o.method.as_ref().map(|m| m.name.as_str()) {
                        None | Some("euler") => Method::Euler,
                        Some("exact") => Method::Exact,
                        Some("rk4") => Method::Rk4,
                        Some(other) => {
                            let m = o.method.as_ref().map(|m| m.span).unwrap_or(o.span);
                            self.emit(
                                Diagnostic::error(
                                    "cbm::E026",
                                    m,
                                    format!("unknown integration method `{other}`"),
                                )
                                .label("not a method")
                                .help("methods: euler, exact (linear equations), rk4"),
                            );
                            Method::Euler
                        }
                    };
                    if method == Method::Exact && rhs.ty != Ty::Error {
                        let inlined = linear::inline_aliases(&rhs, &aliases);
                        if linear::coefficients(&inlined, Ref::State(var)).is_none() {
                            self.emit(
                                Diagnostic::error(
                                    "cbm::E029",
                                    o.rhs.span,
                                    format!(
                                        "`[exact]` needs an equation linear in `{}`",
                                        o.var.name
                                    ),
                                )
                                .label("not of the form a + b*x")
                                .help("use [euler] or [rk4] for nonlinear equations"),
                            );
                        }
                    }
                    equations.push(Equation {
                        var,
                        rhs,
                        method,
                        span: o.span,
                    });
                }
            }
        }
        let mut locals = 0;
        let mut scope = Scope {
            params: &params,
            state: &state,
            inputs: &inputs,
            aliases: &aliases,
            signals,
            allow_time: true,
            allow_random: true,
            context: "neuron code",
            ..Scope::default()
        };
        let update = self.stmts(
            &n.update,
            &mut scope,
            stmt::Writes::NeuronState,
            &mut locals,
        );
        let spike = n.spike.as_ref().map(|s| {
            let e = self.expr(s, &scope);
            if matches!(e.ty, Ty::Num(_)) {
                self.emit(
                    Diagnostic::error(
                        "cbm::E013",
                        e.span,
                        "the spike condition must be a comparison",
                    )
                    .label("this is a number")
                    .help("e.g. `spike when V >= theta`"),
                );
            }
            e
        });
        let reset = self.stmts(&n.reset, &mut scope, stmt::Writes::NeuronState, &mut locals);
        let refractory = n.refractory.as_ref().and_then(|r| {
            let scope = Scope {
                params: &params,
                context: "the refractory period",
                ..Scope::default()
            };
            let e = self.expr(&r.period, &scope);
            if !self.expect_dim(&e, Dim::TIME, "the refractory period", &scope) {
                return None;
            }
            // A period of literals alone is checked here; one that reads
            // parameters, per population with its values (network.rs), as
            // distributions are (`check_distribution`).
            if self.literal_eval(&e).is_some() {
                self.steps_of(&e, "the refractory period", &scope, 0)?;
            }
            let mut held = Vec::new();
            for h in &r.holding {
                match state.iter().position(|v| v.name == h.name) {
                    Some(i) => held.push(i),
                    None => self.emit(
                        Diagnostic::error(
                            "cbm::E031",
                            h.span,
                            format!("`{}` is not a state variable, so it cannot be held", h.name),
                        )
                        .label("not in state"),
                    ),
                }
            }
            Some(Refractory { period: e, held })
        });
        if spike.is_none() && (!n.reset.is_empty() || n.refractory.is_some()) {
            self.emit(Diagnostic::warning("cbm::W107", n.name.span, format!("neuron `{}` has a reset or refractory period but no spike condition, so it never spikes", n.name.name)).label("no `spike when ...`"));
        }
        NeuronType {
            name: n.name.name.clone(),
            params,
            state,
            inputs,
            aliases,
            equations,
            update,
            spike,
            reset,
            refractory,
            locals,
            span: n.name.span,
        }
    }

    fn synapse_type(&mut self, s: &ast::SynapseDef) -> SynapseType {
        let base = Scope {
            context: "a synapse parameter",
            ..Scope::default()
        };
        let mut params = Vec::new();
        self.decls(&s.parameters, &base, VarsKind::SynParams, &mut params);
        let base = Scope {
            syn_params: &params,
            context: "an initial value",
            ..Scope::default()
        };
        let mut state = Vec::new();
        self.decls(&s.state, &base, VarsKind::SynState, &mut state);
        let mut bounds = Vec::new();
        for b in &s.bounds {
            let Some(var) = state.iter().position(|v| v.name == b.var.name) else {
                self.emit(
                    Diagnostic::error(
                        "cbm::E031",
                        b.var.span,
                        format!(
                            "bounds on `{}`, which is not a per-synapse state variable",
                            b.var.name
                        ),
                    )
                    .label("not in state"),
                );
                continue;
            };
            let scope = Scope {
                syn_params: &params,
                context: "a bound",
                ..Scope::default()
            };
            let lo = self.expr(&b.low, &scope);
            let hi = self.expr(&b.high, &scope);
            let dim = state[var].dim;
            let ok = self.expect_dim(&lo, dim, "the lower bound", &scope)
                & self.expect_dim(&hi, dim, "the upper bound", &scope);
            if !ok {
                continue;
            }
            let env = |r: Ref| match r {
                Ref::SynParam(i) => params[i].init.as_ref().and_then(|i| match i {
                    Init::Expr(e) => const_value(e),
                    _ => None,
                }),
                _ => None,
            };
            match (expr::eval(&lo, &env), expr::eval(&hi, &env)) {
                // Two bounds on one variable: which would hold? Say so.
                _ if bounds.iter().any(|b: &(usize, f64, f64)| b.0 == var) => self.emit(
                    Diagnostic::error(
                        "cbm::E020",
                        b.span,
                        format!("bounds on `{}` are given twice", b.var.name),
                    )
                    .label("second bounds")
                    .help("keep one `bounds` line per variable"),
                ),
                (Some(l), Some(h)) if l <= h => bounds.push((var, l, h)),
                (Some(_), Some(_)) => self.emit(
                    Diagnostic::error(
                        "cbm::E020",
                        b.span,
                        "the lower bound is above the upper bound",
                    )
                    .label("empty range"),
                ),
                _ => self.emit(
                    Diagnostic::error("cbm::E020", b.span, "bounds must be constants")
                        .label("not constant"),
                ),
            }
        }
        SynapseType {
            name: s.name.name.clone(),
            params,
            state,
            bounds,
            span: s.name.span,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum VarsKind {
    Params,
    State,
    Inputs,
    SynParams,
    SynState,
}

/// The dimension of an initial value: of its expression, or of the first of
/// a distribution's arguments that has one of its own (a bare `0` fits any
/// dimension; a relative sd has none; an argument in error says nothing).
pub fn init_dim(i: &Init) -> Option<Dim> {
    let own = |e: &TExpr| {
        let zero = expr::is_bare_literal(e) && const_value(e) == Some(0.0);
        if zero || e.ty == Ty::Error {
            None
        } else {
            e.ty.dim()
        }
    };
    match i {
        Init::Expr(e) => e.ty.dim(),
        Init::Normal {
            mean,
            sd,
            sd_relative,
            low,
            high,
        } => own(mean)
            .or_else(|| (!sd_relative).then(|| own(sd)).flatten())
            .or_else(|| low.as_ref().and_then(own))
            .or_else(|| high.as_ref().and_then(own))
            .or_else(|| mean.ty.dim()),
        Init::Uniform { low, high } => own(low).or_else(|| own(high)).or_else(|| low.ty.dim()),
    }
}

fn ast_dup(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "cbm::E002",
        span,
        format!("`{name}` is defined more than once"),
    )
    .label("second definition")
}

pub fn unknown_setting(name: &str, span: Span, known: &[&str], what: &str) -> Diagnostic {
    let names: Vec<String> = known.iter().map(|s| s.to_string()).collect();
    let mut d = Diagnostic::error(
        "cbm::E026",
        span,
        format!("unknown setting `{name}` in {what}"),
    )
    .label("not a setting here");
    d = match expr::closest(name, &names) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("settings here: {}", known.join(", "))),
    };
    d
}
