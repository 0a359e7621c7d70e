//! The raw-packet engine against a simulated network on a virtual clock.
//!
//! Simulated hosts answer probes the way a Linux stack does: SYN-ACK from
//! open TCP ports, RST from closed ones, ICMP errors from rejecting filters
//! and closed UDP ports, with the ICMP errors drawn from a per-host token
//! bucket (Linux: a burst of six, then one a second). Links lose packets,
//! replies can arrive late, twice, or forged.
//!
//! Debugging aids: `SIM_SEED=N` varies the scan key and the network's
//! randomness, `SIM_DEBUG=1` prints each run's virtual time and counters,
//! `SIM_TRACE=1` every probe sent.
#![allow(clippy::unwrap_used)]

use portolan_engine::probe::{flags, TRY_PORTS};
use portolan_engine::timing::TimingParams;
use portolan_engine::{
    Answer, AnswerKind, HostOutcome, ProbeKind, ProbeSpec, Progress, RawConfig, Scan, ScanConfig,
    ScanEvent, TcpScan, Transmit,
};
use portolan_model::{PortState, Protocol, Reason};
use portolan_targets::Target;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const BASE_PORT: u16 = 45_000;
const KEY: (u64, u64) = (0x0123_4567, 0x89AB_CDEF);

#[derive(Clone, Default)]
struct Host {
    tcp_open: HashSet<u16>,
    tcp_rejected: HashSet<u16>,
    tcp_dropped: HashSet<u16>,
    udp_open: HashSet<u16>,
    udp_dropped: HashSet<u16>,
    /// Answers SYN-ACK on every TCP port.
    syn_proxy: bool,
    rtt: Duration,
    /// Extra delay on every other reply (late answers).
    jitter: Duration,
    loss_per_mille: u32,
    /// ICMP token bucket: (burst, interval per token).
    icmp_limit: Option<(f64, Duration)>,
}

impl Host {
    fn tcp_truth(&self, scan: TcpScan, port: u16) -> (PortState, Reason) {
        let open = self.tcp_open.contains(&port);
        if self.tcp_dropped.contains(&port) {
            let silent = if scan == TcpScan::SYN {
                PortState::Filtered
            } else {
                PortState::OpenFiltered
            };
            return (silent, Reason::NoResponse);
        }
        if self.tcp_rejected.contains(&port) {
            return (PortState::Filtered, Reason::AdminProhibited);
        }
        match (scan == TcpScan::SYN, open) {
            (true, true) => (PortState::Open, Reason::SynAck),
            (false, true) => (PortState::OpenFiltered, Reason::NoResponse),
            (_, false) => (PortState::Closed, Reason::Reset),
        }
    }

    fn udp_truth(&self, port: u16) -> (PortState, Reason) {
        if self.udp_open.contains(&port) {
            (PortState::Open, Reason::UdpResponse)
        } else if self.udp_dropped.contains(&port) {
            (PortState::OpenFiltered, Reason::NoResponse)
        } else {
            (PortState::Closed, Reason::PortUnreach)
        }
    }
}

#[derive(Default)]
struct Buckets {
    tokens: HashMap<IpAddr, (f64, Instant)>,
}

impl Buckets {
    /// Linux-style: tokens accrue with time up to the burst; one per error.
    fn take(&mut self, addr: IpAddr, limit: Option<(f64, Duration)>, now: Instant) -> bool {
        let Some((burst, interval)) = limit else {
            return true;
        };
        let (tokens, last) = self.tokens.entry(addr).or_insert((burst, now));
        let accrued = now.saturating_duration_since(*last).as_secs_f64() / interval.as_secs_f64();
        *tokens = (*tokens + accrued).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Sim {
    hosts: HashMap<IpAddr, Host>,
    scan: Option<TcpScan>,
    rng: u64,
    duplicate: bool,
    forge: bool,
    buckets: Buckets,
    answer_count: u64,
}

struct Run {
    results: BTreeMap<IpAddr, HostOutcome>,
    progress: Progress,
    elapsed: Duration,
}

type Queue = BinaryHeap<Reverse<(Instant, u64)>>;

impl Sim {
    fn new(hosts: HashMap<IpAddr, Host>, scan: Option<TcpScan>) -> Sim {
        Sim {
            hosts,
            scan,
            rng: 0x2545_F491_4F6C_DD1D
                ^ std::env::var("SIM_SEED")
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0),
            duplicate: false,
            forge: false,
            buckets: Buckets::default(),
            answer_count: 0,
        }
    }

    fn roll(&mut self, per_mille: u32) -> bool {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1000) < u64::from(per_mille)
    }

