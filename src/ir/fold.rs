//! Constant folding and algebraic simplification on IR expressions.

use super::{BinOp, Expr, Func, Stmt, UnOp};

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
                return Expr::Const(binary(op, *x, *y));
            }
            match (op, &a, &b) {
                (BinOp::Add, Expr::Const(z), _) if *z == 0.0 => b,
                (BinOp::Add | BinOp::Sub, _, Expr::Const(z)) if *z == 0.0 => a,
                (BinOp::Sub, Expr::Const(z), _) if *z == 0.0 => {
                    fold(Expr::Unary(UnOp::Neg, Box::new(b)))
                }
                (BinOp::Mul, Expr::Const(o), _) if *o == 1.0 => b,
                (BinOp::Mul | BinOp::Div, _, Expr::Const(o)) if *o == 1.0 => a,
                (BinOp::Mul, Expr::Const(z), _) | (BinOp::Mul, _, Expr::Const(z)) if *z == 0.0 => {
                    Expr::Const(0.0)
                }
                (BinOp::Div, Expr::Const(z), _) if *z == 0.0 => Expr::Const(0.0),
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
                Some(v) if !matches!(f, Func::Rand | Func::Randn) => Expr::Const(call(f, &v)),
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

pub fn binary(op: BinOp, a: f64, b: f64) -> f64 {
    crate::check::model::apply_binary(op, a, b)
}

/// The value of a deterministic function (NaN for rand/randn, which are
/// never folded).
pub fn call(f: Func, v: &[f64]) -> f64 {
    f.apply(v).unwrap_or(f64::NAN)
}
