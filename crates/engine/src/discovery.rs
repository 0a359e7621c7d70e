//! Host discovery: which targets are up, before any port is scanned.
//!
//! Each target gets a few probes (Nmap's defaults or the `-P*` the user
//! chose): on the scanner's own segment an ARP request or IPv6 neighbour
//! solicitation, which a host answers even when it drops every IP packet;
//! elsewhere ICMP echo / timestamp / address-mask requests and TCP SYN, TCP
//! ACK or UDP probes to chosen ports, or TCP connections when the scan is not
//! privileged. The first proof of life ends the host: it is up, with the
//! reason and TTL of that answer (and the MAC address of an ARP / NDP one).
//! A host whose probes all went unanswered after their tries, or were
//! refused by a router on its behalf, is down.
//!
//! Same shape and timing as [`crate::Scan`]: one round-trip estimate and one
//! congestion window for the whole group (most addresses of a large range
//! never answer, so per-host estimates would learn nothing), probes presumed
//! lost once well past the round trip so silence does not hold the window,
//! `--min-rate` / `--max-rate`, and stateless validation: TCP probes carry
//! the keyed cookie in their sequence number, ICMP queries in their
//! identifier and sequence number, and the try number rides in the source
//! port or the ICMP sequence, so a late answer to a first try is measured
//! against the right send time.

use crate::probe::{self, Answer, AnswerKind, ProbeKind, ProbeSpec, TRY_PORTS};
use crate::rate::RateLimiter;
use crate::scan::{Outcome, ProbeId, Progress, Transmit};
use crate::timing::{RttEstimator, TimingParams, Window};
use portolan_model::{Protocol, Reason};
use portolan_targets::Target;
use portolan_wire::ping::{IcmpProbe, PingKind};
use portolan_wire::probe::{tcp_flags, TcpProbe, UdpProbe};
use portolan_wire::reply::ReplyBody;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Before any round trip is measured, a probe is presumed lost after this
/// fraction of the minimum timeout: with the default window that is a few
/// thousand probes a second (a couple of Mbit/s) until the first answer
/// gives the path's real round trip.
const UNKNOWN_RTT_PRESUMPTION: u32 = 8;

/// ICMPv6 neighbour advertisement.
const ND_ADVERTISEMENT: u8 = 136;

/// One kind of discovery probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PingProbe {
    /// ARP (IPv4) or neighbour solicitation (IPv6), for on-link targets.
    Neighbor,
    /// ICMP echo (`-PE`), timestamp (`-PP`) or address mask (`-PM`).
    Icmp(PingKind),
    /// TCP SYN to a port (`-PS`).
    Syn(u16),
    /// TCP ACK to a port (`-PA`).
    Ack(u16),
    /// UDP to a port (`-PU`).
    Udp(u16),
    /// A TCP connection attempt (unprivileged discovery).
    Connect(u16),
}

impl PingProbe {
    /// Nmap's default probes for a privileged scan.
    pub const RAW_DEFAULT: [PingProbe; 4] = [
        PingProbe::Icmp(PingKind::Echo),
        PingProbe::Syn(443),
        PingProbe::Ack(80),
        PingProbe::Icmp(PingKind::Timestamp),
    ];
    /// Nmap's default probes without raw sockets.
    pub const CONNECT_DEFAULT: [PingProbe; 2] = [PingProbe::Connect(80), PingProbe::Connect(443)];

    /// Whether this probe can be sent to `addr` (ICMPv6 has no timestamp or
    /// address-mask request).
    fn usable_for(self, addr: IpAddr) -> bool {
        match self {
            PingProbe::Icmp(kind) => kind.request_type(addr.is_ipv6()).is_some(),
            _ => true,
        }
    }
}

