//! A projection's wiring (`wiring` recorders): how many synapses each
//! target cell receives (in-degree) and each source cell sends
//! (out-degree), as histograms over cells.

use super::*;
use crate::analysis::data::Wiring;

/// Synapses per cell of a population of `cells` cells (at least as many as
/// the largest index seen), from each synapse's cell.
pub fn degrees(ends: &[u32], cells: usize) -> Vec<u64> {
    let n = ends.iter().max().map_or(0, |&m| m as usize + 1).max(cells);
    let mut d = vec![0u64; n];
    for &c in ends {
        d[c as usize] += 1;
    }
    d
}

/// Cells of each degree 0..=max.
fn histogram(degrees: &[u64]) -> Vec<u64> {
    let max = degrees.iter().copied().max().unwrap_or(0) as usize;
    let mut h = vec![0u64; max + 1];
    for &k in degrees {
        h[k as usize] += 1;
    }
    h
}

fn summary(what: &str, pop: &str, d: &[u64]) -> String {
    let n = d.len().max(1) as f64;
    let mean = d.iter().sum::<u64>() as f64 / n;
    let (lo, hi) = (
        d.iter().copied().min().unwrap_or(0),
        d.iter().copied().max().unwrap_or(0),
    );
    format!(
        "{what} of the {} {pop} cells: mean {mean:.2}, {lo} to {hi}",
        d.len()
    )
}

pub(super) fn draw_wiring<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    idx: usize,
) -> Result<Drawn, String> {
    let w: &Wiring = &d.wirings[idx];
    let size = |name: &Option<String>| {
        d.meta
            .populations
            .iter()
            .find(|p| Some(&p.name) == name.as_ref())
            .map_or(0, |p| p.cells)
    };
    let (source, target) = (
        w.source.clone().unwrap_or_else(|| "source".into()),
        w.target.clone().unwrap_or_else(|| "target".into()),
    );
    let in_deg = degrees(&w.post, size(&w.target));
    let out_deg = degrees(&w.pre, size(&w.source));
    let (h_in, h_out) = (histogram(&in_deg), histogram(&out_deg));
    let x_hi = h_in.len().max(h_out.len()) as f64;
    let top = h_in.iter().chain(&h_out).copied().max().unwrap_or(1).max(1) as f64 * 1.35;
    let mut c = build(body, None, -0.5..x_hi - 0.5, 0.0..top, 78)?;
    grid(&mut c, "synapses per cell", "cells")?;
    if w.pre.is_empty() {
        message(&c, &format!("{}: no synapses", w.name))?;
        return Ok(Drawn {
            plot_area: area_of(&c),
            empty: true,
        });
    }
    // In-degree as bars, out-degree as outlines over them.
    c.draw_series(
        h_in.iter()
            .enumerate()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| {
                Rectangle::new(
                    [(k as f64 - 0.4, 0.0), (k as f64 + 0.4, *v as f64)],
                    DATA.mix(0.7).filled(),
                )
            }),
    )
    .map_err(de)?
    .label(summary("synapses received (in-degree)", &target, &in_deg))
    .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], DATA.filled()));
    c.draw_series(
        h_out
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| {
                Rectangle::new(
                    [(k as f64 - 0.4, 0.0), (k as f64 + 0.4, *v as f64)],
                    ACCENT.stroke_width(2),
                )
            }),
    )
    .map_err(de)?
    .label(summary("synapses sent (out-degree)", &source, &out_deg))
    .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], ACCENT.stroke_width(2)));
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(Drawn {
        plot_area: area_of(&c),
        empty: false,
    })
}
