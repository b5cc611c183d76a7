//! Golden tests for `cbmc check`.
//!
//! Every `tests/check/NAME.cbm` is a faulty model with (mostly) one mistake,
//! described in a comment at its top. Its sibling `NAME.expected` lists the
//! diagnostics the model is meant to produce, one per line, as `CODE LINE:COL`
//! (e.g. `cbm::E012 13:22`), in the order the checker reports them: errors
//! first, then warnings, each in file order. A diagnostic in a file other than
//! the model itself (an import) is written `CODE LINE:COL (PATH)`.
//!
//! Every faulty model must produce at least one diagnostic, except those that
//! show a known missing diagnostic (`Bug::Missing` in `KNOWN_CHECKER_BUGS`).
//!
//! `CBMC_BLESS=1 cargo test --test check_golden` rewrites the `.expected`
//! files from what the checker says now. Review every blessed file by hand:
//! a golden must state the intended mistake, not whatever the checker says.
//! Files listed in `KNOWN_CHECKER_BUGS` are never blessed.

use cbmc::check::{check_file, Checked};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How a known checker bug shows, and what is still required of the model.
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(dead_code)] // kinds stay available for future known bugs
enum Bug {
    /// Right codes on the right lines, wrong columns: every golden line's
    /// code must still be reported on its line.
    Span,
    /// Extra, cascading diagnostics: every golden line must still be reported
    /// exactly.
    Cascade,
    /// A diagnostic the checker should give and does not: nothing required.
    Missing,
}

/// Faulty models whose golden states the correct diagnostics but which the
/// checker currently gets wrong. Each must still satisfy what its `Bug` kind
/// requires, and the test fails once the output matches the golden exactly,
/// so that the entry is removed when the bug is fixed. These are never
/// blessed.
const KNOWN_CHECKER_BUGS: &[(&str, Bug, &str)] = &[];

/// Help texts the checker should give: (model, code, text the help, or
/// else the message, must contain).
const HINTS: &[(&str, &str, &str)] = &[
    ("original_tau_theta_without_unit", "cbm::E011", "200 ms"),
    ("original_tau_theta_declared_bare", "cbm::E012", "200 ms"),
    ("original_refractory_without_unit", "cbm::E012", "2 ms"),
    (
        "original_current_into_conductance",
        "cbm::E011",
        "conductance",
    ),
    ("undefined_name_typo", "cbm::E003", "`EL`"),
    ("unknown_setting_simulation", "cbm::E026", "`duration`"),
    ("unknown_wiring_rule", "cbm::E027", "`fixed_indegree`"),
    ("import_then_bad_argument", "cbm::E026", "`tau_m`"),
    ("protocol_unknown_setting", "cbm::E026", "`trials`"),
    ("unknown_unit_in_parameter_value", "cbm::E004", "`mV`"),
    ("syntax_micro_sign", "cbm::E001", "write `us`"),
    ("syntax_arrow_comparison", "cbm::E001", "`>=`"),
    ("syntax_spike_assign", "cbm::E001", "`=` assigns"),
    ("syntax_population_without_call", "cbm::E001", "`= LIF()`"),
    (
        "refractory_undefined_name",
        "cbm::E003",
        "declare `t_ref` in the parameters block",
    ),
    (
        "time_constant_declared_as_voltage",
        "cbm::E011",
        "`tau_syn` is declared as voltage",
    ),
    ("unit_for_post_variable", "cbm::W121", "`post.V`"),
    ("unit_for_undeclared_parameter", "cbm::W121", "declare `C`"),
    ("window_probe_not_on_or_off", "cbm::E027", "on or off"),
    (
        "bernoulli_p_above_one",
        "cbm::E022",
        "the probability of a spike in each step",
    ),
    ("connection_probability_above_one", "cbm::E020", "is 1.2"),
    (
        "misspelt_names_get_suggestions",
        "cbm::E003",
        "did you mean `V`?",
    ),
    ("misspelt_names_get_suggestions", "cbm::E003", "`post.V`"),
    ("misspelt_names_get_suggestions", "cbm::E003", "`cf_pkj`"),
    (
        "misspelt_names_get_suggestions",
        "cbm::E031",
        "did you mean `V`?",
    ),
    ("misspelt_names_get_suggestions", "cbm::E031", "`A.V`"),
    (
        "weights_of_a_synapse_without_state",
        "cbm::E031",
        "`wiring(p)`",
    ),
    ("wiring_of_a_variable", "cbm::E026", "`weights(p.J)`"),
    (
        "refractory_holds_without_reset",
        "cbm::W117",
        "spikes again as soon as the period ends",
    ),
    ("lint_unstable_euler", "cbm::W105", "below 2 not to grow"),
    ("syntax_python_power", "cbm::E001", "written `^`"),
    ("syntax_brian_unit_after_equation", "cbm::E001", "`: volt`"),
    (
        "duration_under_half_a_step",
        "cbm::E020",
        "less than half a step",
    ),
    ("unit_power_without_caret", "cbm::E003", "`mV^2`"),
    (
        "gap_coupling_without_unit",
        "cbm::E012",
        "did you mean `0.01 ",
    ),
];

