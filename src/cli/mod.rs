//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod emit_c;
pub mod emit_cuda;
pub mod plot;
pub mod run;
pub mod validate;

use cbmc::check::Checked;
use cbmc::diagnostics::Severity;

/// Print diagnostics for people (miette) on stderr.
pub fn print_diagnostics(checked: &Checked, show_warnings: bool) {
    for d in &checked.diagnostics {
        if d.severity == Severity::Warning && !show_warnings {
            continue;
        }
        eprintln!("{:?}", checked.sources.report(d));
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
    run::load(file, &sets).map_err(|e| {
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
