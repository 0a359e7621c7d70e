//! The phases of a run, as Nmap orders them: host discovery, parallel
//! reverse DNS, then the port scan of the hosts found up (or, with `-sL`,
//! only the list of targets and their names). Wiring only: each phase is a
//! driver loop around a sans-IO engine.

use crate::plan::{Discover, NameMode, Plan};
use anyhow::Result;
use portolan_driver::discover::{self, DiscoveryContext};
use portolan_driver::names::{reverse_names, NameConfig};
use portolan_driver::paths::{Prefetch, SharedPaths};
use portolan_driver::raw::{RawNet, RawStats};
use portolan_driver::services::{ServiceOptions, ServiceSink};
use portolan_driver::{
    run_connect_scan, run_raw_scan, LoopContext, LoopStats, ProgressLine, WallClock,
};
use portolan_engine::{Discovered, Discovery, DiscoveryConfig, Scan};
use portolan_model::{
    HostResult, HostStatus, HostTimes, Hostname, HostnameKind, MacAddress, Protocol, Reason,
    ScanType,
};
use portolan_output::Sink;
use portolan_targets::{PortTable, Target};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What the phases share.
pub struct Env<'a> {
    pub clock: &'a WallClock,
    pub stop: &'a AtomicBool,
    /// The same flag, for work on other threads (version detection).
    pub stop_flag: std::sync::Arc<AtomicBool>,
    /// Targets this run covers (for progress and phase lines).
    pub hosts_expected: u64,
    pub socket_budget: usize,
    pub workers: usize,
}

/// What the phases did, for the summary.
#[derive(Debug, Default)]
pub struct Done {
    pub stats: LoopStats,
    pub raw: Option<RawStats>,
}

/// What discovery learnt of a host that is up, added to its report.
#[derive(Debug, Clone)]
struct Known {
    reason: Reason,
    ttl: Option<u8>,
    mac: Option<MacAddress>,
}

/// Targets named a batch at a time (for `-Pn` and `-sL`).
const NAME_BATCH: usize = 256;

pub fn execute(
    plan: &Plan,
    env: &Env<'_>,
    targets: Box<dyn Iterator<Item = Target> + Send>,
    paths: &SharedPaths,
    sink: &mut dyn Sink,
) -> Result<Done> {
    let phases = Phases::new(plan);
    let names = NameConfig::new(plan.names.servers.clone(), plan.names.system);
    match &plan.discovery {
        Discover::List => list(plan, env, targets, &names, &phases, sink),
        Discover::Skip => {
            let named = plan.names.mode != NameMode::Never;
            let mut done = Done::default();
            let mut batch = Vec::with_capacity(NAME_BATCH);
            let mut targets = targets.peekable();
            if plan.ping_only {
                // -sn -Pn: every target is up and nothing is sent.
                while targets.peek().is_some() {
                    batch.extend(targets.by_ref().take(NAME_BATCH));
                    let found = lookup(named, &batch, &names, &phases);
                    for t in batch.drain(..) {
                        let mut h = bare_result(&t, env, HostStatus::Up, Reason::UserSet, None);
                        add_names(&mut h, &found);
                        done.stats.hosts_up += 1;
                        done.stats.hosts_total += 1;
                        sink.host(&h)?;
                    }
                }
                return Ok(done);
            }
            // Names a batch ahead of the port scan, as targets are pulled.
            let found = std::sync::Arc::new(std::sync::Mutex::new(HashMap::new()));
            let shared = found.clone();
            let cfg = names.clone();
            let source: Box<dyn Iterator<Item = Target> + Send> = if named {
                Box::new(NamedBatches {
                    inner: Box::new(targets),
                    ready: std::collections::VecDeque::new(),
                    names: shared,
                    cfg,
                })
            } else {
                Box::new(targets)
            };
            let decorate = move |h: &mut HostResult| {
                let names = found.lock().unwrap_or_else(|e| e.into_inner());
                add_names(h, &names);
            };
            port_scan(
                plan,
                env,
                source,
                env.hosts_expected,
                paths,
                sink,
                &decorate,
            )
        }
        Discover::Probe { raw, config } if config.assume_up => {
            // -Pn: every target is up, so hosts go through the link check
            // and the port scan a group at a time, keeping memory flat.
            let mut all = Done::default();
            let mut targets = targets.peekable();
            while targets.peek().is_some() {
                let group: Vec<Target> = targets.by_ref().take(ASSUMED_GROUP).collect();
                let args = (*raw, &**config, &names, &phases);
                let d =
                    discover_and_scan(plan, env, args, Box::new(group.into_iter()), paths, sink)?;
                all.stats.hosts_up += d.stats.hosts_up;
                all.stats.hosts_total += d.stats.hosts_total;
                all.raw = merge(all.raw, d.raw);
                if d.stats.interrupted {
                    all.stats.interrupted = true;
                    break;
                }
            }
            Ok(all)
        }
        Discover::Probe { raw, config } => {
            let args = (*raw, &**config, &names, &phases);
            discover_and_scan(plan, env, args, targets, paths, sink)
        }
    }
}

