//! The route to a host (`--traceroute`), in Nmap's vocabulary.
//!
//! A trace lists one entry per TTL from 1 up to the host (or up to where
//! tracing stopped): the address that answered a probe sent with that TTL,
//! or nothing when no answer came (Nmap prints such runs as `...`).

use crate::port::Protocol;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// The protocol of the probe a trace was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceProto {
    Tcp,
    Udp,
    /// ICMP echo requests (ICMPv6 for an IPv6 host).
    Icmp,
}

impl TraceProto {
    /// `tcp`, `udp`, `icmp`.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceProto::Tcp => "tcp",
            TraceProto::Udp => "udp",
            TraceProto::Icmp => "icmp",
        }
    }
}

impl From<Protocol> for TraceProto {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Tcp => TraceProto::Tcp,
            Protocol::Udp => TraceProto::Udp,
        }
    }
}

impl fmt::Display for TraceProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The route to one host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Trace {
    /// The probe's protocol; `None` when nothing was sent because the host
    /// is on our own link (its one hop is the host itself).
    pub proto: Option<TraceProto>,
    /// The destination port of TCP and UDP probes.
    pub port: Option<u16>,
    /// One entry per TTL, ascending.
    pub hops: Vec<TraceHop>,
}

/// What answered a probe sent with one TTL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceHop {
    pub ttl: u8,
    /// Who answered; `None` when nothing did.
    pub addr: Option<IpAddr>,
    /// Round trip of the answered probe, in microseconds (Nmap prints
    /// milliseconds with two decimals). `None` when not measured.
    pub rtt_us: Option<u64>,
    /// The hop's reverse-DNS name, when looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl TraceHop {
    /// A TTL that drew no answer.
    pub fn silent(ttl: u8) -> TraceHop {
        TraceHop {
            ttl,
            addr: None,
            rtt_us: None,
            host: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_round_trips_through_json_with_silent_hops_as_null() {
        let trace = Trace {
            proto: Some(TraceProto::Tcp),
            port: Some(443),
            hops: vec![
                TraceHop {
                    ttl: 1,
                    addr: Some("198.18.0.254".parse().unwrap()),
                    rtt_us: Some(50),
                    host: Some("gw.example.test".into()),
                },
                TraceHop::silent(2),
            ],
        };
        let text = serde_json::to_string(&trace).unwrap();
        assert_eq!(
            text,
            r#"{"proto":"tcp","port":443,"hops":[{"ttl":1,"addr":"198.18.0.254","rtt_us":50,"host":"gw.example.test"},{"ttl":2,"addr":null,"rtt_us":null}]}"#
        );
        assert_eq!(serde_json::from_str::<Trace>(&text).unwrap(), trace);
    }

    #[test]
    fn protocols_convert_and_spell_as_nmap_does() {
        assert_eq!(TraceProto::from(Protocol::Udp), TraceProto::Udp);
        assert_eq!(TraceProto::from(Protocol::Tcp).to_string(), "tcp");
        assert_eq!(
            serde_json::to_string(&TraceProto::Icmp).unwrap(),
            "\"icmp\""
        );
    }
}
