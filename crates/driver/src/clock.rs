//! The driver's clock: monotonic time for the engine, wall time for reports.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Ties one monotonic instant to one wall-clock reading, taken at start.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    mono: Instant,
    wall: Duration,
}

impl WallClock {
    #[allow(clippy::disallowed_methods)] // the driver is where time enters
    pub fn start() -> WallClock {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        WallClock {
            mono: Instant::now(),
            wall,
        }
    }

    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// Seconds since the Unix epoch at monotonic instant `t`.
    pub fn epoch_secs(&self, t: Instant) -> u64 {
        (self.wall + t.saturating_duration_since(self.mono)).as_secs()
    }

    pub fn start_epoch_secs(&self) -> u64 {
        self.wall.as_secs()
    }

    pub fn elapsed(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.mono)
    }
}
