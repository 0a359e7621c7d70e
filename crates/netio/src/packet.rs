//! Batched IP packet I/O over one AF_PACKET socket per interface.
//!
//! The socket is cooked (`SOCK_DGRAM`): the kernel builds the link header on
//! send (from the next hop's MAC address) and strips it on receive, for any
//! link type (Ethernet, loopback, tun), so this module deals in IP packets
//! and, given their ethertype, other payloads such as ARP. Sending and
//! receiving are batched (`sendmmsg`, `recvmmsg`), never block, and never
//! allocate after [`PacketSocket::open`] and [`RxBatch::new`].
//!
//! Packets the host itself sends (`PACKET_OUTGOING`: our own probes and, on
//! loopback, the kernel's replies on their way out) are kept out three times
//! over: `PACKET_IGNORE_OUTGOING` where the kernel has it (4.20+), the BPF
//! filter, and a check of `sll_pkttype` on every received packet. A reply on
//! loopback is therefore seen once, as it comes back in.
//!
//! The socket is created listening to nothing, gets its filter, and only then
//! is bound to `ETH_P_ALL`, so no unfiltered packet is ever queued.
//!
//! Loopback: the kernel takes a packet written to `lo` here as one received
//! from outside. IPv4 then drops as a martian any packet whose source address
//! is the host's own (the usual case when scanning one's own addresses)
//! unless `net.ipv4.conf.lo.accept_local` is 1, and 127.0.0.0/8 unless
//! `route_localnet` is set too. IPv6 (`::1` included) is not affected. Send
//! IPv4 probes that route via `lo` with
//! [`RawIpSender`](crate::rawip::RawIpSender) instead; their replies are read
//! here as usual.

use crate::bpf::Program;
use std::fmt;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Bytes kept of each received packet; longer packets are truncated.
pub const RX_SLOT_LEN: usize = 2048;
/// Messages handed to the kernel per `sendmmsg`/`recvmmsg` call.
pub(crate) const MAX_MSGS: usize = 64;
/// Receive buffer asked for: replies to a fast scan arrive in bursts.
const RCVBUF: libc::c_int = 8 << 20;
/// Send buffer asked for, so a batch is not cut short by buffer accounting.
const SNDBUF: libc::c_int = 4 << 20;
/// An integer socket option's "on".
pub(crate) const ON: libc::c_int = 1;
/// `sll_pkttype` of a packet this host sends.
const PACKET_OUTGOING: u8 = libc::PACKET_OUTGOING;

/// The ethertype of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;

/// One frame's payload to send and the link-layer address it goes to (all
/// zeros on loopback; ignored on links without addresses such as tun).
///
/// Usually a whole IP packet, whose version nibble gives the ethertype; with
/// [`ethertype`](TxPacket::ethertype) set, any payload of that ethertype,
/// such as an ARP message (the kernel writes the link header either way).
#[derive(Debug, Clone, Copy)]
pub struct TxPacket<'a> {
    /// A whole IPv4 or IPv6 packet, or a payload of `ethertype`.
    pub data: &'a [u8],
    /// The next hop's MAC: a router, the destination itself, or a broadcast
    /// or multicast address.
    pub next_hop_mac: [u8; 6],
    /// The frame's ethertype; `None` takes it from `data`'s IP version nibble.
    pub ethertype: Option<u16>,
}

