//! Synapse types: parameters, per-synapse state, handlers, bounds.

use super::*;

impl Checker {
    pub(super) fn synapse_type(&mut self, s: &ast::SynapseDef) -> SynapseType {
        let base = Scope {
            context: "a synapse parameter",
            ..Scope::default()
        };
        let mut params = Vec::new();
        self.decls(&s.parameters, &base, VarsKind::SynParams, &mut params);
        let base = Scope {
            syn_params: &params,
            context: super::expr::SYNAPSE_DEFAULT,
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
            // Two bounds on one variable: which would hold? Say so.
            if bounds.iter().any(|b: &Bound| b.var == var) {
                self.emit(
                    Diagnostic::error(
                        "cbm::E020",
                        b.span,
                        format!("bounds on `{}` are given twice", b.var.name),
                    )
                    .label("second bounds")
                    .help("keep one `bounds` line per variable"),
                );
                continue;
            }
            // Numbers, dt and parameters only: each projection evaluates
            // them with its own parameter values.
            let constant = |r: Ref| matches!(r, Ref::SynParam(_) | Ref::Dt).then_some(1.0);
            if expr::eval(&lo, &constant).is_none() || expr::eval(&hi, &constant).is_none() {
                self.emit(
                    Diagnostic::error("cbm::E020", b.span, "bounds must be constants")
                        .label("not constant")
                        .help("bounds may use numbers, dt and the synapse type's parameters"),
                );
                continue;
            }
            bounds.push(Bound {
                var,
                low: lo,
                high: hi,
                span: b.span,
            });
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