/// What to discover and how.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    pub timing: TimingParams,
    pub min_rate: Option<f64>,
    pub max_rate: Option<f64>,
    /// Secret key of the probe cookies.
    pub key: (u64, u64),
    /// First of [`TRY_PORTS`] consecutive source ports of TCP and UDP probes.
    pub base_port: u16,
    /// Probes for targets not found through their link.
    pub probes: Vec<PingProbe>,
    /// ARP / neighbour discovery for targets on the scanner's segment, in
    /// place of `probes` (Nmap's default when privileged; `-PR`).
    pub neighbor: bool,
    /// Hosts probed at once.
    pub max_hosts: usize,
    /// `-Pn`: a target with nothing to probe is up (`user-set`); only
    /// link-layer discovery of on-link targets still runs, as in Nmap.
    pub assume_up: bool,
}

/// A target, with what the driver knows of its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryTarget {
    pub target: Target,
    /// The target is on one of the scanner's segments (its own next hop).
    pub on_link: bool,
    /// The target is one of this machine's addresses.
    pub local: bool,
}

/// The verdict on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub target: Target,
    pub up: bool,
    /// Why: the answer that proved it up; for a down host `no-response`, or
    /// the ICMP error a router sent on its behalf.
    pub reason: Reason,
    /// TTL or hop limit of that answer, when it was an IP packet.
    pub ttl: Option<u8>,
    /// The host's MAC address, when it answered ARP or neighbour discovery.
    pub mac: Option<[u8; 6]>,
    /// Round trip of the deciding answer.
    pub rtt: Option<Duration>,
    /// The probe that drew the deciding answer (for a later traceroute).
    pub probe: Option<PingProbe>,
    pub started: Instant,
    pub finished: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Out {
    host: u32,
    probe: u8,
    try_idx: u8,
    sent: Instant,
    presumed_lost: bool,
}

struct Host {
    target: Target,
    started: Instant,
    probes: Vec<PingProbe>,
    tries: Vec<u8>,
    /// Order of each probe's first try (for the congestion window).
    first_sent: Vec<u64>,
    /// Probes that need no more tries (refused by a router, or exhausted).
    finished: Vec<bool>,
    retry: VecDeque<u8>,
    next_fresh: u8,
    /// Outstanding probe ids.
    out: Vec<u64>,
    /// Whether the host sits in the ready queue.
    queued: bool,
    /// An ICMP error a router sent for one of the probes.
    refused: Option<(Reason, u8)>,
}

impl Host {
    fn has_work(&self) -> bool {
        !self.retry.is_empty() || usize::from(self.next_fresh) < self.probes.len()
    }

    fn exhausted(&self) -> bool {
        self.out.is_empty() && !self.has_work()
    }
}

