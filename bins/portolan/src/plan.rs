//! Flags → a validated plan: targets parsed and resolved, ports chosen,
//! output files opened. Every user error surfaces here, before any packet.

use crate::cli::Cli;
use crate::scantype::{self, Method};
use anyhow::{Context, Result};
use portolan_engine::{DiscoveryConfig, PingProbe, RawConfig, ScanConfig, TimingParams};
use portolan_model::{OutputOptions, Protocol, RunInfo, RunKind, ScanInfo, ScanType};
use portolan_output::{
    check_continuation, Continuation, ContinuedXmlSink, FileFormat, GrepableSink, JsonLinesSink,
    MultiSink, NormalMode, NormalSink, Sink, XmlSink,
};
use portolan_services::ProbeDb;
use portolan_targets::{
    parse_ports, parse_target, ConcreteSpec, Include, PortTable, Shard, TargetSet, TargetSpec,
};
use portolan_wire::ping::PingKind;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// A user mistake: reported with exit code 2 before anything is sent.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(UsageError(msg.into()).into())
}

/// Everything needed to run, checked.
pub struct Plan {
    pub targets: TargetSet,
    /// `--shards N --shard I`: only the targets of this shard are scanned.
    pub shard: Option<Shard>,
    pub config: ScanConfig,
    pub sink: MultiSink,
    pub run: RunInfo,
    pub warnings: Vec<String>,
    pub show_progress: bool,
    /// The output files (not standard output), in the order given.
    pub output_files: Vec<String>,
    /// How hosts are found before their ports are scanned.
    pub discovery: Discover,
    /// `-sn`: discovery only, no port scan.
    pub ping_only: bool,
    pub names: Names,
    pub traceroute: bool,
    /// A machine-readable format writes to standard output: phase messages
    /// go to standard error.
    pub stdout_taken: bool,
    /// `-sV` / `-A`: version detection after the port scan.
    pub version: Option<VersionPlan>,
}

/// Version detection as planned.
#[derive(Debug, Clone)]
pub struct VersionPlan {
    pub db: std::sync::Arc<ProbeDb>,
    /// 0..=9 (`--version-intensity`, `--version-light` 2, `--version-all` 9).
    pub intensity: u8,
}

/// Host discovery as the flags ask for it.
#[derive(Debug, Clone)]
pub enum Discover {
    /// `-Pn`: every target is up.
    Skip,
    /// `-sL`: list the targets, send them nothing.
    List,
    /// Probe each target; `raw` when the probes are raw packets.
    Probe {
        raw: bool,
        config: Box<DiscoveryConfig>,
    },
}

/// Reverse DNS as the flags ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub mode: NameMode,
    /// `--dns-servers`; `None`: the system's resolv.conf.
    pub servers: Option<Vec<SocketAddr>>,
    /// `--system-dns`.
    pub system: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMode {
    /// `-n`.
    Never,
    /// Live hosts (the default).
    Live,
    /// `-R`: every target.
    All,
}

/// How the output files are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// Created (or truncated): a new scan.
    Create,
    /// Continued after checking that each ends as an interrupted run left it.
    Continue,
}

