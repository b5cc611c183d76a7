//! `--set NAME=VALUE` from the command line, applied to the syntax tree
//! before checking, so the values are unit-checked exactly like the model's.
//!
//! Names: `dt`, `duration`, `seed`; `NAME` (a model constant, `let NAME =
//! ...` at the top level); `POP.param` (a population argument);
//! `PROJ.name` (a synapse argument or `delay`); `PROTOCOL.setting` (its
//! trials, or a signal's window); `TYPE.param` (the default of a neuron or
//! synapse type's parameter).

use crate::diagnostics::{Diagnostic, SourceMap};
use crate::syntax::ast::{Arg, Expr, Ident, Item, Setting, Settings, Span};
use crate::syntax::parse_expr;
use std::path::Path;

/// Apply every override; false (with diagnostics) if any could not be.
/// `set` items in the files apply first, in order, then the command line's.
pub fn apply(
    items: &mut Vec<Item>,
    sets: &[(String, String)],
    sources: &mut SourceMap,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let mut ok = true;
    let in_file: Vec<crate::syntax::ast::SetItem> = items
        .iter()
        .filter_map(|i| {
            if let Item::Set(s) = i {
                Some(s.clone())
            } else {
                None
            }
        })
        .collect();
    items.retain(|i| !matches!(i, Item::Set(_)));
    for s in in_file {
        let name = s.path.to_string();
        if !set_one(items, &name, s.value, s.path.span) {
            out.push(
                Diagnostic::error(
                    "cbm::E026",
                    s.path.span,
                    format!("`set {name}`: no such setting in this model"),
                )
                .label("unknown name")
                .help(unknown_help(items, &name)),
            );
            ok = false;
        }
    }
    for (name, value) in sets {
        let text = format!("{name}={value}");
        let file = sources.add(Path::new(&format!("--set {text}")), text.clone());
        let value_start = name.len() + 1;
        let name_span = Span::new(file, 0, name.len());
        let expr = match parse_expr(value, file) {
            Ok(mut e) => {
                shift(&mut e, value_start);
                e
            }
            Err(mut d) => {
                d.span.start += value_start;
                d.span.end += value_start;
                d.message = format!("cannot read the value of --set {name}: {}", d.message);
                out.push(*d);
                ok = false;
                continue;
            }
        };
        if !set_one(items, name, expr, name_span) {
            out.push(
                Diagnostic::error(
                    "cbm::E026",
                    name_span,
                    format!("--set {name}: no such setting in this model"),
                )
                .label("unknown name")
                .help(unknown_help(items, name)),
            );
            ok = false;
        }
    }
    ok
}

