//! The scan scheduler: which probe goes next, when a probe has timed out,
//! when to retransmit, and when a host is finished.
//!
//! Transport-neutral: a probe is "try slot S of host H", where a slot is a
//! (protocol, port) pair. For a connect scan the driver carries it out with
//! `connect()` and reports an [`Outcome`]; for a raw scan the engine describes
//! the packet ([`ProbeSpec`]) and the driver hands back whatever arrives
//! ([`Scan::handle_packet`]), which the engine validates statelessly (see
//! [`crate::probe`]). State kept: per active host, one try counter and one
//! result per slot; per outstanding probe, one small record. Hosts are pulled
//! from the target iterator only as slots free up, so memory does not grow
//! with the target count.

use crate::host::{has_room, HostScan, Outstanding, PingRank, Settled};
use crate::probe::{self, Answer, AnswerKind, ProbeKind, ProbeSpec, RawConfig, TRY_PORTS};
use crate::rate::RateLimiter;
use crate::timing::{RttEstimator, TimingParams, Window};
use portolan_model::{HostTimes, PortResult, PortState, Protocol, Reason};
use portolan_targets::Target;
use portolan_wire::probe::{TcpProbe, UdpProbe};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Identifies one probe (one try of one port) for the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeId(pub u64);

/// What the driver must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmit {
    /// Start a TCP connection attempt to `addr`.
    Connect { probe: ProbeId, addr: SocketAddr },
    /// Give up on a probe: release whatever the driver holds for it.
    Abort { probe: ProbeId },
    /// Build and send this raw packet (nothing to release later).
    Probe(ProbeSpec),
}

/// What became of a connect probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The handshake completed.
    Open,
    /// The target answered with a reset.
    Refused,
    /// An ICMP error came back; the reason says which.
    Unreachable(Reason),
    /// The probe never left this machine (out of sockets, buffers or local
    /// ports). It is queued again without counting as a try, and the engine
    /// lowers its parallelism to what the machine could hold.
    NotSent,
}

/// A host the engine has finished with.
#[derive(Debug, Clone, PartialEq)]
pub struct HostOutcome {
    pub target: Target,
    pub started: Instant,
    pub finished: Instant,
    /// Every slot of the scan for this host, TCP then UDP, each ascending,
    /// without service names.
    pub ports: Vec<PortResult>,
    pub times: HostTimes,
    pub timed_out: bool,
    /// The host answered SYN-ACK on (nearly) every TCP port probed: a SYN
    /// proxy or tarpit, whose "open" ports say nothing.
    pub answers_every_port: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScanEvent {
    HostDone(Box<HostOutcome>),
}

/// Counters for progress reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub probes_sent: u64,
    pub retransmissions: u64,
    /// Probes to ports known to answer, sent to tell an outage from a filter.
    pub pings: u64,
    pub answers: u64,
    /// Answers to probes already given up on or never sent, or replies that
    /// match no scanned host and port: counted and ignored.
    pub stray_answers: u64,
    /// Second answers for a port already settled.
    pub duplicates: u64,
    /// Replies that named a scanned host and port but failed the cookie check.
    pub forged: u64,
    /// Packets that could not be parsed.
    pub malformed: u64,
    pub hosts_done: u64,
    /// Ports settled, over finished and active hosts.
    pub ports_settled: u64,
}

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub timing: TimingParams,
    pub min_rate: Option<f64>,
    pub max_rate: Option<f64>,
    pub seed: u64,
    /// TCP ports, ascending and deduplicated.
    pub tcp_ports: Vec<u16>,
    /// UDP ports, ascending and deduplicated (raw scans only).
    pub udp_ports: Vec<u16>,
    /// Raw-packet settings; `None` for a connect scan.
    pub raw: Option<RawConfig>,
}

/// A host answering SYN-ACK on at least this share of at least
/// [`PROXY_MIN_PORTS`] TCP ports is reported as answering every port.
const PROXY_SHARE: f64 = 0.9;
const PROXY_MIN_PORTS: usize = 100;
/// Fresh ports looked at per send attempt when UDP pacing holds some back.
const PICK_SPAN: usize = 8;