/// Targets of `-Pn` runs taken through the link check and port scan at once.
const ASSUMED_GROUP: usize = 4096;

/// Host discovery of `targets`, then names, traces and the port scan (or
/// the `-sn` report) of the hosts found up.
fn discover_and_scan(
    plan: &Plan,
    env: &Env<'_>,
    (raw, config, names, phases): (bool, &DiscoveryConfig, &NameConfig, &Phases),
    targets: Box<dyn Iterator<Item = Target> + Send>,
    paths: &SharedPaths,
    sink: &mut dyn Sink,
) -> Result<Done> {
    let mut done = Done::default();
    let mut up: Vec<Discovered> = Vec::new();
    let mut held_down: Vec<Discovered> = Vec::new();
    let name_down = plan.names.mode == NameMode::All;
    let started = env.clock.now();
    let label = if raw && config.neighbor {
        "ARP Ping Scan"
    } else {
        "Ping Scan"
    };
    let per_host = if raw && config.neighbor {
        1
    } else {
        config.probes.len()
    };
    phases.start(env, label, env.hosts_expected, per_host, "port");
    let mut ctx = DiscoveryContext {
        stop: env.stop,
        progress: plan
            .show_progress
            .then(|| ProgressLine::new(env.clock.now())),
        expected_hosts: env.hosts_expected,
        socket_budget: env.socket_budget,
        workers: env.workers,
    };
    let engine_of = |t| Discovery::new(config.clone(), t);
    let mut on_host = |h: Discovered| -> std::io::Result<()> {
        if h.up {
            up.push(h);
        } else if name_down {
            held_down.push(h);
        } else {
            done.stats.hosts_total += 1;
            sink.host(&down_result(&h, env))?;
        }
        Ok(())
    };
    let interrupted = if raw {
        lock(paths).set_defer_on_link(config.neighbor);
        let last = config.base_port + (portolan_engine::probe::TRY_PORTS - 1);
        let mut net = RawNet::new_discovery(paths.clone(), config.base_port..=last);
        let prefetch = Prefetch::new(targets, paths.clone());
        let d = engine_of(discover::raw_targets(Box::new(prefetch), paths.clone()));
        let learn = (paths, !plan.ping_only);
        let r = discover::run_raw_discovery(d, &mut ctx, env.clock, &mut net, learn, &mut on_host);
        lock(paths).set_defer_on_link(false);
        done.raw = Some(net.stats);
        r?
    } else {
        let d = engine_of(discover::connect_targets(targets));
        discover::run_connect_discovery(d, &mut ctx, env.clock, &mut on_host)?
    };
    let total = up.len() + held_down.len() + done.stats.hosts_total as usize;
    phases.done(env, label, started, &format!("{total} total hosts"));
    done.stats.interrupted = interrupted;
    // Names, then the reports (or the port scan) of the hosts found.
    up.sort_by_key(|h| h.target.addr);
    let traces = if plan.traceroute && !interrupted {
        trace_hosts(env, config, raw, &up, paths, phases, &mut done)?
    } else {
        HashMap::new()
    };
    let mut ask: Vec<Target> = up.iter().map(|h| h.target.clone()).collect();
    ask.extend(held_down.iter().map(|h| h.target.clone()));
    let mut hops: Vec<IpAddr> = traces
        .values()
        .flat_map(|t| t.hops.iter().filter_map(|h| h.addr))
        .filter(|a| !known_addr(&up, *a))
        .collect();
    hops.sort();
    hops.dedup();
    ask.extend(hops.into_iter().map(|addr| Target {
        addr,
        hostname: None,
    }));
    let found = lookup(plan.names.mode != NameMode::Never, &ask, names, phases);
    for h in held_down {
        let mut r = down_result(&h, env);
        add_names(&mut r, &found);
        done.stats.hosts_total += 1;
        sink.host(&r)?;
    }
    let vendors = vendor_db(&up);
    let known: HashMap<IpAddr, Known> = up
        .iter()
        .map(|h| {
            let mac = h.mac.map(|addr| MacAddress {
                addr,
                vendor: vendors
                    .as_ref()
                    .and_then(|db| db.vendor(addr))
                    .map(str::to_string),
            });
            let k = Known {
                reason: h.reason,
                ttl: h.ttl,
                mac,
            };
            (h.target.addr, k)
        })
        .collect();
    let decorate = |r: &mut HostResult| {
        if let Some(k) = known.get(&r.addr) {
            r.status_reason = k.reason;
            r.status_reason_ttl = k.ttl;
            r.mac = k.mac.clone();
        }
        add_names(r, &found);
        if let Some(t) = traces.get(&r.addr) {
            let mut t = t.clone();
            for hop in &mut t.hops {
                hop.host = hop.addr.and_then(|a| found.get(&a).cloned());
            }
            r.trace = Some(t);
        }
    };
    if plan.ping_only || interrupted {
        if interrupted && !plan.ping_only {
            // Hosts found but not port-scanned are not reported: a
            // resumed run scans them.
            return Ok(done);
        }
        for h in &up {
            let mut r = bare_result(&h.target, env, HostStatus::Up, h.reason, h.ttl);
            r.start_time = env.clock.epoch_secs(h.started);
            r.end_time = env.clock.epoch_secs(h.finished);
            r.times = h.rtt.map(times_of);
            decorate(&mut r);
            done.stats.hosts_up += 1;
            done.stats.hosts_total += 1;
            sink.host(&r)?;
        }
        return Ok(done);
    }
    let down = done.stats.hosts_total;
    let n = up.len() as u64;
    let targets: Vec<Target> = up.into_iter().map(|h| h.target).collect();
    let scanned = port_scan(
        plan,
        env,
        Box::new(targets.into_iter()),
        n,
        paths,
        sink,
        &decorate,
    )?;
    let mut stats = scanned.stats;
    stats.hosts_total += down;
    Ok(Done {
        stats,
        raw: merge(done.raw, scanned.raw),
    })
}

