//! Which figures a run gets, from the arrays its `.npz` holds, and the
//! labels and orderings they share.

use super::*;

/// The order rasters and rates come in: the populations the issue names
/// first, then the others in the model's order.
pub(super) fn population_order(d: &RunData) -> Vec<String> {
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

/// Where a population's rate over time comes from: its spike counts, its
/// rate recorder or its spike times, in that order, unless the first has
/// fewer than 10 bins and another more (counts in one 1 s bin beside spike
/// times, in an f-I run). None where it would be one bin: a point, which
/// the raster's mean already gives.
fn rate_source(d: &RunData, pop: &str) -> Option<RateSrc> {
    let mut found: Vec<(RateSrc, usize)> = Vec::new();
    if let Some(k) = d.counts.iter().position(|c| c.population == pop) {
        found.push((RateSrc::Counts(k), d.counts[k].data.nrows()));
    }
    if let Some(k) = d.rates.iter().position(|r| r.population == pop) {
        found.push((RateSrc::Rate(k), d.rates[k].data.len()));
    }
    if let Some(k) = d.times.iter().position(|t| t.population == pop) {
        found.push((RateSrc::Times(k), super::rate::times_bins(d)));
    }
    let (mut src, mut bins) = *found.first()?;
    for &(s, b) in &found[1..] {
        if bins < 10 && b > bins {
            (src, bins) = (s, b);
        }
    }
    (bins >= 2).then_some(src)
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
        let Some(src) = rate_source(d, pop) else {
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
    // Rates within the protocol's trial: spike times, else counts in bins
    // that divide the trial.
    if let Some(p) = super::trial::protocol(d) {
        for pop in &pops {
            let times = d.times.iter().position(|t| &t.population == pop);
            let counts = d.counts.iter().position(|c| &c.population == pop);
            let Some(r) = [times.map(SpikeSrc::Times), counts.map(SpikeSrc::Counts)]
                .into_iter()
                .flatten()
                .find_map(|src| trial_rate(d, src, p))
            else {
                continue;
            };
            let probes = if r.probe_trials > 0 {
                format!(", and over its {} probe trials apart", r.probe_trials)
            } else {
                String::new()
            };
            out.push(FigureSpec {
                stem: format!("trial_{}", file_safe(pop)),
                title: format!(
                    "{pop} rate within the trial ({} trials of {})",
                    r.usual_trials + r.probe_trials,
                    fmt_time(p.trial)
                ),
                caption: format!(
                    "{pop}: spikes per cell per second at each time within the protocol's trial, \
                     averaged over its complete trials{probes}; the signals' windows shaded."
                ),
                width: WIDTH,
                height: RATE_HEIGHT,
                plan: Plan::Trial {
                    pop: pop.clone(),
                    rate: r,
                },
            });
        }
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
        ]
        .into_iter()
        .chain((!w.delay.is_empty()).then(|| {
            (
                WeightsFig::ByDelay,
                format!("weights_delay_{n}"),
                format!("{what}: by delay"),
                "Each recorded synapse's value at the end of the run against its delay (drawn \
                 per synapse), the mean at each delay, and that mean at the first snapshot."
                    .to_string(),
            )
        }))
        .chain(weights_by_trial(d, idx).map(|_| {
            (
                WeightsFig::ByTrial,
                format!("weights_trials_{n}"),
                format!("{what}: by trial"),
                "The mean over the recorded synapses at the end of each complete trial of the \
                 protocol (its last snapshot in the trial), probe trials marked apart."
                    .to_string(),
            )
        })) {
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
    for (idx, w) in d.wirings.iter().enumerate() {
        let proj = w.projection.clone().unwrap_or_else(|| w.name.clone());
        out.push(FigureSpec {
            stem: format!("wiring_{}", file_safe(&w.name)),
            title: format!("{proj} wiring ({})", w.name),
            caption: format!(
                "{proj}: how many of the {} recorded synapses each target cell receives and each source cell sends.",
                w.pre.len()
            ),
            width: WIDTH,
            height: ISI_HEIGHT,
            plan: Plan::Wiring { idx },
        });
    }
    out
}

pub(super) fn trace_is_long(t: &[f64]) -> bool {
    match (t.first(), t.last()) {
        (Some(a), Some(b)) => b - a > 4.0,
        _ => false,
    }
}

pub(super) fn weights_label(w: &crate::analysis::data::Weights) -> String {
    match (&w.source, &w.target, &w.projection) {
        (Some(s), Some(t), Some(p)) => {
            format!("{s}→{t} weights ({p}.{}, recorder {})", w.variable, w.name)
        }
        (_, _, Some(p)) => format!("{p}.{} (recorder {})", w.variable, w.name),
        _ => format!("weights (recorder {})", w.name),
    }
}

pub(super) fn list_cells(cells: &[u32]) -> String {
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

/// Rows of a raster: PF a seeded random subset, others all up to 200, or
/// 200 evenly spread.
pub(super) fn choose_rows(pop: &str, recorded: usize, seed: u64) -> (Vec<u32>, String) {
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
        // Spread evenly, the first and the last cell among them: a map or
        // a ring shows its whole extent (the first 200 of 512 cells hid a
        // bump around cell 256), and the rows' mean rate is the whole
        // population's, not that of one end.
        let last = (recorded - 1) as u64;
        let step = (MAX_RASTER_ROWS - 1) as u64;
        (
            (0..MAX_RASTER_ROWS as u64)
                .map(|k| (k * last / step) as u32)
                .collect(),
            format!("{MAX_RASTER_ROWS} of {recorded} recorded, evenly spread"),
        )
    } else {
        (
            (0..recorded as u32).collect(),
            format!("all {recorded} recorded"),
        )
    }
}

pub(super) fn splitmix(s: &mut u64) -> u64 {
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

pub(super) fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

pub(super) fn fmt_hz(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
