//! Waiting on several descriptors at once.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Blocks until one of `fds` is readable or `timeout` passes. An interrupted
/// wait (EINTR) returns early without error: the caller loops anyway.
pub fn wait_readable(fds: &[RawFd], timeout: Duration) -> io::Result<()> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `pfds` is a live, exclusively borrowed array of `pfds.len()`
    // initialised pollfd structs for the duration of the call.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
