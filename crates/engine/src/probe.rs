//! Raw probes: what each scan type sends, how a reply is proven to answer one
//! of our probes, and what the reply says about the port.
//!
//! Validation is stateless, as in masscan and zmap: a TCP probe's sequence
//! number (and, when the ACK flag is set, its acknowledgement number) is a
//! keyed SipHash of the target address, the target port and our source port.
//! A reply is accepted only if it acknowledges that number (SYN-ACK, or RST
//! to a segment without ACK) or echoes it as its own sequence number (RST to
//! a segment with ACK), or if an ICMP error quotes it. Forged replies without
//! the key fail. UDP carries no cookie (the reply's payload is the server's),
//! so a UDP reply must come from a scanned host and port to one of our source
//! ports, as in Nmap.
//!
//! The low bits of the source port carry the try number, so a reply says
//! which (re)transmission it answers: a late answer to a first try is not
//! mistaken for loss.

use portolan_model::{PortState, Protocol, Reason, ScanType};
use siphasher::sip::SipHasher13;
use std::hash::Hasher;
use std::net::IpAddr;

use portolan_wire::ping::IcmpProbe;
/// TCP header flag bits (the wire crate's).
pub use portolan_wire::probe::tcp_flags as flags;
use portolan_wire::probe::{TcpProbe, UdpProbe};

/// Source ports used per scan: `base ..= base + TRY_PORTS - 1`.
pub const TRY_PORTS: u16 = 16;

/// How replies to a TCP probe are read (Nmap's per-type rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpInterp {
    /// SYN-ACK open, RST closed, silence filtered.
    Syn,
    /// RST unfiltered, silence filtered.
    Ack,
    /// RST with a non-zero window open, with a zero window closed.
    Window,
    /// RST closed, silence open|filtered (FIN, NULL, Xmas, Maimon).
    Stealth,
}

/// A raw TCP scan: the flags sent and how replies are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpScan {
    pub flags: u8,
    pub interp: TcpInterp,
    pub scan_type: ScanType,
}

impl TcpScan {
    pub const SYN: TcpScan = TcpScan::new(flags::SYN, TcpInterp::Syn, ScanType::Syn);
    pub const ACK: TcpScan = TcpScan::new(flags::ACK, TcpInterp::Ack, ScanType::Ack);
    pub const WINDOW: TcpScan = TcpScan::new(flags::ACK, TcpInterp::Window, ScanType::Window);
    pub const MAIMON: TcpScan = TcpScan::new(
        flags::FIN | flags::ACK,
        TcpInterp::Stealth,
        ScanType::Maimon,
    );
    pub const FIN: TcpScan = TcpScan::new(flags::FIN, TcpInterp::Stealth, ScanType::Fin);
    pub const NULL: TcpScan = TcpScan::new(0, TcpInterp::Stealth, ScanType::Null);
    pub const XMAS: TcpScan = TcpScan::new(
        flags::FIN | flags::PSH | flags::URG,
        TcpInterp::Stealth,
        ScanType::Xmas,
    );

    pub const fn new(flags: u8, interp: TcpInterp, scan_type: ScanType) -> TcpScan {
        TcpScan {
            flags,
            interp,
            scan_type,
        }
    }

    /// `--scanflags`: custom flags read as `base` reads replies (SYN scan
    /// when no base type was given, as Nmap does).
    pub fn custom(flags: u8, base: TcpScan) -> TcpScan {
        TcpScan { flags, ..base }
    }
}

/// Settings of a raw-packet scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawConfig {
    /// TCP scan type, if TCP ports are scanned.
    pub tcp: Option<TcpScan>,
    /// Secret key of the probe cookies.
    pub key: (u64, u64),
    /// First of [`TRY_PORTS`] consecutive source ports.
    pub base_port: u16,
}

/// One raw probe for the driver to build and send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSpec {
    pub dst: IpAddr,
    pub kind: ProbeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Tcp(TcpProbe),
    Udp(UdpProbe<'static>),
    /// An ICMP echo, timestamp or address-mask request (host discovery).
    Icmp(IcmpProbe<'static>),
    /// Link-layer discovery of `dst` on its own segment: an ARP request
    /// (IPv4) or a neighbour solicitation (IPv6), sent on the interface
    /// `dst` is reached through, from that interface's address.
    Neighbor,
}

/// A reply reduced to what the engine needs, keyed by the scanned host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The scanned host (for an ICMP error: the quoted destination).
    pub host: IpAddr,
    pub protocol: Protocol,
    /// The scanned port.
    pub port: u16,
    /// Our source port the reply was addressed to (or quoted).
    pub our_port: u16,
    /// TTL or hop limit of the reply.
    pub ttl: u8,
    pub kind: AnswerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    Tcp {
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
    },
    Udp,
    /// An ICMP destination-unreachable error quoting our probe.
    Unreach {
        v6: bool,
        code: u8,
        quoted_seq: Option<u32>,
    },
}

