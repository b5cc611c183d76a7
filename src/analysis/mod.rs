//! Analysis of a finished run: figures (PNG, optionally SVG) and an HTML
//! report, from the run's `.npz` alone (design.md section 6, issue 6).
//!
//! `plot_npz` reads the file (`data`), decides which figures its arrays
//! allow (`figures::plan`), draws them in parallel with plotters and a
//! bundled font (DejaVu Sans, no system fonts), and writes `report.html`
//! next to them (`report`).

pub mod data;
pub mod figures;
pub mod report;
mod text_raster;

pub use data::{load, RunData};
pub use figures::FigureSpec;

use figures::Drawn;
use plotters::prelude::*;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

/// DejaVu Sans, bundled so that figures look the same everywhere
/// (assets/fonts/DejaVuSans-LICENSE.txt has its licence).
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Register the bundled font as plotters' "sans-serif" (once per process).
pub fn register_font() -> Result<(), String> {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok = *OK.get_or_init(|| {
        plotters::style::register_font(figures::FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the bundled font could not be loaded".into())
    }
}

#[derive(Clone, Debug)]
pub struct PlotOptions {
    /// Where the figures and report.html go.
    pub out_dir: PathBuf,
    /// Also write each figure as SVG.
    pub svg: bool,
}

/// The folder `cbmc plot RUN.npz` writes to when not told: `<dir>/<stem>/`
/// next to the .npz.
pub fn default_out_dir(npz: &Path) -> PathBuf {
    let stem = npz
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run")
        .to_string();
    npz.parent()
        .unwrap_or_else(|| Path::new("."))
        .join(format!("{stem}-plots"))
}

/// One figure written.
#[derive(Clone, Debug)]
pub struct Figure {
    pub spec: FigureSpec,
    pub png: PathBuf,
    pub svg: Option<PathBuf>,
    pub drawn: Drawn,
}

pub struct PlotOutput {
    pub figures: Vec<Figure>,
    pub report: PathBuf,
    pub load_seconds: f64,
    pub draw_seconds: f64,
}

/// Read a run file and write every figure and the report.
pub fn plot_npz(npz: &Path, opts: &PlotOptions) -> Result<PlotOutput, String> {
    let t0 = Instant::now();
    let data = load(npz)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let figures = plot_data(&data, opts)?;
    let report = report::write(&data, &figures, &opts.out_dir)?;
    Ok(PlotOutput {
        figures,
        report,
        load_seconds,
        draw_seconds: t1.elapsed().as_secs_f64(),
    })
}

/// Draw every figure the data allows into `opts.out_dir`.
pub fn plot_data(data: &RunData, opts: &PlotOptions) -> Result<Vec<Figure>, String> {
    register_font()?;
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| format!("cannot create {}: {e}", opts.out_dir.display()))?;
    let specs = figures::plan(data);
    specs
        .into_par_iter()
        .map(|spec| {
            let png = opts.out_dir.join(format!("{}.png", spec.stem));
            let drawn = write_png(&spec, data, &png)?;
            let svg = if opts.svg {
                let p = opts.out_dir.join(format!("{}.svg", spec.stem));
                write_svg(&spec, data, &p)?;
                Some(p)
            } else {
                None
            };
            Ok(Figure {
                spec,
                png,
                svg,
                drawn,
            })
        })
        .collect()
}

/// Draw a figure into an RGB buffer (`width * height * 3` bytes).
pub fn render_rgb(spec: &FigureSpec, data: &RunData) -> Result<(Vec<u8>, Drawn), String> {
    register_font()?;
    let (w, h) = (spec.width, spec.height);
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    let drawn = {
        let root = text_raster::GlyphBitmap::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let drawn =
            figures::draw(spec, data, &root).map_err(|e| format!("figure {}: {e}", spec.stem))?;
        root.present()
            .map_err(|e| format!("figure {}: {e}", spec.stem))?;
        drawn
    };
    Ok((buf, drawn))
}

fn write_png(spec: &FigureSpec, data: &RunData, path: &Path) -> Result<Drawn, String> {
    let (buf, drawn) = render_rgb(spec, data)?;
    let err = |e: &dyn std::fmt::Display| format!("cannot encode {}: {e}", path.display());
    let mut png_bytes = Vec::new();
    let mut enc = png::Encoder::new(&mut png_bytes, spec.width, spec.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut w = enc.write_header().map_err(|e| err(&e))?;
    w.write_image_data(&buf).map_err(|e| err(&e))?;
    w.finish().map_err(|e| err(&e))?;
    crate::files::write_atomically(path, &png_bytes)?;
    Ok(drawn)
}

fn write_svg(spec: &FigureSpec, data: &RunData, path: &Path) -> Result<(), String> {
    let mut text = String::new();
    {
        let root =
            SVGBackend::with_string(&mut text, (spec.width, spec.height)).into_drawing_area();
        figures::draw(spec, data, &root).map_err(|e| format!("figure {}: {e}", spec.stem))?;
        root.present()
            .map_err(|e| format!("figure {}: {e}", spec.stem))?;
    }
    crate::files::write_atomically(path, text.as_bytes())
}
