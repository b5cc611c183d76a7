//! The figures: which ones a run gets (`plan`), and drawing each one with
//! plotters on any backend (PNG through the bitmap backend, SVG).
//!
//! Long runs: every drawing is bounded by the plot's width in pixels, not by
//! the run's length. Rasters keep one mark per cell and pixel column (a
//! column with any spike is marked, so no spike is lost from view, and
//! consecutive marked columns merge into one bar); time series keep each
//! pixel column's minimum and maximum; binned rates are averaged into at
//! most one bin per column.

use super::data::{Counts, RunData};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

pub const FONT: &str = "sans-serif";
pub const WIDTH: u32 = 1200;
pub const RASTER_HEIGHT: u32 = 720;
pub const RATE_HEIGHT: u32 = 460;
pub const WEIGHTS_HEIGHT: u32 = 560;
pub const TRACE_HEIGHT: u32 = 640;
pub const TRACE_HEIGHT_SHORT: u32 = 460;
pub const ISI_HEIGHT: u32 = 460;

/// Tableau-like colours: saturated, distinct, never grey (the tests tell
/// data from grid lines and text by that).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
const DATA: RGBColor = PALETTE[0];
const ACCENT: RGBColor = PALETTE[1];
const REFERENCE: RGBColor = PALETTE[3];
/// The "no spikes" message colour.
pub const MESSAGE: RGBColor = RGBColor(170, 30, 30);

/// Most rows a raster shows; PF shows a random subset of this many.
const MAX_RASTER_ROWS: usize = 200;
const PF_SUBSET: usize = 100;
/// Individual weight traces drawn.
const WEIGHT_TRACES: usize = 40;
/// Most traces (cells) of one trace recorder drawn.
const MAX_TRACE_CELLS: usize = 8;

/// Where spikes come from.
#[derive(Clone, Copy, Debug)]
pub enum SpikeSrc {
    Counts(usize),
    Times(usize),
}

