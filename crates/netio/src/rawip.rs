//! Sending whole IP packets through raw IP sockets: the fallback for when an
//! AF_PACKET socket cannot be used (no such interface type, a sandbox that
//! forbids it).
//!
//! The kernel routes each packet by the destination in its IP header and
//! resolves the next hop itself, so the caller needs neither an interface nor
//! a MAC address. For IPv4 (`IPPROTO_RAW`, header included) the kernel fills
//! in the header checksum, the total length, and an IP ID when it is zero;
//! IPv6 packets (`IPV6_HDRINCL`, Linux 4.5+) go out as given. These sockets
//! never receive: replies are read with a
//! [`PacketSocket`](crate::packet::PacketSocket) opened on all interfaces.

use crate::packet::{grow_buffers, ip_version, send_all, sendmmsg, setsockopt, MAX_MSGS, ON};
use std::fmt;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Raw IPv4 and IPv6 sockets, non-blocking; the IPv6 one is opened on first use.
pub struct RawIpSender {
    v4: OwnedFd,
    v6: Option<OwnedFd>,
}

impl fmt::Debug for RawIpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawIpSender")
            .field("v4", &self.v4.as_raw_fd())
            .field("v6", &self.v6.as_ref().map(AsRawFd::as_raw_fd))
            .finish()
    }
}

impl RawIpSender {
    /// Opens the IPv4 socket, so a missing `CAP_NET_RAW` shows up here; the
    /// IPv6 socket follows with the first IPv6 packet.
    pub fn open() -> io::Result<RawIpSender> {
        Ok(RawIpSender {
            v4: raw_socket(libc::AF_INET)?,
            v6: None,
        })
    }

    /// Sends as many of `batch` (whole IPv4/IPv6 packets, families mixed
    /// freely) as the kernel takes, in order, one `sendmmsg` per run of one
    /// family; returns how many were sent. Same contract as
    /// [`PacketSocket::send_batch`](crate::packet::PacketSocket::send_batch):
    /// stops early on pushback, errors only when the first packet fails, and
    /// a packet too short to hold its IP header is `InvalidInput`.
    pub fn send_batch(&mut self, batch: &[&[u8]]) -> io::Result<usize> {
        send_all(batch.len(), |start| self.send_run(&batch[start..]))
    }

    fn send_run(&mut self, pkts: &[&[u8]]) -> io::Result<usize> {
        match pkts.first().copied().and_then(ip_version) {
            Some(4) => send_v4(&self.v4, pkts),
            Some(_) => send_v6(self.v6_socket()?, pkts),
            None => Err(invalid()),
        }
    }

    fn v6_socket(&mut self) -> io::Result<&OwnedFd> {
        let fd = match self.v6.take() {
            Some(fd) => fd,
            None => {
                let fd = raw_socket(libc::AF_INET6)?;
                setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_HDRINCL, &ON)?;
                fd
            }
        };
        Ok(self.v6.insert(fd))
    }
}

