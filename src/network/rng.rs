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
//! | `WIRING`  | projection, site 1 | 0 (pairs sampled for an estimate) | draw block | 0 |
//! | `SYN_INIT`| projection, var << 4 | synapse id  | (synapse id>>32)| 0           |
//! | `CELL_INIT`| population, var << 4 | cell       | (cell>>32)      | 0           |
//! | `GAP`     | gap junction       | cell          | draw block      | 0           |
//! | `SOURCE`  | population         | cell          | step low        | step high   |
//! | `STEP_RNG`| population, site   | cell          | step low        | step high (+ block << 16, `rand_poisson`) |
//! | `DELAY`   | projection         | synapse id    | (synapse id>>32)| 0           |
//!
//! The stream word is `kind << 24 | object << 8 | site`, with objects below
//! 65536 and [`SITES`] sites (see [`stream`]).

pub const WIRING: u32 = 1;
pub const SYN_INIT: u32 = 2;
pub const CELL_INIT: u32 = 3;
pub const GAP: u32 = 4;
pub const SOURCE: u32 = 5;
pub const STEP_RNG: u32 = 6;
pub const DELAY: u32 = 7;

/// Distinct sites of one object and kind: a cell type's random calls, or
/// 16 times a population's or projection's variables. The site's low 8
/// bits take the stream word's low byte and its next 5 bits the word's top
/// bits (kinds are below 8, bits 24-26), so sites below 256 keep the words
/// they had when the site had 8 bits.
pub const SITES: u32 = 1 << 13;

