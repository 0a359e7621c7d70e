//! The real test network for integration tests, and readers for the scanner's outputs.
//!
//! [`Lab::up`] builds `tests/net/lab.py`'s namespaces (scanner, switch, four hosts,
//! a router) for one test and tears them down when the [`Lab`] drops, also when the
//! test panics. A process-wide mutex serialises tests, so one lab exists at a time per
//! test binary; the namespace prefix carries the process id, so parallel CI runs on one
//! machine do not collide. The tests need root and `ip netns`: without them they fail
//! loudly instead of skipping.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, Once};
use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;

/// The portolan binary under test.
pub const PORTOLAN: &str = env!("CARGO_BIN_EXE_portolan");
/// Upper bound on any one scanner run; a hung binary fails the test, not CI.
const RUN_TIMEOUT_S: &str = "120";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Expected state and reason of one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub state: String,
    pub reason: String,
}

/// One host of the lab, as `lab.py up` describes it.
#[derive(Debug, Clone)]
pub struct HostTruth {
    pub name: String,
    pub v4: String,
    pub v6: Option<String>,
    pub lossy: bool,
    pub ports: BTreeMap<u16, Expect>,
    pub default: Expect,
}

impl HostTruth {
    pub fn expect(&self, port: u16) -> &Expect {
        self.ports.get(&port).unwrap_or(&self.default)
    }

    pub fn open_ports(&self) -> BTreeSet<u16> {
        let open = self.ports.iter().filter(|(_, e)| e.state == "open");
        open.map(|(p, _)| *p).collect()
    }
}

fn str_field(v: &Value, key: &str) -> String {
    let s = v.get(key).and_then(Value::as_str);
    s.unwrap_or_else(|| panic!("lab JSON: no string {key:?} in {v}"))
        .to_string()
}

fn expect_of(v: &Value) -> Expect {
    Expect {
        state: str_field(v, "state"),
        reason: str_field(v, "reason"),
    }
}

fn host_truth(v: &Value) -> HostTruth {
    let ports = v["ports"].as_object().expect("lab JSON: host.ports");
    let ports = ports.iter().map(|(k, e)| {
        let port = k.parse().expect("lab JSON: port number");
        (port, expect_of(e))
    });
    HostTruth {
        name: str_field(v, "name"),
        v4: str_field(v, "v4"),
        v6: v["v6"].as_str().map(str::to_string),
        lossy: v["lossy"].as_bool().expect("lab JSON: lossy"),
        ports: ports.collect(),
        default: Expect {
            state: str_field(v, "default_state"),
            reason: str_field(v, "default_reason"),
        },
    }
}

/// Result of one command: exit code (-1 if killed by a signal) and its output.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with the command's stderr unless it exited 0.
    pub fn ok(self, what: &str) -> Run {
        assert_eq!(
            self.code, 0,
            "{what} exited {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Run::from_output(out)
}

fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find(|l| l.starts_with("Uid:"));
    uid.and_then(|l| l.split_whitespace().nth(2)) == Some("0")
}

/// One kind of test network: a script of tests/net that takes `up`, `down` and `gc`
/// with `--prefix`, the namespace prefix its tests use (with this process's id),
/// and what the machine needs for it (said when the tests cannot run). Holds the
/// lock that keeps one such lab at a time per test binary.
pub struct LabKind {
    script: &'static str,
    prefix: &'static str,
    need: &'static str,
    lock: Mutex<()>,
    gc: Once,
}

impl LabKind {
    pub const fn new(script: &'static str, prefix: &'static str, need: &'static str) -> Self {
        LabKind {
            script,
            prefix,
            need,
            lock: Mutex::new(()),
            gc: Once::new(),
        }
    }

    fn script_path(&self) -> PathBuf {
        repo_root().join(self.script)
    }
}

