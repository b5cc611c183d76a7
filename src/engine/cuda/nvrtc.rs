//! NVRTC through cudarc (loaded at run time): generated source to CUBIN for
//! one architecture (PTX only when NVRTC cannot make a CUBIN for it), with a
//! disk cache keyed by a hash of the source, the options and the NVRTC version.

use cudarc::nvrtc::{result, sys};
use std::ffi::CString;
use std::time::Instant;

/// The options every compilation uses. FMA contraction off: the CPU engine
/// rounds every product and sum, and so must the GPU for identical results.
/// At most 128 registers a thread, so that two blocks of 256 threads fit on
/// a multiprocessor whatever a model's busiest task needs.
pub const OPTIONS: &[&str] = &[
    "--fmad=false",
    "--std=c++17",
    "-default-device",
    "--maxrregcount=128",
];

/// Where NVRTC has it (12.1 on; an older one is retried without):
/// NVVM's optimizer runs on all host cores, the step's tasks side by side.
const SPLIT_COMPILE: &str = "-split-compile=0";

/// Extra NVRTC options from the environment, for experiments such as
/// `--Ofast-compile=min` or `-lineinfo` (part of the cache key).
pub const EXTRA_OPTIONS_VAR: &str = "CBMC_NVRTC_OPTIONS";

/// The options of a compilation with this NVRTC, the extra ones last.
pub(super) fn options(version: (i32, i32), split: bool, extra: Option<&str>) -> Vec<String> {
    let mut opts: Vec<String> = OPTIONS.iter().map(|s| s.to_string()).collect();
    if split && version >= (12, 1) {
        opts.push(SPLIT_COMPILE.to_string());
    }
    opts.extend(extra.unwrap_or("").split_whitespace().map(str::to_string));
    opts
}

/// Is libnvrtc loadable? Must be asked before any other call here: cudarc
/// panics when the library is missing.
pub fn available() -> Result<(), String> {
    // SAFETY: only tries to open the library.
    if unsafe { sys::is_culib_present() } {
        Ok(())
    } else {
        Err("NVRTC was not found (looked for libnvrtc.so, libnvrtc.so.12 and .so.11 on the library path); `pip install nvidia-cuda-nvrtc-cu12` and put its lib folder on LD_LIBRARY_PATH, or add the CUDA toolkit's lib64 folder (CUDA 13 names the library libnvrtc.so.13: a link to it named libnvrtc.so on LD_LIBRARY_PATH works)".into())
    }
}

/// NVRTC's version (major, minor).
pub fn version() -> Result<(i32, i32), String> {
    available()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the library is present; the pointers are valid.
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| format!("nvrtcVersion failed: {e:?}"))?;
    Ok((major, minor))
}

/// A compiled module image.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// CUBIN bytes, or PTX text with a trailing NUL.
    pub image: Vec<u8>,
    pub cubin: bool,
    /// Taken from the disk cache.
    pub cached: bool,
    pub seconds: f64,
    pub arch: String,
    /// Relocatable CUBINs still to be linked into `image` by the driver
    /// (`units::compile`); empty for a whole-program image.
    pub units: Vec<Vec<u8>>,
    /// Where the linked image goes in the disk cache, once linked.
    pub store: Option<std::path::PathBuf>,
    /// How many units were linked into `image` (0: one program).
    pub linked: usize,
    /// With `units`: the source, to compile as one program should the
    /// driver fail to link them.
    pub whole: Option<String>,
    /// With `units` of a tiered compile: the whole program, compiling
    /// beside the run (`super::tiers`).
    pub beside: Option<super::tiers::Beside>,
}

impl Compiled {
    /// A whole image (not units to link), compiled `seconds` ago or taken
    /// from the cache (`cached`).
    pub fn image(image: Vec<u8>, cubin: bool, cached: bool, seconds: f64, arch: u32) -> Self {
        Compiled {
            image,
            cubin,
            cached,
            seconds,
            arch: format!("sm_{arch}"),
            units: vec![],
            store: None,
            linked: 0,
            whole: None,
            beside: None,
        }
    }
}

/// Compile `source` for `sm_<arch>` (e.g. 90), through the disk cache in
/// `cache` when given (see [`crate::engine::cache::dir`]).
pub fn compile(
    source: &str,
    arch: u32,
    cache: Option<&std::path::Path>,
) -> Result<Compiled, String> {
    available()?;
    let t0 = Instant::now();
    let entry = match cache {
        Some(d) => Some((d, cache_key(source, arch)?)),
        None => None,
    };
    if let Some(hit) = entry.as_ref().and_then(|(d, key)| lookup(d, key, arch, t0)) {
        return Ok(hit);
    }
    let version = version()?;
    let extra = std::env::var(EXTRA_OPTIONS_VAR).ok();
    let (cubin, image) = compile_for(source, version, extra.as_deref(), arch)?;
    if let Some((d, key)) = entry {
        let ext = if cubin { "cubin" } else { "ptx" };
        if std::fs::create_dir_all(d).is_ok() {
            crate::engine::cache::store(&image, &d.join(format!("{key}.{ext}")));
        }
    }
    Ok(Compiled::image(
        image,
        cubin,
        false,
        t0.elapsed().as_secs_f64(),
        arch,
    ))
}

