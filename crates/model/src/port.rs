use serde::{Deserialize, Serialize};
use std::fmt;

/// Transport protocol of a scanned port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// Nmap's spelling: `tcp`, `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The six port states Nmap reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PortState {
    #[serde(rename = "open")]
    Open,
    #[serde(rename = "closed")]
    Closed,
    #[serde(rename = "filtered")]
    Filtered,
    #[serde(rename = "unfiltered")]
    Unfiltered,
    #[serde(rename = "open|filtered")]
    OpenFiltered,
    #[serde(rename = "closed|filtered")]
    ClosedFiltered,
}

impl PortState {
    pub const ALL: [PortState; 6] = [
        PortState::Open,
        PortState::Closed,
        PortState::Filtered,
        PortState::Unfiltered,
        PortState::OpenFiltered,
        PortState::ClosedFiltered,
    ];

    /// Nmap's spelling: `open`, `closed`, `filtered`, `unfiltered`,
    /// `open|filtered`, `closed|filtered`.
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::Unfiltered => "unfiltered",
            PortState::OpenFiltered => "open|filtered",
            PortState::ClosedFiltered => "closed|filtered",
        }
    }

    /// Parses Nmap's spelling.
    pub fn from_nmap(s: &str) -> Option<PortState> {
        PortState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port (or host) was given its state. Spelled as Nmap spells reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Reason {
    /// A TCP handshake completed (connect scan) or a SYN-ACK came back.
    SynAck,
    /// The target refused the connection (RST to a connect attempt).
    ConnRefused,
    /// A RST came back to a raw probe.
    Reset,
    /// Nothing came back after every allowed retransmission.
    NoResponse,
    /// ICMP host unreachable (type 3 code 1, ICMPv6 code 3).
    HostUnreach,
    /// ICMP network unreachable (type 3 code 0, ICMPv6 code 0).
    NetUnreach,
    /// ICMP port unreachable (type 3 code 3, ICMPv6 code 4).
    PortUnreach,
    /// ICMP protocol unreachable (type 3 code 2).
    ProtoUnreach,
    /// ICMP communication administratively prohibited (type 3 codes 9, 10, 13; ICMPv6 code 1).
    AdminProhibited,
    /// A UDP datagram came back.
    UdpResponse,
    /// The user said so (`-Pn`).
    UserSet,
    /// Our own host answered (scanning a local address).
    Localhost,
}

impl Reason {
    /// Nmap's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::ConnRefused => "conn-refused",
            Reason::Reset => "reset",
            Reason::NoResponse => "no-response",
            Reason::HostUnreach => "host-unreach",
            Reason::NetUnreach => "net-unreach",
            Reason::PortUnreach => "port-unreach",
            Reason::ProtoUnreach => "proto-unreach",
            Reason::AdminProhibited => "admin-prohibited",
            Reason::UdpResponse => "udp-response",
            Reason::UserSet => "user-set",
            Reason::Localhost => "localhost-response",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a service name was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceMethod {
    /// Looked up in the port table by number (Nmap's `method="table"`, `conf="3"`).
    Table,
    /// Identified by probing the service.
    Probed,
}

/// What is believed to listen on a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub method: ServiceMethod,
    /// Confidence 0..=10, as in Nmap's XML.
    pub conf: u8,
}

/// The outcome for one port of one host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortResult {
    pub protocol: Protocol,
    pub port: u16,
    pub state: PortState,
    pub reason: Reason,
    /// TTL (hop limit) of the packet that decided the state, when one was seen.
    pub reason_ttl: Option<u8>,
    pub service: Option<ServiceInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_nmap_spelling() {
        for st in PortState::ALL {
            assert_eq!(PortState::from_nmap(st.as_str()), Some(st));
        }
        assert_eq!(PortState::from_nmap("opened"), None);
    }

    #[test]
    fn serde_uses_nmap_spelling() {
        let s = serde_json::to_string(&PortState::OpenFiltered).unwrap();
        assert_eq!(s, "\"open|filtered\"");
        let r = serde_json::to_string(&Reason::AdminProhibited).unwrap();
        assert_eq!(r, "\"admin-prohibited\"");
        assert_eq!(
            serde_json::to_string(&Reason::ConnRefused).unwrap(),
            format!("\"{}\"", Reason::ConnRefused)
        );
    }
}
