//! Portolan's only contact with the operating system.
//!
//! - [`connect`]: many non-blocking TCP connection attempts at once, each
//!   classified as open, refused or unreachable (with the ICMP type and code
//!   the kernel saw, read from the socket's error queue).
//! - [`parallel`]: the same, spread over worker threads, one epoll set each.
//! - [`limits`]: raising the open-file limit so the scan never dies of
//!   "too many open files", and reporting what budget remains.
//! - [`route`], [`iface`], [`neighbor`]: where a packet to a target leaves
//!   (interface, source address, next hop) and the next hop's MAC address.
//! - [`packet`], [`bpf`], [`rawip`]: raw packet I/O (AF_PACKET with a kernel
//!   BPF filter and batched send/receive; raw IP sockets as the fallback).
//! - [`privs`]: whether raw sockets are allowed, and dropping privileges once
//!   they are open.
//!
//! This is the only crate allowed `unsafe`; each block says why it is sound.

pub mod bpf;
pub mod connect;
pub mod iface;
pub mod limits;
pub mod neighbor;
pub mod packet;
pub mod parallel;
pub mod poll;
pub mod privs;
pub mod rawip;
pub mod route;
