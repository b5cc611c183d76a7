//! Reading a run's `.npz` back: the metadata and every recorder's arrays,
//! sorted by recorder kind (docs/language.md section 3.12 lists the keys).
//!
//! Which recorder each array belongs to comes from the `recorders` list in
//! the metadata when the file has one, and otherwise from the key names
//! (`NAME_bin`, `NAME_t` + `NAME_i`, `NAME_cells`, `NAME_pre` + `NAME_post`).
//! A key that a recorder needs and the file lacks is an error naming it.

use crate::npz_keys::*;
use ndarray::{Array1, Array2, Ix0, Ix1, Ix2};
use ndarray_npy::{NpzReader, ReadableElement};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The parts of the `meta` record the figures and the report use.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub model: String,
    pub model_name: String,
    pub model_hash: String,
    pub overrides: Vec<String>,
    pub seed: u64,
    pub dt: f64,
    pub steps_planned: u64,
    pub steps_done: u64,
    pub simulated_seconds: f64,
    pub partial: bool,
    pub error: Option<String>,
    pub engine: String,
    pub threads: u64,
    pub device: String,
    pub cbmc_version: String,
    pub wall_seconds: f64,
    pub build_seconds: f64,
    pub synapses: u64,
    pub populations: Vec<crate::record::PopulationSummary>,
    /// Written by cbmc since the plotting stage; absent in older files.
    pub recorders: Option<Vec<RecorderMeta>>,
    /// The protocol's signals (empty without a protocol, and in files
    /// written before the nineteenth session).
    pub signals: Vec<SignalMeta>,
}

/// A protocol signal as the metadata gives it (times in seconds): 1 in
/// [start, end) of every trial of `trial` seconds, the first `trials` of
/// them; every `probe_every`-th trial is a probe, silent where
/// `silenced_in_probe`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignalMeta {
    pub name: String,
    pub start: f64,
    pub end: f64,
    pub trial: f64,
    pub trials: Option<u64>,
    pub probe_every: Option<u64>,
    pub silenced_in_probe: bool,
}

/// What the metadata says about one recorder (see `recorders_meta`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RecorderMeta {
    pub name: String,
    pub kind: String,
    pub population: Option<String>,
    pub variable: Option<String>,
    pub unit: Option<String>,
    /// Multiply SI values by this to get `unit`.
    pub unit_scale: Option<f64>,
    pub projection: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    /// A weights recorder of a projection with delays drawn per synapse:
    /// `NAME_delay` holds them.
    pub drawn_delays: bool,
    /// How many cells (0..cells) a spike recorder covers.
    #[serde(default)]
    pub cells: Option<usize>,
}

/// A `wiring` recorder: the cells each recorded synapse of a projection
/// joins.
pub struct Wiring {
    pub name: String,
    pub projection: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub pre: Vec<u32>,
    pub post: Vec<u32>,
    /// Each synapse's delay in seconds, where drawn per synapse (else empty).
    pub delay: Vec<f64>,
}

pub struct Counts {
    pub name: String,
    pub population: String,
    /// Bin width in seconds.
    pub bin: f64,
    /// [bins, cells]
    pub data: Array2<u16>,
}

pub struct Times {
    pub name: String,
    pub population: String,
    pub t: Vec<f64>,
    pub i: Vec<u32>,
    /// Population size, when the metadata knows it.
    pub cells: Option<usize>,
}

pub struct Trace {
    pub name: String,
    pub population: String,
    pub variable: Option<String>,
    pub unit: Option<String>,
    pub unit_scale: f64,
    pub t: Vec<f64>,
    pub cells: Vec<u32>,
    /// [samples, cells], SI units.
    pub data: Array2<f64>,
}

pub struct Weights {
    pub name: String,
    pub projection: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub variable: String,
    /// The unit to show the values in ("1": dimensionless; None: not known,
    /// a file written before weights had units in the metadata).
    pub unit: Option<String>,
    /// Multiply SI values by this to get `unit`.
    pub unit_scale: f64,
    pub t: Vec<f64>,
    pub pre: Vec<u32>,
    pub post: Vec<u32>,
    /// Each recorded synapse's delay in seconds, for delays drawn per
    /// synapse (empty otherwise).
    pub delay: Vec<f64>,
    /// [snapshots, synapses], SI units.
    pub data: Array2<f64>,
}

pub struct Rate {
    pub name: String,
    pub population: String,
    pub bin: f64,
    pub data: Vec<f64>,
}

