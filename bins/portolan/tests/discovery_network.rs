//! Host discovery against a real network: tests/net/disco.py's namespaces (a
//! scanner segment with an ordinary host, a host that ignores pings, one that only
//! ARP and ND find, a DNS server and a router; behind the router a host answering
//! TCP 443 alone and an ordinary one), with Nmap as the oracle.
//!
//! Every scenario is written once against Nmap-compatible behaviour and run twice:
//! `nmap_*` checks the network (and that the expectations are Nmap's), `portolan_*`
//! checks the scanner. Each test builds its own network and tears it down, also
//! when it fails; a mutex serialises them, so one lab exists at a time per test
//! binary (namespace prefix `pd<pid>`). Needs root and `ip netns` (CI has both);
//! without them every test fails with a message saying so, like the other network
//! tests.

#[allow(dead_code)] // shared by the network test binaries, each using part of it
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use common::hosts::{parse_xml_run, XmlHost, XmlRun};
use common::{LabKind, Netns, Run, Seen};
use serde_json::Value;

/// Upper bound on any one scanner run: a hung binary fails the test, not CI.
const RUN_TIMEOUT_S: &str = "150";
/// A scan whose DNS server never answers must still end within this many seconds
/// (Nmap takes about 26 s: the run is killed, and fails, at this bound).
const SILENT_DNS_BOUND_S: &str = "60";
const BOTH_NETS: [&str; 2] = ["198.18.0.0/24", "198.18.1.0/24"];
const LOSS_PCT: &str = "10";

/// The scanner under test, or the oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Portolan,
    Nmap,
}

impl Tool {
    fn program(self) -> &'static str {
        match self {
            Tool::Portolan => common::PORTOLAN,
            Tool::Nmap => "nmap",
        }
    }
}

/// One answering address of the lab, as `disco.py up` describes it.
#[derive(Debug, Clone, Default)]
struct Machine {
    name: String,
    v4: String,
    v6: Option<String>,
    mac: Option<String>,
    vendor: Option<String>,
    on_link: bool,
    /// Whether a scanner reports this address's MAC (on-link, not itself).
    mac_reported: bool,
    hops: u32,
    open: Vec<u16>,
    /// State and reason of every TCP port not in `open` to a SYN scan (`None`
    /// for the scanner itself).
    other_ports: Option<(String, String)>,
    ptr: String,
    ptr_v6: Option<String>,
    /// Reason of a default privileged `-sn`.
    reason: String,
    /// Reasons accepted with `--disable-arp-ping`; `None`: the host is down then.
    no_arp: Option<Vec<String>>,
    v6_reason: Option<String>,
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_string)
}

fn req_str(v: &Value, key: &str) -> String {
    opt_str(v, key).unwrap_or_else(|| panic!("disco JSON: no string {key:?} in {v}"))
}

fn strings(v: &Value) -> Vec<String> {
    let items = v.as_array().map(|a| a.iter().filter_map(Value::as_str));
    items
        .map(|i| i.map(str::to_string).collect())
        .unwrap_or_default()
}

fn machine(v: &Value) -> Machine {
    let open = v["open"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64));
    Machine {
        name: req_str(v, "name"),
        v4: req_str(v, "v4"),
        v6: opt_str(v, "v6"),
        mac: opt_str(v, "mac"),
        vendor: opt_str(v, "vendor"),
        on_link: v["on_link"].as_bool().expect("disco JSON: on_link"),
        mac_reported: v["mac_reported"]
            .as_bool()
            .expect("disco JSON: mac_reported"),
        hops: v["hops"].as_u64().expect("disco JSON: hops") as u32,
        open: open.map_or(Vec::new(), |i| i.map(|p| p as u16).collect()),
        other_ports: v["other_ports"].is_object().then(|| {
            (
                req_str(&v["other_ports"], "state"),
                req_str(&v["other_ports"], "reason"),
            )
        }),
        ptr: req_str(v, "ptr"),
        ptr_v6: opt_str(v, "ptr_v6"),
        reason: req_str(v, "reason"),
        no_arp: v["no_arp"].is_array().then(|| strings(&v["no_arp"])),
        v6_reason: opt_str(v, "v6_reason"),
    }
}

static DISCO: LabKind = LabKind::new(
    "tests/net/disco.py",
    "pd",
    "the discovery network tests need root and Linux network namespaces (ip netns, veth, \
     bridge, nftables, dnsmasq; run scripts/setup-test-deps.sh). CI runs as root",
);

