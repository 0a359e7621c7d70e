//! A host behind a real nftables SYN proxy answers SYN-ACK on every port; every
//! output format must report it as such instead of as a thousand open ports, and
//! must not flag an ordinary host of the same run.
//!
//! The network is tests/net/lab.py's lab plus one namespace from
//! tests/net/synproxy_lab.py: P-syn (198.18.0.21, 2001:db8:0:1::21) on the lab's
//! bridge, whose nft rules hand every SYN to the kernel's `synproxy` statement
//! (ports 7 and 9 answer RST instead). Dropping the [`Lab`] tears it all down,
//! also when a test fails. Needs root and `ip netns` (CI has both); without them
//! every test fails with a message saying so, like the other network tests.
//!
//! IPv4 only: the kernel's nft `synproxy` drops IPv6 SYNs built by raw sockets
//! (Nmap's `-sS` too; seen on Linux 6.18), so an IPv6 SYN scan of P-syn sees
//! every port filtered.

#[allow(dead_code)] // shared by the network test binaries, each using part of it
mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{
    assert_none, expand_ports, mismatches, read_jsonl, read_xml, run, Expect, HostTruth, Lab,
};
use serde_json::Value;

const PORTS: &str = "1-1000";
/// Ports of P-syn that answer RST before the proxy sees them.
const CLOSED: [u16; 2] = [7, 9];
const NOTE: &str = "998 of 1000 scanned TCP ports";
const NOTE_TAIL: &str =
    "answered SYN-ACK: a SYN proxy or tarpit answers for this host; open ports cannot be told apart.";

fn synproxy_script() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("tests/net/synproxy_lab.py")
        .to_string_lossy()
        .into_owned()
}

fn expect(state: &str, reason: &str) -> Expect {
    Expect {
        state: state.to_string(),
        reason: reason.to_string(),
    }
}

/// Adds P-syn to `lab` and returns its truth: every port open (syn-ack) but 7 and 9.
fn add_synproxy_host(lab: &Lab) -> HostTruth {
    let out =
        run(Command::new("python3")
            .arg(synproxy_script())
            .args(["up", "--prefix", &lab.prefix]))
        .ok("synproxy_lab.py up");
    let v: Value = serde_json::from_str(&out.stdout).expect("synproxy_lab.py up printed JSON");
    let field = |k: &str| v[k].as_str().expect("synproxy host field").to_string();
    HostTruth {
        name: field("name"),
        v4: field("v4"),
        v6: Some(field("v6")),
        lossy: false,
        ports: CLOSED.map(|p| (p, expect("closed", "reset"))).into(),
        default: expect("open", "syn-ack"),
    }
}

/// SYNs the kernel's SYN proxy answered so far (its IPv4 counter, which is
/// what the test scans).
fn proxy_syns(lab: &Lab) -> u64 {
    let out = run(Command::new("python3").arg(synproxy_script()).args([
        "stats",
        "--prefix",
        &lab.prefix,
    ]))
    .ok("synproxy_lab.py stats");
    let v: Value = serde_json::from_str(&out.stdout).expect("stats JSON");
    v["syn_received"].as_u64().expect("syn_received")
}

/// The lab's truth is written for connect scans: a SYN scan sees resets.
fn syn_truth(h: &HostTruth) -> HostTruth {
    let mut t = h.clone();
    for e in t.ports.values_mut().chain(std::iter::once(&mut t.default)) {
        if e.reason == "conn-refused" {
            e.reason = "reset".to_string();
        }
    }
    t
}

fn xml_doc(text: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts).expect("our XML parses")
}

/// The `<host>` element whose address is `addr`.
fn xml_host<'a>(doc: &'a roxmltree::Document<'a>, addr: &str) -> roxmltree::Node<'a, 'a> {
    let has_addr = |h: &roxmltree::Node| {
        h.children()
            .any(|a| a.has_tag_name("address") && a.attribute("addr") == Some(addr))
    };
    let hosts = doc.descendants().filter(|n| n.has_tag_name("host"));
    hosts
        .into_iter()
        .find(has_addr)
        .unwrap_or_else(|| panic!("no <host> for {addr}"))
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, tag: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children().find(|n| n.has_tag_name(tag))
}

/// TCP ports listed one by one as open in a `<host>`.
fn listed_open_tcp(host: roxmltree::Node) -> Vec<u16> {
    let ports = child(host, "ports").into_iter().flat_map(|p| p.children());
    let open = ports.filter(|p| {
        p.has_tag_name("port")
            && p.attribute("protocol") == Some("tcp")
            && child(*p, "state").and_then(|s| s.attribute("state")) == Some("open")
    });
    open.filter_map(|p| p.attribute("portid")?.parse().ok())
        .collect()
}

