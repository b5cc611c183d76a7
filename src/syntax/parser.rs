//! Text to syntax tree, with pest. Every node keeps its byte span.

use super::ast::*;
use crate::diagnostics::Diagnostic;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use std::sync::OnceLock;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/cbm.pest"]
struct CbmParser;

/// Parse one file. `file` is its id in the source map, stored in every span.
/// (The error is boxed: a diagnostic is large, and the parse succeeds
/// far more often.)
pub fn parse(text: &str, file: u32) -> Result<File, Box<Diagnostic>> {
    too_deep(text, file)?;
    let mut pairs =
        CbmParser::parse(Rule::file, text).map_err(|e| Box::new(syntax_error(e, file)))?;
    let root = pairs.next().expect("pest returns the file rule");
    let b = Builder { file };
    let mut items = Vec::new();
    for pair in root.into_inner() {
        if pair.as_rule() == Rule::EOI {
            continue;
        }
        items.push(b.item(pair));
    }
    Ok(File { items })
}

/// Parse a lone expression (a `--set` value). `file` as for `parse`.
pub fn parse_expr(text: &str, file: u32) -> Result<Expr, Box<Diagnostic>> {
    too_deep(text, file)?;
    let mut pairs =
        CbmParser::parse(Rule::expr_only, text).map_err(|e| Box::new(syntax_error(e, file)))?;
    let root = pairs.next().expect("pest returns the expr_only rule");
    let b = Builder { file };
    let expr = root.into_inner().next().expect("expr_only holds an expr");
    Ok(b.expr(expr))
}

/// Nesting deeper than any model needs would overflow the parser's stack:
/// refuse it with a diagnostic first. Counts brackets and runs of prefix
/// operators; comments are not special-cased (being too strict there is safe).
/// A statement with more operators than any model needs (a generated sum of
/// 100,000 terms) is refused too: the checker walks expression trees
/// recursively, and a flat chain is a tree as deep as it is long.
fn too_deep(text: &str, file: u32) -> Result<(), Box<Diagnostic>> {
    const LIMIT: usize = 200;
    const OPERATORS: usize = 10_000;
    let mut depth = 0usize;
    let mut run = 0usize;
    // Operators since the statement began, and open ( and [ in it.
    let (mut operators, mut open) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' => open += 1,
            ')' | ']' => open = open.saturating_sub(1),
            '{' | '}' | ';' => (operators, open) = (0, 0),
            '\n' if open == 0 => operators = 0,
            '+' | '-' | '*' | '/' | '^' | '<' | '>' | '=' | '!' => operators += 1,
            _ => {}
        }
        if operators > OPERATORS {
            return Err(Box::new(
                Diagnostic::error(
                    "cbm::E001",
                    Span::new(file, i, i + c.len_utf8()),
                    format!("a statement with more than {OPERATORS} operators"),
                )
                .label("too long")
                .help("split the expression with `let`"),
            ));
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        match c {
            '-' | '!' => run += 1,
            c if c.is_whitespace() => {}
            _ => run = 0,
        }
        if depth > LIMIT || run > LIMIT {
            return Err(Box::new(
                Diagnostic::error(
                    "cbm::E001",
                    Span::new(file, i, i + c.len_utf8()),
                    format!("nesting deeper than {LIMIT} levels"),
                )
                .label("too deep")
                .help("split the expression with `let`"),
            ));
        }
    }
    Ok(())
}

fn syntax_error(e: pest::error::Error<Rule>, file: u32) -> Diagnostic {
    let (start, end) = match e.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((s, e)) => (s, e),
    };
    let expected = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().map(|r| rule_name(*r)).collect();
            names.sort();
            names.dedup();
            names.join(", ")
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let message = if expected.is_empty() {
        "syntax error".to_string()
    } else {
        format!("syntax error: expected {expected}")
    };
    let d = Diagnostic::error("cbm::E001", Span::new(file, start, end.max(start)), message)
        .label("the parser stopped here");
    d.help(likely_slip(e.line(), &e.line_col).unwrap_or(
        "statements go one per line (or separated by `;`); see docs/language.md for the grammar",
    ))
}