/// A live discovery test network; dropping it tears the network down.
struct Disco {
    ns: Netns,
    scanner_ns: String,
    scanner: Machine,
    hosts: Vec<Machine>,
    dns_server: String,
    silent_dns_server: String,
}

impl Disco {
    /// Builds the lab with `disco.py up ARGS` (after removing leftovers).
    fn up(test: &str, up_args: &[&str]) -> Disco {
        let (ns, v) = Netns::up(&DISCO, test, up_args);
        let hosts = v["hosts"].as_array().expect("disco JSON: hosts");
        Disco {
            ns,
            scanner_ns: req_str(&v, "scanner_ns"),
            scanner: machine(&v["scanner"]),
            hosts: hosts.iter().map(machine).collect(),
            dns_server: req_str(&v, "dns_server"),
            silent_dns_server: req_str(&v, "silent_dns_server"),
        }
    }

    fn host(&self, name: &str) -> &Machine {
        let found = self.hosts.iter().find(|h| h.name == name);
        found.unwrap_or_else(|| panic!("no host {name} in the lab"))
    }

    /// Runs `tool args...` inside the scanner namespace, bounded in time.
    fn run(&self, tool: Tool, args: &[&str]) -> Run {
        self.run_within(RUN_TIMEOUT_S, tool, args)
    }

    /// Runs `tool args...` inside the scanner namespace, killed after `secs`
    /// seconds (exit status 124, or 137 when it ignored SIGTERM).
    fn run_within(&self, secs: &str, tool: Tool, args: &[&str]) -> Run {
        self.ns.run_in(&self.scanner_ns, secs, tool.program(), args)
    }

    /// Runs `tool args... -oX -`; it must exit 0, and its stdout is the XML.
    fn xml(&self, tool: Tool, args: &[&str]) -> XmlRun {
        self.xml_within(RUN_TIMEOUT_S, tool, args)
    }

    fn xml_within(&self, secs: &str, tool: Tool, args: &[&str]) -> XmlRun {
        let mut all = args.to_vec();
        all.extend(["-oX", "-"]);
        let what = format!("{tool:?} {} (killed after {secs} s)", all.join(" "));
        let out = self.run_within(secs, tool, &all).ok(&what);
        parse_xml_run(&out.stdout)
    }

    /// The scanner's egress counters (disco.py counters): total, dns, arp_dns, other.
    fn counters(&self) -> BTreeMap<String, u64> {
        let out = self.ns.script("counters", &[]).ok("disco.py counters");
        let v: Value = serde_json::from_str(&out.stdout).expect("counters JSON");
        let map = v.as_object().expect("counters object");
        let counts = map
            .iter()
            .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)));
        counts.collect()
    }
}

// ------------------------------------------------------------------ checks

