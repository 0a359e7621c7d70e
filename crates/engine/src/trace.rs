//! Traceroute (`--traceroute`): the routers between us and each host, many
//! hosts at once, sans-IO like the rest of the engine.
//!
//! For each host the caller names a probe the host is known to answer (a
//! TCP SYN to an open port, a TCP ACK, a UDP probe, an ICMP echo). It is sent
//! with TTL 1, 2, ...: a router that drops it for its TTL answers ICMP time
//! exceeded (ICMPv4 type 11, ICMPv6 type 3) quoting it, and the host itself
//! answers as it always does (SYN-ACK or RST, echo reply, port unreachable
//! or a UDP reply). The trace of a host ends at the lowest TTL the host
//! answered, or where a router refused the probe with an ICMP unreachable,
//! or at [`TraceConfig::max_ttl`] when neither happened.
//!
//! When the caller knows the TTL of a reply from the host, its distance is
//! guessed as Nmap guesses it (initial TTL 64, 128 or 255, minus the
//! received TTL, plus one) and probing starts there, then fills the lower
//! TTLs; TTLs above the guess are probed only once the guess proved short
//! (a router or silence answered it). Without a guess TTLs go up from 1,
//! and up to a window of TTLs past the host may be sent before its answer
//! comes back. Several TTLs of a host are in flight at once (at most
//! [`TraceConfig::per_host`], and [`TraceConfig::max_in_flight`] over all
//! hosts). Each TTL is tried at most twice: once, and once more after
//! [`TraceConfig::timeout`] of silence; a TTL silent both times is a silent
//! hop. So a host costs at most `2 * max_ttl` probes.
//!
//! Which TTL a reply answers is read from the reply itself, without a
//! per-probe record: the TTL and try number ride in the source port (TCP,
//! UDP) or the ICMP sequence number, and a keyed SipHash of the scan's key
//! proves the probe ours: in the TCP sequence number (echoed in the
//! acknowledgement of a SYN-ACK or RST, quoted in ICMP errors), the ICMP
//! identifier (echoed and quoted), and the IPv4 identification, which ICMP
//! errors quote (checked for UDP probes, whose quoted 8 bytes hold nothing
//! else of ours, and for TCP quotes too short to hold the sequence number).
//! Replies that name a traced host but fail these checks are counted as
//! forged and dropped. A UDP reply from the host, like a UDP reply to a port
//! scan, carries nothing keyed: it is believed when it comes from the traced
//! host and port to one of our source ports.
//!
//! The hashes are domain-separated from the port scan's cookies, so replies
//! to the scan never pass for replies to the trace, even with the same key.

use crate::probe::ProbeKind;
use portolan_model::{Trace, TraceHop, TraceProto};
use portolan_wire::ping::{icmpv4_type, icmpv6_type, IcmpProbe, PingKind};
use portolan_wire::probe::{tcp_flags, TcpProbe, UdpProbe};
use portolan_wire::reply::{ipproto, parse_ip, quoted_ipv4_id, Quoted, Reply, ReplyBody};
use siphasher::sip::SipHasher13;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::Hasher;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Tries per TTL: the first send and one retransmission.
const TRIES: u8 = 2;

/// The longest wait for one probe, whatever the configuration says.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// The highest [`TraceConfig::max_ttl`] honoured.
pub const MAX_TTL_LIMIT: u8 = 64;

/// Source ports used by TCP and UDP trace probes:
/// `base_port ..= base_port + TRACE_PORTS - 1`, one per (TTL, try).
pub const TRACE_PORTS: u16 = MAX_TTL_LIMIT as u16 * TRIES as u16;

/// ICMPv4 time exceeded, code 0: TTL exceeded in transit (RFC 792).
const TIME_EXCEEDED_V4: u8 = 11;
/// ICMPv6 time exceeded, code 0: hop limit exceeded in transit (RFC 4443).
const TIME_EXCEEDED_V6: u8 = 3;
/// Destination unreachable (RFC 792, RFC 4443).
const UNREACH_V4: u8 = 3;
const UNREACH_V6: u8 = 1;
/// ICMPv4 unreachable code 4, fragmentation needed: says nothing of the route.
const FRAG_NEEDED: u8 = 4;

/// The probe a host is traced with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceMethod {
    /// TCP SYN to a port: SYN-ACK from an open one, RST from a closed one.
    Syn(u16),
    /// TCP ACK to a port: RST whether it is open or closed.
    Ack(u16),
    /// UDP to a port: port unreachable from a closed one, or the service's
    /// answer to `payload`.
    Udp { port: u16, payload: &'static [u8] },
    /// ICMP echo request (ICMPv6 to an IPv6 host).
    Echo,
    /// Nothing is sent: the host is on our own link, so its route is the
    /// host itself at TTL 1, with this round trip if one was measured
    /// (Nmap prints such a trace under a bare `TRACEROUTE` title).
    OnLink { rtt: Option<Duration> },
}

