//! Small builders for the unit tests.

use portolan_model::{
    HostResult, HostStatus, HostTimes, Hostname, HostnameKind, OutputOptions, PortResult,
    PortState, Protocol, Reason, RunInfo, RunSummary, ScanInfo, ScanType, ServiceInfo,
    ServiceMethod,
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
    Some(ServiceInfo {
        name: name.to_owned(),
        method: ServiceMethod::Table,
        conf: 3,
    })
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
