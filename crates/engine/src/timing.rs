//! Timing: templates, round-trip estimation and congestion windows.
//!
//! The estimator follows RFC 6298 (smoothed RTT and variance, timeout =
//! srtt + 4·rttvar, clamped). The window is TCP-like: it grows by one per
//! answered probe below the slow-start threshold and by 1/cwnd above it, and
//! it shrinks only on *evidence* of loss (a retransmitted probe that was
//! answered, proving the first copy or its answer was lost). A probe that
//! is never answered says nothing about loss: the port may simply be
//! filtered, so silence alone never throttles a scan.
//!
//! Loss is not always congestion: a lossy link drops a steady fraction of
//! packets whatever the rate, and halving on each of those drops would
//! collapse the scan for nothing. The window measures the loss fraction of
//! each epoch of probes it sent, keeps a long-run baseline of it, and cuts
//! only when an epoch's loss clearly exceeds the baseline (the signature of a
//! queue overflowing), or when the baseline itself is so high that the path
//! must be overloaded.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The knobs a timing template (`-T0`..`-T5`) sets; flags override fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingParams {
    pub initial_rtt_timeout: Duration,
    pub min_rtt_timeout: Duration,
    pub max_rtt_timeout: Duration,
    /// Retransmissions after the first probe of a port, as a rule.
    pub max_retries: u8,
    /// Retransmissions a host with measured random loss may get, so that a
    /// lossy link does not turn closed ports filtered. Equal to `max_retries`
    /// when the user set `--max-retries`.
    pub max_retries_lossy: u8,
    /// Minimum gap between two probes to the same host.
    pub scan_delay: Duration,
    /// Probes in flight to one host when it is first contacted.
    pub initial_cwnd: f64,
    /// Ceiling of the per-host window.
    pub max_cwnd: f64,
    /// Slow-start threshold a host begins with.
    pub initial_ssthresh: f64,
    /// Ceiling on probes in flight overall (also capped by the socket budget).
    pub max_parallelism: usize,
    /// Floor on probes in flight overall, reached regardless of the windows.
    pub min_parallelism: usize,
    /// Hosts scanned at once.
    pub max_hostgroup: usize,
    pub host_timeout: Option<Duration>,
}

impl TimingParams {
    /// The template for `-T<level>`; levels above 5 are treated as 5.
    ///
    /// Timeouts and retry counts are those Nmap documents for its templates,
    /// so users get the behaviour the flag name promises.
    pub fn template(level: u8) -> TimingParams {
        let base = TimingParams {
            initial_rtt_timeout: Duration::from_millis(1000),
            min_rtt_timeout: Duration::from_millis(100),
            max_rtt_timeout: Duration::from_secs(10),
            max_retries: 10,
            max_retries_lossy: 10,
            scan_delay: Duration::ZERO,
            initial_cwnd: 10.0,
            max_cwnd: 512.0,
            initial_ssthresh: 128.0,
            max_parallelism: 4096,
            min_parallelism: 1,
            max_hostgroup: 256,
            host_timeout: None,
        };
        match level {
            0 => TimingParams {
                initial_rtt_timeout: Duration::from_secs(300),
                scan_delay: Duration::from_secs(300),
                initial_cwnd: 1.0,
                max_cwnd: 1.0,
                max_parallelism: 1,
                max_hostgroup: 1,
                ..base
            },
            1 => TimingParams {
                initial_rtt_timeout: Duration::from_secs(15),
                scan_delay: Duration::from_secs(15),
                initial_cwnd: 1.0,
                max_cwnd: 1.0,
                max_parallelism: 1,
                max_hostgroup: 1,
                ..base
            },
            2 => TimingParams {
                scan_delay: Duration::from_millis(400),
                initial_cwnd: 1.0,
                max_cwnd: 1.0,
                max_parallelism: 1,
                ..base
            },
            3 => base,
            4 => TimingParams {
                initial_rtt_timeout: Duration::from_millis(500),
                max_rtt_timeout: Duration::from_millis(1250),
                max_retries: 6,
                ..base
            },
            _ => TimingParams {
                initial_rtt_timeout: Duration::from_millis(250),
                min_rtt_timeout: Duration::from_millis(50),
                max_rtt_timeout: Duration::from_millis(300),
                max_retries: 2,
                max_retries_lossy: 4,
                host_timeout: Some(Duration::from_secs(900)),
                ..base
            },
        }
    }
}

