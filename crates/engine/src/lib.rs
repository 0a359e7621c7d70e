//! Portolan's sans-IO scan engine.
//!
//! The engine owns no socket and reads no clock: its caller (the driver) feeds
//! it time and replies and carries out what it asks for.
//!
//! ```text
//! engine.poll_transmit(now)        -> Option<Transmit>   what to send (or abort) next
//! engine.handle_packet(now, bytes)                       a raw reply arrived
//! engine.handle_outcome(now, p, o)                       a connect probe was answered
//! engine.handle_timeout(now)                             timers may have fired
//! engine.poll_timeout()            -> Option<Instant>    when to call handle_timeout
//! engine.poll_event()              -> Option<ScanEvent>  finished hosts
//! ```
//!
//! This is what lets the whole scan logic run against a simulated network on a
//! virtual clock in tests (see `tests/sim.rs` and `tests/raw_sim.rs`).

mod answer;
pub mod discovery;
mod host;
mod pacer;
pub mod payloads;
pub mod probe;
mod rate;
mod scan;
pub mod timing;
pub mod trace;

pub use discovery::{Discovered, Discovery, DiscoveryConfig, DiscoveryTarget, PingProbe};
pub use probe::{Answer, AnswerKind, ProbeKind, ProbeSpec, RawConfig, TcpInterp, TcpScan};
pub use scan::{HostOutcome, Outcome, ProbeId, Progress, Scan, ScanConfig, ScanEvent, Transmit};
pub use timing::TimingParams;
