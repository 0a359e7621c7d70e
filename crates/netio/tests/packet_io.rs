//! Raw packet I/O against real kernels.
//!
//! Each test builds its own network namespaces (`pnc<pid><tag>`): a scanner
//! and a peer joined by a veth pair (198.18.210.1/24 and 2001:db8:210::1/64 on
//! the scanner, .2 and ::2 on the peer, static MACs and neighbours), or one
//! namespace whose loopback owns 198.19.0.0/16. Probes are hand-built TCP
//! SYNs; the peer's kernel answers a closed port with a reset and a listening
//! one with a SYN-ACK. The namespaces are deleted by Drop guards, also when a
//! test fails. Needs root; without it every test prints SKIPPED and passes.
//!
//! Waiting for a reply polls the socket with a deadline (a real clock, hence
//! the allow below); no assertion depends on how long anything took.
#![allow(clippy::disallowed_methods)]

use portolan_netio::bpf::{discovery_filter, scan_filter};
use portolan_netio::packet::{PacketSocket, RxBatch, TxPacket};
use portolan_netio::rawip::RawIpSender;
use portolan_wire::arp;
use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

const SCANNER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xd2, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xd2, 0x02];
const SCANNER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 210, 1);
const PEER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 210, 2);
const SCANNER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x210, 0, 0, 0, 0, 1);
const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x210, 0, 0, 0, 0, 2);
/// The scanner's source ports; the filter accepts these as destinations.
const SPORT: u16 = 40000;
const PORTS: std::ops::RangeInclusive<u16> = 40000..=40009;
const CLOSED: u16 = 9;
const LISTENING: u16 = 8080;
const WAIT: Duration = Duration::from_secs(5);

const RST: u8 = 0x04;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

fn root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIPPED: packet I/O tests need root (network namespaces, AF_PACKET)");
    }
    root
}

