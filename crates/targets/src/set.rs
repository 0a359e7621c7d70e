//! The set of addresses to scan: include specs minus exclusions, visited in a
//! keyed pseudo-random order without materialising the addresses.
//!
//! The include specs are laid end to end as one index space
//! `[0, upper_bound)`. Iteration passes each index through a [`Permutation`],
//! finds the spec holding it by binary search over prefix sums, and skips the
//! address when an earlier include also holds it (so each address is visited
//! once, for the first spec that names it) or when an exclusion holds it.
//! Memory is proportional to the number of specs, never to the number of
//! addresses.

use crate::coverage::Coverage;
use crate::permute::Permutation;
use crate::resume::ResumePoint;
use crate::shard::Shard;
use crate::spec::{ConcreteSpec, HostName, TargetError};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

/// One include spec, with the host name the user typed when it came from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub spec: ConcreteSpec,
    /// The name as typed, reported in output as the `user` host name.
    pub hostname: Option<String>,
}

impl Include {
    /// An include the user wrote as an address, block or range.
    pub fn spec(spec: ConcreteSpec) -> Self {
        Self {
            spec,
            hostname: None,
        }
    }

    /// The include for `host` once it resolved to `addr`: the block of the
    /// host's `/prefix` around `addr`, labelled with the name as typed.
    pub fn resolved(host: &HostName, addr: IpAddr) -> Result<Self, TargetError> {
        Ok(Self {
            spec: host.to_spec(addr)?,
            hostname: Some(host.name().to_owned()),
        })
    }
}

/// One address to scan.
///
/// The host name is shared (`Arc`), so iterating a named `/8` allocates
/// nothing per address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub addr: IpAddr,
    /// The name the user typed for this address, if it came from a host name.
    pub hostname: Option<Arc<str>>,
}

#[derive(Debug, Clone)]
struct Entry {
    spec: ConcreteSpec,
    hostname: Option<Arc<str>>,
}

/// Include specs minus exclusions. Cheap to build: O(s log s) for s specs.
#[derive(Debug, Clone)]
pub struct TargetSet {
    includes: Vec<Entry>,
    /// `ends[j]` is the index one past the last address of include `j`.
    ends: Vec<u64>,
    include_cover: Coverage,
    exclude_cover: Coverage,
    has_v4: bool,
    has_v6: bool,
}

impl TargetSet {
    /// Combine include and exclude specs. Fails only when the includes hold
    /// more than `u64::MAX` addresses in total.
    pub fn new(includes: Vec<Include>, excludes: Vec<ConcreteSpec>) -> Result<Self, TargetError> {
        let ends = prefix_sums(includes.iter().map(|i| i.spec.len()))?;
        let include_cover = Coverage::new(includes.iter().map(|i| &i.spec));
        let entries: Vec<Entry> = includes.into_iter().map(Entry::from).collect();
        Ok(Self {
            has_v4: entries.iter().any(|e| e.spec.is_v4()),
            has_v6: entries.iter().any(|e| !e.spec.is_v4()),
            includes: entries,
            ends,
            include_cover,
            exclude_cover: Coverage::new(&excludes),
        })
    }

    /// Number of addresses before deduplication and exclusion: the sum of the
    /// include specs' sizes. Iteration visits at most this many targets.
    pub fn upper_bound(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Whether any include holds IPv4 addresses, and whether any holds IPv6
    /// addresses (before exclusions).
    pub fn families(&self) -> (bool, bool) {
        (self.has_v4, self.has_v6)
    }

    /// Every target exactly once, in the order selected by `seed`.
    ///
    /// Guaranteed: the visited set does not depend on the seed; the order is
    /// the same for the same seed and specs; nothing is allocated per address.
    pub fn iter(&self, seed: u64) -> TargetIter<'_> {
        TargetIter {
            set: self,
            cursor: Cursor::new(self, seed),
        }
    }

    /// Like [`TargetSet::iter`], but owning the set, so the iterator can be
    /// moved to another thread or boxed as `dyn Iterator + Send + 'static`.
    /// Visits the same targets in the same order as `iter(seed)`.
    pub fn into_iter_seeded(self, seed: u64) -> IntoTargets {
        IntoTargets {
            cursor: Cursor::new(&self, seed),
            set: self,
        }
    }

