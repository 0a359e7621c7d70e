//! IPv4 octet-range specs such as `198.18.0-1.1-20` or `198.18.0.1,3,5-7`.

use std::fmt;
use std::net::Ipv4Addr;

/// The values one IPv4 octet may take in an octet-range spec.
///
/// Guaranteed non-empty; the ranges are sorted, disjoint and not adjacent, so
/// every value appears exactly once and [`OctetSet::nth`] is strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OctetSet {
    ranges: Vec<(u8, u8)>,
}

impl OctetSet {
    /// The set of all values in the inclusive `ranges`; `None` when `ranges` is
    /// empty or holds a reversed range (`lo > hi`). Overlaps are merged.
    pub fn from_ranges(mut ranges: Vec<(u8, u8)>) -> Option<Self> {
        if ranges.is_empty() || ranges.iter().any(|&(lo, hi)| lo > hi) {
            return None;
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u8, u8)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if u16::from(lo) <= u16::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Some(Self { ranges: merged })
    }

    /// The set holding only `value`.
    pub fn single(value: u8) -> Self {
        Self {
            ranges: vec![(value, value)],
        }
    }

    /// The set of every value, 0-255.
    pub fn full() -> Self {
        Self {
            ranges: vec![(0, 255)],
        }
    }

    /// The normalised ranges: sorted, disjoint, not adjacent.
    pub fn ranges(&self) -> &[(u8, u8)] {
        &self.ranges
    }

    /// Number of values, 1..=256.
    pub fn len(&self) -> u16 {
        self.ranges
            .iter()
            .map(|&(lo, hi)| u16::from(hi) - u16::from(lo) + 1)
            .sum()
    }

    /// Always false: an `OctetSet` is never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `value` is in the set.
    pub fn contains(&self, value: u8) -> bool {
        self.ranges
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&value))
    }

    /// The value of the set alone when it holds exactly one.
    pub fn as_single(&self) -> Option<u8> {
        match self.ranges[..] {
            [(lo, hi)] if lo == hi => Some(lo),
            _ => None,
        }
    }

    /// Whether the set holds every value 0-255.
    pub fn is_full(&self) -> bool {
        self.ranges[..] == [(0, 255)]
    }

    /// The `i`-th smallest value, or `None` when `i >= len()`.
    pub fn nth(&self, mut i: u16) -> Option<u8> {
        for &(lo, hi) in &self.ranges {
            let width = u16::from(hi) - u16::from(lo) + 1;
            if i < width {
                return u8::try_from(u16::from(lo) + i).ok();
            }
            i -= width;
        }
        None
    }
}

impl fmt::Display for OctetSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, &(lo, hi)) in self.ranges.iter().enumerate() {
            let sep = if k == 0 { "" } else { "," };
            if lo == hi {
                write!(f, "{sep}{lo}")?;
            } else {
                write!(f, "{sep}{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// An IPv4 octet-range spec: the product of four [`OctetSet`]s.
///
/// Addresses are ordered as integers, the first octet most significant, so
/// [`V4Octets::nth`] is strictly increasing in its index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct V4Octets {
    octets: [OctetSet; 4],
}

impl V4Octets {
    /// The spec whose addresses take their four octets from `octets`.
    pub fn new(octets: [OctetSet; 4]) -> Self {
        Self { octets }
    }

    /// The four octet sets, most significant first.
    pub fn octets(&self) -> &[OctetSet; 4] {
        &self.octets
    }

    /// Number of addresses, 1..=2^32.
    pub fn len(&self) -> u64 {
        self.octets.iter().map(|o| u64::from(o.len())).product()
    }

    /// Always false: every octet set holds at least one value.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `i`-th address in ascending order, or `None` when `i >= len()`.
    /// Costs O(number of ranges) and allocates nothing.
    pub fn nth(&self, mut i: u64) -> Option<Ipv4Addr> {
        if i >= self.len() {
            return None;
        }
        let mut out = [0u8; 4];
        for (slot, set) in out.iter_mut().zip(&self.octets).rev() {
            let width = u64::from(set.len());
            *slot = set.nth(u16::try_from(i % width).ok()?)?;
            i /= width;
        }
        Some(Ipv4Addr::from(out))
    }

    /// Whether `addr` matches all four octet sets.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.octets
            .iter()
            .zip(addr.octets())
            .all(|(set, value)| set.contains(value))
    }

    /// The equivalent CIDR block `(network, prefix)` when the spec is one:
    /// leading octets single values, trailing octets full.
    pub fn as_cidr(&self) -> Option<(Ipv4Addr, u8)> {
        let singles = self.octets.iter().take_while(|o| o.as_single().is_some());
        let fixed = singles.count();
        if !self.octets[fixed..].iter().all(OctetSet::is_full) {
            return None;
        }
        let prefix = u8::try_from(fixed * 8).ok()?;
        Some((self.nth(0)?, prefix))
    }
}

impl fmt::Display for V4Octets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = &self.octets;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u8, u8)]) -> OctetSet {
        OctetSet::from_ranges(ranges.to_vec()).unwrap()
    }

    #[test]
    fn octet_sets_merge_overlapping_and_adjacent_ranges() {
        let s = set(&[
            (5, 7),
            (1, 1),
            (3, 3),
            (6, 10),
            (2, 2),
            (255, 255),
            (254, 254),
        ]);
        assert_eq!(s.ranges(), &[(1, 3), (5, 10), (254, 255)]);
        assert_eq!(s.len(), 11);
        assert_eq!(s.to_string(), "1-3,5-10,254-255");
    }

    #[test]
    fn octet_sets_reject_empty_and_reversed() {
        assert!(OctetSet::from_ranges(vec![]).is_none());
        assert!(OctetSet::from_ranges(vec![(9, 3)]).is_none());
    }

    #[test]
    fn octet_nth_walks_ranges_in_order() {
        let s = set(&[(1, 3), (7, 8)]);
        let got: Vec<_> = (0..6).map(|i| s.nth(i)).collect();
        assert_eq!(got, [Some(1), Some(2), Some(3), Some(7), Some(8), None]);
    }

    #[test]
    fn v4_octets_index_like_a_mixed_radix_number() {
        let spec = V4Octets::new([
            OctetSet::single(198),
            set(&[(18, 19)]),
            OctetSet::single(0),
            set(&[(1, 2), (9, 9)]),
        ]);
        assert_eq!(spec.len(), 6);
        let all: Vec<String> = (0..6).map(|i| spec.nth(i).unwrap().to_string()).collect();
        assert_eq!(
            all,
            [
                "198.18.0.1",
                "198.18.0.2",
                "198.18.0.9",
                "198.19.0.1",
                "198.19.0.2",
                "198.19.0.9"
            ]
        );
        assert_eq!(spec.nth(6), None);
        assert!(!spec.contains(Ipv4Addr::new(198, 18, 0, 3)));
    }

    #[test]
    fn aligned_octet_specs_are_recognised_as_cidr() {
        let spec = V4Octets::new([
            OctetSet::single(198),
            OctetSet::single(18),
            OctetSet::full(),
            OctetSet::full(),
        ]);
        assert_eq!(spec.as_cidr(), Some((Ipv4Addr::new(198, 18, 0, 0), 16)));
        let ragged = V4Octets::new([
            OctetSet::single(198),
            OctetSet::full(),
            OctetSet::single(18),
            OctetSet::full(),
        ]);
        assert_eq!(ragged.as_cidr(), None);
    }
}