/// RFC 6298 round-trip estimator producing a probe timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    timeout: Duration,
}

impl RttEstimator {
    pub fn new(initial_timeout: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            timeout: initial_timeout,
        }
    }

    /// Folds one measured round trip in and recomputes the timeout.
    pub fn sample(&mut self, rtt: Duration, p: &TimingParams) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let err = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + err) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
        let raw = self.srtt.unwrap_or(rtt) + self.rttvar * 4;
        self.timeout = raw.clamp(p.min_rtt_timeout, p.max_rtt_timeout);
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }
}

/// A congestion window that is cut only when the loss of recently sent
/// probes clearly exceeds the path's baseline.
///
/// Loss is measured per *epoch*: a run of first tries, one window's worth (at
/// least [`MIN_ROUND`]). Each first try whose port later answered is either
/// delivered (its own answer came) or lost (only a retransmission's answer
/// came). A port that never answers tells nothing and is not counted, so
/// silence alone never throttles a scan. An epoch is judged once its
/// retransmissions had time to be answered, so its loss fraction is what the
/// path did to those probes, whatever mix of first tries and retries was in
/// flight when the answers came back. Epochs sent before a cut are not
/// judged again for cutting (one cut per congestion event, as in TCP).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    cwnd: f64,
    ssthresh: f64,
    max: f64,
    /// Epochs waiting for their answers, oldest first.
    epochs: VecDeque<Epoch>,
    /// Samples of judged epochs too small to judge alone: (delivered, lost).
    carry: (u32, u32),
    /// Whether the carried samples all came after the latest cut.
    carry_may_cut: bool,
    /// Judged rounds (saturating).
    judged: u32,
    /// Long-run loss fraction; `None` before the first judgement.
    baseline: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Epoch {
    /// Send order of its first probe.
    start: u64,
    sent: u32,
    /// When its last probe left (the epoch is then closed).
    closed_at: Option<Instant>,
    delivered: u32,
    lost: u32,
    /// False for epochs in flight when the window was cut.
    may_cut: bool,
}

/// Fewest samples (answered first tries) a judgement needs.
const MIN_ROUND: u32 = 20;
/// Weight of one judgement in the baseline once it is warm.
const BASELINE_WEIGHT: f64 = 0.1;
/// Judgements that only learn the baseline (the ceiling still applies).
const WARM_UP: u32 = 2;
/// Loss below this never reads as congestion.
const LOSS_FLOOR: f64 = 0.05;
/// A baseline above this is treated as overload, not as a lossy link.
const LOSS_CEILING: f64 = 0.3;
/// Open epochs kept at most (older ones are judged early).
const MAX_EPOCHS: usize = 256;

impl Window {
    pub fn new(initial: f64, ssthresh: f64, max: f64) -> Window {
        Window {
            cwnd: initial.min(max).max(1.0),
            ssthresh,
            max: max.max(1.0),
            epochs: VecDeque::new(),
            carry: (0, 0),
            carry_may_cut: true,
            judged: 0,
            baseline: None,
        }
    }

    /// How many probes may be in flight.
    pub fn allowed(&self) -> usize {
        self.cwnd as usize
    }

    /// A first try (send order `order`) left at `now`.
    pub fn on_first_try(&mut self, now: Instant, order: u64) {
        let size = MIN_ROUND.max(self.cwnd as u32);
        match self.epochs.back_mut() {
            Some(e) if e.closed_at.is_none() => {
                e.sent += 1;
                if e.sent >= size {
                    e.closed_at = Some(now);
                }
            }
            _ => {
                if self.epochs.len() >= MAX_EPOCHS {
                    if let Some(e) = self.epochs.pop_front() {
                        self.judge_epoch(e);
                    }
                }
                self.epochs.push_back(Epoch {
                    start: order,
                    sent: 1,
                    closed_at: None,
                    delivered: 0,
                    lost: 0,
                    may_cut: true,
                });
            }
        }
    }

