//! The CUDA engine: the generated module fed from the same `Network` as the
//! CPU engine, run a chunk of steps per launch, its recordings replayed step
//! by step through the `Engine`/`StateView` traits.
//!
//! The engine is written against [`Device`], so the host emulation (the
//! generated source compiled by the host C++ compiler, tests/cuda_host_emulation.rs)
//! runs exactly this code too; only the CUDA driver calls differ.

use super::buffers::{sample_rows, weight_ids, Contents, Init};
use super::codegen::{mask_words, Entry, Generated};
use crate::engine::{Engine, NumericalError, StateView};
use crate::ir::{Ir, PopulationKindIr, RecorderKindIr};
use crate::network::Network;
use std::time::Instant;

/// What runs the generated module: a GPU, or the host emulation.
pub trait Device {
    fn describe(&self) -> String;
    /// Bytes free for buffers, when known.
    fn free_bytes(&self) -> Option<usize> {
        None
    }
    /// A zero-filled buffer; returns its address as the kernels see it.
    fn alloc(&mut self, bytes: usize) -> Result<u64, String>;
    fn upload(&mut self, dst: u64, data: &[u8]) -> Result<(), String>;
    fn download(&mut self, src: u64, out: &mut [u8]) -> Result<(), String>;
    /// The table `cbm_p` and the Philox key `cbm_key`.
    fn set_table(&mut self, table: &[u64], key: [u32; 2]) -> Result<(), String>;
    /// Start steps `s0 .. s0 + n`; recording rows count from step `c0`.
    /// May return before they are done: [`Device::finish`] waits for them.
    fn launch(&mut self, s0: u64, n: u32, c0: u64) -> Result<(), String>;
    /// Wait until the launched steps are done (a device that runs them
    /// inside `launch` has nothing to wait for).
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Copy `bytes` bytes from `src` to `dst` on the device, after what was
    /// launched before (`finish` waits for it). By default through the
    /// host.
    fn copy(&mut self, dst: u64, src: u64, bytes: usize) -> Result<(), String> {
        let mut tmp = vec![0u8; bytes];
        self.download(src, &mut tmp)?;
        self.upload(dst, &tmp)
    }
    /// As `download`, but without waiting for launched steps (which must
    /// not write `src`): a GPU copies while it computes.
    fn download_beside(&mut self, src: u64, out: &mut [u8]) -> Result<(), String> {
        self.download(src, out)
    }
}

/// Engine options.
#[derive(Clone, Debug)]
pub struct GpuOptions {
    /// Steps per launch (recordings are copied back once per chunk).
    pub chunk_steps: u32,
    /// Start the next chunk as soon as one is copied back, so that the
    /// device computes it while the host turns the last one into spikes
    /// and recordings. The device is then a chunk ahead of the steps
    /// served, so [`GpuEngine::sync_state`] is refused until it has caught up:
    /// tests that compare the whole state after each chunk turn this off.
    pub overlap: bool,
    /// With `overlap`, copy a finished chunk's recordings aside on the
    /// device and start the next chunk before copying them back, so that
    /// the device does not wait for the copies (`CBMC_CUDA_STAGE=0` turns
    /// it off).
    pub stage: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            chunk_steps: 1000,
            overlap: true,
            stage: true,
        }
    }
}

fn bytes_of_mut<T: Copy>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: plain numeric types; every bit pattern is a valid value.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(v)) }
}

