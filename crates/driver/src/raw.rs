//! The raw-packet loop: builds the engine's probes into IP packets, sends
//! them in batches on a cooked AF_PACKET socket per interface (`sendmmsg`),
//! and feeds every packet the kernel's BPF filter lets through back to the
//! engine (`recvmmsg`). Next hops that never answered ARP / NS are sent
//! through a raw IP socket instead, so the kernel gets its own try.
//!
//! Host discovery's [`ProbeKind::Neighbor`] probes are built here, because
//! they depend on the interface: an ARP request (broadcast) or a neighbour
//! solicitation (to the target's solicited-node group), from the
//! interface's MAC and the path's source address. With
//! [`RawNet::new_discovery`] the sockets also let ARP replies in; the engine
//! gets them as the ARP message alone (hardware type first).

use crate::paths::{Path, SharedPaths};
use portolan_engine::{ProbeKind, ProbeSpec};
use portolan_netio::bpf;
use portolan_netio::packet::{PacketSocket, RxBatch, TxPacket, ETHERTYPE_ARP};
use portolan_netio::rawip::RawIpSender;
use portolan_wire::probe::{emit_tcp, emit_udp, EmitError, IpParams, MAX_PROBE_LEN};
use portolan_wire::{arp, ndp};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::os::fd::AsRawFd;
use std::sync::PoisonError;
use std::time::Duration;

/// Packets per `sendmmsg` / `recvmmsg`.
pub const BATCH: usize = 64;
/// TTL / hop limit of probes.
const TTL: u8 = 64;

/// Counters the raw loop keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawStats {
    pub sent: u64,
    /// Of `sent`, the packets that went through raw IP sockets (no next-hop
    /// MAC: local addresses, or a next hop that did not answer ARP / NS).
    pub sent_raw_ip: u64,
    pub received: u64,
    /// Probes to targets without a route, or that the kernel refused, and
    /// neighbour probes to targets not on a link that resolves neighbours.
    pub dropped: u64,
}

/// A frame waiting for the next flush.
#[derive(Debug)]
struct Frame {
    ifindex: u32,
    /// Where the frame goes on the link; `None`: through a raw IP socket.
    mac: Option<[u8; 6]>,
    /// `None`: from the IP version nibble.
    ethertype: Option<u16>,
    bytes: Vec<u8>,
}

/// Sockets and buffers of a raw scan.
pub struct RawNet {
    paths: SharedPaths,
    filter: bpf::Program,
    sockets: HashMap<u32, PacketSocket>,
    fallback: Option<RawIpSender>,
    /// Built frames waiting for the next flush.
    queue: Vec<Frame>,
    rx: RxBatch,
    /// Where each probe is built before its bytes are queued.
    scratch: Box<[u8; MAX_PROBE_LEN]>,
    ip_id: u16,
    pub stats: RawStats,
}

