//! Where a packet to a destination leaves: interface, source address, next
//! hop, asked of the kernel the way `ip route get` asks it.
//!
//! Each lookup is one `RTM_GETROUTE` request on a `NETLINK_ROUTE` socket, so
//! the answer is the kernel's own: policy rules, the local table, VRFs and
//! source selection all apply, and no routing table is copied or mirrored.
//! The small netlink client used by [`crate::iface`] and
//! [`crate::neighbor`] lives here too ([`netlink`]).

use crate::iface;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

/// The kernel's answer for one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Interface the packet leaves by (the loopback interface for a local
    /// destination).
    pub ifindex: u32,
    /// Source address the kernel would use (RTA_PREFSRC; if absent, the first
    /// address of the family on `ifindex`, a non-link-local one first unless
    /// the destination is link-local; for a local route with no preferred
    /// source, the destination itself).
    pub src: IpAddr,
    /// The router to hand the packet to; `None` when the destination is on
    /// the link.
    pub gateway: Option<IpAddr>,
    /// The destination is this machine (RTN_LOCAL).
    pub local: bool,
}

impl Route {
    /// The address whose MAC a frame to `dst` must carry: the gateway, or
    /// `dst` itself when it is on the link.
    pub fn next_hop(&self, dst: IpAddr) -> IpAddr {
        self.gateway.unwrap_or(dst)
    }
}

/// The gateway of `route`, or `dst` when it is on the link: the address
/// whose MAC a frame to `dst` must carry.
pub fn next_hop(route: &Route, dst: IpAddr) -> IpAddr {
    route.next_hop(dst)
}

/// Asks the kernel how it would send to `dst`.
///
/// No usable route (none at all, or an unreachable, prohibit, blackhole or
/// throw route) is an error of kind [`io::ErrorKind::NotFound`] whose message
/// names `dst`; other failures keep the kernel's errno.
pub fn lookup(dst: IpAddr) -> io::Result<Route> {
    lookup_on(&mut netlink::Socket::open()?, dst)
}

/// Route lookups memoised by destination, over one netlink socket.
///
/// Routes change rarely during a scan and a scan asks about the same
/// destination many times (every probe); the cache is never invalidated, so
/// make a new one for a new scan. Failed lookups are not cached.
#[derive(Debug, Default)]
pub struct RouteCache {
    routes: HashMap<IpAddr, Route>,
    sock: Option<netlink::Socket>,
}

impl RouteCache {
    pub fn new() -> RouteCache {
        RouteCache::default()
    }

    /// [`lookup`], answered from memory after the first time.
    pub fn lookup(&mut self, dst: IpAddr) -> io::Result<Route> {
        if let Some(route) = self.routes.get(&dst) {
            return Ok(*route);
        }
        let sock = match &mut self.sock {
            Some(sock) => sock,
            none => none.insert(netlink::Socket::open()?),
        };
        let route = lookup_on(sock, dst)?;
        self.routes.insert(dst, route);
        Ok(route)
    }

    /// Forgets `dst` (its scan is over), so the cache holds only the
    /// destinations in use.
    pub fn forget(&mut self, dst: IpAddr) {
        self.routes.remove(&dst);
        if self.routes.capacity() > 64 && self.routes.len() < self.routes.capacity() / 4 {
            self.routes.shrink_to_fit();
        }
    }

    /// Destinations remembered.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// [`next_hop`], for callers that hold a cache.
    pub fn next_hop(route: &Route, dst: IpAddr) -> IpAddr {
        route.next_hop(dst)
    }
}

/// Route types (`rtm_type`) from linux/rtnetlink.h.
mod rtn {
    pub const UNICAST: u8 = 1;
    pub const LOCAL: u8 = 2;
    pub const BROADCAST: u8 = 3;
    pub const ANYCAST: u8 = 4;
    pub const MULTICAST: u8 = 5;
    pub const BLACKHOLE: u8 = 6;
    pub const UNREACHABLE: u8 = 7;
    pub const PROHIBIT: u8 = 8;
    pub const THROW: u8 = 9;
}

