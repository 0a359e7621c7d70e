//! Portolan's own probe database (`data/portolan-service-probes`) against real answers.
//!
//! Every file under `tests/data/captures/` holds the bytes a real server sent back to one
//! of our probes, captured in a private network namespace (each file's header names the
//! software, its Debian package and its configuration), and what version detection must
//! conclude from them. For each one the test runs a [`Plan`] for the capture's port as
//! the driver would: the probes before the captured one get no answer, the captured
//! probe gets the captured bytes, and the outcome must name the expected service,
//! product, version, extra information, host name and OS type, no more and no less.
//!
//! Software without a Debian package on the test machine (MongoDB, Elasticsearch,
//! Docker, Kubernetes, Windows RDP and SMB, RabbitMQ, RTSP and VNC servers, Oracle
//! MySQL, Sendmail) is checked against answers built in this file from the protocol
//! specifications and the products' own documentation, not captured: each builder says
//! which document it follows.
#![allow(clippy::unwrap_used)]

use portolan_model::Protocol;
use portolan_services::{End, Outcome, Plan, PlanConfig, ProbeDb, ProbeId, ServiceMatch};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn db() -> ProbeDb {
    let (db, warnings) = ProbeDb::builtin().unwrap();
    assert!(
        warnings.is_empty(),
        "builtin database warnings: {warnings:#?}"
    );
    db
}

/// What version detection must conclude; `None` fields must stay empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Expected {
    service: String,
    soft: bool,
    product: Option<String>,
    version: Option<String>,
    info: Option<String>,
    hostname: Option<String>,
    ostype: Option<String>,
}

impl Expected {
    fn hard(service: &str, product: &str) -> Expected {
        Expected {
            service: service.to_owned(),
            product: Some(product.to_owned()),
            ..Expected::default()
        }
    }

    fn version(mut self, version: &str) -> Expected {
        self.version = Some(version.to_owned());
        self
    }

    fn info(mut self, info: &str) -> Expected {
        self.info = Some(info.to_owned());
        self
    }

    fn ostype(mut self, ostype: &str) -> Expected {
        self.ostype = Some(ostype.to_owned());
        self
    }

    fn hostname(mut self, hostname: &str) -> Expected {
        self.hostname = Some(hostname.to_owned());
        self
    }

    fn of(m: &ServiceMatch) -> Expected {
        Expected {
            service: m.service.clone(),
            soft: m.soft,
            product: m.product.clone(),
            version: m.version.clone(),
            info: m.info.clone(),
            hostname: m.hostname.clone(),
            ostype: m.ostype.clone(),
        }
    }
}

/// One answer to one probe, and its verdict.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    proto: Protocol,
    probe: String,
    port: u16,
    tunnel: bool,
    answer: Vec<u8>,
    expected: Expected,
}

impl Case {
    fn new(name: &str, proto: Protocol, probe: &str, port: u16, answer: Vec<u8>) -> Case {
        Case {
            name: name.to_owned(),
            proto,
            probe: probe.to_owned(),
            port,
            tunnel: false,
            answer,
            expected: Expected::default(),
        }
    }

    fn tcp(name: &str, probe: &str, port: u16, answer: &[u8], expected: Expected) -> Case {
        let mut case = Case::new(name, Protocol::Tcp, probe, port, answer.to_vec());
        case.expected = expected;
        case
    }

    fn in_tls(mut self) -> Case {
        self.tunnel = true;
        self
    }
}

// ---------------------------------------------------------------------------------------
// Capture files
// ---------------------------------------------------------------------------------------

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures")
}

fn load_captures() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse_capture(p)).collect()
}

/// A capture file: `#` comments, `key: value` lines, `---`, then the answer's bytes
/// escaped (`\\`, `\r`, `\n`, `\t`, `\xHH`; line breaks in the file are not data).
fn parse_capture(path: &Path) -> Case {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let (head, body) = text
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("{name}: no --- line"));
    let mut case = Case::new(&name, Protocol::Tcp, "", 0, unescape(&name, body));
    for line in head.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{name}: bad header line {line:?}"));
        header(&mut case, key, value);
    }
    assert!(
        !case.probe.is_empty() && case.port != 0,
        "{name}: no probe or port"
    );
    assert!(!case.expected.service.is_empty(), "{name}: no service");
    case
}

