//! Small builders for the unit tests.

use portolan_model::{
    HostResult, HostStatus, HostTimes, Hostname, HostnameKind, MacAddress, OutputOptions,
    PortResult, PortState, Protocol, Reason, RunInfo, RunKind, RunSummary, ScanInfo, ScanType,
    ServiceInfo, Trace, TraceHop, TraceProto,
};

/// The reference run's start: Sat Nov 21 10:17:02 2026 UTC.
pub(crate) const T0: u64 = 1_795_256_222;

pub(crate) fn port(n: u16, state: PortState, reason: Reason) -> PortResult {
    PortResult {
        protocol: Protocol::Tcp,
        port: n,
        state,
        reason,
        reason_ttl: None,
        service: None,
    }
}

pub(crate) fn service(name: &str) -> Option<ServiceInfo> {
    Some(ServiceInfo::table(name))
}

pub(crate) fn named(name: &str, kind: HostnameKind) -> Hostname {
    Hostname {
        name: name.to_owned(),
        kind,
    }
}

pub(crate) fn host_with(ports: Vec<PortResult>) -> HostResult {
    HostResult {
        addr: "198.18.0.2".parse().expect("literal address"),
        hostnames: vec![],
        status: HostStatus::Up,
        status_reason: Reason::UserSet,
        status_reason_ttl: None,
        mac: None,
        start_time: T0,
        end_time: T0,
        ports,
        times: Some(HostTimes {
            srtt_us: 368,
            rttvar_us: 337,
            timeout_us: 100_000,
        }),
        timed_out: false,
        answers_every_port: false,
        trace: None,
    }
}

/// The reference host: 1-100 closed (conn-refused), 8000 open http-alt.
pub(crate) fn reference_host() -> HostResult {
    let mut ports: Vec<_> = (1..=100)
        .map(|n| port(n, PortState::Closed, Reason::ConnRefused))
        .collect();
    let mut open = port(8000, PortState::Open, Reason::SynAck);
    open.service = service("http-alt");
    ports.push(open);
    host_with(ports)
}

/// A host behind a SYN proxy, as the engine flags it: TCP 1-1000 open
/// (syn-ack) except 7 and 9 (closed, reset), plus UDP 53 open.
pub(crate) fn proxied_host() -> HostResult {
    let mut ports: Vec<_> = (1..=1000)
        .map(|n| match n {
            7 | 9 => port(n, PortState::Closed, Reason::Reset),
            _ => port(n, PortState::Open, Reason::SynAck),
        })
        .collect();
    let mut dns = port(53, PortState::Open, Reason::UdpResponse);
    dns.protocol = Protocol::Udp;
    dns.service = service("domain");
    ports.push(dns);
    let mut host = host_with(ports);
    host.answers_every_port = true;
    host
}

/// A hop that answered: `addr` after `rtt_us` microseconds.
pub(crate) fn hop(ttl: u8, addr: &str, rtt_us: u64) -> TraceHop {
    TraceHop {
        ttl,
        addr: Some(addr.parse().expect("literal address")),
        rtt_us: Some(rtt_us),
        host: None,
    }
}

/// 198.18.1.14 with 443/tcp open, traced over it in two hops: the router
/// 198.18.0.254 (50 µs), then the host (80 µs).
pub(crate) fn traced_host() -> HostResult {
    let mut https = port(443, PortState::Open, Reason::SynAck);
    https.service = service("https");
    let mut host = host_with(vec![https]);
    host.addr = "198.18.1.14".parse().expect("literal address");
    host.trace = Some(Trace {
        proto: Some(TraceProto::Tcp),
        port: Some(443),
        hops: vec![hop(1, "198.18.0.254", 50), hop(2, "198.18.1.14", 80)],
    });
    host
}

/// [`traced_host`] seven hops away: TTL 2 and TTLs 4 to 6 silent, a named
/// router at TTL 3.
pub(crate) fn silent_range_host() -> HostResult {
    let mut host = traced_host();
    let mut named = hop(3, "198.18.2.1", 12_500);
    named.host = Some("r3.example.test".to_owned());
    let hops = vec![
        hop(1, "198.18.0.254", 50),
        TraceHop::silent(2),
        named,
        TraceHop::silent(4),
        TraceHop::silent(5),
        TraceHop::silent(6),
        hop(7, "198.18.1.14", 13_080),
    ];
    if let Some(trace) = &mut host.trace {
        trace.hops = hops;
    }
    host
}

