//! The scan scheduler: which probe goes next, when a probe has timed out,
//! when to retransmit, and when a host is finished.
//!
//! Transport-neutral: a probe is "try port P of host H"; the driver carries it
//! out (a `connect()` today, a raw packet later) and reports an [`Outcome`].
//! State kept: per active host, one try counter and one result per port; per
//! outstanding probe, one small record. Hosts are pulled from the target
//! iterator only as slots free up, so memory does not grow with the target count.

use crate::rate::RateLimiter;
use crate::timing::{RttEstimator, TimingParams, Window};
use portolan_model::{HostTimes, PortResult, PortState, Protocol, Reason};
use portolan_targets::{Permutation, Target};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
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
}

/// What became of a probe.
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
    /// Every port of the scan list for this host, ascending, without service names.
    pub ports: Vec<PortResult>,
    pub times: HostTimes,
    pub timed_out: bool,
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
    /// Answers to probes already given up on or never sent: counted and ignored.
    pub stray_answers: u64,
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
    pub ports: Vec<u16>,
}

/// Accepted expected number of responsive ports per host reported filtered
/// because every try to them was lost.
const MISSES_PER_HOST: f64 = 0.01;

/// Answered tries needed before the loss estimate is trusted.
const MIN_LOSS_SAMPLE: u32 = 20;

#[derive(Debug, Clone, Copy)]
struct Settled {
    state: PortState,
    reason: Reason,
}

#[derive(Debug)]
struct HostScan {
    target: Target,
    order: Permutation,
    next_fresh: u64,
    tries: Vec<u8>,
    results: Vec<Option<Settled>>,
    retry: VecDeque<u32>,
    in_flight: usize,
    settled: usize,
    rtt: RttEstimator,
    window: Window,
    /// Highest retransmission index that was ever answered (0 = first try).
    max_answered_try: u8,
    started: Instant,
    next_send_at: Option<Instant>,
    /// Send time of the latest-sent probe that was answered: silence from a
    /// probe sent after it is not yet evidence of filtering.
    last_answer_sent: Option<Instant>,
    /// Timeout doublings while the host is silent (reset by any answer).
    backoff: u8,
    /// A port known to answer, used to check the path after a silence.
    ping_port: Option<u32>,
    ping_wanted: bool,
    ping_out: bool,
    /// Tries spent on ports that answered, and how many of those were lost
    /// (every try before the answered one): the host's measured loss rate.
    answered_tries: u32,
    lost_tries: u32,
}

impl HostScan {
    /// Tries a silent port gets before it is called filtered. At least one
    /// beyond the deepest try that was ever answered (so a clean host pays one
    /// retransmission per filtered port); on a host with measured loss, enough
    /// that fewer than [`MISSES_PER_HOST`] responsive ports are expected to
    /// stay silent through every try, up to `1 + max_retries_lossy`.
    fn allowed_tries(&self, t: &TimingParams) -> u8 {
        let by_depth = 1 + t.max_retries.min(self.max_answered_try.saturating_add(1));
        if self.answered_tries < MIN_LOSS_SAMPLE || self.lost_tries == 0 {
            return by_depth;
        }
        let q = f64::from(self.lost_tries) / f64::from(self.answered_tries);
        let per_port = MISSES_PER_HOST / self.results.len().max(1) as f64;
        let needed = (per_port.ln() / q.ln()).ceil().clamp(1.0, 255.0) as u8;
        let ceiling = 1 + t.max_retries.max(t.max_retries_lossy);
        by_depth.max(needed.min(ceiling))
    }

    fn note_answer(&mut self, rec: &Outstanding, refused: bool) {
        self.max_answered_try = self.max_answered_try.max(rec.try_idx);
        if !rec.ping {
            self.answered_tries += u32::from(rec.try_idx) + 1;
            self.lost_tries += u32::from(rec.try_idx);
        }
        self.backoff = 0;
        if rec.ping {
            self.ping_out = false;
        }
        if self.last_answer_sent.is_none_or(|t| t < rec.sent) {
            self.last_answer_sent = Some(rec.sent);
        }
        // Prefer a closed port for pings: it costs the target no connection.
        if self.ping_port.is_none() || refused {
            self.ping_port = Some(rec.port_idx);
        }
    }

    fn probe_timeout(&self, p: &TimingParams) -> std::time::Duration {
        let base = self.rtt.timeout();
        let backed = base.saturating_mul(1u32 << self.backoff.min(8));
        backed.min(p.max_rtt_timeout.max(base))
    }

    /// Whether the host answered something sent at or after `sent`.
    fn answered_since(&self, sent: Instant) -> bool {
        self.last_answer_sent.is_some_and(|t| t >= sent)
    }
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    host: u32,
    port_idx: u32,
    try_idx: u8,
    sent: Instant,
    /// A timing ping to a known-answering port: it settles nothing.
    ping: bool,
}

