//! Stopping a run from a signal without losing it: Ctrl-C (SIGINT), `kill`
//! and `timeout` (SIGTERM), a closed terminal (SIGHUP) all end the run at
//! the end of the current step, and what was recorded is saved, marked
//! partial. Further signals while the results are being saved are ignored
//! (a second Ctrl-C must not leave half a file); once they are saved, a
//! signal ends the process at once.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

const RUNNING: u8 = 0;
const SAVING: u8 = 1;
const SAVED: u8 = 2;

/// What the signal handler reads: the run's stop flag and how far the run
/// has got.
pub struct StopOnSignal {
    pub stop: Arc<AtomicBool>,
    phase: Arc<AtomicU8>,
}

impl StopOnSignal {
    /// Install the handler (if that fails, signals keep their default
    /// behaviour and the run still works).
    pub fn install() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicU8::new(RUNNING));
        let hangup_ignored = hangup_is_ignored();
        let (s, p) = (stop.clone(), phase.clone());
        let _ = ctrlc::set_handler(move || {
            // stderr may be gone (a closed terminal): never panic here.
            let say = |text: &str| {
                let _ = writeln!(std::io::stderr(), "\n{text}");
            };
            match p.load(Ordering::SeqCst) {
                RUNNING if !s.swap(true, Ordering::SeqCst) => say(
                    "stopping at the end of this step; saving what was recorded (marked partial)",
                ),
                RUNNING | SAVING => say("saving the results; please wait"),
                _ => std::process::exit(130),
            }
        });
        if hangup_ignored {
            // Started under `nohup`: a closed terminal must not stop the run.
            // SAFETY: setting a signal's disposition to SIG_IGN has no
            // preconditions.
            unsafe {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
            }
        }
        StopOnSignal { stop, phase }
    }

    /// The run is over and its results are being written.
    pub fn saving(&self) {
        self.phase.store(SAVING, Ordering::SeqCst);
    }

    /// The results are written: a signal may end the process now.
    pub fn saved(&self) {
        self.phase.store(SAVED, Ordering::SeqCst);
    }
}

fn hangup_is_ignored() -> bool {
    // SAFETY: sigaction with a null new action only reads the current one
    // into `old`, which is a plain C struct that zeroes are valid for.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}
