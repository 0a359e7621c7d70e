//! Service and version detection (`-sV`): the probe database, the matcher, and the
//! per-port probe plan. No I/O, no clock: the driver sends, reads and times; this crate
//! decides what to send and what the answers mean.
//!
//! # The database
//!
//! [`ProbeDb::parse`] reads the grammar of Nmap's `nmap-service-probes` file (Portolan's
//! own database, [`ProbeDb::builtin`], and files given with `--versiondb` use it):
//! `Exclude`, `Probe`, `match`, `softmatch`, `ports`, `sslports`, `rarity`,
//! `totalwaitms`, `tcpwrappedms`, `fallback`. Unknown directives, patterns our regex
//! engine cannot compile (see [`perl_regex`]) and malformed version fields cost a
//! [`DbWarning`], not the file; structural mistakes are a [`DbError`] naming the line.
//!
//! # Matching
//!
//! [`ProbeDb::match_response`] tests an answer against its probe's lines, its fallbacks'
//! and (TCP) the NULL probe's; the first hard match wins, else the first soft match. The
//! version fields come from the line's template ([`template`]).
//!
//! # Planning
//!
//! A [`Plan`] per (host, port) hands out [`ProbeStep`]s and reads the answers
//! ([`Plan::on_data`], [`Plan::on_end`]) until an [`Outcome`]: a match, TLS to unwrap,
//! `tcpwrapped`, or unknown (with a soft match, if any).
//!
//! # Reporting
//!
//! A port that answered but was not named gets a [`fingerprint`] in Nmap's
//! `SF-Port` format; an HTTP answer's page title is read by [`http`].

mod db;
mod error;
pub mod fingerprint;
pub mod http;
mod matcher;
mod parse;
pub mod perl_regex;
mod plan;
pub mod ports;
pub mod template;

pub use db::{
    MatchLine, Probe, ProbeDb, ProbeId, DEFAULT_RARITY, DEFAULT_TCPWRAPPED, DEFAULT_TOTAL_WAIT,
    NULL_PROBE,
};
pub use error::{DbError, DbWarning};
pub use fingerprint::{service_fingerprint, FingerprintMeta};
pub use http::{http_title, page_complete, HttpTitle};
pub use matcher::ServiceMatch;
pub use plan::{End, Outcome, Plan, PlanConfig, ProbeStep, SSL_SERVICE};
pub use ports::PortSet;