    fn run(&mut self, mut scan: Scan) -> Run {
        let start = base();
        let mut now = start;
        let mut queue: Queue = BinaryHeap::new();
        let mut pending: HashMap<u64, Answer> = HashMap::new();
        let mut seq = 0u64;
        let mut results = BTreeMap::new();
        for _step in 0..20_000_000u64 {
            while let Some(t) = scan.poll_transmit(now) {
                let Transmit::Probe(p) = t else {
                    panic!("raw scan asked for {t:?}");
                };
                if std::env::var_os("SIM_TRACE").is_some() {
                    let (port, sport) = match p.kind {
                        ProbeKind::Tcp(t) => (t.dport, t.sport),
                        ProbeKind::Udp(u) => (u.dport, u.sport),
                        other => panic!("a port scan sent {other:?}"),
                    };
                    let n = self.answer_count;
                    eprintln!(
                        "{:>10.3} send {port} try {} answers {n}",
                        (now - start).as_secs_f64(),
                        sport - BASE_PORT
                    );
                }
                for (at, a) in self.answer(&p, now) {
                    self.answer_count += 1;
                    seq += 1;
                    pending.insert(seq, a);
                    queue.push(Reverse((at, seq)));
                }
            }
            while let Some(ScanEvent::HostDone(h)) = scan.poll_event() {
                results.insert(h.target.addr, *h);
            }
            if scan.is_finished() {
                let (progress, elapsed) = (scan.progress(), now - start);
                if std::env::var_os("SIM_DEBUG").is_some() {
                    eprintln!("sim: {elapsed:?} {progress:?}");
                }
                return Run {
                    results,
                    progress,
                    elapsed,
                };
            }
            let next_arrival = queue.peek().map(|Reverse((t, _))| *t);
            let next = match (next_arrival, scan.poll_timeout()) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).expect("engine stalled"),
            };
            now = now.max(next);
            while let Some(Reverse((t, id))) = queue.peek().copied() {
                if t > now {
                    break;
                }
                queue.pop();
                scan.handle_answer(now, &pending.remove(&id).unwrap());
            }
            scan.handle_timeout(now);
        }
        panic!("simulation did not finish within its step bound");
    }

    /// The replies a probe draws, with their arrival times.
    fn answer(&mut self, p: &ProbeSpec, now: Instant) -> Vec<(Instant, Answer)> {
        let h = self.hosts.get(&p.dst).cloned().unwrap_or_default();
        if self.roll(h.loss_per_mille) {
            return Vec::new();
        }
        let Some(a) = self.reply(&h, p, now) else {
            return Vec::new();
        };
        if self.roll(h.loss_per_mille) {
            return Vec::new();
        }
        let late = if self.roll(500) {
            h.jitter
        } else {
            Duration::ZERO
        };
        let at = now + h.rtt + late;
        let mut out = vec![(at, a)];
        if self.duplicate {
            out.push((at + Duration::from_micros(50), a));
        }
        if self.forge {
            out.push((at, forged(a)));
        }
        out
    }

    fn reply(&mut self, h: &Host, p: &ProbeSpec, now: Instant) -> Option<Answer> {
        match p.kind {
            ProbeKind::Tcp(t) => {
                self.tcp_reply(h, p.dst, (t.sport, t.dport), (t.seq, t.ack, t.flags), now)
            }
            ProbeKind::Udp(u) => {
                let (sport, dport) = (u.sport, u.dport);
                let mk = |kind| answer(p.dst, Protocol::Udp, dport, sport, kind);
                if h.udp_open.contains(&dport) {
                    Some(mk(AnswerKind::Udp))
                } else if h.udp_dropped.contains(&dport) {
                    None
                } else {
                    self.icmp(h, p.dst, now, 3, None).map(mk)
                }
            }
            ProbeKind::Icmp(_) | ProbeKind::Neighbor => {
                panic!("a port scan sent a discovery probe: {p:?}")
            }
        }
    }

    fn tcp_reply(
        &mut self,
        h: &Host,
        dst: IpAddr,
        (sport, dport): (u16, u16),
        (seq, ack, f): (u32, u32, u8),
        now: Instant,
    ) -> Option<Answer> {
        let mk = |kind| answer(dst, Protocol::Tcp, dport, sport, kind);
        if h.tcp_dropped.contains(&dport) {
            return None;
        }
        if h.tcp_rejected.contains(&dport) {
            return self.icmp(h, dst, now, 13, Some(seq)).map(mk);
        }
        let open = h.syn_proxy || h.tcp_open.contains(&dport);
        let syn = f & flags::SYN != 0;
        let len = u32::from(syn) + u32::from(f & flags::FIN != 0);
        let kind = |seq, ack, flags| AnswerKind::Tcp {
            seq,
            ack,
            flags,
            window: 0,
        };
        if f & flags::ACK != 0 && !syn {
            // RFC 793: a segment with ACK draws <SEQ=SEG.ACK><CTL=RST> when closed.
            return (!open).then(|| mk(kind(ack, 0, flags::RST)));
        }
        match (open, syn) {
            (true, true) => Some(mk(kind(77, seq.wrapping_add(1), flags::SYN | flags::ACK))),
            (true, false) => None,
            (false, _) => Some(mk(kind(0, seq.wrapping_add(len), flags::RST | flags::ACK))),
        }
    }

    fn icmp(
        &mut self,
        h: &Host,
        dst: IpAddr,
        now: Instant,
        code: u8,
        quoted_seq: Option<u32>,
    ) -> Option<AnswerKind> {
        let v6 = dst.is_ipv6();
        let code = if v6 && code == 3 { 4 } else { code };
        let code = if v6 && code == 13 { 1 } else { code };
        self.buckets
            .take(dst, h.icmp_limit, now)
            .then_some(AnswerKind::Unreach {
                v6,
                code,
                quoted_seq,
            })
    }
}