/// The image `compile` would make of `source`, if the cache in `cache`
/// holds it (intact).
pub fn cached(
    source: &str,
    arch: u32,
    cache: Option<&std::path::Path>,
) -> Result<Option<Compiled>, String> {
    let Some(d) = cache else {
        return Ok(None);
    };
    let t0 = Instant::now();
    Ok(lookup(d, &cache_key(source, arch)?, arch, t0))
}

/// The intact image stored under `key` in the cache `dir` (a CUBIN, else
/// PTX), timed from `t0`.
fn lookup(dir: &std::path::Path, key: &str, arch: u32, t0: Instant) -> Option<Compiled> {
    [("cubin", true), ("ptx", false)]
        .into_iter()
        .find_map(|(ext, cubin)| {
            let image = crate::engine::cache::read_intact(&dir.join(format!("{key}.{ext}")))?;
            (!image.is_empty())
                .then(|| Compiled::image(image, cubin, true, t0.elapsed().as_secs_f64(), arch))
        })
}

/// The cache's key for `source` compiled as one program for `sm_<arch>`:
/// the source, the options and NVRTC's version.
fn cache_key(source: &str, arch: u32) -> Result<String, String> {
    let (major, minor) = version()?;
    let extra = std::env::var(EXTRA_OPTIONS_VAR).ok();
    let opts = options((major, minor), true, extra.as_deref());
    Ok(crate::engine::cache::hash128(&[
        source.as_bytes(),
        opts.join(" ").as_bytes(),
        format!("nvrtc {major}.{minor} sm_{arch}").as_bytes(),
    ]))
}

/// Compile for `sm_<arch>`. An NVRTC that refuses `-split-compile` is asked
/// again without it; one older than the device, which does not know its
/// architecture, makes PTX for the newest one it knows below it, for the
/// driver to finish.
fn compile_for(
    source: &str,
    version: (i32, i32),
    extra: Option<&str>,
    arch: u32,
) -> Result<(bool, Vec<u8>), String> {
    let sm = format!("sm_{arch}");
    let mut opts = options(version, true, extra);
    let mut result = compile_now(source, &opts, &sm, true);
    if matches!(&result, Err(e) if refused_option(e)) && opts.iter().any(|o| o == SPLIT_COMPILE) {
        opts = options(version, false, extra);
        result = compile_now(source, &opts, &sm, true);
    }
    match result {
        Err(e) if refused_arch(&e) => match newest_supported_below(arch) {
            Some(older) => compile_now(source, &opts, &format!("compute_{older}"), false),
            None => Err(e),
        },
        Err(e) if refused_option(&e) => Err(match extra {
            Some(x) => format!("{e}\n(the extra options, from {EXTRA_OPTIONS_VAR}: `{x}`)"),
            None => e,
        }),
        other => other,
    }
}

/// NVRTC turned down the architecture: "invalid value for
/// --gpu-architecture (-arch)".
fn refused_arch(e: &str) -> bool {
    e.contains("INVALID_OPTION") && e.contains("--gpu-architecture")
}

/// NVRTC turned down another option ("unrecognized option", "invalid
/// argument for option").
fn refused_option(e: &str) -> bool {
    e.contains("INVALID_OPTION") && !refused_arch(e)
}

/// The newest architecture this NVRTC compiles for that is at most `arch`.
fn newest_supported_below(arch: u32) -> Option<u32> {
    // The query came with NVRTC 11.2; calling a missing symbol panics.
    if version().ok()? < (11, 2) {
        return None;
    }
    let mut n: std::ffi::c_int = 0;
    // SAFETY: the library is present (checked by `compile`); `n` is valid.
    unsafe { sys::nvrtcGetNumSupportedArchs(&mut n) }
        .result()
        .ok()?;
    let mut archs: Vec<std::ffi::c_int> = vec![0; usize::try_from(n).ok()?];
    // SAFETY: `archs` has room for the `n` entries NVRTC writes.
    unsafe { sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) }
        .result()
        .ok()?;
    archs
        .into_iter()
        .filter_map(|a| u32::try_from(a).ok())
        .filter(|&a| a <= arch)
        .max()
}

