//! Raster plots with per-cell rate bars.

use super::*;

/// Spikes of each chosen row in each pixel column, per-row totals, and the
/// time the counts cover.
pub(super) fn raster_marks(
    d: &RunData,
    src: SpikeSrc,
    rows: &[u32],
    t_end: f64,
    cols: usize,
) -> (Vec<u32>, Vec<u64>, f64) {
    let n = rows.len();
    let mut grid = vec![0u32; n * cols];
    let mut totals = vec![0u64; n];
    let max_cell = rows.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut row_of = vec![usize::MAX; max_cell];
    for (r, &c) in rows.iter().enumerate() {
        row_of[c as usize] = r;
    }
    let covered;
    match src {
        SpikeSrc::Counts(k) => {
            let Counts { data, bin, .. } = &d.counts[k];
            covered = data.nrows() as f64 * bin;
            for (b, counts) in data.outer_iter().enumerate() {
                let t0 = b as f64 * bin;
                let c0 = column(t0, t_end, cols);
                let c1 = column(t0 + bin * 0.999, t_end, cols).max(c0);
                for (r, &cell) in rows.iter().enumerate() {
                    let v = counts.get(cell as usize).copied().unwrap_or(0);
                    if v > 0 {
                        totals[r] += v as u64;
                        // A bin wider than a column marks every column it
                        // spans; narrower bins add up in their column.
                        for g in &mut grid[r * cols + c0..=r * cols + c1] {
                            *g = g.saturating_add(v as u32);
                        }
                    }
                }
            }
        }
        SpikeSrc::Times(k) => {
            let tm = &d.times[k];
            covered = t_end;
            for (&t, &i) in tm.t.iter().zip(&tm.i) {
                if let Some(&r) = row_of.get(i as usize) {
                    if r != usize::MAX {
                        totals[r] += 1;
                        let g = &mut grid[r * cols + column(t, t_end, cols)];
                        *g = g.saturating_add(1);
                    }
                }
            }
        }
    }
    (grid, totals, covered)
}

/// Shades of the raster colour for 1..=4 (more spikes in a pixel column:
/// darker).
pub(super) fn shade(level: u8) -> RGBColor {
    let f = [0.0, 0.3, 0.5, 0.75, 1.0][level.min(4) as usize];
    let mix = |c: u8| (255.0 - (255.0 - c as f64) * f).round() as u8;
    RGBColor(mix(DATA.0), mix(DATA.1), mix(DATA.2))
}