fn known_addr(up: &[Discovered], a: IpAddr) -> bool {
    up.binary_search_by_key(&a, |h| h.target.addr).is_ok()
}

/// `--traceroute`: the route to each host found up, traced with the probe
/// that found it (nothing is sent to on-link hosts: their route is themselves).
fn trace_hosts(
    env: &Env<'_>,
    config: &portolan_engine::DiscoveryConfig,
    raw: bool,
    up: &[Discovered],
    paths: &SharedPaths,
    phases: &Phases,
    done: &mut Done,
) -> Result<HashMap<IpAddr, portolan_model::Trace>> {
    use portolan_engine::trace::{TraceConfig, TraceMethod, TraceTarget, Tracer, TRACE_PORTS};
    use portolan_engine::PingProbe;
    if !raw {
        eprintln!("Warning: --traceroute sends raw packets, which needs root or CAP_NET_RAW: no route traced.");
        return Ok(HashMap::new());
    }
    let targets: Vec<TraceTarget> = up
        .iter()
        .filter_map(|h| {
            let method = match h.probe? {
                PingProbe::Neighbor => TraceMethod::OnLink { rtt: h.rtt },
                PingProbe::Syn(p) => TraceMethod::Syn(p),
                PingProbe::Ack(p) => TraceMethod::Ack(p),
                PingProbe::Udp(port) => TraceMethod::Udp {
                    port,
                    payload: portolan_engine::payloads::udp_payload(port),
                },
                PingProbe::Icmp(_) => TraceMethod::Echo,
                PingProbe::Connect(_) => return None,
            };
            Some(TraceTarget {
                addr: h.target.addr,
                method,
                reply_ttl: h.ttl,
                timeout: None,
            })
        })
        .collect();
    if targets.is_empty() {
        return Ok(HashMap::new());
    }
    let started = env.clock.now();
    phases.line(&format!("Initiating Traceroute at {}", now_hm()));
    let base = config.base_port + portolan_engine::probe::TRY_PORTS;
    let cfg = TraceConfig::new(config.key, base);
    let sent_to: Vec<IpAddr> = targets
        .iter()
        .filter(|t| !matches!(t.method, TraceMethod::OnLink { .. }))
        .map(|t| t.addr)
        .collect();
    let mut net = RawNet::new(paths.clone(), base..=base + (TRACE_PORTS - 1));
    let tracer = Tracer::new(cfg, targets);
    let traces = discover::run_trace(tracer, &sent_to, env.clock, env.stop, &mut net, paths)?;
    done.raw = merge(done.raw, Some(net.stats));
    phases.done(
        env,
        "Traceroute",
        started,
        &format!("{} hosts", traces.len()),
    );
    Ok(traces)
}

