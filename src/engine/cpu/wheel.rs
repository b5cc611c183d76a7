//! A timing wheel for spike sources with a constant rate: each cell waits
//! for the step of its next spike (drawn as a geometric gap when it last
//! spiked), and a step finds its spiking cells in time proportional to
//! their number, in ascending cell order (it scans one bit per cell).

/// Steps the wheel covers; cells due later wait in a list that is sorted
/// into the wheel every `SLOTS` steps. With the cerebellum's 30 Hz PF the
/// mean gap is ~38 steps, so the list is almost always empty.
const SLOTS: u64 = 256;

pub struct Wheel {
    /// u64 words per slot: one bit per cell.
    words: usize,
    /// `SLOTS` bitsets; slot `step % SLOTS` holds the cells due at `step`.
    bits: Vec<u64>,
    /// (step, cell) of cells due `SLOTS` or more steps after they were put.
    far: Vec<(u64, u32)>,
    /// Room for listing every cell, and four more (see `take`).
    listed: Vec<u32>,
}

impl Wheel {
    pub fn new(cells: usize) -> Self {
        let words = cells.div_ceil(64);
        Wheel {
            words,
            bits: vec![0; words * SLOTS as usize],
            far: vec![],
            listed: vec![0; words * 64 + 4],
        }
    }

    /// Cell `cell` spikes at `step` (>= `now`, the current step).
    pub fn put(&mut self, now: u64, step: u64, cell: u32) {
        if step < now + SLOTS {
            let slot = (step % SLOTS) as usize;
            self.bits[slot * self.words + cell as usize / 64] |= 1 << (cell % 64);
        } else {
            self.far.push((step, cell));
        }
    }

    /// Append the cells due at `now` to `out`, ascending, and forget them.
    /// Must be called for every step in order.
    pub fn take(&mut self, now: u64, out: &mut Vec<u32>) {
        if now.is_multiple_of(SLOTS) && !self.far.is_empty() {
            // Cells due within the next SLOTS steps move into the wheel;
            // each slot then holds only cells due at exactly one step.
            let far = std::mem::take(&mut self.far);
            for (step, cell) in far {
                self.put(now, step, cell);
            }
        }
        let slot = (now % SLOTS) as usize;
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

    #[test]
    fn cells_come_out_at_their_step_in_ascending_order() {
        let mut w = Wheel::new(200);
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
        let mut seen = vec![];
        for now in 0..1000 {
            let mut out = vec![];
            w.take(now, &mut out);
            assert!(out.windows(2).all(|p| p[0] < p[1]), "step {now}: {out:?}");
            seen.extend(out.into_iter().map(|c| (now, c)));
            // A cell re-queued from inside the horizon's last slot.
            if now == 10 {
                w.put(now, now + SLOTS - 1, 42);
            }
        }
        let mut want: Vec<(u64, u32)> = plan.to_vec();
        want.push((10 + SLOTS - 1, 42));
        want.sort();
        assert_eq!(seen, want);
    }
}
