//! Exact rewrites of IR code that let the generated C do less per synapse.
//! Each keeps every result bit for bit (the parity test checks it).

use crate::ir::{BinOp, Expr, Func, Stmt, UnOp};

/// `select(c, x - a, x + b)` is `x + select(c, -a, b)` exactly (IEEE
/// subtraction is addition of the negation; addition commutes). The second
/// form lets a per-target condition take its step with it: a plasticity
/// rule's "depress or potentiate" becomes one per-target value.
pub fn factor_selects(stmts: &[Stmt]) -> Vec<Stmt> {
    stmts
        .iter()
        .map(|s| s.map_exprs(&mut factor_select))
        .collect()
}

fn factor_select(e: &Expr) -> Expr {
    let step = |op: BinOp, x: &Expr| match (op, x) {
        (BinOp::Add, x) => Some(x.clone()),
        (BinOp::Sub, Expr::Const(v)) => Some(Expr::Const(-v)),
        (BinOp::Sub, x) => Some(Expr::Unary(UnOp::Neg, Box::new(x.clone()))),
        _ => None,
    };
    match e {
        Expr::Call(Func::Select, args, site) => {
            let args: Vec<Expr> = args.iter().map(factor_select).collect();
            if let [c, Expr::Binary(op1, x1, a), Expr::Binary(op2, x2, b)] = args.as_slice() {
                if x1.same(x2) {
                    if let (Some(a), Some(b)) = (step(*op1, a), step(*op2, b)) {
                        let chosen = Expr::Call(Func::Select, vec![c.clone(), a, b], *site);
                        return Expr::Binary(BinOp::Add, x1.clone(), Box::new(chosen));
                    }
                }
            }
            Expr::Call(Func::Select, args, *site)
        }
        Expr::Call(f, args, site) => {
            Expr::Call(*f, args.iter().map(factor_select).collect(), *site)
        }
        Expr::Unary(op, x) => Expr::Unary(*op, Box::new(factor_select(x))),
        Expr::Binary(op, a, b) => {
            Expr::Binary(*op, Box::new(factor_select(a)), Box::new(factor_select(b)))
        }
        e => e.clone(),
    }
}

/// The largest subexpressions of `e` that read the postsynaptic cell and
/// nothing else of the synapse (a bare `post.x` is left: it is one load
/// either way).
pub fn collect_post_only(e: &Expr, out: &mut Vec<Expr>) {
    if post_only(e) && reads_post(e) {
        if !matches!(e, Expr::Post(_)) && !out.iter().any(|x| x.same(e)) {
            out.push(e.clone());
        }
        return;
    }
    match e {
        Expr::Unary(_, x) => collect_post_only(x, out),
        Expr::Binary(_, a, b) => {
            collect_post_only(a, out);
            collect_post_only(b, out);
        }
        Expr::Call(_, args, _) => args.iter().for_each(|a| collect_post_only(a, out)),
        _ => {}
    }
}

/// Reads the postsynaptic cell alone (and constants, time, signals).
fn post_only(e: &Expr) -> bool {
    e.reads_only(&|x| matches!(x, Expr::Post(_)))
}

fn reads_post(e: &Expr) -> bool {
    match e {
        Expr::Post(_) => true,
        Expr::Unary(_, x) => reads_post(x),
        Expr::Binary(_, a, b) => reads_post(a) || reads_post(b),
        Expr::Call(_, args, _) => args.iter().any(reads_post),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluate with Var(0) = x and Var(1) = c.
    fn eval(e: &Expr, x: f64, c: f64) -> f64 {
        match e {
            Expr::Const(v) => *v,
            Expr::Var(0) => x,
            Expr::Var(_) => c,
            Expr::Unary(UnOp::Neg, a) => -eval(a, x, c),
            Expr::Binary(op, a, b) => crate::ir::apply_binary(*op, eval(a, x, c), eval(b, x, c)),
            Expr::Call(f, args, _) => {
                let v: Vec<f64> = args.iter().map(|a| eval(a, x, c)).collect();
                crate::ir::apply_call(*f, &v)
            }
            _ => unreachable!("not in these tests"),
        }
    }

    #[test]
    fn factored_selects_give_the_same_bits() {
        let var = |v| Box::new(Expr::Var(v));
        let rule = Expr::Call(
            Func::Select,
            vec![
                Expr::Var(1),
                Expr::Binary(BinOp::Sub, var(0), Box::new(Expr::Const(0.00275))),
                Expr::Binary(BinOp::Add, var(0), Box::new(Expr::Var(1))),
            ],
            0,
        );
        let factored = factor_select(&rule);
        assert!(
            matches!(factored, Expr::Binary(BinOp::Add, _, _)),
            "{factored:?}"
        );
        for x in [0.2, 1.0, 3.0, -0.0, 0.0, 1e-300, f64::MAX, 0.1 + 0.2] {
            for c in [0.0, 1.0, -0.0, 0.5] {
                let (a, b) = (eval(&rule, x, c), eval(&factored, x, c));
                assert_eq!(a.to_bits(), b.to_bits(), "x = {x:e}, c = {c}");
            }
        }
    }

    #[test]
    fn zero_and_minus_zero_stay_apart() {
        use crate::ir::CellAccess;
        let v = || Box::new(Expr::Post(CellAccess::Var(0)));
        let a = Expr::Binary(BinOp::Div, v(), Box::new(Expr::Const(0.0)));
        let b = Expr::Binary(BinOp::Div, v(), Box::new(Expr::Const(-0.0)));
        // w + post.V / 0 + post.V / -0: two per-target values, not one.
        let w_plus_a = Expr::Binary(BinOp::Add, Box::new(Expr::Var(0)), Box::new(a));
        let e = Expr::Binary(BinOp::Add, Box::new(w_plus_a), Box::new(b));
        let mut found = vec![];
        collect_post_only(&e, &mut found);
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn post_only_parts_are_found_whole() {
        use crate::ir::CellAccess;
        // select(t - post.last_teacher < 0.1, w - a, w + b): the condition
        // reads only the target cell and time.
        let cond = Expr::Binary(
            BinOp::Lt,
            Box::new(Expr::Binary(
                BinOp::Sub,
                Box::new(Expr::Time),
                Box::new(Expr::Post(CellAccess::LastTeacher)),
            )),
            Box::new(Expr::Const(0.1)),
        );
        let e = Expr::Binary(
            BinOp::Add,
            Box::new(Expr::Var(0)),
            Box::new(Expr::Call(
                Func::Select,
                vec![cond.clone(), Expr::Const(-1.0), Expr::Const(2.0)],
                0,
            )),
        );
        let mut found = vec![];
        collect_post_only(&e, &mut found);
        assert_eq!(found.len(), 1);
        assert!(matches!(&found[0], Expr::Call(Func::Select, a, _) if a[0] == cond));
    }
}
