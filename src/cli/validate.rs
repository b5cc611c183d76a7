//! `cbmc validate FILE`: the experiments that show the inferior olive's
//! ~1 Hz is an emergent property of the olivo-cerebellar loop (issue 4):
//! three seeds; initial PF->PKJ weights scaled by 0.5 and 2 with plasticity,
//! and the same without plasticity. Prints a table and exits 1 if a
//! criterion fails.

use cbmc::ir::{Ir, PopulationKindIr};
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
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Only these experiments (by name), e.g. --only seed1 --only w0.5.
    #[arg(long)]
    only: Vec<String>,
}

struct Experiment {
    name: String,
    sets: Vec<(String, String)>,
    /// Should the IO rate be inside the band?
    regulated: bool,
}

struct Outcome {
    rates: Vec<(String, f64)>,
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
        .map(|v| v * scale)
        .map_err(|_| format!("`{text}` is not a time like 1000s or 500ms"))
}

fn run(args: Args) -> Result<bool, String> {
    let duration = seconds(&args.duration)?;
    let window = seconds(&args.window)?;
    if window > duration {
        return Err("the window is longer than the run".into());
    }
    let off = super::parse_sets(&args.off)?;
    let w = format!("{}.{}", args.projection, args.weight);
    let mut experiments = Vec::new();
    for seed in 1..=3 {
        experiments.push(Experiment {
            name: format!("seed{seed}"),
            sets: vec![("seed".into(), seed.to_string())],
            regulated: true,
        });
    }
    for scale in ["0.5", "2"] {
        experiments.push(Experiment {
            name: format!("w{scale}"),
            sets: vec![(w.clone(), scale.into())],
            regulated: true,
        });
    }
    for scale in ["0.5", "2"] {
        let mut sets = vec![(w.clone(), scale.to_string())];
        sets.extend(off.iter().cloned());
        experiments.push(Experiment {
            name: format!("off-w{scale}"),
            sets,
            regulated: false,
        });
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
        prepared.push(super::run::load(&args.file, &e.sets)?);
    }
    println!(
        "{} experiments of {duration} s each; rates over the last {window} s; {} at a time",
        experiments.len(),
        args.jobs.max(1)
    );
    let jobs = args.jobs.max(1);
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
            println!("  ok");
        } else {
            all_ok = false;
            println!("  FAIL: {}", problems.join("; "));
        }
    }
    println!("criteria: IO in {}-{} Hz over the last {window} s with plasticity, outside without; PKJ 20-150, DCN 5-80, BC 1-100 Hz; V within [-100, 50] mV", BAND.0, BAND.1);
    Ok(all_ok)
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
    Ok(Outcome {
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
