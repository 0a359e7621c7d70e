//! Portolan's only contact with the operating system.
//!
//! - [`connect`]: many non-blocking TCP connection attempts at once, each
//!   classified as open, refused or unreachable (with the ICMP type and code
//!   the kernel saw, read from the socket's error queue).
//! - [`parallel`]: the same, spread over worker threads, one epoll set each.
//! - [`limits`]: raising the open-file limit so the scan never dies of
//!   "too many open files", and reporting what budget remains.
//!
//! This is the only crate allowed `unsafe`; each block says why it is sound.

pub mod connect;
pub mod limits;
pub mod parallel;
