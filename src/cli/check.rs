//! `cbmc check FILE...`

use cbmc::check::check_file;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Model files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Treat warnings as errors (exit 1 if any).
    #[arg(long)]
    deny_warnings: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Override a setting or parameter: NAME=VALUE (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// Do not report this warning, e.g. W103 for input cells left
    /// unrecorded on purpose (repeatable; errors cannot be allowed).
    #[arg(long = "allow", value_name = "CODE")]
    allow: Vec<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Format {
    Human,
    Json,
}

/// `--allow W103` (or `cbm::W103`) as the diagnostic codes to drop; only
/// warning codes the checker has.
fn allowed_codes(given: &[String]) -> Result<Vec<&'static str>, String> {
    given
        .iter()
        .map(|g| {
            let code = g.trim().to_ascii_uppercase();
            let code = code.trim_start_matches("CBM::");
            cbmc::check::WARNING_CODES
                .iter()
                .find(|c| c.trim_start_matches("cbm::") == code)
                .copied()
                .ok_or_else(|| {
                    let codes = cbmc::check::WARNING_CODES;
                    let range = format!(
                        "{} to {}",
                        codes.first().map_or("", |c| c.trim_start_matches("cbm::")),
                        codes.last().map_or("", |c| c.trim_start_matches("cbm::"))
                    );
                    if code.starts_with('E') {
                        format!("--allow {g}: errors cannot be allowed, only warnings ({range})")
                    } else {
                        format!("--allow {g}: not a warning code; the codes are {range} (docs/language.md section 5.1)")
                    }
                })
        })
        .collect()
}

pub fn main(args: Args) -> ExitCode {
    let (sets, allowed) =
        match super::parse_sets(&args.sets).and_then(|s| Ok((s, allowed_codes(&args.allow)?))) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    let mut failed = false;
    let mut json = Vec::new();
    for file in &args.files {
        let mut checked = match check_file(file, &sets) {
            Ok(c) => c,
            Err(e) => {
                if args.format == Format::Json {
                    json.push(serde_json::json!({"code": "cbm::E000", "severity": "error", "file": file.display().to_string(), "line": 0, "column": 0, "message": e}));
                } else {
                    eprintln!("error: {e}");
                }
                failed = true;
                continue;
            }
        };
        checked
            .diagnostics
            .retain(|d| d.is_error() || !allowed.contains(&d.code));
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = checked.diagnostics.len() - errors;
        if errors > 0 || (args.deny_warnings && warnings > 0) {
            failed = true;
        }
        match args.format {
            Format::Json => json.extend(
                checked
                    .diagnostics
                    .iter()
                    .map(|d| checked.sources.to_json(d)),
            ),
            Format::Human => {
                super::print_diagnostics(&checked, true);
                if errors == 0 && warnings == 0 {
                    eprintln!("{}: ok", file.display());
                } else {
                    eprintln!(
                        "{}: {errors} error(s), {warnings} warning(s)",
                        file.display()
                    );
                }
                if let Some(note) = super::overrides_note(&sets).filter(|_| errors > 0) {
                    eprintln!("{note}");
                }
            }
        }
    }
    if args.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_else(|_| "[]".into())
        );
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