    /// A port answered. `first` is the send order of its first try, `lost`
    /// whether that try went unanswered (a retransmission drew the answer).
    pub fn on_answer(&mut self, first: u64, lost: bool) {
        if !lost {
            self.grow();
        }
        let i = self.epochs.partition_point(|e| e.start <= first);
        if let Some(e) = i.checked_sub(1).and_then(|i| self.epochs.get_mut(i)) {
            if lost {
                e.lost += 1;
            } else {
                e.delivered += 1;
            }
        }
    }

    /// Judges the epochs closed at least `wait` before `now`: by then their
    /// retransmissions had time to draw answers.
    pub fn judge(&mut self, now: Instant, wait: Duration) {
        while let Some(e) = self.epochs.front().copied() {
            let due = e.closed_at.is_some_and(|t| t + wait <= now);
            if !due {
                break;
            }
            self.epochs.pop_front();
            self.judge_epoch(e);
        }
    }

    fn grow(&mut self) {
        let inc = if self.cwnd < self.ssthresh {
            1.0
        } else {
            1.0 / self.cwnd
        };
        self.cwnd = (self.cwnd + inc).min(self.max);
    }

    fn judge_epoch(&mut self, e: Epoch) {
        self.carry.0 += e.delivered;
        self.carry.1 += e.lost;
        self.carry_may_cut &= e.may_cut;
        let (delivered, lost) = self.carry;
        let n = delivered + lost;
        if n < MIN_ROUND {
            return;
        }
        let may_cut = self.carry_may_cut;
        self.carry = (0, 0);
        self.carry_may_cut = true;
        let n = f64::from(n);
        let f = f64::from(lost) / n;
        let congested = match self.baseline {
            Some(l) if l > LOSS_CEILING => true,
            Some(l) if self.judged >= WARM_UP => {
                // Over twice the baseline, by more than the sample's own
                // noise (two standard deviations).
                let noise = 2.0 * (l * (1.0 - l) / n).sqrt();
                f > LOSS_FLOOR.max(2.0 * l) + noise
            }
            _ => f > LOSS_CEILING,
        };
        if congested && may_cut {
            self.ssthresh = (self.cwnd / 2.0).max(2.0);
            self.cwnd = self.ssthresh;
            for e in &mut self.epochs {
                e.may_cut = false;
            }
        }
        self.judged = self.judged.saturating_add(1);
        // A plain mean while warming up, then a moving average.
        let w = (1.0 / f64::from(self.judged)).max(BASELINE_WEIGHT);
        self.baseline = Some(self.baseline.map_or(f, |l| l + w * (f - l)));
    }

