//! A keyed bijective shuffle of `[0, n)`, so that target and port order is
//! pseudo-random yet reproducible from one integer seed, with no state beyond
//! the index (`--seed`, sharding and `--resume` stay integers).
//!
//! Construction: a balanced Feistel network over the smallest power-of-two
//! domain of even bit width that holds `n` (so the domain is less than `4n`),
//! with SipHash-1-3 keyed from the seed as the round function, and
//! cycle-walking: outputs outside `[0, n)` are encrypted again until they
//! land inside. A Feistel network is a bijection on its domain whatever the
//! round function, and cycle-walking restricts a bijection to a subset, so the
//! result is a bijection on `[0, n)`.

use siphasher::sip::SipHasher13;

/// Feistel rounds; four make a pseudo-random permutation in theory, six leave
/// a margin against the small-domain case.
const ROUNDS: u8 = 6;

/// Separates the second SipHash key word from the first.
const KEY_TWEAK: u64 = 0x706f_7274_6f6c_616e;

/// A keyed bijection on `[0, n)`.
///
/// Guaranteed: for a given `(n, seed)` the mapping is the same on every
/// platform and every run; [`Permutation::nth`] maps `[0, n)` onto itself
/// one-to-one. Changing the construction would change every user's `--seed`
/// order, so it is part of the crate's contract.
#[derive(Debug, Clone, Copy)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    key: SipHasher13,
}

impl Permutation {
    /// The permutation of `[0, n)` selected by `seed`. `n` may be anything,
    /// including 0 (an empty permutation) and `u64::MAX`.
    pub fn new(n: u64, seed: u64) -> Self {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        Self {
            n,
            half_bits: bits.div_ceil(2).max(1),
            key: SipHasher13::new_with_keys(seed, seed.rotate_left(32) ^ KEY_TWEAK),
        }
    }

    /// The size `n` of the permuted range.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether the range is empty (`n == 0`).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The image of `i`, in `[0, n)`; `None` when `i >= n`.
    ///
    /// Expected cost: fewer than four Feistel evaluations (six SipHash calls
    /// each), since the domain is less than `4n`.
    pub fn nth(&self, i: u64) -> Option<u64> {
        if i >= self.n {
            return None;
        }
        let mut x = self.encrypt(i);
        while x >= self.n {
            x = self.encrypt(x);
        }
        Some(x)
    }

    /// The images of `0, 1, .., n-1` in that order: every value of `[0, n)`
    /// exactly once.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.n).filter_map(|i| self.nth(i))
    }

    fn encrypt(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for round in 0..ROUNDS {
            let mixed = left ^ (self.round(round, right) & mask);
            left = right;
            right = mixed;
        }
        (left << self.half_bits) | right
    }

    fn round(&self, round: u8, half: u64) -> u64 {
        let mut input = [0u8; 16];
        input[0] = round;
        input[1] = self.half_bits.to_le_bytes()[0];
        input[8..].copy_from_slice(&half.to_le_bytes());
        self.key.hash(&input)
    }
}

/// Reorder `ports` by the permutation for `seed`: position `i` receives the
/// element that was at `Permutation::new(len, seed).nth(i)`. The same seed
/// and input always give the same order.
pub fn shuffle_ports(ports: &mut [u16], seed: u64) {
    let original = ports.to_vec();
    let perm = Permutation::new(original.len() as u64, seed);
    for (slot, j) in ports.iter_mut().zip(perm.iter()) {
        *slot = original[j as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(n: u64, seed: u64) -> Vec<u64> {
        Permutation::new(n, seed).iter().collect()
    }

    #[test]
    fn bijective_for_many_sizes() {
        for n in [1, 2, 3, 4, 5, 255, 256, 257, 1000, 65535, 65536] {
            for seed in [0, 1, 0xdead_beef] {
                let mut out = image(n, seed);
                assert_eq!(out.len() as u64, n);
                out.sort_unstable();
                assert!(out.iter().copied().eq(0..n), "n={n} seed={seed}");
            }
        }
    }

    #[test]
    fn seeds_select_orders() {
        assert_eq!(image(1000, 7), image(1000, 7));
        assert_ne!(image(1000, 7), image(1000, 8));
        assert_ne!(image(1000, 7), (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn order_is_pinned() {
        // The order is part of the contract (`--seed` must mean the same
        // thing in every release): a change here is a breaking change.
        assert_eq!(image(10, 42), PINNED_10_42);
    }

    const PINNED_10_42: [u64; 10] = [3, 9, 6, 5, 8, 2, 1, 0, 7, 4];

    #[test]
    fn out_of_range_and_empty() {
        assert_eq!(Permutation::new(10, 1).nth(10), None);
        let empty = Permutation::new(0, 1);
        assert!(empty.is_empty());
        assert_eq!(empty.nth(0), None);
        assert_eq!(empty.iter().count(), 0);
    }

    #[test]
    fn huge_domains_stay_in_range() {
        for n in [u64::MAX, (1 << 62) + 1, 1 << 32, (1 << 32) + 1] {
            let perm = Permutation::new(n, 3);
            for i in [0, 1, n / 2, n - 1] {
                assert!(perm.nth(i).is_some_and(|x| x < n), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn shuffled_ports_keep_their_elements() {
        let mut ports: Vec<u16> = (1..=100).collect();
        shuffle_ports(&mut ports, 5);
        let mut again: Vec<u16> = (1..=100).collect();
        shuffle_ports(&mut again, 5);
        assert_eq!(ports, again);
        assert_ne!(ports, (1..=100).collect::<Vec<_>>());
        ports.sort_unstable();
        assert_eq!(ports, (1..=100).collect::<Vec<_>>());
    }
}