    /// The exact number of targets after deduplication and exclusion, counted
    /// by walking the index space, when `upper_bound() <= limit`; else `None`.
    pub fn exact_count(&self, limit: u64) -> Option<u64> {
        self.exact_count_in(None, limit)
    }

    /// Like [`TargetSet::exact_count`], counting only the targets of `shard`
    /// (all targets when `None`).
    pub fn exact_count_in(&self, shard: Option<Shard>, limit: u64) -> Option<u64> {
        let total = self.upper_bound();
        let held = |g| {
            self.address_at(g)
                .is_some_and(|(_, a)| shard.is_none_or(|s| s.holds(a)))
        };
        (total <= limit).then(|| (0..total).filter(|&g| held(g)).count() as u64)
    }

    /// The address at global index `g` and its include position, unless it
    /// is a duplicate of an earlier include or excluded.
    fn address_at(&self, g: u64) -> Option<(usize, IpAddr)> {
        let j = self.ends.partition_point(|&end| end <= g);
        let start = j.checked_sub(1).map_or(0, |k| self.ends[k]);
        let addr = self.includes.get(j)?.spec.nth(g - start)?;
        let skip = self.include_cover.covered_before(addr, j) || self.exclude_cover.covers(addr);
        (!skip).then_some((j, addr))
    }

    fn target_at(&self, g: u64) -> Option<Target> {
        let (j, addr) = self.address_at(g)?;
        let hostname = self.includes[j].hostname.clone();
        Some(Target { addr, hostname })
    }
}

impl From<Include> for Entry {
    fn from(include: Include) -> Self {
        Self {
            spec: include.spec,
            hostname: include.hostname.map(Arc::from),
        }
    }
}

/// Running totals of `lens`: the exclusive end index of each include.
fn prefix_sums(lens: impl Iterator<Item = u64>) -> Result<Vec<u64>, TargetError> {
    let mut total = 0u64;
    lens.map(|len| {
        total = total
            .checked_add(len)
            .ok_or(TargetError::TooManyAddresses)?;
        Ok(total)
    })
    .collect()
}

/// A position in the permuted index space of a set, with the shard kept and
/// the positions to revisit first when resuming.
#[derive(Debug, Clone)]
struct Cursor {
    perm: Permutation,
    next: u64,
    shard: Option<Shard>,
    revisit: VecDeque<u64>,
}

impl Cursor {
    fn new(set: &TargetSet, seed: u64) -> Self {
        Self {
            perm: Permutation::new(set.upper_bound(), seed),
            next: 0,
            shard: None,
            revisit: VecDeque::new(),
        }
    }

    /// The next target and its position: revisited positions first, then
    /// onwards from the cursor.
    fn advance(&mut self, set: &TargetSet) -> Option<(u64, Target)> {
        while let Some(pos) = self.revisit.pop_front() {
            if let Some(target) = self.at(set, pos) {
                return Some((pos, target));
            }
        }
        while self.next < self.perm.len() {
            let pos = self.next;
            self.next += 1;
            if let Some(target) = self.at(set, pos) {
                return Some((pos, target));
            }
        }
        None
    }

    /// The target at position `pos`, if it is one of this cursor's.
    fn at(&self, set: &TargetSet, pos: u64) -> Option<Target> {
        let target = set.target_at(self.perm.nth(pos)?)?;
        self.shard
            .is_none_or(|s| s.holds(target.addr))
            .then_some(target)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.perm.len() - self.next).saturating_add(self.revisit.len() as u64);
        (0, usize::try_from(left).ok())
    }
}

/// Iterator over a borrowed [`TargetSet`] in seeded order; see
/// [`TargetSet::iter`].
#[derive(Debug, Clone)]
pub struct TargetIter<'a> {
    set: &'a TargetSet,
    cursor: Cursor,
}

impl TargetIter<'_> {
    /// How many positions of the permuted index space have been consumed
    /// (visited or skipped), out of [`TargetSet::upper_bound`].
    pub fn position(&self) -> u64 {
        self.cursor.next
    }
}

impl Iterator for TargetIter<'_> {
    type Item = Target;

    fn next(&mut self) -> Option<Target> {
        self.cursor.advance(self.set).map(|(_, t)| t)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.cursor.size_hint()
    }
}

/// Iterator owning its [`TargetSet`]; see [`TargetSet::into_iter_seeded`].
#[derive(Debug, Clone)]
pub struct IntoTargets {
    set: TargetSet,
    cursor: Cursor,
}