/// The keyed cookie of a probe to `dst`:`dport` from `sport`.
pub fn cookie(key: (u64, u64), dst: IpAddr, dport: u16, sport: u16) -> u32 {
    let mut h = SipHasher13::new_with_keys(key.0, key.1);
    match dst {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
    h.write_u16(dport);
    h.write_u16(sport);
    h.finish() as u32
}

/// The acknowledgement number a probe with `tcp_flags` carries.
pub fn ack_for(tcp_flags: u8, cookie: u32) -> u32 {
    if tcp_flags & flags::ACK != 0 {
        cookie
    } else {
        0
    }
}

/// Whether a TCP reply or quoted segment proves it answers our probe.
pub fn valid(key: (u64, u64), a: &Answer) -> bool {
    let c = cookie(key, a.host, a.port, a.our_port);
    match a.kind {
        AnswerKind::Tcp {
            seq, ack, flags, ..
        } => {
            if flags & self::flags::ACK != 0 {
                // SYN and FIN each take one sequence number.
                ack.wrapping_sub(c) <= 2
            } else {
                seq == c
            }
        }
        AnswerKind::Unreach { quoted_seq, .. } => {
            a.protocol != Protocol::Tcp || quoted_seq == Some(c)
        }
        AnswerKind::Udp => true,
    }
}

/// What a validated answer says about the port, or `None` if the reply
/// means nothing for this scan type (e.g. a SYN-ACK to a FIN probe).
pub fn classify(tcp: Option<TcpScan>, a: &Answer) -> Option<(PortState, Reason)> {
    match a.kind {
        AnswerKind::Tcp { flags, window, .. } => classify_tcp(tcp?.interp, flags, window),
        AnswerKind::Udp => Some((PortState::Open, Reason::UdpResponse)),
        AnswerKind::Unreach { v6, code, .. } => classify_unreach(a.protocol, v6, code),
    }
}

fn classify_tcp(interp: TcpInterp, f: u8, window: u16) -> Option<(PortState, Reason)> {
    if f & flags::RST != 0 {
        let state = match interp {
            TcpInterp::Syn | TcpInterp::Stealth => PortState::Closed,
            TcpInterp::Ack => PortState::Unfiltered,
            TcpInterp::Window if window > 0 => PortState::Open,
            TcpInterp::Window => PortState::Closed,
        };
        return Some((state, Reason::Reset));
    }
    let syn_ack = flags::SYN | flags::ACK;
    (interp == TcpInterp::Syn && f & syn_ack == syn_ack)
        .then_some((PortState::Open, Reason::SynAck))
}

/// ICMP unreachable codes (RFC 792/1812, RFC 4443) to states and reasons.
fn classify_unreach(proto: Protocol, v6: bool, code: u8) -> Option<(PortState, Reason)> {
    let reason = if v6 {
        match code {
            0 => Reason::NetUnreach,
            1 | 5 | 6 => Reason::AdminProhibited,
            3 => Reason::HostUnreach,
            4 => Reason::PortUnreach,
            _ => return None,
        }
    } else {
        match code {
            0 => Reason::NetUnreach,
            1 => Reason::HostUnreach,
            2 => Reason::ProtoUnreach,
            3 => Reason::PortUnreach,
            9 | 10 | 13 => Reason::AdminProhibited,
            _ => return None,
        }
    };
    let state = if proto == Protocol::Udp && reason == Reason::PortUnreach {
        PortState::Closed
    } else {
        PortState::Filtered
    };
    Some((state, reason))
}

/// The state of a port whose every try went unanswered.
pub fn silent_state(tcp: Option<TcpScan>, proto: Protocol) -> PortState {
    match (proto, tcp.map(|t| t.interp)) {
        (Protocol::Udp, _) | (_, Some(TcpInterp::Stealth)) => PortState::OpenFiltered,
        _ => PortState::Filtered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const KEY: (u64, u64) = (7, 11);
    const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 11));

    fn tcp_answer(port: u16, our: u16, seq: u32, ack: u32, f: u8) -> Answer {
        Answer {
            host: HOST,
            protocol: Protocol::Tcp,
            port,
            our_port: our,
            ttl: 64,
            kind: AnswerKind::Tcp {
                seq,
                ack,
                flags: f,
                window: 0,
            },
        }
    }

    #[test]
    fn syn_ack_and_rst_acknowledge_the_cookie() {
        let c = cookie(KEY, HOST, 80, 40000);
        let syn_ack = tcp_answer(80, 40000, 5, c.wrapping_add(1), flags::SYN | flags::ACK);
        assert!(valid(KEY, &syn_ack));
        let rst = tcp_answer(80, 40000, 0, c, flags::RST | flags::ACK);
        assert!(valid(KEY, &rst), "RST to a NULL probe acknowledges seq + 0");
        let forged = tcp_answer(80, 40000, 5, c.wrapping_add(99), flags::SYN | flags::ACK);
        assert!(!valid(KEY, &forged));
        let other_port = tcp_answer(81, 40000, 5, c.wrapping_add(1), flags::SYN | flags::ACK);
        assert!(!valid(KEY, &other_port), "cookie is bound to the port");
    }

    #[test]
    fn rst_without_ack_echoes_our_ack_as_its_seq() {
        let c = cookie(KEY, HOST, 80, 40001);
        assert_eq!(ack_for(flags::ACK, c), c);
        assert_eq!(ack_for(flags::SYN, c), 0);
        assert!(valid(KEY, &tcp_answer(80, 40001, c, 0, flags::RST)));
        assert!(!valid(KEY, &tcp_answer(80, 40001, c ^ 1, 0, flags::RST)));
    }

    #[test]
    fn quoted_segments_must_carry_the_cookie() {
        let c = cookie(KEY, HOST, 25, 40000);
        let mut a = tcp_answer(25, 40000, 0, 0, 0);
        a.kind = AnswerKind::Unreach {
            v6: false,
            code: 13,
            quoted_seq: Some(c),
        };
        assert!(valid(KEY, &a));
        assert_eq!(
            classify(Some(TcpScan::SYN), &a),
            Some((PortState::Filtered, Reason::AdminProhibited))
        );
        a.kind = AnswerKind::Unreach {
            v6: false,
            code: 13,
            quoted_seq: Some(c ^ 4),
        };
        assert!(!valid(KEY, &a));
    }

    #[test]
    fn each_scan_type_reads_a_reset_its_own_way() {
        let rst = |window| AnswerKind::Tcp {
            seq: 0,
            ack: 0,
            flags: flags::RST,
            window,
        };
        let mut a = tcp_answer(1, 1, 0, 0, 0);
        a.kind = rst(0);
        let state = |t: TcpScan, a: &Answer| classify(Some(t), a).map(|s| s.0);
        assert_eq!(state(TcpScan::SYN, &a), Some(PortState::Closed));
        assert_eq!(state(TcpScan::ACK, &a), Some(PortState::Unfiltered));
        assert_eq!(state(TcpScan::WINDOW, &a), Some(PortState::Closed));
        assert_eq!(state(TcpScan::FIN, &a), Some(PortState::Closed));
        a.kind = rst(512);
        assert_eq!(state(TcpScan::WINDOW, &a), Some(PortState::Open));
        a.kind = AnswerKind::Tcp {
            seq: 0,
            ack: 0,
            flags: flags::SYN | flags::ACK,
            window: 0,
        };
        assert_eq!(state(TcpScan::SYN, &a), Some(PortState::Open));
        assert_eq!(state(TcpScan::FIN, &a), None, "meaningless for FIN");
    }

    #[test]
    fn udp_states() {
        let mut a = tcp_answer(53, 1, 0, 0, 0);
        a.protocol = Protocol::Udp;
        a.kind = AnswerKind::Udp;
        assert_eq!(
            classify(None, &a),
            Some((PortState::Open, Reason::UdpResponse))
        );
        a.kind = AnswerKind::Unreach {
            v6: false,
            code: 3,
            quoted_seq: None,
        };
        assert_eq!(
            classify(None, &a),
            Some((PortState::Closed, Reason::PortUnreach))
        );
        a.kind = AnswerKind::Unreach {
            v6: true,
            code: 4,
            quoted_seq: None,
        };
        assert_eq!(
            classify(None, &a),
            Some((PortState::Closed, Reason::PortUnreach))
        );
        a.kind = AnswerKind::Unreach {
            v6: true,
            code: 1,
            quoted_seq: None,
        };
        assert_eq!(
            classify(None, &a),
            Some((PortState::Filtered, Reason::AdminProhibited))
        );
        assert_eq!(silent_state(None, Protocol::Udp), PortState::OpenFiltered);
        assert_eq!(
            silent_state(Some(TcpScan::XMAS), Protocol::Tcp),
            PortState::OpenFiltered
        );
        assert_eq!(
            silent_state(Some(TcpScan::SYN), Protocol::Tcp),
            PortState::Filtered
        );
    }
}
