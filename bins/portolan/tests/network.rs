//! The real binary against a real network: namespaces, veth, a bridge, a router,
//! nftables drops, rejects and packet loss (see tests/net/lab.py), with Nmap as an
//! oracle on the same network. Needs root and `ip netns` (CI has both); without them
//! every test fails with a message saying so.

#[allow(dead_code)] // shared by the network test binaries, each using part of it
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::IpAddr;

use common::{
    assert_none, expand_ports, mismatches, read_jsonl, read_xml, state_mismatches, Hosts, Lab, Seen,
};

/// 1-1024 plus every port some lab host treats specially (open, dropped, rejected).
fn list_spec(lab: &Lab) -> String {
    let special = lab.hosts.iter().flat_map(|h| h.ports.keys().copied());
    let high: BTreeSet<u16> = special.filter(|&p| p > 1024).collect();
    let high: Vec<String> = high.iter().map(u16::to_string).collect();
    format!("1-1024,{}", high.join(","))
}

/// The results for `addr`, matching addresses by value (IPv6 has many spellings).
fn host_in<'a>(hosts: &'a Hosts, addr: &str) -> &'a BTreeMap<u16, Seen> {
    let want: IpAddr = addr.parse().expect("lab address");
    let found = hosts
        .iter()
        .find(|(k, _)| k.parse::<IpAddr>().ok() == Some(want));
    let known: Vec<&String> = hosts.keys().collect();
    found
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no result for host {addr}; hosts reported: {known:?}"))
}

fn args<'a>(fixed: &[&'a str], more: &'a [String]) -> Vec<&'a str> {
    let mut all = fixed.to_vec();
    all.extend(more.iter().map(String::as_str));
    all
}

/// The lab itself, checked with Nmap alone: if this fails, the network is broken, not
/// portolan. The lossy host is left out (Nmap may give up on a lossy port).
#[test]
fn lab_matches_its_truth_according_to_nmap() {
    let lab = Lab::up("labcheck");
    let spec = list_spec(&lab);
    let out = lab.out("nmap.xml");
    let steady: Vec<_> = lab.hosts.iter().filter(|h| !h.lossy).collect();
    let targets: Vec<String> = steady.iter().map(|h| h.v4.clone()).collect();
    let fixed = ["-sT", "-Pn", "-n", "-T4", "-p", &spec, "-oX", &out];
    lab.nmap(&args(&fixed, &targets)).ok("nmap");
    let scan = read_xml(&out);
    assert_eq!(
        scan.scanned,
        expand_ports(&spec),
        "nmap's scaninfo@services"
    );
    let mut bad = Vec::new();
    for h in steady {
        bad.extend(mismatches(h, &scan.scanned, host_in(&scan.hosts, &h.v4)));
    }
    assert_none("nmap on the lab", &bad);
}

#[test]
fn connect_scan_of_port_list_matches_truth_on_every_host_including_lossy() {
    let lab = Lab::up("list");
    let spec = list_spec(&lab);
    let out = lab.out("list.jsonl");
    let targets: Vec<String> = lab.hosts.iter().map(|h| h.v4.clone()).collect();
    let fixed = ["-sT", "-Pn", "-n", "-T4", "-p", &spec, "-oJ", &out];
    lab.portolan(&args(&fixed, &targets)).ok("portolan -sT");
    let scan = read_jsonl(&out);
    let scanned = expand_ports(&spec);
    let mut bad = Vec::new();
    for h in &lab.hosts {
        bad.extend(mismatches(h, &scanned, host_in(&scan.hosts, &h.v4)));
    }
    assert_none("port list on h1..h4", &bad);
    for line in &scan.host_lines {
        assert_eq!(line["status"], "up", "-Pn host must be up: {line}");
    }
    assert_eq!(scan.summary["hosts_up"], 4, "summary: {}", scan.summary);
    assert_eq!(scan.summary["hosts_total"], 4, "summary: {}", scan.summary);
    assert!(scan.summary["error"].is_null(), "summary: {}", scan.summary);
}

