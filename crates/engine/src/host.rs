//! Per-host scan state: which ports are settled, how often each was tried,
//! round-trip estimate, congestion window, measured loss and ICMP pacing.

use crate::pacer::{IcmpEvent, IcmpPacer};
use crate::timing::{RttEstimator, TimingParams, Window};
use portolan_model::{PortState, Reason};
use portolan_targets::{Permutation, Target};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Accepted expected number of responsive ports per host reported filtered
/// because every try to them was lost.
const MISSES_PER_HOST: f64 = 0.001;

/// The same for closed UDP ports of a host pacing its ICMP errors, where each
/// further try costs a token of the target's allowance (a second or more).
const UDP_MISSES_PER_HOST: f64 = 0.01;

/// Answered tries needed before the loss estimate is trusted.
const MIN_LOSS_SAMPLE: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settled {
    pub state: PortState,
    pub reason: Reason,
    pub ttl: Option<u8>,
}

/// How well a port serves as a timing ping: a closed UDP port's answer is an
/// ICMP error, which also proves the host's ICMP allowance had a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PingRank {
    Answered,
    ClosedTcp,
    ClosedUdp,
}

/// Probes in flight to a host, presumed lost or not, as a multiple of its
/// window: bounds what a path that swallows probes gets sent.
pub(crate) const PRESUMED_SLACK: usize = 4;