fn header(case: &mut Case, key: &str, value: &str) {
    let owned = Some(value.to_owned());
    let e = &mut case.expected;
    match key {
        "probe" => {
            let (proto, probe) = value.split_once(' ').unwrap();
            case.proto = if proto == "UDP" {
                Protocol::Udp
            } else {
                Protocol::Tcp
            };
            case.probe = probe.to_owned();
        }
        "port" => case.port = value.parse().unwrap(),
        "tunnel" => case.tunnel = value == "ssl",
        "expect" => e.soft = value == "softmatch",
        "service" => e.service = value.to_owned(),
        "product" => e.product = owned,
        "version" => e.version = owned,
        "info" => e.info = owned,
        "hostname" => e.hostname = owned,
        "ostype" => e.ostype = owned,
        _ => panic!("{}: unknown header {key:?}", case.name),
    }
}

fn unescape(name: &str, body: &str) -> Vec<u8> {
    let text: String = body.split('\n').collect();
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let (byte, len) = match bytes.get(i + 1) {
            Some(b'\\') => (b'\\', 2),
            Some(b'r') => (b'\r', 2),
            Some(b'n') => (b'\n', 2),
            Some(b't') => (b'\t', 2),
            Some(b'x') => {
                let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap();
                (u8::from_str_radix(hex, 16).unwrap(), 4)
            }
            other => panic!("{name}: bad escape {other:?} at {i}"),
        };
        out.push(byte);
        i += len;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------

fn config(tunnel: bool) -> PlanConfig {
    PlanConfig {
        intensity: 7,
        tunnel,
    }
}

/// Walks the plan of the case's port up to the case's probe, every earlier probe getting
/// silence (which must decide nothing). Returns the plan and the probe's id.
fn reach<'a>(db: &'a ProbeDb, case: &Case) -> (Plan<'a>, ProbeId) {
    let mut plan = Plan::new(db, case.proto, case.port, config(case.tunnel));
    for _ in 0..db.len() {
        let step = plan
            .next_probe()
            .unwrap_or_else(|| panic!("{}: probe {} never sent", case.name, case.probe));
        if step.name == case.probe {
            return (plan, step.id);
        }
        let silence = plan.on_end(step.id, b"", End::Timeout, step.wait);
        assert_eq!(
            silence, None,
            "{}: silence decided {}",
            case.name, step.name
        );
    }
    panic!("{}: plan longer than the database", case.name);
}

/// Runs a case through a plan; returns what the plan concluded, as an [`Expected`].
fn run(db: &ProbeDb, case: &Case) -> Expected {
    let (mut plan, id) = reach(db, case);
    let data = &case.answer;
    match plan.on_data(id, data) {
        Some(Outcome::Matched(m)) => return Expected::of(&m),
        Some(Outcome::Tls) => return tls_verdict(db, case, id),
        Some(other) => panic!("{}: unexpected outcome {other:?}", case.name),
        None => {}
    }
    let end = plan.on_end(id, data, End::Timeout, plan_wait(db, id));
    assert_eq!(end, None, "{}: decided only at the end", case.name);
    match plan.finish() {
        Outcome::Unknown { soft: Some(m) } => Expected::of(&m),
        other => panic!("{}: no match at all: {other:?}", case.name),
    }
}

fn plan_wait(db: &ProbeDb, id: ProbeId) -> std::time::Duration {
    db.probe(id).total_wait
}

/// A TLS outcome comes from an `ssl` line: the line itself says what it saw.
fn tls_verdict(db: &ProbeDb, case: &Case, id: ProbeId) -> Expected {
    assert!(!case.tunnel, "{}: TLS inside TLS", case.name);
    let m = db.match_response(id, &case.answer, None).unwrap();
    assert_eq!(m.service, "ssl", "{}", case.name);
    Expected::of(&m)
}

fn check(db: &ProbeDb, case: &Case) {
    let got = run(db, case);
    assert_eq!(
        got, case.expected,
        "{} ({} on {})",
        case.name, case.probe, case.port
    );
}

/// Like [`check`], but returns the difference instead of failing, so that one run names
/// every capture that went wrong.
fn mismatch(db: &ProbeDb, case: &Case) -> Option<String> {
    let got = std::panic::catch_unwind(|| run(db, case));
    match got {
        Ok(got) if got == case.expected => None,
        Ok(got) => Some(format!(
            "{}: got {got:?}, want {:?}",
            case.name, case.expected
        )),
        Err(_) => Some(format!("{}: see the panic above", case.name)),
    }
}

// ---------------------------------------------------------------------------------------
// The database itself
// ---------------------------------------------------------------------------------------

#[test]
fn builtin_parses_without_warnings() {
    let db = db();
    assert!(db.len() >= 25, "only {} probes", db.len());
    assert!(db.match_count() >= 100, "only {} lines", db.match_count());
}

