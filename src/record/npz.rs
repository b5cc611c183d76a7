//! Writing a run's arrays to one `.npz` (readable with `numpy.load`), via a
//! temporary file renamed into place so a crash never leaves half a file.

use ndarray::{ArrayViewD, IxDyn};
use ndarray_npy::NpzWriter;
use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

/// One array of a run file. The data is borrowed from the recording where
/// it can be (a recording can be most of a run's memory, and saving it must
/// not need as much again), owned where it is made for the file.
pub enum NpzArray<'a> {
    F64 {
        shape: Vec<usize>,
        data: Cow<'a, [f64]>,
    },
    U32 {
        shape: Vec<usize>,
        data: Cow<'a, [u32]>,
    },
    U16 {
        shape: Vec<usize>,
        data: Cow<'a, [u16]>,
    },
    U8 {
        shape: Vec<usize>,
        data: Cow<'a, [u8]>,
    },
}

impl<'a> NpzArray<'a> {
    /// A 1-D array of doubles.
    pub fn f64_vec(v: &'a [f64]) -> Self {
        NpzArray::F64 {
            shape: vec![v.len()],
            data: Cow::Borrowed(v),
        }
    }
    /// A 1-D array of u32.
    pub fn u32_vec(v: &'a [u32]) -> Self {
        NpzArray::U32 {
            shape: vec![v.len()],
            data: Cow::Borrowed(v),
        }
    }
}

/// Write `arrays` to `path`, through `path.npz.<pid>.partial`: a crash never
/// leaves half a file under the final name, and two runs writing to one
/// folder at once never share a temporary file (the last to finish wins). A complete file that cannot be
/// moved into place is kept under the temporary name (the error says where),
/// so a long run's results survive a bad output path.
pub fn write_npz(path: &Path, arrays: &[(String, NpzArray<'_>)]) -> Result<(), String> {
    if let Some(name) = first_repeated_name(arrays) {
        return Err(format!(
            "cannot write {}: two arrays are named `{name}`",
            path.display()
        ));
    }
    let tmp = crate::files::partial_name(path);
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

fn first_repeated_name<'a>(arrays: &'a [(String, NpzArray<'_>)]) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::new();
    arrays
        .iter()
        .map(|(n, _)| n.as_str())
        .find(|n| !seen.insert(*n))
}

fn write_to(tmp: &Path, arrays: &[(String, NpzArray<'_>)]) -> Result<(), String> {
    let err =
        |e: &dyn std::error::Error| format!("cannot write {}: {}", tmp.display(), describe(e));
    let file = File::create(tmp).map_err(|e| err(&e))?;
    // Deflate at the fastest level: weight snapshots and spike counts
    // compress several-fold, and numpy reads it as usual.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    let mut npz = NpzWriter::new_with_options(file, options);
    for (name, a) in arrays {
        // Views, not copies: a recording can be most of the memory a run
        // may use (record::recording_bytes counts one copy, not two).
        let added = match a {
            NpzArray::F64 { shape, data } => add(&mut npz, name, shape, data),
            NpzArray::U32 { shape, data } => add(&mut npz, name, shape, data),
            NpzArray::U16 { shape, data } => add(&mut npz, name, shape, data),
            NpzArray::U8 { shape, data } => add(&mut npz, name, shape, data),
        };
        if let Err(e) = added {
            // Dropping a writer that failed makes the zip crate print its own
            // debug text on stderr; the caller removes the file anyway.
            std::mem::forget(npz);
            return Err(err(e.as_ref()));
        }
    }
    let f = npz.finish().map_err(|e| err(&e))?;
    f.sync_all().map_err(|e| err(&e))?;
    Ok(())
}

fn add<T: ndarray_npy::WritableElement>(
    npz: &mut NpzWriter<File>,
    name: &str,
    shape: &[usize],
    data: &[T],
) -> Result<(), Box<dyn std::error::Error>> {
    let view = ArrayViewD::from_shape(IxDyn(shape), data)?;
    npz.add_array(name, &view)?;
    Ok(())
}

/// An error with its causes, saying "no space left on the device" plainly
/// where that is the cause (the zip and npy layers wrap it as "i/o error").
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::StorageFull {
                return "no space left on the device".into();
            }
        }
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}
