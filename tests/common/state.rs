//! Comparing the whole state of two engines stepping the same model.
#![allow(dead_code)]

use cbmc::engine::{NumericalError, StateView};
use cbmc::ir::{Ir, PopulationKindIr};

/// Equal bits, or both NaN.
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Both engines' step `s` must end the same way: both fine (false), or both
/// stopped by the same runaway value, same place, same value (true: stop
/// comparing).
pub fn same_outcome(
    label: &str,
    s: u64,
    a: &Result<(), NumericalError>,
    b: &Result<(), NumericalError>,
    names: (&str, &str),
) -> bool {
    match (a, b) {
        (Ok(()), Ok(())) => false,
        (Err(x), Err(y)) => {
            assert_eq!(
                (&x.population, &x.variable, x.cell, x.step),
                (&y.population, &y.variable, y.cell, y.step),
                "{label}: different numerical errors"
            );
            assert!(
                same(x.value, y.value),
                "{label}: {} vs {}",
                x.value,
                y.value
            );
            true
        }
        _ => panic!("{label}: step {s}: {} {a:?}, {} {b:?}", names.0, names.1),
    }
}

/// Every cell variable and every synapse variable of `a` and `b` must be
/// the same (`names`: what to call a and b in a failure); returns how many
/// values were compared.
pub fn assert_same_state(
    label: &str,
    step: u64,
    ir: &Ir,
    a: &dyn StateView,
    b: &dyn StateView,
    names: (&str, &str),
) -> u64 {
    // One variable of both engines: same length, same bits in every place.
    let compare = |what: &str, place: &str, x: &[f64], y: &[f64]| {
        let (na, nb) = names;
        assert_eq!(x.len(), y.len(), "{label}: `{what}`");
        for (i, (u, w)) in x.iter().zip(y).enumerate() {
            assert!(
                same(*u, *w),
                "{label}: step {step}: `{what}` of {place} {i}: {na} {u:e}, {nb} {w:e}"
            );
        }
        x.len() as u64
    };
    let mut values = 0;
    for (p, pop) in ir.populations.iter().enumerate() {
        let PopulationKindIr::Neuron(n) = &pop.kind else {
            continue;
        };
        for (v, var) in n.vars.iter().enumerate() {
            let what = format!("{}.{}", pop.name, var.name);
            values += compare(&what, "cell", a.var(p, v), b.var(p, v));
        }
    }
    for (q, proj) in ir.projections.iter().enumerate() {
        for (v, var) in proj.vars.iter().enumerate() {
            let what = format!("{}.{}", proj.name, var.name);
            values += compare(&what, "synapse", a.synapse_var(q, v), b.synapse_var(q, v));
        }
    }
    values
}