/// A live lab of one [`LabKind`], for one test: its namespaces are torn down with
/// the script's `down` when this drops (also when the test panics, and also after a
/// failed `up`), and it owns the test's scratch directory, removed after a clean
/// teardown of a passing test.
pub struct Netns {
    script: PathBuf,
    pub prefix: String,
    pub dir: PathBuf,
    _guard: MutexGuard<'static, ()>,
}

impl Netns {
    /// Builds the lab with `SCRIPT up --prefix P ARGS` (the first time in this
    /// process, after `SCRIPT gc` removed labs of dead test processes); the JSON
    /// `up` printed. Fails loudly without root or `ip netns`.
    pub fn up(kind: &'static LabKind, test: &str, args: &[&str]) -> (Netns, Value) {
        let guard = kind.lock.lock().unwrap_or_else(|p| p.into_inner());
        assert!(is_root(), "{}: not running as root", kind.need);
        let probe = Command::new("ip").args(["netns", "list"]).output();
        let works = probe.as_ref().is_ok_and(|o| o.status.success());
        assert!(works, "{}: `ip netns list` failed: {probe:?}", kind.need);
        let script = kind.script_path();
        kind.gc.call_once(|| {
            let _ = run(Command::new("python3").arg(&script).arg("gc"));
        });
        let prefix = format!("{}{}", kind.prefix, std::process::id());
        let dir = std::env::temp_dir().join(format!("portolan-{prefix}-{test}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create output dir");
        let out = run(Command::new("python3")
            .arg(&script)
            .args(["up", "--prefix", &prefix])
            .args(args));
        // From here on, Drop tears down whatever `up` left, even half a lab.
        let lab = Netns {
            script,
            prefix,
            dir,
            _guard: guard,
        };
        let what = format!("{} up", kind.script);
        let out = out.ok(&what);
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {}", out.stdout));
        (lab, v)
    }

    /// A path for an output file of this test.
    pub fn out(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// Runs `program args...` inside namespace `ns`, killed after `secs` seconds
    /// (exit status 124, or 137 when it ignored SIGTERM), in the scratch directory.
    pub fn run_in(&self, ns: &str, secs: &str, program: &str, args: &[&str]) -> Run {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        cmd.args(["timeout", "--kill-after=5", secs, program]);
        run(cmd.args(args).current_dir(&self.dir))
    }

    /// Runs `SCRIPT COMMAND --prefix P ARGS` (the lab script's other commands).
    pub fn script(&self, command: &str, args: &[&str]) -> Run {
        run(Command::new("python3")
            .arg(&self.script)
            .args([command, "--prefix", &self.prefix])
            .args(args))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let down = Command::new("python3")
            .arg(&self.script)
            .args(["down", "--prefix", &self.prefix])
            .output();
        let ok = down.as_ref().is_ok_and(|o| o.status.success());
        if !ok {
            let script = self.script.display();
            eprintln!("{script} down --prefix {} failed: {down:?}", self.prefix);
        }
        if ok && !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

static LAB: LabKind = LabKind::new(
    "tests/net/lab.py",
    "pt",
    "the network tests need root and Linux network namespaces (ip netns, veth, bridge, \
     nftables; run scripts/setup-test-deps.sh). CI runs as root",
);

/// A live test network; dropping it tears the network down.
pub struct Lab {
    pub ns: Netns,
    pub prefix: String,
    pub scanner_ns: String,
    pub scanner_if: String,
    pub hosts: Vec<HostTruth>,
}

impl Lab {
    /// Builds the lab (after tearing down any leftover with the same prefix).
    pub fn up(test: &str) -> Lab {
        let (ns, v) = Netns::up(&LAB, test, &[]);
        let hosts = v["hosts"].as_array().expect("lab JSON: hosts");
        Lab {
            prefix: ns.prefix.clone(),
            scanner_ns: str_field(&v, "scanner_ns"),
            scanner_if: str_field(&v, "scanner_if"),
            hosts: hosts.iter().map(host_truth).collect(),
            ns,
        }
    }

    pub fn host(&self, name: &str) -> &HostTruth {
        let found = self.hosts.iter().find(|h| h.name == name);
        found.unwrap_or_else(|| panic!("no host {name} in the lab"))
    }

    /// A path for an output file of this test.
    pub fn out(&self, name: &str) -> String {
        self.ns.out(name)
    }

    /// Runs `program args...` inside the scanner namespace, bounded in time.
    pub fn in_scanner(&self, program: &str, args: &[&str]) -> Run {
        self.ns
            .run_in(&self.scanner_ns, RUN_TIMEOUT_S, program, args)
    }

    pub fn portolan(&self, args: &[&str]) -> Run {
        self.in_scanner(PORTOLAN, args)
    }

    pub fn nmap(&self, args: &[&str]) -> Run {
        self.in_scanner("nmap", args)
    }

    /// Packets sent so far by the scanner's only interface.
    pub fn tx_packets(&self) -> u64 {
        let path = format!("/sys/class/net/{}/statistics/tx_packets", self.scanner_if);
        let out = self.in_scanner("cat", &[&path]).ok("reading tx_packets");
        out.stdout.trim().parse().expect("tx_packets is a number")
    }

    /// Waits (at most ~10 s) until the scanner sent nothing for half a second, so a
    /// counter comparison is not disturbed by the tail of an earlier exchange.
    pub fn wait_tx_quiet(&self) {
        let mut last = self.tx_packets();
        for _ in 0..20 {
            sleep(Duration::from_millis(500));
            let now = self.tx_packets();
            if now == last {
                return;
            }
            last = now;
        }
        panic!("scanner interface never went quiet (tx_packets {last})");
    }
}

/// Expands an Nmap port spec such as `1-1024,3306` (no names, no protocols).
pub fn expand_ports(spec: &str) -> Vec<u16> {
    let mut ports = BTreeSet::new();
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: u16 = lo.parse().unwrap_or_else(|_| panic!("bad port {part:?}"));
        let hi: u16 = hi.parse().unwrap_or_else(|_| panic!("bad port {part:?}"));
        ports.extend(lo..=hi);
    }
    ports.into_iter().collect()
}

/// One port as a scanner reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub state: String,
    pub reason: Option<String>,
}

/// Per-host port results of one scan, keyed by address.
pub type Hosts = BTreeMap<String, BTreeMap<u16, Seen>>;

/// Portolan's `-oJ` file: host lines and the summary line.
#[derive(Debug)]
pub struct JsonScan {
    pub hosts: Hosts,
    pub host_lines: Vec<Value>,
    pub summary: Value,
}

fn json_port(p: &Value) -> (u16, Seen) {
    let port = p["port"].as_u64().unwrap_or_else(|| panic!("port: {p}"));
    let port = u16::try_from(port).unwrap_or_else(|_| panic!("port out of range: {p}"));
    let state = p["state"].as_str().unwrap_or_else(|| panic!("state: {p}"));
    let reason = p["reason"].as_str().map(str::to_string);
    let state = state.to_string();
    (port, Seen { state, reason })
}

pub fn read_jsonl(path: &str) -> JsonScan {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut scan = JsonScan {
        hosts: Hosts::new(),
        host_lines: Vec::new(),
        summary: Value::Null,
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{path}: bad JSON line {e}: {line}"));
        assert_eq!(v["schema"], "portolan/1", "{path}: schema of {line}");
        match v["type"].as_str() {
            Some("host") => {
                let addr = v["addr"].as_str().unwrap_or_else(|| panic!("addr: {line}"));
                let ports = v["ports"]
                    .as_array()
                    .unwrap_or_else(|| panic!("ports: {line}"));
                let seen: BTreeMap<u16, Seen> = ports.iter().map(json_port).collect();
                assert_eq!(
                    seen.len(),
                    ports.len(),
                    "{path}: a port listed twice for {addr}"
                );
                scan.hosts.insert(addr.to_string(), seen);
                scan.host_lines.push(v);
            }
            Some("summary") => scan.summary = v,
            _ => {}
        }
    }
    assert!(scan.summary.is_object(), "{path}: no summary line");
    scan
}

/// An Nmap-format XML file: the scanned TCP ports and every host's per-port state,
/// with `<extraports>` expanded (by their `extrareasons@ports`, or, when a host has one
/// `extraports`, as every scanned port not listed).
#[derive(Debug)]
pub struct XmlScan {
    pub scanned: Vec<u16>,
    pub hosts: Hosts,
}

pub fn read_xml(path: &str) -> XmlScan {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let doc = roxmltree::Document::parse_with_options(
        &text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{path}: not XML: {e}"));
    let info = doc.descendants().find(|n| n.has_tag_name("scaninfo"));
    let info = info.unwrap_or_else(|| panic!("{path}: no scaninfo"));
    let scanned = expand_ports(info.attribute("services").expect("scaninfo@services"));
    let mut hosts = Hosts::new();
    for host in doc.descendants().filter(|n| n.has_tag_name("host")) {
        let addr = host.children().find(|n| n.has_tag_name("address"));
        let addr = addr
            .and_then(|a| a.attribute("addr"))
            .expect("host/address@addr");
        hosts.insert(addr.to_string(), xml_host_ports(host, &scanned));
    }
    XmlScan { scanned, hosts }
}

fn xml_host_ports(host: roxmltree::Node, scanned: &[u16]) -> BTreeMap<u16, Seen> {
    let mut ports = BTreeMap::new();
    let Some(list) = host.children().find(|n| n.has_tag_name("ports")) else {
        return ports;
    };
    for p in list.children().filter(|n| n.has_tag_name("port")) {
        let port = p
            .attribute("portid")
            .and_then(|s| s.parse().ok())
            .expect("portid");
        let st = p
            .children()
            .find(|n| n.has_tag_name("state"))
            .expect("port/state");
        let seen = Seen {
            state: st.attribute("state").expect("state@state").to_string(),
            reason: st.attribute("reason").map(str::to_string),
        };
        ports.insert(port, seen);
    }
    let extras: Vec<_> = list
        .children()
        .filter(|n| n.has_tag_name("extraports"))
        .collect();
    for ex in &extras {
        let state = ex.attribute("state").expect("extraports@state");
        for r in ex.children().filter(|n| n.has_tag_name("extrareasons")) {
            let reason = r.attribute("reason").map(str::to_string);
            for port in r.attribute("ports").map(expand_ports).unwrap_or_default() {
                let state = state.to_string();
                ports.insert(
                    port,
                    Seen {
                        state,
                        reason: reason.clone(),
                    },
                );
            }
        }
    }
    if let [ex] = extras.as_slice() {
        let state = ex.attribute("state").expect("extraports@state");
        for port in scanned {
            let seen = Seen {
                state: state.to_string(),
                reason: None,
            };
            ports.entry(*port).or_insert(seen);
        }
    }
    ports
}

/// Reasons accepted for an expected (state, reason): a connect scan cannot tell an
/// ICMP admin-prohibited from a host-unreachable (both are EHOSTUNREACH), so either is
/// fine for a reject.
fn reason_ok(want: &Expect, got: Option<&str>) -> bool {
    let rejects = ["admin-prohibited", "host-unreach"];
    match want.reason.as_str() {
        r if rejects.contains(&r) => got.is_some_and(|g| rejects.contains(&g)),
        r => got == Some(r),
    }
}

/// Every mismatch between a host's scan result and the truth, over exactly `scanned`.
pub fn mismatches(truth: &HostTruth, scanned: &[u16], got: &BTreeMap<u16, Seen>) -> Vec<String> {
    let mut bad = Vec::new();
    let name = match truth.lossy {
        true => format!("{} (lossy)", truth.name),
        false => truth.name.clone(),
    };
    let wanted: BTreeSet<u16> = scanned.iter().copied().collect();
    for port in got.keys().filter(|p| !wanted.contains(p)) {
        bad.push(format!("{name}: port {port} reported but not scanned"));
    }
    for &port in scanned {
        let want = truth.expect(port);
        let Some(seen) = got.get(&port) else {
            bad.push(format!("{name}: port {port} missing"));
            continue;
        };
        if seen.state != want.state || !reason_ok(want, seen.reason.as_deref()) {
            bad.push(format!(
                "{name}: port {port} got {}/{}, want {}/{}",
                seen.state,
                seen.reason.as_deref().unwrap_or("-"),
                want.state,
                want.reason
            ));
        }
    }
    bad
}

/// Like [`mismatches`] but on states only (for oracle comparisons).
pub fn state_mismatches(a: &BTreeMap<u16, Seen>, b: &BTreeMap<u16, Seen>) -> Vec<String> {
    let ports: BTreeSet<u16> = a.keys().chain(b.keys()).copied().collect();
    let state = |m: &BTreeMap<u16, Seen>, p| {
        m.get(&p)
            .map_or("missing", |s| s.state.as_str())
            .to_string()
    };
    let diff = ports.into_iter().filter(|&p| state(a, p) != state(b, p));
    diff.map(|p| format!("port {p}: {} vs {}", state(a, p), state(b, p)))
        .collect()
}

/// Asserts an empty mismatch list, printing at most 40 of them.
pub fn assert_none(what: &str, bad: &[String]) {
    let shown: Vec<_> = bad.iter().take(40).map(String::as_str).collect();
    assert!(
        bad.is_empty(),
        "{what}: {} mismatches\n  {}",
        bad.len(),
        shown.join("\n  ")
    );
}

/// Readers for host discovery results in Nmap's XML: each `<host>`'s status with its
/// reason and TTL, MAC address and vendor, PTR names, ports and trace, and the
/// `<runstats><hosts>` counts. Only the discovery tests use them (other test files
/// include this module without allowing dead code, hence the allow).
#[allow(dead_code)]
pub mod hosts {
    use std::collections::BTreeMap;
    use std::fs;
    use std::net::IpAddr;

    use super::{expand_ports, xml_host_ports, Seen};

    /// One answering TTL of a `<trace>`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Hop {
        pub ttl: u32,
        pub ipaddr: String,
        pub host: Option<String>,
    }

    /// One `<host>` element (not `<hosthint>`).
    #[derive(Debug, Clone)]
    pub struct XmlHost {
        /// The IPv4 or IPv6 address.
        pub addr: String,
        pub state: String,
        pub reason: String,
        pub reason_ttl: Option<u32>,
        /// `<address addrtype="mac">`, as written.
        pub mac: Option<String>,
        pub vendor: Option<String>,
        /// Names of `type="PTR"`, in document order.
        pub ptr_names: Vec<String>,
        /// Every `<hostname>` as (name, type).
        pub names: Vec<(String, String)>,
        pub ports: BTreeMap<u16, Seen>,
        pub trace: Vec<Hop>,
    }

    impl XmlHost {
        pub fn is_up(&self) -> bool {
            self.state == "up"
        }
    }

    /// A whole run: its hosts in document order and the `<runstats><hosts>` counts.
    #[derive(Debug, Clone)]
    pub struct XmlRun {
        pub hosts: Vec<XmlHost>,
        pub up: u64,
        pub down: u64,
        pub total: u64,
    }

    impl XmlRun {
        /// The host whose address equals `addr` by value (IPv6 has many spellings).
        pub fn host(&self, addr: &str) -> Option<&XmlHost> {
            let want: Option<IpAddr> = addr.parse().ok();
            self.hosts
                .iter()
                .find(|h| h.addr == addr || (want.is_some() && h.addr.parse().ok() == want))
        }

        /// Addresses of the hosts reported up, as written.
        pub fn up_addrs(&self) -> Vec<String> {
            let up = self.hosts.iter().filter(|h| h.is_up());
            up.map(|h| h.addr.clone()).collect()
        }
    }

    fn attr_u64(node: roxmltree::Node, name: &str) -> u64 {
        let v = node.attribute(name).and_then(|s| s.parse().ok());
        v.unwrap_or_else(|| panic!("<{}> lacks a numeric {name}", node.tag_name().name()))
    }

    fn child<'a>(node: roxmltree::Node<'a, 'a>, tag: &str) -> Option<roxmltree::Node<'a, 'a>> {
        node.children().find(|n| n.has_tag_name(tag))
    }

    fn trace_of(host: roxmltree::Node) -> Vec<Hop> {
        let Some(trace) = child(host, "trace") else {
            return Vec::new();
        };
        let hops = trace.children().filter(|n| n.has_tag_name("hop"));
        hops.map(|h| Hop {
            ttl: attr_u64(h, "ttl") as u32,
            ipaddr: h.attribute("ipaddr").unwrap_or_default().to_string(),
            host: h.attribute("host").map(str::to_string),
        })
        .collect()
    }

    fn names_of(host: roxmltree::Node) -> Vec<(String, String)> {
        let Some(list) = child(host, "hostnames") else {
            return Vec::new();
        };
        let names = list.children().filter(|n| n.has_tag_name("hostname"));
        names
            .map(|n| {
                let name = n.attribute("name").expect("hostname@name").to_string();
                (name, n.attribute("type").unwrap_or_default().to_string())
            })
            .collect()
    }

    fn host_of(host: roxmltree::Node, scanned: &[u16]) -> XmlHost {
        let status = child(host, "status").expect("host/status");
        let addrs: Vec<_> = host
            .children()
            .filter(|n| n.has_tag_name("address"))
            .collect();
        let ip = addrs
            .iter()
            .find(|a| matches!(a.attribute("addrtype"), Some("ipv4" | "ipv6")));
        let mac = addrs
            .iter()
            .find(|a| a.attribute("addrtype") == Some("mac"));
        let names = names_of(host);
        let ptr = names.iter().filter(|(_, t)| t == "PTR");
        XmlHost {
            addr: ip
                .and_then(|a| a.attribute("addr"))
                .expect("host/address@addr (ipv4 or ipv6)")
                .to_string(),
            state: status.attribute("state").expect("status@state").to_string(),
            reason: status.attribute("reason").unwrap_or_default().to_string(),
            reason_ttl: status.attribute("reason_ttl").and_then(|s| s.parse().ok()),
            mac: mac.and_then(|a| a.attribute("addr")).map(str::to_string),
            vendor: mac.and_then(|a| a.attribute("vendor")).map(str::to_string),
            ptr_names: ptr.map(|(n, _)| n.clone()).collect(),
            names: names.clone(),
            ports: xml_host_ports(host, scanned),
            trace: trace_of(host),
        }
    }

    /// Parses a whole Nmap-format XML document (such as `-oX -` output).
    pub fn parse_xml_run(text: &str) -> XmlRun {
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        let doc = roxmltree::Document::parse_with_options(text, opts)
            .unwrap_or_else(|e| panic!("not XML: {e}\n{text}"));
        let info = doc.descendants().find(|n| n.has_tag_name("scaninfo"));
        let services = info.and_then(|i| i.attribute("services"));
        let scanned = services.map(expand_ports).unwrap_or_default();
        let hosts = doc.descendants().filter(|n| n.has_tag_name("host"));
        let hosts = hosts.map(|h| host_of(h, &scanned)).collect();
        let counts = doc.descendants().find(|n| n.has_tag_name("hosts"));
        let counts = counts.unwrap_or_else(|| panic!("no <runstats><hosts> in\n{text}"));
        XmlRun {
            hosts,
            up: attr_u64(counts, "up"),
            down: attr_u64(counts, "down"),
            total: attr_u64(counts, "total"),
        }
    }

    pub fn read_xml_run(path: &str) -> XmlRun {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        parse_xml_run(&text)
    }
}
