//! Our XML read by the real consumers: Nmap's DTD (through xmllint) and ndiff.
//!
//! Both tools come from Debian packages (libxml2-utils, ndiff). When one is
//! missing these tests fail and say so: a skipped check would hide a broken
//! format.

use portolan_model::{
    HostResult, HostStatus, HostTimes, Hostname, HostnameKind, MacAddress, OutputOptions,
    PortResult, PortState, Protocol, Reason, RunInfo, RunKind, RunSummary, ScanInfo, ScanType,
    ServiceInfo, ServiceMethod, TlsInfo, Trace, TraceHop, TraceProto, Tunnel,
};
use portolan_output::{Sink, XmlSink};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

const DTD: &str = "/usr/share/nmap/nmap.dtd";
const T0: u64 = 1_795_256_222;

fn port(protocol: Protocol, n: u16, state: PortState, reason: Reason) -> PortResult {
    PortResult {
        protocol,
        port: n,
        state,
        reason,
        reason_ttl: None,
        service: None,
    }
}

fn open_tcp(n: u16, name: &str) -> PortResult {
    PortResult {
        reason_ttl: Some(64),
        service: Some(ServiceInfo::table(name)),
        ..port(Protocol::Tcp, n, PortState::Open, Reason::SynAck)
    }
}

fn host(addr: &str, ports: Vec<PortResult>) -> HostResult {
    let mut host = HostResult {
        addr: addr.parse().expect("test address"),
        hostnames: vec![],
        status: HostStatus::Up,
        status_reason: Reason::UserSet,
        status_reason_ttl: None,
        mac: None,
        start_time: T0,
        end_time: T0 + 3,
        ports,
        times: Some(HostTimes {
            srtt_us: 368,
            rttvar_us: 337,
            timeout_us: 100_000,
        }),
        timed_out: false,
        answers_every_port: false,
        trace: None,
    };
    host.sort_ports();
    host
}

/// 1000 TCP ports: closed (reset), filtered for two reasons, a few open.
fn big_v4_host() -> HostResult {
    let mut ports: Vec<PortResult> = (1..=1000)
        .filter(|n| ![22, 80, 443].contains(n))
        .map(|n| match n {
            100..=139 => port(Protocol::Tcp, n, PortState::Filtered, Reason::NoResponse),
            140..=169 => port(
                Protocol::Tcp,
                n,
                PortState::Filtered,
                Reason::AdminProhibited,
            ),
            _ => port(Protocol::Tcp, n, PortState::Closed, Reason::Reset),
        })
        .collect();
    ports.extend([
        open_tcp(22, "ssh"),
        open_tcp(80, "http"),
        open_tcp(443, "https"),
    ]);
    let mut h = host("198.18.0.2", ports);
    h.hostnames = vec![
        Hostname {
            name: "example.test".into(),
            kind: HostnameKind::User,
        },
        Hostname {
            name: "ptr.example.test".into(),
            kind: HostnameKind::Ptr,
        },
    ];
    (h.status_reason, h.mac) = (Reason::ArpResponse, mac(Some("Example & Sons <Labs>")));
    h.trace = Some(tcp_trace("198.18.0.2"));
    h
}

fn hop(ttl: u8, addr: Option<&str>, rtt_us: Option<u64>, host: Option<&str>) -> TraceHop {
    TraceHop {
        ttl,
        addr: addr.map(|a| a.parse().expect("test address")),
        rtt_us,
        host: host.map(str::to_owned),
    }
}

/// A TCP trace with a named hop, silent hops and an unmeasured one.
fn tcp_trace(to: &str) -> Trace {
    Trace {
        proto: Some(TraceProto::Tcp),
        port: Some(443),
        hops: vec![
            hop(1, Some("198.18.0.254"), Some(50), Some("gw & <co>.test")),
            hop(2, None, None, None),
            hop(3, None, None, None),
            hop(4, Some("198.19.0.1"), None, None),
            hop(5, Some(to), Some(1234), None),
        ],
    }
}

fn mac(vendor: Option<&str>) -> Option<MacAddress> {
    Some(MacAddress::new(
        [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0b],
        vendor.map(str::to_owned),
    ))
}