// ---------------------------------------------------------------- namespaces

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace that is deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("pnc{}{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> args...`
    fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Runs `f` on a thread inside this namespace; sockets it opens stay there.
    /// Waits (at most [`WAIT`]) until `dev` reports carrier: until then the
    /// kernel's link watcher may still be swapping in a queue that drops all.
    fn wait_up(&self, dev: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = Command::new("ip")
                .args(["-n", &self.name, "-o", "link", "show", "dev", dev])
                .output()
                .expect("run ip");
            if String::from_utf8_lossy(&out.stdout).contains("state UP") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{dev} in {} never came up",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            let t = s.spawn(|| {
                self.enter();
                f()
            });
            t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    fn enter(&self) {
        let f = File::open(format!("/var/run/netns/{}", self.name)).expect("netns file");
        // SAFETY: `f` is an open namespace file; setns changes only this thread.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", io::Error::last_os_error());
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Scanner and peer namespaces joined by a veth pair, `v0` on the scanner.
struct Pair {
    scanner: Netns,
    peer: Netns,
}

/// One end of the veth pair.
struct End {
    dev: &'static str,
    mac: [u8; 6],
    v4: Ipv4Addr,
    v6: Ipv6Addr,
}

const SCANNER: End = End {
    dev: "v0",
    mac: SCANNER_MAC,
    v4: SCANNER_V4,
    v6: SCANNER_V6,
};
const PEER: End = End {
    dev: "v1",
    mac: PEER_MAC,
    v4: PEER_V4,
    v6: PEER_V6,
};

impl Pair {
    fn new(tag: &str) -> Pair {
        let pair = Pair {
            scanner: Netns::new(&format!("{tag}s")),
            peer: Netns::new(&format!("{tag}p")),
        };
        let (s, p) = (&pair.scanner.name, &pair.peer.name);
        let add = format!("link add v0 netns {s} type veth peer name v1 netns {p}");
        ip(&add.split(' ').collect::<Vec<_>>());
        configure(&pair.scanner, &SCANNER, &PEER);
        configure(&pair.peer, &PEER, &SCANNER);
        pair.scanner.wait_up(SCANNER.dev);
        pair.peer.wait_up(PEER.dev);
        pair
    }

    /// The scanner's veth, as seen inside its namespace.
    fn scanner_ifindex(&self) -> u32 {
        self.scanner.run(|| ifindex(SCANNER.dev))
    }
}

fn mac_str(mac: [u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

/// Addresses, MAC, and permanent neighbour entries for the other end, so no
/// ARP or neighbour discovery runs during the test.
fn configure(ns: &Netns, own: &End, other: &End) {
    let dev = own.dev;
    ns.ip(&["link", "set", dev, "address", &mac_str(own.mac)]);
    ns.ip(&["addr", "add", &format!("{}/24", own.v4), "dev", dev]);
    let v6 = format!("{}/64", own.v6);
    ns.ip(&["-6", "addr", "add", &v6, "dev", dev, "nodad"]);
    ns.ip(&["link", "set", dev, "up"]);
    let lladdr = mac_str(other.mac);
    for addr in [other.v4.to_string(), other.v6.to_string()] {
        let args = ["neigh", "replace", &addr, "lladdr", &lladdr, "dev", dev];
        ns.ip(&[&args[..], &["nud", "permanent"]].concat());
    }
}

fn ifindex(name: &str) -> u32 {
    let c = std::ffi::CString::new(name).expect("no NUL");
    // SAFETY: `c` is a valid NUL-terminated string for the whole call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert_ne!(index, 0, "no interface {name}");
    index
}

// ------------------------------------------------------------------- packets

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A TCP SYN (no options) in an IPv4 or IPv6 header, with both checksums right.
fn tcp_syn(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = SYN;
    tcp[14..16].copy_from_slice(&1024u16.to_be_bytes());
    let mut pseudo = [octets(src), octets(dst)].concat();
    if src.is_ipv4() {
        pseudo.extend_from_slice(&[0, 6, 0, 20]);
    } else {
        pseudo.extend_from_slice(&[0, 0, 0, 20, 0, 0, 0, 6]);
    }
    pseudo.extend_from_slice(&tcp);
    let sum = checksum(&pseudo);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut pkt = ip_header(src, dst, 6, tcp.len());
    pkt.extend_from_slice(&tcp);
    pkt
}

fn ip_header(src: IpAddr, dst: IpAddr, proto: u8, payload: usize) -> Vec<u8> {
    let mut h;
    if src.is_ipv4() {
        h = vec![0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&(20 + payload as u16).to_be_bytes());
        h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        h[8] = 64;
        h[9] = proto;
        h[12..20].copy_from_slice(&[octets(src), octets(dst)].concat());
        let sum = checksum(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
    } else {
        h = vec![0u8; 40];
        h[0] = 0x60;
        h[4..6].copy_from_slice(&(payload as u16).to_be_bytes());
        h[6] = proto;
        h[7] = 64;
        h[8..40].copy_from_slice(&[octets(src), octets(dst)].concat());
    }
    h
}

/// What a reply says, from its IP and transport headers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seg {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
    ack: u32,
    flags: u8,
    /// The interface it arrived on (from the receive batch).
    ifindex: u32,
}

fn parse(p: &[u8]) -> Option<Seg> {
    let (src, dst, proto, l4): (IpAddr, IpAddr, u8, &[u8]) = match p.first()? >> 4 {
        4 => {
            let ihl = usize::from(p[0] & 0xf) * 4;
            let src: [u8; 4] = p.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            (src.into(), dst.into(), *p.get(9)?, p.get(ihl..)?)
        }
        6 => {
            let src: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            (src.into(), dst.into(), *p.get(6)?, p.get(40..)?)
        }
        _ => return None,
    };
    let word = |at: usize| Some(u16::from_be_bytes(l4.get(at..at + 2)?.try_into().ok()?));
    let tcp = proto == 6;
    Some(Seg {
        src,
        dst,
        proto,
        sport: word(0)?,
        dport: word(2)?,
        ack: if tcp {
            u32::from_be_bytes(l4.get(8..12)?.try_into().ok()?)
        } else {
            0
        },
        flags: if tcp { *l4.get(13)? } else { 0 },
        ifindex: 0,
    })
}

// ------------------------------------------------------------------- waiting

fn poll_in(sock: &PacketSocket, timeout: Duration) {
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(1000) as libc::c_int;
    // SAFETY: `pfd` is one live pollfd, and we pass a count of 1.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}

/// Receives until `done` holds for the segments seen so far; all of them.
/// Panics after [`WAIT`] without it.
fn recv_until(sock: &mut PacketSocket, what: &str, done: impl Fn(&[Seg]) -> bool) -> Vec<Seg> {
    let mut batch = RxBatch::new(16);
    let mut seen = Vec::new();
    let deadline = Instant::now() + WAIT;
    while !done(&seen) {
        let now = Instant::now();
        assert!(now < deadline, "no {what} within {WAIT:?}; saw {seen:#?}");
        poll_in(sock, deadline - now);
        sock.recv_batch(&mut batch).expect("recv_batch");
        seen.extend(segments(&batch));
    }
    seen
}

/// The parseable packets of a batch, with the interface each came in on.
fn segments(batch: &RxBatch) -> impl Iterator<Item = Seg> + '_ {
    let seg = |i| {
        parse(batch.get(i)).map(|s| Seg {
            ifindex: batch.ifindex(i),
            ..s
        })
    };
    (0..batch.len()).filter_map(seg)
}

fn is_reply(s: &Seg, from: IpAddr, sport: u16, dport: u16, flags: u8, seq: u32) -> bool {
    s.proto == 6
        && s.src == from
        && (s.sport, s.dport) == (sport, dport)
        && s.flags == flags
        && s.ack == seq.wrapping_add(1)
}

// --------------------------------------------------------------------- tests

/// A SYN to a closed port and one to a listening port, sent in one batch; the
/// peer's RST+ACK and SYN+ACK must come back to our source port.
fn syn_replies_over_veth(tag: &str, scanner: IpAddr, peer: IpAddr) {
    let pair = Pair::new(tag);
    let listener = pair
        .peer
        .run(|| TcpListener::bind((peer, LISTENING)).expect("listen"));
    let index = pair.scanner_ifindex();
    pair.scanner.run(|| {
        let mut sock = PacketSocket::open(index, &scan_filter(PORTS)).expect("open");
        let closed = tcp_syn(scanner, peer, SPORT, CLOSED, 1000);
        let open = tcp_syn(scanner, peer, SPORT + 1, LISTENING, 2000);
        let batch = [&closed, &open].map(|data| TxPacket::ip(data, PEER_MAC));
        assert_eq!(sock.send_batch(&batch).expect("send"), 2);
        let rst = |s: &Seg| is_reply(s, peer, CLOSED, SPORT, RST | ACK, 1000);
        let syn_ack = |s: &Seg| is_reply(s, peer, LISTENING, SPORT + 1, SYN | ACK, 2000);
        let seen = recv_until(&mut sock, "RST and SYN-ACK", |seen| {
            seen.iter().any(rst) && seen.iter().any(syn_ack)
        });
        assert!(seen.iter().all(|s| s.dst == scanner), "{seen:#?}");
        let (packets, drops) = sock.stats().expect("stats");
        assert!(packets >= 2, "stats counted {packets} packets");
        assert_eq!(drops, 0);
    });
    drop(listener);
}

#[test]
fn syn_gets_rst_and_syn_ack_over_veth_ipv4() {
    if root() {
        syn_replies_over_veth("a", SCANNER_V4.into(), PEER_V4.into());
    }
}

#[test]
fn syn_gets_rst_and_syn_ack_over_veth_ipv6() {
    if root() {
        syn_replies_over_veth("b", SCANNER_V6.into(), PEER_V6.into());
    }
}

/// The peer sends UDP to ports below and above the filter's range, then to
/// one inside. The link delivers in order, so once the last is here the
/// others would be too had the filter let them through.
fn filter_keeps_out(tag: &str, scanner: IpAddr, peer: IpAddr) {
    let pair = Pair::new(tag);
    let index = pair.scanner_ifindex();
    let mut sock = pair
        .scanner
        .run(|| PacketSocket::open(index, &scan_filter(PORTS)).expect("open"));
    pair.peer.run(|| {
        let udp = UdpSocket::bind((peer, 0)).expect("bind");
        udp.send_to(b"below", (scanner, 9999)).expect("send");
        udp.send_to(b"above", (scanner, 40010)).expect("send");
        udp.send_to(b"inside", (scanner, 40005)).expect("send");
    });
    let seen = recv_until(&mut sock, "UDP to port 40005", |seen| {
        seen.iter().any(|s| s.proto == 17 && s.dport == 40005)
    });
    let outside = |s: &Seg| !PORTS.contains(&s.dport) && s.proto == 17;
    assert!(!seen.iter().any(outside), "{seen:#?}");
    assert!(seen.iter().all(|s| s.proto != 6), "{seen:#?}");
}

#[test]
fn filter_keeps_out_ports_outside_the_range_ipv4() {
    if root() {
        filter_keeps_out("c", SCANNER_V4.into(), PEER_V4.into());
    }
}

#[test]
fn filter_keeps_out_ports_outside_the_range_ipv6() {
    if root() {
        filter_keeps_out("d", SCANNER_V6.into(), PEER_V6.into());
    }
}

/// A namespace whose loopback owns 198.19.0.0/16.
///
/// A packet written to an AF_PACKET socket on `lo` enters IPv4 as if it came
/// from outside, and a source address the host owns is then a martian unless
/// `accept_local` is on (127.0.0.0/8 would need `route_localnet` too; raw IP
/// sockets, which hand the kernel a route, need neither).
fn loopback_ns(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.ip(&["route", "add", "local", "198.19.0.0/16", "dev", "lo"]);
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "sysctl", "-qw"])
        .arg("net.ipv4.conf.lo.accept_local=1")
        .output()
        .expect("run sysctl");
    assert!(out.status.success(), "sysctl: {out:?}");
    ns
}

/// How the loopback test sends its SYNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The packet socket itself, as usual.
    Packet,
    /// The packet socket, with the kernel's own `PACKET_IGNORE_OUTGOING` turned
    /// back off so that the filter and the pkttype check do the work alone.
    PacketFilterOnly,
    /// Raw IP sockets.
    RawIp,
}

