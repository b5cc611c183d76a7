//! Property test of the front end (parser and checker), without extra
//! dependencies: whatever text it is given, `check_text` must not panic, and
//! every diagnostic's span must lie inside the file it names.
//!
//! Two generators, each driven by a small deterministic PRNG (splitmix64):
//! random byte strings mixed with fragments of the language, and mutations
//! (token deletion, duplication, swaps, byte-range deletion, insertion) of
//! every model in `models/` and `tests/check/`.
//!
//! And the rest of the pipeline: mutants that check clean (mostly with
//! numbers changed) must lower, generate both engines' code, build their
//! network and run a few steps on the interpreter, all without a panic (a
//! model the checker accepts that then fails to lower is a failure too).
//!
//! `CBMC_FUZZ_SEED=N` changes the seed; `CBMC_FUZZ_SCALE=K` runs K times as
//! many cases. A failure prints the seed and the offending input.

#[path = "common/models.rs"]
mod models;
#[path = "common/mutants.rs"]
mod mutants;

use cbmc::check::{check_text, Checked};
use cbmc::engine::cpu::{CpuCode, CpuEngine};
use cbmc::record::Recording;
use cbmc::session;
use mutants::Rng;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Once;

const RANDOM_CASES: usize = 2000;
const MUTATIONS_PER_MODEL: usize = 300;

/// Pieces of the language: keywords, names the checker knows, units, numbers
/// (including awkward ones), operators and punctuation.
#[rustfmt::skip]
const FRAGMENTS: &[&str] = &[
    "import", "model", "simulation", "schedule", "neuron", "parameters", "state", "inputs",
    "equations", "update", "spike", "when", "reset", "refractory", "holding", "synapse", "on_pre",
    "on_post", "on_teacher", "every", "bounds", "in", "population", "projection", "gap_junction",
    "on", "record", "protocol", "let", "if", "else", "for", "and", "or", "not", "true", "false",
    "dt", "t", "duration", "seed", "pre", "post", "target", "last_spike", "last_teacher", "spiked",
    "V", "w", "g", "theta", "tau", "EL", "x", "delay", "connect", "teacher", "partners", "coupling",
    "voltage", "trial", "trials", "probe_every", "window", "probe", "off", "exp", "sin", "cos",
    "tanh", "pi", "log", "sqrt", "abs", "min", "max", "clip", "select", "floor", "rand", "randn",
    "normal", "uniform", "poisson", "bernoulli", "spike_times", "rate", "p", "times", "cells",
    "all_to_all", "one_to_one", "fixed_indegree", "fixed_outdegree", "probability", "blocks",
    "replace", "allow_self", "k", "i", "n_cells", "spike_counts", "trace", "weights", "bin", "max",
    "ms", "s", "us", "mV", "V", "Hz", "kHz", "nS", "pF", "nA", "Mohm", "um", "min", "cm2", "µs",
    "/ms", "mV/ms", "1/ms", "%", "0", "1", "2", "-60", "0.5", "1e-3", ".5", "1e", "1e309", "-1e309",
    "1e-400", "99999999999999999999999", "4096", "0.0", "3.", "1e8", "1e12", "2^31", "[exact]",
    "[euler]", "[rk4]", "dV/dt", "dtheta/dt", "dx/dt", "{", "}", "(", ")", "[", "]", "=", "+=",
    "-=", "*=", "/=", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "^", ".", ",", ":", ";",
    "->", "\"", "\"lib/cells.cbm\"", "\"..\"", "\"/\"", "//", "/*", "*/", "#", "\n", " ", "\t",
    "\r\n", "é", "Ω", "😀", "\u{0}",
];

fn silence_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_FUZZ.with(|f| *f.borrow()) {
                let msg = info.to_string();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(msg));
            } else {
                default(info);
            }
        }));
    });
}