/// The scheduler for one scan over many hosts and one TCP port list.
pub struct Scan {
    cfg: ScanConfig,
    hosts: Box<dyn Iterator<Item = Target> + Send>,
    source_done: bool,
    active: HashMap<u32, HostScan>,
    rotation: VecDeque<u32>,
    next_host_key: u32,
    outstanding: HashMap<u64, Outstanding>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
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
    /// A scan of `hosts` (pulled lazily) on `cfg.ports`.
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
            rotation: VecDeque::new(),
            next_host_key: 0,
            outstanding: HashMap::new(),
            deadlines: BinaryHeap::new(),
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
        in_flight < floor || in_flight < self.group.allowed() || self.rate.below_min_rate(now)
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
        let n = self.cfg.ports.len();
        let t = &self.cfg.timing;
        // New hosts inherit what the group learnt about round trips.
        let mut rtt = RttEstimator::new(t.initial_rtt_timeout);
        if let Some(srtt) = self.group_rtt.srtt() {
            rtt.sample(srtt, t);
        }
        let seed = self.cfg.seed ^ u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let host = HostScan {
            target,
            order: Permutation::new((n as u64).max(1), seed),
            next_fresh: 0,
            tries: vec![0; n],
            results: vec![None; n],
            retry: VecDeque::new(),
            in_flight: 0,
            settled: 0,
            rtt,
            window: Window::new(t.initial_cwnd, t.initial_ssthresh, t.max_cwnd),
            max_answered_try: 0,
            started: now,
            next_send_at: None,
            last_answer_sent: None,
            backoff: 0,
            ping_port: None,
            ping_wanted: false,
            ping_out: false,
            answered_tries: 0,
            lost_tries: 0,
        };
        self.active.insert(key, host);
        self.rotation.push_back(key);
        if n == 0 {
            self.finish_host(key, now, false);
        }
    }

    fn try_send(&mut self, key: u32, now: Instant) -> Option<Transmit> {
        let bypass = self.rate.below_min_rate(now);
        let n_ports = self.cfg.ports.len() as u64;
        let host = self.active.get_mut(&key)?;
        if host.next_send_at.is_some_and(|t| t > now) {
            return None;
        }
        if !bypass && host.in_flight >= host.window.allowed() {
            return None;
        }
        // Retries first; then a ping vouching for them (its answer proves
        // the path worked after they left); then fresh ports.
        let ping_port = host
            .ping_port
            .filter(|_| host.ping_wanted && !host.ping_out);
        let (port_idx, ping) = match (host.retry.pop_front(), ping_port) {
            (Some(i), _) => (i, false),
            (None, Some(i)) => (i, true),
            (None, None) if host.next_fresh < n_ports => {
                let i = host.order.nth(host.next_fresh).unwrap_or(host.next_fresh) as u32;
                host.next_fresh += 1;
                (i, false)
            }
            (None, None) => return None,
        };
        let try_idx = if ping {
            host.ping_wanted = false;
            host.ping_out = true;
            0
        } else {
            let t = host.tries[port_idx as usize];
            host.tries[port_idx as usize] += 1;
            t
        };
        host.in_flight += 1;
        let delay = self.cfg.timing.scan_delay;
        if !delay.is_zero() {
            host.next_send_at = Some(now + delay);
        }
        let timeout = host.probe_timeout(&self.cfg.timing);
        let addr = SocketAddr::new(host.target.addr, self.cfg.ports[port_idx as usize]);
        let id = self.next_probe;
        self.next_probe += 1;
        let rec = Outstanding {
            host: key,
            port_idx,
            try_idx,
            sent: now,
            ping,
        };
        self.outstanding.insert(id, rec);
        self.deadlines.push(Reverse((now + timeout, id)));
        self.rate.on_send(now);
        self.progress.probes_sent += 1;
        if ping {
            self.progress.pings += 1;
        } else if try_idx > 0 {
            self.progress.retransmissions += 1;
        }
        Some(Transmit::Connect {
            probe: ProbeId(id),
            addr,
        })
    }

    /// A probe's fate is known. Answers for unknown probes are counted and dropped.
    pub fn handle_outcome(&mut self, now: Instant, probe: ProbeId, outcome: Outcome) {
        let Some(rec) = self.outstanding.remove(&probe.0) else {
            self.progress.stray_answers += 1;
            return;
        };
        let Some(host) = self.active.get_mut(&rec.host) else {
            return;
        };
        host.in_flight -= 1;
        let idx = rec.port_idx as usize;
        let settled = match outcome {
            Outcome::NotSent => {
                if rec.ping {
                    host.ping_out = false;
                } else {
                    host.tries[idx] -= 1;
                    host.retry.push_front(rec.port_idx);
                }
                self.progress.probes_sent -= 1;
                let cap = self.outstanding.len().max(1);
                self.parallel_cap = self.parallel_cap.min(cap);
                return;
            }
            Outcome::Open => Settled {
                state: PortState::Open,
                reason: Reason::SynAck,
            },
            Outcome::Refused => Settled {
                state: PortState::Closed,
                reason: Reason::ConnRefused,
            },
            Outcome::Unreachable(reason) => Settled {
                state: PortState::Filtered,
                reason,
            },
        };
        self.progress.answers += 1;
        let rtt = now.saturating_duration_since(rec.sent);
        host.rtt.sample(rtt, &self.cfg.timing);
        self.group_rtt.sample(rtt, &self.cfg.timing);
        host.note_answer(&rec, matches!(outcome, Outcome::Refused));
        if rec.ping {
            self.maybe_finish(rec.host, now);
            return;
        }
        let lost = rec.try_idx > 0;
        host.window.on_answer(lost);
        self.group.on_answer(lost);
        self.settle(rec.host, idx, settled, now);
    }

    fn settle(&mut self, key: u32, idx: usize, s: Settled, now: Instant) {
        let Some(host) = self.active.get_mut(&key) else {
            return;
        };
        if host.results[idx].is_none() {
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
            if let Some(rec) = self.outstanding.remove(&id) {
                self.expire(rec, ProbeId(id), now);
            }
        }
        self.expire_hosts(now);
    }

    fn expire(&mut self, rec: Outstanding, probe: ProbeId, now: Instant) {
        self.aborts.push_back(probe);
        let max_retries = self.cfg.timing.max_retries;
        let Some(host) = self.active.get_mut(&rec.host) else {
            return;
        };
        host.in_flight -= 1;
        let confirmed = host.answered_since(rec.sent);
        if !confirmed {
            host.backoff = host.backoff.saturating_add(1);
        }
        if rec.ping {
            host.ping_out = false;
            self.maybe_finish(rec.host, now);
            return;
        }
        // Retransmit as far as this host has shown retransmissions help (one
        // try beyond the deepest try ever answered). If the host has answered
        // before but nothing sent since this probe, the silence may be an
        // outage rather than a filter: retry up to the limit and ping a port
        // known to answer to find out.
        let tries = host.tries[rec.port_idx as usize];
        let allowed = host.allowed_tries(&self.cfg.timing);
        let outage = !confirmed && host.last_answer_sent.is_some();
        if tries < allowed || (outage && tries <= max_retries) {
            host.retry.push_back(rec.port_idx);
            host.ping_wanted = true;
            return;
        }
        let s = Settled {
            state: PortState::Filtered,
            reason: Reason::NoResponse,
        };
        self.settle(rec.host, rec.port_idx as usize, s, now);
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
        let mut next = self.deadlines.peek().map(|Reverse((t, _))| *t);
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.rate.next_token_at());
        for h in self.active.values() {
            consider(h.next_send_at);
            consider(self.cfg.timing.host_timeout.map(|d| h.started + d));
        }
        next
    }

    /// Stops the scan: every outstanding probe is aborted and unfinished
    /// hosts are dropped. Finished hosts already queued as events stay.
    pub fn interrupt(&mut self) {
        let ids: Vec<u64> = self.outstanding.drain().map(|(id, _)| id).collect();
        self.aborts.extend(ids.into_iter().map(ProbeId));
        self.deadlines.clear();
        self.active.clear();
        self.rotation.clear();
        self.source_done = true;
    }

    fn finish_host(&mut self, key: u32, now: Instant, timed_out: bool) {
        let Some(host) = self.active.remove(&key) else {
            return;
        };
        self.rotation.retain(|k| *k != key);
        if timed_out {
            let stale: Vec<u64> = self
                .outstanding
                .iter()
                .filter(|(_, r)| r.host == key)
                .map(|(id, _)| *id)
                .collect();
            for id in stale {
                self.outstanding.remove(&id);
                self.aborts.push_back(ProbeId(id));
            }
        }
        self.progress.hosts_done += 1;
        let outcome = self.outcome_of(host, now, timed_out);
        self.events
            .push_back(ScanEvent::HostDone(Box::new(outcome)));
    }

    fn outcome_of(&self, host: HostScan, now: Instant, timed_out: bool) -> HostOutcome {
        let ports = self
            .cfg
            .ports
            .iter()
            .zip(&host.results)
            .filter_map(|(&port, r)| {
                let s = (*r)?;
                Some(PortResult {
                    protocol: Protocol::Tcp,
                    port,
                    state: s.state,
                    reason: s.reason,
                    reason_ttl: None,
                    service: None,
                })
            })
            .collect();
        HostOutcome {
            times: host_times(&host.rtt),
            target: host.target,
            started: host.started,
            finished: now,
            ports,
            timed_out,
        }
    }
}

fn host_times(rtt: &RttEstimator) -> HostTimes {
    HostTimes {
        srtt_us: rtt.srtt().map_or(0, |d| d.as_micros() as u64),
        rttvar_us: rtt.rttvar().as_micros() as u64,
        timeout_us: rtt.timeout().as_micros() as u64,
    }
}
