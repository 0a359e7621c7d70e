//! The traceroute engine against a simulated network on a virtual clock.
//!
//! Each simulated route is a list of routers and then the host. Probes are
//! built into real packets with the wire crate's emitters, as the driver
//! builds them; a probe whose TTL runs out at a router draws an ICMP time
//! exceeded quoting it (or nothing, from a silent router), and one that
//! reaches the host draws the host's usual answer. Replies are real packets
//! too, fed back through `handle_packet`. Every hop adds the same delay each
//! way, so round trips are exact. Forgers answer with the right addresses and
//! ports but without the key.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use portolan_engine::trace::{
    TraceConfig, TraceMethod, TraceProbe, TraceStats, TraceTarget, Tracer,
};
use portolan_engine::ProbeKind;
use portolan_model::{Trace, TraceHop, TraceProto};
use portolan_wire::ping::emit_icmp;
use portolan_wire::probe::{emit_tcp, emit_udp, tcp_flags, IpParams, TcpProbe};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const KEY: (u64, u64) = (0x5eed_0001, 0x5eed_0002);
const BASE_PORT: u16 = 47_000;
/// Delay each hop adds, each way.
const HOP_DELAY: Duration = Duration::from_micros(50);
const US4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// Where forged replies claim to come from.
const FORGER: Ipv4Addr = Ipv4Addr::new(198, 19, 66, 66);

fn v4(a: u8, b: u8, c: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18 + a, b, c))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

fn us(dst: IpAddr) -> IpAddr {
    match dst {
        IpAddr::V4(_) => IpAddr::V4(US4),
        IpAddr::V6(_) => IpAddr::V6(US6),
    }
}

/// One router on a route.
#[derive(Debug, Clone, Copy)]
struct Router {
    /// `None`: drops expiring packets without a word.
    addr: Option<IpAddr>,
    /// Drops the first probe that expires here, answers the next ones.
    lossy: bool,
    /// Answers "administratively prohibited" instead of forwarding.
    refuses: bool,
}

fn router(addr: IpAddr) -> Router {
    Router {
        addr: Some(addr),
        lossy: false,
        refuses: false,
    }
}

const SILENT: Router = Router {
    addr: None,
    lossy: false,
    refuses: false,
};

/// A route to a host: routers at TTL 1, 2, ..., then the host.
#[derive(Debug, Clone)]
struct Route {
    routers: Vec<Router>,
    /// The host drops every probe.
    host_silent: bool,
}

fn route(routers: Vec<Router>) -> Route {
    Route {
        routers,
        host_silent: false,
    }
}

#[derive(Default)]
struct Net {
    routes: HashMap<IpAddr, Route>,
    /// Probes that expired at each (host, TTL) so far.
    expired: HashMap<(IpAddr, u8), u32>,
    forge: bool,
    duplicate: bool,
    /// Forged replies sent, by kind.
    forged_sent: u64,
    forged_stray_sent: u64,
}

/// Builds the probe as the driver would: wire emitters, our address as source.
fn probe_bytes(p: &TraceProbe) -> Vec<u8> {
    let ip = IpParams {
        src: us(p.dst),
        dst: p.dst,
        ttl: p.ttl,
        ip_id: p.ip_id,
    };
    let mut buf = [0u8; 1500];
    let len = match p.kind {
        ProbeKind::Tcp(t) => emit_tcp(&mut buf, &ip, &t),
        ProbeKind::Udp(u) => emit_udp(&mut buf, &ip, &u),
        ProbeKind::Icmp(i) => emit_icmp(&mut buf, &ip, &i),
        ProbeKind::Neighbor => panic!("a trace asked for neighbour discovery"),
    }
    .unwrap();
    buf[..len].to_vec()
}

