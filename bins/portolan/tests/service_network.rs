//! Version detection against real daemons: tests/net/svc.py's namespaces (three
//! servers running OpenSSH, vsftpd, Postfix, Dovecot, nginx over plain HTTP,
//! TLS and TLS 1.0 only, dnsmasq, telnetd, Redis, memcached, PostgreSQL,
//! MariaDB, slapd, Mosquitto, ntpsec, net-snmp, Kamailio, RabbitMQ, xrdp,
//! TigerVNC, the Docker engine and RTSP::Server), with the installed package
//! versions as the truth and Nmap as the oracle.
//!
//! Each test builds its own lab and tears it down, also when it fails; a
//! mutex serialises them (namespace prefix `ps<pid>`). Needs root and `ip
//! netns` (CI has both); without them every test fails with a message saying
//! so, like the other network tests.

#[allow(dead_code)] // shared by the network test binaries, each using part of it
mod common;

use common::{LabKind, Netns, Run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;

/// Upper bound on any one scanner run: a hung binary fails the test, not CI.
const RUN_TIMEOUT_S: &str = "300";
static SVC: LabKind = LabKind::new(
    "tests/net/svc.py",
    "ps",
    "the service detection network tests need root and Linux network namespaces (ip netns, \
     veth, bridge, nftables, and the daemons scripts/setup-service-daemons.sh installs). CI \
     runs as root",
);

/// One service of the lab, as `svc.py describe` gives it.
#[derive(Debug, Clone)]
struct Truth {
    host: String,
    addr: String,
    port: u16,
    proto: String,
    name: String,
    tunnel: Option<String>,
    product: Option<String>,
    version: Option<String>,
    cert_subject: Option<String>,
    tls_versions: Vec<String>,
    /// The page title of an HTTP service.
    title: Option<String>,
    /// Why the truth departs from what Nmap 7.93 prints here, if it does.
    note: Option<String>,
}

fn opt(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_string)
}

fn truth(v: &Value) -> Truth {
    Truth {
        host: opt(v, "host").expect("host"),
        addr: opt(v, "addr").expect("addr"),
        port: v["port"].as_u64().expect("port") as u16,
        proto: opt(v, "proto").expect("proto"),
        name: opt(v, "name").expect("name"),
        tunnel: opt(v, "tunnel"),
        product: opt(v, "product"),
        version: opt(v, "version"),
        cert_subject: opt(&v["cert"], "subject").map(|s| nmap_dn(&s)),
        tls_versions: v["tls_versions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        title: opt(v, "title"),
        note: opt(v, "note"),
    }
}

/// OpenSSL's `CN=s1.svc.test,O=Portolan Lab` as Nmap's ssl-cert prints a
/// name: `commonName=s1.svc.test/organizationName=Portolan Lab`, common
/// name, organisation, state and country first.
fn nmap_dn(rfc2253: &str) -> String {
    const KEYS: [(&str, &str); 6] = [
        ("CN", "commonName"),
        ("O", "organizationName"),
        ("ST", "stateOrProvinceName"),
        ("C", "countryName"),
        ("OU", "organizationalUnitName"),
        ("L", "localityName"),
    ];
    let mut parts: Vec<(usize, String)> = rfc2253
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let k = k.trim();
            let rank = KEYS
                .iter()
                .position(|(short, _)| *short == k)
                .unwrap_or(KEYS.len());
            let long = KEYS.get(rank).map_or(k, |(_, long)| long);
            (rank, format!("{long}={}", v.trim()))
        })
        .collect();
    parts.sort_by_key(|(r, _)| *r);
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join("/")
}

/// A live service lab; dropping it tears it down.
struct Lab {
    ns: Netns,
    scanner_ns: String,
    services: Vec<Truth>,
}

