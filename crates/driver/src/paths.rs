//! Where each target's packets go: interface, source address and next-hop
//! MAC address, found before the engine first sends to the target.
//!
//! Targets are resolved in batches as the engine pulls them ([`Prefetch`]):
//! one route lookup each (netlink, so policy routing and local routes are
//! honoured), then one round of ARP / neighbour solicitation for every
//! on-link next hop of the batch at once, so a /24 of which most addresses
//! are empty costs one resolution timeout, not one per address.

use portolan_netio::iface::{self, Interface};
use portolan_netio::{neighbor, route};
use portolan_targets::Target;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How many targets are resolved together.
const BATCH: usize = 256;
/// Wait per ARP / NS round, and rounds.
const RESOLVE_WAIT: Duration = Duration::from_millis(400);
const RESOLVE_TRIES: u32 = 2;

/// How packets to one target leave this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    pub ifindex: u32,
    pub src: IpAddr,
    /// The next hop's MAC; `None` when it did not answer ARP / NS, in which
    /// case the packet goes through a raw IP socket and the kernel tries.
    pub mac: Option<[u8; 6]>,
}

/// Route, interface and neighbour knowledge shared by the target prefetcher
/// and the sender.
#[derive(Debug, Default)]
pub struct Paths {
    routes: Option<route::RouteCache>,
    ifaces: HashMap<u32, Interface>,
    hops: HashMap<IpAddr, Option<[u8; 6]>>,
    /// Each target's path, with how many of the targets handed to the engine
    /// have that address (a target list may repeat one); forgotten when the
    /// last is done, so memory follows the targets in flight, not the total.
    paths: HashMap<IpAddr, (Path, u32)>,
    /// Targets with no route at all: probes to them are dropped.
    pub unroutable: Vec<(IpAddr, String)>,
}

pub type SharedPaths = Arc<Mutex<Paths>>;

impl Paths {
    pub fn shared() -> SharedPaths {
        Arc::new(Mutex::new(Paths::default()))
    }

    pub fn get(&self, dst: IpAddr) -> Option<Path> {
        self.paths.get(&dst).map(|(p, _)| *p)
    }

    /// The engine is done with one target of address `dst`.
    pub fn forget(&mut self, dst: IpAddr) {
        let Some((_, refs)) = self.paths.get_mut(&dst) else {
            return;
        };
        *refs -= 1;
        if *refs > 0 {
            return;
        }
        self.paths.remove(&dst);
        // An on-link target is its own next hop. (A gateway that was also
        // a target is simply resolved again if a later target needs it.)
        self.hops.remove(&dst);
        if let Some(cache) = &mut self.routes {
            cache.forget(dst);
        }
        shrink(&mut self.paths);
        shrink(&mut self.hops);
    }

    /// Targets whose paths are held.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Resolves the paths of `dsts` not yet known.
    pub fn prepare(&mut self, dsts: &[IpAddr]) {
        let mut want: HashMap<(u32, bool), (IpAddr, Vec<IpAddr>)> = HashMap::new();
        let mut routed = Vec::new();
        for &dst in dsts {
            match self.route(dst) {
                Ok((r, hop)) => {
                    if !self.hops.contains_key(&hop) {
                        let e = want
                            .entry((r.ifindex, hop.is_ipv4()))
                            .or_insert((r.src, Vec::new()));
                        if !e.1.contains(&hop) {
                            e.1.push(hop);
                        }
                    }
                    routed.push((dst, r, hop));
                }
                Err(e) => self.unroutable.push((dst, e.to_string())),
            }
        }
        for ((ifindex, _), (src, hops)) in want {
            self.resolve(ifindex, src, &hops);
        }
        for (dst, r, hop) in routed {
            // The kernel drops IPv4 packets from its own addresses written
            // to loopback as martians: those go through a raw IP socket.
            let mac = if r.local && dst.is_ipv4() {
                None
            } else {
                self.hops.get(&hop).copied().flatten()
            };
            let path = Path {
                ifindex: r.ifindex,
                src: r.src,
                mac,
            };
            let e = self.paths.entry(dst).or_insert((path, 0));
            *e = (path, e.1 + 1);
        }
    }

    fn route(&mut self, dst: IpAddr) -> std::io::Result<(route::Route, IpAddr)> {
        let cache = self.routes.get_or_insert_with(route::RouteCache::new);
        let r = cache.lookup(dst)?;
        Ok((r, r.next_hop(dst)))
    }

    fn resolve(&mut self, ifindex: u32, src: IpAddr, hops: &[IpAddr]) {
        let Some(ifc) = self.iface(ifindex) else {
            return;
        };
        let found = if ifc.needs_resolution() {
            neighbor::resolve(&ifc, src, hops, RESOLVE_WAIT, RESOLVE_TRIES).unwrap_or_default()
        } else {
            hops.iter().map(|h| (*h, [0u8; 6])).collect()
        };
        for h in hops {
            self.hops.insert(*h, found.get(h).copied());
        }
    }

    fn iface(&mut self, ifindex: u32) -> Option<Interface> {
        if let Some(i) = self.ifaces.get(&ifindex) {
            return Some(i.clone());
        }
        let i = iface::by_index(ifindex).ok()?;
        self.ifaces.insert(ifindex, i.clone());
        Some(i)
    }
}

/// Gives back the memory of a map that emptied out.
fn shrink<V>(map: &mut HashMap<IpAddr, V>) {
    if map.capacity() > 64 && map.len() < map.capacity() / 4 {
        map.shrink_to_fit();
    }
}

/// Wraps the target iterator: resolves paths a batch ahead of the engine.
pub struct Prefetch {
    inner: Box<dyn Iterator<Item = Target> + Send>,
    ready: VecDeque<Target>,
    paths: SharedPaths,
}

impl std::fmt::Debug for Prefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetch")
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl Prefetch {
    pub fn new(inner: Box<dyn Iterator<Item = Target> + Send>, paths: SharedPaths) -> Prefetch {
        Prefetch {
            inner,
            ready: VecDeque::new(),
            paths,
        }
    }
}

impl Iterator for Prefetch {
    type Item = Target;

    fn next(&mut self) -> Option<Target> {
        if self.ready.is_empty() {
            self.ready.extend(self.inner.by_ref().take(BATCH));
            let addrs: Vec<IpAddr> = self.ready.iter().map(|t| t.addr).collect();
            let mut paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
            paths.prepare(&addrs);
        }
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn paths_are_forgotten_when_their_last_target_is_done() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let mut paths = Paths::default();
        // The same address twice (a repeated target) and another one.
        paths.prepare(&[lo, other]);
        paths.prepare(&[lo]);
        assert!(paths.unroutable.is_empty(), "{:?}", paths.unroutable);
        assert_eq!(paths.len(), 2);
        paths.forget(lo);
        assert!(paths.get(lo).is_some(), "still one target of that address");
        paths.forget(lo);
        paths.forget(other);
        assert!(paths.get(lo).is_none());
        assert!(paths.is_empty());
        assert!(paths.hops.is_empty());
        assert!(paths.routes.as_ref().is_some_and(|r| r.is_empty()));
        // Forgetting an unknown address changes nothing.
        paths.forget(other);
        assert!(paths.is_empty());
    }
}