/// The scheduler for one scan over many hosts and one port list.
pub struct Scan {
    cfg: ScanConfig,
    hosts: Box<dyn Iterator<Item = Target> + Send>,
    source_done: bool,
    active: HashMap<u32, HostScan>,
    by_addr: HashMap<IpAddr, u32>,
    rotation: VecDeque<u32>,
    next_host_key: u32,
    outstanding: HashMap<u64, Outstanding>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    /// When each outstanding probe is to be presumed lost.
    presumptions: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Outstanding probes presumed lost, over all hosts.
    presumed_lost: usize,
    aborts: VecDeque<ProbeId>,
    events: VecDeque<ScanEvent>,
    group: Window,
    group_rtt: RttEstimator,
    parallel_cap: usize,
    rate: RateLimiter,
    next_probe: u64,
    progress: Progress,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("active", &self.active.len())
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl Scan {
    /// A scan of `hosts` (pulled lazily) on the configured ports.
    pub fn new(cfg: ScanConfig, hosts: Box<dyn Iterator<Item = Target> + Send>) -> Scan {
        let t = &cfg.timing;
        let group = Window::new(
            t.initial_cwnd * 4.0,
            t.max_parallelism as f64,
            t.max_parallelism as f64,
        );
        Scan {
            group,
            group_rtt: RttEstimator::new(t.initial_rtt_timeout),
            parallel_cap: t.max_parallelism.max(1),
            rate: RateLimiter::new(cfg.min_rate, cfg.max_rate),
            cfg,
            hosts,
            source_done: false,
            active: HashMap::new(),
            by_addr: HashMap::new(),
            rotation: VecDeque::new(),
            next_host_key: 0,
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

    /// Counts a packet the driver could not make sense of.
    pub fn note_malformed(&mut self) {
        self.progress.malformed += 1;
    }

    /// True once every host is finished and every event was taken.
    pub fn is_finished(&self) -> bool {
        self.source_done
            && self.active.is_empty()
            && self.events.is_empty()
            && self.aborts.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<ScanEvent> {
        self.events.pop_front()
    }

    fn slot_count(&self) -> usize {
        self.cfg.tcp_ports.len() + self.cfg.udp_ports.len()
    }

    fn slot(&self, idx: u32) -> (Protocol, u16) {
        let i = idx as usize;
        let tcp = &self.cfg.tcp_ports;
        match tcp.get(i) {
            Some(&p) => (Protocol::Tcp, p),
            None => (Protocol::Udp, self.cfg.udp_ports[i - tcp.len()]),
        }
    }

    fn slot_of(&self, proto: Protocol, port: u16) -> Option<u32> {
        let tcp = self.cfg.tcp_ports.len();
        let idx = match proto {
            Protocol::Tcp => self.cfg.tcp_ports.binary_search(&port).ok()?,
            Protocol::Udp => tcp + self.cfg.udp_ports.binary_search(&port).ok()?,
        };
        Some(idx as u32)
    }

    /// The next thing the driver must do, or `None` until a timer or an answer.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let Some(probe) = self.aborts.pop_front() {
            return Some(Transmit::Abort { probe });
        }
        self.refill(now);
        if !self.may_send_now(now) {
            return None;
        }
        for _ in 0..self.rotation.len() {
            let key = *self.rotation.front()?;
            self.rotation.rotate_left(1);
            if let Some(t) = self.try_send(key, now) {
                return Some(t);
            }
        }
        None
    }

    fn may_send_now(&mut self, now: Instant) -> bool {
        let in_flight = self.outstanding.len();
        if in_flight >= self.parallel_cap {
            return false;
        }
        if !self.rate.may_send(now) {
            return false;
        }
        let floor = self.cfg.timing.min_parallelism;
        let group_open = has_room(in_flight, self.presumed_lost, self.group.allowed());
        in_flight < floor || group_open || self.rate.below_min_rate(now)
    }

    /// Takes an outstanding probe out of the books, with its presumption.
    fn take_outstanding(&mut self, id: u64) -> Option<Outstanding> {
        let rec = self.outstanding.remove(&id)?;
        if rec.presumed_lost {
            self.presumed_lost -= 1;
            if let Some(h) = self.active.get_mut(&rec.host) {
                h.presumed_lost -= 1;
            }
        }
        Some(rec)
    }

    /// Marks probes outstanding well past their host's round trip as
    /// presumed lost, freeing their places in the windows.
    fn presume_losses(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.presumptions.peek().copied() {
            if at > now {
                break;
            }
            self.presumptions.pop();
            let Some(rec) = self.outstanding.get_mut(&id) else {
                continue;
            };
            let Some(h) = self.active.get_mut(&rec.host) else {
                continue;
            };
            rec.presumed_lost = true;
            h.presumed_lost += 1;
            self.presumed_lost += 1;
        }
    }

    fn refill(&mut self, now: Instant) {
        while !self.source_done && self.active.len() < self.cfg.timing.max_hostgroup.max(1) {
            match self.hosts.next() {
                Some(target) => self.start_host(target, now),
                None => self.source_done = true,
            }
        }
    }

    fn start_host(&mut self, target: Target, now: Instant) {
        let key = self.next_host_key;
        self.next_host_key = self.next_host_key.wrapping_add(1);
        let n = self.slot_count();
        let t = &self.cfg.timing;
        let seed = self.cfg.seed ^ u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.by_addr.entry(target.addr).or_insert(key);
        let mut host = HostScan::new(target, n, seed, now, t);
        // New hosts inherit what the group learnt about round trips.
        if let Some(srtt) = self.group_rtt.srtt() {
            host.rtt.sample(srtt, t);
        }
        self.active.insert(key, host);
        self.rotation.push_back(key);
        if n == 0 {
            self.finish_host(key, now, false);
        }
    }

    /// Picks the host's next slot: retries first; then a ping vouching for
    /// them (its answer proves the path worked after they left); then fresh
    /// ports. Slots held back by UDP pacing wait in the retry queue.
    fn pick(&mut self, key: u32, now: Instant) -> Option<(u32, bool)> {
        let n_slots = self.slot_count() as u64;
        let tcp_len = self.cfg.tcp_ports.len();
        let host = self.active.get_mut(&key)?;
        // A UDP retry under pacing waits for a full refill after the
        // previous UDP probe (a strong try), and holds other UDP probes
        // back meanwhile.
        if let Some(gap) = host.pacer.strong_gap() {
            let waiting = host
                .retry
                .iter()
                .any(|&s| s as usize >= tcp_len && host.paced_tries[s as usize] > 0);
            if waiting {
                let at = host.last_udp_at.map_or(now, |t| t + gap);
                host.udp_next_at = Some(host.udp_next_at.map_or(at, |u| u.max(at)));
            }
        }
        let gated = |h: &HostScan, slot: u32| {
            slot as usize >= tcp_len && h.udp_next_at.is_some_and(|t| t > now)
        };
        for _ in 0..host.retry.len() {
            let slot = host.retry.pop_front()?;
            if host.results[slot as usize].is_some() {
                continue;
            }
            if !gated(host, slot) {
                return Some((slot, false));
            }
            host.retry.push_back(slot);
        }
        if let Some((slot, _)) = host
            .ping_port
            .filter(|_| host.ping_wanted && !host.ping_out)
        {
            if !gated(host, slot) {
                return Some((slot, true));
            }
        }
        for _ in 0..PICK_SPAN {
            if host.next_fresh >= n_slots {
                return None;
            }
            let slot = host.order.nth(host.next_fresh).unwrap_or(host.next_fresh) as u32;
            host.next_fresh += 1;
            if !gated(host, slot) {
                return Some((slot, false));
            }
            host.retry.push_back(slot);
        }
        None
    }

    fn try_send(&mut self, key: u32, now: Instant) -> Option<Transmit> {
        // --min-rate and --min-parallelism override the windows, as in Nmap.
        let bypass = self.rate.below_min_rate(now)
            || self.outstanding.len() < self.cfg.timing.min_parallelism;
        let host = self.active.get(&key)?;
        if host.next_send_at.is_some_and(|t| t > now) {
            return None;
        }
        if !bypass && !host.window_open() {
            return None;
        }
        let (slot, ping) = self.pick(key, now)?;
        let udp = slot as usize >= self.cfg.tcp_ports.len();
        let delay = self.cfg.timing.scan_delay;
        let host = self.active.get_mut(&key)?;
        let try_idx = if ping {
            host.ping_wanted = false;
            host.ping_out = true;
            0
        } else {
            let t = host.tries[slot as usize];
            host.tries[slot as usize] = t.saturating_add(1);
            t
        };
        host.in_flight += 1;
        if !delay.is_zero() {
            host.next_send_at = Some(now + delay);
        }
        let paced = udp && host.pacer.interval().is_some();
        // A retry after a paced silence waited out the strong gap (pick()
        // made sure of it).
        let strong = paced
            && !ping
            && host.paced_tries[slot as usize] > 0
            && host.pacer.strong_gap().is_some();
        if paced && !ping {
            let n = &mut host.paced_tries[slot as usize];
            *n = n.saturating_add(1);
        }
        if udp {
            host.last_udp_at = Some(now);
        }
        if let Some(gap) = host.pacer.interval().filter(|_| udp) {
            host.udp_next_at = Some(now + gap.max(delay));
        }
        let timeout = host.probe_timeout(&self.cfg.timing);
        // A silent UDP probe is most often a rationed ICMP error or an
        // open|filtered port, not a loss: it keeps its place in the window.
        let presume = host.presume_after(timeout).filter(|_| !udp);
        let dst = host.target.addr;
        let id = self.next_probe;
        self.next_probe += 1;
        if self.cfg.raw.is_some() {
            host.out.insert(slot, id);
        }
        let rec = Outstanding {
            host: key,
            slot,
            try_idx,
            sent: now,
            order: id,
            ping,
            paced,
            strong,
            presumed_lost: false,
        };
        self.outstanding.insert(id, rec);
        self.deadlines.push(Reverse((now + timeout, id)));
        if let Some(after) = presume {
            self.presumptions.push(Reverse((now + after, id)));
        }
        if try_idx == 0 && !ping {
            let host = self.active.get_mut(&key)?;
            host.first_sent[slot as usize] = id;
            host.window.on_first_try(now, id);
            self.group.on_first_try(now, id);
        }
        self.count_send(&rec);
        self.rate.on_send(now);
        Some(self.transmit(ProbeId(id), dst, slot, try_idx))
    }

    fn count_send(&mut self, rec: &Outstanding) {
        self.progress.probes_sent += 1;
        if rec.ping {
            self.progress.pings += 1;
        } else if rec.try_idx > 0 {
            self.progress.retransmissions += 1;
        }
    }

    fn transmit(&self, probe: ProbeId, dst: IpAddr, slot: u32, try_idx: u8) -> Transmit {
        let (proto, dport) = self.slot(slot);
        let Some(raw) = self.cfg.raw else {
            return Transmit::Connect {
                probe,
                addr: SocketAddr::new(dst, dport),
            };
        };
        let sport = raw.base_port + u16::from(try_idx) % TRY_PORTS;
        let kind = match (proto, raw.tcp) {
            (Protocol::Tcp, Some(tcp)) => {
                let seq = probe::cookie(raw.key, dst, dport, sport);
                ProbeKind::Tcp(TcpProbe {
                    sport,
                    dport,
                    seq,
                    ack: probe::ack_for(tcp.flags, seq),
                    flags: tcp.flags,
                    window: 1024,
                    mss: tcp.flags & probe::flags::SYN != 0,
                })
            }
            _ => ProbeKind::Udp(UdpProbe {
                sport,
                dport,
                payload: crate::payloads::udp_payload(dport),
            }),
        };
        Transmit::Probe(ProbeSpec { dst, kind })
    }

    /// A connect probe's fate is known. Answers for unknown probes are counted and dropped.
    pub fn handle_outcome(&mut self, now: Instant, probe: ProbeId, outcome: Outcome) {
        let Some(rec) = self.take_outstanding(probe.0) else {
            self.progress.stray_answers += 1;
            return;
        };
        let Some(host) = self.active.get_mut(&rec.host) else {
            return;
        };
        host.in_flight -= 1;
        let (state, reason) = match outcome {
            Outcome::NotSent => return self.not_sent(rec),
            Outcome::Open => (PortState::Open, Reason::SynAck),
            Outcome::Refused => (PortState::Closed, Reason::ConnRefused),
            Outcome::Unreachable(reason) => (PortState::Filtered, reason),
        };
        let s = Settled {
            state,
            reason,
            ttl: None,
        };
        self.answer(rec, rec.try_idx, s, now);
    }

    fn not_sent(&mut self, rec: Outstanding) {
        let Some(host) = self.active.get_mut(&rec.host) else {
            return;
        };
        if rec.ping {
            host.ping_out = false;
        } else {
            host.tries[rec.slot as usize] -= 1;
            host.retry.push_front(rec.slot);
        }
        self.progress.probes_sent -= 1;
        let cap = self.outstanding.len().max(1);
        self.parallel_cap = self.parallel_cap.min(cap);
    }

    /// A packet arrived (an IP packet, link header stripped). Malformed,
    /// unrelated and forged packets are counted and dropped.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        match portolan_wire::reply::parse_ip(packet) {
            Ok(reply) => match crate::answer::from_reply(&reply) {
                Some(a) => self.handle_answer(now, &a),
                None => self.progress.stray_answers += 1,
            },
            Err(_) => self.progress.malformed += 1,
        }
    }

