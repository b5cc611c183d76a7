//! Delivery by counting, for projections whose every spike adds the same
//! constant to its targets (`target += c`, for one step, after the
//! projection's fixed delay), such as PF -> BC in the cerebellum.
//!
//! Each ring cell such a projection writes to is empty when the step's
//! spikes start depositing into it, and only this step's spikes deposit
//! there (one delay, one-step pulses, and the target clears a slot when it
//! reads it). Adding `c` to an empty cell `k` times gives the same double
//! in any order: `S(k) = ((0 + c) + c) + ... + c`. So instead of visiting
//! each synapse event, the engine counts how many of this step's spikes
//! reach each target and writes `S(count)` from a table: bit-identical to
//! adding them one by one, as the interpreter does.
//!
//! The counting is bit-parallel. Each source cell has a mask with one bit
//! per target cell, and the counts are kept bit-sliced: plane `p` holds bit
//! `p` of every target's count, 64 targets to a machine word. A spike adds
//! its mask to the planes like a binary counter, a fixed number of word
//! operations per 64 targets with no branches, instead of one scattered
//! addition per synapse. The rare rest goes to a per-target count: targets
//! a source reaches more than once (wiring with replacement) and carries
//! out of the top plane.

use crate::network::ProjectionNet;

/// Bit planes: counts up to 31 per step stay in the planes. (The
/// cerebellum's basket cells count ~13 parallel-fibre spikes per step.)
const PLANES: usize = 5;

/// Repeated targets per source kept in a fixed row. (With the cerebellum's
/// wiring with replacement a parallel fibre reaches ~4 basket cells twice.)
const REPEATS: usize = 8;

/// 512 targets, eight words: one cache line.
#[derive(Clone, Copy, PartialEq)]
#[repr(C, align(64))]
struct Block([u64; 8]);

const EMPTY: Block = Block([0; 8]);

/// The counting form of one projection's `on_pre` (see the module docs).
pub struct Counting {
    /// 512-target blocks per mask.
    blocks: usize,
    n_target: usize,
    mean_fan_out: usize,
    /// Source `i`'s targets: `masks[i * blocks..(i + 1) * blocks]`.
    masks: Vec<Block>,
    /// Targets source `i` reaches again, one entry per extra synapse: the
    /// first `repeat_width` in `repeats[i]` (the rest of the row points at
    /// spare counts past the targets, so every spike does the same work and
    /// nothing mispredicts), any more in `more_repeats[more_offsets[i]..]`.
    repeat_width: usize,
    repeats: Vec<[u32; REPEATS]>,
    more_offsets: Vec<u32>,
    more_repeats: Vec<u32>,
    /// Per block, `PLANES` planes.
    planes: Vec<[Block; PLANES]>,
    /// Per target: the part of its count the planes do not hold.
    extra: Vec<u32>,
    /// `sums[k]` = the deposit added `k` times to an empty ring cell.
    sums: Vec<f64>,
}

impl Counting {
    /// The counting form of a projection onto `n_target` cells whose
    /// `on_pre` is `target += deposit`, or `None` when visiting the synapses
    /// one by one is cheaper.
    pub fn new(net: &ProjectionNet, n_target: usize, deposit: f64) -> Option<Self> {
        let n_source = net.offsets.len().saturating_sub(1);
        let blocks = n_target.div_ceil(512);
        if n_source == 0 || blocks == 0 {
            return None;
        }
        // Measured on the cerebellum's PF -> BC: a spike's mask costs about
        // as much as 16 scattered additions per 512 targets.
        let mean_fan_out = net.len() / n_source;
        if mean_fan_out < 16 * blocks {
            return None;
        }
        let mut in_degree = vec![0usize; n_target];
        for &j in &net.post {
            in_degree[j as usize] += 1;
        }
        let max_count = in_degree.iter().copied().max().unwrap_or(0);
        let mut masks = vec![EMPTY; n_source * blocks];
        let mut repeated: Vec<Vec<u32>> = vec![vec![]; n_source];
        for i in 0..n_source {
            let mask = &mut masks[i * blocks..(i + 1) * blocks];
            for &j in &net.post[net.offsets[i] as usize..net.offsets[i + 1] as usize] {
                let (word, bit) = (
                    &mut mask[j as usize / 512].0[j as usize % 512 / 64],
                    1 << (j % 64),
                );
                if *word & bit == 0 {
                    *word |= bit;
                } else {
                    repeated[i].push(j);
                }
            }
        }
        let repeat_width = repeated
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .min(REPEATS);
        // Spare count `r` takes the unused places of column `r`.
        let spare = |r: usize| (blocks * 512 + r) as u32;
        let mut repeats = vec![std::array::from_fn(spare); n_source];
        let (mut more_offsets, mut more_repeats) = (vec![0u32], vec![]);
        for (row, targets) in repeats.iter_mut().zip(&repeated) {
            let kept = targets.len().min(REPEATS);
            row[..kept].copy_from_slice(&targets[..kept]);
            more_repeats.extend_from_slice(&targets[kept..]);
            more_offsets.push(more_repeats.len() as u32);
        }
        let mut sums = vec![0.0f64; max_count + 1];
        for k in 1..sums.len() {
            sums[k] = sums[k - 1] + deposit;
        }
        Some(Counting {
            blocks,
            n_target,
            mean_fan_out,
            masks,
            repeat_width,
            repeats,
            more_offsets,
            more_repeats,
            planes: vec![[EMPTY; PLANES]; blocks],
            extra: vec![0; blocks * 512 + REPEATS],
            sums,
        })
    }

