//! IR code printed as C, for both code generators (the CUDA kernels and the
//! CPU engine's native code). Operators, built-in functions, literals and
//! statements print the same in both, with the interpreter's meaning
//! (conditions are 1.0 or 0.0); what a variable, a cell access, a signal or
//! a random number reads, where a store goes and what a deposit does is each
//! generator's business ([`Leaves`], [`Statements`]).

use crate::ir::{BinOp, CellAccess, Expr, Func, Stmt, UnOp};
use std::fmt::Write;

/// How a generator prints the leaves of an expression.
pub trait Leaves {
    /// Something to print in place of the whole of `e` (a value computed
    /// earlier), if any.
    fn replace(&mut self, _e: &Expr) -> Option<String> {
        None
    }
    /// A variable of the element (cell or synapse) being computed.
    fn var(&mut self, v: usize) -> String;
    /// Protocol signal `i`.
    fn signal(&mut self, i: usize) -> String;
    /// The presynaptic / postsynaptic cell.
    fn pre(&mut self, a: CellAccess) -> String;
    fn post(&mut self, a: CellAccess) -> String;
    /// `rand()` (or `randn()` when `normal`) at call site `site`.
    fn rand(&mut self, normal: bool, site: u32) -> String;
    /// `rand_poisson(mean)` at call site `site`.
    fn rand_poisson(&mut self, site: u32, mean: PoissonMean) -> String;
}

/// The mean of a `rand_poisson` call, as the generated code passes it.
pub enum PoissonMean {
    /// An expression, printed C (`cbm_poisson` splits it at run time).
    Expr(String),
    /// A constant in the exact range, already split (`Rng::poisson_split`):
    /// the parts, each part's mean and e^-part, for `cbm_poisson_parts`.
    Split(u32, f64, f64),
}

impl PoissonMean {
    /// The arguments after the cell index: `mean` or `parts, part, first`.
    pub fn args(&self) -> String {
        match self {
            PoissonMean::Expr(m) => m.clone(),
            PoissonMean::Split(n, part, first) => format!("{n}u, {}, {}", lit(*part), lit(*first)),
        }
    }
    /// The wrapper's name: `cbm_rand_p` or, split, `cbm_rand_pk`.
    pub fn func(&self) -> &'static str {
        match self {
            PoissonMean::Expr(_) => "cbm_rand_p",
            PoissonMean::Split(..) => "cbm_rand_pk",
        }
    }
}

/// Where an assignment to a variable goes.
pub enum Store {
    /// A cell variable, `array[i]` (a `held` store is skipped while the
    /// cell is refractory, `r_` > 0).
    Cell(String),
    /// A local that holds a cell variable (held like `Cell`).
    Local(String),
    /// A synapse variable, `array[k]`, clamped into its bounds if it has any.
    Synapse(String, Option<(f64, f64)>),
    /// Nowhere: the site cannot write variables.
    Nowhere,
}

/// How a generator prints what statements do besides computing values.
pub trait Statements: Leaves {
    fn store(&mut self, var: usize) -> Store;
    /// Print a deposit of `value` for `pulse_steps` steps at indentation `pad`.
    fn deposit(&mut self, out: &mut String, pad: &str, value: &Expr, pulse_steps: u32);
}

/// `stmts` as C statements at indentation `level` (four spaces each).
pub fn stmts(out: &mut String, code: &[Stmt], s: &mut dyn Statements, level: usize) {
    let pad = "    ".repeat(level);
    for st in code {
        match st {
            Stmt::Set { var, value, held } => {
                let v = expr(value, s);
                let _ = match s.store(*var) {
                    Store::Cell(arr) if *held => writeln!(
                        out,
                        "{pad}{{ const double x_ = {v}; if (r_ == 0u) {arr}[i] = x_; }}"
                    ),
                    Store::Cell(arr) => writeln!(out, "{pad}{arr}[i] = {v};"),
                    Store::Local(x) if *held => writeln!(
                        out,
                        "{pad}{{ const double x_ = {v}; if (r_ == 0u) {x} = x_; }}"
                    ),
                    Store::Local(x) => writeln!(out, "{pad}{x} = {v};"),
                    Store::Synapse(arr, Some((lo, hi))) => writeln!(
                        out,
                        "{pad}{arr}[k] = cbm_clamp({v}, {}, {});",
                        lit(lo),
                        lit(hi)
                    ),
                    Store::Synapse(arr, None) => writeln!(out, "{pad}{arr}[k] = {v};"),
                    Store::Nowhere => Ok(()),
                };
            }
            Stmt::SetLocal { local, value } => {
                let v = expr(value, s);
                let _ = writeln!(out, "{pad}l{local} = {v};");
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                let cv = expr(cond, s);
                let _ = writeln!(out, "{pad}if ({cv} != 0.0) {{");
                stmts(out, then, s, level + 1);
                if !otherwise.is_empty() {
                    let _ = writeln!(out, "{pad}}} else {{");
                    stmts(out, otherwise, s, level + 1);
                }
                let _ = writeln!(out, "{pad}}}");
            }
            Stmt::Deposit { value, pulse_steps } => s.deposit(out, &pad, value, *pulse_steps),
        }
    }
}

/// Declarations of locals `l0..l<n>` at indentation `pad`, zeroed and
/// marked used (a program need not read all of them).
pub fn locals(n: usize, pad: &str) -> String {
    if n == 0 {
        return String::new();
    }
    let names: Vec<String> = (0..n).map(|l| format!("l{l} = 0.0")).collect();
    let mut s = format!("{pad}double {};\n", names.join(", "));
    for l in 0..n {
        let _ = writeln!(s, "{pad}(void)l{l};");
    }
    s
}

