//! Native code for the CPU engine: the per-step programs generated as C
//! (see `codegen.rs`), compiled once by the machine's C compiler, cached on
//! disk by a hash of the source, and loaded as a shared library.
//!
//! The interpreter (`vm.rs`) stays the reference and the fallback: when no C
//! compiler is found (or `CBMC_CPU_CODE=interpret` is set) the engine says
//! why in its description and interprets. Both give bit-identical results
//! (tests/native_parity.rs).

pub(crate) mod bind;
pub mod codegen;
mod rewrite;

pub use codegen::{post_width, Arg, Handler};
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What generated functions receive (`CbmCtx` in cpu_prelude.c).
#[repr(C)]
pub struct Ctx {
    pub p: *const *mut c_void,
    pub ids: *const u32,
    pub n: u64,
    pub t: f64,
    pub s: u64,
    pub first_slot: u64,
    pub key: [u32; 2],
    /// The part of the work (see `parts.rs`): `on_pre` visits the synapses
    /// onto targets `target_lo..target_hi`, a periodic rule computes their
    /// per-target values and visits the synapses of sources
    /// `source_lo..source_hi`; a cell function updates the cells
    /// `target_lo..target_hi`.
    pub target_lo: u64,
    pub target_hi: u64,
    pub source_lo: u64,
    pub source_hi: u64,
}

pub type CellFn = unsafe extern "C" fn(*const Ctx) -> u64;
/// Returns the work it did: the synapses it visited (and the sources a
/// periodic rule's guard tested), which tells the engine whether the next
/// call is worth splitting between threads.
pub type SynapseFn = unsafe extern "C" fn(*const Ctx) -> u64;

/// A loaded function and the buffers it takes, in order.
pub struct Loaded<F> {
    pub f: F,
    pub args: Vec<Arg>,
    /// Length of its `Scratch` buffer.
    pub scratch: usize,
}

pub struct Native {
    /// Keeps the functions below alive.
    _lib: libloading::Library,
    /// Per population.
    pub cells: Vec<Option<Loaded<CellFn>>>,
    /// Per projection.
    pub synapses: Vec<Vec<(Handler, Loaded<SynapseFn>)>>,
    /// Compilation took this long (0 when the library came from the cache).
    pub compile_seconds: f64,
    pub cached: bool,
}

impl Native {
    pub fn synapse(&self, proj: usize, h: Handler) -> Option<&Loaded<SynapseFn>> {
        self.synapses
            .get(proj)?
            .iter()
            .find(|(x, _)| *x == h)
            .map(|(_, f)| f)
    }
}

/// Flags for every compilation. No FMA contraction and no fast-math: each
/// operation rounds as the interpreter's does. No -march: a cached library
/// must run on any x86-64 (or aarch64) machine that shares the cache (see
/// [`flags`] for the one instruction set added where the processor has it).
pub const FLAGS: &[&str] = &[
    "-O3",
    "-funroll-loops",
    "-std=c99",
    "-fPIC",
    "-shared",
    "-ffp-contract=off",
    "-fno-math-errno",
    // Floating-point operations cannot trap (no exceptions are enabled), so
    // gcc may compute both sides of a branch and blend: a cell loop with a
    // held store (`if (r_ == 0u) V[i] = x;`) vectorises. Rounding is
    // untouched (clang's default).
    "-fno-trapping-math",
    // libm's own pow, exp, ... everywhere: the compiler would otherwise
    // turn pow(x, 2.0) into x * x, which rounds differently from pow.
    "-fno-builtin",
];

/// [`FLAGS`], plus `-mavx` on an x86-64 processor with AVX: its
/// three-operand instructions save the register copies that SSE2's min and
/// max need (about 2% of the cerebellum's run). The same operations, so the
/// same results; the flags are part of the cache key, so a machine without
/// AVX never loads such a library from a shared cache.
pub fn flags() -> Vec<&'static str> {
    let mut flags = FLAGS.to_vec();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        flags.push("-mavx");
    }
    flags
}

/// Does the user want the interpreter?
pub fn interpret_requested() -> bool {
    std::env::var("CBMC_CPU_CODE").is_ok_and(|v| v.eq_ignore_ascii_case("interpret"))
}

/// The C compiler: $CC (a program and its leading arguments, as in
/// `CC="ccache gcc"`), else `cc`.
fn compiler() -> String {
    std::env::var("CC")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "cc".into())
}

/// A command running the compiler `cc`.
fn compiler_command(cc: &str) -> Command {
    let mut words = cc.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap_or("cc"));
    cmd.args(words);
    cmd
}

