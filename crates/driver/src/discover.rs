//! The host-discovery loops: the same I/O as the port scans (raw packets or
//! connection attempts) around the sans-IO [`Discovery`] engine.

use crate::paths::SharedPaths;
use crate::raw::RawNet;
use crate::{to_outcome, ProgressLine, WallClock};
use portolan_engine::{Discovered, Discovery, DiscoveryTarget, ProbeId, Transmit};
use portolan_netio::parallel::ParallelConnector;
use portolan_targets::Target;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::PoisonError;
use std::time::Duration;

/// What a discovery loop needs besides the engine.
pub struct DiscoveryContext<'a> {
    pub stop: &'a AtomicBool,
    pub progress: Option<ProgressLine>,
    /// Targets expected, for the progress percentage.
    pub expected_hosts: u64,
    /// Ceiling on sockets open at once (connect discovery).
    pub socket_budget: usize,
    pub workers: usize,
}

impl std::fmt::Debug for DiscoveryContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryContext")
            .field("expected_hosts", &self.expected_hosts)
            .finish_non_exhaustive()
    }
}

/// Targets for raw discovery: each with whether it is on-link or one of our
/// own addresses, read from its path (resolved a batch ahead by `targets`,
/// a [`crate::paths::Prefetch`] over a path table that defers on-link
/// resolution to discovery itself).
pub fn raw_targets(
    targets: Box<dyn Iterator<Item = Target> + Send>,
    paths: SharedPaths,
) -> Box<dyn Iterator<Item = DiscoveryTarget> + Send> {
    Box::new(targets.map(move |target| {
        let path = paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(target.addr);
        DiscoveryTarget {
            on_link: path.is_some_and(|p| p.on_link),
            local: path.is_some_and(|p| p.local),
            target,
        }
    }))
}

/// Targets for connect discovery: the kernel finds the way.
pub fn connect_targets(
    targets: Box<dyn Iterator<Item = Target> + Send>,
) -> Box<dyn Iterator<Item = DiscoveryTarget> + Send> {
    Box::new(targets.map(|target| DiscoveryTarget {
        target,
        on_link: false,
        local: false,
    }))
}

/// Runs raw discovery to the end (or until `ctx.stop`), handing each verdict
/// to `on_host` as it comes. Returns whether it was interrupted. With
/// `learn`, the MAC address of each host found through its link is recorded
/// in `paths` for the port scan that follows.
pub fn run_raw_discovery(
    mut d: Discovery,
    ctx: &mut DiscoveryContext<'_>,
    clock: &WallClock,
    net: &mut RawNet,
    (paths, learn): (&SharedPaths, bool),
    on_host: &mut dyn FnMut(Discovered) -> io::Result<()>,
) -> io::Result<bool> {
    let mut interrupted = false;
    loop {
        if ctx.stop.load(Ordering::Relaxed) && !interrupted {
            interrupted = true;
            d.interrupt();
        }
        let now = clock.now();
        while let Some(t) = d.poll_transmit(now) {
            if let Transmit::Probe(p) = t {
                net.push(&p)?;
            }
        }
        net.flush()?;
        while let Some(mut h) = d.poll_event() {
            if h.up && h.mac.is_none() {
                // Found by an IP probe: an on-link host's MAC is its next hop's.
                let path = paths
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(h.target.addr);
                h.mac = path.filter(|p| p.on_link).and_then(|p| p.mac);
            }
            net.forget(h.target.addr);
            if let Some(mac) = h.mac.filter(|_| learn) {
                paths
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .learn(h.target.addr, mac);
            }
            clear(ctx);
            on_host(h)?;
        }
        if d.is_finished() {
            break;
        }
        let wait = wait_for(&mut d, clock);
        net.receive(wait, |pkt| d.handle_packet(clock.now(), pkt))?;
        let now = clock.now();
        d.handle_timeout(now);
        draw(ctx, &d, clock);
    }
    clear(ctx);
    Ok(interrupted)
}

/// Runs connect discovery (unprivileged: TCP connection attempts).
pub fn run_connect_discovery(
    mut d: Discovery,
    ctx: &mut DiscoveryContext<'_>,
    clock: &WallClock,
    on_host: &mut dyn FnMut(Discovered) -> io::Result<()>,
) -> io::Result<bool> {
    let mut net = ParallelConnector::new(ctx.workers)?;
    d.limit_parallelism(ctx.socket_budget);
    let mut interrupted = false;
    let mut done = Vec::new();
    loop {
        if ctx.stop.load(Ordering::Relaxed) && !interrupted {
            interrupted = true;
            d.interrupt();
        }
        let now = clock.now();
        while let Some(t) = d.poll_transmit(now) {
            match t {
                Transmit::Abort { probe } => net.abort(probe.0),
                Transmit::Connect { probe, addr } => net.start(probe.0, addr),
                Transmit::Probe(_) => {}
            }
        }
        net.flush();
        while let Some(h) = d.poll_event() {
            clear(ctx);
            on_host(h)?;
        }
        if d.is_finished() {
            break;
        }
        let wait = wait_for(&mut d, clock);
        net.wait(wait, &mut done)?;
        let now = clock.now();
        for (id, result) in done.drain(..) {
            if let Some(outcome) = to_outcome(result) {
                d.handle_outcome(now, ProbeId(id), outcome);
            }
        }
        d.handle_timeout(now);
        draw(ctx, &d, clock);
    }
    clear(ctx);
    Ok(interrupted)
}

fn wait_for(d: &mut Discovery, clock: &WallClock) -> Duration {
    let cap = Duration::from_millis(100);
    let now = clock.now();
    match d.poll_timeout() {
        Some(t) => t.saturating_duration_since(now).min(cap),
        None => cap,
    }
}

fn draw(ctx: &mut DiscoveryContext<'_>, d: &Discovery, clock: &WallClock) {
    if let Some(p) = ctx.progress.as_mut() {
        let mut progress = d.progress();
        // The line's percentage counts settled items: here, hosts.
        progress.ports_settled = progress.hosts_done;
        p.update(clock.now(), &progress, ctx.expected_hosts);
    }
}

fn clear(ctx: &mut DiscoveryContext<'_>) {
    if let Some(p) = ctx.progress.as_mut() {
        p.clear();
    }
}

/// Traces the route to each host of `tracer` (raw packets), until done or
/// `stop`. The targets' paths are resolved first and forgotten after.
pub fn run_trace(
    mut tracer: portolan_engine::trace::Tracer,
    addrs: &[std::net::IpAddr],
    clock: &WallClock,
    stop: &AtomicBool,
    net: &mut RawNet,
    paths: &SharedPaths,
) -> io::Result<std::collections::HashMap<std::net::IpAddr, portolan_model::Trace>> {
    paths
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .prepare(addrs);
    let mut traces = std::collections::HashMap::new();
    let result = (|| {
        while !stop.load(Ordering::Relaxed) {
            let now = clock.now();
            while let Some(p) = tracer.poll_transmit(now) {
                net.push_trace(&p)?;
            }
            net.flush()?;
            while let Some((addr, trace)) = tracer.poll_event() {
                traces.insert(addr, trace);
            }
            if tracer.is_finished() {
                break;
            }
            let cap = Duration::from_millis(100);
            let wait = tracer
                .poll_timeout()
                .map_or(cap, |t| t.saturating_duration_since(clock.now()).min(cap));
            net.receive(wait, |pkt| tracer.handle_packet(clock.now(), pkt))?;
            tracer.handle_timeout(clock.now());
        }
        Ok(())
    })();
    for a in addrs {
        net.forget(*a);
    }
    result.map(|()| traces)
}
