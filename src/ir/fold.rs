//! Constant folding and algebraic simplification on IR expressions.

use super::{apply_binary, apply_call, BinOp, Expr, Func, Stmt, UnOp};

pub fn fold(e: Expr) -> Expr {
    match e {
        Expr::Unary(op, x) => {
            let x = fold(*x);
            match (op, &x) {
                (UnOp::Neg, Expr::Const(v)) => Expr::Const(-v),
                (UnOp::Not, Expr::Const(v)) => Expr::Const(f64::from(u8::from(*v == 0.0))),
                (UnOp::Neg, Expr::Unary(UnOp::Neg, inner)) => (**inner).clone(),
                _ => Expr::Unary(op, Box::new(x)),
            }
        }
        Expr::Binary(op, a, b) => {
            let a = fold(*a);
            let b = fold(*b);
            if let (Expr::Const(x), Expr::Const(y)) = (&a, &b) {
                return Expr::Const(apply_binary(op, *x, *y));
            }
            // Only rewrites that give the same bits for every value of the
            // other operand (signed zeros, infinities and NaN included): an
            // engine may evaluate the IR before or after substituting
            // parameters, and every engine must agree bit for bit. So
            // `x + 0` stays (it turns -0 into +0) and `0 * x` stays (NaN,
            // infinities and the sign of x survive it).
            let minus_zero = |v: &f64| *v == 0.0 && v.is_sign_negative();
            let plus_zero = |v: &f64| *v == 0.0 && v.is_sign_positive();
            match (op, &a, &b) {
                (BinOp::Add, Expr::Const(z), _) if minus_zero(z) => b,
                (BinOp::Add, _, Expr::Const(z)) if minus_zero(z) => a,
                (BinOp::Sub, _, Expr::Const(z)) if plus_zero(z) => a,
                (BinOp::Sub, Expr::Const(z), _) if minus_zero(z) => {
                    fold(Expr::Unary(UnOp::Neg, Box::new(b)))
                }
                (BinOp::Mul, Expr::Const(o), _) if *o == 1.0 => b,
                (BinOp::Mul | BinOp::Div, _, Expr::Const(o)) if *o == 1.0 => a,
                _ => Expr::Binary(op, Box::new(a), Box::new(b)),
            }
        }
        Expr::Call(f, args, site) => {
            let args: Vec<Expr> = args.into_iter().map(fold).collect();
            let consts: Option<Vec<f64>> = args
                .iter()
                .map(|a| {
                    if let Expr::Const(v) = a {
                        Some(*v)
                    } else {
                        None
                    }
                })
                .collect();
            match consts {
                Some(v) if !f.is_random() => Expr::Const(apply_call(f, &v)),
                _ => Expr::Call(f, args, site),
            }
        }
        e => e,
    }
}

pub fn fold_stmts(stmts: Vec<Stmt>) -> Vec<Stmt> {
    let mut out = Vec::new();
    for s in stmts {
        match s {
            Stmt::Set { var, value, held } => out.push(Stmt::Set {
                var,
                value: fold(value),
                held,
            }),
            Stmt::SetLocal { local, value } => out.push(Stmt::SetLocal {
                local,
                value: fold(value),
            }),
            Stmt::Deposit { value, pulse_steps } => out.push(Stmt::Deposit {
                value: fold(value),
                pulse_steps,
            }),
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = fold(cond);
                let then = fold_stmts(then);
                let otherwise = fold_stmts(otherwise);
                match (cond, then.as_slice(), otherwise.as_slice()) {
                    (Expr::Const(c), _, _) if c != 0.0 => out.extend(then),
                    (Expr::Const(_), _, _) => out.extend(otherwise),
                    // `if c { x = a } else { x = b }` is `x = select(c, a, b)`:
                    // one store instead of two masked ones.
                    (
                        cond,
                        [Stmt::Set {
                            var: v1,
                            value: a,
                            held: h1,
                        }],
                        [Stmt::Set {
                            var: v2,
                            value: b,
                            held: h2,
                        }],
                    ) if v1 == v2 && h1 == h2 => {
                        out.push(Stmt::Set {
                            var: *v1,
                            value: Expr::Call(Func::Select, vec![cond, a.clone(), b.clone()], 0),
                            held: *h1,
                        });
                    }
                    (cond, _, _) => out.push(Stmt::If {
                        cond,
                        then,
                        otherwise,
                    }),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluate an expression of constants and Var(0) = x.
    fn eval(e: &Expr, x: f64) -> f64 {
        match e {
            Expr::Const(v) => *v,
            Expr::Var(_) => x,
            Expr::Unary(UnOp::Neg, a) => -eval(a, x),
            Expr::Binary(op, a, b) => apply_binary(*op, eval(a, x), eval(b, x)),
            _ => unreachable!("not in these tests"),
        }
    }

    /// Every rewrite gives the bits of the expression as written, for the
    /// values where careless algebra goes wrong: signed zeros, infinities,
    /// NaN.
    #[test]
    fn folding_keeps_every_bit() {
        let x = || Box::new(Expr::Var(0));
        let k = |v: f64| Box::new(Expr::Const(v));
        let mut cases = Vec::new();
        for op in [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div] {
            for c in [0.0, -0.0, 1.0, -1.0] {
                cases.push(Expr::Binary(op, x(), k(c)));
                cases.push(Expr::Binary(op, k(c), x()));
            }
        }
        cases.push(Expr::Unary(
            UnOp::Neg,
            Box::new(Expr::Unary(UnOp::Neg, x())),
        ));
        for e in &cases {
            let folded = fold(e.clone());
            for v in [0.0, -0.0, 1.5, -2.0, f64::INFINITY, f64::NEG_INFINITY] {
                let (a, b) = (eval(e, v), eval(&folded, v));
                assert_eq!(a.to_bits(), b.to_bits(), "{e:?} -> {folded:?} at x = {v:e}");
            }
            let (a, b) = (eval(e, f64::NAN), eval(&folded, f64::NAN));
            assert!(a.is_nan() && b.is_nan(), "{e:?} -> {folded:?} at NaN");
        }
        // The identities that are exact are still used.
        assert_eq!(fold(Expr::Binary(BinOp::Add, x(), k(-0.0))), Expr::Var(0));
        assert_eq!(fold(Expr::Binary(BinOp::Sub, x(), k(0.0))), Expr::Var(0));
        assert_eq!(fold(Expr::Binary(BinOp::Mul, k(1.0), x())), Expr::Var(0));
    }
}
