//! `cbmc plot`: every figure from a short run of the cerebellum model,
//! decoded and inspected; silent populations; files missing a key; the
//! report in headless Chromium (when installed).

mod common;
use cbmc::analysis::{self, figures, PlotOptions, PlotOutput};
use cbmc::record::{write_npz, NpzArray};
use cbmc::session;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cbmc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cbmc"))
}

fn cerebellum() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/cerebellum.cbm")
}

/// Run a model and write its .npz into a fresh folder; returns the .npz.
fn run_to_npz(model: &Path, dir: &str, sets: &[(&str, &str)]) -> PathBuf {
    let (prepared, result) = run_file(model, sets, 1);
    let out = temp_dir(dir);
    let stem = model.file_stem().unwrap().to_str().unwrap();
    session::write_outputs(&out, stem, &prepared, &result).expect("write outputs")
}

fn plot(npz: &Path, svg: bool) -> PlotOutput {
    let opts = PlotOptions {
        out_dir: analysis::default_out_dir(npz),
        svg,
    };
    match analysis::plot_npz(npz, &opts) {
        Ok(o) => o,
        Err(e) => panic!("plotting {} failed: {e}", npz.display()),
    }
}

struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

fn decode(path: &Path) -> Image {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("decode PNG");
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", path.display());
    buf.truncate(info.buffer_size());
    Image {
        width: info.width,
        height: info.height,
        rgb: buf,
    }
}

/// Pixels inside `area` that are coloured (not white, grey or black: the
/// background, grid lines, axes and text are all grey levels).
fn coloured_pixels(img: &Image, area: (i32, i32, i32, i32)) -> usize {
    let (x0, y0, x1, y1) = area;
    let mut n = 0;
    for y in y0.max(0)..y1.min(img.height as i32) {
        for x in x0.max(0)..x1.min(img.width as i32) {
            let k = (y as usize * img.width as usize + x as usize) * 3;
            let p = &img.rgb[k..k + 3];
            let hi = *p.iter().max().unwrap() as i32;
            let lo = *p.iter().min().unwrap() as i32;
            if hi - lo > 40 {
                n += 1;
            }
        }
    }
    n
}

