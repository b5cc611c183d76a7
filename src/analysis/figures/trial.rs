//! A population's rate within the trial of a protocol, averaged over the
//! trials (a peri-stimulus time histogram), with the signals' windows
//! shaded: the usual trials, and the probe trials apart.

use super::*;
use crate::analysis::data::SignalMeta;

/// The rate within the trial: bin `b` covers [b bin, (b + 1) bin) of it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRate {
    pub bin: f64,
    /// Spikes per cell per second in each bin, over the usual trials.
    pub usual: Vec<f64>,
    pub usual_trials: usize,
    /// The same over the probe trials (empty where there are none).
    pub probe: Vec<f64>,
    pub probe_trials: usize,
}

/// The protocol the figure follows: the first signal's trials (a model
/// whose protocols have other trial lengths shows the first one's).
pub(super) fn protocol(d: &RunData) -> Option<&SignalMeta> {
    d.meta.signals.first().filter(|s| s.trial > 0.0)
}

/// Complete trials of the run, and whether the k-th (from 0) is a probe.
pub(super) fn trials(d: &RunData, p: &SignalMeta) -> (usize, impl Fn(usize) -> bool) {
    let done = (d.duration() / p.trial * (1.0 + 1e-9)).floor() as usize;
    let n = p.trials.map_or(done, |t| done.min(t as usize));
    let every = p.probe_every.filter(|&k| k > 0).map(|k| k as usize);
    (n, move |k: usize| {
        every.is_some_and(|e| (k + 1).is_multiple_of(e))
    })
}

/// `x / unit` as a whole number, where it is one (to a millionth).
fn whole(x: f64, unit: f64) -> Option<usize> {
    let r = (x / unit).round();
    (r >= 1.0 && (x / unit - r).abs() <= 1e-6).then_some(r as usize)
}

/// Units of a trial of `per` units joined into bins: the largest divisor
/// of `per` up to a fiftieth of it (one unit for short trials), so that
/// every bin has the same width.
fn joined(per: usize) -> usize {
    (1..=(per / 50).max(1))
        .rev()
        .find(|g| per.is_multiple_of(*g))
        .unwrap_or(1)
}

/// The rate within the trial of `src`'s spikes, or None where it has no
/// complete trial or its bins do not divide the trial (counts in bins of
/// 300 ms in a trial of 1 s). Everything is placed by whole steps (or
/// count bins), not by dividing times: over a long run the rounding of a
/// time put the first bin of a trial in the one before.
pub fn trial_rate(d: &RunData, src: SpikeSrc, p: &SignalMeta) -> Option<TrialRate> {
    let (n, is_probe) = trials(d, p);
    if n == 0 {
        return None;
    }
    // The unit spikes are placed in (a step, or a count bin), units per
    // trial, units per bin of the figure, and the cells.
    let (unit, cells) = match src {
        SpikeSrc::Times(k) => {
            let t = &d.times[k];
            let cells = t
                .cells
                .unwrap_or_else(|| t.i.iter().max().map_or(1, |m| *m as usize + 1));
            (if d.meta.dt > 0.0 { d.meta.dt } else { 1e-3 }, cells)
        }
        SpikeSrc::Counts(k) => (d.counts[k].bin, d.counts[k].data.ncols()),
    };
    let per = whole(p.trial, unit)?;
    if matches!(src, SpikeSrc::Counts(_)) && per < 4 {
        return None;
    }
    let g = joined(per);
    let bins = per / g;
    let (mut usual, mut probe) = (vec![0.0; bins], vec![0.0; bins]);
    let mut add = |u: usize, spikes: f64| {
        let k = u / per;
        if k < n {
            let to = if is_probe(k) { &mut probe } else { &mut usual };
            to[(u % per) / g] += spikes;
        }
    };
    match src {
        SpikeSrc::Times(k) => {
            for &t in &d.times[k].t {
                add((t / unit).round().max(0.0) as usize, 1.0);
            }
        }
        SpikeSrc::Counts(k) => {
            for (r, row) in d.counts[k].data.outer_iter().enumerate() {
                add(r, row.iter().map(|&x| f64::from(x)).sum());
            }
        }
    }
    let bin = unit * g as f64;
    let probe_trials = (0..n).filter(|&k| is_probe(k)).count();
    let usual_trials = n - probe_trials;
    let norm = |v: &mut Vec<f64>, trials: usize| {
        if trials == 0 {
            v.clear();
        }
        for x in v.iter_mut() {
            *x /= (cells.max(1) * trials) as f64 * bin;
        }
    };
    norm(&mut usual, usual_trials);
    norm(&mut probe, probe_trials);
    Some(TrialRate {
        bin,
        usual,
        usual_trials,
        probe,
        probe_trials,
    })
}

