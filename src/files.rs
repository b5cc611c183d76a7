//! Writing output files so that a crash, a full disk or a second run
//! writing to the same folder never leaves half a file under a final name.

use std::path::{Path, PathBuf};

/// The temporary name `path` is written under first: unique to this
/// process, so that two runs writing one folder never share it.
pub fn partial_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(
        "{}.{}.partial",
        name.unwrap_or_default(),
        std::process::id()
    ))
}

/// Write `bytes` to `path` through a temporary file renamed into place, so
/// that a full disk or a crash leaves the old file or none, never half of
/// one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = partial_name(path);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}
