//! Declarations: parameters, state and inputs with their units, initial
//! values and distributions.

use super::*;

impl Checker {
    /// Declarations of parameters or state: `name [: unit] [= value]`.
    pub(super) fn decls(
        &mut self,
        decls: &[ast::Decl],
        scope_base: &Scope,
        vars_kind: VarsKind,
        out: &mut Vec<Var>,
    ) {
        for (k, d) in decls.iter().enumerate() {
            if let Some(first) = out.iter().find(|v| v.name == d.name.name) {
                self.emit(ast_dup(&d.name.name, d.name.span, first.span));
                continue;
            }
            let written = d.unit.as_ref().and_then(|u| self.unit(u));
            let unit = written.as_ref().map(|(dim, _)| *dim);
            let mut scope = scope_base.clone();
            scope.declared_later = &decls[k + 1..];
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
                    self.declared_unit = written.as_ref().map(|(_, (text, _))| text.clone());
                    self.check_init_dim(i, u, &what, &scope);
                    self.declared_unit = None;
                    u
                }
                (Some(u), None) => u,
                (None, Some(i)) => {
                    // The first value with a dimension of its own (not a
                    // bare 0, which fits any) gives the dimension; a
                    // distribution's other arguments must have it too. A
                    // value set from the command line must have the one the
                    // model's own value has.
                    let written = d.replaced.as_ref().and_then(|w| {
                        let mut quiet = Checker {
                            dt: self.dt,
                            ..Checker::default()
                        };
                        let init = quiet.init(w, &scope, false)?;
                        init_dim(&init)
                    });
                    let dim = written.or_else(|| init_dim(i)).unwrap_or(Dim::NONE);
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
            // A value with an error in it (`V = EL`, no `EL`) gives no
            // dimension: without a unit, the variable's uses would be
            // reported too, as of the wrong dimension.
            let value_broken =
                unit.is_none() && matches!(&init, Some(Init::Expr(e)) if e.ty == Ty::Error);
            let broken = value_failed || value_broken || (d.unit.is_some() && unit.is_none());
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
                mean,
                sd,
                sd_relative,
                low,
                high,
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
                // Values are clamped at the bounds, not drawn again: a mean
                // outside them puts most values on a bound.
                let mean_outside = |c: &Checker| -> Option<(f64, f64)> {
                    let m = values(c, &[mean])?[0];
                    let lo = low.as_ref().and_then(|l| values(c, &[l])).map(|v| v[0]);
                    let hi = high.as_ref().and_then(|h| values(c, &[h])).map(|v| v[0]);
                    match (lo, hi) {
                        // (Bounds the wrong way round are E020 below.)
                        (Some(l), Some(h)) if l > h => None,
                        (Some(l), _) if m < l => Some((m, l)),
                        (_, Some(h)) if m > h => Some((m, h)),
                        _ => None,
                    }
                };
                if let Some((m, bound)) = mean_outside(self) {
                    self.emit(
                        Diagnostic::warning(
                            "cbm::W118",
                            mean.span,
                            format!(
                                "the mean {} lies outside the bounds{whose}: values are clamped at the bounds, not drawn again, so more than half of them will be exactly {}",
                                units::format_quantity(m, dim),
                                units::format_quantity(bound, dim)
                            ),
                        )
                        .label("outside [low, high]")
                        .help("move the mean inside the bounds, or widen them"),
                    );
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
    pub(super) fn unit(&mut self, u: &ast::UnitExpr) -> Option<(Dim, (String, f64))> {
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
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum VarsKind {
    Params,
    State,
    Inputs,
    SynParams,
    SynState,
}

/// The dimension of an initial value: of its expression, or of the first of
/// a distribution's arguments that has one of its own (a bare `0` fits any
/// dimension; a relative sd has none; an argument in error says nothing).
fn init_dim(i: &Init) -> Option<Dim> {
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