/// Everything in one run file.
pub struct RunData {
    pub path: PathBuf,
    pub meta: Meta,
    /// The metadata as written, for the report.
    pub meta_json: serde_json::Value,
    pub counts: Vec<Counts>,
    pub times: Vec<Times>,
    pub traces: Vec<Trace>,
    pub weights: Vec<Weights>,
    pub rates: Vec<Rate>,
    pub wirings: Vec<Wiring>,
    /// Cell pairs coupled by gap junctions (keys `<gap>_pairs`), if stored.
    pub gap_pairs: Vec<(u32, u32)>,
}

impl RunData {
    /// Are cells `a` and `b` directly coupled by a gap junction? None when
    /// the file does not say (older runs).
    pub fn coupled(&self, a: u32, b: u32) -> Option<bool> {
        if self.gap_pairs.is_empty() {
            return None;
        }
        Some(
            self.gap_pairs
                .iter()
                .any(|&(x, y)| (x, y) == (a, b) || (x, y) == (b, a)),
        )
    }
    /// Simulated duration in seconds: from the metadata, or else from the
    /// longest recorded array.
    pub fn duration(&self) -> f64 {
        if self.meta.simulated_seconds > 0.0 {
            return self.meta.simulated_seconds;
        }
        let mut d: f64 = 0.0;
        for c in &self.counts {
            d = d.max(c.data.nrows() as f64 * c.bin);
        }
        for r in &self.rates {
            d = d.max(r.data.len() as f64 * r.bin);
        }
        for t in &self.times {
            d = d.max(t.t.last().copied().unwrap_or(0.0));
        }
        for t in &self.traces {
            d = d.max(t.t.last().copied().unwrap_or(0.0));
        }
        for w in &self.weights {
            d = d.max(w.t.last().copied().unwrap_or(0.0));
        }
        if d > 0.0 {
            d
        } else {
            1.0
        }
    }

    /// Population size from the metadata summary.
    pub fn population_size(&self, pop: &str) -> Option<usize> {
        self.meta
            .populations
            .iter()
            .find(|p| p.name == pop)
            .map(|p| p.cells)
    }
}

struct Reader {
    npz: NpzReader<BufReader<File>>,
    /// The same file, to look at an array's header before reading it.
    zip: zip::ZipArchive<BufReader<File>>,
    keys: BTreeSet<String>,
    path: PathBuf,
}

impl Reader {
    fn has(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// Read `key` as an array of `T` with dimension `D`; `what` says what
    /// the key holds, for the error message.
    fn read<T, D>(&mut self, key: &str, what: &str) -> Result<ndarray::Array<T, D>, String>
    where
        T: ReadableElement,
        D: ndarray::Dimension,
    {
        if !self.has(key) {
            return Err(format!(
                "{}: missing key `{key}` ({what})",
                self.path.display()
            ));
        }
        self.plausible_size(key)?;
        self.npz.by_name(key).map_err(|e| {
            format!(
                "{}: cannot read key `{key}` ({what}) as {} with {} dimension(s): {e}",
                self.path.display(),
                std::any::type_name::<T>(),
                D::NDIM
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "any".into()),
            )
        })
    }

    /// A damaged header can claim an array of terabytes, and reading it
    /// would abort on the allocation: compare the bytes its shape needs with
    /// the member's size and with the memory there is, first.
    fn plausible_size(&mut self, key: &str) -> Result<(), String> {
        let damaged =
            |why: String| format!("{}: key `{key}` is damaged: {why}", self.path.display());
        let Ok(mut member) = self.zip.by_name(&format!("{key}.npy")) else {
            return Ok(()); // ndarray-npy reports what is missing
        };
        let stored = member.size();
        let mut head = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut member, 4096), &mut head)
            .map_err(|e| damaged(e.to_string()))?;
        let Some(needed) = npy_data_bytes(&head) else {
            return Ok(()); // not a header we can read: ndarray-npy says why
        };
        if needed > stored {
            return Err(damaged(format!(
                "its header describes {needed} bytes of data and the file holds {stored}"
            )));
        }
        if crate::network::available_bytes().is_some_and(|have| needed > have) {
            return Err(damaged(format!(
                "it would need {:.1} GB of memory",
                needed as f64 / 1e9
            )));
        }
        Ok(())
    }

    fn scalar(&mut self, key: &str, what: &str) -> Result<f64, String> {
        let a: ndarray::Array<f64, Ix0> = self.read(key, what)?;
        Ok(a.into_scalar())
    }

    fn vec<T: ReadableElement>(&mut self, key: &str, what: &str) -> Result<Vec<T>, String> {
        let a: Array1<T> = self.read(key, what)?;
        Ok(a.into_raw_vec_and_offset().0)
    }
}