/// An IP packet; `proto` is the IPv4 protocol or IPv6 next header.
fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + payload.len()) as u16;
            let mut p = vec![0x45, 0];
            p.extend(total.to_be_bytes());
            p.extend([0, 0, 0x40, 0, 60, proto, 0, 0]);
            p.extend(s.octets());
            p.extend(d.octets());
            p.extend_from_slice(payload);
            p
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut p = vec![0x60, 0, 0, 0];
            p.extend((payload.len() as u16).to_be_bytes());
            p.extend([proto, 60]);
            p.extend(s.octets());
            p.extend(d.octets());
            p.extend_from_slice(payload);
            p
        }
        _ => panic!("mixed families"),
    }
}

/// An ICMP(v6) error from `from` quoting `probe` (IPv4: header and 8 bytes,
/// RFC 792; IPv6: all of it, RFC 4443).
fn icmp_error(
    from: IpAddr,
    probe: &[u8],
    v4_type_code: (u8, u8),
    v6_type_code: (u8, u8),
) -> Vec<u8> {
    let v6 = from.is_ipv6();
    let (t, c) = if v6 { v6_type_code } else { v4_type_code };
    let mut m = vec![t, c, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(if v6 { probe } else { &probe[..28] });
    let dst = us(from);
    ip_packet(from, dst, if v6 { 58 } else { 1 }, &m)
}

fn time_exceeded(from: IpAddr, probe: &[u8]) -> Vec<u8> {
    icmp_error(from, probe, (11, 0), (3, 0))
}

/// The host's own answer to a probe that reached it.
fn host_answer(p: &TraceProbe, probe: &[u8]) -> Vec<u8> {
    let (host, to) = (p.dst, us(p.dst));
    match p.kind {
        ProbeKind::Tcp(t) => {
            let reply = if t.flags & tcp_flags::SYN != 0 {
                TcpProbe {
                    sport: t.dport,
                    dport: t.sport,
                    seq: 0x1234_5678,
                    ack: t.seq.wrapping_add(1),
                    flags: tcp_flags::SYN | tcp_flags::ACK,
                    window: 64_240,
                    mss: true,
                }
            } else {
                TcpProbe {
                    sport: t.dport,
                    dport: t.sport,
                    seq: t.ack,
                    ack: 0,
                    flags: tcp_flags::RST,
                    window: 0,
                    mss: false,
                }
            };
            let ip = IpParams {
                src: host,
                dst: to,
                ttl: 64,
                ip_id: 0,
            };
            let mut buf = [0u8; 128];
            let len = emit_tcp(&mut buf, &ip, &reply).unwrap();
            buf[..len].to_vec()
        }
        ProbeKind::Udp(_) => icmp_error(host, probe, (3, 3), (1, 4)),
        ProbeKind::Icmp(i) => {
            let echo_reply = if host.is_ipv6() { 129 } else { 0 };
            let mut m = vec![echo_reply, 0, 0, 0];
            m.extend(i.ident.to_be_bytes());
            m.extend(i.seq.to_be_bytes());
            ip_packet(host, to, if host.is_ipv6() { 58 } else { 1 }, &m)
        }
        ProbeKind::Neighbor => unreachable!(),
    }
}

impl Net {
    /// The replies a probe draws, with their arrival times.
    fn answer(&mut self, p: &TraceProbe, now: Instant) -> Vec<(Instant, Vec<u8>)> {
        let probe = probe_bytes(p);
        let mut out = Vec::new();
        if self.forge {
            out.extend(self.forgeries(p, &probe, now));
        }
        let route = self.routes.get(&p.dst).unwrap().clone();
        let hops = route.routers.len() as u32;
        let reply = if u32::from(p.ttl) <= hops {
            let r = route.routers[usize::from(p.ttl) - 1];
            let seen = self.expired.entry((p.dst, p.ttl)).or_insert(0);
            *seen += 1;
            match r.addr {
                None => None,
                Some(_) if r.lossy && *seen == 1 => None,
                Some(a) if r.refuses => Some(icmp_error(a, &probe, (3, 13), (1, 1))),
                Some(a) => Some(time_exceeded(a, &probe)),
            }
        } else if route.host_silent {
            None
        } else {
            Some(host_answer(p, &probe))
        };
        let distance = u32::from(p.ttl).min(hops + 1);
        let at = now + HOP_DELAY * 2 * distance;
        if let Some(reply) = reply {
            if self.duplicate {
                out.push((at + HOP_DELAY, reply.clone()));
            }
            out.push((at, reply));
        }
        out
    }

    /// Replies a forger on the path sends before the real ones: the right
    /// addresses and ports, wrong keyed fields.
    fn forgeries(&mut self, p: &TraceProbe, probe: &[u8], now: Instant) -> Vec<(Instant, Vec<u8>)> {
        let early = now + Duration::from_micros(1);
        let forger = IpAddr::V4(FORGER);
        let mut bad = probe.to_vec();
        let mut out = Vec::new();
        match p.kind {
            ProbeKind::Tcp(t) => {
                bad[24] ^= 0x80; // the quoted sequence number
                out.push((early, time_exceeded(forger, &bad)));
                let mut answer = host_answer(p, probe);
                let ack_at = 20 + 8;
                answer[ack_at + 3] ^= 0x40; // the acknowledgement
                out.push((early, answer));
                assert_eq!(t.dport, 443);
                self.forged_sent += 2;
            }
            ProbeKind::Udp(_) => {
                bad[4] ^= 0x01; // the IPv4 identification
                out.push((early, time_exceeded(forger, &bad)));
                self.forged_sent += 1;
            }
            ProbeKind::Icmp(_) => {
                bad[24] ^= 0x01; // the echo identifier: someone else's ping
                out.push((early, time_exceeded(forger, &bad)));
                self.forged_stray_sent += 1;
            }
            ProbeKind::Neighbor => unreachable!(),
        }
        out
    }
}

struct Run {
    traces: BTreeMap<IpAddr, Trace>,
    sent: Vec<(Instant, TraceProbe)>,
    stats: TraceStats,
}

impl Run {
    fn sent_to(&self, dst: IpAddr) -> Vec<u8> {
        self.sent
            .iter()
            .filter(|(_, p)| p.dst == dst)
            .map(|(_, p)| p.ttl)
            .collect()
    }
}

#[allow(clippy::disallowed_methods)] // a base instant for the virtual clock
fn base() -> Instant {
    Instant::now()
}

type Queue = BinaryHeap<Reverse<(Instant, u64)>>;

/// Drives the tracer to the end; `watch` sees every burst of probes.
fn run_with(
    net: &mut Net,
    mut tracer: Tracer,
    mut watch: impl FnMut(Instant, &[(Instant, TraceProbe)]),
) -> Run {
    let start = base();
    let mut now = start;
    let mut queue: Queue = BinaryHeap::new();
    let mut packets: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut seq = 0u64;
    let mut run = Run {
        traces: BTreeMap::new(),
        sent: Vec::new(),
        stats: TraceStats::default(),
    };
    for _step in 0..100_000 {
        while let Some(p) = tracer.poll_transmit(now) {
            run.sent.push((now, p));
            for (at, bytes) in net.answer(&p, now) {
                seq += 1;
                packets.insert(seq, bytes);
                queue.push(Reverse((at, seq)));
            }
        }
        watch(now, &run.sent);
        while let Some((addr, trace)) = tracer.poll_event() {
            assert!(run.traces.insert(addr, trace).is_none(), "{addr} twice");
        }
        if tracer.is_finished() {
            run.stats = tracer.stats();
            return run;
        }
        let next = match (
            queue.peek().map(|Reverse((t, _))| *t),
            tracer.poll_timeout(),
        ) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).expect("the tracer stalled"),
        };
        assert!(
            next - start < Duration::from_secs(3600),
            "virtual time ran away"
        );
        now = now.max(next);
        while let Some(&Reverse((t, id))) = queue.peek() {
            if t > now {
                break;
            }
            queue.pop();
            tracer.handle_packet(now, &packets.remove(&id).unwrap());
        }
        tracer.handle_timeout(now);
    }
    panic!("the trace did not finish");
}

