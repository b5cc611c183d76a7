//! The examples of docs/language.md are what the tool does.
//!
//! Every ```cbm block is written to a file of its own and checked: it must
//! have no errors, unless a transcript of `cbmc check` follows it, in which
//! case the checker must report exactly the transcript's diagnostics (codes
//! and positions, in order) and its summary line where it shows one. A transcript of
//! `cbmc run ... --quiet` must show the same summary table (the rates are a
//! pure function of the model and the seed).

#[path = "common/models.rs"]
mod models;

use std::path::{Path, PathBuf};
use std::process::Command;

fn cbmc(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_cbmc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run cbmc");
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// What a `cbmc check` output says: each diagnostic's code with its first
/// position (`cbm::E011 7:25`), and the summary line.
fn check_findings(output: &str, file: &str) -> (Vec<String>, String) {
    let mut found: Vec<String> = Vec::new();
    let mut summary = String::new();
    for line in output.lines().map(str::trim) {
        if line.starts_with("cbm::") {
            found.push(line.to_string());
        } else if let Some(rest) = line.split(&format!("[{file}:")).nth(1) {
            if let Some(last) = found.last_mut() {
                if !last.contains(' ') {
                    *last += &format!(" {}", rest.trim_end_matches(']'));
                }
            }
        } else if line.starts_with(&format!("{file}: ")) {
            summary = line.to_string();
        }
    }
    (found, summary)
}

fn code_of(finding: &str) -> String {
    finding.split(' ').next().unwrap_or_default().to_string()
}

/// The rows of a run's summary table (population, cells, rates).
fn table_rows(output: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in output.lines() {
        if line.starts_with("pop ") {
            inside = true;
        } else if inside && (line.starts_with("simulated") || line.trim().is_empty()) {
            break;
        } else if inside {
            rows.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    rows
}

#[test]
fn the_language_reference_examples_are_what_the_tool_does() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/language.md")).expect("docs/language.md");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("doc_examples");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let all = models::doc_blocks(&doc);
    assert!(all.len() >= 10, "only {} examples found", all.len());
    let (mut checked, mut transcripts) = (0, 0);
    for ex in &all {
        let where_ = format!("docs/language.md line {}", ex.line);
        // The file name the transcript uses, if any (`$ cbmc check cell.cbm`).
        let named = ex.transcript.as_ref().and_then(|t| {
            t[0].split_whitespace()
                .find(|w| w.ends_with(".cbm"))
                .map(str::to_string)
        });
        let file = named.unwrap_or_else(|| format!("example_{}.cbm", ex.line));
        std::fs::write(dir.join(&file), &ex.source).expect("write example");
        let output = cbmc(&dir, &["check", &file]);
        let (found, summary) = check_findings(&output, &file);
        checked += 1;
        match &ex.transcript {
            Some(t) if t[0].starts_with("$ cbmc check") => {
                let (want, want_summary) = check_findings(&t.join("\n"), &file);
                // Positions where the transcript shows them, else codes.
                let shown: Vec<String> = found
                    .iter()
                    .zip(&want)
                    .map(|(f, w)| {
                        if w.contains(' ') {
                            f.clone()
                        } else {
                            code_of(f)
                        }
                    })
                    .collect();
                assert!(
                    found.len() == want.len() && shown == want,
                    "{where_}: the diagnostics differ from the transcript: {want:?}\n{output}"
                );
                if !want_summary.is_empty() {
                    assert_eq!(summary, want_summary, "{where_}: summary line");
                }
                transcripts += 1;
            }
            Some(t) if t[0].starts_with("$ cbmc run") => {
                assert!(!summary.contains("error"), "{where_}: {output}");
                let mut args: Vec<&str> = t[0].split_whitespace().skip(2).collect();
                args.extend(["--no-plot", "-o", "out"]);
                let run = cbmc(&dir, &args);
                let want = table_rows(&t.join("\n"));
                assert!(!want.is_empty(), "{where_}: no table in the transcript");
                assert_eq!(
                    table_rows(&run),
                    want,
                    "{where_}: the run's table differs\n{run}"
                );
                transcripts += 1;
            }
            _ => assert!(
                summary == format!("{file}: ok") || summary.contains(": 0 error(s)"),
                "{where_}: the example does not check clean\n{}\n{output}",
                ex.source
            ),
        }
    }
    eprintln!("{checked} examples checked, {transcripts} transcripts compared");
    assert!(transcripts >= 2, "the transcripts were not found");
}

/// The JSON example of section 5.2 is the first entry `cbmc check --format
/// json` gives for the file of section 2.5 (`cell.cbm`).
#[test]
fn the_json_example_is_what_check_prints() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/language.md")).expect("docs/language.md");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("doc_json");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cell = models::doc_blocks(&doc)
        .into_iter()
        .find(|b| {
            b.transcript
                .as_ref()
                .is_some_and(|t| t[0].starts_with("$ cbmc check cell.cbm"))
        })
        .expect("the cell.cbm example");
    std::fs::write(dir.join("cell.cbm"), &cell.source).expect("write");
    let start = doc.find("```json").expect("a json block") + "```json".len();
    let end = start + doc[start..].find("```").expect("its end");
    let want: serde_json::Value = serde_json::from_str(&doc[start..end]).expect("valid JSON");
    let o = Command::new(env!("CARGO_BIN_EXE_cbmc"))
        .args(["check", "--format", "json", "cell.cbm"])
        .current_dir(&dir)
        .output()
        .expect("run cbmc");
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).expect("check prints JSON");
    assert_eq!(
        got[0], want[0],
        "docs/language.md section 5.2's JSON example"
    );
}
