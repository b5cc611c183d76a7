//! The metadata record of a run: what was run, how, and what each
//! recorder holds (kind, population, variable, unit), stored in the .npz
//! (key `meta`) and beside it as `.meta.json`; `cbmc plot` reads it back
//! (`analysis::data`).

use super::{Prepared, RunResult};
use crate::check::model::{Model, PopulationKind, RecorderKind, TraceVar, Var};

/// The metadata record stored in the .npz (key `meta`, UTF-8 JSON bytes).
pub fn metadata(p: &Prepared, r: &RunResult) -> serde_json::Value {
    serde_json::json!({
        "model": p.path.display().to_string(),
        "model_name": p.ir.model_name,
        "model_hash": p.model_hash,
        "overrides": p.sets.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "seed": p.ir.seed,
        "dt": p.ir.dt,
        "duration": p.ir.steps as f64 * p.ir.dt,
        "steps_planned": p.ir.steps,
        "steps_done": r.steps_done,
        "simulated_seconds": r.steps_done as f64 * p.ir.dt,
        "partial": r.partial,
        "error": r.error.as_ref().map(|e| e.to_string()),
        "engine": r.engine,
        "threads": r.threads,
        "device": if r.engine.starts_with("cuda") { r.engine.as_str() } else { "cpu" },
        "cbmc_version": env!("CARGO_PKG_VERSION"),
        "wall_seconds": r.wall_seconds,
        "build_seconds": r.build_seconds,
        "synapses": r.synapses,
        "populations": r.summary,
        "recorders": p.checked.model.as_ref().map(recorders_meta),
        "signals": p.ir.signals.iter().map(|s| serde_json::json!({
            "name": s.name, "start": s.start, "end": s.end, "trial": s.trial,
            "trials": s.trials, "probe_every": s.probe_every,
            "silenced_in_probe": s.silenced_in_probe,
        })).collect::<Vec<_>>(),
    })
}

/// The `recorders` list written into a run's metadata, so that the plots
/// know each recorder's kind, population, variable and unit.
pub fn recorders_meta(model: &Model) -> serde_json::Value {
    let pop_name = |i: usize| model.populations.get(i).map(|p| p.name.clone());
    let list: Vec<serde_json::Value> = model
        .recorders
        .iter()
        .map(|r| match &r.kind {
            RecorderKind::SpikeCounts { population, .. } => serde_json::json!({
                "name": r.name, "kind": "spike_counts", "population": pop_name(*population),
            }),
            RecorderKind::SpikeTimes { population, cells } => serde_json::json!({
                "name": r.name, "kind": "spike_times", "population": pop_name(*population), "cells": cells,
            }),
            RecorderKind::Rate { population, .. } => serde_json::json!({
                "name": r.name, "kind": "rate", "population": pop_name(*population),
            }),
            RecorderKind::Trace {
                population, var, ..
            } => {
                let v = model
                    .populations
                    .get(*population)
                    .and_then(|p| match &p.kind {
                        PopulationKind::Neuron { neuron, .. } => {
                            let n = model.neurons.get(*neuron)?;
                            match var {
                                TraceVar::State(k) => n.state.get(*k),
                                TraceVar::Input(k) => n.inputs.get(*k),
                                TraceVar::Param(k) => n.params.get(*k),
                            }
                        }
                        PopulationKind::Source(_) => None,
                    });
                let (unit, scale) = v.map(shown_unit).unzip();
                serde_json::json!({
                    "name": r.name, "kind": "trace", "population": pop_name(*population),
                    "variable": v.map(|v| v.name.clone()),
                    "unit": unit, "unit_scale": scale.unwrap_or(1.0),
                })
            }
            RecorderKind::Weights {
                projection, var, ..
            } => {
                let p = model.projections.get(*projection);
                let v = p
                    .and_then(|p| model.synapses.get(p.synapse))
                    .and_then(|s| s.state.get(*var));
                let (unit, scale) = v.map(shown_unit).unzip();
                serde_json::json!({
                    "name": r.name, "kind": "weights",
                    "projection": p.map(|p| p.name.clone()),
                    "source": p.and_then(|p| pop_name(p.source)),
                    "target": p.and_then(|p| pop_name(p.target)),
                    "variable": v.map(|v| v.name.clone()),
                    "unit": unit, "unit_scale": scale.unwrap_or(1.0),
                    // `NAME_delay` holds each synapse's delay (and is
                    // another recorder's name otherwise).
                    "drawn_delays": p.is_some_and(|p| p.delay_draw.is_some()),
                })
            }
            RecorderKind::Wiring { projection, .. } => {
                let p = model.projections.get(*projection);
                serde_json::json!({
                    "name": r.name, "kind": "wiring",
                    "projection": p.map(|p| p.name.clone()),
                    "source": p.and_then(|p| pop_name(p.source)),
                    "target": p.and_then(|p| pop_name(p.target)),
                    "drawn_delays": p.is_some_and(|p| p.delay_draw.is_some()),
                })
            }
        })
        .collect();
    serde_json::Value::Array(list)
}

/// The unit a recorded variable is shown in, and the factor from SI to it:
/// the unit the model declared the variable in, else the conventional one
/// of its dimension, else SI ("1" for a dimensionless variable).
fn shown_unit(v: &Var) -> (String, f64) {
    let unit = v
        .unit
        .clone()
        .or_else(|| v.dim.display_unit().map(|(n, s)| (n.to_string(), s)));
    match unit {
        Some((text, s)) => (text, reciprocal(s)),
        None if v.dim.is_none() => ("1".to_string(), 1.0),
        None => (v.dim.to_string(), 1.0),
    }
}

/// 1 / x, exact where x is a power of ten (1 / 1e-9 is 1e9, not
/// 999999999.9999999), so that metadata reads as written.
fn reciprocal(x: f64) -> f64 {
    let p = x.log10().round();
    if p.abs() < 300.0 && 10f64.powi(p as i32) == x {
        10f64.powi(-p as i32)
    } else {
        1.0 / x
    }
}