/// Vendor names are spelt differently by each tool ("Cisco Systems, Inc" in the
/// IEEE registry, "Cisco Systems" in Nmap): the first word must agree.
fn same_vendor(got: &str, want: &str) -> bool {
    let first = |s: &str| {
        let word = s.split_whitespace().next().unwrap_or_default();
        word.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    !first(want).is_empty() && first(got) == first(want)
}

fn same_mac(got: Option<&str>, want: Option<&str>) -> bool {
    got.map(str::to_lowercase) == want.map(str::to_lowercase)
}

fn same_addr(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// TTL of a reply sent with TTL 64 from `hops` hops away (1: the same segment).
fn reply_ttl(m: &Machine) -> u32 {
    65 - m.hops
}

/// Mismatches between a reported host and an expectation of reason, MAC and names.
fn host_mismatches(got: &XmlHost, want: &Machine, reasons: &[&str], names: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    let who = format!("{} ({})", want.name, got.addr);
    if !got.is_up() {
        bad.push(format!("{who}: state {}, want up", got.state));
    }
    if !reasons.contains(&got.reason.as_str()) {
        bad.push(format!(
            "{who}: reason {}, want one of {reasons:?}",
            got.reason
        ));
    }
    let by_ip = ![
        "arp-response",
        "nd-response",
        "localhost-response",
        "user-set",
    ]
    .contains(&got.reason.as_str());
    if by_ip && got.reason_ttl != Some(reply_ttl(want)) {
        bad.push(format!(
            "{who}: reason_ttl {:?}, want {}",
            got.reason_ttl,
            reply_ttl(want)
        ));
    }
    bad.extend(mac_mismatches(got, want));
    if got.ptr_names != names {
        bad.push(format!(
            "{who}: PTR names {:?}, want {names:?}",
            got.ptr_names
        ));
    }
    bad
}

/// On-link hosts carry their MAC and vendor; nothing else (the scanner itself
/// included) carries a MAC.
fn mac_mismatches(got: &XmlHost, want: &Machine) -> Vec<String> {
    let who = format!("{} ({})", want.name, got.addr);
    let want_mac = want.mac.as_deref().filter(|_| want.mac_reported);
    let mut bad = Vec::new();
    if !same_mac(got.mac.as_deref(), want_mac) {
        bad.push(format!("{who}: MAC {:?}, want {want_mac:?}", got.mac));
    }
    if let (Some(v), Some(_)) = (want.vendor.as_deref(), want_mac) {
        let ok = got.vendor.as_deref().is_some_and(|g| same_vendor(g, v));
        if !ok {
            bad.push(format!("{who}: vendor {:?}, want like {v:?}", got.vendor));
        }
    }
    bad
}

fn assert_none(what: &str, bad: &[String], scan: &XmlRun) {
    let hosts: Vec<String> = scan
        .hosts
        .iter()
        .map(|h| format!("{} {} {} {:?}", h.addr, h.state, h.reason, h.ptr_names))
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: {} mismatches\n  {}\nhosts reported:\n  {}",
        bad.len(),
        bad.join("\n  "),
        hosts.join("\n  ")
    );
}

/// Hosts reported up that are not in `want` (by address).
fn extra_up(scan: &XmlRun, want: &[&str]) -> Vec<String> {
    let up = scan.hosts.iter().filter(|h| h.is_up());
    let extra = up.filter(|h| !want.iter().any(|w| same_addr(&h.addr, w)));
    extra
        .map(|h| {
            format!(
                "{} reported up ({}) but nothing lives there",
                h.addr, h.reason
            )
        })
        .collect()
}

fn expect_up(
    scan: &XmlRun,
    m: &Machine,
    addr: &str,
    reasons: &[&str],
    names: &[&str],
) -> Vec<String> {
    match scan.host(addr) {
        Some(h) => host_mismatches(h, m, reasons, names),
        None => vec![format!("{} ({addr}) not reported", m.name)],
    }
}

fn expect_not_up(scan: &XmlRun, who: &str, addr: &str) -> Vec<String> {
    match scan.host(addr) {
        Some(h) if h.is_up() => vec![format!("{who} ({addr}) up ({}), want down", h.reason)],
        _ => Vec::new(),
    }
}

fn counts_mismatches(scan: &XmlRun, up: usize, total: u64) -> Vec<String> {
    let mut bad = Vec::new();
    if scan.up != up as u64 || scan.total != total || scan.down != total - up as u64 {
        bad.push(format!(
            "runstats up {} down {} total {}, want up {up} down {} total {total}",
            scan.up,
            scan.down,
            scan.total,
            total - up as u64
        ));
    }
    bad
}

// --------------------------------------------------------------- scenarios

/// `-sn` of both /24s, privileged defaults: exactly the live addresses (and the
/// scanner itself, `localhost-response`), each with Nmap's reason, on-link ones
/// with MAC and vendor, each with its PTR name; runstats count the rest down.
fn sn_default(tool: Tool) {
    let lab = Disco::up("sn", &[]);
    let scan = lab.xml(tool, &[&["-sn"][..], &BOTH_NETS].concat());
    let mut bad = Vec::new();
    let mut live = vec![lab.scanner.v4.as_str()];
    bad.extend(expect_up(
        &scan,
        &lab.scanner,
        &lab.scanner.v4,
        &["localhost-response"],
        &[&lab.scanner.ptr],
    ));
    for h in &lab.hosts {
        live.push(&h.v4);
        bad.extend(expect_up(&scan, h, &h.v4, &[&h.reason], &[&h.ptr]));
    }
    bad.extend(extra_up(&scan, &live));
    bad.extend(counts_mismatches(&scan, live.len(), 512));
    assert_none(&format!("{tool:?} -sn of both /24s"), &bad, &scan);
}

/// With ARP off, on-link hosts are found by IP probes: d3 (drops all IP) is down,
/// d2 (ignores pings) is up by a TCP answer.
fn sn_without_arp(tool: Tool) {
    let lab = Disco::up("noarp", &[]);
    let scan = lab.xml(tool, &["--disable-arp-ping", "-sn", BOTH_NETS[0]]);
    let mut bad = Vec::new();
    let mut live = vec![lab.scanner.v4.as_str()];
    bad.extend(expect_up(
        &scan,
        &lab.scanner,
        &lab.scanner.v4,
        &["localhost-response"],
        &[&lab.scanner.ptr],
    ));
    for h in lab.hosts.iter().filter(|h| h.on_link) {
        match &h.no_arp {
            Some(reasons) => {
                let reasons: Vec<&str> = reasons.iter().map(String::as_str).collect();
                live.push(&h.v4);
                bad.extend(expect_up(&scan, h, &h.v4, &reasons, &[&h.ptr]));
            }
            None => bad.extend(expect_not_up(&scan, &h.name, &h.v4)),
        }
    }
    bad.extend(extra_up(&scan, &live));
    bad.extend(counts_mismatches(&scan, live.len(), 256));
    assert_none(&format!("{tool:?} --disable-arp-ping -sn"), &bad, &scan);
}

/// One probe type at a time against d4 (TCP 443 only) and d5 (ordinary) behind the
/// router. Linux answers no ICMP address-mask request, so `-PM` finds nothing.
fn probe_types_behind_router(tool: Tool) {
    let lab = Disco::up("probes", &[]);
    let (d4, d5) = (lab.host("d4"), lab.host("d5"));
    type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>);
    let cases: [Case; 7] = [
        ("-PE", None, Some("echo-reply")),
        ("-PS443", Some("syn-ack"), Some("reset")),
        ("-PA80", None, Some("reset")),
        ("-PU53", None, Some("port-unreach")),
        ("-PU", None, Some("port-unreach")),
        ("-PP", None, Some("timestamp-reply")),
        ("-PM", None, None),
    ];
    let mut bad = Vec::new();
    let mut last = None;
    for (flag, want4, want5) in cases {
        let scan = lab.xml(tool, &[flag, "-sn", "-n", &d4.v4, &d5.v4]);
        let mut up = 0;
        for (m, want) in [(d4, want4), (d5, want5)] {
            let found = match want {
                Some(r) => {
                    up += 1;
                    expect_up(&scan, m, &m.v4, &[r], &[])
                }
                None => expect_not_up(&scan, &m.name, &m.v4),
            };
            bad.extend(found.into_iter().map(|b| format!("{flag}: {b}")));
        }
        let counts = counts_mismatches(&scan, up, 2);
        bad.extend(counts.into_iter().map(|b| format!("{flag}: {b}")));
        last = Some(scan);
    }
    let scan = last.expect("ran at least one case");
    assert_none(&format!("{tool:?} probe types"), &bad, &scan);
}