pub fn build(cli: &Cli, args: &str, start_time: u64, outputs: Outputs) -> Result<Plan> {
    let shard = Shard::from_flags(cli.shard.as_deref(), cli.shards.as_deref())
        .map_err(|e| UsageError(e.to_string()))?;
    let files = output_files(cli);
    let opening = check_outputs(&files, outputs)?;
    let mut warnings = Vec::new();
    let table = PortTable::builtin();
    let mut notes = Vec::new();
    let raw_allowed = portolan_netio::privs::raw_allowed();
    let kind = run_kind(cli)?;
    let method = scantype::choose(cli, raw_allowed, &mut notes)?;
    let (tcp_ports, udp_ports) = match kind {
        RunKind::Ports => choose_ports(cli, table, &method)?,
        _ => (Vec::new(), Vec::new()),
    };
    let timing = timing(cli)?;
    let raw_discovery = raw_allowed && !cli.unprivileged;
    let arp = raw_discovery && !cli.disable_arp_ping && !cli.send_ip;
    let discovery = match kind {
        RunKind::List => Discover::List,
        // -Pn still asks on-link targets for their MAC address, as Nmap
        // does; a target that does not answer ARP / ND is down.
        _ if cli.no_ping && arp => {
            let mut config = discovery_config(cli, &timing, raw_discovery, table)?;
            config.probes.clear();
            config.assume_up = true;
            Discover::Probe {
                raw: true,
                config: Box::new(config),
            }
        }
        _ if cli.no_ping => Discover::Skip,
        _ => Discover::Probe {
            raw: raw_discovery,
            config: Box::new(discovery_config(cli, &timing, raw_discovery, table)?),
        },
    };
    let names = names(cli)?;
    let version = version_plan(cli, kind, &mut warnings)?;
    let targets = targets(cli, &mut warnings)?;
    let options = OutputOptions {
        reason: cli.reason,
        open_only: cli.open,
        verbose: cli.verbose,
        debugging: 0,
        version_scan: version.is_some(),
    };
    let run = RunInfo {
        scanner: "portolan".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        args: args.to_string(),
        start_time,
        scans: scan_infos(&method, &tcp_ports, &udp_ports),
        options,
        notes,
        kind,
    };
    let (mut sink, stdout_taken) = sinks(opening)?;
    if !stdout_taken {
        sink.0.insert(
            0,
            Box::new(NormalSink::new(
                Box::new(std::io::stdout()),
                NormalMode::Terminal,
            )),
        );
    }
    let seed = cli.seed.unwrap_or_else(random_seed);
    let config = ScanConfig {
        timing,
        min_rate: cli.min_rate,
        max_rate: cli.max_rate,
        seed,
        tcp_ports,
        udp_ports,
        raw: (kind == RunKind::Ports && method.raw()).then(|| RawConfig {
            tcp: method.tcp_raw.filter(|_| method.tcp),
            key: (random_seed(), random_seed()),
            base_port: 33_000 + (random_seed() % 28_000) as u16,
        }),
    };
    Ok(Plan {
        targets,
        shard,
        config,
        sink,
        run,
        warnings,
        show_progress: std::io::stderr().is_terminal(),
        output_files: files
            .into_iter()
            .map(|f| f.0)
            .filter(|p| p != "-")
            .collect(),
        discovery,
        ping_only: kind == RunKind::PingOnly,
        names,
        traceroute: cli.traceroute || cli.aggressive,
        stdout_taken,
        version,
    })
}

/// Port scan (the default), ping scan (`-sn`) or list scan (`-sL`).
fn run_kind(cli: &Cli) -> Result<RunKind> {
    let scan_types = [
        (cli.connect_scan, "-sT"),
        (cli.syn_scan, "-sS"),
        (cli.udp_scan, "-sU"),
        (cli.ack_scan, "-sA"),
        (cli.window_scan, "-sW"),
        (cli.maimon_scan, "-sM"),
        (cli.fin_scan, "-sF"),
        (cli.null_scan, "-sN"),
        (cli.xmas_scan, "-sX"),
    ];
    let given = scan_types.iter().find(|(on, _)| *on).map(|(_, n)| *n);
    if cli.list_scan {
        if let Some(other) = given.or(cli.ping_scan.then_some("-sn")) {
            return usage(format!(
                "-sL (list scan) sends nothing, so it cannot be combined with {other}"
            ));
        }
        return Ok(RunKind::List);
    }
    if cli.ping_scan {
        if let Some(other) = given {
            return usage(format!(
                "-sn (ping scan) skips the port scan, so it cannot be combined with {other}"
            ));
        }
        return Ok(RunKind::PingOnly);
    }
    Ok(RunKind::Ports)
}