/// The IPv4 destination of a packet, as `sendmmsg` wants it.
fn v4_dest(pkt: &[u8]) -> Option<libc::sockaddr_in> {
    if ip_version(pkt)? != 4 {
        return None;
    }
    let dst: [u8; 4] = pkt.get(16..20)?.try_into().ok()?;
    // SAFETY: sockaddr_in is plain integers; all zeros is valid.
    let mut sa: libc::sockaddr_in = unsafe { zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    // s_addr holds the address in network byte order, i.e. the header's bytes.
    sa.sin_addr.s_addr = u32::from_ne_bytes(dst);
    Some(sa)
}

/// The IPv6 destination of a packet (port 0, as raw sockets need).
fn v6_dest(pkt: &[u8]) -> Option<libc::sockaddr_in6> {
    if ip_version(pkt)? != 6 {
        return None;
    }
    let dst: [u8; 16] = pkt.get(24..40)?.try_into().ok()?;
    // SAFETY: sockaddr_in6 is plain integers and bytes; all zeros is valid.
    let mut sa: libc::sockaddr_in6 = unsafe { zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_addr.s6_addr = dst;
    Some(sa)
}

fn send_v4(fd: &OwnedFd, pkts: &[&[u8]]) -> io::Result<usize> {
    // SAFETY: C structs of integers and pointers; all zeros is valid.
    let mut addrs: [libc::sockaddr_in; MAX_MSGS] = unsafe { zeroed() };
    let n = fill_dests(pkts, &mut addrs, v4_dest);
    send_to(fd, pkts, &mut addrs[..n])
}

fn send_v6(fd: &OwnedFd, pkts: &[&[u8]]) -> io::Result<usize> {
    // SAFETY: C structs of integers and bytes; all zeros is valid.
    let mut addrs: [libc::sockaddr_in6; MAX_MSGS] = unsafe { zeroed() };
    let n = fill_dests(pkts, &mut addrs, v6_dest);
    send_to(fd, pkts, &mut addrs[..n])
}

/// Fills `addrs` with the destinations of the leading packets of one family;
/// how many.
fn fill_dests<A>(pkts: &[&[u8]], addrs: &mut [A], dest: impl Fn(&[u8]) -> Option<A>) -> usize {
    let mut n = 0;
    for (slot, pkt) in addrs.iter_mut().zip(pkts) {
        let Some(a) = dest(pkt) else { break };
        *slot = a;
        n += 1;
    }
    n
}

/// One `sendmmsg` of `pkts[i]` to `addrs[i]` for each address given.
fn send_to<A>(fd: &OwnedFd, pkts: &[&[u8]], addrs: &mut [A]) -> io::Result<usize> {
    if addrs.is_empty() {
        return Err(invalid());
    }
    // SAFETY: C structs of integers and pointers; all zeros is valid.
    let (mut iovs, mut hdrs): ([libc::iovec; MAX_MSGS], [libc::mmsghdr; MAX_MSGS]) =
        unsafe { zeroed() };
    let n = addrs.len();
    let parts = hdrs
        .iter_mut()
        .zip(&mut iovs)
        .zip(addrs.iter_mut().zip(pkts));
    for ((hdr, iov), (addr, pkt)) in parts {
        iov.iov_base = pkt.as_ptr() as *mut libc::c_void;
        iov.iov_len = pkt.len();
        hdr.msg_hdr.msg_iov = iov;
        hdr.msg_hdr.msg_iovlen = 1;
        hdr.msg_hdr.msg_name = (addr as *mut A).cast();
        hdr.msg_hdr.msg_namelen = size_of::<A>() as libc::socklen_t;
    }
    sendmmsg(fd, &mut hdrs[..n])
}

fn invalid() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not an IPv4 or IPv6 packet with a whole header",
    )
}

/// `socket(family, SOCK_RAW, IPPROTO_RAW)`: send-only, header included.
fn raw_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    let ty = libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain socket(2) call with constant arguments.
    let fd = unsafe { libc::socket(family, ty, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    grow_buffers(&fd);
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_come_from_the_header() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[16..20].copy_from_slice(&[198, 18, 210, 2]);
        let sa = v4_dest(&v4).expect("IPv4");
        assert_eq!(sa.sin_addr.s_addr.to_ne_bytes(), [198, 18, 210, 2]);
        assert_eq!(sa.sin_port, 0);
        assert!(v4_dest(&v4[..19]).is_none());
        assert!(v6_dest(&v4).is_none());

        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[24] = 0x20;
        v6[39] = 2;
        let sa = v6_dest(&v6).expect("IPv6");
        assert_eq!(
            (sa.sin6_addr.s6_addr[0], sa.sin6_addr.s6_addr[15]),
            (0x20, 2)
        );
        assert!(v6_dest(&v6[..39]).is_none());
        assert!(v4_dest(&v6).is_none());
    }

    #[test]
    fn a_run_stops_where_the_family_changes() {
        let (a, b) = ([0x45u8; 20], [0x60u8; 40]);
        let pkts: [&[u8]; 4] = [&a, &a, &b, &a];
        // SAFETY: sockaddr_in is plain integers; all zeros is valid.
        let mut addrs: [libc::sockaddr_in; 4] = unsafe { zeroed() };
        assert_eq!(fill_dests(&pkts, &mut addrs, v4_dest), 2);
        assert_eq!(fill_dests(&pkts[2..], &mut addrs, v4_dest), 0);
    }
}
