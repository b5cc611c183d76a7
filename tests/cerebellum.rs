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