/// Why `TYPE.field` is not settable when TYPE is a neuron or synapse type
/// (a state variable, or no such parameter), else the settable names.
fn unknown_help(items: &[Item], name: &str) -> String {
    let settable = "settable: dt, duration, seed, a model constant (`let NAME = ...`), POPULATION.parameter, PROJECTION.parameter, PROJECTION.delay|synapse|connect|teacher, GAP_JUNCTION.setting, PROTOCOL.trial|trials|probe_every|signal, TYPE.parameter (a neuron or synapse type's default)".to_string();
    let Some((owner, field)) = name.split_once('.') else {
        return settable;
    };
    let names = |ds: &[crate::syntax::ast::Decl]| {
        ds.iter()
            .map(|d| d.name.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for item in items {
        let (kind, params, state, per) = match item {
            Item::Neuron(n) if n.name.name == owner => {
                ("neuron", &n.parameters, &n.state, "population")
            }
            Item::Synapse(s) if s.name.name == owner => {
                ("synapse", &s.parameters, &s.state, "projection")
            }
            _ => continue,
        };
        if state.iter().any(|d| d.name.name == field) {
            return format!("`{field}` is a state variable of {kind} type `{owner}`: set its initial value for each {per} (`NAME.{field}=...`)");
        }
        return if params.is_empty() {
            format!("{kind} type `{owner}` has no parameters")
        } else {
            format!(
                "{kind} type `{owner}` has no parameter `{field}`; its parameters: {}",
                names(params)
            )
        };
    }
    settable
}

fn set_one(items: &mut Vec<Item>, name: &str, value: Expr, span: Span) -> bool {
    let ident = |n: &str| Ident {
        name: n.to_string(),
        span,
    };
    if matches!(name, "dt" | "duration" | "seed") {
        let setting = Setting {
            name: ident(name),
            value,
        };
        for item in items.iter_mut() {
            if let Item::Simulation(s) = item {
                s.settings.retain(|x| x.name.name != name);
                s.settings.push(setting);
                return true;
            }
        }
        items.insert(
            0,
            Item::Simulation(Settings {
                keyword_span: span,
                settings: vec![setting],
            }),
        );
        return true;
    }
    let Some((owner, field)) = name.split_once('.') else {
        // A constant of the model (`let J = 0.2 mV`).
        for item in items.iter_mut() {
            if let Item::Constant(c) = item {
                if c.name.name == name {
                    c.value = value;
                    return true;
                }
            }
        }
        return false;
    };
    for item in items.iter_mut() {
        match item {
            Item::Population(p) if p.name.name == owner => {
                p.model
                    .args
                    .retain(|a| a.name.as_ref().is_none_or(|n| n.name != field));
                p.model.args.push(Arg {
                    name: Some(ident(field)),
                    value,
                });
                return true;
            }
            // `PROTOCOL.trials`, `.trial`, `.probe_every` or a signal's
            // window (`eyeblink.us=window(880 ms, 900 ms, probe = off)`).
            Item::Protocol(p)
                if p.name.name == owner
                    && (matches!(field, "trial" | "trials" | "probe_every")
                        || p.settings.iter().any(|s| s.name.name == field)) =>
            {
                p.settings.retain(|s| s.name.name != field);
                p.settings.push(Setting {
                    name: ident(field),
                    value,
                });
                return true;
            }
            Item::GapJunction(g) if g.name.name == owner => {
                g.settings.retain(|s| s.name.name != field);
                g.settings.push(Setting {
                    name: ident(field),
                    value,
                });
                return true;
            }
            Item::Projection(p) if p.name.name == owner => {
                if matches!(field, "delay" | "synapse" | "connect" | "teacher") {
                    p.settings.retain(|s| s.name.name != field);
                    p.settings.push(Setting {
                        name: ident(field),
                        value,
                    });
                    return true;
                }
                for s in p.settings.iter_mut() {
                    if s.name.name != "synapse" {
                        continue;
                    }
                    if let crate::syntax::ast::ExprKind::Path(path) = &s.value.kind {
                        let call = crate::syntax::ast::Call {
                            name: path.parts[0].clone(),
                            args: vec![],
                            span: path.span,
                        };
                        s.value.kind = crate::syntax::ast::ExprKind::Call(call);
                    }
                    if let crate::syntax::ast::ExprKind::Call(c) = &mut s.value.kind {
                        c.args
                            .retain(|a| a.name.as_ref().is_none_or(|n| n.name != field));
                        c.args.push(Arg {
                            name: Some(ident(field)),
                            value,
                        });
                        return true;
                    }
                }
                return false;
            }
            _ => {}
        }
    }
    // `TYPE.param`: the default of a neuron or synapse type's parameter, for
    // every population or projection that does not give its own value.
    for item in items.iter_mut() {
        let parameters = match item {
            Item::Neuron(n) if n.name.name == owner => &mut n.parameters,
            Item::Synapse(s) if s.name.name == owner => &mut s.parameters,
            _ => continue,
        };
        if let Some(d) = parameters.iter_mut().find(|d| d.name.name == field) {
            let written = d.value.replace(value);
            if d.replaced.is_none() {
                d.replaced = written;
            }
            return true;
        }
        return false;
    }
    false
}

fn shift(e: &mut Expr, by: usize) {
    use crate::syntax::ast::ExprKind::*;
    e.span.start += by;
    e.span.end += by;
    match &mut e.kind {
        Number { unit: Some(u), .. } => {
            u.span.start += by;
            u.span.end += by;
        }
        Path(p) => {
            p.span.start += by;
            p.span.end += by;
            for i in p.parts.iter_mut() {
                i.span.start += by;
                i.span.end += by;
            }
        }
        Call(c) => {
            c.span.start += by;
            c.span.end += by;
            c.name.span.start += by;
            c.name.span.end += by;
            for a in c.args.iter_mut() {
                shift(&mut a.value, by);
            }
        }
        List(v) => v.iter_mut().for_each(|x| shift(x, by)),
        Unary(_, x) => shift(x, by),
        Binary(_, a, b) => {
            shift(a, by);
            shift(b, by);
        }
        _ => {}
    }
}
