//! The cerebellar models: every variant checks and runs; the loop's
//! regulation in a shortened form (the full 1000 s experiments are
//! `cbmc validate models/cerebellum.cbm`, results in docs/cerebellum.md).

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn models() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("cerebellum") && n.ends_with(".cbm"))
            })
            .collect();
    v.sort();
    v
}

#[test]
fn every_variant_checks_clean_and_runs() {
    let all = models();
    assert!(
        all.len() >= 6,
        "expected the model and its variants, found {all:?}"
    );
    for path in all {
        let checked = cbmc::check::check_file(&path, &[]).unwrap();
        let msgs: Vec<String> = checked
            .diagnostics
            .iter()
            .map(|d| format!("{} {}", d.code, d.message))
            .collect();
        assert!(msgs.is_empty(), "{}: {msgs:#?}", path.display());
        let (p, r) = run_file(&path, &[("duration", "2 s")], 1);
        assert!(r.error.is_none(), "{}: {:?}", path.display(), r.error);
        assert_eq!(r.steps_done, 2000);
        for (i, pop) in p.ir.populations.iter().enumerate() {
            if pop.name != "IO" {
                let spikes: u64 = r.recording.totals[i].iter().sum();
                assert!(spikes > 0, "{}: {} silent", path.display(), pop.name);
            }
        }
    }
}

fn weights(r: &cbmc::session::RunResult) -> (Vec<usize>, Vec<f64>) {
    f64s(r, "weights")
}

#[test]
fn plasticity_moves_weights_only_when_on() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let (_, on) = run_file(&root.join("cerebellum.cbm"), &[("duration", "3 s")], 1);
    let (_, off) = run_file(
        &root.join("cerebellum_no_plasticity.cbm"),
        &[("duration", "3 s")],
        1,
    );
    let (shape, w_on) = weights(&on);
    let (_, w_off) = weights(&off);
    let n = shape[1];
    let first_on = &w_on[..n];
    let last_on = &w_on[w_on.len() - n..];
    assert!(
        first_on.iter().zip(last_on).any(|(a, b)| a != b),
        "plastic weights did not move"
    );
    assert!(
        last_on.iter().all(|w| (0.2..=3.0).contains(w)),
        "weights left their bounds"
    );
    assert!(
        w_off.iter().all(|w| *w == 1.0),
        "weights moved without plasticity"
    );
}

#[test]
fn original_rule_variant_changes_weights_differently() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let (_, cbm) = run_file(&root.join("cerebellum.cbm"), &[("duration", "3 s")], 1);
    let (_, orig) = run_file(
        &root.join("cerebellum_original_rule.cbm"),
        &[("duration", "3 s")],
        1,
    );
    let (_, a) = weights(&cbm);
    let (_, b) = weights(&orig);
    assert_ne!(a, b);
    assert!(
        b.iter().any(|w| *w != 1.0),
        "the original rule never fired in 3 s"
    );
}

/// IO rate (Hz) over the last `window` seconds of a run of `duration`.
fn io_rate_at_end(sets: &[(&str, &str)], duration: f64, window: f64) -> (f64, Vec<(String, f64)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/cerebellum.cbm");
    let mut all: Vec<(String, String)> = sets
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    all.push(("duration".into(), format!("{duration} s")));
    let p = cbmc::session::prepare(&path, &all)
        .ok()
        .expect("model checks");
    let mark = p.ir.steps - (window / p.ir.dt).round() as u64;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let r = cbmc::session::run_cpu_with(&p.ir, 1, &stop, 0, &mut |_| {}, &mut |rec| {
        rec.mark_after(mark)
    })
    .unwrap();
    let rates: Vec<(String, f64)> =
        p.ir.populations
            .iter()
            .map(|q| q.name.clone())
            .zip(r.recording.window_rates().unwrap())
            .collect();
    let io = rates.iter().find(|(n, _)| n == "IO").unwrap().1;
    (io, rates)
}

/// (name, --set overrides, duration in s, should the IO be regulated?)
type Experiment<'a> = (&'a str, Vec<(&'a str, &'a str)>, f64, bool);

/// The shortened form of `cbmc validate` (issue 4): the loop brings the IO
/// into 0.7-1.3 Hz within 200 s from the default weights and from weights
/// scaled by 0.5 and 2 (measured over 200-300 s); without plasticity the
/// same starts stay outside the band. The full 1000 s experiments are in
/// docs/cerebellum.md.
#[test]
fn io_settles_near_1_hz_because_of_the_loop() {
    let runs: Vec<Experiment> = vec![
        ("default", vec![], 300.0, true),
        ("w x 0.5", vec![("pf_pkj.w", "0.5")], 300.0, true),
        ("w x 2", vec![("pf_pkj.w", "2")], 300.0, true),
        (
            "off, w x 0.5",
            vec![
                ("pf_pkj.w", "0.5"),
                ("pf_pkj.ltd", "0"),
                ("pf_pkj.ltp", "0"),
            ],
            30.0,
            false,
        ),
        (
            "off, w x 2",
            vec![("pf_pkj.w", "2"), ("pf_pkj.ltd", "0"), ("pf_pkj.ltp", "0")],
            30.0,
            false,
        ),
    ];
    let results: Vec<(f64, Vec<(String, f64)>)> = std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(_, sets, duration, _)| {
                s.spawn(move || io_rate_at_end(sets, *duration, duration / 3.0))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut failures = Vec::new();
    for ((name, _, _, regulated), (io, rates)) in runs.iter().zip(&results) {
        let inside = (0.7..=1.3).contains(io);
        eprintln!("{name}: IO {io:.3} Hz; {rates:?}");
        if inside != *regulated {
            failures.push(format!(
                "{name}: IO {io:.3} Hz is {} the 0.7-1.3 Hz band",
                if inside { "inside" } else { "outside" }
            ));
        }
        if *regulated {
            for (pop, lo, hi) in [("PKJ", 20.0, 150.0), ("DCN", 5.0, 80.0), ("BC", 1.0, 100.0)] {
                let r = rates.iter().find(|(n, _)| n == pop).unwrap().1;
                if r < lo || r > hi {
                    failures.push(format!("{name}: {pop} {r:.1} Hz outside {lo}-{hi} Hz"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