#[test]
fn all_65535_ports_of_the_filtering_host() {
    let lab = Lab::up("all");
    let h2 = lab.host("h2");
    let out = lab.out("all.jsonl");
    let cmd = ["-sT", "-Pn", "-n", "-T4", "-p-", "-oJ", &out, &h2.v4];
    lab.portolan(&cmd).ok("portolan -p-");
    let scan = read_jsonl(&out);
    let scanned: Vec<u16> = (1..=65535).collect();
    assert_none(
        "-p- on h2",
        &mismatches(h2, &scanned, host_in(&scan.hosts, &h2.v4)),
    );
}

/// Ports any "top 1000" list has, and that some lab host treats specially. (Portolan's
/// frequency table is its own, not Nmap's, so the lists differ elsewhere.)
const WELL_KNOWN: [u16; 13] = [
    21, 22, 23, 25, 80, 110, 135, 443, 3306, 3389, 5432, 8080, 8443,
];

#[test]
fn default_ports_are_1000_and_match_truth() {
    let lab = Lab::up("default");
    let out = lab.out("default.jsonl");
    let targets: Vec<String> = lab.hosts.iter().map(|h| h.v4.clone()).collect();
    let fixed = ["-sT", "-Pn", "-n", "-T4", "-oJ", &out];
    lab.portolan(&args(&fixed, &targets))
        .ok("portolan (default ports)");
    let scan = read_jsonl(&out);
    let mut bad = Vec::new();
    let mut lists = BTreeSet::new();
    for h in &lab.hosts {
        let got = host_in(&scan.hosts, &h.v4);
        let scanned: Vec<u16> = got.keys().copied().collect();
        assert_eq!(
            scanned.len(),
            1000,
            "{}: default scan must cover 1000 ports",
            h.name
        );
        let missing: Vec<_> = WELL_KNOWN.iter().filter(|p| !got.contains_key(p)).collect();
        assert!(missing.is_empty(), "default ports lack {missing:?}");
        let open: Vec<_> = h
            .open_ports()
            .into_iter()
            .filter(|p| got.contains_key(p))
            .collect();
        let found = open.iter().filter(|p| got[p].state == "open").count();
        assert_eq!(
            found,
            open.len(),
            "{}: open ports {open:?} in the default list",
            h.name
        );
        bad.extend(mismatches(h, &scanned, got));
        lists.insert(scanned);
    }
    assert_eq!(
        lists.len(),
        1,
        "every host must get the same default port list"
    );
    assert_none("default ports on h1..h4", &bad);
}

#[test]
fn ipv6_connect_scan_on_link_and_through_router() {
    let lab = Lab::up("v6");
    let spec = list_spec(&lab);
    let out = lab.out("v6.jsonl");
    let v6_hosts: Vec<_> = lab.hosts.iter().filter(|h| h.v6.is_some()).collect();
    let names: Vec<&str> = v6_hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["h1", "h4"], "the lab's IPv6 hosts");
    let targets: Vec<String> = v6_hosts.iter().filter_map(|h| h.v6.clone()).collect();
    let fixed = ["-6", "-sT", "-Pn", "-n", "-T4", "-p", &spec, "-oJ", &out];
    lab.portolan(&args(&fixed, &targets)).ok("portolan -6");
    let scan = read_jsonl(&out);
    let scanned = expand_ports(&spec);
    let mut bad = Vec::new();
    for (h, addr) in v6_hosts.iter().zip(&targets) {
        bad.extend(mismatches(h, &scanned, host_in(&scan.hosts, addr)));
    }
    assert_none("IPv6 on h1, h4", &bad);
}

fn nmap_dtd_valid(lab: &Lab, xml: &str) {
    let text = fs::read_to_string(xml).expect("read our XML");
    assert!(
        text.contains("scanner=\"portolan\""),
        "XML must say scanner=\"portolan\""
    );
    let copy = lab.out("as-nmap.xml");
    fs::write(
        &copy,
        text.replace("scanner=\"portolan\"", "scanner=\"nmap\""),
    )
    .expect("write");
    let check = common::run(std::process::Command::new("xmllint").args([
        "--noout",
        "--dtdvalid",
        "/usr/share/nmap/nmap.dtd",
        &copy,
    ]));
    assert_eq!(
        check.code, 0,
        "our XML is not valid nmap.dtd:\n{}",
        check.stderr
    );
}

