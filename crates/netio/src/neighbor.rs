//! The MAC addresses of next hops: what the destination field of an Ethernet
//! frame must say for the frame to reach a host on the link or a router.
//!
//! The kernel's neighbour table answers first (no packet sent). What it does
//! not know is asked on the wire, all at once: one ARP request (IPv4) or
//! neighbour solicitation (IPv6) per address, then the replies are collected
//! until all have answered or the try's deadline passes, and the silent ones
//! are asked again, up to `tries` times. The requests go out of an
//! `AF_PACKET` `SOCK_DGRAM` socket bound to the interface, so the kernel
//! writes the Ethernet header and nothing in its own tables changes.

use crate::iface::{self, Interface, LinkKind};
use crate::route::netlink::{self, Attrs, Request};
use portolan_wire::{arp, ndp};
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The MACs of `next_hops` on `iface`.
///
/// First the kernel's neighbour table (entries in state REACHABLE, STALE,
/// DELAY, PROBE or PERMANENT), then ARP requests / neighbour solicitations
/// for the rest, sent `tries` times at most, each try waiting at most
/// `timeout` for replies; with `tries` 0 only the table is read. Addresses
/// that never answer are absent from the map. Multicast addresses and the
/// IPv4 limited broadcast map to their computed group MACs without asking.
///
/// The ARP sender address is `src` if it is on `iface` (else the interface's
/// first IPv4 address, else 0.0.0.0, an RFC 5227 probe); the solicitation
/// source is `src` if it is on `iface`, else the interface's link-local
/// address. Without any IPv6 address on `iface`, IPv6 hops stay unresolved.
///
/// Loopback, raw-IP and NOARP interfaces need no resolution: every hop maps
/// to `[0; 6]`. Other link types with addresses that are not 6 bytes long
/// are [`io::ErrorKind::Unsupported`].
pub fn resolve(
    iface: &Interface,
    src: IpAddr,
    next_hops: &[IpAddr],
    timeout: Duration,
    tries: u32,
) -> io::Result<HashMap<IpAddr, [u8; 6]>> {
    if !iface.needs_resolution() {
        return unresolved_link(iface, next_hops);
    }
    let mut found = HashMap::new();
    let mut pending = HashSet::new();
    for &hop in next_hops {
        if let Some(mac) = group_mac(hop) {
            found.insert(hop, mac);
        } else {
            pending.insert(hop);
        }
    }
    if pending.is_empty() {
        return Ok(found);
    }
    for (ip, mac) in kernel_table(iface.index)? {
        if pending.remove(&ip) {
            found.insert(ip, mac);
        }
    }
    if !pending.is_empty() && tries > 0 {
        Solicitor::open(iface, src, &pending)?.run(&mut pending, &mut found, timeout, tries)?;
    }
    Ok(found)
}

/// Links where frames carry no next-hop MAC (or any MAC will do).
fn unresolved_link(
    iface: &Interface,
    next_hops: &[IpAddr],
) -> io::Result<HashMap<IpAddr, [u8; 6]>> {
    match iface.kind {
        LinkKind::Other(kind) if !iface.noarp => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "cannot resolve next hops on {} (link type {kind})",
                iface.name
            ),
        )),
        _ => Ok(next_hops.iter().map(|&hop| (hop, [0; 6])).collect()),
    }
}

