//! Typing expressions: resolve every name, compute every dimension.

use super::model::*;
use super::units::{self, Dim};
use super::Checker;
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{BinOp, Expr, ExprKind, Path, Span, UnOp};

/// The variables of one cell type as seen from synapse code (`pre.`/`post.`).
#[derive(Clone, Copy)]
pub struct CellScope<'a> {
    pub params: &'a [Var],
    pub state: &'a [Var],
    pub inputs: &'a [Var],
    pub is_source: bool,
}

/// What names mean where an expression is written.
#[derive(Clone, Default)]
pub struct Scope<'a> {
    pub params: &'a [Var],
    pub state: &'a [Var],
    pub inputs: &'a [Var],
    pub aliases: &'a [(String, TExpr)],
    pub syn_params: &'a [Var],
    pub syn_state: &'a [Var],
    /// Some(None): synapse code whose populations are unknown (unused type).
    pub pre: Option<Option<CellScope<'a>>>,
    pub post: Option<Option<CellScope<'a>>>,
    pub has_teacher: bool,
    pub signals: &'a [Signal],
    pub locals: Vec<(String, Ty)>,
    pub allow_time: bool,
    pub allow_random: bool,
    /// Human name of the context, for messages ("a parameter default").
    pub context: &'static str,
    /// In a declaration's value: the declarations after it in its block,
    /// which it cannot use yet (named in the message if it tries).
    pub declared_later: &'a [crate::syntax::ast::Decl],
    /// In a population's arguments: its size. There `i` is the cell's index
    /// and `n_cells` the size (after the type's own names).
    pub cells: Option<usize>,
    /// In a population's or projection's arguments: the model's constants
    /// come before the type's own names (`Jump(J = J)` gives the type's
    /// `J` the constant's value).
    pub constants_first: bool,
}

impl Scope<'_> {
    fn all_names(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        v.extend(self.locals.iter().map(|l| l.0.clone()));
        v.extend(self.aliases.iter().map(|a| a.0.clone()));
        for vars in [
            self.params,
            self.state,
            self.inputs,
            self.syn_params,
            self.syn_state,
        ] {
            v.extend(vars.iter().map(|x| x.name.clone()));
        }
        v.extend(self.signals.iter().map(|s| s.name.clone()));
        if self.cells.is_some() {
            v.push("n_cells".into());
        }
        v
    }
}

fn e_text(value: f64, unit: &str) -> String {
    format!("{} {unit}", units::trim_float(value))
}

/// The context of a synapse type's initial values.
pub const SYNAPSE_DEFAULT: &str = "a synapse type's initial value";

/// The context of a spike source's rate (or probability per step).
pub const SOURCE_RATE: &str = "a spike source's rate";
/// The context of a spike source's other settings (one for all its cells).
pub const SOURCE_SETTING: &str = "a spike source's refractory period or spike times";

/// A list of variables and how a match among them becomes a reference.
type VarLookup<'a, R> = (&'a [Var], fn(usize) -> R);

pub fn typed(kind: TKind, ty: Ty, span: Span) -> TExpr {
    TExpr { kind, ty, span }
}

fn error(span: Span) -> TExpr {
    typed(TKind::Error, Ty::Error, span)
}

fn find(vars: &[Var], name: &str) -> Option<usize> {
    vars.iter().position(|v| v.name == name)
}