impl std::fmt::Debug for RawNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawNet")
            .field("sockets", &self.sockets.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl RawNet {
    /// Ready to send from source ports `ports` (the filter admits replies to them).
    pub fn new(paths: SharedPaths, ports: RangeInclusive<u16>) -> RawNet {
        RawNet::with_filter(paths, bpf::scan_filter(ports))
    }

    /// As [`RawNet::new`], for host discovery: the sockets also receive ARP
    /// replies, handed to `receive`'s callback as the ARP message alone.
    pub fn new_discovery(paths: SharedPaths, ports: RangeInclusive<u16>) -> RawNet {
        RawNet::with_filter(paths, bpf::discovery_filter(ports))
    }

    fn with_filter(paths: SharedPaths, filter: bpf::Program) -> RawNet {
        RawNet {
            paths,
            filter,
            sockets: HashMap::new(),
            fallback: None,
            queue: Vec::with_capacity(BATCH),
            rx: RxBatch::new(BATCH),
            scratch: Box::new([0; MAX_PROBE_LEN]),
            ip_id: 0x4a11,
            stats: RawStats::default(),
        }
    }

    fn socket(&mut self, ifindex: u32) -> io::Result<&mut PacketSocket> {
        if !self.sockets.contains_key(&ifindex) {
            let s = PacketSocket::open(ifindex, &self.filter)?;
            self.sockets.insert(ifindex, s);
        }
        self.sockets
            .get_mut(&ifindex)
            .ok_or_else(|| io::Error::other("socket vanished"))
    }

    /// The engine is done with a target: its path is no longer needed.
    pub fn forget(&mut self, dst: IpAddr) {
        self.paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .forget(dst);
    }

    /// Builds a probe and queues it; flushes when a batch is full.
    ///
    /// A [`ProbeKind::Neighbor`] probe goes out on the path's interface if
    /// the target is on that link and the link resolves neighbours (see
    /// [`Path::on_link`]) and has a MAC; otherwise it is dropped (counted in
    /// `stats.dropped`).
    pub fn push(&mut self, spec: &ProbeSpec) -> io::Result<()> {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.push_with(spec, TTL, self.ip_id)
    }

    /// A traceroute probe: the engine sets its TTL and IPv4 identification.
    pub fn push_trace(&mut self, probe: &portolan_engine::trace::TraceProbe) -> io::Result<()> {
        let spec = ProbeSpec {
            dst: probe.dst,
            kind: probe.kind,
        };
        self.push_with(&spec, probe.ttl, probe.ip_id)
    }

    fn push_with(&mut self, spec: &ProbeSpec, ttl: u8, ip_id: u16) -> io::Result<()> {
        let path = self
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(spec.dst);
        let Some(path) = path else {
            self.stats.dropped += 1;
            return Ok(());
        };
        if matches!(spec.kind, ProbeKind::Neighbor) {
            return self.push_neighbor(spec.dst, &path);
        }
        // Replies come back on the path's interface, whichever way we send.
        self.socket(path.ifindex)?;
        let ip = IpParams {
            src: path.src,
            dst: spec.dst,
            ttl,
            ip_id,
        };
        let Ok(len) = build(&mut self.scratch, &ip, &spec.kind) else {
            self.stats.dropped += 1;
            return Ok(());
        };
        self.enqueue(Frame {
            ifindex: path.ifindex,
            mac: path.mac,
            ethertype: None,
            bytes: self.scratch[..len].to_vec(),
        })
    }

    /// An ARP request or neighbour solicitation for `dst`, if it can be sent.
    fn push_neighbor(&mut self, dst: IpAddr, path: &Path) -> io::Result<()> {
        let own_mac = if path.on_link {
            let mut paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
            paths.own_mac(path.ifindex)
        } else {
            None
        };
        let frame = own_mac.and_then(|mac| neighbor_frame(&mut self.scratch, dst, path, mac));
        let Some(frame) = frame else {
            self.stats.dropped += 1;
            return Ok(());
        };
        self.socket(path.ifindex)?;
        self.enqueue(frame)
    }

    fn enqueue(&mut self, frame: Frame) -> io::Result<()> {
        self.queue.push(frame);
        if self.queue.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends everything queued, grouped by interface. Packets the kernel
    /// refuses for lack of buffer space are retried a few times, then
    /// dropped (the engine's timers retransmit what matters).
    pub fn flush(&mut self) -> io::Result<()> {
        let queue = std::mem::take(&mut self.queue);
        let mut by_if: HashMap<u32, Vec<Frame>> = HashMap::new();
        let mut direct = Vec::new();
        for frame in queue {
            match frame.mac {
                Some(_) => by_if.entry(frame.ifindex).or_default().push(frame),
                None => direct.push(frame.bytes),
            }
        }
        for (ifindex, pkts) in by_if {
            self.send_on(ifindex, &pkts)?;
        }
        self.send_direct(&direct);
        Ok(())
    }

    fn send_on(&mut self, ifindex: u32, frames: &[Frame]) -> io::Result<()> {
        let batch: Vec<TxPacket<'_>> = frames
            .iter()
            .map(|f| TxPacket {
                data: &f.bytes,
                next_hop_mac: f.mac.unwrap_or_default(),
                ethertype: f.ethertype,
            })
            .collect();
        let sock = self.socket(ifindex)?;
        let mut done = 0;
        for _ in 0..50 {
            match sock.send_batch(&batch[done..]) {
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => done += 1,
                Err(_) => std::thread::sleep(Duration::from_micros(200)),
            }
            if done >= batch.len() {
                break;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        self.stats.sent += done as u64;
        self.stats.dropped += (batch.len() - done) as u64;
        Ok(())
    }

    fn send_direct(&mut self, pkts: &[Vec<u8>]) {
        if pkts.is_empty() {
            return;
        }
        if self.fallback.is_none() {
            self.fallback = RawIpSender::open().ok();
        }
        let Some(f) = self.fallback.as_mut() else {
            self.stats.dropped += pkts.len() as u64;
            return;
        };
        let slices: Vec<&[u8]> = pkts.iter().map(|p| p.as_slice()).collect();
        let n = f.send_batch(&slices).unwrap_or(0);
        self.stats.sent += n as u64;
        self.stats.sent_raw_ip += n as u64;
        self.stats.dropped += (slices.len() - n) as u64;
    }

    /// Waits up to `timeout` for any socket to become readable, then hands
    /// every queued packet to `on_packet`.
    pub fn receive(
        &mut self,
        timeout: Duration,
        mut on_packet: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        self.wait(timeout)?;
        let ifs: Vec<u32> = self.sockets.keys().copied().collect();
        for ifindex in ifs {
            for _ in 0..64 {
                let Some(sock) = self.sockets.get_mut(&ifindex) else {
                    break;
                };
                let n = sock.recv_batch(&mut self.rx)?;
                self.stats.received += n as u64;
                for i in 0..n {
                    on_packet(self.rx.get(i));
                }
                if n < self.rx.capacity() {
                    break;
                }
            }
        }
        Ok(())
    }

    fn wait(&self, timeout: Duration) -> io::Result<()> {
        let fds: Vec<_> = self.sockets.values().map(|s| s.as_raw_fd()).collect();
        if fds.is_empty() {
            std::thread::sleep(timeout);
            return Ok(());
        }
        portolan_netio::poll::wait_readable(&fds, timeout)
    }
}

fn build(
    buf: &mut [u8; MAX_PROBE_LEN],
    ip: &IpParams,
    kind: &ProbeKind,
) -> Result<usize, EmitError> {
    match kind {
        ProbeKind::Tcp(tcp) => emit_tcp(buf, ip, tcp),
        ProbeKind::Udp(udp) => emit_udp(buf, ip, udp),
        ProbeKind::Icmp(icmp) => portolan_wire::ping::emit_icmp(buf, ip, icmp),
        // Built from the path's interface: see `neighbor_frame`.
        ProbeKind::Neighbor => Err(EmitError::PayloadTooLarge),
    }
}

/// The frame that asks `dst`'s MAC on `path`'s link, sent from `own_mac`: an
/// ARP request to broadcast, or a neighbour solicitation (hop limit 255) to
/// `dst`'s solicited-node group. `None` if the path's source address is not
/// of `dst`'s family, or `dst` is no one's unicast address.
fn neighbor_frame(
    buf: &mut [u8; MAX_PROBE_LEN],
    dst: IpAddr,
    path: &Path,
    own_mac: [u8; 6],
) -> Option<Frame> {
    if dst.is_multicast() || dst.is_unspecified() || dst == IpAddr::V4(Ipv4Addr::BROADCAST) {
        return None;
    }
    let (mac, ethertype, len) = match (path.src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => arp_request(buf, src, dst, own_mac),
        (IpAddr::V6(src), IpAddr::V6(dst)) => solicitation(buf, src, dst, own_mac),
        _ => return None,
    };
    (len > 0).then(|| Frame {
        ifindex: path.ifindex,
        mac: Some(mac),
        ethertype,
        bytes: buf[..len].to_vec(),
    })
}

fn arp_request(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    own_mac: [u8; 6],
) -> ([u8; 6], Option<u16>, usize) {
    let len = arp::build_request(buf, own_mac, src, dst);
    ([0xff; 6], Some(ETHERTYPE_ARP), len)
}

fn solicitation(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    own_mac: [u8; 6],
) -> ([u8; 6], Option<u16>, usize) {
    let len = ndp::build_solicitation(buf, src, dst, own_mac);
    let group = ndp::multicast_mac(ndp::solicited_node(dst));
    (group, None, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;
    use portolan_wire::checksum;

    const OWN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xc8, 0x01];

    fn path(src: IpAddr) -> Path {
        Path {
            ifindex: 7,
            src,
            mac: None,
            on_link: true,
            local: false,
        }
    }

    fn frame(src: &str, dst: &str) -> Option<Frame> {
        let mut buf = Box::new([0u8; MAX_PROBE_LEN]);
        let path = path(src.parse().unwrap());
        neighbor_frame(&mut buf, dst.parse().unwrap(), &path, OWN_MAC)
    }

    #[test]
    fn ipv4_neighbor_probe_is_a_broadcast_arp_request() {
        let f = frame("198.18.200.1", "198.18.200.2").unwrap();
        assert_eq!((f.ifindex, f.mac), (7, Some([0xff; 6])));
        assert_eq!(f.ethertype, Some(0x0806));
        let req = arp::Repr::parse(&f.bytes).unwrap();
        assert_eq!(f.bytes.len(), arp::PACKET_LEN);
        assert_eq!(req.operation, arp::Operation::Request);
        assert_eq!(req.sender_mac, OWN_MAC);
        assert_eq!(req.sender_ip, Ipv4Addr::new(198, 18, 200, 1));
        assert_eq!(req.target_ip, Ipv4Addr::new(198, 18, 200, 2));
        assert_eq!(req.target_mac, [0; 6]);
    }

    #[test]
    fn ipv6_neighbor_probe_is_a_solicitation_to_the_solicited_node_group() {
        let f = frame("2001:db8:200::1", "2001:db8:200::12:3456").unwrap();
        assert_eq!(f.mac, Some([0x33, 0x33, 0xff, 0x12, 0x34, 0x56]));
        assert_eq!(f.ethertype, None, "IPv6, from the version nibble");
        let p = &f.bytes;
        assert_eq!(p.len(), 72);
        assert_eq!(p[0] >> 4, 6);
        assert_eq!((p[6], p[7]), (58, 255), "ICMPv6, hop limit 255");
        let src: Ipv6Addr = "2001:db8:200::1".parse().unwrap();
        let group: Ipv6Addr = "ff02::1:ff12:3456".parse().unwrap();
        assert_eq!(p[8..24], src.octets());
        assert_eq!(p[24..40], group.octets());
        let icmp = &p[40..];
        assert_eq!((icmp[0], icmp[1]), (135, 0));
        let target: Ipv6Addr = "2001:db8:200::12:3456".parse().unwrap();
        assert_eq!(icmp[8..24], target.octets());
        // Source link-layer address option: type 1, one 8-byte unit.
        assert_eq!(icmp[24..26], [1, 1]);
        assert_eq!(icmp[26..32], OWN_MAC);
        // The checksum covers the pseudo-header: summing it all gives zero.
        let mut acc = checksum::sum(&p[8..40], 0);
        acc = checksum::sum(&(icmp.len() as u32).to_be_bytes(), acc);
        acc = checksum::sum(&[0, 0, 0, 58], acc);
        assert_eq!(checksum::finish(checksum::sum(icmp, acc)), 0);
    }

    #[test]
    fn neighbor_probes_need_one_family_and_a_unicast_target() {
        assert!(frame("198.18.200.1", "2001:db8:200::2").is_none());
        assert!(frame("2001:db8:200::1", "198.18.200.2").is_none());
        assert!(frame("198.18.200.1", "224.0.0.1").is_none());
        assert!(frame("198.18.200.1", "255.255.255.255").is_none());
        assert!(frame("198.18.200.1", "0.0.0.0").is_none());
        assert!(frame("2001:db8:200::1", "ff02::1").is_none());
        assert!(frame("2001:db8:200::1", "::").is_none());
    }

    /// Loopback resolves no neighbours: the probe is counted as dropped and
    /// nothing is opened or sent (so this needs no privileges).
    #[test]
    fn neighbor_probes_off_a_resolving_link_are_dropped() {
        let paths = Paths::shared();
        let targets: [IpAddr; 2] = [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
        paths.lock().unwrap().prepare(&targets);
        let held: Vec<IpAddr> = targets
            .into_iter()
            .filter(|t| paths.lock().unwrap().get(*t).is_some())
            .collect();
        assert!(!held.is_empty());
        let mut net = RawNet::new_discovery(paths, 40000..=40015);
        for dst in &held {
            let spec = ProbeSpec {
                dst: *dst,
                kind: ProbeKind::Neighbor,
            };
            net.push(&spec).unwrap();
        }
        // One without any path is dropped too.
        let unknown = ProbeSpec {
            dst: "198.18.0.9".parse().unwrap(),
            kind: ProbeKind::Neighbor,
        };
        net.push(&unknown).unwrap();
        net.flush().unwrap();
        assert_eq!(net.stats.dropped, held.len() as u64 + 1);
        assert_eq!(net.stats.sent, 0);
        assert!(net.sockets.is_empty());
    }
}
