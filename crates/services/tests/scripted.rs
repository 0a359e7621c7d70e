//! Plans run over scripted services, against the test database in `tests/data`.
#![allow(clippy::unwrap_used)]

use portolan_model::Protocol;
use portolan_services::{End, Outcome, Plan, PlanConfig, ProbeDb, ServiceMatch};
use std::time::Duration;

const SAMPLE: &str = include_str!("data/sample-probes");

fn load() -> ProbeDb {
    let (db, warnings) = ProbeDb::parse(SAMPLE).unwrap();
    let lookahead = SAMPLE
        .lines()
        .position(|l| l.starts_with("match lookahead"))
        .unwrap()
        + 1;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].line, lookahead);
    assert!(warnings[0].message.contains("lookahead"));
    db
}

/// What a scripted service does with one probe: the reads it sends back (each a segment
/// of the answer), how the exchange ends, and after how long.
type Answer = (Vec<Vec<u8>>, End, Duration);

fn silent() -> Answer {
    (Vec::new(), End::Timeout, Duration::from_secs(5))
}

fn says(bytes: &[u8]) -> Answer {
    says_in(&[bytes])
}

fn says_in(reads: &[&[u8]]) -> Answer {
    let reads = reads.iter().map(|r| r.to_vec()).collect();
    (reads, End::Timeout, Duration::from_secs(5))
}

/// Runs a plan as the driver would, one probe at a time, passing the whole buffer after
/// each read. Returns the outcome and the probes sent.
fn drive(
    db: &ProbeDb,
    proto: Protocol,
    port: u16,
    cfg: PlanConfig,
    service: impl Fn(&str, &[u8]) -> Answer,
) -> (Outcome, Vec<String>) {
    let mut plan = Plan::new(db, proto, port, cfg);
    let mut sent = Vec::new();
    for _ in 0..64 {
        let Some(step) = plan.next_probe() else {
            break;
        };
        sent.push(step.name.to_owned());
        let (reads, end, elapsed) = service(step.name, step.payload);
        let mut buffer = Vec::new();
        let mut decided = None;
        for read in reads {
            buffer.extend_from_slice(&read);
            decided = plan.on_data(step.id, &buffer);
            if decided.is_some() {
                break;
            }
        }
        if decided.is_none() {
            decided = plan.on_end(step.id, &buffer, end, elapsed);
        }
        if decided.is_some() {
            break;
        }
    }
    assert!(plan.is_done());
    (plan.finish(), sent)
}

fn matched(outcome: Outcome) -> ServiceMatch {
    match outcome {
        Outcome::Matched(m) => m,
        other => panic!("expected a match, got {other:?}"),
    }
}

const TCP: Protocol = Protocol::Tcp;
const UDP: Protocol = Protocol::Udp;

#[test]
fn ssh_banner_on_the_null_probe() {
    let db = load();
    let (out, sent) = drive(&db, TCP, 22, PlanConfig::default(), |name, _| match name {
        "NULL" => says_in(&[b"SSH-2.0-Tiny", b"SSH_9.1p1", b"\r\n"]),
        _ => silent(),
    });
    assert_eq!(sent, ["NULL"]);
    let m = matched(out);
    assert_eq!(m.service, "ssh");
    assert_eq!(m.product.as_deref(), Some("TinySSH"));
    assert_eq!(m.version.as_deref(), Some("9.1p1"));
    assert_eq!(m.info.as_deref(), Some("protocol 2.0"));
    assert_eq!(m.cpe, ["cpe:/a:tiny:tinyssh:9.1p1"]);
}

fn harbor(name: &str, payload: &[u8]) -> Answer {
    if name == "GetRequest" && payload.starts_with(b"GET / ") {
        says_in(&[
            b"HTTP/1.1 200 OK\r\nDate: today\r\n",
            b"Server: Harbor/2.4.7 (Debian)\r\n\r\n",
        ])
    } else {
        silent()
    }
}