fn ignore_outgoing_off(sock: &PacketSocket) {
    let off: libc::c_int = 0;
    // SAFETY: `off` is a live c_int and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            (&off as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "{}", io::Error::last_os_error());
}

fn send_via(sock: &mut PacketSocket, via: Via, pkts: [&[u8]; 2]) {
    let sent = if via == Via::RawIp {
        let mut raw = RawIpSender::open().expect("raw");
        raw.send_batch(&pkts).expect("send")
    } else {
        let batch = pkts.map(|data| TxPacket::ip(data, [0; 6]));
        sock.send_batch(&batch).expect("send")
    };
    assert_eq!(sent, 2);
}

/// On loopback every packet passes the interface twice: out (`PACKET_OUTGOING`)
/// and back in. Two SYNs to closed ports: each reset must be read exactly
/// once. An outgoing copy is queued before its incoming twin, so once the
/// second reset is in, any duplicate of either would already be here.
fn loopback_reset_once(tag: &str, via: Via, src: IpAddr, dst: IpAddr) {
    // Only 198.19.0.0/16 needs the extra route (and `accept_local`).
    let ns = match dst {
        IpAddr::V4(a) if a.octets()[..2] == [198, 19] => loopback_ns(tag),
        _ => Netns::new(tag),
    };
    ns.run(|| {
        let mut sock = PacketSocket::open(ifindex("lo"), &scan_filter(PORTS)).expect("open");
        if via == Via::PacketFilterOnly {
            ignore_outgoing_off(&sock);
        }
        let a = tcp_syn(src, dst, SPORT, CLOSED, 7);
        let b = tcp_syn(src, dst, SPORT + 1, CLOSED, 8);
        send_via(&mut sock, via, [&a, &b]);
        let rst_a = |s: &Seg| is_reply(s, dst, CLOSED, SPORT, RST | ACK, 7);
        let rst_b = |s: &Seg| is_reply(s, dst, CLOSED, SPORT + 1, RST | ACK, 8);
        let mut seen = recv_until(&mut sock, "second RST", |seen| seen.iter().any(rst_b));
        let mut rest = RxBatch::new(16);
        sock.recv_batch(&mut rest).expect("recv_batch");
        seen.extend(segments(&rest));
        assert_eq!(seen.iter().filter(|s| rst_a(s)).count(), 1, "{seen:#?}");
        assert_eq!(seen.iter().filter(|s| rst_b(s)).count(), 1, "{seen:#?}");
        assert_eq!(seen.len(), 2, "{seen:#?}");
    });
}

