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
    /// The user said so (`-Pn`, or `-sL`, which sends nothing).
    UserSet,
    /// Our own host answered (scanning a local address). Older records spelt
    /// it `localhost`; both read back.
    #[serde(rename = "localhost-response", alias = "localhost")]
    Localhost,
    /// Host discovery: an ARP reply came back (`-PR`, on-link IPv4 targets).
    ArpResponse,
    /// Host discovery: an IPv6 neighbour advertisement came back (on-link IPv6 targets).
    NdResponse,
    /// Host discovery: an ICMP echo reply came back (`-PE`).
    EchoReply,
    /// Host discovery: an ICMP timestamp reply came back (`-PP`).
    TimestampReply,
    /// Host discovery: an ICMP address mask reply came back (`-PM`).
    AddressmaskReply,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 17] = [
        Reason::SynAck,
        Reason::ConnRefused,
        Reason::Reset,
        Reason::NoResponse,
        Reason::HostUnreach,
        Reason::NetUnreach,
        Reason::PortUnreach,
        Reason::ProtoUnreach,
        Reason::AdminProhibited,
        Reason::UdpResponse,
        Reason::UserSet,
        Reason::Localhost,
        Reason::ArpResponse,
        Reason::NdResponse,
        Reason::EchoReply,
        Reason::TimestampReply,
        Reason::AddressmaskReply,
    ];

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
            Reason::ArpResponse => "arp-response",
            Reason::NdResponse => "nd-response",
            Reason::EchoReply => "echo-reply",
            Reason::TimestampReply => "timestamp-reply",
            Reason::AddressmaskReply => "addressmask-reply",
        }
    }

    /// Parses Nmap's spelling.
    pub fn from_nmap(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
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
///
/// A table guess carries only `name`; a probed service may carry what its
/// answers revealed. Empty fields are `None`, never empty strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub method: ServiceMethod,
    /// Confidence 0..=10, as in Nmap's XML.
    pub conf: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extrainfo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ostype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devicetype: Option<String>,
    /// The service was reached through TLS (Nmap's `tunnel="ssl"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Tunnel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpe: Vec<String>,
    /// What the TLS handshake showed, when the service spoke TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// Nmap's `SF-Port...` service fingerprint, unwrapped: set only when the
    /// port answered a probe but no hard match named it (Nmap's `servicefp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// What Nmap's `http-title` would print for an HTTP service: the page
    /// title, `Site doesn't have a title (text/html).`, or `Did not follow
    /// redirect to ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_title: Option<String>,
}

impl ServiceInfo {
    /// A guess from the port table by number (Nmap's `method="table"`, `conf="3"`).
    pub fn table(name: &str) -> Self {
        Self::named(name, ServiceMethod::Table, 3)
    }

    /// A bare name obtained by `method` with confidence `conf`.
    pub fn named(name: &str, method: ServiceMethod, conf: u8) -> Self {
        Self {
            name: name.to_owned(),
            method,
            conf,
            product: None,
            version: None,
            extrainfo: None,
            hostname: None,
            ostype: None,
            devicetype: None,
            tunnel: None,
            cpe: Vec::new(),
            tls: None,
            fingerprint: None,
            http_title: None,
        }
    }

    /// Product, version and extra information joined as Nmap's VERSION column
    /// shows them: `OpenSSH 9.2p1 (protocol 2.0)`.
    pub fn version_text(&self) -> String {
        let mut out = String::new();
        for part in [&self.product, &self.version].into_iter().flatten() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part);
        }
        if let Some(info) = &self.extrainfo {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push('(');
            out.push_str(info);
            out.push(')');
        }
        out
    }
}

/// How a probed service was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tunnel {
    /// Inside SSL/TLS (`ssl/http`).
    Ssl,
}

/// The TLS session and server certificate a service presented. Times are UTC,
/// `YYYY-MM-DDTHH:MM:SS` as Nmap's ssl-cert prints them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TlsInfo {
    /// `TLSv1.3`, `TLSv1.2`, `TLSv1.1`, `TLSv1.0`, `SSLv3`.
    pub protocol: String,
    pub cipher: Option<String>,
    /// Distinguished names in `commonName=x/organizationName=y` form.
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// `rsaEncryption 2048`, `id-ecPublicKey 256`.
    pub public_key: Option<String>,
    /// Lowercase hex SHA-256 of the DER certificate.
    pub sha256: Option<String>,
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

    #[test]
    fn every_reason_serialises_as_its_nmap_spelling_and_reads_back() {
        for r in Reason::ALL {
            let text = serde_json::to_string(&r).unwrap();
            assert_eq!(text, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&text).unwrap(), r);
            assert_eq!(Reason::from_nmap(r.as_str()), Some(r));
        }
        let distinct: std::collections::BTreeSet<_> =
            Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(distinct.len(), Reason::ALL.len());
        assert_eq!(Reason::from_nmap("echo-request"), None);
    }

    #[test]
    fn host_discovery_reasons_use_nmaps_spelling() {
        let spelt: Vec<_> = [
            Reason::ArpResponse,
            Reason::NdResponse,
            Reason::EchoReply,
            Reason::TimestampReply,
            Reason::AddressmaskReply,
            Reason::Localhost,
        ]
        .map(Reason::as_str)
        .into();
        assert_eq!(
            spelt,
            [
                "arp-response",
                "nd-response",
                "echo-reply",
                "timestamp-reply",
                "addressmask-reply",
                "localhost-response"
            ]
        );
    }

    #[test]
    fn fingerprint_and_title_are_left_out_when_absent_and_read_back() {
        let mut s = ServiceInfo::table("rtsp");
        let bare = serde_json::to_value(&s).unwrap();
        assert!(bare.get("fingerprint").is_none() && bare.get("http_title").is_none());
        let old: ServiceInfo =
            serde_json::from_str(r#"{"name":"rtsp","method":"table","conf":3}"#).unwrap();
        assert_eq!(old, s);
        s.fingerprint = Some("SF-Port554-TCP:V=0.1.0%r(NULL,1,\"x\");".into());
        s.http_title = Some("Welcome".into());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["http_title"], "Welcome");
        assert_eq!(v["fingerprint"], "SF-Port554-TCP:V=0.1.0%r(NULL,1,\"x\");");
        assert_eq!(serde_json::from_value::<ServiceInfo>(v).unwrap(), s);
    }

    #[test]
    fn localhost_written_under_its_old_name_still_reads() {
        let r: Reason = serde_json::from_str("\"localhost\"").unwrap();
        assert_eq!(r, Reason::Localhost);
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"localhost-response\"");
    }
}
