//! The engine against a simulated network on a virtual clock.
//!
//! Each simulated host has open, closed, silently dropped and ICMP-rejected
//! ports, a round-trip time and independent random loss on each direction.
//! Answers travel through an event queue; aborted probes can still deliver late
//! or duplicate answers to check that the engine ignores them.

use portolan_engine::timing::TimingParams;
use portolan_engine::{Outcome, Progress, Scan, ScanConfig, ScanEvent, Transmit};
use portolan_model::{PortState, Reason};
use portolan_targets::Target;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct SimHost {
    open: HashSet<u16>,
    dropped: HashSet<u16>,
    rejected: HashSet<u16>,
    rtt: Duration,
    /// Per-mille loss on each direction.
    loss: u32,
    /// Drop everything between these virtual offsets from the start.
    blackout: Option<(Duration, Duration)>,
}

impl SimHost {
    fn truth(&self, port: u16) -> (PortState, Reason) {
        if self.open.contains(&port) {
            (PortState::Open, Reason::SynAck)
        } else if self.dropped.contains(&port) {
            (PortState::Filtered, Reason::NoResponse)
        } else if self.rejected.contains(&port) {
            (PortState::Filtered, Reason::AdminProhibited)
        } else {
            (PortState::Closed, Reason::ConnRefused)
        }
    }
}

struct Sim {
    hosts: HashMap<IpAddr, SimHost>,
    rng: u64,
    /// Deliver every answer twice.
    duplicate: bool,
    /// Deliver answers even for aborted probes (they arrive late).
    deliver_late: bool,
    /// Local socket budget: connects beyond it fail with NotSent.
    socket_budget: usize,
}

/// Per host: (port, state, reason) for every settled port, and whether it timed out.
type HostPorts = (Vec<(u16, PortState, Reason)>, bool);

struct Run {
    results: BTreeMap<IpAddr, HostPorts>,
    progress: Progress,
    elapsed: Duration,
    max_in_flight: usize,
}

impl Sim {
    fn new(hosts: HashMap<IpAddr, SimHost>) -> Sim {
        Sim {
            hosts,
            rng: 0x2545_F491_4F6C_DD1D,
            duplicate: false,
            deliver_late: false,
            socket_budget: usize::MAX,
        }
    }

    fn roll(&mut self, per_mille: u32) -> bool {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1000) < u64::from(per_mille)
    }

    fn lost(&mut self, h: &SimHost, at: Duration) -> bool {
        if let Some((a, b)) = h.blackout {
            if at >= a && at < b {
                return true;
            }
        }
        self.roll(h.loss)
    }

    fn run(&mut self, mut scan: Scan) -> Run {
        let start = base();
        let mut now = start;
        let mut arrivals: BinaryHeap<Reverse<(Instant, u64, u8)>> = BinaryHeap::new();
        let mut live: HashSet<u64> = HashSet::new();
        let mut outcome_of: HashMap<u64, Outcome> = HashMap::new();
        let mut results = BTreeMap::new();
        let mut max_in_flight = 0;
        for _step in 0..5_000_000u64 {
            while let Some(t) = scan.poll_transmit(now) {
                match t {
                    Transmit::Abort { probe } => {
                        live.remove(&probe.0);
                    }
                    Transmit::Probe(p) => panic!("a connect scan sent a raw probe: {p:?}"),
                    Transmit::Connect { probe, addr } => {
                        if live.len() >= self.socket_budget {
                            scan.handle_outcome(now, probe, Outcome::NotSent);
                            continue;
                        }
                        live.insert(probe.0);
                        max_in_flight = max_in_flight.max(live.len());
                        self.send(
                            now - start,
                            now,
                            probe.0,
                            addr,
                            &mut arrivals,
                            &mut outcome_of,
                        );
                    }
                }
            }
            while let Some(ScanEvent::HostDone(h)) = scan.poll_event() {
                let ports = h
                    .ports
                    .iter()
                    .map(|p| (p.port, p.state, p.reason))
                    .collect();
                results.insert(h.target.addr, (ports, h.timed_out));
            }
            if scan.is_finished() {
                return Run {
                    results,
                    progress: scan.progress(),
                    elapsed: now - start,
                    max_in_flight,
                };
            }
            let next_arrival = arrivals.peek().map(|Reverse((t, _, _))| *t);
            let next = match (next_arrival, scan.poll_timeout()) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a
                    .or(b)
                    .expect("engine stalled: nothing pending and not finished"),
            };
            now = now.max(next);
            while let Some(Reverse((t, id, _))) = arrivals.peek().copied() {
                if t > now {
                    break;
                }
                arrivals.pop();
                if live.remove(&id) || self.deliver_late || self.duplicate {
                    scan.handle_outcome(now, portolan_engine::ProbeId(id), outcome_of[&id]);
                }
            }
            scan.handle_timeout(now);
        }
        panic!("simulation did not finish within its step bound");
    }

    fn send(
        &mut self,
        at: Duration,
        now: Instant,
        id: u64,
        addr: SocketAddr,
        arrivals: &mut BinaryHeap<Reverse<(Instant, u64, u8)>>,
        outcome_of: &mut HashMap<u64, Outcome>,
    ) {
        let h = self.hosts.get(&addr.ip()).cloned().unwrap_or_default();
        let (state, reason) = h.truth(addr.port());
        if reason == Reason::NoResponse || self.lost(&h, at) || self.lost(&h, at) {
            return;
        }
        let outcome = match state {
            PortState::Open => Outcome::Open,
            PortState::Closed => Outcome::Refused,
            _ => Outcome::Unreachable(reason),
        };
        outcome_of.insert(id, outcome);
        arrivals.push(Reverse((now + h.rtt, id, 0)));
        if self.duplicate {
            arrivals.push(Reverse((now + h.rtt + Duration::from_micros(10), id, 1)));
        }
    }
}

