//! A projection's by-target (CSC) index by words of 32 sources: what a
//! delivery that finds its spiking synapses through source words reads
//! (`Entry::CscWords`, `Entry::CscRuns`; the kernel side is
//! `codegen/synapse_tasks.rs`, `words_finder`).
//!
//! For target `j` and word `w` (sources `32 w .. 32 w + 31`), `words[j * nw
//! + w]` holds the bits of the sources of that word that reach `j` (low 32
//! bits) and the index in `runs` of the first of them (high 32 bits). `runs`
//! holds, target after target, the first CSC entry of each source that
//! reaches the target, then the target's end: the entries of a source that
//! reaches it more than once are consecutive in the CSC order (sources
//! ascending, each source's synapses in storage order), so a source's
//! entries are `runs[x] .. runs[x + 1]`.

/// The source words and runs of a CSC index: `off` (targets + 1 offsets),
/// `pre` (the source of each entry), `nw` words per target. Fails if the
/// offsets do not fit the entries, a target's sources are not in ascending
/// order or a source is past the last word (none happens for an index the
/// network built).
pub fn source_words(off: &[u32], pre: &[u32], nw: usize) -> Result<(Vec<u64>, Vec<u32>), String> {
    let targets = off.len().saturating_sub(1);
    let mut words = vec![0u64; targets * nw];
    let mut runs: Vec<u32> = Vec::with_capacity(pre.len() + targets);
    let too_many = || "internal error: more than 2^32 source runs".to_string();
    for j in 0..targets {
        let (lo, hi) = (off[j] as usize, off[j + 1] as usize);
        if lo > hi || hi > pre.len() {
            return Err(format!(
                "internal error: target {j}'s entries {lo}..{hi} are not in the index"
            ));
        }
        let row = &mut words[j * nw..(j + 1) * nw];
        // Words before the first source's: their first run is the target's first.
        let mut next_word = 0usize;
        let mut last: Option<u32> = None;
        for (e, &p) in pre.iter().enumerate().take(hi).skip(lo) {
            if last == Some(p) {
                continue; // the same source again: its run goes on
            }
            if last.is_some_and(|l| p < l) {
                return Err(format!(
                    "internal error: target {j}'s sources are not in ascending order"
                ));
            }
            let w = p as usize / 32;
            if w >= nw {
                return Err(format!(
                    "internal error: source {p} is past the {nw} words of a spike mask"
                ));
            }
            let x = u32::try_from(runs.len()).map_err(|_| too_many())?;
            while next_word <= w {
                row[next_word] = (x as u64) << 32;
                next_word += 1;
            }
            row[w] |= 1u64 << (p % 32);
            runs.push(e as u32);
            last = Some(p);
        }
        let end = u32::try_from(runs.len()).map_err(|_| too_many())?;
        for word in row.iter_mut().skip(next_word) {
            *word = (end as u64) << 32;
        }
        runs.push(hi as u32);
    }
    Ok((words, runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entries of source `p` of target `j`, as a kernel finds them.
    fn entries_of(words: &[u64], runs: &[u32], nw: usize, j: usize, p: u32) -> Vec<u32> {
        let w = words[j * nw + p as usize / 32];
        let bit = p % 32;
        if (w >> bit) & 1 == 0 {
            return vec![];
        }
        let below = (w as u32) & ((1u32 << bit) - 1);
        let x = (w >> 32) as usize + below.count_ones() as usize;
        (runs[x]..runs[x + 1]).collect()
    }

    #[test]
    fn every_source_finds_its_entries_multapses_included() {
        // Target 0: sources 1, 1, 5, 40, 40, 40, 63; target 1: none;
        // target 2: source 33.
        let off = [0u32, 7, 7, 8];
        let pre = [1u32, 1, 5, 40, 40, 40, 63, 33];
        let nw = 2;
        let (words, runs) = source_words(&off, &pre, nw).expect("ascending");
        assert_eq!(words.len(), 3 * nw);
        for j in 0..3 {
            for p in 0..64u32 {
                let want: Vec<u32> = (off[j]..off[j + 1])
                    .filter(|&e| pre[e as usize] == p)
                    .collect();
                assert_eq!(
                    entries_of(&words, &runs, nw, j, p),
                    want,
                    "target {j}, source {p}"
                );
            }
        }
        // One run per distinct source (4, none, 1) and one end per target.
        assert_eq!(runs.len(), 4 + 1 + 3);
    }

    #[test]
    fn out_of_order_or_out_of_range_sources_are_refused() {
        assert!(source_words(&[0, 2], &[5, 3], 1).is_err());
        assert!(source_words(&[0, 1], &[32], 1).is_err());
        assert!(source_words(&[0, 3], &[1, 2], 1).is_err());
        assert!(source_words(&[2, 1], &[1, 2], 1).is_err());
    }
}