/// The discovery probes the flags ask for (Nmap's defaults when none).
fn discovery_config(
    cli: &Cli,
    timing: &TimingParams,
    raw: bool,
    table: &PortTable,
) -> Result<DiscoveryConfig> {
    let ports = |flag: &str, specs: &[String], default: u16| -> Result<Vec<u16>> {
        let udp = flag == "-PU";
        let mut out = Vec::new();
        for spec in specs {
            if spec.is_empty() {
                out.push(default);
                continue;
            }
            let parsed = parse_ports(spec, table)
                .map_err(|e| UsageError(format!("invalid {flag} port list '{spec}': {e}")))?;
            let list = if udp {
                parsed.udp_ports()
            } else {
                parsed.tcp_ports()
            };
            if list.is_empty() {
                return usage(format!(
                    "invalid {flag} port list '{spec}': it names no port"
                ));
            }
            out.extend(list);
        }
        Ok(out)
    };
    let syn = ports("-PS", &cli.ping_syn, 80)?;
    let ack = ports("-PA", &cli.ping_ack, 80)?;
    let udp = ports("-PU", &cli.ping_udp, 40125)?;
    let mut probes = Vec::new();
    let icmp = [
        (cli.ping_echo, "-PE", PingKind::Echo),
        (cli.ping_timestamp, "-PP", PingKind::Timestamp),
        (cli.ping_mask, "-PM", PingKind::AddressMask),
    ];
    if raw {
        for (on, _, kind) in icmp {
            if on {
                probes.push(PingProbe::Icmp(kind));
            }
        }
        probes.extend(syn.iter().map(|p| PingProbe::Syn(*p)));
        probes.extend(ack.iter().map(|p| PingProbe::Ack(*p)));
        probes.extend(udp.iter().map(|p| PingProbe::Udp(*p)));
        if probes.is_empty() {
            probes.extend(PingProbe::RAW_DEFAULT);
        }
    } else {
        let raw_only = icmp
            .iter()
            .filter(|(on, _, _)| *on)
            .map(|(_, name, _)| *name)
            .chain((!udp.is_empty()).then_some("-PU"))
            .chain(cli.ping_arp.then_some("-PR"))
            .next();
        if let Some(flag) = raw_only {
            return usage(format!(
                "{flag} sends raw packets, which needs root or CAP_NET_RAW; run as root, or use -PS (TCP connect) or -Pn"
            ));
        }
        // Without raw sockets, TCP pings are connection attempts (as in Nmap).
        for p in syn.iter().chain(&ack) {
            if !probes.contains(&PingProbe::Connect(*p)) {
                probes.push(PingProbe::Connect(*p));
            }
        }
        if probes.is_empty() {
            probes.extend(PingProbe::CONNECT_DEFAULT);
        }
    }
    let max_hosts = match cli.max_hostgroup {
        Some(n) => n,
        // The slow templates probe one host at a time.
        None if timing.max_hostgroup <= 1 => 1,
        None => DISCOVERY_GROUP,
    };
    Ok(DiscoveryConfig {
        timing: timing.clone(),
        min_rate: cli.min_rate,
        max_rate: cli.max_rate,
        key: (random_seed(), random_seed()),
        base_port: 33_000 + (random_seed() % 28_000) as u16,
        probes,
        neighbor: raw && !cli.disable_arp_ping && !cli.send_ip,
        max_hosts,
        assume_up: false,
    })
}

/// Hosts probed at once during discovery: a discovery host costs a few
/// bytes and waits mostly on silence, so many share the round trips.
const DISCOVERY_GROUP: usize = 4096;

fn names(cli: &Cli) -> Result<Names> {
    let servers = cli
        .dns_servers
        .as_deref()
        .map(|spec| {
            portolan_dns::parse_dns_servers(spec)
                .map_err(|e| UsageError(format!("invalid --dns-servers '{spec}': {e}")))
        })
        .transpose()?;
    let mode = if cli.no_dns {
        NameMode::Never
    } else if cli.resolve_all {
        NameMode::All
    } else {
        NameMode::Live
    };
    Ok(Names {
        mode,
        servers,
        system: cli.system_dns,
    })
}

fn scan_infos(method: &Method, tcp: &[u16], udp: &[u16]) -> Vec<ScanInfo> {
    let mut v = Vec::new();
    if !tcp.is_empty() {
        v.push(ScanInfo {
            scan_type: method.tcp_raw.map_or(ScanType::Connect, |t| t.scan_type),
            protocol: Protocol::Tcp,
            ports: tcp.to_vec(),
        });
    }
    if !udp.is_empty() {
        v.push(ScanInfo {
            scan_type: ScanType::Udp,
            protocol: Protocol::Udp,
            ports: udp.to_vec(),
        });
    }
    v
}

