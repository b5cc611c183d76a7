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

pub use codegen::{Arg, Handler};
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
}

pub type CellFn = unsafe extern "C" fn(*const Ctx) -> u64;
pub type SynapseFn = unsafe extern "C" fn(*const Ctx);

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
/// must run on any x86-64 (or aarch64) machine that shares the cache.
pub const FLAGS: &[&str] = &[
    "-O3",
    "-funroll-loops",
    "-std=c99",
    "-fPIC",
    "-shared",
    "-ffp-contract=off",
    "-fno-math-errno",
];

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
        FLAGS.join(" ").as_bytes(),
        version.as_bytes(),
        std::env::consts::ARCH.as_bytes(),
    ]);
    // A cache folder that cannot be made (a read-only home) is no cache.
    let cache = crate::engine::cache::dir()
        .map(|d| d.join("cpu"))
        .filter(|d| std::fs::create_dir_all(d).is_ok());
    let cached_path = cache.as_ref().map(|d| d.join(format!("{key}.so")));
    let (path, cached, temporary) = match &cached_path {
        Some(p) if p.is_file() => (p.clone(), true, false),
        _ => {
            let dir = cache.clone().unwrap_or_else(std::env::temp_dir);
            let built = compile(&cc, &generated.source, &dir, &key)?;
            match &cached_path {
                // Publish under the key in one step: a reader never sees a
                // half-written library.
                Some(p) if std::fs::rename(&built, p).is_ok() => (p.clone(), false, false),
                _ => (built, false, true),
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
    if temporary {
        // Loaded (or failed): the file is no longer needed.
        let _ = std::fs::remove_file(&path);
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

/// Compile `source` into `dir`, returning the library's path (a name
/// unique to this process and call, renamed by the caller).
fn compile(cc: &str, source: &str, dir: &Path, key: &str) -> Result<PathBuf, String> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create {} for compiled code: {e}", dir.display()))?;
    let unique = format!(
        "{key}.{}.{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    );
    let c_file = dir.join(format!("{unique}.c"));
    let so_file = dir.join(format!("{unique}.so"));
    std::fs::write(&c_file, source)
        .map_err(|e| format!("cannot write {}: {e}", c_file.display()))?;
    let out = compiler_command(cc)
        .args(FLAGS)
        .arg("-o")
        .arg(&so_file)
        .arg(&c_file)
        .arg("-lm")
        .output();
    let _ = std::fs::remove_file(&c_file);
    let out = out.map_err(|e| format!("could not run `{cc}`: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&so_file);
        let log: String = String::from_utf8_lossy(&out.stderr)
            .lines()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n");
        return Err(format!(
            "`{cc}` could not compile the generated code (a bug in cbmc; `cbmc emit-c` shows the source):\n{log}"
        ));
    }
    Ok(so_file)
}