    /// A reply to a raw probe, already parsed.
    pub fn handle_answer(&mut self, now: Instant, a: &Answer) {
        let Some(raw) = self.cfg.raw else {
            self.progress.stray_answers += 1;
            return;
        };
        let found = self
            .by_addr
            .get(&a.host)
            .copied()
            .zip(self.slot_of(a.protocol, a.port));
        let try_idx = a.our_port.wrapping_sub(raw.base_port);
        let Some((key, slot)) = found.filter(|_| try_idx < TRY_PORTS) else {
            self.progress.stray_answers += 1;
            return;
        };
        if !probe::valid(raw.key, a) {
            self.progress.forged += 1;
            return;
        }
        let Some((state, reason)) = probe::classify(raw.tcp, a) else {
            self.progress.stray_answers += 1;
            return;
        };
        let s = Settled {
            state,
            reason,
            ttl: Some(a.ttl),
        };
        let icmp = matches!(a.kind, AnswerKind::Unreach { .. });
        self.raw_answer(key, slot, try_idx as u8, s, icmp, now);
    }

    fn raw_answer(
        &mut self,
        key: u32,
        slot: u32,
        answered: u8,
        s: Settled,
        icmp: bool,
        now: Instant,
    ) {
        let Some(host) = self.active.get_mut(&key) else {
            return;
        };
        let rec = host
            .out
            .remove(&slot)
            .and_then(|id| self.take_outstanding(id));
        let Some(rec) = rec else {
            return self.late_answer(key, slot, s, now);
        };
        let Some(host) = self.active.get_mut(&key) else {
            return;
        };
        host.in_flight -= 1;
        if icmp {
            host.note_icmp(now, &rec, answered);
        }
        // A ping's answer says nothing of the try number: it answered the ping.
        let current = rec.ping || answered == rec.try_idx;
        let answered = if rec.ping { 0 } else { answered };
        self.answer(rec, answered, s, now);
        // Only an answer to the latest try dates the host's allowance.
        if icmp && current {
            self.release_parked(key, rec.order, now);
        }
    }

