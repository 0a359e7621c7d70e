//! Host discovery against a simulated network on a virtual clock.
//!
//! Simulated hosts answer as a Linux stack does: ARP from on-link hosts,
//! echo and timestamp replies unless filtered, SYN-ACK from open TCP ports
//! and RST from closed ones; a router answers for unreachable hosts with
//! ICMP host-unreachable when told to. Links can lose packets.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use portolan_engine::probe::flags;
use portolan_engine::timing::TimingParams;
use portolan_engine::{
    Answer, AnswerKind, Discovered, Discovery, DiscoveryConfig, DiscoveryTarget, PingProbe,
    ProbeKind, Transmit,
};
use portolan_model::{Protocol, Reason};
use portolan_targets::Target;
use portolan_wire::ping::{emit_icmp, IcmpProbe};
use portolan_wire::probe::IpParams;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const BASE_PORT: u16 = 45_000;
const KEY: (u64, u64) = (0x0123_4567, 0x89AB_CDEF);
const SCANNER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);
const MAC: [u8; 6] = [0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c];

#[derive(Clone, Default)]
struct Host {
    on_link: bool,
    /// Answers ARP (every on-link host that exists does).
    arp: bool,
    /// Answers ICMP echo / timestamp requests.
    echo: bool,
    timestamp: bool,
    tcp_open: HashSet<u16>,
    /// Answers RST from closed TCP ports (else drops TCP).
    tcp_rst: bool,
    /// The router answers probes to it with host-unreachable.
    router_refuses: bool,
}

struct Net {
    hosts: HashMap<IpAddr, Host>,
    rtt: Duration,
    loss_pct: u64,
    rng: u64,
    /// Replies with a wrong ICMP identifier, sent alongside real ones.
    forge: bool,
}

enum Reply {
    Bytes(Vec<u8>),
    Answer(Answer, IpAddr),
}

impl Net {
    fn lost(&mut self) -> bool {
        // xorshift: deterministic loss.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % 100 < self.loss_pct
    }

    fn replies(&mut self, dst: IpAddr, kind: &ProbeKind) -> Vec<Reply> {
        if self.lost() || self.lost() {
            return Vec::new();
        }
        let Some(h) = self.hosts.get(&dst).cloned() else {
            return Vec::new();
        };
        let IpAddr::V4(d4) = dst else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match kind {
            ProbeKind::Neighbor if h.on_link && h.arp => {
                let mut b = vec![0u8; 28];
                portolan_wire::arp::Repr {
                    operation: portolan_wire::arp::Operation::Reply,
                    sender_mac: MAC,
                    sender_ip: d4,
                    target_mac: [2, 0, 0, 0, 0, 1],
                    target_ip: SCANNER,
                }
                .emit(&mut b);
                out.push(Reply::Bytes(b));
            }
            ProbeKind::Icmp(p) => {
                let answers = match p.kind.reply_type(false) {
                    Some(0) => h.echo,
                    Some(14) => h.timestamp,
                    _ => false,
                };
                if answers {
                    // A forgery racing ahead of the real reply.
                    if self.forge {
                        out.push(Reply::Bytes(icmp_reply(dst, p, p.ident ^ 0x5a5a)));
                    }
                    out.push(Reply::Bytes(icmp_reply(dst, p, p.ident)));
                }
            }
            ProbeKind::Tcp(t) => {
                let ans = |flags_out: u8, seq: u32, ack: u32| Answer {
                    host: dst,
                    protocol: Protocol::Tcp,
                    port: t.dport,
                    our_port: t.sport,
                    ttl: 63,
                    kind: AnswerKind::Tcp {
                        seq,
                        ack,
                        flags: flags_out,
                        window: 0,
                    },
                };
                if h.router_refuses {
                    let a = Answer {
                        host: dst,
                        protocol: Protocol::Tcp,
                        port: t.dport,
                        our_port: t.sport,
                        ttl: 64,
                        kind: AnswerKind::Unreach {
                            v6: false,
                            code: 1,
                            quoted_seq: Some(t.seq),
                        },
                    };
                    out.push(Reply::Answer(a, IpAddr::V4(ROUTER)));
                } else if t.flags & flags::SYN != 0 && h.tcp_open.contains(&t.dport) {
                    let a = ans(flags::SYN | flags::ACK, 77, t.seq.wrapping_add(1));
                    out.push(Reply::Answer(a, dst));
                } else if h.tcp_rst {
                    let a = if t.flags & flags::ACK != 0 {
                        ans(flags::RST, t.ack, 0)
                    } else {
                        ans(flags::RST | flags::ACK, 0, t.seq.wrapping_add(1))
                    };
                    out.push(Reply::Answer(a, dst));
                }
            }
            _ => {}
        }
        out
    }
}