impl Checker {
    /// A number as the engines see it (`1e306 kHz` is 1e309 Hz): one that
    /// does not fit a double, infinite, is an error.
    fn literal(&mut self, value: f64, dim: Dim, span: Span) -> TExpr {
        if !value.is_finite() {
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    span,
                    "this number is too large: a double holds at most about 1.8e308",
                )
                .label("infinite as a double"),
            );
        }
        typed(TKind::Const(value), Ty::Num(dim), span)
    }

    pub fn expr(&mut self, e: &Expr, scope: &Scope) -> TExpr {
        match &e.kind {
            ExprKind::Number { value, unit } => match unit {
                None => self.literal(*value, Dim::NONE, e.span),
                Some(u) => match units::lookup(&u.name) {
                    Some(unit) => {
                        let shadowed = [
                            scope.params,
                            scope.state,
                            scope.inputs,
                            scope.syn_params,
                            scope.syn_state,
                        ]
                        .iter()
                        .any(|vars| vars.iter().any(|v| v.name == u.name))
                            || scope.locals.iter().any(|l| l.0 == u.name);
                        if shadowed {
                            self.emit(
                                Diagnostic::warning("cbm::W110", e.span, format!("`{}` reads as a quantity in the unit {}, not as the variable `{}`", &e_text(*value, &u.name), u.name, u.name))
                                    .label("number followed by a unit")
                                    .help(format!("write `{} * {}` to multiply by the variable", units::trim_float(*value), u.name)),
                            );
                        }
                        self.literal(value * unit.scale, unit.dim, e.span)
                    }
                    None => {
                        self.emit(unknown_unit(&u.name, u.span));
                        error(e.span)
                    }
                },
            },
            ExprKind::Percent(v) => self.literal(*v, Dim::NONE, e.span),
            ExprKind::Bool(b) => typed(TKind::Bool(*b), Ty::Bool, e.span),
            ExprKind::Path(p) => self.path(p, scope),
            ExprKind::List(_) => {
                self.emit(
                    Diagnostic::error("cbm::E014", e.span, "a list is not allowed here")
                        .label("list")
                        .help("lists are for settings such as `times = [10 ms, 20 ms]` or `cells = [0, 1]`"),
                );
                error(e.span)
            }
            ExprKind::Unary(op, inner) => {
                let x = self.expr(inner, scope);
                let ty = match (op, x.ty) {
                    (_, Ty::Error) => Ty::Error,
                    (UnOp::Neg, Ty::Num(d)) => Ty::Num(d),
                    (UnOp::Not, Ty::Bool) => Ty::Bool,
                    (UnOp::Neg, Ty::Bool) => {
                        self.emit(
                            Diagnostic::error("cbm::E013", e.span, "cannot negate a condition")
                                .label("a true/false value")
                                .help("use `not` for conditions"),
                        );
                        Ty::Error
                    }
                    (UnOp::Not, Ty::Num(_)) => {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E013",
                                e.span,
                                "`not` needs a condition, not a number",
                            )
                            .label("a number"),
                        );
                        Ty::Error
                    }
                };
                typed(TKind::Unary(*op, Box::new(x)), ty, e.span)
            }
            ExprKind::Binary(op, a_ast, b_ast) => {
                let a = self.expr(a_ast, scope);
                let b = self.expr(b_ast, scope);
                if !matches!(op, BinOp::Mul | BinOp::Div | BinOp::Pow) {
                    for (ast, typed) in [(a_ast, &a), (b_ast, &b)] {
                        // (One-letter units are warned of where read.)
                        if let Some(name) = bare_unit(ast, typed).filter(|n| n.chars().count() > 1)
                        {
                            self.emit(unit_read_as_a_value(name, ast.span, scope));
                        }
                    }
                }
                let ty = self.binary_ty(*op, &a, &b, e.span);
                typed(TKind::Binary(*op, Box::new(a), Box::new(b)), ty, e.span)
            }
            ExprKind::Call(c) => {
                let Some(func) = Func::by_name(&c.name.name) else {
                    // Still resolve the arguments: their names are used, and
                    // their own mistakes deserve a report.
                    if !matches!(c.name.name.as_str(), "normal" | "uniform") {
                        for a in &c.args {
                            self.expr(&a.value, scope);
                        }
                    }
                    let msg = if matches!(c.name.name.as_str(), "normal" | "uniform") {
                        format!("`{}(...)` draws a random initial value and is only allowed as an initial value or a parameter override", c.name.name)
                    } else {
                        format!("unknown function `{}`", c.name.name)
                    };
                    let code = if msg.starts_with("unknown") {
                        "cbm::E003"
                    } else {
                        "cbm::E028"
                    };
                    self.emit(
                        Diagnostic::error(code, c.name.span, msg)
                            .label("here")
                            .help(format!("functions: {}", Func::names().join(", "))),
                    );
                    return error(e.span);
                };
                if let Some(a) = c.args.iter().find(|a| a.name.is_some()) {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E014",
                            a.value.span,
                            format!("`{}` takes no named arguments", c.name.name),
                        )
                        .label("named argument"),
                    );
                }
                let args: Vec<TExpr> = c.args.iter().map(|a| self.expr(&a.value, scope)).collect();
                let ty = self.call_ty(func, &args, e.span, scope);
                typed(TKind::Call(func, args), ty, e.span)
            }
        }
    }

    fn path(&mut self, p: &Path, scope: &Scope) -> TExpr {
        let span = p.span;
        let first = &p.parts[0];
        if p.parts.len() == 1 {
            let name = first.name.as_str();
            if let Some(c) = self.constant(name).filter(|_| scope.constants_first) {
                return typed(TKind::Const(c.value), Ty::Num(c.dim), span);
            }
            if let Some(i) = scope.locals.iter().rposition(|l| l.0 == name) {
                return typed(TKind::Ref(Ref::Local(i)), scope.locals[i].1, span);
            }
            if let Some(i) = scope.aliases.iter().position(|a| a.0 == name) {
                return typed(TKind::Ref(Ref::Alias(i)), scope.aliases[i].1.ty, span);
            }
            let lookups: [VarLookup<Ref>; 5] = [
                (scope.state, Ref::State),
                (scope.inputs, Ref::Input),
                (scope.params, Ref::Param),
                (scope.syn_state, Ref::SynState),
                (scope.syn_params, Ref::SynParam),
            ];
            for (vars, make) in lookups {
                if let Some(i) = find(vars, name) {
                    self.used.insert(vars[i].span);
                    let ty = if vars[i].broken {
                        Ty::Error
                    } else {
                        Ty::Num(vars[i].dim)
                    };
                    return typed(TKind::Ref(make(i)), ty, span);
                }
            }
            // A population's arguments may vary along it (after the type's
            // own names and a source's protocol signals, which take
            // precedence, as a parameter named `delay` does in synapse code).
            let is_signal = scope.signals.iter().any(|s| s.name == name);
            if let Some(n) = scope.cells.filter(|_| !is_signal) {
                match name {
                    "i" => return typed(TKind::Ref(Ref::CellIndex), Ty::Num(Dim::NONE), span),
                    "n_cells" => return typed(TKind::Const(n as f64), Ty::Num(Dim::NONE), span),
                    _ => {}
                }
            }
            if name == "t" || name == "dt" {
                if !scope.allow_time && name == "t" {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E028",
                            span,
                            format!("time `t` cannot be used in {}", scope.context),
                        )
                        .label("changes every step")
                        .help("use it in equations, updates, handlers or a source's rate"),
                    );
                    return error(span);
                }
                let r = if name == "t" { Ref::Time } else { Ref::Dt };
                return typed(TKind::Ref(r), Ty::Num(Dim::TIME), span);
            }
            if let Some(i) = scope.signals.iter().position(|s| s.name == name) {
                if !scope.allow_time {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E028",
                            span,
                            format!(
                                "protocol signal `{name}` cannot be used in {}",
                                scope.context
                            ),
                        )
                        .label("changes with time"),
                    );
                    return error(span);
                }
                return typed(TKind::Ref(Ref::Signal(i)), Ty::Num(Dim::NONE), span);
            }
            // A synapse's delay, its own where drawn per synapse: an STDP
            // rule can take the arrival time, `t + delay`, in `on_pre`. (The
            // type's own names and protocol signals come first.)
            if name == "delay" && scope.pre.is_some() && scope.allow_time {
                return typed(TKind::Ref(Ref::SynDelay), Ty::Num(Dim::TIME), span);
            }
            // The model's constants, after every name of the scope (a
            // parameter of the same name is read instead).
            if let Some(c) = self.constant(name) {
                return typed(TKind::Const(c.value), Ty::Num(c.dim), span);
            }
            if name == "pi" {
                return typed(TKind::Const(std::f64::consts::PI), Ty::Num(Dim::NONE), span);
            }
            if let Some(u) = units::lookup(name) {
                // A one-letter unit (`C`, `m`, `V`) read bare is most often
                // a variable not declared, or spelt in another case.
                if name.chars().count() == 1 {
                    self.emit(unit_read_as_a_value(name, span, scope));
                }
                return typed(TKind::Const(u.scale), Ty::Num(u.dim), span);
            }
            let mut d = Diagnostic::error("cbm::E003", span, format!("undefined name `{name}`"))
                .label("not defined here");
            if scope.declared_later.iter().any(|l| l.name.name == *name) {
                d = d.label("declared after this value").help(format!(
                    "a value may use only what is declared before it: declare `{name}` earlier, or write its value here"
                ));
            } else if (name == "i" || name == "n_cells") && scope.context == SOURCE_SETTING {
                d = d.help(
                    "a spike source's refractory period and spike times are one for all its cells; its rate may use `i` (`rate = 5 Hz + 10 Hz * i / n_cells`)",
                );
            } else if name == "i" || name == "n_cells" {
                d = d.help(
                    "`i` (a cell's index, from 0) and `n_cells` (its population's size) can be used in a population's arguments, e.g. `I = i * 0.5 nA`, and in a spike source's rate, e.g. `poisson(rate = 5 Hz + 10 Hz * i / n_cells)`",
                );
            } else if let Some(s) = closest(name, &scope.all_names()) {
                d = d.help(format!("did you mean `{s}`?"));
            } else if let Some((unit, power)) = unit_with_a_power(name) {
                d = d.help(format!(
                    "did you mean the unit `{unit}^{power}`? (a power is written with `^`)"
                ));
            } else if scope.context == "the refractory period" {
                d = d.help(format!(
                    "the refractory period reads quantities, `dt` and parameters: declare `{name}` in the parameters block"
                ));
            } else {
                d = d.help(format!(
                    "declare it in a parameters, state or inputs block (it is used in {})",
                    scope.context
                ));
            }
            self.emit(d);
            return error(span);
        }
        if p.parts.len() == 2 && (first.name == "pre" || first.name == "post") {
            let is_pre = first.name == "pre";
            let side = if is_pre { scope.pre } else { scope.post };
            let field = &p.parts[1];
            let Some(cell) = side else {
                let mut d = Diagnostic::error(
                    "cbm::E003",
                    span,
                    format!("`{}.` is only available in synapse code", first.name),
                )
                .label("no pre/postsynaptic cell here");
                if scope.context == SYNAPSE_DEFAULT {
                    d = d.help("a type's initial values are the same in every projection; a projection's arguments can read each synapse's cells: `synapse = Static(w = cos(pre.phi - post.phi))`");
                }
                self.emit(d);
                return error(span);
            };
            let builtin = match field.name.as_str() {
                "last_spike" => Some((CellRef::LastSpike, Ty::Num(Dim::TIME))),
                "spiked" => Some((CellRef::Spiked, Ty::Bool)),
                "last_teacher" if !is_pre => {
                    if !scope.has_teacher && cell.is_some() {
                        self.emit(Diagnostic::error("cbm::E033", span, "`post.last_teacher` needs the projection to name a teacher").label("no teacher").help("add `teacher = <projection>` to the projection, e.g. the climbing-fibre projection"));
                        return error(span);
                    }
                    Some((CellRef::LastTeacher, Ty::Num(Dim::TIME)))
                }
                _ => None,
            };
            let wrap = |c: CellRef| if is_pre { Ref::Pre(c) } else { Ref::Post(c) };
            if let Some((c, ty)) = builtin {
                return typed(TKind::Ref(wrap(c)), ty, span);
            }
            let Some(cell) = cell else {
                // Synapse type used by no projection: pre/post unknown.
                return error(span);
            };
            let lookups: [VarLookup<CellRef>; 3] = [
                (cell.state, CellRef::State),
                (cell.inputs, CellRef::Input),
                (cell.params, CellRef::Param),
            ];
            for (vars, make) in lookups {
                if let Some(i) = find(vars, &field.name) {
                    // Read by synapse code or a synapse's initial value: used.
                    self.used.insert(vars[i].span);
                    return typed(TKind::Ref(wrap(make(i))), Ty::Num(vars[i].dim), span);
                }
            }
            let what = if cell.is_source {
                "a spike source, which has only last_spike and spiked"
            } else {
                "its cell type"
            };
            let mut d = Diagnostic::error(
                "cbm::E003",
                field.span,
                format!("`{}` has no variable `{}`", first.name, field.name),
            )
            .label(format!("not in {what}"));
            let names: Vec<String> = [cell.state, cell.inputs, cell.params]
                .iter()
                .flat_map(|vars| vars.iter().map(|v| v.name.clone()))
                .collect();
            if let Some(s) = closest(&field.name, &names) {
                d = d.help(format!("did you mean `{}.{s}`?", first.name));
            }
            self.emit(d);
            return error(span);
        }
        self.emit(
            Diagnostic::error(
                "cbm::E003",
                span,
                format!("`{p}` does not name a variable here"),
            )
            .label("unknown")
            .help("dotted names are `pre.X` and `post.X` in synapse code"),
        );
        error(span)
    }

    fn binary_ty(&mut self, op: BinOp, a: &TExpr, b: &TExpr, span: Span) -> Ty {
        use BinOp::*;
        let (ta, tb) = (a.ty, b.ty);
        if ta == Ty::Error || tb == Ty::Error {
            return Ty::Error;
        }
        match op {
            And | Or => {
                if ta != Ty::Bool || tb != Ty::Bool {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E013",
                            span,
                            format!("`{}` joins conditions, not numbers", op.symbol()),
                        )
                        .label("needs true/false on both sides"),
                    );
                    return Ty::Error;
                }
                Ty::Bool
            }
            _ => {
                let (Ty::Num(da), Ty::Num(db)) = (ta, tb) else {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E013",
                            span,
                            format!("`{}` needs numbers, not conditions", op.symbol()),
                        )
                        .label("a true/false value is used as a number")
                        .help("use `select(cond, a, b)` to turn a condition into a number"),
                    );
                    return Ty::Error;
                };
                match op {
                    Mul => Ty::Num(da * db),
                    Div => Ty::Num(da / db),
                    Pow => {
                        if db != Dim::NONE {
                            self.emit(
                                Diagnostic::error(
                                    "cbm::E015",
                                    b.span,
                                    "an exponent must be dimensionless",
                                )
                                .label(db.describe()),
                            );
                            return Ty::Error;
                        }
                        if da.is_none() {
                            return Ty::Num(Dim::NONE);
                        }
                        match const_value(b) {
                            Some(n) if n.fract() == 0.0 && n.abs() <= 8.0 => {
                                Ty::Num(da.powi(n as i32))
                            }
                            _ => {
                                self.emit(Diagnostic::error("cbm::E015", b.span, "a quantity with a unit can only be raised to a constant whole power").label("not a constant integer"));
                                Ty::Error
                            }
                        }
                    }
                    _ => {
                        // + - and comparisons: both sides the same dimension.
                        // A literal 0 fits any dimension.
                        if da == db || is_zero_literal(a) || is_zero_literal(b) {
                            let d = if is_zero_literal(a) { db } else { da };
                            return if matches!(op, Add | Sub) {
                                Ty::Num(d)
                            } else {
                                Ty::Bool
                            };
                        }
                        let (bare, other, other_dim) = if is_bare_literal(a) {
                            (Some(a), b, db)
                        } else if is_bare_literal(b) {
                            (Some(b), a, da)
                        } else {
                            (None, a, da)
                        };
                        let _ = other;
                        let mut d = Diagnostic::error(
                            "cbm::E010",
                            span,
                            format!(
                                "`{}` between different dimensions: {} and {}",
                                op.symbol(),
                                da.describe(),
                                db.describe()
                            ),
                        )
                        .label(format!(
                            "left is {}, right is {}",
                            short(da),
                            short(db)
                        ));
                        if let Some(lit) = bare {
                            if let Some(u) = other_dim.preferred_unit() {
                                let v = const_value(lit).unwrap_or(0.0);
                                d = d.help(format!("did you mean `{} {u}`?", units::trim_float(v)));
                            }
                        } else {
                            d = d.help(
                                "both sides of + - and comparisons must have the same dimension",
                            );
                        }
                        self.emit(d);
                        Ty::Error
                    }
                }
            }
        }
    }

    fn call_ty(&mut self, func: Func, args: &[TExpr], span: Span, scope: &Scope) -> Ty {
        let arity = match func {
            Func::Rand | Func::Randn => 0,
            Func::Exp
            | Func::Expm1
            | Func::Log
            | Func::Sqrt
            | Func::Sin
            | Func::Cos
            | Func::Sinh
            | Func::Cosh
            | Func::Tanh
            | Func::Abs
            | Func::Floor
            | Func::RandPoisson => 1,
            Func::Min | Func::Max | Func::Mod => 2,
            Func::Clip | Func::Select => 3,
        };
        if args.len() != arity {
            self.emit(
                Diagnostic::error(
                    "cbm::E014",
                    span,
                    format!(
                        "{} takes {arity} argument(s), got {}",
                        func.name(),
                        args.len()
                    ),
                )
                .label("wrong number of arguments"),
            );
            return Ty::Error;
        }
        if args.iter().any(|a| a.ty == Ty::Error) {
            return Ty::Error;
        }
        let num = |c: &mut Checker, a: &TExpr| -> Option<Dim> {
            match a.ty {
                Ty::Num(d) => Some(d),
                _ => {
                    c.emit(
                        Diagnostic::error(
                            "cbm::E013",
                            a.span,
                            "a number is needed here, not a condition",
                        )
                        .label("true/false"),
                    );
                    None
                }
            }
        };
        // A number without a unit, or E014 (E013 for a condition).
        let dimensionless = |c: &mut Checker, a: &TExpr, what: &str, help: &str| -> bool {
            let Some(d) = num(c, a) else {
                return false;
            };
            if !d.is_none() {
                c.emit(
                    Diagnostic::error("cbm::E014", a.span, what.to_string())
                        .label(d.describe())
                        .help(help.to_string()),
                );
            }
            d.is_none()
        };
        match func {
            Func::Rand | Func::Randn | Func::RandPoisson => {
                if !scope.allow_random {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E028",
                            span,
                            format!(
                                "random numbers at step time are not allowed in {}",
                                scope.context
                            ),
                        )
                        .label("drawn every step")
                        .help("step-time noise belongs in a neuron's update block or equations"),
                    );
                    return Ty::Error;
                }
                if func == Func::RandPoisson {
                    let what =
                        "rand_poisson's mean is a count per step, not a quantity with a unit";
                    let help = "give the mean count per step: inputs x rate x dt, e.g. rand_poisson(1000 * 5 Hz * dt)";
                    if !dimensionless(self, &args[0], what, help) {
                        return Ty::Error;
                    }
                }
                Ty::Num(Dim::NONE)
            }
            Func::Exp
            | Func::Expm1
            | Func::Log
            | Func::Sin
            | Func::Cos
            | Func::Sinh
            | Func::Cosh
            | Func::Tanh => {
                let what = format!("{} of a quantity with a unit", func.name());
                let help = match func {
                    Func::Sin | Func::Cos => {
                        "the argument is an angle in radians, a plain number, e.g. sin(2 * pi * f * t) with f in Hz"
                    }
                    _ => "the argument must be dimensionless, e.g. exp(-dt/tau)",
                };
                if !dimensionless(self, &args[0], &what, help) {
                    return Ty::Error;
                }
                Ty::Num(Dim::NONE)
            }
            Func::Sqrt => {
                let Some(d) = num(self, &args[0]) else {
                    return Ty::Error;
                };
                match d.sqrt() {
                    Some(r) => Ty::Num(r),
                    None => {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E014",
                                args[0].span,
                                "square root of a dimension with odd powers",
                            )
                            .label(d.describe()),
                        );
                        Ty::Error
                    }
                }
            }
            Func::Abs | Func::Floor => num(self, &args[0]).map(Ty::Num).unwrap_or(Ty::Error),
            Func::Min | Func::Max | Func::Mod | Func::Clip => {
                let dims: Vec<Option<Dim>> = args.iter().map(|a| num(self, a)).collect();
                if dims.iter().any(|d| d.is_none()) {
                    return Ty::Error;
                }
                let d0 = dims[0].unwrap_or(Dim::NONE);
                for (a, d) in args.iter().zip(&dims).skip(1) {
                    let d = d.unwrap_or(Dim::NONE);
                    if d != d0 && !is_zero_literal(a) {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E010",
                                a.span,
                                format!(
                                    "all arguments must have the same dimension: {} vs {}",
                                    d0.describe(),
                                    d.describe()
                                ),
                            )
                            .label(short(d)),
                        );
                        return Ty::Error;
                    }
                }
                Ty::Num(d0)
            }
            Func::Select => {
                if args[0].ty != Ty::Bool {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E013",
                            args[0].span,
                            "select's first argument must be a condition",
                        )
                        .label("not true/false"),
                    );
                    return Ty::Error;
                }
                match (args[1].ty, args[2].ty) {
                    (Ty::Num(a), Ty::Num(b)) if a == b || is_zero_literal(&args[2]) => Ty::Num(a),
                    (Ty::Num(a), Ty::Num(_)) if is_zero_literal(&args[1]) => {
                        Ty::Num(args[2].ty.dim().unwrap_or(a))
                    }
                    (Ty::Num(a), Ty::Num(b)) => {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E010",
                                span,
                                format!(
                                    "select's branches differ: {} vs {}",
                                    a.describe(),
                                    b.describe()
                                ),
                            )
                            .label("both branches need one dimension"),
                        );
                        Ty::Error
                    }
                    _ => {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E013",
                                span,
                                "select's branches must be numbers",
                            )
                            .label("here"),
                        );
                        Ty::Error
                    }
                }
            }
        }
    }

    /// Require `e` to have dimension `want`. `what` names the place ("the
    /// delay", "dV/dt"). Bare numbers and unit-less parameters get a hint.
    pub fn expect_dim(&mut self, e: &TExpr, want: Dim, what: &str, scope: &Scope) -> bool {
        let Ty::Num(got) = e.ty else {
            if e.ty == Ty::Bool {
                self.emit(
                    Diagnostic::error(
                        "cbm::E013",
                        e.span,
                        format!("{what} must be a number, not a condition"),
                    )
                    .label("true/false"),
                );
            }
            return false;
        };
        if got == want || is_zero_literal(e) {
            return true;
        }
        if got.is_none() && is_bare_literal(e) {
            let v = const_value(e).unwrap_or(0.0);
            let mut d = Diagnostic::error(
                "cbm::E012",
                e.span,
                format!(
                    "{what} needs a unit: expected {}, found a bare number",
                    want.describe()
                ),
            )
            .label("no unit");
            if want == Dim::TIME && v != 0.0 && v.abs() < 0.1 {
                d = d.help(format!(
                    "did you mean `{} s` (= {})?",
                    units::trim_float(v),
                    units::format_quantity(v, Dim::TIME)
                ));
            } else if let Some(u) = self
                .declared_unit
                .clone()
                .or_else(|| want.preferred_unit().map(str::to_string))
                .or_else(|| want.display_unit().map(|(name, _)| name.to_string()))
            {
                // `0.04 /(mV*ms)`, not `0.04 1/(mV*ms)`.
                let u = u.strip_prefix('1').unwrap_or(&u);
                d = d.help(format!("did you mean `{} {u}`?", units::trim_float(v)));
            }
            self.emit(d);
            return false;
        }
        let mut d = Diagnostic::error(
            "cbm::E011",
            e.span,
            format!(
                "{what} has the wrong dimension: expected {}, found {}",
                want.describe(),
                got.describe()
            ),
        )
        .label(format!("this is {}", short(got)));
        if let Some(h) = bare_param_hint(e, want, scope) {
            d = d.help(h);
        } else if let Some(h) = time_constant_hint(e, scope) {
            d = d.help(h);
        } else if want == Dim::RATE && got == Dim::VOLTAGE / Dim::TIME {
            d = d.help("a current (voltage/time) is used where a conductance (1/time) is expected; pass the conductance and let the cell apply the driving force");
        } else if !want.is_none() && got == want * Dim::VOLTAGE {
            d = d.help("this is a voltage times what is expected: a driving force (E - V) applied twice (a current already includes its driving force), or a `/mV` missing from a unit?");
        }
        self.emit(d);
        false
    }
}

