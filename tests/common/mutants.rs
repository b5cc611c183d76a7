//! Valid models made by changing numbers in the valid models (a rate to 0, a
//! time constant to 1e-9, a count to 65536, a voltage to -0 ...), or words
//! for others of their kind (`[exact]` for `[rk4]`, `ms` for `s`, `>=` for
//! `<`, `fixed_indegree` for `fixed_outdegree`, `+` for `-`, a name for
//! another name), or lines left out or written twice: models the
//! checker accepts and that reach corners of the engines the hand-written
//! models do not. Deterministic: a seed gives the same mutants.
#![allow(dead_code)]

use super::models::valid_model_files;
use cbmc::ir::Ir;

/// splitmix64: tiny, fast, good enough to drive a fuzzer.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Numbers a model may well be given: zeros of both signs, one, tiny, huge,
/// negative, just past a power of two.
pub const NUMBERS: &[&str] = &[
    "0", "-0", "1", "2", "3", "7", "0.5", "1e-9", "1e9", "65536", "1000000", "-1", "-5", "0.001",
    "2.5", "100", "4097", "1e300", "31", "33", "64",
];

/// The byte ranges of the numeric literals of `text` (digits, a decimal
/// point, an exponent; not the unit after them, not digits inside names).
pub fn number_ranges(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        // An exponent: e, an optional sign, digits.
        if i + 1 < b.len() && b[i] == b'e' {
            let mut j = i + 1;
            if b[j] == b'-' || b[j] == b'+' {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_digit() {
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                i = j;
            }
        }
        out.push((s, i));
        // Skip the rest of a word (a unit glued on, `2x`).
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
    }
    out
}

/// Words that can stand for one another in a valid model: integration
/// methods, units of one dimension, comparisons, wiring rules.
const SWAPS: &[&[&str]] = &[
    &["[exact]", "[euler]", "[rk4]"],
    &["ms", "s", "us"],
    &["mV", "V"],
    &["Hz", "kHz"],
    &[">=", ">", "<=", "<"],
    &["min", "max"],
    &["fixed_indegree", "fixed_outdegree"],
    &["all_to_all()", "one_to_one()"],
];

/// Where `word` stands alone in `text` (not inside a longer name or operator).
fn occurrences(text: &str, word: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let inner = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let op = |c: u8| b"<>=!".contains(&c);
    text.match_indices(word)
        .map(|(i, _)| i)
        .filter(|&i| {
            let j = i + word.len();
            let (first, last) = (word.as_bytes()[0], word.as_bytes()[word.len() - 1]);
            let before_ok =
                i == 0 || !((inner(first) && inner(b[i - 1])) || (op(first) && op(b[i - 1])));
            let after_ok =
                j >= b.len() || !((inner(last) && inner(b[j])) || (op(last) && op(b[j])));
            before_ok && after_ok
        })
        .collect()
}

/// `text` with one word replaced by another of its kind (see `SWAPS`).
pub fn swap_mutant(text: &str, rng: &mut Rng) -> Option<String> {
    let mut sites = Vec::new();
    for class in SWAPS {
        for word in class.iter() {
            for i in occurrences(text, word) {
                sites.push((i, *word, *class));
            }
        }
    }
    if sites.is_empty() {
        return None;
    }
    let (i, word, class) = *rng.pick(&sites);
    let other = rng.pick(class);
    Some(format!(
        "{}{}{}",
        &text[..i],
        other,
        &text[i + word.len()..]
    ))
}

/// `text` without one of its lines (a recorder, a reset, a `bounds`, a
/// projection's delay or teacher, an equation ...).
pub fn line_mutant(text: &str, rng: &mut Rng) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 2 {
        return None;
    }
    let drop = rng.below(lines.len());
    let kept: Vec<&str> = (0..lines.len())
        .filter(|&i| i != drop)
        .map(|i| lines[i])
        .collect();
    Some(kept.join("\n") + "\n")
}

/// `text` with one of its lines written twice (a deposit, a reset, a
/// recorder, an equation: most give a "defined twice" error, some run).
pub fn duplicate_line_mutant(text: &str, rng: &mut Rng) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return None;
    }
    let twice = rng.below(lines.len());
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        if i == twice {
            out.push_str(line);
            out.push('\n');
        }
    }
    Some(out)
}

/// The byte ranges of the names in `text` (a letter or `_`, then letters,
/// digits and `_`), but not a unit glued to a number (`5ms`).
pub fn name_ranges(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !word(b[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len() && word(b[i]) {
            i += 1;
        }
        let glued_to_number = s > 0 && (b[s - 1].is_ascii_digit() || b[s - 1] == b'.');
        if !b[s].is_ascii_digit() && !glued_to_number {
            out.push((s, i));
        }
    }
    out
}

/// `text` with one name replaced by another name of the same text: a
/// projection from another population, a recorder of another variable, an
/// equation reading another state (mostly errors, which the checker must
/// report without a panic; the valid ones wire or read things differently).
pub fn name_mutant(text: &str, rng: &mut Rng) -> Option<String> {
    let ranges = name_ranges(text);
    if ranges.len() < 2 {
        return None;
    }
    let (a, b) = *rng.pick(&ranges);
    let (c, d) = *rng.pick(&ranges);
    Some(format!("{}{}{}", &text[..a], &text[c..d], &text[b..]))
}

/// `text` with one declaration's value dropped for its unit alone
/// (`tau = 5 ms` becomes `tau: ms`): a parameter every population must then
/// give, a state starting at zero, or an error.
pub fn drop_value_mutant(text: &str, rng: &mut Rng) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let sites: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let w: Vec<&str> = lines[i].split_whitespace().collect();
            w.len() == 4
                && w[1] == "="
                && w[2].parse::<f64>().is_ok()
                && w[3].chars().all(|c| c.is_ascii_alphanumeric() || c == '/')
        })
        .collect();
    if sites.is_empty() {
        return None;
    }
    let at = *rng.pick(&sites);
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i == at {
            let w: Vec<&str> = line.split_whitespace().collect();
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push_str(&format!("{indent}{}: {}", w[0], w[3]));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Some(out)
}