thread_local! {
    static IN_FUZZ: RefCell<bool> = const { RefCell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Check one text; Err describes a panic or a span outside its file.
fn check_one(path: &Path, text: &str) -> Result<(), String> {
    guarded(|| spans_inside(&check_text(path, text)))
}

/// Run `f`, turning a panic into Err with the panic's message and place.
fn guarded(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    IN_FUZZ.with(|f| *f.borrow_mut() = true);
    LAST_PANIC.with(|p| *p.borrow_mut() = None);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_FUZZ.with(|f| *f.borrow_mut() = false);
    match result {
        Ok(r) => r,
        Err(_) => Err(format!(
            "the checker panicked: {}",
            LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "(no message)".into())
        )),
    }
}

fn spans_inside(checked: &Checked) -> Result<(), String> {
    for d in &checked.diagnostics {
        let s = d.span;
        if s.file as usize >= checked.sources.len() {
            return Err(format!(
                "{} ({}): span names file {} of {}",
                d.code,
                d.message,
                s.file,
                checked.sources.len()
            ));
        }
        let text = &checked.sources.file(s.file).text;
        if !(s.start <= s.end && s.end <= text.len()) {
            return Err(format!(
                "{} ({}): span {}..{} outside its file of {} bytes",
                d.code,
                d.message,
                s.start,
                s.end,
                text.len()
            ));
        }
        // What the command line does with every diagnostic.
        let _ = checked.sources.line_col(s);
        let _ = checked.sources.to_json(d);
    }
    Ok(())
}

/// FNV-1a: the same on every machine and every Rust version (unlike
/// `DefaultHasher`, which promises neither).
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

fn seed() -> u64 {
    std::env::var("CBMC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00C0_FFEE)
}

fn scale() -> usize {
    std::env::var("CBMC_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn report(failures: &[(String, String, String)], seed: u64, total: usize) {
    if failures.is_empty() {
        return;
    }
    let mut out = format!(
        "{} of {total} fuzz cases failed (CBMC_FUZZ_SEED={seed}); the first ones:\n",
        failures.len()
    );
    for (what, why, text) in failures.iter().take(5) {
        out += &format!(
            "\n--- {what}: {why}\n--- input ({} bytes):\n{text:?}\n",
            text.len()
        );
    }
    panic!("{out}");
}

#[test]
fn random_text_never_panics() {
    silence_panics();
    let seed = seed();
    let mut rng = Rng(seed);
    let path = Path::new("fuzz.cbm");
    let mut failures = Vec::new();
    let n = RANDOM_CASES * scale();
    for case in 0..n {
        let len = rng.below(400);
        let mut bytes: Vec<u8> = Vec::with_capacity(len + 16);
        // Some cases are mostly bytes, some mostly language fragments.
        let fragment_percent = rng.pick(&[10, 50, 90, 100]).to_owned();
        while bytes.len() < len {
            if rng.chance(fragment_percent) {
                bytes.extend_from_slice(rng.pick(FRAGMENTS).as_bytes());
                if rng.chance(60) {
                    bytes.push(b' ');
                }
            } else {
                bytes.push(rng.next() as u8);
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Err(why) = check_one(path, &text) {
            failures.push((format!("random case {case}"), why, text));
        }
    }
    report(&failures, seed, n);
}

/// Rough tokens: runs of name characters, runs of whitespace, and single
/// other characters. Concatenated they give back the text.
fn tokenize(text: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Word,
        Space,
        Other,
    }
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' {
            Class::Word
        } else if c.is_whitespace() {
            Class::Space
        } else {
            Class::Other
        }
    };
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut prev: Option<Class> = None;
    for (i, c) in text.char_indices() {
        let k = class(c);
        if let Some(p) = prev {
            if p != k || k == Class::Other {
                tokens.push(&text[start..i]);
                start = i;
            }
        }
        prev = Some(k);
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

fn mutate(text: &str, rng: &mut Rng) -> String {
    let tokens = tokenize(text);
    // Indices of tokens that are not whitespace.
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|&i| !tokens[i].trim().is_empty())
        .collect();
    if solid.len() < 2 {
        return format!("{text}{}", rng.pick(FRAGMENTS));
    }
    let mut t: Vec<String> = tokens.iter().map(|s| s.to_string()).collect();
    match rng.below(5) {
        0 => {
            // Delete a token.
            let i = *rng.pick(&solid);
            t[i].clear();
        }
        1 => {
            // Duplicate a token.
            let i = *rng.pick(&solid);
            let sep = if rng.chance(50) { " " } else { "" };
            t[i] = format!("{}{sep}{}", t[i], t[i]);
        }
        2 => {
            // Swap two adjacent (non-space) tokens.
            let k = rng.below(solid.len() - 1);
            t.swap(solid[k], solid[k + 1]);
        }
        3 => {
            // Delete a byte range (a short one, usually).
            let bytes = text.as_bytes();
            let a = rng.below(bytes.len());
            let max = if rng.chance(80) { 16 } else { 400 };
            let b = (a + 1 + rng.below(max)).min(bytes.len());
            let mut v = bytes[..a].to_vec();
            v.extend_from_slice(&bytes[b..]);
            return String::from_utf8_lossy(&v).into_owned();
        }
        _ => {
            // Insert a fragment, or a copy of another token, at a token boundary.
            let i = rng.below(t.len() + 1);
            let what = if rng.chance(70) {
                rng.pick(FRAGMENTS).to_string()
            } else {
                t[*rng.pick(&solid)].clone()
            };
            let what = if rng.chance(50) {
                format!(" {what} ")
            } else {
                what
            };
            t.insert(i, what);
        }
    }
    t.concat()
}

fn corpus() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["models", "tests/check"] {
        let mut v: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "cbm"))
            .collect();
        v.sort();
        files.extend(v);
    }
    files
}

