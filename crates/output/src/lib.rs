//! Portolan's output sinks: one [`Sink`] per format.
//!
//! - [`NormalSink`]: Nmap's human-readable report, in terminal or `-oN` file form.
//! - [`XmlSink`]: Nmap's XML (`-oX`), valid against Nmap's DTD apart from the
//!   `scanner` name, so ndiff, Metasploit and the other Nmap XML consumers read it.
//! - [`GrepableSink`]: Nmap's one-line-per-host format (`-oG`).
//! - [`JsonLinesSink`]: Portolan's own JSON Lines (`-oJ`), documented in
//!   `docs/json-lines.md`.
//! - [`MultiSink`]: fans every call out to several sinks (`-oA`, or a terminal
//!   report plus files).
//!
//! # Guarantees
//!
//! Every host is written and flushed as soon as [`Sink::host`] returns, and a
//! run ended early by [`Sink::end`] with `summary.error` set still leaves a
//! complete, well-formed file. No input makes a sink panic: empty port lists,
//! odd timestamps, control characters in names and messages are all written as
//! something valid. Sinks only format: they never read the clock, and the
//! driver decides when each call happens.
//!
//! Which ports each host lists and which it folds into "Not shown" counts is
//! decided once, by [`port_view`], and shared by the normal, XML and grepable
//! formats; [`host_visible`] decides likewise which hosts appear at all.
//!
//! The layout follows the run's [`RunKind`] as Nmap's does: a port scan
//! reports each host's ports; a host-discovery run (`-sn`) reports hosts up
//! (and, with `-v`, down) without any port table, `<scaninfo>`, `<ports>` or
//! `Ports:` line; a list scan (`-sL`) names every target, whatever the
//! options, with status unknown. A host's MAC address, known for on-link
//! hosts, is written as Nmap writes it: a `MAC Address: ... (Vendor)` line
//! in the normal report, a second `<address addrtype="mac">` in XML, a `mac`
//! object in JSON Lines; the grepable format, like Nmap's, leaves it out.
//!
//! A host flagged [`HostResult::answers_every_port`] (a SYN proxy or tarpit
//! answered SYN-ACK for it on nearly every TCP port) is reported as such by
//! every format instead of as thousands of open ports: the normal report says
//! so in one line and folds its open TCP ports into "Not shown"; the XML puts
//! them in `<extraports state="open">` and adds a `synproxy` host script; the
//! grepable line names them as `Ignored State: open`; JSON Lines, which lists
//! every port by design, carries the flag as a field.

mod continued;
mod grepable;
mod jsonl;
mod normal;
mod service;
mod text;
mod timefmt;
mod view;
mod xml;

#[cfg(test)]
mod fixtures;

pub use continued::{
    check_continuation, Continuation, ContinueError, ContinuedXmlSink, FileFormat,
};
pub use grepable::GrepableSink;
pub use jsonl::{JsonLinesSink, JSON_SCHEMA};
pub use normal::{NormalMode, NormalSink};
pub use timefmt::clock_minutes;
pub use view::{
    host_visible, port_view, AnswersEveryPort, IgnoredReason, IgnoredState, PortView,
    IGNORE_THRESHOLD,
};
pub use xml::XmlSink;

use portolan_model::{HostResult, OutputOptions, RunInfo, RunKind, RunSummary};
use std::io::{self, Write};

/// One output format. The driver calls [`begin`](Sink::begin) once, then
/// [`host`](Sink::host) for each host as it finishes, then [`end`](Sink::end) once.
pub trait Sink: Send {
    /// Writes whatever precedes the first host (headers, notes).
    fn begin(&mut self, run: &RunInfo) -> io::Result<()>;
    /// Writes one finished host and flushes it.
    fn host(&mut self, host: &HostResult) -> io::Result<()>;
    /// Finishes the file. `summary.error` is `Some(why)` when the run stopped early.
    fn end(&mut self, summary: &RunSummary) -> io::Result<()>;
}

/// Sends every call to each inner sink in turn.
///
/// Every sink gets every call even when an earlier one fails, so one broken
/// output (a full disk, a closed pipe) does not cost the others their data; the
/// first error is returned.
pub struct MultiSink(pub Vec<Box<dyn Sink>>);

impl MultiSink {
    fn each(&mut self, mut call: impl FnMut(&mut dyn Sink) -> io::Result<()>) -> io::Result<()> {
        let mut first = Ok(());
        for sink in &mut self.0 {
            let result = call(sink.as_mut());
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

impl Sink for MultiSink {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.each(|s| s.begin(run))
    }

    fn host(&mut self, host: &HostResult) -> io::Result<()> {
        self.each(|s| s.host(host))
    }

    fn end(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.each(|s| s.end(summary))
    }
}

impl std::fmt::Debug for MultiSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiSink")
            .field("sinks", &self.0.len())
            .finish()
    }
}

/// The output a sink writes to.
type Out = Box<dyn Write + Send>;

/// Writes one rendered block and flushes it, so it survives an interruption.
fn emit(out: &mut Out, block: &str) -> io::Result<()> {
    out.write_all(block.as_bytes())?;
    out.flush()
}

/// What a sink assumes when `host` or `end` comes without `begin`: an
/// unnamed run of this program with default options.
fn fallback_run() -> RunInfo {
    RunInfo {
        scanner: "portolan".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        args: String::new(),
        start_time: 0,
        scans: Vec::new(),
        options: OutputOptions::default(),
        notes: Vec::new(),
        kind: RunKind::Ports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{reference_host, run_info, summary, SharedBuf};

    struct Failing;

    impl Sink for Failing {
        fn begin(&mut self, _: &RunInfo) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
        fn host(&mut self, _: &HostResult) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
        fn end(&mut self, _: &RunSummary) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
    }

    #[test]
    fn multi_sink_feeds_every_sink_and_reports_the_first_error() {
        let buf = SharedBuf::default();
        let json = JsonLinesSink::new(Box::new(buf.clone()));
        let mut multi = MultiSink(vec![Box::new(Failing), Box::new(json)]);
        assert!(multi.begin(&run_info(OutputOptions::default())).is_err());
        assert!(multi.host(&reference_host()).is_err());
        assert!(multi.end(&summary()).is_err());
        assert_eq!(buf.text().lines().count(), 2);
    }
}