impl<'a> TxPacket<'a> {
    /// An IPv4 or IPv6 packet to `next_hop_mac`.
    pub fn ip(data: &'a [u8], next_hop_mac: [u8; 6]) -> TxPacket<'a> {
        TxPacket {
            data,
            next_hop_mac,
            ethertype: None,
        }
    }

    /// An ARP message (the payload alone, as `portolan_wire::arp` builds it)
    /// to `dst_mac`: broadcast (`[0xff; 6]`) for a request.
    pub fn arp(data: &'a [u8], dst_mac: [u8; 6]) -> TxPacket<'a> {
        TxPacket {
            data,
            next_hop_mac: dst_mac,
            ethertype: Some(ETHERTYPE_ARP),
        }
    }
}

/// A cooked AF_PACKET socket with a BPF filter, bound to one interface or to
/// all of them. Non-blocking: poll its descriptor for readability.
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl fmt::Debug for PacketSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketSocket")
            .field("fd", &self.fd.as_raw_fd())
            .field("ifindex", &self.ifindex)
            .finish()
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl PacketSocket {
    /// Opens a socket on interface `ifindex` that queues only what `filter`
    /// accepts. `ifindex == 0` means every interface: such a socket receives
    /// (the raw-IP fallback's replies) but cannot send.
    ///
    /// Needs `CAP_NET_RAW`. A larger receive buffer (8 MiB, past
    /// `net.core.rmem_max` with `CAP_NET_ADMIN`) and send buffer are asked for
    /// but not required.
    pub fn open(ifindex: u32, filter: &Program) -> io::Result<PacketSocket> {
        let index = i32::try_from(ifindex).map_err(|_| invalid("interface index out of range"))?;
        let fd = packet_socket()?;
        attach_filter(&fd, filter)?;
        // Best effort: older kernels lack it, and the filter covers for it.
        let _ = setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &ON);
        grow_buffers(&fd);
        bind_all_protocols(&fd, index)?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// The interface this socket is bound to; 0 for all.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Hands packets straight to the driver, skipping the queueing discipline
    /// (`PACKET_QDISC_BYPASS`): cheaper on a device with a real queue, but
    /// traffic control (shaping, qdisc statistics) no longer sees the probes.
    /// A busy device still pushes back (`ENOBUFS`). Off by default; on veth and
    /// loopback, which have no queue, it made no measurable difference.
    pub fn set_qdisc_bypass(&self, on: bool) -> io::Result<()> {
        let on = libc::c_int::from(on);
        setsockopt(&self.fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &on)
    }

    /// Sends as many of `batch` as the kernel takes, in order, with as few
    /// `sendmmsg` calls as it can; returns how many were sent. Stops early
    /// (returning fewer) when the kernel pushes back (`EAGAIN`, `ENOBUFS`) or
    /// a later packet fails; an error is returned only when the first packet
    /// of `batch` cannot be sent, so the caller can drop or retry it. A packet
    /// that is empty, or without an ethertype and neither IPv4 nor IPv6,
    /// fails with `InvalidInput`.
    pub fn send_batch(&mut self, batch: &[TxPacket<'_>]) -> io::Result<usize> {
        if self.ifindex == 0 {
            return Err(invalid("a socket on all interfaces cannot send"));
        }
        let index = self.ifindex as i32;
        send_all(batch.len(), |start| {
            send_chunk(&self.fd, index, &batch[start..])
        })
    }

    /// Receives up to `bufs.capacity()` packets without blocking; returns how
    /// many (0 when nothing is queued), also available as `bufs.len()`.
    pub fn recv_batch(&mut self, bufs: &mut RxBatch) -> io::Result<usize> {
        bufs.count = 0;
        // Each round either fills the batch, drains the queue, or (only when
        // every packet was an outgoing one) makes no progress: bound those.
        let rounds = bufs.capacity().div_ceil(MAX_MSGS) + 4;
        for _ in 0..rounds {
            let want = (bufs.capacity() - bufs.count).min(MAX_MSGS);
            if want == 0 {
                break;
            }
            let got = match recv_chunk(&self.fd, bufs, want) {
                Ok(got) => got,
                Err(_) if bufs.count > 0 => break,
                Err(e) => return Err(e),
            };
            bufs.keep_incoming(got);
            if got < want {
                break;
            }
        }
        Ok(bufs.count)
    }

    /// `PACKET_STATISTICS` since the previous call (reading resets them):
    /// packets the filter accepted (dropped ones included), and packets
    /// dropped because the receive buffer was full.
    pub fn stats(&self) -> io::Result<(u32, u32)> {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `st` and `len` are live, writable, and `len` is st's size.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((st.tp_packets, st.tp_drops))
    }
}

/// Reusable receive storage: `capacity` slots of [`RX_SLOT_LEN`] bytes and
/// their link-layer addresses. The `mmsghdr`/`iovec` arrays the kernel needs
/// are built on the stack from `&mut self` at each call, so the batch holds no
/// pointers into itself and may be moved or sent to another thread freely.
pub struct RxBatch {
    data: Vec<u8>,
    lens: Vec<usize>,
    addrs: Vec<libc::sockaddr_ll>,
    count: usize,
}

impl fmt::Debug for RxBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RxBatch")
            .field("capacity", &self.capacity())
            .field("len", &self.count)
            .finish()
    }
}

impl RxBatch {
    /// Storage for `n` packets (at least one).
    pub fn new(n: usize) -> RxBatch {
        let n = n.max(1);
        let addr = sockaddr_ll(0, 0);
        RxBatch {
            data: vec![0; n * RX_SLOT_LEN],
            lens: vec![0; n],
            addrs: vec![addr; n],
            count: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Packets received by the last [`PacketSocket::recv_batch`].
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`-th received packet (at most [`RX_SLOT_LEN`] bytes of it): an
    /// IP packet, or the payload of whatever other ethertype the filter
    /// admits (an ARP message starts with its hardware type).
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn get(&self, i: usize) -> &[u8] {
        assert!(i < self.count, "packet {i} of a batch of {}", self.count);
        let start = i * RX_SLOT_LEN;
        &self.data[start..start + self.lens[i].min(RX_SLOT_LEN)]
    }

    /// The interface the `i`-th packet arrived on (useful on a socket opened
    /// on all interfaces).
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn ifindex(&self, i: usize) -> u32 {
        assert!(i < self.count, "packet {i} of a batch of {}", self.count);
        self.addrs[i].sll_ifindex as u32
    }

    /// The received packets, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.count).map(|i| self.get(i))
    }

    /// Accepts the `got` packets just written after the first `count` slots,
    /// closing up over any the host sent itself.
    fn keep_incoming(&mut self, got: usize) {
        let mut to = self.count;
        for from in self.count..self.count + got {
            if self.addrs[from].sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            if to != from {
                let src = from * RX_SLOT_LEN..(from + 1) * RX_SLOT_LEN;
                self.data.copy_within(src, to * RX_SLOT_LEN);
                self.lens[to] = self.lens[from];
                self.addrs[to] = self.addrs[from];
            }
            to += 1;
        }
        self.count = to;
    }
}

/// Runs `send_from(start)` (which sends some packets from index `start` on
/// and says how many) until `total` are sent, the kernel pushes back, or an
/// error comes; an error is returned only if nothing was sent.
pub(crate) fn send_all(
    total: usize,
    mut send_from: impl FnMut(usize) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut sent = 0;
    while sent < total {
        match send_from(sent) {
            Ok(0) => break,
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if sent > 0 || is_backpressure(&e) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// The kernel's "not now": socket buffer or device queue full.
fn is_backpressure(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS)
}

/// One `sendmmsg` over `hdrs`; the number the kernel accepted.
pub(crate) fn sendmmsg(fd: &OwnedFd, hdrs: &mut [libc::mmsghdr]) -> io::Result<usize> {
    // SAFETY: every header points at buffers (packet bytes, iovec, address)
    // that the caller keeps alive and unmoved across this call; vlen is the
    // slice's length, at most MAX_MSGS.
    let n = unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            hdrs.len() as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// The IP version (4 or 6) from a packet's first nibble; `None` for anything else.
pub(crate) fn ip_version(data: &[u8]) -> Option<u8> {
    match data.first()? >> 4 {
        v @ (4 | 6) => Some(v),
        _ => None,
    }
}

/// The ethertype `p` is sent with; `None` when it is empty, or has none
/// and is not IP.
fn tx_ethertype(p: &TxPacket<'_>) -> Option<libc::c_int> {
    if p.data.is_empty() {
        return None;
    }
    if let Some(ethertype) = p.ethertype {
        return Some(libc::c_int::from(ethertype));
    }
    match ip_version(p.data)? {
        4 => Some(libc::ETH_P_IP),
        _ => Some(libc::ETH_P_IPV6),
    }
}

fn tx_addr(ifindex: i32, p: &TxPacket<'_>) -> Option<libc::sockaddr_ll> {
    let mut addr = sockaddr_ll(ifindex, tx_ethertype(p)?);
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&p.next_hop_mac);
    Some(addr)
}

/// Sends a prefix of `pkts` (at most [`MAX_MSGS`], stopping before an
/// invalid packet) with one `sendmmsg`.
fn send_chunk(fd: &OwnedFd, ifindex: i32, pkts: &[TxPacket<'_>]) -> io::Result<usize> {
    // SAFETY: these are C structs of integers and pointers; all zeros (null
    // pointers, zero lengths) is valid, and only the filled prefix is passed.
    let (mut addrs, mut iovs, mut hdrs): (
        [libc::sockaddr_ll; MAX_MSGS],
        [libc::iovec; MAX_MSGS],
        [libc::mmsghdr; MAX_MSGS],
    ) = unsafe { zeroed() };
    let mut n = 0;
    for p in pkts.iter().take(MAX_MSGS) {
        let Some(addr) = tx_addr(ifindex, p) else {
            break;
        };
        addrs[n] = addr;
        iovs[n].iov_base = p.data.as_ptr() as *mut libc::c_void;
        iovs[n].iov_len = p.data.len();
        n += 1;
    }
    if n == 0 {
        return Err(invalid("packet is empty, or neither IPv4 nor IPv6"));
    }
    for ((hdr, iov), addr) in hdrs.iter_mut().zip(&mut iovs).zip(&mut addrs).take(n) {
        hdr.msg_hdr.msg_name = (addr as *mut libc::sockaddr_ll).cast();
        hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        hdr.msg_hdr.msg_iov = iov;
        hdr.msg_hdr.msg_iovlen = 1;
    }
    sendmmsg(fd, &mut hdrs[..n])
}

/// One `recvmmsg` of up to `want` packets into the slots after `bufs.count`;
/// 0 when nothing is queued.
fn recv_chunk(fd: &OwnedFd, bufs: &mut RxBatch, want: usize) -> io::Result<usize> {
    let base = bufs.count;
    let want = want.min(MAX_MSGS).min(bufs.capacity() - base);
    // SAFETY: C structs of integers and pointers; all zeros is valid.
    let (mut iovs, mut hdrs): ([libc::iovec; MAX_MSGS], [libc::mmsghdr; MAX_MSGS]) =
        unsafe { zeroed() };
    let slots = bufs.data.chunks_exact_mut(RX_SLOT_LEN).skip(base);
    let addrs = bufs.addrs[base..].iter_mut();
    let pairs = hdrs.iter_mut().zip(&mut iovs).zip(slots.zip(addrs));
    for ((hdr, iov), (slot, addr)) in pairs.take(want) {
        iov.iov_base = slot.as_mut_ptr().cast();
        iov.iov_len = slot.len();
        hdr.msg_hdr.msg_iov = iov;
        hdr.msg_hdr.msg_iovlen = 1;
        hdr.msg_hdr.msg_name = (addr as *mut libc::sockaddr_ll).cast();
        hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    }
    let got = loop {
        // SAFETY: the first `want` headers point at distinct slots and
        // addresses inside `bufs`, borrowed mutably for this whole function,
        // with their true lengths; a null timeout means none.
        let rc = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                want as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc >= 0 {
            break rc as usize;
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(0),
            _ => return Err(e),
        }
    };
    for (i, hdr) in hdrs.iter().take(got).enumerate() {
        bufs.lens[base + i] = hdr.msg_len as usize;
    }
    Ok(got)
}

/// An AF_PACKET address for `ethertype` on `ifindex`, without a link address.
fn sockaddr_ll(ifindex: i32, ethertype: libc::c_int) -> libc::sockaddr_ll {
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: (ethertype as u16).to_be(),
        sll_ifindex: ifindex,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// A cooked packet socket that receives nothing until bound.
fn packet_socket() -> io::Result<OwnedFd> {
    let ty = libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain socket(2) call with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_PACKET, ty, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn setsockopt<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is a live reference and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn attach_filter(fd: &OwnedFd, filter: &Program) -> io::Result<()> {
    let insns = filter.as_slice();
    let len = u16::try_from(insns.len()).map_err(|_| invalid("BPF program too long"))?;
    let prog = libc::sock_fprog {
        len,
        // The kernel only reads the program (it copies it in).
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
}

/// Asks for big buffers: forced past the sysctl limits when privileged, else
/// as big as the limits allow.
pub(crate) fn grow_buffers(fd: &OwnedFd) {
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &RCVBUF).is_err() {
        let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &RCVBUF);
    }
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &SNDBUF).is_err() {
        let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &SNDBUF);
    }
}

/// Binds to `ETH_P_ALL` on interface `ifindex` (0: every interface).
fn bind_all_protocols(fd: &OwnedFd, ifindex: i32) -> io::Result<()> {
    let addr = sockaddr_ll(ifindex, libc::ETH_P_ALL);
    // SAFETY: `addr` is a live sockaddr_ll and the length passed is its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(batch: &mut RxBatch, pkttypes: &[u8]) {
        for (i, t) in pkttypes.iter().enumerate() {
            batch.data[i * RX_SLOT_LEN] = i as u8;
            batch.lens[i] = i + 1;
            batch.addrs[i].sll_pkttype = *t;
        }
    }

    #[test]
    fn outgoing_packets_are_closed_up_over() {
        let mut b = RxBatch::new(8);
        filled(&mut b, &[0, 4, 4, 1, 4, 0]);
        b.keep_incoming(6);
        assert_eq!(b.len(), 3);
        let firsts: Vec<u8> = b.iter().map(|p| p[0]).collect();
        assert_eq!(firsts, [0, 3, 5]);
        assert_eq!(b.get(1).len(), 4);
        assert_eq!(b.get(2).len(), 6);
    }

    #[test]
    fn lengths_are_clamped_to_the_slot() {
        let mut b = RxBatch::new(2);
        b.lens[0] = 65535;
        b.keep_incoming(1);
        assert_eq!(b.get(0).len(), RX_SLOT_LEN);
    }

    #[test]
    #[should_panic(expected = "packet 0 of a batch of 0")]
    fn get_past_the_end_panics() {
        let b = RxBatch::new(2);
        let _ = b.get(0);
    }

    #[test]
    fn send_all_stops_on_pushback_and_reports_first_errors() {
        let full = || io::Error::from_raw_os_error(libc::ENOBUFS);
        let mut calls = vec![Ok(3), Ok(2), Err(full())].into_iter();
        assert_eq!(send_all(10, |_| calls.next().expect("call")).unwrap(), 5);
        assert_eq!(send_all(10, |_| Err(full())).unwrap(), 0);
        let bad = send_all(10, |_| Err(io::Error::from_raw_os_error(libc::EMSGSIZE)));
        assert!(bad.is_err());
        let mut calls = vec![Ok(4), Err(io::Error::from_raw_os_error(libc::EMSGSIZE))];
        let mut calls = calls.drain(..);
        assert_eq!(send_all(10, |_| calls.next().expect("call")).unwrap(), 4);
        let mut starts = Vec::new();
        let n = send_all(130, |s| {
            starts.push(s);
            Ok((130 - s).min(MAX_MSGS))
        });
        assert_eq!(n.unwrap(), 130);
        assert_eq!(starts, [0, 64, 128]);
    }

    #[test]
    fn version_nibble_picks_the_family() {
        assert_eq!(ip_version(&[0x45]), Some(4));
        assert_eq!(ip_version(&[0x60, 0]), Some(6));
        assert_eq!(ip_version(&[0x55]), None);
        assert_eq!(ip_version(&[]), None);
        let p = TxPacket::ip(&[0x60], [2, 0, 0, 0, 0, 9]);
        let a = tx_addr(7, &p).expect("IPv6");
        assert_eq!(u16::from_be(a.sll_protocol), 0x86dd);
        assert_eq!((a.sll_ifindex, a.sll_halen), (7, 6));
        assert_eq!(a.sll_addr[..6], [2, 0, 0, 0, 0, 9]);
        let a = tx_addr(7, &TxPacket::ip(&[0x45], [0; 6])).expect("IPv4");
        assert_eq!(u16::from_be(a.sll_protocol), 0x0800);
        assert!(tx_addr(7, &TxPacket::ip(&[0x15], [0; 6])).is_none());
    }

    #[test]
    fn an_explicit_ethertype_wins_over_the_version_nibble() {
        // An ARP request begins 0x00 0x01: no IP version at all.
        let arp = [0x00, 0x01, 0x08, 0x00, 6, 4, 0, 1];
        let p = TxPacket::arp(&arp, [0xff; 6]);
        let a = tx_addr(3, &p).expect("ARP");
        assert_eq!(u16::from_be(a.sll_protocol), 0x0806);
        assert_eq!((a.sll_ifindex, a.sll_halen), (3, 6));
        assert_eq!(a.sll_addr[..6], [0xff; 6]);
        // An IPv4-looking payload is sent as what the field says.
        let p = TxPacket {
            ethertype: Some(0x88b5),
            ..TxPacket::ip(&[0x45, 0], [1; 6])
        };
        let a = tx_addr(3, &p).expect("explicit");
        assert_eq!(u16::from_be(a.sll_protocol), 0x88b5);
        // Nothing to send is still refused, ethertype or not.
        assert!(tx_addr(3, &TxPacket::arp(&[], [0xff; 6])).is_none());
        assert!(tx_addr(3, &TxPacket::ip(&[], [0; 6])).is_none());
    }
}
