//! Synaptic weights: traces, mean and spread, distributions over time.

use super::*;
use crate::analysis::data::Weights;

pub(super) fn draw_weights<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    idx: usize,
    fig: WeightsFig,
) -> Result<Drawn, String> {
    let w = &d.weights[idx];
    let data = shown_values(w);
    let (snaps, syn) = data.dim();
    let t_end = d.duration().max(w.t.last().copied().unwrap_or(0.0));
    let y_desc = axis_label(w);
    if snaps == 0 || syn == 0 {
        let mut c = build(body, None, 0.0..t_end, 0.0..1.0, 78)?;
        grid(&mut c, "time (s)", &y_desc)?;
        message(&c, "no weight snapshots were recorded")?;
        return Ok(Drawn {
            plot_area: area_of(&c),
            empty: true,
        });
    }
    let lo = data
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = data
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let means: Vec<f64> = data
        .outer_iter()
        .map(|r| r.iter().sum::<f64>() / syn as f64)
        .collect();
    match fig {
        WeightsFig::Traces => {
            let mut c = build(body, None, 0.0..t_end, y_range_under_legend(lo, hi), 78)?;
            grid(&mut c, "time (s)", &y_desc)?;
            let cols = c.plotting_area().dim_in_pixel().0.max(1) as usize;
            let k = syn.min(WEIGHT_TRACES);
            for j in 0..k {
                let s = j * syn / k;
                let pts = envelope(&w.t, |i| data[[i, s]], 0.0, t_end, cols);
                let series = c
                    .draw_series(line(pts, DATA.mix(0.35).stroke_width(1)))
                    .map_err(de)?;
                if j == 0 {
                    series
                        .label(format!("{k} of {syn} recorded synapses"))
                        .legend(|(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], DATA.stroke_width(2))
                        });
                }
            }
            let pts = envelope(&w.t, |i| means[i], 0.0, t_end, cols);
            c.draw_series(line(pts, BLACK.stroke_width(3)))
                .map_err(de)?
                .label(format!("mean of all {syn}"))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3))
                });
            legend(&mut c, SeriesLabelPosition::UpperRight)?;
            Ok(Drawn {
                plot_area: area_of(&c),
                empty: false,
            })
        }
        WeightsFig::MeanStd => {
            let sds: Vec<f64> = data
                .outer_iter()
                .zip(&means)
                .map(|(r, m)| {
                    (r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / syn as f64).sqrt()
                })
                .collect();
            let mins: Vec<f64> = data
                .outer_iter()
                .map(|r| r.iter().copied().fold(f64::INFINITY, f64::min))
                .collect();
            let maxs: Vec<f64> = data
                .outer_iter()
                .map(|r| r.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                .collect();
            let mut c = build(body, None, 0.0..t_end, y_range_under_legend(lo, hi), 78)?;
            grid(&mut c, "time (s)", &y_desc)?;
            let cols = c.plotting_area().dim_in_pixel().0.max(1) as usize;
            // Smooth statistics: one snapshot in `step` per pixel column.
            let step = snaps.div_ceil(2 * cols).max(1);
            let ids: Vec<usize> = (0..snaps)
                .step_by(step)
                .chain(std::iter::once(snaps - 1))
                .collect();
            let mut band: Vec<(f64, f64)> =
                ids.iter().map(|&i| (w.t[i], means[i] + sds[i])).collect();
            band.extend(ids.iter().rev().map(|&i| (w.t[i], means[i] - sds[i])));
            c.draw_series(std::iter::once(Polygon::new(band, DATA.mix(0.25).filled())))
                .map_err(de)?
                .label("mean ± 1 s.d.")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], DATA.mix(0.25).filled())
                });
            c.draw_series(line(
                ids.iter().map(|&i| (w.t[i], means[i])).collect(),
                DATA.stroke_width(3),
            ))
            .map_err(de)?
            .label("mean")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], DATA.stroke_width(3)));
            let mn = envelope(&w.t, |i| mins[i], 0.0, t_end, cols);
            let mx = envelope(&w.t, |i| maxs[i], 0.0, t_end, cols);
            c.draw_series(line(mn, ACCENT.stroke_width(1)))
                .map_err(de)?
                .label("lowest and highest")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], ACCENT.stroke_width(1))
                });
            c.draw_series(line(mx, ACCENT.stroke_width(1)))
                .map_err(de)?;
            legend(&mut c, SeriesLabelPosition::UpperRight)?;
            Ok(Drawn {
                plot_area: area_of(&c),
                empty: false,
            })
        }
        WeightsFig::Distributions => draw_weight_distributions(d, body, idx, lo, hi, t_end),
        WeightsFig::ByDelay => draw_weights_by_delay(w, &data, body, lo, hi, &y_desc),
        WeightsFig::ByTrial => draw_weights_by_trial(d, idx, body, &y_desc),
    }
}