pub(super) fn draw_raster<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    pop: &str,
    src: SpikeSrc,
    rows: &[u32],
    rows_note: &str,
) -> Result<Drawn, String> {
    let t_end = d.duration();
    let n = rows.len().max(1);
    let split = (body.dim_in_pixel().0 as f64 * 0.76) as u32;
    let (left, right) = body.split_horizontally(split);
    // Room above both panels for the rate panel's legend.
    let top = 64;
    let left = left.margin(top, 0, 0, 0);
    let legend_area = right.clone();
    let right = right.margin(top, 0, 0, 0);
    let y = -0.5..(n as f64 - 0.5);
    let mut c = build(&left, None, 0.0..t_end, y.clone(), 84)?;
    let (cols, rows_px) = c.plotting_area().dim_in_pixel();
    let cols = cols.max(1) as usize;
    let (grid_counts, totals, covered) = raster_marks(d, src, rows, t_end, cols);
    // Shading: levels of the spikes per pixel column, up to the 99th
    // percentile of the marked columns.
    let mut marked: Vec<u32> = grid_counts.iter().copied().filter(|&v| v > 0).collect();
    let top_count = if marked.is_empty() {
        1
    } else {
        let k = (marked.len() - 1) * 99 / 100;
        *marked.select_nth_unstable(k).1
    };
    let level = |v: u32| -> u8 {
        if v == 0 {
            0
        } else if top_count <= 1 {
            4
        } else {
            (1 + (3 * (v.min(top_count) - 1)) / (top_count - 1)).min(4) as u8
        }
    };
    let label = |v: &f64| {
        let r = v.round();
        if (v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < rows.len() {
            rows[r as usize].to_string()
        } else {
            String::new()
        }
    };
    let x_desc = if top_count > 1 {
        "time (s); darker: more spikes in a pixel column"
    } else {
        "time (s)"
    };
    c.configure_mesh()
        .disable_y_mesh()
        .x_desc(x_desc)
        .y_desc(format!("{pop} cell ({rows_note})"))
        .y_labels(n.min(10))
        .y_label_formatter(&label)
        .x_label_formatter(&|v| tick(*v))
        .axis_desc_style((FONT, 19))
        .label_style((FONT, 16))
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(222, 222, 222))
        .draw()
        .map_err(de)?;
    let half = if (n as u32) * 3 <= rows_px { 0.36 } else { 0.5 };
    let dx = t_end / cols as f64;
    // Single spikes get marks two pixels wide so that they show.
    let min_w = 2.min(cols);
    let mut rects = Vec::new();
    for r in 0..rows.len() {
        let line = &grid_counts[r * cols..(r + 1) * cols];
        let mut k = 0;
        while k < cols {
            let l = level(line[k]);
            if l == 0 {
                k += 1;
                continue;
            }
            let a = k;
            while k < cols && level(line[k]) == l {
                k += 1;
            }
            let b = k.max(a + min_w).min(cols);
            rects.push(Rectangle::new(
                [
                    (a as f64 * dx, r as f64 - half),
                    (b as f64 * dx, r as f64 + half),
                ],
                shade(l).filled(),
            ));
        }
    }
    let total: u64 = totals.iter().sum();
    let empty = total == 0;
    c.draw_series(rects).map_err(de)?;
    if empty {
        message(&c, &no_spikes(d, pop, Some(src), None))?;
    }
    let drawn = Drawn {
        plot_area: area_of(&c),
        empty,
    };
    // Per-cell rates.
    let rates: Vec<f64> = totals
        .iter()
        .map(|&s| {
            if covered > 0.0 {
                s as f64 / covered
            } else {
                0.0
            }
        })
        .collect();
    let max_rate = rates.iter().copied().fold(0.0, f64::max);
    let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    let x_hi = if max_rate > 0.0 { max_rate * 1.15 } else { 1.0 };
    let mut rc = build(&right, None, 0.0..x_hi, y, 12)?;
    rc.configure_mesh()
        .disable_y_mesh()
        .x_desc("rate (Hz)")
        .y_labels(n.min(10))
        .y_label_formatter(&|_| String::new())
        .x_label_formatter(&|v| tick(*v))
        .x_labels(4)
        .axis_desc_style((FONT, 19))
        .label_style((FONT, 16))
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(222, 222, 222))
        .draw()
        .map_err(de)?;
    let bar = if half < 0.5 { 0.36 } else { 0.45 };
    rc.draw_series(rates.iter().enumerate().map(|(r, &v)| {
        Rectangle::new(
            [(0.0, r as f64 - bar), (v, r as f64 + bar)],
            ACCENT.filled(),
        )
    }))
    .map_err(de)?;
    rc.draw_series(std::iter::once(PathElement::new(
        vec![(mean, -0.5), (mean, n as f64 - 0.5)],
        BLACK.stroke_width(2),
    )))
    .map_err(de)?;
    // The legend goes above the bars, where it hides nothing.
    let x0 = rc.plotting_area().get_pixel_range().0.start - legend_area.get_base_pixel().0;
    let font = (FONT, 16).into_font().color(&BLACK);
    let text_pos = Pos::new(HPos::Left, VPos::Center);
    for (k, label) in [
        "each cell's rate".to_string(),
        format!("mean {} Hz", fmt_hz(mean)),
    ]
    .iter()
    .enumerate()
    {
        let y = 16 + 24 * k as i32;
        if k == 0 {
            legend_area
                .draw(&Rectangle::new(
                    [(x0, y - 6), (x0 + 18, y + 6)],
                    ACCENT.filled(),
                ))
                .map_err(de)?;
        } else {
            legend_area
                .draw(&PathElement::new(
                    vec![(x0, y), (x0 + 18, y)],
                    BLACK.stroke_width(2),
                ))
                .map_err(de)?;
        }
        legend_area
            .draw(&Text::new(
                label.as_str(),
                (x0 + 26, y),
                font.clone().pos(text_pos),
            ))
            .map_err(de)?;
    }
    Ok(drawn)
}
