//! Pacing UDP probes to a host's ICMP rate limit.
//!
//! A closed UDP port is only known closed by the ICMP port-unreachable it
//! draws, and hosts ration those: Linux allows a burst of six and then one a
//! second per source (`net.ipv4.icmp_ratelimit`), plus a global allowance
//! (a burst of 50, then 1000 a second); other systems similar amounts. A
//! scanner that sends faster hears silence from closed ports and calls them
//! open|filtered.
//!
//! The pacer notices the signature of a limit (ICMP answers that come only
//! to retransmissions), estimates the refill rate from how often those
//! answers arrive, and from then on spaces UDP probes to the host. It then
//! steers the spacing like a congestion controller: a paced probe that
//! draws its answer at once nudges the pace faster, a paced probe that went
//! unanswered while its port was closed (a *miss*: the bucket was empty)
//! re-measures the rate from the recent answers, which arrive exactly one
//! refill interval apart while the bucket is empty. The scheduler counts a
//! silent port's tries only if they were paced (see [`crate::host`]), so the
//! misses cost time, never correctness.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// ICMP answers that answered retransmissions before a limit is assumed.
const LATE_TO_DETECT: u32 = 3;
/// Share of late answers (per cent) that marks a limit rather than loss.
const LATE_SHARE_PCT: u32 = 30;
/// Arrivals kept to estimate the refill interval.
const ARRIVALS: usize = 8;
/// Interval factor per paced probe answered at once (probing for a faster
/// refill), and margin over a fresh measurement after a miss.
const SPEED_UP: f64 = 0.98;
const MARGIN: f64 = 1.03;
/// Most the pace may speed up within one feedback delay.
const MAX_SPEED_UP: f64 = 0.9;
/// The same until the first miss: the first estimate is only an upper
/// bound (answers to retransmissions come no faster than the scheduler
/// retransmits), so the pace closes in on the limit quickly, as slow start
/// does, and settles once the bucket first runs dry.
const PROBE_SPEED_UP: f64 = 0.7;
const PROBE_MAX_SPEED_UP: f64 = 0.5;
/// Answers arriving this much slower than the pace mean the bucket is dry.
const DRY: f64 = 1.1;
/// Margin of the quiet time before a try whose silence counts.
const STRONG_MARGIN: f64 = 1.25;
/// Least and most slow-down on a fresh miss while the bucket is dry.
const SLOW_DOWN: f64 = 1.05;
const MOST_SLOW_DOWN: f64 = 2.0;
const MIN_INTERVAL: Duration = Duration::from_micros(100);
const MAX_INTERVAL: Duration = Duration::from_secs(5);

/// What the pacer knows about one host's ICMP rate limit.
#[derive(Debug, Clone, Default)]
pub(crate) struct IcmpPacer {
    answers: u32,
    late: u32,
    /// Arrival times of recent ICMP answers to retransmissions (before a
    /// limit is known) or to paced probes (after).
    arrivals: VecDeque<Instant>,
    interval: Option<Duration>,
    /// The pace may not get faster than this before `floor_until`: news of
    /// a miss takes a probe timeout to come back, and the pace must not run
    /// far ahead of it.
    floor: Duration,
    floor_until: Option<Instant>,
    /// The bucket was seen dry: the pace is near the limit, so it speeds
    /// up gently from now on.
    dry_seen: bool,
    /// When the pace was last set slower (or first set).
    slowed_at: Option<Instant>,
    /// The refill interval as first estimated, and as last measured while
    /// the bucket was dry.
    first_estimate: Option<Duration>,
    calibrated: Option<Duration>,
    /// Tries sent a full refill after the previous probe (see
    /// [`IcmpPacer::strong_gap`]) that went unanswered although their port
    /// was closed: only loss explains those.
    pub(crate) strong_misses: u32,
    /// Strong tries that drew their answer.
    pub(crate) strong_answers: u32,
}

/// One ICMP error, as the pacer sees it (see [`IcmpPacer::on_icmp`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IcmpEvent {
    pub late: bool,
    pub paced: bool,
    pub misses: u8,
    pub missed_at: Option<Instant>,
    pub feedback: Duration,
}

impl IcmpPacer {
    /// The gap to keep between UDP probes to this host, once a limit is known.
    pub(crate) fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// Whether a limit was ever suspected: a late ICMP answer came, so
    /// silences may have been the limit's.
    pub(crate) fn suspected(&self) -> bool {
        self.late > 0
    }