fn answer(host: IpAddr, protocol: Protocol, port: u16, our_port: u16, kind: AnswerKind) -> Answer {
    Answer {
        host,
        protocol,
        port,
        our_port,
        ttl: 63,
        kind,
    }
}

/// The same reply with its cookie fields scrambled, as a third party would
/// send without the key: it claims the opposite state.
fn forged(mut a: Answer) -> Answer {
    a.kind = match a.kind {
        AnswerKind::Tcp {
            seq, ack, flags: f, ..
        } => AnswerKind::Tcp {
            seq: seq ^ 0x5A5A_0000,
            ack: ack ^ 0x0000_A5A5,
            flags: if f & flags::RST != 0 {
                flags::SYN | flags::ACK
            } else {
                flags::RST | flags::ACK
            },
            window: 0,
        },
        AnswerKind::Unreach {
            v6,
            code,
            quoted_seq,
        } => AnswerKind::Unreach {
            v6,
            code,
            quoted_seq: quoted_seq.map(|s| !s),
        },
        AnswerKind::Udp => AnswerKind::Udp,
    };
    a
}

#[allow(clippy::disallowed_methods)]
fn base() -> Instant {
    Instant::now()
}

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, last))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last))
}

fn config(tcp: Vec<u16>, udp: Vec<u16>, scan: Option<TcpScan>) -> ScanConfig {
    ScanConfig {
        timing: TimingParams::template(4),
        min_rate: None,
        max_rate: None,
        seed: std::env::var("SIM_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
        tcp_ports: tcp,
        udp_ports: udp,
        raw: Some(RawConfig {
            tcp: scan,
            key: KEY,
            base_port: BASE_PORT,
        }),
    }
}

fn targets(addrs: Vec<IpAddr>) -> Box<dyn Iterator<Item = Target> + Send> {
    Box::new(addrs.into_iter().map(|addr| Target {
        addr,
        hostname: None,
    }))
}

fn lan_host() -> Host {
    Host {
        tcp_open: [22, 80, 443, 8080].into(),
        tcp_rejected: [25, 110].into(),
        tcp_dropped: [23, 9999].into(),
        udp_open: [53, 123].into(),
        udp_dropped: [161, 500].into(),
        rtt: Duration::from_millis(1),
        ..Host::default()
    }
}

/// Every port of every host matches the simulated truth.
fn assert_truth(sim: &Sim, run: &Run, tcp: &[u16], udp: &[u16]) {
    for (addr, h) in &sim.hosts {
        let got = &run.results[addr];
        assert_eq!(
            got.ports.len(),
            tcp.len() + udp.len(),
            "{addr}: all settled"
        );
        for p in &got.ports {
            let want = match p.protocol {
                Protocol::Tcp => h.tcp_truth(sim.scan.unwrap(), p.port),
                _ => h.udp_truth(p.port),
            };
            assert_eq!(
                (p.state, p.reason),
                want,
                "{addr} {:?}/{}",
                p.protocol,
                p.port
            );
            let answered = p.reason != Reason::NoResponse;
            assert_eq!(p.reason_ttl.is_some(), answered, "{addr} {}: ttl", p.port);
        }
    }
}

#[test]
fn syn_scan_of_a_clean_lan_host_is_exact() {
    let tcp: Vec<u16> = (1..=2000).collect();
    let mut sim = Sim::new([(v4(11), lan_host())].into(), Some(TcpScan::SYN));
    let run = sim.run(Scan::new(
        config(tcp.clone(), vec![], Some(TcpScan::SYN)),
        targets(vec![v4(11)]),
    ));
    assert_truth(&sim, &run, &tcp, &[]);
    assert!(!run.results[&v4(11)].answers_every_port);
    assert!(
        run.progress.retransmissions <= 4,
        "only silent ports are retried: {:?}",
        run.progress
    );
}

#[test]
fn stealth_scans_read_silence_as_open_filtered() {
    let tcp: Vec<u16> = (1..=500).chain([8080, 9999]).collect();
    for scan in [TcpScan::FIN, TcpScan::NULL, TcpScan::XMAS] {
        let mut sim = Sim::new([(v4(11), lan_host())].into(), Some(scan));
        let run = sim.run(Scan::new(
            config(tcp.clone(), vec![], Some(scan)),
            targets(vec![v4(11)]),
        ));
        assert_truth(&sim, &run, &tcp, &[]);
    }
}

#[test]
fn ack_scan_reports_unfiltered_and_filtered() {
    let tcp: Vec<u16> = vec![22, 23, 25, 80, 1000];
    let mut sim = Sim::new([(v4(11), lan_host())].into(), Some(TcpScan::ACK));
    let run = sim.run(Scan::new(
        config(tcp, vec![], Some(TcpScan::ACK)),
        targets(vec![v4(11)]),
    ));
    let states: Vec<(u16, PortState)> = run.results[&v4(11)]
        .ports
        .iter()
        .map(|p| (p.port, p.state))
        .collect();
    // The simulated stack resets every ACK to a closed port and stays
    // silent for open ones (it has no connection); drops and rejects filter.
    assert_eq!(
        states,
        vec![
            (22, PortState::Filtered),
            (23, PortState::Filtered),
            (25, PortState::Filtered),
            (80, PortState::Filtered),
            (1000, PortState::Unfiltered),
        ]
    );
}

#[test]
fn udp_under_linux_icmp_rate_limit_is_exact() {
    let udp: Vec<u16> = (1..=100).chain([123, 161, 500]).collect();
    let mut host = lan_host();
    host.icmp_limit = Some((6.0, Duration::from_secs(1)));
    let mut sim = Sim::new([(v4(12), host)].into(), None);
    let run = sim.run(Scan::new(
        config(vec![], udp.clone(), None),
        targets(vec![v4(12)]),
    ));
    assert_truth(&sim, &run, &[], &udp);
    // The limit alone imposes 93 s (99 closed ports, six from the burst);
    // the two silent ports each need strong tries a refill apart. Virtual
    // time: this checks the pacing logic, not the machine.
    assert!(run.progress.retransmissions > 0);
    assert!(run.elapsed < Duration::from_secs(140), "{:?}", run.elapsed);
}

#[test]
fn udp_rate_limit_with_loss_still_exact() {
    let udp: Vec<u16> = (1..=60).chain([123, 161, 500]).collect();
    let mut host = lan_host();
    host.icmp_limit = Some((6.0, Duration::from_secs(1)));
    host.loss_per_mille = 50;
    let mut sim = Sim::new([(v4(12), host)].into(), None);
    let run = sim.run(Scan::new(
        config(vec![], udp.clone(), None),
        targets(vec![v4(12)]),
    ));
    assert_truth(&sim, &run, &[], &udp);
}

#[test]
fn udp_without_a_limit_is_not_slowed() {
    let udp: Vec<u16> = (1..=1000).collect();
    let mut sim = Sim::new([(v6(13), lan_host())].into(), None);
    let run = sim.run(Scan::new(
        config(vec![], udp.clone(), None),
        targets(vec![v6(13)]),
    ));
    assert_truth(&sim, &run, &[], &udp);
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

#[test]
fn syn_and_udp_together_over_ipv6() {
    let tcp: Vec<u16> = (1..=300).collect();
    let udp: Vec<u16> = (1..=50).chain([123, 161]).collect();
    let mut host = lan_host();
    host.icmp_limit = Some((6.0, Duration::from_millis(100)));
    let mut sim = Sim::new([(v6(14), host)].into(), Some(TcpScan::SYN));
    let run = sim.run(Scan::new(
        config(tcp.clone(), udp.clone(), Some(TcpScan::SYN)),
        targets(vec![v6(14)]),
    ));
    assert_truth(&sim, &run, &tcp, &udp);
}

#[test]
fn lossy_link_with_late_duplicate_and_forged_replies() {
    let tcp: Vec<u16> = (1..=3000).collect();
    let mut host = lan_host();
    host.loss_per_mille = 100;
    host.jitter = Duration::from_millis(400);
    host.rtt = Duration::from_millis(5);
    let mut sim = Sim::new([(v4(15), host)].into(), Some(TcpScan::SYN));
    sim.duplicate = true;
    sim.forge = true;
    let run = sim.run(Scan::new(
        config(tcp.clone(), vec![], Some(TcpScan::SYN)),
        targets(vec![v4(15)]),
    ));
    assert_truth(&sim, &run, &tcp, &[]);
    assert!(run.progress.forged > 1000, "{:?}", run.progress);
    assert!(run.progress.duplicates > 1000, "{:?}", run.progress);
}

#[test]
fn replies_for_the_wrong_port_or_source_port_are_strays() {
    let tcp: Vec<u16> = vec![80];
    let mut scan = Scan::new(
        config(tcp, vec![], Some(TcpScan::SYN)),
        targets(vec![v4(11)]),
    );
    let now = base();
    let Some(Transmit::Probe(p)) = scan.poll_transmit(now) else {
        panic!("no probe");
    };
    let ProbeKind::Tcp(tcp) = p.kind else {
        panic!("not TCP");
    };
    let (sport, seq) = (tcp.sport, tcp.seq);
    assert!((BASE_PORT..BASE_PORT + TRY_PORTS).contains(&sport));
    let good = AnswerKind::Tcp {
        seq: 1,
        ack: seq.wrapping_add(1),
        flags: flags::SYN | flags::ACK,
        window: 0,
    };
    scan.handle_answer(now, &answer(v4(11), Protocol::Tcp, 81, sport, good));
    scan.handle_answer(now, &answer(v4(11), Protocol::Tcp, 80, 9, good));
    scan.handle_answer(now, &answer(v4(99), Protocol::Tcp, 80, sport, good));
    assert_eq!(scan.progress().stray_answers, 3);
    scan.handle_answer(now, &answer(v4(11), Protocol::Tcp, 80, sport, good));
    let Some(ScanEvent::HostDone(h)) = scan.poll_event() else {
        panic!("host not done");
    };
    assert_eq!(h.ports[0].state, PortState::Open);
    assert_eq!(h.ports[0].reason_ttl, Some(63));
}

#[test]
fn a_syn_proxy_is_reported_as_answering_every_port() {
    let tcp: Vec<u16> = (1..=1000).collect();
    let host = Host {
        syn_proxy: true,
        rtt: Duration::from_millis(1),
        ..Host::default()
    };
    let mut sim = Sim::new(
        [(v4(16), host), (v4(11), lan_host())].into(),
        Some(TcpScan::SYN),
    );
    let run = sim.run(Scan::new(
        config(tcp, vec![], Some(TcpScan::SYN)),
        targets(vec![v4(16), v4(11)]),
    ));
    assert!(run.results[&v4(16)].answers_every_port);
    assert!(!run.results[&v4(11)].answers_every_port);
}

#[test]
fn many_hosts_with_icmp_limits_finish_in_parallel() {
    let udp: Vec<u16> = (1..=20).collect();
    let mut hosts = HashMap::new();
    for i in 1..=50u8 {
        let mut h = lan_host();
        h.icmp_limit = Some((6.0, Duration::from_secs(1)));
        hosts.insert(v4(i), h);
    }
    let addrs: Vec<IpAddr> = hosts.keys().copied().collect();
    let mut sim = Sim::new(hosts, None);
    let run = sim.run(Scan::new(config(vec![], udp.clone(), None), targets(addrs)));
    assert_truth(&sim, &run, &[], &udp);
    // Each host is paced on its own: 50 hosts take about as long as one.
    assert!(run.elapsed < Duration::from_secs(40), "{:?}", run.elapsed);
}

#[test]
fn udp_under_a_fast_icmp_limit_is_exact_and_quick() {
    // Linux's global ICMP allowance: a burst of 50, then 1000 a second.
    let udp: Vec<u16> = (1..=1000).collect();
    let mut host = lan_host();
    host.icmp_limit = Some((50.0, Duration::from_millis(1)));
    let mut sim = Sim::new([(v4(12), host)].into(), None);
    let run = sim.run(Scan::new(
        config(vec![], udp.clone(), None),
        targets(vec![v4(12)]),
    ));
    assert_truth(&sim, &run, &[], &udp);
    // About 0.95 s of refills; the pace must find them, not crawl.
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
}

/// Probes the engine hands out at `now` before it waits.
fn burst(scan: &mut Scan, now: Instant) -> usize {
    std::iter::from_fn(|| scan.poll_transmit(now))
        .take(10_000)
        .count()
}

#[test]
fn max_parallelism_caps_probes_in_flight() {
    let mut cfg = config((1..=500).collect(), vec![], Some(TcpScan::SYN));
    cfg.timing.max_parallelism = 3;
    let hosts = targets(vec![v4(11), v4(12)]);
    let mut scan = Scan::new(cfg, hosts);
    let t0 = base();
    assert_eq!(burst(&mut scan, t0), 3);
    // Nothing answers: only a timeout frees a place.
    assert_eq!(burst(&mut scan, t0 + Duration::from_millis(10)), 0);
    let deadline = scan.poll_timeout().expect("a probe deadline");
    scan.handle_timeout(deadline);
    assert!(burst(&mut scan, deadline) <= 3);
}

#[test]
fn min_parallelism_sends_past_a_small_window() {
    let mut cfg = config((1..=500).collect(), vec![], Some(TcpScan::SYN));
    cfg.timing.initial_cwnd = 2.0;
    cfg.timing.min_parallelism = 40;
    let mut scan = Scan::new(cfg, targets(vec![v4(11)]));
    let sent = burst(&mut scan, base());
    assert!(sent >= 40, "{sent}");
    let mut cfg = config((1..=500).collect(), vec![], Some(TcpScan::SYN));
    cfg.timing.initial_cwnd = 2.0;
    let mut plain = Scan::new(cfg, targets(vec![v4(11)]));
    assert!(sent > burst(&mut plain, base()), "the floor adds probes");
}

#[test]
fn scan_delay_spaces_probes_to_each_host() {
    let mut cfg = config((1..=50).collect(), vec![], Some(TcpScan::SYN));
    cfg.timing.scan_delay = Duration::from_millis(200);
    let mut sim = Sim::new([(v4(11), lan_host())].into(), Some(TcpScan::SYN));
    let run = sim.run(Scan::new(cfg, targets(vec![v4(11)])));
    assert_truth(&sim, &run, &(1..=50).collect::<Vec<_>>(), &[]);
    // 50 probes, at least 200 ms apart.
    assert!(
        run.elapsed >= Duration::from_millis(49 * 200),
        "{:?}",
        run.elapsed
    );
    let mut scan = Scan::new(
        {
            let mut c = config((1..=50).collect(), vec![], Some(TcpScan::SYN));
            c.timing.scan_delay = Duration::from_millis(200);
            c
        },
        targets(vec![v4(11), v4(12)]),
    );
    // One probe per host at once, then none until the delay has passed.
    assert_eq!(burst(&mut scan, base()), 2);
    assert_eq!(burst(&mut scan, base() + Duration::from_millis(199)), 0);
    assert_eq!(burst(&mut scan, base() + Duration::from_millis(200)), 2);
}

#[test]
fn random_loss_does_not_collapse_the_rate() {
    // Every port of a host 2 ms away that loses 10 % of packets each way.
    // Loss alone is not congestion: the window keeps growing, lost probes
    // give up their places in it, and the scan ends within a few timeouts
    // of what a clean path takes (about 12 s of virtual time before).
    let tcp: Vec<u16> = (1..=65535).collect();
    let mut host = lan_host();
    host.loss_per_mille = 100;
    host.rtt = Duration::from_millis(2);
    let mut sim = Sim::new([(v4(16), host)].into(), Some(TcpScan::SYN));
    let run = sim.run(Scan::new(
        config(tcp.clone(), vec![], Some(TcpScan::SYN)),
        targets(vec![v4(16)]),
    ));
    assert_truth(&sim, &run, &tcp, &[]);
    assert!(
        run.elapsed < Duration::from_secs(4),
        "{:?} {:?}",
        run.elapsed,
        run.progress
    );
}