/// The bytes of data an `.npy` header (at the start of `head`) describes:
/// the product of its shape times its item size; None if it cannot be read.
fn npy_data_bytes(head: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(head.get(10..)?);
    let after = |key: &str| text.find(key).map(|i| &text[i + key.len()..]);
    let descr = after("'descr': '")?;
    let item: u64 = descr
        .chars()
        .skip(2) // byte order and kind, e.g. `<f`
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    let shape = after("'shape': (")?;
    let shape = &shape[..shape.find(')')?];
    let mut bytes = item;
    for d in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        bytes = bytes.saturating_mul(d.parse::<u64>().ok()?);
    }
    Some(bytes)
}

/// Open and read a run file.
pub fn load(path: &Path) -> Result<RunData, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut npz = NpzReader::new(BufReader::new(file))
        .map_err(|e| format!("{} is not an .npz file: {e}", path.display()))?;
    let keys: BTreeSet<String> = npz
        .names()
        .map_err(|e| format!("cannot list the arrays in {}: {e}", path.display()))?
        .into_iter()
        .collect();
    let zip = File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| zip::ZipArchive::new(BufReader::new(f)).map_err(|e| e.to_string()))
        .map_err(|e| format!("{} is not an .npz file: {e}", path.display()))?;
    let mut r = Reader {
        npz,
        zip,
        keys,
        path: path.to_path_buf(),
    };
    let meta_bytes: Vec<u8> = r.vec(META, "the run's metadata, UTF-8 JSON bytes")?;
    let meta_json: serde_json::Value = serde_json::from_slice(&meta_bytes)
        .map_err(|e| format!("{}: key `meta` is not JSON: {e}", path.display()))?;
    let meta: Meta = serde_json::from_value(meta_json.clone()).map_err(|e| {
        format!(
            "{}: key `meta` has an unexpected layout: {e}",
            path.display()
        )
    })?;
    let mut data = RunData {
        path: path.to_path_buf(),
        meta,
        meta_json,
        counts: vec![],
        times: vec![],
        traces: vec![],
        weights: vec![],
        rates: vec![],
        wirings: vec![],
        gap_pairs: vec![],
    };
    let pair_keys: Vec<String> = r
        .keys
        .iter()
        .filter(|k| k.ends_with(GAP_PAIRS))
        .cloned()
        .collect();
    for k in pair_keys {
        let pairs: Array2<u32> = r.read(&k, "gap-junction pairs")?;
        data.gap_pairs.extend(
            pairs
                .rows()
                .into_iter()
                .filter(|row| row.len() == 2)
                .map(|row| (row[0], row[1])),
        );
    }
    let recorders = match data.meta.recorders.clone() {
        Some(list) => list,
        None => infer_recorders(&mut r, &data.meta)?,
    };
    for rec in &recorders {
        read_recorder(&mut r, rec, &mut data)?;
    }
    Ok(data)
}

