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
                same(x.value, y.value) || (x.value.is_infinite() && y.value.is_infinite()),
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
    let (na, nb) = names;
    let mut values = 0;
    for (p, pop) in ir.populations.iter().enumerate() {
        let PopulationKindIr::Neuron(n) = &pop.kind else {
            continue;
        };
        for v in 0..n.vars.len() {
            let (x, y) = (a.var(p, v), b.var(p, v));
            assert_eq!(
                x.len(),
                y.len(),
                "{label}: `{}.{}`",
                pop.name,
                n.vars[v].name
            );
            for (i, (u, w)) in x.iter().zip(y).enumerate() {
                assert!(
                    same(*u, *w),
                    "{label}: step {step}: `{}.{}` of cell {i}: {na} {u:e}, {nb} {w:e}",
                    pop.name,
                    n.vars[v].name
                );
            }
            values += x.len() as u64;
        }
    }
    for (q, proj) in ir.projections.iter().enumerate() {
        for v in 0..proj.vars.len() {
            let (x, y) = (a.synapse_var(q, v), b.synapse_var(q, v));
            assert_eq!(
                x.len(),
                y.len(),
                "{label}: `{}.{}`",
                proj.name,
                proj.vars[v].name
            );
            for (k, (u, w)) in x.iter().zip(y).enumerate() {
                assert!(
                    same(*u, *w),
                    "{label}: step {step}: `{}.{}` of synapse {k}: {na} {u:e}, {nb} {w:e}",
                    proj.name,
                    proj.vars[v].name
                );
            }
            values += x.len() as u64;
        }
    }
    values
}