/// The MAC a multicast group or the limited broadcast maps to (RFC 1112
/// section 6.4, RFC 2464 section 7).
fn group_mac(addr: IpAddr) -> Option<[u8; 6]> {
    match addr {
        IpAddr::V4(a) if a.is_broadcast() => Some([0xff; 6]),
        IpAddr::V4(a) if a.is_multicast() => {
            let o = a.octets();
            Some([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        }
        IpAddr::V6(a) if a.is_multicast() => Some(ndp::multicast_mac(a)),
        _ => None,
    }
}

const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
/// `struct ndmsg`: family, 3 pad bytes, i32 ifindex, u16 state, u8 flags,
/// u8 type.
const NDMSG_LEN: usize = 12;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
/// NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT: the
/// states in which the entry's MAC was confirmed at some point.
const NUD_USABLE: u16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x80;

/// The kernel's usable neighbour entries on interface `index`, both families.
pub fn kernel_table(index: u32) -> io::Result<Vec<(IpAddr, [u8; 6])>> {
    let req = Request::new(RTM_GETNEIGH, netlink::NLM_F_DUMP, &[0u8; NDMSG_LEN]);
    let replies = netlink::Socket::open()?.request(req)?;
    Ok(replies
        .iter()
        .filter(|m| m.kind == RTM_NEWNEIGH)
        .filter_map(|m| parse_neigh(&m.payload))
        .filter(|&(i, _, _)| i == index)
        .map(|(_, ip, mac)| (ip, mac))
        .collect())
}

/// Interface, address and MAC of one usable RTM_NEWNEIGH entry.
fn parse_neigh(payload: &[u8]) -> Option<(u32, IpAddr, [u8; 6])> {
    let h = payload.get(..NDMSG_LEN)?;
    let index = netlink::u32_of(&h[4..8])?;
    let state = u16::from_ne_bytes([h[8], h[9]]);
    if state & NUD_USABLE == 0 {
        return None;
    }
    let (mut ip, mut mac) = (None, None);
    for (kind, data) in Attrs::new(&payload[NDMSG_LEN..]) {
        match kind {
            NDA_DST => ip = netlink::ip_of(data),
            NDA_LLADDR => mac = netlink::mac_of(data),
            _ => {}
        }
    }
    Some((index, ip?, mac?))
}

/// Requests sent between two non-blocking reads of the replies, so a large
/// batch cannot overflow the receive buffer before it is read.
const DRAIN_EVERY: usize = 64;
/// Frames read per wake-up at most, so a flood cannot hold the loop past
/// its deadline.
const DRAIN_MAX: usize = 4096;
/// Receive buffer asked for; replies to a large batch queue here.
const RCVBUF: libc::c_int = 4 << 20;
/// How long one send may block on a full socket buffer.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// The sockets and addresses that ask on the wire.
#[derive(Debug)]
struct Solicitor {
    mac: [u8; 6],
    arp: Option<(Link, Ipv4Addr)>,
    ndp: Option<(Link, Ipv6Addr)>,
    buf: Vec<u8>,
}

impl Solicitor {
    /// Opens the sockets `pending` needs: ARP only for IPv4 hops, the IPv6
    /// one only if the interface has an IPv6 address to send from.
    fn open(iface: &Interface, src: IpAddr, pending: &HashSet<IpAddr>) -> io::Result<Solicitor> {
        let mac = iface.mac.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no MAC address", iface.name),
            )
        })?;
        let addrs = iface::addresses(iface.index)?;
        let arp = match pending.iter().any(IpAddr::is_ipv4) {
            true => Some((Link::open(iface.index, ETH_P_ARP)?, arp_source(src, &addrs))),
            false => None,
        };
        let ndp = match (pending.iter().any(IpAddr::is_ipv6), ndp_source(src, &addrs)) {
            (true, Some(src6)) => Some((Link::open(iface.index, ETH_P_IPV6)?, src6)),
            _ => None,
        };
        Ok(Solicitor {
            mac,
            arp,
            ndp,
            buf: vec![0; 2048],
        })
    }

    /// Up to `tries` rounds of asking every pending address and collecting
    /// replies for `timeout`.
    #[allow(clippy::disallowed_methods)] // netio owns the clock for its own waits
    fn run(
        &mut self,
        pending: &mut HashSet<IpAddr>,
        found: &mut HashMap<IpAddr, [u8; 6]>,
        timeout: Duration,
        tries: u32,
    ) -> io::Result<()> {
        for _ in 0..tries {
            self.send_all(pending, found)?;
            self.collect(pending, found, Instant::now() + timeout)?;
            if pending.is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// Sends one request per pending address. A failed send only loses that
    /// address this round, unless every send fails: then the first error is
    /// returned (the interface is down, say).
    fn send_all(
        &mut self,
        pending: &mut HashSet<IpAddr>,
        found: &mut HashMap<IpAddr, [u8; 6]>,
    ) -> io::Result<()> {
        let targets: Vec<IpAddr> = pending.iter().copied().collect();
        let (mut sent, mut first_error) = (0, None);
        for (i, &target) in targets.iter().enumerate() {
            match self.send(target) {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            if (i + 1) % DRAIN_EVERY == 0 {
                self.drain_all(pending, found)?;
            }
        }
        match first_error {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(()),
        }
    }

    /// Sends the request for `target`; `false` if there is no socket for its
    /// family (no IPv6 source address).
    fn send(&mut self, target: IpAddr) -> io::Result<bool> {
        let mut frame = [0u8; 128];
        match (target, &self.arp, &self.ndp) {
            (IpAddr::V4(t), Some((link, src)), _) => {
                let n = arp::build_request(&mut frame, self.mac, *src, t);
                link.send([0xff; 6], &frame[..n])?;
            }
            (IpAddr::V6(t), _, Some((link, src))) => {
                let n = ndp::build_solicitation(&mut frame, *src, t, self.mac);
                let group = ndp::multicast_mac(ndp::solicited_node(t));
                link.send(group, &frame[..n])?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Reads replies until every pending address has answered or
    /// `deadline` passes.
    #[allow(clippy::disallowed_methods)] // netio owns the clock for its own waits
    fn collect(
        &mut self,
        pending: &mut HashSet<IpAddr>,
        found: &mut HashMap<IpAddr, [u8; 6]>,
        deadline: Instant,
    ) -> io::Result<()> {
        loop {
            self.drain_all(pending, found)?;
            let now = Instant::now();
            if pending.is_empty() || now >= deadline {
                return Ok(());
            }
            self.wait(deadline - now)?;
        }
    }

    /// Waits until a socket is readable or `timeout` passes.
    fn wait(&self, timeout: Duration) -> io::Result<()> {
        let mut fds: Vec<libc::pollfd> = [
            self.arp.as_ref().map(|a| &a.0),
            self.ndp.as_ref().map(|n| &n.0),
        ]
        .into_iter()
        .flatten()
        .map(|link| libc::pollfd {
            fd: link.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
        // Round up, so a sub-millisecond remainder still waits.
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Reads whatever replies are queued on both sockets, without waiting.
    fn drain_all(
        &mut self,
        pending: &mut HashSet<IpAddr>,
        found: &mut HashMap<IpAddr, [u8; 6]>,
    ) -> io::Result<()> {
        if let Some((link, _)) = &self.arp {
            drain(
                link,
                &mut self.buf,
                |p| arp::parse_reply(p).map(|(ip, mac)| (IpAddr::V4(ip), mac)),
                pending,
                found,
            )?;
        }
        if let Some((link, _)) = &self.ndp {
            drain(
                link,
                &mut self.buf,
                |p| ndp::parse_advertisement(p).map(|(ip, mac)| (IpAddr::V6(ip), mac)),
                pending,
                found,
            )?;
        }
        Ok(())
    }
}

/// Reads up to [`DRAIN_MAX`] queued frames from `link`, recording the answers
/// `parse` finds for pending addresses.
fn drain(
    link: &Link,
    buf: &mut [u8],
    parse: impl Fn(&[u8]) -> Option<(IpAddr, [u8; 6])>,
    pending: &mut HashSet<IpAddr>,
    found: &mut HashMap<IpAddr, [u8; 6]>,
) -> io::Result<()> {
    for _ in 0..DRAIN_MAX {
        let Some(n) = link.recv(buf)? else {
            return Ok(());
        };
        if let Some((ip, mac)) = parse(&buf[..n]) {
            if pending.remove(&ip) {
                found.insert(ip, mac);
            }
        }
    }
    Ok(())
}

/// The ARP sender address: `src` if it is on the interface, else the
/// interface's first IPv4 address, else `src` if IPv4, else 0.0.0.0.
fn arp_source(src: IpAddr, addrs: &[IpAddr]) -> Ipv4Addr {
    let first = addrs.iter().find_map(|a| match a {
        IpAddr::V4(a) => Some(*a),
        IpAddr::V6(_) => None,
    });
    match src {
        IpAddr::V4(s) if addrs.contains(&src) => s,
        IpAddr::V4(s) => first.unwrap_or(s),
        IpAddr::V6(_) => first.unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

/// The solicitation source: `src` if it is on the interface, else the
/// interface's link-local address, else any IPv6 address of it.
fn ndp_source(src: IpAddr, addrs: &[IpAddr]) -> Option<Ipv6Addr> {
    let v6 = || {
        addrs.iter().filter_map(|a| match a {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        })
    };
    match src {
        IpAddr::V6(s) if addrs.contains(&src) => Some(s),
        _ => v6()
            .find(|a| crate::route::is_link_local(IpAddr::V6(*a)))
            .or_else(|| v6().next()),
    }
}

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const PACKET_OUTGOING: u8 = 4;

/// An `AF_PACKET` `SOCK_DGRAM` socket bound to one interface and one
/// EtherType: it sends payloads the kernel frames, and receives payloads
/// without their link-layer header.
#[derive(Debug)]
struct Link {
    fd: OwnedFd,
    ifindex: i32,
    proto: u16,
}

impl Link {
    /// Opens the socket with protocol 0 (it receives nothing yet), attaches
    /// the filter, then binds to the interface and `proto`, so no frame of
    /// another interface or kind is ever queued.
    fn open(ifindex: u32, proto: u16) -> io::Result<Link> {
        let ifindex = i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface index"))?;
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let raw =
            unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let link = Link { fd, ifindex, proto };
        link.configure()?;
        let addr = link.address([0; 6]);
        // SAFETY: `addr` is a valid sockaddr_ll of the length passed.
        let rc = unsafe {
            libc::bind(
                link.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(link)
    }

    /// A large receive buffer (forced past rmem_max when privileged, which
    /// the socket already required), a send timeout, and for IPv6 a filter
    /// that passes neighbour advertisements only.
    fn configure(&self) -> io::Result<()> {
        let forced = netlink::setsockopt(&self.fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &RCVBUF);
        if forced.is_err() {
            netlink::setsockopt(&self.fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &RCVBUF)?;
        }
        let send_timeout = libc::timeval {
            tv_sec: SEND_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        netlink::setsockopt(&self.fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &send_timeout)?;
        if self.proto == ETH_P_IPV6 {
            attach_advertisement_filter(&self.fd)?;
        }
        Ok(())
    }

    fn address(&self, mac: [u8; 6]) -> libc::sockaddr_ll {
        let mut addr = [0u8; 8];
        addr[..6].copy_from_slice(&mac);
        libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: self.proto.to_be(),
            sll_ifindex: self.ifindex,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr: addr,
        }
    }

    /// Sends `payload` to `dst_mac`; blocks at most [`SEND_TIMEOUT`] when
    /// the socket buffer is full.
    fn send(&self, dst_mac: [u8; 6], payload: &[u8]) -> io::Result<()> {
        let addr = self.address(dst_mac);
        // SAFETY: `payload` and `addr` are valid for the lengths passed.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                payload.as_ptr().cast(),
                payload.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One queued frame's payload length, `Some(0)` for a frame this host
    /// sent (which answers nothing), `None` when the queue is empty.
    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: an all-zero sockaddr_ll is a valid value to be overwritten.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` is writable for its length; `from` and `len` are
        // valid for recvfrom to fill.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        match from.sll_pkttype {
            PACKET_OUTGOING => Ok(Some(0)),
            _ => Ok(Some(n as usize)),
        }
    }
}

/// A classic BPF program for an `ETH_P_IPV6` `SOCK_DGRAM` socket (offsets
/// start at the IPv6 header): keep ICMPv6 (next header 58, no extension
/// headers, as NDP requires) of type 136, drop the rest of the interface's
/// IPv6 traffic in the kernel.
fn attach_advertisement_filter(fd: &OwnedFd) -> io::Result<()> {
    const LDB_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let insn = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut program = [
        insn(LDB_ABS, 0, 0, 6),                                // next header
        insn(JEQ_K, 0, 3, u32::from(ndp::NEXT_HEADER_ICMPV6)), // ICMPv6?
        insn(LDB_ABS, 0, 0, ndp::IPV6_HEADER_LEN as u32),      // ICMPv6 type
        insn(JEQ_K, 0, 1, u32::from(ndp::TYPE_ADVERTISEMENT)), // NA?
        insn(RET_K, 0, 0, 0xffff),                             // keep
        insn(RET_K, 0, 0, 0),                                  // drop
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    netlink::setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    fn iface(kind: LinkKind, noarp: bool) -> Interface {
        Interface {
            index: 1,
            name: "test0".into(),
            mac: Some([2, 0, 0, 0, 0, 1]),
            kind,
            mtu: 1500,
            noarp,
        }
    }

    #[test]
    fn links_without_resolution_map_to_zero() {
        let hops = [v4("198.18.0.1"), v6("2001:db8::1")];
        for i in [
            iface(LinkKind::Loopback, false),
            iface(LinkKind::RawIp, true),
            iface(LinkKind::Ethernet, true),
            iface(LinkKind::Other(32), true),
        ] {
            let got = resolve(&i, v4("198.18.0.2"), &hops, Duration::ZERO, 3).unwrap();
            assert_eq!(got.len(), 2, "{i:?}");
            assert!(got.values().all(|m| *m == [0; 6]));
        }
        let e = resolve(
            &iface(LinkKind::Other(32), false),
            v4("198.18.0.2"),
            &hops,
            Duration::ZERO,
            1,
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn group_addresses_map_without_asking() {
        assert_eq!(group_mac(v4("255.255.255.255")), Some([0xff; 6]));
        assert_eq!(
            group_mac(v4("239.255.1.2")),
            Some([0x01, 0x00, 0x5e, 0x7f, 0x01, 0x02])
        );
        assert_eq!(
            group_mac(v6("ff02::1:ff00:2")),
            Some([0x33, 0x33, 0xff, 0x00, 0x00, 0x02])
        );
        assert_eq!(group_mac(v4("198.18.0.1")), None);
        assert_eq!(group_mac(v6("2001:db8::1")), None);
    }

    #[test]
    fn source_choice() {
        let addrs = [v4("198.18.0.1"), v6("2001:db8::1"), v6("fe80::1")];
        assert_eq!(
            arp_source(v4("198.18.0.1"), &addrs),
            Ipv4Addr::new(198, 18, 0, 1)
        );
        assert_eq!(
            arp_source(v4("198.18.9.9"), &addrs),
            Ipv4Addr::new(198, 18, 0, 1)
        );
        assert_eq!(
            arp_source(v6("2001:db8::1"), &addrs),
            Ipv4Addr::new(198, 18, 0, 1)
        );
        assert_eq!(arp_source(v6("2001:db8::1"), &[]), Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            ndp_source(v6("2001:db8::1"), &addrs),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            ndp_source(v6("2001:db8:9::1"), &addrs),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(
            ndp_source(v4("198.18.0.1"), &addrs),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(
            ndp_source(v4("198.18.0.1"), &[v6("2001:db8::1")]),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(ndp_source(v4("198.18.0.1"), &addrs[..1]), None);
    }

    #[test]
    fn neighbour_entries_parsed_and_filtered_by_state() {
        let entry = |state: u16| {
            let mut ndmsg = [0u8; NDMSG_LEN];
            ndmsg[0] = libc::AF_INET as u8;
            ndmsg[4..8].copy_from_slice(&7u32.to_ne_bytes());
            ndmsg[8..10].copy_from_slice(&state.to_ne_bytes());
            Request::new(RTM_NEWNEIGH, 0, &ndmsg)
                .attr(NDA_DST, &[198, 18, 0, 9])
                .attr(NDA_LLADDR, &[2, 0, 0, 0, 0, 9])
                .bytes()[16..]
                .to_vec()
        };
        let want = Some((7, v4("198.18.0.9"), [2, 0, 0, 0, 0, 9]));
        assert_eq!(parse_neigh(&entry(0x02)), want, "reachable");
        assert_eq!(parse_neigh(&entry(0x04)), want, "stale");
        assert_eq!(parse_neigh(&entry(0x80)), want, "permanent");
        assert_eq!(parse_neigh(&entry(0x01)), None, "incomplete");
        assert_eq!(parse_neigh(&entry(0x20)), None, "failed");
        assert_eq!(parse_neigh(&entry(0x40)), None, "noarp");
        for n in 0..40 {
            let _ = parse_neigh(&entry(0x02)[..n.min(32)]);
        }
    }
}
