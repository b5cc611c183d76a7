//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod emit_c;
pub mod emit_cuda;
pub mod plot;
pub mod run;
mod stop;
pub mod validate;

use cbmc::check::Checked;
use cbmc::diagnostics::Severity;
use cbmc::session::{self, PrepareError};

/// Print diagnostics for people (miette) on stderr.
pub fn print_diagnostics(checked: &Checked, show_warnings: bool) {
    for d in &checked.diagnostics {
        if d.severity == Severity::Warning && !show_warnings {
            continue;
        }
        eprintln!("{}", checked.sources.render(d));
    }
}

/// A model for the emit commands: `--set`s parsed, the file checked and
/// lowered. On a mistake the message is printed and the exit code returned
/// (2 for a malformed `--set`, 1 for the model).
pub fn load_model(
    file: &std::path::Path,
    sets: &[String],
) -> Result<cbmc::session::Prepared, std::process::ExitCode> {
    let sets = parse_sets(sets).map_err(|e| {
        eprintln!("error: {e}");
        std::process::ExitCode::from(2)
    })?;
    load(file, &sets).map_err(|e| {
        eprintln!("error: {e}");
        std::process::ExitCode::from(1)
    })
}

/// Parse `NAME=VALUE` pairs from `--set`.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, String> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((n, v)) if !n.trim().is_empty() => {
                Ok((n.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("--set expects NAME=VALUE, got `{s}`")),
        })
        .collect()
}

/// Combine --set, --seed and --duration into one override list.
pub fn overrides(
    sets: &[String],
    seed: Option<u64>,
    duration: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
    let mut sets = parse_sets(sets)?;
    // `--seed 7 --set seed=8`: which one was meant? Say so rather than pick.
    for (flag, name, given) in [
        ("--seed", "seed", seed.is_some()),
        ("--duration", "duration", duration.is_some()),
    ] {
        if given && sets.iter().any(|(k, _)| k == name) {
            return Err(format!(
                "{flag} and --set {name}=... both give the {name}: keep one"
            ));
        }
    }
    if let Some(seed) = seed {
        sets.push(("seed".into(), seed.to_string()));
    }
    if let Some(d) = duration {
        // A bare number is most likely seconds, which the checker's generic
        // hint for a time (`ms`) would not suggest.
        if let Ok(v) = d.trim().parse::<f64>() {
            // (Zero needs no unit; a negative or infinite one is the
            // checker's to refuse.)
            if v > 0.0 && v.is_finite() {
                return Err(format!(
                    "--duration {}: a duration needs a unit, e.g. `--duration {v}s` or `--duration {v}ms`",
                    d.trim()
                ));
            }
        }
        // The language reads `60s`, `500 ms` and `1e3ms` alike.
        sets.push(("duration".into(), d.trim().to_string()));
    }
    Ok(sets)
}

/// Check and lower a model for a run; warnings are counted on stderr,
/// errors printed in full.
pub fn load(
    file: &std::path::Path,
    sets: &[(String, String)],
) -> Result<cbmc::session::Prepared, String> {
    match session::prepare(file, sets) {
        Ok(p) => {
            if p.checked.diagnostics.iter().any(|d| !d.is_error()) {
                let n = p.checked.diagnostics.len();
                eprintln!(
                    "{}: {n} warning(s); `{}` shows them",
                    file.display(),
                    check_command(file, sets)
                );
            }
            Ok(p)
        }
        Err(PrepareError::Io(e)) => Err(e),
        Err(PrepareError::Lowering(e)) => Err(format!("cannot compile {}: {e}", file.display())),
        Err(PrepareError::Invalid(checked)) => {
            print_diagnostics(&checked, false);
            if let Some(note) = overrides_note(sets) {
                eprintln!("{note}");
            }
            let n = checked.diagnostics.iter().filter(|d| d.is_error()).count();
            Err(format!("{}: {n} error(s); nothing was run", file.display()))
        }
    }
}

/// Below errors of a model checked with overrides: which values were not
/// the file's (an error about a population can come from `--set`).
pub fn overrides_note(sets: &[(String, String)]) -> Option<String> {
    (!sets.is_empty()).then(|| {
        let list: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "note: checked with values from the command line ({}): an error may come from one of them",
            list.join(", ")
        )
    })
}

/// The `cbmc check` command that shows a run's warnings: the run's
/// overrides matter (`--duration 10.5ms` is what draws W111).
fn check_command(file: &std::path::Path, sets: &[(String, String)]) -> String {
    let mut words = vec![
        "cbmc".to_string(),
        "check".into(),
        shell_word(&file.display().to_string()),
    ];
    for (k, v) in sets {
        words.push("--set".into());
        words.push(shell_word(&format!("{k}={v}")));
    }
    words.join(" ")
}

/// `text` as one word for a POSIX shell: quoted unless it is plain.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+%".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// `--threads`: at least one, and not so many that a typo (`100000`)
/// spends minutes starting threads.
pub fn parse_threads(text: &str) -> Result<usize, String> {
    const MAX: usize = 1024;
    let cores = || std::thread::available_parallelism().map_or(1, |n| n.get());
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(cores().min(MAX));
    }
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX).contains(&n) => Ok(n),
        Ok(0) => Err("at least one thread is needed".into()),
        Ok(n) => Err(format!(
            "{n} threads is more than the {MAX} allowed (this machine has {} cores)",
            cores()
        )),
        Err(_) => Err(format!(
            "`{text}` is not a whole number (or `auto`: one thread per core)"
        )),
    }
}

/// The CUDA engine's options, with `CBMC_CUDA_CHUNK` (steps per launch)
/// from the environment where it is a number, and `CBMC_CUDA_STAGE=0`
/// (recordings copied back before the next chunk starts).
pub fn gpu_options_from_env() -> cbmc::engine::cuda::GpuOptions {
    let mut opts = cbmc::engine::cuda::GpuOptions {
        stage: std::env::var("CBMC_CUDA_STAGE").map_or(true, |v| v != "0"),
        ..Default::default()
    };
    if let Some(c) = std::env::var("CBMC_CUDA_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.chunk_steps = c;
    }
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_a_number_or_auto() {
        assert_eq!(parse_threads("3"), Ok(3));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(parse_threads("auto"), Ok(cores.min(1024)));
        assert_eq!(parse_threads(" AUTO "), Ok(cores.min(1024)));
        assert!(parse_threads("0").unwrap_err().contains("at least one"));
        assert!(parse_threads("2000").unwrap_err().contains("1024"));
        assert!(parse_threads("many").unwrap_err().contains("auto"));
    }
}
