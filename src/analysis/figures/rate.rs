//! Population rate over time, with its running mean.

use super::*;

/// Population rate per bin (Hz per cell), the bin width, and how many
/// cells it averages.
pub(super) fn population_rate(d: &RunData, src: RateSrc) -> (Vec<f64>, f64, usize) {
    match src {
        RateSrc::Counts(k) => {
            let c = &d.counts[k];
            let cells = c.data.ncols().max(1);
            let norm = 1.0 / (cells as f64 * c.bin);
            let v = c
                .data
                .outer_iter()
                .map(|row| row.iter().map(|&x| x as u64).sum::<u64>() as f64 * norm)
                .collect();
            (v, c.bin, c.data.ncols())
        }
        RateSrc::Rate(k) => {
            let r = &d.rates[k];
            let cells = d.population_size(&r.population).unwrap_or(0);
            (r.data.clone(), r.bin, cells)
        }
        RateSrc::Times(k) => {
            let t = &d.times[k];
            let bin = times_bin(d.duration(), d.meta.dt);
            let n = times_bins(d);
            let cells = t
                .cells
                .unwrap_or_else(|| t.i.iter().max().map_or(1, |m| *m as usize + 1))
                .max(1);
            let mut v = vec![0.0; n];
            for &s in &t.t {
                // A spike at a bin's first step (s = step * dt) can divide
                // to a hair below the bin's index: nudge up, as whole_steps.
                let b = (s / bin * (1.0 + 1e-12)).floor().max(0.0) as usize;
                if b < n {
                    v[b] += 1.0;
                }
            }
            for x in v.iter_mut() {
                *x /= cells as f64 * bin;
            }
            (v, bin, cells)
        }
    }
}

/// How many bins a rate drawn from spike times has: whole bins only, as a
/// last bin cut short by the end of the run would read low.
pub(super) fn times_bins(d: &RunData) -> usize {
    let bin = times_bin(d.duration(), d.meta.dt);
    ((d.duration() / bin) * (1.0 + 1e-9)).floor().max(1.0) as usize
}

/// The bin of a rate drawn from spike times: 50 ms, or for a run shorter
/// than a second a twentieth of it, in whole steps (a 20 ms run in one 50
/// ms bin read 40% of its rate).
fn times_bin(duration: f64, dt: f64) -> f64 {
    if duration >= 1.0 {
        return 0.05;
    }
    let dt = if dt > 0.0 { dt } else { 1e-3 };
    (duration / 20.0 / dt).floor().max(1.0) * dt
}

/// Centred running mean over `w` values.
pub(super) fn running_mean(v: &[f64], w: usize) -> Vec<f64> {
    let mut prefix = Vec::with_capacity(v.len() + 1);
    prefix.push(0.0);
    for x in v {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + x);
    }
    let h = w / 2;
    (0..v.len())
        .map(|i| {
            let a = i.saturating_sub(h);
            let b = (i + w - h).min(v.len());
            (prefix[b] - prefix[a]) / (b - a).max(1) as f64
        })
        .collect()
}

pub(super) fn draw_rate<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    pop: &str,
    src: RateSrc,
    reference_hz: Option<f64>,
) -> Result<Drawn, String> {
    let t_end = d.duration();
    let (rate, bin, cells) = population_rate(d, src);
    let max = rate.iter().copied().fold(0.0, f64::max);
    // At most one displayed bin per pixel column (of the plot area, about
    // the body less the axis labels), averaged from the recorded bins.
    let cols = (body.dim_in_pixel().0 as usize).saturating_sub(110).max(1);
    let per = nice_multiple(bin, rate.len().div_ceil(cols).max(1));
    let shown: Vec<(f64, f64)> = rate
        .chunks(per)
        .enumerate()
        .map(|(k, ch)| {
            let t = (k * per) as f64 * bin + ch.len() as f64 * bin / 2.0;
            (t, ch.iter().sum::<f64>() / ch.len() as f64)
        })
        .collect();
    let shown_bin = bin * per as f64;
    // The axis fits what is drawn (not the recorded bins, which can peak
    // far higher), with room above for the legend.
    let shown_max = shown.iter().map(|p| p.1).fold(0.0, f64::max);
    let mut hi = if shown_max > 0.0 {
        shown_max * 1.3
    } else {
        1.0
    };
    if let Some(r) = reference_hz {
        hi = hi.max(r * 2.0);
    }
    let mut c = build(body, None, 0.0..t_end, 0.0..hi, 78)?;
    grid(&mut c, "time (s)", "rate per cell (Hz)")?;
    c.draw_series(line(shown, DATA.mix(0.55).stroke_width(1)))
        .map_err(de)?
        .label(if cells > 0 {
            format!("mean of {cells} cells in {} bins", fmt_time(shown_bin))
        } else {
            format!("rate in {} bins", fmt_time(shown_bin))
        })
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], DATA.stroke_width(2)));
    let window = (t_end / 50.0).max(1.0);
    let w = (window / bin).round() as usize;
    if w > per && rate.len() > w {
        let smooth = running_mean(&rate, w);
        let pts = envelope(
            &(0..smooth.len())
                .map(|k| (k as f64 + 0.5) * bin)
                .collect::<Vec<_>>(),
            |k| smooth[k],
            0.0,
            t_end,
            cols,
        );
        c.draw_series(line(pts, ACCENT.stroke_width(3)))
            .map_err(de)?
            .label(format!("{} running mean", fmt_time(w as f64 * bin)))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ACCENT.stroke_width(3)));
    }
    if let Some(r) = reference_hz {
        c.draw_series(DashedLineSeries::new(
            vec![(0.0, r), (t_end, r)],
            10,
            6,
            REFERENCE.stroke_width(2),
        ))
        .map_err(de)?
        .label(format!("{} Hz reference", trim(r)))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], REFERENCE.stroke_width(2)));
    }
    let empty = max <= 0.0;
    if empty {
        message(&c, &no_spikes(d, pop, None, Some(src)))?;
    }
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(Drawn {
        plot_area: area_of(&c),
        empty,
    })
}