/// Whether a window of `allowed` has room beside `in_flight` probes, of which
/// `presumed` are presumed lost and do not count (up to [`PRESUMED_SLACK`]
/// windows in flight in all).
pub(crate) fn has_room(in_flight: usize, presumed: usize, allowed: usize) -> bool {
    in_flight - presumed < allowed && in_flight < allowed.saturating_mul(PRESUMED_SLACK)
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Outstanding {
    pub host: u32,
    pub slot: u32,
    pub try_idx: u8,
    pub sent: Instant,
    /// Send order (the probe id): which of two probes left first, even
    /// within one clock tick.
    pub order: u64,
    /// A timing ping to a known-answering port: it settles nothing.
    pub ping: bool,
    /// Sent while the host's ICMP pacing was in force.
    pub paced: bool,
    /// A UDP retry sent a full refill after the previous UDP probe: its
    /// silence is evidence even on a host that rations ICMP.
    pub strong: bool,
    /// Outstanding well past the host's round trip: most likely lost, so it
    /// no longer holds a place in the window (it still waits out its
    /// timeout before a retry or a verdict).
    pub presumed_lost: bool,
}

#[derive(Debug)]
pub(crate) struct HostScan {
    pub target: Target,
    pub order: Permutation,
    pub next_fresh: u64,
    pub tries: Vec<u8>,
    /// Tries of each slot sent while ICMP pacing was in force.
    pub paced_tries: Vec<u8>,
    /// UDP on a host that answers closed ports with ICMP: the silent tries
    /// of each slot that count as evidence (vouched for by a later ICMP
    /// answer, and strong if the host was ever seen rationing its answers).
    pub evidence: Vec<u8>,
    /// Silent UDP tries waiting for a later ICMP answer to vouch for them:
    /// (send order, slot, strong).
    pub parked: VecDeque<(u64, u32, bool)>,
    pub results: Vec<Option<Settled>>,
    /// Send order of each slot's first try (for the window's loss epochs).
    pub first_sent: Vec<u64>,
    pub retry: VecDeque<u32>,
    pub in_flight: usize,
    /// Of `in_flight`, the probes presumed lost.
    pub presumed_lost: usize,
    pub settled: usize,
    pub rtt: RttEstimator,
    pub window: Window,
    /// Highest retransmission index that was ever answered (0 = first try).
    pub max_answered_try: u8,
    pub started: Instant,
    pub next_send_at: Option<Instant>,
    /// Earliest time the next UDP probe may go, while ICMP pacing is in force.
    pub udp_next_at: Option<Instant>,
    /// When the latest UDP probe to the host went.
    pub last_udp_at: Option<Instant>,
    /// Send order of the latest-sent probe that was answered: silence from a
    /// probe sent after it is not yet evidence of filtering.
    pub last_answer_sent: Option<u64>,
    /// The same, counting only answers that were ICMP errors.
    pub last_icmp_sent: Option<u64>,
    /// Timeout doublings while the host is silent (reset by any answer).
    pub backoff: u8,
    /// A port known to answer, used to check the path after a silence.
    pub ping_port: Option<(u32, PingRank)>,
    pub ping_wanted: bool,
    pub ping_out: bool,
    /// The last ping went unanswered (so the next answer to one is late).
    pub ping_silenced: bool,
    /// Tries spent on ports that answered, and how many of those were lost
    /// (every try before the answered one): the host's measured loss rate.
    pub answered_tries: u32,
    pub lost_tries: u32,
    pub pacer: IcmpPacer,
    /// The latest paced try of each UDP slot that went silent (until the
    /// slot settles): when it was sent, so a later answer dates the miss,
    /// and whether it was strong.
    pub paced_silent: HashMap<u32, (Instant, bool)>,
    /// Raw scans: the outstanding probe of each slot that has one.
    pub out: HashMap<u32, u64>,
}

impl HostScan {
    pub(crate) fn new(target: Target, n: usize, seed: u64, now: Instant, t: &TimingParams) -> Self {
        HostScan {
            target,
            order: Permutation::new((n as u64).max(1), seed),
            next_fresh: 0,
            tries: vec![0; n],
            paced_tries: vec![0; n],
            evidence: vec![0; n],
            parked: VecDeque::new(),
            results: vec![None; n],
            first_sent: vec![0; n],
            retry: VecDeque::new(),
            in_flight: 0,
            presumed_lost: 0,
            settled: 0,
            rtt: RttEstimator::new(t.initial_rtt_timeout),
            window: Window::new(t.initial_cwnd, t.initial_ssthresh, t.max_cwnd),
            max_answered_try: 0,
            started: now,
            next_send_at: None,
            udp_next_at: None,
            last_udp_at: None,
            last_answer_sent: None,
            last_icmp_sent: None,
            backoff: 0,
            ping_port: None,
            ping_wanted: false,
            ping_out: false,
            ping_silenced: false,
            answered_tries: 0,
            lost_tries: 0,
            pacer: IcmpPacer::default(),
            paced_silent: HashMap::new(),
            out: HashMap::new(),
        }
    }

    /// Tries a silent port gets before it is called filtered. At least one
    /// beyond the deepest try that was ever answered (so a clean host pays one
    /// retransmission per filtered port); on a host with measured loss, enough
    /// that fewer than [`MISSES_PER_HOST`] responsive ports are expected to
    /// stay silent through every try, up to `1 + max_retries_lossy`.
    pub(crate) fn allowed_tries(&self, t: &TimingParams) -> u8 {
        let by_depth = 1 + t.max_retries.min(self.max_answered_try.saturating_add(1));
        if self.answered_tries < MIN_LOSS_SAMPLE || self.lost_tries == 0 {
            return by_depth;
        }
        // One more loss than seen: early in a scan the ports with the longest
        // runs of lost tries have not answered yet, so the plain ratio is low.
        let q = f64::from(self.lost_tries + 1) / f64::from(self.answered_tries + 1);
        let per_port = MISSES_PER_HOST / self.results.len().max(1) as f64;
        let needed = (per_port.ln() / q.ln()).ceil().clamp(1.0, 255.0) as u8;
        by_depth.max(needed.min(Self::ceiling(t)))
    }

    /// The most tries any port gets, whatever the evidence.
    pub(crate) fn ceiling(t: &TimingParams) -> u8 {
        1 + t.max_retries.max(t.max_retries_lossy)
    }

    /// Tries of a silent UDP port, on a host answering closed ports with
    /// ICMP, that must count as evidence before it is called open|filtered.
    /// Under pacing these are strong tries (see [`Outstanding::strong`]);
    /// otherwise as for any port.
    pub(crate) fn udp_evidence_needed(&self, t: &TimingParams) -> u8 {
        if self.pacer.interval().is_none() {
            return self.allowed_tries(t);
        }
        // Strong tries find a token, so only loss silences a closed port
        // through them: enough that, at the loss rate strong tries showed
        // (assumed one in ten until they show better), fewer than
        // [`UDP_MISSES_PER_HOST`] closed ports are misread.
        let misses = f64::from(self.pacer.strong_misses);
        let total = misses + f64::from(self.pacer.strong_answers);
        let q = (misses + 1.0) / (total + 10.0);
        let per_port = UDP_MISSES_PER_HOST / self.results.len().max(1) as f64;
        let needed = (per_port.ln() / q.ln()).ceil().clamp(2.0, 255.0) as u8;
        needed.min(Self::ceiling(t).max(2))
    }

    /// Tries after which a UDP port is given up on even without evidence
    /// (a host that stopped answering altogether).
    pub(crate) fn udp_try_cap(t: &TimingParams) -> u8 {
        Self::ceiling(t).saturating_mul(3)
    }

    /// Books an answer to `rec`, which answered try `answered_try`.
    pub(crate) fn note_answer(&mut self, rec: &Outstanding, answered_try: u8, rank: PingRank) {
        self.max_answered_try = self.max_answered_try.max(answered_try);
        if !rec.ping {
            self.answered_tries += u32::from(answered_try) + 1;
            self.lost_tries += u32::from(answered_try);
        }
        self.backoff = 0;
        if rec.ping {
            self.ping_out = false;
        }
        if self.last_answer_sent.is_none_or(|o| o < rec.order) {
            self.last_answer_sent = Some(rec.order);
        }
        // Prefer a closed port for pings: it costs the target no connection.
        if self.ping_port.is_none_or(|(_, r)| r < rank) {
            self.ping_port = Some((rec.slot, rank));
        }
    }

    /// Books an ICMP error answering `rec`.
    pub(crate) fn note_icmp(&mut self, now: Instant, rec: &Outstanding, answered_try: u8) {
        let current = rec.ping || answered_try == rec.try_idx;
        if current && self.last_icmp_sent.is_none_or(|o| o < rec.order) {
            self.last_icmp_sent = Some(rec.order);
        }
        if rec.ping {
            let late = std::mem::take(&mut self.ping_silenced);
            let ev = IcmpEvent {
                late,
                ..IcmpEvent::default()
            };
            self.pacer.on_icmp(now, ev);
            return;
        }
        // The answer is to the latest try: earlier paced tries of the slot
        // went unanswered (misses: the pace was too fast).
        let current = rec.paced && answered_try == rec.try_idx;
        let misses = if current {
            self.paced_tries[rec.slot as usize].saturating_sub(1)
        } else {
            0
        };
        let silent = self.paced_silent.remove(&rec.slot);
        if silent.is_some_and(|(_, strong)| strong) {
            self.pacer.strong_misses += 1;
        }
        let missed_at = silent.map(|(sent, _)| sent);
        if rec.strong && answered_try == rec.try_idx {
            self.pacer.strong_answers += 1;
        }
        let ev = IcmpEvent {
            late: answered_try > 0,
            paced: current,
            misses,
            missed_at: missed_at.filter(|_| current),
            feedback: self.rtt.timeout(),
        };
        self.pacer.on_icmp(now, ev);
    }

    /// Probes this host may have in flight: its window, or under ICMP
    /// pacing as many as the pace puts out in one probe timeout (the pace,
    /// not the window, then limits the rate).
    pub(crate) fn allowed_in_flight(&self) -> usize {
        let window = self.window.allowed();
        match self.pacer.interval() {
            Some(gap) if !gap.is_zero() => {
                let per_timeout = self.rtt.timeout().as_secs_f64() / gap.as_secs_f64();
                window.max(per_timeout.ceil() as usize + 1)
            }
            _ => window,
        }
    }

    /// Whether the window has room for one more probe. Probes presumed lost
    /// do not count, up to [`PRESUMED_SLACK`] windows in flight in all.
    pub(crate) fn window_open(&self) -> bool {
        has_room(self.in_flight, self.presumed_lost, self.allowed_in_flight())
    }

    /// How long after sending a probe its answer is presumed lost: well past
    /// the round trip (twice the smoothed RTT, or four deviations over it),
    /// never later than the probe's timeout. Unknown before the first RTT
    /// sample.
    pub(crate) fn presume_after(&self, timeout: Duration) -> Option<Duration> {
        let srtt = self.rtt.srtt()?;
        let late = (srtt * 2).max(srtt + self.rtt.rttvar() * 4);
        (late < timeout).then_some(late)
    }

    pub(crate) fn probe_timeout(&self, p: &TimingParams) -> Duration {
        let base = self.rtt.timeout();
        let backed = base.saturating_mul(1u32 << self.backoff.min(8));
        backed.min(p.max_rtt_timeout.max(base))
    }

    /// Whether the host answered a probe sent after the one of `order`.
    pub(crate) fn answered_since(&self, order: u64) -> bool {
        self.last_answer_sent.is_some_and(|o| o > order)
    }

    /// Whether an ICMP error answered a probe sent after the one of `order`:
    /// the host's ICMP allowance had a token after that probe arrived.
    pub(crate) fn icmp_since(&self, order: u64) -> bool {
        self.last_icmp_sent.is_some_and(|o| o > order)
    }

    /// Whether the host has shown it answers UDP probes with ICMP errors, so
    /// a silent UDP port must be vouched for by a later ICMP answer.
    pub(crate) fn icmp_known(&self) -> bool {
        self.ping_port
            .is_some_and(|(_, r)| r == PingRank::ClosedUdp)
    }
}
