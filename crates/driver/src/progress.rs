//! The one-line progress report on a terminal's stderr.

use portolan_engine::Progress;
use std::io::Write;
use std::time::{Duration, Instant};

/// Redraws `Progress: 42.0% (1234 probes, 5321/s), ETA 0:12` at most once a second.
#[derive(Debug)]
pub struct ProgressLine {
    started: Instant,
    last_draw: Option<Instant>,
    drawn: bool,
}

impl ProgressLine {
    pub fn new(started: Instant) -> ProgressLine {
        ProgressLine {
            started,
            last_draw: None,
            drawn: false,
        }
    }

    pub fn update(&mut self, now: Instant, p: &Progress, expected_ports: u64) {
        if now.saturating_duration_since(self.started) < Duration::from_secs(1) {
            return;
        }
        if self
            .last_draw
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last_draw = Some(now);
        let line = render(
            now.saturating_duration_since(self.started),
            p,
            expected_ports,
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Erases the line so results print cleanly.
    pub fn clear(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

/// The text of the progress line.
pub fn render(elapsed: Duration, p: &Progress, expected_ports: u64) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let frac = if expected_ports == 0 {
        0.0
    } else {
        p.ports_settled as f64 / expected_ports as f64
    };
    let rate = p.probes_sent as f64 / secs;
    let eta = if frac > 0.0 {
        Some(secs * (1.0 - frac) / frac)
    } else {
        None
    };
    let eta = eta.map_or("?".to_string(), |e| {
        format!("{}:{:02}", e as u64 / 60, e as u64 % 60)
    });
    format!(
        "Progress: {:.1}% ({} probes, {:.0}/s, {} hosts done), ETA {}",
        frac * 100.0,
        p.probes_sent,
        rate,
        p.hosts_done,
        eta
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_percent_rate_and_eta() {
        let p = Progress {
            probes_sent: 5000,
            ports_settled: 250,
            hosts_done: 1,
            ..Progress::default()
        };
        let s = render(Duration::from_secs(10), &p, 1000);
        assert_eq!(
            s,
            "Progress: 25.0% (5000 probes, 500/s, 1 hosts done), ETA 0:30"
        );
        let none = render(Duration::from_secs(1), &Progress::default(), 0);
        assert!(none.ends_with("ETA ?"));
    }
}