/// `-n` names nothing; by default only up hosts are named (down ones listed with
/// `-v` have no name); `-R` names down hosts too; `--system-dns` gives the same
/// names as the built-in resolver.
fn name_resolution_modes(tool: Tool) {
    let lab = Disco::up("names", &[]);
    let (d1, d2, d4, d5) = (
        lab.host("d1"),
        lab.host("d2"),
        lab.host("d4"),
        lab.host("d5"),
    );
    let empty = "198.18.1.26";
    let mut bad = Vec::new();
    let scan = lab.xml(tool, &["-n", "-sn", &d1.v4, &d5.v4]);
    for m in [d1, d5] {
        bad.extend(expect_up(&scan, m, &m.v4, &[&m.reason], &[]));
    }
    for h in &scan.hosts {
        if !h.names.is_empty() {
            bad.push(format!("-n: {} has names {:?}", h.addr, h.names));
        }
    }
    // Default: the up host is named, the down one (listed with -v) is not.
    let scan = lab.xml(tool, &["-v", "-PE", "-sn", &d4.v4, &d5.v4, empty]);
    bad.extend(expect_up(&scan, d5, &d5.v4, &["echo-reply"], &[&d5.ptr]));
    bad.extend(down_named(&scan, "default", d4, &[]));
    // -R: the down host with a PTR record is named too, the empty address is not.
    let scan_r = lab.xml(tool, &["-v", "-R", "-PE", "-sn", &d4.v4, &d5.v4, empty]);
    bad.extend(expect_up(&scan_r, d5, &d5.v4, &["echo-reply"], &[&d5.ptr]));
    bad.extend(down_named(&scan_r, "-R", d4, &[&d4.ptr]));
    if let Some(h) = scan_r.host(empty) {
        if !h.names.is_empty() || h.is_up() {
            bad.push(format!(
                "-R: {empty} is {} with names {:?}",
                h.state, h.names
            ));
        }
    }
    let sys = lab.xml(tool, &["--system-dns", "-sn", &d1.v4, &d2.v4, &d5.v4]);
    for m in [d1, d2, d5] {
        bad.extend(expect_up(&sys, m, &m.v4, &[&m.reason], &[&m.ptr]));
    }
    assert_none(&format!("{tool:?} name resolution"), &bad, &scan_r);
}