/// Route attributes (`RTA_*`).
mod rta {
    pub const DST: u16 = 1;
    pub const OIF: u16 = 4;
    pub const GATEWAY: u16 = 5;
    pub const PREFSRC: u16 = 7;
    pub const VIA: u16 = 18;
}

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
/// `struct rtmsg`: family, dst_len, src_len, tos, table, protocol, scope,
/// type, then a u32 of flags.
const RTMSG_LEN: usize = 12;
const RTMSG_TYPE: usize = 7;

/// What the kernel's RTM_NEWROUTE answer says, before the source fallback.
#[derive(Debug, Default)]
struct Answer {
    kind: u8,
    oif: Option<u32>,
    prefsrc: Option<IpAddr>,
    gateway: Option<IpAddr>,
}

fn lookup_on(sock: &mut netlink::Socket, dst: IpAddr) -> io::Result<Route> {
    let (family, bits, octets) = match dst {
        IpAddr::V4(a) => (libc::AF_INET, 32, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6, 128, a.octets().to_vec()),
    };
    let mut rtmsg = [0u8; RTMSG_LEN];
    rtmsg[0] = family as u8;
    rtmsg[1] = bits;
    let req = netlink::Request::new(RTM_GETROUTE, 0, &rtmsg).attr(rta::DST, &octets);
    let replies = sock.request(req).map_err(|e| explain_errno(e, dst))?;
    let answer = replies
        .iter()
        .find(|m| m.kind == RTM_NEWROUTE)
        .and_then(|m| parse_answer(&m.payload))
        .ok_or_else(|| invalid(format!("no route in the kernel's answer for {dst}")))?;
    route_from(answer, dst)
}

fn parse_answer(payload: &[u8]) -> Option<Answer> {
    let header = payload.get(..RTMSG_LEN)?;
    let mut answer = Answer {
        kind: header[RTMSG_TYPE],
        ..Answer::default()
    };
    for (kind, data) in netlink::Attrs::new(&payload[RTMSG_LEN..]) {
        match kind {
            rta::OIF => answer.oif = netlink::u32_of(data),
            rta::PREFSRC => answer.prefsrc = netlink::ip_of(data),
            rta::GATEWAY => answer.gateway = netlink::ip_of(data),
            // struct rtvia: a u16 family, then the address (an IPv6 router
            // for an IPv4 route, RFC 8950).
            rta::VIA => answer.gateway = data.get(2..).and_then(netlink::ip_of),
            _ => {}
        }
    }
    Some(answer)
}

fn route_from(answer: Answer, dst: IpAddr) -> io::Result<Route> {
    let local = match answer.kind {
        rtn::LOCAL => true,
        rtn::UNICAST | rtn::BROADCAST | rtn::ANYCAST | rtn::MULTICAST => false,
        other => return Err(no_route(dst, type_name(other))),
    };
    let ifindex = answer
        .oif
        .ok_or_else(|| invalid(format!("the kernel's route to {dst} names no interface")))?;
    let src = match answer.prefsrc {
        Some(src) => src,
        None if local => dst,
        None => source_on(ifindex, dst)?,
    };
    Ok(Route {
        ifindex,
        src,
        gateway: answer.gateway,
        local,
    })
}

/// The first address of `dst`'s family on interface `ifindex`; for IPv6 a
/// link-local one only when `dst` is link-local too (or nothing else is
/// there).
fn source_on(ifindex: u32, dst: IpAddr) -> io::Result<IpAddr> {
    let addrs = iface::addresses(ifindex)?;
    let same_family = |a: &&IpAddr| a.is_ipv4() == dst.is_ipv4();
    let same_scope = |a: &&IpAddr| is_link_local(**a) == is_link_local(dst);
    addrs
        .iter()
        .filter(same_family)
        .find(same_scope)
        .or_else(|| addrs.iter().find(same_family))
        .copied()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("no source address for {dst} on interface {ifindex}"),
            )
        })
}

pub(crate) fn is_link_local(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    }
}