pub fn stream(kind: u32, object: usize, site: u32) -> u32 {
    debug_assert!(kind < 8 && site < SITES);
    (kind << 24) | (((object as u32) & 0xffff) << 8) | (site & 0xff) | ((site >> 8) & 0x1f) << 27
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

/// The cumulative probabilities P(X <= k), k = 0, 1, ..., of a part of
/// mean `part` (`first` = e^-part), as every engine computes them, up to
/// where they stop growing (far in the tail, below 2^-53 of it); until
/// then they rise strictly.
fn cumulative(part: f64, first: f64) -> impl Iterator<Item = f64> {
    let mut next = Some((0.0, first, first));
    std::iter::from_fn(move || {
        let (k, p, cdf) = next?;
        let (k, p) = (k + 1.0, p * part / (k + 1.0));
        next = (cdf + p != cdf).then_some((k, p, cdf + p));
        Some(cdf)
    })
}

/// One part's Poisson count for the uniform `u`: the smallest k with
/// P(X <= k) >= u, or one past the last cumulative probability.
fn invert_part(u: f64, part: f64, first: f64) -> f64 {
    cumulative(part, first).take_while(|&c| c < u).count() as f64
}

/// `rand_poisson`'s largest mean per part, and its largest exact mean
/// (64 parts); see [`Rng::poisson`].
pub const POISSON_PART: f64 = 16.0;
pub const POISSON_EXACT_MAX: f64 = 1024.0;

/// e^-x for x in [0, 16] (`rand_poisson`'s parts) from + - * / and floor
/// alone, so that every engine computes the same bits: libm's `exp` and
/// CUDA's can differ in the last one. `cbm_exp_of_minus` in
/// kernels/templates/philox.inc is this, operation for operation. Within 2
/// ulp of e^-x: x = k ln 2 - r with |r| <= ln 2 / 2 (Cody and Waite's split
/// of ln 2, whose high part times k is exact), e^r by its Taylor series to
/// r^13 (the rest is below 2^-57), times 2^k, exact.
pub fn exp_of_minus(x: f64) -> f64 {
    let k = (-x * std::f64::consts::LOG2_E + 0.5).floor();
    let r = (-x - k * LN2_HIGH) - k * LN2_LOW;
    let mut p = 1.0 / 6_227_020_800.0;
    for n in [
        479_001_600.0,
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        p = p * r + 1.0 / n;
    }
    p * (1.0 / (1u32 << (-k) as u32) as f64)
}
const LN2_HIGH: f64 = 0.693_147_180_369_123_8;
const LN2_LOW: f64 = 1.908_214_929_270_587_7e-10;

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
    /// Uniform in [0, 1) from two words, with all 53 bits of a double (for
    /// `rand_poisson`'s inversion, whose far tail 24 bits would cut off).
    #[inline]
    pub fn uniform53(w0: u32, w1: u32) -> f64 {
        ((w0 >> 5) as f64 * 67_108_864.0 + (w1 >> 6) as f64) * (1.0 / 9_007_199_254_740_992.0)
    }
    /// `rand_poisson(mean)` of cell `index` at `step`, at call site stream
    /// `stream`: a Poisson count, as a double. The generated code's
    /// `cbm_poisson` (kernels/templates/philox.inc) is this, operation for
    /// operation.
    ///
    /// Up to [`POISSON_EXACT_MAX`] the count is exact: the mean is split into
    /// `ceil(mean / 16)` equal parts (at least one), and each part's count
    /// is drawn by inversion (the smallest k whose cumulative probability
    /// reaches a 53-bit uniform), so every part needs one uniform, half a
    /// Philox block. Part j uses words (0, 1) or (2, 3), by j's parity, of
    /// the block whose counter's third word is `step >> 32 | (j / 2) << 16`:
    /// part 0 has `rand()`'s counter, and blocks cannot meet another step's
    /// while steps stay below 2^48 (the checker allows 2^31). The only
    /// value that is not exact arithmetic is exp(-part), once per call, and
    /// [`exp_of_minus`] computes it from + - * / alone, so every engine gets
    /// the same bits up to the limit. Above the limit, the count is the
    /// normal approximation `floor(mean + sqrt(mean) z + 1/2)` (its missing
    /// skewness, 1/sqrt(mean), is at most 3.2%) from part 0's words, so a
    /// call costs at most 64 parts. A mean that is zero, negative (as a varying
    /// rate that dips below zero) gives 0; NaN and infinity come back as
    /// they are, for the run's finiteness check to stop on.
    pub fn poisson(&self, stream: u32, index: u32, step: u64, mean: f64) -> f64 {
        if mean.is_nan() || mean == f64::INFINITY {
            return mean;
        }
        if mean <= 0.0 {
            return 0.0;
        }
        if let Some((parts, part, first)) = Self::poisson_split(mean) {
            return self.poisson_parts(stream, index, step, parts, part, first);
        }
        let w = self.words(stream, index, step as u32, (step >> 32) as u32);
        let k = (mean + mean.sqrt() * Self::normal(w[0], w[1]) + 0.5).floor();
        if k > 0.0 {
            k
        } else {
            0.0
        }
    }
    /// A mean in the exact range, (0, [`POISSON_EXACT_MAX`]], as
    /// `rand_poisson` splits it: the number of parts, each part's mean and
    /// e^-part (None for other means). Generated code takes these as
    /// constants where the mean is one.
    pub fn poisson_split(mean: f64) -> Option<(u32, f64, f64)> {
        if !(mean > 0.0 && mean <= POISSON_EXACT_MAX) {
            return None;
        }
        // At least one part: mean / 16 of a mean below 2^-1070 rounds to 0.
        let parts = (mean / POISSON_PART).ceil().max(1.0);
        let part = mean / parts;
        Some((parts as u32, part, exp_of_minus(part)))
    }
    /// The cumulative probabilities a part's inversion loop in
    /// [`Rng::poisson_parts`] goes through, up to where they stop growing:
    /// its count for a uniform u is the number of them below u (they rise
    /// strictly, and the loop stops one past the last). Generated C counts
    /// them without the loop's unpredictable branch.
    pub fn poisson_table(part: f64, first: f64) -> Vec<f64> {
        cumulative(part, first).collect()
    }
    /// The exact count of `parts` parts of mean `part` each (`first` =
    /// e^-part), as [`Rng::poisson`] describes.
    pub fn poisson_parts(
        &self,
        stream: u32,
        index: u32,
        step: u64,
        parts: u32,
        part: f64,
        first: f64,
    ) -> f64 {
        let (lo, hi) = (step as u32, (step >> 32) as u32);
        let mut count = 0.0;
        let mut w = [0u32; 4];
        for j in 0..parts {
            if j % 2 == 0 {
                w = self.words(stream, index, lo, hi | ((j / 2) << 16));
            }
            let u = if j % 2 == 0 {
                Self::uniform53(w[0], w[1])
            } else {
                Self::uniform53(w[2], w[3])
            };
            count += invert_part(u, part, first);
        }
        count
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

    /// Draws of `rand_poisson(mean)` over cells and steps.
    fn poisson_draws(mean: f64, n: u32) -> Vec<f64> {
        let rng = Rng::new(11);
        (0..n)
            .map(|i| rng.poisson(stream(STEP_RNG, 0, 1), i % 1000, (i / 1000) as u64, mean))
            .collect()
    }

    #[test]
    fn poisson_counts_have_the_mean_and_variance_of_a_poisson() {
        // Every regime: one part, several (mean / 16 not whole), the
        // normal approximation above 1024.
        for mean in [0.02, 0.8, 5.0, 16.0, 37.3, 300.0, 1024.0, 5000.0] {
            let n = 200_000;
            let x = poisson_draws(mean, n);
            assert!(x.iter().all(|k| k.fract() == 0.0 && *k >= 0.0));
            let m = x.iter().sum::<f64>() / n as f64;
            let v = x.iter().map(|k| (k - m) * (k - m)).sum::<f64>() / (n - 1) as f64;
            // Five standard errors of the mean; the variance's standard
            // error is about mean * sqrt(2 / n) for larger means.
            let se = (mean / n as f64).sqrt();
            assert!((m - mean).abs() < 5.0 * se, "mean {mean}: sample mean {m}");
            let se_v = (mean * mean * 2.0 / n as f64 + mean / n as f64).sqrt();
            assert!(
                (v - mean).abs() < 6.0 * se_v,
                "mean {mean}: sample variance {v}"
            );
        }
    }

    #[test]
    fn poisson_counts_follow_the_poisson_distribution() {
        // Chi-squared against the exact probabilities, k = 0..kmax with the
        // rest pooled; one mean in one part, one split into three.
        for mean in [3.0, 40.0] {
            let n = 100_000;
            let x = poisson_draws(mean, n);
            let kmax = (mean + 6.0 * f64::sqrt(mean)) as usize;
            let mut seen = vec![0.0; kmax + 2];
            for k in x {
                seen[(k as usize).min(kmax + 1)] += 1.0;
            }
            let mut p = (-mean).exp();
            let mut chi2 = 0.0;
            let mut rest = 1.0;
            let mut bins = 0;
            for (k, o) in seen.iter().enumerate().take(kmax + 1) {
                if k > 0 {
                    p *= mean / k as f64;
                }
                rest -= p;
                let e = p * n as f64;
                if e > 5.0 {
                    chi2 += (o - e) * (o - e) / e;
                    bins += 1;
                }
            }
            let e = rest.max(0.0) * n as f64;
            if e > 5.0 {
                chi2 += (seen[kmax + 1] - e).powi(2) / e;
                bins += 1;
            }
            // Well above the 99.9th percentile for these degrees of freedom.
            let limit = bins as f64 + 6.0 * (2.0 * bins as f64).sqrt();
            assert!(chi2 < limit, "mean {mean}: chi2 {chi2} over {bins} bins");
        }
    }

    #[test]
    fn poisson_of_nothing_is_zero_and_of_nan_is_nan() {
        let rng = Rng::new(3);
        for mean in [0.0, -0.0, -2.5, f64::NEG_INFINITY] {
            assert_eq!(rng.poisson(5, 0, 0, mean), 0.0);
        }
        // Subnormal means, whose mean / 16 rounds to 0, still take one part.
        for mean in [5e-324, 4e-323, 1e-310] {
            assert_eq!(rng.poisson(5, 0, 0, mean), 0.0);
        }
        assert!(rng.poisson(5, 0, 0, f64::NAN).is_nan());
        assert_eq!(rng.poisson(5, 0, 0, f64::INFINITY), f64::INFINITY);
        // Parts beyond the first draw from other counters, not the same one.
        let x: Vec<f64> = (0..4).map(|s| rng.poisson(5, 1, s, 500.0)).collect();
        assert!(x.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn exp_of_minus_is_within_two_ulp_of_libm() {
        for i in 0..=160_000 {
            let x = i as f64 * 1e-4;
            let (ours, libm) = (exp_of_minus(x), (-x).exp());
            let ulp = libm * f64::EPSILON;
            assert!((ours - libm).abs() <= 2.0 * ulp, "e^-{x}: {ours} vs {libm}");
        }
        assert_eq!(exp_of_minus(0.0), 1.0);
        // The high part of ln 2 ends in 21 zero bits, so k times it is exact.
        assert_eq!(LN2_HIGH.to_bits(), 0x3fe6_2e42_fee0_0000);
    }

    #[test]
    fn every_site_has_its_own_stream_word() {
        let mut seen = std::collections::HashSet::new();
        for kind in 1..8 {
            for object in [0, 1, 65535] {
                for site in 0..SITES {
                    assert!(seen.insert(stream(kind, object, site)));
                }
            }
        }
        // Sites below 256 keep the 8-bit layout.
        assert_eq!(stream(STEP_RNG, 3, 255), (6 << 24) | (3 << 8) | 255);
    }

    #[test]
    fn counting_below_the_table_is_the_inversion_loop() {
        let rng = Rng::new(5);
        for mean in [1e-300, 0.1, 0.8, 3.0, 16.0, 40.0, 1000.0] {
            let (n, part, first) = Rng::poisson_split(mean).expect("an exact mean");
            let table = Rng::poisson_table(part, first);
            assert!(table.windows(2).all(|w| w[0] < w[1]));
            for i in 0..20_000u32 {
                let w = rng.words(9, i, 0, 0);
                for u in [Rng::uniform53(w[0], w[1]), 0.0, 1.0 - f64::EPSILON / 2.0] {
                    let below = table.iter().filter(|c| **c < u).count() as f64;
                    assert_eq!(below, invert_part(u, part, first), "mean {mean}, u {u}");
                    // The loop of cbm_poisson_parts (philox.inc), written out.
                    let (mut k, mut p, mut cdf) = (0.0, first, first);
                    while u > cdf {
                        k += 1.0;
                        p = p * part / k;
                        let next = cdf + p;
                        if next == cdf {
                            break;
                        }
                        cdf = next;
                    }
                    assert_eq!(below, k, "mean {mean} ({n} parts), u {u}");
                }
            }
        }
    }
}