/// A down host listed under -v: state down, with exactly `names`.
fn down_named(scan: &XmlRun, mode: &str, m: &Machine, names: &[&str]) -> Vec<String> {
    let Some(h) = scan.host(&m.v4) else {
        return vec![format!(
            "{mode} -v: down host {} ({}) not listed",
            m.name, m.v4
        )];
    };
    let mut bad = Vec::new();
    if h.state != "down" {
        bad.push(format!("{mode}: {} is {}, want down", m.name, h.state));
    }
    if h.ptr_names != names {
        bad.push(format!(
            "{mode}: down {} named {:?}, want {names:?}",
            m.name, h.ptr_names
        ));
    }
    bad
}

/// `--dns-servers` reaches the lab's server even when the system resolver (here
/// the scanner's own loopback) answers nothing.
fn dns_servers_flag(tool: Tool) {
    let lab = Disco::up("dnsflag", &["--resolver", "loopback"]);
    let (d1, d5) = (lab.host("d1"), lab.host("d5"));
    let mut bad = Vec::new();
    let plain = lab.xml(tool, &["-sn", &d1.v4, &d5.v4]);
    for m in [d1, d5] {
        bad.extend(expect_up(&plain, m, &m.v4, &[&m.reason], &[]));
    }
    let named = lab.xml(
        tool,
        &["--dns-servers", &lab.dns_server, "-sn", &d1.v4, &d5.v4],
    );
    for m in [d1, d5] {
        bad.extend(expect_up(&named, m, &m.v4, &[&m.reason], &[&m.ptr]));
    }
    assert_none(&format!("{tool:?} --dns-servers"), &bad, &named);
}

/// A DNS server that never answers costs bounded time (the run is killed, and
/// the test fails, past the bound): the hosts are reported, without names.
fn silent_dns_server(tool: Tool) {
    let lab = Disco::up("silentdns", &[]);
    let (d1, d5) = (lab.host("d1"), lab.host("d5"));
    let args = [
        "--dns-servers",
        &lab.silent_dns_server,
        "-sn",
        &d1.v4,
        &d5.v4,
    ];
    let scan = lab.xml_within(SILENT_DNS_BOUND_S, tool, &args);
    let mut bad = Vec::new();
    for m in [d1, d5] {
        bad.extend(expect_up(&scan, m, &m.v4, &[&m.reason], &[]));
    }
    assert_none(&format!("{tool:?} silent --dns-servers"), &bad, &scan);
}

/// `-sL` lists the four addresses with their names and sends nothing to them:
/// everything the scanner's interface sends is DNS to the lab's server (and ARP
/// about that server).
fn list_scan(tool: Tool) {
    let lab = Disco::up("list", &[]);
    let before = lab.counters();
    let scan = lab.xml(tool, &["-sL", "198.18.0.20/30"]);
    let after = lab.counters();
    let by_addr: BTreeMap<&str, &Machine> = lab.hosts.iter().map(|h| (h.v4.as_str(), h)).collect();
    let mut bad = Vec::new();
    for i in 20..24 {
        let addr = format!("198.18.0.{i}");
        let want: Vec<&str> = by_addr
            .get(addr.as_str())
            .map(|m| m.ptr.as_str())
            .into_iter()
            .collect();
        match scan.host(&addr) {
            None => bad.push(format!("{addr} not listed")),
            Some(h) => {
                if h.state != "unknown" || h.reason != "user-set" {
                    bad.push(format!(
                        "{addr}: {} {}, want unknown user-set",
                        h.state, h.reason
                    ));
                }
                if h.ptr_names != want {
                    bad.push(format!("{addr}: names {:?}, want {want:?}", h.ptr_names));
                }
            }
        }
    }
    if scan.hosts.len() != 4 || scan.total != 4 || scan.up != 0 {
        bad.push(format!(
            "{} hosts listed, runstats up {} total {}: want 4, 0, 4",
            scan.hosts.len(),
            scan.up,
            scan.total
        ));
    }
    let count = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let delta = |k: &str| count(&after, k).saturating_sub(count(&before, k));
    if delta("other") != 0 {
        bad.push(format!(
            "sent {} packets other than DNS to {}",
            delta("other"),
            lab.dns_server
        ));
    }
    if delta("dns") == 0 {
        bad.push("sent no DNS query at all".to_string());
    }
    assert_none(&format!("{tool:?} -sL"), &bad, &scan);
}