/// Version detection as the flags ask for it: the database loaded (ours,
/// the user's instead, or both) and the intensity. A user database that does
/// not parse is a usage error naming the file and line; patterns our regex
/// engine cannot run are skipped with a warning each (at most a few shown).
fn version_plan(
    cli: &Cli,
    kind: RunKind,
    warnings: &mut Vec<String>,
) -> Result<Option<VersionPlan>> {
    let asked = cli.version_scan || cli.aggressive;
    let tuned = [
        (cli.version_intensity.is_some(), "--version-intensity"),
        (cli.version_light, "--version-light"),
        (cli.version_all, "--version-all"),
        (cli.versiondb.is_some(), "--versiondb"),
        (cli.versiondb_add.is_some(), "--versiondb-add"),
    ];
    if !asked {
        if let Some((_, flag)) = tuned.iter().find(|(on, _)| *on) {
            return usage(format!("{flag} tunes version detection: add -sV"));
        }
        return Ok(None);
    }
    match kind {
        RunKind::List => {
            return usage("-sL (list scan) sends nothing, so it cannot be combined with -sV")
        }
        RunKind::PingOnly if cli.version_scan => {
            return usage("-sn (ping scan) skips the port scan, so it cannot be combined with -sV")
        }
        RunKind::PingOnly => return Ok(None),
        _ => {}
    }
    let levels = [
        cli.version_intensity.is_some(),
        cli.version_light,
        cli.version_all,
    ];
    if levels.iter().filter(|l| **l).count() > 1 {
        return usage("--version-intensity, --version-light and --version-all all set the intensity: give only one");
    }
    let intensity = match &cli.version_intensity {
        Some(v) => match v.parse::<u8>() {
            Ok(n) if n <= 9 => n,
            _ => return usage(format!("invalid --version-intensity '{v}': use 0 to 9")),
        },
        None if cli.version_light => 2,
        None if cli.version_all => 9,
        None => 7,
    };
    if cli.versiondb.is_some() && cli.versiondb_add.is_some() {
        return usage(
            "--versiondb replaces our probe database and --versiondb-add adds to it: give only one",
        );
    }
    let mut skipped = Vec::new();
    let mut db = match &cli.versiondb {
        Some(path) => load_versiondb(path, "--versiondb", &mut skipped)?,
        None => {
            let (db, w) =
                ProbeDb::builtin().map_err(|e| anyhow::anyhow!("built-in probe database: {e}"))?;
            skipped.extend(
                w.into_iter()
                    .map(|w| format!("built-in probe database line {}: {}", w.line, w.message)),
            );
            db
        }
    };
    if let Some(path) = &cli.versiondb_add {
        db.merge(load_versiondb(path, "--versiondb-add", &mut skipped)?);
    }
    const SHOWN: usize = 3;
    let total = skipped.len();
    warnings.extend(skipped.into_iter().take(SHOWN));
    if total > SHOWN {
        warnings.push(format!(
            "{} more probe database lines skipped",
            total - SHOWN
        ));
    }
    Ok(Some(VersionPlan {
        db: std::sync::Arc::new(db),
        intensity,
    }))
}

fn load_versiondb(
    path: &std::path::Path,
    flag: &str,
    skipped: &mut Vec<String>,
) -> Result<ProbeDb> {
    let shown = path.display();
    let text = std::fs::read(path)
        .map_err(|e| UsageError(format!("{flag} {shown}: cannot read it: {e}")))?;
    let text = String::from_utf8_lossy(&text);
    let (db, w) = ProbeDb::parse(&text).map_err(|e| UsageError(format!("{flag} {shown}: {e}")))?;
    if db.is_empty() {
        return usage(format!(
            "{flag} {shown}: no Probe lines: not a probe database in Nmap's format"
        ));
    }
    skipped.extend(
        w.into_iter()
            .map(|w| format!("{shown} line {}: {}", w.line, w.message)),
    );
    Ok(db)
}

