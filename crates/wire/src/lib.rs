//! Packet formats.
//!
//! Zero-copy views over received bytes, builders for the probes Portolan
//! sends, and the Internet checksum (RFC 1071) with its incremental update
//! (RFC 1624). Protocol numbers are open enums: a value we do not know is
//! kept, not lost. Every length or offset read from the network is checked
//! before use: after `parse`, no accessor panics.

pub mod arp;
pub mod checksum;
pub mod ether;
pub mod icmp;
pub mod ndp;
pub mod probe;
pub mod reply;
