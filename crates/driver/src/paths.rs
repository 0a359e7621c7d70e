//! Where each target's packets go: interface, source address and next-hop
//! MAC address, found before the engine first sends to the target.
//!
//! Targets are resolved in batches as the engine pulls them ([`Prefetch`]):
//! one route lookup each (netlink, so policy routing and local routes are
//! honoured), then one round of ARP / neighbour solicitation for every
//! on-link next hop of the batch at once, so a /24 of which most addresses
//! are empty costs one resolution timeout, not one per address.
//!
//! Host discovery does its own ARP / neighbour solicitation, with its own
//! timing, so it asks ([`Paths::set_defer_on_link`]) that targets on the
//! link be left unresolved here, and hands back what it learnt
//! ([`Paths::learn`]) for the port scan that follows.

use portolan_netio::iface::{self, Interface};
use portolan_netio::route::Route;
use portolan_netio::{neighbor, route};
use portolan_targets::Target;
use std::collections::hash_map::Entry;
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
    /// The next hop's MAC; `None` when it did not answer ARP / NS (or was
    /// not asked: see [`Paths::set_defer_on_link`]), in which case the
    /// packet goes through a raw IP socket and the kernel tries.
    pub mac: Option<[u8; 6]>,
    /// The target is its own next hop on an interface that resolves
    /// neighbours (Ethernet-like, neither loopback nor NOARP): ARP / NS can
    /// find it.
    pub on_link: bool,
    /// The route is a local one: the target is one of this machine's own
    /// addresses.
    pub local: bool,
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
    /// Leave on-link targets unresolved (host discovery resolves them).
    defer_on_link: bool,
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

    /// While `on`, [`prepare`](Paths::prepare) does not resolve targets that
    /// are their own on-link next hop: their [`Path::mac`] stays `None`
    /// (probes to them go through a raw IP socket, and the kernel resolves)
    /// until [`learn`](Paths::learn) gives it. Gateways, and MACs already
    /// known, are used as before.
    pub fn set_defer_on_link(&mut self, on: bool) {
        self.defer_on_link = on;
    }

    /// Records `mac` as the MAC of `dst`, which answered ARP / NS on its own
    /// link: the path held for `dst`, if it is on the link, takes it, and a
    /// later [`prepare`](Paths::prepare) of `dst` uses it without asking
    /// again, also after `dst` was forgotten. The record is dropped when the
    /// last target of that address prepared after it is forgotten; one
    /// never prepared again is kept until the `Paths` is dropped.
    pub fn learn(&mut self, dst: IpAddr, mac: [u8; 6]) {
        self.hops.insert(dst, Some(mac));
        if let Some((path, _)) = self.paths.get_mut(&dst) {
            if path.on_link {
                path.mac = Some(mac);
            }
        }
    }

    /// This machine's MAC on interface `ifindex`, if that interface resolves
    /// neighbours (the sender address of ARP requests and solicitations).
    pub fn own_mac(&mut self, ifindex: u32) -> Option<[u8; 6]> {
        let ifc = self.iface(ifindex)?;
        ifc.mac.filter(|_| ifc.needs_resolution())
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
                    let on_link = self.is_on_link(&r, dst);
                    if self.should_resolve(hop, on_link) {
                        let e = want
                            .entry((r.ifindex, hop.is_ipv4()))
                            .or_insert((r.src, Vec::new()));
                        if !e.1.contains(&hop) {
                            e.1.push(hop);
                        }
                    }
                    routed.push((dst, r, hop, on_link));
                }
                Err(e) => self.unroutable.push((dst, e.to_string())),
            }
        }
        for ((ifindex, _), (src, hops)) in want {
            self.resolve(ifindex, src, &hops);
        }
        for (dst, r, hop, on_link) in routed {
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
                on_link,
                local: r.local,
            };
            let e = self.paths.entry(dst).or_insert((path, 0));
            *e = (path, e.1 + 1);
        }
    }

    /// Whether next hop `hop` (of a target `on_link` or not) is to be asked
    /// for now: not when its MAC is known (or known not to answer), nor when
    /// it is an on-link target that discovery resolves itself.
    fn should_resolve(&self, hop: IpAddr, on_link: bool) -> bool {
        let deferred = self.defer_on_link && on_link;
        !deferred && !self.hops.contains_key(&hop)
    }

    fn is_on_link(&mut self, r: &Route, dst: IpAddr) -> bool {
        let ifc = self.iface(r.ifindex);
        on_link(r, dst, ifc)
    }

    fn route(&mut self, dst: IpAddr) -> std::io::Result<(route::Route, IpAddr)> {
        let cache = self.routes.get_or_insert_with(route::RouteCache::new);
        let r = cache.lookup(dst)?;
        Ok((r, r.next_hop(dst)))
    }

    fn resolve(&mut self, ifindex: u32, src: IpAddr, hops: &[IpAddr]) {
        let Some(ifc) = self.iface(ifindex).cloned() else {
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

    fn iface(&mut self, ifindex: u32) -> Option<&Interface> {
        match self.ifaces.entry(ifindex) {
            Entry::Occupied(e) => Some(e.into_mut()),
            Entry::Vacant(e) => Some(e.insert(iface::by_index(ifindex).ok()?)),
        }
    }
}

/// Whether `dst`, reached by `route` through `ifc` (`None`: unknown), is its
/// own next hop on a link that resolves neighbours.
fn on_link(route: &Route, dst: IpAddr, ifc: Option<&Interface>) -> bool {
    !route.local && route.next_hop(dst) == dst && ifc.is_some_and(Interface::needs_resolution)
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
    use portolan_netio::iface::LinkKind;
    use std::net::{Ipv4Addr, Ipv6Addr};

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

    fn route(gateway: Option<IpAddr>, local: bool) -> Route {
        Route {
            ifindex: 3,
            src: IpAddr::V4(Ipv4Addr::new(198, 18, 200, 1)),
            gateway,
            local,
        }
    }

    fn link(kind: LinkKind, noarp: bool) -> Interface {
        Interface {
            index: 3,
            name: "pnbr0".into(),
            mac: Some([2, 0, 0, 0, 0, 1]),
            kind,
            mtu: 1500,
            noarp,
        }
    }

    #[test]
    fn on_link_means_own_next_hop_on_a_resolving_link() {
        let dst = IpAddr::V4(Ipv4Addr::new(198, 18, 200, 2));
        let gw = Some(IpAddr::V4(Ipv4Addr::new(198, 18, 200, 254)));
        let eth = link(LinkKind::Ethernet, false);
        assert!(on_link(&route(None, false), dst, Some(&eth)));
        // Behind a router, or one of our own addresses.
        assert!(!on_link(&route(gw, false), dst, Some(&eth)));
        assert!(!on_link(&route(None, true), dst, Some(&eth)));
        // A host route whose gateway is the target itself.
        assert!(on_link(&route(Some(dst), false), dst, Some(&eth)));
        // Links that resolve no neighbours, or one we could not look up.
        let noarp = link(LinkKind::Ethernet, true);
        assert!(!on_link(&route(None, false), dst, Some(&noarp)));
        for kind in [LinkKind::Loopback, LinkKind::RawIp, LinkKind::Other(32)] {
            assert!(!on_link(&route(None, false), dst, Some(&link(kind, false))));
        }
        assert!(!on_link(&route(None, false), dst, None));
    }

    #[test]
    fn deferral_skips_on_link_targets_but_not_gateways() {
        let target = IpAddr::V4(Ipv4Addr::new(198, 18, 200, 2));
        let gateway = IpAddr::V4(Ipv4Addr::new(198, 18, 200, 254));
        let mut paths = Paths::default();
        assert!(paths.should_resolve(target, true));
        paths.set_defer_on_link(true);
        assert!(!paths.should_resolve(target, true));
        assert!(paths.should_resolve(gateway, false));
        // Known next hops are never asked again, deferring or not.
        paths.hops.insert(gateway, None);
        assert!(!paths.should_resolve(gateway, false));
        paths.set_defer_on_link(false);
        assert!(paths.should_resolve(target, true));
        assert!(!paths.should_resolve(gateway, false));
    }

    #[test]
    fn loopback_targets_are_local_and_not_on_link() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut paths = Paths::default();
        paths.set_defer_on_link(true);
        paths.prepare(&[lo]);
        let p = paths.get(lo).unwrap();
        assert!(p.local && !p.on_link, "{p:?}");
        // A local IPv4 target goes through a raw IP socket.
        assert_eq!(p.mac, None);
        assert_eq!(paths.own_mac(p.ifindex), None, "loopback resolves nothing");
    }

    /// Discovery forgets a host when it is done with it, then tells what it
    /// learnt; the port scan's `prepare` uses it, and its `forget` drops it.
    #[test]
    fn a_mac_learnt_after_forget_is_used_by_the_next_prepare() {
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let mut paths = Paths::default();
        paths.prepare(&[v6]);
        if !paths.unroutable.is_empty() {
            eprintln!("SKIPPED: no IPv6 loopback: {:?}", paths.unroutable);
            return;
        }
        // Loopback needs no resolution: every hop maps to zeros.
        assert_eq!(paths.get(v6).unwrap().mac, Some([0; 6]));
        paths.forget(v6);
        assert!(paths.get(v6).is_none() && paths.hops.is_empty());
        let mac = [2, 0, 0, 0, 0, 7];
        paths.learn(v6, mac);
        paths.prepare(&[v6]);
        assert_eq!(paths.get(v6).unwrap().mac, Some(mac));
        paths.forget(v6);
        assert!(paths.is_empty());
        assert!(paths.hops.is_empty(), "{:?}", paths.hops);
    }

    #[test]
    fn learning_updates_a_held_path_only_when_on_link() {
        let on = IpAddr::V4(Ipv4Addr::new(198, 18, 200, 2));
        let off = IpAddr::V4(Ipv4Addr::new(198, 18, 201, 2));
        let mut paths = Paths::default();
        for (dst, on_link) in [(on, true), (off, false)] {
            let path = Path {
                ifindex: 3,
                src: IpAddr::V4(Ipv4Addr::new(198, 18, 200, 1)),
                mac: None,
                on_link,
                local: false,
            };
            paths.paths.insert(dst, (path, 1));
        }
        let mac = [2, 0, 0, 0, 0, 9];
        paths.learn(on, mac);
        paths.learn(off, mac);
        assert_eq!(paths.get(on).unwrap().mac, Some(mac));
        // Off the link, the MAC that matters is the router's, not the host's.
        assert_eq!(paths.get(off).unwrap().mac, None);
        assert_eq!(paths.hops.get(&on), Some(&Some(mac)));
    }
}