#[test]
fn loopback_reply_is_received_exactly_once() {
    if root() {
        let (src, dst) = ([198, 19, 0, 1].into(), [198, 19, 3, 4].into());
        loopback_reset_once("e", Via::Packet, src, dst);
    }
}

#[test]
fn loopback_reply_is_received_once_by_filter_alone() {
    if root() {
        let (src, dst) = ([198, 19, 0, 1].into(), [198, 19, 3, 4].into());
        loopback_reset_once("f", Via::PacketFilterOnly, src, dst);
    }
}

#[test]
fn loopback_127_via_raw_ip_reply_is_received_exactly_once() {
    if root() {
        let local = IpAddr::from([127, 0, 0, 1]);
        loopback_reset_once("k", Via::RawIp, local, local);
    }
}

/// IPv6 has no martian rule for ::1 arriving on `lo`: the packet socket works.
#[test]
fn loopback_ipv6_reply_is_received_exactly_once() {
    if root() {
        let local = IpAddr::from(Ipv6Addr::LOCALHOST);
        loopback_reset_once("m", Via::Packet, local, local);
    }
}

#[test]
fn loopback_ipv6_via_raw_ip_reply_is_received_exactly_once() {
    if root() {
        let local = IpAddr::from(Ipv6Addr::LOCALHOST);
        loopback_reset_once("n", Via::RawIp, local, local);
    }
}