fn run(net: &mut Net, cfg: TraceConfig, targets: Vec<TraceTarget>) -> Run {
    run_with(net, Tracer::new(cfg, targets), |_, _| {})
}

fn config() -> TraceConfig {
    TraceConfig {
        timeout: Duration::from_millis(100),
        per_host: 8,
        ..TraceConfig::new(KEY, BASE_PORT)
    }
}

fn target(addr: IpAddr, method: TraceMethod, reply_ttl: Option<u8>) -> TraceTarget {
    TraceTarget {
        addr,
        method,
        reply_ttl,
        timeout: None,
    }
}

/// A hop that answered after `hops` hops each way.
fn hop(ttl: u8, addr: IpAddr, hops: u32) -> TraceHop {
    TraceHop {
        ttl,
        addr: Some(addr),
        rtt_us: Some((HOP_DELAY * 2 * hops).as_micros() as u64),
        host: None,
    }
}

/// 198.19.5.5 behind three routers, the second silent.
fn silent_router_net() -> (Net, IpAddr) {
    let host = v4(1, 5, 5);
    let mut net = Net::default();
    net.routes.insert(
        host,
        route(vec![router(v4(0, 0, 254)), SILENT, router(v4(1, 0, 1))]),
    );
    (net, host)
}

fn silent_router_trace(host: IpAddr) -> Trace {
    Trace {
        proto: Some(TraceProto::Tcp),
        port: Some(443),
        hops: vec![
            hop(1, v4(0, 0, 254), 1),
            TraceHop::silent(2),
            hop(3, v4(1, 0, 1), 3),
            hop(4, host, 4),
        ],
    }
}

