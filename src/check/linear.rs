//! Symbolic helpers on typed expressions: inlining equation aliases and
//! splitting a right-hand side into `a + b*x` for exact integration and the
//! Euler stability lint.

use super::model::*;
use crate::syntax::ast::{BinOp, UnOp};

/// Replace references to equation aliases by their (inlined) definitions.
pub fn inline_aliases(e: &TExpr, aliases: &[(String, TExpr)]) -> TExpr {
    map_refs(e, &|r| match r {
        Ref::Alias(i) => aliases.get(i).map(|a| inline_aliases(&a.1, aliases)),
        _ => None,
    })
}

/// Rebuild `e`, replacing each reference for which `f` returns Some.
pub fn map_refs(e: &TExpr, f: &dyn Fn(Ref) -> Option<TExpr>) -> TExpr {
    let kind = match &e.kind {
        TKind::Ref(r) => match f(*r) {
            Some(x) => return x,
            None => TKind::Ref(*r),
        },
        TKind::Unary(op, x) => TKind::Unary(*op, Box::new(map_refs(x, f))),
        TKind::Binary(op, a, b) => {
            TKind::Binary(*op, Box::new(map_refs(a, f)), Box::new(map_refs(b, f)))
        }
        TKind::Call(func, args) => {
            TKind::Call(*func, args.iter().map(|a| map_refs(a, f)).collect())
        }
        k => k.clone(),
    };
    TExpr {
        kind,
        ty: e.ty,
        span: e.span,
    }
}

pub fn mentions(e: &TExpr, r: Ref) -> bool {
    e.find_ref(&|x| x == r).is_some()
}

fn node(kind: TKind, like: &TExpr) -> TExpr {
    TExpr {
        kind,
        ty: like.ty,
        span: like.span,
    }
}

fn bin(op: BinOp, a: TExpr, b: TExpr) -> TExpr {
    let span = a.span;
    TExpr {
        kind: TKind::Binary(op, Box::new(a), Box::new(b)),
        ty: Ty::Error,
        span,
    }
}

/// Split `e` into (a, b) with e = a + b*x and neither a nor b mentioning x.
/// `b` is None when e does not depend on x; `a` is the constant 0 when every
/// term of e is a multiple of x (`-k * x`: no term free of x, whatever `k`).
/// None when e is not linear in x. The returned trees carry no reliable
/// `ty`; they are for evaluation.
pub fn coefficients(e: &TExpr, x: Ref) -> Option<(TExpr, Option<TExpr>)> {
    let (a, b) = split(e, x)?;
    let zero = TExpr {
        kind: TKind::Const(0.0),
        ty: Ty::Error,
        span: e.span,
    };
    Some((a.unwrap_or(zero), b))
}

/// `coefficients`, with `a` None where e has no term free of x (so that
/// `-k * x` gives no `-k * 0`, which is NaN for an infinite k and which no
/// exact simplification may drop).
fn split(e: &TExpr, x: Ref) -> Option<(Option<TExpr>, Option<TExpr>)> {
    if !mentions(e, x) {
        return Some((Some(e.clone()), None));
    }
    let neg = |t: TExpr| node(TKind::Unary(UnOp::Neg, Box::new(t)), e);
    match &e.kind {
        TKind::Ref(r) if *r == x => Some((
            None,
            Some(TExpr {
                kind: TKind::Const(1.0),
                ty: Ty::Error,
                span: e.span,
            }),
        )),
        TKind::Unary(UnOp::Neg, inner) => {
            let (a, b) = split(inner, x)?;
            Some((a.map(neg), b.map(neg)))
        }
        TKind::Binary(op @ (BinOp::Add | BinOp::Sub), l, r) => {
            let (la, lb) = split(l, x)?;
            let (ra, rb) = split(r, x)?;
            let combine = |l: Option<TExpr>, r: Option<TExpr>| match (l, r) {
                (Some(l), Some(r)) => Some(bin(*op, l, r)),
                (Some(l), None) => Some(l),
                (None, Some(r)) if *op == BinOp::Add => Some(r),
                (None, Some(r)) => Some(neg(r)),
                (None, None) => None,
            };
            Some((combine(la, ra), combine(lb, rb)))
        }
        TKind::Binary(BinOp::Mul, l, r) => {
            let (la, lb) = split(l, x)?;
            let (ra, rb) = split(r, x)?;
            match (lb, rb) {
                (Some(_), Some(_)) => None,
                (Some(lb), None) => Some((
                    la.map(|la| bin(BinOp::Mul, la, (**r).clone())),
                    Some(bin(BinOp::Mul, lb, (**r).clone())),
                )),
                (None, Some(rb)) => Some((
                    ra.map(|ra| bin(BinOp::Mul, (**l).clone(), ra)),
                    Some(bin(BinOp::Mul, (**l).clone(), rb)),
                )),
                (None, None) => Some((Some(e.clone()), None)),
            }
        }
        TKind::Binary(BinOp::Div, l, r) => {
            if mentions(r, x) {
                return None;
            }
            let (la, lb) = split(l, x)?;
            Some((
                la.map(|a| bin(BinOp::Div, a, (**r).clone())),
                lb.map(|b| bin(BinOp::Div, b, (**r).clone())),
            ))
        }
        _ => None,
    }
}
