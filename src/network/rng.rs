//! Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
//!
//! Every random number in a run is a pure function of (seed, stream, counter),
//! so the CPU engine, the CUDA engine and any thread layout draw the same
//! numbers. Key = (seed low 32 bits, seed high 32 bits). Counter = 4 words:
//! [index, a, b, stream]. Streams (the `stream` word) are:
//!
//! | stream                         | index        | a                | b           |
//! |--------------------------------|--------------|------------------|-------------|
//! | `WIRING`  | projection         | target/source | draw block      | 0           |
//! | `SYN_INIT`| projection, var    | synapse id    | (synapse id>>32)| var         |
//! | `CELL_INIT`| population        | cell          | var             | 0           |
//! | `GAP`     | gap junction       | cell          | draw block      | 0           |
//! | `SOURCE`  | population         | cell          | step low        | step high   |
//! | `STEP_RNG`| population, site   | cell          | step low        | step high   |
//! | `DELAY`   | projection         | synapse id    | (synapse id>>32)| 0           |
//!
//! The stream word is `kind << 24 | object << 8 | site` (objects < 65536).

pub const WIRING: u32 = 1;
pub const SYN_INIT: u32 = 2;
pub const CELL_INIT: u32 = 3;
pub const GAP: u32 = 4;
pub const SOURCE: u32 = 5;
pub const STEP_RNG: u32 = 6;
pub const DELAY: u32 = 7;

pub fn stream(kind: u32, object: usize, site: u32) -> u32 {
    (kind << 24) | (((object as u32) & 0xffff) << 8) | (site & 0xff)
}

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32-10 of four counters at once, the same numbers as [`philox`]
/// of each; returns the first word of each. The four counters' chains are
/// interleaved, so the processor overlaps their multiplications (an SSE2
/// version measured slower).
#[inline]
pub fn philox_first_words(key: [u32; 2], ctr: [[u32; 4]; 4]) -> [u32; 4] {
    let mut c: [[u32; 4]; 4] = [[0; 4]; 4];
    for l in 0..4 {
        for w in 0..4 {
            c[w][l] = ctr[l][w];
        }
    }
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let mut n = [[0u32; 4]; 4];
        for l in 0..4 {
            let p0 = M0 as u64 * c[0][l] as u64;
            let p1 = M1 as u64 * c[2][l] as u64;
            n[0][l] = (p1 >> 32) as u32 ^ c[1][l] ^ k[0];
            n[1][l] = p1 as u32;
            n[2][l] = (p0 >> 32) as u32 ^ c[3][l] ^ k[1];
            n[3][l] = p0 as u32;
        }
        c = n;
    }
    c[0]
}

/// Philox4x32 with 10 rounds.
#[inline]
pub fn philox(key: [u32; 2], ctr: [u32; 4]) -> [u32; 4] {
    let mut c = ctr;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The random numbers of one run.
#[derive(Clone, Copy, Debug)]
pub struct Rng {
    key: [u32; 2],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng {
            key: [seed as u32, (seed >> 32) as u32],
        }
    }
    #[inline]
    /// The Philox key (from the seed), for generated code that draws the
    /// same numbers.
    pub fn key(&self) -> [u32; 2] {
        self.key
    }
    #[inline]
    pub fn words(&self, stream: u32, index: u32, a: u32, b: u32) -> [u32; 4] {
        philox(self.key, [index, a, b, stream])
    }
    /// Uniform in [0, 1) from one word (24 bits of precision kept, exactly
    /// representable in float and double, so CPU and GPU agree).
    #[inline]
    pub fn uniform(word: u32) -> f64 {
        (word >> 8) as f64 * (1.0 / 16_777_216.0)
    }
    /// Uniform in (0, 1], for logarithms.
    #[inline]
    pub fn uniform_open(word: u32) -> f64 {
        ((word >> 8) as f64 + 1.0) * (1.0 / 16_777_216.0)
    }
    /// A standard normal from two words (Box-Muller).
    #[inline]
    pub fn normal(w0: u32, w1: u32) -> f64 {
        let u1 = Self::uniform_open(w0);
        let u2 = Self::uniform(w1);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// An integer in [0, n) from one word (multiply-shift; bias < n / 2^32).
    #[inline]
    pub fn below(word: u32, n: usize) -> usize {
        ((word as u64 * n as u64) >> 32) as usize
    }

    /// A sequence of words from one (stream, index): blocks of four.
    pub fn sequence(&self, stream: u32, index: u32) -> Sequence {
        Sequence {
            rng: *self,
            stream,
            index,
            block: 0,
            buf: [0; 4],
            used: 4,
        }
    }
}

/// Words drawn one by one from consecutive counter blocks.
pub struct Sequence {
    rng: Rng,
    stream: u32,
    index: u32,
    block: u32,
    buf: [u32; 4],
    used: usize,
}

impl Sequence {
    pub fn next_word(&mut self) -> u32 {
        if self.used == 4 {
            self.buf = self.rng.words(self.stream, self.index, self.block, 0);
            self.block = self.block.wrapping_add(1);
            self.used = 0;
        }
        self.used += 1;
        self.buf[self.used - 1]
    }
    pub fn below(&mut self, n: usize) -> usize {
        Rng::below(self.next_word(), n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_lanes_match_one_at_a_time() {
        let key = [0xa409_3822, 0x299f_31d0];
        let ctr = [
            [1, 2, 3, 4],
            [0xffff_ffff, 0, 7, 9],
            [5, 5, 5, 5],
            [0, 0, 0, 1 << 31],
        ];
        let lanes = philox_first_words(key, ctr);
        for l in 0..4 {
            assert_eq!(lanes[l], philox(key, ctr[l])[0]);
        }
    }

    #[test]
    fn philox_known_answer() {
        // Known-answer vectors from the Random123 distribution (kat_vectors).
        assert_eq!(
            philox([0, 0], [0, 0, 0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox([0xffff_ffff, 0xffff_ffff], [0xffff_ffff; 4]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox(
                [0xa409_3822, 0x299f_31d0],
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn uniform_mean_is_half() {
        let rng = Rng::new(7);
        let n = 100_000;
        let mut s = 0.0;
        for i in 0..n {
            s += Rng::uniform(rng.words(1, i, 0, 0)[0]);
        }
        assert!((s / n as f64 - 0.5).abs() < 0.005);
    }
}
