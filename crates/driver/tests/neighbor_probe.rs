//! Neighbour probes through [`RawNet`] over a real link.
//!
//! Two network namespaces, `pnbr-<pid>-a` (198.18.200.1/24,
//! 2001:db8:200::1/64) and `pnbr-<pid>-b` (.2 and ::2), joined by a veth
//! pair. Inside `a`, with on-link resolution deferred, one
//! [`ProbeKind::Neighbor`] probe to each address of `b` must bring back, via
//! `RawNet::receive`, an ARP reply and a neighbour advertisement naming
//! `b`'s MAC. The namespaces are deleted by a Drop guard, also when the test
//! fails.
//!
//! The driver has no `unsafe` to join a namespace with, so the part that
//! runs inside `a` is a separate, ignored test that the outer one starts
//! with `ip netns exec` (re-running this test binary). Needs root; without
//! it the test prints SKIPPED and passes. Waiting is bounded by a deadline
//! on the real clock (hence the allow below); no assertion depends on how
//! long anything took.
#![allow(clippy::disallowed_methods)]

use portolan_driver::paths::Paths;
use portolan_driver::raw::RawNet;
use portolan_engine::{ProbeKind, ProbeSpec};
use portolan_wire::ping::{IcmpProbe, PingKind};
use portolan_wire::{arp, ndp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::{Duration, Instant};

/// Set in the environment of the inner run.
const INNER: &str = "PORTOLAN_NEIGHBOR_PROBE_INNER";
const INNER_TEST: &str = "neighbor_probes_inside_the_namespace";
const A_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 200, 1);
const B_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 200, 2);
const A_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x200, 0, 0, 0, 0, 1);
const B_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x200, 0, 0, 0, 0, 2);
const A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xc8, 0x01];
const B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xc8, 0x02];
/// How long the inner run waits for the neighbours' replies, and for each
/// echo reply. With `prepare`'s own resolution (two tries of 400 ms) that
/// bounds a failing inner run at about 2.3 s; a passing one takes
/// milliseconds.
const DEADLINE: Duration = Duration::from_millis(1000);
const ECHO_WAIT: Duration = Duration::from_millis(250);

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    euid == Some("0")
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mac_str(mac: [u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

/// The two namespaces; deleted (with the veth pair) on drop.
struct Lab {
    a: String,
    b: String,
}

impl Lab {
    fn new() -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            a: format!("pnbr-{pid}-a"),
            b: format!("pnbr-{pid}-b"),
        };
        lab.remove();
        ip(&["netns", "add", &lab.a]);
        ip(&["netns", "add", &lab.b]);
        let peer = ["peer", "name", "nb1", "address", &mac_str(B_MAC)];
        let link = [
            "link",
            "add",
            "nb0",
            "address",
            &mac_str(A_MAC),
            "type",
            "veth",
        ];
        let netns = ["netns", lab.b.as_str()];
        ip(&[&["-n", lab.a.as_str()][..], &link, &peer, &netns].concat());
        lab.configure(&lab.a, "nb0", A_V4, A_V6);
        lab.configure(&lab.b, "nb1", B_V4, B_V6);
        lab.wait_up(&lab.a, "nb0");
        lab.wait_up(&lab.b, "nb1");
        lab
    }

    fn configure(&self, ns: &str, dev: &str, v4: Ipv4Addr, v6: Ipv6Addr) {
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        let v4 = format!("{v4}/24");
        ip(&["-n", ns, "addr", "add", &v4, "dev", dev]);
        let v6 = format!("{v6}/64");
        ip(&["-n", ns, "-6", "addr", "add", &v6, "dev", dev, "nodad"]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }

    /// Until `dev` has carrier the link watcher may still be swapping in a
    /// queue that drops everything; wait (at most a second) for it.
    fn wait_up(&self, ns: &str, dev: &str) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let out = Command::new("ip")
                .args(["-n", ns, "-o", "link", "show", "dev", dev])
                .output()
                .expect("run ip");
            if String::from_utf8_lossy(&out.stdout).contains("state UP") {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{dev} in {ns} never came up");
    }

    fn remove(&self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.remove();
    }
}

#[test]
fn neighbor_probes_get_an_arp_reply_and_an_advertisement() {
    if !is_root() || Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIPPED: needs root and iproute2 (network namespaces, AF_PACKET)");
        return;
    }
    let lab = Lab::new();
    let exe = std::env::current_exe().expect("test binary");
    let exe = exe.to_str().expect("UTF-8 path");
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.a, exe, INNER_TEST, "--exact"])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .output()
        .expect("run the inner test");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "the inner run failed");
    // The inner run really ran (it is not skipped inside the namespace).
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(stderr.contains("ARP reply from 198.18.200.2"), "{stderr}");
    drop(lab);
}

/// What came back: the MAC each address answered with.
#[derive(Debug, Default)]
struct Answers {
    v4: Option<[u8; 6]>,
    v6: Option<[u8; 6]>,
}

impl Answers {
    fn complete(&self) -> bool {
        self.v4.is_some() && self.v6.is_some()
    }

