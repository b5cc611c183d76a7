//! The arithmetic of the language's operators and built-in functions: the
//! one definition shared by constant folding (checker and IR), the CPU
//! interpreter and, through `kernels/templates/math.inc` and
//! `engine/c_expr.rs`, the generated C and CUDA (which must agree with it
//! bit for bit).

use crate::syntax::ast::BinOp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Exp,
    /// e^x - 1, accurate near 0 (where exp(x) - 1 loses digits).
    Expm1,
    Log,
    Sqrt,
    /// Sine and cosine of an angle in radians; hyperbolic sine, cosine
    /// and tangent.
    Sin,
    Cos,
    Sinh,
    Cosh,
    Tanh,
    Abs,
    Min,
    Max,
    /// mod(a, b) = a - b * floor(a / b): a phase within a period.
    Mod,
    Clip,
    Select,
    Floor,
    /// Uniform in [0, 1), drawn per cell (or synapse) per step.
    Rand,
    /// Standard normal, drawn per cell (or synapse) per step.
    Randn,
    /// A Poisson count with the given mean, drawn per cell per step
    /// (`crate::network::Rng::poisson`): independent Poisson input.
    RandPoisson,
}

/// Every built-in function and its name in the language.
const NAMES: [(&str, Func); 19] = [
    ("exp", Func::Exp),
    ("expm1", Func::Expm1),
    ("log", Func::Log),
    ("sqrt", Func::Sqrt),
    ("sin", Func::Sin),
    ("cos", Func::Cos),
    ("sinh", Func::Sinh),
    ("cosh", Func::Cosh),
    ("tanh", Func::Tanh),
    ("abs", Func::Abs),
    ("min", Func::Min),
    ("mod", Func::Mod),
    ("max", Func::Max),
    ("clip", Func::Clip),
    ("select", Func::Select),
    ("floor", Func::Floor),
    ("rand", Func::Rand),
    ("randn", Func::Randn),
    ("rand_poisson", Func::RandPoisson),
];

impl Func {
    pub fn by_name(name: &str) -> Option<Func> {
        NAMES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
    /// Every function's name, in the order of the reference's table.
    pub fn names() -> Vec<&'static str> {
        NAMES.iter().map(|(n, _)| *n).collect()
    }
    /// The function's name in the language.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
    /// exp, log, the trigonometric and hyperbolic functions: of a plain
    /// number (no unit), giving one.
    pub fn of_a_plain_number(self) -> bool {
        matches!(
            self,
            Func::Exp
                | Func::Expm1
                | Func::Log
                | Func::Sin
                | Func::Cos
                | Func::Sinh
                | Func::Cosh
                | Func::Tanh
        )
    }
    /// rand(), randn() and rand_poisson(): drawn afresh at each call, never
    /// folded, each call site with its own numbers.
    pub fn is_random(self) -> bool {
        matches!(self, Func::Rand | Func::Randn | Func::RandPoisson)
    }
    /// Is the result the same bits in every engine? IEEE's exactly rounded
    /// operations and choices are; libm's transcendentals (exp, log, sin,
    /// ...) and CUDA's may differ in the last bit, and randn uses them.
    pub fn same_on_every_engine(self) -> bool {
        matches!(
            self,
            Func::Sqrt
                | Func::Abs
                | Func::Floor
                | Func::Min
                | Func::Max
                | Func::Mod
                | Func::Clip
                | Func::Select
                | Func::Rand
        )
    }
    /// The value of a deterministic function; None for the random ones.
    /// The one definition of the built-ins' arithmetic, shared by constant
    /// folding in the checker and the IR and by the CPU engine.
    pub fn apply(self, v: &[f64]) -> Option<f64> {
        Some(match self {
            Func::Exp => v[0].exp(),
            Func::Expm1 => v[0].exp_m1(),
            Func::Log => v[0].ln(),
            Func::Sqrt => v[0].sqrt(),
            Func::Sin => v[0].sin(),
            Func::Cos => v[0].cos(),
            Func::Sinh => v[0].sinh(),
            Func::Cosh => v[0].cosh(),
            Func::Tanh => v[0].tanh(),
            Func::Abs => v[0].abs(),
            Func::Floor => v[0].floor(),
            Func::Min => min(v[0], v[1]),
            Func::Max => max(v[0], v[1]),
            Func::Mod => modulo(v[0], v[1]),
            Func::Clip => min(max(v[0], v[1]), v[2]),
            Func::Select => {
                if v[0] != 0.0 {
                    v[1]
                } else {
                    v[2]
                }
            }
            Func::Rand | Func::Randn | Func::RandPoisson => return None,
        })
    }
}

/// mod(a, b) as every engine computes it: a - b * floor(a / b), with the
/// sign of b (`mod(-1 ms, 250 ms)` is 249 ms), a phase within a period.
pub fn modulo(a: f64, b: f64) -> f64 {
    a - b * (a / b).floor()
}

/// min(a, b) as every engine computes it: b when b < a or a is NaN, else a
/// (so min(-0, 0) is -0 and min(0, -0) is 0: the first of equal values).
/// Spelled out, because f64::min and C's fmin may pick either zero.
pub fn min(a: f64, b: f64) -> f64 {
    if b < a || a.is_nan() {
        b
    } else {
        a
    }
}

/// max(a, b): b when b > a or a is NaN, else a (see [`min`]).
pub fn max(a: f64, b: f64) -> f64 {
    if b > a || a.is_nan() {
        b
    } else {
        a
    }
}

/// The value of a binary operator on numbers (conditions are 0 and 1).
pub fn apply_binary(op: BinOp, a: f64, b: f64) -> f64 {
    let t = |c: bool| f64::from(u8::from(c));
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Pow => a.powf(b),
        BinOp::Eq => t(a == b),
        BinOp::Ne => t(a != b),
        BinOp::Lt => t(a < b),
        BinOp::Le => t(a <= b),
        BinOp::Gt => t(a > b),
        BinOp::Ge => t(a >= b),
        BinOp::And => t(a != 0.0 && b != 0.0),
        BinOp::Or => t(a != 0.0 || b != 0.0),
    }
}

/// The value of a deterministic built-in function (NaN for rand/randn,
/// which are never folded).
pub fn apply_call(f: Func, v: &[f64]) -> f64 {
    f.apply(v).unwrap_or(f64::NAN)
}