impl IntoTargets {
    /// How many positions of the permuted index space have been consumed.
    pub fn position(&self) -> u64 {
        self.cursor.next
    }

    /// Keeps only the targets of `shard` (see [`Shard`]); positions stay
    /// those of the unsharded order.
    pub fn sharded(mut self, shard: Shard) -> Self {
        self.cursor.shard = Some(shard);
        self
    }

    /// Continues a scan interrupted at `point`: first the unfinished targets
    /// (in position order), then every position from `point.next` on.
    /// Positions past the end and duplicates are ignored.
    pub fn resume(mut self, point: &ResumePoint) -> Self {
        let mut revisit: Vec<u64> = point.unfinished.iter().map(|(pos, _)| *pos).collect();
        revisit.sort_unstable();
        revisit.dedup();
        self.cursor.revisit = revisit.into();
        self.cursor.next = point.next.min(self.cursor.perm.len());
        self
    }

    /// The next target with its position in the seeded order.
    pub fn next_positioned(&mut self) -> Option<(u64, Target)> {
        self.cursor.advance(&self.set)
    }

    /// The target at `position` of this order (and shard), if there is one.
    pub fn target_at_position(&self, position: u64) -> Option<Target> {
        self.cursor.at(&self.set, position)
    }
}

impl Iterator for IntoTargets {
    type Item = Target;