/// Would giving one unit-less parameter a unit fix the dimension? Then say so.
fn bare_param_hint(e: &TExpr, want: Dim, scope: &Scope) -> Option<String> {
    let mut refs = Vec::new();
    collect_refs(e, &mut refs);
    for r in refs {
        let Some(var) = (match r {
            Ref::Param(i) => scope.params.get(i),
            Ref::SynParam(i) => scope.syn_params.get(i),
            _ => None,
        }) else {
            continue;
        };
        if !var.bare_number {
            continue;
        }
        for sug in units::SUGGESTIONS {
            let Some(unit) = units::suggestion_unit(sug) else {
                continue;
            };
            if dim_with(e, r, unit.dim) == Some(want) {
                let v = match &var.init {
                    Some(Init::Expr(x)) => const_value(x),
                    _ => None,
                };
                let shown = v.map(units::trim_float).unwrap_or_else(|| "...".into());
                return Some(format!(
                    "`{}` was declared without a unit; did you mean `{} = {shown} {sug}`?",
                    var.name, var.name
                ));
            }
        }
    }
    None
}

/// A parameter or state named like a time constant (`tau...`) that is not
/// a time is the likely cause of a wrong dimension: say what it is.
fn time_constant_hint(e: &TExpr, scope: &Scope) -> Option<String> {
    let mut refs = Vec::new();
    collect_refs(e, &mut refs);
    refs.into_iter().find_map(|r| {
        let var = match r {
            Ref::Param(i) => scope.params.get(i),
            Ref::SynParam(i) => scope.syn_params.get(i),
            Ref::State(i) => scope.state.get(i),
            _ => None,
        }?;
        (var.name.starts_with("tau") && var.dim != Dim::TIME && !var.dim.is_none()).then(|| {
            format!(
                "`{}` is declared as {}, not a time: a time constant is written like `{} = 10 ms`",
                var.name,
                short(var.dim),
                var.name
            )
        })
    })
}