#[test]
fn mutated_models_never_panic() {
    silence_panics();
    let seed = seed();
    let files = corpus();
    assert!(files.len() > 1, "no models to mutate");
    let mut failures = Vec::new();
    let mut total = 0;
    for (fi, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        // The unmutated model itself.
        if let Err(why) = check_one(path, &text) {
            failures.push((path.display().to_string(), why, text.clone()));
        }
        let mut rng = Rng(seed ^ (fi as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for case in 0..MUTATIONS_PER_MODEL * scale() {
            // Mostly one mutation (near-valid models reach deep into the
            // checker), sometimes a few.
            let rounds = if rng.chance(75) { 1 } else { 2 + rng.below(3) };
            let mut m = text.clone();
            for _ in 0..rounds {
                m = mutate(&m, &mut rng);
            }
            total += 1;
            if let Err(why) = check_one(path, &m) {
                failures.push((format!("{} mutation {case}", path.display()), why, m));
            }
        }
    }
    report(&failures, seed, total);
}

#[test]
fn harness_reports_panics() {
    silence_panics();
    let r = guarded(|| panic!("boom {}", 42));
    assert!(r.as_ref().is_err_and(|e| e.contains("boom 42")), "{r:?}");
    assert_eq!(guarded(|| Ok(())), Ok(()));
}

#[test]
fn tokenize_gives_back_the_text() {
    for text in [
        "",
        "a",
        "dV/dt = (EL - V)/tau  [exact]\n",
        "x  é😀 1e-3ms;{}",
    ] {
        assert_eq!(tokenize(text).concat(), text);
    }
    let mut rng = Rng(1);
    for _ in 0..100 {
        let m = mutate("neuron N { parameters { a = 1 ms } }", &mut rng);
        assert!(!m.is_empty());
    }
}

// ---- the whole pipeline on valid mutants ------------------------------------

const PIPELINE_MUTATIONS_PER_MODEL: usize = 60;
const MAX_MODEL_BYTES: u64 = 64 << 20;
const MAX_STEPS: u64 = 40;
const MAX_CELL_STEPS: u64 = 2_000_000;

/// Check a text; where it checks clean, lower it, generate both engines'
/// code, build its network and run it for a few steps on the interpreter.
fn run_one(path: &Path, text: &str) -> Result<bool, String> {
    let mut ran = false;
    guarded(|| {
        let checked = check_text(path, text);
        spans_inside(&checked)?;
        let Some(model) = &checked.model else {
            return Ok(());
        };
        let mut ir = cbmc::ir::lower(model)
            .map_err(|e| format!("a model that checked clean failed to lower: {e}"))?;
        if cbmc::network::estimated_bytes(&ir) > MAX_MODEL_BYTES {
            return Ok(());
        }
        // A few steps, fewer for a big network: a mutant that makes a
        // population a million cells tests nothing more by running long
        // (one drawing 1,000 Poisson inputs per cell and step took minutes).
        let cells: u64 = ir.populations.iter().map(|p| p.size as u64).sum();
        ir.steps = ir
            .steps
            .min(MAX_STEPS)
            .min((MAX_CELL_STEPS / cells.max(1)).max(1));
        let _ = cbmc::engine::cpu::native::codegen::generate(&ir);
        let _ = cbmc::engine::cuda::codegen::generate(&ir);
        let Ok(net) = cbmc::network::build(&ir) else {
            return Ok(());
        };
        let gaps = net.gaps.clone();
        let mut engine = CpuEngine::with_code(&ir, net, 1, CpuCode::Interpret);
        let rec = Recording::for_run(&ir, &|q| engine.synapse_pairs(q), &gaps);
        let built = session::Built {
            threads: 1,
            build_seconds: 0.0,
            synapses: 0,
            synapse_bytes: 0,
        };
        let stop = AtomicBool::new(false);
        let r = session::drive(&ir, &mut engine, rec, built, &stop, 0, &mut |_| {})?;
        let _ = r.recording.arrays();
        let _ = cbmc::session::recorders_meta(model);
        ran = true;
        Ok(())
    })?;
    Ok(ran)
}

#[test]
fn valid_mutants_run_without_panics() {
    silence_panics();
    let seed = seed();
    // Each file's mutants come from the seed and the file's name in the
    // repository, not its place in a list: the doc examples are written to
    // a temporary folder, and sorting their paths among the repository's
    // gave each machine (each checkout folder) its own mutants.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, PathBuf)> = corpus()
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(&root).unwrap_or(&p).display().to_string();
            (name, p)
        })
        .collect();
    files.extend(models::valid_model_files());
    files.sort();
    files.dedup_by(|a, b| a.1 == b.1);
    let mut failures = Vec::new();
    let (mut total, mut ran) = (0, 0);
    for (name, path) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let mut rng = Rng(seed ^ stable_hash(name).wrapping_mul(0xD1B5_4A32_D192_ED03));
        for case in 0..PIPELINE_MUTATIONS_PER_MODEL * scale() {
            let m = if rng.chance(70) {
                mutants::mutant(&text, &mut rng).unwrap_or_else(|| mutate(&text, &mut rng))
            } else {
                mutate(&text, &mut rng)
            };
            total += 1;
            let started = std::time::Instant::now();
            let outcome = run_one(path, &m);
            // Not a failure (a big model is slow to build), but worth a look.
            let seconds = started.elapsed().as_secs_f64();
            if seconds > 5.0 {
                eprintln!("slow mutant ({seconds:.1} s): {name} mutation {case}:\n{m:?}");
            }
            match outcome {
                Ok(r) => ran += r as usize,
                Err(why) => failures.push((
                    format!("{} pipeline mutation {case}", path.display()),
                    why,
                    m,
                )),
            }
        }
    }
    eprintln!("{total} mutants, {ran} checked clean and ran");
    assert!(
        ran * 20 >= total,
        "only {ran} of {total} mutants ran: the test tests little"
    );
    report(&failures, seed, total);
}
