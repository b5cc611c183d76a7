//! Checking projections: synapse arguments, handlers typed for the
//! projection's cells, wiring rules, and gap junctions.

use super::expr::{self, const_value, CellScope, Scope};
use super::model::*;
use super::network::{cell_scope, ArgVar};
use super::stmt::Writes;
use super::units::{self, Dim};
use super::{unknown_setting, Checker};
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{self, Expr, ExprKind, Item, Setting, Span};

impl Checker {
    /// A synapse's initial value may read its two cells' parameters and
    /// state as they start (`w = cos(pre.phi - post.phi)`), in an
    /// expression: not what only a running network has (`pre.last_spike`,
    /// `pre.spiked`, an input), and not in a distribution's arguments,
    /// which are one for the whole projection.
    fn initial_value_reads_cells_as_they_start(&mut self, init: &Init) {
        if init
            .exprs()
            .iter()
            .any(|e| self.reads_a_running_cell(e, "an initial value", "a synapse's initial value"))
        {
            return;
        }
        if matches!(init, Init::Expr(_)) {
            return;
        }
        let cell = |r: Ref| matches!(r, Ref::Pre(_) | Ref::Post(_));
        if let Some((_, span)) = init.exprs().iter().find_map(|e| e.find_ref(&cell)) {
            self.emit(
                Diagnostic::error(
                    "cbm::E028",
                    span,
                    "a distribution's arguments must be constants: this is a value of each synapse's cell",
                )
                .label("a different value for each synapse")
                .help("draw with constants, or write an expression of the cells' values (`w = 0.5 * (1 + cos(pre.phi - post.phi))`)"),
            );
        }
    }

    /// E028 where `e`, worked out before the run (`what`), reads a cell's
    /// value that only a running network has: its last spike, whether it
    /// spiked, its teacher's last spike, an input (zeroed every step).
    fn reads_a_running_cell(&mut self, e: &TExpr, what: &str, whose: &str) -> bool {
        let running = |c: CellRef| {
            matches!(
                c,
                CellRef::LastSpike | CellRef::Spiked | CellRef::LastTeacher | CellRef::Input(_)
            )
        };
        let at_run_time = |r: Ref| matches!(r, Ref::Pre(c) | Ref::Post(c) if running(c));
        let Some((_, span)) = e.find_ref(&at_run_time) else {
            return false;
        };
        self.emit(
            Diagnostic::error(
                "cbm::E028",
                span,
                format!("{what} cannot read what changes as the network runs"),
            )
            .label("no value before the run")
            .help(format!(
                "{whose} may read its cells' parameters and state (`post.x`), as they start"
            )),
        );
        true
    }

