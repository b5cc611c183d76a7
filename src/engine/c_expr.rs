//! IR expressions printed as C, for both code generators (the CUDA kernels
//! and the CPU engine's native code). Operators, built-in functions and
//! literals print the same in both, with the interpreter's meaning
//! (conditions are 1.0 or 0.0); what a variable, a cell access, a signal or
//! a random number reads is each generator's business ([`Leaves`]).

use crate::ir::{BinOp, CellAccess, Expr, Func, UnOp};

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
        Expr::Call(f, args, _) => {
            let a: Vec<String> = args.iter().map(|x| expr(x, l)).collect();
            let arg = |n: usize| a.get(n).cloned().unwrap_or_else(|| "0.0".into());
            match f {
                Func::Exp => format!("exp({})", arg(0)),
                Func::Log => format!("log({})", arg(0)),
                Func::Sqrt => format!("sqrt({})", arg(0)),
                Func::Abs => format!("fabs({})", arg(0)),
                Func::Floor => format!("floor({})", arg(0)),
                // cbm_min/cbm_max (math.inc): crate::check::model::{min, max}.
                Func::Min => format!("cbm_min({}, {})", arg(0), arg(1)),
                Func::Max => format!("cbm_max({}, {})", arg(0), arg(1)),
                Func::Clip => format!("cbm_min(cbm_max({}, {}), {})", arg(0), arg(1), arg(2)),
                Func::Select => format!("({} != 0.0 ? {} : {})", arg(0), arg(1), arg(2)),
                Func::Rand | Func::Randn => "0.0".into(),
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