/// The mean weight at the end of each trial, by trial number; probe
/// trials as their own points.
fn draw_weights_by_trial<DB: DrawingBackend>(
    d: &RunData,
    idx: usize,
    body: &DrawingArea<DB, Shift>,
    y_desc: &str,
) -> Result<Drawn, String> {
    let scale = d.weights[idx].unit_scale;
    let points: Vec<(usize, bool, f64)> = weights_by_trial(d, idx)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, probe, m)| (k, probe, m * scale))
        .collect();
    let last = points.last().map_or(1, |p| p.0) as f64;
    let lo = points.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let mut c = build(
        body,
        None,
        0.5..last + 0.5,
        y_range_under_legend(lo, hi),
        78,
    )?;
    grid(&mut c, "trial", y_desc)?;
    let usual: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| !p.1)
        .map(|p| (p.0 as f64, p.2))
        .collect();
    c.draw_series(line(usual.clone(), DATA.stroke_width(2)))
        .map_err(de)?
        .label("mean at the end of each trial")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], DATA.stroke_width(2)));
    c.draw_series(usual.iter().map(|&p| Circle::new(p, 3, DATA.filled())))
        .map_err(de)?;
    let probes: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.1)
        .map(|p| (p.0 as f64, p.2))
        .collect();
    if !probes.is_empty() {
        c.draw_series(probes.iter().map(|&p| Circle::new(p, 5, ACCENT.filled())))
            .map_err(de)?
            .label("probe trials")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, ACCENT.filled()));
    }
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(Drawn {
        plot_area: area_of(&c),
        empty: points.is_empty(),
    })
}

/// The last snapshot against each synapse's delay (ms), the mean at each
/// delay, and the first snapshot's mean at each delay.
fn draw_weights_by_delay<DB: DrawingBackend>(
    w: &Weights,
    data: &ndarray::Array2<f64>,
    body: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    y_desc: &str,
) -> Result<Drawn, String> {
    let delay_ms: Vec<f64> = w.delay.iter().map(|d| d * 1e3).collect();
    let longest = delay_ms.iter().copied().fold(0.0, f64::max);
    let mut c = build(
        body,
        None,
        0.0..longest + 1.0,
        y_range_under_legend(lo, hi),
        78,
    )?;
    grid(&mut c, "delay (ms)", y_desc)?;
    let last = data.nrows() - 1;
    c.draw_series(
        delay_ms
            .iter()
            .enumerate()
            .map(|(s, &x)| Circle::new((x, data[[last, s]]), 2, DATA.mix(0.3).filled())),
    )
    .map_err(de)?
    .label(format!("each synapse at {} s", tick(w.t[last])))
    .legend(|(x, y)| Circle::new((x + 10, y), 3, DATA.mix(0.5).filled()));
    // Means per delay (whole steps: the delays take few distinct values).
    let mean_by_delay = |row: usize| -> Vec<(f64, f64)> {
        let mut groups: std::collections::BTreeMap<i64, (f64, f64, usize)> = Default::default();
        for (s, &x) in delay_ms.iter().enumerate() {
            let g = groups
                .entry((x * 1e6).round() as i64)
                .or_insert((x, 0.0, 0));
            g.1 += data[[row, s]];
            g.2 += 1;
        }
        groups
            .values()
            .map(|&(x, sum, n)| (x, sum / n as f64))
            .collect()
    };
    c.draw_series(line(mean_by_delay(0), ACCENT.stroke_width(2)))
        .map_err(de)?
        .label(format!("mean at {} s", tick(w.t[0])))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ACCENT.stroke_width(2)));
    c.draw_series(line(mean_by_delay(last), BLACK.stroke_width(3)))
        .map_err(de)?
        .label(format!("mean at {} s", tick(w.t[last])))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3)));
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(Drawn {
        plot_area: area_of(&c),
        empty: false,
    })
}