    /// The quiet time after which the host surely has an answer to give:
    /// a try sent that long after the previous UDP probe finds a token, so
    /// its silence is evidence. A margin over the refill interval as
    /// measured while the bucket was dry, or as first estimated (answers to
    /// retransmissions come no faster than the refill).
    pub(crate) fn strong_gap(&self) -> Option<Duration> {
        let base = self.calibrated.or(self.first_estimate)?;
        Some(base.max(self.interval?).mul_f64(STRONG_MARGIN))
    }

    /// An ICMP error arrived. `late`: it answered a retransmission, or a
    /// probe to a port known closed after such a probe had gone unanswered.
    /// `paced`: it answered the latest try, which went out under pacing;
    /// `misses`: how many earlier paced tries of the same port went
    /// unanswered, and `missed_at` when the last of them was sent.
    /// `feedback`: how long news of a miss takes (the probe timeout).
    pub(crate) fn on_icmp(&mut self, now: Instant, ev: IcmpEvent) {
        self.answers += 1;
        if ev.late {
            self.late += 1;
        }
        let Some(interval) = self.interval else {
            if ev.late {
                self.push(now);
            }
            let share_high = self.late * 100 >= self.answers * LATE_SHARE_PCT;
            if self.late >= LATE_TO_DETECT && share_high {
                self.interval = Some(self.measure().unwrap_or(MAX_INTERVAL));
                self.first_estimate = self.interval;
                self.slowed_at = Some(now);
            }
            return;
        };
        if !ev.paced {
            return;
        }
        self.push(now);
        let measured = self.measure();
        // The last answers arrived slower than the pace: the bucket may be
        // dry (or some ports are silent); either way, no faster for now.
        let dry = self.recent_gap().is_some_and(|m| m > interval.mul_f64(DRY));
        // A miss sent since the pace last slowed: the pace is too fast.
        let fresh = ev.misses > 0
            && ev
                .missed_at
                .zip(self.slowed_at)
                .is_some_and(|(missed, slowed)| missed >= slowed);
        let next = if fresh && dry {
            self.dry_seen = true;
            self.slowed_at = Some(now);
            // While the bucket is dry, answers arrive one refill apart; lost
            // answers and silent ports make them look sparser still, so the
            // pace never slows past what the limit itself was first seen to
            // allow (answers to retransmissions come no faster than that).
            let ceiling = self
                .first_estimate
                .map_or(MAX_INTERVAL, |f| f.mul_f64(STRONG_MARGIN));
            let next = measured
                .map_or(interval, |m| m.mul_f64(MARGIN))
                .clamp(
                    interval.mul_f64(SLOW_DOWN),
                    interval.mul_f64(MOST_SLOW_DOWN),
                )
                .min(ceiling.max(interval));
            self.calibrated = Some(next);
            next
        } else if ev.misses > 0 || dry {
            interval
        } else {
            let (step, most) = if self.dry_seen {
                (SPEED_UP, MAX_SPEED_UP)
            } else {
                (PROBE_SPEED_UP, PROBE_MAX_SPEED_UP)
            };
            if self.floor_until.is_none_or(|t| now >= t) {
                self.floor = interval.mul_f64(most);
                self.floor_until = Some(now + ev.feedback);
            }
            interval.mul_f64(step).max(self.floor)
        };
        self.interval = Some(next.clamp(MIN_INTERVAL, MAX_INTERVAL));
    }

    fn push(&mut self, now: Instant) {
        if self.arrivals.len() == ARRIVALS {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
    }

    /// The mean of the last two gaps between arrivals.
    fn recent_gap(&self) -> Option<Duration> {
        let n = self.arrivals.len();
        let first = self.arrivals.get(n.checked_sub(3)?)?;
        let last = self.arrivals.back()?;
        Some(last.saturating_duration_since(*first) / 2)
    }

    /// The mean gap between the recent arrivals. A count over a span rather
    /// than the smallest gap: answers that a full bucket let through
    /// together, or that a pause in sending spread out, average away.
    fn measure(&self) -> Option<Duration> {
        let (first, last) = (self.arrivals.front()?, self.arrivals.back()?);
        let gaps = u32::try_from(self.arrivals.len().checked_sub(1)?).ok()?;
        if gaps == 0 {
            return None;
        }
        Some((last.saturating_duration_since(*first) / gaps).clamp(MIN_INTERVAL, MAX_INTERVAL))
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::unwrap_used)] // a base instant for the test clock
mod tests {
    use super::*;

    const FB: Duration = Duration::from_millis(100);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn unpaced(late: bool) -> IcmpEvent {
        IcmpEvent {
            late,
            feedback: FB,
            ..IcmpEvent::default()
        }
    }

    fn paced(misses: u8, missed_at: Option<Instant>) -> IcmpEvent {
        IcmpEvent {
            late: misses > 0,
            paced: true,
            misses,
            missed_at,
            feedback: FB,
        }
    }