#[test]
fn a_path_with_a_silent_router_is_traced_to_the_host() {
    let (mut net, host) = silent_router_net();
    let r = run(
        &mut net,
        config(),
        vec![target(host, TraceMethod::Syn(443), None)],
    );
    assert_eq!(r.traces[&host], silent_router_trace(host));
    // TTLs 1 to 8 go out at once, 9 and 10 as the routers at TTL 1 and 3
    // answer, none after the host answered; the silent TTL 2 is tried once
    // more.
    let mut ttls = r.sent_to(host);
    ttls.sort_unstable();
    assert_eq!(ttls, [1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(r.stats.retransmissions, 1);
    assert_eq!((r.stats.forged, r.stats.malformed), (0, 0));
}

#[test]
fn a_guessed_distance_goes_first_and_nothing_is_sent_past_the_host() {
    let (mut net, host) = silent_router_net();
    // A reply that left the host with TTL 64 and arrived with 61: 4 hops.
    let r = run(
        &mut net,
        config(),
        vec![target(host, TraceMethod::Syn(443), Some(61))],
    );
    assert_eq!(r.traces[&host], silent_router_trace(host));
    assert_eq!(r.sent_to(host), [4, 3, 2, 1, 2]);
}

#[test]
fn a_short_guess_goes_on_upward_and_a_long_one_ends_where_the_host_answers() {
    for reply_ttl in [63, 57, 250] {
        let (mut net, host) = silent_router_net();
        let r = run(
            &mut net,
            config(),
            vec![target(host, TraceMethod::Syn(443), Some(reply_ttl))],
        );
        assert_eq!(
            r.traces[&host],
            silent_router_trace(host),
            "ttl {reply_ttl}"
        );
    }
    let (mut net, host) = silent_router_net();
    let r = run(
        &mut net,
        config(),
        vec![target(host, TraceMethod::Syn(443), Some(63))],
    );
    assert_eq!(r.sent_to(host)[..3], [2, 1, 2], "the guess, then below it");
}

#[test]
fn a_directly_attached_host_is_one_hop() {
    let host = v4(0, 0, 11);
    let mut net = Net::default();
    net.routes.insert(host, route(vec![]));
    for reply_ttl in [None, Some(64)] {
        let r = run(
            &mut net,
            config(),
            vec![target(host, TraceMethod::Echo, reply_ttl)],
        );
        let expected = Trace {
            proto: Some(TraceProto::Icmp),
            port: None,
            hops: vec![hop(1, host, 1)],
        };
        assert_eq!(r.traces[&host], expected);
        if reply_ttl.is_some() {
            assert_eq!(r.sent_to(host), [1], "the guess was right: one probe");
        }
    }
}

#[test]
fn an_on_link_host_is_reported_without_sending_anything() {
    let host = v4(0, 0, 11);
    let method = TraceMethod::OnLink {
        rtt: Some(Duration::from_micros(33)),
    };
    let r = run(
        &mut Net::default(),
        config(),
        vec![target(host, method, Some(64))],
    );
    assert!(r.sent.is_empty());
    let expected = Trace {
        proto: None,
        port: None,
        hops: vec![TraceHop {
            ttl: 1,
            addr: Some(host),
            rtt_us: Some(33),
            host: None,
        }],
    };
    assert_eq!(r.traces[&host], expected);
}

#[test]
fn a_lossy_hop_is_answered_on_its_retry_with_the_retrys_round_trip() {
    let host = v4(1, 7, 7);
    let lossy = Router {
        lossy: true,
        ..router(v4(0, 0, 253))
    };
    let mut net = Net::default();
    net.routes
        .insert(host, route(vec![router(v4(0, 0, 254)), lossy]));
    let r = run(
        &mut net,
        config(),
        vec![target(host, TraceMethod::Ack(80), None)],
    );
    let expected = Trace {
        proto: Some(TraceProto::Tcp),
        port: Some(80),
        hops: vec![
            hop(1, v4(0, 0, 254), 1),
            hop(2, v4(0, 0, 253), 2),
            hop(3, host, 3),
        ],
    };
    assert_eq!(r.traces[&host], expected, "not the first try's send time");
    assert_eq!(r.stats.retransmissions, 1);
    let twos: Vec<_> = r.sent.iter().filter(|(_, p)| p.ttl == 2).collect();
    assert_eq!(twos.len(), 2);
    assert_eq!(
        twos[1].0 - twos[0].0,
        config().timeout,
        "retried after the timeout"
    );
    assert_ne!(twos[0].1, twos[1].1, "each try carries its own identity");
}

#[test]
fn forged_replies_are_counted_and_ignored() {
    let tcp_host = v4(1, 5, 5);
    let udp_host = v4(1, 6, 6);
    let echo_host = v4(1, 8, 8);
    let path = || route(vec![router(v4(0, 0, 254)), router(v4(1, 0, 1))]);
    let mut net = Net {
        forge: true,
        ..Net::default()
    };
    for h in [tcp_host, udp_host, echo_host] {
        net.routes.insert(h, path());
    }
    let udp = TraceMethod::Udp {
        port: 33_434,
        payload: b"",
    };
    let targets = vec![
        target(tcp_host, TraceMethod::Syn(443), None),
        target(udp_host, udp, None),
        target(echo_host, TraceMethod::Echo, None),
    ];
    let r = run(&mut net, config(), targets);
    for (h, proto, port) in [
        (tcp_host, TraceProto::Tcp, Some(443)),
        (udp_host, TraceProto::Udp, Some(33_434)),
        (echo_host, TraceProto::Icmp, None),
    ] {
        let expected = Trace {
            proto: Some(proto),
            port,
            hops: vec![
                hop(1, v4(0, 0, 254), 1),
                hop(2, v4(1, 0, 1), 2),
                hop(3, h, 3),
            ],
        };
        assert_eq!(r.traces[&h], expected, "{h}: the forger is nowhere");
    }
    // Every forgery arrives before the real answers, while its host is
    // traced: those with a wrong key are forged, someone else's ping stray.
    assert!(net.forged_sent > 0 && net.forged_stray_sent > 0);
    assert_eq!(r.stats.forged, net.forged_sent, "{:?}", r.stats);
    assert!(r.stats.stray >= net.forged_stray_sent, "{:?}", r.stats);
    assert_eq!(
        r.stats.answers, 9,
        "two routers and the host, for each host"
    );
}

#[test]
fn a_udp_trace_ends_at_the_hosts_port_unreachable() {
    let host = v4(1, 6, 6);
    let mut net = Net::default();
    net.routes.insert(host, route(vec![router(v4(0, 0, 254))]));
    let udp = TraceMethod::Udp {
        port: 33_434,
        payload: b"\x00\x01",
    };
    let r = run(&mut net, config(), vec![target(host, udp, None)]);
    let expected = Trace {
        proto: Some(TraceProto::Udp),
        port: Some(33_434),
        hops: vec![hop(1, v4(0, 0, 254), 1), hop(2, host, 2)],
    };
    assert_eq!(r.traces[&host], expected);
}

#[test]
fn ipv6_routes_are_traced_with_icmpv6_and_udp() {
    let echo_host = v6(0x14);
    let udp_host = v6(0x15);
    let mut net = Net::default();
    for h in [echo_host, udp_host] {
        net.routes.insert(
            h,
            route(vec![router(v6(0xfffe)), SILENT, router(v6(0xfffd))]),
        );
    }
    let udp = TraceMethod::Udp {
        port: 53,
        payload: b"",
    };
    let r = run(
        &mut net,
        config(),
        vec![
            target(echo_host, TraceMethod::Echo, Some(61)),
            target(udp_host, udp, None),
        ],
    );
    for (h, proto, port) in [
        (echo_host, TraceProto::Icmp, None),
        (udp_host, TraceProto::Udp, Some(53)),
    ] {
        let expected = Trace {
            proto: Some(proto),
            port,
            hops: vec![
                hop(1, v6(0xfffe), 1),
                TraceHop::silent(2),
                hop(3, v6(0xfffd), 3),
                hop(4, h, 4),
            ],
        };
        assert_eq!(r.traces[&h], expected, "{h}");
    }
}

#[test]
fn a_router_refusing_the_probe_ends_the_trace_there() {
    let host = v4(1, 9, 9);
    let firewall = Router {
        refuses: true,
        ..router(v4(1, 0, 9))
    };
    let mut net = Net::default();
    net.routes.insert(
        host,
        route(vec![router(v4(0, 0, 254)), firewall, router(v4(1, 0, 10))]),
    );
    let r = run(
        &mut net,
        config(),
        vec![target(host, TraceMethod::Syn(22), None)],
    );
    let hops = &r.traces[&host].hops;
    assert_eq!(hops, &[hop(1, v4(0, 0, 254), 1), hop(2, v4(1, 0, 9), 2)]);
}

#[test]
fn duplicates_keep_the_first_answer_and_are_counted() {
    let (mut net, host) = silent_router_net();
    net.duplicate = true;
    let r = run(
        &mut net,
        config(),
        vec![target(host, TraceMethod::Syn(443), Some(61))],
    );
    assert_eq!(r.traces[&host], silent_router_trace(host));
    assert!(r.stats.duplicates > 0, "{:?}", r.stats);
}

/// Traces `n` hosts that never answer (nor does any router on the way) and
/// returns the run and the most TTLs in flight at once, overall and for one
/// host. A TTL is in flight from its first send until its second try times out.
fn trace_silent_hosts(n: u8, cfg: TraceConfig) -> (Run, Vec<IpAddr>, (usize, usize)) {
    let mut net = Net::default();
    let hosts: Vec<IpAddr> = (1..=n).map(|i| v4(1, 20, i)).collect();
    for &h in &hosts {
        let mut r = route(vec![]);
        r.host_silent = true;
        net.routes.insert(h, r);
    }
    let targets: Vec<_> = hosts
        .iter()
        .map(|&h| target(h, TraceMethod::Syn(443), None))
        .collect();
    let mut worst = (0usize, 0usize);
    let watch = |now: Instant, sent: &[(Instant, TraceProbe)]| {
        let mut last: HashMap<(IpAddr, u8), (Instant, u32)> = HashMap::new();
        for (at, p) in sent {
            let e = last.entry((p.dst, p.ttl)).or_insert((*at, 0));
            *e = (*at, e.1 + 1);
        }
        let live: Vec<IpAddr> = last
            .iter()
            .filter(|(_, (at, tries))| *tries < 2 || *at + cfg.timeout > now)
            .map(|(k, _)| k.0)
            .collect();
        let per_host = hosts
            .iter()
            .map(|h| live.iter().filter(|a| *a == h).count())
            .max()
            .unwrap_or(0);
        worst = (worst.0.max(live.len()), worst.1.max(per_host));
    };
    let r = run_with(&mut net, Tracer::new(cfg, targets), watch);
    (r, hosts, worst)
}

#[test]
fn probes_are_bounded_for_hosts_that_never_answer() {
    let cfg = TraceConfig {
        max_ttl: 30,
        per_host: 4,
        max_in_flight: 10,
        ..config()
    };
    let (r, hosts, worst) = trace_silent_hosts(5, cfg);
    assert_eq!(worst.0, 10, "the overall window is used and never exceeded");
    assert!(worst.1 <= 4, "{worst:?}");
    let twice: Vec<u8> = (1..=30).flat_map(|t| [t, t]).collect();
    for &h in &hosts {
        let mut ttls = r.sent_to(h);
        ttls.sort_unstable();
        assert_eq!(ttls, twice, "{h}: every TTL tried twice, no more");
        let trace = &r.traces[&h];
        assert_eq!(
            trace.hops,
            (1..=30).map(TraceHop::silent).collect::<Vec<_>>()
        );
    }
    assert_eq!(r.stats.probes_sent, 5 * 60);
    assert_eq!(r.stats.retransmissions, 5 * 30);

    let (r, _, worst) = trace_silent_hosts(2, cfg);
    assert_eq!(
        worst,
        (8, 4),
        "each host's window is used and never exceeded"
    );
    assert_eq!(r.stats.probes_sent, 2 * 60);
}

#[test]
fn malformed_and_unrelated_packets_are_counted_not_believed() {
    let host = v4(1, 5, 5);
    let mut tracer = Tracer::new(config(), [target(host, TraceMethod::Syn(443), None)]);
    let now = base();
    let first = tracer.poll_transmit(now).unwrap();
    for cut in 0..20 {
        tracer.handle_packet(now, &probe_bytes(&first)[..cut]);
    }
    // A time exceeded for a host we do not trace.
    let mut other = first;
    other.dst = v4(1, 99, 99);
    tracer.handle_packet(now, &time_exceeded(v4(0, 0, 254), &probe_bytes(&other)));
    let stats = tracer.stats();
    assert_eq!((stats.malformed, stats.stray, stats.answers), (20, 1, 0));
    assert!(tracer.poll_event().is_none());
}

proptest::proptest! {
    /// Hostile input: a genuine time exceeded with one byte changed, or cut
    /// short, never makes the tracer panic, and each packet lands in exactly
    /// one counter.
    #[test]
    fn a_damaged_reply_is_counted_once_and_never_panics(
        at in 0usize..200,
        xor in 1u8..=255,
        cut in 0usize..200,
    ) {
        let host = v4(1, 5, 5);
        let udp = TraceMethod::Udp { port: 33_434, payload: b"" };
        for method in [TraceMethod::Syn(443), udp, TraceMethod::Echo] {
            let mut tracer = Tracer::new(config(), [target(host, method, None)]);
            let now = base();
            let p = tracer.poll_transmit(now).unwrap();
            let mut reply = time_exceeded(v4(0, 0, 254), &probe_bytes(&p));
            if let Some(b) = reply.get_mut(at) {
                *b ^= xor;
            }
            reply.truncate(cut.max(1));
            tracer.handle_packet(now, &reply);
            let s = tracer.stats();
            proptest::prop_assert_eq!(s.malformed + s.stray + s.forged + s.answers + s.duplicates, 1);
        }
    }
}
