//! Whether raw sockets are allowed, and giving up privileges once they are
//! open.
//!
//! A scanner needs CAP_NET_RAW (or root) only to open its raw sockets; after
//! that it parses hostile input with no need for any privilege, so it drops
//! them all.
//!
//! Linux keeps credentials per thread: [`drop_privileges`] changes the
//! calling thread, and every thread it spawns afterwards inherits the
//! result. Call it from the main thread after the raw sockets are open and
//! before any other thread exists (worker pools, a Ctrl-C handler thread):
//! threads that already run keep their capabilities. [`thread_count`] lets
//! the caller check.

use std::io;

/// Whether this process may open raw sockets: an `AF_PACKET` socket and a
/// raw IPv4 socket are opened (and closed at once); true if both succeed.
pub fn raw_allowed() -> bool {
    let packet = (libc::AF_PACKET, libc::SOCK_RAW, 0);
    let raw_ip = (libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
    [packet, raw_ip].into_iter().all(|(domain, kind, proto)| {
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let fd = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, proto) };
        if fd < 0 {
            return false;
        }
        // SAFETY: `fd` was just opened here and is closed exactly once.
        unsafe { libc::close(fd) };
        true
    })
}

/// From linux/capability.h: the version whose sets are two 32-bit words.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// Highest capability number the bounding-set loop tries; the kernel
/// answers EINVAL past its own last one.
const CAP_LAST_GUESS: libc::c_ulong = 63;

/// prctl(2) reads its variadic arguments as unsigned longs: pass them so.
const ZERO: libc::c_ulong = 0;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Gives up every capability of the calling thread, for good.
///
/// In order: the ambient set is cleared, the bounding set emptied where
/// CAP_SETPCAP allows, the effective, permitted and inheritable sets cleared
/// (capset(2)), and PR_SET_NO_NEW_PRIVS set, so no later execve (of a setuid
/// or file-capability binary, or as root) can grant any back. The uid is
/// not changed: a scanner started as root stays uid 0, without capabilities
/// (it still owns root's files; `sudo`'s SUDO_UID is deliberately ignored to
/// keep this simple).
///
/// Applies to the calling thread and threads it spawns later only; see the
/// module documentation.
pub fn drop_privileges() -> io::Result<()> {
    keep_only(&[])
}

/// CAP_NET_RAW: raw and packet sockets.
pub const CAP_NET_RAW: u32 = 13;

/// Like [`drop_privileges`], but keeps the capabilities in `keep` (e.g.
/// [`CAP_NET_RAW`], which a raw scan needs as long as it opens sockets and
/// resolves next hops) in the effective and permitted sets, and in the
/// bounding set. Everything else goes for good.
pub fn keep_only(keep: &[u32]) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            ZERO,
            ZERO,
            ZERO,
        );
    }
    drop_bounding_set(keep);
    set_capability_sets(keep)?;
    // SAFETY: prctl with integer arguments only.
    if unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            ZERO,
            ZERO,
            ZERO,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Removes every capability from the bounding set, as far as CAP_SETPCAP
/// permits (without it, nothing changes and nothing is lost: the empty
/// permitted set and no_new_privs already keep capabilities from returning).
fn drop_bounding_set(keep: &[u32]) {
    for cap in 0..=CAP_LAST_GUESS {
        if keep.iter().any(|&k| libc::c_ulong::from(k) == cap) {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, ZERO, ZERO, ZERO) };
        if rc != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            break; // past the kernel's last capability
        }
    }
}

fn set_capability_sets(keep: &[u32]) -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0, // the calling thread
    };
    let mut data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    for &cap in keep {
        if let Some(word) = data.get_mut((cap / 32) as usize) {
            word.effective |= 1 << (cap % 32);
            word.permitted |= 1 << (cap % 32);
        }
    }
    // SAFETY: `header` and `data` are the version-3 layout capset(2)
    // expects: one header and two data words, alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The calling thread's effective capability set (CapEff of
/// /proc/thread-self/status), as a bit mask.
pub fn effective_caps() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status")?;
    let hex = status_field(&status, "CapEff:")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no CapEff in status"))?;
    u64::from_str_radix(hex, 16).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Threads in this process (Threads of /proc/self/status): 1 is the safe
/// moment to call [`drop_privileges`].
pub fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let n = status_field(&status, "Threads:")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Threads in status"))?;
    n.parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    #[test]
    fn reads_own_status() {
        let caps = effective_caps().unwrap();
        if is_root() {
            assert_ne!(caps & (1 << 13), 0, "root has CAP_NET_RAW: {caps:x}");
        }
        assert!(thread_count().unwrap() >= 1);
    }

    #[test]
    fn parses_status_fields() {
        let status = "Name:\tx\nThreads:\t3\nCapEff:\t000001ffffffffff\n";
        assert_eq!(status_field(status, "CapEff:"), Some("000001ffffffffff"));
        assert_eq!(status_field(status, "Threads:"), Some("3"));
        assert_eq!(status_field(status, "CapPrm:"), None);
    }

    /// Drops in a fresh thread (credentials are per thread, so the test
    /// process keeps its own) and checks the thread, and a thread it spawns,
    /// can no longer open raw sockets.
    #[test]
    fn drop_leaves_no_capability() {
        if !is_root() || !raw_allowed() {
            eprintln!("SKIPPED: drop_leaves_no_capability needs root");
            return;
        }
        let child = std::thread::spawn(|| {
            drop_privileges().unwrap();
            let grandchild = std::thread::spawn(|| (effective_caps().unwrap(), raw_allowed()));
            let (caps, raw) = (effective_caps().unwrap(), raw_allowed());
            // SAFETY: socket(2) with constant arguments; closed below if it opened.
            let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0) };
            let errno = io::Error::last_os_error().raw_os_error();
            if fd >= 0 {
                // SAFETY: `fd` was just opened and is closed once.
                unsafe { libc::close(fd) };
            }
            let nnp = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            (caps, raw, fd, errno, nnp, grandchild.join().unwrap())
        });
        let (caps, raw, fd, errno, status, (gc_caps, gc_raw)) = child.join().unwrap();
        assert_eq!(caps, 0);
        assert!(!raw);
        assert!(fd < 0);
        assert_eq!(errno, Some(libc::EPERM));
        assert_eq!(status_field(&status, "NoNewPrivs:"), Some("1"));
        assert_eq!(status_field(&status, "CapPrm:"), Some("0000000000000000"));
        assert_eq!((gc_caps, gc_raw), (0, false), "spawned threads inherit");
        assert_ne!(effective_caps().unwrap(), 0, "other threads keep theirs");
        assert!(raw_allowed());
    }

    #[test]
    fn keeping_net_raw_keeps_raw_sockets_and_nothing_else() {
        if !is_root() || !raw_allowed() {
            eprintln!("SKIPPED: keeping_net_raw_keeps_raw_sockets_and_nothing_else needs root");
            return;
        }
        let child = std::thread::spawn(|| {
            keep_only(&[CAP_NET_RAW]).unwrap();
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            (effective_caps().unwrap(), raw_allowed(), status)
        });
        let (caps, raw, status) = child.join().unwrap();
        assert_eq!(caps, 1 << CAP_NET_RAW);
        assert!(raw);
        assert_eq!(status_field(&status, "CapBnd:"), Some("0000000000002000"));
        assert_eq!(status_field(&status, "NoNewPrivs:"), Some("1"));
    }
}
