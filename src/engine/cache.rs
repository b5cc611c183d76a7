//! The disk cache of compiled code (CUDA modules, native CPU libraries):
//! where it lives and how entries are named.

use std::path::PathBuf;

/// The disk cache folder: $CBMC_CACHE_DIR, else $XDG_CACHE_HOME/cbmc, else
/// ~/.cache/cbmc; none when CBMC_NO_CACHE is set.
pub fn dir() -> Option<PathBuf> {
    if std::env::var_os("CBMC_NO_CACHE").is_some() {
        return None;
    }
    if let Some(d) = std::env::var_os("CBMC_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("cbmc"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("cbmc"))
}

/// A 128-bit FNV-style hash in hex: names a cache entry by what made it.
pub fn hash128(parts: &[&[u8]]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for p in parts {
        for &x in p.iter().chain(&[0xffu8]) {
            a ^= x as u64;
            a = a.wrapping_mul(0x0100_0000_01b3);
            b ^= x as u64;
            b = b.wrapping_mul(0x0000_0100_0000_01b3 ^ 0x1000);
            b = b.rotate_left(5);
        }
    }
    format!("{a:016x}{b:016x}")
}
