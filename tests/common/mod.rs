//! Helpers shared by the integration tests.
#![allow(dead_code)]

use cbmc::record::NpzArray;
use cbmc::session::{self, PrepareError, RunResult};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// A fresh temporary folder under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// `text` written as `model.cbm` in a fresh temporary folder `name`.
pub fn model_file(name: &str, text: &str) -> PathBuf {
    let path = temp_dir(name).join("model.cbm");
    std::fs::write(&path, text).expect("write model");
    path
}

/// Check, lower and run a model on the CPU engine.
pub fn run_file(
    path: &Path,
    sets: &[(&str, &str)],
    threads: usize,
) -> (session::Prepared, RunResult) {
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let prepared = match session::prepare(path, &sets) {
        Ok(p) => p,
        Err(PrepareError::Invalid(c)) => {
            let msgs: Vec<String> = c
                .diagnostics
                .iter()
                .map(|d| format!("{} {}", d.code, d.message))
                .collect();
            panic!("model {} has errors: {msgs:#?}", path.display())
        }
        Err(PrepareError::Io(e)) | Err(PrepareError::Lowering(e)) => panic!("{e}"),
    };
    let stop = AtomicBool::new(false);
    let result = session::run_cpu(&prepared.ir, threads, &stop, 0, &mut |_| {}).expect("run");
    (prepared, result)
}

pub fn run_text(name: &str, text: &str) -> RunResult {
    let dir = temp_dir(name);
    let path = dir.join(format!("{name}.cbm"));
    std::fs::write(&path, text).expect("write model");
    run_file(&path, &[], 1).1
}

/// A recorded f64 array by key.
pub fn f64s(r: &RunResult, key: &str) -> (Vec<usize>, Vec<f64>) {
    for (k, a) in r.recording.arrays() {
        if k == key {
            if let NpzArray::F64 { shape, data } = a {
                return (shape, data.into_owned());
            }
        }
    }
    panic!("no f64 array `{key}`")
}

pub fn u32s(r: &RunResult, key: &str) -> Vec<u32> {
    for (k, a) in r.recording.arrays() {
        if k == key {
            if let NpzArray::U32 { data, .. } = a {
                return data.into_owned();
            }
        }
    }
    panic!("no u32 array `{key}`")
}

pub fn u16s(r: &RunResult, key: &str) -> (Vec<usize>, Vec<u16>) {
    for (k, a) in r.recording.arrays() {
        if k == key {
            if let NpzArray::U16 { shape, data } = a {
                return (shape, data.into_owned());
            }
        }
    }
    panic!("no u16 array `{key}`")
}

/// Total spikes per cell of a population over the run.
pub fn totals(r: &RunResult, pop: usize) -> Vec<u64> {
    r.recording.totals[pop].clone()
}