#[test]
fn http_on_a_listed_port_answers_the_second_probe() {
    let db = load();
    let (out, sent) = drive(&db, TCP, 8080, PlanConfig::default(), harbor);
    assert_eq!(sent, ["NULL", "GetRequest"]);
    let m = matched(out);
    assert_eq!(
        (m.service.as_str(), m.product.as_deref()),
        ("http", Some("Harbor httpd"))
    );
    assert_eq!(
        (m.version.as_deref(), m.info.as_deref()),
        (Some("2.4.7"), Some("Debian"))
    );
    assert_eq!(m.cpe, ["cpe:/a:harbor:httpd:2.4.7"]);
}

#[test]
fn http_on_an_odd_port_still_found_in_file_order() {
    let db = load();
    let (out, sent) = drive(
        &db,
        TCP,
        5555,
        PlanConfig::default(),
        |name, _| match name {
            "GetRequest" => says(b"HTTP/1.0 404 Not Found\r\nServer: Mini/0.9\r\n\r\n"),
            _ => silent(),
        },
    );
    assert_eq!(sent, ["NULL", "GetRequest"]);
    let m = matched(out);
    assert_eq!(
        (m.product.as_deref(), m.version.as_deref()),
        (Some("Mini"), Some("0.9"))
    );
}

#[test]
fn tls_is_reported_then_probed_inside() {
    let db = load();
    let server_hello = b"\x16\x03\x03\x00\x31\x02\x00\x00\x2d\x03\x03";
    let (out, sent) = drive(&db, TCP, 443, PlanConfig::default(), |name, _| match name {
        "TLSHello" => says(server_hello),
        _ => silent(),
    });
    assert_eq!(
        (out, sent),
        (Outcome::Tls, vec!["NULL".to_owned(), "TLSHello".to_owned()])
    );

    let inside = PlanConfig {
        tunnel: true,
        ..PlanConfig::default()
    };
    let (out, sent) = drive(&db, TCP, 443, inside, harbor);
    assert_eq!(sent, ["NULL", "GetRequest"]);
    assert_eq!(matched(out).product.as_deref(), Some("Harbor httpd"));
}

#[test]
fn a_tls_banner_on_the_null_probe_is_tls_at_once() {
    let db = load();
    let (out, sent) = drive(
        &db,
        TCP,
        4433,
        PlanConfig::default(),
        |name, _| match name {
            "NULL" => says(b"\x16\x03\x01\x00\x10\x02rest"),
            _ => silent(),
        },
    );
    assert_eq!((out, sent.len()), (Outcome::Tls, 1));
}

#[test]
fn quick_silent_close_is_tcpwrapped() {
    let db = load();
    let (out, sent) = drive(&db, TCP, 113, PlanConfig::default(), |_, _| {
        (Vec::new(), End::Closed, Duration::from_millis(40))
    });
    assert_eq!((out, sent.len()), (Outcome::Tcpwrapped, 1));
}

#[test]
fn soft_ftp_banner_then_hard_match_from_a_narrowed_probe() {
    let db = load();
    let (out, sent) = drive(
        &db,
        TCP,
        2121,
        PlanConfig::default(),
        |name, _| match name {
            "NULL" => says(b"220 welcome to my FTP service\r\n"),
            "HelpCommand" => says(b"214-Quill FTP 1.4 commands follow\r\n"),
            _ => silent(),
        },
    );
    assert_eq!(sent, ["NULL", "HelpCommand"]);
    let m = matched(out);
    assert_eq!(
        (m.service.as_str(), m.version.as_deref(), m.soft),
        ("ftp", Some("1.4"), false)
    );
}

#[test]
fn soft_match_only_sends_probes_that_could_confirm_it() {
    let db = load();
    let (out, sent) = drive(
        &db,
        TCP,
        2525,
        PlanConfig {
            intensity: 9,
            tunnel: false,
        },
        |name, _| match name {
            "NULL" => says(b"220 mail.example SMTP ready\r\n"),
            _ => says(b"500 what?\r\n"),
        },
    );
    assert_eq!(sent, ["NULL", "HelpCommand"]);
    let Outcome::Unknown { soft: Some(soft) } = out else {
        panic!("{out:?}")
    };
    assert_eq!((soft.service.as_str(), soft.soft), ("smtp", true));
}

