//! State variable traces of recorded cells, with their spikes.

use super::*;

pub(super) fn draw_trace<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    idx: usize,
) -> Result<Drawn, String> {
    let tr = &d.traces[idx];
    let scale = tr.unit_scale;
    let var = tr.variable.clone().unwrap_or_else(|| tr.name.clone());
    let y_desc = match tr.unit.as_deref() {
        Some("1") => format!("{var} (dimensionless)"),
        Some(u) => format!("{var} ({u})"),
        None => format!("{var} (SI units)"),
    };
    let ncells = tr.cells.len().min(MAX_TRACE_CELLS);
    let (Some(&t0), Some(&t1)) = (tr.t.first(), tr.t.last()) else {
        let mut c = build(body, None, 0.0..d.duration(), 0.0..1.0, 78)?;
        grid(&mut c, "time (s)", &y_desc)?;
        message(&c, "no samples were recorded")?;
        return Ok(Drawn {
            plot_area: area_of(&c),
            empty: true,
        });
    };
    // To the end of the run (samples every 5 ms end before it), and never
    // an empty axis (one sample).
    let t_hi = t1.max(d.duration());
    let t_hi = if t_hi > t0 { t_hi } else { t0 + 1e-3 };
    let value = |i: usize, j: usize| tr.data[[i, j]] * scale;
    let (lo, hi) = (0..ncells).fold((f64::INFINITY, f64::NEG_INFINITY), |acc, j| {
        tr.data.column(j).iter().fold(acc, |(a, b), &v| {
            let v = v * scale;
            if v.is_finite() {
                (a.min(v), b.max(v))
            } else {
                (a, b)
            }
        })
    });
    let long = trace_is_long(&tr.t);
    let panels: Vec<(DrawingArea<DB, Shift>, f64, String)> = if long {
        let h = body.dim_in_pixel().1;
        let (top, bottom) = body.split_vertically(h / 2);
        let zoom = (t_hi - 2.0).max(t0);
        vec![
            (top, t0, "whole run".to_string()),
            (bottom, zoom, format!("last {}", fmt_time(t_hi - zoom))),
        ]
    } else {
        vec![(body.clone(), t0, String::new())]
    };
    // The traced cells' spikes, where a spike_times recorder of the same
    // population has them: ticks along the top (a trace without a voltage
    // reset does not show its spikes by itself).
    let spikes: Vec<Vec<f64>> = (0..ncells)
        .map(|j| {
            let cell = tr.cells[j];
            d.times
                .iter()
                .filter(|tm| tm.population == tr.population)
                .flat_map(|tm| {
                    tm.t.iter()
                        .zip(&tm.i)
                        .filter(|(_, &i)| i == cell)
                        .map(|(&t, _)| t)
                })
                .collect()
        })
        .collect();
    let has_spikes = spikes.iter().any(|s| !s.is_empty());
    let y = if ncells > 1 || has_spikes {
        y_range_under_legend(lo, hi)
    } else {
        y_range(lo, hi)
    };
    let mut drawn = Drawn::default();
    for (p, (area, from, cap)) in panels.iter().enumerate() {
        let caption = (!cap.is_empty()).then_some(cap.as_str());
        let mut c = build(area, caption, *from..t_hi, y.clone(), 78)?;
        grid(&mut c, "time (s)", &y_desc)?;
        let cols = c.plotting_area().dim_in_pixel().0.max(1) as usize;
        let start = tr.t.partition_point(|&t| t < *from);
        let tick = (y.end - y.start) * 0.05;
        for j in 0..ncells {
            // Later cells a little transparent, so that one does not hide
            // another where they overlap.
            let color = PALETTE[j % PALETTE.len()].mix(if j == 0 { 1.0 } else { 0.75 });
            let row = y.end - tick * (1.2 * j as f64 + 0.2);
            let ticks = spikes[j]
                .iter()
                .filter(|&&t| t >= *from && t <= t_hi)
                .map(|&t| {
                    // Thin where a whole run's spikes crowd, visible in a zoom.
                    let w = if long && p == 0 { 1 } else { 2 };
                    PathElement::new(vec![(t, row), (t, row - tick)], color.stroke_width(w))
                });
            c.draw_series(ticks).map_err(de)?;
            let pts = envelope(&tr.t[start..], |i| value(start + i, j), *from, t_hi, cols);
            // Wide lines through dense zigzags draw spikes at the joins:
            // one pixel unless the points are sparse.
            let width = if pts.len() * 4 < cols { 2 } else { 1 };
            c.draw_series(line(pts, color.stroke_width(width)))
                .map_err(de)?
                .label(if spikes[j].is_empty() {
                    format!("cell {}", tr.cells[j])
                } else {
                    format!("cell {} (ticks: its spikes)", tr.cells[j])
                })
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        if ncells > 1 {
            legend(&mut c, SeriesLabelPosition::UpperRight)?;
        }
        if p == 0 {
            drawn = Drawn {
                plot_area: area_of(&c),
                empty: ncells == 0,
            };
        }
        if ncells == 0 {
            message(&c, "no cells were traced")?;
        }
    }
    Ok(drawn)
}