/// Arithmetic operators written with spaces around them, in pairs that keep
/// an expression's units (`+`/`-`) or change them (`*`/`/`).
const OPERATOR_SWAPS: &[(&str, &str)] = &[
    (" + ", " - "),
    (" - ", " + "),
    (" * ", " / "),
    (" / ", " * "),
];

/// `text` with one spaced arithmetic operator swapped for its pair.
pub fn operator_mutant(text: &str, rng: &mut Rng) -> Option<String> {
    let sites: Vec<(usize, &str, &str)> = OPERATOR_SWAPS
        .iter()
        .flat_map(|&(from, to)| text.match_indices(from).map(move |(i, _)| (i, from, to)))
        .collect();
    if sites.is_empty() {
        return None;
    }
    let (i, from, to) = *rng.pick(&sites);
    Some(format!("{}{}{}", &text[..i], to, &text[i + from.len()..]))
}

/// `text` with one to three changes: numbers replaced by others (mostly),
/// words by others of their kind, operators by their pair, names by other
/// names, or a line left out or written twice.
pub fn mutant(text: &str, rng: &mut Rng) -> Option<String> {
    let mut m = text.to_string();
    for _ in 0..1 + rng.below(3) {
        let roll = rng.below(100);
        m = if roll < 50 {
            number_mutant_once(&m, rng)?
        } else if roll < 70 {
            swap_mutant(&m, rng).or_else(|| number_mutant_once(&m, rng))?
        } else if roll < 78 {
            operator_mutant(&m, rng).or_else(|| number_mutant_once(&m, rng))?
        } else if roll < 86 {
            name_mutant(&m, rng)?
        } else if roll < 91 {
            line_mutant(&m, rng)?
        } else if roll < 96 {
            duplicate_line_mutant(&m, rng)?
        } else {
            drop_value_mutant(&m, rng).or_else(|| number_mutant_once(&m, rng))?
        };
    }
    Some(m)
}

fn number_mutant_once(text: &str, rng: &mut Rng) -> Option<String> {
    let ranges = number_ranges(text);
    if ranges.is_empty() {
        return None;
    }
    let (a, b) = *rng.pick(&ranges);
    Some(format!("{}{}{}", &text[..a], rng.pick(NUMBERS), &text[b..]))
}

/// A valid mutant: its name, its text and its IR (at most `max_steps`
/// steps, at most `max_bytes` of network by `network::estimated_bytes`).
pub struct Mutant {
    pub name: String,
    pub text: String,
    pub ir: Ir,
}

/// `n` valid mutants of the valid models (fewer if too few mutants check).
pub fn valid_mutants(seed: u64, n: usize, max_steps: u64, max_bytes: u64) -> Vec<Mutant> {
    let files: Vec<(String, String, std::path::PathBuf)> = valid_model_files()
        .into_iter()
        .filter_map(|(name, path)| Some((name, std::fs::read_to_string(&path).ok()?, path)))
        .collect();
    assert!(!files.is_empty(), "no models to mutate");
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for tried in 0..n * 50 {
        if out.len() == n {
            break;
        }
        let (name, text, path) = rng.pick(&files);
        let Some(m) = mutant(text, &mut rng) else {
            continue;
        };
        let checked = cbmc::check::check_text(path, &m);
        let Some(model) = &checked.model else {
            continue;
        };
        let Ok(mut ir) = cbmc::ir::lower(model) else {
            continue;
        };
        if cbmc::network::estimated_bytes(&ir) > max_bytes || cbmc::network::build(&ir).is_err() {
            continue;
        }
        ir.steps = ir.steps.min(max_steps);
        out.push(Mutant {
            name: format!("{name} (mutant {tried} of seed {seed})"),
            text: m,
            ir,
        });
    }
    out
}

/// `per_run` valid mutants times `CBMC_FUZZ_SCALE` (default 1), from the
/// seed `CBMC_FUZZ_SEED` (default `seed`); fails when too few check.
pub fn from_env(seed: u64, per_run: usize, max_steps: u64, max_bytes: u64) -> (u64, Vec<Mutant>) {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("CBMC_FUZZ_SEED").unwrap_or(seed);
    let n = per_run * env("CBMC_FUZZ_SCALE").unwrap_or(1) as usize;
    let mutants = valid_mutants(seed, n, max_steps, max_bytes);
    assert!(
        mutants.len() >= n / 2,
        "only {} valid mutants",
        mutants.len()
    );
    (seed, mutants)
}

impl Mutant {
    /// Run `test` on this mutant; if it fails, print the mutant's text
    /// first, so that the failure can be reproduced from the log alone.
    pub fn run<R>(&self, test: impl FnOnce() -> R) -> R {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(test)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("--- the mutant, {}:\n{}", self.name, self.text);
                std::panic::resume_unwind(e)
            }
        }
    }
}
