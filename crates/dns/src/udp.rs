//! The UDP side of the resolver: one non-blocking socket per address family, shared by
//! every outstanding query (answers are told apart by ID, server and question in
//! [`crate::engine`]), a `poll` wait until the next datagram or timer, and the clock.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::ResolverConfig;
use crate::engine::{Resolver, Transmit};
use crate::outcome::Lookups;
use crate::DnsError;

const V4: Token = Token(0);
const V6: Token = Token(1);
/// Receive buffer asked for, so a window of answers arriving together is not dropped.
const RECV_BUFFER: usize = 1 << 20;
/// Datagrams read per socket before timers get another look.
const READ_BUDGET: usize = 1024;
/// Wait used only if the engine, unexpectedly, names no next event.
const IDLE_WAIT: Duration = Duration::from_millis(10);

/// Resolves the PTR names of `addrs` through the servers of `cfg` (see the crate docs).
/// Results come back in the order of `addrs`. The call returns once every address has an
/// outcome: at most `tries × timeout` after each address's first query, and by
/// `overall_deadline` if one is set.
pub fn reverse_lookup_all(cfg: &ResolverConfig, addrs: &[IpAddr]) -> Result<Lookups, DnsError> {
    let mut engine = Resolver::new(cfg, addrs, clock(), random_seed())?;
    if engine.is_done() {
        return Ok(engine.finish());
    }
    let mut net = Net::open(&cfg.servers)?;
    let mut buf = vec![0u8; 65_536];
    while !engine.is_done() {
        let now = clock();
        engine.handle_timeout(now);
        while let Some(t) = engine.poll_transmit(now) {
            if net.send(&t).is_err() {
                engine.handle_send_error(now, t.id);
            }
        }
        if engine.is_done() {
            break;
        }
        let wait = match engine.poll_timeout() {
            Some(at) => at.saturating_duration_since(clock()),
            None => IDLE_WAIT,
        };
        net.wait(wait)?;
        net.read_all(&mut buf, |from, bytes| {
            engine.handle_datagram(clock(), from, bytes)
        });
    }
    Ok(engine.finish())
}

/// The clock enters the resolver here and nowhere else.
#[allow(clippy::disallowed_methods)]
pub(crate) fn clock() -> Instant {
    Instant::now()
}

/// Fresh per-call randomness for query IDs: std's per-process random hash keys, mixed with
/// the time so two calls differ.
#[allow(clippy::disallowed_methods)]
fn random_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(since_epoch.as_nanos());
    hasher.finish()
}

#[derive(Debug)]
struct Net {
    poll: Poll,
    events: Events,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    /// A socket still had datagrams when the read budget ran out.
    more_to_read: bool,
}

impl Net {
    /// Opens a socket for each family some server uses. A family whose socket cannot be
    /// opened is left out (sends to it fail and are counted); none at all is an error.
    fn open(servers: &[SocketAddr]) -> Result<Self, DnsError> {
        let poll = Poll::new().map_err(DnsError::Socket)?;
        let wants = |v6: bool| servers.iter().any(|s| s.is_ipv6() == v6);
        let mut first_error = None;
        let mut open = |v6: bool, token: Token| -> Option<UdpSocket> {
            if !wants(v6) {
                return None;
            }
            let opened = open_socket(v6).and_then(|mut sock| {
                poll.registry()
                    .register(&mut sock, token, Interest::READABLE)
                    .map(|()| sock)
            });
            opened.map_err(|e| first_error.get_or_insert(e)).ok()
        };
        let v4 = open(false, V4);
        let v6 = open(true, V6);
        if let (None, None, Some(e)) = (&v4, &v6, first_error) {
            return Err(DnsError::Socket(e));
        }
        Ok(Net {
            poll,
            events: Events::with_capacity(4),
            v4,
            v6,
            more_to_read: false,
        })
    }

    fn send(&self, t: &Transmit) -> io::Result<usize> {
        let sock = if t.server.is_ipv6() {
            &self.v6
        } else {
            &self.v4
        };
        match sock {
            Some(sock) => sock.send_to(&t.payload, t.server),
            None => Err(io::ErrorKind::AddrNotAvailable.into()),
        }
    }

    /// Waits until a socket is readable or `timeout` passes (not at all if reads are
    /// pending). An interrupted wait just returns.
    fn wait(&mut self, timeout: Duration) -> Result<(), DnsError> {
        let timeout = if self.more_to_read {
            Duration::ZERO
        } else {
            timeout
        };
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(DnsError::Socket(e)),
            _ => Ok(()),
        }
    }

    /// Reads what the sockets hold (up to a budget each), whatever `poll` reported: the
    /// sockets are edge-triggered and non-blocking, so trying is always safe.
    fn read_all(&mut self, buf: &mut [u8], mut on_datagram: impl FnMut(SocketAddr, &[u8])) {
        self.more_to_read = false;
        for sock in [&self.v4, &self.v6].into_iter().flatten() {
            for n in 0..=READ_BUDGET {
                if n == READ_BUDGET {
                    self.more_to_read = true;
                    break;
                }
                match sock.recv_from(buf) {
                    Ok((len, from)) => on_datagram(from, &buf[..len]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        }
    }
}

fn open_socket(v6: bool) -> io::Result<UdpSocket> {
    let (domain, any) = if v6 {
        (Domain::IPV6, IpAddr::V6(Ipv6Addr::UNSPECIFIED))
    } else {
        (Domain::IPV4, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    };
    let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if v6 {
        sock.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer only risks drops, which retries cover.
    let _ = sock.set_recv_buffer_size(RECV_BUFFER);
    sock.set_nonblocking(true)?;
    sock.bind(&SocketAddr::new(any, 0).into())?;
    Ok(UdpSocket::from_std(sock.into()))
}
