//! `--max-rate` as a token bucket and `--min-rate` as a running deficit.

use std::time::{Duration, Instant};

/// Slack for float accumulation: ten additions of 0.1 must make a token.
const EPS: f64 = 1e-9;

#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    max_rate: Option<f64>,
    min_rate: Option<f64>,
    tokens: f64,
    capacity: f64,
    last: Option<Instant>,
    started: Option<Instant>,
    sent: u64,
}

impl RateLimiter {
    pub(crate) fn new(min_rate: Option<f64>, max_rate: Option<f64>) -> RateLimiter {
        // Allow a burst of 10 ms worth of probes, at least one.
        let capacity = max_rate.map_or(1.0, |r| (r / 100.0).max(1.0));
        RateLimiter {
            max_rate,
            min_rate,
            tokens: capacity,
            capacity,
            last: None,
            started: None,
            sent: 0,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let (Some(rate), Some(last)) = (self.max_rate, self.last) {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * rate).min(self.capacity);
        }
        self.last = Some(now);
    }

    /// Whether `--max-rate` lets a probe go now.
    pub(crate) fn may_send(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.max_rate.is_none() || self.tokens >= 1.0 - EPS
    }

    pub(crate) fn on_send(&mut self, now: Instant) {
        self.started.get_or_insert(now);
        self.sent += 1;
        if self.max_rate.is_some() {
            self.tokens -= 1.0;
        }
    }

    /// When the next token arrives, if the bucket is empty.
    pub(crate) fn next_token_at(&self) -> Option<Instant> {
        let (rate, last) = (self.max_rate?, self.last?);
        if self.tokens >= 1.0 - EPS {
            return None;
        }
        let wait = (1.0 - self.tokens) / rate;
        Some(last + Duration::from_secs_f64(wait))
    }

    /// True while the scan sends more slowly than `--min-rate` asks: the
    /// congestion windows are then bypassed.
    pub(crate) fn below_min_rate(&self, now: Instant) -> bool {
        let (Some(min), Some(start)) = (self.min_rate, self.started) else {
            return false;
        };
        let expected = min * now.saturating_duration_since(start).as_secs_f64();
        (self.sent as f64) < expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)]
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn max_rate_spaces_probes() {
        let start = t0();
        let mut r = RateLimiter::new(None, Some(100.0));
        let mut sent = 0;
        // One simulated second in 1 ms steps, sending whenever allowed.
        for ms in 0..1000 {
            let now = start + Duration::from_millis(ms);
            while r.may_send(now) {
                r.on_send(now);
                sent += 1;
            }
        }
        assert!((99..=102).contains(&sent), "sent {sent}");
        assert!(r.next_token_at().is_some());
    }

    #[test]
    fn min_rate_reports_deficit() {
        let start = t0();
        let mut r = RateLimiter::new(Some(1000.0), None);
        r.on_send(start);
        assert!(r.below_min_rate(start + Duration::from_millis(10)));
        for _ in 0..20 {
            r.on_send(start);
        }
        assert!(!r.below_min_rate(start + Duration::from_millis(10)));
    }
}
