//! Where an interrupted scan stopped, in memory bounded by the hosts in
//! progress, never by the number of targets.
//!
//! Targets are visited in the order of a keyed permutation of the index space
//! ([`crate::TargetSet::into_iter_seeded`]); each target has a *position*
//! there. The scan pulls targets in position order, but finishes them in any
//! order. Every position below the iterator's cursor was either skipped (a
//! duplicate, an exclusion, another shard) or issued to the scan, and an
//! issued host is finished unless it is still in progress. So the cursor plus
//! the hosts still in progress say exactly which hosts are finished: every
//! target below the cursor except the unfinished ones. The unfinished hosts
//! are at most the scan's host group (plus what a prefetcher pulled ahead),
//! however far the cursor has run past the oldest of them.

use crate::set::{IntoTargets, Target};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// A resume point: every target at a position below `next` is finished,
/// except those listed in `unfinished` (position, address), which the resumed
/// scan visits first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumePoint {
    pub next: u64,
    pub unfinished: Vec<(u64, IpAddr)>,
}

/// Keeps the resume point of a running scan up to date: the target iterator
/// reports what it issues ([`Tracked`]), the output reports what it wrote.
#[derive(Debug, Clone, Default)]
pub struct ResumeIndex {
    next: u64,
    unfinished: HashMap<IpAddr, u64>,
}

impl ResumeIndex {
    /// The index of a scan starting fresh, or from `start`.
    pub fn new(start: Option<&ResumePoint>) -> ResumeIndex {
        let Some(p) = start else {
            return ResumeIndex::default();
        };
        ResumeIndex {
            next: p.next,
            unfinished: p.unfinished.iter().map(|&(pos, a)| (a, pos)).collect(),
        }
    }

    /// The target at `position` (address `addr`) went to the scan; the
    /// iterator's cursor is now at `next`.
    pub fn issued(&mut self, position: u64, addr: IpAddr, next: u64) {
        self.unfinished.insert(addr, position);
        self.next = self.next.max(next);
    }

    /// The host `addr` is finished (written to every output). Returns
    /// whether it was in progress.
    pub fn finished(&mut self, addr: IpAddr) -> bool {
        self.unfinished.remove(&addr).is_some()
    }

    /// Hosts issued and not yet finished.
    pub fn in_progress(&self) -> usize {
        self.unfinished.len()
    }

    /// Where a scan interrupted now would resume.
    pub fn point(&self) -> ResumePoint {
        let mut unfinished: Vec<(u64, IpAddr)> =
            self.unfinished.iter().map(|(&a, &pos)| (pos, a)).collect();
        unfinished.sort_unstable();
        ResumePoint {
            next: self.next,
            unfinished,
        }
    }
}

/// A shared [`ResumeIndex`], updated from the scan's iterator and its output.
pub type SharedResumeIndex = Arc<Mutex<ResumeIndex>>;

/// Runs `f` on the shared index (a poisoned lock still holds a valid index).
pub fn with_index<R>(index: &SharedResumeIndex, f: impl FnOnce(&mut ResumeIndex) -> R) -> R {
    f(&mut index.lock().unwrap_or_else(PoisonError::into_inner))
}

/// A target iterator that records in a [`ResumeIndex`] each target it issues.
#[derive(Debug)]
pub struct Tracked {
    inner: IntoTargets,
    index: SharedResumeIndex,
}

impl Tracked {
    pub fn new(inner: IntoTargets, index: SharedResumeIndex) -> Tracked {
        Tracked { inner, index }
    }
}

impl Iterator for Tracked {
    type Item = Target;