fn choose_ports(cli: &Cli, table: &PortTable, m: &Method) -> Result<(Vec<u16>, Vec<u16>)> {
    let given = [cli.ports.is_some(), cli.fast, cli.top_ports.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return usage("-p, -F and --top-ports choose the ports in different ways: give only one");
    }
    let (tcp, udp) = if let Some(spec) = &cli.ports {
        let parsed = parse_ports(spec, table).map_err(|e| UsageError(e.to_string()))?;
        (parsed.tcp_ports(), parsed.udp_ports())
    } else {
        let n = if cli.fast {
            100
        } else {
            cli.top_ports.unwrap_or(1000)
        };
        if n == 0 {
            return usage("invalid --top-ports '0': give a number of ports from 1 to 65536");
        }
        (table.top(n, Protocol::Tcp), table.top(n, Protocol::Udp))
    };
    let tcp = if m.tcp { tcp } else { Vec::new() };
    let udp = if m.udp { udp } else { Vec::new() };
    if tcp.is_empty() && udp.is_empty() {
        let what = if m.udp { "TCP or UDP" } else { "TCP" };
        return usage(format!(
            "no {what} ports to scan: the port list names none for the scan types given (UDP ports need -sU)"
        ));
    }
    Ok((tcp, udp))
}

fn timing(cli: &Cli) -> Result<TimingParams> {
    let level = match cli.timing.as_deref() {
        None => 3,
        Some(t) => parse_template(t).ok_or_else(|| UsageError(format!("invalid timing template '-T{t}': use 0-5 or paranoid|sneaky|polite|normal|aggressive|insane")))?,
    };
    let mut p = TimingParams::template(level);
    if let Some(r) = cli.max_retries {
        p.max_retries = r;
        p.max_retries_lossy = r;
    }
    if let Some(n) = cli.max_parallelism {
        p.max_parallelism = n.max(1);
    }
    if let Some(n) = cli.min_parallelism {
        p.min_parallelism = n.max(1);
    }
    if let Some(t) = &cli.scan_delay {
        p.scan_delay = parse_duration(t).ok_or_else(|| {
            UsageError(format!(
                "invalid --scan-delay '{t}': use a number with ms, s, m or h"
            ))
        })?;
    }
    if let Some(n) = cli.max_hostgroup {
        if n == 0 {
            return usage("invalid --max-hostgroup '0': give a number of hosts, 1 or more");
        }
        p.max_hostgroup = n;
    }
    if let Some(t) = &cli.host_timeout {
        p.host_timeout = Some(parse_duration(t).ok_or_else(|| {
            UsageError(format!(
                "invalid --host-timeout '{t}': use a number with ms, s, m or h"
            ))
        })?);
    }
    for (name, v) in [("--min-rate", cli.min_rate), ("--max-rate", cli.max_rate)] {
        if v.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return usage(format!(
                "invalid {name} '{}': give a positive number of probes per second",
                v.unwrap_or_default()
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (cli.min_rate, cli.max_rate) {
        if lo > hi {
            return usage(format!("--min-rate {lo} is above --max-rate {hi}"));
        }
    }
    Ok(p)
}

fn parse_template(t: &str) -> Option<u8> {
    const NAMES: [&str; 6] = [
        "paranoid",
        "sneaky",
        "polite",
        "normal",
        "aggressive",
        "insane",
    ];
    match t.parse::<u8>() {
        Ok(n) if n <= 5 => Some(n),
        Ok(_) => None,
        Err(_) => NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(t))
            .map(|i| i as u8),
    }
}

/// `500ms`, `30s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

fn targets(cli: &Cli, warnings: &mut Vec<String>) -> Result<TargetSet> {
    let mut tokens: Vec<String> = cli.targets.clone();
    if let Some(path) = &cli.input_list {
        let text = read_input(path)
            .with_context(|| format!("cannot read target list '{path}'"))
            .map_err(|e| UsageError(format!("{e:#}")))?;
        tokens.extend(portolan_targets::parse_target_list(&text));
    }
    let mut includes = Vec::new();
    for tok in &tokens {
        let spec = parse_target(tok).map_err(|e| UsageError(e.to_string()))?;
        match spec {
            TargetSpec::Hostname(h) => match resolve(h.name(), cli.ipv6) {
                Some(addr) => {
                    let spec = h.to_spec(addr).map_err(|e| UsageError(e.to_string()))?;
                    includes.push(Include {
                        spec,
                        hostname: Some(h.name().to_string()),
                    });
                }
                None => warnings.push(format!("Failed to resolve \"{}\".", h.name())),
            },
            other => {
                let spec = ConcreteSpec::try_from(other).map_err(|e| UsageError(e.to_string()))?;
                includes.push(Include {
                    spec,
                    hostname: None,
                });
            }
        }
    }
    let excludes = excludes(cli, warnings)?;
    TargetSet::new(includes, excludes).map_err(|e| UsageError(e.to_string()).into())
}

fn excludes(cli: &Cli, warnings: &mut Vec<String>) -> Result<Vec<ConcreteSpec>> {
    let mut text = cli.exclude.join(",");
    if let Some(path) = &cli.excludefile {
        let body = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "cannot read exclude file '{}': {e}",
                path.display()
            ))
        })?;
        text.push('\n');
        text.push_str(&body);
    }
    let (mut specs, names) =
        portolan_targets::parse_exclude_list(&text).map_err(|e| UsageError(e.to_string()))?;
    for h in names {
        match resolve(h.name(), cli.ipv6) {
            Some(addr) => specs.push(h.to_spec(addr).map_err(|e| UsageError(e.to_string()))?),
            None => warnings.push(format!("Failed to resolve excluded host \"{}\".", h.name())),
        }
    }
    Ok(specs)
}