#[test]
fn unknown_service_tries_everything_within_intensity() {
    let db = load();
    let (out, sent) = drive(&db, TCP, 1234, PlanConfig::default(), |_, _| says(b"??"));
    assert_eq!(out, Outcome::Unknown { soft: None });
    assert_eq!(sent, ["NULL", "GetRequest", "HelpCommand", "TLSHello"]);
    let (_, sent) = drive(
        &db,
        TCP,
        1234,
        PlanConfig {
            intensity: 9,
            tunnel: false,
        },
        |_, _| says(b"??"),
    );
    assert_eq!(sent.last().map(String::as_str), Some("Noisy"));
}

#[test]
fn binary_capture_through_the_int_helper() {
    let db = load();
    let (out, _) = drive(
        &db,
        TCP,
        7777,
        PlanConfig::default(),
        |name, _| match name {
            "NULL" => says(b"QUIRK \x01\x02\r\n"),
            _ => silent(),
        },
    );
    assert_eq!(matched(out).version.as_deref(), Some("258"));
}

#[test]
fn udp_dns_version_query() {
    let db = load();
    let mut answer = b"\x00\x2a\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00".to_vec();
    answer.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03\xc0\x0c\x00\x10");
    answer.extend_from_slice(b"\x00\x03\x00\x00\x00\x00\x00\x0a\x09\x04Lark 9.18");
    let (out, sent) = drive(&db, UDP, 53, PlanConfig::default(), |name, payload| {
        assert!(!payload.is_empty());
        match name {
            "VersionQuery" => (
                vec![answer.clone()],
                End::Timeout,
                Duration::from_millis(30),
            ),
            _ => silent(),
        }
    });
    assert_eq!(sent, ["VersionQuery"]);
    let m = matched(out);
    assert_eq!(
        (m.service.as_str(), m.version.as_deref()),
        ("domain", Some("9.18"))
    );
}

#[test]
fn udp_silence_is_unknown_after_every_probe() {
    let db = load();
    let (out, sent) = drive(&db, UDP, 9999, PlanConfig::default(), |_, _| silent());
    assert_eq!(out, Outcome::Unknown { soft: None });
    assert_eq!(sent, ["VersionQuery", "Ping"]);
    let ping = db.probe(db.find(UDP, "Ping").unwrap());
    assert!(ping.no_payload);
}

#[test]
fn excluded_port_is_left_alone() {
    let db = load();
    let (out, sent) = drive(&db, TCP, 9101, PlanConfig::default(), |_, _| panic!("sent"));
    assert_eq!((out, sent.len()), (Outcome::Unknown { soft: None }, 0));
}

#[test]
fn a_user_database_merged_in_adds_lines_and_probes() {
    let mut db = load();
    let user = "Probe TCP NULL q||\nmatch gopher m|^iGopher (\\d+)| p/Gopher/ v/$1/\n\
                Probe TCP Hello q|hello\\n|\nrarity 1\nmatch hello m|^hi$|\n";
    let (user, warnings) = ProbeDb::parse(user).unwrap();
    assert!(warnings.is_empty());
    let probes = db.len();
    db.merge(user);
    assert_eq!(db.len(), probes + 1);
    let (out, _) = drive(&db, TCP, 70, PlanConfig::default(), |name, _| match name {
        "NULL" => says(b"iGopher 3 up\r\n"),
        _ => silent(),
    });
    assert_eq!(matched(out).version.as_deref(), Some("3"));
    let (out, sent) = drive(
        &db,
        TCP,
        7070,
        PlanConfig::default(),
        |name, _| match name {
            "Hello" => says(b"hi"),
            _ => silent(),
        },
    );
    assert_eq!(sent.last().map(String::as_str), Some("Hello"));
    assert_eq!(matched(out).service, "hello");
}
