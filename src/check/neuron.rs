//! Neuron types: equations, update, spike condition, reset, refractory
//! period.

use super::*;

impl Checker {
    pub(super) fn neuron(&mut self, n: &ast::NeuronDef, signals: &[Signal]) -> NeuronType {
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
            if let Some(first) = state.iter().chain(&params).find(|v| v.name == i.name) {
                self.emit(ast_dup(&i.name, i.span, first.span));
            }
        }
        for s in &state {
            if let Some(first) = params.iter().find(|v| v.name == s.name) {
                self.emit(ast_dup(&s.name, s.span, first.span));
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
                    // (A variable whose dimension is unknown was reported.)
                    if !state[var].broken {
                        self.expect_dim(&rhs, want, &format!("d{}/dt", o.var.name), &scope);
                    }
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
                    None => {
                        let names: Vec<String> = state.iter().map(|v| v.name.clone()).collect();
                        let mut d = Diagnostic::error(
                            "cbm::E031",
                            h.span,
                            format!("`{}` is not a state variable, so it cannot be held", h.name),
                        )
                        .label("not in state");
                        if let Some(s) = super::expr::closest(&h.name, &names) {
                            d = d.help(format!("did you mean `{s}`?"));
                        }
                        self.emit(d)
                    }
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
}
