//! Non-blocking TCP connection attempts, many at once, over one epoll set.
//!
//! Every socket is opened with `IP_RECVERR` so an ICMP error that ends the
//! attempt can be read back with its type and code. A connection that opens
//! gets `SO_LINGER {on, 0}` before it is closed, so closing sends a reset and
//! leaves no TIME_WAIT behind (a full port range would otherwise exhaust local
//! ports); refused and abandoned attempts never reach that state and skip the
//! call. Closing a descriptor also removes it from the epoll set, so no
//! explicit deregistration is made: per probe the cost is socket, setsockopt,
//! connect, epoll_ctl, getsockopt and close.

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use portolan_model::Reason;
use portolan_wire::icmp::{self, UnreachKind};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// What one connection attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectResult {
    /// The three-way handshake completed.
    Open,
    /// A reset (or ICMP port unreachable) refused it.
    Refused,
    /// An ICMP error (or a local route/firewall refusal) stopped it.
    Unreachable(Reason),
    /// The kernel gave up on its own retransmissions; no answer was seen.
    Silent,
    /// Nothing was sent: a local resource ran out (descriptors, buffers, ports).
    NotSent,
}

/// Whether `start` finished at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Pending,
    Done(ConnectResult),
}

/// A set of attempts in flight, keyed by the caller's probe id.
#[derive(Debug)]
pub struct Connector {
    poll: Poll,
    events: Events,
    sockets: HashMap<u64, Socket>,
}

impl Connector {
    pub fn new() -> io::Result<Connector> {
        Ok(Connector {
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            sockets: HashMap::new(),
        })
    }

    /// A waker that interrupts `wait` from another thread.
    pub fn waker(&self, token: Token) -> io::Result<mio::Waker> {
        mio::Waker::new(self.poll.registry(), token)
    }

    /// Attempts in flight.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Starts a connection attempt identified by `id`.
    pub fn start(&mut self, id: u64, addr: SocketAddr) -> Started {
        let sock = match open_socket(addr) {
            Ok(s) => s,
            Err(e) => return Started::Done(classify_local(&e)),
        };
        match sock.connect(&addr.into()) {
            Ok(()) => {
                let _ = sock.set_linger(Some(Duration::ZERO));
                return Started::Done(ConnectResult::Open);
            }
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Started::Done(classify_error(&sock, &e)),
        }
        let fd = sock.as_raw_fd();
        let token = Token(id as usize);
        if self
            .poll
            .registry()
            .register(&mut SourceFd(&fd), token, Interest::WRITABLE)
            .is_err()
        {
            return Started::Done(ConnectResult::NotSent);
        }
        self.sockets.insert(id, sock);
        Started::Pending
    }

    /// Abandons attempt `id`. Closing the socket also takes it out of the
    /// epoll set (the descriptor is never duplicated).
    pub fn abort(&mut self, id: u64) {
        self.sockets.remove(&id);
    }

    /// Waits up to `timeout` for attempts to finish and appends them to `out`.
    pub fn wait(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, ConnectResult)>,
    ) -> io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let ids: Vec<u64> = self.events.iter().map(|ev| ev.token().0 as u64).collect();
        for id in ids {
            if let Some(result) = self.check(id) {
                self.abort(id);
                out.push((id, result));
            }
        }
        Ok(())
    }

    fn check(&self, id: u64) -> Option<ConnectResult> {
        let sock = self.sockets.get(&id)?;
        match sock.take_error() {
            Ok(Some(e)) => Some(classify_error(sock, &e)),
            Err(e) => Some(classify_error(sock, &e)),
            // Writable with no pending error: the handshake completed.
            Ok(None) => {
                let _ = sock.set_linger(Some(Duration::ZERO));
                Some(ConnectResult::Open)
            }
        }
    }
}

