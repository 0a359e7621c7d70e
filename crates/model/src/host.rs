use crate::port::{PortResult, Reason};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Whether a host was found up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    Up,
    Down,
    Unknown,
}

impl HostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Up => "up",
            HostStatus::Down => "down",
            HostStatus::Unknown => "unknown",
        }
    }
}

/// Where a host name came from: the user typed it, or a reverse lookup found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HostnameKind {
    #[serde(rename = "user")]
    User,
    #[serde(rename = "PTR")]
    Ptr,
}

impl HostnameKind {
    /// Nmap's spelling in XML: `user`, `PTR`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostnameKind::User => "user",
            HostnameKind::Ptr => "PTR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hostname {
    pub name: String,
    pub kind: HostnameKind,
}

/// Round-trip timing the engine kept for a host, in microseconds (Nmap's `<times>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostTimes {
    pub srtt_us: u64,
    pub rttvar_us: u64,
    pub timeout_us: u64,
}

/// Everything learnt about one host in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostResult {
    pub addr: IpAddr,
    pub hostnames: Vec<Hostname>,
    pub status: HostStatus,
    pub status_reason: Reason,
    /// Wall-clock seconds since the Unix epoch.
    pub start_time: u64,
    pub end_time: u64,
    /// Every scanned port, sorted by (protocol, port).
    pub ports: Vec<PortResult>,
    pub times: Option<HostTimes>,
    /// The host hit `--host-timeout`: `ports` holds only what was settled by then.
    pub timed_out: bool,
}

impl HostResult {
    /// Sorts ports into the canonical (protocol, port) order.
    pub fn sort_ports(&mut self) {
        self.ports.sort_by_key(|p| (p.protocol, p.port));
    }
}
