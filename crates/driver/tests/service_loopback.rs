//! Version detection's I/O against servers of our own on 127.0.0.1: a
//! banner server, one that answers only a request, one that speaks TLS
//! (certificate made here), one that never stops talking, one that never
//! answers, one that closes at once, a UDP responder, one speaking a
//! protocol the database does not know, and web servers with and without
//! page titles. The database is a small one in Nmap's grammar written for
//! this test. No root needed.
//!
//! Every server thread is bounded in connections and bytes; no assertion
//! depends on how long anything took.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
use openssl::x509::{X509NameBuilder, X509};
use portolan_driver::services::{ServiceOptions, ServiceScanner};
use portolan_model::{
    HostResult, HostStatus, PortResult, PortState, Protocol, Reason, ServiceInfo, ServiceMethod,
    Tunnel,
};
use portolan_services::ProbeDb;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const DB: &str = r#"
# A test database in Nmap's grammar.
Probe TCP NULL q||
totalwaitms 1500
tcpwrappedms 1000
match ssh m|^SSH-([\d.]+)-TestSSH_([\w.]+)\r?\n| p/TestSSH/ v/$2/ i/protocol $1/ o/Linux/ cpe:/o:linux:linux_kernel/a

Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80
sslports 443
totalwaitms 1500
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: TestHTTP/([\d.]+)\r\n|s p/TestHTTP/ v/$1/
softmatch http m|^HTTP/1\.[01] \d\d\d|

Probe TCP TLSHello q|\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00|
rarity 1
ports 443
totalwaitms 1500
match ssl m|^\x16\x03[\x00-\x04]|
match ssl m|^\x15\x03[\x00-\x04]|

Probe UDP Status q|status?\n|
rarity 1
ports 9
totalwaitms 1500
match teststatus m|^status ok ([\d.]+)\n| p/TestUDP/ v/$1/
"#;

fn tcp_server(handler: impl Fn(std::net::TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handler = Arc::new(handler);
    thread::spawn(move || {
        // Bounded: at most 64 connections, then the listener closes.
        for conn in listener.incoming().take(64).flatten() {
            let h = handler.clone();
            thread::spawn(move || h(conn));
        }
    });
    port
}

/// Reads what the client sent within `wait`, up to 4 KiB.
fn read_request(s: &mut std::net::TcpStream, wait: Duration) -> Vec<u8> {
    let _ = s.set_read_timeout(Some(wait));
    let mut buf = vec![0u8; 4096];
    match s.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

fn self_signed() -> (PKey<openssl::pkey::Private>, X509) {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "loopback.test")
        .expect("cn");
    name.append_entry_by_text("O", "Portolan Test").expect("o");
    let name = name.build();
    let mut b = X509::builder().expect("x509");
    b.set_version(2).expect("version");
    b.set_serial_number(
        &BigNum::from_u32(7)
            .expect("bn")
            .to_asn1_integer()
            .expect("serial"),
    )
    .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::from_unix(1_700_000_000).expect("t"))
        .expect("nb");
    b.set_not_after(&Asn1Time::from_unix(2_000_000_000).expect("t"))
        .expect("na");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    (key, b.build())
}

/// A TLS server (only `version`, when given) that answers GET like TestHTTP.
fn tls_server(version: Option<SslVersion>) -> u16 {
    let (key, cert) = self_signed();
    let mut acc = SslAcceptor::mozilla_intermediate(SslMethod::tls()).expect("acceptor");
    acc.set_private_key(&key).expect("key");
    acc.set_certificate(&cert).expect("cert");
    if let Some(v) = version {
        acc.set_security_level(0);
        acc.set_cipher_list("ALL:@SECLEVEL=0").expect("ciphers");
        acc.set_min_proto_version(Some(v)).expect("min");
        acc.set_max_proto_version(Some(v)).expect("max");
    }
    let acc = Arc::new(acc.build());
    tcp_server(move |conn| {
        let Ok(mut s) = acc.accept(conn) else { return };
        let mut buf = [0u8; 1024];
        if let Ok(n) = s.read(&mut buf) {
            if buf[..n].starts_with(b"GET ") {
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nServer: TestHTTP/2.4\r\n\r\nhi");
            }
        }
    })
}

fn host(ports: &[(Protocol, u16)]) -> HostResult {
    HostResult {
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        hostnames: vec![],
        status: HostStatus::Up,
        status_reason: Reason::UserSet,
        status_reason_ttl: None,
        mac: None,
        start_time: 0,
        end_time: 0,
        ports: ports
            .iter()
            .map(|&(protocol, port)| PortResult {
                protocol,
                port,
                state: PortState::Open,
                reason: Reason::SynAck,
                reason_ttl: None,
                service: Some(ServiceInfo::table("guess")),
            })
            .collect(),
        times: None,
        timed_out: false,
        answers_every_port: false,
        trace: None,
    }
}