    /// A pacer that saw the burst, then late answers `gap` apart.
    fn detected(t0: Instant, gap: Duration) -> IcmpPacer {
        let mut p = IcmpPacer::default();
        for i in 0..6 {
            p.on_icmp(t0 + ms(i), unpaced(false));
        }
        for k in 1..=4u32 {
            p.on_icmp(t0 + gap * k, unpaced(true));
        }
        p
    }

    #[test]
    fn steady_late_answers_a_second_apart_set_a_one_second_pace() {
        let p = detected(Instant::now(), Duration::from_secs(1));
        let i = p.interval().expect("limit detected");
        assert!(i >= ms(990) && i <= ms(1010), "{i:?}");
    }

    #[test]
    fn answers_let_through_together_do_not_collapse_the_estimate() {
        // A full bucket let two answers through at once amid a 100 ms refill.
        let t0 = Instant::now();
        let mut p = IcmpPacer::default();
        for at in [0, 100, 100, 200, 300] {
            p.on_icmp(t0 + ms(at), unpaced(true));
        }
        let i = p.interval().unwrap();
        assert!(i >= ms(40) && i <= ms(100), "{i:?}");
    }

    #[test]
    fn plain_loss_is_not_a_rate_limit() {
        let t0 = Instant::now();
        let mut p = IcmpPacer::default();
        for i in 0..40u64 {
            p.on_icmp(t0 + ms(i), unpaced(i % 10 == 0));
        }
        assert_eq!(p.interval(), None);
        assert!(p.suspected());
    }

    #[test]
    fn answers_that_keep_pace_speed_up_and_a_fresh_miss_remeasures() {
        let t0 = Instant::now();
        let mut p = detected(t0, ms(1500));
        let start = p.interval().unwrap();
        let mut at = t0 + ms(4500);
        for _ in 0..3 {
            at += p.interval().unwrap();
            p.on_icmp(at, paced(0, None));
        }
        let fast = p.interval().unwrap();
        assert!(fast < start.mul_f64(0.5), "{start:?} -> {fast:?}");
        // The bucket is dry: answers now come one second apart, slower
        // than the pace, which therefore holds.
        for _ in 0..8 {
            at += Duration::from_secs(1);
            p.on_icmp(at, paced(0, None));
        }
        assert_eq!(p.interval().unwrap(), fast);
        // A miss of a probe sent at this pace: back to the measured rate.
        at += Duration::from_secs(1);
        p.on_icmp(at, paced(1, Some(at - ms(300))));
        let after = p.interval().unwrap();
        assert!(after >= ms(1000) && after <= ms(1100), "{after:?}");
        // A miss from before that slow-down says nothing new.
        at += after;
        p.on_icmp(at, paced(1, Some(at - ms(5000))));
        assert_eq!(p.interval().unwrap(), after);
    }

    #[test]
    fn a_dense_stream_of_answers_speeds_up_only_so_far_per_feedback_delay() {
        let t0 = Instant::now();
        let mut p = detected(t0, ms(2));
        let start = p.interval().unwrap();
        let mut at = t0 + ms(20);
        for _ in 0..40 {
            at += ms(1);
            p.on_icmp(at, paced(0, None));
        }
        // Until the first miss, at most halved per feedback delay.
        let probed = p.interval().unwrap();
        assert!(probed >= start.mul_f64(0.49), "{start:?} -> {probed:?}");
        assert!(probed < start.mul_f64(0.6), "{start:?} -> {probed:?}");
        // The bucket runs dry: answers come 2 ms apart, then a miss.
        for _ in 0..3 {
            at += ms(2);
            p.on_icmp(at, paced(0, None));
        }
        at += ms(2);
        p.on_icmp(at, paced(1, Some(at - ms(1))));
        let settled = p.interval().unwrap();
        assert!(settled > probed, "{probed:?} -> {settled:?}");
        let mut at = at + FB;
        for _ in 0..50 {
            at += ms(1);
            p.on_icmp(at, paced(0, None));
        }
        let after = p.interval().unwrap();
        assert!(after >= settled.mul_f64(0.89), "{settled:?} -> {after:?}");
        assert!(after < settled, "{settled:?} -> {after:?}");
    }

    #[test]
    fn unpaced_answers_leave_the_pace_alone() {
        let t0 = Instant::now();
        let mut p = detected(t0, Duration::from_secs(1));
        let before = p.interval().unwrap();
        p.on_icmp(t0 + ms(9000), unpaced(false));
        assert_eq!(p.interval().unwrap(), before);
    }
}
