//! `report.html`: the run's metadata, the firing summary and every figure,
//! in one file that opens in any browser without a server (figures are
//! relative links to the PNGs next to it).

use super::data::RunData;
use super::Figure;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A relative URL for a file in the report's folder.
fn href(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The report's HTML text.
pub fn html(d: &RunData, figures: &[Figure]) -> String {
    let m = &d.meta;
    let name = if m.model_name.is_empty() {
        d.path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "run".into())
    } else {
        m.model_name.clone()
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — cbmc run report</title>\n<style>\n{}\n</style>\n</head>\n<body>\n",
        escape(&name),
        STYLE
    );
    let _ = writeln!(h, "<h1>Run of <code>{}</code></h1>", escape(&name));
    if m.partial || m.error.is_some() {
        let _ = writeln!(
            h,
            "<p class=\"warn\">This run is <b>partial</b>: it stopped at step {} of {}{}.</p>",
            m.steps_done,
            m.steps_planned,
            m.error
                .as_ref()
                .map(|e| format!(" ({})", escape(e)))
                .unwrap_or_default()
        );
    }
    // Metadata.
    h.push_str("<h2>Run</h2>\n<table class=\"meta\">\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), v);
    };
    row("model file", format!("<code>{}</code>", escape(&m.model)));
    row(
        "model hash",
        format!("<code>{}</code>", escape(&m.model_hash)),
    );
    row(
        "overrides",
        if m.overrides.is_empty() {
            "none".into()
        } else {
            m.overrides
                .iter()
                .map(|o| format!("<code>{}</code>", escape(o)))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    row("seed", m.seed.to_string());
    row("time step", format!("{} ms", m.dt * 1e3));
    row(
        "simulated",
        format!(
            "{:.3} s ({} of {} steps)",
            m.simulated_seconds, m.steps_done, m.steps_planned
        ),
    );
    row(
        "engine",
        // The engine line already names a CPU engine; a GPU's name is added.
        if m.device.is_empty() || m.device == "cpu" || m.engine.starts_with(&m.device) {
            escape(&m.engine)
        } else {
            format!("{} on {}", escape(&m.engine), escape(&m.device))
        },
    );
    row(
        "wall time",
        format!(
            "{:.3} s simulating ({:.1}x real time), {:.3} s building the network",
            m.wall_seconds,
            if m.wall_seconds > 0.0 {
                m.simulated_seconds / m.wall_seconds
            } else {
                0.0
            },
            m.build_seconds
        ),
    );
    row("synapses", m.synapses.to_string());
    row("cbmc version", escape(&m.cbmc_version));
    row(
        "data file",
        format!("<code>{}</code>", escape(&d.path.display().to_string())),
    );
    h.push_str("</table>\n");
    // Summary.
    h.push_str(
        "<h2>Firing summary</h2>\n<table class=\"summary\">\n<tr><th>population</th>\
         <th>cells</th><th>mean Hz</th><th>min Hz</th><th>median Hz</th><th>max Hz</th>\
         <th>silent cells</th></tr>\n",
    );
    for p in &m.populations {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            escape(&p.name),
            p.cells,
            p.mean_hz,
            p.min_hz,
            p.median_hz,
            p.max_hz,
            p.silent
        );
    }
    h.push_str("</table>\n");
    // Figures.
    h.push_str("<h2>Figures</h2>\n<ul class=\"toc\">\n");
    for f in figures {
        let _ = writeln!(
            h,
            "<li><a href=\"#{}\">{}</a></li>",
            escape(&f.spec.stem),
            escape(&f.spec.title)
        );
    }
    h.push_str("</ul>\n");
    for f in figures {
        let _ = write!(
            h,
            "<figure id=\"{id}\">\n<img src=\"{src}\" width=\"{w}\" height=\"{hh}\" alt=\"{alt}\">\n\
             <figcaption>{cap}",
            id = escape(&f.spec.stem),
            src = href(&f.png),
            w = f.spec.width,
            hh = f.spec.height,
            alt = escape(&f.spec.title),
            cap = escape(&f.spec.caption),
        );
        if let Some(svg) = &f.svg {
            let _ = write!(h, " <a href=\"{}\">SVG</a>", href(svg));
        }
        h.push_str("</figcaption>\n</figure>\n");
    }
    if figures.is_empty() {
        h.push_str("<p>The run recorded nothing that can be plotted.</p>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// Write `report.html` into `dir`.
pub fn write(d: &RunData, figures: &[Figure], dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join("report.html");
    crate::files::write_atomically(&path, html(d, figures).as_bytes())?;
    Ok(path)
}

const STYLE: &str = "body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 2em auto; \
max-width: 1260px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }
table.summary td { text-align: right; } table.summary td:first-child { text-align: left; }
table.meta th { background: #f4f4f4; font-weight: normal; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #444; margin-top: 0.3em; }
.warn { background: #fff3cd; border: 1px solid #e0c060; padding: 0.5em; }
ul.toc { columns: 2; }";