    pub(super) fn projection(
        &mut self,
        p: &ast::ProjectionDecl,
        all: &[&ast::ProjectionDecl],
        items: &[Item],
        m: &Model,
    ) -> Option<Projection> {
        self.duplicate_settings(&p.settings);
        let src = self.pop_ref(&p.source, m);
        let dst = self.pop_ref(&p.target, m);
        let (src, dst) = (src?, dst?);
        let PopulationKind::Neuron {
            neuron: post_ty, ..
        } = m.populations[dst].kind
        else {
            self.emit(
                Diagnostic::error(
                    "cbm::E027",
                    p.target.span,
                    format!(
                        "`{}` is a spike source; projections must target a population of neurons",
                        p.target.name
                    ),
                )
                .label("a spike source")
                .help("spike sources have no inputs"),
            );
            return None;
        };
        let post = &m.neurons[post_ty];
        let target_var =
            if let Some(i) = post.inputs.iter().position(|v| v.name == p.target_var.name) {
                TargetVar::Input(i)
            } else if let Some(i) = post.state.iter().position(|v| v.name == p.target_var.name) {
                TargetVar::State(i)
            } else {
                let known: Vec<String> = post
                    .inputs
                    .iter()
                    .chain(&post.state)
                    .map(|v| v.name.clone())
                    .collect();
                let mut d = Diagnostic::error(
                    "cbm::E031",
                    p.target_var.span,
                    format!(
                        "`{}` has no input or state variable `{}`",
                        post.name, p.target_var.name
                    ),
                )
                .label("not an input of the target");
                d = match super::expr::closest(&p.target_var.name, &known) {
                    Some(s) => d.help(format!("did you mean `{}.{s}`?", p.target.name)),
                    None => d.help(format!(
                        "declare `{}` in the inputs of `{}`",
                        p.target_var.name, post.name
                    )),
                };
                self.emit(d);
                return None;
            };
        let target_dim = match target_var {
            TargetVar::Input(i) => post.inputs[i].dim,
            TargetVar::State(i) => post.state[i].dim,
        };
        // Wiring rules and initial values may read each pair's cells.
        let pre_cell = cell_scope(m, src);
        let post_cell = cell_scope(m, dst);
        let mut wiring = None;
        let mut pair_probability = None;
        let mut delay_steps = 1;
        let mut delay_draw: Option<DelayDraw> = None;
        // A zero delay needs the source updated before the target.
        // (`label`: "zero delay", or for a draw, what rounded to zero.)
        let zero_delay = |c: &mut Checker, span: Span, label: &str| {
            let pos = |i: usize| m.schedule.iter().position(|x| *x == i);
            if src == dst {
                c.emit(Diagnostic::error("cbm::E030", span, format!("a zero delay from `{}` to itself: a cell's spike cannot reach cells updated in the same step", p.source.name)).label(label).help("use a delay of at least dt"));
            } else if pos(src) >= pos(dst) {
                c.emit(Diagnostic::error("cbm::E030", span, format!("a zero delay from `{}` to `{}` needs `{}` scheduled first", p.source.name, p.target.name, p.source.name)).label(label).help("list the source before the target in `schedule { ... }`, or use a delay of at least dt"));
            }
        };
        let mut teacher = None;
        let scope = Scope {
            context: "a projection setting",
            ..Scope::default()
        };
        let mut syn_call: Option<ast::Call> = None;
        let mut connect_set: Option<&Setting> = None;
        for s in &p.settings {
            match s.name.name.as_str() {
                "synapse" => match &s.value.kind {
                    ExprKind::Call(c) => syn_call = Some(c.clone()),
                    ExprKind::Path(path) if path.parts.len() == 1 => {
                        syn_call = Some(ast::Call {
                            name: path.parts[0].clone(),
                            args: vec![],
                            span: path.span,
                        })
                    }
                    _ => self.emit(
                        Diagnostic::error(
                            "cbm::E027",
                            s.value.span,
                            "`synapse` names a synapse type, e.g. `synapse = Exc(w = 1)`",
                        )
                        .label("not a synapse type"),
                    ),
                },
                "connect" => connect_set = Some(s),
                "delay" if is_distribution(&s.value) => {
                    if let Some((init, low, high)) = self.delay_draw(&s.value, &scope) {
                        if low == 0 {
                            let label = "the shortest delay rounds to 0 steps (draws are rounded to whole steps, halves up)";
                            zero_delay(self, s.value.span, label);
                        }
                        delay_steps = low;
                        delay_draw = Some(DelayDraw {
                            init,
                            max_steps: high,
                        });
                    }
                }
                "delay" => {
                    let e = self.expr(&s.value, &scope);
                    if let Some(d) = self.steps_of(&e, "the delay", &scope, 0) {
                        delay_steps = d;
                        if d == 0 {
                            zero_delay(self, e.span, "zero delay");
                        }
                    }
                }
                "teacher" => match &s.value.kind {
                    ExprKind::Path(path) if path.parts.len() == 1 => {
                        let name = &path.parts[0].name;
                        match all.iter().position(|q| q.name.name == *name) {
                            Some(i) if all[i].name.name == p.name.name => self.emit(Diagnostic::error("cbm::E033", s.value.span, format!("projection `{name}` cannot be its own teacher")).label("itself").help("the teacher is another projection onto the same cells, e.g. CF -> PKJ for PF -> PKJ")),
                            Some(i) if all[i].target.name == p.target.name => teacher = Some(i),
                            Some(i) => self.emit(Diagnostic::error("cbm::E033", s.value.span, format!("teacher `{name}` targets `{}`, not `{}`", all[i].target.name, p.target.name)).label("different target population").help("a teacher projection must reach the same cells, e.g. CF -> PKJ for PF -> PKJ")),
                            None => {
                                let names: Vec<String> =
                                    all.iter().map(|q| q.name.name.clone()).collect();
                                let mut d = Diagnostic::error(
                                    "cbm::E003",
                                    s.value.span,
                                    format!("unknown projection `{name}`"),
                                )
                                .label("not a projection");
                                if let Some(s) = expr::closest(name, &names) {
                                    d = d.help(format!("did you mean `{s}`?"));
                                }
                                self.emit(d)
                            }
                        }
                    }
                    _ => self.emit(
                        Diagnostic::error(
                            "cbm::E027",
                            s.value.span,
                            "`teacher` names another projection",
                        )
                        .label("not a projection name"),
                    ),
                },
                other => self.emit(unknown_setting(
                    other,
                    s.name.span,
                    &["synapse", "connect", "delay", "teacher"],
                    "a projection",
                )),
            }
        }
        let mut wiring_of = None;
        if let Some((q, same)) = connect_set.and_then(|s| {
            let ExprKind::Call(c) = &s.value.kind else {
                return None;
            };
            (c.name.name == "same_as").then_some((c, s))
        }) {
            if let Some((r, w, pair_p)) =
                self.same_wiring(q, same.value.span, p, (src, dst), all, m)
            {
                wiring = Some(w);
                pair_probability = pair_p;
                wiring_of = Some(r);
            }
        } else if let Some(s) = connect_set {
            if let Some((w, p)) = self.wiring(
                &s.value,
                m.populations[src].size,
                m.populations[dst].size,
                src == dst,
                (pre_cell, post_cell),
            ) {
                wiring = Some(w);
                pair_probability = p;
            }
        } else {
            self.emit(Diagnostic::error("cbm::E026", p.name.span, format!("projection `{}` needs `connect = <rule>`", p.name.name)).label("no wiring rule").help("rules: all_to_all(), one_to_one(), fixed_indegree(k), fixed_outdegree(k), probability(p), blocks(), index(target = ...), same_as(projection)"));
        }
        let Some(call) = syn_call else {
            self.emit(
                Diagnostic::error(
                    "cbm::E026",
                    p.name.span,
                    format!("projection `{}` needs `synapse = <type>(...)`", p.name.name),
                )
                .label("no synapse type"),
            );
            return None;
        };
        let Some(si) = m.synapses.iter().position(|t| t.name == call.name.name) else {
            let names: Vec<String> = m.synapses.iter().map(|s| s.name.clone()).collect();
            let mut d = Diagnostic::error(
                "cbm::E003",
                call.name.span,
                format!("unknown synapse type `{}`", call.name.name),
            )
            .label("not a synapse type");
            if let Some(s) = super::expr::closest(&call.name.name, &names) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.emit(d);
            return None;
        };
        let ty = &m.synapses[si];
        let def = items.iter().find_map(|i| {
            if let Item::Synapse(s) = i {
                (s.name.name == ty.name).then_some(s)
            } else {
                None
            }
        })?;
        // Arguments: shared parameters (constants) and per-synapse initial values.
        // Parameter values: overrides, else defaults; either may use earlier
        // parameters and dt. Resolved in declaration order below.
        let mut param_exprs: Vec<Option<Init>> = ty.params.iter().map(|v| v.init.clone()).collect();
        let mut state_init: Vec<Option<Init>> = ty.state.iter().map(|v| v.init.clone()).collect();
        // Initial values may read the two cells of each synapse (`w =
        // cos(pre.phi - post.phi)`); a shared parameter that does is not a
        // constant (E020 below).
        let scope = Scope {
            syn_params: &ty.params,
            pre: Some(Some(pre_cell)),
            post: Some(Some(post_cell)),
            context: "a synapse argument",
            constants_first: true,
            ..Scope::default()
        };
        for (var, init) in self.named_args(
            &call,
            &ty.params,
            &ty.state,
            &scope,
            false,
            &format!("synapse `{}`", ty.name),
        ) {
            match var {
                ArgVar::Param(i) => param_exprs[i] = Some(init),
                ArgVar::State(i) => state_init[i] = Some(init),
            }
        }
        {
            // Per-synapse initial values drawn with the parameter values this
            // projection gives (see `check_distribution`).
            let mut given = ty.params.clone();
            for (v, init) in given.iter_mut().zip(&param_exprs) {
                v.init = init.clone();
            }
            let scope = Scope {
                syn_params: &given,
                context: "a synapse argument",
                constants_first: true,
                ..Scope::default()
            };
            let owner = format!("projection `{}`", p.name.name);
            for init in state_init.iter().flatten() {
                self.check_distribution(init, &scope, Some(&owner));
                self.initial_value_reads_cells_as_they_start(init);
            }
        }
        let mut params: Vec<Option<f64>> = Vec::new();
        for init in &param_exprs {
            let value = match init {
                Some(Init::Expr(e)) => expr::eval(e, &|r| match r {
                    Ref::Dt => Some(self.dt),
                    Ref::SynParam(j) => params.get(j).copied().flatten(),
                    _ => None,
                }),
                _ => None,
            };
            params.push(value);
        }
        let mut ok = true;
        for (i, v) in params.iter().enumerate() {
            if v.is_none() {
                if param_exprs[i].is_some() {
                    let span = call
                        .args
                        .iter()
                        .find(|a| a.name.as_ref().is_some_and(|n| n.name == ty.params[i].name))
                        .map(|a| a.value.span)
                        .unwrap_or(ty.params[i].span);
                    self.emit(Diagnostic::error("cbm::E020", span, format!("synapse parameter `{}` must be a constant", ty.params[i].name)).label("not constant").help("shared parameters may use numbers, dt and other parameters; per-synapse values belong in state"));
                } else {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E026",
                            call.span,
                            format!("synapse parameter `{}` has no value", ty.params[i].name),
                        )
                        .label("missing")
                        .help(format!(
                            "pass it: `{}({} = ...)`",
                            ty.name, ty.params[i].name
                        )),
                    );
                }
                ok = false;
            }
        }
        for (i, v) in state_init.iter().enumerate() {
            if v.is_none() {
                self.emit(
                    Diagnostic::error(
                        "cbm::E026",
                        call.span,
                        format!("synapse state `{}` has no initial value", ty.state[i].name),
                    )
                    .label("missing"),
                );
                ok = false;
            }
        }
        let bounds = if ok {
            self.projection_bounds(ty, &params, &p.name.name, call.span)
        } else {
            vec![]
        };
        // A teacher that was named but is invalid has its own error already.
        let teacher_named = p.settings.iter().any(|s| s.name.name == "teacher");
        // The handlers see this projection's parameter values (a pulse
        // length or a period may be a parameter).
        let mut local_ty = ty.clone();
        for (var, value) in local_ty.params.iter_mut().zip(&params) {
            if let (Some(v), Some(Init::Expr(e))) = (value, var.init.as_mut()) {
                e.kind = TKind::Const(*v);
            }
        }
        let handlers = self.handlers(
            def,
            &local_ty,
            Some(pre_cell),
            Some(post_cell),
            teacher.is_some() || teacher_named,
            Some(target_dim),
            &m.signals,
        );
        if !ok {
            return None;
        }
        Some(Projection {
            name: p.name.name.clone(),
            source: src,
            target: dst,
            target_var,
            synapse: si,
            params: params.into_iter().map(|v| v.unwrap_or(0.0)).collect(),
            state_init: state_init
                .into_iter()
                .map(|v| v.expect("checked above"))
                .collect(),
            bounds,
            wiring: wiring?,
            pair_probability,
            wiring_of,
            delay_steps,
            delay_draw,
            teacher,
            handlers,
            span: p.name.span,
        })
    }

    /// `connect = same_as(P)`: projection P's index, its rule and pair
    /// probability, where P is declared before this one and joins the same
    /// two populations (the synapses are then P's, pair for pair: an AMPA
    /// and an NMDA projection through the same contacts).
    fn same_wiring(
        &mut self,
        call: &ast::Call,
        span: Span,
        p: &ast::ProjectionDecl,
        (src, dst): (usize, usize),
        all: &[&ast::ProjectionDecl],
        m: &Model,
    ) -> Option<(usize, Wiring, Option<TExpr>)> {
        let name = match call.args.as_slice() {
            [a] if a.name.as_ref().is_none_or(|n| n.name == "projection") => match &a.value.kind {
                ExprKind::Path(path) if path.parts.len() == 1 => path.parts[0].clone(),
                _ => {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E027",
                            a.value.span,
                            "same_as(...) takes a projection's name",
                        )
                        .label("not a projection name")
                        .help("e.g. `connect = same_as(pf_pkj_ampa)`"),
                    );
                    return None;
                }
            },
            _ => {
                self.emit(Diagnostic::error("cbm::E026", span, "same_as(...) needs one projection's name").label("here").help("e.g. `connect = same_as(pf_pkj_ampa)`: the synapses of that projection, pair for pair"));
                return None;
            }
        };
        if self.broken.contains(&name.name) {
            return None;
        }
        let Some(r) = m.projections.iter().position(|q| q.name == name.name) else {
            let later = all.iter().any(|q| q.name.name == name.name);
            let mut d = Diagnostic::error(
                "cbm::E003",
                name.span,
                format!("no projection `{}` declared before this one", name.name),
            )
            .label("not a projection declared before");
            d = if name.name == p.name.name {
                d.help("a projection cannot take its synapses from itself")
            } else if later {
                d.help(format!("declare `{}` before `{}`: same_as copies the synapses of a projection already built", name.name, p.name.name))
            } else {
                let names: Vec<String> = m.projections.iter().map(|q| q.name.clone()).collect();
                match super::expr::closest(&name.name, &names) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d,
                }
            };
            self.emit(d);
            return None;
        };
        let q = &m.projections[r];
        if (q.source, q.target) != (src, dst) {
            let pop = |i: usize| m.populations[i].name.as_str();
            self.emit(
                Diagnostic::error(
                    "cbm::E023",
                    name.span,
                    format!(
                        "same_as(`{}`) needs the same two populations: it joins {} -> {}, this projection {} -> {}",
                        name.name,
                        pop(q.source),
                        pop(q.target),
                        pop(src),
                        pop(dst)
                    ),
                )
                .label("other populations")
                .help("same_as gives this projection the other's synapses, pair for pair: both must join the same source and target populations"),
            );
            return None;
        }
        Some((r, q.wiring.clone(), q.pair_probability.clone()))
    }

    /// A delay drawn per synapse (`uniform(...)`, or `normal(...)` with
    /// `low` and `high`): the distribution, a time, and its bounds in whole
    /// steps. The longest delay sizes the buffer of arriving input.
    fn delay_draw(&mut self, e: &Expr, scope: &Scope) -> Option<(Init, u32, u32)> {
        let init = self.init(e, scope, true)?;
        // Unit errors once, for the delay, not again for its bounds.
        let before = self.diagnostics.len();
        self.check_init_dim(&init, Dim::TIME, "the delay", scope);
        if self.diagnostics.len() > before {
            return None;
        }
        let (low, high) = match &init {
            Init::Uniform { low, high } => (low.clone(), high.clone()),
            Init::Normal {
                low: Some(low),
                high: Some(high),
                ..
            } => (low.clone(), high.clone()),
            _ => {
                self.emit(Diagnostic::error("cbm::E034", e.span, "a per-synapse delay drawn from `normal(...)` needs `low` and `high`").label("unbounded").help("e.g. `normal(5 ms, 1 ms, low = 1 ms, high = 10 ms)`: the longest delay sizes the buffer of arriving input"));
                return None;
            }
        };
        let before = self.diagnostics.len();
        self.check_distribution(&init, scope, None);
        let reported = self.diagnostics.len() > before;
        let shortest = self.delay_bound(&low, "the shortest delay", scope);
        let longest = self.delay_bound(&high, "the longest delay", scope);
        let (shortest, longest) = (shortest?, longest?);
        if shortest > longest {
            if reported {
                return None;
            }
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    e.span,
                    "the shortest delay is above the longest",
                )
                .label("low > high"),
            );
            return None;
        }
        Some((init, shortest, longest))
    }

    /// A bound of a drawn delay in steps, rounded as the draws are (halves
    /// up): `uniform(0.5 ms, 20.5 ms)` at dt = 1 ms gives 1 to 20 ms, each
    /// equally often.
    fn delay_bound(&mut self, e: &TExpr, what: &str, scope: &Scope) -> Option<u32> {
        let v = self.time_value(e, what, scope)?;
        let steps = whole_steps(v, self.dt);
        if self.too_many_steps(steps, e, what) {
            return None;
        }
        Some(steps as u32)
    }

    /// The synapse type's bounds with this projection's parameter values
    /// (`Grow(hi = 3)` moves `bounds w in [0, hi]` to [0, 3] here only).
    fn projection_bounds(
        &mut self,
        ty: &SynapseType,
        params: &[Option<f64>],
        projection: &str,
        at: crate::syntax::ast::Span,
    ) -> Vec<(usize, f64, f64)> {
        let dt = self.dt;
        let env = |r: Ref| match r {
            Ref::Dt => Some(dt),
            Ref::SynParam(j) => params.get(j).copied().flatten(),
            _ => None,
        };
        let mut out = Vec::new();
        for b in &ty.bounds {
            let (Some(lo), Some(hi)) = (expr::eval(&b.low, &env), expr::eval(&b.high, &env)) else {
                continue;
            };
            if lo <= hi {
                out.push((b.var, lo, hi));
                continue;
            }
            let var = &ty.state[b.var].name;
            let empty = if lo.is_nan() || hi.is_nan() {
                "are not numbers".to_string()
            } else {
                format!(
                    "are empty: [{}, {}]",
                    super::units::trim_float(lo),
                    super::units::trim_float(hi)
                )
            };
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    at,
                    format!("with the parameter values of `{projection}`, the bounds of `{var}` {empty}"),
                )
                .label("the lower bound is above the upper bound")
                .help(format!("give `{projection}` parameter values that keep the lower bound of `{var}` at or below the upper one, or change the `bounds` line of `{}`", ty.name)),
            );
        }
        out
    }

    /// Type a synapse type's handlers for one projection (or none).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn handlers(
        &mut self,
        def: &ast::SynapseDef,
        ty: &SynapseType,
        pre: Option<CellScope>,
        post: Option<CellScope>,
        has_teacher: bool,
        deposit: Option<Dim>,
        signals: &[Signal],
    ) -> Handlers {
        let mut scope = Scope {
            syn_params: &ty.params,
            syn_state: &ty.state,
            pre: Some(pre),
            post: Some(post),
            has_teacher,
            signals,
            allow_time: true,
            context: "synapse code",
            ..Scope::default()
        };
        let mut h = Handlers::default();
        let mut locals = 0;
        if let Some(b) = &def.on_pre {
            h.on_pre = self.stmts(
                &b.body,
                &mut scope,
                Writes::Synapse {
                    deposit: Some(deposit),
                },
                &mut locals,
            );
        }
        if let Some(b) = &def.on_post {
            h.on_post = self.stmts(
                &b.body,
                &mut scope,
                Writes::Synapse { deposit: None },
                &mut locals,
            );
        }
        if let Some(b) = &def.on_teacher {
            h.on_teacher = self.stmts(
                &b.body,
                &mut scope,
                Writes::Synapse { deposit: None },
                &mut locals,
            );
        }
        for e in &def.every {
            let period = self.expr(&e.period, &scope);
            let steps = self.steps_of(&period, "the period", &scope, 1);
            let body = self.stmts(
                &e.body,
                &mut scope,
                Writes::Synapse { deposit: None },
                &mut locals,
            );
            if let Some(s) = steps {
                h.every.push((s, body));
            }
        }
        h.locals = locals;
        h
    }

    pub(super) fn wiring(
        &mut self,
        e: &Expr,
        n_src: usize,
        n_dst: usize,
        same: bool,
        (pre, post): (CellScope, CellScope),
    ) -> Option<(Wiring, Option<TExpr>)> {
        let (name, args) = match &e.kind {
            ExprKind::Call(c) => (c.name.clone(), c.args.clone()),
            ExprKind::Path(p) if p.parts.len() == 1 => (p.parts[0].clone(), vec![]),
            _ => {
                self.emit(Diagnostic::error("cbm::E027", e.span, "`connect` takes a wiring rule").label("not a rule").help("rules: all_to_all(), one_to_one(), fixed_indegree(k), fixed_outdegree(k), probability(p), blocks(), index(target = ...), same_as(projection)"));
                return None;
            }
        };
        let named = |n: &str, pos: usize| -> Option<&Expr> {
            args.iter()
                .find(|a| a.name.as_ref().is_some_and(|x| x.name == n))
                .map(|a| &a.value)
                .or_else(|| args.get(pos).filter(|a| a.name.is_none()).map(|a| &a.value))
        };
        let flag = |c: &mut Checker, n: &str, default: bool| -> bool {
            match named(n, usize::MAX).map(|e| &e.kind) {
                None => default,
                Some(ExprKind::Bool(b)) => *b,
                Some(_) => {
                    c.emit(
                        Diagnostic::error(
                            "cbm::E027",
                            named(n, usize::MAX).map(|e| e.span).unwrap_or(e.span),
                            format!("`{n}` is true or false"),
                        )
                        .label("not a boolean"),
                    );
                    default
                }
            }
        };
        let known: &[&str] = match name.name.as_str() {
            "all_to_all" => &["allow_self"],
            "fixed_indegree" | "fixed_outdegree" => &["k", "replace", "allow_self"],
            "probability" => &["p", "allow_self"],
            "index" => &["target"],
            _ => &[],
        };
        self.unknown_arguments(&args, known, &format!("{}(...)", name.name));
        let w = match name.name.as_str() {
            "all_to_all" => Wiring::AllToAll {
                allow_self: flag(self, "allow_self", !same),
            },
            "one_to_one" => {
                if n_src != n_dst {
                    self.emit(Diagnostic::error("cbm::E023", e.span, format!("one_to_one needs equal sizes, got {n_src} sources and {n_dst} targets")).label("sizes differ"));
                    return None;
                }
                Wiring::OneToOne
            }
            "blocks" => {
                if !n_dst.is_multiple_of(n_src) {
                    self.emit(Diagnostic::error("cbm::E023", e.span, format!("blocks() needs the target size to be a multiple of the source size: {n_dst} targets / {n_src} sources does not divide")).label("sizes do not divide").help("source i contacts targets [i*m, (i+1)*m) with m = targets / sources"));
                    return None;
                }
                Wiring::Blocks {
                    per_source: n_dst / n_src,
                }
            }
            "fixed_indegree" | "fixed_outdegree" => {
                let indeg = name.name == "fixed_indegree";
                let Some(k) = named("k", 0) else {
                    self.emit(
                        Diagnostic::error("cbm::E026", e.span, format!("{}(k) needs k", name.name))
                            .label("no k"),
                    );
                    return None;
                };
                let k = self.count(k, "k", 0)? as usize;
                let replace = flag(self, "replace", false);
                let allow_self = flag(self, "allow_self", !same);
                // A cell of a population wired onto itself picks among the
                // others unless it may pick itself.
                let no_self = same && !allow_self;
                let size = if indeg { n_src } else { n_dst };
                let pool = size - usize::from(no_self);
                if (!replace && k > pool) || (k > 0 && pool == 0) {
                    let degree = if indeg { "in-degree" } else { "out-degree" };
                    let from = if no_self {
                        format!("the {pool} other cells (a cell does not connect to itself)")
                    } else {
                        format!("a population of {pool}")
                    };
                    let how = if replace { "" } else { " without replacement" };
                    let mut fixes = vec!["lower k"];
                    if !replace && pool > 0 {
                        fixes.push("draw with `replace = true`");
                    }
                    if no_self {
                        fixes.push("allow self-connections with `allow_self = true`");
                    }
                    self.emit(
                        Diagnostic::error(
                            "cbm::E024",
                            e.span,
                            format!("{degree} {k}{how} from {from}"),
                        )
                        .label("k is larger than the cells to draw from")
                        .help(fixes.join(", or ")),
                    );
                    return None;
                }
                if indeg {
                    Wiring::FixedInDegree {
                        k,
                        replace,
                        allow_self,
                    }
                } else {
                    Wiring::FixedOutDegree {
                        k,
                        replace,
                        allow_self,
                    }
                }
            }
            "probability" => {
                let Some(p) = named("p", 0) else {
                    self.emit(
                        Diagnostic::error("cbm::E026", e.span, "probability(p) needs p")
                            .label("no p"),
                    );
                    return None;
                };
                // p may read each pair's cells as they start: a probability
                // that falls with their distance, or rises with the match
                // of their preferred stimuli.
                let scope = Scope {
                    pre: Some(Some(pre)),
                    post: Some(Some(post)),
                    context: "a wiring rule",
                    ..Scope::default()
                };
                let t = self.expr(p, &scope);
                if !self.expect_dim(&t, Dim::NONE, "the connection probability", &scope) {
                    return None;
                }
                let cell = |r: Ref| matches!(r, Ref::Pre(_) | Ref::Post(_));
                if t.find_ref(&cell).is_some() {
                    if self.reads_a_running_cell(&t, "a wiring rule", "a pair's probability") {
                        return None;
                    }
                    let all = Wiring::AllToAll {
                        allow_self: flag(self, "allow_self", !same),
                    };
                    return Some((all, Some(t)));
                }
                match const_value(&t) {
                    Some(v) if (0.0..=1.0).contains(&v) => Wiring::Probability {
                        p: v,
                        allow_self: flag(self, "allow_self", !same),
                    },
                    Some(v) => {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E020",
                                p.span,
                                format!(
                                    "the connection probability is {}, outside [0, 1]",
                                    units::trim_float(v)
                                ),
                            )
                            .label(if v > 1.0 {
                                "above 1"
                            } else {
                                "negative"
                            }),
                        );
                        return None;
                    }
                    None => {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E020",
                                p.span,
                                "a probability must be a constant in [0, 1]",
                            )
                            .label("not a constant")
                            .help("or an expression of each pair's cells, e.g. `p = exp(-abs(pre.x - post.x) / 100 um)`"),
                        );
                        return None;
                    }
                }
            }
            "index" => {
                // `index(target = i / 8)`: source i contacts the target the
                // expression names (i, n_pre and n_post are defined); values
                // outside the target population make no synapse.
                let Some(target) = named("target", 0) else {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E026",
                            e.span,
                            "index(target = ...) needs an expression of the source index `i`",
                        )
                        .label("no target"),
                    );
                    return None;
                };
                let scope = Scope {
                    locals: vec![
                        ("i".into(), Ty::Num(Dim::NONE)),
                        ("n_pre".into(), Ty::Num(Dim::NONE)),
                        ("n_post".into(), Ty::Num(Dim::NONE)),
                    ],
                    context: "an index wiring rule",
                    ..Scope::default()
                };
                let t = self.expr(target, &scope);
                if !self.expect_dim(&t, Dim::NONE, "the target index", &scope) {
                    return None;
                }
                let mut pairs = Vec::new();
                for i in 0..n_src {
                    let env = |r: Ref| match r {
                        Ref::Local(0) => Some(i as f64),
                        Ref::Local(1) => Some(n_src as f64),
                        Ref::Local(2) => Some(n_dst as f64),
                        _ => None,
                    };
                    let Some(j) = expr::eval(&t, &env) else {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E020",
                                target.span,
                                "the target index must be computable from i, n_pre and n_post",
                            )
                            .label("not computable"),
                        );
                        return None;
                    };
                    let j = j.floor();
                    if j >= 0.0 && j < n_dst as f64 {
                        pairs.push((i as u32, j as u32));
                    }
                }
                Wiring::Explicit { pairs }
            }
            other => {
                let names: Vec<String> = [
                    "all_to_all",
                    "one_to_one",
                    "fixed_indegree",
                    "fixed_outdegree",
                    "probability",
                    "blocks",
                    "index",
                    "same_as",
                ]
                .map(String::from)
                .to_vec();
                let mut d = Diagnostic::error(
                    "cbm::E027",
                    name.span,
                    format!("unknown wiring rule `{other}`"),
                )
                .label("not a rule");
                d = match super::expr::closest(other, &names) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("rules: {}", names.join(", "))),
                };
                self.emit(d);
                return None;
            }
        };
        Some((w, None))
    }

    pub(super) fn gap(&mut self, g: &ast::GapJunctionDecl, m: &Model) -> Option<GapJunction> {
        self.duplicate_settings(&g.settings);
        let pop = self.pop_ref(&g.population, m)?;
        let PopulationKind::Neuron { neuron, .. } = m.populations[pop].kind else {
            self.emit(
                Diagnostic::error(
                    "cbm::E027",
                    g.population.span,
                    "gap junctions join cells with a voltage; this is a spike source",
                )
                .label("a spike source"),
            );
            return None;
        };
        let ty = &m.neurons[neuron];
        let scope = Scope {
            context: "a gap junction",
            ..Scope::default()
        };
        let errors_before = self.diagnostics.iter().filter(|d| d.is_error()).count();
        let mut partners = None;
        // (Where the count is written, for an error about it.)
        let mut partners_span = g.name.span;
        let mut distinct = true;
        let mut coupling = None;
        let mut voltage = None;
        let mut target = None;
        let var_named = |e: &Expr| -> Option<String> {
            match &e.kind {
                ExprKind::Path(p) if p.parts.len() == 1 => Some(p.parts[0].name.clone()),
                _ => None,
            }
        };
        for s in &g.settings {
            match s.name.name.as_str() {
                "partners" => {
                    partners = self.count(&s.value, "the number of partners", 1);
                    partners_span = s.value.span;
                }
                "distinct" => match s.value.kind {
                    ExprKind::Bool(b) => distinct = b,
                    _ => self.emit(
                        Diagnostic::error("cbm::E027", s.value.span, "`distinct` is true or false")
                            .label("not a boolean"),
                    ),
                },
                "coupling" => {
                    let e = self.expr(&s.value, &scope);
                    coupling = match (e.ty, const_value(&e)) {
                        // A negative conductance drives partners apart
                        // (and soon to infinity): no gap junction does that.
                        (Ty::Num(_), Some(v)) if v < 0.0 => {
                            self.emit(
                                Diagnostic::error(
                                    "cbm::E020",
                                    s.value.span,
                                    "the coupling cannot be negative",
                                )
                                .label("negative")
                                .help("a gap junction's coupling is a conductance: zero or more"),
                            );
                            None
                        }
                        (Ty::Num(d), Some(v)) => Some((v, d, s.value.span)),
                        _ => {
                            self.emit(
                                Diagnostic::error(
                                    "cbm::E020",
                                    s.value.span,
                                    "the coupling must be a constant",
                                )
                                .label("not constant"),
                            );
                            None
                        }
                    };
                }
                "voltage" => match var_named(&s.value)
                    .and_then(|n| ty.state.iter().position(|v| v.name == n))
                {
                    Some(i) => voltage = Some(i),
                    None => self.emit(
                        Diagnostic::error(
                            "cbm::E031",
                            s.value.span,
                            format!("`voltage` must name a state variable of `{}`", ty.name),
                        )
                        .label("not a state variable"),
                    ),
                },
                "target" => {
                    let n = var_named(&s.value).unwrap_or_default();
                    if let Some(i) = ty.inputs.iter().position(|v| v.name == n) {
                        target = Some(TargetVar::Input(i));
                    } else {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E031",
                                s.value.span,
                                format!("`target` must name an input of `{}`", ty.name),
                            )
                            .label("not an input")
                            .help("declare e.g. `I_gap: mV/ms` under inputs"),
                        );
                    }
                }
                other => self.emit(unknown_setting(
                    other,
                    s.name.span,
                    &["partners", "distinct", "coupling", "voltage", "target"],
                    "a gap junction",
                )),
            }
        }
        let (Some(partners), Some((coupling, cdim, cspan)), Some(voltage), Some(target)) =
            (partners, coupling, voltage, target)
        else {
            if self.diagnostics.iter().filter(|d| d.is_error()).count() > errors_before {
                return None;
            }
            self.emit(
                Diagnostic::error(
                    "cbm::E026",
                    g.name.span,
                    "a gap junction needs partners, coupling, voltage and target",
                )
                .label("incomplete"),
            );
            return None;
        };
        let tdim = match target {
            TargetVar::Input(i) => ty.inputs[i].dim,
            TargetVar::State(i) => ty.state[i].dim,
        };
        let got = cdim * ty.state[voltage].dim;
        let want = tdim / ty.state[voltage].dim;
        if got != tdim && cdim == Dim::NONE {
            // A bare number: say which unit, as for any other value.
            let mut d = Diagnostic::error(
                "cbm::E012",
                cspan,
                format!(
                    "the coupling needs a unit: expected {}, found a bare number",
                    want.describe()
                ),
            )
            .label("no unit");
            // (A rate of coupling is written per ms, `0.025 /ms`, not in Hz.)
            let unit = if want == Dim::NONE / Dim::TIME {
                Some("/ms")
            } else {
                want.display_unit().map(|(u, _)| u)
            };
            if let Some(unit) = unit {
                d = d.help(format!(
                    "did you mean `{} {unit}`?",
                    units::trim_float(coupling)
                ));
            }
            self.emit(d);
            return None;
        }
        if got != tdim {
            self.emit(
                Diagnostic::error(
                    "cbm::E011",
                    cspan,
                    format!(
                        "coupling x voltage difference is {}, but the target input is {}",
                        got.describe(),
                        tdim.describe()
                    ),
                )
                .label(format!("coupling is {}", cdim.describe()))
                .help(format!(
                    "the coupling needs dimension {}",
                    (tdim / ty.state[voltage].dim).describe()
                )),
            );
            return None;
        }
        let size = m.populations[pop].size;
        if size < 2 {
            self.emit(
                Diagnostic::error(
                    "cbm::E024",
                    g.name.span,
                    format!(
                        "a gap junction needs at least two cells; `{}` has {size}",
                        g.population.name
                    ),
                )
                .label("no partners possible"),
            );
            return None;
        }
        if distinct && partners >= size as u64 {
            self.emit(
                Diagnostic::error(
                    "cbm::E024",
                    partners_span,
                    format!("{partners} distinct partners in a population of {size}"),
                )
                .label("too many partners")
                .help("each cell's partners are other cells"),
            );
            return None;
        }
        Some(GapJunction {
            name: g.name.name.clone(),
            population: pop,
            partners: partners as usize,
            distinct,
            coupling,
            voltage,
            target,
            span: g.name.span,
        })
    }
}

/// `normal(...)` or `uniform(...)`.
fn is_distribution(e: &ast::Expr) -> bool {
    matches!(&e.kind, ExprKind::Call(c) if matches!(c.name.name.as_str(), "normal" | "uniform"))
}