#[test]
fn null_probe_comes_first_with_its_waits() {
    let db = db();
    let mut plan = Plan::new(&db, Protocol::Tcp, 22, config(false));
    let first = plan.next_probe().unwrap();
    assert_eq!(first.name, "NULL");
    assert!(first.payload.is_empty());
    let null = db.probe(first.id);
    assert_eq!(null.total_wait.as_millis(), 6000);
    assert_eq!(null.tcpwrapped.as_millis(), 3000);
}

/// The probes a plan hands out, in order, when nothing answers.
fn order(db: &ProbeDb, proto: Protocol, port: u16, tunnel: bool) -> Vec<String> {
    let mut plan = Plan::new(db, proto, port, config(tunnel));
    let mut names = Vec::new();
    while let Some(step) = plan.next_probe() {
        names.push(step.name.to_owned());
        assert_eq!(plan.on_end(step.id, b"", End::Timeout, step.wait), None);
    }
    names
}

#[test]
fn port_listed_probes_come_right_after_null() {
    let db = db();
    let first_two = |proto, port, tunnel| order(&db, proto, port, tunnel)[..2].to_vec();
    assert_eq!(
        first_two(Protocol::Tcp, 443, false),
        ["NULL", "TLSClientHello"]
    );
    assert_eq!(first_two(Protocol::Tcp, 443, true), ["NULL", "HTTPGet"]);
    assert_eq!(
        first_two(Protocol::Tcp, 6443, true),
        ["NULL", "HTTPGetVersion"]
    );
    assert_eq!(first_two(Protocol::Tcp, 80, false), ["NULL", "HTTPGet"]);
    assert_eq!(
        first_two(Protocol::Tcp, 3389, false),
        ["NULL", "RDPConnectionRequest"]
    );
    assert_eq!(
        first_two(Protocol::Udp, 123, false),
        ["NTPReadvar", "NTPClient"]
    );
    assert_eq!(
        first_two(Protocol::Udp, 161, false),
        ["SNMPv3Discovery", "SNMPv1GetSysDescr"]
    );
}

#[test]
fn rare_probes_only_go_to_their_ports() {
    let db = db();
    let unlisted = |proto| order(&db, proto, 40000, false);
    let mut rare = 0;
    for (_, probe) in db.probes().filter(|(_, p)| p.rarity > 7) {
        rare += 1;
        let name = &probe.name;
        assert!(
            !unlisted(probe.proto).contains(name),
            "{name} sent to 40000"
        );
        for &(port, _) in probe.ports.ranges() {
            let sent = order(&db, probe.proto, port, false);
            assert!(sent.contains(name), "{name} not sent to its port {port}");
        }
    }
    assert!(rare > 0, "no probe is rare enough to test");
    for common in ["HTTPGet", "TLSClientHello", "GenericLines"] {
        let common = common.to_owned();
        assert!(
            unlisted(Protocol::Tcp).contains(&common),
            "{common} not sent"
        );
    }
    assert!(!unlisted(Protocol::Udp).is_empty());
}

#[test]
fn printer_ports_are_excluded() {
    let db = db();
    assert!(db.excluded(Protocol::Tcp, 9100));
    assert!(db.excluded(Protocol::Tcp, 9107));
    assert!(!db.excluded(Protocol::Tcp, 9108));
    assert!(!db.excluded(Protocol::Udp, 9100));
}

/// Every service the database can name for certain also has a generic soft match, so
/// that an unknown implementation still gets its protocol named.
#[test]
fn every_hard_matched_protocol_has_a_soft_match() {
    let db = db();
    let mut hard = BTreeSet::new();
    let mut soft = BTreeSet::new();
    for (_, probe) in db.probes() {
        for line in probe.matches() {
            let set = if line.is_soft() { &mut soft } else { &mut hard };
            set.insert(line.service().to_owned());
        }
    }
    // SMB: Samba is named netbios-ssn (as Nmap names it); any other SMB2 server is
    // soft-matched as microsoft-ds.
    let missing: Vec<_> = hard
        .difference(&soft)
        .filter(|s| *s != "netbios-ssn" || !soft.contains("microsoft-ds"))
        .collect();
    assert!(missing.is_empty(), "no softmatch for {missing:?}");
}

// ---------------------------------------------------------------------------------------
// Probe payloads, checked against the specifications they follow
// ---------------------------------------------------------------------------------------