fn ndiff(a: &str, b: &str) -> common::Run {
    common::run(std::process::Command::new("ndiff").args([a, b]))
}

#[test]
fn xml_agrees_with_nmap_validates_and_ndiffs() {
    let lab = Lab::up("oracle");
    let spec = list_spec(&lab);
    let picked: Vec<_> = ["h1", "h2", "h4"].iter().map(|n| lab.host(n)).collect();
    let targets: Vec<String> = picked.iter().map(|h| h.v4.clone()).collect();
    let (ours, nmaps) = (lab.out("ours.xml"), lab.out("nmap.xml"));
    let fixed = ["-sT", "-Pn", "-n", "-T4", "-p", &spec, "-oX", &ours];
    lab.portolan(&args(&fixed, &targets)).ok("portolan -oX");
    let fixed = ["-sT", "-Pn", "-n", "-T4", "-p", &spec, "-oX", &nmaps];
    lab.nmap(&args(&fixed, &targets)).ok("nmap -oX");
    let (a, b) = (read_xml(&ours), read_xml(&nmaps));
    assert_eq!(a.scanned, expand_ports(&spec), "our scaninfo@services");
    let mut bad = Vec::new();
    for h in &picked {
        let (mine, theirs) = (host_in(&a.hosts, &h.v4), host_in(&b.hosts, &h.v4));
        let diff = state_mismatches(mine, theirs);
        bad.extend(
            diff.into_iter()
                .map(|d| format!("{}: portolan vs nmap {d}", h.name)),
        );
        bad.extend(mismatches(h, &a.scanned, mine));
    }
    assert_none("portolan XML vs nmap XML and truth", &bad);
    nmap_dtd_valid(&lab, &ours);
    let vs_nmap = ndiff(&ours, &nmaps);
    assert!(
        [0, 1].contains(&vs_nmap.code),
        "ndiff ours nmap's: {vs_nmap:?}"
    );
    let same = ndiff(&ours, &ours);
    assert_eq!(same.code, 0, "ndiff of our XML with itself: {same:?}");
    ndiff_sees_one_more_open_port(&lab);
}

/// Two of our scans of h1, the second with 443 added: ndiff must report 443 (exit 1).
fn ndiff_sees_one_more_open_port(lab: &Lab) {
    let h1 = &lab.host("h1").v4;
    let (small, big) = (lab.out("small.xml"), lab.out("big.xml"));
    let base = ["-sT", "-Pn", "-n", "-T4"];
    let run = |ports: &str, out: &str| {
        let mut cmd = base.to_vec();
        cmd.extend(["-p", ports, "-oX", out, h1]);
        lab.portolan(&cmd).ok("portolan -oX");
    };
    run("22,80", &small);
    run("22,80,443", &big);
    let diff = ndiff(&small, &big);
    assert_eq!(diff.code, 1, "ndiff must see a difference: {diff:?}");
    let line = diff.stdout.lines().find(|l| l.contains("443/tcp"));
    let line = line.unwrap_or_else(|| panic!("ndiff does not name 443/tcp:\n{}", diff.stdout));
    assert!(
        line.starts_with('+') && line.contains("open"),
        "ndiff line: {line}"
    );
}

/// Runs a bad command and returns it with the number of packets the scanner's interface
/// sent meanwhile. The kernel may send a stray ARP/ND probe at any time, so this tries up
/// to three times and keeps the smallest count: a binary that sends on bad input sends
/// every time.
fn counted(lab: &Lab, cmd: &[&str]) -> (common::Run, u64) {
    let mut best = None;
    for _ in 0..3 {
        lab.wait_tx_quiet();
        let before = lab.tx_packets();
        let run = lab.portolan(cmd);
        let sent = lab.tx_packets() - before;
        if sent == 0 {
            return (run, 0);
        }
        best = Some((run, sent));
    }
    best.expect("three attempts")
}