fn read_recorder(r: &mut Reader, rec: &RecorderMeta, data: &mut RunData) -> Result<(), String> {
    let n = rec.name.as_str();
    let pop = rec
        .population
        .clone()
        .unwrap_or_else(|| population_from_name(n, &data.meta));
    match rec.kind.as_str() {
        "spike_counts" => {
            let what = format!("spike counts of recorder `{n}`");
            let counts: Array2<u16> = r.read(n, &what)?;
            let bin = r.scalar(
                &key(n, BIN),
                &format!("bin width of spike_counts recorder `{n}`"),
            )?;
            data.counts.push(Counts {
                name: n.into(),
                population: pop,
                bin: positive(bin, n, r)?,
                data: counts,
            });
        }
        "spike_times" => {
            let t = r.vec(
                &key(n, TIMES),
                &format!("spike times of spike_times recorder `{n}`"),
            )?;
            let i: Vec<u32> = r.vec(
                &key(n, SPIKING_CELLS),
                &format!("spiking cells of spike_times recorder `{n}`"),
            )?;
            if t.len() != i.len() {
                return Err(format!(
                    "{}: `{n}_t` has {} spikes but `{n}_i` has {}",
                    r.path.display(),
                    t.len(),
                    i.len()
                ));
            }
            let cells = rec.cells.or_else(|| data.population_size(&pop));
            data.times.push(Times {
                name: n.into(),
                population: pop,
                t,
                i,
                cells,
            });
        }
        "trace" => {
            let values: Array2<f64> = r.read(n, &format!("samples of trace recorder `{n}`"))?;
            let t: Vec<f64> = r.vec(
                &key(n, TIMES),
                &format!("sample times of trace recorder `{n}`"),
            )?;
            let cells: Vec<u32> = r.vec(
                &key(n, TRACE_CELLS),
                &format!("cells of trace recorder `{n}`"),
            )?;
            if values.nrows() != t.len() || values.ncols() != cells.len() {
                return Err(format!(
                    "{}: trace `{n}` is {}x{} but has {} times and {} cells",
                    r.path.display(),
                    values.nrows(),
                    values.ncols(),
                    t.len(),
                    cells.len()
                ));
            }
            let (unit, unit_scale) = match (&rec.unit, rec.unit_scale) {
                (Some(u), Some(s)) if s.is_finite() && s > 0.0 => (Some(u.clone()), s),
                _ => guess_unit(rec.variable.as_deref(), n),
            };
            data.traces.push(Trace {
                name: n.into(),
                population: pop,
                variable: rec.variable.clone(),
                unit,
                unit_scale,
                t,
                cells,
                data: values,
            });
        }
        "weights" => {
            let values: Array2<f64> = r.read(n, &format!("snapshots of weights recorder `{n}`"))?;
            let t: Vec<f64> = r.vec(
                &key(n, TIMES),
                &format!("snapshot times of weights recorder `{n}`"),
            )?;
            let pre: Vec<u32> = r.vec(
                &key(n, PRE),
                &format!("presynaptic cells of weights recorder `{n}`"),
            )?;
            let post: Vec<u32> = r.vec(
                &key(n, POST),
                &format!("postsynaptic cells of weights recorder `{n}`"),
            )?;
            let delay: Vec<f64> = if rec.drawn_delays && r.has(&key(n, DELAY)) {
                r.vec(
                    &key(n, DELAY),
                    &format!("synapse delays of weights recorder `{n}`"),
                )?
            } else {
                vec![]
            };
            if values.nrows() != t.len()
                || values.ncols() != pre.len()
                || !(delay.is_empty() || delay.len() == pre.len())
            {
                return Err(format!(
                    "{}: weights `{n}` are {}x{} but have {} times and {} synapses",
                    r.path.display(),
                    values.nrows(),
                    values.ncols(),
                    t.len(),
                    pre.len()
                ));
            }
            data.weights.push(Weights {
                name: n.into(),
                projection: rec.projection.clone(),
                source: rec.source.clone(),
                target: rec.target.clone(),
                variable: rec.variable.clone().unwrap_or_else(|| "w".into()),
                unit: rec.unit.clone(),
                unit_scale: rec
                    .unit_scale
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .unwrap_or(1.0),
                t,
                pre,
                post,
                delay,
                data: values,
            });
        }
        "wiring" => {
            let what = |part: &str| format!("{part} of wiring recorder `{n}`");
            let pre: Vec<u32> = r.vec(&key(n, PRE), &what("presynaptic cells"))?;
            let post: Vec<u32> = r.vec(&key(n, POST), &what("postsynaptic cells"))?;
            let delay: Vec<f64> = if rec.drawn_delays && r.has(&key(n, DELAY)) {
                r.vec(&key(n, DELAY), &what("synapse delays"))?
            } else {
                vec![]
            };
            if pre.len() != post.len() || !(delay.is_empty() || delay.len() == pre.len()) {
                return Err(format!(
                    "{}: wiring `{n}` has {} presynaptic cells, {} postsynaptic and {} delays",
                    r.path.display(),
                    pre.len(),
                    post.len(),
                    delay.len()
                ));
            }
            data.wirings.push(Wiring {
                name: n.into(),
                projection: rec.projection.clone(),
                source: rec.source.clone(),
                target: rec.target.clone(),
                pre,
                post,
                delay,
            });
        }
        "rate" => {
            let values: Vec<f64> = r.vec(n, &format!("rates of rate recorder `{n}`"))?;
            let bin = r.scalar(&key(n, BIN), &format!("bin width of rate recorder `{n}`"))?;
            data.rates.push(Rate {
                name: n.into(),
                population: pop,
                bin: positive(bin, n, r)?,
                data: values,
            });
        }
        other => {
            return Err(format!(
                "{}: recorder `{n}` has an unknown kind `{other}`",
                r.path.display()
            ))
        }
    }
    Ok(())
}

fn positive(bin: f64, n: &str, r: &Reader) -> Result<f64, String> {
    if bin.is_finite() && bin > 0.0 {
        Ok(bin)
    } else {
        Err(format!(
            "{}: `{n}_bin` is {bin}, not a positive bin width",
            r.path.display()
        ))
    }
}