pub struct GpuEngine<D: Device> {
    ir: Ir,
    dev: D,
    generated: Generated,
    addr: Vec<u64>,
    chunk: u32,
    overlap: bool,
    /// The chunk started ahead (first step, steps), or why starting it
    /// failed (reported when its steps are wanted, after the steps before).
    ahead: Option<Result<(u64, u32), String>>,
    /// Steps served through `step()`.
    served: u64,
    /// Steps the device has computed.
    computed: u64,
    /// First step of the chunk held on the host.
    c0: u64,
    masks: Vec<Vec<u32>>,
    traces: Vec<Vec<f64>>,
    weights: Vec<Vec<f64>>,
    weight_ids: Vec<Vec<usize>>,
    error: Option<NumericalError>,
    spikes: Vec<Vec<u32>>,
    vars: Vec<Vec<Vec<f64>>>,
    syn: Vec<Vec<Vec<f64>>>,
    /// Per projection stored in CSC order on the device: the synapse id of
    /// each device position (to put downloaded values back in network order).
    syn_order: Vec<Option<Vec<u32>>>,
    pairs: Vec<(Vec<u32>, Vec<u32>)>,
    /// Bytes of device memory the model takes.
    pub bytes: usize,
    /// Where the host's time went in `run_chunk` (`host_profile`).
    host: HostTimes,
    /// Per table entry, for the recording buffers (spike bits, trace and
    /// weight samples) with `overlap`: a buffer of the same size that a
    /// finished chunk's recordings are copied into on the device, so that
    /// the next chunk starts before they are copied back to the host.
    aside: Vec<Option<u64>>,
}

/// Seconds the host spent, over a run, waiting for chunks to finish,
/// copying their recordings back, and launching chunks.
#[derive(Clone, Copy, Debug, Default)]
struct HostTimes {
    waiting: f64,
    copying: f64,
    launching: f64,
    chunks: u64,
}

impl<D: Device> GpuEngine<D> {
    /// Allocate and fill every buffer once. `generated` must come from
    /// `codegen::generate(ir)` and `dev` must hold its compiled module.
    pub fn new(
        ir: &Ir,
        net: Network,
        generated: Generated,
        mut dev: D,
        opts: &GpuOptions,
    ) -> Result<Self, String> {
        // `cbm_run` counts the chunk's steps in an `int`, one past the last.
        let chunk = opts.chunk_steps.clamp(1, i32::MAX as u32 - 1);
        let weight_ids = weight_ids(ir, &net);
        let contents = Contents::new(ir, &net, &generated, &weight_ids, chunk)?;
        let (inits, scalars): (Vec<Init>, Vec<Option<u64>>) = generated
            .entries
            .iter()
            .map(|e| contents.of(e))
            .collect::<Result<Vec<_>, String>>()?
            .into_iter()
            .unzip();
        let syn_order = contents.into_device_order();
        // The buffers' bytes, and those of the recording buffers' twins
        // (`aside`): these with `overlap` and more than one chunk to run;
        // left out (the copies then made before the next chunk starts)
        // where they would not fit beside the rest.
        let recording = |e: &Entry| {
            matches!(
                e,
                Entry::Mask { .. } | Entry::TraceBuf { .. } | Entry::WeightBuf { .. }
            )
        };
        let (mut bytes, mut aside_bytes) = (0usize, 0usize);
        for ((init, scalar), e) in inits.iter().zip(&scalars).zip(&generated.entries) {
            if scalar.is_none() {
                let b = init.len_bytes().max(8).next_multiple_of(256);
                bytes += b;
                if recording(e) {
                    aside_bytes += b;
                }
            }
        }
        let free = dev.free_bytes();
        let stage = opts.overlap
            && opts.stage
            && ir.steps > chunk as u64
            && free.is_none_or(|f| bytes + aside_bytes <= f);
        let staged = |e: &Entry| stage && recording(e);
        let bytes = bytes + if stage { aside_bytes } else { 0 };
        if let Some(free) = free {
            if bytes > free {
                return Err(format!(
                    "the model needs {bytes} bytes ({:.1} MiB) of GPU memory; {} has {free} bytes ({:.1} MiB) free",
                    bytes as f64 / 1048576.0,
                    dev.describe(),
                    free as f64 / 1048576.0
                ));
            }
        }
        let mut addr = Vec::with_capacity(inits.len());
        for (init, scalar) in inits.iter().zip(&scalars) {
            if let Some(v) = scalar {
                addr.push(*v);
                continue;
            }
            let a = dev
                .alloc(init.len_bytes().max(8))
                .map_err(|e| format!("{e} (the model needs {bytes} bytes of GPU memory in all)"))?;
            if let Some(b) = init.bytes() {
                if !b.is_empty() {
                    dev.upload(a, b)?;
                }
            }
            addr.push(a);
        }
        let mut aside = vec![None; addr.len()];
        for (k, (init, e)) in inits.iter().zip(&generated.entries).enumerate() {
            if scalars[k].is_none() && staged(e) {
                aside[k] = Some(dev.alloc(init.len_bytes().max(8)).map_err(|e| {
                    format!("{e} (the model needs {bytes} bytes of GPU memory in all)")
                })?);
            }
        }
        dev.set_table(&addr, [ir.seed as u32, (ir.seed >> 32) as u32])?;
        let pairs = net
            .projections
            .iter()
            .map(|p| (p.pre.clone(), p.post.clone()))
            .collect();
        let vars = net.populations.iter().map(|p| p.vars.clone()).collect();
        let syn = net.projections.iter().map(|p| p.vars.clone()).collect();
        Ok(GpuEngine {
            ir: ir.clone(),
            dev,
            addr,
            chunk,
            overlap: opts.overlap,
            ahead: None,
            served: 0,
            computed: 0,
            c0: 0,
            masks: vec![vec![]; ir.populations.len()],
            traces: vec![vec![]; ir.recorders.len()],
            weights: vec![vec![]; ir.recorders.len()],
            weight_ids,
            error: None,
            spikes: vec![vec![]; ir.populations.len()],
            vars,
            syn,
            syn_order,
            pairs,
            generated,
            bytes,
            host: HostTimes::default(),
            aside,
        })
    }

