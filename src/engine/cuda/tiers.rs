//! Tiered compilation (`units::Plan::Tiered`, the default on a host of 4
//! cores or more). A cold compile of the whole program takes about a
//! second (the cerebellum on an H200's host: 1.13-1.16 s), most of it in
//! one function; the same source as units compiles on many cores in a
//! third of that, but runs slower (linked code is not inlined across
//! units: the cerebellum's 60 s in 0.646 s against 0.528 s). So a run
//! starts on the units while the whole program compiles beside it on a
//! thread of its own; once compiled, it takes over between two chunks
//! (`CudaDevice` loads it, fills its globals and launches it from then
//! on), and the cache keeps it, so later runs start on it at once. Both
//! come from one source and compute the same, step for step
//! (`tests/cuda_gpu.rs` runs a take-over against the CPU engine).

use super::nvrtc::{self, Compiled};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Whole = Result<Compiled, String>;

/// The whole program, compiling on a thread of its own.
#[derive(Clone)]
pub struct Beside {
    state: Arc<Mutex<State>>,
}

struct State {
    compiling: Option<JoinHandle<Whole>>,
    /// Times `ready` says no even when it is compiled (a take-over at a
    /// chosen chunk, for tests).
    hold: u32,
}

impl Beside {
    /// Compile `source` as one program for `sm_<arch>` on a new thread,
    /// storing it in the cache `cache`.
    pub fn spawn(source: String, arch: u32, cache: Option<PathBuf>) -> Result<Self, String> {
        Self::on_thread(0, move || nvrtc::compile(&source, arch, cache.as_deref()))
    }

    /// `compiled`, offered by `ready` only after it has said no `launches`
    /// times: to test a take-over at a chosen chunk.
    pub fn after_launches(compiled: Compiled, launches: u32) -> Result<Self, String> {
        Self::on_thread(launches, move || Ok(compiled))
    }

    fn on_thread(hold: u32, work: impl FnOnce() -> Whole + Send + 'static) -> Result<Self, String> {
        // NVRTC's parser wants a large stack (see session/cuda.rs).
        let compiling = std::thread::Builder::new()
            .name("nvrtc whole".into())
            .stack_size(64 << 20)
            .spawn(work)
            .map_err(|e| format!("no thread for NVRTC: {e}"))?;
        Ok(Beside {
            state: Arc::new(Mutex::new(State {
                compiling: Some(compiling),
                hold,
            })),
        })
    }

    /// The whole program (or why it failed) once it is compiled, taken:
    /// `None` while it compiles, and once it has been taken.
    pub fn ready(&self) -> Option<Whole> {
        let mut state = self.state.lock().ok()?;
        if state.hold > 0 {
            state.hold -= 1;
            return None;
        }
        if !state.compiling.as_ref()?.is_finished() {
            return None;
        }
        state.compiling.take().map(finished)
    }

    /// Wait for the whole program, taken: `None` if taken before.
    pub fn wait(&self) -> Option<Whole> {
        let compiling = self.state.lock().ok()?.compiling.take()?;
        Some(finished(compiling))
    }
}

fn finished(compiling: JoinHandle<Whole>) -> Whole {
    compiling
        .join()
        .unwrap_or_else(|_| Err("the NVRTC thread compiling the whole program failed".into()))
}

impl std::fmt::Debug for Beside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Beside(the whole program, compiling)")
    }
}

/// What became of the whole program compiled beside a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It took over at this step, compiled in `seconds`.
    TookOver { step: u64, seconds: f64 },
    /// The run ended first; it was compiled in `seconds` (and cached).
    After { seconds: f64 },
    /// It failed, or could not take over; the units ran on.
    Failed(String),
}

impl Outcome {
    /// For the line a run prints about its kernels.
    pub fn describe(&self) -> String {
        match self {
            Outcome::TookOver { step, seconds } => format!(
                "the whole program, compiled beside the run in {seconds:.3} s, took over at step {step}"
            ),
            Outcome::After { seconds } => format!(
                "the whole program, compiled beside the run in {seconds:.3} s, is cached for the next run"
            ),
            Outcome::Failed(e) => format!("the whole program did not take over: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_program_is_offered_after_as_many_launches() {
        let image = Compiled::image(vec![1, 2, 3], true, false, 0.5, 90);
        let b = Beside::after_launches(image, 2).expect("a thread");
        assert!(b.ready().is_none());
        assert!(b.ready().is_none());
        let mut got = None;
        // (The thread returns at once; wait for it to be finished.)
        for _ in 0..1000 {
            got = b.ready();
            if got.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let c = got.expect("offered").expect("compiled");
        assert_eq!(c.image, [1, 2, 3]);
        // Taken once only.
        assert!(b.ready().is_none() && b.wait().is_none());
    }
}
