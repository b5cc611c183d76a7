//! Checking recorders.

use super::expr::Scope;
use super::model::*;
use super::network::list_items;
use super::Checker;
use crate::diagnostics::Diagnostic;
use crate::npz_keys;
use crate::syntax::ast::{self, Expr, ExprKind};

impl Checker {
    /// Two recorders (or a recorder and a gap junction, or the metadata)
    /// that would write arrays of one name to the `.npz`: `record V_t = ...`
    /// beside a trace `V`, whose sample times are `V_t`. Found here, before a
    /// run, since the file could not be written after it.
    pub(super) fn output_key_clashes(&mut self, m: &Model) {
        // (array name, what writes it)
        let mut written: Vec<(String, String)> =
            vec![(npz_keys::META.into(), "the run's metadata".into())];
        for g in &m.gaps {
            written.push((
                npz_keys::key(&g.name, npz_keys::GAP_PAIRS),
                format!("gap junction `{}` (its pairs)", g.name),
            ));
        }
        for r in &m.recorders {
            for suffix in r.kind.array_suffixes(m) {
                let key = npz_keys::key(&r.name, suffix);
                if let Some((_, owner)) = written.iter().find(|(k, _)| *k == key) {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E002",
                            r.span,
                            format!("recorder `{}` would write an array named `{key}`, which {owner} writes too", r.name),
                        )
                        .label("clashing array name")
                        .help("rename the recorder: every array in the .npz needs its own name (docs/language.md section 3.12 lists the names each recorder writes)"),
                    );
                    break;
                }
                written.push((key, format!("recorder `{}`", r.name)));
            }
        }
    }

    /// `cells = N`: how many of a population's first cells to record (at
    /// least one, at most its size).
    fn first_cells(&mut self, e: &Expr, size: usize, population: &str) -> Option<usize> {
        if matches!(&e.kind, ExprKind::Number { value, unit: None } if *value == 0.0) {
            self.emit(
                Diagnostic::error("cbm::E020", e.span, "`cells = 0` records no cells")
                    .label("the number of cells, not a cell")
                    .help("`cells = N` records cells 0 to N - 1; `trace` also takes a list, `cells = [0]`"),
            );
            return None;
        }
        let n = self.count(e, "the number of cells recorded", 1)? as usize;
        if n > size {
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    e.span,
                    format!("`{population}` has only {size} cells"),
                )
                .label("too many"),
            );
            return None;
        }
        Some(n)
    }

    pub(super) fn recorder(&mut self, r: &ast::RecordDecl, m: &Model) -> Option<Recorder> {
        let call = &r.what;
        let scope = Scope {
            context: "a recorder",
            ..Scope::default()
        };
        let first = call
            .args
            .first()
            .filter(|a| a.name.is_none())
            .map(|a| &a.value);
        let named = |n: &str| {
            call.args
                .iter()
                .find(|a| a.name.as_ref().is_some_and(|x| x.name == n))
                .map(|a| &a.value)
        };
        let path = |e: Option<&Expr>| -> Option<Vec<ast::Ident>> {
            match &e?.kind {
                ExprKind::Path(p) => Some(p.parts.clone()),
                _ => None,
            }
        };
        let kind_name = call.name.name.as_str();
        let known: &[&str] = match kind_name {
            "spike_counts" => &["bin", "cells"],
            "rate" => &["bin"],
            "spike_times" => &["cells"],
            "trace" => &["cells", "every"],
            "weights" => &["every", "max"],
            "wiring" => &["max"],
            _ => &[],
        };
        let settings = call.args.get(1..).unwrap_or_default();
        self.unknown_arguments(settings, known, &format!("{kind_name}(...)"));
        let Some(parts) = path(first) else {
            self.emit(
                Diagnostic::error(
                    "cbm::E026",
                    call.span,
                    format!(
                        "{kind_name}(...) needs what to record first, e.g. {kind_name}(IO{})",
                        match kind_name {
                            "trace" => ".V",
                            "weights" => "",
                            _ => "",
                        }
                    ),
                )
                .label("nothing to record"),
            );
            return None;
        };
        let steps_arg = |c: &mut Checker, n: &str, default: u32| -> Option<u32> {
            match named(n) {
                None => Some(default),
                Some(e) => {
                    let t = c.expr(e, &scope);
                    c.steps_of(&t, &format!("`{n}`"), &scope, 1)
                }
            }
        };
        let kind = match kind_name {
            "spike_counts" | "rate" | "spike_times" => {
                let pop = self.pop_ref(&parts[0], m)?;
                let bin = steps_arg(self, "bin", 1)?;
                // `cells = N` records only the first N cells.
                let size = m.populations[pop].size;
                let cells = match named("cells") {
                    Some(e) if matches!(e.kind, ExprKind::List(_)) => {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E027",
                                e.span,
                                format!("`{kind_name}` records the first N cells: `cells` is a number, not a list"),
                            )
                            .label("a list")
                            .help("write `cells = N` for cells 0 to N - 1; `trace` takes a list of cells"),
                        );
                        return None;
                    }
                    Some(e) => self.first_cells(e, size, &parts[0].name)?,
                    None => size,
                };
                match kind_name {
                    "spike_counts" => RecorderKind::SpikeCounts {
                        population: pop,
                        bin_steps: bin,
                        cells,
                    },
                    "rate" => RecorderKind::Rate {
                        population: pop,
                        bin_steps: bin,
                    },
                    _ => RecorderKind::SpikeTimes {
                        population: pop,
                        cells,
                    },
                }
            }
            "trace" => {
                let pop = self.pop_ref(&parts[0], m)?;
                let PopulationKind::Neuron { neuron, .. } = m.populations[pop].kind else {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E027",
                            parts[0].span,
                            "a spike source has no variables to trace",
                        )
                        .label("a spike source"),
                    );
                    return None;
                };
                let ty = &m.neurons[neuron];
                let Some(field) = parts.get(1) else {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E026",
                            call.span,
                            "trace(...) needs a variable, e.g. trace(IO.V)",
                        )
                        .label("no variable"),
                    );
                    return None;
                };
                let var = if let Some(i) = ty.state.iter().position(|v| v.name == field.name) {
                    TraceVar::State(i)
                } else if let Some(i) = ty.inputs.iter().position(|v| v.name == field.name) {
                    TraceVar::Input(i)
                } else if let Some(i) = ty.params.iter().position(|v| v.name == field.name) {
                    if !super::network::param_per_cell(m, pop, i) {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E031",
                                field.span,
                                format!(
                                    "parameter `{}` has one value for every cell of `{}`: there is nothing to trace",
                                    field.name, parts[0].name
                                ),
                            )
                            .label("one value")
                            .help("a parameter can be traced where it has a value per cell: drawn (`normal(...)`, `uniform(...)`) or along the population with `i`"),
                        );
                        return None;
                    }
                    TraceVar::Param(i)
                } else {
                    let alias = ty.aliases.iter().any(|(name, _)| *name == field.name);
                    let mut d = Diagnostic::error(
                        "cbm::E031",
                        field.span,
                        format!(
                            "`{}` has no state, input or parameter `{}`",
                            ty.name, field.name
                        ),
                    )
                    .label("unknown variable");
                    let names = || -> Vec<String> {
                        [&ty.state, &ty.inputs, &ty.params]
                            .iter()
                            .flat_map(|vars| vars.iter().map(|v| v.name.clone()))
                            .collect()
                    };
                    if alias {
                        d = d.label("an alias (`let`), worked out in each step and not kept").help(format!(
                            "to record it, keep it in a state variable: declare `{0}_kept` in `state` and set `{0}_kept = ...` in `update`",
                            field.name
                        ));
                    } else if let Some(s) = super::expr::closest(&field.name, &names()) {
                        d = d.help(format!("did you mean `{}.{s}`?", parts[0].name));
                    }
                    self.emit(d);
                    return None;
                };
                let size = m.populations[pop].size;
                let cells = match named("cells") {
                    None => (0..size.min(10)).collect(),
                    // `cells = N`: the first N cells, as in the other recorders.
                    Some(e) if !matches!(e.kind, ExprKind::List(_)) => {
                        (0..self.first_cells(e, size, &parts[0].name)?).collect()
                    }
                    Some(e) if list_items(e).is_empty() => {
                        self.emit(
                            Diagnostic::error("cbm::E020", e.span, "an empty list of cells records nothing")
                                .label("no cells")
                                .help("list the cells to trace, e.g. `cells = [0, 1]`, or leave `cells` out for the first 10"),
                        );
                        return None;
                    }
                    Some(e) => {
                        let mut v = Vec::new();
                        // One error for all the cells outside the population
                        // (a generated list can hold thousands).
                        let mut outside: Vec<(u64, crate::syntax::ast::Span)> = Vec::new();
                        for x in list_items(e) {
                            if let Some(i) = self.count(x, "a cell index", 0) {
                                if i as usize >= size {
                                    outside.push((i, x.span));
                                } else {
                                    v.push(i as usize);
                                }
                            }
                        }
                        if let Some(&(first, span)) = outside.first() {
                            let more = match outside.len() {
                                1 => String::new(),
                                n => format!(" (and {} more listed cells)", n - 1),
                            };
                            self.emit(
                                Diagnostic::error(
                                    "cbm::E020",
                                    span,
                                    format!(
                                        "cell {first} is outside `{}` (size {size}){more}",
                                        parts[0].name
                                    ),
                                )
                                .label("out of range")
                                .help(format!(
                                    "cells are numbered 0 to {}",
                                    size.saturating_sub(1)
                                )),
                            );
                        }
                        v
                    }
                };
                let every = steps_arg(self, "every", 1)?;
                RecorderKind::Trace {
                    population: pop,
                    var,
                    cells,
                    every_steps: every,
                }
            }
            "weights" | "wiring" => {
                let Some(pi) = m.projection_index(&parts[0].name) else {
                    if self.broken.contains(&parts[0].name) {
                        return None;
                    }
                    self.emit(
                        Diagnostic::error(
                            "cbm::E003",
                            parts[0].span,
                            format!("unknown projection `{}`", parts[0].name),
                        )
                        .label("not a projection"),
                    );
                    return None;
                };
                let max = match named("max") {
                    Some(e) => self.count(e, "max", 1)? as usize,
                    // The wiring of every synapse, unless told.
                    None if kind_name == "wiring" => usize::MAX,
                    None => 1000,
                };
                if kind_name == "wiring" {
                    if let Some(field) = parts.get(1) {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E026",
                                field.span,
                                "wiring(...) takes a projection, not a variable",
                            )
                            .label("a variable")
                            .help(format!(
                                "`wiring({0})` records the cells each synapse joins; `weights({0}.{1})` records `{1}` over time",
                                parts[0].name, field.name
                            )),
                        );
                        return None;
                    }
                    return Some(Recorder {
                        name: r.name.name.clone(),
                        kind: RecorderKind::Wiring {
                            projection: pi,
                            max_synapses: max,
                        },
                        span: r.name.span,
                    });
                }
                let proj = &m.projections[pi];
                let ty = &m.synapses[proj.synapse];
                let var_name = parts.get(1).map(|f| f.name.as_str()).unwrap_or("w");
                let Some(var) = ty.state.iter().position(|v| v.name == var_name) else {
                    let mut d = Diagnostic::error(
                        "cbm::E031",
                        parts.last().map(|p| p.span).unwrap_or(call.span),
                        format!("synapse `{}` has no state `{var_name}`", ty.name),
                    )
                    .label("unknown variable");
                    if ty.state.is_empty() {
                        d = d.help(format!(
                            "`{}` keeps no state; to record which cells its synapses join, `wiring({})`",
                            ty.name, parts[0].name
                        ));
                    }
                    self.emit(d);
                    return None;
                };
                let every = steps_arg(self, "every", 1)?;
                RecorderKind::Weights {
                    projection: pi,
                    var,
                    every_steps: every,
                    max_synapses: max,
                }
            }
            other => {
                let kinds = [
                    "spike_counts",
                    "spike_times",
                    "trace",
                    "weights",
                    "rate",
                    "wiring",
                ]
                .map(String::from);
                let help = match super::expr::closest(other, &kinds) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("recorders: {}", kinds.join(", ")),
                };
                self.emit(
                    Diagnostic::error(
                        "cbm::E027",
                        call.name.span,
                        format!("unknown recorder `{other}`"),
                    )
                    .label("not a recorder")
                    .help(help),
                );
                return None;
            }
        };
        Some(Recorder {
            name: r.name.name.clone(),
            kind,
            span: r.name.span,
        })
    }
}
