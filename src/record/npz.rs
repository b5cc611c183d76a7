//! Writing a run's arrays to one `.npz` (readable with `numpy.load`), via a
//! temporary file renamed into place so a crash never leaves half a file.

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzWriter;
use std::fs::File;
use std::path::Path;

pub enum NpzArray {
    F64 { shape: Vec<usize>, data: Vec<f64> },
    U32 { shape: Vec<usize>, data: Vec<u32> },
    U16 { shape: Vec<usize>, data: Vec<u16> },
    U8 { shape: Vec<usize>, data: Vec<u8> },
}

impl NpzArray {
    /// A 1-D array of doubles.
    pub fn f64_vec(v: &[f64]) -> Self {
        NpzArray::F64 {
            shape: vec![v.len()],
            data: v.to_vec(),
        }
    }
    /// A 1-D array of u32.
    pub fn u32_vec(v: &[u32]) -> Self {
        NpzArray::U32 {
            shape: vec![v.len()],
            data: v.to_vec(),
        }
    }
}

/// Write `arrays` to `path`, through `path.npz.partial`: a crash never
/// leaves half a file under the final name. A complete file that cannot be
/// moved into place is kept under the temporary name (the error says where),
/// so a long run's results survive a bad output path.
pub fn write_npz(path: &Path, arrays: &[(String, NpzArray)]) -> Result<(), String> {
    if let Some(name) = first_repeated_name(arrays) {
        return Err(format!(
            "cannot write {}: two arrays are named `{name}`",
            path.display()
        ));
    }
    let tmp = path.with_extension("npz.partial");
    if let Err(e) = write_to(&tmp, arrays) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        format!(
            "cannot move {} to {}: {e}; the results are complete in {}",
            tmp.display(),
            path.display(),
            tmp.display()
        )
    })
}

fn first_repeated_name(arrays: &[(String, NpzArray)]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    arrays
        .iter()
        .map(|(n, _)| n.as_str())
        .find(|n| !seen.insert(*n))
}

fn write_to(tmp: &Path, arrays: &[(String, NpzArray)]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", tmp.display());
    let file = File::create(tmp).map_err(|e| err(&e))?;
    // Deflate at the fastest level: weight snapshots and spike counts
    // compress several-fold, and numpy reads it as usual.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    let mut npz = NpzWriter::new_with_options(file, options);
    for (name, a) in arrays {
        let r = match a {
            NpzArray::F64 { shape, data } => ArrayD::from_shape_vec(IxDyn(shape), data.clone())
                .map_err(|e| err(&e))
                .and_then(|x| npz.add_array(name.as_str(), &x).map_err(|e| err(&e))),
            NpzArray::U32 { shape, data } => ArrayD::from_shape_vec(IxDyn(shape), data.clone())
                .map_err(|e| err(&e))
                .and_then(|x| npz.add_array(name.as_str(), &x).map_err(|e| err(&e))),
            NpzArray::U16 { shape, data } => ArrayD::from_shape_vec(IxDyn(shape), data.clone())
                .map_err(|e| err(&e))
                .and_then(|x| npz.add_array(name.as_str(), &x).map_err(|e| err(&e))),
            NpzArray::U8 { shape, data } => ArrayD::from_shape_vec(IxDyn(shape), data.clone())
                .map_err(|e| err(&e))
                .and_then(|x| npz.add_array(name.as_str(), &x).map_err(|e| err(&e))),
        };
        r?;
    }
    let f = npz.finish().map_err(|e| err(&e))?;
    f.sync_all().map_err(|e| err(&e))?;
    Ok(())
}