/// The host-discovery scheduler.
pub struct Discovery {
    cfg: DiscoveryConfig,
    hosts: Box<dyn Iterator<Item = DiscoveryTarget> + Send>,
    source_done: bool,
    active: HashMap<u32, Host>,
    by_addr: HashMap<IpAddr, u32>,
    ready: VecDeque<u32>,
    next_key: u32,
    outstanding: HashMap<u64, Out>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    presumptions: BinaryHeap<Reverse<(Instant, u64)>>,
    presumed_lost: usize,
    aborts: VecDeque<ProbeId>,
    events: VecDeque<Discovered>,
    group: Window,
    rtt: RttEstimator,
    parallel_cap: usize,
    rate: RateLimiter,
    next_probe: u64,
    progress: Progress,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("active", &self.active.len())
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl Discovery {
    pub fn new(
        cfg: DiscoveryConfig,
        hosts: Box<dyn Iterator<Item = DiscoveryTarget> + Send>,
    ) -> Discovery {
        let t = &cfg.timing;
        Discovery {
            group: Window::new(
                t.initial_cwnd * 4.0,
                t.max_parallelism as f64,
                t.max_parallelism as f64,
            ),
            rtt: RttEstimator::new(t.initial_rtt_timeout),
            parallel_cap: t.max_parallelism.max(1),
            rate: RateLimiter::new(cfg.min_rate, cfg.max_rate),
            cfg,
            hosts,
            source_done: false,
            active: HashMap::new(),
            by_addr: HashMap::new(),
            ready: VecDeque::new(),
            next_key: 0,
            outstanding: HashMap::new(),
            deadlines: BinaryHeap::new(),
            presumptions: BinaryHeap::new(),
            presumed_lost: 0,
            aborts: VecDeque::new(),
            events: VecDeque::new(),
            next_probe: 0,
            progress: Progress::default(),
        }
    }

    /// Lowers the ceiling on probes in flight (e.g. to the socket budget).
    pub fn limit_parallelism(&mut self, cap: usize) {
        self.parallel_cap = self.parallel_cap.min(cap.max(1));
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    pub fn is_finished(&self) -> bool {
        self.source_done
            && self.active.is_empty()
            && self.events.is_empty()
            && self.aborts.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<Discovered> {
        self.events.pop_front()
    }

    fn tries_allowed(&self, probe: PingProbe) -> u8 {
        let retries = self.cfg.timing.max_retries;
        match probe {
            // Link-layer requests are cheap and the only way to some hosts.
            PingProbe::Neighbor => 1 + retries.min(2),
            _ => 1 + retries.min(1),
        }
    }

    /// The next thing the driver must do, or `None` until a timer or an answer.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let Some(probe) = self.aborts.pop_front() {
            return Some(Transmit::Abort { probe });
        }
        self.refill(now);
        if let Some(probe) = self.aborts.pop_front() {
            return Some(Transmit::Abort { probe });
        }
        if !self.may_send_now(now) {
            return None;
        }
        while let Some(key) = self.ready.pop_front() {
            let Some(host) = self.active.get_mut(&key) else {
                continue;
            };
            host.queued = false;
            let Some((idx, try_idx)) = pick(host) else {
                continue;
            };
            if host.has_work() {
                host.queued = true;
                self.ready.push_back(key);
            }
            return Some(self.send(key, idx, try_idx, now));
        }
        None
    }

    fn may_send_now(&mut self, now: Instant) -> bool {
        let in_flight = self.outstanding.len();
        if in_flight >= self.parallel_cap || !self.rate.may_send(now) {
            return false;
        }
        // Most discovery probes go to empty addresses: silence is the rule,
        // not a sign of congestion. Only probes not yet presumed lost count
        // against the window; the rest are bounded by the parallelism cap.
        in_flight < self.cfg.timing.min_parallelism
            || in_flight - self.presumed_lost < self.group.allowed()
            || self.rate.below_min_rate(now)
    }

    fn refill(&mut self, now: Instant) {
        while !self.source_done && self.active.len() < self.cfg.max_hosts.max(1) {
            match self.hosts.next() {
                Some(t) => self.start_host(t, now),
                None => self.source_done = true,
            }
        }
    }

    fn start_host(&mut self, t: DiscoveryTarget, now: Instant) {
        let connect = self
            .cfg
            .probes
            .iter()
            .any(|p| matches!(p, PingProbe::Connect(_)));
        if t.local && !connect {
            // One of our own addresses: nothing to ask (Nmap's localhost-response).
            self.events.push_back(Discovered {
                target: t.target,
                up: true,
                reason: Reason::Localhost,
                ttl: Some(0),
                mac: None,
                rtt: None,
                probe: None,
                started: now,
                finished: now,
            });
            self.progress.hosts_done += 1;
            return;
        }
        let addr = t.target.addr;
        let probes: Vec<PingProbe> = if t.on_link && self.cfg.neighbor {
            vec![PingProbe::Neighbor]
        } else {
            let mut v: Vec<PingProbe> = Vec::new();
            for p in &self.cfg.probes {
                if p.usable_for(addr) && !v.contains(p) {
                    v.push(*p);
                }
            }
            v
        };
        let n = probes.len();
        let key = self.next_key;
        self.next_key = self.next_key.wrapping_add(1);
        let host = Host {
            target: t.target,
            started: now,
            probes,
            tries: vec![0; n],
            first_sent: vec![0; n],
            finished: vec![false; n],
            retry: VecDeque::new(),
            next_fresh: 0,
            out: Vec::new(),
            queued: n > 0,
            refused: None,
        };
        self.by_addr.entry(addr).or_insert(key);
        self.active.insert(key, host);
        if n == 0 {
            let verdict = self.cfg.assume_up.then_some(Verdict {
                reason: Reason::UserSet,
                ttl: None,
                mac: None,
                rtt: None,
                probe: None,
            });
            self.finish(key, now, verdict);
        } else {
            self.ready.push_back(key);
        }
    }

    fn send(&mut self, key: u32, idx: u8, try_idx: u8, now: Instant) -> Transmit {
        let id = self.next_probe;
        self.next_probe += 1;
        let timeout = self.rtt.timeout();
        let presume = self.presume_after(timeout);
        let Some(host) = self.active.get_mut(&key) else {
            return Transmit::Abort { probe: ProbeId(id) };
        };
        host.tries[idx as usize] = try_idx + 1;
        host.out.push(id);
        let probe = host.probes[idx as usize];
        let dst = host.target.addr;
        if try_idx == 0 {
            host.first_sent[idx as usize] = id;
            self.group.on_first_try(now, id);
        } else {
            self.progress.retransmissions += 1;
        }
        self.outstanding.insert(
            id,
            Out {
                host: key,
                probe: idx,
                try_idx,
                sent: now,
                presumed_lost: false,
            },
        );
        self.deadlines.push(Reverse((now + timeout, id)));
        if let Some(after) = presume {
            self.presumptions.push(Reverse((now + after, id)));
        }
        self.progress.probes_sent += 1;
        self.rate.on_send(now);
        self.transmit(ProbeId(id), dst, probe, try_idx)
    }

    /// When an unanswered probe stops holding its place in the window: well
    /// past the round trip once one is known; before any host answered, after
    /// [`UNKNOWN_RTT_PRESUMPTION`] of the shortest timeout the timing allows.
    fn presume_after(&self, timeout: Duration) -> Option<Duration> {
        let late = match self.rtt.srtt() {
            Some(srtt) => (srtt * 2).max(srtt + self.rtt.rttvar() * 4),
            None => self.cfg.timing.min_rtt_timeout / UNKNOWN_RTT_PRESUMPTION,
        };
        (late < timeout).then_some(late)
    }

    fn transmit(&self, id: ProbeId, dst: IpAddr, probe: PingProbe, try_idx: u8) -> Transmit {
        let key = self.cfg.key;
        let sport = self.cfg.base_port + u16::from(try_idx) % TRY_PORTS;
        let tcp = |dport: u16, flags: u8| {
            let seq = probe::cookie(key, dst, dport, sport);
            ProbeKind::Tcp(TcpProbe {
                sport,
                dport,
                seq,
                ack: probe::ack_for(flags, seq),
                flags,
                window: 1024,
                mss: flags & tcp_flags::SYN != 0,
            })
        };
        let kind = match probe {
            PingProbe::Connect(port) => {
                return Transmit::Connect {
                    probe: id,
                    addr: SocketAddr::new(dst, port),
                }
            }
            PingProbe::Neighbor => ProbeKind::Neighbor,
            PingProbe::Icmp(kind) => {
                let (ident, seq) = icmp_ids(key, dst, kind, try_idx);
                ProbeKind::Icmp(IcmpProbe {
                    kind,
                    ident,
                    seq,
                    payload: &[],
                })
            }
            PingProbe::Syn(port) => tcp(port, tcp_flags::SYN),
            PingProbe::Ack(port) => tcp(port, tcp_flags::ACK),
            PingProbe::Udp(port) => ProbeKind::Udp(UdpProbe {
                sport,
                dport: port,
                payload: crate::payloads::udp_payload(port),
            }),
        };
        Transmit::Probe(ProbeSpec { dst, kind })
    }

    /// A connect probe's fate is known.
    pub fn handle_outcome(&mut self, now: Instant, probe: ProbeId, outcome: Outcome) {
        let Some(rec) = self.take(probe.0) else {
            self.progress.stray_answers += 1;
            return;
        };
        match outcome {
            Outcome::NotSent => {
                self.progress.probes_sent -= 1;
                if let Some(h) = self.active.get_mut(&rec.host) {
                    h.tries[rec.probe as usize] = rec.try_idx;
                    h.retry.push_front(rec.probe);
                    if !h.queued {
                        h.queued = true;
                        self.ready.push_front(rec.host);
                    }
                }
                let cap = self.outstanding.len().max(1);
                self.parallel_cap = self.parallel_cap.min(cap);
            }
            Outcome::Open => self.proof(rec, Reason::SynAck, None, None, now),
            Outcome::Refused => self.proof(rec, Reason::ConnRefused, None, None, now),
            Outcome::Unreachable(reason) => self.refusal(rec, reason, 0, now),
        }
    }

    /// A packet arrived: an IP packet, or an ARP payload (link header
    /// stripped). Malformed, unrelated and forged packets are counted and dropped.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        if packet.first().is_some_and(|b| b >> 4 == 0) {
            match portolan_wire::arp::parse_reply(packet) {
                Some((ip, mac)) => self.neighbor_answer(IpAddr::V4(ip), mac, now),
                None => self.progress.malformed += 1,
            }
            return;
        }
        let reply = match portolan_wire::reply::parse_ip(packet) {
            Ok(r) => r,
            Err(_) => {
                self.progress.malformed += 1;
                return;
            }
        };
        match reply.body {
            ReplyBody::Icmp {
                v6: true,
                icmp_type: ND_ADVERTISEMENT,
                ..
            } => match portolan_wire::ndp::parse_advertisement(packet) {
                Some((ip, mac)) => self.neighbor_answer(IpAddr::V6(ip), mac, now),
                None => self.progress.stray_answers += 1,
            },
            ReplyBody::Icmp {
                v6,
                icmp_type,
                ident,
                seq,
                ..
            } => match PingKind::of_reply(icmp_type, v6) {
                Some(kind) => self.icmp_answer(reply.src, kind, (ident, seq), reply.ttl, now),
                None => self.progress.stray_answers += 1,
            },
            _ => match crate::answer::from_reply(&reply) {
                Some(a) => self.handle_answer(now, &a, reply.src),
                None => self.progress.stray_answers += 1,
            },
        }
    }

    fn host_key(&self, addr: IpAddr) -> Option<u32> {
        self.by_addr.get(&addr).copied()
    }

    /// The outstanding record of `probe`'s try `try_idx` on host `key`, or a
    /// stand-in when that try is no longer outstanding.
    fn record_for(&mut self, key: u32, idx: u8, try_idx: u8, now: Instant) -> Option<Out> {
        let host = self.active.get(&key)?;
        let id = host.out.iter().copied().find(|id| {
            self.outstanding
                .get(id)
                .is_some_and(|o| o.probe == idx && o.try_idx == try_idx)
        });
        match id {
            Some(id) => self.take(id),
            // Answered after its timeout: still a proof, without an RTT sample.
            None => Some(Out {
                host: key,
                probe: idx,
                try_idx,
                sent: now,
                presumed_lost: false,
            }),
        }
    }

    fn neighbor_answer(&mut self, addr: IpAddr, mac: [u8; 6], now: Instant) {
        let Some(key) = self.host_key(addr) else {
            self.progress.stray_answers += 1;
            return;
        };
        let Some(host) = self.active.get(&key) else {
            return;
        };
        let Some(idx) = host.probes.iter().position(|p| *p == PingProbe::Neighbor) else {
            self.progress.stray_answers += 1;
            return;
        };
        let idx = idx as u8;
        // An ARP reply names no try: only a single try gives a clean RTT.
        let tries = host.tries[idx as usize];
        if tries == 0 {
            self.progress.stray_answers += 1;
            return;
        }
        let Some(mut rec) = self.record_for(key, idx, tries - 1, now) else {
            return;
        };
        if tries > 1 {
            rec.sent = now;
        }
        let reason = if addr.is_ipv4() {
            Reason::ArpResponse
        } else {
            Reason::NdResponse
        };
        self.proof(rec, reason, None, Some(mac), now);
    }

    fn icmp_answer(
        &mut self,
        from: IpAddr,
        kind: PingKind,
        (ident, seq): (u16, u16),
        ttl: u8,
        now: Instant,
    ) {
        let Some(key) = self.host_key(from) else {
            self.progress.stray_answers += 1;
            return;
        };
        let Some(host) = self.active.get(&key) else {
            return;
        };
        let Some(idx) = host.probes.iter().position(|p| *p == PingProbe::Icmp(kind)) else {
            self.progress.stray_answers += 1;
            return;
        };
        let try_idx = (seq & 0xff) as u8;
        if icmp_ids(self.cfg.key, from, kind, try_idx) != (ident, seq) {
            self.progress.forged += 1;
            return;
        }
        if try_idx >= host.tries[idx] {
            self.progress.forged += 1;
            return;
        }
        let Some(rec) = self.record_for(key, idx as u8, try_idx, now) else {
            return;
        };
        let reason = match kind {
            PingKind::Echo => Reason::EchoReply,
            PingKind::Timestamp => Reason::TimestampReply,
            PingKind::AddressMask => Reason::AddressmaskReply,
        };
        self.proof(rec, reason, Some(ttl), None, now);
    }

    /// A TCP or UDP reply, or an ICMP error quoting a TCP or UDP probe,
    /// sent by `from`.
    pub fn handle_answer(&mut self, now: Instant, a: &Answer, from: IpAddr) {
        let Some(key) = self.host_key(a.host) else {
            self.progress.stray_answers += 1;
            return;
        };
        let base = self.cfg.base_port;
        let offset = a.our_port.wrapping_sub(base);
        let Some(host) = self.active.get(&key) else {
            return;
        };
        if offset >= TRY_PORTS {
            self.progress.stray_answers += 1;
            return;
        }
        let wanted = |p: &PingProbe| match (a.protocol, *p) {
            (Protocol::Tcp, PingProbe::Syn(port) | PingProbe::Ack(port)) => port == a.port,
            (Protocol::Udp, PingProbe::Udp(port)) => port == a.port,
            _ => false,
        };
        let Some(idx) = host.probes.iter().position(wanted) else {
            self.progress.stray_answers += 1;
            return;
        };
        let try_idx = offset as u8;
        if try_idx >= host.tries[idx] {
            self.progress.stray_answers += 1;
            return;
        }
        if !probe::valid(self.cfg.key, a) {
            self.progress.forged += 1;
            return;
        }
        let ttl = a.ttl;
        let verdict = match a.kind {
            AnswerKind::Tcp { flags, .. } if flags & tcp_flags::RST != 0 => Some(Reason::Reset),
            AnswerKind::Tcp { flags, .. }
                if flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK =>
            {
                Some(Reason::SynAck)
            }
            AnswerKind::Tcp { .. } => None,
            AnswerKind::Udp => Some(Reason::UdpResponse),
            AnswerKind::Unreach { .. } => probe::classify(None, a).map(|(_, r)| r),
        };
        let Some(reason) = verdict else {
            self.progress.stray_answers += 1;
            return;
        };
        let Some(rec) = self.record_for(key, idx as u8, try_idx, now) else {
            return;
        };
        let from_target = from == a.host;
        if matches!(a.kind, AnswerKind::Unreach { .. }) && !from_target {
            self.refusal(rec, reason, ttl, now);
        } else {
            self.proof(rec, reason, Some(ttl), None, now);
        }
    }

    /// Counts an answer in the timing (RTT sample when the try is known, and
    /// the congestion window).
    fn learn(&mut self, rec: &Out, now: Instant) {
        self.progress.answers += 1;
        let Some(host) = self.active.get(&rec.host) else {
            return;
        };
        let first = host.first_sent[rec.probe as usize];
        if rec.sent < now {
            let before = self.rtt.timeout();
            self.rtt.sample(now - rec.sent, &self.cfg.timing);
            if self.rtt.timeout() * 2 < before {
                self.shorten_deadlines();
            }
        }
        self.group.on_answer(first, rec.try_idx > 0);
    }

    /// The host is up.
    fn proof(
        &mut self,
        rec: Out,
        reason: Reason,
        ttl: Option<u8>,
        mac: Option<[u8; 6]>,
        now: Instant,
    ) {
        self.learn(&rec, now);
        let rtt = (rec.sent < now).then(|| now - rec.sent);
        let probe = self
            .active
            .get(&rec.host)
            .and_then(|h| h.probes.get(rec.probe as usize))
            .copied();
        self.finish(
            rec.host,
            now,
            Some(Verdict {
                reason,
                ttl,
                mac,
                rtt,
                probe,
            }),
        );
    }

    /// A router (or the local stack) refused one probe for the host: that
    /// probe is finished; the host is down if nothing else answers.
    fn refusal(&mut self, rec: Out, reason: Reason, ttl: u8, now: Instant) {
        self.learn(&rec, now);
        let Some(host) = self.active.get_mut(&rec.host) else {
            return;
        };
        host.finished[rec.probe as usize] = true;
        host.retry.retain(|p| *p != rec.probe);
        host.refused.get_or_insert((reason, ttl));
        if host.exhausted() {
            self.finish(rec.host, now, None);
        }
    }

    /// The round trip turned out far shorter than assumed (typically at the
    /// first answer, against the initial one-second guess): probes already
    /// out wait the new timeout from their send time, not the old guess, so
    /// a segment of empty addresses is not held up by it.
    fn shorten_deadlines(&mut self) {
        let timeout = self.rtt.timeout();
        self.deadlines = self
            .outstanding
            .iter()
            .map(|(id, o)| Reverse((o.sent + timeout, *id)))
            .collect();
    }

    fn take(&mut self, id: u64) -> Option<Out> {
        let rec = self.outstanding.remove(&id)?;
        if rec.presumed_lost {
            self.presumed_lost -= 1;
        }
        if let Some(h) = self.active.get_mut(&rec.host) {
            h.out.retain(|o| *o != id);
        }
        Some(rec)
    }

    fn finish(&mut self, key: u32, now: Instant, verdict: Option<Verdict>) {
        let Some(host) = self.active.get(&key) else {
            return;
        };
        let connect = host
            .probes
            .iter()
            .any(|p| matches!(p, PingProbe::Connect(_)));
        for id in host.out.clone() {
            self.take(id);
            if connect {
                self.aborts.push_back(ProbeId(id));
            }
        }
        let Some(host) = self.active.remove(&key) else {
            return;
        };
        if self.by_addr.get(&host.target.addr) == Some(&key) {
            self.by_addr.remove(&host.target.addr);
        }
        self.progress.hosts_done += 1;
        let event = match verdict {
            Some(v) => Discovered {
                target: host.target,
                up: true,
                reason: v.reason,
                ttl: v.ttl,
                mac: v.mac,
                rtt: v.rtt,
                probe: v.probe,
                started: host.started,
                finished: now,
            },
            None => {
                let (reason, ttl) = match host.refused {
                    Some((r, ttl)) => (r, Some(ttl)),
                    None => (Reason::NoResponse, None),
                };
                Discovered {
                    target: host.target,
                    up: false,
                    reason,
                    ttl,
                    mac: None,
                    rtt: None,
                    probe: None,
                    started: host.started,
                    finished: now,
                }
            }
        };
        self.events.push_back(event);
    }

    /// Timers may have fired: presume losses, retry or give up on probes.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.presumptions.peek().copied() {
            if at > now {
                break;
            }
            self.presumptions.pop();
            if let Some(rec) = self.outstanding.get_mut(&id) {
                if !rec.presumed_lost {
                    rec.presumed_lost = true;
                    self.presumed_lost += 1;
                }
            }
        }
        while let Some(Reverse((at, id))) = self.deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let Some(rec) = self.take(id) else {
                continue;
            };
            if matches!(
                self.active
                    .get(&rec.host)
                    .map(|h| h.probes[rec.probe as usize]),
                Some(PingProbe::Connect(_))
            ) {
                self.aborts.push_back(ProbeId(id));
            }
            self.expire(rec, now);
        }
        let wait = self.rtt.timeout() * 2;
        self.group.judge(now, wait);
    }

    fn expire(&mut self, rec: Out, now: Instant) {
        let allowed = match self.active.get(&rec.host) {
            Some(h) => self.tries_allowed(h.probes[rec.probe as usize]),
            None => return,
        };
        let Some(host) = self.active.get_mut(&rec.host) else {
            return;
        };
        let idx = rec.probe as usize;
        // Only the latest try of a probe decides whether to try again.
        if rec.try_idx + 1 == host.tries[idx] && !host.finished[idx] {
            if host.tries[idx] < allowed {
                host.retry.push_back(rec.probe);
                if !host.queued {
                    host.queued = true;
                    self.ready.push_back(rec.host);
                }
            } else {
                host.finished[idx] = true;
            }
        }
        if host.exhausted() {
            self.finish(rec.host, now, None);
        }
    }

    /// When the driver must call [`Discovery::handle_timeout`] next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((_, id))) = self.deadlines.peek() {
            if self.outstanding.contains_key(id) {
                break;
            }
            self.deadlines.pop();
        }
        while let Some(Reverse((_, id))) = self.presumptions.peek() {
            if self.outstanding.get(id).is_some_and(|o| !o.presumed_lost) {
                break;
            }
            self.presumptions.pop();
        }
        let mut next = self.deadlines.peek().map(|Reverse((t, _))| *t);
        for t in [
            self.presumptions.peek().map(|Reverse((t, _))| *t),
            self.rate.next_token_at().filter(|_| !self.ready.is_empty()),
        ]
        .into_iter()
        .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next
    }

    /// Stops discovery: outstanding probes are aborted and unfinished hosts
    /// dropped. Verdicts already queued stay.
    pub fn interrupt(&mut self) {
        let connect = self
            .cfg
            .probes
            .iter()
            .any(|p| matches!(p, PingProbe::Connect(_)));
        let ids: Vec<u64> = self.outstanding.drain().map(|(id, _)| id).collect();
        if connect {
            self.aborts.extend(ids.into_iter().map(ProbeId));
        }
        self.deadlines.clear();
        self.presumptions.clear();
        self.presumed_lost = 0;
        self.active.clear();
        self.by_addr.clear();
        self.ready.clear();
        self.source_done = true;
    }
}

struct Verdict {
    reason: Reason,
    ttl: Option<u8>,
    mac: Option<[u8; 6]>,
    rtt: Option<Duration>,
    probe: Option<PingProbe>,
}

/// The host's next probe: a retry first, else a fresh one.
fn pick(host: &mut Host) -> Option<(u8, u8)> {
    while let Some(idx) = host.retry.pop_front() {
        if !host.finished[idx as usize] {
            return Some((idx, host.tries[idx as usize]));
        }
    }
    let idx = host.next_fresh;
    if usize::from(idx) >= host.probes.len() {
        return None;
    }
    host.next_fresh += 1;
    Some((idx, 0))
}

/// The identifier and sequence number of an ICMP query: a keyed cookie of
/// the target and the query kind, with the try number in the low byte of
/// the sequence.
fn icmp_ids(key: (u64, u64), dst: IpAddr, kind: PingKind, try_idx: u8) -> (u16, u16) {
    let k = match kind {
        PingKind::Echo => 1,
        PingKind::Timestamp => 2,
        PingKind::AddressMask => 3,
    };
    let c = probe::cookie(key, dst, 0, k);
    ((c >> 16) as u16, (c & 0xff00) as u16 | u16::from(try_idx))
}