    pub fn cwnd(&self) -> f64 {
        self.cwnd
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // a base instant for the test clock
mod tests {
    use super::*;

    #[test]
    fn estimator_converges_and_clamps() {
        let p = TimingParams::template(4);
        let mut e = RttEstimator::new(p.initial_rtt_timeout);
        assert_eq!(e.timeout(), Duration::from_millis(500));
        for _ in 0..50 {
            e.sample(Duration::from_micros(200), &p);
        }
        // 200 µs RTT: the raw timeout is tiny, so the floor applies.
        assert_eq!(e.timeout(), p.min_rtt_timeout);
        for _ in 0..50 {
            e.sample(Duration::from_secs(5), &p);
        }
        assert_eq!(e.timeout(), p.max_rtt_timeout);
        assert!(e.srtt().unwrap() > Duration::from_secs(4));
    }

    /// First tries one per millisecond, each answered at once (`lost`: by
    /// its retransmission), epochs judged 100 ms after they close.
    struct Feed {
        now: Instant,
        order: u64,
    }

    impl Feed {
        fn new() -> Feed {
            Feed {
                now: Instant::now(),
                order: 0,
            }
        }

        fn run(&mut self, w: &mut Window, n: usize, mut lost: impl FnMut(u64) -> bool) {
            for _ in 0..n {
                w.on_first_try(self.now, self.order);
                w.on_answer(self.order, lost(self.order));
                self.order += 1;
                self.now += Duration::from_millis(1);
                w.judge(self.now, Duration::from_millis(100));
            }
        }
    }

    /// A deterministic stream of loss flags with `per_mille` losses.
    fn lossy_stream(per_mille: u64) -> impl FnMut(u64) -> bool {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        move |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 1000 < per_mille
        }
    }

    #[test]
    fn window_grows_in_slow_start_then_by_one_per_round() {
        let mut w = Window::new(10.0, 20.0, 100.0);
        let mut feed = Feed::new();
        feed.run(&mut w, 10, |_| false);
        assert_eq!(w.allowed(), 20);
        feed.run(&mut w, 1, |_| false);
        assert!(
            w.cwnd() > 20.0 && w.cwnd() < 20.1,
            "congestion avoidance grows by 1/cwnd"
        );
        feed.run(&mut w, 10_000, |_| false);
        assert_eq!(w.allowed(), 100, "capped at max");
    }

    #[test]
    fn steady_random_loss_does_not_collapse_the_window() {
        // About one first try in five is lost, at random: a link losing
        // 10 % each way whatever the rate.
        let mut lossy = Window::new(10.0, 64.0, 4096.0);
        let mut losses = Vec::new();
        let mut stream = lossy_stream(190);
        Feed::new().run(&mut lossy, 40_000, |_| {
            let l = stream(0);
            losses.push(l);
            l
        });
        let mut clean = Window::new(10.0, 64.0, 4096.0);
        let mut feed = Feed::new();
        for l in losses.into_iter().filter(|l| !l) {
            feed.run(&mut clean, 1, |_| l);
        }
        assert_eq!(lossy.cwnd(), clean.cwnd(), "no cut");
    }

    #[test]
    fn silence_neither_grows_nor_cuts() {
        let mut w = Window::new(10.0, 64.0, 512.0);
        let mut now = Instant::now();
        for order in 0..10_000 {
            w.on_first_try(now, order);
            now += Duration::from_millis(1);
            w.judge(now, Duration::from_millis(100));
        }
        assert_eq!(w.cwnd(), 10.0);
    }

    #[test]
    fn a_loss_burst_cuts_once() {
        let mut w = Window::new(20.0, 20.0, 512.0);
        let mut feed = Feed::new();
        feed.run(&mut w, 2000, |_| false);
        let before = w.cwnd();
        // A burst of 60 lost probes, then a clean path again: the epochs in
        // flight when the first is judged do not cut again.
        feed.run(&mut w, 60, |_| true);
        feed.run(&mut w, 300, |_| false);
        let after = w.cwnd();
        // Halved once, then grown a little: not halved twice.
        assert!(
            after >= before / 2.0 && after < before * 0.7,
            "{before} -> {after}"
        );
    }

    #[test]
    fn sustained_loss_over_the_baseline_keeps_cutting() {
        let mut w = Window::new(10.0, 64.0, 512.0);
        let mut feed = Feed::new();
        feed.run(&mut w, 5000, |_| false);
        let before = w.cwnd();
        feed.run(&mut w, 3000, |o| o % 3 == 0);
        assert!(w.cwnd() < before / 4.0, "{before} -> {}", w.cwnd());
    }

    #[test]
    fn an_overloaded_path_keeps_cutting() {
        let mut w = Window::new(64.0, 64.0, 512.0);
        Feed::new().run(&mut w, 3000, |o| o % 2 == 0);
        // One cut per congestion event (the epochs in flight at a cut do
        // not cut again), so the window settles low but does not vanish.
        assert!(
            w.allowed() < 16,
            "half the probes lost: window {}",
            w.allowed()
        );
    }

    #[test]
    fn window_never_below_one() {
        let mut w = Window::new(1.0, 2.0, 10.0);
        Feed::new().run(&mut w, 500, |_| true);
        assert!(w.allowed() >= 1);
    }
}