fn open_socket(addr: SocketAddr) -> io::Result<Socket> {
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(
        domain,
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    set_recverr(&sock, addr.is_ipv4())?;
    Ok(sock)
}

fn set_recverr(sock: &Socket, v4: bool) -> io::Result<()> {
    let (level, name) = if v4 {
        (libc::SOL_IP, libc::IP_RECVERR)
    } else {
        (libc::SOL_IPV6, libc::IPV6_RECVERR)
    };
    let on: libc::c_int = 1;
    // SAFETY: the fd is a live socket owned by `sock`; `on` is a c_int whose
    // size is passed alongside its address.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Errors from creating or starting a socket: local exhaustion means "not sent".
fn classify_local(e: &io::Error) -> ConnectResult {
    match e.raw_os_error() {
        Some(libc::ENETUNREACH) => ConnectResult::Unreachable(Reason::NetUnreach),
        Some(libc::EHOSTUNREACH) => ConnectResult::Unreachable(Reason::HostUnreach),
        _ => ConnectResult::NotSent,
    }
}

fn classify_error(sock: &Socket, e: &io::Error) -> ConnectResult {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => ConnectResult::Refused,
        // Linux reports a reset as ECONNREFUSED while the handshake is in
        // progress and as ECONNRESET once it completed: the port answered
        // SYN-ACK (a SYN proxy accepts, then resets when its backend
        // refuses), so it is open, as Nmap's connect scan reports it.
        Some(libc::ECONNRESET) => ConnectResult::Open,
        Some(libc::ETIMEDOUT) => ConnectResult::Silent,
        Some(libc::EHOSTUNREACH | libc::EHOSTDOWN | libc::ENONET) => {
            unreachable_reason(sock).unwrap_or(ConnectResult::Unreachable(Reason::HostUnreach))
        }
        Some(libc::ENETUNREACH) => {
            unreachable_reason(sock).unwrap_or(ConnectResult::Unreachable(Reason::NetUnreach))
        }
        // A local firewall rule refused to send it.
        Some(libc::EACCES | libc::EPERM) => ConnectResult::Unreachable(Reason::AdminProhibited),
        _ => classify_local(e),
    }
}

/// Reads the ICMP type and code that ended the attempt from the error queue.
fn unreachable_reason(sock: &Socket) -> Option<ConnectResult> {
    let (origin, typ, code) = read_errqueue(sock)?;
    let kind = match (origin, typ) {
        (libc::SO_EE_ORIGIN_ICMP, icmp::ICMP4_DEST_UNREACH) => icmp::Unreach4::from(code).kind(),
        (libc::SO_EE_ORIGIN_ICMP6, icmp::ICMP6_DEST_UNREACH) => icmp::Unreach6::from(code).kind(),
        _ => return None,
    };
    let reason = match kind {
        UnreachKind::Net => Reason::NetUnreach,
        UnreachKind::Host => Reason::HostUnreach,
        UnreachKind::Protocol => Reason::ProtoUnreach,
        UnreachKind::Port => return Some(ConnectResult::Refused),
        UnreachKind::AdminProhibited => Reason::AdminProhibited,
        UnreachKind::Other => return None,
    };
    Some(ConnectResult::Unreachable(reason))
}

/// (ee_origin, ee_type, ee_code) of the first extended error queued on `sock`.
fn read_errqueue(sock: &Socket) -> Option<(u8, u8, u8)> {
    let mut data = [0u8; 64];
    let mut control = [0u64; 64];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; an all-zero value is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers (iov, control) of the sizes given;
    // MSG_ERRQUEUE never blocks.
    let n = unsafe {
        libc::recvmsg(
            sock.as_raw_fd(),
            &mut msg,
            libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return None;
    }
    // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR/NXTHDR stay within
    // msg_controllen, and each header's length is checked before its data is read.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let hdr = &*cmsg;
            let is_err = (hdr.cmsg_level == libc::SOL_IP && hdr.cmsg_type == libc::IP_RECVERR)
                || (hdr.cmsg_level == libc::SOL_IPV6 && hdr.cmsg_type == libc::IPV6_RECVERR);
            let need =
                libc::CMSG_LEN(std::mem::size_of::<libc::sock_extended_err>() as u32) as usize;
            if is_err && hdr.cmsg_len as usize >= need {
                let ee = std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<libc::sock_extended_err>(),
                );
                return Some((ee.ee_origin, ee.ee_type, ee.ee_code));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn finish(c: &mut Connector, id: u64) -> ConnectResult {
        let mut out = Vec::new();
        for _ in 0..100 {
            c.wait(Some(Duration::from_millis(50)), &mut out).unwrap();
            if let Some((_, r)) = out.iter().find(|(i, _)| *i == id) {
                return *r;
            }
        }
        panic!("attempt {id} never finished");
    }

    fn run(c: &mut Connector, id: u64, addr: SocketAddr) -> ConnectResult {
        match c.start(id, addr) {
            Started::Done(r) => r,
            Started::Pending => finish(c, id),
        }
    }

    #[test]
    fn a_reset_after_the_handshake_means_open_and_before_it_closed() {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let reset = io::Error::from_raw_os_error(libc::ECONNRESET);
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(classify_error(&sock, &reset), ConnectResult::Open);
        assert_eq!(classify_error(&sock, &refused), ConnectResult::Refused);
    }

    #[test]
    fn loopback_open_and_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = l.local_addr().unwrap();
        let closed = {
            let tmp = TcpListener::bind("127.0.0.1:0").unwrap();
            tmp.local_addr().unwrap()
        };
        let mut c = Connector::new().unwrap();
        assert_eq!(run(&mut c, 1, open), ConnectResult::Open);
        assert_eq!(run(&mut c, 2, closed), ConnectResult::Refused);
        assert!(c.is_empty(), "finished attempts release their sockets");
    }

    #[test]
    fn abort_releases_the_socket() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = Connector::new().unwrap();
        if c.start(9, l.local_addr().unwrap()) == Started::Pending {
            assert_eq!(c.len(), 1);
        }
        c.abort(9);
        assert!(c.is_empty());
    }
}
