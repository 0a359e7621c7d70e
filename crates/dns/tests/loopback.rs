//! The UDP resolver against fake DNS servers on loopback: one that answers PTR queries
//! from a table (NXDOMAIN otherwise), optionally after a forged or garbled answer, and a
//! "black hole" that never answers. Every server thread stops within a hard time limit.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portolan_dns::{reverse_lookup_all, Lookups, Outcome, ResolverConfig};

/// A fake server never runs longer than this.
const SERVER_LIFETIME: Duration = Duration::from_secs(20);

#[derive(Clone)]
enum Entry {
    Ptr(String),
    /// A CNAME to `alias` (RFC 2317 style), then the PTR record at the alias.
    Cname {
        alias: String,
        name: String,
    },
}

#[derive(Clone, Default)]
struct Behaviour {
    table: HashMap<String, Entry>,
    /// Hold each query this long before answering.
    delay: Duration,
    /// Before the real answer: the same answer with a wrong ID.
    wrong_id_first: bool,
    /// Before the real answer: a right-ID answer naming another host, from another port.
    other_port_first: bool,
    /// Before the real answer: bytes that are not a DNS message.
    garbage_first: bool,
}

#[derive(Debug, Default)]
struct Report {
    queries: usize,
    /// Most queries received and not yet answered at any moment.
    peak_unanswered: usize,
    forged_sent: usize,
    garbage_sent: usize,
}

struct FakeServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Report>,
}

impl FakeServer {
    fn start(bind: &str, behaviour: Behaviour) -> std::io::Result<FakeServer> {
        let sock = UdpSocket::bind(bind)?;
        let forger = UdpSocket::bind(SocketAddr::new(sock.local_addr()?.ip(), 0))?;
        let addr = sock.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(&sock, &forger, &behaviour, &flag));
        Ok(FakeServer { addr, stop, thread })
    }

    fn stop(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

fn serve(sock: &UdpSocket, forger: &UdpSocket, b: &Behaviour, stop: &AtomicBool) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    let mut pending: VecDeque<(Instant, SocketAddr, Vec<u8>)> = VecDeque::new();
    let mut buf = [0u8; 2048];
    while started.elapsed() < SERVER_LIFETIME && !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        while pending.front().is_some_and(|(due, _, _)| *due <= now) {
            let (_, from, query) = pending.pop_front().unwrap();
            answer(sock, forger, b, from, &query, &mut report);
        }
        let wait = pending
            .front()
            .map_or(Duration::from_millis(20), |(due, _, _)| {
                due.saturating_duration_since(now)
                    .min(Duration::from_millis(20))
            });
        sock.set_read_timeout(Some(wait.max(Duration::from_micros(100))))
            .unwrap();
        if let Ok((len, from)) = sock.recv_from(&mut buf) {
            report.queries += 1;
            pending.push_back((Instant::now() + b.delay, from, buf[..len].to_vec()));
            report.peak_unanswered = report.peak_unanswered.max(pending.len());
        }
    }
    report
}

fn answer(
    sock: &UdpSocket,
    forger: &UdpSocket,
    b: &Behaviour,
    to: SocketAddr,
    query: &[u8],
    report: &mut Report,
) {
    let Some((id, qname, question)) = parse_query(query) else {
        return;
    };
    if b.garbage_first {
        sock.send_to(&[0xde, 0xad, 0xbe], to).unwrap();
        report.garbage_sent += 1;
    }
    let entry = b.table.get(&qname);
    if b.wrong_id_first {
        sock.send_to(&response(id ^ 0x8000, question, entry), to)
            .unwrap();
        report.forged_sent += 1;
    }
    if b.other_port_first {
        let fake = Entry::Ptr("forged.example".into());
        forger
            .send_to(&response(id, question, Some(&fake)), to)
            .unwrap();
        report.forged_sent += 1;
    }
    sock.send_to(&response(id, question, entry), to).unwrap();
}

