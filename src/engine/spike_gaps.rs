//! Geometric gaps for spike sources with a constant rate: when a cell of a
//! Bernoulli(p) source spikes, the steps until its next spike are drawn at
//! once (failures before the first success), `floor(ln(u) / ln(1 - p))` for
//! a uniform `u` from the cell's own Philox counter. Both engines draw them
//! so (the CUDA kernels with the device's logarithm and [`log_q`]).
//!
//! `u` takes 2^24 values (`Rng::uniform_open`: the top 24 bits of a word),
//! and the gap falls as `u` grows: `u` steps by 2^-24, which moves `ln(u)`
//! by far more than the logarithm's sub-ulp error, so even the computed
//! logarithm never goes backwards; division by the negative `ln(1 - p)`,
//! the floor and the cap keep the order. So where the gaps at both ends of
//! a run of `u` values agree, every `u` in between has that gap. A table of
//! 4096 runs answers most draws without a logarithm where p is above about
//! 0.01 (95% of the cerebellum's, p = 0.03); the others are computed. (Below
//! p of about 1e-3 the gap changes within nearly every run: there the table
//! only adds a lookup.) The results are the formula's, bit for bit (a test compares
//! all 2^24 values for several rates).

use crate::network::rng::{self, stream, Rng};

/// Runs of `u` values: 2^12 of them, each 2^12 values long.
const RUN_BITS: u32 = 12;

/// In `SpikeGaps::runs`: the gap changes within the run (compute it).
const MIXED: u32 = u32::MAX;

/// The gaps of one source (one `p`).
pub struct SpikeGaps {
    p: f64,
    /// ln(1 - p).
    log_q: f64,
    /// Per run of `u` values: its one gap, or `MIXED`.
    runs: Vec<u32>,
}

/// ln(1 - p), also where 1 - p rounds to 1 (p below about 1e-16), whose
/// logarithm 0 would make every gap 0: a cell spiking every step.
pub fn log_q(p: f64) -> f64 {
    match (1.0 - p).ln() {
        0.0 => (-p).ln_1p(),
        q => q,
    }
}

impl SpikeGaps {
    pub fn new(p: f64) -> Self {
        let log_q = log_q(p);
        let runs = (0..1u32 << RUN_BITS)
            .map(|r| {
                // Words whose top 24 bits are the run's first and last `u`.
                let first = r << (RUN_BITS + 8);
                let last = first | ((1 << (RUN_BITS + 8)) - 1);
                let (a, b) = (formula(first, p, log_q), formula(last, p, log_q));
                if a == b && a < u64::from(MIXED) {
                    a as u32
                } else {
                    MIXED
                }
            })
            .collect();
        SpikeGaps { p, log_q, runs }
    }

    /// The gap drawn from Philox word `word`.
    pub fn gap_of_word(&self, word: u32) -> u64 {
        match self.runs[(word >> (RUN_BITS + 8)) as usize] {
            MIXED => formula(word, self.p, self.log_q),
            gap => u64::from(gap),
        }
    }

    /// The gap of `cell` of population `pop` after its `count`-th spike.
    pub fn draw(&self, rng: &Rng, pop: usize, cell: usize, count: u32) -> u64 {
        let w = rng.words(stream(rng::SOURCE, pop, 1), cell as u32, count, 0);
        self.gap_of_word(w[0])
    }

    /// `draw` for each of `cells` (with their spike counts), into `out`:
    /// four cells' Philox draws at a time (see `rng::philox_first_words`).
    pub fn draw_each(
        &self,
        rng: &Rng,
        pop: usize,
        cells: &[u32],
        counts: &[u32],
        out: &mut Vec<u64>,
    ) {
        out.clear();
        let st = stream(rng::SOURCE, pop, 1);
        for four in cells.chunks(4) {
            let mut ctr = [[0u32; 4]; 4];
            for (c, &i) in ctr.iter_mut().zip(four) {
                *c = [i, counts[i as usize], 0, st];
            }
            let words = rng::philox_first_words(rng.key(), ctr);
            out.extend(words[..four.len()].iter().map(|&w| self.gap_of_word(w)));
        }
    }
}

/// `floor(ln(u) / ln(1 - p))` for the `u` of `word`, capped at 1e15 steps.
fn formula(word: u32, p: f64, log_q: f64) -> u64 {
    if p <= 0.0 {
        return u64::MAX / 4;
    }
    if p >= 1.0 {
        return 0;
    }
    let u = Rng::uniform_open(word);
    // The quotient is >= 0 (or -inf or NaN), so the cast's truncation is
    // the floor; capped at 1e15 steps, NaN included (as `f64::min` would,
    // without its NaN test); -inf casts to 0.
    let steps = u.ln() / log_q;
    if steps < 1e15 {
        steps as u64
    } else {
        1e15 as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_gives_the_formula_for_every_u() {
        // The cerebellum's parallel fibres (30 Hz at 1 ms) and mossy fibres
        // (Poisson 10 Hz), a coin, a rare and a certain spike, no spikes.
        let rates = [0.03, 1.0 - (-0.01f64).exp(), 0.5, 1e-7, 1e-17, 1.0, 0.0];
        for p in rates {
            let gaps = SpikeGaps::new(p);
            let log_q = log_q(p);
            let mut mixed = 0;
            for m in 0..1u32 << 24 {
                // The low 8 bits do not reach `u`: vary them anyway.
                let word = (m << 8) | (m & 0xff);
                assert_eq!(
                    gaps.gap_of_word(word),
                    formula(word, p, log_q),
                    "p {p}, u index {m}"
                );
            }
            for &r in &gaps.runs {
                mixed += usize::from(r == MIXED);
            }
            if p == 0.03 {
                assert!(
                    mixed < 1 << (RUN_BITS - 2),
                    "{mixed} runs need the logarithm"
                );
            }
        }
    }

    #[test]
    fn a_tiny_probability_gives_long_gaps() {
        // 1 - 1e-17 is 1 in doubles; ln(1) = 0 made every gap 0.
        let gaps = SpikeGaps::new(1e-17);
        let shortest = (0..1u32 << 12).map(|m| gaps.gap_of_word(m << 20)).min();
        // Mean 1e17 steps; even u near 1 gives more than 1e12.
        assert!(shortest > Some(1_000_000_000_000), "{shortest:?}");
        assert!(log_q(1e-17) < 0.0);
        assert_eq!(log_q(0.03), (0.97f64).ln());
    }
}
