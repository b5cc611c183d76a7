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

mod chart;
mod isi;
mod plan;
mod raster;
mod rate;
mod trace;
mod trial;
mod weights;
mod wiring;

pub use chart::*;
use isi::*;
pub use plan::*;
use raster::*;
use rate::*;
use trace::*;
use trial::*;
pub use trial::{trial_rate, weights_by_trial, TrialRate};
use weights::*;
pub use wiring::degrees;
use wiring::*;

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
    /// Against each synapse's delay (delays drawn per synapse only).
    ByDelay,
    /// The mean at the end of each trial of the protocol.
    ByTrial,
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
    /// The rate within the protocol's trial, averaged over the trials.
    Trial {
        pop: String,
        rate: TrialRate,
    },
    /// In- and out-degrees of a `wiring` recorder's synapses.
    Wiring {
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
        Plan::Trial { pop, rate } => draw_trial(d, &body, pop, rate),
        Plan::Wiring { idx } => draw_wiring(d, &body, *idx),
    }
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
        assert_eq!(tick(1.5000000000000002e-9), "1.5e-9");
        assert_eq!(tick(-3.0000000000000004e7), "-3e7");
        assert_eq!(tick(0.1 + 0.2), "0.3");
    }

    #[test]
    fn raster_rows_are_a_seeded_pf_subset_or_spread_evenly() {
        let (a, _) = choose_rows("PF", 512, 1);
        let (b, _) = choose_rows("PF", 512, 1);
        let (c, _) = choose_rows("PF", 512, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), PF_SUBSET);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let (p, _) = choose_rows("PKJ", 1000, 1);
        assert_eq!(p.len(), 200);
        assert_eq!((p[0], p[1], p[199]), (0, 5, 999));
        assert!(p.windows(2).all(|w| w[0] < w[1]), "distinct, ascending");
        let (ring, _) = choose_rows("Ring", 201, 1);
        assert_eq!(ring.len(), 200);
        assert_eq!(ring[199], 200);
        let (io, _) = choose_rows("IO", 16, 1);
        assert_eq!(io.len(), 16);
    }

    #[test]
    fn running_mean_of_a_constant_is_the_constant() {
        let m = running_mean(&[2.0; 50], 7);
        assert!(m.iter().all(|&x| (x - 2.0).abs() < 1e-12));
    }
}