/// IPv6, TCP and UDP, every state listed (few ports each).
fn v6_host() -> HostResult {
    let mut h = host(
        "2001:db8::2",
        vec![
            open_tcp(8000, "http-alt"),
            port(Protocol::Tcp, 25, PortState::Closed, Reason::ConnRefused),
            port(
                Protocol::Tcp,
                26,
                PortState::Filtered,
                Reason::AdminProhibited,
            ),
            port(
                Protocol::Udp,
                53,
                PortState::OpenFiltered,
                Reason::NoResponse,
            ),
            port(Protocol::Udp, 54, PortState::Closed, Reason::PortUnreach),
            port(Protocol::Udp, 161, PortState::Open, Reason::UdpResponse),
        ],
    );
    (h.status_reason, h.mac) = (Reason::NdResponse, mac(None));
    h.trace = Some(Trace {
        proto: Some(TraceProto::Icmp),
        port: None,
        hops: vec![hop(1, Some("2001:db8::2"), Some(80), None)],
    });
    h
}

fn timed_out_host() -> HostResult {
    let mut h = host("198.18.0.3", vec![open_tcp(22, "ssh")]);
    h.timed_out = true;
    h
}

/// Behind a SYN proxy: every TCP port but 7 and 9 answered SYN-ACK.
fn proxied_host() -> HostResult {
    let ports = (1..=1000)
        .map(|n| match n {
            7 | 9 => port(Protocol::Tcp, n, PortState::Closed, Reason::Reset),
            _ => open_tcp(n, "unknown"),
        })
        .collect();
    let mut h = host("198.18.0.5", ports);
    h.answers_every_port = true;
    h
}

fn down_host() -> HostResult {
    let mut h = host("198.18.0.4", vec![]);
    (h.status, h.status_reason, h.times) = (HostStatus::Down, Reason::NoResponse, None);
    h
}

fn run_info(options: OutputOptions) -> RunInfo {
    RunInfo {
        scanner: "portolan".into(),
        version: "0.1.0".into(),
        args: "portolan -sSU -p T:1-1000,8000,U:53,54,161 --reason -v -oX out.xml \"198.18.0.0/30\" <x&y>".into(),
        start_time: T0,
        scans: vec![
            ScanInfo {
                scan_type: ScanType::Syn,
                protocol: Protocol::Tcp,
                ports: (1..=1000).chain([8000]).collect(),
            },
            ScanInfo {
                scan_type: ScanType::Udp,
                protocol: Protocol::Udp,
                ports: vec![53, 54, 161],
            },
        ],
        options,
        notes: vec!["Host discovery disabled (-Pn).".into()],
        kind: RunKind::Ports,
    }
}

fn summary(error: Option<&str>) -> RunSummary {
    RunSummary {
        end_time: T0 + 5,
        elapsed_secs: 5.25,
        hosts_up: 3,
        hosts_down: 1,
        hosts_total: 4,
        error: error.map(str::to_owned),
    }
}

fn write_xml(path: &Path, options: OutputOptions, hosts: &[HostResult], error: Option<&str>) {
    write_run(path, &run_info(options), hosts, error);
}

fn write_run(path: &Path, run: &RunInfo, hosts: &[HostResult], error: Option<&str>) {
    let file = std::fs::File::create(path).expect("create xml file");
    let mut sink = XmlSink::new(Box::new(file));
    sink.begin(run).expect("begin");
    for h in hosts {
        sink.host(h).expect("host");
    }
    sink.end(&summary(error)).expect("end");
}