/// A common slip at or just before where the parser stopped, from the text
/// of that line: a hint that names it.
fn likely_slip(line: &str, at: &pest::error::LineColLocation) -> Option<&'static str> {
    let col = match at {
        pest::error::LineColLocation::Pos((_, c))
        | pest::error::LineColLocation::Span((_, c), _) => *c,
    };
    // The text around the stop (columns count characters, from 1).
    let before: String = line.chars().take(col.saturating_sub(1)).collect();
    let here: String = line.chars().skip(col.saturating_sub(1)).take(3).collect();
    let near = format!(
        "{}{here}",
        before
            .chars()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>()
    );
    if here.starts_with(['µ', 'μ']) {
        Some("`µ` is not accepted (names are ASCII): write `us`, `uS`, `uA`")
    } else if near.contains("=>") {
        Some("did you mean `>=`?")
    } else if near.contains("=<") {
        Some("did you mean `<=`?")
    } else if near.contains("**") {
        Some("powers are written `^`: `V^2`, `m^3 * h`")
    } else if ode_with_brian_unit(line) {
        Some("an equation's unit is not written after it (Brian's `: volt`): the unit of `dX/dt` comes from `X`'s declaration; an integration method goes there instead, `[exact]`, `[euler]` or `[rk4]`")
    } else if line.trim_start().starts_with("population")
        && line.contains('=')
        && !line.contains('(')
    {
        Some("a population is made by a call, with its arguments if any: `= LIF()`, `= poisson(rate = 10 Hz)`")
    } else if line.trim_start().starts_with("spike when")
        && !line.contains("==")
        && line.matches('=').count() == 1
        && !line.contains(">=")
        && !line.contains("<=")
        && !line.contains("!=")
    {
        Some("`=` assigns; compare with `>=`, `>`, `==` ...: `spike when V >= theta`")
    } else {
        None
    }
}

/// `dV/dt = ... : volt`, as in Brian: a `:` after an equation.
fn ode_with_brian_unit(line: &str) -> bool {
    line.find("/dt")
        .and_then(|at| line[at..].find('=').map(|eq| at + eq))
        .is_some_and(|eq| line[eq..].contains(':'))
}

fn rule_name(r: Rule) -> &'static str {
    match r {
        Rule::ident | Rule::ident_chars => "a name",
        Rule::expr | Rule::primary => "an expression",
        Rule::quantity | Rule::number => "a number",
        Rule::string => "a quoted string",
        Rule::decl => "a declaration `name [: unit] [= value]`",
        Rule::setting => "a setting `name = value`",
        Rule::stmt | Rule::assign | Rule::let_stmt | Rule::if_stmt => "a statement",
        Rule::block => "a `{ ... }` block",
        Rule::unit_expr | Rule::unit_atom => "a unit",
        Rule::assign_op => "`=`, `+=`, `-=`, `*=` or `/=`",
        Rule::eq_token => "`=`",
        Rule::item => "a top-level item (neuron, synapse, population, projection, ...)",
        Rule::EOI => "end of file",
        Rule::ode => "an equation `dX/dt = ...`",
        Rule::call => "a call `name(...)`",
        Rule::method => "an integration method `[euler]`, `[exact]` or `[rk4]`",
        Rule::infix | Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::pow => "an operator",
        Rule::eq | Rule::ne | Rule::lt | Rule::le | Rule::gt | Rule::ge => "an operator",
        Rule::and | Rule::or => "an operator",
        Rule::neuron_item => "a neuron section (parameters, state, inputs, equations, update, spike, reset, refractory)",
        Rule::synapse_item => "a synapse section (parameters, state, on_pre, on_post, on_teacher, every, bounds)",
        _ => "more input",
    }
}

