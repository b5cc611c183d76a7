//! The disk cache of compiled code (CUDA modules, native CPU libraries):
//! where it lives, how entries are named, and how they are checked.
//!
//! Every entry has a checksum file beside it (`NAME.sum`: its length and
//! hash). An entry whose bytes do not match (truncated by a full disk, a
//! crash, a bad copy) is compiled again and replaced: loading a damaged
//! shared library can kill the process, and a damaged module would fail
//! every run until someone found and deleted it.

use std::path::{Path, PathBuf};

/// The disk cache folder: $CBMC_CACHE_DIR, else $XDG_CACHE_HOME/cbmc, else
/// ~/.cache/cbmc; none when CBMC_NO_CACHE is set (to anything but empty or
/// 0). Empty variables count as unset (an empty folder name would be the
/// current folder).
pub fn dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if var("CBMC_NO_CACHE").is_some_and(|v| v != "0") {
        return None;
    }
    if let Some(d) = var("CBMC_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("cbmc"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".cache").join("cbmc"))
}

fn checksum_path(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(".sum");
    PathBuf::from(name)
}

fn checksum(bytes: &[u8]) -> String {
    format!("{} {}", bytes.len(), hash128(&[bytes]))
}

/// The entry's bytes, if it is there and matches its checksum.
pub fn read_intact(entry: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(entry).ok()?;
    let sum = std::fs::read_to_string(checksum_path(entry)).ok()?;
    (sum.trim() == checksum(&bytes)).then_some(bytes)
}

/// Move the file `built` (in the cache folder) to the entry's name, its
/// checksum first: a reader that sees the entry before its checksum
/// compiles again, which is only wasted work. False if it could not be
/// published (the caller uses `built` where it is).
pub fn publish(built: &Path, entry: &Path) -> bool {
    std::fs::read(built).is_ok_and(|bytes| publish_bytes(&bytes, built, entry))
}

/// [`publish`] for a file whose bytes are already in memory.
fn publish_bytes(bytes: &[u8], built: &Path, entry: &Path) -> bool {
    let sum_tmp = checksum_path(built);
    let published = std::fs::write(&sum_tmp, checksum(bytes)).is_ok()
        && std::fs::rename(&sum_tmp, checksum_path(entry)).is_ok()
        && std::fs::rename(built, entry).is_ok();
    let _ = std::fs::remove_file(sum_tmp);
    published
}

/// Store `bytes` as the entry (through a temporary file, as [`publish`]).
pub fn store(bytes: &[u8], entry: &Path) {
    let tmp = crate::files::partial_name(entry);
    if std::fs::write(&tmp, bytes).is_err() || !publish_bytes(bytes, &tmp, entry) {
        let _ = std::fs::remove_file(tmp);
    }
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