    fn addr_of(&self, e: Entry) -> Option<u64> {
        self.generated.slot(e).map(|i| self.addr[i])
    }

    /// Whether `step()` needs the device to run the next chunk first.
    pub fn needs_chunk(&self) -> bool {
        self.served >= self.computed
    }

    /// The chunk after the steps computed so far: (first step, steps).
    fn next_chunk(&self) -> (u64, u32) {
        let left = self.ir.steps.saturating_sub(self.computed);
        (self.computed, (self.chunk as u64).min(left.max(1)) as u32)
    }

    /// Run the next chunk of steps on the device (or wait for the one
    /// started ahead) and copy its recordings back; with `overlap`, start
    /// the one after it.
    pub fn run_chunk(&mut self) -> Result<(), String> {
        if self.error.is_some() {
            return Ok(());
        }
        let t0 = Instant::now();
        let (c0, n) = match self.ahead.take() {
            Some(started) => started?,
            None => {
                let (c0, n) = self.next_chunk();
                self.dev.launch(c0, n, c0)?;
                (c0, n)
            }
        };
        let t1 = Instant::now();
        self.dev.finish()?;
        let t2 = Instant::now();
        let mut err = [0u64; 2];
        if let Some(a) = self.addr_of(Entry::Err) {
            self.dev.download(a, bytes_of_mut(&mut err))?;
        }
        let done = if err[1] != u64::MAX {
            (err[1] + 1 - c0).min(n as u64)
        } else {
            n as u64
        };
        self.c0 = c0;
        self.computed = c0 + done;
        // Without an error, the next chunk may start now (`overlap`). Then
        // this chunk's recordings are copied aside on the device first (a
        // few microseconds), and copied back to the host while it runs.
        let start_next = self.overlap && err[1] == u64::MAX && self.computed < self.ir.steps;
        let staged = start_next && self.aside.iter().any(Option::is_some);
        if staged {
            for (e, bytes) in self.recordings(done) {
                if let Some(k) = self.generated.slot(e) {
                    if let Some(a) = self.aside[k] {
                        self.dev.copy(a, self.addr[k], bytes)?;
                    }
                }
            }
            self.dev.finish()?;
        } else {
            // The next chunk overwrites them: first to the host.
            self.fetch_recordings(done, false)?;
        }
        let t3 = Instant::now();
        if start_next {
            let (c0, n) = self.next_chunk();
            self.ahead = Some(self.dev.launch(c0, n, c0).map(|()| (c0, n)));
        }
        let t4 = Instant::now();
        if staged {
            self.fetch_recordings(done, true)?;
        }
        if err[1] != u64::MAX {
            self.error = Some(self.numerical_error(err[0], err[1])?);
        }
        let h = &mut self.host;
        h.launching += (t1 - t0 + (t4 - t3)).as_secs_f64();
        h.waiting += (t2 - t1).as_secs_f64();
        h.copying += (t3 - t2 + t4.elapsed()).as_secs_f64();
        h.chunks += 1;
        Ok(())
    }