fn lock(paths: &SharedPaths) -> std::sync::MutexGuard<'_, portolan_driver::paths::Paths> {
    paths
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn merge(a: Option<RawStats>, b: Option<RawStats>) -> Option<RawStats> {
    match (a, b) {
        (Some(a), Some(b)) => Some(RawStats {
            sent: a.sent + b.sent,
            sent_raw_ip: a.sent_raw_ip + b.sent_raw_ip,
            received: a.received + b.received,
            dropped: a.dropped + b.dropped,
        }),
        (a, b) => a.or(b),
    }
}

/// The port scan of `targets` (`hosts` of them), each report passed
/// through `decorate` before it is written.
fn port_scan(
    plan: &Plan,
    env: &Env<'_>,
    targets: Box<dyn Iterator<Item = Target> + Send>,
    hosts: u64,
    paths: &SharedPaths,
    sink: &mut dyn Sink,
    decorate: &dyn Fn(&mut HostResult),
) -> Result<Done> {
    let cfg = &plan.config;
    let per_host = (cfg.tcp_ports.len() + cfg.udp_ports.len()) as u64;
    let table = PortTable::builtin();
    let namer = |port: u16, proto: Protocol| table.name(port, proto).map(str::to_string);
    let label = scan_label(plan);
    let started = env.clock.now();
    let phases = Phases::new(plan);
    phases.start(env, &label, hosts, per_host as usize, "port");
    let (mut versioned, mut plain) = match &plan.version {
        Some(v) => {
            let opts = ServiceOptions {
                db: v.db.clone(),
                intensity: v.intensity,
                parallel: SERVICE_PARALLEL.min(env.socket_budget / 2).max(1),
                connect_timeout: SERVICE_CONNECT_TIMEOUT,
                stop: env.stop_flag.clone(),
            };
            (Some(ServiceSink::new(sink, opts)?), None)
        }
        None => (None, Some(sink)),
    };
    let sink: &mut dyn Sink = match (versioned.as_mut(), plain.as_mut()) {
        (Some(v), _) => v,
        (None, Some(s)) => &mut **s,
        (None, None) => return Ok(Done::default()),
    };
    let mut ctx = LoopContext {
        sink,
        stop: env.stop,
        namer: &namer,
        progress: plan
            .show_progress
            .then(|| ProgressLine::new(env.clock.now())),
        expected_ports: hosts.saturating_mul(per_host),
        socket_budget: env.socket_budget,
        workers: env.workers,
        decorate,
    };
    let done = match cfg.raw {
        Some(raw) => {
            let last = raw.base_port + (portolan_engine::probe::TRY_PORTS - 1);
            let mut net = RawNet::new(paths.clone(), raw.base_port..=last);
            let prefetch = Prefetch::new(targets, paths.clone());
            let scan = Scan::new(cfg.clone(), Box::new(prefetch));
            let stats = run_raw_scan(scan, &mut ctx, env.clock, &mut net)?;
            Done {
                stats,
                raw: Some(net.stats),
            }
        }
        None => Done {
            stats: run_connect_scan(Scan::new(cfg.clone(), targets), &mut ctx, env.clock)?,
            raw: None,
        },
    };
    let total = hosts.saturating_mul(per_host);
    phases.done(env, &label, started, &format!("{total} total ports"));
    if let Some(v) = versioned {
        let started = env.clock.now();
        phases.line(&format!("Initiating Service scan at {}", now_hm()));
        let (hosts, ports) = v.finish()?;
        phases.done(
            env,
            "Service scan",
            started,
            &format!(
                "{ports} {} on {hosts} {}",
                plural_word(ports, "service"),
                plural_word(hosts, "host")
            ),
        );
    }
    Ok(done)
}