/// The ID, the lower-cased question name, and the whole question section.
fn parse_query(q: &[u8]) -> Option<(u16, String, &[u8])> {
    let id = u16::from_be_bytes([*q.first()?, *q.get(1)?]);
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*q.get(pos)?);
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(pos + 1..pos + 1 + len)?).to_lowercase());
        pos += 1 + len;
    }
    Some((id, labels.join("."), q.get(12..pos + 5)?))
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn record(out: &mut Vec<u8>, owner: &[u8], rtype: u16, rdata: &[u8]) {
    out.extend_from_slice(owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// NXDOMAIN without an entry; owner names compressed to the question (offset 12).
fn response(id: u16, question: &[u8], entry: Option<&Entry>) -> Vec<u8> {
    let (rcode, count) = match entry {
        None => (3u16, 0u16),
        Some(Entry::Ptr(_)) => (0, 1),
        Some(Entry::Cname { .. }) => (0, 2),
    };
    let mut out = Vec::new();
    for word in [id, 0x8180 | rcode, 1, count, 0, 0] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(question);
    match entry {
        None => {}
        Some(Entry::Ptr(name)) => record(&mut out, &[0xc0, 12], 12, &encode_name(name)),
        Some(Entry::Cname { alias, name }) => {
            let alias_at = out.len() + 12;
            record(&mut out, &[0xc0, 12], 5, &encode_name(alias));
            let owner = [0xc0, alias_at as u8];
            record(&mut out, &owner, 12, &encode_name(name));
        }
    }
    out
}

fn reverse_name(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let hex: String = v6.octets().iter().map(|o| format!("{o:02x}")).collect();
            let nibbles: Vec<String> = hex.chars().rev().map(String::from).collect();
            format!("{}.ip6.arpa", nibbles.join("."))
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn config(servers: &[SocketAddr], timeout_ms: u64, tries: u32) -> ResolverConfig {
    let mut cfg = ResolverConfig::new(servers.to_vec());
    cfg.timeout = Duration::from_millis(timeout_ms);
    cfg.tries = tries;
    cfg
}

/// A socket that receives queries and never reads or answers them.
fn black_hole() -> (UdpSocket, SocketAddr) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    (sock, addr)
}

fn outcome_of(got: &Lookups, addr: IpAddr) -> &Outcome {
    &got.results.iter().find(|r| r.addr == addr).unwrap().outcome
}

#[test]
fn names_from_table_nxdomain_otherwise_forgeries_counted() {
    let mut b = Behaviour {
        wrong_id_first: true,
        other_port_first: true,
        garbage_first: true,
        ..Behaviour::default()
    };
    let one = ip("198.18.0.1");
    let two = ip("198.18.0.2");
    let six = ip("2001:db8::1");
    b.table
        .insert(reverse_name(one), Entry::Ptr("one.example".into()));
    b.table.insert(
        reverse_name(two),
        Entry::Cname {
            alias: "2.0/25.0.18.198.in-addr.arpa".into(),
            name: "two.example".into(),
        },
    );
    b.table
        .insert(reverse_name(six), Entry::Ptr("six.example".into()));
    let server = FakeServer::start("127.0.0.1:0", b).unwrap();
    let addrs = [one, two, six, ip("198.18.0.99"), ip("2001:db8::99")];
    let got = reverse_lookup_all(&config(&[server.addr], 3000, 2), &addrs).unwrap();
    let report = server.stop();

    assert_eq!(got.results.len(), 5);
    assert_eq!(outcome_of(&got, one).name(), Some("one.example"));
    assert_eq!(outcome_of(&got, two).name(), Some("two.example"));
    assert_eq!(outcome_of(&got, six).name(), Some("six.example"));
    assert_eq!(*outcome_of(&got, addrs[3]), Outcome::NxDomain);
    assert_eq!(*outcome_of(&got, addrs[4]), Outcome::NxDomain);
    assert_eq!(report.queries, 5);
    assert_eq!(got.stats.accepted, 5);
    assert_eq!(got.stats.forged as usize, report.forged_sent);
    assert_eq!(report.forged_sent, 10);
    assert_eq!(got.stats.malformed as usize, report.garbage_sent);
    assert_eq!(got.names()[0], (one, Some("one.example".to_string())));
}

#[test]
fn five_hundred_addresses_never_more_than_fifty_outstanding() {
    let mut b = Behaviour {
        delay: Duration::from_millis(5),
        ..Behaviour::default()
    };
    let addrs: Vec<IpAddr> = (0u32..500)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i)))
        .collect();
    let names: Vec<String> = (0..500).map(|i| format!("host-{i}.example")).collect();
    for (addr, name) in addrs.iter().zip(&names) {
        b.table
            .insert(reverse_name(*addr), Entry::Ptr(name.clone()));
    }
    let server = FakeServer::start("127.0.0.1:0", b).unwrap();
    let mut cfg = config(&[server.addr], 5000, 2);
    cfg.max_in_flight = 50;
    let got = reverse_lookup_all(&cfg, &addrs).unwrap();
    let report = server.stop();

    for ((r, addr), name) in got.results.iter().zip(&addrs).zip(&names) {
        assert_eq!(r.addr, *addr);
        assert_eq!(r.outcome.name(), Some(name.as_str()));
    }
    assert_eq!(report.queries, 500);
    assert!(
        report.peak_unanswered <= 50,
        "peak {}",
        report.peak_unanswered
    );
    assert!(
        report.peak_unanswered >= 10,
        "peak {}",
        report.peak_unanswered
    );
}