fn type_name(kind: u8) -> &'static str {
    match kind {
        rtn::BLACKHOLE => "a blackhole route",
        rtn::UNREACHABLE => "an unreachable route",
        rtn::PROHIBIT => "a prohibit route",
        rtn::THROW => "a throw route",
        _ => "a route of a type that carries no packets",
    }
}

/// Turns the errnos the kernel answers an unroutable destination with into
/// [`io::ErrorKind::NotFound`].
fn explain_errno(e: io::Error, dst: IpAddr) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ENETUNREACH) => no_route(dst, "the network is unreachable"),
        Some(libc::EHOSTUNREACH) => no_route(dst, "an unreachable route"),
        Some(libc::EACCES) => no_route(dst, "a prohibit route"),
        Some(libc::EINVAL) => no_route(dst, "the kernel refused it (a blackhole route?)"),
        _ => e,
    }
}

fn no_route(dst: IpAddr, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no route to {dst}: {why}"))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A minimal `NETLINK_ROUTE` client (netlink(7), rtnetlink(7)): one socket
/// per user, one request at a time, replies matched by sequence number.
/// Everything is in host byte order, as netlink is.
pub(crate) mod netlink {
    use std::io;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// `struct nlmsghdr`: length, type, flags, sequence, port id.
    const HEADER_LEN: usize = 16;
    const NLMSG_NOOP: u16 = 1;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const NLMSG_OVERRUN: u16 = 4;
    pub(crate) const NLM_F_REQUEST: u16 = 0x1;
    pub(crate) const NLM_F_DUMP: u16 = 0x300;
    const NLM_F_DUMP_INTR: u16 = 0x10;
    /// Attribute type bits that are flags (nested, network byte order).
    const NLA_TYPE_MASK: u16 = 0x3fff;
    /// How long the kernel gets to answer before a request fails. It answers
    /// in microseconds; this only bounds a wait that should never happen.
    const ANSWER_TIMEOUT_SECS: libc::time_t = 5;
    /// Times a dump that the kernel marks inconsistent (the table changed
    /// while it was read) is asked again.
    const DUMP_RETRIES: u32 = 3;

    /// One reply message: its type and the bytes after the netlink header.
    #[derive(Debug)]
    pub(crate) struct Message {
        pub kind: u16,
        pub payload: Vec<u8>,
    }

    /// A request being built: the netlink header, a family header, then
    /// attributes, each padded to 4 bytes.
    #[derive(Debug)]
    pub(crate) struct Request {
        buf: Vec<u8>,
        dump: bool,
    }

    impl Request {
        /// A request of type `kind` with `flags` (NLM_F_REQUEST is added)
        /// and the family header `header`.
        pub fn new(kind: u16, flags: u16, header: &[u8]) -> Request {
            let mut buf = vec![0u8; HEADER_LEN];
            buf[4..6].copy_from_slice(&kind.to_ne_bytes());
            buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
            buf.extend_from_slice(header);
            pad(&mut buf);
            Request {
                buf,
                dump: flags & NLM_F_DUMP == NLM_F_DUMP,
            }
        }

        /// Appends attribute `kind` carrying `data`.
        pub fn attr(mut self, kind: u16, data: &[u8]) -> Request {
            let len = (4 + data.len()) as u16;
            self.buf.extend_from_slice(&len.to_ne_bytes());
            self.buf.extend_from_slice(&kind.to_ne_bytes());
            self.buf.extend_from_slice(data);
            pad(&mut self.buf);
            self
        }

        /// The finished bytes, as the tests' stand-in for a kernel answer
        /// (which has the same layout).
        #[cfg(test)]
        pub fn bytes(mut self) -> Vec<u8> {
            self.finish(1).to_vec()
        }

        fn finish(&mut self, seq: u32) -> &[u8] {
            let len = self.buf.len() as u32;
            self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
            self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
            &self.buf
        }
    }

    fn pad(buf: &mut Vec<u8>) {
        buf.resize(align4(buf.len()), 0);
    }

    fn align4(n: usize) -> usize {
        (n + 3) & !3
    }

    /// A `NETLINK_ROUTE` socket, bound to the network namespace of the
    /// thread that opened it.
    #[derive(Debug)]
    pub(crate) struct Socket {
        fd: OwnedFd,
        seq: u32,
        buf: Vec<u8>,
    }

    impl Socket {
        pub fn open() -> io::Result<Socket> {
            // SAFETY: socket(2) with constant arguments; the result is checked.
            let raw = unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    libc::NETLINK_ROUTE,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a fresh descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let timeout = libc::timeval {
                tv_sec: ANSWER_TIMEOUT_SECS,
                tv_usec: 0,
            };
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)?;
            Ok(Socket {
                fd,
                seq: 0,
                buf: vec![0; 32 * 1024],
            })
        }

        /// Sends `req` and returns the kernel's replies: every message of a
        /// dump, or the one answer to a plain request. An error message from
        /// the kernel becomes an `io::Error` with its errno.
        pub fn request(&mut self, mut req: Request) -> io::Result<Vec<Message>> {
            for _ in 0..DUMP_RETRIES {
                self.seq = self.seq.wrapping_add(1);
                let seq = self.seq;
                self.send(req.finish(seq))?;
                let (replies, interrupted) = self.collect(seq, req.dump)?;
                if !interrupted {
                    return Ok(replies);
                }
            }
            Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "netlink dump kept changing while it was read",
            ))
        }

        fn send(&self, msg: &[u8]) -> io::Result<()> {
            // SAFETY: an all-zero sockaddr_nl is valid; it addresses the kernel.
            let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
            kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            // SAFETY: `msg` and `kernel` are valid for the lengths passed.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    (&kernel as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Reads replies to `seq` until the answer is complete. Returns them
        /// and whether the kernel flagged the dump as inconsistent.
        fn collect(&mut self, seq: u32, dump: bool) -> io::Result<(Vec<Message>, bool)> {
            let mut replies = Vec::new();
            let mut interrupted = false;
            loop {
                let n = self.recv()?;
                for (header, payload) in Messages::new(&self.buf[..n]) {
                    if header.seq != seq {
                        continue; // a late answer to an earlier request
                    }
                    interrupted |= header.flags & NLM_F_DUMP_INTR != 0;
                    match header.kind {
                        NLMSG_NOOP => {}
                        NLMSG_ERROR | NLMSG_DONE | NLMSG_OVERRUN => {
                            check_status(header.kind, payload)?;
                            return Ok((replies, interrupted));
                        }
                        kind => {
                            replies.push(Message {
                                kind,
                                payload: payload.to_vec(),
                            });
                            if !dump {
                                return Ok((replies, interrupted));
                            }
                        }
                    }
                }
            }
        }

        /// Receives one datagram into `self.buf`, growing it first if the
        /// datagram is larger. Returns its length.
        fn recv(&mut self) -> io::Result<usize> {
            let fd = self.fd.as_raw_fd();
            let peek = libc::MSG_PEEK | libc::MSG_TRUNC;
            let want = recv_into(fd, &mut self.buf, peek)?;
            if want > self.buf.len() {
                self.buf.resize(want, 0);
            }
            recv_into(fd, &mut self.buf, 0)
        }
    }

    /// Sets a socket option of type `T` on any socket.
    pub(crate) fn setsockopt<T>(
        fd: &OwnedFd,
        level: libc::c_int,
        name: libc::c_int,
        value: &T,
    ) -> io::Result<()> {
        // SAFETY: `value` points to a live `T` of the length passed; the
        // kernel only reads it.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn recv_into(fd: libc::c_int, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is valid and writable for `buf.len()` bytes.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the kernel did not answer a netlink request",
                    ))
                }
                _ => return Err(e),
            }
        }
    }

    /// NLMSG_ERROR carries 0 (an acknowledgement) or a negative errno;
    /// NLMSG_DONE may carry a negative errno too (a dump that failed).
    fn check_status(kind: u16, payload: &[u8]) -> io::Result<()> {
        if kind == NLMSG_OVERRUN {
            return Err(io::Error::other("netlink overrun"));
        }
        let code = payload
            .get(..4)
            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        match code {
            0.. => Ok(()),
            negative => Err(io::Error::from_raw_os_error(-negative)),
        }
    }

    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Header {
        pub kind: u16,
        pub flags: u16,
        pub seq: u32,
    }

    /// The messages of one datagram. Stops at the first malformed length.
    #[derive(Debug)]
    pub(crate) struct Messages<'a>(&'a [u8]);

    impl<'a> Messages<'a> {
        pub fn new(buf: &'a [u8]) -> Messages<'a> {
            Messages(buf)
        }
    }

    impl<'a> Iterator for Messages<'a> {
        type Item = (Header, &'a [u8]);

        fn next(&mut self) -> Option<Self::Item> {
            let h = self.0.get(..HEADER_LEN)?;
            let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
            if len < HEADER_LEN || len > self.0.len() {
                self.0 = &[];
                return None;
            }
            let header = Header {
                kind: u16::from_ne_bytes([h[4], h[5]]),
                flags: u16::from_ne_bytes([h[6], h[7]]),
                seq: u32::from_ne_bytes([h[8], h[9], h[10], h[11]]),
            };
            let payload = &self.0[HEADER_LEN..len];
            self.0 = &self.0[align4(len).min(self.0.len())..];
            Some((header, payload))
        }
    }

    /// The attributes (`struct rtattr`: u16 length, u16 type, data) after a
    /// family header. Stops at the first malformed length.
    #[derive(Debug)]
    pub(crate) struct Attrs<'a>(&'a [u8]);

    impl<'a> Attrs<'a> {
        pub fn new(buf: &'a [u8]) -> Attrs<'a> {
            Attrs(buf)
        }
    }

    impl<'a> Iterator for Attrs<'a> {
        type Item = (u16, &'a [u8]);

        fn next(&mut self) -> Option<Self::Item> {
            let h = self.0.get(..4)?;
            let len = usize::from(u16::from_ne_bytes([h[0], h[1]]));
            let kind = u16::from_ne_bytes([h[2], h[3]]) & NLA_TYPE_MASK;
            if len < 4 || len > self.0.len() {
                self.0 = &[];
                return None;
            }
            let data = &self.0[4..len];
            self.0 = &self.0[align4(len).min(self.0.len())..];
            Some((kind, data))
        }
    }

    /// An address attribute: 4 bytes are IPv4, 16 are IPv6.
    pub(crate) fn ip_of(data: &[u8]) -> Option<IpAddr> {
        match data.len() {
            4 => Some(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            16 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(data);
                Some(IpAddr::V6(Ipv6Addr::from(o)))
            }
            _ => None,
        }
    }

    pub(crate) fn u32_of(data: &[u8]) -> Option<u32> {
        let b = data.get(..4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A 6-byte link-layer address attribute.
    pub(crate) fn mac_of(data: &[u8]) -> Option<[u8; 6]> {
        match data {
            [a, b, c, d, e, f] => Some([*a, *b, *c, *d, *e, *f]),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::netlink::{Attrs, Messages, Request};
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn loopback_v4_is_local() {
        let route = lookup(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        assert!(route.local);
        assert_eq!(route.src, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(route.gateway, None);
        let lo = crate::iface::by_index(route.ifindex).unwrap();
        assert_eq!(lo.kind, crate::iface::LinkKind::Loopback);
    }

    #[test]
    fn loopback_v6_is_local_when_ipv6_is_on() {
        match lookup(IpAddr::V6(Ipv6Addr::LOCALHOST)) {
            Ok(route) => {
                assert!(route.local);
                assert_eq!(route.src, IpAddr::V6(Ipv6Addr::LOCALHOST));
            }
            // IPv6 disabled on this machine: the kernel knows no route.
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}"),
        }
    }

    #[test]
    fn cache_remembers() {
        let mut cache = RouteCache::new();
        let dst = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));
        let first = cache.lookup(dst).unwrap();
        assert_eq!(cache.lookup(dst).unwrap(), first);
        assert_eq!(cache.len(), 1);
        assert_eq!(RouteCache::next_hop(&first, dst), dst);
    }

    #[test]
    fn next_hop_is_gateway_or_destination() {
        let dst = IpAddr::V4(Ipv4Addr::new(198, 18, 1, 1));
        let gw = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 254));
        let mut route = Route {
            ifindex: 2,
            src: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
            gateway: Some(gw),
            local: false,
        };
        assert_eq!(next_hop(&route, dst), gw);
        route.gateway = None;
        assert_eq!(next_hop(&route, dst), dst);
    }

    #[test]
    fn unusable_route_types_are_not_found() {
        for kind in [
            rtn::BLACKHOLE,
            rtn::UNREACHABLE,
            rtn::PROHIBIT,
            rtn::THROW,
            0,
            200,
        ] {
            let answer = Answer {
                kind,
                oif: Some(1),
                ..Answer::default()
            };
            let dst = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
            let e = route_from(answer, dst).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
            assert!(e.to_string().contains("198.18.0.1"), "{e}");
        }
    }

    #[test]
    fn parses_a_kernel_answer() {
        // An RTM_NEWROUTE body: rtmsg (AF_INET, /32, unicast), then OIF 3,
        // PREFSRC 198.18.0.1, GATEWAY 198.18.0.254 and one unknown attribute.
        let mut rtmsg = [0u8; RTMSG_LEN];
        rtmsg[0] = libc::AF_INET as u8;
        rtmsg[RTMSG_TYPE] = rtn::UNICAST;
        let req = Request::new(RTM_NEWROUTE, 0, &rtmsg)
            .attr(rta::OIF, &3u32.to_ne_bytes())
            .attr(rta::PREFSRC, &[198, 18, 0, 1])
            .attr(999, &[1, 2, 3])
            .attr(rta::GATEWAY, &[198, 18, 0, 254]);
        let bytes = req.bytes();
        let (header, payload) = Messages::new(&bytes).next().unwrap();
        assert_eq!(header.kind, RTM_NEWROUTE);
        let dst = IpAddr::V4(Ipv4Addr::new(198, 18, 9, 9));
        let route = route_from(parse_answer(payload).unwrap(), dst).unwrap();
        assert_eq!(
            route,
            Route {
                ifindex: 3,
                src: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
                gateway: Some(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 254))),
                local: false,
            }
        );
    }

    #[test]
    fn via_attribute_gives_an_ipv6_gateway() {
        let mut body = vec![0u8; RTMSG_LEN];
        body[RTMSG_TYPE] = rtn::UNICAST;
        let mut via = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        via.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        let bytes = Request::new(RTM_NEWROUTE, 0, &body)
            .attr(rta::OIF, &2u32.to_ne_bytes())
            .attr(rta::PREFSRC, &[198, 18, 0, 1])
            .attr(rta::VIA, &via)
            .bytes();
        let (_, payload) = Messages::new(&bytes).next().unwrap();
        let answer = parse_answer(payload).unwrap();
        assert_eq!(answer.gateway, Some("fe80::1".parse().unwrap()));
    }

    #[test]
    fn malformed_lengths_stop_iteration() {
        // Attribute lengths below 4 or past the end end the walk, no panic.
        assert_eq!(Attrs::new(&[2, 0, 1, 0, 9, 9]).count(), 0);
        assert_eq!(Attrs::new(&[8, 0, 1, 0, 9, 9]).count(), 0);
        assert_eq!(Attrs::new(&[5, 0, 1, 0, 9]).count(), 1, "unpadded last");
        assert_eq!(Messages::new(&[0xff; 20]).count(), 0);
        assert_eq!(Messages::new(&[4, 0, 0, 0]).count(), 0);
        // Every prefix of a good message walks without panicking.
        let bytes = Request::new(RTM_NEWROUTE, 0, &[0; RTMSG_LEN])
            .attr(rta::DST, &[1; 4])
            .bytes();
        for n in 0..bytes.len() {
            for (_, p) in Messages::new(&bytes[..n]) {
                let _ = parse_answer(p);
            }
        }
    }
}