    /// Bytes of everything counting keeps (masks, repeat rows, counts, the
    /// table of sums: one double per possible count, up to the largest
    /// in-degree).
    pub fn bytes(&self) -> usize {
        use std::mem::size_of_val;
        size_of_val(self.masks.as_slice())
            + size_of_val(self.repeats.as_slice())
            + size_of_val(self.more_repeats.as_slice())
            + size_of_val(self.more_offsets.as_slice())
            + size_of_val(self.planes.as_slice())
            + size_of_val(self.extra.as_slice())
            + size_of_val(self.sums.as_slice())
    }

    /// Is counting `spikes` spikes cheaper than adding their synapses one by
    /// one? Writing the counts costs about as much as one scattered
    /// addition per two targets. (By the mean fan-out: a step whose spiking
    /// cells have far fewer synapses than the mean counts when adding one
    /// by one would be cheaper; the results are the same either way.)
    pub fn worth_it(&self, spikes: usize) -> bool {
        spikes * self.mean_fan_out >= 2 * self.n_target
    }

    /// Count one spike of each of `cells`.
    pub fn add_all(&mut self, cells: &[u32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2.
            unsafe { self.add_all_avx2(cells) };
            return;
        }
        self.add_all_with(cells, add_to_planes);
    }

    /// `add_all` compiled for AVX2: four words per operation.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_all_avx2(&mut self, cells: &[u32]) {
        self.add_all_with(cells, |mask, planes| add_to_planes_avx2(mask, planes));
    }

    /// `add_all` with `add` adding one mask to one block's planes.
    #[inline(always)]
    fn add_all_with(
        &mut self,
        cells: &[u32],
        add: impl Fn(&Block, &mut [Block; PLANES]) -> Option<Block>,
    ) {
        // A mask is one cache line, from L2 or beyond when the spike
        // comes: ask for the masks some spikes ahead.
        const AHEAD: usize = 8;
        let blocks = self.blocks;
        for &i in cells.iter().take(AHEAD) {
            self.prefetch(i);
        }
        for (x, &i) in cells.iter().enumerate() {
            if let Some(&next) = cells.get(x + AHEAD) {
                self.prefetch(next);
            }
            let i = i as usize;
            let masks = &self.masks[i * blocks..(i + 1) * blocks];
            for (b, (mask, planes)) in masks.iter().zip(&mut self.planes).enumerate() {
                if let Some(carry) = add(mask, planes) {
                    overflow(&mut self.extra[b * 512..(b + 1) * 512], &carry);
                }
            }
        }
        let width = self.repeat_width;
        for &i in cells {
            for &j in &self.repeats[i as usize][..width] {
                self.extra[j as usize] += 1;
            }
        }
        if !self.more_repeats.is_empty() {
            let offsets = &self.more_offsets;
            for &i in cells {
                let (a, b) = (offsets[i as usize], offsets[i as usize + 1]);
                for &j in &self.more_repeats[a as usize..b as usize] {
                    self.extra[j as usize] += 1;
                }
            }
        }
    }

    fn prefetch(&self, i: u32) {
        let start = i as usize * self.blocks;
        for block in &self.masks[start..start + self.blocks] {
            prefetch(block);
        }
    }

    /// Write each target's `S(count)` into `ring` (the slot the counted
    /// spikes deposit into, one value per target) and start counting anew.
    pub fn finish(&mut self, ring: &mut [f64]) {
        for (w, cells) in ring.chunks_mut(64).enumerate() {
            let planes = &mut self.planes[w / 8];
            // Eight u8 counts per u64, eight of them for the word's 64
            // targets: byte q of plane p spreads into bit p of counts
            // 8q..8q+7.
            let mut counts = [0u64; 8];
            for (p, plane) in planes.iter_mut().enumerate() {
                let bits = std::mem::take(&mut plane.0[w % 8]);
                for (q, c) in counts.iter_mut().enumerate() {
                    *c |= SPREAD[((bits >> (8 * q)) & 0xff) as usize] << p;
                }
            }
            let extra = &mut self.extra[w * 64..w * 64 + cells.len()];
            for (x, (cell, extra)) in cells.iter_mut().zip(extra).enumerate() {
                let count = (counts[x / 8] >> (8 * (x % 8))) & 0xff;
                *cell = self.sums[count as usize + std::mem::take(extra) as usize];
            }
        }
        // The spare counts of the repeat rows.
        let spares = self.extra.len() - REPEATS;
        self.extra[spares..].fill(0);
    }
}

