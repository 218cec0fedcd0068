//! A small seeded generator (splitmix64): the same seed gives the same
//! cases on every machine, with no dependency. Shared by `flux-dev
//! fuzz-diff` and the tests that generate their cases.

/// Seeded pseudo-random numbers.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as usize) as i64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A generator for sub-case `i` (its cases do not depend on how many
    /// numbers earlier cases drew).
    pub fn fork(seed: u64, i: usize) -> Self {
        let mut r = Rng::new(seed);
        for _ in 0..(i % 7) {
            r.next_u64();
        }
        Rng::new(r.next_u64() ^ (i as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }
}
