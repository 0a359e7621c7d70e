//! Reverse DNS (PTR) for many addresses at once: bounded concurrency, hard timeouts.
//!
//! After host discovery a scan names its hosts, as Nmap's "Parallel DNS resolution of N
//! hosts" does. The flags map onto this crate as follows: `-n` calls nothing; `-R` passes
//! every target instead of the live ones; `--dns-servers a,b` builds the server list with
//! [`parse_dns_servers`]; otherwise [`ResolverConfig::from_system`] reads `/etc/resolv.conf`;
//! `--system-dns` uses [`system_reverse_lookup_all`] instead of [`reverse_lookup_all`].
//!
//! # Design
//!
//! [`reverse_lookup_all`] is synchronous and self-contained (no async runtime):
//!
//! - **Sans-IO core.** [`Resolver`] decides everything (what to send, to which server,
//!   when a try has timed out, whether a datagram is an answer) from `now` and the bytes it
//!   is given; the UDP driver owns the clock and the sockets. The core is tested on a
//!   virtual clock, the driver against fake servers on loopback.
//! - **One socket per address family**, non-blocking, shared by every outstanding query;
//!   the driver sleeps in `poll` until the next datagram or the next timer. Query IDs come
//!   from a generator seeded with fresh randomness, and the OS picks a random source port.
//! - **Bounded concurrency.** At most `max_in_flight` addresses have a query outstanding;
//!   the next address is sent when one finishes.
//! - **Hard timeouts.** Each try waits `timeout`; an address gets `tries` tries, round-robin
//!   over the servers (a server silent for several tries in a row is tried after the
//!   others), so it finishes at most `tries × timeout` after its first query. An error
//!   answer (SERVFAIL, REFUSED, truncated with no record) moves on to the next try at once.
//!   When every server has been silent for a whole window of tries in a row, addresses not
//!   yet sent are reported timed out rather than queued behind the silence, so a dead
//!   server costs about `tries × timeout` in all. `overall_deadline` bounds the whole call.
//! - **Validation.** A datagram is used only if it decodes, carries the ID of an
//!   outstanding query, comes from the address and port that query went to, and repeats its
//!   question (name, PTR, IN). Others are dropped and counted in [`Stats`] (forged,
//!   malformed, or late: a valid answer for an address a retry already finished). An answer
//!   to an earlier try of the same address still counts, so a slow server is not wasted.
//! - **Answers.** The first PTR record for the question's name, following CNAME records in
//!   the answer section (classless delegation, RFC 2317), gives the name, in presentation
//!   form without the trailing dot and with unprintable bytes escaped. NXDOMAIN and
//!   "no PTR record" are distinct outcomes; see [`Outcome`].
//! - **Decoding** ([`message`]) is our own small decoder: bounds-checked everywhere,
//!   compression pointers followed only backwards (no loops), names capped at 255 bytes.
//!   It never panics on any input (property-tested).
//!
//! [`system_reverse_lookup_all`] calls `getnameinfo` (with `NI_NAMEREQD`) on a bounded pool
//! of threads; its timeout bounds the whole call, and a thread stuck in the C library does
//! not hold up the return.

pub mod config;
pub mod engine;
pub mod message;
pub mod outcome;
mod system;
mod udp;

pub use config::{parse_dns_servers, parse_resolv_conf, ConfigError, ResolverConfig};
pub use engine::{Resolver, Transmit};
pub use outcome::{Lookups, Outcome, ReverseResult, Stats};
pub use system::{system_reverse_lookup_all, MAX_SYSTEM_THREADS};
pub use udp::reverse_lookup_all;

/// Why a batch of lookups could not run at all. (A server that fails or never answers is
/// not an error: it shows in each address's [`Outcome`].)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No socket could be opened, or waiting on the sockets failed.
    #[error("DNS socket: {0}")]
    Socket(#[source] std::io::Error),
    /// No thread of the system resolver pool could be started.
    #[error("cannot start a system resolver thread: {0}")]
    Spawn(#[source] std::io::Error),
}
