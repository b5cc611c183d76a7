//! `cbmc validate FILE`: the experiments that show the inferior olive's
//! ~1 Hz is an emergent property of the olivo-cerebellar loop (issue 4):
//! three seeds; initial PF->PKJ weights scaled by 0.5 and 2 with plasticity,
//! and the same without plasticity. Prints a table and exits 1 if a
//! criterion fails.

use cbmc::ir::{BinOp, Expr, InitIr, Ir, PopulationKindIr};
use cbmc::session;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

#[derive(clap::Args)]
pub struct Args {
    /// The model file.
    file: PathBuf,
    /// Simulated duration of each experiment.
    #[arg(long, default_value = "1000s")]
    duration: String,
    /// Window at the end of each run over which rates are measured.
    #[arg(long, default_value = "100s")]
    window: String,
    /// The plastic projection whose initial weights are scaled.
    #[arg(long, default_value = "pf_pkj")]
    projection: String,
    /// Its weight variable.
    #[arg(long, default_value = "w")]
    weight: String,
    /// Settings that turn plasticity off (repeatable).
    #[arg(long = "off", default_values_t = ["pf_pkj.ltd=0".to_string(), "pf_pkj.ltp=0".to_string()])]
    off: Vec<String>,
    /// Experiments run at once (one core each).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: u64,
    /// Only these experiments (by name): seed1, seed2, seed3, w0.5, w2,
    /// off-w0.5, off-w2 (repeatable).
    #[arg(long)]
    only: Vec<String>,
}

struct Experiment {
    name: String,
    sets: Vec<(String, String)>,
    /// The factor the plastic projection's initial weights are multiplied by.
    weight_scale: Option<f64>,
    /// Should the IO rate be inside the band?
    regulated: bool,
}

struct Outcome {
    rates: Vec<(String, f64)>,
    /// Per neuron population: cells silent in the window, highest cell rate.
    cells: Vec<(String, usize, f64)>,
    v_range: Vec<(String, f64, f64)>,
}

const BAND: (f64, f64) = (0.7, 1.3);