#[allow(clippy::disallowed_methods)]
fn base() -> Instant {
    Instant::now()
}

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, last))
}

fn config(ports: Vec<u16>, level: u8) -> ScanConfig {
    ScanConfig {
        timing: TimingParams::template(level),
        min_rate: None,
        max_rate: None,
        seed: 7,
        tcp_ports: ports,
        udp_ports: Vec::new(),
        raw: None,
    }
}

fn targets(addrs: Vec<IpAddr>) -> Box<dyn Iterator<Item = Target> + Send> {
    Box::new(addrs.into_iter().map(|addr| Target {
        addr,
        hostname: None,
    }))
}

fn lan_host() -> SimHost {
    SimHost {
        open: [22, 80, 443, 8080].into(),
        dropped: [23, 9999].into(),
        rejected: [25, 3389].into(),
        rtt: Duration::from_micros(300),
        ..SimHost::default()
    }
}

fn assert_truth(sim: &Sim, run: &Run, ports: &[u16]) {
    for (addr, host) in &sim.hosts {
        let (got, timed_out) = run
            .results
            .get(addr)
            .unwrap_or_else(|| panic!("{addr} never finished"));
        assert!(!timed_out, "{addr} timed out");
        assert_eq!(got.len(), ports.len(), "{addr}: every port settled");
        for &(port, state, reason) in got {
            assert_eq!((state, reason), host.truth(port), "{addr} port {port}");
        }
    }
}

#[test]
fn every_state_right_on_a_clean_lan_host() {
    let ports: Vec<u16> = (1..=10_000).collect();
    let mut sim = Sim::new([(v4(2), lan_host())].into());
    let run = sim.run(Scan::new(config(ports.clone(), 4), targets(vec![v4(2)])));
    assert_truth(&sim, &run, &ports);
    // Silence is not loss: a clean host never retransmits more than once.
    let retries = run.progress.retransmissions;
    assert_eq!(
        retries, 2,
        "only the two dropped ports are retried once each"
    );
}

#[test]
fn every_state_right_with_ten_percent_loss_each_way() {
    let ports: Vec<u16> = (1..=5000).collect();
    let lossy = SimHost {
        loss: 100,
        ..lan_host()
    };
    let mut sim = Sim::new([(v4(3), lossy), (v4(2), lan_host())].into());
    let run = sim.run(Scan::new(
        config(ports.clone(), 4),
        targets(vec![v4(2), v4(3)]),
    ));
    assert_truth(&sim, &run, &ports);
    assert!(
        run.progress.retransmissions > 500,
        "loss was detected and repaired"
    );
}