    /// The recording buffers a chunk of `done` steps fills, and the bytes
    /// of each that hold them.
    fn recordings(&self, done: u64) -> Vec<(Entry, usize)> {
        let mut out = vec![];
        for (p, pop) in self.ir.populations.iter().enumerate() {
            out.push((
                Entry::Mask { pop: p },
                4 * mask_words(pop.size) * done as usize,
            ));
        }
        for (ri, r) in self.ir.recorders.iter().enumerate() {
            match &r.kind {
                RecorderKindIr::Trace {
                    cells, every_steps, ..
                } => out.push((
                    Entry::TraceBuf { rec: ri },
                    8 * cells.len() * sample_rows(self.chunk, *every_steps),
                )),
                RecorderKindIr::Weights { every_steps, .. } => out.push((
                    Entry::WeightBuf { rec: ri },
                    8 * self.weight_ids[ri].len() * sample_rows(self.chunk, *every_steps),
                )),
                _ => {}
            }
        }
        out
    }

    /// Copy a chunk's recordings of `done` steps to the host: from their
    /// copies aside (`staged`, while the next chunk runs) or from the
    /// buffers the kernels write.
    fn fetch_recordings(&mut self, done: u64, staged: bool) -> Result<(), String> {
        for (e, bytes) in self.recordings(done) {
            match e {
                Entry::Mask { pop } => self.masks[pop] = self.fetch(e, staged, bytes)?,
                Entry::TraceBuf { rec } => self.traces[rec] = self.fetch(e, staged, bytes)?,
                Entry::WeightBuf { rec } => self.weights[rec] = self.fetch(e, staged, bytes)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// One recording buffer's first `bytes` bytes (zeros where the kernels
    /// have no such buffer).
    fn fetch<T: Copy + Default>(
        &mut self,
        e: Entry,
        staged: bool,
        bytes: usize,
    ) -> Result<Vec<T>, String> {
        let mut out = vec![T::default(); bytes / std::mem::size_of::<T>()];
        if let Some(k) = self.generated.slot(e) {
            let to = bytes_of_mut(&mut out);
            match (staged, self.aside[k]) {
                (true, Some(a)) => self.dev.download_beside(a, to)?,
                _ => self.dev.download(self.addr[k], to)?,
            }
        }
        Ok(out)
    }

    /// Where the host's time went in the chunks so far: waiting for the
    /// device, copying recordings back, launching (`CBMC_CUDA_PROFILE=1`
    /// prints it). The rest of a run's wall time is the host's own work
    /// (serving steps, recording), done while the device computes the
    /// chunk ahead.
    pub fn host_profile(&self) -> String {
        let h = &self.host;
        format!(
            "cuda host: {} chunks; waited for the device {:.3} s, copied recordings back {:.3} s, launched {:.3} s",
            h.chunks, h.waiting, h.copying, h.launching
        )
    }

    fn numerical_error(&mut self, key: u64, step: u64) -> Result<NumericalError, String> {
        let pos = (key >> 48) as usize;
        let order = ((key >> 32) & 0xffff) as usize;
        let cell = (key & 0xffff_ffff) as usize;
        let pi = self.ir.schedule.get(pos).copied().unwrap_or(0);
        let pop = &self.ir.populations[pi];
        let (var, name) = match &pop.kind {
            PopulationKindIr::Neuron(n) => {
                let v = n.checked_vars.get(order).copied().unwrap_or(0);
                (v, n.vars.get(v).map(|x| x.name.clone()).unwrap_or_default())
            }
            _ => (0, String::new()),
        };
        let mut value = f64::NAN;
        if let Some(a) = self.addr_of(Entry::CellVar { pop: pi, var }) {
            let mut v = vec![0.0f64; pop.size];
            self.dev.download(a, bytes_of_mut(&mut v))?;
            value = v.get(cell).copied().unwrap_or(f64::NAN);
        }
        Ok(NumericalError {
            population: pop.name.clone(),
            variable: name,
            cell,
            step,
            value,
        })
    }

    /// Copy every cell and synapse variable back (valid when all computed
    /// steps have been served). Tests compare the full state with this.
    pub fn sync_state(&mut self) -> Result<(), String> {
        if self.ahead.is_some() {
            return Err(
                "the device is a chunk ahead of the steps served (GpuOptions::overlap)".into(),
            );
        }
        for (i, e) in self.generated.entries.clone().iter().enumerate() {
            match *e {
                Entry::CellVar { pop, var } => {
                    let v = &mut self.vars[pop][var];
                    self.dev.download(self.addr[i], bytes_of_mut(v))?;
                }
                Entry::SynVar { proj, var } => {
                    let v = &mut self.syn[proj][var];
                    match &self.syn_order[proj] {
                        Some(ids) => {
                            let mut d = vec![0.0; v.len()];
                            self.dev.download(self.addr[i], bytes_of_mut(&mut d))?;
                            for (x, &k) in d.iter().zip(ids) {
                                v[k as usize] = *x;
                            }
                        }
                        None => self.dev.download(self.addr[i], bytes_of_mut(v))?,
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// (pre, post) cell of every synapse of a projection, in storage order.
    pub fn synapse_pairs(&self, projection: usize) -> (Vec<u32>, Vec<u32>) {
        self.pairs[projection].clone()
    }

    pub fn generated(&self) -> &Generated {
        &self.generated
    }

    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }
}

impl<D: Device> Engine for GpuEngine<D> {
    fn prepare(&mut self) -> Result<(), String> {
        if self.needs_chunk() {
            self.run_chunk()?;
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), NumericalError> {
        if self.needs_chunk() {
            if let Err(e) = self.run_chunk() {
                return Err(NumericalError {
                    population: "<device>".into(),
                    variable: e,
                    cell: 0,
                    step: self.served,
                    value: f64::NAN,
                });
            }
        }
        let s = self.served;
        if let Some(e) = &self.error {
            if e.step == s {
                return Err(e.clone());
            }
        }
        let row = (s - self.c0) as usize;
        for p in 0..self.ir.populations.len() {
            let n = self.ir.populations[p].size;
            let w = mask_words(n);
            let words = &self.masks[p][row * w..(row + 1) * w];
            let out = &mut self.spikes[p];
            out.clear();
            for (k, &m) in words.iter().enumerate() {
                let mut m = m;
                while m != 0 {
                    let b = m.trailing_zeros();
                    m &= m - 1;
                    let i = k as u32 * 32 + b;
                    if (i as usize) < n {
                        out.push(i);
                    }
                }
            }
        }
        for (ri, r) in self.ir.recorders.iter().enumerate() {
            match &r.kind {
                RecorderKindIr::Trace {
                    population,
                    var,
                    cells,
                    every_steps,
                } => {
                    let e = *every_steps as u64;
                    if s.is_multiple_of(e) {
                        let row = (s / e - self.c0.div_ceil(e)) as usize;
                        let vals = &self.traces[ri][row * cells.len()..(row + 1) * cells.len()];
                        for (c, v) in cells.iter().zip(vals) {
                            self.vars[*population][*var][*c] = *v;
                        }
                    }
                }
                RecorderKindIr::Weights {
                    projection,
                    var,
                    every_steps,
                    ..
                } => {
                    let e = *every_steps as u64;
                    if s.is_multiple_of(e) {
                        let ids = &self.weight_ids[ri];
                        let row = (s / e - self.c0.div_ceil(e)) as usize;
                        let vals = &self.weights[ri][row * ids.len()..(row + 1) * ids.len()];
                        for (k, v) in ids.iter().zip(vals) {
                            self.syn[*projection][*var][*k] = *v;
                        }
                    }
                }
                _ => {}
            }
        }
        self.served += 1;
        Ok(())
    }

    fn steps_done(&self) -> u64 {
        self.served
    }

    fn describe(&self) -> String {
        self.dev.describe()
    }
}

impl<D: Device> StateView for GpuEngine<D> {
    fn spikes(&self, population: usize) -> &[u32] {
        &self.spikes[population]
    }
    fn var(&self, population: usize, var: usize) -> &[f64] {
        &self.vars[population][var]
    }
    fn synapse_var(&self, projection: usize, var: usize) -> &[f64] {
        &self.syn[projection][var]
    }
}