/// Hints the checker currently gets wrong (strict: fails once they are right).
const KNOWN_HINT_BUGS: &[(&str, &str)] = &[];

/// Codes no faulty model can show through `check_file`.
const UNREACHABLE_CODES: &[&str] = &[];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cbm_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cbm"))
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

fn check(path: &Path) -> Checked {
    check_file(path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `CODE LINE:COL` for each diagnostic, in the order the checker reports them.
fn render(checked: &Checked, model: &Path) -> Vec<String> {
    let dir = model.parent().unwrap_or(Path::new("."));
    checked
        .diagnostics
        .iter()
        .map(|d| {
            let (line, col) = checked.sources.line_col(d.span);
            if d.span.file == 0 {
                format!("{} {line}:{col}", d.code)
            } else {
                let path = &checked.sources.file(d.span.file).path;
                let shown = path.strip_prefix(dir).unwrap_or(path);
                format!("{} {line}:{col} ({})", d.code, shown.display())
            }
        })
        .collect()
}

fn read_expected(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    )
}

/// A line diff (longest common subsequence): `  ` both, `- ` expected only,
/// `+ ` actual only.
fn diff(expected: &[String], actual: &[String]) -> String {
    let (n, m) = (expected.len(), actual.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            out += &format!("      {}\n", expected[i]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("    - {}\n", expected[i]);
            i += 1;
        } else {
            out += &format!("    + {}\n", actual[j]);
            j += 1;
        }
    }
    out
}

/// `CODE LINE` of a golden line, for the weaker check on known bugs.
fn code_and_line(l: &str) -> (String, String) {
    let mut it = l.split_whitespace();
    let code = it.next().unwrap_or("").to_string();
    let line = it
        .next()
        .and_then(|p| p.split(':').next())
        .unwrap_or("")
        .to_string();
    (code, line)
}

#[test]
fn faulty_models_match_their_goldens() {
    let dir = root().join("tests/check");
    let models = cbm_files(&dir);
    let bless = std::env::var_os("CBMC_BLESS").is_some_and(|v| v != "0");
    assert!(
        models.len() >= 30 + KNOWN_CHECKER_BUGS.len(),
        "expected at least 30 faulty models (besides the {} known checker bugs) in {}, found {}",
        KNOWN_CHECKER_BUGS.len(),
        dir.display(),
        models.len()
    );
    for (name, _, _) in KNOWN_CHECKER_BUGS {
        assert!(
            dir.join(format!("{name}.cbm")).exists(),
            "KNOWN_CHECKER_BUGS lists `{name}`, which has no model"
        );
    }
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for model in &models {
        let name = stem(model);
        let golden_path = model.with_extension("expected");
        let checked = check(model);
        let actual = render(&checked, model);
        let known = KNOWN_CHECKER_BUGS.iter().find(|(n, _, _)| *n == name);
        if actual.is_empty() && !known.is_some_and(|k| k.1 == Bug::Missing) {
            failures.push(format!(
                "{}: the checker reports nothing, but every faulty model must show its mistake",
                model.display()
            ));
            continue;
        }
        if bless && known.is_none() {
            std::fs::write(&golden_path, actual.join("\n") + "\n")
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", golden_path.display()));
            continue;
        }
        let Some(expected) = read_expected(&golden_path) else {
            failures.push(format!(
                "{}: no golden file {} (run with CBMC_BLESS=1, then review it)",
                model.display(),
                golden_path.display()
            ));
            continue;
        };
        if expected.is_empty() {
            failures.push(format!(
                "{}: the golden file is empty",
                golden_path.display()
            ));
            continue;
        }
        match known {
            None => {
                if expected != actual {
                    failures.push(format!(
                        "{}: diagnostics differ from {} (- expected, + actual):\n{}",
                        model.display(),
                        golden_path.display(),
                        diff(&expected, &actual)
                    ));
                }
            }
            Some((_, kind, why)) => {
                if expected == actual {
                    failures.push(format!(
                        "{}: listed in KNOWN_CHECKER_BUGS ({why}) but now matches its golden: \
                         remove it from the list",
                        model.display()
                    ));
                    continue;
                }
                let lines: BTreeSet<(String, String)> =
                    actual.iter().map(|l| code_and_line(l)).collect();
                let missing: Vec<&String> = match kind {
                    Bug::Span => expected
                        .iter()
                        .filter(|l| !lines.contains(&code_and_line(l)))
                        .collect(),
                    Bug::Cascade => expected.iter().filter(|l| !actual.contains(l)).collect(),
                    Bug::Missing => vec![],
                };
                if !missing.is_empty() {
                    failures.push(format!(
                        "{}: known checker bug ({kind:?}: {why}), and the intended diagnostics \
                         {missing:?} are no longer reported:\n{}",
                        model.display(),
                        diff(&expected, &actual)
                    ));
                } else {
                    notes.push(format!(
                        "known checker bug in {name} ({kind:?}): {why}\n{}",
                        diff(&expected, &actual)
                    ));
                }
            }
        }
    }
    // Golden files without a model are leftovers.
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "expected") && !p.with_extension("cbm").exists() {
            failures.push(format!("{}: golden file without a model", p.display()));
        }
    }
    for n in &notes {
        eprintln!("note: {n}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} faulty models failed:\n\n{}",
        failures.len(),
        models.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_models_check_without_errors() {
    let mut models = cbm_files(&root().join("models"));
    assert!(!models.is_empty(), "no models in models/");
    models.extend(cbm_files(&root().join("models/variants")));
    // The engines' test models (other tests skip a model that stops checking).
    let engine_models = cbm_files(&root().join("tests/cuda_models"));
    assert!(engine_models.len() >= 10, "tests/cuda_models/ missing");
    models.extend(engine_models);
    let mut failures = Vec::new();
    for model in &models {
        let checked = check(model);
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let (l, c) = checked.sources.line_col(d.span);
                format!("  {} {l}:{c} {}", d.code, d.message)
            })
            .collect();
        if !errors.is_empty() || checked.model.is_none() {
            failures.push(format!("{}:\n{}", model.display(), errors.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "valid models with errors:\n{}",
        failures.join("\n")
    );
}

/// Every diagnostic code the front end can emit is shown by some faulty model.
#[test]
fn goldens_cover_every_code() {
    let root = root();
    let mut emitted = BTreeSet::new();
    for dir in ["src/check", "src/syntax"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for (i, _) in text.match_indices("\"cbm::") {
                    let code: String = text[i + 1..].chars().take_while(|c| *c != '"').collect();
                    emitted.insert(code);
                }
            }
        }
    }
    assert!(!emitted.is_empty(), "found no diagnostic codes in src/");
    // `cbmc check --allow` knows every warning.
    for c in emitted.iter().filter(|c| c.starts_with("cbm::W")) {
        assert!(
            cbmc::check::WARNING_CODES.contains(&c.as_str()),
            "{c} is missing from check::WARNING_CODES"
        );
    }
    let mut covered = BTreeSet::new();
    for model in cbm_files(&root.join("tests/check")) {
        // A golden of a diagnostic the checker does not give covers nothing.
        let name = stem(&model);
        if KNOWN_CHECKER_BUGS
            .iter()
            .any(|(n, kind, _)| *n == name && *kind == Bug::Missing)
        {
            continue;
        }
        for l in read_expected(&model.with_extension("expected")).unwrap_or_default() {
            covered.insert(code_and_line(&l).0);
        }
    }
    let missing: Vec<&String> = emitted
        .iter()
        .filter(|c| !covered.contains(*c) && !UNREACHABLE_CODES.contains(&c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "no faulty model in tests/check shows {missing:?}"
    );
}

#[test]
fn hints_name_the_fix() {
    let dir = root().join("tests/check");
    let mut failures = Vec::new();
    for (name, code, text) in HINTS {
        let model = dir.join(format!("{name}.cbm"));
        let checked = check(&model);
        let helps: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.code == *code)
            .map(|d| format!("{} | {}", d.help.clone().unwrap_or_default(), d.message))
            .collect();
        let ok = helps.iter().any(|h| h.contains(text));
        let known = KNOWN_HINT_BUGS.iter().find(|(n, _)| n == name);
        match (ok, known) {
            (true, None) | (false, Some(_)) => {}
            (false, None) => failures.push(format!(
                "{}: no {code} whose help mentions {text:?}; helps: {helps:?}",
                model.display()
            )),
            (true, Some((_, why))) => failures.push(format!(
                "{}: listed in KNOWN_HINT_BUGS ({why}) but the help is now right: remove it",
                model.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unreadable_model_is_an_error_not_a_panic() {
    let missing = root().join("tests/check/does_not_exist.cbm");
    assert!(check_file(&missing, &[]).is_err());
}

/// A model that imports a file which imports the model back is read once,
/// whether the model is named by a relative or an absolute path.
/// Integration tests run in the package root, so the relative path resolves.
#[test]
fn import_cycle_back_to_a_relative_root_reads_it_once() {
    let checked = check(Path::new("tests/check/lib/cycle_a.cbm"));
    let duplicates = checked
        .diagnostics
        .iter()
        .filter(|d| d.code == "cbm::E002")
        .count();
    assert_eq!(duplicates, 0, "the root file was read twice");
    assert_eq!(checked.sources.len(), 2);
    // The absolute path works.
    let abs = check(&root().join("tests/check/lib/cycle_a.cbm"));
    assert!(!abs.has_errors(), "cycle through an absolute path");
    assert_eq!(abs.sources.len(), 2);
}

/// A name defined twice shows both places: the second, and the first as a
/// related place (drawn beside it; in JSON, `related`).
#[test]
fn a_name_defined_twice_shows_its_first_definition() {
    let checked = check(&root().join("tests/check/duplicate_type_name.cbm"));
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == "cbm::E002")
        .expect("E002");
    let json = checked.sources.to_json(d);
    assert_eq!(json["line"], 33, "{json}");
    assert_eq!(json["related"]["line"], 11, "{json}");
    assert_eq!(json["related"]["label"], "first definition");
    let drawn = checked.sources.render(d);
    assert!(
        drawn.contains("first definition") && drawn.contains("second definition"),
        "{drawn}"
    );
}
