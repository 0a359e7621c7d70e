//! Pacing UDP probes to a host's ICMP rate limit.
//!
//! A closed UDP port is only known closed by the ICMP port-unreachable it
//! draws, and hosts ration those: Linux allows a burst of six and then one a
//! second per source (`net.ipv4.icmp_ratelimit`), other systems similar
//! amounts. A scanner that sends faster hears silence from closed ports and
//! calls them open|filtered. The scheduler guards correctness on its own (a
//! silent UDP port is believed only once a probe sent after it drew an ICMP
//! error, proving the host still had a token); the pacer makes that cheap.
//! It notices the signature of a limit (ICMP answers that come only to
//! retransmissions, arriving at a steady slow rate), measures that rate, and
//! from then on spaces probes to the host so that each one finds a token.

use std::time::{Duration, Instant};

/// ICMP answers that answered retransmissions before a limit is assumed.
const LATE_TO_DETECT: u32 = 3;
/// Share of late answers (per cent) that marks a limit rather than loss.
const LATE_SHARE_PCT: u32 = 30;
/// Margin over the measured interval, so each probe finds a fresh token.
const MARGIN: f64 = 1.08;
/// Interval factor after a paced try was answered at once, and after one
/// was not (additive-increase, multiplicative-decrease on the rate).
const SPEED_UP: f64 = 0.93;
const SLOW_DOWN: f64 = 1.25;
const MIN_INTERVAL: Duration = Duration::from_micros(200);
const MAX_INTERVAL: Duration = Duration::from_secs(5);
/// Linux's default, when too few arrivals were seen to measure.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// What the pacer knows about one host's ICMP rate limit.
#[derive(Debug, Clone, Default)]
pub(crate) struct IcmpPacer {
    answers: u32,
    late: u32,
    arrivals: [Option<Instant>; 4],
    next_slot: usize,
    interval: Option<Duration>,
}

impl IcmpPacer {
    /// The gap to keep between probes to this host, once a limit is known.
    pub(crate) fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// An ICMP error answered try `try_idx` of a probe; `missed_paced` if an
    /// earlier try of the same port, sent at the paced rate, went unanswered.
    pub(crate) fn on_icmp(&mut self, now: Instant, try_idx: u8, missed_paced: bool) {
        self.answers += 1;
        if !missed_paced && self.interval.is_some() {
            // Paced probes keep drawing answers: probe a little faster.
            self.interval = self.interval.map(|i| i.mul_f64(SPEED_UP).max(MIN_INTERVAL));
        }
        if try_idx == 0 {
            return;
        }
        self.late += 1;
        // Answers to retransmissions come after the burst allowance is spent,
        // so their spacing is the refill interval.
        self.arrivals[self.next_slot] = Some(now);
        self.next_slot = (self.next_slot + 1) % self.arrivals.len();
        if missed_paced {
            // A paced try went unanswered: the limit is tighter than measured.
            self.interval = self
                .interval
                .map(|i| i.mul_f64(SLOW_DOWN).min(MAX_INTERVAL));
        }
        self.judge();
    }

    fn judge(&mut self) {
        if self.interval.is_some() {
            return;
        }
        let share_high = self.late * 100 >= self.answers * LATE_SHARE_PCT;
        if self.late >= LATE_TO_DETECT && share_high {
            self.interval = Some(self.measure());
        }
    }

    /// The shortest recent gap between answers to retransmissions: after
    /// the target's burst allowance is spent, answers come no closer than
    /// its refill interval (longer gaps only mean we sent nothing then).
    fn measure(&self) -> Duration {
        let mut times: Vec<Instant> = self.arrivals.iter().flatten().copied().collect();
        times.sort();
        let mut gaps: Vec<Duration> = times
            .windows(2)
            .map(|w| w[1].saturating_duration_since(w[0]))
            .collect();
        gaps.sort();
        let gap = gaps
            .first()
            .copied()
            .filter(|g| *g >= MIN_INTERVAL)
            .unwrap_or(DEFAULT_INTERVAL);
        gap.mul_f64(MARGIN).clamp(MIN_INTERVAL, MAX_INTERVAL)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::unwrap_used)] // a base instant for the test clock
mod tests {
    use super::*;

    #[test]
    fn steady_late_answers_a_second_apart_set_a_one_second_pace() {
        let t0 = Instant::now();
        let mut p = IcmpPacer::default();
        for i in 0..6 {
            p.on_icmp(t0 + Duration::from_millis(i), 0, false);
        }
        for s in 1..=4u64 {
            p.on_icmp(t0 + Duration::from_secs(s), 1, false);
        }
        let i = p.interval().expect("limit detected");
        assert!(i >= Duration::from_secs(1) && i < Duration::from_millis(1200));
    }

    #[test]
    fn plain_loss_is_not_a_rate_limit() {
        let t0 = Instant::now();
        let mut p = IcmpPacer::default();
        for i in 0..40u64 {
            let late = u8::from(i % 10 == 0);
            p.on_icmp(t0 + Duration::from_millis(i), late, false);
        }
        assert_eq!(p.interval(), None);
    }

    #[test]
    fn a_missed_paced_try_slows_the_pace() {
        let t0 = Instant::now();
        let mut p = IcmpPacer::default();
        for s in 0..4u64 {
            p.on_icmp(t0 + Duration::from_secs(s), 1, false);
        }
        let before = p.interval().unwrap();
        p.on_icmp(t0 + Duration::from_secs(9), 1, true);
        assert!(p.interval().unwrap() > before);
    }
}
