//! A vectorised interpreter for IR programs.
//!
//! A program is compiled once into register instructions; each instruction
//! then runs over a whole batch of elements (the cells of a population chunk,
//! or the synapses of one spiking cell), so interpretation costs once per
//! batch, not once per element. `if` becomes masks: every store is guarded by
//! the conjunction of the conditions around it.

use crate::ir::{BinOp, CellAccess, Expr, Func, Stmt, UnOp};

pub type Reg = u16;

#[derive(Clone, Debug)]
pub enum Op {
    Const(Reg, f64),
    Var(Reg, usize),
    Time(Reg),
    Refractory(Reg),
    Signal(Reg, usize),
    Pre(Reg, CellAccess),
    Post(Reg, CellAccess),
    Neg(Reg, Reg),
    Not(Reg, Reg),
    Bin(BinOp, Reg, Reg, Reg),
    /// dst = a op constant
    BinRC(BinOp, Reg, Reg, f64),
    /// dst = constant op b
    BinCR(BinOp, Reg, f64, Reg),
    /// dst = t op b (the time is the same for every element)
    BinTR(BinOp, Reg, Reg),
    Call1(Func, Reg, Reg),
    Call2(Func, Reg, Reg, Reg),
    Select(Reg, Reg, Reg, Reg),
    Clip(Reg, Reg, Reg, Reg),
    Rand(Reg, u32, bool),
    /// dst = rand_poisson(mean) at a call site.
    RandPoisson(Reg, u32, Reg),
    /// dst = mask * cond (or mask * !cond when `negate`).
    Mask(Reg, Option<Reg>, Reg, bool),
    Store {
        var: usize,
        src: Reg,
        mask: Option<Reg>,
        held: bool,
    },
    Deposit {
        src: Reg,
        mask: Option<Reg>,
        pulse: u32,
    },
}

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub ops: Vec<Op>,
    pub regs: usize,
}

impl Program {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Compile statements. Locals occupy registers 0..locals.
pub fn compile(stmts: &[Stmt], locals: usize) -> Program {
    let mut c = Compiler {
        ops: vec![],
        next: locals as Reg,
        max: locals as Reg,
    };
    c.stmts(stmts, None);
    Program {
        ops: c.ops,
        regs: c.max as usize + 1,
    }
}

/// Compile one expression into a program whose result is register `result`.
pub fn compile_expr(e: &Expr, locals: usize) -> (Program, Reg) {
    let mut c = Compiler {
        ops: vec![],
        next: locals as Reg,
        max: locals as Reg,
    };
    let r = c.expr(e);
    (
        Program {
            ops: c.ops,
            regs: c.max as usize + 1,
        },
        r,
    )
}

struct Compiler {
    ops: Vec<Op>,
    next: Reg,
    max: Reg,
}

impl Compiler {
    fn alloc(&mut self) -> Reg {
        let r = self.next;
        self.next += 1;
        self.max = self.max.max(self.next);
        r
    }

    fn stmts(&mut self, stmts: &[Stmt], mask: Option<Reg>) {
        for s in stmts {
            let mark = self.next;
            match s {
                Stmt::Set { var, value, held } => {
                    let src = self.expr(value);
                    self.ops.push(Op::Store {
                        var: *var,
                        src,
                        mask,
                        held: *held,
                    });
                }
                Stmt::SetLocal { local, value } => {
                    let src = self.expr(value);
                    // Locals are computed for every element; masked-off
                    // elements never store them.
                    self.copy(*local as Reg, src);
                }
                Stmt::Deposit { value, pulse_steps } => {
                    let src = self.expr(value);
                    self.ops.push(Op::Deposit {
                        src,
                        mask,
                        pulse: *pulse_steps,
                    });
                }
                Stmt::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let c = self.expr(cond);
                    let m_then = self.alloc();
                    self.ops.push(Op::Mask(m_then, mask, c, false));
                    let keep = self.next;
                    self.stmts(then, Some(m_then));
                    self.next = keep;
                    if !otherwise.is_empty() {
                        let m_else = self.alloc();
                        self.ops.push(Op::Mask(m_else, mask, c, true));
                        let keep = self.next;
                        self.stmts(otherwise, Some(m_else));
                        self.next = keep;
                    }
                }
            }
            self.next = mark;
        }
    }