fn payload<'a>(db: &'a ProbeDb, proto: Protocol, name: &str) -> &'a [u8] {
    let id = db
        .find(proto, name)
        .unwrap_or_else(|| panic!("no probe {name}"));
    &db.probe(id).payload
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn be24(b: &[u8], at: usize) -> usize {
    (usize::from(b[at]) << 16) | be16(b, at + 1)
}

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// RFC 5246 7.4.1.2: a ClientHello in a TLS 1.0 record offering TLS 1.2, without SNI.
#[test]
fn tls_client_hello_is_well_formed() {
    let db = db();
    let p = payload(&db, Protocol::Tcp, "TLSClientHello");
    assert_eq!(&p[..3], b"\x16\x03\x01", "handshake record, TLS 1.0");
    assert_eq!(be16(p, 3), p.len() - 5, "record length");
    assert_eq!(p[5], 1, "ClientHello");
    assert_eq!(be24(p, 6), p.len() - 9, "handshake length");
    assert_eq!(&p[9..11], b"\x03\x03", "client_version TLS 1.2");
    let mut at = 11 + 32;
    at += 1 + usize::from(p[at]); // session id
    let suites = be16(p, at);
    assert!(suites >= 2 && suites % 2 == 0);
    let offered: Vec<usize> = (0..suites / 2).map(|i| be16(p, at + 2 + 2 * i)).collect();
    assert!(
        offered.contains(&0x002f),
        "TLS_RSA_WITH_AES_128_CBC_SHA for TLS 1.0 servers"
    );
    assert!(
        offered.contains(&0xc02f),
        "an ECDHE GCM suite for TLS 1.2 servers"
    );
    at += 2 + suites;
    at += 1 + usize::from(p[at]); // compression methods
    assert_eq!(be16(p, at), p.len() - at - 2, "extensions length");
    at += 2;
    let mut types = Vec::new();
    while at < p.len() {
        types.push(be16(p, at));
        at += 4 + be16(p, at + 2);
    }
    assert_eq!(at, p.len(), "extensions end with the message");
    assert!(!types.contains(&0), "no server_name extension");
    assert!(
        types.contains(&0x000d),
        "signature_algorithms, required for TLS 1.2"
    );
}

#[test]
fn length_prefixed_payloads_are_consistent() {
    let db = db();
    let tcp = |n| payload(&db, Protocol::Tcp, n);
    let dns = tcp("DNSVersionBindTCP");
    assert_eq!(be16(dns, 0), dns.len() - 2, "RFC 1035 4.2.2 length");
    assert_eq!(&dns[2..], payload(&db, Protocol::Udp, "DNSVersionBindUDP"));
    let smb = tcp("SMBNegotiate");
    assert_eq!(be24(smb, 1), smb.len() - 4, "session header length");
    assert_eq!(&smb[4..9], b"\xffSMBr");
    let rdp = tcp("RDPConnectionRequest");
    assert_eq!(be16(rdp, 2), rdp.len(), "TPKT length");
    assert_eq!(usize::from(rdp[4]), rdp.len() - 5, "X.224 length indicator");
    for mongo in ["MongoDBBuildInfo", "MongoDBLegacyBuildInfo"] {
        let m = tcp(mongo);
        assert_eq!(le32(m, 0), m.len(), "{mongo} messageLength");
    }
    let pg = tcp("PostgreSQLStartup");
    assert_eq!(
        u32::from_be_bytes(pg[..4].try_into().unwrap()) as usize,
        pg.len()
    );
    assert_eq!(&pg[4..8], b"\x00\x03\x00\x00", "protocol 3.0");
    let mqtt = tcp("MQTTConnectSubscribe");
    let connect = 2 + usize::from(mqtt[1]);
    assert_eq!(mqtt[0], 0x10);
    assert_eq!(mqtt[connect], 0x82, "SUBSCRIBE with QoS 1 flags");
    assert_eq!(connect + 2 + usize::from(mqtt[connect + 1]), mqtt.len());
}