/// `e` as a C expression of type double.
pub fn expr(e: &Expr, l: &mut dyn Leaves) -> String {
    if let Some(s) = l.replace(e) {
        return s;
    }
    match e {
        Expr::Const(v) => lit(*v),
        Expr::Var(v) => l.var(*v),
        Expr::Local(n) => format!("l{n}"),
        Expr::Time => "t".into(),
        // Cell code declares the cell's refractory count `r_`.
        Expr::Refractory => "(r_ > 0u ? 1.0 : 0.0)".into(),
        Expr::Signal(i) => l.signal(*i),
        Expr::Pre(a) => l.pre(*a),
        Expr::Post(a) => l.post(*a),
        Expr::Unary(op, x) => {
            let x = expr(x, l);
            match op {
                UnOp::Neg => format!("(-{x})"),
                UnOp::Not => format!("({x} == 0.0 ? 1.0 : 0.0)"),
            }
        }
        Expr::Binary(op, a, b) => {
            let a = expr(a, l);
            let b = expr(b, l);
            let cmp = |o: &str| format!("({a} {o} {b} ? 1.0 : 0.0)");
            match op {
                BinOp::Add => format!("({a} + {b})"),
                BinOp::Sub => format!("({a} - {b})"),
                BinOp::Mul => format!("({a} * {b})"),
                BinOp::Div => format!("({a} / {b})"),
                BinOp::Pow => format!("pow({a}, {b})"),
                BinOp::Eq => cmp("=="),
                BinOp::Ne => cmp("!="),
                BinOp::Lt => cmp("<"),
                BinOp::Le => cmp("<="),
                BinOp::Gt => cmp(">"),
                BinOp::Ge => cmp(">="),
                BinOp::And => format!("(({a} != 0.0) && ({b} != 0.0) ? 1.0 : 0.0)"),
                BinOp::Or => format!("(({a} != 0.0) || ({b} != 0.0) ? 1.0 : 0.0)"),
            }
        }
        Expr::Call(Func::Rand, _, site) => l.rand(false, *site),
        Expr::Call(Func::Randn, _, site) => l.rand(true, *site),
        Expr::Call(Func::RandPoisson, args, site) => {
            let split = |m: &Expr| match m {
                Expr::Const(m) => crate::network::rng::Rng::poisson_split(*m),
                _ => None,
            };
            let mean = match args.first() {
                Some(m) => match split(m) {
                    Some((n, part, first)) => PoissonMean::Split(n, part, first),
                    None => PoissonMean::Expr(expr(m, l)),
                },
                None => PoissonMean::Expr("0.0".into()),
            };
            l.rand_poisson(*site, mean)
        }
        Expr::Call(f, args, _) => {
            let a: Vec<String> = args.iter().map(|x| expr(x, l)).collect();
            let arg = |n: usize| a.get(n).cloned().unwrap_or_else(|| "0.0".into());
            match f {
                Func::Exp => format!("exp({})", arg(0)),
                Func::Expm1 => format!("expm1({})", arg(0)),
                Func::Log => format!("log({})", arg(0)),
                Func::Sqrt => format!("sqrt({})", arg(0)),
                Func::Sin => format!("sin({})", arg(0)),
                Func::Cos => format!("cos({})", arg(0)),
                Func::Sinh => format!("sinh({})", arg(0)),
                Func::Cosh => format!("cosh({})", arg(0)),
                Func::Tanh => format!("tanh({})", arg(0)),
                Func::Abs => format!("fabs({})", arg(0)),
                Func::Floor => format!("floor({})", arg(0)),
                // cbm_min/cbm_max (math.inc): crate::ir::{min, max}.
                Func::Min => format!("cbm_min({}, {})", arg(0), arg(1)),
                Func::Max => format!("cbm_max({}, {})", arg(0), arg(1)),
                Func::Mod => format!("cbm_mod({}, {})", arg(0), arg(1)),
                Func::Clip => format!("cbm_min(cbm_max({}, {}), {})", arg(0), arg(1), arg(2)),
                Func::Select => format!("({} != 0.0 ? {} : {})", arg(0), arg(1), arg(2)),
                Func::Rand | Func::Randn | Func::RandPoisson => "0.0".into(),
            }
        }
    }
}

/// A double literal that reads back to exactly `v`.
pub fn lit(v: f64) -> String {
    if v.is_nan() {
        "CBM_NAN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "CBM_INF".into()
        } else {
            "(-CBM_INF)".into()
        }
    } else {
        let s = format!("{v:?}");
        let s = if s.contains(['.', 'e', 'E']) {
            s
        } else {
            format!("{s}.0")
        };
        if v.is_sign_negative() {
            format!("({s})")
        } else {
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lit;

    #[test]
    fn literals_read_back_exactly() {
        for v in [
            0.0,
            -0.0,
            1.0,
            0.1,
            -0.07,
            1e-9,
            6.02e23,
            1e15,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            0.9048374180359595,
            std::f64::consts::TAU,
        ] {
            let s = lit(v);
            let t = s.trim_start_matches('(').trim_end_matches(')');
            let back: f64 = t.parse().expect("a number");
            assert_eq!(back.to_bits(), v.to_bits(), "{v:e} printed as {s}");
            assert!(s.contains(['.', 'e']), "{s} would read as an integer");
        }
        assert_eq!(lit(f64::INFINITY), "CBM_INF");
        assert_eq!(lit(f64::NEG_INFINITY), "(-CBM_INF)");
        assert_eq!(lit(f64::NAN), "CBM_NAN");
    }
}