    fn next(&mut self) -> Option<Target> {
        let (position, target) = self.inner.next_positioned()?;
        let next = self.inner.position();
        with_index(&self.index, |i| i.issued(position, target.addr, next));
        Some(target)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::{Include, TargetSet};
    use crate::spec::{parse_target, TargetSpec};
    use crate::Shard;
    use std::collections::BTreeSet;

    fn set(token: &str) -> TargetSet {
        let TargetSpec::Concrete(c) = parse_target(token).unwrap() else {
            panic!("{token} is a host name");
        };
        TargetSet::new(vec![Include::spec(c)], vec![]).unwrap()
    }

    /// Scans `iter`, finishing hosts out of order with up to `group` in
    /// progress, and stops after `stop_after` hosts are finished. Returns the
    /// finished addresses and the resume point.
    fn partial_scan(
        iter: IntoTargets,
        start: Option<&ResumePoint>,
        group: usize,
        stop_after: usize,
    ) -> (Vec<IpAddr>, ResumePoint) {
        let index = Arc::new(Mutex::new(ResumeIndex::new(start)));
        let mut targets = Tracked::new(iter, index.clone());
        let mut active: Vec<IpAddr> = Vec::new();
        let mut done = Vec::new();
        let mut source_done = false;
        while done.len() < stop_after {
            while !source_done && active.len() < group {
                match targets.next() {
                    Some(t) => active.push(t.addr),
                    None => source_done = true,
                }
            }
            if active.is_empty() {
                break;
            }
            // Finish the second-newest host first: completion order differs
            // from issue order, and the oldest host lingers.
            let pick = active.len().saturating_sub(2);
            let addr = active.remove(pick);
            with_index(&index, |i| assert!(i.finished(addr)));
            done.push(addr);
        }
        let point = with_index(&index, |i| i.point());
        (done, point)
    }

    fn resumed(set: &TargetSet, seed: u64, point: &ResumePoint) -> IntoTargets {
        set.clone().into_iter_seeded(seed).resume(point)
    }

    #[test]
    fn interrupted_and_resumed_scans_visit_every_target_once() {
        let s = set("198.18.0.0/22");
        let all: BTreeSet<IpAddr> = s.iter(11).map(|t| t.addr).collect();
        let (mut done, p1) = partial_scan(s.clone().into_iter_seeded(11), None, 16, 300);
        assert_eq!(done.len(), 300);
        assert!(!p1.unfinished.is_empty() && p1.unfinished.len() <= 16);
        let (more, p2) = partial_scan(resumed(&s, 11, &p1), Some(&p1), 8, 500);
        done.extend(more);
        assert!(p2.next >= p1.next);
        let (rest, p3) = partial_scan(resumed(&s, 11, &p2), Some(&p2), 32, usize::MAX);
        done.extend(rest);
        assert!(p3.unfinished.is_empty(), "{p3:?}");
        let unique: BTreeSet<IpAddr> = done.iter().copied().collect();
        assert_eq!(unique.len(), done.len(), "a host was scanned twice");
        assert_eq!(unique, all);
    }

    #[test]
    fn resume_point_stays_small_while_the_oldest_host_lingers() {
        let s = set("198.18.0.0/20");
        let index = Arc::new(Mutex::new(ResumeIndex::new(None)));
        let mut targets = Tracked::new(s.into_iter_seeded(3), index.clone());
        let first = targets.next().unwrap().addr;
        for t in targets.by_ref().take(3000) {
            with_index(&index, |i| i.finished(t.addr));
        }
        let p = with_index(&index, |i| i.point());
        assert_eq!(p.unfinished.len(), 1);
        assert_eq!(p.unfinished[0].1, first);
        assert_eq!(p.next, targets.inner.position());
    }

    #[test]
    fn sharded_scans_resume_within_their_shard() {
        let s = set("198.18.0.0/23");
        let shard = Shard::new(2, 3).unwrap();
        let want: BTreeSet<IpAddr> = s
            .clone()
            .into_iter_seeded(5)
            .sharded(shard)
            .map(|t| t.addr)
            .collect();
        let iter = s.clone().into_iter_seeded(5).sharded(shard);
        let (mut done, p) = partial_scan(iter, None, 10, 40);
        let iter = s.clone().into_iter_seeded(5).sharded(shard).resume(&p);
        done.extend(partial_scan(iter, Some(&p), 10, usize::MAX).0);
        assert_eq!(done.len(), want.len());
        assert_eq!(done.into_iter().collect::<BTreeSet<_>>(), want);
    }
}