fn read_input(path: &str) -> std::io::Result<String> {
    let mut s = String::new();
    if path == "-" {
        std::io::stdin().read_to_string(&mut s)?;
    } else {
        s = std::fs::read_to_string(path)?;
    }
    Ok(s)
}

/// The system resolver's first address of the preferred family (IPv6 with -6).
fn resolve(name: &str, ipv6: bool) -> Option<IpAddr> {
    let addrs: Vec<IpAddr> = (name, 0u16)
        .to_socket_addrs()
        .ok()?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .copied()
        .find(|a| a.is_ipv6() == ipv6)
        .or_else(|| addrs.first().copied())
}

/// Every output the flags name: `-oA` first, then `-oN`, `-oX`, `-oG`, `-oJ`.
fn output_files(cli: &Cli) -> Vec<(String, Kind)> {
    let mut files: Vec<(String, Kind)> = Vec::new();
    if let Some(base) = &cli.out_all {
        files.push((format!("{base}.nmap"), Kind::Normal));
        files.push((format!("{base}.xml"), Kind::Xml));
        files.push((format!("{base}.gnmap"), Kind::Grep));
    }
    let single = [
        (&cli.out_normal, Kind::Normal),
        (&cli.out_xml, Kind::Xml),
        (&cli.out_grep, Kind::Grep),
        (&cli.out_json, Kind::Json),
    ];
    for (path, kind) in single {
        if let Some(p) = path {
            files.push((p.clone(), kind));
        }
    }
    files
}

/// How one output will be opened.
enum Opening {
    Stdout(Kind),
    Create(String, Kind),
    Continue(Continuation, Kind),
}

/// With [`Outputs::Continue`], checks every output file before any is
/// touched, so a refused file leaves all of them as they were.
fn check_outputs(files: &[(String, Kind)], mode: Outputs) -> Result<Vec<Opening>> {
    let mut opening = Vec::new();
    for (path, kind) in files {
        opening.push(match (path.as_str(), mode) {
            ("-", _) => Opening::Stdout(*kind),
            (_, Outputs::Create) => Opening::Create(path.clone(), *kind),
            (_, Outputs::Continue) => {
                let c = check_continuation(path.as_ref(), kind.format())
                    .map_err(|e| UsageError(e.to_string()))?;
                Opening::Continue(c, *kind)
            }
        });
    }
    Ok(opening)
}

