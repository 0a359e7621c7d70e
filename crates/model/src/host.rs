use crate::mac::MacAddress;
use crate::port::{PortResult, Reason};
use crate::trace::Trace;
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
    /// TTL (hop limit) of the reply that decided the status (an echo reply,
    /// a RST); `None` when no IP packet did (ARP, `-Pn`, silence). Absent in
    /// older records: `None`.
    #[serde(default)]
    pub status_reason_ttl: Option<u8>,
    /// The hardware address the host answered from, when it is on-link.
    /// Absent (never `null`) when unknown, and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddress>,
    /// Wall-clock seconds since the Unix epoch.
    pub start_time: u64,
    pub end_time: u64,
    /// Every scanned port, sorted by (protocol, port).
    pub ports: Vec<PortResult>,
    pub times: Option<HostTimes>,
    /// The host hit `--host-timeout`: `ports` holds only what was settled by then.
    pub timed_out: bool,
    /// The host answered SYN-ACK on (nearly) every TCP port scanned: a SYN
    /// proxy or tarpit answers for it, so its open TCP ports say nothing about
    /// what listens there. `ports` still holds every port as seen; the report
    /// formats fold the open TCP ones away. Absent in older records: `false`.
    #[serde(default)]
    pub answers_every_port: bool,
    /// The route to the host (`--traceroute`). Absent (never `null`) when
    /// not traced, and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
}

impl HostResult {
    /// Sorts ports into the canonical (protocol, port) order.
    pub fn sort_ports(&mut self) {
        self.ports.sort_by_key(|p| (p.protocol, p.port));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_before_answers_every_port_existed_read_as_not_flagged() {
        let old = r#"{"addr":"198.18.0.2","hostnames":[],"status":"up","status_reason":"user-set",
            "start_time":0,"end_time":0,"ports":[],"times":null,"timed_out":false}"#;
        let host: HostResult = serde_json::from_str(old).unwrap();
        assert!(!host.answers_every_port);
        let mut flagged = host.clone();
        flagged.answers_every_port = true;
        let text = serde_json::to_string(&flagged).unwrap();
        assert!(text.contains(r#""answers_every_port":true"#), "{text}");
        assert_eq!(serde_json::from_str::<HostResult>(&text).unwrap(), flagged);
    }

    #[test]
    fn records_written_before_host_discovery_read_without_mac_or_reason_ttl() {
        let old = r#"{"addr":"198.18.0.2","hostnames":[],"status":"up","status_reason":"user-set",
            "start_time":0,"end_time":0,"ports":[],"times":null,"timed_out":false,
            "answers_every_port":false}"#;
        let host: HostResult = serde_json::from_str(old).unwrap();
        assert_eq!(host.mac, None);
        assert_eq!(host.status_reason_ttl, None);
        let text = serde_json::to_string(&host).unwrap();
        assert!(
            !text.contains(r#""mac""#),
            "no MAC is written as no field: {text}"
        );
        assert!(text.contains(r#""status_reason_ttl":null"#), "{text}");
    }

    #[test]
    fn a_trace_is_absent_when_none_and_round_trips_when_set() {
        let old = r#"{"addr":"198.18.0.2","hostnames":[],"status":"up","status_reason":"syn-ack",
            "start_time":0,"end_time":0,"ports":[],"times":null,"timed_out":false}"#;
        let mut host: HostResult = serde_json::from_str(old).unwrap();
        assert_eq!(host.trace, None);
        let text = serde_json::to_string(&host).unwrap();
        assert!(
            !text.contains("trace"),
            "no trace is written as no field: {text}"
        );
        host.trace = Some(crate::Trace {
            proto: Some(crate::TraceProto::Icmp),
            port: None,
            hops: vec![crate::TraceHop::silent(1)],
        });
        let text = serde_json::to_string(&host).unwrap();
        assert!(
            text.contains(r#""trace":{"proto":"icmp","port":null,"hops":[{"ttl":1,"addr":null,"rtt_us":null}]}"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<HostResult>(&text).unwrap(), host);
    }

    #[test]
    fn mac_and_reason_ttl_round_trip() {
        let text = r#"{"addr":"198.18.0.11","hostnames":[],"status":"up",
            "status_reason":"arp-response","status_reason_ttl":64,
            "mac":{"addr":"02:00:c6:12:00:0b","vendor":"Example"},
            "start_time":0,"end_time":0,"ports":[],"times":null,"timed_out":false}"#;
        let host: HostResult = serde_json::from_str(text).unwrap();
        assert_eq!(host.status_reason, Reason::ArpResponse);
        assert_eq!(host.status_reason_ttl, Some(64));
        assert_eq!(
            host.mac,
            Some(MacAddress::new(
                [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0b],
                Some("Example".into())
            ))
        );
        let again = serde_json::to_string(&host).unwrap();
        assert!(
            again.contains(r#""mac":{"addr":"02:00:C6:12:00:0B","vendor":"Example"}"#),
            "{again}"
        );
        assert_eq!(serde_json::from_str::<HostResult>(&again).unwrap(), host);
    }
}
