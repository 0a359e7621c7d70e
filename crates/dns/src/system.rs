//! Reverse lookups through the system resolver (`getnameinfo` with `NI_NAMEREQD`, so
//! `/etc/hosts`, NSS modules and the C library's DNS client all apply), on a small pool of
//! threads. The C call cannot be cancelled, so the pool is never joined: the call returns
//! at its deadline, reports what is still unresolved as timed out, and any thread stuck in
//! the C library finishes (and exits) on its own later.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::outcome::{Lookups, Outcome, ReverseResult, Stats};
use crate::udp::clock;
use crate::DnsError;

/// The most threads the pool uses, whatever is asked.
pub const MAX_SYSTEM_THREADS: usize = 64;

/// Host name buffer for getnameinfo (`NI_MAXHOST`).
const HOST_BUF: usize = 1025;

/// Looks up the names of `addrs` with `getnameinfo` on at most `threads` threads (at least
/// one, at most [`MAX_SYSTEM_THREADS`]). `timeout` bounds the whole call: addresses without
/// an answer by then are reported as [`Outcome::TimedOut`]. Results are in the order of
/// `addrs`. Fails only if no thread can be started.
pub fn system_reverse_lookup_all(
    addrs: &[IpAddr],
    threads: usize,
    timeout: Duration,
) -> Result<Lookups, DnsError> {
    run_pool(addrs, threads, timeout, Arc::new(getnameinfo_outcome))
}

type LookupFn = Arc<dyn Fn(IpAddr) -> Outcome + Send + Sync>;

/// Work shared by the pool: the addresses, the next one to take, and whether to stop.
struct Work {
    addrs: Vec<IpAddr>,
    next: AtomicUsize,
    stop: AtomicBool,
}