/// BER (X.690): the outer SEQUENCE's definite length covers the rest of the message.
#[test]
fn ber_payloads_are_consistent() {
    let db = db();
    for (proto, name) in [
        (Protocol::Tcp, "LDAPRootDSE"),
        (Protocol::Udp, "SNMPv1GetSysDescr"),
        (Protocol::Udp, "SNMPv3Discovery"),
    ] {
        let p = payload(&db, proto, name);
        assert_eq!(p[0], 0x30, "{name}");
        assert!(p[1] < 0x80, "{name}: short-form length");
        assert_eq!(usize::from(p[1]), p.len() - 2, "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Real answers
// ---------------------------------------------------------------------------------------

#[test]
fn every_capture_gets_its_verdict() {
    let db = db();
    let cases = load_captures();
    assert!(cases.len() >= 49, "only {} captures", cases.len());
    let wrong: Vec<String> = cases.iter().filter_map(|c| mismatch(&db, c)).collect();
    assert!(
        wrong.is_empty(),
        "{} of {} captures:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn captures_cover_the_probes_with_real_servers() {
    let probes: BTreeSet<String> = load_captures().into_iter().map(|c| c.probe).collect();
    for probe in [
        "NULL",
        "HTTPGet",
        "TLSClientHello",
        "DNSVersionBindTCP",
        "DNSVersionBindUDP",
        "RedisInfo",
        "MemcachedStats",
        "MemcachedStatsUDP",
        "SIPOptionsTCP",
        "SIPOptionsUDP",
        "LDAPRootDSE",
        "SMBNegotiate",
        "PostgreSQLStartup",
        "PostgreSQLSSLRequest",
        "MQTTConnectSubscribe",
        "NTPReadvar",
        "NTPClient",
        "SNMPv3Discovery",
        "SNMPv1GetSysDescr",
        "HTTPGetVersion",
        "RTSPOptions",
        "RDPConnectionRequest",
        "AMQPHeader",
    ] {
        assert!(probes.contains(probe), "no capture for {probe}");
    }
}

/// A capture cut short before the version shows must not claim a version it has not
/// seen: a half-read SSH banner line is not yet an OpenSSH match.
#[test]
fn half_read_banner_does_not_decide() {
    let db = db();
    let case = Case::tcp(
        "half banner",
        "NULL",
        22,
        b"SSH-2.0-OpenSSH_9.2",
        Expected::default(),
    );
    let (mut plan, id) = reach(&db, &case);
    assert_eq!(plan.on_data(id, &case.answer), None);
}

// ---------------------------------------------------------------------------------------
// Answers built from the specifications (no Debian server for these)
// ---------------------------------------------------------------------------------------

/// A BSON document (bsonspec.org 1.1) of string, int32 and double elements.
enum Bson<'a> {
    Str(&'a str),
    Int(i32),
    Double(f64),
}

fn bson(fields: &[(&str, Bson<'_>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        let (tag, bytes) = match value {
            Bson::Str(s) => {
                let mut b = ((s.len() + 1) as i32).to_le_bytes().to_vec();
                b.extend_from_slice(s.as_bytes());
                b.push(0);
                (0x02, b)
            }
            Bson::Int(i) => (0x10, i.to_le_bytes().to_vec()),
            Bson::Double(d) => (0x01, d.to_le_bytes().to_vec()),
        };
        body.push(tag);
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(&bytes);
    }
    let mut doc = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    doc.extend_from_slice(&body);
    doc.push(0);
    doc
}

/// MongoDB wire protocol: a reply header (messageLength, requestID, responseTo, opCode).
fn mongo_reply(response_to: &[u8; 4], op: i32, body: &[u8]) -> Vec<u8> {
    let mut m = ((16 + body.len()) as i32).to_le_bytes().to_vec();
    m.extend_from_slice(&7_i32.to_le_bytes());
    m.extend_from_slice(response_to);
    m.extend_from_slice(&op.to_le_bytes());
    m.extend_from_slice(body);
    m
}

fn buildinfo(version: &str) -> Vec<u8> {
    bson(&[
        ("version", Bson::Str(version)),
        (
            "gitVersion",
            Bson::Str("0123456789abcdef0123456789abcdef01234567"),
        ),
        ("allocator", Bson::Str("tcmalloc")),
        ("maxBsonObjectSize", Bson::Int(16 * 1024 * 1024)),
        ("ok", Bson::Double(1.0)),
    ])
}

#[test]
fn mongodb_from_the_wire_protocol_spec() {
    let db = db();
    // OP_MSG (opcode 2013): flagBits, then a kind-0 section holding the reply document.
    let mut msg = 0_u32.to_le_bytes().to_vec();
    msg.push(0);
    msg.extend_from_slice(&buildinfo("7.0.14"));
    let answer = mongo_reply(b"PLmg", 2013, &msg);
    let want = Expected::hard("mongodb", "MongoDB").version("7.0.14");
    check(
        &db,
        &Case::tcp("OP_MSG", "MongoDBBuildInfo", 27017, &answer, want),
    );
    // OP_REPLY (opcode 1): responseFlags, cursorID, startingFrom, numberReturned, docs.
    let mut reply = 8_i32.to_le_bytes().to_vec();
    reply.extend_from_slice(&0_i64.to_le_bytes());
    reply.extend_from_slice(&0_i32.to_le_bytes());
    reply.extend_from_slice(&1_i32.to_le_bytes());
    reply.extend_from_slice(&buildinfo("3.4.24"));
    let answer = mongo_reply(b"PLmq", 1, &reply);
    let want = Expected::hard("mongodb", "MongoDB").version("3.4.24");
    check(
        &db,
        &Case::tcp("OP_REPLY", "MongoDBLegacyBuildInfo", 27017, &answer, want),
    );
}

fn http(status: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

/// Elasticsearch's documented answer to `GET /` (the "You Know, for Search" banner,
/// pretty-printed JSON), and its 401 when security is on and no credentials are sent.
#[test]
fn elasticsearch_from_its_documentation() {
    let db = db();
    let body = "{\n  \"name\" : \"node-1\",\n  \"cluster_name\" : \"elasticsearch\",\n  \
        \"cluster_uuid\" : \"x9v3zTBrQ1OqyI-kVqXmAQ\",\n  \"version\" : {\n    \
        \"number\" : \"8.11.1\",\n    \"build_flavor\" : \"default\",\n    \
        \"build_type\" : \"deb\",\n    \"lucene_version\" : \"9.8.0\",\n    \
        \"minimum_wire_compatibility_version\" : \"7.17.0\"\n  },\n  \
        \"tagline\" : \"You Know, for Search\"\n}\n";
    let headers = [
        "X-elastic-product: Elasticsearch",
        "content-type: application/json",
    ];
    let answer = http("200 OK", &headers, body);
    let want = Expected::hard("http", "Elasticsearch REST API").version("8.11.1");
    check(
        &db,
        &Case::tcp("es", "HTTPGet", 9200, &answer, want.clone()),
    );
    check(
        &db,
        &Case::tcp("es in TLS", "HTTPGet", 9200, &answer, want).in_tls(),
    );
    let body = "{\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":\
        \"missing authentication credentials for REST request [/]\"}],\"type\":\
        \"security_exception\"},\"status\":401}";
    let headers = ["WWW-Authenticate: Basic realm=\"security\" charset=\"UTF-8\""];
    let answer = http("401 Unauthorized", &headers, body);
    let want = Expected::hard("http", "Elasticsearch REST API").info("authentication required");
    check(&db, &Case::tcp("es 401", "HTTPGet", 9200, &answer, want));
}

/// Docker Engine API reference: every response carries `Server: Docker/<v> (<os>)` and
/// `Api-Version`; `GET /version` returns the engine's version document.
#[test]
fn docker_from_the_engine_api_reference() {
    let db = db();
    let headers = [
        "Api-Version: 1.43",
        "Content-Type: application/json",
        "Docker-Experimental: false",
        "Ostype: linux",
        "Server: Docker/24.0.7 (linux)",
    ];
    let body = "{\"Platform\":{\"Name\":\"Docker Engine - Community\"},\"Version\":\"24.0.7\",\
        \"ApiVersion\":\"1.43\",\"MinAPIVersion\":\"1.12\",\"GitCommit\":\"311b9ff\",\
        \"GoVersion\":\"go1.20.10\",\"Os\":\"linux\",\"Arch\":\"amd64\"}\n";
    let answer = http("200 OK", &headers, body);
    let want = Expected::hard("docker", "Docker")
        .version("24.0.7")
        .info("API 1.43")
        .ostype("Linux");
    check(
        &db,
        &Case::tcp("docker /version", "HTTPGetVersion", 2375, &answer, want),
    );
    let answer = http(
        "404 Not Found",
        &headers,
        "{\"message\":\"page not found\"}\n",
    );
    let want = Expected::hard("docker", "Docker")
        .version("24.0.7")
        .ostype("Linux");
    check(&db, &Case::tcp("docker /", "HTTPGet", 2375, &answer, want));
}

/// Kubernetes API server (API concepts and version.Info): `GET /version` is readable
/// anonymously by default; other paths answer a `Status` object.
#[test]
fn kubernetes_from_the_api_reference() {
    let db = db();
    let body = "{\n  \"major\": \"1\",\n  \"minor\": \"28\",\n  \"gitVersion\": \"v1.28.2\",\n  \
        \"gitCommit\": \"89a4ea3e1e4ddd7f7572286090359983e0387b2f\",\n  \
        \"gitTreeState\": \"clean\",\n  \"buildDate\": \"2023-09-13T09:29:07Z\",\n  \
        \"goVersion\": \"go1.20.8\",\n  \"compiler\": \"gc\",\n  \
        \"platform\": \"linux/amd64\"\n}";
    let answer = http("200 OK", &["Content-Type: application/json"], body);
    let want = Expected::hard("http", "Kubernetes API server")
        .version("1.28.2")
        .ostype("Linux");
    check(
        &db,
        &Case::tcp("k8s /version", "HTTPGetVersion", 6443, &answer, want).in_tls(),
    );
    let body = "{\n  \"kind\": \"Status\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {},\n  \
        \"status\": \"Failure\",\n  \"message\": \"forbidden: User \\\"system:anonymous\\\" \
        cannot get path \\\"/\\\"\",\n  \"reason\": \"Forbidden\",\n  \"details\": {},\n  \
        \"code\": 403\n}";
    let answer = http("403 Forbidden", &["Content-Type: application/json"], body);
    let want = Expected::hard("http", "Kubernetes API server");
    let body = "{\n  \"paths\": [\n    \"/.well-known/openid-configuration\",\n    \
        \"/api\",\n    \"/api/v1\",\n    \"/apis\",\n    \"/version\"\n  ]\n}";
    let paths = http("200 OK", &["Content-Type: application/json"], body);
    let case = Case::tcp("k8s / anonymous", "HTTPGet", 443, &paths, want.clone());
    check(&db, &case.in_tls());
    check(
        &db,
        &Case::tcp("k8s /", "HTTPGet", 443, &answer, want).in_tls(),
    );
}

/// MS-RDPBCGR 2.2.1.2: X.224 Connection Confirm (TPKT, LI 14, CC code 0xd0, DST-REF 0,
/// SRC-REF 0x1234 as 3.3.5.3.2 prescribes) with an RDP Negotiation Response selecting
/// CredSSP. Windows announces Restricted Admin mode (flag 0x08) among its flags.
#[test]
fn rdp_from_ms_rdpbcgr() {
    let db = db();
    let soft = Expected {
        service: "ms-wbt-server".into(),
        soft: true,
        ..Expected::default()
    };
    let answer = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00";
    let want = Expected::hard("ms-wbt-server", "Microsoft Terminal Services").ostype("Windows");
    check(
        &db,
        &Case::tcp("rdp windows", "RDPConnectionRequest", 3389, answer, want),
    );
    // xrdp (see the capture): extended client data only, TLS chosen over CredSSP.
    let answer = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x01\x08\x00\x01\x00\x00\x00";
    let want = Expected::hard("ms-wbt-server", "xrdp");
    check(
        &db,
        &Case::tcp("rdp xrdp", "RDPConnectionRequest", 3389, answer, want),
    );
    // Another server following the specification: extended client data only, and
    // CredSSP chosen.
    let answer = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x01\x08\x00\x02\x00\x00\x00";
    let case = Case::tcp(
        "rdp other",
        "RDPConnectionRequest",
        3389,
        answer,
        soft.clone(),
    );
    check(&db, &case);
    // A Negotiation Failure (type 3): SSL_NOT_ALLOWED_BY_SERVER.
    let answer = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x03\x00\x08\x00\x02\x00\x00\x00";
    check(
        &db,
        &Case::tcp(
            "rdp failure",
            "RDPConnectionRequest",
            3389,
            answer,
            soft.clone(),
        ),
    );
    // A server that ignores the negotiation request: a bare 11-byte confirm.
    let answer = b"\x03\x00\x00\x0b\x06\xd0\x00\x00\x12\x34\x00";
    check(
        &db,
        &Case::tcp("rdp legacy", "RDPConnectionRequest", 3389, answer, soft),
    );
}

/// MS-SMB2 2.2.4: a NEGOTIATE response with a random ServerGuid, as Windows sends it, is
/// SMB but not Samba.
#[test]
fn smb2_with_a_random_guid_is_not_samba() {
    let db = db();
    let mut smb = b"\xfeSMB\x40\x00".to_vec();
    smb.resize(64, 0);
    smb.extend_from_slice(b"\x41\x00\x01\x00\xff\x02\x00\x00");
    smb.extend_from_slice(b"\x8e\x1f\x3a\xc2\x57\x9b\x4d\x11\xa0\x6e\x2c\x90\x41\xd7\x35\xbe");
    smb.extend_from_slice(&[0; 24]);
    let mut answer = vec![0, 0, 0, smb.len() as u8];
    answer.extend_from_slice(&smb);
    let want = Expected {
        service: "microsoft-ds".into(),
        soft: true,
        ..Expected::default()
    };
    check(
        &db,
        &Case::tcp("smb2 windows", "SMBNegotiate", 445, &answer, want),
    );
}

/// AMQP 0-9-1 (section 4.2.3 frames, 1.4.2 Connection.Start) with the server-properties
/// RabbitMQ documents (product, version, platform, ...).
#[test]
fn rabbitmq_from_the_amqp_spec() {
    let db = db();
    let mut table = Vec::new();
    for (name, value) in [
        ("cluster_name", "rabbit@mq1"),
        (
            "copyright",
            "Copyright (c) 2007-2023 VMware, Inc. or its affiliates.",
        ),
        ("platform", "Erlang/OTP 26.1.2"),
        ("product", "RabbitMQ"),
        ("version", "3.12.8"),
    ] {
        table.push(name.len() as u8);
        table.extend_from_slice(name.as_bytes());
        table.push(b'S');
        table.extend_from_slice(&(value.len() as u32).to_be_bytes());
        table.extend_from_slice(value.as_bytes());
    }
    let mut method = b"\x00\x0a\x00\x0a\x00\x09".to_vec();
    method.extend_from_slice(&(table.len() as u32).to_be_bytes());
    method.extend_from_slice(&table);
    for long in ["AMQPLAIN PLAIN", "en_US"] {
        method.extend_from_slice(&(long.len() as u32).to_be_bytes());
        method.extend_from_slice(long.as_bytes());
    }
    let mut answer = b"\x01\x00\x00".to_vec();
    answer.extend_from_slice(&(method.len() as u32).to_be_bytes());
    answer.extend_from_slice(&method);
    answer.push(0xce);
    let want = Expected::hard("amqp", "RabbitMQ")
        .version("3.12.8")
        .info("AMQP 0-9-1");
    check(
        &db,
        &Case::tcp("rabbitmq", "AMQPHeader", 5672, &answer, want),
    );
}

/// RFC 2326 10.1: an OPTIONS answer; the Server header names the software.
#[test]
fn rtsp_from_rfc_2326() {
    let db = db();
    let answer = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, \
        TEARDOWN, PLAY, PAUSE\r\nServer: GStreamer RTSP server\r\n\r\n";
    let want = Expected::hard("rtsp", "GStreamer RTSP server");
    check(
        &db,
        &Case::tcp("gstreamer", "RTSPOptions", 554, answer, want),
    );
    let answer = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n";
    let want = Expected {
        service: "rtsp".into(),
        soft: true,
        ..Expected::default()
    };
    check(
        &db,
        &Case::tcp("anonymous rtsp", "RTSPOptions", 554, answer, want),
    );
}

/// RFC 6143 7.1.1: the ProtocolVersion banner.
#[test]
fn vnc_from_rfc_6143() {
    let db = db();
    let want = Expected::hard("vnc", "VNC").info("protocol 3.8");
    check(
        &db,
        &Case::tcp("rfb 3.8", "NULL", 5900, b"RFB 003.008\n", want),
    );
    let want = Expected::hard("vnc", "Apple remote desktop vnc").ostype("Mac OS X");
    check(
        &db,
        &Case::tcp("apple", "NULL", 5900, b"RFB 003.889\n", want),
    );
}

/// MySQL client/server protocol, HandshakeV10 (protocol 10, NUL-terminated version).
#[test]
fn mysql_from_the_protocol_documentation() {
    let db = db();
    let version = b"8.0.35-0ubuntu0.22.04.1";
    let mut payload = vec![0x0a];
    payload.extend_from_slice(version);
    payload.push(0);
    payload.extend_from_slice(&42_u32.to_le_bytes());
    payload.extend_from_slice(b"abcdefgh\x00\xff\xf7\x21\x02\x00\xff\xdf\x15");
    payload.extend_from_slice(&[0; 10]);
    payload.extend_from_slice(b"ijklmnopqrst\x00caching_sha2_password\x00");
    let mut answer = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    answer.push(0);
    answer.extend_from_slice(&payload);
    let want = Expected::hard("mysql", "MySQL")
        .version("8.0.35")
        .info("0ubuntu0.22.04.1");
    check(&db, &Case::tcp("mysql 8", "NULL", 3306, &answer, want));
}

/// Sendmail's greeting is `$j Sendmail $v/$Z; $b` (its cf/README, SmtpGreetingMessage),
/// with "ESMTP" after the host name; Debian's configuration version is "<v>/Debian-<r>".
#[test]
fn sendmail_from_its_configuration_reference() {
    let db = db();
    let answer = b"220 mx.example.org ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; \
        Sat, 21 Nov 2026 15:40:00 GMT; (No UCE/UBE) logging access from: x\r\n";
    let want = Expected::hard("smtp", "Sendmail")
        .version("8.17.1.9")
        .info("Debian-2")
        .hostname("mx.example.org");
    check(&db, &Case::tcp("sendmail", "NULL", 25, answer, want));
}
