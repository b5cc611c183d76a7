//! Constant values: evaluating checked expressions at check time, and
//! the positive constants, whole numbers of steps and literals that
//! settings need.

use super::*;

impl Checker {
    /// The value of an expression of constants, `dt` and parameters with
    /// constant values (None when it depends on anything else).
    pub fn const_eval(&self, e: &TExpr, scope: &Scope) -> Option<f64> {
        self.const_eval_depth(e, scope, 0)
    }

    pub(super) fn const_eval_depth(&self, e: &TExpr, scope: &Scope, depth: usize) -> Option<f64> {
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
        let v = self.time_value(e, what, scope)?;
        let steps = v / self.dt;
        let rounded = steps.round();
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
        if self.too_many_steps(rounded, e, what) {
            return None;
        }
        Some(rounded as u32)
    }

    /// A time (already checked to be one) that is a constant, finite and not
    /// negative, in seconds; else E020.
    pub(super) fn time_value(&mut self, e: &TExpr, what: &str, scope: &Scope) -> Option<f64> {
        let Some(v) = self.const_eval(e, scope) else {
            self.emit(
                Diagnostic::error("cbm::E020", e.span, format!("{what} must be a constant"))
                    .label("not a constant"),
            );
            return None;
        };
        if v < 0.0 || !v.is_finite() {
            let problem = if v.is_nan() {
                "is not a number (0/0?)"
            } else if v.is_infinite() {
                "is infinite"
            } else {
                "cannot be negative"
            };
            self.emit(
                Diagnostic::error("cbm::E020", e.span, format!("{what} {problem}"))
                    .label(units::format_quantity(v, Dim::TIME)),
            );
            return None;
        }
        Some(v)
    }

    /// E020 when a time of `steps` steps is more than a step counter holds.
    pub(super) fn too_many_steps(&mut self, steps: f64, e: &TExpr, what: &str) -> bool {
        let too_many = steps > (u32::MAX / 2) as f64;
        if too_many {
            self.emit(
                Diagnostic::error("cbm::E020", e.span, format!("{what} is too long"))
                    .label(format!("{steps} steps"))
                    .help(format!("at most {} steps of dt", u32::MAX / 2)),
            );
        }
        too_many
    }

    /// The value of an expression of literals and `dt` alone.
    pub(super) fn literal_eval(&self, e: &TExpr) -> Option<f64> {
        expr::eval(e, &|r| match r {
            Ref::Dt => Some(self.dt),
            _ => None,
        })
    }
}