fn icmp_reply(from: IpAddr, p: &IcmpProbe, ident: u16) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    let ip = IpParams {
        src: from,
        dst: IpAddr::V4(SCANNER),
        ttl: 63,
        ip_id: 1,
    };
    let probe = IcmpProbe { ident, ..*p };
    let n = emit_icmp(&mut buf, &ip, &probe).unwrap();
    buf.truncate(n);
    buf[20] = p.kind.reply_type(false).unwrap();
    buf
}

fn config(probes: &[PingProbe]) -> DiscoveryConfig {
    DiscoveryConfig {
        timing: TimingParams::template(4),
        min_rate: None,
        max_rate: None,
        key: KEY,
        base_port: BASE_PORT,
        probes: probes.to_vec(),
        neighbor: true,
        max_hosts: 4096,
        assume_up: false,
    }
}

struct Outcome {
    found: BTreeMap<IpAddr, Discovered>,
    elapsed: Duration,
    sent: u64,
    forged: u64,
}

fn run(net: &mut Net, cfg: DiscoveryConfig, targets: Vec<DiscoveryTarget>) -> Outcome {
    let start = Instant::now();
    let mut now = start;
    let n = targets.len();
    let mut d = Discovery::new(cfg, Box::new(targets.into_iter()));
    let mut queue: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut pending: HashMap<u64, Reply> = HashMap::new();
    let mut seq = 0u64;
    let mut found = BTreeMap::new();
    for _ in 0..50_000_000u64 {
        while let Some(t) = d.poll_transmit(now) {
            let Transmit::Probe(p) = t else {
                panic!("raw discovery asked for {t:?}");
            };
            for r in net.replies(p.dst, &p.kind) {
                queue.push(Reverse((now + net.rtt, seq)));
                pending.insert(seq, r);
                seq += 1;
            }
        }
        while let Some(e) = d.poll_event() {
            found.insert(e.target.addr, e);
        }
        if d.is_finished() {
            assert_eq!(found.len(), n, "every target gets a verdict");
            let p = d.progress();
            return Outcome {
                found,
                elapsed: now - start,
                sent: p.probes_sent,
                forged: p.forged,
            };
        }
        let next_reply = queue.peek().map(|Reverse((t, _))| *t);
        let next = [next_reply, d.poll_timeout()].into_iter().flatten().min();
        now = next
            .expect("an unfinished discovery has a timer or a reply due")
            .max(now);
        while let Some(Reverse((t, id))) = queue.peek().copied() {
            if t > now {
                break;
            }
            queue.pop();
            match pending.remove(&id).unwrap() {
                Reply::Bytes(b) => d.handle_packet(now, &b),
                Reply::Answer(a, from) => d.handle_answer(now, &a, from),
            }
        }
        d.handle_timeout(now);
    }
    panic!("discovery did not finish");
}

fn target(addr: IpAddr, on_link: bool) -> DiscoveryTarget {
    DiscoveryTarget {
        target: Target {
            addr,
            hostname: None,
        },
        on_link,
        local: addr == IpAddr::V4(SCANNER),
    }
}

fn v4(c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, c, d))
}

/// The lab of the issue: on-link hosts (one dropping all IP), routed hosts
/// answering one probe each, an empty address, and one the router refuses.
fn lab() -> (Net, Vec<DiscoveryTarget>) {
    let mut hosts = HashMap::new();
    let ordinary = Host {
        echo: true,
        timestamp: true,
        tcp_rst: true,
        ..Host::default()
    };
    hosts.insert(
        v4(0, 11),
        Host {
            on_link: true,
            arp: true,
            ..ordinary.clone()
        },
    );
    // Drops every IP packet: only ARP finds it.
    hosts.insert(
        v4(0, 12),
        Host {
            on_link: true,
            arp: true,
            ..Host::default()
        },
    );
    hosts.insert(v4(1, 14), ordinary.clone());
    hosts.insert(
        v4(1, 15),
        Host {
            tcp_open: [443].into(),
            ..Host::default()
        },
    );
    hosts.insert(
        v4(1, 16),
        Host {
            timestamp: true,
            ..Host::default()
        },
    );
    hosts.insert(
        v4(1, 17),
        Host {
            router_refuses: true,
            ..Host::default()
        },
    );
    let net = Net {
        hosts,
        rtt: Duration::from_millis(2),
        loss_pct: 0,
        rng: 0x9e37_79b9_7f4a_7c15,
        forge: false,
    };
    let mut targets = vec![target(IpAddr::V4(SCANNER), true)];
    for d in [11, 12, 13] {
        targets.push(target(v4(0, d), true));
    }
    for d in [14, 15, 16, 17, 18] {
        targets.push(target(v4(1, d), false));
    }
    (net, targets)
}