impl TraceMethod {
    /// Protocol and port, as the trace reports them.
    fn named(self) -> (Option<TraceProto>, Option<u16>) {
        match self {
            TraceMethod::Syn(port) | TraceMethod::Ack(port) => (Some(TraceProto::Tcp), Some(port)),
            TraceMethod::Udp { port, .. } => (Some(TraceProto::Udp), Some(port)),
            TraceMethod::Echo => (Some(TraceProto::Icmp), None),
            TraceMethod::OnLink { .. } => (None, None),
        }
    }

    fn tcp_port(self) -> Option<u16> {
        match self {
            TraceMethod::Syn(port) | TraceMethod::Ack(port) => Some(port),
            _ => None,
        }
    }
}

/// One host to trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceTarget {
    pub addr: IpAddr,
    pub method: TraceMethod,
    /// TTL (hop limit) of a packet the host sent us, to guess its distance.
    pub reply_ttl: Option<u8>,
    /// How long to wait for each probe to this host, in place of
    /// [`TraceConfig::timeout`] (e.g. the host's own retransmission timeout).
    pub timeout: Option<Duration>,
}

/// How to trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceConfig {
    /// Secret key of the probe hashes (the scan's key will do).
    pub key: (u64, u64),
    /// First of [`TRACE_PORTS`] consecutive source ports of TCP and UDP
    /// probes (moved down if the range would pass 65535); best kept apart
    /// from the ports the scan uses.
    pub base_port: u16,
    /// Highest TTL probed (Nmap: 30); capped at [`MAX_TTL_LIMIT`].
    pub max_ttl: u8,
    /// Silence after which a probe is sent again, then its TTL deemed silent.
    pub timeout: Duration,
    /// TTLs of one host in flight at once.
    pub per_host: usize,
    /// Probes in flight over all hosts.
    pub max_in_flight: usize,
}

impl TraceConfig {
    /// Nmap-like defaults: TTLs up to 30, 8 TTLs of a host at once, 256
    /// probes in flight, 1 s per try.
    pub fn new(key: (u64, u64), base_port: u16) -> TraceConfig {
        TraceConfig {
            key,
            base_port,
            max_ttl: 30,
            timeout: Duration::from_secs(1),
            per_host: 8,
            max_in_flight: 256,
        }
    }
}

/// One probe for the driver to send: `kind` to `dst` with this IPv4 TTL or
/// IPv6 hop limit, and this IPv4 identification (IPv6 has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceProbe {
    pub dst: IpAddr,
    pub ttl: u8,
    pub ip_id: u16,
    pub kind: ProbeKind,
}

/// Counters, for progress and debugging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Probes handed to the driver, retransmissions included.
    pub probes_sent: u64,
    pub retransmissions: u64,
    /// Replies that answered a probe still waited for.
    pub answers: u64,
    /// Second answers for a TTL already answered.
    pub duplicates: u64,
    /// Replies naming a traced host that failed the keyed checks, or that
    /// answer a probe never sent.
    pub forged: u64,
    /// Replies that answer nothing traced (or answer it too late).
    pub stray: u64,
    /// Packets that could not be parsed.
    pub malformed: u64,
    pub hosts_done: u64,
}

/// Where one TTL of a host stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Unsent,
    /// Sent; waiting for an answer to the latest try.
    Waiting,
    /// The first try timed out; the second is to be sent.
    RetryDue,
    Answered(IpAddr, Duration),
    /// No answer to either try.
    Silent,
    /// Above the end of the route: no longer waited for.
    Dropped,
}

impl Slot {
    fn pending(self) -> bool {
        matches!(self, Slot::Waiting | Slot::RetryDue)
    }

    fn resolved(self) -> bool {
        matches!(self, Slot::Answered(..) | Slot::Silent)
    }
}

/// Who answered a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// The traced host itself: the route ends here.
    Host,
    /// A router on the way (time exceeded).
    Router(IpAddr),
    /// A router that refused to forward (unreachable): the route ends here.
    Refuser(IpAddr),
}

/// A reply proven to answer the probe for (`host`, `ttl`, `try_idx`).
#[derive(Debug, Clone, Copy)]
struct Match {
    host: usize,
    ttl: u8,
    try_idx: u8,
    who: Who,
}