/// Opens every output file now, so a bad path fails before the scan starts.
fn sinks(opening: Vec<Opening>) -> Result<(MultiSink, bool)> {
    let mut stdout_taken = false;
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    for o in opening {
        let sink = match o {
            Opening::Stdout(kind) => {
                stdout_taken = true;
                kind.sink(Box::new(std::io::stdout()))
            }
            Opening::Create(path, kind) => {
                let f = File::create(&path)
                    .map_err(|e| UsageError(format!("cannot write output file '{path}': {e}")))?;
                kind.sink(Box::new(BufWriter::new(f)))
            }
            Opening::Continue(c, kind) => {
                let f = c.open().map_err(|e| {
                    let path = c.path().display();
                    UsageError(format!("cannot continue output file '{path}': {e}"))
                })?;
                kind.continued_sink(Box::new(BufWriter::new(f)))
            }
        };
        sinks.push(sink);
    }
    Ok((MultiSink(sinks), stdout_taken))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Normal,
    Xml,
    Grep,
    Json,
}

impl Kind {
    fn format(self) -> FileFormat {
        match self {
            Kind::Normal => FileFormat::Normal,
            Kind::Xml => FileFormat::Xml,
            Kind::Grep => FileFormat::Grepable,
            Kind::Json => FileFormat::JsonLines,
        }
    }

    /// The sink continuing a file of this kind: XML without its prologue.
    fn continued_sink(self, out: Box<dyn Write + Send>) -> Box<dyn Sink> {
        match self {
            Kind::Xml => Box::new(ContinuedXmlSink::new(out)),
            other => other.sink(out),
        }
    }

    fn sink(self, out: Box<dyn Write + Send>) -> Box<dyn Sink> {
        match self {
            Kind::Normal => Box::new(NormalSink::new(out, NormalMode::File)),
            Kind::Xml => Box::new(XmlSink::new(out)),
            Kind::Grep => Box::new(GrepableSink::new(out)),
            Kind::Json => Box::new(JsonLinesSink::new(out)),
        }
    }
}