fn scan(h: HostResult, intensity: u8) -> HostResult {
    let (db, warnings) = ProbeDb::parse(DB).expect("test database parses");
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut s = ServiceScanner::start(ServiceOptions {
        db: Arc::new(db),
        intensity,
        parallel: 16,
        connect_timeout: Duration::from_secs(2),
        stop: Arc::new(AtomicBool::new(false)),
    })
    .expect("start");
    s.submit(h);
    let mut out = s.finish();
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn service(h: &HostResult, port: u16) -> &ServiceInfo {
    h.ports
        .iter()
        .find(|p| p.port == port)
        .and_then(|p| p.service.as_ref())
        .expect("port has a service")
}

#[test]
fn banners_requests_and_tls_are_named_with_product_and_version() {
    let ssh = tcp_server(|mut s| {
        let _ = s.write_all(b"SSH-2.0-TestSSH_3.1\r\n");
        let _ = read_request(&mut s, Duration::from_secs(2));
    });
    let http = tcp_server(|mut s| {
        let req = read_request(&mut s, Duration::from_secs(3));
        if req.starts_with(b"GET / HTTP/1.0") {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nServer: TestHTTP/1.9\r\n\r\n");
        }
    });
    let tls = tls_server(None);
    let old_tls = tls_server(Some(SslVersion::TLS1));
    let h = scan(
        host(&[
            (Protocol::Tcp, ssh),
            (Protocol::Tcp, http),
            (Protocol::Tcp, tls),
            (Protocol::Tcp, old_tls),
        ]),
        7,
    );
    let s = service(&h, ssh);
    assert_eq!(s.name, "ssh");
    assert_eq!(s.method, ServiceMethod::Probed);
    assert_eq!(s.product.as_deref(), Some("TestSSH"));
    assert_eq!(s.version.as_deref(), Some("3.1"));
    assert_eq!(s.extrainfo.as_deref(), Some("protocol 2.0"));
    assert_eq!(s.ostype.as_deref(), Some("Linux"));
    assert_eq!(s.cpe, vec!["cpe:/o:linux:linux_kernel".to_string()]);
    assert_eq!(s.fingerprint, None, "a hard match leaves no fingerprint");
    assert_eq!(s.http_title, None, "not HTTP");
    let s = service(&h, http);
    assert_eq!(
        (s.name.as_str(), s.version.as_deref()),
        ("http", Some("1.9"))
    );
    assert_eq!(s.tunnel, None);
    assert_eq!(s.fingerprint, None);
    assert_eq!(s.http_title.as_deref(), Some("Site doesn't have a title."));
    for (port, proto) in [(tls, None), (old_tls, Some("TLSv1.0"))] {
        let s = service(&h, port);
        assert_eq!(s.name, "http", "port {port}: {s:?}");
        assert_eq!(
            s.http_title.as_deref(),
            Some("Site doesn't have a title."),
            "port {port}"
        );
        assert_eq!(s.fingerprint, None);
        assert_eq!(s.product.as_deref(), Some("TestHTTP"), "port {port}");
        assert_eq!(s.version.as_deref(), Some("2.4"));
        assert_eq!(s.tunnel, Some(Tunnel::Ssl));
        let t = s.tls.as_ref().expect("tls info");
        assert_eq!(
            t.subject.as_deref(),
            Some("commonName=loopback.test/organizationName=Portolan Test")
        );
        assert_eq!(t.not_after.as_deref(), Some("2033-05-18T03:33:20"));
        assert_eq!(t.public_key.as_deref(), Some("rsa 2048"));
        if let Some(p) = proto {
            assert_eq!(t.protocol, p);
        }
    }
}

#[test]
fn talkative_silent_and_closing_servers_are_bounded_and_never_named() {
    let talker = tcp_server(move |mut s| {
        let chunk = [b'A'; 8192];
        // Bounded: 4 MiB at most (more than the client keeps), or until the
        // client goes away.
        for _ in 0..512 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let silent = tcp_server(|mut s| {
        let _ = read_request(&mut s, Duration::from_secs(6));
    });
    let closer = tcp_server(drop);
    let h = scan(
        host(&[
            (Protocol::Tcp, talker),
            (Protocol::Tcp, silent),
            (Protocol::Tcp, closer),
        ]),
        7,
    );
    // The talker's stream is read only up to MAX_RESPONSE per connection,
    // so the scan ends however much it would have sent.
    for port in [talker, silent] {
        let s = service(&h, port);
        assert_eq!(s.method, ServiceMethod::Table, "port {port}: {s:?}");
        assert_eq!(s.name, "guess");
    }
    // The talker answered every probe with megabytes: its fingerprint shows
    // the first 900 bytes (0x384) of each answer, and stays a few KiB.
    let fp = service(&h, talker)
        .fingerprint
        .as_deref()
        .expect("the talker gets a fingerprint");
    assert!(fp.starts_with(&format!("SF-Port{talker}-TCP:V=")), "{fp}");
    let a900 = format!("%r(NULL,384,\"{}\")", "A".repeat(900));
    assert!(fp.contains(&a900), "{fp}");
    assert!(fp.contains("%r(GetRequest,384,\"AAAA"), "{fp}");
    assert!(
        fp.len() <= portolan_services::fingerprint::MAX_LEN,
        "{}",
        fp.len()
    );
    assert!(fp.ends_with("\");") && fp.is_ascii());
    // Silence and a quick close give nothing to fingerprint.
    assert_eq!(service(&h, silent).fingerprint, None);
    let s = service(&h, closer);
    assert_eq!(s.name, "tcpwrapped");
    assert_eq!(s.fingerprint, None);
}

#[test]
fn an_unknown_protocol_gets_a_fingerprint_of_what_it_said() {
    // Greets with a banner no line matches, then answers any request with
    // bytes of its own protocol.
    let odd = tcp_server(|mut s| {
        let _ = s.write_all(b"ODD \"proto\" 1.0\r\n\x00\x01\xfe");
        let req = read_request(&mut s, Duration::from_secs(3));
        if !req.is_empty() {
            let _ = s.write_all(b"ERR?\n");
        }
    });
    // Answers GET like a web server, but nothing names it beyond the soft
    // match: a soft match keeps the fingerprint, and is HTTP, so it gets the
    // title too.
    let soft_http = tcp_server(|mut s| {
        let req = read_request(&mut s, Duration::from_secs(3));
        if req.starts_with(b"GET ") {
            let _ = s.write_all(
                b"HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n<title>Nope</title>",
            );
        }
    });
    let h = scan(host(&[(Protocol::Tcp, odd), (Protocol::Tcp, soft_http)]), 7);
    let s = service(&h, odd);
    assert_eq!((s.name.as_str(), s.method), ("guess", ServiceMethod::Table));
    let fp = s.fingerprint.as_deref().expect("fingerprint");
    let header = format!("SF-Port{odd}-TCP:V={}%I=7%D=", env!("CARGO_PKG_VERSION"));
    assert!(fp.starts_with(&header), "{fp}");
    assert!(
        fp.contains("%r(NULL,14,\"ODD\\x20\\\"proto\\\"\\x201\\.0\\r\\n\\0\\x01\\xfe\")"),
        "{fp}"
    );
    // Each probe has a connection of its own, so the banner comes again.
    assert!(fp.contains("%r(GetRequest,19,\"ODD\\x20"), "{fp}");
    assert!(fp.contains("\\xfeERR\\?\\n\")"), "{fp}");
    assert!(fp.ends_with(");"), "{fp}");
    assert_eq!(s.http_title, None);

    let s = service(&h, soft_http);
    assert_eq!((s.name.as_str(), s.method), ("http", ServiceMethod::Probed));
    assert_eq!(s.version, None);
    assert_eq!(s.http_title.as_deref(), Some("Nope"));
    let fp = s
        .fingerprint
        .as_deref()
        .expect("a soft match keeps its fingerprint");
    assert!(fp.contains("%r(GetRequest,"), "{fp}");
}

#[test]
fn an_http_server_named_before_its_page_arrives_still_gets_the_title() {
    // The headers name the server; the page follows after a pause, so the
    // match is made before the title has arrived.
    let web = tcp_server(|mut s| {
        let req = read_request(&mut s, Duration::from_secs(3));
        if !req.starts_with(b"GET ") {
            return;
        }
        let head = b"HTTP/1.0 200 OK\r\nServer: TestHTTP/3.0\r\nContent-Type: text/html\r\n\r\n";
        let _ = s.write_all(head);
        let _ = s.flush();
        thread::sleep(Duration::from_millis(150));
        let _ = s
            .write_all(b"<html><HEAD><Title id=t>\n  Loopback &amp; Co\t&#233;t&eacute;\n</TITLE>");
        thread::sleep(Duration::from_millis(150));
        let _ = s.write_all(b"<body>hello</body></html>");
    });
    let moved = tcp_server(|mut s| {
        let req = read_request(&mut s, Duration::from_secs(3));
        if req.starts_with(b"GET ") {
            let _ = s.write_all(
                b"HTTP/1.0 302 Found\r\nServer: TestHTTP/3.1\r\nLocation: https://login.test/\r\n\r\n",
            );
        }
    });
    let h = scan(host(&[(Protocol::Tcp, web), (Protocol::Tcp, moved)]), 7);
    let s = service(&h, web);
    assert_eq!(
        (s.name.as_str(), s.version.as_deref()),
        ("http", Some("3.0"))
    );
    assert_eq!(s.http_title.as_deref(), Some("Loopback & Co ét&eacute;"));
    assert_eq!(s.fingerprint, None);
    let s = service(&h, moved);
    assert_eq!(s.version.as_deref(), Some("3.1"));
    assert_eq!(
        s.http_title.as_deref(),
        Some("Did not follow redirect to https://login.test/")
    );
}

#[test]
fn udp_probe_answer_names_the_service() {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = sock.local_addr().expect("addr").port();
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..8 {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                return;
            };
            if &buf[..n] == b"status?\n" {
                let _ = sock.send_to(b"status ok 4.2\n", from);
            }
        }
    });
    let mut h = host(&[(Protocol::Udp, port)]);
    h.ports[0].state = PortState::OpenFiltered;
    let h = scan(h, 9);
    let s = service(&h, port);
    assert_eq!(s.name, "teststatus");
    assert_eq!(s.product.as_deref(), Some("TestUDP"));
    assert_eq!(s.version.as_deref(), Some("4.2"));
}