/// What a reply turned out to be.
enum Verdict {
    Ours(Match),
    Forged,
    Stray,
}

/// One host being traced.
#[derive(Debug)]
struct HostTrace {
    addr: IpAddr,
    method: TraceMethod,
    timeout: Duration,
    /// Index `ttl - 1`.
    slots: Vec<Slot>,
    /// When each try of each TTL left, index `ttl - 1`.
    sent: Vec<[Option<Instant>; TRIES as usize]>,
    /// TTLs in the order they are first sent.
    order: Vec<u8>,
    next: usize,
    /// The guessed distance: TTLs above it wait until it proves short.
    guess: Option<u8>,
    retries: VecDeque<u8>,
    in_flight: usize,
    /// The lowest TTL at which the route ended (host answer or refusal).
    end: Option<u8>,
    done: bool,
}

impl HostTrace {
    fn new(t: &TraceTarget, max_ttl: u8, default_timeout: Duration) -> HostTrace {
        let guess = t.reply_ttl.map(|ttl| guess_distance(ttl).clamp(1, max_ttl));
        let start = guess.unwrap_or(1);
        let order = (1..=start)
            .rev()
            .chain(start.saturating_add(1)..=max_ttl)
            .collect();
        let n = usize::from(max_ttl);
        HostTrace {
            addr: t.addr,
            method: t.method,
            timeout: t.timeout.unwrap_or(default_timeout).min(MAX_TIMEOUT),
            slots: vec![Slot::Unsent; n],
            sent: vec![[None; TRIES as usize]; n],
            order,
            next: 0,
            guess,
            retries: VecDeque::new(),
            in_flight: 0,
            end: None,
            done: false,
        }
    }

    fn slot(&self, ttl: u8) -> Option<Slot> {
        self.slots.get(usize::from(ttl).checked_sub(1)?).copied()
    }

    fn set(&mut self, ttl: u8, slot: Slot) {
        if let Some(s) = usize::from(ttl)
            .checked_sub(1)
            .and_then(|i| self.slots.get_mut(i))
        {
            *s = slot;
        }
    }

    fn limit(&self) -> u8 {
        self.end.unwrap_or(self.slots.len() as u8)
    }

    /// Whether TTLs above the guess may go out: there is no guess, or the
    /// guessed TTL was answered by a router or stayed silent.
    fn upward_open(&self) -> bool {
        match self.guess {
            None => true,
            Some(g) => {
                matches!(self.slot(g), Some(Slot::Silent | Slot::Answered(..)))
                    && self.end.is_none_or(|end| end > g)
            }
        }
    }

    /// The next TTL to send for the first time, if one may go now.
    fn next_fresh(&mut self) -> Option<u8> {
        while let Some(&ttl) = self.order.get(self.next) {
            if ttl > self.limit() || self.slot(ttl) != Some(Slot::Unsent) {
                self.next += 1;
                continue;
            }
            if self.guess.is_some_and(|g| ttl > g) && !self.upward_open() {
                return None;
            }
            return Some(ttl);
        }
        None
    }

    /// The next TTL whose second try is due, dropping stale entries.
    fn next_retry(&mut self) -> Option<u8> {
        while let Some(&ttl) = self.retries.front() {
            if self.slot(ttl) == Some(Slot::RetryDue) {
                return Some(ttl);
            }
            self.retries.pop_front();
        }
        None
    }

    fn complete(&self) -> bool {
        (1..=self.limit()).all(|ttl| self.slot(ttl).is_some_and(Slot::resolved))
    }

    /// The route ends at `ttl`: TTLs above it are no longer waited for.
    fn end_at(&mut self, ttl: u8) {
        if self.end.is_some_and(|end| end <= ttl) {
            return;
        }
        self.end = Some(ttl);
        for i in usize::from(ttl)..self.slots.len() {
            if self.slots[i].pending() {
                self.in_flight -= 1;
            }
            if !self.slots[i].resolved() {
                self.slots[i] = Slot::Dropped;
            }
        }
    }

    /// Frees the per-TTL state of a finished host: a large group keeps
    /// only a few bytes per host it has traced.
    fn release(&mut self) {
        self.slots = Vec::new();
        self.sent = Vec::new();
        self.order = Vec::new();
        self.retries = VecDeque::new();
    }

    fn trace(&self) -> Trace {
        let (proto, port) = self.method.named();
        let hops = (1..=self.limit())
            .map(|ttl| match self.slot(ttl) {
                Some(Slot::Answered(addr, rtt)) => TraceHop {
                    ttl,
                    addr: Some(addr),
                    rtt_us: Some(micros(rtt)),
                    host: None,
                },
                _ => TraceHop::silent(ttl),
            })
            .collect();
        Trace { proto, port, hops }
    }
}

