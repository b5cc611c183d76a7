//! The GPU behind [`Device`]: the CUDA driver API through cudarc, loaded at
//! run time. Every entry point first checks that libcuda is present (cudarc
//! panics otherwise).

use super::engine::Device;
use super::nvrtc::{self, Compiled};
use cudarc::driver::{result, sys};
use std::ffi::{c_void, CString};
use std::time::Instant;

/// What a usable GPU looks like.
#[derive(Clone, Debug)]
pub struct GpuInfo {
    pub name: String,
    pub major: i32,
    pub minor: i32,
    pub sms: i32,
    pub total_bytes: usize,
}

impl GpuInfo {
    pub fn arch(&self) -> u32 {
        (self.major * 10 + self.minor) as u32
    }
}

fn err(what: &str, e: impl std::fmt::Debug) -> String {
    format!("CUDA: {what} failed: {e:?}")
}

/// Find GPU 0, without panicking when there is no driver.
pub fn probe() -> Result<GpuInfo, String> {
    // SAFETY: only tries to open the library.
    if !unsafe { sys::is_culib_present() } {
        return Err("no CUDA driver (libcuda.so) on this machine".into());
    }
    result::init().map_err(|e| err("cuInit", e))?;
    let n = result::device::get_count().map_err(|e| err("cuDeviceGetCount", e))?;
    if n < 1 {
        return Err("the CUDA driver sees no GPU".into());
    }
    let dev = result::device::get(0).map_err(|e| err("cuDeviceGet", e))?;
    let name = result::device::get_name(dev).map_err(|e| err("cuDeviceGetName", e))?;
    let attr = |a| {
        // SAFETY: `dev` came from cuDeviceGet.
        unsafe { result::device::get_attribute(dev, a) }.map_err(|e| err("cuDeviceGetAttribute", e))
    };
    use sys::CUdevice_attribute as A;
    let major = attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
    let minor = attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
    let sms = attr(A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?;
    // SAFETY: as above.
    let total_bytes =
        unsafe { result::device::total_mem(dev) }.map_err(|e| err("cuDeviceTotalMem", e))?;
    Ok(GpuInfo {
        name,
        major,
        minor,
        sms,
        total_bytes,
    })
}

/// Whether the CUDA engine can run here; Err says why not.
pub fn usable() -> Result<GpuInfo, String> {
    let info = probe()?;
    nvrtc::available()?;
    Ok(info)
}

/// GPU 0's primary context, retained until dropped (so that an error
/// while loading releases it).
struct PrimaryContext(sys::CUdevice);

impl Drop for PrimaryContext {
    fn drop(&mut self) {
        // SAFETY: retained once in `CudaDevice::new`, released once here.
        unsafe {
            let _ = result::primary_ctx::release(self.0);
        }
    }
}

/// A loaded module, unloaded when dropped.
struct LoadedModule(sys::CUmodule);

impl Drop for LoadedModule {
    fn drop(&mut self) {
        // SAFETY: loaded once in `Module::load`, unloaded once here.
        unsafe {
            let _ = result::module::unload(self.0);
        }
    }
}

/// A loaded module's entry point and the globals the host sets.
struct Module {
    _loaded: LoadedModule,
    /// `cbm_run` when `cooperative`, else `cbm_phase_kernel`.
    entry: sys::CUfunction,
    table: sys::CUdeviceptr,
    table_bytes: usize,
    key: sys::CUdeviceptr,
    /// `cbm_prof` of kernels built with `CBM_PROFILE` (see `profile`).
    prof: Option<sys::CUdeviceptr>,
    /// Their `cbm_task_prof`, and its size in bytes.
    task_prof: Option<(sys::CUdeviceptr, usize)>,
    /// `cbm_count` of the counter grid barrier (the default).
    barrier_count: Option<sys::CUdeviceptr>,
}

impl Module {
    /// Load `compiled`'s image into the current context.
    fn load(compiled: &Compiled, cooperative: bool) -> Result<Self, String> {
        let mut image = compiled.image.clone();
        if !compiled.cubin && image.last() != Some(&0) {
            image.push(0);
        }
        // SAFETY: a CUBIN or NUL-terminated PTX image.
        let module = unsafe { result::module::load_data(image.as_ptr() as *const c_void) }
            .map_err(|e| err("cuModuleLoadData", e))?;
        let loaded = LoadedModule(module);
        let get = |n: &str| {
            // SAFETY: `module` is loaded.
            unsafe { result::module::get_function(module, CString::new(n).expect("no NUL")) }
                .map_err(|e| err(&format!("cuModuleGetFunction({n})"), e))
        };
        let entry = get(if cooperative {
            "cbm_run"
        } else {
            "cbm_phase_kernel"
        })?;
        let global = |n: &str| {
            // SAFETY: `module` is loaded.
            unsafe { result::module::get_global(module, CString::new(n).expect("no NUL")) }
                .map_err(|e| err(&format!("cuModuleGetGlobal({n})"), e))
        };
        let (table, table_bytes) = global("cbm_p")?;
        let (key, _) = global("cbm_key")?;
        Ok(Module {
            _loaded: loaded,
            entry,
            table,
            table_bytes,
            key,
            prof: global("cbm_prof").ok().map(|(p, _)| p),
            task_prof: global("cbm_task_prof").ok(),
            // The counter barrier's count (the default; none with
            // CBM_GENERATION_BARRIER), zeroed before each launch.
            barrier_count: global("cbm_count").ok().map(|(p, _)| p),
        })
    }

    /// Blocks of `threads` threads that fit a multiprocessor at once.
    fn blocks_per_sm(&self, threads: u32) -> Result<i32, String> {
        // SAFETY: `entry` is a loaded function.
        unsafe {
            result::occupancy::max_active_block_per_multiprocessor(self.entry, threads as i32, 0)
        }
        .map_err(|e| err("cuOccupancyMaxActiveBlocksPerMultiprocessor", e))
    }

    /// Fill the module's table of buffers and its key.
    fn set_table(&self, table: &[u64], key: [u32; 2]) -> Result<(), String> {
        if std::mem::size_of_val(table) > self.table_bytes {
            return Err("internal error: the table is larger than cbm_p".into());
        }
        // SAFETY: module globals of the right sizes.
        unsafe {
            result::memcpy_htod_sync(self.table, table)
                .map_err(|e| err("cuMemcpyHtoD(cbm_p)", e))?;
            result::memcpy_htod_sync(self.key, &key[..])
                .map_err(|e| err("cuMemcpyHtoD(cbm_key)", e))
        }
    }
}

/// The generated module loaded on GPU 0.
pub struct CudaDevice {
    info: GpuInfo,
    // Dropped in this order, after `Drop::drop` has freed the buffers: the
    // modules, then the context.
    module: Module,
    /// Modules that ran before `module` took over (`tiers`), kept until
    /// the end of the run.
    retired: Vec<Module>,
    _context: PrimaryContext,
    allocs: Vec<sys::CUdeviceptr>,
    cooperative: bool,
    blocks: u32,
    /// The blocks the run would have if they all fitted at once (the
    /// kernels take any grid: a module that takes over sizes it anew).
    wanted_blocks: u32,
    threads: u32,
    phases: u32,
    /// The table and key last set, for a module that takes over.
    table: Vec<u64>,
    key: [u32; 2],
    /// A tiered compile's whole program, compiling beside the run, and
    /// what became of it.
    beside: Option<super::tiers::Beside>,
    outcome: Option<super::tiers::Outcome>,
    /// A stream that does not wait for the kernels' (the null stream), for
    /// copying a finished chunk's recordings back while the next runs.
    copies: sys::CUstream,
    pub compiled: Compiled,
    /// Seconds to load the module (after compilation or the cache).
    pub load_seconds: f64,
    /// Seconds to create (or attach to) the CUDA context: once per process,
    /// whatever the model.
    pub context_seconds: f64,
}

/// GPU 0 as compiling for it needs it: its architecture, and whether it
/// launches the persistent kernel (cooperatively) or one kernel per phase.
pub struct Target {
    info: GpuInfo,
    dev: sys::CUdevice,
    cooperative: bool,
}

impl Target {
    /// Whether the device takes cooperative launches, so runs use the
    /// persistent kernel (else one launch per phase).
    pub fn cooperative(&self) -> bool {
        self.cooperative
    }

    pub fn find() -> Result<Self, String> {
        let info = usable()?;
        let dev = result::device::get(0).map_err(|e| err("cuDeviceGet", e))?;
        // SAFETY: `dev` is valid.
        let coop = unsafe {
            result::device::get_attribute(
                dev,
                sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH,
            )
        }
        .unwrap_or(0)
            != 0;
        let cooperative = coop && std::env::var_os("CBMC_CUDA_NO_PERSISTENT").is_none();
        Ok(Target {
            info,
            dev,
            cooperative,
        })
    }

    /// Compile (or take from the cache) the entry point of `source` this GPU
    /// launches. NVRTC needs no CUDA context, so this may run on another
    /// thread while the network is built. As one program, as units linked
    /// by `CudaDevice::load`, or tiered: units now and the whole program
    /// beside the run (`CBMC_NVRTC_UNITS`, `super::units::Plan`).
    pub fn compile(&self, source: &str) -> Result<Compiled, String> {
        self.compile_as(source, super::units::from_env()?)
    }

    /// `compile` as `plan` says.
    pub fn compile_as(&self, source: &str, plan: super::units::Plan) -> Result<Compiled, String> {
        use super::units::{self, Plan};
        let source = super::codegen::one_entry(source, self.cooperative);
        let cache = crate::engine::cache::dir();
        let arch = self.info.arch();
        let whole = || nvrtc::compile(&source, arch, cache.as_deref());
        let units_or_whole = |k: usize| {
            units::compile(&source, arch, cache.as_deref(), k).or_else(|e| {
                eprintln!(
                    "note: the kernels as {k} units failed ({e}); compiling them as one program"
                );
                whole()
            })
        };
        match plan {
            Plan::Whole => whole(),
            Plan::Units(k) => units_or_whole(k),
            // Timers must time one module over the whole run.
            Plan::Tiered(_) if super::codegen::profiled(&source) => whole(),
            Plan::Tiered(k) => {
                if let Some(hit) = nvrtc::cached(&source, arch, cache.as_deref())? {
                    return Ok(hit);
                }
                let Ok(beside) = super::tiers::Beside::spawn(source.clone(), arch, cache.clone())
                else {
                    return whole();
                };
                match units::compile(&source, arch, cache.as_deref(), k) {
                    Ok(mut c) => {
                        c.beside = Some(beside);
                        Ok(c)
                    }
                    Err(e) => {
                        eprintln!("note: the kernels as {k} units failed ({e}); waiting for them as one program");
                        beside.wait().unwrap_or_else(whole)
                    }
                }
            }
        }
    }
}

impl CudaDevice {
    /// Compile (or take from the cache) and load `source`, which has
    /// `phases` phases per step; `items` is the widest task's number of
    /// threads it can use (sizes the grid).
    pub fn new(source: &str, phases: usize, items: usize) -> Result<Self, String> {
        let target = Target::find()?;
        let compiled = target.compile(source)?;
        Self::load(target, compiled, phases, items)
    }

    /// Load a module compiled by `target.compile` (see [`CudaDevice::new`]).
    pub fn load(
        target: Target,
        compiled: Compiled,
        phases: usize,
        items: usize,
    ) -> Result<Self, String> {
        let Target {
            info,
            dev,
            cooperative,
        } = target;
        let t0 = Instant::now();
        // SAFETY: `dev` is valid; the primary context is released in Drop.
        let ctx = unsafe { result::primary_ctx::retain(dev) }
            .map_err(|e| err("cuDevicePrimaryCtxRetain", e))?;
        let context = PrimaryContext(dev);
        // SAFETY: `ctx` is live.
        unsafe { result::ctx::set_current(ctx) }.map_err(|e| err("cuCtxSetCurrent", e))?;
        let context_seconds = t0.elapsed().as_secs_f64();
        let mut compiled = compiled;
        if !compiled.units.is_empty() {
            let t0 = Instant::now();
            match link(&compiled.units) {
                Ok(image) => {
                    compiled.image = image;
                    compiled.linked = compiled.units.len();
                    compiled.seconds += t0.elapsed().as_secs_f64();
                    if let Some(entry) = compiled.store.take() {
                        crate::engine::cache::store(&compiled.image, &entry);
                    }
                }
                // (A driver older than NVRTC may not link what it made.)
                Err(e) => {
                    eprintln!("note: {e}\ncompiling the kernels as one program instead");
                    let seconds = compiled.seconds;
                    let beside = compiled.beside.take().and_then(|b| b.wait());
                    compiled = match beside {
                        Some(whole) => whole?,
                        None => nvrtc::compile(
                            &compiled.whole.take().unwrap_or_default(),
                            info.arch(),
                            crate::engine::cache::dir().as_deref(),
                        )?,
                    };
                    compiled.seconds += seconds + t0.elapsed().as_secs_f64();
                }
            }
            compiled.units.clear();
        }
        let t0 = Instant::now();
        let module = Module::load(&compiled, cooperative)?;
        let env = |n: &str| std::env::var(n).ok().and_then(|v| v.parse::<u32>().ok());
        let mut threads = env("CBMC_CUDA_THREADS").unwrap_or(256).clamp(32, 1024) / 32 * 32;
        // A block too large for a multiprocessor's registers (1024 threads
        // of 128 registers) cannot launch at all: halve it until one fits.
        let mut per_sm = module.blocks_per_sm(threads)?;
        while per_sm < 1 && threads > 32 {
            // Whole warps: the kernels take warp = thread / 32, lane = thread % 32.
            threads = (threads / 64 * 32).max(32);
            per_sm = module.blocks_per_sm(threads)?;
        }
        let per_sm = per_sm.max(1) as u32;
        let resident = per_sm * info.sms.max(1) as u32;
        let wanted = (items.div_ceil(threads as usize) as u32).max(info.sms.max(1) as u32);
        let wanted = env("CBMC_CUDA_BLOCKS").unwrap_or(wanted);
        let blocks = wanted.clamp(1, resident);
        let copies = result::stream::create(result::stream::StreamKind::NonBlocking)
            .map_err(|e| err("cuStreamCreate", e))?;
        let beside = compiled.beside.take();
        Ok(CudaDevice {
            copies,
            info,
            module,
            retired: vec![],
            _context: context,
            allocs: vec![],
            cooperative,
            blocks,
            wanted_blocks: wanted,
            threads,
            phases: phases as u32,
            table: vec![],
            key: [0; 2],
            beside,
            outcome: None,
            compiled,
            load_seconds: t0.elapsed().as_secs_f64(),
            context_seconds,
        })
    }

    /// Before a launch at step `step`: if the whole program compiling
    /// beside the run (`tiers`) is ready, it takes over (what launched
    /// before is done or ordered before on the same stream; the modules it
    /// ran on stay loaded until the end). If it failed, or cannot load, the
    /// units run on and the outcome says why.
    fn take_over_if_ready(&mut self, step: u64) {
        let Some(ready) = self.beside.as_ref().and_then(|b| b.ready()) else {
            return;
        };
        self.beside = None;
        let outcome = match ready.and_then(|whole| self.take_over(&whole).map(|()| whole.seconds)) {
            Ok(seconds) => super::tiers::Outcome::TookOver { step, seconds },
            Err(e) => super::tiers::Outcome::Failed(e),
        };
        self.outcome = Some(outcome);
    }

    /// `whole` loaded and launched from now on, on as many blocks as the
    /// run wants and it fits at once (the units' kernels use more
    /// registers: CUBA's fit 264 blocks, the whole program's 396).
    fn take_over(&mut self, whole: &Compiled) -> Result<(), String> {
        let module = Module::load(whole, self.cooperative)?;
        let per_sm = module.blocks_per_sm(self.threads)?;
        if per_sm < 1 {
            return Err(format!(
                "a block of {} threads does not fit a multiprocessor",
                self.threads
            ));
        }
        module.set_table(&self.table, self.key)?;
        let before = std::mem::replace(&mut self.module, module);
        self.retired.push(before);
        let resident = per_sm as u32 * self.info.sms.max(1) as u32;
        self.blocks = self.wanted_blocks.clamp(1, resident);
        Ok(())
    }

    /// What became of a tiered compile's whole program (none for another
    /// compile), waiting for it if the run ended before it was compiled.
    pub fn whole_program_outcome(&mut self) -> Option<super::tiers::Outcome> {
        if let Some(b) = self.beside.take() {
            self.outcome = b.wait().map(|whole| match whole {
                Ok(c) => super::tiers::Outcome::After { seconds: c.seconds },
                Err(e) => super::tiers::Outcome::Failed(e),
            });
        }
        self.outcome.clone()
    }

    /// From the next launch on, `whole` takes over (tests of a take-over).
    pub fn offer(&mut self, whole: super::tiers::Beside) {
        self.beside = Some(whole);
    }

    pub fn info(&self) -> &GpuInfo {
        &self.info
    }

    /// For kernels built with `CBM_PROFILE` (`CBMC_CUDA_PROFILE=1`) and run
    /// persistently: each phase's mean time per run, from block 0 leaving
    /// the barrier before it to leaving the one after it (so the phase's
    /// slowest block plus the barrier), one line per phase; under it, each
    /// of its tasks' slowest warp, on average over the steps it ran in.
    /// Whether runs use the persistent kernel (cooperative launches).
    pub fn persistent(&self) -> bool {
        self.cooperative
    }

    /// `names`: the tasks of each phase.
    pub fn profile(&mut self, names: &[Vec<String>]) -> Option<String> {
        let ptr = self.module.prof?;
        if !self.cooperative {
            return Some("cuda profile: only the persistent kernel is timed".into());
        }
        let n = self.phases as usize;
        let mut words = vec![0u64; 2 * n];
        // SAFETY: `cbm_prof` holds 2 * CBM_PHASES u64s.
        unsafe { result::memcpy_dtoh_sync(&mut words[..], ptr) }.ok()?;
        let mut tasks = vec![];
        if let Some((p, bytes)) = self.module.task_prof {
            tasks = vec![0u64; bytes / 8];
            // SAFETY: `cbm_task_prof` holds `bytes` bytes.
            unsafe { result::memcpy_dtoh_sync(&mut tasks[..], p) }.ok()?;
        }
        let n_tasks = tasks.len() / 2;
        let mean_us = |ns: u64, runs: u64| {
            if runs > 0 {
                ns as f64 / runs as f64 / 1e3
            } else {
                0.0
            }
        };
        let mut out = String::from(
            "cuda profile (block 0, per run of each phase; under it, each task's slowest warp):\n",
        );
        let mut total = 0.0;
        let mut id = 0;
        for k in 0..n {
            let (ns, runs) = (words[k], words[n + k]);
            total += ns as f64;
            out.push_str(&format!(
                "  phase {k}: {:8.2} us x {runs} runs\n",
                mean_us(ns, runs)
            ));
            for name in names.get(k).into_iter().flatten() {
                if id < n_tasks {
                    let (ns, runs) = (tasks[id], tasks[n_tasks + id]);
                    out.push_str(&format!(
                        "    {:8.2} us x {runs:6}  {name}\n",
                        mean_us(ns, runs)
                    ));
                }
                id += 1;
            }
        }
        out.push_str(&format!("  all phases: {:.3} s", total / 1e9));
        Some(out)
    }
}

impl Device for CudaDevice {
    fn describe(&self) -> String {
        format!(
            "cuda ({}, sm_{}, {} x {} threads, {})",
            self.info.name,
            self.info.arch(),
            self.blocks,
            self.threads,
            if self.cooperative {
                "persistent kernel"
            } else {
                "one launch per phase"
            }
        ) + &match &self.outcome {
            Some(super::tiers::Outcome::TookOver { step, .. }) => {
                format!(", the whole program from step {step}")
            }
            _ => String::new(),
        }
    }

    fn free_bytes(&self) -> Option<usize> {
        result::mem_get_info().ok().map(|(free, _)| free)
    }

    fn alloc(&mut self, bytes: usize) -> Result<u64, String> {
        // SAFETY: a plain allocation, freed in Drop.
        let p = unsafe { result::malloc_sync(bytes.max(8)) }.map_err(|e| {
            format!(
                "out of GPU memory allocating {bytes} bytes on {} ({e:?})",
                self.info.name
            )
        })?;
        self.allocs.push(p);
        // SAFETY: `p` holds `bytes` bytes.
        unsafe { result::memset_d8_sync(p, 0, bytes.max(8)) }.map_err(|e| err("cuMemsetD8", e))?;
        Ok(p)
    }

    fn upload(&mut self, dst: u64, data: &[u8]) -> Result<(), String> {
        // SAFETY: `dst` was allocated with at least `data.len()` bytes.
        unsafe { result::memcpy_htod_sync(dst, data) }.map_err(|e| err("cuMemcpyHtoD", e))
    }

    fn download(&mut self, src: u64, out: &mut [u8]) -> Result<(), String> {
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: `src` holds at least `out.len()` bytes.
        unsafe { result::memcpy_dtoh_sync(out, src) }.map_err(|e| err("cuMemcpyDtoH", e))
    }

    fn set_table(&mut self, table: &[u64], key: [u32; 2]) -> Result<(), String> {
        self.module.set_table(table, key)?;
        self.table = table.to_vec();
        self.key = key;
        Ok(())
    }

    fn launch(&mut self, s0: u64, n: u32, c0: u64) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        self.take_over_if_ready(s0);
        let stream: sys::CUstream = std::ptr::null_mut();
        let grid = (self.blocks, 1, 1);
        let block = (self.threads, 1, 1);
        if self.cooperative {
            if let Some(count) = self.module.barrier_count {
                // The count's 31 bits hold every block's arrivals at every
                // barrier of the launch (at most a barrier per phase and step,
                // and one after `cbm_prologue`).
                let arrivals = ((n as u64 + 1) * self.phases as u64 + 1) * self.blocks as u64;
                if arrivals >= 1 << 31 {
                    return Err(format!(
                        "{n} steps a launch are too many for the grid barrier's count \
                         on {} blocks: set CBMC_CUDA_CHUNK lower (the default is 1000), \
                         or CBMC_CUDA_BARRIER=generation",
                        self.blocks
                    ));
                }
                // SAFETY: `cbm_count`, a u32 of the loaded module; ordered
                // before the launch on the same stream.
                unsafe { result::memset_d8_async(count, 0, 4, stream) }
                    .map_err(|e| err("cuMemsetD8Async(cbm_count)", e))?;
            }
            let mut a0 = s0 as i64;
            let mut a1 = n as i32;
            let mut a2 = c0 as i64;
            let mut params = [
                &mut a0 as *mut i64 as *mut c_void,
                &mut a1 as *mut i32 as *mut c_void,
                &mut a2 as *mut i64 as *mut c_void,
            ];
            // SAFETY: the arguments match `cbm_run(i64, int, i64)`; the grid
            // fits on the device at once (occupancy checked in `new`).
            unsafe {
                result::launch_cooperative_kernel(
                    self.module.entry,
                    grid,
                    block,
                    0,
                    stream,
                    &mut params,
                )
            }
            .map_err(|e| err("cuLaunchCooperativeKernel(cbm_run)", e))?;
        } else {
            // The prologue (phase -1: the first step's spikes of sources
            // drawn a step early, a launch that does nothing where there
            // are none), every phase of every step (the first step without
            // the deferred tasks of the step before, the last without
            // drawing early), then the deferred tasks of the last step: as
            // `cbm_run` does.
            let phases = self.phases as i32;
            let launches = std::iter::once((-1, s0, 0))
                .chain((0..n as u64).flat_map(|it| {
                    let parts =
                        (if it > 0 { 3 } else { 2 }) | (if it + 1 < n as u64 { 4 } else { 0 });
                    (0..phases).map(move |k| (k, s0 + it, parts))
                }))
                .chain((0..phases).map(|k| (k, s0 + n as u64, 1)));
            for (k, s, parts) in launches {
                let mut a0: i32 = k;
                let mut a1 = s as i64;
                let mut a2 = c0 as i64;
                let mut a3: i32 = parts;
                let mut params = [
                    &mut a0 as *mut i32 as *mut c_void,
                    &mut a1 as *mut i64 as *mut c_void,
                    &mut a2 as *mut i64 as *mut c_void,
                    &mut a3 as *mut i32 as *mut c_void,
                ];
                // SAFETY: the arguments match `cbm_phase_kernel(int, i64, i64, int)`.
                unsafe {
                    result::launch_kernel(self.module.entry, grid, block, 0, stream, &mut params)
                }
                .map_err(|e| err("cuLaunchKernel(cbm_phase_kernel)", e))?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        // SAFETY: the null stream of the current context.
        unsafe { result::stream::synchronize(std::ptr::null_mut()) }
            .map_err(|e| err("running the kernels", e))
    }

    fn copy(&mut self, dst: u64, src: u64, bytes: usize) -> Result<(), String> {
        if bytes == 0 {
            return Ok(());
        }
        // SAFETY: both were allocated here with at least `bytes` bytes; on
        // the null stream, after the launches before it.
        unsafe { result::memcpy_dtod_async(dst, src, bytes, std::ptr::null_mut()) }
            .map_err(|e| err("cuMemcpyDtoDAsync", e))
    }

    fn download_beside(&mut self, src: u64, out: &mut [u8]) -> Result<(), String> {
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: `src` holds at least `out.len()` bytes and no launched
        // kernel writes it; the copy is done when the stream is.
        unsafe {
            result::memcpy_dtoh_async(out, src, self.copies)
                .map_err(|e| err("cuMemcpyDtoHAsync", e))?;
            result::stream::synchronize(self.copies).map_err(|e| err("cuStreamSynchronize", e))
        }
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // A whole program still compiling is waited for, so that the cache
        // gets it for the next run.
        if let Some(b) = self.beside.take() {
            let _ = b.wait();
        }
        // SAFETY: each pointer was allocated by this device once. The
        // module and the context go after this (field order). A chunk
        // started ahead (a run stopped early) may still be using them.
        unsafe {
            let _ = result::stream::synchronize(std::ptr::null_mut());
            let _ = result::stream::synchronize(self.copies);
            let _ = result::stream::destroy(self.copies);
            for &p in &self.allocs {
                let _ = result::free_sync(p);
            }
        }
    }
}

/// Link relocatable CUBINs (`units::compile`) into one image, with the
/// driver's linker (the context must be current). The linker's error log
/// is in the message.
fn link(units: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let mut log = vec![0u8; 1 << 14];
    let mut options = [
        sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER,
        sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
    ];
    let mut values = [log.as_mut_ptr() as *mut c_void, log.len() as *mut c_void];
    let mut state: sys::CUlinkState = std::ptr::null_mut();
    // SAFETY: the option arrays and the log outlive the link state, which
    // is destroyed below; each unit's bytes outlive their `cuLinkAddData`.
    unsafe {
        sys::cuLinkCreate_v2(2, options.as_mut_ptr(), values.as_mut_ptr(), &mut state)
            .result()
            .map_err(|e| err("cuLinkCreate", e))?;
        let linked = (|| {
            for (u, image) in units.iter().enumerate() {
                let name = CString::new(format!("unit{u}")).expect("no NUL");
                sys::cuLinkAddData_v2(
                    state,
                    sys::CUjitInputType::CU_JIT_INPUT_CUBIN,
                    image.as_ptr() as *mut c_void,
                    image.len(),
                    name.as_ptr(),
                    0,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
                .result()
                .map_err(|e| err(&format!("cuLinkAddData(unit {u})"), e))?;
            }
            let mut out: *mut c_void = std::ptr::null_mut();
            let mut size = 0usize;
            sys::cuLinkComplete(state, &mut out, &mut size)
                .result()
                .map_err(|e| err("cuLinkComplete", e))?;
            // (The image belongs to the link state: copied before it goes.)
            Ok(std::slice::from_raw_parts(out as *const u8, size).to_vec())
        })();
        let _ = sys::cuLinkDestroy(state);
        linked.map_err(|e: String| {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).into_owned();
            format!("{e}: linking the kernels' units (CBMC_NVRTC_UNITS) failed\n{text}")
        })
    }
}