/// Expected state and reason of `port` on `m` to a SYN scan.
fn port_truth(m: &Machine, port: u16) -> (&str, &str) {
    if m.open.contains(&port) {
        return ("open", "syn-ack");
    }
    let other = m.other_ports.as_ref();
    let (state, reason) = other.unwrap_or_else(|| panic!("{}: no port truth", m.name));
    (state, reason)
}

fn port_mismatches(got: &XmlHost, m: &Machine, ports: &[u16]) -> Vec<String> {
    let mut bad = Vec::new();
    for &p in ports {
        let (state, reason) = port_truth(m, p);
        let want = Seen {
            state: state.to_string(),
            reason: Some(reason.to_string()),
        };
        if got.ports.get(&p) != Some(&want) {
            bad.push(format!(
                "{} port {p}: {:?}, want {want:?}",
                m.name,
                got.ports.get(&p)
            ));
        }
    }
    bad
}

const SCAN_PORTS: [u16; 3] = [22, 80, 443];
const SCAN_TARGETS: [&str; 2] = ["198.18.0.21-25", "198.18.1.24-25"];
const SCAN_HOSTS: [&str; 5] = ["d1", "d2", "d3", "d4", "d5"];
const SCAN_EMPTY: [&str; 2] = ["198.18.0.24", "198.18.0.25"];

/// A port scan (no -sn) scans only the hosts discovery found: d1..d5 (d3 by ARP,
/// every port filtered), not the two empty on-link addresses.
fn port_scan_of_up_hosts_only(tool: Tool) {
    let lab = Disco::up("portscan", &[]);
    let scan = lab.xml(tool, &[&["-p", "22,80,443"][..], &SCAN_TARGETS].concat());
    let mut bad = Vec::new();
    for name in SCAN_HOSTS {
        let m = lab.host(name);
        match scan.host(&m.v4) {
            Some(h) => {
                bad.extend(host_mismatches(h, m, &[&m.reason], &[&m.ptr]));
                bad.extend(port_mismatches(h, m, &SCAN_PORTS));
            }
            None => bad.push(format!("{name} not reported")),
        }
    }
    for addr in SCAN_EMPTY {
        bad.extend(expect_not_up(&scan, "empty", addr));
        if scan.host(addr).is_some_and(|h| !h.ports.is_empty()) {
            bad.push(format!("{addr}: ports reported for a down host"));
        }
    }
    bad.extend(counts_mismatches(&scan, SCAN_HOSTS.len(), 7));
    assert_none(&format!("{tool:?} port scan"), &bad, &scan);
}

/// `-Pn`: no ping probes, every target taken as up (`user-set`). On the local
/// segment Nmap still resolves MACs by ARP, so on-link hosts read `arp-response`
/// and on-link addresses nothing answers stay down; `--disable-arp-ping` too makes
/// every target up by `user-set`.
fn pn_takes_targets_as_up(tool: Tool) {
    let lab = Disco::up("pn", &[]);
    let args = |more: &[&'static str]| {
        let mut a: Vec<&str> = more.to_vec();
        a.extend(["-Pn", "-p", "22,80,443"]);
        a.extend(SCAN_TARGETS);
        a
    };
    let mut bad = Vec::new();
    let scan = lab.xml(tool, &args(&[]));
    for name in SCAN_HOSTS {
        let m = lab.host(name);
        let reason = if m.on_link {
            "arp-response"
        } else {
            "user-set"
        };
        bad.extend(expect_up(&scan, m, &m.v4, &[reason], &[&m.ptr]));
        if let Some(h) = scan.host(&m.v4) {
            bad.extend(port_mismatches(h, m, &SCAN_PORTS));
        }
    }
    for addr in SCAN_EMPTY {
        bad.extend(expect_not_up(&scan, "empty", addr));
    }
    bad.extend(counts_mismatches(&scan, SCAN_HOSTS.len(), 7));
    let all = lab.xml(tool, &args(&["--disable-arp-ping"]));
    let up: BTreeSet<String> = all
        .hosts
        .iter()
        .filter(|h| h.reason == "user-set" && h.is_up())
        .map(|h| h.addr.clone())
        .collect();
    if up.len() != 7 || all.up != 7 {
        bad.push(format!(
            "-Pn --disable-arp-ping: user-set up {up:?} (runstats up {}), want all 7",
            all.up
        ));
    }
    assert_none(&format!("{tool:?} -Pn"), &bad, &scan);
}