    /// Takes an ARP reply from B or an advertisement for B's address; other
    /// packets (our kernel's own chatter) are ignored.
    fn take(&mut self, pkt: &[u8]) {
        let head = &pkt[..pkt.len().min(32)];
        if let Some(r) = arp::Repr::parse(pkt) {
            if r.operation == arp::Operation::Reply && r.sender_ip == B_V4 {
                eprintln!("ARP reply from {}: {head:02x?}", r.sender_ip);
                assert_eq!((r.target_ip, r.target_mac), (A_V4, A_MAC), "{r:?}");
                self.v4 = Some(r.sender_mac);
            }
        } else if let Some((target, mac)) = ndp::parse_advertisement(pkt) {
            if target == B_V6 {
                eprintln!("neighbour advertisement for {target}: {head:02x?}");
                self.v6 = Some(mac);
            }
        }
    }
}

#[test]
#[ignore = "runs inside the namespace neighbor_probes_get_an_arp_reply_and_an_advertisement makes"]
fn neighbor_probes_inside_the_namespace() {
    if std::env::var_os(INNER).is_none() {
        eprintln!("SKIPPED: {INNER_TEST} runs only inside the test's namespace");
        return;
    }
    let targets = [IpAddr::V4(B_V4), IpAddr::V6(B_V6)];
    let paths = Paths::shared();
    {
        let mut p = paths.lock().unwrap();
        p.set_defer_on_link(true);
        p.prepare(&targets);
        p.prepare(&[IpAddr::V4(A_V4)]);
        assert!(p.unroutable.is_empty(), "{:?}", p.unroutable);
        for t in targets {
            let path = p.get(t).unwrap();
            assert!(path.on_link && !path.local, "{t}: {path:?}");
            assert_eq!(path.mac, None, "{t}: deferred, not resolved");
        }
        let own = p.get(IpAddr::V4(A_V4)).unwrap();
        assert!(own.local && !own.on_link, "{own:?}");
    }
    let mut net = RawNet::new_discovery(paths.clone(), 40000..=40015);
    let mut answers = Answers::default();
    let deadline = Instant::now() + DEADLINE;
    // A probe each round until both have answered (a first frame may meet a
    // link not quite up); bounded by the deadline and the round count.
    for _ in 0..15 {
        let now = Instant::now();
        if answers.complete() || now >= deadline {
            break;
        }
        for (dst, done) in [(targets[0], answers.v4), (targets[1], answers.v6)] {
            if done.is_none() {
                let spec = ProbeSpec {
                    dst,
                    kind: ProbeKind::Neighbor,
                };
                net.push(&spec).unwrap();
            }
        }
        net.flush().unwrap();
        let wait = (deadline - now).min(Duration::from_millis(100));
        net.receive(wait, |pkt| answers.take(pkt)).unwrap();
    }
    eprintln!("{:?}", net.stats);
    assert_eq!(answers.v4, Some(B_MAC), "ARP reply");
    assert_eq!(answers.v6, Some(B_MAC), "neighbour advertisement");
    assert_eq!(net.stats.dropped, 0);
    assert!(net.stats.sent >= 2 && net.stats.sent_raw_ip == 0);

    // While deferring, an IP probe to an on-link target whose MAC is not
    // known goes through a raw IP socket (the kernel resolves); the reply
    // still comes in.
    echo(&mut net, 1);
    assert_eq!(net.stats.sent_raw_ip, 1);

    // What discovery learnt outlives its forget, and the port scan's
    // prepare uses it: its probes go out on the packet socket.
    {
        let mut p = paths.lock().unwrap();
        p.forget(targets[0]);
        p.learn(targets[0], B_MAC);
        p.set_defer_on_link(false);
        p.prepare(&[targets[0]]);
        assert_eq!(p.get(targets[0]).unwrap().mac, Some(B_MAC));
    }
    echo(&mut net, 2);
    assert_eq!(net.stats.sent_raw_ip, 1, "{:?}", net.stats);
    // Without deferral, an on-link target is resolved by prepare itself.
    let mut fresh = Paths::default();
    fresh.prepare(&[targets[1]]);
    assert_eq!(fresh.get(targets[1]).unwrap().mac, Some(B_MAC));
}

const ECHO_IDENT: u16 = 0x5eed;

/// Sends an echo request with sequence number `seq` to B's IPv4 address and
/// waits (at most [`ECHO_WAIT`]) for B's reply.
fn echo(net: &mut RawNet, seq: u16) {
    let probe = IcmpProbe {
        kind: PingKind::Echo,
        ident: ECHO_IDENT,
        seq,
        payload: &[],
    };
    let spec = ProbeSpec {
        dst: IpAddr::V4(B_V4),
        kind: ProbeKind::Icmp(probe),
    };
    net.push(&spec).expect("push");
    net.flush().expect("flush");
    let deadline = Instant::now() + ECHO_WAIT;
    let mut answered = false;
    while !answered && Instant::now() < deadline {
        let wait = Duration::from_millis(50);
        net.receive(wait, |p| answered |= is_echo_reply(p, seq))
            .expect("receive");
    }
    assert!(answered, "no echo reply {seq} from {B_V4}");
}

/// An IPv4 echo reply from B to our identifier with sequence number `seq`.
fn is_echo_reply(p: &[u8], seq: u16) -> bool {
    let Some(&first) = p.first() else {
        return false;
    };
    let ihl = usize::from(first & 0xf) * 4;
    let from_b = first >> 4 == 4 && p.get(9) == Some(&1) && p.get(12..16) == Some(&B_V4.octets());
    let Some(icmp) = p.get(ihl..ihl + 8) else {
        return false;
    };
    from_b
        && icmp[..2] == [0, 0]
        && icmp[4..6] == ECHO_IDENT.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}