#[derive(Clone, Copy, Debug)]
pub enum RateSrc {
    Counts(usize),
    Rate(usize),
    Times(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsFig {
    Traces,
    MeanStd,
    Distributions,
}

#[derive(Clone, Debug)]
pub enum Plan {
    Raster {
        pop: String,
        src: SpikeSrc,
        /// Cell index of each row (row 0 at the bottom).
        rows: Vec<u32>,
        /// How the rows were chosen, for the axis label.
        rows_note: String,
    },
    Rate {
        pop: String,
        src: RateSrc,
        reference_hz: Option<f64>,
    },
    Weights {
        idx: usize,
        fig: WeightsFig,
    },
    Trace {
        idx: usize,
    },
    Isi {
        idx: usize,
    },
}

/// One figure to draw.
#[derive(Clone, Debug)]
pub struct FigureSpec {
    /// File name without extension.
    pub stem: String,
    pub title: String,
    /// One sentence for the report.
    pub caption: String,
    pub width: u32,
    pub height: u32,
    pub plan: Plan,
}

/// What drawing a figure found out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Drawn {
    /// The main plot's pixel rectangle: x0, y0, x1, y1 (exclusive ends).
    pub plot_area: (i32, i32, i32, i32),
    /// The figure says there was nothing to draw (e.g. no spikes).
    pub empty: bool,
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn de(e: impl std::fmt::Display) -> String {
    format!("drawing failed: {e}")
}

/// The order rasters and rates come in: the populations the issue names
/// first, then the others in the model's order.
fn population_order(d: &RunData) -> Vec<String> {
    let mut pops: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !pops.iter().any(|q| q == p) {
            pops.push(p.to_string());
        }
    };
    for p in &d.meta.populations {
        add(&p.name);
    }
    for c in &d.counts {
        add(&c.population);
    }
    for t in &d.times {
        add(&t.population);
    }
    for r in &d.rates {
        add(&r.population);
    }
    let first = ["IO", "PKJ", "PF", "DCN"];
    let mut ordered: Vec<String> = first
        .iter()
        .filter(|f| pops.iter().any(|p| p == *f))
        .map(|f| f.to_string())
        .collect();
    ordered.extend(pops.into_iter().filter(|p| !first.contains(&p.as_str())));
    ordered
}

/// Every figure that the recorded arrays allow.
pub fn plan(d: &RunData) -> Vec<FigureSpec> {
    let mut out = Vec::new();
    let pops = population_order(d);
    // Rasters: exact spike times when recorded, else binned counts.
    for pop in &pops {
        let counts = d.counts.iter().position(|c| &c.population == pop);
        // Exact spike times, unless they cover fewer cells than the counts.
        let times = d
            .times
            .iter()
            .position(|t| &t.population == pop)
            .filter(|&k| match (d.times[k].cells, counts) {
                (Some(n), Some(c)) => n >= d.counts[c].data.ncols(),
                _ => true,
            });
        let (src, recorded, how) = match (times, counts) {
            (Some(k), _) => {
                let t = &d.times[k];
                let n = t
                    .cells
                    .unwrap_or_else(|| t.i.iter().max().map_or(0, |m| *m as usize + 1));
                (SpikeSrc::Times(k), n, "spike times".to_string())
            }
            (None, Some(k)) => {
                let c = &d.counts[k];
                (
                    SpikeSrc::Counts(k),
                    c.data.ncols(),
                    format!("spike counts in {} bins", fmt_time(c.bin)),
                )
            }
            (None, None) => continue,
        };
        let (rows, rows_note) = choose_rows(pop, recorded, d.meta.seed);
        let title = format!("{pop} raster with each cell's rate ({how})");
        let caption = format!(
            "{pop}: one row per cell ({rows_note}); a mark in a pixel column means spikes \
             there (darker: more of them, so long runs are thinned, never dropped); the bars \
             give each cell's mean rate over the run."
        );
        out.push(FigureSpec {
            stem: format!("raster_{}", file_safe(pop)),
            title,
            caption,
            width: WIDTH,
            height: RASTER_HEIGHT,
            plan: Plan::Raster {
                pop: pop.clone(),
                src,
                rows,
                rows_note,
            },
        });
    }
    // Population rates.
    for pop in &pops {
        let src = if let Some(k) = d.counts.iter().position(|c| &c.population == pop) {
            RateSrc::Counts(k)
        } else if let Some(k) = d.rates.iter().position(|r| &r.population == pop) {
            RateSrc::Rate(k)
        } else if let Some(k) = d.times.iter().position(|t| &t.population == pop) {
            RateSrc::Times(k)
        } else {
            continue;
        };
        let reference_hz = (pop == "IO").then_some(1.0);
        let title = if pop == "PKJ" {
            "PKJ mean rate over time".to_string()
        } else if reference_hz.is_some() {
            format!("{pop} rate over time, with the 1 Hz reference")
        } else {
            format!("{pop} population rate over time")
        };
        out.push(FigureSpec {
            stem: format!("rate_{}", file_safe(pop)),
            caption: format!(
                "{pop}: spikes per cell per second, averaged over the recorded cells, \
                 in bins and as a running mean."
            ),
            title,
            width: WIDTH,
            height: RATE_HEIGHT,
            plan: Plan::Rate {
                pop: pop.clone(),
                src,
                reference_hz,
            },
        });
    }
    // Weights.
    for (idx, w) in d.weights.iter().enumerate() {
        let what = weights_label(w);
        let n = file_safe(&w.name);
        for (fig, stem, title, caption) in [
            (
                WeightsFig::Traces,
                format!("weights_traces_{n}"),
                format!("{what}: individual synapses"),
                "Individual synapses' values over time, with the mean of all recorded synapses."
                    .to_string(),
            ),
            (
                WeightsFig::MeanStd,
                format!("weights_mean_{n}"),
                format!("{what}: mean ± s.d. over time"),
                "Mean over the recorded synapses, a band of one standard deviation, and the \
                 lowest and highest value."
                    .to_string(),
            ),
            (
                WeightsFig::Distributions,
                format!("weights_dist_{n}"),
                format!("{what}: distributions over time"),
                "Histograms of the recorded synapses at several times, with the fraction still \
                 at its initial value; right: that fraction over the whole run."
                    .to_string(),
            ),
        ] {
            out.push(FigureSpec {
                stem,
                title,
                caption,
                width: WIDTH,
                height: WEIGHTS_HEIGHT,
                plan: Plan::Weights { idx, fig },
            });
        }
    }
    // Traces.
    for (idx, t) in d.traces.iter().enumerate() {
        let var = t.variable.clone().unwrap_or_else(|| t.name.clone());
        let cells = match t.cells.len() {
            1 => format!("cell {}", t.cells[0]),
            _ => format!("cells {}", list_cells(&t.cells)),
        };
        let title = if var == "V" && t.population == "IO" && t.cells.len() == 2 {
            let coupling = match d.coupled(t.cells[0], t.cells[1]) {
                Some(true) => "coupled IO pair",
                Some(false) => "IO pair, not directly coupled",
                None => "IO pair",
            };
            format!("{coupling} membrane voltage: {cells} ({})", t.name)
        } else if var == "V" {
            format!("{} membrane voltage: {cells} ({})", t.population, t.name)
        } else {
            format!("{}.{var} of {cells} ({})", t.population, t.name)
        };
        let long = trace_is_long(&t.t);
        out.push(FigureSpec {
            stem: format!("trace_{}", file_safe(&t.name)),
            title,
            caption: format!(
                "{}.{var} of the traced cells{}",
                t.population,
                if long {
                    ": the whole run (each pixel column spans its minimum to maximum) and \
                     the last 2 seconds in full."
                } else {
                    "."
                }
            ),
            width: WIDTH,
            height: if long {
                TRACE_HEIGHT
            } else {
                TRACE_HEIGHT_SHORT
            },
            plan: Plan::Trace { idx },
        });
    }
    // ISI histograms in name order, whatever order the file lists them in.
    let mut by_name: Vec<(usize, &crate::analysis::data::Times)> =
        d.times.iter().enumerate().collect();
    by_name.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    for (idx, t) in by_name {
        out.push(FigureSpec {
            stem: format!("isi_{}", file_safe(&t.name)),
            title: format!("{} inter-spike intervals ({})", t.population, t.name),
            caption: format!(
                "{}: intervals between consecutive spikes of each cell, pooled over cells.",
                t.population
            ),
            width: WIDTH,
            height: ISI_HEIGHT,
            plan: Plan::Isi { idx },
        });
    }
    out
}

fn trace_is_long(t: &[f64]) -> bool {
    match (t.first(), t.last()) {
        (Some(a), Some(b)) => b - a > 4.0,
        _ => false,
    }
}

fn weights_label(w: &super::data::Weights) -> String {
    match (&w.source, &w.target, &w.projection) {
        (Some(s), Some(t), Some(p)) => {
            format!("{s}→{t} weights ({p}.{}, recorder {})", w.variable, w.name)
        }
        (_, _, Some(p)) => format!("{p}.{} (recorder {})", w.variable, w.name),
        _ => format!("weights (recorder {})", w.name),
    }
}

fn list_cells(cells: &[u32]) -> String {
    let shown: Vec<String> = cells
        .iter()
        .take(MAX_TRACE_CELLS)
        .map(|c| c.to_string())
        .collect();
    let mut s = match shown.len() {
        0 => "none".to_string(),
        1 => shown[0].clone(),
        2 => format!("{} and {}", shown[0], shown[1]),
        _ => shown.join(", "),
    };
    if cells.len() > MAX_TRACE_CELLS {
        s.push_str(&format!(" (first {MAX_TRACE_CELLS} of {})", cells.len()));
    }
    s
}

pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Rows of a raster: PF a seeded random subset, others the first 200.
fn choose_rows(pop: &str, recorded: usize, seed: u64) -> (Vec<u32>, String) {
    if pop == "PF" && recorded > PF_SUBSET {
        let mut idx: Vec<u32> = (0..recorded as u32).collect();
        let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
        for k in 0..PF_SUBSET {
            let j = k + (splitmix(&mut s) % (recorded - k) as u64) as usize;
            idx.swap(k, j);
        }
        let mut rows = idx[..PF_SUBSET].to_vec();
        rows.sort_unstable();
        (rows, format!("random {PF_SUBSET} of {recorded} recorded"))
    } else if recorded > MAX_RASTER_ROWS {
        (
            (0..MAX_RASTER_ROWS as u32).collect(),
            format!("first {MAX_RASTER_ROWS} of {recorded} recorded"),
        )
    } else {
        (
            (0..recorded as u32).collect(),
            format!("all {recorded} recorded"),
        )
    }
}

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A time in a short human form: `50 ms`, `1.5 s`.
pub fn fmt_time(s: f64) -> String {
    if s == 0.0 {
        "0 s".into()
    } else if s < 1.0 {
        format!("{} ms", trim(s * 1e3))
    } else {
        format!("{} s", trim(s))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn fmt_hz(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

// ------------------------------------------------------------------ drawing

/// Draw one figure on `root` (already sized `spec.width` x `spec.height`).
pub fn draw<DB: DrawingBackend>(
    spec: &FigureSpec,
    d: &RunData,
    root: &DrawingArea<DB, Shift>,
) -> Result<Drawn, String> {
    root.fill(&WHITE).map_err(de)?;
    let body = root
        .titled(&spec.title, (FONT, 26).into_font().color(&BLACK))
        .map_err(de)?;
    match &spec.plan {
        Plan::Raster {
            pop,
            src,
            rows,
            rows_note,
        } => draw_raster(d, &body, pop, *src, rows, rows_note),
        Plan::Rate {
            pop,
            src,
            reference_hz,
        } => draw_rate(d, &body, pop, *src, *reference_hz),
        Plan::Weights { idx, fig } => draw_weights(d, &body, *idx, *fig),
        Plan::Trace { idx } => draw_trace(d, &body, *idx),
        Plan::Isi { idx } => draw_isi(d, &body, *idx),
    }
}

fn build<'a, DB: DrawingBackend>(
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

fn grid<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String> {
    c.configure_mesh()
        .x_desc(x_desc)
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

/// Grid lines and labels for a narrow panel: fewer x labels.
fn grid_narrow<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String> {
    c.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(5)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .axis_desc_style((FONT, 19))
        .label_style((FONT, 16))
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(222, 222, 222))
        .draw()
        .map_err(de)
}

/// A tick label without trailing zeros: `20`, `0.5`, `1e-05`.
pub fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        return format!("{v:e}");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn legend<'a, DB: DrawingBackend + 'a>(
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

fn area_of<'a, DB: DrawingBackend + 'a>(c: &Chart<'a, DB>) -> (i32, i32, i32, i32) {
    let (x, y) = c.plotting_area().get_pixel_range();
    (x.start, y.start, x.end, y.end)
}

/// What an empty raster or rate says: no spikes, or no complete bin.
fn no_spikes(d: &RunData, pop: &str, spikes: Option<SpikeSrc>, rate: Option<RateSrc>) -> String {
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
fn message<'a, DB: DrawingBackend + 'a>(c: &Chart<'a, DB>, text: &str) -> Result<(), String> {
    let area = c.plotting_area().strip_coord_spec();
    let (w, h) = area.dim_in_pixel();
    let style = (FONT, 24)
        .into_font()
        .color(&MESSAGE)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(text, (w as i32 / 2, h as i32 / 2), style))
        .map_err(de)
}

fn y_range(lo: f64, hi: f64) -> Range<f64> {
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
fn nice_multiple(bin: f64, min: usize) -> usize {
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
fn y_range_under_legend(lo: f64, hi: f64) -> Range<f64> {
    let r = y_range(lo, hi);
    r.start..(r.end + (r.end - r.start) * 0.25)
}

/// Column of time `t` among `cols` columns spanning [0, t_end).
fn column(t: f64, t_end: f64, cols: usize) -> usize {
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

/// Spikes of each chosen row in each pixel column, per-row totals, and the
/// time the counts cover.
fn raster_marks(
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
fn shade(level: u8) -> RGBColor {
    let f = [0.0, 0.3, 0.5, 0.75, 1.0][level.min(4) as usize];
    let mix = |c: u8| (255.0 - (255.0 - c as f64) * f).round() as u8;
    RGBColor(mix(DATA.0), mix(DATA.1), mix(DATA.2))
}

fn draw_raster<DB: DrawingBackend>(
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

/// Population rate per bin (Hz per cell), the bin width, and how many
/// cells it averages.
fn population_rate(d: &RunData, src: RateSrc) -> (Vec<f64>, f64, usize) {
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
            let bin = 0.05;
            let n = (d.duration() / bin).floor().max(1.0) as usize;
            let cells = t
                .cells
                .unwrap_or_else(|| t.i.iter().max().map_or(1, |m| *m as usize + 1))
                .max(1);
            let mut v = vec![0.0; n];
            for &s in &t.t {
                let b = (s / bin).floor().max(0.0) as usize;
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

/// Centred running mean over `w` values.
fn running_mean(v: &[f64], w: usize) -> Vec<f64> {
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

fn draw_rate<DB: DrawingBackend>(
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
    c.draw_series(LineSeries::new(shown, DATA.mix(0.55).stroke_width(1)))
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
        c.draw_series(LineSeries::new(pts, ACCENT.stroke_width(3)))
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

fn draw_weights<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    idx: usize,
    fig: WeightsFig,
) -> Result<Drawn, String> {
    let w = &d.weights[idx];
    let (snaps, syn) = w.data.dim();
    let t_end = d.duration().max(w.t.last().copied().unwrap_or(0.0));
    let y_desc = format!("{} (dimensionless)", w.variable);
    if snaps == 0 || syn == 0 {
        let mut c = build(body, None, 0.0..t_end, 0.0..1.0, 78)?;
        grid(&mut c, "time (s)", &y_desc)?;
        message(&c, "no weight snapshots were recorded")?;
        return Ok(Drawn {
            plot_area: area_of(&c),
            empty: true,
        });
    }
    let lo = w
        .data
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = w
        .data
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let means: Vec<f64> = w
        .data
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
                let pts = envelope(&w.t, |i| w.data[[i, s]], 0.0, t_end, cols);
                let series = c
                    .draw_series(LineSeries::new(pts, DATA.mix(0.35).stroke_width(1)))
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
            c.draw_series(LineSeries::new(pts, BLACK.stroke_width(3)))
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
            let sds: Vec<f64> = w
                .data
                .outer_iter()
                .zip(&means)
                .map(|(r, m)| {
                    (r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / syn as f64).sqrt()
                })
                .collect();
            let mins: Vec<f64> = w
                .data
                .outer_iter()
                .map(|r| r.iter().copied().fold(f64::INFINITY, f64::min))
                .collect();
            let maxs: Vec<f64> = w
                .data
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
            c.draw_series(LineSeries::new(
                ids.iter().map(|&i| (w.t[i], means[i])),
                DATA.stroke_width(3),
            ))
            .map_err(de)?
            .label("mean")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], DATA.stroke_width(3)));
            let mn = envelope(&w.t, |i| mins[i], 0.0, t_end, cols);
            let mx = envelope(&w.t, |i| maxs[i], 0.0, t_end, cols);
            c.draw_series(LineSeries::new(mn, ACCENT.stroke_width(1)))
                .map_err(de)?
                .label("lowest and highest")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], ACCENT.stroke_width(1))
                });
            c.draw_series(LineSeries::new(mx, ACCENT.stroke_width(1)))
                .map_err(de)?;
            legend(&mut c, SeriesLabelPosition::UpperRight)?;
            Ok(Drawn {
                plot_area: area_of(&c),
                empty: false,
            })
        }
        WeightsFig::Distributions => draw_weight_distributions(d, body, idx, lo, hi, t_end),
    }
}

fn draw_weight_distributions<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    idx: usize,
    lo: f64,
    hi: f64,
    t_end: f64,
) -> Result<Drawn, String> {
    let w = &d.weights[idx];
    let (snaps, syn) = w.data.dim();
    let initial = w.data.row(0);
    let unchanged = |i: usize| -> f64 {
        let row = w.data.row(i);
        let same = row
            .iter()
            .zip(initial.iter())
            .filter(|(a, b)| (*a - *b).abs() <= 1e-9 * b.abs().max(1.0))
            .count();
        same as f64 / syn as f64
    };
    let i0 = initial[0];
    let single_start = initial
        .iter()
        .all(|x| (x - i0).abs() <= 1e-12 * i0.abs().max(1.0));
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
        for &x in w.data.row(i) {
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
    grid(
        &mut c,
        &format!("{} (dimensionless)", w.variable),
        "fraction of synapses",
    )?;
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
        c.draw_series(LineSeries::new(pts, color.stroke_width(2)))
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
    rc.draw_series(LineSeries::new(pts, PALETTE[4].stroke_width(2)))
        .map_err(de)?;
    Ok(drawn)
}

fn draw_trace<DB: DrawingBackend>(
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
    let t_hi = if t1 > t0 { t1 } else { t0 + 1e-3 };
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
            c.draw_series(LineSeries::new(pts, color.stroke_width(width)))
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

fn draw_isi<DB: DrawingBackend>(
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
    c.draw_series(h.iter().enumerate().filter(|(_, v)| **v > 0).map(|(b, v)| {
        Rectangle::new(
            [(b as f64 * width, 0.0), ((b + 1) as f64 * width, *v as f64)],
            DATA.filled(),
        )
    }))
    .map_err(de)?
    .label(format!(
        "{} intervals, mean {}, CV {:.2}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displayed_rate_bins_are_round_times() {
        assert_eq!(nice_multiple(0.05, 19), 20, "950 ms -> 1 s");
        assert_eq!(nice_multiple(0.05, 1), 1, "50 ms is round");
        assert_eq!(nice_multiple(0.001, 3), 5, "3 ms -> 5 ms");
        assert_eq!(
            nice_multiple(0.03, 1),
            1,
            "30 ms: no round multiple within 3x (60, 90 ms), so as it is"
        );
    }

    #[test]
    fn envelope_keeps_extremes_and_is_bounded_by_columns() {
        let t: Vec<f64> = (0..100_000).map(|k| k as f64 * 1e-3).collect();
        let y = |k: usize| {
            if k == 54_321 {
                9.0
            } else {
                (k as f64 * 0.01).sin()
            }
        };
        let pts = envelope(&t, y, 0.0, 100.0, 500);
        assert!(pts.len() <= 1000, "{}", pts.len());
        assert!(pts.iter().any(|p| p.1 == 9.0), "the peak was dropped");
        assert!(
            pts.windows(2).all(|w| w[0].0 <= w[1].0),
            "not in time order"
        );
        // Short series come back whole.
        let few = envelope(&t[..10], y, 0.0, 1.0, 500);
        assert_eq!(few.len(), 10);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick(20.0), "20");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(-65.0), "-65");
        assert_eq!(tick(1e-5), "1e-5");
        assert_eq!(tick(0.1 + 0.2), "0.3");
    }

    #[test]
    fn pf_subset_is_seeded_and_sorted() {
        let (a, _) = choose_rows("PF", 512, 1);
        let (b, _) = choose_rows("PF", 512, 1);
        let (c, _) = choose_rows("PF", 512, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), PF_SUBSET);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let (p, _) = choose_rows("PKJ", 1000, 1);
        assert_eq!(p, (0..200).collect::<Vec<u32>>());
        let (io, _) = choose_rows("IO", 16, 1);
        assert_eq!(io.len(), 16);
    }

    #[test]
    fn running_mean_of_a_constant_is_the_constant() {
        let m = running_mean(&[2.0; 50], 7);
        assert!(m.iter().all(|&x| (x - 2.0).abs() < 1e-12));
    }
}