    fn next(&mut self) -> Option<Target> {
        self.cursor.advance(&self.set).map(|(_, t)| t)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.cursor.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{parse_target, TargetSpec};
    use std::collections::BTreeSet;

    fn spec(token: &str) -> ConcreteSpec {
        match parse_target(token).unwrap() {
            TargetSpec::Concrete(c) => c,
            TargetSpec::Hostname(h) => panic!("{h} is a host name"),
        }
    }

    fn set(includes: &[&str], excludes: &[&str]) -> TargetSet {
        let inc = includes.iter().map(|t| Include::spec(spec(t))).collect();
        TargetSet::new(inc, excludes.iter().map(|t| spec(t)).collect()).unwrap()
    }

    fn visited(set: &TargetSet, seed: u64) -> Vec<IpAddr> {
        set.iter(seed).map(|t| t.addr).collect()
    }

    #[test]
    fn overlapping_specs_are_counted_once() {
        let s = set(&["198.18.0.0/24", "198.18.0.5", "198.18.0-255.5"], &[]);
        assert_eq!(s.upper_bound(), 256 + 1 + 256);
        assert_eq!(s.exact_count(1000), Some(256 + 255));
        let addrs = visited(&s, 1);
        let unique: BTreeSet<_> = addrs.iter().collect();
        assert_eq!(unique.len(), addrs.len());
        assert_eq!(addrs.len(), 511);
    }

    #[test]
    fn exclusions_remove_addresses() {
        let s = set(
            &["198.18.0.0/24", "2001:db8::/126"],
            &["198.18.0.128/25", "198.18.0.0-9", "2001:db8::2"],
        );
        let addrs: BTreeSet<_> = visited(&s, 9).into_iter().collect();
        assert_eq!(addrs.len(), 128 - 10 + 3);
        assert!(!addrs.contains(&"198.18.0.200".parse().unwrap()));
        assert!(!addrs.contains(&"2001:db8::2".parse().unwrap()));
        assert!(addrs.contains(&"198.18.0.10".parse().unwrap()));
        assert_eq!(s.families(), (true, true));
    }

    #[test]
    fn seed_changes_order_but_not_membership() {
        let s = set(
            &["198.18.0.0/23", "198.18.1.7", "198.18.4.1-3"],
            &["198.18.0.0/28"],
        );
        let (a, b) = (visited(&s, 1), visited(&s, 2));
        assert_ne!(a, b);
        assert_eq!(a, visited(&s, 1));
        let (sa, sb): (BTreeSet<_>, BTreeSet<_>) = (a.iter().collect(), b.iter().collect());
        assert_eq!(sa, sb);
        assert_eq!(sa.len(), a.len());
        assert_eq!(s.exact_count(u64::MAX), Some(a.len() as u64));
    }

    #[test]
    fn huge_specs_iterate_lazily() {
        let s = set(&["2001:db8::/96", "198.18.0.0/15", "127.0.0.0/8"], &[]);
        assert_eq!(s.upper_bound(), (1 << 32) + (1 << 17) + (1 << 24));
        assert_eq!(s.exact_count(1 << 20), None);
        let first: Vec<_> = s.iter(5).take(10).collect();
        assert_eq!(first.len(), 10);
        assert!(first.iter().all(|t| t.hostname.is_none()));
    }

    #[test]
    fn resolved_host_names_label_their_addresses() {
        let TargetSpec::Hostname(host) = parse_target("www.example/30").unwrap() else {
            panic!("expected a host name");
        };
        let named = Include::resolved(&host, "198.18.0.9".parse().unwrap()).unwrap();
        let s = TargetSet::new(vec![named, Include::spec(spec("198.18.0.10"))], vec![]).unwrap();
        let targets: Vec<_> = s.iter(3).collect();
        assert_eq!(targets.len(), 4);
        assert!(targets
            .iter()
            .all(|t| t.hostname.as_deref() == Some("www.example")));
    }

    #[test]
    fn owning_iterator_matches_borrowing_one() {
        let s = set(&["198.18.0.0/26", "198.18.0.7-70"], &["198.18.0.9"]);
        let owned: Box<dyn Iterator<Item = Target> + Send> =
            Box::new(s.clone().into_iter_seeded(4));
        assert!(owned.eq(s.iter(4)));
    }

    fn shard_hosts(s: &TargetSet, seed: u64, shard: Shard) -> Vec<IpAddr> {
        let iter = s.clone().into_iter_seeded(seed).sharded(shard);
        iter.map(|t| t.addr).collect()
    }

    #[test]
    fn shards_are_disjoint_cover_everything_and_are_balanced() {
        let s = set(&["198.18.0.0/20"], &["198.18.3.0/26"]);
        let all: BTreeSet<IpAddr> = visited(&s, 1).into_iter().collect();
        assert_eq!(all.len(), 4096 - 64);
        let mut union = BTreeSet::new();
        for i in 1..=3 {
            let shard = Shard::new(i, 3).unwrap();
            let hosts = shard_hosts(&s, 100 + u64::from(i), shard);
            let count = hosts.len();
            // 4032 / 3 = 1344; the binomial spread is about 30.
            assert!(
                (1200..=1490).contains(&count),
                "shard {shard}: {count} hosts"
            );
            assert_eq!(s.exact_count_in(Some(shard), 1 << 20), Some(count as u64));
            for h in hosts {
                assert!(union.insert(h), "{h} is in two shards");
            }
        }
        assert_eq!(union, all);
    }

    #[test]
    fn shard_membership_does_not_depend_on_seed_or_spelling() {
        let a = set(&["198.18.0.0/24"], &[]);
        let b = set(&["198.18.0.128-255", "198.18.0.0-127"], &[]);
        let shard = Shard::new(2, 5).unwrap();
        let one: BTreeSet<IpAddr> = shard_hosts(&a, 1, shard).into_iter().collect();
        let two: BTreeSet<IpAddr> = shard_hosts(&b, 2, shard).into_iter().collect();
        assert_eq!(one, two);
        assert!(!one.is_empty());
    }

    #[test]
    fn positions_replay_the_seeded_order() {
        let s = set(&["198.18.0.0/26", "198.18.0.7-70"], &["198.18.0.9"]);
        let mut it = s.clone().into_iter_seeded(4);
        let mut seen = Vec::new();
        while let Some((pos, t)) = it.next_positioned() {
            assert_eq!(it.target_at_position(pos), Some(t.clone()));
            seen.push(t);
        }
        assert!(seen.into_iter().eq(s.iter(4)));
        assert_eq!(it.position(), s.upper_bound());
        assert_eq!(it.target_at_position(s.upper_bound()), None);
    }

    #[test]
    fn empty_sets_yield_nothing() {
        let s = TargetSet::new(vec![], vec![]).unwrap();
        assert_eq!(s.iter(0).count(), 0);
        assert_eq!(s.exact_count(0), Some(0));
        assert_eq!(s.families(), (false, false));
    }

    #[test]
    fn index_space_overflow_is_an_error() {
        assert_eq!(prefix_sums([3, 4].into_iter()), Ok(vec![3, 7]));
        let err = prefix_sums([u64::MAX, 1].into_iter()).unwrap_err();
        assert_eq!(err, TargetError::TooManyAddresses);
    }
}