fn collect_refs(e: &TExpr, out: &mut Vec<Ref>) {
    match &e.kind {
        TKind::Ref(r) if !out.contains(r) => out.push(*r),
        TKind::Unary(_, x) => collect_refs(x, out),
        TKind::Binary(_, a, b) => {
            collect_refs(a, out);
            collect_refs(b, out)
        }
        TKind::Call(_, args) => args.iter().for_each(|a| collect_refs(a, out)),
        _ => {}
    }
}

/// The dimension of `e` if reference `r` had dimension `d`.
fn dim_with(e: &TExpr, r: Ref, d: Dim) -> Option<Dim> {
    match &e.kind {
        TKind::Ref(x) if *x == r => Some(d),
        TKind::Unary(UnOp::Neg, x) => dim_with(x, r, d),
        TKind::Binary(op, a, b) => {
            let (da, db) = (dim_with(a, r, d)?, dim_with(b, r, d)?);
            match op {
                BinOp::Mul => Some(da * db),
                BinOp::Div => Some(da / db),
                BinOp::Add | BinOp::Sub if da == db => Some(da),
                BinOp::Pow => Some(da.powi(const_value(b)? as i32)),
                _ => None,
            }
        }
        TKind::Call(f, args) if f.of_a_plain_number() => {
            (dim_with(&args[0], r, d)? == Dim::NONE).then_some(Dim::NONE)
        }
        TKind::Call(
            Func::Abs | Func::Floor | Func::Min | Func::Max | Func::Mod | Func::Clip,
            args,
        ) => dim_with(&args[0], r, d),
        _ => e.ty.dim(),
    }
}