/// Runs a consumer tool, failing loudly when it is not installed.
fn run_tool(program: &str, args: &[&OsStr]) -> Output {
    match Command::new(program).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{program}` is not installed: run the project's setup script \
             (it installs the Debian packages libxml2-utils and ndiff) and test again"
        ),
        Err(e) => panic!("could not run `{program}`: {e}"),
    }
}

fn dtd_valid(path: &Path) -> Output {
    assert!(
        Path::new(DTD).exists(),
        "{DTD} is missing: run the project's setup script (it installs nmap's data files)"
    );
    let strict = path.with_extension("strict.xml");
    let text = std::fs::read_to_string(path).expect("read xml");
    std::fs::write(
        &strict,
        text.replacen("scanner=\"portolan\"", "scanner=\"nmap\"", 1),
    )
    .expect("write strict copy");
    let args = [
        "--noout".as_ref(),
        "--dtdvalid".as_ref(),
        DTD.as_ref(),
        strict.as_os_str(),
    ];
    run_tool("xmllint", &args)
}

fn all_hosts() -> Vec<HostResult> {
    vec![
        big_v4_host(),
        v6_host(),
        timed_out_host(),
        proxied_host(),
        down_host(),
    ]
}

#[test]
fn realistic_runs_validate_against_nmaps_dtd() {
    let dir = tempfile::tempdir().expect("temp dir");
    let verbose = OutputOptions {
        reason: true,
        verbose: 1,
        ..OutputOptions::default()
    };
    let open_only = OutputOptions {
        open_only: true,
        ..OutputOptions::default()
    };
    let cases = [
        ("complete", verbose, None),
        (
            "interrupted",
            verbose,
            Some("interrupted by user: \"Ctrl-C\" <SIGINT> & --quit"),
        ),
        ("open-only", open_only, None),
    ];
    for (name, options, error) in cases {
        let path = dir.path().join(format!("{name}.xml"));
        write_xml(&path, options, &all_hosts(), error);
        let out = dtd_valid(&path);
        assert!(
            out.status.success(),
            "{name}: xmllint rejected our XML:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A `-sn` run: hosts found by ARP (with and without a known vendor), by an
/// echo reply, our own address, and silent ones.
fn ping_hosts() -> Vec<HostResult> {
    let mut arp = host("198.18.0.11", vec![]);
    (arp.status_reason, arp.mac) = (Reason::ArpResponse, mac(Some("Example Networks")));
    let mut nd = host("2001:db8::11", vec![]);
    (nd.status_reason, nd.mac) = (Reason::NdResponse, mac(None));
    arp.trace = Some(Trace {
        proto: None,
        port: None,
        hops: vec![hop(1, Some("198.18.0.11"), Some(33), None)],
    });
    let mut echo = host("198.18.1.7", vec![]);
    (echo.status_reason, echo.status_reason_ttl) = (Reason::EchoReply, Some(63));
    echo.trace = Some(tcp_trace("198.18.1.7"));
    let mut local = host("198.18.0.1", vec![]);
    (local.status_reason, local.times) = (Reason::Localhost, None);
    let mut down = down_host();
    down.addr = "198.18.0.12".parse().expect("test address");
    vec![arp, nd, echo, local, down_host(), down]
}

fn discovery_run(kind: RunKind, options: OutputOptions) -> RunInfo {
    RunInfo {
        kind,
        args: "portolan -sn -v --reason -oX out.xml 198.18.0.0/23".into(),
        notes: vec![],
        ..run_info(options)
    }
}

#[test]
fn ping_and_list_scans_validate_against_nmaps_dtd() {
    let dir = tempfile::tempdir().expect("temp dir");
    let verbose = OutputOptions {
        reason: true,
        verbose: 1,
        ..OutputOptions::default()
    };
    let mut listed = ping_hosts();
    for h in &mut listed {
        (h.status, h.status_reason, h.status_reason_ttl) =
            (HostStatus::Unknown, Reason::UserSet, None);
        (h.mac, h.times) = (None, None);
    }
    listed[0].hostnames = big_v4_host().hostnames;
    let cases = [
        (
            "ping",
            RunKind::PingOnly,
            OutputOptions::default(),
            ping_hosts(),
        ),
        ("ping-verbose", RunKind::PingOnly, verbose, ping_hosts()),
        ("list", RunKind::List, OutputOptions::default(), listed),
    ];
    for (name, kind, options, hosts) in cases {
        let path = dir.path().join(format!("{name}.xml"));
        write_run(&path, &discovery_run(kind, options), &hosts, None);
        let text = std::fs::read_to_string(&path).expect("read xml");
        assert!(!text.contains("<scaninfo"), "{name}: {text}");
        assert!(!text.contains("<ports>"), "{name}: {text}");
        let out = dtd_valid(&path);
        assert!(
            out.status.success(),
            "{name}: xmllint rejected our XML:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs ndiff on two files that must differ (exit status 1); its report.
fn ndiff_differences(a: &std::path::Path, b: &std::path::Path) -> String {
    let diff = run_tool("ndiff", &[a.as_os_str(), b.as_os_str()]);
    let text = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert_eq!(
        diff.status.code(),
        Some(1),
        "ndiff: {text}{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    text
}

#[test]
fn ndiff_sees_a_host_go_down_and_a_new_mac_in_ping_scans() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
    let verbose = OutputOptions {
        verbose: 1,
        ..OutputOptions::default()
    };
    let run = discovery_run(RunKind::PingOnly, verbose);
    write_run(&a, &run, &ping_hosts(), None);
    let mut later = ping_hosts();
    let arp = &mut later[0];
    (arp.status, arp.status_reason, arp.mac, arp.times) =
        (HostStatus::Down, Reason::NoResponse, None, None);
    let nd = &mut later[1];
    nd.mac = Some(MacAddress::new([0x02, 0, 0, 0, 0, 0x99], None));
    write_run(&b, &run, &later, None);
    let text = ndiff_differences(&a, &b);
    assert!(text.contains("198.18.0.11"), "{text}");
    assert!(text.contains("Host is down"), "{text}");
    assert!(text.contains("02:00:00:00:00:99"), "{text}");
    let same = run_tool("ndiff", &[a.as_os_str(), a.as_os_str()]);
    assert_eq!(same.status.code(), Some(0));
}

#[test]
fn ndiff_reads_a_host_answering_every_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
    let options = OutputOptions::default();
    write_xml(&a, options, &[proxied_host()], None);
    let mut opened = proxied_host();
    let echo = opened
        .ports
        .iter_mut()
        .find(|p| p.port == 7)
        .expect("port 7");
    (echo.state, echo.reason) = (PortState::Open, Reason::SynAck);
    write_xml(&b, options, &[opened], None);
    let text = ndiff_differences(&a, &b);
    assert!(
        text.contains("998 open"),
        "ndiff shows the folded count:\n{text}"
    );
    assert!(
        text.contains("999 open"),
        "ndiff shows the folded count:\n{text}"
    );
}

#[test]
fn the_strict_copy_really_is_checked_against_the_dtd() {
    // Guards the test above: an element the DTD does not know must be rejected.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.xml");
    write_xml(&path, OutputOptions::default(), &all_hosts(), None);
    let text = std::fs::read_to_string(&path).expect("read xml");
    std::fs::write(&path, text.replacen("<verbose ", "<loud/><verbose ", 1)).expect("write");
    let out = dtd_valid(&path);
    assert!(!out.status.success());
    let complaint = String::from_utf8_lossy(&out.stderr);
    assert!(
        complaint.contains("loud"),
        "xmllint failed for another reason:\n{complaint}"
    );
}

#[test]
fn ndiff_sees_one_changed_port_and_no_change_between_equal_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b, c) = (
        dir.path().join("a.xml"),
        dir.path().join("b.xml"),
        dir.path().join("c.xml"),
    );
    let options = OutputOptions::default();
    write_xml(&a, options, &all_hosts(), None);
    write_xml(&c, options, &all_hosts(), None);
    let mut changed = all_hosts();
    let http = changed[0]
        .ports
        .iter_mut()
        .find(|p| p.port == 80)
        .expect("port 80");
    (http.state, http.reason) = (PortState::Closed, Reason::Reset);
    write_xml(&b, options, &changed, None);

    let text = ndiff_differences(&a, &b);
    assert!(
        text.contains("80/tcp"),
        "ndiff output does not name the port:\n{text}"
    );

    let same = run_tool("ndiff", &[a.as_os_str(), c.as_os_str()]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
}

#[test]
fn traces_are_written_where_the_dtd_puts_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("traced.xml");
    write_xml(&path, OutputOptions::default(), &all_hosts(), None);
    let text = std::fs::read_to_string(&path).expect("read xml");
    assert!(
        text.contains(
            "</ports>\n<trace port=\"443\" proto=\"tcp\">\n\
             <hop ttl=\"1\" ipaddr=\"198.18.0.254\" rtt=\"0.05\" host=\"gw &amp; &lt;co&gt;.test\"/>\n\
             <hop ttl=\"4\" ipaddr=\"198.19.0.1\" rtt=\"--\"/>\n\
             <hop ttl=\"5\" ipaddr=\"198.18.0.2\" rtt=\"1.23\"/>\n</trace>\n<times "
        ),
        "{text}"
    );
    assert!(
        text.contains("<trace>\n<hop ttl=\"1\" ipaddr=\"2001:db8::2\""),
        "ICMPv6 is not named, as in Nmap: {text}"
    );
    let out = dtd_valid(&path);
    assert!(
        out.status.success(),
        "xmllint rejected our XML:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ndiff_reads_traced_hosts_and_sees_no_change_in_a_route_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
    let options = OutputOptions::default();
    write_xml(&a, options, &all_hosts(), None);
    let mut rerouted = all_hosts();
    rerouted[0].trace = Some(tcp_trace("198.18.0.2"));
    if let Some(t) = rerouted[0].trace.as_mut() {
        t.hops[0].addr = Some("198.18.0.253".parse().expect("test address"));
    }
    rerouted[1].trace = None;
    write_xml(&b, options, &rerouted, None);
    let same = run_tool("ndiff", &[a.as_os_str(), b.as_os_str()]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "ndiff compares no routes:\n{}{}",
        String::from_utf8_lossy(&same.stdout),
        String::from_utf8_lossy(&same.stderr)
    );
    rerouted[0].ports.retain(|p| p.port != 22);
    write_xml(&b, options, &rerouted, None);
    let text = ndiff_differences(&a, &b);
    assert!(text.contains("22/tcp"), "{text}");
}

/// A host after `-sV`: SSH with product, version, extra info, OS and CPEs;
/// HTTPS identified inside TLS with its certificate and its page title; a
/// port version detection could not name, with its fingerprint; a redirecting
/// web server.
fn versioned_host(ssh_version: &str) -> HostResult {
    let mut ssh = open_tcp(22, "ssh");
    let mut s = ServiceInfo::named("ssh", ServiceMethod::Probed, 10);
    s.product = Some("OpenSSH".into());
    s.version = Some(ssh_version.into());
    s.extrainfo = Some("Debian 2+deb12u10; protocol 2.0".into());
    s.ostype = Some("Linux".into());
    s.cpe = vec![
        format!("cpe:/a:openbsd:openssh:{ssh_version}"),
        "cpe:/o:linux:linux_kernel".into(),
    ];
    ssh.service = Some(s);
    let mut https = open_tcp(443, "https");
    let mut h = ServiceInfo::named("http", ServiceMethod::Probed, 10);
    h.product = Some("nginx".into());
    h.version = Some("1.22.1".into());
    h.tunnel = Some(Tunnel::Ssl);
    h.tls = Some(TlsInfo {
        protocol: "TLSv1.3".into(),
        cipher: Some("TLS_AES_256_GCM_SHA384".into()),
        subject: Some("commonName=s1.svc.test/organizationName=Portolan Lab".into()),
        issuer: Some("commonName=s1.svc.test/organizationName=Portolan Lab".into()),
        not_before: Some("2026-11-21T00:00:00".into()),
        not_after: Some("2027-11-21T00:00:00".into()),
        public_key: Some("rsaEncryption 2048".into()),
        sha256: Some("00ff".repeat(16)),
    });
    h.http_title = Some("Portolan <Lab> & \"friends\"".into());
    https.service = Some(h);
    let mut unknown = open_tcp(9999, "abyss");
    if let Some(s) = unknown.service.as_mut() {
        s.fingerprint = Some(
            "SF-Port9999-TCP:V=0.1.0%I=7%D=11/21%Time=6B016F9E%P=x86_64-unknown-linux-gnu\
             %r(NULL,6,\"<hi>\\0\\r\");"
                .into(),
        );
    }
    let mut web = open_tcp(80, "http");
    let mut w = ServiceInfo::named("http", ServiceMethod::Probed, 10);
    w.http_title = Some("Did not follow redirect to https://s1.svc.test/".into());
    web.service = Some(w);
    host("198.18.0.11", vec![ssh, web, https, unknown])
}

#[test]
fn version_detection_results_validate_and_ndiff_sees_a_new_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = OutputOptions {
        version_scan: true,
        ..OutputOptions::default()
    };
    let (a, b) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
    write_xml(&a, options, &[versioned_host("9.2p1")], None);
    write_xml(&b, options, &[versioned_host("9.6p1")], None);
    let text = std::fs::read_to_string(&a).expect("read xml");
    assert!(
        text.contains(r#"<service name="http" product="nginx" version="1.22.1" tunnel="ssl" method="probed" conf="10"/>"#),
        "{text}"
    );
    assert!(
        text.contains("<cpe>cpe:/o:linux:linux_kernel</cpe>"),
        "{text}"
    );
    assert!(
        text.contains(r#"<script id="ssl-cert" output="&#xa;Subject: commonName=s1.svc.test/organizationName=Portolan Lab&#xa;"#),
        "{text}"
    );
    // ndiff up to Nmap 7.95 fails on a port with two scripts (it sorts them),
    // so the TLS port carries its certificate and not its title.
    assert!(!text.contains("Portolan &lt;Lab&gt;"), "{text}");
    let per_port = text.split("</port>").map(|p| p.matches("<script ").count());
    assert!(per_port.clone().all(|n| n <= 1), "{text}");
    assert!(
        text.contains(
            r#"<script id="http-title" output="Did not follow redirect to https://s1.svc.test/"/>"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"<service name="abyss" servicefp="SF-Port9999-TCP:V=0.1.0%I=7%D=11/21%Time=6B016F9E%P=x86_64-unknown-linux-gnu%r(NULL,6,&quot;&lt;hi&gt;\0\r&quot;);" method="table" conf="3"/>"#),
        "{text}"
    );
    let out = dtd_valid(&a);
    assert!(
        out.status.success(),
        "xmllint rejected our XML:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = ndiff_differences(&a, &b);
    assert!(diff.contains("OpenSSH 9.6p1"), "{diff}");
    assert!(diff.contains("OpenSSH 9.2p1"), "{diff}");
}