/// The mean of weights recorder `idx`'s snapshot at the end of each
/// complete trial (below): (trial number from 1, whether it is a probe,
/// the mean in SI units), for the trials that have one. Placed by whole
/// steps.
pub fn weights_by_trial(d: &RunData, idx: usize) -> Option<Vec<(usize, bool, f64)>> {
    let p = protocol(d)?;
    let (n, is_probe) = trials(d, p);
    let dt = if d.meta.dt > 0.0 { d.meta.dt } else { 1e-3 };
    let per = whole(p.trial, dt)?;
    let w = d.weights.get(idx)?;
    // A snapshot labelled with step s holds the state at the end of step s.
    // Trial k's end is its last snapshot in the second half of the trial;
    // failing that (snapshots as far apart as trials, or farther), the one
    // of the next trial's first step, one step after its end.
    let steps: Vec<usize> =
        w.t.iter()
            .map(|&t| (t / dt).round().max(0.0) as usize)
            .collect();
    let mut last: Vec<Option<usize>> = vec![None; n];
    for (k, end) in last.iter_mut().enumerate() {
        let (start, stop) = (k * per, (k + 1) * per);
        let within = steps
            .iter()
            .rposition(|&s| s >= start + per / 2 && s < stop);
        *end = within.or_else(|| steps.iter().position(|&s| s == stop));
    }
    let out: Vec<(usize, bool, f64)> = last
        .iter()
        .enumerate()
        .filter_map(|(k, s)| {
            let row = w.data.row((*s)?);
            let mean = row.iter().sum::<f64>() / row.len().max(1) as f64;
            Some((k + 1, is_probe(k), mean))
        })
        .collect();
    (out.len() >= 2).then_some(out)
}

/// Light fills for the signals' windows, one per signal.
const WINDOW_FILLS: [RGBColor; 4] = [
    RGBColor(255, 236, 204),
    RGBColor(214, 234, 248),
    RGBColor(220, 240, 220),
    RGBColor(236, 226, 244),
];

pub(super) fn draw_trial<DB: DrawingBackend>(
    d: &RunData,
    body: &DrawingArea<DB, Shift>,
    pop: &str,
    r: &TrialRate,
) -> Result<Drawn, String> {
    let Some(p) = protocol(d) else {
        return Err("the run has no protocol".into());
    };
    let max = r.usual.iter().chain(&r.probe).copied().fold(0.0, f64::max);
    let hi = if max > 0.0 { max * 1.35 } else { 1.0 };
    let mut c = build(body, None, 0.0..p.trial, 0.0..hi, 78)?;
    grid(&mut c, "time within the trial (s)", "rate per cell (Hz)")?;
    // The windows of the signals of this protocol, under the data.
    let windows = d
        .meta
        .signals
        .iter()
        .filter(|s| (s.trial - p.trial).abs() <= 1e-9 * p.trial);
    for (k, s) in windows.enumerate() {
        let fill = WINDOW_FILLS[k % WINDOW_FILLS.len()];
        let probe = if s.silenced_in_probe {
            " (off in probes)"
        } else {
            ""
        };
        c.draw_series(std::iter::once(Rectangle::new(
            [(s.start, 0.0), (s.end.min(p.trial), hi)],
            fill.filled(),
        )))
        .map_err(de)?
        .label(format!(
            "{}: {} to {}{probe}",
            s.name,
            fmt_time(s.start),
            fmt_time(s.end)
        ))
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], fill.filled()));
    }
    let steps = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .flat_map(|(b, &x)| [(b as f64 * r.bin, x), ((b + 1) as f64 * r.bin, x)])
            .collect()
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if !r.usual.is_empty() {
        c.draw_series(line(steps(&r.usual), DATA.stroke_width(2)))
            .map_err(de)?
            .label(format!(
                "{} trial{}, {} bins",
                r.usual_trials,
                plural(r.usual_trials),
                fmt_time(r.bin)
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], DATA.stroke_width(2)));
    }
    if !r.probe.is_empty() {
        c.draw_series(line(steps(&r.probe), ACCENT.stroke_width(2)))
            .map_err(de)?
            .label(format!(
                "{} probe trial{}",
                r.probe_trials,
                plural(r.probe_trials)
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ACCENT.stroke_width(2)));
    }
    let empty = max <= 0.0;
    if empty {
        message(&c, &format!("no spikes of {pop} in its complete trials"))?;
    }
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(Drawn {
        plot_area: area_of(&c),
        empty,
    })
}