/// A seed from the standard library's per-process random hasher keys.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration(""), None);
    }

    fn plan_of(line: &str) -> Result<Plan> {
        use clap::Parser;
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        let normalized = crate::normalize::normalize(argv).unwrap();
        let cli = Cli::try_parse_from(normalized).unwrap();
        build(&cli, line, 0, Outputs::Create)
    }

    fn shard_hosts(plan: &Plan) -> std::collections::BTreeSet<IpAddr> {
        let order = crate::resume::target_order(plan, None);
        order.map(|t| t.addr).collect()
    }

    #[test]
    fn separately_built_plans_agree_on_each_shard() {
        let line = |i: u32| format!("portolan -sT -n -p 22 --shards 3 --shard {i} 198.18.0.0/20");
        let mut union = std::collections::BTreeSet::new();
        let mut total = 0;
        for i in 1..=3 {
            let (a, b) = (plan_of(&line(i)).unwrap(), plan_of(&line(i)).unwrap());
            assert_ne!(a.config.seed, b.config.seed, "each run draws its own seed");
            let hosts = shard_hosts(&a);
            assert_eq!(hosts, shard_hosts(&b), "shard {i} differs between runs");
            let masscan = plan_of(&format!(
                "portolan -sT -n -p 22 --shard {i}/3 198.18.0.0/20"
            ));
            assert_eq!(hosts, shard_hosts(&masscan.unwrap()), "--shard {i}/3");
            total += hosts.len();
            union.extend(hosts);
        }
        assert_eq!(total, 4096, "the shards overlap");
        assert_eq!(union.len(), 4096, "the shards miss hosts");
    }

    #[test]
    fn bad_shard_flags_are_usage_errors_naming_the_flag() {
        let cases = [
            ("--shards 3 --shard 0", "--shard"),
            ("--shards 3 --shard 4", "--shard"),
            ("--shards 0 --shard 1", "--shards"),
            ("--shards x --shard 1", "--shards"),
            ("--shards 3 --shard one", "--shard"),
            ("--shard 2", "--shards"),
            ("--shards 3", "--shard"),
            ("--shard 4/3", "--shard"),
        ];
        for (flags, named) in cases {
            let err = match plan_of(&format!("portolan -sT -n -p 22 {flags} 198.18.0.0/24")) {
                Ok(_) => panic!("{flags}: accepted"),
                Err(e) => e,
            };
            assert!(err.downcast_ref::<UsageError>().is_some(), "{flags}: {err}");
            assert!(err.to_string().contains(named), "{flags}: {err}");
        }
    }

    fn probes_of(line: &str) -> (bool, DiscoveryConfig) {
        match plan_of(line).unwrap().discovery {
            Discover::Probe { raw, config } => (raw, *config),
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn ping_flags_choose_the_discovery_probes() {
        let (raw, c) = probes_of("portolan -sn -n -PS22,443 -PA 198.18.0.0/24");
        if raw {
            assert_eq!(
                c.probes,
                [PingProbe::Syn(22), PingProbe::Syn(443), PingProbe::Ack(80)]
            );
            assert!(c.neighbor);
        } else {
            // Unprivileged (not root here): TCP pings become connection attempts.
            assert_eq!(
                c.probes,
                [
                    PingProbe::Connect(22),
                    PingProbe::Connect(443),
                    PingProbe::Connect(80)
                ]
            );
        }
        let (raw, c) = probes_of("portolan -n --unprivileged 198.18.0.1");
        assert!(!raw);
        assert_eq!(c.probes, PingProbe::CONNECT_DEFAULT);
        assert!(!c.neighbor);
        let (raw, c) = probes_of("portolan -sn -n --disable-arp-ping 198.18.0.1");
        if raw {
            assert_eq!(c.probes, PingProbe::RAW_DEFAULT);
            assert!(!c.neighbor);
        }
        let (raw, c) = probes_of("portolan -sn -n -PE -PP -PM -PU53 198.18.0.1");
        if raw {
            assert_eq!(
                c.probes,
                [
                    PingProbe::Icmp(PingKind::Echo),
                    PingProbe::Icmp(PingKind::Timestamp),
                    PingProbe::Icmp(PingKind::AddressMask),
                    PingProbe::Udp(53)
                ]
            );
        }
    }

    #[test]
    fn run_kinds_and_their_conflicts() {
        let p = plan_of("portolan -sn -n 198.18.0.1").unwrap();
        assert_eq!(p.run.kind, RunKind::PingOnly);
        assert!(p.run.scans.is_empty() && p.ping_only);
        let p = plan_of("portolan -sL 198.18.0.0/30").unwrap();
        assert_eq!(p.run.kind, RunKind::List);
        assert!(matches!(p.discovery, Discover::List));
        assert!(p.config.raw.is_none(), "a list scan sends nothing");
        let p = plan_of("portolan -Pn -n -sT --unprivileged 198.18.0.1").unwrap();
        assert!(matches!(p.discovery, Discover::Skip));
        let p = plan_of("portolan -Pn -n -sT --disable-arp-ping 198.18.0.1").unwrap();
        assert!(matches!(p.discovery, Discover::Skip));
        assert_eq!(p.names.mode, NameMode::Never);
        let p = plan_of(
            "portolan -sn -R --dns-servers 198.18.0.53,198.18.0.54:5353 x.invalid 198.18.0.1",
        );
        let p = p.unwrap();
        assert_eq!(p.names.mode, NameMode::All);
        assert_eq!(p.names.servers.as_ref().map(Vec::len), Some(2));
        for (line, named) in [
            ("portolan -sL -sS 198.18.0.1", "-sS"),
            ("portolan -sL -sn 198.18.0.1", "-sn"),
            ("portolan -sn -sT 198.18.0.1", "-sT"),
            ("portolan -sn --unprivileged -PE 198.18.0.1", "-PE"),
            ("portolan -sn --unprivileged -PU 198.18.0.1", "-PU"),
            ("portolan -sn -PSx 198.18.0.1", "-PS"),
            (
                "portolan -sn --dns-servers nope 198.18.0.1",
                "--dns-servers",
            ),
        ] {
            let err = match plan_of(line) {
                Ok(_) => panic!("{line}: accepted"),
                Err(e) => e,
            };
            assert!(err.downcast_ref::<UsageError>().is_some(), "{line}: {err}");
            assert!(err.to_string().contains(named), "{line}: {err}");
        }
    }

    #[test]
    fn templates_by_number_and_name() {
        assert_eq!(parse_template("4"), Some(4));
        assert_eq!(parse_template("insane"), Some(5));
        assert_eq!(parse_template("6"), None);
        assert_eq!(parse_template("fast"), None);
    }
}
