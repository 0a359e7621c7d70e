//! Timing: templates, round-trip estimation and congestion windows.
//!
//! The estimator follows RFC 6298 (smoothed RTT and variance, timeout =
//! srtt + 4·rttvar, clamped). The window is TCP-like: it grows by one per
//! answered probe below the slow-start threshold and by 1/cwnd above it, and
//! it shrinks only on *evidence* of loss (a retransmitted probe that was
//! answered, proving the first copy or its answer was lost). A probe that
//! is never answered says nothing about loss: the port may simply be
//! filtered, so silence alone never throttles a scan.

use std::time::{Duration, Instant};

/// The knobs a timing template (`-T0`..`-T5`) sets; flags override fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingParams {
    pub initial_rtt_timeout: Duration,
    pub min_rtt_timeout: Duration,
    pub max_rtt_timeout: Duration,
    /// Retransmissions allowed after the first probe of a port.
    pub max_retries: u8,
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

/// A congestion window with one reduction per round of loss evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    cwnd: f64,
    ssthresh: f64,
    max: f64,
    /// Loss evidence from probes sent before this instant was already acted on.
    recovery_until: Option<Instant>,
}

impl Window {
    pub fn new(initial: f64, ssthresh: f64, max: f64) -> Window {
        Window {
            cwnd: initial.min(max).max(1.0),
            ssthresh,
            max: max.max(1.0),
            recovery_until: None,
        }
    }

    /// How many probes may be in flight.
    pub fn allowed(&self) -> usize {
        self.cwnd as usize
    }

    /// An answer to a first-try probe: grow.
    pub fn on_success(&mut self) {
        let inc = if self.cwnd < self.ssthresh {
            1.0
        } else {
            1.0 / self.cwnd
        };
        self.cwnd = (self.cwnd + inc).min(self.max);
    }

    /// An answer to a retransmission of a probe first sent at `first_sent`:
    /// the first copy (or its answer) was lost. Halves the window once per
    /// round: evidence about probes sent before the last reduction is ignored.
    pub fn on_loss(&mut self, first_sent: Instant, now: Instant) {
        if self.recovery_until.is_some_and(|t| first_sent < t) {
            return;
        }
        self.ssthresh = (self.cwnd / 2.0).max(2.0);
        self.cwnd = self.ssthresh;
        self.recovery_until = Some(now);
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
    fn window_grows_then_halves_once_per_round() {
        let t0 = base_instant();
        let mut w = Window::new(10.0, 20.0, 100.0);
        for _ in 0..10 {
            w.on_success();
        }
        assert_eq!(w.allowed(), 20);
        w.on_success();
        assert!(
            w.cwnd() > 20.0 && w.cwnd() < 20.1,
            "congestion avoidance grows by 1/cwnd"
        );
        let t1 = t0 + Duration::from_millis(10);
        w.on_loss(t0, t1);
        let after = w.cwnd();
        assert!((after - 10.025).abs() < 0.01, "halved: {after}");
        // More evidence about probes sent before the reduction: ignored.
        w.on_loss(t0 + Duration::from_millis(5), t1 + Duration::from_millis(1));
        assert_eq!(w.cwnd(), after);
        // Evidence about a probe sent after it: acted on.
        w.on_loss(t1 + Duration::from_millis(2), t1 + Duration::from_millis(3));
        assert!(w.cwnd() < after);
        for _ in 0..10_000 {
            w.on_success();
        }
        assert_eq!(w.allowed(), 100, "capped at max");
    }

    #[test]
    fn window_never_below_one() {
        let t0 = base_instant();
        let mut w = Window::new(1.0, 2.0, 10.0);
        for i in 0..20 {
            let t = t0 + Duration::from_millis(i);
            w.on_loss(t, t);
        }
        assert!(w.allowed() >= 1);
    }

    #[allow(clippy::disallowed_methods)]
    fn base_instant() -> Instant {
        Instant::now()
    }
}