/// Count the carries out of the top plane (counts of 32 and more) in
/// `extra`, the block's 512 per-target counts.
#[cold]
fn overflow(extra: &mut [u32], carry: &Block) {
    for (w, &c) in carry.0.iter().enumerate() {
        let mut c = c;
        while c != 0 {
            extra[w * 64 + c.trailing_zeros() as usize] += 1 << PLANES;
            c &= c - 1;
        }
    }
}

/// Add `mask` to the bit-sliced counts `planes`; the carries out of the top
/// plane, when there are any.
#[cfg(target_arch = "x86_64")]
fn add_to_planes(mask: &Block, planes: &mut [Block; PLANES]) -> Option<Block> {
    // Written with SSE2 (part of every x86-64), two words per operation:
    // the compiler keeps the unrolled word loop scalar otherwise.
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_load_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_setzero_si128, _mm_store_si128, _mm_xor_si128,
    };
    let mut out = EMPTY;
    // SAFETY: SSE2 is always present on x86-64; every pointer is to two
    // words inside a `Block`, 16-byte aligned as blocks are 64-byte aligned.
    let none_out = unsafe {
        let mut any = _mm_setzero_si128();
        for half in 0..4 {
            let at = |b: &Block| b.0.as_ptr().add(2 * half) as *const __m128i;
            let mut carry = _mm_load_si128(at(mask));
            for plane in planes.iter_mut() {
                let p = plane.0.as_mut_ptr().add(2 * half) as *mut __m128i;
                let x = _mm_load_si128(p);
                _mm_store_si128(p, _mm_xor_si128(x, carry));
                carry = _mm_and_si128(x, carry);
            }
            _mm_store_si128(out.0.as_mut_ptr().add(2 * half) as *mut __m128i, carry);
            any = _mm_or_si128(any, carry);
        }
        _mm_movemask_epi8(_mm_cmpeq_epi8(any, _mm_setzero_si128())) == 0xffff
    };
    (!none_out).then_some(out)
}

/// `add_to_planes` with AVX2, four words per operation.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn add_to_planes_avx2(mask: &Block, planes: &mut [Block; PLANES]) -> Option<Block> {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_load_si256, _mm256_or_si256, _mm256_setzero_si256,
        _mm256_store_si256, _mm256_testz_si256, _mm256_xor_si256,
    };
    let mut out = EMPTY;
    // SAFETY: every pointer is to four words inside a `Block`, 32-byte
    // aligned as blocks are 64-byte aligned.
    let none_out = unsafe {
        let mut any = _mm256_setzero_si256();
        for half in 0..2 {
            let at = |b: &Block| b.0.as_ptr().add(4 * half) as *const __m256i;
            let mut carry = _mm256_load_si256(at(mask));
            for plane in planes.iter_mut() {
                let p = plane.0.as_mut_ptr().add(4 * half) as *mut __m256i;
                let x = _mm256_load_si256(p);
                _mm256_store_si256(p, _mm256_xor_si256(x, carry));
                carry = _mm256_and_si256(x, carry);
            }
            _mm256_store_si256(out.0.as_mut_ptr().add(4 * half) as *mut __m256i, carry);
            any = _mm256_or_si256(any, carry);
        }
        _mm256_testz_si256(any, any) == 1
    };
    (!none_out).then_some(out)
}