#[test]
fn bad_input_exits_2_names_the_token_and_sends_nothing() {
    let lab = Lab::up("badinput");
    let h1 = lab.host("h1").v4.clone();
    let (run, sent) = counted(&lab, &["-sT", "-Pn", "-n", "-p", "70000", &h1]);
    assert_eq!(run.code, 2, "port 70000: {run:?}");
    assert!(
        run.stderr.contains("70000"),
        "stderr must name 70000: {run:?}"
    );
    assert_eq!(sent, 0, "port 70000: packets sent");
    // -sZ is Nmap's SCTP COOKIE ECHO scan, which portolan does not have; -sQ is nobody's.
    for flag in ["-sZ", "-sQ"] {
        let (run, sent) = counted(&lab, &[flag, "-Pn", "-n", "-p", "22", &h1]);
        assert_eq!(run.code, 2, "{flag}: {run:?}");
        assert!(
            run.stderr.contains(flag),
            "stderr must name {flag}: {run:?}"
        );
        assert_eq!(sent, 0, "{flag}: packets sent");
    }
    let bad_out = [
        "-sT",
        "-Pn",
        "-n",
        "-p",
        "22",
        "-oX",
        "/nonexistent-dir/x.xml",
        &h1,
    ];
    let (run, sent) = counted(&lab, &bad_out);
    assert_ne!(run.code, 0, "-oX into a missing directory: {run:?}");
    assert!(
        run.stderr.contains("/nonexistent-dir"),
        "stderr must name the path: {run:?}"
    );
    assert_eq!(sent, 0, "-oX /nonexistent-dir: packets sent");
}

#[test]
fn unresolvable_name_warns_and_the_good_target_is_still_scanned() {
    let lab = Lab::up("badname");
    let h1 = lab.host("h1");
    let out = lab.out("badname.jsonl");
    let cmd = ["-sT", "-Pn", "-n", "-p", "22,80,81", "-oJ", &out];
    let run = lab.portolan(&[&cmd[..], &["no-such-host.invalid", &h1.v4]].concat());
    let run = run.ok("portolan with one unresolvable name");
    assert!(
        run.stderr.contains("no-such-host.invalid"),
        "no warning: {run:?}"
    );
    let scan = read_jsonl(&out);
    assert_eq!(
        scan.hosts.len(),
        1,
        "only the good target is a host: {:?}",
        scan.hosts
    );
    let scanned = [22, 80, 81];
    assert_none(
        "good target",
        &mismatches(h1, &scanned, host_in(&scan.hosts, &h1.v4)),
    );
}

/// `Ports:` entries of a grepable file, per host: port -> state.
fn read_gnmap(path: &str) -> BTreeMap<String, BTreeMap<u16, String>> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut hosts = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("Host: ")) {
        let addr = line[6..]
            .split_whitespace()
            .next()
            .expect("address")
            .to_string();
        let Some((_, ports)) = line.split_once("Ports: ") else {
            continue;
        };
        let ports = ports.split('\t').next().unwrap_or_default();
        let entry: &mut BTreeMap<u16, String> = hosts.entry(addr).or_default();
        for item in ports.split(", ") {
            let mut f = item.split('/');
            let port = f.next().and_then(|p| p.trim().parse().ok());
            let port = port.unwrap_or_else(|| panic!("{path}: bad entry {item:?}"));
            entry.insert(port, f.next().unwrap_or_default().to_string());
        }
    }
    hosts
}

/// The part of a normal-output file that reports on `addr`.
fn report_section<'a>(normal: &'a str, addr: &str) -> &'a str {
    let head = format!("scan report for {addr}\n");
    let Some(start) = normal.find(&head) else {
        return "";
    };
    let rest = &normal[start + head.len()..];
    &rest[..rest.find("scan report for ").unwrap_or(rest.len())]
}