/// `-v -sn` reports its phases in Nmap's words, on stdout: the ARP ping scan and
/// the parallel DNS resolution of every up host (Nmap resolves the scanner's own
/// address in a batch of its own: the counts are summed).
fn verbose_phases(tool: Tool) {
    let lab = Disco::up("verbose", &[]);
    let out = lab.run(tool, &["-v", "-sn", BOTH_NETS[0]]).ok("-v -sn");
    let up = 1 + lab.hosts.iter().filter(|h| h.on_link).count();
    let mut bad = Vec::new();
    for phase in ["Initiating ARP Ping Scan", "Completed ARP Ping Scan"] {
        if !out.stdout.contains(phase) {
            bad.push(format!("stdout lacks {phase:?}"));
        }
    }
    for verb in ["Initiating", "Completed"] {
        let n = dns_batch_total(&out.stdout, verb);
        if n != up {
            bad.push(format!(
                "{verb} Parallel DNS resolution of N host(s): N sums to {n}, want {up}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{tool:?} -v -sn: {}\nstdout:\n{}\nstderr:\n{}",
        bad.join("; "),
        out.stdout,
        out.stderr
    );
}

/// Sum of N over lines "VERB Parallel DNS resolution of N host(s)".
fn dns_batch_total(text: &str, verb: &str) -> usize {
    let lead = format!("{verb} Parallel DNS resolution of ");
    let counts = text.lines().filter_map(|l| {
        let rest = &l[l.find(&lead)? + lead.len()..];
        let n = rest.split_whitespace().next()?.parse::<usize>().ok()?;
        rest.contains(" host").then_some(n)
    });
    counts.sum()
}

/// `--traceroute -p 443` to d4: the router at TTL 1, d4 at TTL 2, both named.
fn traceroute_through_router(tool: Tool) {
    let lab = Disco::up("trace", &[]);
    let (d4, rtr) = (lab.host("d4"), lab.host("rtr"));
    let scan = lab.xml(tool, &["--traceroute", "-p", "443", &d4.v4]);
    let mut bad = Vec::new();
    match scan.host(&d4.v4) {
        None => bad.push("d4 not reported".to_string()),
        Some(h) => {
            bad.extend(port_mismatches(h, d4, &[443]));
            let hops: Vec<(u32, &str, Option<&str>)> = h
                .trace
                .iter()
                .map(|x| (x.ttl, x.ipaddr.as_str(), x.host.as_deref()))
                .collect();
            let want = vec![
                (1, rtr.v4.as_str(), Some(rtr.ptr.as_str())),
                (2, d4.v4.as_str(), Some(d4.ptr.as_str())),
            ];
            if hops != want {
                bad.push(format!("trace {hops:?}, want {want:?}"));
            }
        }
    }
    assert_none(&format!("{tool:?} --traceroute"), &bad, &scan);
}

/// IPv6: on-link d1 and d3 answer neighbour discovery (d3 nothing else), d5 behind
/// the router answers an echo request; names from the IPv6 PTR records.
fn ipv6_discovery(tool: Tool) {
    let lab = Disco::up("v6", &[]);
    let hosts: Vec<&Machine> = ["d1", "d3", "d5"].iter().map(|n| lab.host(n)).collect();
    let addrs: Vec<&str> = hosts.iter().filter_map(|m| m.v6.as_deref()).collect();
    assert_eq!(addrs.len(), 3, "d1, d3 and d5 have IPv6 addresses");
    let scan = lab.xml(tool, &[&["-6", "-sn"][..], &addrs].concat());
    let mut bad = Vec::new();
    for (m, addr) in hosts.iter().zip(&addrs) {
        let reason = m.v6_reason.as_deref().expect("IPv6 reason in the truth");
        let names: Vec<&str> = m.ptr_v6.as_deref().into_iter().collect();
        bad.extend(expect_up(&scan, m, addr, &[reason], &names));
    }
    bad.extend(extra_up(&scan, &addrs));
    bad.extend(counts_mismatches(&scan, 3, 3));
    assert_none(&format!("{tool:?} -6 -sn"), &bad, &scan);
}

/// 10 % of the frames lost each way on the scanner's link: every live address is
/// still found, and nothing else.
fn lossy_path(tool: Tool) {
    let lab = Disco::up("lossy", &["--loss", LOSS_PCT]);
    let scan = lab.xml(tool, &[&["-sn", "-n"][..], &BOTH_NETS].concat());
    let mut live = vec![lab.scanner.v4.as_str()];
    live.extend(lab.hosts.iter().map(|h| h.v4.as_str()));
    let mut bad = Vec::new();
    for addr in &live {
        if !scan.host(addr).is_some_and(XmlHost::is_up) {
            bad.push(format!("{addr} not found up at {LOSS_PCT} % loss"));
        }
    }
    bad.extend(extra_up(&scan, &live));
    assert_none(&format!("{tool:?} -sn at {LOSS_PCT} % loss"), &bad, &scan);
}

// ------------------------------------------------------------------- tests

macro_rules! both_tools {
    ($($scenario:ident => $nmap:ident, $portolan:ident;)*) => {$(
        #[test]
        fn $nmap() {
            $scenario(Tool::Nmap);
        }

        #[test]
        fn $portolan() {
            $scenario(Tool::Portolan);
        }
    )*};
}

both_tools! {
    sn_default => nmap_sn_finds_exactly_the_live_hosts, portolan_sn_finds_exactly_the_live_hosts;
    sn_without_arp => nmap_sn_without_arp_misses_the_arp_only_host,
        portolan_sn_without_arp_misses_the_arp_only_host;
    probe_types_behind_router => nmap_each_probe_type_behind_the_router,
        portolan_each_probe_type_behind_the_router;
    name_resolution_modes => nmap_name_resolution_modes, portolan_name_resolution_modes;
    dns_servers_flag => nmap_dns_servers_flag_bypasses_the_system_resolver,
        portolan_dns_servers_flag_bypasses_the_system_resolver;
    silent_dns_server => nmap_a_silent_dns_server_costs_bounded_time,
        portolan_a_silent_dns_server_costs_bounded_time;
    list_scan => nmap_list_scan_names_targets_and_sends_them_nothing,
        portolan_list_scan_names_targets_and_sends_them_nothing;
    port_scan_of_up_hosts_only => nmap_port_scan_covers_only_up_hosts,
        portolan_port_scan_covers_only_up_hosts;
    pn_takes_targets_as_up => nmap_pn_takes_every_target_as_up, portolan_pn_takes_every_target_as_up;
    verbose_phases => nmap_verbose_sn_names_its_phases, portolan_verbose_sn_names_its_phases;
    traceroute_through_router => nmap_traceroute_through_the_router,
        portolan_traceroute_through_the_router;
    ipv6_discovery => nmap_ipv6_nd_and_echo, portolan_ipv6_nd_and_echo;
    lossy_path => nmap_lossy_path_still_finds_every_host, portolan_lossy_path_still_finds_every_host;
}

#[test]
fn vendor_names_compare_by_first_word() {
    assert!(same_vendor("Cisco Systems", "Cisco Systems, Inc"));
    assert!(same_vendor("routerboard.com", "Routerboard.com"));
    assert!(!same_vendor("Dell", "Cisco Systems, Inc"));
    assert!(!same_vendor("", ""));
}

#[test]
fn dns_batches_are_summed_from_nmap_wording() {
    let text = "Initiating Parallel DNS resolution of 5 hosts. at 13:49\n\
        Completed Parallel DNS resolution of 5 hosts. at 13:49, 0.00s elapsed\n\
        Initiating Parallel DNS resolution of 1 host. at 13:49\n";
    assert_eq!(dns_batch_total(text, "Initiating"), 6);
    assert_eq!(dns_batch_total(text, "Completed"), 5);
    assert_eq!(dns_batch_total("nothing here", "Completed"), 0);
}
