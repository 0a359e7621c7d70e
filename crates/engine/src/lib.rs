//! Portolan's sans-IO scan engine.
//!
//! The engine owns no socket and reads no clock: its caller (the driver) feeds
//! it time and replies and carries out what it asks for.
//!
//! ```text
//! engine.poll_transmit(now)        -> Option<Transmit>   what to send (or abort) next
//! engine.handle_outcome(now, p, o)                       a probe was answered
//! engine.handle_timeout(now)                             timers may have fired
//! engine.poll_timeout()            -> Option<Instant>    when to call handle_timeout
//! engine.poll_event()              -> Option<ScanEvent>  finished hosts
//! ```
//!
//! This is what lets the whole scan logic run against a simulated network on a
//! virtual clock in tests (see `tests/sim.rs`).

mod rate;
mod scan;
pub mod timing;

pub use scan::{HostOutcome, Outcome, ProbeId, Progress, Scan, ScanConfig, ScanEvent, Transmit};
pub use timing::TimingParams;
