//! Splitting a busy projection's work between threads, so that any number
//! of threads gives the same results, bit for bit (`native::bind::synapses`
//! runs one call of the generated function per part):
//!
//! - `on_pre` by target cells: each part visits only the synapses onto its
//!   own targets, so a target's ring cell still receives its deposits in
//!   the order of one call (spikes ascending, each source's synapses in
//!   storage order).
//! - periodic rules by source cells: a rule writes only its own synapse's
//!   variables (only `on_pre` deposits), so its synapses are independent;
//!   their per-target values first, by target cells.
//! - a large population's cell update by runs of cells: cell code reads
//!   and writes only its own cell.

use crate::network::ProjectionNet;

/// Boundaries of up to `threads` parts of the targets `0..n_target`, each
/// with about as many synapses (first 0, last `n_target`, ascending); empty
/// when there is nothing to split, or when some source's synapses are not
/// sorted by target (a part finds its synapses by binary search).
pub(super) fn target_parts(net: &ProjectionNet, n_target: usize, threads: usize) -> Vec<u32> {
    let sorted = net
        .offsets
        .windows(2)
        .all(|w| net.post[w[0] as usize..w[1] as usize].is_sorted());
    if !sorted {
        return vec![];
    }
    let mut before = vec![0u64; n_target + 1];
    for &j in &net.post {
        before[j as usize + 1] += 1;
    }
    for j in 0..n_target {
        before[j + 1] += before[j];
    }
    split(&before, threads)
}

/// Boundaries of up to `threads` parts of the source cells, each with
/// about as many synapses (as [`target_parts`]).
pub(super) fn source_parts(net: &ProjectionNet, threads: usize) -> Vec<u32> {
    let before: Vec<u64> = net.offsets.iter().map(|&o| o as u64).collect();
    split(&before, threads)
}

/// Cells below which a population's update is not split: it takes a few
/// nanoseconds a cell (1.4 for the x64's basket cells, 13 with an `exp`),
/// and waking the threads costs tens of microseconds.
const SPLIT_MIN_CELLS: usize = 200_000;

/// Runs of a large population's cells, one per thread, of equal size
/// (every cell runs the same code); empty for a smaller population.
pub(super) fn cell_parts(n: usize, threads: usize) -> Vec<u32> {
    if n < SPLIT_MIN_CELLS || threads < 2 {
        return vec![];
    }
    (0..=threads).map(|r| (n * r / threads) as u32).collect()
}

/// Cells `0..n` cut into up to `threads` runs of about equal weight, where
/// `before[i]` is the weight of the cells before cell i (`n + 1` values).
fn split(before: &[u64], threads: usize) -> Vec<u32> {
    let n = before.len().saturating_sub(1);
    let total = before.last().copied().unwrap_or(0);
    if threads < 2 || n < 2 || total == 0 {
        return vec![];
    }
    let mut bounds = vec![0u32];
    for (i, &weight_before) in before.iter().enumerate().take(n).skip(1) {
        let part = bounds.len() as u64;
        // Close a part once it holds its share.
        if part < threads as u64 && weight_before * threads as u64 >= total * part {
            bounds.push(i as u32);
        }
    }
    bounds.push(n as u32);
    // One part is no split.
    if bounds.len() > 2 {
        bounds
    } else {
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(rows: &[&[u32]]) -> ProjectionNet {
        let mut offsets = vec![0u32];
        let (mut pre, mut post) = (vec![], vec![]);
        for (i, r) in rows.iter().enumerate() {
            pre.extend(r.iter().map(|_| i as u32));
            post.extend_from_slice(r);
            offsets.push(post.len() as u32);
        }
        ProjectionNet {
            offsets,
            pre,
            post,
            vars: vec![],
            delay_extra: vec![],
        }
    }

    #[test]
    fn parts_hold_about_equal_synapses() {
        // Target 0 receives 6 synapses, targets 1..=6 one each.
        let n = net(&[&[0, 1, 2], &[0, 3, 4], &[0, 0, 5, 6], &[0, 0]]);
        assert_eq!(target_parts(&n, 7, 2), vec![0, 1, 7]);
        assert_eq!(target_parts(&n, 7, 3), vec![0, 1, 3, 7]);
        // Sources hold 3, 3, 4 and 2 synapses.
        assert_eq!(source_parts(&n, 2), vec![0, 2, 4]);
        let even = net(&[&[0, 1, 2, 3, 4, 5, 6, 7]]);
        assert_eq!(target_parts(&even, 8, 4), vec![0, 2, 4, 6, 8]);
        // More threads than targets: one part per target at most.
        assert_eq!(target_parts(&even, 8, 20), vec![0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn large_populations_split_in_equal_runs() {
        assert_eq!(cell_parts(300_000, 3), vec![0, 100_000, 200_000, 300_000]);
        assert_eq!(cell_parts(200_001, 2), vec![0, 100_000, 200_001]);
        assert!(cell_parts(199_999, 4).is_empty());
        assert!(cell_parts(1_000_000, 1).is_empty());
    }

    #[test]
    fn nothing_to_split() {
        let n = net(&[&[0, 1, 2], &[1]]);
        assert!(target_parts(&n, 3, 1).is_empty());
        assert!(source_parts(&n, 1).is_empty());
        assert!(target_parts(&net(&[&[]]), 3, 2).is_empty());
        // One source: nothing to split by source.
        assert!(source_parts(&net(&[&[0, 1]]), 2).is_empty());
        // A row not sorted by target cannot be split by binary search.
        assert!(target_parts(&net(&[&[2, 0, 1]]), 3, 2).is_empty());
        // Every synapse onto one target: one part, no split.
        assert!(target_parts(&net(&[&[1], &[1]]), 2, 2).is_empty());
    }
}
