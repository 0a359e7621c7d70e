//! The one place where scan logic meets I/O.
//!
//! [`run_connect_scan`] owns the clock, the sockets and the sinks: it asks the
//! sans-IO engine what to send, performs the connection attempts, reports
//! what came back, and writes each host to every sink the moment it is
//! finished. An interrupt (Ctrl-C) stops sending, releases every socket and
//! closes the outputs properly, so files stay valid.

mod clock;
pub mod discover;
pub mod names;
pub mod paths;
mod progress;
pub mod raw;
pub mod services;
mod tls;

pub use clock::WallClock;
pub use progress::ProgressLine;

use portolan_engine::{HostOutcome, Outcome, Scan, ScanEvent, Transmit};
use portolan_model::{
    HostResult, HostStatus, Hostname, HostnameKind, Protocol, Reason, RunSummary, ServiceInfo,
};
use portolan_netio::connect::ConnectResult;
use portolan_netio::parallel::ParallelConnector;
use portolan_output::Sink;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Names a port for output (the port table's name, if any).
pub type ServiceNamer = dyn Fn(u16, Protocol) -> Option<String>;

/// Everything the loop needs besides the engine.
pub struct LoopContext<'a> {
    pub sink: &'a mut dyn Sink,
    pub stop: &'a AtomicBool,
    pub namer: &'a ServiceNamer,
    pub progress: Option<ProgressLine>,
    /// Hosts and ports expected, for the progress percentage.
    pub expected_ports: u64,
    /// Ceiling on sockets open at once.
    pub socket_budget: usize,
    /// Threads that open connections (the engine itself stays on one).
    pub workers: usize,
    /// Adds what earlier phases learnt (discovery reason, MAC address,
    /// names) to each host before it is written.
    pub decorate: &'a dyn Fn(&mut HostResult),
}

impl std::fmt::Debug for LoopContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopContext")
            .field("socket_budget", &self.socket_budget)
            .finish_non_exhaustive()
    }
}

/// Counts the loop keeps for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    pub hosts_up: u64,
    pub hosts_total: u64,
    pub interrupted: bool,
}

/// Runs a connect scan to the end (or until `ctx.stop` is set).
pub fn run_connect_scan(
    mut scan: Scan,
    ctx: &mut LoopContext<'_>,
    clock: &WallClock,
) -> io::Result<LoopStats> {
    let mut net = ParallelConnector::new(ctx.workers)?;
    scan.limit_parallelism(ctx.socket_budget);
    let mut stats = LoopStats::default();
    let mut done = Vec::new();
    loop {
        if ctx.stop.load(Ordering::Relaxed) && !stats.interrupted {
            stats.interrupted = true;
            scan.interrupt();
        }
        let now = clock.now();
        pump_transmits(&mut scan, &mut net, now);
        drain_events(&mut scan, ctx, clock, &mut stats, &mut |_| {})?;
        if scan.is_finished() {
            break;
        }
        let wait = wait_for(&mut scan, clock.now());
        net.wait(wait, &mut done)?;
        let now = clock.now();
        for (id, result) in done.drain(..) {
            if let Some(outcome) = to_outcome(result) {
                scan.handle_outcome(now, portolan_engine::ProbeId(id), outcome);
            }
        }
        scan.handle_timeout(now);
        if let Some(p) = ctx.progress.as_mut() {
            p.update(now, &scan.progress(), ctx.expected_ports);
        }
    }
    if let Some(p) = ctx.progress.as_mut() {
        p.clear();
    }
    Ok(stats)
}

/// Runs a raw-packet scan to the end (or until `ctx.stop` is set).
pub fn run_raw_scan(
    mut scan: Scan,
    ctx: &mut LoopContext<'_>,
    clock: &WallClock,
    net: &mut raw::RawNet,
) -> io::Result<LoopStats> {
    let mut stats = LoopStats::default();
    loop {
        if ctx.stop.load(Ordering::Relaxed) && !stats.interrupted {
            stats.interrupted = true;
            scan.interrupt();
        }
        let now = clock.now();
        while let Some(t) = scan.poll_transmit(now) {
            if let Transmit::Probe(p) = t {
                net.push(&p)?;
            }
        }
        net.flush()?;
        drain_events(&mut scan, ctx, clock, &mut stats, &mut |a| net.forget(a))?;
        if scan.is_finished() {
            break;
        }
        let wait = wait_for(&mut scan, clock.now());
        net.receive(wait, |pkt| scan.handle_packet(clock.now(), pkt))?;
        let now = clock.now();
        scan.handle_timeout(now);
        if let Some(p) = ctx.progress.as_mut() {
            p.update(now, &scan.progress(), ctx.expected_ports);
        }
    }
    if let Some(p) = ctx.progress.as_mut() {
        p.clear();
    }
    Ok(stats)
}