    /// An answer to a try that had already timed out (its retry may be queued).
    fn late_answer(&mut self, key: u32, slot: u32, s: Settled, now: Instant) {
        let settled = self
            .active
            .get(&key)
            .is_some_and(|h| h.results[slot as usize].is_some());
        if settled {
            self.progress.duplicates += 1;
            return;
        }
        self.progress.answers += 1;
        self.settle(key, slot as usize, s, now);
    }

    /// Books an answer that try `answered` of `rec`'s slot drew.
    fn answer(&mut self, rec: Outstanding, answered: u8, s: Settled, now: Instant) {
        let udp = rec.slot as usize >= self.cfg.tcp_ports.len();
        let Some(host) = self.active.get_mut(&rec.host) else {
            return;
        };
        self.progress.answers += 1;
        // Karn: only an answer to the latest try times the round trip.
        if answered == rec.try_idx {
            let rtt = now.saturating_duration_since(rec.sent);
            host.rtt.sample(rtt, &self.cfg.timing);
            self.group_rtt.sample(rtt, &self.cfg.timing);
        }
        host.note_answer(&rec, answered, ping_rank(udp, s.reason));
        if rec.ping {
            self.maybe_finish(rec.host, now);
            return;
        }
        // A closed UDP port answering only a retransmission, on a host that
        // rations its ICMP errors, shows the limit, not a congested path.
        let rationed = udp && s.reason == Reason::PortUnreach && host.pacer.suspected();
        let lost = answered > 0 && !rationed;
        let first = host.first_sent[rec.slot as usize];
        host.window.on_answer(first, lost);
        self.group.on_answer(first, lost);
        self.settle(rec.host, rec.slot as usize, s, now);
    }

