//! Process resource limits.

use std::io;

/// Raises the soft RLIMIT_NOFILE to the hard limit (capped at `ceiling`) and
/// returns the soft limit now in force.
pub fn raise_nofile(ceiling: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let want = lim.rlim_max.min(ceiling);
    if want > lim.rlim_cur {
        let new = libc::rlimit {
            rlim_cur: want,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `new` is a valid rlimit; the call only reads it.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == 0 {
            return Ok(want);
        }
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    #[test]
    fn raise_never_lowers() {
        let first = super::raise_nofile(1 << 20).unwrap();
        let second = super::raise_nofile(1 << 20).unwrap();
        assert!(first >= 64);
        assert_eq!(first, second);
    }
}
