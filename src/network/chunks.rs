//! Drawing a network on several threads: a range of cells or synapses cut
//! into one run per thread, each drawn from its own counters (the draws of
//! element i never depend on which thread makes them), the results joined
//! in index order. So any number of threads builds the same network.

use std::ops::Range;

/// Runs shorter than this are drawn on the calling thread: starting a
/// thread costs more.
const MIN_RUN: usize = 4096;

/// `f` of `0..n` cut into up to `threads` runs, concatenated in order.
/// A run whose thread cannot be started is drawn on this one.
pub(super) fn map_runs<T: Send>(
    n: usize,
    threads: usize,
    f: impl Fn(Range<usize>) -> Vec<T> + Sync,
) -> Vec<T> {
    let runs = threads.min(n / MIN_RUN).max(1);
    if runs == 1 {
        return f(0..n);
    }
    let bounds: Vec<usize> = (0..=runs).map(|r| n * r / runs).collect();
    let f = &f;
    std::thread::scope(|scope| {
        let started: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let run = w[0]..w[1];
                let thread = std::thread::Builder::new()
                    .name("network".into())
                    .spawn_scoped(scope, {
                        let run = run.clone();
                        move || f(run)
                    });
                (run, thread)
            })
            .collect();
        let mut out = Vec::new();
        for (run, thread) in started {
            match thread.map(|t| t.join()) {
                Ok(Ok(part)) => out.extend(part),
                // No thread to be had (or it failed): draw the run here.
                _ => out.extend(f(run)),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_join_in_order_whatever_the_threads() {
        let one = map_runs(50_000, 1, |r| r.map(|i| i * 3).collect());
        for threads in [2, 3, 7] {
            assert_eq!(
                map_runs(50_000, threads, |r| r.map(|i| i * 3).collect()),
                one
            );
        }
        assert_eq!(one.len(), 50_000);
        assert!(map_runs(0, 4, |r| r.collect::<Vec<_>>()).is_empty());
    }
}