/// The distance of a host whose packet arrived with `ttl`, assuming it
/// started at the nearest common initial TTL above (64, 128 or 255).
fn guess_distance(ttl: u8) -> u8 {
    let initial: u16 = match ttl {
        0..=64 => 64,
        65..=128 => 128,
        _ => 255,
    };
    u8::try_from(initial - u16::from(ttl) + 1).unwrap_or(u8::MAX)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The traceroute scheduler for a group of hosts.
#[derive(Debug)]
pub struct Tracer {
    cfg: TraceConfig,
    hosts: Vec<HostTrace>,
    by_addr: HashMap<IpAddr, usize>,
    /// Hosts in round-robin order; finished ones leave when their turn comes.
    rotation: VecDeque<usize>,
    /// Hosts still tracing.
    unfinished: usize,
    /// (deadline, host, ttl, try) of every probe sent.
    deadlines: BinaryHeap<Reverse<(Instant, usize, u8, u8)>>,
    in_flight: usize,
    events: VecDeque<(IpAddr, Trace)>,
    stats: TraceStats,
}

impl Tracer {
    /// Traces `hosts`. An address given twice is traced once, the first way
    /// it is given; hosts on our own link finish at once.
    pub fn new(cfg: TraceConfig, hosts: impl IntoIterator<Item = TraceTarget>) -> Tracer {
        let cfg = TraceConfig {
            max_ttl: cfg.max_ttl.clamp(1, MAX_TTL_LIMIT),
            base_port: cfg.base_port.clamp(1, u16::MAX - (TRACE_PORTS - 1)),
            per_host: cfg.per_host.max(1),
            max_in_flight: cfg.max_in_flight.max(1),
            ..cfg
        };
        let mut tracer = Tracer {
            cfg,
            hosts: Vec::new(),
            by_addr: HashMap::new(),
            rotation: VecDeque::new(),
            unfinished: 0,
            deadlines: BinaryHeap::new(),
            in_flight: 0,
            events: VecDeque::new(),
            stats: TraceStats::default(),
        };
        for t in hosts {
            tracer.add(&t);
        }
        tracer
    }

    fn add(&mut self, t: &TraceTarget) {
        if self.by_addr.contains_key(&t.addr) {
            return;
        }
        let idx = self.hosts.len();
        let mut host = HostTrace::new(t, self.cfg.max_ttl, self.cfg.timeout);
        self.by_addr.insert(t.addr, idx);
        if let TraceMethod::OnLink { rtt } = t.method {
            host.done = true;
            let hop = TraceHop {
                ttl: 1,
                addr: Some(t.addr),
                rtt_us: rtt.map(micros),
                host: None,
            };
            let trace = Trace {
                proto: None,
                port: None,
                hops: vec![hop],
            };
            self.events.push_back((t.addr, trace));
            self.stats.hosts_done += 1;
        } else {
            self.rotation.push_back(idx);
            self.unfinished += 1;
        }
        self.hosts.push(host);
    }

    pub fn stats(&self) -> TraceStats {
        self.stats
    }

    /// True once every host is traced and every event was taken.
    pub fn is_finished(&self) -> bool {
        self.unfinished == 0 && self.events.is_empty()
    }

    /// A finished host and its route.
    pub fn poll_event(&mut self) -> Option<(IpAddr, Trace)> {
        self.events.pop_front()
    }

    /// The next probe to send, or `None` until an answer or a timer.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<TraceProbe> {
        for _ in 0..self.rotation.len() {
            let idx = self.rotation.pop_front()?;
            if self.hosts.get(idx).is_none_or(|h| h.done) {
                continue;
            }
            self.rotation.push_back(idx);
            if let Some((ttl, try_idx)) = self.pick(idx) {
                return Some(self.send(idx, ttl, try_idx, now));
            }
        }
        None
    }

    /// What host `idx` may send now: a due retry first (it already holds
    /// its place in flight), else a fresh TTL if both windows have room.
    fn pick(&mut self, idx: usize) -> Option<(u8, u8)> {
        let room = self.in_flight < self.cfg.max_in_flight;
        let host = self.hosts.get_mut(idx)?;
        if let Some(ttl) = host.next_retry() {
            host.retries.pop_front();
            return Some((ttl, 1));
        }
        if !room || host.in_flight >= self.cfg.per_host {
            return None;
        }
        let ttl = host.next_fresh()?;
        host.next += 1;
        host.in_flight += 1;
        self.in_flight += 1;
        Some((ttl, 0))
    }

    fn send(&mut self, idx: usize, ttl: u8, try_idx: u8, now: Instant) -> TraceProbe {
        let host = &mut self.hosts[idx];
        host.set(ttl, Slot::Waiting);
        if let Some(sent) = host.sent.get_mut(usize::from(ttl) - 1) {
            sent[usize::from(try_idx)] = Some(now);
        }
        let deadline = now.checked_add(host.timeout).unwrap_or(now);
        self.deadlines.push(Reverse((deadline, idx, ttl, try_idx)));
        self.stats.probes_sent += 1;
        if try_idx > 0 {
            self.stats.retransmissions += 1;
        }
        let token = token(ttl, try_idx);
        let (dst, method) = (host.addr, host.method);
        TraceProbe {
            dst,
            ttl,
            ip_id: ip_id(self.cfg.key, dst, token),
            kind: self.probe_kind(dst, method, token),
        }
    }

    fn probe_kind(&self, dst: IpAddr, method: TraceMethod, token: u16) -> ProbeKind {
        let sport = self.cfg.base_port.wrapping_add(token);
        match method {
            TraceMethod::Syn(dport) | TraceMethod::Ack(dport) => {
                let c = tcp_cookie(self.cfg.key, dst, dport, sport);
                let syn = matches!(method, TraceMethod::Syn(_));
                ProbeKind::Tcp(TcpProbe {
                    sport,
                    dport,
                    seq: c,
                    ack: if syn { 0 } else { c },
                    flags: if syn { tcp_flags::SYN } else { tcp_flags::ACK },
                    window: 1024,
                    mss: syn,
                })
            }
            TraceMethod::Udp { port, payload } => ProbeKind::Udp(UdpProbe {
                sport,
                dport: port,
                payload,
            }),
            TraceMethod::Echo | TraceMethod::OnLink { .. } => {
                let (ident, seq_base) = icmp_ids(self.cfg.key, dst);
                ProbeKind::Icmp(IcmpProbe {
                    kind: PingKind::Echo,
                    ident,
                    seq: seq_base.wrapping_add(token),
                    payload: &[],
                })
            }
        }
    }

    /// A packet arrived (an IP packet, link header stripped). Malformed,
    /// unrelated, late and forged packets are counted and dropped.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        let reply = match parse_ip(packet) {
            Ok(reply) => reply,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        match self.judge(&reply, packet) {
            Verdict::Ours(m) => self.record(now, m),
            Verdict::Forged => self.stats.forged += 1,
            Verdict::Stray => self.stats.stray += 1,
        }
    }

    fn judge(&self, reply: &Reply, packet: &[u8]) -> Verdict {
        match reply.body {
            ReplyBody::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                ..
            } => self.judge_tcp(reply.src, (sport, dport), seq, ack, flags),
            ReplyBody::Udp { sport, dport, .. } => self.judge_udp(reply.src, sport, dport),
            ReplyBody::Icmp {
                v6,
                icmp_type,
                ident,
                seq,
                ..
            } => self.judge_echo_reply(reply.src, v6, icmp_type, ident, seq),
            ReplyBody::IcmpError {
                v6,
                icmp_type,
                code,
                quoted,
            } => self.judge_error(reply.src, (v6, icmp_type, code), &quoted, packet),
            ReplyBody::Other => Verdict::Stray,
        }
    }

    /// The traced host at `addr`, still tracing.
    fn active(&self, addr: IpAddr) -> Option<(usize, &HostTrace)> {
        let idx = *self.by_addr.get(&addr)?;
        let host = self.hosts.get(idx)?;
        (!host.done).then_some((idx, host))
    }

    /// TTL and try of the probe our source port `port` belongs to.
    fn probe_of_port(&self, port: u16) -> Option<(u8, u8)> {
        self.probe_of_token(port.wrapping_sub(self.cfg.base_port))
    }

    fn probe_of_token(&self, token: u16) -> Option<(u8, u8)> {
        let ttl = u8::try_from(token / u16::from(TRIES) + 1).ok()?;
        let try_idx = (token % u16::from(TRIES)) as u8;
        (ttl <= self.cfg.max_ttl).then_some((ttl, try_idx))
    }

    /// A SYN-ACK or RST from a host traced over TCP, to one of our ports.
    fn judge_tcp(&self, src: IpAddr, ports: (u16, u16), seq: u32, ack: u32, flags: u8) -> Verdict {
        let Some((idx, host)) = self.active(src) else {
            return Verdict::Stray;
        };
        let (sport, dport) = ports;
        let (Some(port), Some((ttl, try_idx))) =
            (host.method.tcp_port(), self.probe_of_port(dport))
        else {
            return Verdict::Stray;
        };
        if port != sport {
            return Verdict::Stray;
        }
        let c = tcp_cookie(self.cfg.key, src, port, dport);
        let syn_ack = tcp_flags::SYN | tcp_flags::ACK;
        let valid = if flags & tcp_flags::ACK != 0 {
            // A SYN takes one sequence number; an ACK probe's RST may
            // acknowledge nothing new.
            (flags & syn_ack == syn_ack || flags & tcp_flags::RST != 0) && ack.wrapping_sub(c) <= 1
        } else {
            flags & tcp_flags::RST != 0 && seq == c
        };
        if !valid {
            return Verdict::Forged;
        }
        Verdict::Ours(Match {
            host: idx,
            ttl,
            try_idx,
            who: Who::Host,
        })
    }

    /// A UDP reply from the traced host and port to one of our ports.
    fn judge_udp(&self, src: IpAddr, sport: u16, dport: u16) -> Verdict {
        let Some((idx, host)) = self.active(src) else {
            return Verdict::Stray;
        };
        match (host.method, self.probe_of_port(dport)) {
            (TraceMethod::Udp { port, .. }, Some((ttl, try_idx))) if port == sport => {
                Verdict::Ours(Match {
                    host: idx,
                    ttl,
                    try_idx,
                    who: Who::Host,
                })
            }
            _ => Verdict::Stray,
        }
    }

    /// An echo reply from a host traced with echo requests.
    fn judge_echo_reply(
        &self,
        src: IpAddr,
        v6: bool,
        icmp_type: u8,
        ident: u16,
        seq: u16,
    ) -> Verdict {
        let echo_reply = if v6 {
            icmpv6_type::ECHO_REPLY
        } else {
            icmpv4_type::ECHO_REPLY
        };
        let Some((idx, host)) = self.active(src) else {
            return Verdict::Stray;
        };
        if icmp_type != echo_reply || host.method != TraceMethod::Echo {
            return Verdict::Stray;
        }
        self.judge_echo_ids(idx, src, ident, seq, Who::Host)
    }

    /// Checks the keyed identifier and reads the TTL from the sequence number.
    fn judge_echo_ids(&self, idx: usize, dst: IpAddr, ident: u16, seq: u16, who: Who) -> Verdict {
        let (want, seq_base) = icmp_ids(self.cfg.key, dst);
        if ident != want {
            // Another program's ping: the identifier is the only namespace.
            return Verdict::Stray;
        }
        match self.probe_of_token(seq.wrapping_sub(seq_base)) {
            Some((ttl, try_idx)) => Verdict::Ours(Match {
                host: idx,
                ttl,
                try_idx,
                who,
            }),
            None => Verdict::Forged,
        }
    }

    /// An ICMP error quoting one of our probes: time exceeded from a router,
    /// unreachable from the host (it answered) or from a router (it refused).
    fn judge_error(
        &self,
        src: IpAddr,
        icmp: (bool, u8, u8),
        quoted: &Quoted,
        packet: &[u8],
    ) -> Verdict {
        let Some((idx, host)) = self.active(quoted.dst) else {
            return Verdict::Stray;
        };
        let (v6, icmp_type, code) = icmp;
        let who = match (v6, icmp_type, code) {
            (false, TIME_EXCEEDED_V4, 0) | (true, TIME_EXCEEDED_V6, 0) => Who::Router(src),
            (false, UNREACH_V4, FRAG_NEEDED) => return Verdict::Stray,
            (false, UNREACH_V4, _) | (true, UNREACH_V6, _) if src == host.addr => Who::Host,
            (false, UNREACH_V4, _) | (true, UNREACH_V6, _) => Who::Refuser(src),
            _ => return Verdict::Stray,
        };
        match (host.method, quoted.protocol) {
            (TraceMethod::Syn(port) | TraceMethod::Ack(port), ipproto::TCP) => {
                self.judge_quoted_tcp(idx, port, quoted, packet, who)
            }
            (TraceMethod::Udp { port, .. }, ipproto::UDP) => {
                self.judge_quoted_udp(idx, port, quoted, packet, who)
            }
            (TraceMethod::Echo, ipproto::ICMP | ipproto::ICMPV6) => {
                self.judge_echo_ids(idx, quoted.dst, quoted.sport, quoted.dport, who)
            }
            _ => Verdict::Stray,
        }
    }

    fn judge_quoted_tcp(
        &self,
        idx: usize,
        port: u16,
        q: &Quoted,
        packet: &[u8],
        who: Who,
    ) -> Verdict {
        let Some((ttl, try_idx)) = self.probe_of_port(q.sport).filter(|_| q.dport == port) else {
            return Verdict::Stray;
        };
        let valid = match q.tcp_seq {
            Some(seq) => seq == tcp_cookie(self.cfg.key, q.dst, port, q.sport),
            None => self.quoted_id_matches(packet, q.dst, token(ttl, try_idx)),
        };
        self.verdict(valid, idx, ttl, try_idx, who)
    }

    fn judge_quoted_udp(
        &self,
        idx: usize,
        port: u16,
        q: &Quoted,
        packet: &[u8],
        who: Who,
    ) -> Verdict {
        let Some((ttl, try_idx)) = self.probe_of_port(q.sport).filter(|_| q.dport == port) else {
            return Verdict::Stray;
        };
        let valid = q.dst.is_ipv6() || self.quoted_id_matches(packet, q.dst, token(ttl, try_idx));
        self.verdict(valid, idx, ttl, try_idx, who)
    }

    fn verdict(&self, valid: bool, host: usize, ttl: u8, try_idx: u8, who: Who) -> Verdict {
        if !valid {
            return Verdict::Forged;
        }
        Verdict::Ours(Match {
            host,
            ttl,
            try_idx,
            who,
        })
    }

    /// Whether an ICMPv4 error quotes the identification our probe carried.
    fn quoted_id_matches(&self, packet: &[u8], dst: IpAddr, token: u16) -> bool {
        !dst.is_ipv6() && quoted_ipv4_id(packet) == Some(ip_id(self.cfg.key, dst, token))
    }

    /// Applies a proven answer to its host.
    fn record(&mut self, now: Instant, m: Match) {
        let Some(host) = self.hosts.get_mut(m.host) else {
            return;
        };
        let i = usize::from(m.ttl) - 1;
        let sent_at = host.sent.get(i).and_then(|s| s[usize::from(m.try_idx)]);
        let (Some(slot), Some(sent_at)) = (host.slot(m.ttl), sent_at) else {
            // Nothing was sent with this TTL and try: someone guessed.
            self.stats.forged += 1;
            return;
        };
        match slot {
            Slot::Answered(..) => {
                self.stats.duplicates += 1;
                return;
            }
            Slot::Dropped | Slot::Unsent => {
                self.stats.stray += 1;
                return;
            }
            Slot::Waiting | Slot::RetryDue => {
                host.in_flight -= 1;
                self.in_flight -= 1;
            }
            Slot::Silent => {}
        }
        self.stats.answers += 1;
        let addr = match m.who {
            Who::Host => host.addr,
            Who::Router(addr) | Who::Refuser(addr) => addr,
        };
        host.set(
            m.ttl,
            Slot::Answered(addr, now.saturating_duration_since(sent_at)),
        );
        if matches!(m.who, Who::Host | Who::Refuser(_)) {
            let before = host.in_flight;
            host.end_at(m.ttl);
            self.in_flight -= before - host.in_flight;
        }
        self.finish_if_complete(m.host);
    }

    /// Retransmits probes whose first try timed out; gives up on second tries.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, idx, ttl, try_idx))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            if !self.is_live(idx, ttl, try_idx) {
                continue;
            }
            let host = &mut self.hosts[idx];
            if try_idx + 1 < TRIES {
                host.set(ttl, Slot::RetryDue);
                host.retries.push_back(ttl);
            } else {
                host.set(ttl, Slot::Silent);
                host.in_flight -= 1;
                self.in_flight -= 1;
                self.finish_if_complete(idx);
            }
        }
    }

    /// Whether a deadline still guards the latest try of a TTL waited for.
    fn is_live(&self, idx: usize, ttl: u8, try_idx: u8) -> bool {
        let Some(host) = self.hosts.get(idx).filter(|h| !h.done) else {
            return false;
        };
        let latest = host
            .sent
            .get(usize::from(ttl) - 1)
            .and_then(|s| s.iter().rposition(Option::is_some));
        host.slot(ttl) == Some(Slot::Waiting) && latest == Some(usize::from(try_idx))
    }

    /// When `handle_timeout` should next run, if a probe is in flight.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, idx, ttl, try_idx))) = self.deadlines.peek() {
            if self.is_live(idx, ttl, try_idx) {
                return Some(at);
            }
            self.deadlines.pop();
        }
        None
    }

    fn finish_if_complete(&mut self, idx: usize) {
        let Some(host) = self.hosts.get_mut(idx) else {
            return;
        };
        if host.done || !host.complete() {
            return;
        }
        host.done = true;
        self.in_flight -= host.in_flight;
        host.in_flight = 0;
        self.events.push_back((host.addr, host.trace()));
        host.release();
        self.unfinished -= 1;
        self.stats.hosts_done += 1;
    }
}