    fn copy(&mut self, dst: Reg, src: Reg) {
        // dst = src + (-0) keeps the instruction set small, and is the
        // identity for every value (src + 0 would turn -0 into +0).
        self.ops.push(Op::BinRC(BinOp::Add, dst, src, -0.0));
    }

    fn expr(&mut self, e: &Expr) -> Reg {
        let dst = self.alloc();
        match e {
            Expr::Const(v) => self.ops.push(Op::Const(dst, *v)),
            Expr::Var(v) => self.ops.push(Op::Var(dst, *v)),
            Expr::Local(l) => {
                self.next -= 1;
                return *l as Reg;
            }
            Expr::Time => self.ops.push(Op::Time(dst)),
            Expr::Refractory => self.ops.push(Op::Refractory(dst)),
            Expr::Signal(s) => self.ops.push(Op::Signal(dst, *s)),
            Expr::Pre(a) => self.ops.push(Op::Pre(dst, *a)),
            Expr::Post(a) => self.ops.push(Op::Post(dst, *a)),
            Expr::Unary(op, x) => {
                let x = self.expr(x);
                self.ops.push(match op {
                    UnOp::Neg => Op::Neg(dst, x),
                    UnOp::Not => Op::Not(dst, x),
                });
            }
            Expr::Binary(op, a, b) => match (&**a, &**b) {
                (Expr::Time, x) if !matches!(x, Expr::Const(_)) => {
                    let x = self.expr(x);
                    self.ops.push(Op::BinTR(*op, dst, x));
                }
                (x, Expr::Const(c)) => {
                    let x = self.expr(x);
                    self.ops.push(Op::BinRC(*op, dst, x, *c));
                }
                (Expr::Const(c), x) => {
                    let x = self.expr(x);
                    self.ops.push(Op::BinCR(*op, dst, *c, x));
                }
                _ => {
                    let a = self.expr(a);
                    let b = self.expr(b);
                    self.ops.push(Op::Bin(*op, dst, a, b));
                }
            },
            Expr::Call(f, args, site) => {
                let regs: Vec<Reg> = args.iter().map(|a| self.expr(a)).collect();
                self.ops.push(match (f, regs.as_slice()) {
                    (Func::Rand, _) => Op::Rand(dst, *site, false),
                    (Func::Randn, _) => Op::Rand(dst, *site, true),
                    (Func::RandPoisson, [mean]) => Op::RandPoisson(dst, *site, *mean),
                    (Func::Select, [c, a, b]) => Op::Select(dst, *c, *a, *b),
                    (Func::Clip, [x, lo, hi]) => Op::Clip(dst, *x, *lo, *hi),
                    (f, [a, b]) => Op::Call2(*f, dst, *a, *b),
                    (f, [a]) => Op::Call1(*f, dst, *a),
                    (f, _) => Op::Call1(*f, dst, dst),
                });
            }
        }
        dst
    }
}

