//! Inter-spike interval histograms.

use super::*;

pub(super) fn draw_isi<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    idx: usize,
) -> Result<Drawn, String> {
    let tm = &d.times[idx];
    let n = tm.i.iter().max().map_or(0, |m| *m as usize + 1);
    let mut last = vec![f64::NAN; n];
    let mut isi = Vec::new();
    for (&t, &i) in tm.t.iter().zip(&tm.i) {
        let l = last[i as usize];
        if l.is_finite() {
            isi.push(t - l);
        }
        last[i as usize] = t;
    }
    if isi.is_empty() {
        let mut c = build(body, None, 0.0..1.0, 0.0..1.0, 78)?;
        grid(&mut c, "inter-spike interval (ms)", "intervals")?;
        message(
            &c,
            &format!("{}: no cell spiked twice, so no intervals", tm.population),
        )?;
        return Ok(Drawn {
            plot_area: area_of(&c),
            empty: true,
        });
    }
    let mut sorted = isi.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let p99 = sorted[((sorted.len() - 1) as f64 * 0.99) as usize];
    let max = sorted[sorted.len() - 1];
    let mean = isi.iter().sum::<f64>() / isi.len() as f64;
    let sd = (isi.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / isi.len() as f64).sqrt();
    let (unit, k) = if p99 < 2.0 { ("ms", 1e3) } else { ("s", 1.0) };
    let x_hi = (if max <= p99 * 1.5 { max } else { p99 }) * k * 1.02;
    let x_hi = if x_hi > 0.0 { x_hi } else { 1.0 };
    // Intervals are whole numbers of steps: bins a whole number of steps
    // wide, or every other bin would catch one interval value more (a comb
    // that looks like periodic firing). Up to about 60 bins.
    let dt = if d.meta.dt > 0.0 { d.meta.dt } else { 1e-3 };
    let steps_hi = (x_hi / k / dt).ceil().max(1.0);
    let per_bin = (steps_hi / 60.0).ceil().max(1.0);
    let nbins = (steps_hi / per_bin).ceil() as usize;
    let width = per_bin * dt * k;
    let x_hi = nbins as f64 * width;
    let mut h = vec![0u64; nbins];
    let mut beyond = 0u64;
    for &x in &isi {
        let b = ((x / dt).round() / per_bin).floor() as usize;
        if b < nbins {
            h[b] += 1;
        } else {
            beyond += 1;
        }
    }
    let top = h.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.3;
    let mut c = build(body, None, 0.0..x_hi, 0.0..top, 78)?;
    grid(
        &mut c,
        &format!("inter-spike interval ({unit})"),
        "intervals (count)",
    )?;
    // Bin b holds intervals of b * per_bin .. (b + 1) * per_bin - 1 steps:
    // its bar spans them, half a step either side, so that an interval of
    // exactly 3 ms stands over 3 ms and not between 3 and 4.
    let half = 0.5 * dt * k;
    c.draw_series(h.iter().enumerate().filter(|(_, v)| **v > 0).map(|(b, v)| {
        Rectangle::new(
            [
                ((b as f64 * width - half).max(0.0), 0.0),
                ((b + 1) as f64 * width - half, *v as f64),
            ],
            DATA.filled(),
        )
    }))
    .map_err(de)?
    .label(format!(
        "{} intervals of all cells, mean {}, CV {:.2} (pooled)",
        isi.len(),
        fmt_time(mean),
        if mean > 0.0 { sd / mean } else { 0.0 }
    ))
    .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], DATA.filled()));
    if beyond > 0 {
        c.draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
            .map_err(de)?
            .label(format!(
                "{beyond} longer than {} (off the axis)",
                fmt_time(x_hi / k)
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 1, y)], WHITE));
    }
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(Drawn {
        plot_area: area_of(&c),
        empty: false,
    })
}