#[cfg(not(target_arch = "x86_64"))]
fn add_to_planes(mask: &Block, planes: &mut [Block; PLANES]) -> Option<Block> {
    let mut carry = *mask;
    for plane in planes.iter_mut() {
        for (x, c) in plane.0.iter_mut().zip(&mut carry.0) {
            let next = *x & *c;
            *x ^= *c;
            *c = next;
        }
    }
    (carry != EMPTY).then_some(carry)
}

/// Ask the processor to bring `x`'s cache line closer.
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching never faults and has no visible effect.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// `SPREAD[n]`: bit `b` of byte `n` moved to bit `8 * b`.
const SPREAD: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut n = 0;
    while n < 256 {
        let mut b = 0;
        while b < 8 {
            if n & (1 << b) != 0 {
                t[n] |= 1 << (8 * b);
            }
            b += 1;
        }
        n += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::rng::Rng;

    /// A random projection with repeated pairs: `n_source` cells, each
    /// reaching `fan_out` targets drawn with replacement from `n_target`.
    fn net(n_source: usize, n_target: usize, fan_out: usize, seed: u64) -> ProjectionNet {
        let rng = Rng::new(seed);
        let mut offsets = vec![0u32];
        let (mut pre, mut post) = (vec![], vec![]);
        for i in 0..n_source {
            for k in 0..fan_out {
                let w = rng.words(0, i as u32, k as u32, 0);
                pre.push(i as u32);
                post.push(w[0] % n_target as u32);
            }
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

    /// What delivering one by one writes into an empty slot.
    fn one_by_one(net: &ProjectionNet, n_target: usize, spikes: &[u32], c: f64) -> Vec<f64> {
        let mut ring = vec![0.0; n_target];
        for &i in spikes {
            let r = net.offsets[i as usize] as usize..net.offsets[i as usize + 1] as usize;
            for &j in &net.post[r] {
                ring[j as usize] += c;
            }
        }
        ring
    }

    #[test]
    fn counting_writes_the_same_bits_as_adding_one_by_one() {
        // 0.1 is inexact in binary, so S(k) differs from k * 0.1: the table
        // must reproduce the sequential sums exactly. The last network has
        // more repeated targets per source than a row holds and counts above
        // what the planes hold.
        // `add_all` (AVX2 where the processor has it) and the SSE2 version.
        let portable = |c: &mut Counting, cells: &[u32]| c.add_all_with(cells, add_to_planes);
        let dispatched = |c: &mut Counting, cells: &[u32]| c.add_all(cells);
        let mut most = 0.0f64;
        let nets = [(300, 200, 64), (50, 130, 40), (20, 64, 300)];
        for (n_source, n_target, fan_out) in nets {
            let net = net(n_source, n_target, fan_out, 7);
            for (variant, add) in [portable, dispatched].iter().enumerate() {
                // One counting for several steps: `finish` starts it anew.
                let mut counting = Counting::new(&net, n_target, 0.1).expect("dense enough");
                for step in 0..4u32 {
                    // Every cell, every other, ..., every fourth: counts from 0
                    // up to several planes.
                    let spikes: Vec<u32> = (0..n_source as u32)
                        .filter(|i| i % (step + 1) == 0)
                        .collect();
                    add(&mut counting, &spikes);
                    let mut ring = vec![0.0; n_target];
                    counting.finish(&mut ring);
                    let expected = one_by_one(&net, n_target, &spikes, 0.1);
                    let same = ring
                        .iter()
                        .zip(&expected)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(
                        same,
                        "{n_source}x{n_target}, variant {variant}, step {step}"
                    );
                    most = expected.iter().fold(most, |m, &x| m.max(x));
                }
            }
        }
        assert!(
            most > 0.1 * (1 << PLANES) as f64,
            "counts beyond the planes tested"
        );
    }

    #[test]
    fn sparse_projections_are_delivered_one_by_one() {
        let sparse = net(100, 1000, 8, 3);
        assert!(Counting::new(&sparse, 1000, 1.0).is_none());
        let dense = Counting::new(&net(100, 64, 16, 3), 64, 1.0).expect("dense enough");
        assert!(
            !dense.worth_it(1),
            "one spike: 16 additions, 64 counts written"
        );
        assert!(dense.worth_it(8));
    }
}