/// Checks the flagged host's `<extraports>` and `<hostscript>` in detail.
fn check_flagged_xml(host: roxmltree::Node, bad: &mut Vec<String>) {
    let extras = child(host, "ports").into_iter().flat_map(|p| p.children());
    let open: Vec<_> = extras
        .filter(|e| e.has_tag_name("extraports") && e.attribute("state") == Some("open"))
        .collect();
    let reasons: Vec<_> = open
        .iter()
        .flat_map(|e| e.children().filter(|r| r.has_tag_name("extrareasons")))
        .map(|r| {
            let a = |k| r.attribute(k).unwrap_or("-");
            format!(
                "{}/{}/{}/{}",
                a("reason"),
                a("proto"),
                a("count"),
                a("ports")
            )
        })
        .collect();
    if open.len() != 1 || open[0].attribute("count") != Some("998") {
        bad.push(format!(
            "XML: want one extraports open count=998, got {open:?}"
        ));
    }
    if reasons != ["syn-ack/tcp/998/1-6,8,10-1000"] {
        bad.push(format!("XML: open extrareasons {reasons:?}"));
    }
    let script = child(host, "hostscript").and_then(|s| child(s, "script"));
    let Some(script) = script else {
        bad.push("XML: no hostscript/script".to_string());
        return;
    };
    let output = script.attribute("output").unwrap_or_default();
    if script.attribute("id") != Some("synproxy") || output != format!("{NOTE} {NOTE_TAIL}") {
        bad.push(format!("XML: script {script:?}"));
    }
    let elems: BTreeMap<&str, &str> = script
        .children()
        .filter(|e| e.has_tag_name("elem"))
        .filter_map(|e| Some((e.attribute("key")?, e.text()?)))
        .collect();
    if elems != BTreeMap::from([("answered", "998"), ("scanned", "1000")]) {
        bad.push(format!("XML: script elems {elems:?}"));
    }
}

/// Our XML, with the scanner renamed, must validate against Nmap's DTD.
fn nmap_dtd_valid(lab: &Lab, xml: &str) {
    let copy = lab.out("as-nmap.xml");
    fs::write(
        &copy,
        xml.replacen("scanner=\"portolan\"", "scanner=\"nmap\"", 1),
    )
    .expect("write");
    let check = run(Command::new("xmllint").args([
        "--noout",
        "--dtdvalid",
        "/usr/share/nmap/nmap.dtd",
        &copy,
    ]));
    assert_eq!(
        check.code, 0,
        "XML is not valid nmap.dtd:\n{}",
        check.stderr
    );
}

/// The part of a normal-output file that reports on `addr`.
fn report_section<'a>(normal: &'a str, addr: &str) -> &'a str {
    let head = format!("scan report for {addr}\n");
    let start = normal
        .find(&head)
        .unwrap_or_else(|| panic!("no report for {addr} in:\n{normal}"));
    let rest = &normal[start + head.len()..];
    &rest[..rest.find("scan report for ").unwrap_or(rest.len())]
}

/// Port-table rows of a report section as (port/proto, state).
fn rows(section: &str) -> Vec<(String, String)> {
    let is_port = |f: &str| f.ends_with("/tcp") || f.ends_with("/udp");
    let split = section
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>());
    let rows = split.filter(|f| f.len() >= 2 && is_port(f[0]));
    rows.map(|f| (f[0].to_string(), f[1].to_string())).collect()
}

fn check_normal(normal: &str, syn: &HostTruth, plain: &HostTruth, bad: &mut Vec<String>) {
    let flagged = report_section(normal, &syn.v4);
    let note = format!("{NOTE} on {} {NOTE_TAIL}\n", syn.v4);
    for want in [note.as_str(), "\nNot shown: 998 open tcp ports (syn-ack)\n"] {
        if !flagged.contains(want) {
            bad.push(format!(".nmap {}: no {want:?} in:\n{flagged}", syn.name));
        }
    }
    let want_rows: Vec<_> = CLOSED
        .iter()
        .map(|p| (format!("{p}/tcp"), "closed".to_string()))
        .collect();
    if rows(flagged) != want_rows {
        bad.push(format!(".nmap {}: rows {:?}", syn.name, rows(flagged)));
    }
    let normal_host = report_section(normal, &plain.v4);
    if normal_host.contains("SYN proxy") || normal_host.contains("open tcp ports") {
        bad.push(format!(".nmap {}: flagged:\n{normal_host}", plain.name));
    }
    let open: Vec<_> = rows(normal_host)
        .into_iter()
        .filter(|(_, s)| s == "open")
        .map(|(p, _)| p)
        .collect();
    if open != ["22/tcp", "80/tcp", "443/tcp"] {
        bad.push(format!(".nmap {}: open rows {open:?}", plain.name));
    }
}