/// Ports version detection probes at once (each may hold two connections).
const SERVICE_PARALLEL: usize = 64;

/// Longest wait for a version-detection connection or TLS handshake.
const SERVICE_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn plural_word(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// `-sL`: every target with its name, nothing sent to any.
fn list(
    plan: &Plan,
    env: &Env<'_>,
    targets: Box<dyn Iterator<Item = Target> + Send>,
    names: &NameConfig,
    phases: &Phases,
    sink: &mut dyn Sink,
) -> Result<Done> {
    let mut done = Done::default();
    let named = plan.names.mode != NameMode::Never;
    let mut targets = targets.peekable();
    let mut batch = Vec::with_capacity(NAME_BATCH);
    while targets.peek().is_some() {
        batch.extend(targets.by_ref().take(NAME_BATCH));
        let found = lookup(named, &batch, names, phases);
        for t in batch.drain(..) {
            let mut h = bare_result(&t, env, HostStatus::Unknown, Reason::UserSet, Some(0));
            add_names(&mut h, &found);
            done.stats.hosts_total += 1;
            sink.host(&h)?;
        }
    }
    Ok(done)
}

/// Reverse names of `targets` (none when `named` is false), with the phase lines.
fn lookup(
    named: bool,
    targets: &[Target],
    cfg: &NameConfig,
    phases: &Phases,
) -> HashMap<IpAddr, String> {
    if !named || targets.is_empty() {
        return HashMap::new();
    }
    let addrs: Vec<IpAddr> = targets.iter().map(|t| t.addr).collect();
    let n = addrs.len();
    let what = if cfg.system {
        "System DNS resolution"
    } else {
        "Parallel DNS resolution"
    };
    phases.line(&format!(
        "Initiating {what} of {n} host{}. at {}",
        plural(n),
        now_hm()
    ));
    let report = reverse_names(&addrs, cfg);
    if let Some(w) = &report.warning {
        eprintln!("Warning: reverse DNS failed: {w}");
    }
    phases.line(&format!(
        "Completed {what} of {n} host{}. at {}, {:.2}s elapsed",
        plural(n),
        now_hm(),
        report.elapsed.as_secs_f64()
    ));
    report.names
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[allow(clippy::disallowed_methods)] // the wall clock, for a message only
fn now_hm() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    portolan_output::clock_minutes(secs)
}

fn add_names(h: &mut HostResult, found: &HashMap<IpAddr, String>) {
    if let Some(name) = found.get(&h.addr) {
        if !h.hostnames.iter().any(|n| n.kind == HostnameKind::Ptr) {
            h.hostnames.push(Hostname {
                name: name.clone(),
                kind: HostnameKind::Ptr,
            });
        }
    }
}

fn bare_result(
    t: &Target,
    env: &Env<'_>,
    status: HostStatus,
    reason: Reason,
    ttl: Option<u8>,
) -> HostResult {
    let now = env.clock.epoch_secs(env.clock.now());
    HostResult {
        addr: t.addr,
        hostnames: t
            .hostname
            .iter()
            .map(|n| Hostname {
                name: n.to_string(),
                kind: HostnameKind::User,
            })
            .collect(),
        status,
        status_reason: reason,
        status_reason_ttl: ttl,
        mac: None,
        start_time: now,
        end_time: now,
        ports: Vec::new(),
        times: None,
        timed_out: false,
        answers_every_port: false,
        trace: None,
    }
}

fn down_result(h: &Discovered, env: &Env<'_>) -> HostResult {
    let mut r = bare_result(&h.target, env, HostStatus::Down, h.reason, h.ttl);
    r.start_time = env.clock.epoch_secs(h.started);
    r.end_time = env.clock.epoch_secs(h.finished);
    r
}

/// Nmap's `<times>` from one measured round trip (RFC 6298's first sample).
fn times_of(rtt: std::time::Duration) -> HostTimes {
    let srtt = rtt.as_micros() as u64;
    let rttvar = (srtt / 2).max(5000);
    HostTimes {
        srtt_us: srtt,
        rttvar_us: rttvar,
        timeout_us: (srtt + 4 * rttvar).max(100_000),
    }
}

fn vendor_db(up: &[Discovered]) -> Option<portolan_oui::VendorDb> {
    if up.iter().any(|h| h.mac.is_some()) {
        portolan_oui::VendorDb::system()
    } else {
        None
    }
}

fn scan_label(plan: &Plan) -> String {
    let names: Vec<&str> = plan
        .run
        .scans
        .iter()
        .map(|s| match s.scan_type {
            ScanType::Connect => "Connect Scan",
            ScanType::Syn => "SYN Stealth Scan",
            ScanType::Ack => "ACK Scan",
            ScanType::Window => "Window Scan",
            ScanType::Maimon => "Maimon Scan",
            ScanType::Fin => "FIN Scan",
            ScanType::Null => "NULL Scan",
            ScanType::Xmas => "XMAS Scan",
            ScanType::Udp => "UDP Scan",
            _ => "Port Scan",
        })
        .collect();
    names.join(" and ")
}

/// Nmap's verbose phase lines: on standard output with `-v`, or standard
/// error when a machine-readable format has standard output.
struct Phases {
    on: bool,
    to_stderr: bool,
}

impl Phases {
    fn new(plan: &Plan) -> Phases {
        Phases {
            on: plan.run.options.verbose > 0,
            to_stderr: plan.stdout_taken,
        }
    }

    fn line(&self, text: &str) {
        if !self.on {
            return;
        }
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    fn start(&self, _env: &Env<'_>, label: &str, hosts: u64, per_host: usize, what: &str) {
        self.line(&format!("Initiating {label} at {}", now_hm()));
        self.line(&format!(
            "Scanning {hosts} host{} [{per_host} {what}{}/host]",
            plural(hosts as usize),
            plural(per_host)
        ));
    }

    fn done(&self, env: &Env<'_>, label: &str, started: Instant, total: &str) {
        let secs = env
            .clock
            .now()
            .saturating_duration_since(started)
            .as_secs_f64();
        self.line(&format!(
            "Completed {label} at {}, {secs:.2}s elapsed ({total})",
            now_hm()
        ));
    }
}

/// Targets handed on a batch at a time, each batch named first.
struct NamedBatches {
    inner: Box<dyn Iterator<Item = Target> + Send>,
    ready: std::collections::VecDeque<Target>,
    names: std::sync::Arc<std::sync::Mutex<HashMap<IpAddr, String>>>,
    cfg: NameConfig,
}

impl Iterator for NamedBatches {
    type Item = Target;

    fn next(&mut self) -> Option<Target> {
        if self.ready.is_empty() {
            self.ready.extend(self.inner.by_ref().take(NAME_BATCH));
            let addrs: Vec<IpAddr> = self.ready.iter().map(|t| t.addr).collect();
            if !addrs.is_empty() {
                let found = reverse_names(&addrs, &self.cfg).names;
                let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
                names.extend(found);
            }
        }
        self.ready.pop_front()
    }
}
