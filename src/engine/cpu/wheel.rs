//! A timing wheel for spike sources with a constant rate: each cell waits
//! for the step of its next spike (drawn as a geometric gap when it last
//! spiked), and a step finds its spiking cells in time proportional to
//! their number, in ascending cell order (it scans one bit per cell).

/// Steps the wheel covers at most; cells due later wait in a list that is
/// sorted into the wheel every `slots` steps. With the cerebellum's 30 Hz
/// PF the mean gap is ~38 steps, so the list is almost always empty.
const MAX_SLOTS: u64 = 256;
/// Fewer slots for many cells, down to `MIN_SLOTS`, so that the bitsets
/// stay within about a core's L2 cache: 100,000 cells in 256 slots are 3.2
/// MB, and writing a spike there missed the cache (a Brunel network's
/// 100,000 input cells ran 12% faster in 64 slots).
const MAX_BYTES: usize = 1 << 20;
const MIN_SLOTS: u64 = 32;
/// Steps no run reaches (1e15 steps of 0.1 ms are 3,000 years): where the
/// geometric gaps put a cell of probability 0 (or not a number).
const NEVER: u64 = 1_000_000_000_000_000;

pub struct Wheel {
    /// u64 words per slot: one bit per cell.
    words: usize,
    /// Steps the wheel covers (a power of two).
    slots: u64,
    /// `slots` bitsets; slot `step % slots` holds the cells due at `step`.
    bits: Vec<u64>,
    /// (step, cell) of cells due `slots` or more steps after they were put.
    far: Vec<(u64, u32)>,
    /// Room for listing every cell, and four more (see `take`).
    listed: Vec<u32>,
}

impl Wheel {
    pub fn new(cells: usize) -> Self {
        let words = cells.div_ceil(64);
        let mut slots = MAX_SLOTS;
        while slots > MIN_SLOTS && words * 8 * slots as usize > MAX_BYTES {
            slots /= 2;
        }
        Wheel {
            words,
            slots,
            bits: vec![0; words * slots as usize],
            far: vec![],
            listed: vec![0; words * 64 + 4],
        }
    }

    /// Cell `cell` spikes at `step` (>= `now`, the current step).
    pub fn put(&mut self, now: u64, step: u64, cell: u32) {
        if step >= NEVER {
            // A cell that never spikes (probability 0: gaps of 1e15 steps
            // or more) is not kept, rather than sorted again every `slots`
            // steps for the whole run.
            return;
        }
        if step < now + self.slots {
            let slot = (step % self.slots) as usize;
            self.bits[slot * self.words + cell as usize / 64] |= 1 << (cell % 64);
        } else {
            self.far.push((step, cell));
        }
    }

    /// Append the cells due at `now` to `out`, ascending, and forget them.
    /// Must be called for every step in order.
    pub fn take(&mut self, now: u64, out: &mut Vec<u32>) {
        if now.is_multiple_of(self.slots) && !self.far.is_empty() {
            // Cells due within the next `slots` steps move into the wheel;
            // each slot then holds only cells due at exactly one step.
            let far = std::mem::take(&mut self.far);
            for (step, cell) in far {
                self.put(now, step, cell);
            }
        }
        let slot = (now % self.slots) as usize;
        let row = &mut self.bits[slot * self.words..(slot + 1) * self.words];
        // Cells are written four at a time, without a branch per cell (most
        // words hold fewer than four): the count moves on only for a set
        // bit, so a write past the last cell is overwritten or left out.
        let listed = &mut self.listed;
        let mut n = 0;
        for (w, word) in row.iter_mut().enumerate() {
            let mut x = std::mem::take(word);
            while x != 0 {
                for _ in 0..4 {
                    listed[n] = (w * 64) as u32 + x.trailing_zeros();
                    n += usize::from(x != 0);
                    x &= x.wrapping_sub(1);
                }
            }
        }
        out.extend_from_slice(&listed[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small wheel (256 slots) and one for 200,000 cells (32 slots, to
    /// stay within a megabyte) give every cell at its step, ascending.
    #[test]
    fn cells_come_out_at_their_step_in_ascending_order() {
        for (cells, slots) in [(200, 256), (200_000, 32)] {
            let mut w = Wheel::new(cells);
            assert_eq!(w.slots, slots);
            cells_at_their_steps(&mut w);
        }
    }

    fn cells_at_their_steps(w: &mut Wheel) {
        let horizon = w.slots;
        // Near and far (beyond the horizon) cells, put out of order.
        let plan = [
            (5u64, 150u32),
            (5, 3),
            (5, 64),
            (300, 7),
            (700, 199),
            (0, 1),
        ];
        for &(step, cell) in &plan {
            w.put(0, step, cell);
        }
        // A cell that never spikes is not kept.
        w.put(0, NEVER, 9);
        assert!(w.far.iter().all(|&(_, c)| c != 9));
        let mut seen = vec![];
        for now in 0..1000 {
            let mut out = vec![];
            w.take(now, &mut out);
            assert!(out.windows(2).all(|p| p[0] < p[1]), "step {now}: {out:?}");
            seen.extend(out.into_iter().map(|c| (now, c)));
            // A cell re-queued from inside the horizon's last slot.
            if now == 10 {
                w.put(now, now + horizon - 1, 42);
            }
        }
        let mut want: Vec<(u64, u32)> = plan.to_vec();
        want.push((10 + horizon - 1, 42));
        want.sort();
        assert_eq!(seen, want);
    }
}