fn check_grepable(gnmap: &str, syn: &HostTruth, plain: &HostTruth, bad: &mut Vec<String>) {
    let ports_line = |addr: &str| {
        let prefix = format!("Host: {addr} ");
        let mut lines = gnmap.lines().filter(|l| l.starts_with(&prefix));
        lines
            .find(|l| l.contains("\tPorts: "))
            .unwrap_or_default()
            .to_string()
    };
    let flagged = ports_line(&syn.v4);
    let entries = flagged.split("\tPorts: ").nth(1).unwrap_or_default();
    let listed: Vec<_> = entries
        .split(", ")
        .map(|e| e.split('/').take(3).collect::<Vec<_>>())
        .collect();
    let want_listed = [["7", "closed", "tcp"], ["9", "closed", "tcp"]];
    if listed != want_listed || !flagged.ends_with("\tIgnored State: open (998)") {
        bad.push(format!(".gnmap {}: {flagged:?}", syn.name));
    }
    let normal_host = ports_line(&plain.v4);
    if normal_host.contains("Ignored State: open") || !normal_host.contains("22/open/tcp//") {
        bad.push(format!(".gnmap {}: {normal_host:?}", plain.name));
    }
}

fn check_jsonl(path: &str, syn: &HostTruth, plain: &HostTruth, bad: &mut Vec<String>) {
    let scan = read_jsonl(path);
    for (h, flagged) in [(syn, true), (plain, false)] {
        let line = scan.host_lines.iter().find(|l| l["addr"] == h.v4.as_str());
        let Some(line) = line else {
            bad.push(format!(".jsonl: no line for {}", h.name));
            continue;
        };
        if line["answers_every_port"] != flagged {
            bad.push(format!(
                ".jsonl {}: answers_every_port {}",
                h.name, line["answers_every_port"]
            ));
        }
        if line["ports"].as_array().map(Vec::len) != Some(1000) {
            bad.push(format!(".jsonl {}: not every port listed", h.name));
        }
    }
}

#[test]
fn syn_scan_reports_a_synproxy_host_as_answering_every_port_in_every_format() {
    let lab = Lab::up("synproxy");
    let syn = add_synproxy_host(&lab);
    let plain = lab.host("h1").clone();
    let (base, jsonl) = (lab.out("syn"), lab.out("syn.jsonl"));
    let before = proxy_syns(&lab);
    let cmd = [
        "-sS", "-Pn", "-n", "-T4", "-p", PORTS, "-oA", &base, "-oJ", &jsonl,
    ];
    lab.portolan(&[&cmd[..], &[&syn.v4, &plain.v4]].concat())
        .ok("portolan -sS");
    let answered = proxy_syns(&lab) - before;
    assert!(
        answered >= 998,
        "the kernel's SYN proxy answered only {answered} SYNs: the lab is broken, not portolan"
    );

    let xml_path = format!("{base}.xml");
    let mut bad = Vec::new();
    let scanned = expand_ports(PORTS);
    let xml = read_xml(&xml_path);
    bad.extend(mismatches(&syn, &scanned, &xml.hosts[&syn.v4]));
    bad.extend(mismatches(
        &syn_truth(&plain),
        &scanned,
        &xml.hosts[&plain.v4],
    ));
    let text = fs::read_to_string(&xml_path).expect("read XML");
    let doc = xml_doc(&text);
    let (flagged, normal_host) = (xml_host(&doc, &syn.v4), xml_host(&doc, &plain.v4));
    check_flagged_xml(flagged, &mut bad);
    if !listed_open_tcp(flagged).is_empty() {
        bad.push(format!(
            "XML {}: open TCP ports listed one by one",
            syn.name
        ));
    }
    if child(normal_host, "hostscript").is_some() || listed_open_tcp(normal_host) != [22, 80, 443] {
        bad.push(format!(
            "XML {}: {:?}",
            plain.name,
            &text[normal_host.range()]
        ));
    }
    let normal = fs::read_to_string(format!("{base}.nmap")).expect("read .nmap");
    check_normal(&normal, &syn, &plain, &mut bad);
    let gnmap = fs::read_to_string(format!("{base}.gnmap")).expect("read .gnmap");
    check_grepable(&gnmap, &syn, &plain, &mut bad);
    check_jsonl(&jsonl, &syn, &plain, &mut bad);
    assert_none("SYN scan of a SYN proxy host and h1", &bad);
    nmap_dtd_valid(&lab, &text);
}
