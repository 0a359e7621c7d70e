//! Which spec of a list first covers an address, in O(log n) for CIDR specs.
//!
//! Used for deduplication (an address belongs to the first include spec that
//! holds it) and for exclusions, so that `-iL` files and exclude files with
//! many thousands of entries do not make every address cost a linear scan.
//! Octet-range specs are not intervals and are checked one by one.

use crate::spec::{ConcreteSpec, V4Octets};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Disjoint, sorted segments of the integer line, each labelled with the
/// smallest index of the intervals covering it.
#[derive(Debug, Clone, Default)]
struct IntervalIndex {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    start: u128,
    end: u128,
    owner: usize,
}

impl IntervalIndex {
    /// Build from inclusive `(start, end, owner)` intervals by a sweep over
    /// their end points; O(n log n), and at most 2n segments.
    fn build(intervals: &[(u128, u128, usize)]) -> Self {
        let mut events: Vec<(u128, bool, usize)> = Vec::with_capacity(intervals.len() * 2);
        for &(start, end, owner) in intervals {
            events.push((start, true, owner));
            if let Some(after) = end.checked_add(1) {
                events.push((after, false, owner));
            }
        }
        events.sort_unstable();
        let mut index = Self::default();
        let mut active: BTreeMap<usize, usize> = BTreeMap::new();
        let mut prev = 0u128;
        for group in events.chunk_by(|a, b| a.0 == b.0) {
            let at = group[0].0;
            if let Some((&owner, _)) = active.first_key_value() {
                index.push(prev, at - 1, owner);
            }
            group
                .iter()
                .for_each(|&(_, open, owner)| toggle(&mut active, open, owner));
            prev = at;
        }
        if let Some((&owner, _)) = active.first_key_value() {
            index.push(prev, u128::MAX, owner);
        }
        index
    }

    fn push(&mut self, start: u128, end: u128, owner: usize) {
        match self.segments.last_mut() {
            Some(last) if last.owner == owner && last.end.checked_add(1) == Some(start) => {
                last.end = end;
            }
            _ => self.segments.push(Segment { start, end, owner }),
        }
    }

    fn owner(&self, point: u128) -> Option<usize> {
        let after = self.segments.partition_point(|s| s.start <= point);
        let seg = self.segments.get(after.checked_sub(1)?)?;
        (point <= seg.end).then_some(seg.owner)
    }
}

fn toggle(active: &mut BTreeMap<usize, usize>, open: bool, owner: usize) {
    let count = active.entry(owner).or_default();
    if open {
        *count += 1;
        return;
    }
    *count -= 1;
    if *count == 0 {
        active.remove(&owner);
    }
}

/// An index over a list of specs answering "does any spec before position
/// `limit` contain this address?".
#[derive(Debug, Clone, Default)]
pub(crate) struct Coverage {
    v4: IntervalIndex,
    v6: IntervalIndex,
    /// Octet-range specs with their positions, in ascending position.
    octets: Vec<(usize, V4Octets)>,
}

impl Coverage {
    pub(crate) fn new<'a>(specs: impl IntoIterator<Item = &'a ConcreteSpec>) -> Self {
        let (mut v4, mut v6, mut octets) = (Vec::new(), Vec::new(), Vec::new());
        for (pos, spec) in specs.into_iter().enumerate() {
            match spec {
                ConcreteSpec::V4Cidr(c) => v4.push((c.bounds().0, c.bounds().1, pos)),
                ConcreteSpec::V6Cidr(c) => v6.push((c.bounds().0, c.bounds().1, pos)),
                ConcreteSpec::V4Octets(o) => octets.push((pos, o.clone())),
            }
        }
        Self {
            v4: IntervalIndex::build(&v4),
            v6: IntervalIndex::build(&v6),
            octets,
        }
    }

    /// Whether a spec at a position below `limit` contains `addr`.
    pub(crate) fn covered_before(&self, addr: IpAddr, limit: usize) -> bool {
        let by_interval = match addr {
            IpAddr::V4(a) => self.v4.owner(u128::from(u32::from(a))),
            IpAddr::V6(a) => self.v6.owner(u128::from(a)),
        };
        if by_interval.is_some_and(|owner| owner < limit) {
            return true;
        }
        let IpAddr::V4(a) = addr else { return false };
        self.octets
            .iter()
            .take_while(|(pos, _)| *pos < limit)
            .any(|(_, o)| o.contains(a))
    }

    /// Whether any spec contains `addr`.
    pub(crate) fn covers(&self, addr: IpAddr) -> bool {
        self.covered_before(addr, usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_carry_the_smallest_covering_owner() {
        let index = IntervalIndex::build(&[(10, 20, 2), (15, 30, 1), (18, 18, 0), (40, 40, 3)]);
        let owners: Vec<_> = [9, 10, 14, 15, 17, 18, 19, 30, 31, 40, 41]
            .iter()
            .map(|&p| index.owner(p))
            .collect();
        let expected = [
            None,
            Some(2),
            Some(2),
            Some(1),
            Some(1),
            Some(0),
            Some(1),
            Some(1),
            None,
            Some(3),
            None,
        ];
        assert_eq!(owners, expected);
    }

    #[test]
    fn duplicate_and_top_of_range_intervals() {
        let index = IntervalIndex::build(&[(5, u128::MAX, 4), (5, u128::MAX, 4), (7, 8, 1)]);
        assert_eq!(index.owner(u128::MAX), Some(4));
        assert_eq!(index.owner(8), Some(1));
        assert_eq!(index.owner(9), Some(4));
        assert_eq!(index.owner(4), None);
        assert_eq!(index.segments.len(), 3);
    }

    #[test]
    fn matches_a_linear_scan() {
        let specs: Vec<ConcreteSpec> = [
            "198.18.0.0/24",
            "198.18.0.5",
            "198.18.0-1.5",
            "198.18.0.0/25",
            "2001:db8::/120",
        ]
        .iter()
        .map(|t| match crate::spec::parse_target(t).unwrap() {
            crate::spec::TargetSpec::Concrete(c) => c,
            crate::spec::TargetSpec::Hostname(_) => unreachable!(),
        })
        .collect();
        let cov = Coverage::new(&specs);
        for spec in &specs {
            for addr in spec.addrs() {
                for limit in 0..=specs.len() {
                    let linear = specs[..limit].iter().any(|s| s.contains(addr));
                    assert_eq!(
                        cov.covered_before(addr, limit),
                        linear,
                        "{addr} before {limit}"
                    );
                }
            }
        }
    }
}