/// What a program reads and writes: one batch of cells or synapses.
#[allow(clippy::len_without_is_empty)]
pub trait Env {
    fn len(&self) -> usize;
    fn var(&self, var: usize, out: &mut [f64]);
    fn time(&self) -> f64;
    fn signal(&self, s: usize) -> f64;
    fn pre(&self, a: CellAccess, out: &mut [f64]);
    fn post(&self, a: CellAccess, out: &mut [f64]);
    fn rand(&self, site: u32, normal: bool, out: &mut [f64]);
    /// `rand_poisson(mean)` at call site `site`, one mean per element.
    fn rand_poisson(&self, _site: u32, _mean: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
    /// 1 where the cell is refractory, else 0 (cell code only).
    fn refractory(&self, out: &mut [f64]) {
        out.fill(0.0);
    }
    /// Store `vals` where `mask` is nonzero (all when None).
    fn store(&mut self, var: usize, vals: &[f64], mask: Option<&[f64]>, held: bool);
    fn deposit(&mut self, vals: &[f64], mask: Option<&[f64]>, pulse: u32);
}

/// Register storage reused across runs.
#[derive(Default)]
pub struct Regs {
    data: Vec<f64>,
    batch: usize,
}

impl Regs {
    pub fn reg(&self, r: Reg) -> &[f64] {
        let b = self.batch;
        &self.data[r as usize * b..(r as usize + 1) * b]
    }
}

pub fn run(p: &Program, env: &mut dyn Env, regs: &mut Regs) {
    let n = env.len();
    if n == 0 {
        return;
    }
    // Registers are laid out `n` apart; the buffer only ever grows.
    regs.batch = n;
    let need = p.regs.max(1) * n;
    if regs.data.len() < need {
        regs.data.resize(need, 0.0);
    }
    // Registers are disjoint n-element windows of one buffer. The compiler
    // never makes an instruction's destination one of its sources, so the
    // slices below never overlap.
    let base = regs.data.as_mut_ptr();
    let limit = regs.data.len();
    macro_rules! r {
        ($r:expr) => {{
            assert!(($r as usize + 1) * n <= limit);
            // SAFETY: in bounds (asserted) and disjoint from any live `w!`.
            unsafe { std::slice::from_raw_parts(base.add($r as usize * n), n) }
        }};
    }
    macro_rules! w {
        ($r:expr) => {{
            assert!(($r as usize + 1) * n <= limit);
            // SAFETY: in bounds (asserted) and disjoint from the sources.
            unsafe { std::slice::from_raw_parts_mut(base.add($r as usize * n), n) }
        }};
    }
    for op in &p.ops {
        match *op {
            Op::Const(d, v) => w!(d).fill(v),
            Op::Var(d, v) => env.var(v, w!(d)),
            Op::Time(d) => w!(d).fill(env.time()),
            Op::Refractory(d) => env.refractory(w!(d)),
            Op::Signal(d, s) => w!(d).fill(env.signal(s)),
            Op::Pre(d, a) => env.pre(a, w!(d)),
            Op::Post(d, a) => env.post(a, w!(d)),
            Op::Neg(d, x) => {
                let (o, x) = (w!(d), r!(x));
                for i in 0..n {
                    o[i] = -x[i];
                }
            }
            Op::Not(d, x) => {
                let (o, x) = (w!(d), r!(x));
                for i in 0..n {
                    o[i] = f64::from(u8::from(x[i] == 0.0));
                }
            }
            Op::Bin(op, d, a, b) => {
                let (o, a, b) = (w!(d), r!(a), r!(b));
                binary(op, o, a, b);
            }
            Op::BinRC(op, d, a, c) => {
                let (o, a) = (w!(d), r!(a));
                binary_scalar(op, o, a, c, false);
            }
            Op::BinTR(op, d, b) => {
                let (o, b) = (w!(d), r!(b));
                binary_scalar(op, o, b, env.time(), true);
            }
            Op::BinCR(op, d, c, b) => {
                let (o, b) = (w!(d), r!(b));
                binary_scalar(op, o, b, c, true);
            }
            Op::Call1(f, d, a) => {
                let (o, a) = (w!(d), r!(a));
                for i in 0..n {
                    o[i] = crate::ir::apply_call(f, &[a[i]]);
                }
            }
            Op::Call2(f, d, a, b) => {
                let (o, a, b) = (w!(d), r!(a), r!(b));
                for i in 0..n {
                    o[i] = match f {
                        Func::Min => crate::ir::min(a[i], b[i]),
                        Func::Max => crate::ir::max(a[i], b[i]),
                        _ => crate::ir::apply_call(f, &[a[i], b[i]]),
                    };
                }
            }
            Op::Select(d, c, a, b) => {
                let (o, c, a, b) = (w!(d), r!(c), r!(a), r!(b));
                for (((o, c), a), b) in o.iter_mut().zip(c).zip(a).zip(b) {
                    *o = if *c != 0.0 { *a } else { *b };
                }
            }
            Op::Clip(d, x, lo, hi) => {
                let (o, x, lo, hi) = (w!(d), r!(x), r!(lo), r!(hi));
                for (((o, x), lo), hi) in o.iter_mut().zip(x).zip(lo).zip(hi) {
                    *o = crate::ir::min(crate::ir::max(*x, *lo), *hi);
                }
            }
            Op::Rand(d, site, normal) => env.rand(site, normal, w!(d)),
            Op::RandPoisson(d, site, mean) => env.rand_poisson(site, r!(mean), w!(d)),
            Op::Mask(d, m, c, negate) => {
                let (o, c) = (w!(d), r!(c));
                for i in 0..n {
                    let cv = (c[i] != 0.0) != negate;
                    o[i] = f64::from(u8::from(cv));
                }
                if let Some(m) = m {
                    let m = r!(m);
                    for i in 0..n {
                        o[i] *= m[i];
                    }
                }
            }
            Op::Store {
                var,
                src,
                mask,
                held,
            } => {
                let m = mask.map(|m| r!(m));
                env.store(var, r!(src), m, held);
            }
            Op::Deposit { src, mask, pulse } => {
                let m = mask.map(|m| r!(m));
                env.deposit(r!(src), m, pulse);
            }
        }
    }
}

/// o = a op c (or c op a when `swapped`).
#[inline]
fn binary_scalar(op: BinOp, o: &mut [f64], a: &[f64], c: f64, swapped: bool) {
    let n = o.len();
    let a = &a[..n];
    let t = |x: bool| f64::from(u8::from(x));
    match (op, swapped) {
        (BinOp::Add, _) => (0..n).for_each(|i| o[i] = a[i] + c),
        (BinOp::Mul, _) => (0..n).for_each(|i| o[i] = a[i] * c),
        (BinOp::Sub, false) => (0..n).for_each(|i| o[i] = a[i] - c),
        (BinOp::Sub, true) => (0..n).for_each(|i| o[i] = c - a[i]),
        (BinOp::Div, false) => (0..n).for_each(|i| o[i] = a[i] / c),
        (BinOp::Div, true) => (0..n).for_each(|i| o[i] = c / a[i]),
        (BinOp::Lt, false) | (BinOp::Gt, true) => (0..n).for_each(|i| o[i] = t(a[i] < c)),
        (BinOp::Gt, false) | (BinOp::Lt, true) => (0..n).for_each(|i| o[i] = t(a[i] > c)),
        (BinOp::Le, false) | (BinOp::Ge, true) => (0..n).for_each(|i| o[i] = t(a[i] <= c)),
        (BinOp::Ge, false) | (BinOp::Le, true) => (0..n).for_each(|i| o[i] = t(a[i] >= c)),
        (op, false) => (0..n).for_each(|i| o[i] = crate::ir::apply_binary(op, a[i], c)),
        (op, true) => (0..n).for_each(|i| o[i] = crate::ir::apply_binary(op, c, a[i])),
    }
}

#[inline]
fn binary(op: BinOp, o: &mut [f64], a: &[f64], b: &[f64]) {
    let n = o.len();
    let (a, b) = (&a[..n], &b[..n]);
    let t = |c: bool| f64::from(u8::from(c));
    match op {
        BinOp::Add => (0..n).for_each(|i| o[i] = a[i] + b[i]),
        BinOp::Sub => (0..n).for_each(|i| o[i] = a[i] - b[i]),
        BinOp::Mul => (0..n).for_each(|i| o[i] = a[i] * b[i]),
        BinOp::Div => (0..n).for_each(|i| o[i] = a[i] / b[i]),
        BinOp::Pow => (0..n).for_each(|i| o[i] = a[i].powf(b[i])),
        BinOp::Eq => (0..n).for_each(|i| o[i] = t(a[i] == b[i])),
        BinOp::Ne => (0..n).for_each(|i| o[i] = t(a[i] != b[i])),
        BinOp::Lt => (0..n).for_each(|i| o[i] = t(a[i] < b[i])),
        BinOp::Le => (0..n).for_each(|i| o[i] = t(a[i] <= b[i])),
        BinOp::Gt => (0..n).for_each(|i| o[i] = t(a[i] > b[i])),
        BinOp::Ge => (0..n).for_each(|i| o[i] = t(a[i] >= b[i])),
        BinOp::And => (0..n).for_each(|i| o[i] = t(a[i] != 0.0 && b[i] != 0.0)),
        BinOp::Or => (0..n).for_each(|i| o[i] = t(a[i] != 0.0 || b[i] != 0.0)),
    }
}
