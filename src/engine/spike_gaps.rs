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

use crate::ir::SourceIr;
use crate::network::rng::{self, stream, Rng};

/// Runs of `u` values: 2^12 of them, each 2^12 values long.
const RUN_BITS: u32 = 12;

/// In `SpikeGaps::runs`: the gap changes within the run (compute it).
const MIXED: u32 = u32::MAX;

/// The gaps of one source: one `p` for all its cells, or one per cell.
pub struct SpikeGaps {
    rates: Rates,
}

enum Rates {
    /// One `p`; per run of `u` values its one gap, or `MIXED`.
    Shared { p: f64, log_q: f64, runs: Vec<u32> },
    /// A `p` per cell (a rate drawn per cell, or one along the population):
    /// every gap computed.
    PerCell { p: Vec<f64>, log_q: Vec<f64> },
}

/// ln(1 - p), also where 1 - p rounds to 1 (p below about 1e-16), whose
/// logarithm 0 would make every gap 0: a cell spiking every step.
pub fn log_q(p: f64) -> f64 {
    match (1.0 - p).ln() {
        0.0 => (-p).ln_1p(),
        q => q,
    }
}

/// `log_q` as the CUDA kernels' `cbm_geometric` takes it for a cell of its
/// own `p`: -inf where p >= 1 (every gap 0, as `formula`), NaN where the
/// cell never spikes (p <= 0 or NaN: gaps of 1e15 steps), for the one draw
/// after a spike that cannot happen; its first gap is drawn on the host.
pub fn device_log_q(p: f64) -> f64 {
    if p >= 1.0 {
        f64::NEG_INFINITY
    } else if p > 0.0 {
        log_q(p)
    } else {
        f64::NAN
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
        SpikeGaps {
            rates: Rates::Shared { p, log_q, runs },
        }
    }

    /// Gaps for cells of their own constant `p`.
    pub fn per_cell(p: Vec<f64>) -> Self {
        let log_q = p.iter().map(|&p| log_q(p)).collect();
        SpikeGaps {
            rates: Rates::PerCell { p, log_q },
        }
    }

    /// The gaps of a source whose cells spike with constant probabilities
    /// (one for all, or each its own, read from `per_cell`: the network's
    /// values of the source), or None where its rate changes in time.
    pub fn of_source(s: &SourceIr, dt: f64, per_cell: &[Vec<f64>], n: usize) -> Option<Self> {
        if let Some(p) = s.fixed_probability(dt) {
            return Some(SpikeGaps::new(p));
        }
        let rate = s.rate_or_p().filter(|_| s.per_cell_constant())?;
        let p = (0..n)
            .map(|i| {
                let value =
                    crate::network::eval_scalar(rate, &|v| per_cell.get(v)?.get(i).copied());
                s.probability(value.unwrap_or(f64::NAN), dt)
            })
            .collect();
        Some(SpikeGaps::per_cell(p))
    }

    /// Each cell's `p` (the shared one repeated).
    pub fn probability_of(&self, cell: usize) -> f64 {
        match &self.rates {
            Rates::Shared { p, .. } => *p,
            Rates::PerCell { p, .. } => p[cell],
        }
    }

    /// The gap of `cell` drawn from Philox word `word`.
    pub fn gap_of_word(&self, cell: usize, word: u32) -> u64 {
        match &self.rates {
            Rates::Shared { p, log_q, runs } => match runs[(word >> (RUN_BITS + 8)) as usize] {
                MIXED => formula(word, *p, *log_q),
                gap => u64::from(gap),
            },
            Rates::PerCell { p, log_q } => formula(word, p[cell], log_q[cell]),
        }
    }

    /// The gap of `cell` of population `pop` after its `count`-th spike.
    pub fn draw(&self, rng: &Rng, pop: usize, cell: usize, count: u32) -> u64 {
        let w = rng.words(stream(rng::SOURCE, pop, 1), cell as u32, count, 0);
        self.gap_of_word(cell, w[0])
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
            out.extend(
                four.iter()
                    .zip(&words)
                    .map(|(&i, &w)| self.gap_of_word(i as usize, w)),
            );
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
                    gaps.gap_of_word(0, word),
                    formula(word, p, log_q),
                    "p {p}, u index {m}"
                );
            }
            let Rates::Shared { runs, .. } = &gaps.rates else {
                panic!("one p, not shared");
            };
            for &r in runs {
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

    /// Cells of their own probabilities draw the gaps a shared probability
    /// gives, each its own (the edge values too).
    #[test]
    fn gaps_per_cell_are_those_of_each_cells_probability() {
        let rates = [0.03, 0.5, 1e-7, 1e-17, 1.0, 1.5, 0.0, -0.2, f64::NAN];
        let per_cell = SpikeGaps::per_cell(rates.to_vec());
        for (cell, p) in rates.into_iter().enumerate() {
            let shared = SpikeGaps::new(p);
            for m in (0..1u32 << 24).step_by(4099) {
                let word = m << 8;
                assert_eq!(
                    per_cell.gap_of_word(cell, word),
                    shared.gap_of_word(0, word),
                    "p {p}, u index {m}"
                );
            }
            assert_eq!(per_cell.probability_of(cell).to_bits(), p.to_bits());
        }
        // What the CUDA kernels get for the draws after a spike: -inf where
        // every gap is 0, NaN (gaps of 1e15 steps) where none comes.
        assert_eq!(device_log_q(1.5), f64::NEG_INFINITY);
        assert_eq!(device_log_q(1.0), f64::NEG_INFINITY);
        assert_eq!(device_log_q(0.03), log_q(0.03));
        assert!(device_log_q(0.0).is_nan() && device_log_q(-1.0).is_nan());
        assert!(device_log_q(f64::NAN).is_nan());
    }

    #[test]
    fn a_tiny_probability_gives_long_gaps() {
        // 1 - 1e-17 is 1 in doubles; ln(1) = 0 made every gap 0.
        let gaps = SpikeGaps::new(1e-17);
        let shortest = (0..1u32 << 12).map(|m| gaps.gap_of_word(0, m << 20)).min();
        // Mean 1e17 steps; even u near 1 gives more than 1e12.
        assert!(shortest > Some(1_000_000_000_000), "{shortest:?}");
        assert!(log_q(1e-17) < 0.0);
        assert_eq!(log_q(0.03), (0.97f64).ln());
    }
}