fn verdict(o: &Outcome, addr: IpAddr) -> (bool, Reason, Option<u8>) {
    let d = &o.found[&addr];
    (d.up, d.reason, d.ttl)
}

#[test]
fn default_probes_find_each_kind_of_host_with_its_reason() {
    let (mut net, targets) = lab();
    let o = run(&mut net, config(&PingProbe::RAW_DEFAULT), targets);
    assert_eq!(
        verdict(&o, IpAddr::V4(SCANNER)),
        (true, Reason::Localhost, Some(0))
    );
    assert_eq!(verdict(&o, v4(0, 11)), (true, Reason::ArpResponse, None));
    assert_eq!(o.found[&v4(0, 11)].mac, Some(MAC));
    assert_eq!(verdict(&o, v4(0, 12)), (true, Reason::ArpResponse, None));
    assert_eq!(verdict(&o, v4(0, 13)), (false, Reason::NoResponse, None));
    assert_eq!(verdict(&o, v4(1, 14)), (true, Reason::EchoReply, Some(63)));
    assert_eq!(verdict(&o, v4(1, 15)), (true, Reason::SynAck, Some(63)));
    assert_eq!(o.found[&v4(1, 15)].probe, Some(PingProbe::Syn(443)));
    assert_eq!(o.found[&v4(0, 11)].probe, Some(PingProbe::Neighbor));
    assert_eq!(
        verdict(&o, v4(1, 16)),
        (true, Reason::TimestampReply, Some(63))
    );
    assert_eq!(
        verdict(&o, v4(1, 17)),
        (false, Reason::HostUnreach, Some(64))
    );
    assert_eq!(verdict(&o, v4(1, 18)), (false, Reason::NoResponse, None));
    assert!(o.found[&v4(1, 14)].mac.is_none());
    // Down hosts cost their tries and timeouts, not more.
    assert!(o.elapsed < Duration::from_secs(3), "{:?}", o.elapsed);
}

#[test]
fn without_neighbor_discovery_on_link_hosts_need_ip_answers() {
    let (mut net, targets) = lab();
    let mut cfg = config(&PingProbe::RAW_DEFAULT);
    cfg.neighbor = false;
    let o = run(&mut net, cfg, targets);
    assert_eq!(verdict(&o, v4(0, 11)), (true, Reason::EchoReply, Some(63)));
    assert!(o.found[&v4(0, 11)].mac.is_none());
    assert_eq!(verdict(&o, v4(0, 12)), (false, Reason::NoResponse, None));
}

#[test]
fn skipping_discovery_still_asks_the_link() {
    // -Pn: off-link targets are up unasked; on-link ones answer ARP or are down.
    let (mut net, targets) = lab();
    let mut cfg = config(&[]);
    cfg.assume_up = true;
    let o = run(&mut net, cfg, targets);
    assert_eq!(verdict(&o, v4(0, 11)), (true, Reason::ArpResponse, None));
    assert_eq!(verdict(&o, v4(0, 13)), (false, Reason::NoResponse, None));
    for d in [14, 16, 18] {
        assert_eq!(verdict(&o, v4(1, d)), (true, Reason::UserSet, None));
    }
    assert_eq!(
        o.sent,
        3 + 2,
        "two ARP requests answered, three to the empty address"
    );
}

#[test]
fn single_probe_kinds_find_only_what_answers_them() {
    let (mut net, targets) = lab();
    let mut cfg = config(&[PingProbe::Icmp(portolan_wire::ping::PingKind::Echo)]);
    cfg.neighbor = false;
    let o = run(&mut net, cfg, targets.clone());
    let up: Vec<IpAddr> = o
        .found
        .values()
        .filter(|d| d.up)
        .map(|d| d.target.addr)
        .collect();
    assert_eq!(up, vec![IpAddr::V4(SCANNER), v4(0, 11), v4(1, 14)]);
    let mut cfg = config(&[PingProbe::Syn(443)]);
    cfg.neighbor = false;
    let o = run(&mut net, cfg, targets.clone());
    assert_eq!(verdict(&o, v4(1, 15)), (true, Reason::SynAck, Some(63)));
    assert_eq!(verdict(&o, v4(1, 14)), (true, Reason::Reset, Some(63)));
    assert_eq!(verdict(&o, v4(1, 16)), (false, Reason::NoResponse, None));
    let mut cfg = config(&[PingProbe::Ack(80)]);
    cfg.neighbor = false;
    let o = run(&mut net, cfg, targets);
    assert_eq!(verdict(&o, v4(1, 14)), (true, Reason::Reset, Some(63)));
    assert_eq!(verdict(&o, v4(1, 15)), (false, Reason::NoResponse, None));
}

