//! Packet formats.
//!
//! Zero-copy views over received bytes, builders for the probes Portolan
//! sends, and the Internet checksum (RFC 1071) with its incremental update
//! (RFC 1624). Probes are TCP and UDP ([`probe`]) and, for host discovery,
//! the ICMP echo, timestamp and address mask requests of RFC 792 and RFC 950
//! and the ICMPv6 echo request of RFC 4443 ([`ping`]). Protocol numbers are
//! open enums: a value we do not know is kept, not lost. Every length or
//! offset read from the network is checked before use: after `parse`, no
//! accessor panics.

pub mod arp;
pub mod checksum;
pub mod ether;
pub mod icmp;
pub mod ndp;
pub mod ping;
pub mod probe;
pub mod reply;