impl Lab {
    fn up(test: &str) -> Lab {
        let (ns, v) = Netns::up(&SVC, test, &[]);
        let all = v["services"].as_array().expect("services");
        Lab {
            ns,
            scanner_ns: opt(&v, "scanner_ns").expect("scanner_ns"),
            services: all.iter().map(truth).collect(),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Run {
        self.ns
            .run_in(&self.scanner_ns, RUN_TIMEOUT_S, program, args)
    }

    fn out(&self, name: &str) -> String {
        self.ns.out(name)
    }

    /// `-p T:..,U:..` for every service of the lab, and the hosts' addresses.
    fn ports_and_hosts(&self) -> (String, Vec<String>) {
        let mut tcp: Vec<u16> = Vec::new();
        let mut udp: Vec<u16> = Vec::new();
        let mut hosts: Vec<String> = Vec::new();
        for s in &self.services {
            let list = if s.proto == "udp" { &mut udp } else { &mut tcp };
            if !list.contains(&s.port) {
                list.push(s.port);
            }
            if !hosts.contains(&s.addr) {
                hosts.push(s.addr.clone());
            }
        }
        let join = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
        (format!("T:{},U:{}", join(&tcp), join(&udp)), hosts)
    }
}

/// What a report says of one port's service.
#[derive(Debug, Clone, Default, PartialEq)]
struct Seen {
    state: String,
    name: String,
    product: Option<String>,
    version: Option<String>,
    tunnel: Option<String>,
    method: Option<String>,
    cert_subject: Option<String>,
    tls_protocol: Option<String>,
    http_title: Option<String>,
}

type Key = (String, String, u16);

/// Services from an XML report (ours or Nmap's), by (address, protocol, port).
fn xml_services(text: &str) -> BTreeMap<Key, Seen> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).expect("well-formed XML");
    let mut out = BTreeMap::new();
    for host in doc.descendants().filter(|n| n.has_tag_name("host")) {
        let Some(addr) = host
            .children()
            .find(|n| n.has_tag_name("address") && n.attribute("addrtype") != Some("mac"))
            .and_then(|n| n.attribute("addr"))
        else {
            continue;
        };
        for port in host.descendants().filter(|n| n.has_tag_name("port")) {
            let mut seen = Seen::default();
            let proto = port.attribute("protocol").unwrap_or("").to_string();
            let num: u16 = port
                .attribute("portid")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            for c in port.children() {
                if c.has_tag_name("state") {
                    seen.state = c.attribute("state").unwrap_or("").into();
                } else if c.has_tag_name("service") {
                    seen.name = c.attribute("name").unwrap_or("").into();
                    seen.product = c.attribute("product").map(str::to_string);
                    seen.version = c.attribute("version").map(str::to_string);
                    seen.tunnel = c.attribute("tunnel").map(str::to_string);
                    seen.method = c.attribute("method").map(str::to_string);
                } else if c.has_tag_name("script") && c.attribute("id") == Some("http-title") {
                    seen.http_title = c.attribute("output").map(str::to_string);
                } else if c.has_tag_name("script") && c.attribute("id") == Some("ssl-cert") {
                    for e in c.children().filter(|e| e.has_tag_name("elem")) {
                        let text = e.text().map(str::to_string);
                        match e.attribute("key") {
                            Some("subject") => seen.cert_subject = text,
                            Some("protocol") => seen.tls_protocol = text,
                            _ => {}
                        }
                    }
                }
            }
            out.insert((addr.to_string(), proto, num), seen);
        }
    }
    out
}

/// Services from our JSON Lines report.
fn json_services(text: &str) -> BTreeMap<Key, Seen> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        let Some(ports) = v["ports"].as_array() else {
            continue;
        };
        let addr = v["addr"].as_str().unwrap_or("").to_string();
        for p in ports {
            let s = &p["service"];
            let seen = Seen {
                state: p["state"].as_str().unwrap_or("").into(),
                name: s["name"].as_str().unwrap_or("").into(),
                product: opt(s, "product"),
                version: opt(s, "version"),
                tunnel: opt(s, "tunnel"),
                method: opt(s, "method"),
                cert_subject: opt(&s["tls"], "subject"),
                tls_protocol: opt(&s["tls"], "protocol"),
                http_title: opt(s, "http_title"),
            };
            let proto = p["protocol"].as_str().unwrap_or("").to_string();
            let num = p["port"].as_u64().unwrap_or(0) as u16;
            out.insert((addr.clone(), proto, num), seen);
        }
    }
    out
}

fn key(t: &Truth) -> Key {
    (t.addr.clone(), t.proto.clone(), t.port)
}