pub fn is_bare_literal(e: &TExpr) -> bool {
    // A number written without a unit (possibly negated).
    match &e.kind {
        TKind::Const(_) => e.ty == Ty::Num(Dim::NONE),
        TKind::Unary(UnOp::Neg, x) => is_bare_literal(x),
        _ => false,
    }
}

pub fn is_zero_literal(e: &TExpr) -> bool {
    is_bare_literal(e) && const_value(e) == Some(0.0)
}

/// The value of an expression made only of constants.
pub fn const_value(e: &TExpr) -> Option<f64> {
    eval(e, &|_| None)
}

/// Evaluate with references resolved by `env` (None: not constant).
pub fn eval(e: &TExpr, env: &dyn Fn(Ref) -> Option<f64>) -> Option<f64> {
    Some(match &e.kind {
        TKind::Const(v) => *v,
        TKind::Bool(b) => f64::from(u8::from(*b)),
        TKind::Ref(r) => env(*r)?,
        TKind::Unary(UnOp::Neg, x) => -eval(x, env)?,
        TKind::Unary(UnOp::Not, x) => f64::from(u8::from(eval(x, env)? == 0.0)),
        TKind::Binary(op, a, b) => apply_binary(*op, eval(a, env)?, eval(b, env)?),
        TKind::Call(f, args) => {
            let v: Option<Vec<f64>> = args.iter().map(|a| eval(a, env)).collect();
            f.apply(&v?)?
        }
        TKind::Error => return None,
    })
}