/// The fallback path: SYNs through raw IP sockets (the kernel routes them and
/// adds the link header), replies read by a packet socket on all interfaces.
#[test]
fn raw_ip_sender_with_packet_socket_on_all_interfaces() {
    if !root() {
        return;
    }
    let pair = Pair::new("g");
    let index = pair.scanner_ifindex();
    pair.scanner.run(|| {
        let mut sock = PacketSocket::open(0, &scan_filter(PORTS)).expect("open(0)");
        let mut raw = RawIpSender::open().expect("raw");
        let v4 = tcp_syn(SCANNER_V4.into(), PEER_V4.into(), SPORT, CLOSED, 11);
        let v6 = tcp_syn(SCANNER_V6.into(), PEER_V6.into(), SPORT + 2, CLOSED, 12);
        let v4b = tcp_syn(SCANNER_V4.into(), PEER_V4.into(), SPORT + 3, CLOSED, 13);
        assert_eq!(raw.send_batch(&[&v4, &v6, &v4b]).expect("send"), 3);
        let want = [
            (IpAddr::from(PEER_V4), SPORT, 11),
            (PEER_V6.into(), SPORT + 2, 12),
            (PEER_V4.into(), SPORT + 3, 13),
        ];
        let rst = |s: &Seg, (peer, port, seq): (IpAddr, u16, u32)| {
            is_reply(s, peer, CLOSED, port, RST | ACK, seq)
        };
        let seen = recv_until(&mut sock, "three RSTs", |seen| {
            want.iter().all(|w| seen.iter().any(|s| rst(s, *w)))
        });
        // Receiving on all interfaces, it still says where each came in.
        for s in seen.iter().filter(|s| want.iter().any(|w| rst(s, *w))) {
            assert_eq!(s.ifindex, index, "{s:?}");
        }
        // A socket on all interfaces has no interface to send on.
        let tx = [TxPacket::ip(&v4, PEER_MAC)];
        let err = sock.send_batch(&tx).expect_err("send on ifindex 0");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    });
}