fn pratt() -> &'static PrattParser<Rule> {
    static P: OnceLock<PrattParser<Rule>> = OnceLock::new();
    P.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::or, Assoc::Left))
            .op(Op::infix(Rule::and, Assoc::Left))
            .op(Op::infix(Rule::eq, Assoc::Left)
                | Op::infix(Rule::ne, Assoc::Left)
                | Op::infix(Rule::lt, Assoc::Left)
                | Op::infix(Rule::le, Assoc::Left)
                | Op::infix(Rule::gt, Assoc::Left)
                | Op::infix(Rule::ge, Assoc::Left))
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
            .op(Op::prefix(Rule::neg) | Op::prefix(Rule::not))
            .op(Op::infix(Rule::pow, Assoc::Right))
    })
}

struct Builder {
    file: u32,
}

impl Builder {
    /// The pair's span without trailing whitespace or comments (pest
    /// includes whitespace skipped before a repetition that did not match).
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        let text = s.as_str();
        let mut end = text.trim_end().len();
        // A trailing line comment is whitespace too.
        while let Some(line_start) = text[..end].rfind('\n') {
            let line = &text[line_start + 1..end];
            let t = line.trim_start();
            if t.starts_with("//") || t.starts_with('#') {
                end = text[..line_start].trim_end().len();
            } else {
                break;
            }
        }
        Span::new(self.file, s.start(), s.start() + end)
    }

    fn ident(&self, p: Pair<Rule>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn item(&self, p: Pair<Rule>) -> Item {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::import => {
                let s = p.into_inner().next().expect("import has a string");
                let body = s.into_inner().next().map(|b| b.as_str()).unwrap_or("");
                Item::Import(Import {
                    path: body.to_string(),
                    span,
                })
            }
            Rule::model_decl => Item::Model(self.ident(first(p))),
            Rule::simulation => Item::Simulation(Settings {
                keyword_span: span,
                settings: p.into_inner().map(|s| self.setting(s)).collect(),
            }),
            Rule::schedule => Item::Schedule(Schedule {
                order: p.into_inner().map(|i| self.ident(i)).collect(),
                span,
            }),
            Rule::neuron => Item::Neuron(self.neuron(p)),
            Rule::synapse => Item::Synapse(self.synapse(p)),
            Rule::population => {
                let mut it = p.into_inner().filter(|x| x.as_rule() != Rule::eq_token);
                let name = self.ident(next(&mut it));
                let size = self.expr(next(&mut it));
                let model = self.call(next(&mut it));
                Item::Population(PopulationDecl {
                    name,
                    size,
                    model,
                    span,
                })
            }
            Rule::projection => {
                let mut it = p.into_inner();
                let name = self.ident(next(&mut it));
                let source = self.ident(next(&mut it));
                let target = self.ident(next(&mut it));
                let target_var = self.ident(next(&mut it));
                Item::Projection(ProjectionDecl {
                    name,
                    source,
                    target,
                    target_var,
                    settings: it.map(|s| self.setting(s)).collect(),
                    span,
                })
            }
            Rule::gap_junction => {
                let mut it = p.into_inner();
                let name = self.ident(next(&mut it));
                let population = self.ident(next(&mut it));
                Item::GapJunction(GapJunctionDecl {
                    name,
                    population,
                    settings: it.map(|s| self.setting(s)).collect(),
                    span,
                })
            }
            Rule::record => {
                let mut it = p.into_inner();
                let name = self.ident(next(&mut it));
                let what = self.call(next(&mut it));
                Item::Record(RecordDecl { name, what, span })
            }
            Rule::protocol => {
                let mut it = p.into_inner();
                let name = self.ident(next(&mut it));
                Item::Protocol(ProtocolDecl {
                    name,
                    settings: it.map(|s| self.setting(s)).collect(),
                    span,
                })
            }
            Rule::set_item => {
                let mut it = p.into_inner();
                let path = self.path(next(&mut it));
                let value = self.expr(next(&mut it));
                Item::Set(SetItem { path, value, span })
            }
            Rule::constant => {
                let mut it = p.into_inner().skip(1); // the `let` keyword
                let name = self.ident(next(&mut it));
                let value = self.expr(next(&mut it));
                Item::Constant(ConstantDecl { name, value, span })
            }
            r => unreachable!("grammar item rule {r:?}"),
        }
    }

    fn setting(&self, p: Pair<Rule>) -> Setting {
        let mut it = p.into_inner();
        Setting {
            name: self.ident(next(&mut it)),
            value: self.expr(next(&mut it)),
        }
    }

    fn decls(&self, p: Pair<Rule>) -> Vec<Decl> {
        p.into_inner()
            .map(|d| {
                let span = self.span(&d);
                let mut name = None;
                let mut unit = None;
                let mut value = None;
                for part in d.into_inner() {
                    match part.as_rule() {
                        Rule::ident => name = Some(self.ident(part)),
                        Rule::unit_expr => unit = Some(self.unit_expr(part)),
                        Rule::expr => value = Some(self.expr(part)),
                        r => unreachable!("decl part {r:?}"),
                    }
                }
                Decl {
                    name: name.expect("decl has a name"),
                    unit,
                    value,
                    span,
                    replaced: None,
                }
            })
            .collect()
    }

    fn unit_expr(&self, p: Pair<Rule>) -> UnitExpr {
        let span = self.span(&p);
        UnitExpr {
            factors: self.unit_factors(p),
            span,
        }
    }

    /// A unit as (name, power) factors: a group in parentheses contributes
    /// its own factors with their powers multiplied (`1/(mV*ms)` is 1, mV^-1,
    /// ms^-1).
    fn unit_factors(&self, p: Pair<Rule>) -> Vec<(Ident, i32)> {
        let mut factors = Vec::new();
        let mut sign = 1;
        for part in p.into_inner() {
            match part.as_rule() {
                Rule::unit_op => sign = if part.as_str() == "/" { -1 } else { 1 },
                Rule::unit_atom => {
                    let mut it = part.into_inner();
                    let base = next(&mut it);
                    let pow = it
                        .next()
                        // Absurd powers saturate (and then fail the dimension check).
                        .map(|p| {
                            p.as_str()
                                .parse::<i64>()
                                .map(|v| v.clamp(-1000, 1000) as i32)
                                .unwrap_or(if p.as_str().starts_with('-') {
                                    -1000
                                } else {
                                    1000
                                })
                        })
                        .unwrap_or(1);
                    if base.as_rule() == Rule::unit_expr {
                        for (name, p) in self.unit_factors(base) {
                            // Absurd powers saturate, as above.
                            let p = (sign * pow).saturating_mul(p).clamp(-1000, 1000);
                            factors.push((name, p));
                        }
                    } else {
                        factors.push((self.ident(base), sign * pow));
                    }
                }
                r => unreachable!("unit part {r:?}"),
            }
        }
        factors
    }

    fn neuron(&self, p: Pair<Rule>) -> NeuronDef {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(next(&mut it));
        let mut n = NeuronDef {
            name,
            parameters: vec![],
            state: vec![],
            inputs: vec![],
            equations: vec![],
            update: vec![],
            spike: None,
            reset: vec![],
            refractory: None,
            span,
        };
        for part in it {
            match part.as_rule() {
                Rule::parameters => n.parameters.extend(self.decls(part)),
                Rule::state => n.state.extend(self.decls(part)),
                Rule::inputs => n.inputs.extend(self.decls(part)),
                Rule::equations => {
                    let mut default_method = None;
                    for eq in part.into_inner() {
                        match eq.as_rule() {
                            Rule::method => default_method = Some(self.ident(first(eq))),
                            Rule::ode => {
                                let mut ode = self.ode(eq);
                                if ode.method.is_none() {
                                    ode.method = default_method.clone();
                                }
                                n.equations.push(EquationItem::Ode(ode));
                            }
                            Rule::let_stmt => {
                                n.equations.push(EquationItem::Let(self.let_stmt(eq)))
                            }
                            r => unreachable!("equation part {r:?}"),
                        }
                    }
                }
                Rule::update_block => n.update.extend(self.block(first(part))),
                Rule::spike_decl => {
                    let e = part.into_inner().last().expect("spike has a condition");
                    n.spike = Some(self.expr(e));
                }
                Rule::reset_block => n.reset.extend(self.block(first(part))),
                Rule::refractory => {
                    let span = self.span(&part);
                    let mut it = part.into_inner();
                    let period = self.expr(next(&mut it));
                    n.refractory = Some(Refractory {
                        period,
                        holding: it.map(|i| self.ident(i)).collect(),
                        span,
                    });
                }
                r => unreachable!("neuron part {r:?}"),
            }
        }
        n
    }

    fn ode(&self, p: Pair<Rule>) -> Ode {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let var_pair = next(&mut it);
        let vspan = self.span(&var_pair);
        let var = Ident {
            name: var_pair.as_str()[1..].to_string(),
            span: Span::new(self.file, vspan.start + 1, vspan.end),
        };
        let rhs = self.expr(next(&mut it));
        let method = it.next().map(|m| self.ident(first(m)));
        Ode {
            var,
            rhs,
            method,
            span,
        }
    }

    fn synapse(&self, p: Pair<Rule>) -> SynapseDef {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(next(&mut it));
        let mut s = SynapseDef {
            name,
            parameters: vec![],
            state: vec![],
            on_pre: None,
            on_post: None,
            on_teacher: None,
            every: vec![],
            bounds: vec![],
            span,
        };
        for part in it {
            let pspan = self.span(&part);
            match part.as_rule() {
                Rule::parameters => s.parameters.extend(self.decls(part)),
                Rule::state => s.state.extend(self.decls(part)),
                Rule::on_pre | Rule::on_post | Rule::on_teacher => {
                    let rule = part.as_rule();
                    let h = Handler {
                        body: self.block(first(part)),
                        span: pspan,
                    };
                    // A second handler of the same kind is appended, in order.
                    let slot = match rule {
                        Rule::on_pre => &mut s.on_pre,
                        Rule::on_post => &mut s.on_post,
                        _ => &mut s.on_teacher,
                    };
                    match slot {
                        Some(existing) => existing.body.extend(h.body),
                        None => *slot = Some(h),
                    }
                }
                Rule::every => {
                    let mut it = part.into_inner();
                    let period = self.expr(next(&mut it));
                    let body = self.block(next(&mut it));
                    s.every.push(Periodic {
                        period,
                        body,
                        span: pspan,
                    });
                }
                Rule::bounds => {
                    let mut it = part.into_inner();
                    s.bounds.push(Bounds {
                        var: self.ident(next(&mut it)),
                        low: self.expr(next(&mut it)),
                        high: self.expr(next(&mut it)),
                        span: pspan,
                    });
                }
                r => unreachable!("synapse part {r:?}"),
            }
        }
        s
    }

    fn block(&self, p: Pair<Rule>) -> Vec<Stmt> {
        p.into_inner().map(|s| self.stmt(s)).collect()
    }

    fn let_stmt(&self, p: Pair<Rule>) -> LetStmt {
        let span = self.span(&p);
        let mut it = p.into_inner().skip(1); // the `let` keyword
        LetStmt {
            name: self.ident(next(&mut it)),
            value: self.expr(next(&mut it)),
            span,
        }
    }

    fn stmt(&self, p: Pair<Rule>) -> Stmt {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::let_stmt => Stmt::Let(self.let_stmt(p)),
            Rule::assign => {
                let mut it = p.into_inner();
                let target = self.path(next(&mut it));
                let op = match next(&mut it).as_str() {
                    "+=" => AssignOp::Add,
                    "-=" => AssignOp::Sub,
                    "*=" => AssignOp::Mul,
                    "/=" => AssignOp::Div,
                    _ => AssignOp::Set,
                };
                let value = self.expr(next(&mut it));
                let duration = it.nth(1).map(|d| self.expr(d)); // after `for`
                Stmt::Assign(Assign {
                    target,
                    op,
                    value,
                    duration,
                    span,
                })
            }
            Rule::if_stmt => Stmt::If(self.if_stmt(p)),
            r => unreachable!("statement rule {r:?}"),
        }
    }

    fn if_stmt(&self, p: Pair<Rule>) -> IfStmt {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let cond = self.expr(next(&mut it));
        let then = self.block(next(&mut it));
        let otherwise = match it.next() {
            None => vec![],
            Some(e) if e.as_rule() == Rule::if_stmt => vec![Stmt::If(self.if_stmt(e))],
            Some(b) => self.block(b),
        };
        IfStmt {
            cond,
            then,
            otherwise,
            span,
        }
    }

    fn path(&self, p: Pair<Rule>) -> Path {
        let span = self.span(&p);
        Path {
            parts: p.into_inner().map(|i| self.ident(i)).collect(),
            span,
        }
    }

    fn call(&self, p: Pair<Rule>) -> Call {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(next(&mut it));
        let args = it
            .map(|a| {
                let mut parts: Vec<Pair<Rule>> = a.into_inner().collect();
                let value = self.expr(parts.pop().expect("arg has a value"));
                let name = parts.pop().map(|n| self.ident(n));
                Arg { name, value }
            })
            .collect();
        Call { name, args, span }
    }

    fn expr(&self, p: Pair<Rule>) -> Expr {
        debug_assert_eq!(p.as_rule(), Rule::expr);
        pratt()
            .map_primary(|q| self.primary(q))
            .map_prefix(|op, rhs| {
                let span = self.span(&op).to(rhs.span);
                let op = if op.as_rule() == Rule::neg {
                    UnOp::Neg
                } else {
                    UnOp::Not
                };
                Expr {
                    kind: ExprKind::Unary(op, Box::new(rhs)),
                    span,
                }
            })
            .map_infix(|lhs, op, rhs| {
                let span = lhs.span.to(rhs.span);
                let op = match op.as_rule() {
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::div => BinOp::Div,
                    Rule::pow => BinOp::Pow,
                    Rule::eq => BinOp::Eq,
                    Rule::ne => BinOp::Ne,
                    Rule::lt => BinOp::Lt,
                    Rule::le => BinOp::Le,
                    Rule::gt => BinOp::Gt,
                    Rule::ge => BinOp::Ge,
                    Rule::and => BinOp::And,
                    Rule::or => BinOp::Or,
                    r => unreachable!("infix rule {r:?}"),
                };
                Expr {
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span,
                }
            })
            .parse(p.into_inner())
    }

    fn primary(&self, p: Pair<Rule>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::expr => return self.expr(p),
            Rule::paren => {
                let inner = self.expr(first(p));
                return Expr {
                    kind: inner.kind,
                    span,
                };
            }
            Rule::quantity => {
                let mut it = p.into_inner();
                let num = next(&mut it);
                // The grammar admits only well-formed decimal numbers.
                let value: f64 = num.as_str().parse().unwrap_or(f64::NAN);
                match it.next() {
                    Some(s) if s.as_rule() == Rule::percent => ExprKind::Percent(value / 100.0),
                    Some(u) => ExprKind::Number {
                        value,
                        unit: Some(self.ident(u)),
                    },
                    None => ExprKind::Number { value, unit: None },
                }
            }
            Rule::boolean => ExprKind::Bool(p.as_str() == "true"),
            Rule::path => ExprKind::Path(self.path(p)),
            Rule::call => ExprKind::Call(self.call(p)),
            Rule::list => ExprKind::List(p.into_inner().map(|e| self.expr(e)).collect()),
            r => unreachable!("primary rule {r:?}"),
        };
        Expr { kind, span }
    }
}

fn next<'a>(it: &mut impl Iterator<Item = Pair<'a, Rule>>) -> Pair<'a, Rule> {
    it.next().expect("the grammar guarantees this part")
}

fn first(p: Pair<Rule>) -> Pair<Rule> {
    p.into_inner()
        .next()
        .expect("the grammar guarantees this part")
}
