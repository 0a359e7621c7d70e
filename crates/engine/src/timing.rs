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
//! collapse the scan for nothing. The window keeps a short-run and a long-run
//! average of the loss fraction and cuts only when recent loss clearly exceeds
//! the long-run baseline (the signature of a queue overflowing), or when the
//! baseline itself is so high that the path must be overloaded.

use std::time::Duration;

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

/// A congestion window that is cut at most once per round, and only when a
/// round's loss clearly exceeds the path's baseline.
///
/// A round is one window's worth of answers (at least [`MIN_ROUND`]). Each
/// answer is either to a first try (no loss) or to a retransmission (the
/// earlier copy or its answer was lost).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    cwnd: f64,
    ssthresh: f64,
    max: f64,
    round_answers: u32,
    round_losses: u32,
    /// Long-run loss fraction per round; `None` before the first round ends.
    baseline: Option<f64>,
}

/// Fewest answers a round needs before its loss fraction is judged.
const MIN_ROUND: u32 = 20;
/// Weight of one round in the baseline.
const BASELINE_WEIGHT: f64 = 0.1;
/// Round loss below this never reads as congestion.
const LOSS_FLOOR: f64 = 0.05;
/// A baseline above this is treated as overload, not as a lossy link.
const LOSS_CEILING: f64 = 0.3;

impl Window {
    pub fn new(initial: f64, ssthresh: f64, max: f64) -> Window {
        Window {
            cwnd: initial.min(max).max(1.0),
            ssthresh,
            max: max.max(1.0),
            round_answers: 0,
            round_losses: 0,
            baseline: None,
        }
    }

    /// How many probes may be in flight.
    pub fn allowed(&self) -> usize {
        self.cwnd as usize
    }

    /// An answer arrived; `lost` when it answered a retransmission.
    pub fn on_answer(&mut self, lost: bool) {
        self.round_answers += 1;
        if lost {
            self.round_losses += 1;
        } else {
            self.grow();
        }
        if self.round_answers >= MIN_ROUND.max(self.cwnd as u32) {
            self.end_round();
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

    fn end_round(&mut self) {
        let f = f64::from(self.round_losses) / f64::from(self.round_answers);
        let congested = match self.baseline {
            None => f > LOSS_CEILING,
            Some(l) => l > LOSS_CEILING || f > LOSS_FLOOR.max(2.0 * l),
        };
        if congested {
            self.ssthresh = (self.cwnd / 2.0).max(2.0);
            self.cwnd = self.ssthresh;
        }
        self.baseline = Some(self.baseline.map_or(f, |l| l + BASELINE_WEIGHT * (f - l)));
        self.round_answers = 0;
        self.round_losses = 0;
    }

    pub fn cwnd(&self) -> f64 {
        self.cwnd
    }
}

#[cfg(test)]
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

    #[test]
    fn window_grows_in_slow_start_then_by_one_per_round() {
        let mut w = Window::new(10.0, 20.0, 100.0);
        for _ in 0..10 {
            w.on_answer(false);
        }
        assert_eq!(w.allowed(), 20);
        w.on_answer(false);
        assert!(
            w.cwnd() > 20.0 && w.cwnd() < 20.1,
            "congestion avoidance grows by 1/cwnd"
        );
        for _ in 0..10_000 {
            w.on_answer(false);
        }
        assert_eq!(w.allowed(), 100, "capped at max");
    }

    #[test]
    fn steady_random_loss_does_not_collapse_the_window() {
        let mut lossy = Window::new(10.0, 64.0, 4096.0);
        let mut clean = Window::new(10.0, 64.0, 4096.0);
        // Every fifth answer is a retransmission's: a link losing 20 % of
        // probes whatever the rate. The first round sets the baseline.
        for i in 0..20_000u32 {
            let lost = i % 5 == 0;
            lossy.on_answer(lost);
            if !lost {
                clean.on_answer(false);
            }
        }
        assert_eq!(
            lossy.cwnd(),
            clean.cwnd(),
            "no cut: grew as far as a clean path would"
        );
    }

    #[test]
    fn a_loss_spike_over_the_baseline_cuts_once_per_round() {
        // Window 20 in congestion avoidance: a round is 20 answers.
        let mut w = Window::new(20.0, 20.0, 512.0);
        for _ in 0..20 {
            w.on_answer(false);
        }
        let before = w.cwnd();
        // One whole round of answers to retransmissions: 20 losses, one cut.
        for _ in 0..20 {
            w.on_answer(true);
        }
        assert!(
            (w.cwnd() - before / 2.0).abs() < 1e-9,
            "{before} -> {}",
            w.cwnd()
        );
    }

    #[test]
    fn sustained_loss_over_the_baseline_keeps_cutting() {
        let mut w = Window::new(10.0, 64.0, 512.0);
        for _ in 0..5000 {
            w.on_answer(false);
        }
        let before = w.cwnd();
        for i in 0..2000u32 {
            w.on_answer(i % 3 == 0);
        }
        assert!(w.cwnd() < before / 4.0, "{before} -> {}", w.cwnd());
    }

    #[test]
    fn an_overloaded_path_keeps_cutting() {
        let mut w = Window::new(64.0, 64.0, 512.0);
        for i in 0..2000u32 {
            w.on_answer(i % 2 == 0);
        }
        assert!(
            w.allowed() <= 4,
            "half the probes lost: window {}",
            w.allowed()
        );
    }

    #[test]
    fn window_never_below_one() {
        let mut w = Window::new(1.0, 2.0, 10.0);
        for _ in 0..200 {
            w.on_answer(true);
        }
        assert!(w.allowed() >= 1);
    }
}