#[test]
fn a_loss_burst_does_not_turn_ports_filtered() {
    let ports: Vec<u16> = (1..=3000).collect();
    let host = SimHost {
        blackout: Some((Duration::from_millis(1), Duration::from_millis(400))),
        loss: 20,
        ..lan_host()
    };
    let mut sim = Sim::new([(v4(4), host)].into());
    let run = sim.run(Scan::new(config(ports.clone(), 4), targets(vec![v4(4)])));
    assert_truth(&sim, &run, &ports);
}

#[test]
fn late_and_duplicate_answers_are_ignored() {
    // Round trip 700 ms against an initial timeout of 500 ms: first tries
    // time out, their answers arrive after the retransmission.
    let ports: Vec<u16> = (1..=200).collect();
    let slow = SimHost {
        rtt: Duration::from_millis(700),
        ..lan_host()
    };
    let mut sim = Sim::new([(v4(5), slow)].into());
    sim.deliver_late = true;
    sim.duplicate = true;
    let run = sim.run(Scan::new(config(ports.clone(), 4), targets(vec![v4(5)])));
    assert_truth(&sim, &run, &ports);
    assert!(
        run.progress.stray_answers > 0,
        "late or duplicate answers were seen and dropped"
    );
}

#[test]
fn host_timeout_reports_partial_host() {
    let ports: Vec<u16> = (1..=2000).collect();
    let silent = SimHost {
        dropped: ports.iter().copied().collect(),
        rtt: Duration::from_millis(1),
        ..SimHost::default()
    };
    let mut sim = Sim::new([(v4(6), silent), (v4(2), lan_host())].into());
    let mut cfg = config(ports.clone(), 4);
    cfg.timing.host_timeout = Some(Duration::from_millis(300));
    cfg.timing.max_cwnd = 20.0;
    let run = sim.run(Scan::new(cfg, targets(vec![v4(6), v4(2)])));
    let (silent_ports, timed_out) = &run.results[&v4(6)];
    assert!(*timed_out, "the silent host hit its timeout");
    assert!(
        silent_ports.len() < ports.len(),
        "only settled ports are reported"
    );
    let (_, lan_timed_out) = &run.results[&v4(2)];
    assert!(!lan_timed_out);
}

#[test]
fn socket_exhaustion_is_absorbed_not_fatal() {
    let ports: Vec<u16> = (1..=3000).collect();
    let mut sim = Sim::new([(v4(2), lan_host()), (v4(7), lan_host())].into());
    sim.socket_budget = 40;
    let run = sim.run(Scan::new(
        config(ports.clone(), 4),
        targets(vec![v4(2), v4(7)]),
    ));
    assert_truth(&sim, &run, &ports);
    assert!(run.max_in_flight <= 40);
}

#[test]
fn max_rate_is_obeyed_on_the_virtual_clock() {
    let ports: Vec<u16> = (1..=2000).collect();
    let mut sim = Sim::new([(v4(2), lan_host())].into());
    let mut cfg = config(ports.clone(), 4);
    cfg.max_rate = Some(1000.0);
    let run = sim.run(Scan::new(cfg, targets(vec![v4(2)])));
    assert_truth(&sim, &run, &ports);
    let rate = run.progress.probes_sent as f64 / run.elapsed.as_secs_f64();
    assert!(
        rate <= 1050.0,
        "sent at {rate:.0}/s against a maximum of 1000/s"
    );
}

#[test]
fn hosts_are_pulled_lazily_within_the_hostgroup() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let addrs: Vec<IpAddr> = (1..=200)
        .map(|i| IpAddr::V4(Ipv4Addr::new(198, 18, 1, i)))
        .collect();
    let iter = addrs.clone().into_iter().map(move |addr| {
        counter.fetch_add(1, Ordering::SeqCst);
        Target {
            addr,
            hostname: None,
        }
    });
    let mut cfg = config(vec![22, 80], 4);
    cfg.timing.max_hostgroup = 8;
    let mut scan = Scan::new(cfg, Box::new(iter));
    let now = base();
    while scan.poll_transmit(now).is_some() {}
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        8,
        "only a hostgroup's worth of targets is pulled"
    );
    let hosts: HashMap<IpAddr, SimHost> = addrs.into_iter().map(|a| (a, lan_host())).collect();
    let mut sim = Sim::new(hosts);
    let run = sim.run(Scan::new(
        config(vec![22, 80], 4),
        targets(sim.hosts.keys().copied().collect()),
    ));
    assert_eq!(run.results.len(), 200);
    assert_truth(&sim, &run, &[22, 80]);
}
