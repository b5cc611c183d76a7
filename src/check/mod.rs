//! Front end, second stage: resolve names, check dimensions and values,
//! lint. Produces the checked `Model` that lowering turns into the IR.

mod decls;
pub mod expr;
pub mod linear;
mod lints;
pub use lints::WARNING_CODES;
mod constants;
pub mod load;
pub mod model;
mod network;
mod neuron;
pub mod overrides;
mod projection;
mod protocol;
mod recorders;
mod simulation;
mod sources;
mod stmt;
mod synapse;
pub mod units;
mod values;

use crate::diagnostics::{Diagnostic, SourceMap};
use decls::VarsKind;

use crate::syntax::ast::{self, Item, Span};
use expr::{const_value, Scope};
use model::*;
use std::collections::HashSet;
use std::path::Path;
use units::Dim;

/// The result of checking a model file.
pub struct Checked {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    /// Present when there were no errors.
    pub model: Option<Model>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Read, parse and check a model with `--set NAME=VALUE` overrides applied.
/// Err only when the model file itself cannot be read.
pub fn check_file(path: &Path, sets: &[(String, String)]) -> Result<Checked, String> {
    let loaded = load::load(path)?;
    Ok(check_loaded(loaded, sets))
}

/// Check a model given as text (tests, fuzzing).
pub fn check_text(path: &Path, text: &str) -> Checked {
    check_loaded(load::load_text(path, text.to_string()), &[])
}

fn check_loaded(mut loaded: load::Loaded, sets: &[(String, String)]) -> Checked {
    let mut diagnostics = std::mem::take(&mut loaded.diagnostics);
    let mut model = None;
    if !diagnostics.iter().any(|d| d.is_error()) {
        let mut items = loaded.items;
        let ok = overrides::apply(&mut items, sets, &mut loaded.sources, &mut diagnostics);
        if ok {
            let mut c = Checker::default();
            let m = c.model(&items);
            diagnostics.extend(c.diagnostics);
            if !diagnostics.iter().any(|d| d.is_error()) {
                model = Some(m);
            }
        }
    }
    // One diagnostic per place and message (synapse code is checked once per
    // projection that uses it), errors first, then in file order.
    let mut seen = HashSet::new();
    diagnostics.retain(|d| seen.insert((d.code, d.span, d.message.clone())));
    diagnostics.sort_by_key(|d| (std::cmp::Reverse(d.severity), d.span.file, d.span.start));
    Checked {
        sources: loaded.sources,
        diagnostics,
        model,
    }
}

#[derive(Default)]
pub struct Checker {
    pub diagnostics: Vec<Diagnostic>,
    /// Declaration spans of parameters that some expression uses.
    pub used: HashSet<Span>,
    /// Populations and projections whose declaration had an error: other
    /// items that mention them stay quiet instead of piling on.
    pub broken: HashSet<String>,
    pub dt: f64,
    /// The unit written in the declaration whose value is being checked
    /// (`k: 1/(mV*ms) = 0.04` suggests `0.04 /(mV*ms)`, in that unit).
    pub declared_unit: Option<String>,
    /// The model's constants (`let N_E = 4000` at the top level), in file
    /// order: each value in SI units with its dimension.
    pub constants: Vec<constants::Constant>,
}

impl Checker {
    pub fn emit(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn model(&mut self, items: &[Item]) -> Model {
        let mut m = Model {
            name: "model".into(),
            dt: 1e-4,
            duration: 1.0,
            seed: 1,
            neurons: vec![],
            synapses: vec![],
            populations: vec![],
            projections: vec![],
            gaps: vec![],
            recorders: vec![],
            signals: vec![],
            schedule: vec![],
        };
        self.duplicates(items);
        self.constants(items);
        for item in items {
            match item {
                Item::Model(name) => m.name = name.name.clone(),
                Item::Simulation(s) => self.simulation(s, &mut m),
                _ => {}
            }
        }
        self.dt = m.dt;
        for item in items {
            if let Item::Protocol(p) = item {
                self.protocol(p, &mut m);
            }
        }
        for item in items {
            if let Item::Neuron(n) = item {
                let t = self.neuron(n, &m.signals);
                m.neurons.push(t);
            }
        }
        for item in items {
            if let Item::Synapse(s) = item {
                let t = self.synapse_type(s);
                m.synapses.push(t);
            }
        }
        self.network(items, &mut m);
        self.output_key_clashes(&m);
        // Lints read the model as checked; after an error they would mostly
        // repeat it in other words.
        if !self.diagnostics.iter().any(|d| d.is_error()) {
            lints::run(self, items, &m);
        }
        m
    }

    fn duplicates(&mut self, items: &[Item]) {
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for item in items {
            let name = match item {
                Item::Neuron(n) => &n.name,
                Item::Synapse(s) => &s.name,
                Item::Population(p) => &p.name,
                Item::Projection(p) => &p.name,
                Item::GapJunction(g) => &g.name,
                Item::Record(r) => &r.name,
                Item::Protocol(p) => &p.name,
                _ => continue,
            };
            if let Some(&(_, first)) = seen.iter().find(|(n, _)| *n == name.name) {
                self.emit(
                    ast_dup(&name.name, name.span, first)
                        .help("every neuron, synapse, population, projection, gap junction, recorder and protocol needs its own name"),
                );
            } else {
                seen.push((&name.name, name.span));
            }
        }
    }
}

fn ast_dup(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "cbm::E002",
        span,
        format!("`{name}` is defined more than once"),
    )
    .label("second definition")
    .also(first, "first definition")
}

impl Checker {
    /// E026 for each named argument of `args` that is not one of `known`
    /// (`what`: the call, as `poisson(...)`).
    pub(super) fn unknown_arguments(
        &mut self,
        args: &[crate::syntax::ast::Arg],
        known: &[&str],
        what: &str,
    ) {
        for a in args {
            if let Some(n) = a
                .name
                .as_ref()
                .filter(|n| !known.contains(&n.name.as_str()))
            {
                self.emit(unknown_setting(&n.name, n.span, known, what));
            }
        }
    }
}

pub fn unknown_setting(name: &str, span: Span, known: &[&str], what: &str) -> Diagnostic {
    let names: Vec<String> = known.iter().map(|s| s.to_string()).collect();
    let mut d = Diagnostic::error(
        "cbm::E026",
        span,
        format!("unknown setting `{name}` in {what}"),
    )
    .label("not a setting here");
    d = match expr::closest(name, &names) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("settings here: {}", known.join(", "))),
    };
    d
}
