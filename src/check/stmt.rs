//! Typing statements (update, reset and synapse handler blocks).

use super::expr::Scope;
use super::model::*;
use super::units::Dim;
use super::Checker;
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{AssignOp, Stmt};

/// What a block may assign to.
#[derive(Clone, Copy)]
pub enum Writes {
    /// Neuron update/reset: the cell's own state variables.
    NeuronState,
    /// Synapse handler: per-synapse state; `target` deposits only when
    /// `deposit` is Some (on_pre), with the target variable's dimension
    /// (None when the synapse type is used by no projection).
    Synapse { deposit: Option<Option<Dim>> },
}

impl Checker {
    pub fn stmts(
        &mut self,
        stmts: &[Stmt],
        scope: &mut Scope,
        writes: Writes,
        locals: &mut usize,
    ) -> Vec<TStmt> {
        let depth = scope.locals.len();
        let mut out = Vec::new();
        for s in stmts {
            match s {
                Stmt::Let(l) => {
                    let value = self.expr(&l.value, scope);
                    scope.locals.push((l.name.name.clone(), value.ty));
                    let local = scope.locals.len() - 1;
                    *locals = (*locals).max(scope.locals.len());
                    out.push(TStmt::Let { local, value });
                }
                Stmt::If(i) => {
                    let cond = self.expr(&i.cond, scope);
                    if matches!(cond.ty, Ty::Num(_)) {
                        self.emit(
                            Diagnostic::error("cbm::E013", cond.span, "an `if` needs a condition")
                                .label("this is a number")
                                .help("compare it, e.g. `if V > theta`"),
                        );
                    }
                    let then = self.stmts(&i.then, scope, writes, locals);
                    let otherwise = self.stmts(&i.otherwise, scope, writes, locals);
                    out.push(TStmt::If {
                        cond,
                        then,
                        otherwise,
                    });
                }
                Stmt::Assign(a) => {
                    let value = self.expr(&a.value, scope);
                    let name = a.target.to_string();
                    let span = a.target.span;
                    let single = a.target.parts.len() == 1;
                    let first = a.target.parts[0].name.as_str();
                    let mut pulse_steps = None;
                    let target = match writes {
                        Writes::Synapse { deposit } if single && first == "target" => {
                            let Some(dim) = deposit else {
                                self.emit(
                                    Diagnostic::error(
                                        "cbm::E025",
                                        span,
                                        "only `on_pre` can deposit into the target",
                                    )
                                    .label("plasticity handlers change synapse state only")
                                    .help("move the deposit into `on_pre`"),
                                );
                                continue;
                            };
                            if !matches!(a.op, AssignOp::Add | AssignOp::Sub) {
                                self.emit(Diagnostic::error("cbm::E025", a.span, "deposits into the target accumulate: use `target += ...`").label("not +=").help("many synapses write the same target; only sums are well defined"));
                                continue;
                            }
                            if let Some(d) = dim {
                                if self.expect_dim(
                                    &value,
                                    d,
                                    "the deposit into the projection's target",
                                    scope,
                                ) {
                                    // fine
                                }
                            }
                            if let Some(dur) = &a.duration {
                                let e = self.expr(dur, scope);
                                pulse_steps = self.steps_of(&e, "the pulse duration", scope, 1);
                            }
                            Target::Deposit
                        }
                        _ => {
                            if let Some(dur) = &a.duration {
                                self.emit(
                                    Diagnostic::error(
                                        "cbm::E025",
                                        dur.span,
                                        "`for <duration>` only applies to deposits into `target`",
                                    )
                                    .label("pulse length"),
                                );
                            }
                            let Some(t) = self.assign_target(&a.target, scope, writes) else {
                                continue;
                            };
                            let (dim, broken) = match t {
                                Target::State(i) => (scope.state[i].dim, scope.state[i].broken),
                                Target::SynState(i) => {
                                    (scope.syn_state[i].dim, scope.syn_state[i].broken)
                                }
                                Target::Deposit => (Dim::NONE, false),
                            };
                            match a.op {
                                AssignOp::Mul | AssignOp::Div => {
                                    self.expect_dim(
                                        &value,
                                        Dim::NONE,
                                        &format!(
                                            "the factor in `{name} {}=`",
                                            if a.op == AssignOp::Mul { "*" } else { "/" }
                                        ),
                                        scope,
                                    );
                                }
                                // A declaration in error has no dimension to hold to.
                                _ if broken => {}
                                _ => {
                                    self.expect_dim(
                                        &value,
                                        dim,
                                        &format!("the value assigned to `{name}`"),
                                        scope,
                                    );
                                }
                            }
                            t
                        }
                    };
                    out.push(TStmt::Assign {
                        target,
                        op: a.op,
                        value,
                        pulse_steps,
                        span: a.span,
                    });
                }
            }
        }
        scope.locals.truncate(depth);
        out
    }

    fn assign_target(
        &mut self,
        path: &crate::syntax::ast::Path,
        scope: &Scope,
        writes: Writes,
    ) -> Option<Target> {
        let span = path.span;
        let name = path.to_string();
        if path.parts.len() == 1 {
            let n = path.parts[0].name.as_str();
            match writes {
                Writes::NeuronState => {
                    if let Some(i) = scope.state.iter().position(|v| v.name == n) {
                        return Some(Target::State(i));
                    }
                }
                Writes::Synapse { .. } => {
                    if let Some(i) = scope.syn_state.iter().position(|v| v.name == n) {
                        return Some(Target::SynState(i));
                    }
                }
            }
            let (why, help) = if scope.params.iter().any(|v| v.name == n)
                || scope.syn_params.iter().any(|v| v.name == n)
            {
                (
                    "a parameter is constant during a run",
                    "declare it under `state` if it changes",
                )
            } else if scope.inputs.iter().any(|v| v.name == n) {
                (
                    "an input is written by projections and couplings",
                    "inputs are summed from synapses each step; change a state variable instead",
                )
            } else if scope.locals.iter().any(|l| l.0 == n) {
                ("a `let` value cannot be changed", "use a state variable")
            } else {
                let state: Vec<String> = scope.state.iter().map(|v| v.name.clone()).collect();
                let help = match super::expr::closest(&name, &state) {
                    Some(s) => format!("did you mean `{s}`? (or declare `{name}` under `state`)"),
                    None => "declare it under `state`".to_string(),
                };
                self.emit(
                    Diagnostic::error("cbm::E003", span, format!("undefined variable `{name}`"))
                        .label("not declared")
                        .help(help),
                );
                return None;
            };
            self.emit(
                Diagnostic::error(
                    "cbm::E025",
                    span,
                    format!("cannot assign to `{name}`: {why}"),
                )
                .label("read-only here")
                .help(help),
            );
            return None;
        }
        self.emit(Diagnostic::error("cbm::E025", span, format!("cannot assign to `{name}`")).label("read-only here").help("synapse code changes its own state (e.g. `w`) or deposits with `target += ...`; cells change only their own state"));
        None
    }
}