#[test]
fn black_hole_costs_at_most_tries_times_timeout() {
    let (_hole, addr) = black_hole();
    let addrs: Vec<IpAddr> = (0u32..30)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0xc612_0100 + i)))
        .collect();
    let start = Instant::now();
    let got = reverse_lookup_all(&config(&[addr], 200, 2), &addrs).unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    // Generous against a loaded machine; one wait per address would take 12 s.
    assert!(elapsed < Duration::from_millis(400 + 1500), "{elapsed:?}");
    assert!(got.results.iter().all(|r| r.outcome == Outcome::TimedOut));
    assert_eq!(got.stats.timeouts, 60);
    assert_eq!(got.stats.queries_sent, 60);
}

#[test]
fn second_server_answers_when_first_never_does() {
    let (_hole, hole) = black_hole();
    let mut b = Behaviour::default();
    let addrs = [ip("198.18.1.1"), ip("198.18.1.2"), ip("2001:db8::1:2")];
    for (addr, name) in addrs.iter().zip(["a.example", "b.example", "c.example"]) {
        b.table.insert(reverse_name(*addr), Entry::Ptr(name.into()));
    }
    let server = FakeServer::start("127.0.0.1:0", b).unwrap();
    let got = reverse_lookup_all(&config(&[hole, server.addr], 300, 2), &addrs).unwrap();
    let report = server.stop();
    let names: Vec<Option<&str>> = got.results.iter().map(|r| r.outcome.name()).collect();
    assert_eq!(
        names,
        vec![Some("a.example"), Some("b.example"), Some("c.example")]
    );
    assert_eq!(report.queries, 3);
    assert_eq!(got.stats.timeouts, 3);
}

#[test]
fn overall_deadline_bounds_the_whole_call() {
    let (_hole, addr) = black_hole();
    let addrs: Vec<IpAddr> = (0u32..200)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0xc612_0200 + i)))
        .collect();
    let mut cfg = config(&[addr], 1000, 3);
    cfg.max_in_flight = 10;
    cfg.overall_deadline = Some(Duration::from_millis(300));
    let start = Instant::now();
    let got = reverse_lookup_all(&cfg, &addrs).unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(300 + 1500), "{elapsed:?}");
    assert_eq!(got.results.len(), 200);
    assert!(got.results.iter().all(|r| r.outcome == Outcome::TimedOut));
    assert_eq!(got.stats.queries_sent, 10);
}

#[test]
fn ipv6_server_on_loopback() {
    let mut b = Behaviour::default();
    let addr = ip("2001:db8::53");
    b.table
        .insert(reverse_name(addr), Entry::Ptr("v6.example".into()));
    let Ok(server) = FakeServer::start("[::1]:0", b) else {
        eprintln!("skipped: ::1 is not available");
        return;
    };
    let got = reverse_lookup_all(&config(&[server.addr], 3000, 1), &[addr]).unwrap();
    let report = server.stop();
    assert_eq!(got.results[0].outcome.name(), Some("v6.example"));
    assert_eq!(report.queries, 1);
}

#[test]
fn empty_input_sends_nothing() {
    let (_hole, addr) = black_hole();
    let got = reverse_lookup_all(&config(&[addr], 1000, 1), &[]).unwrap();
    assert!(got.results.is_empty());
    assert_eq!(got.stats.queries_sent, 0);
}