/// (is CUBIN, image)
pub(super) fn compile_now(
    source: &str,
    options: &[String],
    arch: &str,
    cubin: bool,
) -> Result<(bool, Vec<u8>), String> {
    let src = CString::new(source).map_err(|_| "generated source contains NUL".to_string())?;
    let name = CString::new("cbmc_model.cu").expect("no NUL");
    let prog = result::create_program(&src, Some(&name))
        .map_err(|e| format!("nvrtcCreateProgram failed: {e:?}"))?;
    let mut opts = options.to_vec();
    opts.push(format!("--gpu-architecture={arch}"));
    // SAFETY: `prog` is live until destroyed below.
    let compiled = unsafe { result::compile_program(prog, &opts) };
    let out = match compiled {
        Err(e) => {
            // SAFETY: as above.
            let log = unsafe { result::get_program_log(prog) }
                .map(|l| {
                    let bytes: Vec<u8> =
                        l.iter().map(|&c| c as u8).take_while(|&c| c != 0).collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                })
                .unwrap_or_default();
            Err(format!(
                "NVRTC could not compile the generated code for {arch} ({e:?}):\n{}",
                explain_log(source, &log)
            ))
        }
        Ok(()) if cubin => {
            let mut size = 0usize;
            // SAFETY: `prog` compiled; the buffer has the size NVRTC reports.
            unsafe {
                sys::nvrtcGetCUBINSize(prog, &mut size)
                    .result()
                    .map_err(|e| format!("nvrtcGetCUBINSize failed: {e:?}"))
                    .and_then(|_| {
                        let mut buf = vec![0u8; size];
                        sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr() as *mut _)
                            .result()
                            .map_err(|e| format!("nvrtcGetCUBIN failed: {e:?}"))
                            .map(|_| (true, buf))
                    })
            }
        }
        Ok(()) => {
            // SAFETY: `prog` compiled.
            unsafe { result::get_ptx(prog) }
                .map(|p| (false, p.iter().map(|&c| c as u8).collect()))
                .map_err(|e| format!("nvrtcGetPTX failed: {e:?}"))
        }
    };
    // SAFETY: created above, destroyed once.
    let _ = unsafe { result::destroy_program(prog) };
    out
}

/// Map an NVRTC log to the model: each `(line)` the log names is shown with
/// the generated line and the model construct it came from (the nearest
/// `// from:` comment above it).
pub fn explain_log(source: &str, log: &str) -> String {
    use std::fmt::Write;
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::new();
    for l in log.lines() {
        out.push_str(l);
        out.push('\n');
        let Some(open) = l.find('(') else { continue };
        let Some(close) = l[open..].find(')') else {
            continue;
        };
        let Ok(n) = l[open + 1..open + close].parse::<usize>() else {
            continue;
        };
        if n == 0 || n > lines.len() {
            continue;
        }
        let _ = writeln!(out, "    generated line {n}: {}", lines[n - 1].trim());
        if let Some(from) = lines[..n]
            .iter()
            .rev()
            .find_map(|x| x.trim().strip_prefix("// from: "))
        {
            let _ = writeln!(out, "    from the model: {from}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_compile_only_where_nvrtc_has_it_and_extra_options_last() {
        assert!(!options((11, 8), true, None).contains(&SPLIT_COMPILE.to_string()));
        assert!(!options((12, 9), false, None).contains(&SPLIT_COMPILE.to_string()));
        let opts = options((12, 9), true, Some(" --Ofast-compile=min  -lineinfo "));
        assert_eq!(opts[OPTIONS.len()], SPLIT_COMPILE);
        assert_eq!(
            opts[OPTIONS.len() + 1..],
            ["--Ofast-compile=min", "-lineinfo"]
        );
    }

    #[test]
    fn a_refused_architecture_is_told_from_a_refused_option() {
        let arch = "NvrtcError(NVRTC_ERROR_INVALID_OPTION)):\nnvrtc: error: invalid value for --gpu-architecture (-arch)";
        let option = "NvrtcError(NVRTC_ERROR_INVALID_OPTION)):\nnvrtc: error: unrecognized option --bogus found";
        let argument = "NvrtcError(NVRTC_ERROR_INVALID_OPTION)):\nnvrtc: error: invalid argument for option --dopt (-dopt): off";
        assert!(refused_arch(arch) && !refused_option(arch));
        assert!(refused_option(option) && !refused_arch(option));
        assert!(refused_option(argument) && !refused_arch(argument));
        let other = "NvrtcError(NVRTC_ERROR_INVALID_OPTION)):\nnvrtc: error: some other wording";
        assert!(refused_option(other) && !refused_arch(other));
        assert!(!refused_arch("NvrtcError(NVRTC_ERROR_COMPILATION)"));
    }
}