/// Pixels of exactly one colour inside `area`.
fn pixels_of(img: &Image, area: (i32, i32, i32, i32), c: (u8, u8, u8)) -> usize {
    let (x0, y0, x1, y1) = area;
    let mut n = 0;
    for y in y0.max(0)..y1.min(img.height as i32) {
        for x in x0.max(0)..x1.min(img.width as i32) {
            let k = (y as usize * img.width as usize + x as usize) * 3;
            if img.rgb[k..k + 3] == [c.0, c.1, c.2] {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn every_figure_of_a_short_cerebellum_run() {
    let npz = run_to_npz(&cerebellum(), "plot_cerebellum", &[("duration", "3 s")]);
    let out = plot(&npz, true);
    let names: Vec<&str> = out.figures.iter().map(|f| f.spec.stem.as_str()).collect();
    for expected in [
        "raster_IO",
        "raster_PKJ",
        "raster_PF",
        "raster_DCN",
        "raster_BC",
        "raster_MF",
        "rate_IO",
        "rate_PKJ",
        "rate_PF",
        "rate_DCN",
        "rate_BC",
        "rate_MF",
        "weights_traces_weights",
        "weights_mean_weights",
        "weights_dist_weights",
        "trace_IO_V",
        "isi_IO_times",
    ] {
        assert!(
            names.contains(&expected),
            "no figure {expected}; got {names:?}"
        );
    }
    // The issue's order: IO, PKJ, PF, DCN rasters first.
    assert_eq!(
        &names[..4],
        &["raster_IO", "raster_PKJ", "raster_PF", "raster_DCN"]
    );
    for f in &out.figures {
        let img = decode(&f.png);
        assert_eq!(
            (img.width, img.height),
            (f.spec.width, f.spec.height),
            "{}",
            f.spec.stem
        );
        assert_eq!(img.width, figures::WIDTH);
        let (x0, y0, x1, y1) = f.drawn.plot_area;
        assert!(
            x0 >= 0 && y0 >= 0 && x1 <= img.width as i32 && y1 <= img.height as i32,
            "{}: plot area {:?} outside the image",
            f.spec.stem,
            f.drawn.plot_area
        );
        assert!(
            (x1 - x0) as u32 > img.width / 3 && (y1 - y0) as u32 > img.height / 4,
            "{}: plot area {:?} is too small",
            f.spec.stem,
            f.drawn.plot_area
        );
        assert!(!f.drawn.empty, "{} says it is empty", f.spec.stem);
        let n = coloured_pixels(&img, f.drawn.plot_area);
        assert!(
            n > 200,
            "{}: only {n} data pixels inside the plot area",
            f.spec.stem
        );
        // A title, axes and labels: plenty of dark pixels outside the plot.
        let dark = img
            .rgb
            .chunks(3)
            .filter(|p| p.iter().all(|&c| c < 80))
            .count();
        assert!(dark > 500, "{}: no text or axes ({dark})", f.spec.stem);
        let svg = std::fs::read_to_string(f.svg.as_ref().expect("--svg")).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains(&f.spec.title.replace('&', "&amp;")[..10]),
            "{}: SVG lacks its title",
            f.spec.stem
        );
    }
    // The rasters: PKJ shows all 128 cells (at most 200), PF a random 100
    // of the 512 recorded, the same on every call.
    let rows = |stem: &str| match &out
        .figures
        .iter()
        .find(|f| f.spec.stem == stem)
        .unwrap()
        .spec
        .plan
    {
        figures::Plan::Raster { rows, .. } => rows.clone(),
        p => panic!("{stem} is not a raster: {p:?}"),
    };
    assert_eq!(rows("raster_PKJ"), (0..128).collect::<Vec<u32>>());
    let pf = rows("raster_PF");
    assert_eq!(pf.len(), 100);
    assert!(pf.windows(2).all(|w| w[0] < w[1]) && *pf.last().unwrap() < 512);
    assert_ne!(pf, (0..100).collect::<Vec<u32>>(), "PF rows are not random");
    let again = plot(&npz, false);
    let pf2 = match &again.figures[2].spec.plan {
        figures::Plan::Raster { rows, .. } => rows.clone(),
        _ => unreachable!(),
    };
    assert_eq!(pf, pf2, "the PF subset is not seeded");
    // Metadata tells the plots the units and the projection.
    let titles: Vec<&str> = out.figures.iter().map(|f| f.spec.title.as_str()).collect();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("PF→PKJ weights (pf_pkj.w")),
        "{titles:?}"
    );
    assert!(titles
        .iter()
        .any(|t| t.contains("IO rate") && t.contains("1 Hz")));
    // The report shows every figure.
    let html = std::fs::read_to_string(&out.report).unwrap();
    for f in &out.figures {
        let name = f.png.file_name().unwrap().to_str().unwrap();
        assert!(
            html.contains(&format!("<img src=\"{name}\"")),
            "report lacks {name}"
        );
        assert_eq!(f.png.parent(), out.report.parent());
    }
    for needle in ["Firing summary", "PKJ", "model hash", "seed"] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    check_report_in_chromium(&out.report);
}

const QUIET: &str = r#"
model quiet
simulation { dt = 1 ms  duration = 1 s  seed = 2 }
neuron Cell {
    parameters { gL = 0.1 /ms; EL = -65 mV; theta = -50 mV }
    state { V = EL }
    equations { dV/dt = gL*(EL - V) [euler] }
    spike when V >= theta
    reset { V = EL }
}
population In[20] = poisson(rate = 20 Hz)
population Silent[10] = Cell()
record In_times = spike_times(In)
record In_rate = rate(In, bin = 10 ms)
record Silent_spikes = spike_counts(Silent, bin = 10 ms)
record Silent_times = spike_times(Silent)
record Silent_V = trace(Silent.V, cells = [0, 1, 2])
"#;

fn quiet_npz(dir: &str) -> PathBuf {
    let d = temp_dir(&format!("{dir}_model"));
    let model = d.join("quiet.cbm");
    std::fs::write(&model, QUIET).unwrap();
    run_to_npz(&model, dir, &[])
}

#[test]
fn a_population_without_spikes_gets_figures_that_say_so() {
    let npz = quiet_npz("plot_quiet");
    let out = plot(&npz, false);
    let by = |stem: &str| {
        out.figures
            .iter()
            .find(|f| f.spec.stem == stem)
            .unwrap_or_else(|| panic!("no figure {stem}"))
    };
    let m = figures::MESSAGE;
    for stem in ["raster_Silent", "rate_Silent", "isi_Silent_times"] {
        let f = by(stem);
        assert!(f.drawn.empty, "{stem} should say there were no spikes");
        let img = decode(&f.png);
        assert_eq!((img.width, img.height), (f.spec.width, f.spec.height));
        assert!(
            pixels_of(&img, f.drawn.plot_area, (m.0, m.1, m.2)) > 50,
            "{stem}: no message drawn"
        );
    }
    // The spiking input in the same run is drawn normally, its rate from a
    // rate recorder.
    for stem in ["raster_In", "rate_In", "isi_In_times", "trace_Silent_V"] {
        let f = by(stem);
        assert!(!f.drawn.empty, "{stem}");
        let img = decode(&f.png);
        assert!(coloured_pixels(&img, f.drawn.plot_area) > 200, "{stem}");
    }
    assert!(matches!(
        by("rate_In").spec.plan,
        figures::Plan::Rate {
            src: figures::RateSrc::Rate(_),
            ..
        }
    ));
}

/// A population's rate over time comes from its finest record: spike
/// counts in one bin over the run (an f-I run) give way to its spike
/// times; counts in one bin alone give no rate figure (a single point).
#[test]
fn the_rate_figure_is_drawn_from_the_finest_record() {
    let d = temp_dir("plot_rate_source_model");
    let model = d.join("fi.cbm");
    std::fs::write(
        &model,
        r#"
simulation { dt = 1 ms  duration = 2 s  seed = 2 }
neuron Cell {
    parameters { EL = -65 mV; theta = -50 mV; I = 0 mV }
    state { V = EL }
    equations { dV/dt = (EL - V + I) / 10 ms [exact] }
    spike when V >= theta
    reset { V = EL }
}
population A[10] = Cell(I = 30 mV * i / n_cells)
population B[10] = Cell(I = 30 mV * i / n_cells)
population C[10] = Cell(I = 30 mV * i / n_cells)
record A_counts = spike_counts(A, bin = 2 s)
record A_times = spike_times(A)
record B_counts = spike_counts(B, bin = 2 s)
record C_counts = spike_counts(C, bin = 100 ms)
record C_times = spike_times(C)
"#,
    )
    .unwrap();
    let npz = run_to_npz(&model, "plot_rate_source", &[]);
    let out = plot(&npz, false);
    let rate_of = |pop: &str| {
        out.figures
            .iter()
            .find(|f| f.spec.stem == format!("rate_{pop}"))
            .map(|f| f.spec.plan.clone())
    };
    assert!(matches!(
        rate_of("A"),
        Some(figures::Plan::Rate {
            src: figures::RateSrc::Times(_),
            ..
        })
    ));
    assert!(rate_of("B").is_none(), "a rate figure of one bin");
    assert!(matches!(
        rate_of("C"),
        Some(figures::Plan::Rate {
            src: figures::RateSrc::Counts(_),
            ..
        })
    ));
    // The raster still shows every population.
    for pop in ["A", "B", "C"] {
        assert!(out
            .figures
            .iter()
            .any(|f| f.spec.stem == format!("raster_{pop}")));
    }
}

/// Rewrite a run file with `edit` applied to its arrays.
fn rewrite(npz: &Path, to: &Path, edit: impl Fn(&mut Vec<(String, NpzArray)>)) {
    let data = {
        let file = std::fs::File::open(npz).unwrap();
        let mut r = ndarray_npy::NpzReader::new(file).unwrap();
        let mut arrays = Vec::new();
        for name in r.names().unwrap() {
            use ndarray::IxDyn;
            let a = if let Ok(a) = r.by_name::<ndarray::OwnedRepr<f64>, IxDyn>(&name) {
                NpzArray::F64 {
                    shape: a.shape().to_vec(),
                    data: a.into_raw_vec_and_offset().0.into(),
                }
            } else if let Ok(a) = r.by_name::<ndarray::OwnedRepr<u32>, IxDyn>(&name) {
                NpzArray::U32 {
                    shape: a.shape().to_vec(),
                    data: a.into_raw_vec_and_offset().0.into(),
                }
            } else if let Ok(a) = r.by_name::<ndarray::OwnedRepr<u16>, IxDyn>(&name) {
                NpzArray::U16 {
                    shape: a.shape().to_vec(),
                    data: a.into_raw_vec_and_offset().0.into(),
                }
            } else {
                let a = r.by_name::<ndarray::OwnedRepr<u8>, IxDyn>(&name).unwrap();
                NpzArray::U8 {
                    shape: a.shape().to_vec(),
                    data: a.into_raw_vec_and_offset().0.into(),
                }
            };
            arrays.push((name, a));
        }
        arrays
    };
    let mut data = data;
    edit(&mut data);
    write_npz(to, &data).unwrap();
}

/// Drop the `recorders` list from the metadata, as in files written before
/// the plotting stage existed.
fn strip_recorders(arrays: &mut [(String, NpzArray)]) {
    for (k, a) in arrays.iter_mut() {
        if k == "meta" {
            if let NpzArray::U8 { shape, data } = a {
                let mut meta: serde_json::Value = serde_json::from_slice(data).unwrap();
                meta.as_object_mut().unwrap().remove("recorders");
                *data = serde_json::to_vec(&meta).unwrap().into();
                *shape = vec![data.len()];
            }
        }
    }
}

#[test]
fn a_missing_key_is_an_error_naming_it() {
    let npz = quiet_npz("plot_missing");
    let dir = npz.parent().unwrap().to_path_buf();
    let cases: Vec<(&str, bool, &str)> = vec![
        // (key removed, strip the recorders list too, key the error names)
        ("Silent_spikes_bin", false, "Silent_spikes_bin"),
        ("Silent_times_i", false, "Silent_times_i"),
        ("Silent_V_cells", false, "Silent_V_cells"),
        ("meta", false, "meta"),
        ("Silent_spikes_bin", true, "Silent_spikes_bin"),
        ("Silent_times_i", true, "Silent_times_i"),
        ("Silent_V_cells", true, "Silent_V_cells"),
        ("In_rate", true, "In_rate"),
    ];
    for (n, (key, strip, named)) in cases.into_iter().enumerate() {
        let broken = dir.join(format!("broken{n}.npz"));
        rewrite(&npz, &broken, |arrays| {
            arrays.retain(|(k, _)| k != key);
            if strip {
                strip_recorders(arrays);
            }
        });
        let opts = PlotOptions {
            out_dir: dir.join(format!("broken{n}-plots")),
            svg: false,
        };
        let err = match analysis::plot_npz(&broken, &opts) {
            Ok(_) => panic!("a file without `{key}` plotted"),
            Err(e) => e,
        };
        assert!(
            err.contains(&format!("`{named}`")),
            "without `{key}` (recorders list stripped: {strip}): {err}"
        );
        // The command line says the same, without a panic.
        let o = cbmc()
            .args(["plot", broken.to_str().unwrap(), "-o"])
            .arg(dir.join(format!("broken{n}-cli")))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(&format!("`{named}`")), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Not an npz at all, or no file.
    let junk = dir.join("junk.npz");
    std::fs::write(&junk, b"not a zip").unwrap();
    let o = cbmc()
        .args(["plot", junk.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an .npz"));
    let o = cbmc()
        .args(["plot", dir.join("nowhere.npz").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot open"));
}

#[test]
fn files_without_a_recorders_list_still_plot() {
    let npz = run_to_npz(&cerebellum(), "plot_old_meta", &[("duration", "1 s")]);
    let old = npz.with_file_name("old.npz");
    rewrite(&npz, &old, |a| strip_recorders(a));
    let new = plot(&npz, false);
    let out = plot(&old, false);
    let stems =
        |o: &PlotOutput| -> Vec<String> { o.figures.iter().map(|f| f.spec.stem.clone()).collect() };
    assert_eq!(stems(&new), stems(&out));
    let trace = out
        .figures
        .iter()
        .find(|f| f.spec.stem == "trace_IO_V")
        .unwrap();
    assert!(
        trace.spec.title.contains("membrane voltage"),
        "{}",
        trace.spec.title
    );
}

#[test]
fn cbmc_run_plots_unless_told_not_to() {
    let d = temp_dir("plot_run_cli");
    let model = d.join("quiet.cbm");
    std::fs::write(&model, QUIET).unwrap();
    let out = d.join("out");
    let o = cbmc()
        .args(["run", model.to_str().unwrap(), "--quiet", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("quiet-plots/report.html").exists());
    assert!(out.join("quiet-plots/raster_Silent.png").exists());
    let out2 = d.join("out2");
    let o = cbmc()
        .args(["run", model.to_str().unwrap(), "--quiet", "--no-plot", "-o"])
        .arg(&out2)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(out2.join("quiet.npz").exists());
    assert!(!out2.join("quiet-plots").exists());
    // `cbmc plot` with -o and --svg.
    let figs = d.join("figs");
    let o = cbmc()
        .args([
            "plot",
            out2.join("quiet.npz").to_str().unwrap(),
            "--svg",
            "-o",
        ])
        .arg(&figs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(figs.join("report.html").exists());
    assert!(figs.join("raster_In.svg").exists());
}

#[test]
fn a_plotting_failure_after_a_run_keeps_the_npz() {
    let d = temp_dir("plot_run_fails");
    let model = d.join("quiet.cbm");
    std::fs::write(&model, QUIET).unwrap();
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    // A file where the figures' folder should go.
    std::fs::write(out.join("quiet-plots"), b"in the way").unwrap();
    let o = cbmc()
        .args(["run", model.to_str().unwrap(), "--quiet", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(out.join("quiet.npz").exists());
}

/// Every <img> of the report loads in headless Chromium (skipped, with a
/// message, where Chromium is not installed).
fn check_report_in_chromium(report: &Path) {
    let have = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .any(|p| Path::new(p).exists());
    if !have {
        eprintln!("skipped: no Chromium to check report.html (apt-get install -y chromium)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-report.sh");
    let o = Command::new("sh")
        .arg(&script)
        .arg(report)
        .output()
        .expect("run scripts/check-report.sh");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "report check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ok: all"), "{stdout}");
}

/// The issue's benchmark: a file the size of a 1000 s cerebellum run
/// (same keys and shapes, synthetic spikes) is plotted, reading included,
/// in under 5 s. Ignored by default (it writes 230 MB and depends on the
/// machine): `cargo test --release --test plot -- --ignored --nocapture`.
#[test]
#[ignore]
fn benchmark_a_1000_s_run_plots_in_under_5_s() {
    let dir = temp_dir("plot_bench");
    let npz = dir.join("long.npz");
    let mut s: u64 = 7;
    let mut rand = move || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (bins, bin) = (20_000usize, 0.05);
    let mut arrays: Vec<(String, NpzArray)> = Vec::new();
    let mut populations = Vec::new();
    for (pop, cells, recorded, hz) in [
        ("PF", 4096, 512, 26.0),
        ("MF", 8, 8, 10.0),
        ("BC", 512, 512, 47.0),
        ("PKJ", 128, 128, 45.0),
        ("DCN", 8, 8, 50.0),
        ("IO", 16, 16, 1.0),
    ] {
        let p = hz * bin;
        let data: Vec<u16> = (0..bins * recorded)
            .map(|_| {
                let u = rand();
                (u < p) as u16 + (u < p * p / 2.0) as u16
            })
            .collect();
        arrays.push((
            format!("{pop}_spikes"),
            NpzArray::U16 {
                shape: vec![bins, recorded],
                data: data.into(),
            },
        ));
        arrays.push((
            format!("{pop}_spikes_bin"),
            NpzArray::F64 {
                shape: vec![],
                data: vec![bin].into(),
            },
        ));
        populations.push(serde_json::json!({"name": pop, "cells": cells, "mean_hz": hz}));
    }
    let (mut t, mut i) = (Vec::new(), Vec::new());
    for step in 0..1_000_000u32 {
        for cell in 0..16u32 {
            if rand() < 1e-3 {
                t.push(step as f64 * 1e-3);
                i.push(cell);
            }
        }
    }
    let n = t.len();
    arrays.push((
        "IO_times_t".into(),
        NpzArray::F64 {
            shape: vec![n],
            data: t.into(),
        },
    ));
    arrays.push((
        "IO_times_i".into(),
        NpzArray::U32 {
            shape: vec![n],
            data: i.into(),
        },
    ));
    let (snaps, syn) = (10_000usize, 2000usize);
    let mut w = vec![1.0; syn];
    let mut wdata = Vec::with_capacity(snaps * syn);
    for _ in 0..snaps {
        for x in w.iter_mut() {
            *x = (*x + (rand() - 0.52) * 0.01).clamp(0.2, 3.0);
        }
        wdata.extend_from_slice(&w);
    }
    arrays.push((
        "weights".into(),
        NpzArray::F64 {
            shape: vec![snaps, syn],
            data: wdata.into(),
        },
    ));
    arrays.push((
        "weights_t".into(),
        NpzArray::F64 {
            shape: vec![snaps],
            data: (0..snaps).map(|k| k as f64 * 0.1).collect(),
        },
    ));
    for key in ["weights_pre", "weights_post"] {
        arrays.push((
            key.into(),
            NpzArray::U32 {
                shape: vec![syn],
                data: (0..syn as u32).collect(),
            },
        ));
    }
    let samples = 1_000_000usize;
    arrays.push((
        "IO_V".into(),
        NpzArray::F64 {
            shape: vec![samples, 2],
            data: (0..2 * samples).map(|_| -0.065 + 0.005 * rand()).collect(),
        },
    ));
    arrays.push((
        "IO_V_t".into(),
        NpzArray::F64 {
            shape: vec![samples],
            data: (0..samples).map(|k| k as f64 * 1e-3).collect(),
        },
    ));
    arrays.push((
        "IO_V_cells".into(),
        NpzArray::U32 {
            shape: vec![2],
            data: vec![0, 1].into(),
        },
    ));
    let meta = serde_json::to_vec(&serde_json::json!({
        "model_name": "cerebellum", "seed": 1, "dt": 1e-3, "simulated_seconds": 1000.0,
        "steps_done": 1_000_000, "steps_planned": 1_000_000, "populations": populations,
    }))
    .unwrap();
    arrays.push((
        "meta".into(),
        NpzArray::U8 {
            shape: vec![meta.len()],
            data: meta.into(),
        },
    ));
    write_npz(&npz, &arrays).unwrap();
    drop(arrays);
    let t0 = std::time::Instant::now();
    let out = plot(&npz, false);
    let seconds = t0.elapsed().as_secs_f64();
    eprintln!(
        "plotted {} figures of a 1000 s file in {seconds:.2} s (reading {:.2} s)",
        out.figures.len(),
        out.load_seconds
    );
    assert_eq!(out.figures.len(), 17);
    assert!(seconds < 5.0, "plotting took {seconds:.2} s");
}

/// An `.npy` member whose header claims a terabyte-sized array (a damaged
/// file) is an error naming the key, not an aborted allocation.
#[test]
fn a_damaged_array_header_is_an_error_not_an_abort() {
    let npz = quiet_npz("plot_damaged_header");
    let dir = npz.parent().unwrap().to_path_buf();
    let damaged = dir.join("damaged.npz");
    {
        let mut from = zip::ZipArchive::new(std::fs::File::open(&npz).unwrap()).unwrap();
        let mut to = zip::ZipWriter::new(std::fs::File::create(&damaged).unwrap());
        for i in 0..from.len() {
            let member = from.by_index_raw(i).unwrap();
            if member.name() == "Silent_spikes.npy" {
                continue;
            }
            to.raw_copy_file(member).unwrap();
        }
        let mut dict =
            "{'descr': '<u2', 'fortran_order': False, 'shape': (1000000000000, 3), }".to_string();
        while !(10 + dict.len() + 1).is_multiple_of(64) {
            dict.push(' ');
        }
        dict.push('\n');
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        npy.extend((dict.len() as u16).to_le_bytes());
        npy.extend(dict.as_bytes());
        npy.extend([0u8; 12]);
        to.start_file(
            "Silent_spikes.npy",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(&mut to, &npy).unwrap();
        to.finish().unwrap();
    }
    let o = cbmc()
        .args(["plot", damaged.to_str().unwrap(), "-o"])
        .arg(dir.join("damaged-plots"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("key `Silent_spikes` is damaged"),
        "{stderr}"
    );
}

/// Weights with a unit are shown in it (nS, not 1e-9 S), and a change of
/// 0.1 nS counts as a change: the distribution legend used to say "100%
/// unchanged" at every snapshot, its tolerance being 1e-9 in SI.
#[test]
fn weights_with_a_unit_are_shown_in_it_and_small_changes_count() {
    let model = model_file(
        "weights_unit",
        r#"
simulation { dt = 1 ms  duration = 40 ms }
neuron Sink { inputs { g: nS } state { V = 0 } update { V += g / 1 nS } }
synapse Grow {
    state { gmax: nS = uniform(1 nS, 3 nS) }
    on_pre { target += gmax; gmax += 0.1 nS }
}
population In[20] = poisson(rate = 50 Hz)
population P[1] = Sink()
projection ip: In -> P.g { synapse = Grow()  connect = all_to_all() }
record gm = weights(ip.gmax, every = 10 ms)
"#,
    );
    let npz = run_to_npz(&model, "weights_unit_run", &[]);
    let out = plot(&npz, true);
    let svg_of = |stem: &str| {
        let f = out
            .figures
            .iter()
            .find(|f| f.spec.stem == stem)
            .unwrap_or_else(|| panic!("no figure {stem}"));
        std::fs::read_to_string(f.svg.as_ref().expect("--svg")).unwrap()
    };
    let dist = svg_of("weights_dist_gm");
    assert!(dist.contains("gmax (nS)"), "axis in nS");
    assert!(
        dist.contains("t = 0 s: 100% unchanged"),
        "the first snapshot"
    );
    let later: Vec<&str> = dist
        .match_indices("% unchanged")
        .map(|(i, _)| &dist[i.saturating_sub(4)..i])
        .collect();
    assert!(
        later.iter().filter(|p| !p.ends_with("100")).count() >= 3,
        "later snapshots have changed weights: {later:?}"
    );
    assert!(svg_of("weights_mean_gm").contains("gmax (nS)"));
}

/// Weights of a projection with delays drawn per synapse get a figure
/// against the delay; the same model with one delay does not.
#[test]
fn weights_with_drawn_delays_are_also_shown_by_delay() {
    let text = r#"
simulation { dt = 1 ms  duration = 40 ms }
neuron Sink { inputs { g: 1 } state { V = 0 } update { V += g } }
synapse Grow {
    state { w = 1 }
    on_pre { target += w; w += 0.1 }
}
population In[20] = poisson(rate = 50 Hz)
population P[2] = Sink()
projection ip: In -> P.g { synapse = Grow()  connect = all_to_all()  delay = uniform(1 ms, 5 ms) }
record w = weights(ip, every = 10 ms)
"#;
    let model = model_file("weights_by_delay", text);
    let out = plot(&run_to_npz(&model, "weights_by_delay_run", &[]), true);
    let fig = out
        .figures
        .iter()
        .find(|f| f.spec.stem == "weights_delay_w")
        .expect("a figure by delay");
    let svg = std::fs::read_to_string(fig.svg.as_ref().expect("--svg")).unwrap();
    assert!(
        svg.contains("delay (ms)") && svg.contains("mean at 0 s"),
        "axis and legend"
    );
    // Every recorded synapse is a point (40 synapses).
    assert!(
        svg.matches("<circle").count() >= 40,
        "one point per synapse"
    );
    // One delay: no such figure, and `w_delay` may be another recorder.
    let one_delay = text.replace("delay = uniform(1 ms, 5 ms)", "delay = 2 ms")
        + "record w_delay = spike_counts(P, bin = 10 ms)\n";
    let fixed = model_file("weights_one_delay", &one_delay);
    let out = plot(&run_to_npz(&fixed, "weights_one_delay_run", &[]), false);
    assert!(out.figures.iter().all(|f| f.spec.stem != "weights_delay_w"));
    assert!(out.figures.iter().any(|f| f.spec.stem == "weights_mean_w"));
}

/// A run with a protocol gets each population's rate within the trial,
/// averaged over the usual trials and over the probe trials apart: spike
/// times folded into a fiftieth of the trial, counts in their own bins
/// (where they divide the trial), only complete trials, the signals in
/// the metadata. A run without a protocol gets none.
#[test]
fn the_rate_within_the_trial_folds_the_trials() {
    let d = temp_dir("plot_trial_model");
    let model = d.join("trials.cbm");
    std::fs::write(
        &model,
        r#"
simulation { dt = 1 ms  duration = 450 ms }
protocol p {
    trial = 100 ms
    probe_every = 2
    cs = window(20 ms, 60 ms)
    us = window(50 ms, 60 ms, probe = off)
}
population S[2] = spike_times(times = [10 ms, 110 ms, 120 ms, 210 ms, 330 ms, 410 ms], cells = [1])
population Q[1] = spike_times(times = [5 ms, 115 ms, 305 ms, 310 ms])
record s = spike_times(S)
record q = spike_counts(Q, bin = 10 ms)
"#,
    )
    .unwrap();
    let npz = run_to_npz(&model, "plot_trial", &[]);
    let data = analysis::data::load(&npz).expect("load");
    assert_eq!(data.meta.signals.len(), 2);
    assert_eq!(data.meta.signals[1].name, "us");
    assert!(data.meta.signals[1].silenced_in_probe);
    let p = &data.meta.signals[0];
    assert_eq!((p.trial, p.probe_every), (0.1, Some(2)));
    // Four complete trials (the 410 ms spike is in the fifth, cut short):
    // the first and third usual, the second and fourth probes. Two cells,
    // 2 ms bins: a spike is 1 / (2 cells x 2 trials x 2 ms) = 125 Hz.
    let s = figures::trial_rate(&data, figures::SpikeSrc::Times(0), p).expect("a trial rate");
    assert_eq!((s.usual_trials, s.probe_trials), (2, 2));
    assert!((s.bin - 0.002).abs() < 1e-12);
    assert_eq!(s.usual.len(), 50);
    assert!((s.usual[5] - 250.0).abs() < 1e-9, "10 ms in trials 1 and 3");
    assert_eq!(s.usual.iter().filter(|&&x| x > 0.0).count(), 1);
    for b in [5, 10, 15] {
        assert!(
            (s.probe[b] - 125.0).abs() < 1e-9,
            "probe bin {b}: {}",
            s.probe[b]
        );
    }
    assert_eq!(s.probe.iter().filter(|&&x| x > 0.0).count(), 3);
    // Counts in 10 ms bins: 1 cell, 2 trials of each kind.
    let q = figures::trial_rate(&data, figures::SpikeSrc::Counts(0), p).expect("from counts");
    assert!((q.bin - 0.01).abs() < 1e-12);
    assert_eq!(q.usual.len(), 10);
    // 5 ms in trial 1; 115 ms and 310 ms (probes) in the second bin, 305 ms
    // in the first.
    assert!((q.usual[0] - 50.0).abs() < 1e-9);
    assert_eq!(q.usual.iter().filter(|&&x| x > 0.0).count(), 1);
    assert!((q.probe[0] - 50.0).abs() < 1e-9 && (q.probe[1] - 100.0).abs() < 1e-9);
    let out = plot(&npz, false);
    for pop in ["S", "Q"] {
        let f = out
            .figures
            .iter()
            .find(|f| f.spec.stem == format!("trial_{pop}"))
            .unwrap_or_else(|| panic!("no trial figure of {pop}"));
        let img = decode(&f.png);
        assert!(coloured_pixels(&img, f.drawn.plot_area) > 100);
    }
    // Without a protocol, no such figure.
    let plain = run_to_npz(&cerebellum(), "plot_trial_none", &[("duration", "200ms")]);
    assert!(!plot(&plain, false)
        .figures
        .iter()
        .any(|f| f.spec.stem.starts_with("trial_")));
}

/// Over a long run, counts in one-step bins go in the right bin of the
/// trial (placing them by dividing times put each trial's first bin in
/// the one before: 25, 21 and 12 Hz for a flat 20 Hz), joined into bins
/// of a fiftieth of the trial.
#[test]
fn a_long_run_folds_into_the_trial_by_whole_bins() {
    let d = temp_dir("plot_trial_long_model");
    let model = d.join("flat.cbm");
    std::fs::write(
        &model,
        r#"
simulation { dt = 1 ms  duration = 100 s  seed = 5 }
protocol p { trial = 1 s; cs = window(200 ms, 300 ms) }
population In[20] = poisson(rate = 20 Hz)
record c = spike_counts(In, bin = 1 ms)
"#,
    )
    .unwrap();
    let npz = run_to_npz(&model, "plot_trial_long", &[]);
    let data = analysis::data::load(&npz).expect("load");
    let p = &data.meta.signals[0];
    let r = figures::trial_rate(&data, figures::SpikeSrc::Counts(0), p).expect("a trial rate");
    assert_eq!(r.usual_trials, 100);
    assert!((r.bin - 0.02).abs() < 1e-12, "bins of {} s", r.bin);
    assert_eq!(r.usual.len(), 50);
    // 800 spikes a bin expected (sd 3.5%): every bin within 20%.
    let expected = 1000.0 * (1.0 - (-0.02f64).exp());
    for (b, &hz) in r.usual.iter().enumerate() {
        assert!((hz - expected).abs() < 0.2 * expected, "bin {b}: {hz} Hz");
    }
}

/// With a protocol, each weights recorder gets its mean at the end of each
/// trial, by trial number, the probe trials marked.
#[test]
fn weights_by_trial_take_each_trials_last_snapshot() {
    let d = temp_dir("plot_weights_trials_model");
    let model = d.join("grow.cbm");
    std::fs::write(
        &model,
        r#"
simulation { dt = 1 ms  duration = 1 s }
protocol p { trial = 100 ms; probe_every = 3; cs = window(10 ms, 50 ms) }
neuron C { state { V = 0 mV } inputs { I: mV } update { V += I } }
synapse Grow { state { w = 1 } on_pre { target += w * 1 mV } every 100 ms { w += 0.1 } }
population In[5] = poisson(rate = 20 Hz * cs)
population Out[5] = C()
projection g: In -> Out.I { synapse = Grow(); connect = all_to_all() }
record w = weights(g.w, every = 10 ms)
record o = spike_counts(Out, bin = 10 ms)
"#,
    )
    .unwrap();
    let npz = run_to_npz(&model, "plot_weights_trials", &[]);
    let data = analysis::data::load(&npz).expect("load");
    let by_trial = figures::weights_by_trial(&data, 0).expect("by trial");
    assert_eq!(by_trial.len(), 10);
    for (k, &(trial, probe, mean)) in by_trial.iter().enumerate() {
        assert_eq!(trial, k + 1);
        assert_eq!(probe, trial % 3 == 0, "trial {trial}");
        // The rule adds 0.1 once in each trial.
        assert!(
            (mean - (1.0 + 0.1 * trial as f64)).abs() < 1e-9,
            "trial {trial}: {mean}"
        );
    }
    let out = plot(&npz, false);
    assert!(out
        .figures
        .iter()
        .any(|f| f.spec.stem == "weights_trials_w"));
}

/// Snapshots as far apart as the trials (`every` = the trial's length) are
/// taken in each trial's first step: trial k's end is the snapshot of the
/// next trial's first step, not the one of its own first step (which
/// showed each trial the weights of the trial before: a new-user trial).
#[test]
fn weights_by_trial_with_a_snapshot_a_trial_take_the_next_trials_first() {
    let d = temp_dir("plot_weights_every_trial_model");
    let model = d.join("grow.cbm");
    std::fs::write(
        &model,
        r#"
simulation { dt = 1 ms  duration = 1 s }
protocol p { trial = 100 ms; probe_every = 3; cs = window(10 ms, 50 ms) }
neuron C { state { V = 0 mV } inputs { I: mV } update { V += I } }
synapse Grow { state { w = 1 } on_pre { target += w * 1 mV; w += 0.1 } }
population In[1] = spike_times(times = [20 ms, 120 ms, 220 ms, 320 ms, 420 ms, 520 ms, 620 ms, 720 ms, 820 ms, 920 ms])
population Out[2] = C()
projection g: In -> Out.I { synapse = Grow(); connect = all_to_all() }
record w = weights(g.w, every = 100 ms)
record o = spike_counts(Out, bin = 10 ms)
"#,
    )
    .unwrap();
    let npz = run_to_npz(&model, "plot_weights_every_trial", &[]);
    let data = analysis::data::load(&npz).expect("load");
    let by_trial = figures::weights_by_trial(&data, 0).expect("by trial");
    // The last trial has no snapshot after it.
    assert_eq!(by_trial.len(), 9);
    for &(trial, _, mean) in &by_trial {
        // One spike a trial, each adding 0.1.
        assert!(
            (mean - (1.0 + 0.1 * trial as f64)).abs() < 1e-9,
            "trial {trial}: {mean}"
        );
    }
}

/// A `wiring` recorder writes which cells each synapse joins (and the drawn
/// delays), for a synapse type with no state, and gets a figure of the
/// in- and out-degrees: every target of `fixed_indegree(3)` receives 3.
#[test]
fn wiring_records_the_synapses_of_a_stateless_projection() {
    let d = temp_dir("plot_wiring_model");
    let model = d.join("static.cbm");
    std::fs::write(
        &model,
        r#"
simulation { dt = 0.1 ms  duration = 20 ms }
neuron C { state { V = 0 mV } inputs { I: mV } update { V += I } }
synapse Jump { parameters { J = 1 mV } on_pre { target += J } }
population In[10] = poisson(rate = 10 Hz)
population Out[5] = C()
projection p: In -> Out.I {
    synapse = Jump()
    connect = fixed_indegree(3)
    delay = uniform(1 ms, 5 ms)
}
record c = wiring(p)
record few = wiring(p, max = 4)
record v = trace(Out.V)
"#,
    )
    .unwrap();
    let npz = run_to_npz(&model, "plot_wiring", &[]);
    let data = analysis::data::load(&npz).expect("load");
    let all = &data.wirings[0];
    assert_eq!((all.name.as_str(), all.pre.len()), ("c", 15));
    assert_eq!(figures::degrees(&all.post, 5), vec![3; 5]);
    assert!(all.pre.iter().all(|&i| i < 10));
    // Drawn delays, in whole steps from 1 to 5 ms.
    assert_eq!(all.delay.len(), 15);
    assert!(all.delay.iter().all(|&s| {
        let steps = s / 1e-4;
        (steps - steps.round()).abs() < 1e-6 && (10.0..=50.0).contains(&steps.round())
    }));
    // `max` spreads the recorded synapses evenly through the projection.
    let few = &data.wirings[1];
    assert_eq!(few.pre.len(), 4);
    for (k, (&pre, &post)) in few.pre.iter().zip(&few.post).enumerate() {
        let at = k * 15 / 4;
        assert_eq!((pre, post), (all.pre[at], all.post[at]));
    }
    let out = plot(&npz, false);
    assert!(out.figures.iter().any(|f| f.spec.stem == "wiring_c"));
}
