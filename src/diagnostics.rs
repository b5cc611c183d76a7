//! Diagnostics a user can cause: a code, a severity, a message, a labelled
//! span and a hint. Rendered with miette for people and as JSON for tools.

use crate::syntax::ast::Span;
use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
    /// A second place the message is about, with its label (the first
    /// definition of a name defined twice). Boxed: most diagnostics have
    /// none, and a diagnostic travels in `Result`s.
    pub related: Option<Box<(Span, String)>>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            help: None,
            related: None,
        }
    }
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// A second labelled place (`first definition`).
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related = Some(Box::new((span, label.into())));
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The text of every file a model was read from (the model and its imports).
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceMap {
    pub fn add(&mut self, path: &Path, text: String) -> u32 {
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            text,
        });
        (self.files.len() - 1) as u32
    }
    pub fn file(&self, id: u32) -> &SourceFile {
        &self.files[id as usize]
    }
    pub fn len(&self) -> usize {
        self.files.len()
    }
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
    pub fn find(&self, path: &Path) -> Option<u32> {
        self.files
            .iter()
            .position(|f| f.path == path)
            .map(|i| i as u32)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        let text = &self.file(span.file).text;
        let at = floor_char_boundary(text, span.start.min(text.len()));
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// One diagnostic for people: miette's drawing of the source lines, or,
    /// where the line is too long to draw (a generated list of thousands of
    /// cells; miette cannot place a label past column 65535), a plain
    /// `file:line:col` form.
    pub fn render(&self, d: &Diagnostic) -> String {
        const LONGEST_DRAWN_LINE: usize = 2000;
        let text = &self.file(d.span.file).text;
        let at = floor_char_boundary(text, d.span.start.min(text.len()));
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        if line_end - line_start <= LONGEST_DRAWN_LINE {
            return format!("{:?}", self.report(d));
        }
        let (line, col) = self.line_col(d.span);
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!(
            "{severity}[{}]: {}\n  --> {}:{line}:{col} (line too long to show)",
            d.code,
            d.message,
            self.file(d.span.file).path.display()
        );
        if !d.label.is_empty() {
            out += &format!("\n  = {}", d.label);
        }
        if let Some(h) = &d.help {
            out += &format!("\n  help: {h}");
        }
        if let Some((span, label)) = d.related.as_deref() {
            out += &format!("\n  = {label}: {}", self.place(*span));
        }
        out
    }

    /// `path:line:col` of a span.
    fn place(&self, span: Span) -> String {
        let (line, col) = self.line_col(span);
        format!("{}:{line}:{col}", self.file(span.file).path.display())
    }

    /// A miette report for one diagnostic, with the file's text attached.
    pub fn report(&self, d: &Diagnostic) -> Report {
        let file = self.file(d.span.file);
        let len = file.text.len();
        let start = floor_char_boundary(&file.text, d.span.start.min(len));
        let end = floor_char_boundary(&file.text, d.span.end.clamp(start, len));
        let label = if d.label.is_empty() {
            None
        } else {
            Some(d.label.clone())
        };
        let mut m = MietteDiagnostic::new(d.message.clone())
            .with_code(d.code)
            .with_severity(match d.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            })
            .with_label(LabeledSpan::new(label, start, end - start));
        let mut help = d.help.clone();
        match d.related.as_deref() {
            // In the same file: a second label on the drawing.
            Some((span, label)) if span.file == d.span.file => {
                let s = floor_char_boundary(&file.text, span.start.min(len));
                let e = floor_char_boundary(&file.text, span.end.clamp(s, len));
                m = m.and_label(LabeledSpan::new(Some(label.clone()), s, e - s));
            }
            // In another (an import): said in words.
            Some((span, label)) => {
                let place = format!("{label}: {}", self.place(*span));
                help = Some(help.map_or(place.clone(), |h| format!("{h}\n{place}")));
            }
            None => {}
        }
        if let Some(h) = help {
            m = m.with_help(h);
        }
        Report::new(m).with_source_code(
            NamedSource::new(file.path.display().to_string(), file.text.clone())
                .with_language("cbm"),
        )
    }

    /// One JSON object per diagnostic, for editors and CI; `related` only
    /// where there is a second place (a name's first definition).
    pub fn to_json(&self, d: &Diagnostic) -> serde_json::Value {
        let (line, column) = self.line_col(d.span);
        let mut v = serde_json::json!({
            "code": d.code,
            "severity": d.severity,
            "file": self.file(d.span.file).path.display().to_string(),
            "line": line,
            "column": column,
            "message": d.message,
            "label": d.label,
            "help": d.help,
        });
        if let (Some((span, label)), Some(object)) = (d.related.as_deref(), v.as_object_mut()) {
            let (line, column) = self.line_col(*span);
            object.insert(
                "related".into(),
                serde_json::json!({
                    "file": self.file(span.file).path.display().to_string(),
                    "line": line,
                    "column": column,
                    "label": label,
                }),
            );
        }
        v
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