pub(super) fn draw_weight_distributions<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    idx: usize,
    lo: f64,
    hi: f64,
    t_end: f64,
) -> Result<Drawn, String> {
    let w = &d.weights[idx];
    let data = shown_values(w);
    let (snaps, syn) = data.dim();
    let initial = data.row(0);
    let unchanged = |i: usize| -> f64 {
        let row = data.row(i);
        let same = row
            .iter()
            .zip(initial.iter())
            // Exactly: plasticity moves a weight by whole steps, and any
            // tolerance would hide small ones (a step of 0.1 nS is 1e-10 S).
            .filter(|(a, b)| a == b)
            .count();
        same as f64 / syn as f64
    };
    let i0 = initial[0];
    let single_start = initial.iter().all(|&x| x == i0);
    // Several times: the start (unless all synapses start equal, shown as a
    // line instead), quarter, half, three quarters and the end.
    let mut picks: Vec<usize> = [0, snaps / 4, snaps / 2, 3 * snaps / 4, snaps - 1]
        .into_iter()
        .filter(|&i| !(single_start && i == 0))
        .collect();
    picks.dedup();
    let nbins = 40usize;
    let (a, b) = {
        let r = y_range(lo, hi);
        (r.start, r.end)
    };
    let width = (b - a) / nbins as f64;
    let hist = |i: usize| -> Vec<f64> {
        let mut h = vec![0.0; nbins];
        for &x in data.row(i) {
            if x.is_finite() {
                let k = (((x - a) / width).floor().max(0.0) as usize).min(nbins - 1);
                h[k] += 1.0;
            }
        }
        h.iter().map(|c| c / syn as f64).collect()
    };
    let hists: Vec<(usize, Vec<f64>)> = picks.iter().map(|&i| (i, hist(i))).collect();
    let peak = |h: &[f64]| h.iter().copied().fold(0.0, f64::max);
    // The first snapshot is often one narrow peak (every synapse starts
    // alike): it may stand above the axis, clipped, so the others show.
    let later = hists
        .iter()
        .filter(|(i, _)| *i != 0)
        .map(|(_, h)| peak(h))
        .fold(0.0, f64::max);
    let all = hists.iter().map(|(_, h)| peak(h)).fold(0.0, f64::max);
    // (Room above the highest bar for the legend in the upper right.)
    let top = if later > 0.0 && all > 2.5 * later {
        later * 1.4
    } else {
        all.max(0.05) * 1.35
    };
    let split = (body.dim_in_pixel().0 as f64 * 0.64) as u32;
    let (left, right) = body.split_horizontally(split);
    let mut c = build(&left, None, a..b, 0.0..top, 78)?;
    grid(&mut c, &axis_label(w), "fraction of synapses")?;
    if single_start && picks.len() < snaps.max(1) {
        let col = RGBColor(100, 100, 100);
        c.draw_series(DashedLineSeries::new(
            vec![(i0, 0.0), (i0, top)],
            8,
            5,
            col.stroke_width(2),
        ))
        .map_err(de)?
        .label(format!("t = 0 s: all at {}", trim(i0)))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    for (n, (i, h)) in hists.iter().enumerate() {
        let color = PALETTE[n % PALETTE.len()];
        let mut pts = vec![(a, 0.0)];
        for (k, v) in h.iter().enumerate() {
            let x0 = a + k as f64 * width;
            pts.push((x0, v.min(top)));
            pts.push((x0 + width, v.min(top)));
        }
        pts.push((b, 0.0));
        let frac = 100.0 * unchanged(*i);
        let mut label = format!(
            "t = {}: {}% unchanged",
            fmt_time(w.t[*i]),
            if frac > 0.0 && frac < 1.0 {
                format!("{frac:.1}")
            } else {
                format!("{frac:.0}")
            }
        );
        if peak(h) > top {
            label.push_str(&format!(" (peak {:.2}, clipped)", peak(h)));
        }
        c.draw_series(line(pts, color.stroke_width(2)))
            .map_err(de)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    let drawn = Drawn {
        plot_area: area_of(&c),
        empty: false,
    };
    // Fraction unchanged over the run; where nearly all have changed early
    // on, over the time it takes (twice the time to fall below 1%), so
    // that the panel shows the fall rather than a line at zero.
    let t_fall = (0..snaps).find(|&i| unchanged(i) < 0.01).map(|i| w.t[i]);
    let t_shown = match t_fall {
        Some(t) if t * 2.0 < t_end * 0.5 => (t * 2.0).max(w.t.get(1).copied().unwrap_or(t_end)),
        _ => t_end,
    };
    let title = if t_shown < t_end {
        format!(
            "still at the first snapshot's value (first {})",
            fmt_time(t_shown)
        )
    } else {
        "still at the first snapshot's value".to_string()
    };
    let mut rc = build(&right, Some(&title), 0.0..t_shown, 0.0..1.05, 70)?;
    grid_narrow(&mut rc, "time (s)", "fraction of synapses")?;
    let cols = rc.plotting_area().dim_in_pixel().0.max(1) as usize;
    let last = (0..snaps)
        .rposition(|i| w.t[i] <= t_shown)
        .unwrap_or(snaps - 1);
    let step = (last + 1).div_ceil(2 * cols).max(1);
    let pts: Vec<(f64, f64)> = (0..=last)
        .step_by(step)
        .chain(std::iter::once(last))
        .map(|i| (w.t[i], unchanged(i)))
        .collect();
    rc.draw_series(line(pts, PALETTE[4].stroke_width(2)))
        .map_err(de)?;
    Ok(drawn)
}

/// The recorded values in the unit they are shown in (the model's unit of
/// the variable: nS, not 1e-9 S).
fn shown_values(w: &Weights) -> std::borrow::Cow<'_, ndarray::Array2<f64>> {
    if w.unit_scale == 1.0 {
        std::borrow::Cow::Borrowed(&w.data)
    } else {
        std::borrow::Cow::Owned(w.data.mapv(|x| x * w.unit_scale))
    }
}

fn axis_label(w: &Weights) -> String {
    match w.unit.as_deref() {
        Some("1") => format!("{} (dimensionless)", w.variable),
        Some(u) => format!("{} ({u})", w.variable),
        None => w.variable.clone(),
    }
}
