//! Packet formats.
//!
//! Today this holds what the connect scan needs to interpret ICMP errors the
//! kernel reports on a socket, and the Internet checksum (RFC 1071) with its
//! incremental update (RFC 1624) that raw-packet probes are built on.
//! Protocol numbers are open enums: a value we do not know is kept, not lost.

pub mod checksum;
pub mod icmp;