/// Where `got` departs from the lab's truth for `t`.
fn mismatches(t: &Truth, got: Option<&Seen>, what: &str) -> Vec<String> {
    let label = format!("{what} {} {}/{}", t.host, t.port, t.proto);
    let Some(got) = got else {
        return vec![format!("{label}: not in the report")];
    };
    let mut bad = Vec::new();
    let mut check = |field: &str, got: Option<&str>, want: Option<&str>| {
        if got != want {
            bad.push(format!("{label}: {field} {got:?}, want {want:?}"));
        }
    };
    check("name", Some(&got.name), Some(&t.name));
    check("tunnel", got.tunnel.as_deref(), t.tunnel.as_deref());
    check("product", got.product.as_deref(), t.product.as_deref());
    if t.version.is_some() {
        check("version", got.version.as_deref(), t.version.as_deref());
    }
    // The title: in every format but XML on TLS ports, where the certificate
    // takes the one script a port may carry there.
    if t.title.is_some() && (what != "XML" || t.tunnel.is_none()) {
        check("page title", got.http_title.as_deref(), t.title.as_deref());
    }
    if t.tunnel.is_some() {
        check(
            "certificate subject",
            got.cert_subject.as_deref(),
            t.cert_subject.as_deref(),
        );
        if let [only] = t.tls_versions.as_slice() {
            check("TLS protocol", got.tls_protocol.as_deref(), Some(only));
        }
    }
    bad
}

fn as_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn assert_none(what: &str, bad: &[String]) {
    assert!(
        bad.is_empty(),
        "{what}: {} mismatches\n  {}",
        bad.len(),
        bad.join("\n  ")
    );
}

#[test]
fn portolan_names_every_daemon_in_every_format() {
    let lab = Lab::up("all");
    let (ports, hosts) = lab.ports_and_hosts();
    let (xml, json, normal) = (lab.out("sv.xml"), lab.out("sv.jsonl"), lab.out("sv.nmap"));
    let mut args = vec!["-sS", "-sU", "-sV", "-v", "-Pn", "-n", "-T4", "-p", &ports];
    args.extend(["-oX", &xml, "-oJ", &json, "-oN", &normal]);
    args.extend(hosts.iter().map(String::as_str));
    let out = lab.run(common::PORTOLAN, &args).ok("portolan -sV");
    let from_xml = xml_services(&fs::read_to_string(&xml).expect("xml"));
    let from_json = json_services(&fs::read_to_string(&json).expect("jsonl"));
    let mut bad = Vec::new();
    for t in &lab.services {
        bad.extend(mismatches(t, from_xml.get(&key(t)), "XML"));
        bad.extend(mismatches(t, from_json.get(&key(t)), "JSON"));
    }
    // Normal output: each identified service's VERSION text on its port line.
    let text = fs::read_to_string(&normal).expect("normal");
    for t in &lab.services {
        let Some(product) = &t.product else { continue };
        let prefix = format!("{}/{} ", t.port, t.proto);
        let found = text
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(product.as_str()));
        if !found {
            bad.push(format!(
                "normal: no line for {} {} with {product}",
                t.host,
                prefix.trim()
            ));
        }
    }
    for t in lab.services.iter().filter(|t| t.title.is_some()) {
        let line = format!("|_http-title: {}", t.title.as_deref().unwrap_or_default());
        let n = text.lines().filter(|l| *l == line).count();
        if n == 0 {
            bad.push(format!("normal: no {line:?} for {} {}", t.host, t.port));
        }
    }
    assert!(text.contains("ssl/http"), "{text}");
    assert!(text.contains("Service detection performed."), "{text}");
    assert!(
        out.stdout.contains("Initiating Service scan"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Completed Service scan"),
        "{}",
        out.stdout
    );
    assert_none("portolan -sV against the lab", &bad);
}