#[test]
fn forged_icmp_replies_are_counted_and_change_nothing() {
    let (mut net, targets) = lab();
    net.forge = true;
    let mut cfg = config(&[PingProbe::Icmp(portolan_wire::ping::PingKind::Echo)]);
    cfg.neighbor = false;
    let o = run(&mut net, cfg, targets);
    assert!(o.forged > 0);
    assert_eq!(verdict(&o, v4(1, 14)), (true, Reason::EchoReply, Some(63)));
    assert_eq!(verdict(&o, v4(1, 16)), (false, Reason::NoResponse, None));
}

/// A /16 beyond a router with a few live hosts: found, and quickly, in a
/// bounded number of probes (four kinds, two tries each at most).
#[test]
fn sparse_slash_16_is_fast_and_exact() {
    let live: Vec<IpAddr> = [(3, 7), (77, 200), (140, 1), (201, 99), (255, 254)]
        .iter()
        .map(|&(c, d)| IpAddr::V4(Ipv4Addr::new(198, 19, c, d)))
        .collect();
    let hosts = live
        .iter()
        .map(|a| {
            (
                *a,
                Host {
                    echo: true,
                    ..Host::default()
                },
            )
        })
        .collect();
    let mut net = Net {
        hosts,
        rtt: Duration::from_millis(1),
        loss_pct: 0,
        rng: 7,
        forge: false,
    };
    let targets: Vec<DiscoveryTarget> = (0..=u16::MAX)
        .map(|i| {
            let [c, d] = i.to_be_bytes();
            target(IpAddr::V4(Ipv4Addr::new(198, 19, c, d)), false)
        })
        .collect();
    let o = run(&mut net, config(&PingProbe::RAW_DEFAULT), targets);
    let up: Vec<IpAddr> = o
        .found
        .values()
        .filter(|d| d.up)
        .map(|d| d.target.addr)
        .collect();
    assert_eq!(up, live);
    eprintln!("/16: {:?} virtual, {} probes", o.elapsed, o.sent);
    assert!(o.sent <= 65_536 * 8, "{} probes", o.sent);
    assert!(o.elapsed < Duration::from_secs(60), "{:?}", o.elapsed);
}

/// 10 % loss each way: every live host is still found (several probe kinds
/// and a retry each), and no empty address is called up.
#[test]
fn lossy_path_still_finds_its_hosts() {
    let live: Vec<IpAddr> = (1..=200u8).map(|d| v4(2, d)).collect();
    let hosts = live
        .iter()
        .map(|a| {
            (
                *a,
                Host {
                    echo: true,
                    timestamp: true,
                    tcp_rst: true,
                    ..Host::default()
                },
            )
        })
        .collect();
    let mut net = Net {
        hosts,
        rtt: Duration::from_millis(3),
        loss_pct: 10,
        rng: 0x1234_5678,
        forge: false,
    };
    let targets: Vec<DiscoveryTarget> = (0..=255u8)
        .flat_map(|c| [v4(2, c), v4(3, c)])
        .map(|a| target(a, false))
        .collect();
    let o = run(&mut net, config(&PingProbe::RAW_DEFAULT), targets);
    let up: HashSet<IpAddr> = o
        .found
        .values()
        .filter(|d| d.up)
        .map(|d| d.target.addr)
        .collect();
    assert_eq!(up, live.into_iter().collect::<HashSet<_>>());
}

/// An ARP sweep of a /24 with a few hosts: once the first answer shows the
/// real round trip, the empty addresses' tries wait that, not the initial
/// one-second guess.
#[test]
fn arp_sweep_of_a_segment_waits_the_measured_round_trip() {
    let live: Vec<IpAddr> = [11, 57, 103, 160, 222].iter().map(|d| v4(64, *d)).collect();
    let hosts = live
        .iter()
        .map(|a| {
            let h = Host {
                on_link: true,
                arp: true,
                ..Host::default()
            };
            (*a, h)
        })
        .collect();
    let mut net = Net {
        hosts,
        rtt: Duration::from_micros(200),
        loss_pct: 0,
        rng: 3,
        forge: false,
    };
    let targets: Vec<DiscoveryTarget> = (0..=255u8).map(|d| target(v4(64, d), true)).collect();
    let o = run(&mut net, config(&PingProbe::RAW_DEFAULT), targets);
    let up: Vec<IpAddr> = o
        .found
        .values()
        .filter(|d| d.up)
        .map(|d| d.target.addr)
        .collect();
    assert_eq!(up, live);
    // Three tries of the minimum timeout (100 ms), not of the initial 500 ms.
    assert!(o.elapsed < Duration::from_millis(450), "{:?}", o.elapsed);
}