pub fn main(args: Args) -> ExitCode {
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn seconds(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (num, scale) = if let Some(x) = t.strip_suffix("ms") {
        (x, 1e-3)
    } else if let Some(x) = t.strip_suffix('s') {
        (x, 1.0)
    } else {
        return Err(format!("`{text}` is not a time like 1000s or 500ms"));
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v * scale)
        .ok_or_else(|| format!("`{text}` is not a time like 1000s or 500ms"))
}

fn run(args: Args) -> Result<bool, String> {
    let duration = seconds(&args.duration)?;
    let window = seconds(&args.window)?;
    if window <= 0.0 {
        return Err("the window must be longer than zero".into());
    }
    if window > duration {
        return Err("the window is longer than the run".into());
    }
    let off = super::parse_sets(&args.off)?;
    let mut experiments = Vec::new();
    for seed in 1..=3 {
        experiments.push(Experiment {
            name: format!("seed{seed}"),
            sets: vec![("seed".into(), seed.to_string())],
            weight_scale: None,
            regulated: true,
        });
    }
    for (plastic, prefix) in [(true, "w"), (false, "off-w")] {
        for scale in [0.5, 2.0] {
            experiments.push(Experiment {
                name: format!("{prefix}{scale}"),
                sets: if plastic { vec![] } else { off.clone() },
                weight_scale: Some(scale),
                regulated: plastic,
            });
        }
    }
    if let Some(unknown) = args
        .only
        .iter()
        .find(|n| !experiments.iter().any(|e| &e.name == *n))
    {
        let names: Vec<&str> = experiments.iter().map(|e| e.name.as_str()).collect();
        return Err(format!(
            "no experiment named `{unknown}`; the experiments are {}",
            names.join(", ")
        ));
    }
    if !args.only.is_empty() {
        experiments.retain(|e| args.only.contains(&e.name));
    }
    for e in experiments.iter_mut() {
        e.sets.push(("duration".into(), format!("{duration} s")));
    }
    // Check every experiment's model before spending time on any run.
    let mut prepared = Vec::new();
    for e in &experiments {
        let mut p = super::load(&args.file, &e.sets)?;
        if prepared.is_empty() {
            measurable(&p.ir, window, &args.file)?;
        }
        if let Some(scale) = e.weight_scale {
            scale_initial(&mut p.ir, &args.projection, &args.weight, scale)?;
        }
        prepared.push(p);
    }
    println!(
        "{} experiment{} of {duration} s each; rates over the last {window} s; {} at a time",
        experiments.len(),
        if experiments.len() == 1 { "" } else { "s" },
        args.jobs
    );
    let jobs = args.jobs as usize;
    let mut outcomes: Vec<Option<Result<Outcome, String>>> =
        (0..experiments.len()).map(|_| None).collect();
    let mut next = 0;
    while next < experiments.len() {
        let batch: Vec<usize> = (next..(next + jobs).min(experiments.len())).collect();
        next += batch.len();
        std::thread::scope(|s| {
            let prepared = &prepared;
            let handles: Vec<_> = batch
                .iter()
                .map(|&i| (i, s.spawn(move || one(&prepared[i].ir, window))))
                .collect();
            for (i, h) in handles {
                outcomes[i] = Some(h.join().unwrap_or_else(|_| Err("the run crashed".into())));
            }
        });
    }
    let pops: Vec<String> = prepared[0]
        .ir
        .populations
        .iter()
        .map(|p| p.name.clone())
        .collect();
    print!("{:<10}", "run");
    for p in &pops {
        print!(" {p:>8}");
    }
    println!("  verdict");
    let mut all_ok = true;
    let mut per_cell = Vec::new();
    for (e, o) in experiments.iter().zip(outcomes) {
        let o = match o {
            Some(Ok(o)) => o,
            Some(Err(err)) => {
                println!("{:<10} failed: {err}", e.name);
                all_ok = false;
                continue;
            }
            None => continue,
        };
        per_cell.push((e.name.clone(), o.cells.clone()));
        print!("{:<10}", e.name);
        for (_, r) in &o.rates {
            print!(" {r:>8.3}");
        }
        let mut problems = Vec::new();
        let rate = |name: &str| o.rates.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
        if let Some(io) = rate("IO") {
            let inside = io >= BAND.0 && io <= BAND.1;
            if inside != e.regulated {
                problems.push(if e.regulated {
                    format!("IO {io:.3} Hz outside {}-{} Hz", BAND.0, BAND.1)
                } else {
                    format!("IO {io:.3} Hz inside the band without plasticity")
                });
            }
        }
        if e.regulated {
            for (name, lo, hi) in [("PKJ", 20.0, 150.0), ("DCN", 5.0, 80.0), ("BC", 1.0, 100.0)] {
                if let Some(r) = rate(name) {
                    if r < lo || r > hi {
                        problems.push(format!("{name} {r:.1} Hz outside {lo}-{hi} Hz"));
                    }
                }
            }
            for (name, lo, hi) in &o.v_range {
                if *lo < -0.1 || *hi > 0.05 {
                    problems.push(format!("{name}.V in [{:.1}, {:.1}] mV", lo * 1e3, hi * 1e3));
                }
            }
        }
        if problems.is_empty() {
            println!(
                "  {}",
                if e.regulated {
                    "ok"
                } else {
                    "ok (unregulated)"
                }
            );
        } else {
            all_ok = false;
            println!("  FAIL: {}", problems.join("; "));
        }
    }
    // The criteria are about population means; a mean can hide cells that
    // fell silent or run away, so show them.
    if let Some((_, first)) = per_cell.first() {
        println!("per cell over the last {window} s: silent cells / highest rate (Hz)");
        print!("{:<10}", "run");
        for (name, _, _) in first {
            print!(" {name:>14}");
        }
        println!();
        for (name, cells) in &per_cell {
            print!("{name:<10}");
            for (_, silent, max) in cells {
                print!(" {:>14}", format!("{silent} / {max:.1}"));
            }
            println!();
        }
    }
    println!("criteria: IO in {}-{} Hz over the last {window} s with plasticity, outside without; PKJ 20-150, DCN 5-80, BC 1-100 Hz; V within [-100, 50] mV", BAND.0, BAND.1);
    Ok(all_ok)
}

/// Can the experiments measure what they are about: an inferior olive,
/// over a window of at least one step?
fn measurable(ir: &Ir, window: f64, file: &std::path::Path) -> Result<(), String> {
    if !ir.populations.iter().any(|p| p.name == "IO") {
        return Err(format!(
            "{}: validate measures the inferior olive's rate, and the model has no population `IO`",
            file.display()
        ));
    }
    if window < ir.dt {
        return Err(format!(
            "the window ({window} s) is shorter than one step ({} s)",
            ir.dt
        ));
    }
    Ok(())
}

/// Multiply the initial value of `projection.var` by `scale` (> 0): a
/// constant, an expression, or a distribution (its parameters scaled, which
/// scales every draw).
fn scale_initial(ir: &mut Ir, projection: &str, var: &str, scale: f64) -> Result<(), String> {
    let q = ir
        .projections
        .iter_mut()
        .find(|q| q.name == projection)
        .ok_or_else(|| format!("the model has no projection `{projection}` (--projection)"))?;
    let v = q.vars.iter_mut().find(|v| v.name == var).ok_or_else(|| {
        format!("projection `{projection}` has no synapse variable `{var}` (--weight)")
    })?;
    v.init = match &v.init {
        InitIr::Const(x) => InitIr::Const(x * scale),
        InitIr::Expr(e) => InitIr::Expr(Expr::Binary(
            BinOp::Mul,
            Box::new(e.clone()),
            Box::new(Expr::Const(scale)),
        )),
        InitIr::Normal {
            mean,
            sd,
            low,
            high,
        } => InitIr::Normal {
            mean: mean * scale,
            sd: sd * scale,
            low: low * scale,
            high: high * scale,
        },
        InitIr::Uniform { low, high } => InitIr::Uniform {
            low: low * scale,
            high: high * scale,
        },
        // Only a population's hidden index variable starts this way.
        InitIr::CellIndex => {
            return Err(format!(
                "synapse variable `{var}` of `{projection}` cannot be scaled (--weight)"
            ))
        }
    };
    Ok(())
}

fn one(ir: &Ir, window: f64) -> Result<Outcome, String> {
    let stop = AtomicBool::new(false);
    let mark = ir.steps.saturating_sub((window / ir.dt).round() as u64);
    let mut tracked = Vec::new();
    let r = session::run_cpu_with(ir, 1, &stop, 0, &mut |_| {}, &mut |rec| {
        rec.mark_after(mark);
        for (p, pop) in ir.populations.iter().enumerate() {
            if let PopulationKindIr::Neuron(n) = &pop.kind {
                if let Some(v) = n.vars.iter().position(|v| v.name == "V") {
                    rec.track_range(p, v);
                    tracked.push(p);
                }
            }
        }
    })?;
    if let Some(e) = &r.error {
        return Err(e.to_string());
    }
    let rates = r.recording.window_rates().ok_or("no rates recorded")?;
    let per_cell = r.recording.window_cell_rates().ok_or("no rates recorded")?;
    let cells = ir
        .populations
        .iter()
        .zip(&per_cell)
        .filter(|(p, _)| matches!(p.kind, PopulationKindIr::Neuron(_)))
        .map(|(p, r)| {
            let silent = r.iter().filter(|&&x| x == 0.0).count();
            (
                p.name.clone(),
                silent,
                r.iter().copied().fold(0.0, f64::max),
            )
        })
        .collect();
    Ok(Outcome {
        cells,
        rates: ir
            .populations
            .iter()
            .map(|p| p.name.clone())
            .zip(rates)
            .collect(),
        v_range: tracked
            .iter()
            .filter_map(|&p| {
                r.recording
                    .range(p)
                    .map(|(lo, hi)| (ir.populations[p].name.clone(), lo, hi))
            })
            .collect(),
    })
}