#[test]
fn output_all_writes_three_formats_that_agree_with_truth() {
    let lab = Lab::up("oa");
    let picked = [lab.host("h1"), lab.host("h2")];
    let spec = "21-25,80,110,135,443,3306,3389,5432,8081";
    let base = lab.out("all");
    let cmd = ["-sT", "-Pn", "-n", "-T4", "-p", spec, "-oA", &base];
    lab.portolan(&[&cmd[..], &[&picked[0].v4, &picked[1].v4]].concat())
        .ok("portolan -oA");
    let scanned = expand_ports(spec);
    let xml = read_xml(&format!("{base}.xml"));
    let gnmap = read_gnmap(&format!("{base}.gnmap"));
    let normal = fs::read_to_string(format!("{base}.nmap")).expect("read .nmap");
    let mut bad = Vec::new();
    for h in picked {
        bad.extend(mismatches(h, &scanned, host_in(&xml.hosts, &h.v4)));
        let listed = gnmap.get(&h.v4).cloned().unwrap_or_default();
        for (port, state) in &listed {
            if h.expect(*port).state != *state {
                bad.push(format!("{} .gnmap: {port} {state}", h.name));
            }
        }
        for port in h.open_ports().into_iter().filter(|p| scanned.contains(p)) {
            if !listed.contains_key(&port) {
                bad.push(format!("{} .gnmap: open {port} not listed", h.name));
            }
            let row = format!("{port}/tcp");
            let shown = report_section(&normal, &h.v4).lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() >= 2 && f[0] == row && f[1] == "open"
            });
            if !shown {
                bad.push(format!("{} .nmap: no line \"{row} open\"", h.name));
            }
        }
    }
    assert_none("-oA outputs", &bad);
}

#[test]
fn target_file_and_exclude_pick_the_hosts() {
    let lab = Lab::up("targets");
    let (h1, h2, h4) = (lab.host("h1"), lab.host("h2"), lab.host("h4"));
    let list = lab.out("targets.txt");
    fs::write(&list, format!("{}\n{}\n{}\n", h1.v4, h2.v4, h4.v4)).expect("write -iL file");
    let out = lab.out("targets.jsonl");
    let cmd = [
        "-sT",
        "-Pn",
        "-n",
        "-p",
        "22,23",
        "-iL",
        &list,
        "--exclude",
        &h2.v4,
    ];
    lab.portolan(&[&cmd[..], &["-oJ", &out]].concat())
        .ok("portolan -iL --exclude");
    let scan = read_jsonl(&out);
    let got: BTreeSet<&str> = scan.hosts.keys().map(String::as_str).collect();
    assert_eq!(
        got,
        BTreeSet::from([h1.v4.as_str(), h4.v4.as_str()]),
        "hosts scanned"
    );
    let mut bad = mismatches(h1, &[22, 23], host_in(&scan.hosts, &h1.v4));
    bad.extend(mismatches(h4, &[22, 23], host_in(&scan.hosts, &h4.v4)));
    assert_none("-iL hosts", &bad);
}

/// Ctrl-C in the middle of a scan: every output file is still complete and valid,
/// and says the run was interrupted.
#[test]
#[allow(clippy::disallowed_methods)] // waits on a real process with a real deadline
fn interrupted_scan_leaves_valid_files() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let lab = Lab::up("interrupt");
    let (xml, json, normal) = (
        lab.out("int.xml"),
        lab.out("int.jsonl"),
        lab.out("int.nmap"),
    );
    let h1 = lab.host("h1").v4.clone();
    let h2 = lab.host("h2").v4.clone();
    // 8000 probes at 500 per second: about 16 s, interrupted after 1.5 s.
    let args = [
        "-Pn",
        "-n",
        "-p",
        "1-4000",
        "--max-rate",
        "500",
        "-oX",
        &xml,
        "-oJ",
        &json,
        "-oN",
        &normal,
    ];
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.scanner_ns, common::PORTOLAN])
        .args(args)
        .args([h1.as_str(), h2.as_str()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start portolan");
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    common::run(Command::new("kill").args(["-INT", &pid])).ok("kill -INT");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("portolan did not stop within 20 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130), "interrupted scans exit 130");
    nmap_dtd_valid(&lab, &xml);
    let text = fs::read_to_string(&xml).expect("read XML");
    assert!(
        text.contains("exit=\"error\""),
        "runstats says the run stopped early"
    );
    assert!(text.trim_end().ends_with("</nmaprun>"), "XML is closed");
    let scan = read_jsonl(&json);
    assert!(
        scan.summary["error"].is_string(),
        "JSON summary carries the interruption: {}",
        scan.summary
    );
    let normal_text = fs::read_to_string(&normal).expect("read normal output");
    assert!(
        normal_text.contains("# Portolan done at"),
        "normal output is finished"
    );
}