#[test]
fn nmap_on_the_same_ports_names_the_same_products() {
    let lab = Lab::up("nmap");
    let (ports, hosts) = lab.ports_and_hosts();
    let (ours, theirs) = (lab.out("ours.xml"), lab.out("nmap.xml"));
    let fixed = ["-sS", "-sU", "-sV", "-Pn", "-n", "-T4", "-p", &ports];
    let with = |file: &str| {
        let mut a: Vec<&str> = fixed.to_vec();
        a.extend(["-oX", file]);
        a.extend(hosts.iter().map(String::as_str));
        a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let ours_args = with(&ours);
    let nmap_args = with(&theirs);
    lab.run(common::PORTOLAN, &as_refs(&ours_args))
        .ok("portolan -sV");
    lab.run("nmap", &as_refs(&nmap_args)).ok("nmap -sV");
    let ours = xml_services(&fs::read_to_string(&ours).expect("ours"));
    let nmap = xml_services(&fs::read_to_string(&theirs).expect("nmap"));
    let mut bad = Vec::new();
    let mut compared = 0;
    for t in &lab.services {
        let (Some(n), Some(o)) = (nmap.get(&key(t)), ours.get(&key(t))) else {
            bad.push(format!(
                "{} {}/{}: missing from a report",
                t.host, t.port, t.proto
            ));
            continue;
        };
        // Where the lab's truth is what Nmap prints (no note says otherwise),
        // Nmap's live answer and ours must agree on name, tunnel, product
        // and version.
        if t.note.is_some() {
            continue;
        }
        compared += 1;
        let label = format!("{} {}/{}", t.host, t.port, t.proto);
        if (&o.name, &o.tunnel) != (&n.name, &n.tunnel) {
            bad.push(format!(
                "{label}: {:?}/{:?}, nmap {:?}/{:?}",
                o.tunnel, o.name, n.tunnel, n.name
            ));
        }
        if o.product != n.product {
            bad.push(format!(
                "{label}: product {:?}, nmap {:?}",
                o.product, n.product
            ));
        }
        if o.version != n.version {
            bad.push(format!(
                "{label}: version {:?}, nmap {:?}",
                o.version, n.version
            ));
        }
    }
    assert!(
        compared >= 8,
        "only {compared} services where the truth is Nmap's"
    );
    assert_none("portolan against nmap -sV", &bad);
}

#[test]
fn a_user_database_replaces_or_adds_to_ours_and_a_bad_one_exits_2() {
    let lab = Lab::up("db");
    let ssh = lab
        .services
        .iter()
        .find(|s| s.name == "ssh")
        .expect("an ssh service")
        .clone();
    let db = lab.out("user-probes");
    fs::write(
        &db,
        "# written for this test\nProbe TCP NULL q||\ntotalwaitms 3000\n\
         match ssh m|^SSH-[\\d.]+-OpenSSH_([\\w.]+)| p/LabSSH/ v/$1/\n",
    )
    .expect("write db");
    let port = ssh.port.to_string();
    let xml = lab.out("db.xml");
    let base = [
        "-sS", "-sV", "-Pn", "-n", "-p", &port, "-oX", &xml, &ssh.addr,
    ];
    let mut replace = base.to_vec();
    replace.extend(["--versiondb", &db]);
    lab.run(common::PORTOLAN, &replace)
        .ok("portolan --versiondb");
    let seen = xml_services(&fs::read_to_string(&xml).expect("xml"));
    let got = seen.get(&key(&ssh)).expect("ssh port");
    assert_eq!(got.product.as_deref(), Some("LabSSH"), "{got:?}");
    assert_eq!(got.version.as_deref(), ssh.version.as_deref(), "{got:?}");
    let mut add = base.to_vec();
    add.extend(["--versiondb-add", &db]);
    lab.run(common::PORTOLAN, &add)
        .ok("portolan --versiondb-add");
    let seen = xml_services(&fs::read_to_string(&xml).expect("xml"));
    let got = seen.get(&key(&ssh)).expect("ssh port");
    // Ours comes first, so our product name wins.
    assert_eq!(got.product.as_deref(), ssh.product.as_deref(), "{got:?}");
    let bad_db = lab.out("bad-probes");
    fs::write(
        &bad_db,
        "Probe TCP NULL q||\nmatch ssh\nProbe TCP Broken q|unterminated\n",
    )
    .expect("write bad db");
    let mut broken = base.to_vec();
    broken.extend(["--versiondb", &bad_db]);
    let r = lab.run(common::PORTOLAN, &broken);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bad-probes"), "{}", r.stderr);
    assert!(r.stderr.contains("line"), "{}", r.stderr);
}