fn short(d: Dim) -> String {
    let s = d.describe();
    s.split(" (").next().unwrap_or(&s).to_string()
}

/// `mV2` as (`mV`, `2`): a unit name followed by a power in digits.
fn unit_with_a_power(name: &str) -> Option<(&str, &str)> {
    let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
    let unit = &name[..name.len() - digits.len()];
    (!digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && units::lookup(unit).is_some())
    .then_some((unit, digits))
}

/// The name of a unit that `ast` reads as a bare constant (`typed`), as in
/// `0 mV - V` where no variable `V` is in scope.
fn bare_unit<'e>(ast: &'e Expr, typed: &TExpr) -> Option<&'e str> {
    let ExprKind::Path(p) = &ast.kind else {
        return None;
    };
    let [part] = p.parts.as_slice() else {
        return None;
    };
    let name = part.name.as_str();
    (matches!(typed.kind, TKind::Const(_)) && units::lookup(name).is_some()).then_some(name)
}

/// W121: a unit name read as a value where a variable was almost
/// certainly meant: one beside other values (added, subtracted or
/// compared; a unit multiplies or divides: `5 * mV`, `x / ms`), or a
/// one-letter unit anywhere: a synapse's `E - V` for the target's
/// `post.V`, `V` for a cell's `v`, `/ C` with no `C` declared.
fn unit_read_as_a_value(name: &str, span: Span, scope: &Scope) -> Diagnostic {
    let d = Diagnostic::warning(
        "cbm::W121",
        span,
        format!("`{name}` here is the unit {name}, a constant, not a variable"),
    )
    .label(format!("the unit {name}"));
    let has = |cell: &Option<Option<CellScope>>| {
        cell.as_ref().and_then(Option::as_ref).is_some_and(|c| {
            [c.params, c.state, c.inputs]
                .iter()
                .any(|vars| vars.iter().any(|v| v.name == name))
        })
    };
    let same_but_case = scope
        .all_names()
        .into_iter()
        .find(|n| n.eq_ignore_ascii_case(name));
    if has(&scope.post) {
        d.help(format!("the target cell's `{name}` is `post.{name}`"))
    } else if has(&scope.pre) {
        d.help(format!("the source cell's `{name}` is `pre.{name}`"))
    } else if let Some(n) = same_but_case {
        d.help(format!("did you mean `{n}`? (names are case-sensitive)"))
    } else {
        d.help(format!(
            "declare `{name}` if a variable is meant; for the unit itself write `1 {name}`"
        ))
    }
}