/// The 16-bit number that names one try of one TTL.
fn token(ttl: u8, try_idx: u8) -> u16 {
    (u16::from(ttl) - 1) * u16::from(TRIES) + u16::from(try_idx)
}

/// A keyed hash, domain-separated from the port scan's cookies.
fn keyed(key: (u64, u64), domain: &[u8], dst: IpAddr, words: &[u16]) -> u64 {
    let mut h = SipHasher13::new_with_keys(key.0, key.1);
    h.write(b"portolan-trace/");
    h.write(domain);
    match dst {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
    for w in words {
        h.write_u16(*w);
    }
    h.finish()
}

/// The sequence number of a TCP probe (and its acknowledgement, for ACK probes).
fn tcp_cookie(key: (u64, u64), dst: IpAddr, dport: u16, sport: u16) -> u32 {
    keyed(key, b"tcp", dst, &[dport, sport]) as u32
}

/// The IPv4 identification of a probe.
fn ip_id(key: (u64, u64), dst: IpAddr, token: u16) -> u16 {
    keyed(key, b"ip-id", dst, &[token]) as u16
}

/// The ICMP identifier of echo probes to `dst`, and the sequence number of
/// token 0.
fn icmp_ids(key: (u64, u64), dst: IpAddr) -> (u16, u16) {
    let h = keyed(key, b"icmp", dst, &[]);
    ((h >> 16) as u16, h as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_guessed_from_the_nearest_initial_ttl_above() {
        assert_eq!(guess_distance(64), 1);
        assert_eq!(guess_distance(62), 3);
        assert_eq!(guess_distance(120), 9);
        assert_eq!(guess_distance(250), 6);
        assert_eq!(guess_distance(0), 65);
    }

    #[test]
    fn tokens_name_each_try_of_each_ttl_once() {
        let tracer = Tracer::new(TraceConfig::new((1, 2), 50_000), []);
        let mut seen = std::collections::HashSet::new();
        for ttl in 1..=30 {
            for try_idx in 0..TRIES {
                let t = token(ttl, try_idx);
                assert!(t < TRACE_PORTS && seen.insert(t));
                assert_eq!(tracer.probe_of_token(t), Some((ttl, try_idx)));
            }
        }
        assert_eq!(tracer.probe_of_token(token(31, 0)), None, "above max_ttl");
        assert_eq!(tracer.probe_of_port(49_999), None, "below the base port");
    }

    #[test]
    fn the_guess_goes_first_then_lower_ttls_and_upward_ones_wait() {
        let t = TraceTarget {
            addr: "198.18.1.14".parse().unwrap(),
            method: TraceMethod::Echo,
            reply_ttl: Some(61),
            timeout: None,
        };
        let mut host = HostTrace::new(&t, 30, Duration::from_secs(1));
        assert_eq!(host.guess, Some(4));
        assert_eq!(&host.order[..6], &[4, 3, 2, 1, 5, 6]);
        host.next = 4;
        assert_eq!(host.next_fresh(), None, "TTL 5 waits on the guess");
        host.set(
            4,
            Slot::Answered("198.18.9.1".parse().unwrap(), Duration::ZERO),
        );
        assert_eq!(host.next_fresh(), Some(5), "a router at the guess: go on");
        host.end = Some(4);
        assert_eq!(host.next_fresh(), None, "the host answered at the guess");
    }

    #[test]
    fn the_port_range_never_passes_65535_nor_starts_at_0() {
        for (asked, used) in [(65_500, 65_535 - 127), (0, 1), (40_000, 40_000)] {
            let tracer = Tracer::new(TraceConfig::new((1, 2), asked), []);
            assert_eq!(tracer.cfg.base_port, used);
        }
    }

    #[test]
    fn hashes_depend_on_key_and_destination_and_differ_from_the_scans() {
        let a: IpAddr = "198.18.0.1".parse().unwrap();
        let b: IpAddr = "198.18.0.2".parse().unwrap();
        assert_ne!(tcp_cookie((1, 2), a, 80, 1), tcp_cookie((1, 3), a, 80, 1));
        assert_ne!(tcp_cookie((1, 2), a, 80, 1), tcp_cookie((1, 2), b, 80, 1));
        assert_ne!(
            tcp_cookie((1, 2), a, 80, 1),
            crate::probe::cookie((1, 2), a, 80, 1)
        );
        assert_ne!(icmp_ids((1, 2), a), icmp_ids((1, 2), b));
    }
}