#[test]
fn bad_packets_and_interfaces_are_errors_not_sends() {
    if !root() {
        return;
    }
    let ns = Netns::new("h");
    ns.run(|| {
        let filter = scan_filter(PORTS);
        let missing = PacketSocket::open(999_999, &filter).expect_err("no such interface");
        assert_eq!(missing.raw_os_error(), Some(libc::ENODEV), "{missing}");
        let mut sock = PacketSocket::open(ifindex("lo"), &filter).expect("open");
        let not_ip = [0x50u8; 20];
        let good = tcp_syn(
            [127, 0, 0, 1].into(),
            [127, 0, 0, 1].into(),
            SPORT,
            CLOSED,
            1,
        );
        let pkt = |data| TxPacket::ip(data, [0; 6]);
        let err = sock
            .send_batch(&[pkt(&not_ip), pkt(&good)])
            .expect_err("bad first");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // A bad packet later in the batch stops the batch before it.
        let n = sock.send_batch(&[pkt(&good), pkt(&not_ip), pkt(&good)]);
        assert_eq!(n.expect("good first"), 1);
        let mut raw = RawIpSender::open().expect("raw");
        let short: &[u8] = &good[..19];
        let err = raw.send_batch(&[short]).expect_err("short header");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(raw.send_batch(&[&good, short]).expect("good first"), 1);
    });
}

/// An ARP request sent as a payload with its own ethertype reaches the peer,
/// and the peer's reply comes back through the discovery filter; a socket
/// with the scan filter on the same interface keeps it out.
#[test]
fn arp_request_gets_its_reply_through_the_discovery_filter() {
    if !root() {
        return;
    }
    let pair = Pair::new("o");
    let index = pair.scanner_ifindex();
    pair.scanner.run(|| {
        let mut disc = PacketSocket::open(index, &discovery_filter(PORTS)).expect("open");
        let mut scan = PacketSocket::open(index, &scan_filter(PORTS)).expect("open");
        let mut req = [0u8; arp::PACKET_LEN];
        let len = arp::build_request(&mut req, SCANNER_MAC, SCANNER_V4, PEER_V4);
        assert_eq!(len, arp::PACKET_LEN);
        let sent = disc.send_batch(&[TxPacket::arp(&req, [0xff; 6])]);
        assert_eq!(sent.expect("send"), 1);
        let reply = recv_arp(&mut disc);
        assert_eq!(reply.operation, arp::Operation::Reply);
        assert_eq!((reply.sender_ip, reply.sender_mac), (PEER_V4, PEER_MAC));
        assert_eq!(
            (reply.target_ip, reply.target_mac),
            (SCANNER_V4, SCANNER_MAC)
        );
        // Delivery to every packet socket happens at once: had the scan
        // filter admitted the reply, it would be queued by now.
        let mut rx = RxBatch::new(16);
        scan.recv_batch(&mut rx).expect("recv");
        let arps: Vec<_> = rx.iter().filter_map(arp::Repr::parse).collect();
        assert!(arps.is_empty(), "{arps:?}");
    });
}

/// The first ARP message the socket receives; panics after [`WAIT`].
fn recv_arp(sock: &mut PacketSocket) -> arp::Repr {
    let mut batch = RxBatch::new(16);
    let deadline = Instant::now() + WAIT;
    loop {
        let now = Instant::now();
        assert!(now < deadline, "no ARP reply within {WAIT:?}");
        poll_in(sock, deadline - now);
        sock.recv_batch(&mut batch).expect("recv_batch");
        if let Some(r) = batch.iter().find_map(arp::Repr::parse) {
            return r;
        }
    }
}

// --------------------------------------------------------------- measurement

