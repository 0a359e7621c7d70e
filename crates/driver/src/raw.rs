//! The raw-packet loop: builds the engine's probes into IP packets, sends
//! them in batches on a cooked AF_PACKET socket per interface (`sendmmsg`),
//! and feeds every packet the kernel's BPF filter lets through back to the
//! engine (`recvmmsg`). Next hops that never answered ARP / NS are sent
//! through a raw IP socket instead, so the kernel gets its own try.

use crate::paths::{Path, SharedPaths};
use portolan_engine::{ProbeKind, ProbeSpec};
use portolan_netio::bpf;
use portolan_netio::packet::{PacketSocket, RxBatch, TxPacket};
use portolan_netio::rawip::RawIpSender;
use portolan_wire::probe::{emit_tcp, emit_udp, EmitError, IpParams, MAX_PROBE_LEN};
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
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
    /// Probes to targets without a route, or that the kernel refused.
    pub dropped: u64,
}

/// Sockets and buffers of a raw scan.
pub struct RawNet {
    paths: SharedPaths,
    filter: bpf::Program,
    sockets: HashMap<u32, PacketSocket>,
    fallback: Option<RawIpSender>,
    /// Built packets waiting for the next flush: (path, bytes).
    queue: Vec<(Path, Vec<u8>)>,
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
        RawNet {
            paths,
            filter: bpf::scan_filter(ports),
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
    pub fn push(&mut self, spec: &ProbeSpec) -> io::Result<()> {
        let path = self
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(spec.dst);
        let Some(path) = path else {
            self.stats.dropped += 1;
            return Ok(());
        };
        // Replies come back on the path's interface, whichever way we send.
        self.socket(path.ifindex)?;
        self.ip_id = self.ip_id.wrapping_add(1);
        let ip = IpParams {
            src: path.src,
            dst: spec.dst,
            ttl: TTL,
            ip_id: self.ip_id,
        };
        let Ok(len) = build(&mut self.scratch, &ip, &spec.kind) else {
            self.stats.dropped += 1;
            return Ok(());
        };
        self.queue.push((path, self.scratch[..len].to_vec()));
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
        let mut by_if: HashMap<u32, Vec<(Path, Vec<u8>)>> = HashMap::new();
        let mut direct = Vec::new();
        for (path, pkt) in queue {
            match path.mac {
                Some(_) => by_if.entry(path.ifindex).or_default().push((path, pkt)),
                None => direct.push(pkt),
            }
        }
        for (ifindex, pkts) in by_if {
            self.send_on(ifindex, &pkts)?;
        }
        self.send_direct(&direct);
        Ok(())
    }

    fn send_on(&mut self, ifindex: u32, pkts: &[(Path, Vec<u8>)]) -> io::Result<()> {
        let batch: Vec<TxPacket<'_>> = pkts
            .iter()
            .map(|(p, d)| TxPacket {
                data: d,
                next_hop_mac: p.mac.unwrap_or_default(),
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
        // Built by the sender from the path's interface (not yet wired).
        ProbeKind::Neighbor => Err(EmitError::PayloadTooLarge),
    }
}
