//! Models to exercise the CUDA code generator on: models/, examples/, the
//! CUDA test models, the checker's valid test models and the complete
//! examples of docs/language.md.
#![allow(dead_code)]

use cbmc::ir::Ir;
use std::path::{Path, PathBuf};

/// The repository: $CBMC_ROOT when set (a test binary carried to another
/// machine), else where it was built.
pub fn root() -> PathBuf {
    std::env::var_os("CBMC_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn cbm_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "cbm"));
    v.sort();
    v
}

/// (name, IR) of every model that checks without errors.
pub fn all_models() -> Vec<(String, Ir)> {
    let mut out = Vec::new();
    let mut files = cbm_files(&root().join("models"));
    files.extend(cbm_files(&root().join("models/variants")));
    files.extend(cbm_files(&root().join("examples")));
    files.extend(cbm_files(&root().join("tests/cuda_models")));
    files.extend(cbm_files(&root().join("tests/check")));
    for f in files {
        if let Ok(p) = cbmc::session::prepare(&f, &[]) {
            let name = f.strip_prefix(root()).unwrap_or(&f).display().to_string();
            out.push((name, p.ir));
        }
    }
    out.extend(doc_examples());
    out
}

/// The complete examples (blocks that define populations) of docs/language.md.
pub fn doc_examples() -> Vec<(String, Ir)> {
    doc_example_files()
        .into_iter()
        .filter_map(|(name, path)| {
            let p = cbmc::session::prepare(&path, &[]).ok()?;
            Some((name, p.ir))
        })
        .collect()
}

/// The complete examples of docs/language.md, each written to a file of its
/// own (in a temporary folder): (name, path).
pub fn doc_example_files() -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string(root().join("docs/language.md")).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("cbmc_doc_examples_{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut out = Vec::new();
    let complete = doc_blocks(&text)
        .into_iter()
        .filter(|b| b.source.contains("population"));
    for (i, block) in complete.enumerate() {
        let n = i + 1;
        let path = dir.join(format!("example{n}.cbm"));
        if std::fs::write(&path, block.source.as_bytes()).is_ok() {
            out.push((format!("docs/language.md example {n}"), path));
        }
    }
    out
}

/// A ```cbm block of a Markdown text, and the transcript (a code block
/// starting with `$ cbmc`) right after it, if any.
pub struct DocBlock {
    /// The line of its opening fence (from 1).
    pub line: usize,
    pub source: String,
    pub transcript: Option<Vec<String>>,
}

pub fn doc_blocks(doc: &str) -> Vec<DocBlock> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out: Vec<DocBlock> = Vec::new();
    // Whether the code block before this one was a ```cbm block.
    let mut after_cbm = false;
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim_start().starts_with("```"))
            .unwrap_or(lines.len());
        let body: Vec<String> = lines[i + 1..end].iter().map(|l| l.to_string()).collect();
        if fence == "```cbm" {
            out.push(DocBlock {
                line: i + 1,
                source: body.join("\n") + "\n",
                transcript: None,
            });
            after_cbm = true;
        } else {
            if after_cbm && body.first().is_some_and(|l| l.starts_with("$ cbmc")) {
                if let Some(last) = out.last_mut() {
                    last.transcript = Some(body);
                }
            }
            after_cbm = false;
        }
        i = end + 1;
    }
    out
}

/// The files of the valid models: models/ (with its variants), the CUDA test
/// models and the examples of docs/language.md, as (name, path).
pub fn valid_model_files() -> Vec<(String, PathBuf)> {
    let mut files = cbm_files(&root().join("models"));
    files.extend(cbm_files(&root().join("models/variants")));
    files.extend(cbm_files(&root().join("tests/cuda_models")));
    let mut out: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let name = f.strip_prefix(root()).unwrap_or(&f).display().to_string();
            (name, f)
        })
        .collect();
    out.extend(doc_example_files());
    out
}