    fn settle(&mut self, key: u32, idx: usize, s: Settled, now: Instant) {
        let Some(host) = self.active.get_mut(&key) else {
            return;
        };
        if host.results[idx].is_none() {
            host.paced_silent.remove(&(idx as u32));
            host.results[idx] = Some(s);
            host.settled += 1;
            self.progress.ports_settled += 1;
        }
        self.maybe_finish(key, now);
    }

    fn maybe_finish(&mut self, key: u32, now: Instant) {
        let done = self
            .active
            .get(&key)
            .is_some_and(|h| h.settled == h.results.len() && h.in_flight == 0);
        if done {
            self.finish_host(key, now, false);
        }
    }

    /// Expires probes whose deadline passed and hosts past `--host-timeout`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((deadline, id))) = self.deadlines.peek().copied() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            if let Some(rec) = self.take_outstanding(id) {
                self.expire(rec, ProbeId(id), now);
            }
        }
        self.presume_losses(now);
        // Loss is judged once retransmissions had time to be answered.
        let wait = self.group_rtt.timeout() * 2;
        self.group.judge(now, wait);
        for h in self.active.values_mut() {
            let wait = h.rtt.timeout() * 2;
            h.window.judge(now, wait);
            // Gates that have opened are no longer timers to wake for.
            h.next_send_at = h.next_send_at.filter(|t| *t > now);
            h.udp_next_at = h.udp_next_at.filter(|t| *t > now);
        }
        self.expire_hosts(now);
    }

    fn expire(&mut self, rec: Outstanding, probe: ProbeId, now: Instant) {
        if self.cfg.raw.is_none() {
            self.aborts.push_back(probe);
        }
        let udp = rec.slot as usize >= self.cfg.tcp_ports.len();
        let t = &self.cfg.timing;
        let Some(host) = self.active.get_mut(&rec.host) else {
            return;
        };
        host.in_flight -= 1;
        if host.out.get(&rec.slot) == Some(&probe.0) {
            host.out.remove(&rec.slot);
        }
        let answered = host.answered_since(rec.order);
        if !answered {
            host.backoff = host.backoff.saturating_add(1);
        }
        if rec.ping {
            host.ping_out = false;
            if host.icmp_known() {
                // A port known closed fell silent: the next answer to a
                // ping is late, and the parked silences it would have
                // vouched for go back to be tried again, unvouched.
                host.ping_silenced = true;
                let parked: Vec<u32> = host.parked.drain(..).map(|(_, slot, _)| slot).collect();
                if !parked.is_empty() {
                    host.retry.extend(parked);
                    host.ping_wanted = true;
                }
            }
            self.maybe_finish(rec.host, now);
            return;
        }
        if udp && rec.paced {
            host.paced_silent.insert(rec.slot, (rec.sent, rec.strong));
        }
        if udp && host.icmp_known() {
            // A host that answers closed UDP ports with ICMP: the silence
            // waits until a later ICMP answer proves the host still had
            // answers to give.
            if host.icmp_since(rec.order) {
                self.judge_udp_silence(rec.host, rec.slot, rec.strong, now);
            } else {
                host.parked.push_back((rec.order, rec.slot, rec.strong));
                host.ping_wanted = true;
            }
            return;
        }
        // Silence is believed only once something sent after it drew an
        // answer.
        let confirmed = answered;
        let tries = host.tries[rec.slot as usize];
        let allowed = host.allowed_tries(t);
        let unconfirmed = !confirmed && host.last_answer_sent.is_some();
        if tries < allowed || (unconfirmed && tries < HostScan::ceiling(t)) {
            host.retry.push_back(rec.slot);
            host.ping_wanted = true;
            return;
        }
        self.settle_silent(rec.host, rec.slot, now);
    }

    /// A silent UDP try of `slot` was vouched for by a later ICMP answer.
    /// It counts as evidence if the host never showed a rate limit, or if
    /// it was a strong try; the port is open|filtered once the evidence
    /// suffices.
    fn judge_udp_silence(&mut self, key: u32, slot: u32, strong: bool, now: Instant) {
        let t = &self.cfg.timing;
        let Some(host) = self.active.get_mut(&key) else {
            return;
        };
        let i = slot as usize;
        if host.results[i].is_some() {
            return;
        }
        if strong || !host.pacer.suspected() {
            host.evidence[i] = host.evidence[i].saturating_add(1);
        }
        let cap = if host.pacer.interval().is_some() {
            HostScan::udp_try_cap(t)
        } else {
            HostScan::ceiling(t)
        };
        if host.evidence[i] < host.udp_evidence_needed(t) && host.tries[i] < cap {
            if host.pacer.interval().is_some() {
                // Retried soon: if the silence was a miss, the answer tells
                // the pacer so while it still matters.
                host.retry.push_front(slot);
            } else {
                host.retry.push_back(slot);
            }
            return;
        }
        self.settle_silent(key, slot, now);
    }

    /// Parked silences of probes sent before `order` are now vouched for.
    fn release_parked(&mut self, key: u32, order: u64, now: Instant) {
        let Some(host) = self.active.get_mut(&key) else {
            return;
        };
        let mut vouched = Vec::new();
        host.parked.retain(|&(o, slot, strong)| {
            let older = o < order;
            if older {
                vouched.push((slot, strong));
            }
            !older
        });
        for (slot, strong) in vouched {
            self.judge_udp_silence(key, slot, strong, now);
        }
    }

    fn settle_silent(&mut self, key: u32, slot: u32, now: Instant) {
        let (proto, _) = self.slot(slot);
        let s = Settled {
            state: probe::silent_state(self.cfg.raw.and_then(|r| r.tcp), proto),
            reason: Reason::NoResponse,
            ttl: None,
        };
        self.settle(key, slot as usize, s, now);
    }
    fn expire_hosts(&mut self, now: Instant) {
        let Some(limit) = self.cfg.timing.host_timeout else {
            return;
        };
        let expired: Vec<u32> = self
            .active
            .iter()
            .filter(|(_, h)| now.saturating_duration_since(h.started) >= limit)
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            self.finish_host(key, now, true);
        }
    }

    /// When `handle_timeout` should next run, if anything is pending.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((_, id))) = self.deadlines.peek() {
            if self.outstanding.contains_key(id) {
                break;
            }
            self.deadlines.pop();
        }
        while let Some(Reverse((_, id))) = self.presumptions.peek() {
            if self.outstanding.contains_key(id) {
                break;
            }
            self.presumptions.pop();
        }
        let mut next = self.deadlines.peek().map(|Reverse((t, _))| *t);
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.presumptions.peek().map(|Reverse((t, _))| *t));
        consider(self.rate.next_token_at());
        for h in self.active.values() {
            consider(h.next_send_at);
            consider(h.udp_next_at);
            consider(self.cfg.timing.host_timeout.map(|d| h.started + d));
        }
        next
    }

    /// Stops the scan: every outstanding probe is aborted and unfinished
    /// hosts are dropped. Finished hosts already queued as events stay.
    pub fn interrupt(&mut self) {
        let ids: Vec<u64> = self.outstanding.drain().map(|(id, _)| id).collect();
        if self.cfg.raw.is_none() {
            self.aborts.extend(ids.into_iter().map(ProbeId));
        }
        self.deadlines.clear();
        self.presumptions.clear();
        self.presumed_lost = 0;
        self.active.clear();
        self.by_addr.clear();
        self.rotation.clear();
        self.source_done = true;
    }

    fn finish_host(&mut self, key: u32, now: Instant, timed_out: bool) {
        let Some(host) = self.active.remove(&key) else {
            return;
        };
        self.rotation.retain(|k| *k != key);
        if self.by_addr.get(&host.target.addr) == Some(&key) {
            self.by_addr.remove(&host.target.addr);
        }
        if timed_out {
            let stale: Vec<u64> = self
                .outstanding
                .iter()
                .filter(|(_, r)| r.host == key)
                .map(|(id, _)| *id)
                .collect();
            for id in stale {
                self.take_outstanding(id);
                if self.cfg.raw.is_none() {
                    self.aborts.push_back(ProbeId(id));
                }
            }
        }
        self.progress.hosts_done += 1;
        let outcome = self.outcome_of(host, now, timed_out);
        self.events
            .push_back(ScanEvent::HostDone(Box::new(outcome)));
    }

    fn outcome_of(&self, host: HostScan, now: Instant, timed_out: bool) -> HostOutcome {
        let ports: Vec<PortResult> = (0..self.slot_count() as u32)
            .zip(&host.results)
            .filter_map(|(slot, r)| {
                let s = (*r)?;
                let (protocol, port) = self.slot(slot);
                Some(PortResult {
                    protocol,
                    port,
                    state: s.state,
                    reason: s.reason,
                    reason_ttl: s.ttl,
                    service: None,
                })
            })
            .collect();
        HostOutcome {
            answers_every_port: answers_every_port(&ports),
            times: host_times(&host.rtt),
            target: host.target,
            started: host.started,
            finished: now,
            ports,
            timed_out,
        }
    }
}

/// How good a timing ping the port that gave this answer makes.
fn ping_rank(udp: bool, reason: Reason) -> PingRank {
    match reason {
        Reason::PortUnreach if udp => PingRank::ClosedUdp,
        Reason::Reset | Reason::ConnRefused => PingRank::ClosedTcp,
        _ => PingRank::Answered,
    }
}

/// The signature of a SYN proxy or tarpit: SYN-ACK from nearly every port.
fn answers_every_port(ports: &[PortResult]) -> bool {
    let tcp = ports.iter().filter(|p| p.protocol == Protocol::Tcp);
    let total = tcp.clone().count();
    let open = tcp.filter(|p| p.state == PortState::Open).count();
    total >= PROXY_MIN_PORTS && open as f64 >= PROXY_SHARE * total as f64
}

fn host_times(rtt: &RttEstimator) -> HostTimes {
    HostTimes {
        srtt_us: rtt.srtt().map_or(0, |d| d.as_micros() as u64),
        rttvar_us: rtt.rttvar().as_micros() as u64,
        timeout_us: rtt.timeout().as_micros() as u64,
    }
}