/// A recorder's population from its name: `IO_spikes`, `IO_times`, `IO_V`
/// and `io` all give `IO` when the run has a population `IO`.
pub fn population_from_name(name: &str, meta: &Meta) -> String {
    let pops: Vec<&str> = meta.populations.iter().map(|p| p.name.as_str()).collect();
    if let Some(p) = pops.iter().find(|p| **p == name) {
        return p.to_string();
    }
    // Longest population name that prefixes `name` before an underscore.
    let mut best: Option<&str> = None;
    for p in &pops {
        if name.len() > p.len()
            && name.starts_with(p)
            && name.as_bytes()[p.len()] == b'_'
            && best.is_none_or(|b| p.len() > b.len())
        {
            best = Some(p);
        }
    }
    if let Some(p) = best {
        return p.to_string();
    }
    if let Some(p) = pops.iter().find(|p| p.eq_ignore_ascii_case(name)) {
        return p.to_string();
    }
    for suffix in ["_spikes", "_times", "_rate", "_counts"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            if !stem.is_empty() {
                return stem.to_string();
            }
        }
    }
    name.to_string()
}

/// Unit for a trace when the metadata does not say: voltages by name.
fn guess_unit(variable: Option<&str>, name: &str) -> (Option<String>, f64) {
    let var = variable.unwrap_or_else(|| name.rsplit('_').next().unwrap_or(name));
    if var == "V" || var == "v" || var.starts_with("V_") {
        (Some("mV".into()), 1e3)
    } else {
        (None, 1.0)
    }
}

/// Sort the keys of a file without a `recorders` list into recorders.
fn infer_recorders(r: &mut Reader, meta: &Meta) -> Result<Vec<RecorderMeta>, String> {
    let keys: Vec<String> = r.keys.iter().cloned().collect();
    let mut out = Vec::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    used.insert(META.into());
    let rec = |name: &str, kind: &str| RecorderMeta {
        name: name.into(),
        kind: kind.into(),
        population: Some(population_from_name(name, meta)),
        ..Default::default()
    };
    // `IO_V` traces variable `V` of population `IO`.
    let trace = |name: &str| {
        let pop = population_from_name(name, meta);
        let variable = name
            .strip_prefix(pop.as_str())
            .and_then(|v| v.strip_prefix('_'))
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        RecorderMeta {
            variable,
            ..rec(name, "trace")
        }
    };
    // Recorders with distinctive companion keys first.
    for k in &keys {
        if r.has(&key(k, PRE)) || r.has(&key(k, POST)) {
            out.push(RecorderMeta {
                population: None,
                ..rec(k, "weights")
            });
            for s in ["", TIMES, PRE, POST, DELAY] {
                used.insert(format!("{k}{s}"));
            }
        } else if r.has(&key(k, TRACE_CELLS)) {
            out.push(trace(k));
            for s in ["", TIMES, TRACE_CELLS] {
                used.insert(format!("{k}{s}"));
            }
        }
    }
    for k in &keys {
        if used.contains(k) {
            continue;
        }
        if r.has(&key(k, BIN)) {
            // Rates are f64 [bins], counts uint16 [bins, cells]; a wrong
            // guess fails at the array's header, before its data is read.
            let is_rate = r.npz.by_name::<ndarray::OwnedRepr<f64>, Ix1>(k).is_ok();
            out.push(rec(k, if is_rate { "rate" } else { "spike_counts" }));
            used.insert(k.clone());
            used.insert(key(k, BIN));
        } else if let Some(stem) = k.strip_suffix(SPIKING_CELLS) {
            if !used.contains(stem) {
                out.push(rec(stem, "spike_times"));
                used.insert(k.clone());
                used.insert(key(stem, TIMES));
            }
        }
    }
    // Whatever is left: a key whose companion is missing.
    for k in &keys {
        if used.contains(k) {
            continue;
        }
        if let Some(stem) = k.strip_suffix(BIN) {
            return Err(format!(
                "{}: missing key `{stem}` (the recorder whose bin width is `{k}`)",
                r.path.display()
            ));
        }
        if let Some(stem) = k.strip_suffix(TIMES) {
            if !r.has(stem) {
                return Err(format!(
                    "{}: missing key `{stem}_i` (spiking cells of spike_times recorder `{stem}`)",
                    r.path.display()
                ));
            }
            continue;
        }
        if r.npz.by_name::<ndarray::OwnedRepr<u16>, Ix2>(k).is_ok() {
            return Err(format!(
                "{}: missing key `{k}_bin` (bin width of spike_counts recorder `{k}`)",
                r.path.display()
            ));
        }
        if r.has(&key(k, TIMES)) {
            return Err(format!(
                "{}: missing key `{k}_cells` (cells of trace recorder `{k}`)",
                r.path.display()
            ));
        }
    }
    Ok(out)
}
