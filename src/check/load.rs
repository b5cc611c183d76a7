//! Reading a model and its imports into one list of items.

use crate::diagnostics::{Diagnostic, SourceMap};
use crate::syntax::ast::{Item, Span};
use crate::syntax::parse;
use std::path::{Path, PathBuf};

/// Everything read for one model: its sources and their items, imports first.
pub struct Loaded {
    pub root_canonical: Option<PathBuf>,
    pub sources: SourceMap,
    pub items: Vec<Item>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Read `path` and, recursively, every file it imports (relative to the
/// importing file). A file imported twice is read once.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read model file `{}`: {e}", path.display()))?;
    // Diagnostics name the file as the user typed it; import cycles back to
    // it are recognised by its canonical path (see `load_text`).
    Ok(load_text(path, text))
}

/// Like `load`, for a model whose text is already in memory.
pub fn load_text(path: &Path, text: String) -> Loaded {
    let mut loaded = Loaded {
        root_canonical: path.canonicalize().ok(),
        sources: SourceMap::default(),
        items: vec![],
        diagnostics: vec![],
    };
    let mut items = Vec::new();
    read_into(&mut loaded, path, text, &mut items, 0);
    loaded.items = items;
    loaded
}

fn read_into(loaded: &mut Loaded, path: &Path, text: String, out: &mut Vec<Item>, depth: usize) {
    // Some editors (on Windows) start a UTF-8 file with an invisible byte
    // order mark; it is not part of the model.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    let file = loaded.sources.add(path, text);
    let parsed = match parse(&loaded.sources.file(file).text, file) {
        Ok(f) => f,
        Err(d) => {
            loaded.diagnostics.push(*d);
            return;
        }
    };
    for item in parsed.items {
        if let Item::Import(imp) = &item {
            import(loaded, path, &imp.path, imp.span, out, depth);
        }
        out.push(item);
    }
}

fn import(
    loaded: &mut Loaded,
    from: &Path,
    rel: &str,
    span: Span,
    out: &mut Vec<Item>,
    depth: usize,
) {
    let base = from.parent().unwrap_or(Path::new("."));
    let target: PathBuf = base.join(rel);
    let canonical = target.canonicalize().unwrap_or(target.clone());
    if loaded.sources.find(&canonical).is_some()
        || loaded.sources.find(&target).is_some()
        || loaded.root_canonical.as_ref() == Some(&canonical)
    {
        return;
    }
    if depth > 32 {
        loaded.diagnostics.push(
            Diagnostic::error("cbm::E005", span, "imports nested more than 32 deep")
                .label("this import")
                .help("check for an import cycle"),
        );
        return;
    }
    match std::fs::read_to_string(&target) {
        Ok(text) => read_into(loaded, &canonical, text, out, depth + 1),
        Err(e) => loaded.diagnostics.push(
            Diagnostic::error(
                "cbm::E005",
                span,
                format!("cannot import `{}`: {e}", target.display()),
            )
            .label("imported here")
            .help("import paths are relative to the file that imports them"),
        ),
    }
}
