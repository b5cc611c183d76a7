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
