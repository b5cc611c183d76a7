//! The syntax tree: what the file says, with a byte span on every node.
//!
//! Nothing here knows what a setting means; the checker gives it meaning.

use std::fmt;

/// A byte range in one source file; `file` indexes the `SourceMap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub file: u32,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: u32, start: usize, end: usize) -> Self {
        Span { file, start, end }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    pub fn to(self, other: Span) -> Span {
        Span::new(
            self.file,
            self.start.min(other.start),
            self.end.max(other.end),
        )
    }
}

/// A name and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[derive(Clone, Debug, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub enum Item {
    Import(Import),
    Model(Ident),
    Simulation(Settings),
    Schedule(Schedule),
    Neuron(NeuronDef),
    Synapse(SynapseDef),
    Population(PopulationDecl),
    Projection(ProjectionDecl),
    GapJunction(GapJunctionDecl),
    Record(RecordDecl),
    Protocol(ProtocolDecl),
    /// `set NAME = value`: an override written in the file.
    Set(SetItem),
    /// `let NAME = value` at the top level: a constant of the model.
    Constant(ConstantDecl),
}

#[derive(Clone, Debug)]
pub struct ConstantDecl {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct SetItem {
    pub path: Path,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Import {
    pub path: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Schedule {
    pub order: Vec<Ident>,
    pub span: Span,
}

/// `name = expr` inside a braced body.
#[derive(Clone, Debug)]
pub struct Setting {
    pub name: Ident,
    pub value: Expr,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub keyword_span: Span,
    pub settings: Vec<Setting>,
}

/// `name [: unit] [= value]` in a parameters, state or inputs block.
#[derive(Clone, Debug)]
pub struct Decl {
    pub name: Ident,
    pub unit: Option<UnitExpr>,
    pub value: Option<Expr>,
    pub span: Span,
    /// The value the model wrote, when `--set TYPE.param` replaced it: a
    /// declaration without a unit takes its dimension from it.
    pub replaced: Option<Expr>,
}

/// A unit written in a declaration, e.g. `mV/ms` or `1/ms`.
#[derive(Clone, Debug)]
pub struct UnitExpr {
    /// (unit name or "1", power), already signed by `/`.
    pub factors: Vec<(Ident, i32)>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct NeuronDef {
    pub name: Ident,
    pub parameters: Vec<Decl>,
    pub state: Vec<Decl>,
    pub inputs: Vec<Decl>,
    pub equations: Vec<EquationItem>,
    pub update: Vec<Stmt>,
    pub spike: Option<Expr>,
    pub reset: Vec<Stmt>,
    pub refractory: Option<Refractory>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum EquationItem {
    Ode(Ode),
    Let(LetStmt),
}

#[derive(Clone, Debug)]
pub struct Ode {
    pub var: Ident,
    pub rhs: Expr,
    pub method: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Refractory {
    pub period: Expr,
    pub holding: Vec<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct SynapseDef {
    pub name: Ident,
    pub parameters: Vec<Decl>,
    pub state: Vec<Decl>,
    pub on_pre: Option<Handler>,
    pub on_post: Option<Handler>,
    pub on_teacher: Option<Handler>,
    pub every: Vec<Periodic>,
    pub bounds: Vec<Bounds>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Handler {
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Periodic {
    pub period: Expr,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Bounds {
    pub var: Ident,
    pub low: Expr,
    pub high: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct PopulationDecl {
    pub name: Ident,
    pub size: Expr,
    pub model: Call,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ProjectionDecl {
    pub name: Ident,
    pub source: Ident,
    pub target: Ident,
    pub target_var: Ident,
    pub settings: Vec<Setting>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct GapJunctionDecl {
    pub name: Ident,
    pub population: Ident,
    pub settings: Vec<Setting>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct RecordDecl {
    pub name: Ident,
    pub what: Call,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ProtocolDecl {
    pub name: Ident,
    pub settings: Vec<Setting>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Stmt {
    Let(LetStmt),
    Assign(Assign),
    If(IfStmt),
}

#[derive(Clone, Debug)]
pub struct LetStmt {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    Set,
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Debug)]
pub struct Assign {
    pub target: Path,
    pub op: AssignOp,
    pub value: Expr,
    /// `target += x for 2 ms`: a pulse lasting that long.
    pub duration: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct IfStmt {
    pub cond: Expr,
    pub then: Vec<Stmt>,
    pub otherwise: Vec<Stmt>,
    pub span: Span,
}

/// `a`, `pre.V`, `post.last_spike`.
#[derive(Clone, Debug)]
pub struct Path {
    pub parts: Vec<Ident>,
    pub span: Span,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.parts.iter().map(|p| p.name.as_str()).collect();
        f.write_str(&names.join("."))
    }
}

#[derive(Clone, Debug)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A number with an optional unit: `200 ms`, `3`, `-60 mV` is Neg(Number).
    Number {
        value: f64,
        unit: Option<Ident>,
    },
    /// `10%`: a dimensionless fraction that some functions read as relative.
    Percent(f64),
    Bool(bool),
    Path(Path),
    Call(Call),
    List(Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}