pub fn unknown_unit(name: &str, span: Span) -> Diagnostic {
    let known = [
        "ms", "s", "us", "mV", "V", "Hz", "kHz", "nS", "uS", "pF", "nF", "nA", "pA", "Mohm", "um",
        "mM", "uM",
    ];
    let mut d =
        Diagnostic::error("cbm::E004", span, format!("unknown unit `{name}`")).label("not a unit");
    let names: Vec<String> = known.iter().map(|s| s.to_string()).collect();
    if let Some(s) = closest(name, &names) {
        d = d.help(format!("did you mean `{s}`?"));
    } else {
        d = d.help("units: s, V, A, S, F, ohm, Hz, m, mol, M (molar) with SI prefixes (e.g. ms, mV, nS, pF, mM)");
    }
    d
}

/// The closest name within a small edit distance, for "did you mean".
pub fn closest(name: &str, candidates: &[String]) -> Option<String> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        return Some(c.clone());
    }
    let mut best: Option<(usize, &String)> = None;
    for c in candidates {
        let d = edit_distance(name, c);
        let limit = (name.len().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.clone())
}

/// Edits (insert, delete, replace, or swap two neighbours: `LFI` is one
/// edit from `LIF`) between two names.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_one_edit_away_are_suggested() {
        assert_eq!(edit_distance("LFI", "LIF"), 1, "a swap is one edit");
        assert_eq!(edit_distance("spike_time", "spike_times"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("ca", "abc"), 3);
        let names = ["LIF", "Purkinje"].map(String::from);
        assert_eq!(closest("LFI", &names).as_deref(), Some("LIF"));
        assert_eq!(closest("Golgi", &names), None);
    }
}