/// Sends `probes` as fast as `send_batch` takes them, `batch_len` at a time,
/// while draining the replies (TCP resets); prints rates. Bounded by the
/// probe count and a 30 s deadline.
fn burst(sock: &mut PacketSocket, probes: &[Vec<u8>], mac: [u8; 6], batch_len: usize) -> String {
    let mut rx = RxBatch::new(256);
    let (mut sent, mut resets, mut pushback) = (0usize, 0usize, 0usize);
    let mut drain = |sock: &mut PacketSocket| {
        sock.recv_batch(&mut rx).expect("recv");
        let is_rst = |p: &&[u8]| parse(p).is_some_and(|s| s.flags & RST != 0);
        rx.iter().filter(is_rst).count()
    };
    let txs: Vec<TxPacket<'_>> = probes.iter().map(|data| TxPacket::ip(data, mac)).collect();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    while sent < txs.len() && Instant::now() < deadline {
        let end = (sent + batch_len).min(txs.len());
        let n = sock.send_batch(&txs[sent..end]).expect("send");
        pushback += usize::from(n < end - sent);
        sent += n;
        resets += drain(sock);
    }
    let tx_time = start.elapsed();
    let quiet_after = Instant::now() + Duration::from_secs(1);
    while resets < sent && Instant::now() < quiet_after {
        poll_in(sock, Duration::from_millis(100));
        resets += drain(sock);
    }
    let (_, drops) = sock.stats().expect("stats");
    format!(
        "batch {batch_len:>3}: sent {sent} in {tx_time:.2?} = {:>7.0} pkt/s \
         (pushback {pushback}x); {resets} resets received, {drops} dropped by the socket",
        sent as f64 / tx_time.as_secs_f64()
    )
}

fn syns_to(dsts: impl Iterator<Item = IpAddr>, src: IpAddr, count: usize) -> Vec<Vec<u8>> {
    let dsts = dsts.take(count).enumerate();
    let syn = |(i, dst): (usize, IpAddr)| {
        let sport = *PORTS.start() + (i % 10) as u16;
        tcp_syn(src, dst, sport, CLOSED, i as u32)
    };
    dsts.map(syn).collect()
}

#[test]
#[ignore = "measurement: cargo test -p portolan-netio --release --test packet_io -- --ignored --nocapture"]
fn burst_rates() {
    if !root() {
        return;
    }
    const COUNT: usize = 100_000;
    let ns = loopback_ns("i");
    ns.run(|| {
        let mut sock = PacketSocket::open(ifindex("lo"), &scan_filter(PORTS)).expect("open");
        let dsts = (0..).map(|i: u32| IpAddr::from([198, 19, (i >> 8) as u8, i as u8]));
        let probes = syns_to(dsts, [198, 19, 0, 1].into(), COUNT);
        let line = burst(&mut sock, &probes, [0; 6], 64);
        eprintln!("loopback, 100k SYNs to 198.19.0.0/16, replies drained inline: {line}");
    });
    drop(ns);
    let pair = Pair::new("j");
    let index = pair.scanner_ifindex();
    pair.scanner.run(|| {
        let probes = syns_to(std::iter::repeat(PEER_V4.into()), SCANNER_V4.into(), COUNT);
        for bypass in [false, true] {
            let mut sock = PacketSocket::open(index, &scan_filter(PORTS)).expect("open");
            sock.set_qdisc_bypass(bypass).expect("qdisc bypass");
            let line = burst(&mut sock, &probes, PEER_MAC, 64);
            eprintln!("veth to the peer's closed port, qdisc bypass {bypass}: {line}");
        }
    });
    drop(pair);
    // Frames for a MAC address nobody has: the peer drops them on arrival,
    // so this is the cost of sending alone, by batch size.
    let pair = Pair::new("l");
    let index = pair.scanner_ifindex();
    pair.scanner.run(|| {
        let probes = syns_to(std::iter::repeat(PEER_V4.into()), SCANNER_V4.into(), COUNT);
        for batch_len in [1, 16, 64, 256] {
            let mut sock = PacketSocket::open(index, &scan_filter(PORTS)).expect("open");
            let line = burst(&mut sock, &probes, [0x02, 0, 0, 0, 0, 0x99], batch_len);
            eprintln!("veth, frames for no one, send only: {line}");
        }
    });
}