pub(crate) fn run_info(options: OutputOptions) -> RunInfo {
    RunInfo {
        scanner: "portolan".to_owned(),
        version: "0.1.0".to_owned(),
        args: "portolan -sT -Pn -n -p 1-100,8000 --reason -oA /tmp/ref 127.0.0.1".to_owned(),
        start_time: T0,
        scans: vec![ScanInfo {
            scan_type: ScanType::Connect,
            protocol: Protocol::Tcp,
            ports: (1..=100).chain([8000]).collect(),
        }],
        options,
        notes: vec![],
        kind: RunKind::Ports,
    }
}

/// The MAC address of the discovery fixtures: 02:00:C6:12:00:0B.
pub(crate) fn mac(vendor: Option<&str>) -> Option<MacAddress> {
    Some(MacAddress::new(
        [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0b],
        vendor.map(str::to_owned),
    ))
}

/// A `-sn` (`RunKind::PingOnly`) or `-sL` (`RunKind::List`) run of 198.18.0.8/29.
pub(crate) fn discovery_run(kind: RunKind, options: OutputOptions) -> RunInfo {
    let flag = match kind {
        RunKind::List => "-sL",
        _ => "-sn",
    };
    RunInfo {
        args: format!("portolan {flag} -n -oA /tmp/disc 198.18.0.8/29"),
        scans: vec![],
        kind,
        ..run_info(options)
    }
}

/// A host found up by ARP: 198.18.0.11 at 02:00:C6:12:00:0B, 33 µs away.
pub(crate) fn arp_host(vendor: Option<&str>) -> HostResult {
    let mut host = host_with(vec![]);
    host.addr = "198.18.0.11".parse().expect("literal address");
    host.status_reason = Reason::ArpResponse;
    host.mac = mac(vendor);
    host.times = Some(HostTimes {
        srtt_us: 33,
        rttvar_us: 5000,
        timeout_us: 100_000,
    });
    host
}

/// A host that never answered discovery probes.
pub(crate) fn silent_host(addr: &str) -> HostResult {
    let mut host = host_with(vec![]);
    host.addr = addr.parse().expect("literal address");
    (host.status, host.status_reason, host.times) = (HostStatus::Down, Reason::NoResponse, None);
    host
}

/// A host as a list scan reports it: status unknown, reason user-set.
pub(crate) fn listed_host(addr: &str) -> HostResult {
    let mut host = host_with(vec![]);
    host.addr = addr.parse().expect("literal address");
    (host.status, host.times) = (HostStatus::Unknown, None);
    host
}

/// The summary of a discovery run over `total` addresses, `up` of them up.
pub(crate) fn discovery_summary(total: u64, up: u64) -> RunSummary {
    RunSummary {
        elapsed_secs: 1.25,
        hosts_up: up,
        hosts_down: total - up,
        hosts_total: total,
        ..summary()
    }
}

pub(crate) fn summary() -> RunSummary {
    RunSummary {
        end_time: T0,
        elapsed_secs: 0.03,
        hosts_up: 1,
        hosts_down: 0,
        hosts_total: 1,
        error: None,
    }
}

/// A `Write` that tests can read back after the sink owns a boxed clone.
#[derive(Clone, Default, Debug)]
pub(crate) struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut inner = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        inner.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The hosts of a `-sn` run of 198.18.0.8/29 in completion order: one
/// down, one found by ARP, our own address, one answering an echo request
/// through a router, one more down.
pub(crate) fn ping_scan_hosts() -> Vec<HostResult> {
    let mut local = host_with(vec![]);
    local.addr = "198.18.0.12".parse().expect("literal address");
    (local.status_reason, local.times) = (Reason::Localhost, None);
    let mut routed = arp_host(None);
    routed.addr = "198.18.0.14".parse().expect("literal address");
    (routed.status_reason, routed.status_reason_ttl, routed.mac) =
        (Reason::EchoReply, Some(63), None);
    vec![
        silent_host("198.18.0.8"),
        arp_host(Some("Example Networks")),
        local,
        routed,
        silent_host("198.18.0.13"),
    ]
}