pub(crate) fn run_pool(
    addrs: &[IpAddr],
    threads: usize,
    timeout: Duration,
    lookup: LookupFn,
) -> Result<Lookups, DnsError> {
    let deadline = clock().checked_add(timeout);
    let (unique, order) = dedup(addrs);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; unique.len()];
    let work = Arc::new(Work {
        addrs: unique,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let (tx, rx) = mpsc::channel();
    let wanted = threads.clamp(1, MAX_SYSTEM_THREADS).min(work.addrs.len());
    let mut started = 0;
    for n in 0..wanted {
        let (work, tx, lookup) = (Arc::clone(&work), tx.clone(), Arc::clone(&lookup));
        let spawned = std::thread::Builder::new()
            .name(format!("portolan-dns-{n}"))
            .spawn(move || worker(&work, &tx, &*lookup));
        match spawned {
            Ok(_detached) => started += 1,
            Err(e) if started == 0 && n + 1 == wanted => return Err(DnsError::Spawn(e)),
            Err(_) => {}
        }
    }
    drop(tx);
    let mut received = 0;
    while received < outcomes.len() {
        let left = deadline.map_or(timeout, |d| d.saturating_duration_since(clock()));
        match rx.recv_timeout(left) {
            Ok((i, outcome)) => {
                outcomes[i] = Some(outcome);
                received += 1;
            }
            Err(_) => break,
        }
    }
    work.stop.store(true, Ordering::Relaxed);
    let results = order
        .iter()
        .zip(addrs)
        .map(|(&i, &addr)| ReverseResult {
            addr,
            outcome: outcomes[i].clone().unwrap_or(Outcome::TimedOut),
        })
        .collect();
    Ok(Lookups {
        results,
        stats: Stats::default(),
    })
}

fn worker(work: &Work, tx: &mpsc::Sender<(usize, Outcome)>, lookup: &dyn Fn(IpAddr) -> Outcome) {
    while !work.stop.load(Ordering::Relaxed) {
        let i = work.next.fetch_add(1, Ordering::Relaxed);
        let Some(&addr) = work.addrs.get(i) else {
            return;
        };
        if tx.send((i, lookup(addr))).is_err() {
            return;
        }
    }
}

/// The distinct addresses, and for each address given the index of its distinct copy.
fn dedup(addrs: &[IpAddr]) -> (Vec<IpAddr>, Vec<usize>) {
    let mut index: HashMap<IpAddr, usize> = HashMap::with_capacity(addrs.len());
    let mut unique = Vec::new();
    let order = addrs
        .iter()
        .map(|&addr| {
            *index.entry(addr).or_insert_with(|| {
                unique.push(addr);
                unique.len() - 1
            })
        })
        .collect();
    (unique, order)
}

fn getnameinfo_outcome(addr: IpAddr) -> Outcome {
    match getnameinfo_name_required(addr) {
        Ok(name) => Outcome::Name(name),
        Err(libc::EAI_NONAME) => Outcome::NoName,
        Err(libc::EAI_AGAIN) => Outcome::TimedOut,
        Err(code) => Outcome::SystemError(code),
    }
}

/// The name of `addr` from `getnameinfo(..., NI_NAMEREQD)`, with bytes outside printable
/// ASCII escaped as `\DDD`; or the C library's `EAI_*` error code.
#[allow(unsafe_code)]
fn getnameinfo_name_required(addr: IpAddr) -> Result<String, i32> {
    let sa = socket2::SockAddr::from(SocketAddr::new(addr, 0));
    let mut host: [libc::c_char; HOST_BUF] = [0; HOST_BUF];
    // SAFETY: `sa` holds an initialised sockaddr_in/sockaddr_in6 of `sa.len()` bytes and
    // outlives the call; `host` is writable for the HOST_BUF bytes passed and getnameinfo
    // writes at most that many, NUL included; the service buffer is null with length 0,
    // which getnameinfo accepts as "no service wanted". Nothing is retained after return.
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast::<libc::sockaddr>(),
            sa.len(),
            host.as_mut_ptr(),
            HOST_BUF as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return Err(rc);
    }
    let mut name = String::new();
    for byte in host.iter().map(|&c| c as u8).take_while(|&b| b != 0) {
        match byte {
            0x21..=0x7e => name.push(char::from(byte)),
            _ => name.push_str(&format!("\\{byte:03}")),
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods)]

    use super::*;
    use std::net::Ipv4Addr;
    use std::sync::Mutex;
    use std::time::Instant;

    fn v4(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i))
    }

    #[test]
    fn pool_never_runs_more_lookups_than_threads() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (r, p) = (Arc::clone(&running), Arc::clone(&peak));
        let lookup: LookupFn = Arc::new(move |addr| {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(3));
            r.fetch_sub(1, Ordering::SeqCst);
            Outcome::Name(format!("h{addr}"))
        });
        let mut addrs: Vec<IpAddr> = (0..60).map(v4).collect();
        addrs.push(v4(7));
        let got = run_pool(&addrs, 4, Duration::from_secs(30), lookup).unwrap();
        assert_eq!(got.results.len(), 61);
        for (r, addr) in got.results.iter().zip(&addrs) {
            assert_eq!(r.addr, *addr);
            assert_eq!(r.outcome, Outcome::Name(format!("h{addr}")));
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=4).contains(&peak), "peak {peak}");
    }

    /// Lookups that never return (until the test releases them) are reported as timed out
    /// at the deadline, and the others are not held back by them.
    #[test]
    fn stuck_lookups_time_out_without_blocking_the_return() {
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let stuck = [v4(1), v4(2)];
        let lookup: LookupFn = Arc::new(move |addr| {
            if stuck.contains(&addr) {
                let _ = gate.lock().map(|g| g.recv_timeout(Duration::from_secs(20)));
                return Outcome::NoName;
            }
            Outcome::Name(addr.to_string())
        });
        let addrs: Vec<IpAddr> = (0..20).map(v4).collect();
        let start = Instant::now();
        let got = run_pool(&addrs, 4, Duration::from_millis(400), lookup).unwrap();
        let elapsed = start.elapsed();
        drop(release);
        assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        for r in &got.results {
            let want = if stuck.contains(&r.addr) {
                Outcome::TimedOut
            } else {
                Outcome::Name(r.addr.to_string())
            };
            assert_eq!(r.outcome, want, "{}", r.addr);
        }
    }

    #[test]
    fn empty_input_needs_no_thread() {
        let lookup: LookupFn = Arc::new(|_| Outcome::NoName);
        let got = run_pool(&[], 4, Duration::from_millis(10), lookup).unwrap();
        assert!(got.results.is_empty());
    }

    /// The real C call, for an address only `/etc/hosts` answers: run only where the hosts
    /// file is consulted first and names 127.0.0.1, so no DNS query can leave the machine.
    #[test]
    fn getnameinfo_reads_the_hosts_file() {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let nss = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
        let files_first = nss.lines().any(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some("hosts:") && w.next() == Some("files")
        });
        let names: Vec<&str> = hosts
            .lines()
            .filter_map(|l| l.split('#').next())
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("127.0.0.1")).then(|| w.next()).flatten()
            })
            .collect();
        if !files_first || names.is_empty() {
            eprintln!("skipped: /etc/hosts does not answer for 127.0.0.1 before DNS");
            return;
        }
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let got = system_reverse_lookup_all(&[lo], 1, Duration::from_secs(10)).unwrap();
        assert_eq!(got.results[0].addr, lo);
        let name = got.results[0].outcome.name().unwrap();
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
}