fn pump_transmits(scan: &mut Scan, net: &mut ParallelConnector, now: Instant) {
    while let Some(t) = scan.poll_transmit(now) {
        match t {
            Transmit::Abort { probe } => net.abort(probe.0),
            Transmit::Connect { probe, addr } => net.start(probe.0, addr),
            Transmit::Probe(_) => {}
        }
    }
    net.flush();
}

/// How long the loop may sleep: until the engine's next timer, at most 100 ms
/// so interrupts and progress stay responsive.
fn wait_for(scan: &mut Scan, now: Instant) -> Duration {
    let cap = Duration::from_millis(100);
    match scan.poll_timeout() {
        Some(t) => t.saturating_duration_since(now).min(cap),
        None => cap,
    }
}

pub(crate) fn to_outcome(r: ConnectResult) -> Option<Outcome> {
    match r {
        ConnectResult::Open => Some(Outcome::Open),
        ConnectResult::Refused => Some(Outcome::Refused),
        ConnectResult::Unreachable(reason) => Some(Outcome::Unreachable(reason)),
        ConnectResult::NotSent => Some(Outcome::NotSent),
        // The kernel gave up retransmitting: no answer. The engine's own timer decides.
        ConnectResult::Silent => None,
    }
}

fn drain_events(
    scan: &mut Scan,
    ctx: &mut LoopContext<'_>,
    clock: &WallClock,
    stats: &mut LoopStats,
    done: &mut dyn FnMut(IpAddr),
) -> io::Result<()> {
    while let Some(ScanEvent::HostDone(h)) = scan.poll_event() {
        done(h.target.addr);
        let mut result = host_result(*h, clock, ctx.namer);
        (ctx.decorate)(&mut result);
        stats.hosts_total += 1;
        if result.status == HostStatus::Up {
            stats.hosts_up += 1;
        }
        if let Some(p) = ctx.progress.as_mut() {
            p.clear();
        }
        ctx.sink.host(&result)?;
    }
    Ok(())
}

/// Turns the engine's view of a host into the shared result type.
pub fn host_result(h: HostOutcome, clock: &WallClock, namer: &ServiceNamer) -> HostResult {
    let hostnames = h
        .target
        .hostname
        .iter()
        .map(|name| Hostname {
            name: name.to_string(),
            kind: HostnameKind::User,
        })
        .collect();
    let mut ports = h.ports;
    for p in &mut ports {
        let name = namer(p.port, p.protocol).unwrap_or_else(|| "unknown".to_string());
        p.service = Some(ServiceInfo::table(&name));
    }
    HostResult {
        addr: h.target.addr,
        hostnames,
        status: HostStatus::Up,
        status_reason: Reason::UserSet,
        status_reason_ttl: None,
        mac: None,
        start_time: clock.epoch_secs(h.started),
        end_time: clock.epoch_secs(h.finished),
        ports,
        times: Some(h.times),
        timed_out: h.timed_out,
        answers_every_port: h.answers_every_port,
        trace: None,
    }
}

/// The summary every sink receives at the end.
pub fn summary(stats: &LoopStats, clock: &WallClock) -> RunSummary {
    let now = clock.now();
    RunSummary {
        end_time: clock.epoch_secs(now),
        elapsed_secs: clock.elapsed(now).as_secs_f64(),
        hosts_up: stats.hosts_up,
        hosts_down: stats.hosts_total - stats.hosts_up,
        hosts_total: stats.hosts_total,
        error: stats
            .interrupted
            .then(|| "Interrupted by user (Ctrl-C); finished hosts are complete".to_string()),
    }
}