/// The compiler's version line, which also proves it runs.
fn compiler_version(cc: &str) -> Result<String, String> {
    let out = compiler_command(cc)
        .arg("--version")
        .output()
        .map_err(|e| format!("no C compiler (`{cc}`: {e})"))?;
    if !out.status.success() {
        return Err(format!("the C compiler `{cc}` does not run"));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

/// Generate, compile (or take from the cache) and load the model's code.
pub fn load(ir: &crate::ir::Ir) -> Result<Native, String> {
    let t0 = Instant::now();
    let generated = codegen::generate(ir);
    let cc = compiler();
    let version = compiler_version(&cc)?;
    let key = crate::engine::cache::hash128(&[
        generated.source.as_bytes(),
        flags().join(" ").as_bytes(),
        version.as_bytes(),
        std::env::consts::ARCH.as_bytes(),
    ]);
    // A cache folder that cannot be made is no cache.
    let cache = crate::engine::cache::dir()
        .map(|d| d.join("cpu"))
        .filter(|d| std::fs::create_dir_all(d).is_ok());
    let cached_path = cache.as_ref().map(|d| d.join(format!("{key}.so")));
    // Where the library is built when it is not in the cache: the cache
    // folder itself (so that publishing it is one rename), else (no cache,
    // or one we may not write) a private temporary folder, removed below.
    let mut scratch: Option<PathBuf> = None;
    let (path, cached) = match &cached_path {
        // A damaged library can kill the process when loaded (SIGBUS).
        Some(p) if crate::engine::cache::read_intact(p).is_some() => (p.clone(), true),
        _ => {
            let built = match cache
                .as_deref()
                .map(|d| compile(&cc, &generated.source, d, &key))
            {
                Some(Ok(built)) => built,
                Some(Err(Failure::Compiler(e))) => return Err(e),
                Some(Err(Failure::Io(_))) | None => {
                    let dir = private_temp_dir()?;
                    scratch = Some(dir.clone());
                    compile(&cc, &generated.source, &dir, &key).map_err(Failure::message)?
                }
            };
            match &cached_path {
                // Publish under the key in one step: a reader never sees a
                // half-written library.
                Some(p) if scratch.is_none() && crate::engine::cache::publish(&built, p) => {
                    (p.clone(), false)
                }
                _ => (built, false),
            }
        }
    };
    let compile_seconds = if cached {
        0.0
    } else {
        t0.elapsed().as_secs_f64()
    };
    // SAFETY: a library we generated and compiled; its initialisers do
    // nothing (plain C, no constructors).
    let lib = unsafe { libloading::Library::new(&path) }
        .map_err(|e| format!("could not load the compiled model code: {e}"));
    if let Some(dir) = scratch {
        // Loaded (or failed): the files are no longer needed.
        let _ = std::fs::remove_dir_all(dir);
    }
    let lib = lib?;
    let mut cells = Vec::new();
    for f in generated.cells {
        cells.push(match f {
            Some(f) => Some(Loaded {
                // SAFETY: generated with exactly this signature.
                f: *unsafe { lib.get::<CellFn>(f.symbol.as_bytes()) }
                    .map_err(|e| format!("compiled model code lacks {}: {e}", f.symbol))?,
                args: f.args,
                scratch: f.scratch,
            }),
            None => None,
        });
    }
    let mut synapses = Vec::new();
    for fs in generated.synapses {
        let mut v = Vec::new();
        for (h, f) in fs {
            // SAFETY: generated with exactly this signature.
            let sym = *unsafe { lib.get::<SynapseFn>(f.symbol.as_bytes()) }
                .map_err(|e| format!("compiled model code lacks {}: {e}", f.symbol))?;
            v.push((
                h,
                Loaded {
                    f: sym,
                    args: f.args,
                    scratch: f.scratch,
                },
            ));
        }
        synapses.push(v);
    }
    Ok(Native {
        _lib: lib,
        cells,
        synapses,
        compile_seconds,
        cached,
    })
}

/// Why a compilation failed.
enum Failure {
    /// Writing the source or the library failed (try elsewhere).
    Io(String),
    /// The compiler did not run or rejected the code.
    Compiler(String),
}

impl Failure {
    fn message(self) -> String {
        match self {
            Failure::Io(m) | Failure::Compiler(m) => m,
        }
    }
}

/// A new folder only this user can use, under the system's temporary
/// folder (created, never reused, so no one can have planted files in it).
fn private_temp_dir() -> Result<PathBuf, String> {
    static MADE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let mut last = String::new();
    for _ in 0..16 {
        let dir = std::env::temp_dir().join(format!(
            "cbmc-{}-{}-{nanos}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        ));
        match builder.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!(
        "cannot make a temporary folder for compiled code: {last}"
    ))
}

/// Compile `source` into `dir`, returning the library's path (a name
/// unique to this process and call, renamed by the caller).
fn compile(cc: &str, source: &str, dir: &Path, key: &str) -> Result<PathBuf, Failure> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let unique = format!(
        "{key}.{}.{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    );
    let c_file = dir.join(format!("{unique}.c"));
    let so_file = dir.join(format!("{unique}.so"));
    std::fs::write(&c_file, source)
        .map_err(|e| Failure::Io(format!("cannot write {}: {e}", c_file.display())))?;
    let out = compiler_command(cc)
        .args(flags())
        .arg("-o")
        .arg(&so_file)
        .arg(&c_file)
        .arg("-lm")
        .output();
    let _ = std::fs::remove_file(&c_file);
    let out = out.map_err(|e| Failure::Compiler(format!("could not run `{cc}`: {e}")))?;
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&out.status) {
        // Ctrl-C reaches the compiler too: not a compiler error.
        let _ = std::fs::remove_file(&so_file);
        return Err(Failure::Compiler(format!(
            "`{cc}` was stopped by signal {signal} before it finished"
        )));
    }
    if !out.status.success() {
        let _ = std::fs::remove_file(&so_file);
        let log: String = String::from_utf8_lossy(&out.stderr)
            .lines()
            .take(8)
            .collect::<Vec<_>>()
            .join("\n");
        return Err(Failure::Compiler(format!(
            "`{cc}` could not compile the generated code (if `{cc}` compiles other C, this is a bug in cbmc; `cbmc emit-c` shows the source):\n{log}"
        )));
    }
    Ok(so_file)
}
