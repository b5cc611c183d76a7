//! Building blocks of every figure: chart frames, grids, ticks, legends,
//! axis ranges and the per-pixel-column envelope of long series.

use super::*;

pub(super) fn build<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: Option<&str>,
    x: Range<f64>,
    y: Range<f64>,
    y_label_area: u32,
) -> Result<Chart<'a, DB>, String> {
    let mut b = ChartBuilder::on(area);
    b.margin(10)
        .margin_right(24)
        .x_label_area_size(58)
        .y_label_area_size(y_label_area);
    if let Some(c) = caption {
        b.caption(c, (FONT, 19));
    }
    b.build_cartesian_2d(x, y).map_err(de)
}

pub(super) fn grid<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String> {
    mesh(c, x_desc, y_desc, None)
}

/// Grid lines and labels for a narrow panel: fewer x labels.
pub(super) fn grid_narrow<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String> {
    mesh(c, x_desc, y_desc, Some(5))
}

fn mesh<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    x_desc: &str,
    y_desc: &str,
    x_labels: Option<usize>,
) -> Result<(), String> {
    let mut m = c.configure_mesh();
    if let Some(n) = x_labels {
        m.x_labels(n);
    }
    m.x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .axis_desc_style((FONT, 19))
        .label_style((FONT, 16))
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(222, 222, 222))
        .draw()
        .map_err(de)
}

/// A line through `pts`; a lone point (one bin, one sample, one snapshot)
/// is drawn as a dot, which a line alone would not show.
pub(super) fn line<DB: DrawingBackend>(
    pts: Vec<(f64, f64)>,
    style: impl Into<ShapeStyle>,
) -> LineSeries<DB, (f64, f64)> {
    let style: ShapeStyle = style.into();
    if pts.len() == 1 {
        LineSeries::new(pts, style.filled()).point_size(4)
    } else {
        LineSeries::new(pts, style)
    }
}

/// A tick label without trailing zeros: `20`, `0.5`, `1e-05`.
pub fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        // Six significant digits: 1.5000000000000002e-9 reads 1.5e-9.
        let s = format!("{v:.5e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

pub(super) fn legend<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    pos: SeriesLabelPosition,
) -> Result<(), String> {
    c.configure_series_labels()
        .position(pos)
        .margin(10)
        .background_style(WHITE.mix(0.88).filled())
        .border_style(RGBColor(150, 150, 150))
        .label_font((FONT, 16))
        .draw()
        .map_err(de)
}

pub(super) fn area_of<'a, DB: DrawingBackend + 'a>(c: &Chart<'a, DB>) -> (i32, i32, i32, i32) {
    let (x, y) = c.plotting_area().get_pixel_range();
    (x.start, y.start, x.end, y.end)
}

/// What an empty raster or rate says: no spikes, or no complete bin.
pub(super) fn no_spikes(
    d: &RunData,
    pop: &str,
    spikes: Option<SpikeSrc>,
    rate: Option<RateSrc>,
) -> String {
    let bins = match (spikes, rate) {
        (Some(SpikeSrc::Counts(k)), _) | (_, Some(RateSrc::Counts(k))) => {
            Some((d.counts[k].data.nrows(), d.counts[k].bin))
        }
        (_, Some(RateSrc::Rate(k))) => Some((d.rates[k].data.len(), d.rates[k].bin)),
        _ => None,
    };
    match bins {
        Some((0, bin)) => format!(
            "no complete {} bin: the run is shorter than one",
            fmt_time(bin)
        ),
        _ => format!("no spikes from {pop} in this run"),
    }
}

/// Centre a message in a chart's plotting area.
pub(super) fn message<'a, DB: DrawingBackend + 'a>(
    c: &Chart<'a, DB>,
    text: &str,
) -> Result<(), String> {
    let area = c.plotting_area().strip_coord_spec();
    let (w, h) = area.dim_in_pixel();
    let style = (FONT, 24)
        .into_font()
        .color(&MESSAGE)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(text, (w as i32 / 2, h as i32 / 2), style))
        .map_err(de)
}

pub(super) fn y_range(lo: f64, hi: f64) -> Range<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    if hi - lo <= 1e-12 * lo.abs().max(1e-12) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return (lo - pad)..(hi + pad);
    }
    let pad = (hi - lo) * 0.06;
    (lo - pad)..(hi + pad)
}

/// The smallest count of `bin`-wide bins, at least `min`, whose total width
/// is a round time (1, 2 or 5 times a power of ten: 1 s rather than 950 ms),
/// if one is within 3x; else `min`.
pub(super) fn nice_multiple(bin: f64, min: usize) -> usize {
    let nice = |t: f64| {
        let p = 10f64.powf(t.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .iter()
            .any(|m| ((t / p) - m).abs() < 1e-9 * m)
    };
    (min..=min * 3)
        .find(|&k| nice(k as f64 * bin))
        .unwrap_or(min)
}

/// `y_range` with room above the data for a legend in the upper right, so
/// that it covers no line.
pub(super) fn y_range_under_legend(lo: f64, hi: f64) -> Range<f64> {
    let r = y_range(lo, hi);
    r.start..(r.end + (r.end - r.start) * 0.25)
}

/// Column of time `t` among `cols` columns spanning [0, t_end).
pub(super) fn column(t: f64, t_end: f64, cols: usize) -> usize {
    let c = (t / t_end * cols as f64).floor();
    if c <= 0.0 {
        0
    } else {
        (c as usize).min(cols - 1)
    }
}

/// At most two points per pixel column (its minimum and maximum, in time
/// order): the shape of a long series, with every peak kept.
pub fn envelope(
    t: &[f64],
    y: impl Fn(usize) -> f64,
    t0: f64,
    t1: f64,
    cols: usize,
) -> Vec<(f64, f64)> {
    let cols = cols.max(1);
    if t.len() <= 2 * cols {
        return (0..t.len())
            .map(|k| (t[k], y(k)))
            .filter(|p| p.1.is_finite())
            .collect();
    }
    let span = (t1 - t0).max(1e-12);
    let mut out = Vec::with_capacity(2 * cols + 2);
    let mut cur: Option<usize> = None;
    let (mut kmin, mut kmax) = (0usize, 0usize);
    let (mut vmin, mut vmax) = (f64::INFINITY, f64::NEG_INFINITY);
    let flush = |kmin: usize, kmax: usize, vmin: f64, vmax: f64, out: &mut Vec<(f64, f64)>| {
        if vmin.is_finite() {
            if kmin <= kmax {
                out.push((t[kmin], vmin));
                if kmax != kmin {
                    out.push((t[kmax], vmax));
                }
            } else {
                out.push((t[kmax], vmax));
                out.push((t[kmin], vmin));
            }
        }
    };
    for (k, &tk) in t.iter().enumerate() {
        let c = (((tk - t0) / span) * cols as f64).floor().max(0.0) as usize;
        if cur != Some(c) {
            if cur.is_some() {
                flush(kmin, kmax, vmin, vmax, &mut out);
            }
            cur = Some(c);
            vmin = f64::INFINITY;
            vmax = f64::NEG_INFINITY;
        }
        let v = y(k);
        if v.is_finite() {
            if v < vmin {
                vmin = v;
                kmin = k;
            }
            if v > vmax {
                vmax = v;
                kmax = k;
            }
        }
    }
    flush(kmin, kmax, vmin, vmax, &mut out);
    out
}
