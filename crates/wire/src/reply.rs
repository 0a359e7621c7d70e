//! Parsing what comes back: the fields a scanner needs from one received
//! IPv4 or IPv6 packet, read in place from the input slice.
//!
//! Guarantees: no input makes [`parse_ip`] or [`parse_frame`] panic or
//! allocate. Every length and offset read from the packet is checked
//! against the bytes actually present before use; what does not fit is a
//! [`ParseError`], which the caller counts and drops.
//!
//! The outer packet is parsed exactly: its IPv4 total length or IPv6
//! payload length must fit in the input, and bytes past it (Ethernet
//! padding) are ignored. A packet quoted inside an ICMP error is parsed
//! laxly: routers quote only the IP header and the first 8 transport bytes
//! (RFC 792; RFC 4443 asks for more), so its length fields may claim more
//! than is there, and that is not an error. Its length fields are not used
//! at all; its header (IPv4 options, IPv6 extension headers) must be whole.
//!
//! Checksums are not verified. The scanner reports what the target's stack
//! sent, and a reply damaged on the way still has to carry the probe's
//! identity (its keyed sequence number or port), which the engine checks:
//! corruption that matters fails that check anyway, and re-summing every
//! reply would cost time on the hot path for nothing.
//!
//! Written by hand rather than on top of a general packet parser because a
//! scanner needs two things such parsers treat differently: the transport
//! header of a *first* fragment is read (it is there), and an IPv6 non-first
//! fragment is recognised before the fragment data is mistaken for headers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ether::{strip_link, LinkType, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::probe::field;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers"),
/// including the IPv6 extension headers the parser walks.
pub mod ipproto {
    pub const HOPOPT: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_ROUTE: u8 = 43;
    pub const IPV6_FRAG: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const IPV6_NONXT: u8 = 59;
    pub const IPV6_OPTS: u8 = 60;
}

/// One received packet, as far as a scanner cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub body: ReplyBody,
}

/// The transport layer of a [`Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyBody {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        /// Bits from [`crate::probe::tcp_flags`].
        flags: u8,
        window: u16,
    },
    Udp {
        sport: u16,
        dport: u16,
        /// The UDP length field's payload size if the packet holds that
        /// much, else the payload bytes present.
        payload_len: usize,
    },
    /// An ICMP or ICMPv6 error quoting one of our packets.
    IcmpError {
        v6: bool,
        icmp_type: u8,
        code: u8,
        quoted: Quoted,
    },
    /// Any other ICMP/ICMPv6 message (echo reply, timestamp reply, NDP, ...).
    Icmp {
        v6: bool,
        icmp_type: u8,
        code: u8,
        /// Bytes 4..6 of the message: the identifier of a query reply (echo,
        /// timestamp, address mask), which copies it from the request; 0 if
        /// the message is too short to hold it.
        ident: u16,
        /// Bytes 6..8: the sequence number of a query reply; 0 if absent.
        seq: u16,
    },
    /// Other protocols or non-first fragments.
    Other,
}

/// The packet an ICMP error quotes: enough to tell which probe it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// The first two 16-bit words of the transport header: the ports for
    /// TCP, UDP, SCTP and the like. For a quoted ICMP/ICMPv6 message,
    /// `sport` is its identifier and `dport` its sequence number (bytes
    /// 4..8), the fields that identify an echo probe.
    pub sport: u16,
    pub dport: u16,
    /// TCP sequence number of the quoted segment if it was TCP (RFC 792
    /// guarantees 8 bytes of the transport header, which includes it).
    pub tcp_seq: Option<u32>,
}

/// Why a packet was not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("packet truncated: a header or length field reaches past the data")]
    Truncated,
    #[error("IP version is not 4 or 6, or disagrees with the link header")]
    BadVersion,
    #[error("IPv4 IHL or TCP data offset smaller than the fixed header")]
    BadHeaderLength,
    #[error("IPv4 total length smaller than the header")]
    BadTotalLength,
    #[error("ICMP error quotes a non-first fragment: no transport header to match")]
    Fragment,
    #[error("link header too short or raw frame of unknown family")]
    BadLinkHeader,
    #[error("not an IP packet (EtherType {ethertype:#06x})")]
    NotIp { ethertype: u16 },
}

use ParseError::Truncated;

/// Parses one packet that starts with its IPv4 or IPv6 header.
pub fn parse_ip(packet: &[u8]) -> Result<Reply, ParseError> {
    let net = network_layer(packet, Lengths::Exact)?;
    let body = if net.later_fragment {
        ReplyBody::Other
    } else {
        transport(&net)?
    };
    Ok(Reply {
        src: net.src,
        dst: net.dst,
        ttl: net.ttl,
        body,
    })
}

/// Strips the link header, then [`parse_ip`]. The IP version must agree
/// with the EtherType; ARP and other EtherTypes are [`ParseError::NotIp`].
pub fn parse_frame(frame: &[u8], link: LinkType) -> Result<Reply, ParseError> {
    let (ethertype, packet) = strip_link(frame, link).ok_or(ParseError::BadLinkHeader)?;
    let v6 = match ethertype {
        ETHERTYPE_IPV4 => false,
        ETHERTYPE_IPV6 => true,
        ethertype => return Err(ParseError::NotIp { ethertype }),
    };
    let reply = parse_ip(packet)?;
    if reply.src.is_ipv6() != v6 {
        return Err(ParseError::BadVersion);
    }
    Ok(reply)
}

/// The IPv4 identification field of the packet an ICMPv4 error quotes.
///
/// [`Quoted`] leaves it out; a traceroute keys it to tell its UDP probes
/// apart, whose first 8 bytes carry nothing else of ours. `None` when
/// `packet` (starting at its IP header) is not a well-formed ICMPv4 error
/// quoting an IPv4 header: IPv6 headers have no identification. Never panics.
pub fn quoted_ipv4_id(packet: &[u8]) -> Option<u16> {
    let net = network_layer(packet, Lengths::Exact).ok()?;
    if net.later_fragment || net.src.is_ipv6() || net.protocol != ipproto::ICMP {
        return None;
    }
    let icmp_type = *net.payload.first()?;
    if !is_icmp_error(icmp_type, false) {
        return None;
    }
    let quote = net.payload.get(ICMP_ERROR_QUOTE..)?;
    let header = quote.get(..field::ipv4::HEADER_LEN)?;
    (header[field::ipv4::VER_IHL] >> 4 == 4).then(|| read16(header, field::ipv4::IDENT))
}

/// How to treat IP length fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lengths {
    /// The claimed length must be present; bytes past it are padding.
    Exact,
    /// Ignore the claim and use what is present. For quotes: some stacks
    /// have sent the quoted length mangled (byte-swapped, header added), and
    /// only the first transport bytes are read, so nothing is gained by
    /// trusting it.
    Lax,
}

/// The network layer of a packet, extension headers skipped.
#[derive(Debug)]
struct Net<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    protocol: u8,
    /// The upper-layer bytes (after the IP length fields were applied).
    payload: &'a [u8],
    /// A non-first fragment: `payload` is not a transport header.
    later_fragment: bool,
}

fn network_layer(packet: &[u8], lengths: Lengths) -> Result<Net<'_>, ParseError> {
    match packet.first().ok_or(Truncated)? >> 4 {
        4 => ipv4(packet, lengths),
        6 => ipv6(packet, lengths),
        _ => Err(ParseError::BadVersion),
    }
}

fn ipv4(packet: &[u8], lengths: Lengths) -> Result<Net<'_>, ParseError> {
    use field::ipv4::*;
    let header = packet.get(..HEADER_LEN).ok_or(Truncated)?;
    let header_len = usize::from(header[VER_IHL] & 0x0f) * 4;
    if header_len < HEADER_LEN {
        return Err(ParseError::BadHeaderLength);
    }
    let claimed = usize::from(read16(header, TOTAL_LEN));
    let end = packet_end(packet.len(), header_len, claimed, lengths)?;
    Ok(Net {
        src: IpAddr::V4(Ipv4Addr::from(read32(header, SRC))),
        dst: IpAddr::V4(Ipv4Addr::from(read32(header, DST))),
        ttl: header[TTL],
        protocol: header[PROTOCOL],
        payload: packet.get(header_len..end).ok_or(Truncated)?,
        later_fragment: read16(header, FLAGS_FRAG) & 0x1fff != 0,
    })
}

fn ipv6(packet: &[u8], lengths: Lengths) -> Result<Net<'_>, ParseError> {
    use field::ipv6::*;
    let header = packet.get(..HEADER_LEN).ok_or(Truncated)?;
    let claimed = HEADER_LEN + usize::from(read16(header, PAYLOAD_LEN));
    let end = packet_end(packet.len(), HEADER_LEN, claimed, lengths)?;
    let rest = packet.get(HEADER_LEN..end).ok_or(Truncated)?;
    let upper = skip_extensions(header[NEXT_HEADER], rest)?;
    Ok(Net {
        src: IpAddr::V6(Ipv6Addr::from(read128(&header[SRC]))),
        dst: IpAddr::V6(Ipv6Addr::from(read128(&header[DST]))),
        ttl: header[HOP_LIMIT],
        protocol: upper.protocol,
        payload: upper.bytes,
        later_fragment: upper.later_fragment,
    })
}

/// Where the packet ends, from its claimed length (header included).
fn packet_end(
    available: usize,
    header_len: usize,
    claimed: usize,
    lengths: Lengths,
) -> Result<usize, ParseError> {
    match lengths {
        Lengths::Lax => Ok(available),
        Lengths::Exact if claimed < header_len => Err(ParseError::BadTotalLength),
        Lengths::Exact if claimed > available => Err(Truncated),
        Lengths::Exact => Ok(claimed),
    }
}

/// What follows the IPv6 extension headers.
#[derive(Debug)]
struct Upper<'a> {
    protocol: u8,
    bytes: &'a [u8],
    later_fragment: bool,
}

/// Walks hop-by-hop, routing, destination options, fragment and AH headers
/// (RFC 8200 section 4, RFC 4302) up to the first other next-header value.
/// Each header is at least 8 bytes, so the walk ends within `rest.len() / 8` steps.
fn skip_extensions(mut next: u8, mut rest: &[u8]) -> Result<Upper<'_>, ParseError> {
    loop {
        if next == ipproto::IPV6_FRAG && is_later_fragment(rest)? {
            let bytes = rest.get(8..).ok_or(Truncated)?;
            return Ok(Upper {
                protocol: rest[0],
                bytes,
                later_fragment: true,
            });
        }
        let Some(len) = extension_len(next, rest)? else {
            return Ok(Upper {
                protocol: next,
                bytes: rest,
                later_fragment: false,
            });
        };
        next = rest[0];
        rest = rest.get(len..).ok_or(Truncated)?;
    }
}

/// Length of the extension header `next` at the start of `rest`, or `None`
/// if `next` is not an extension header. `Some` implies `rest` has 2+ bytes.
fn extension_len(next: u8, rest: &[u8]) -> Result<Option<usize>, ParseError> {
    use ipproto::*;
    let units = |unit: usize, extra: usize| -> Result<Option<usize>, ParseError> {
        let hdr_ext_len = usize::from(*rest.get(1).ok_or(Truncated)?);
        Ok(Some((hdr_ext_len + extra) * unit))
    };
    match next {
        HOPOPT | IPV6_ROUTE | IPV6_OPTS => units(8, 1),
        IPV6_FRAG => rest.get(..8).map(|_| Some(8)).ok_or(Truncated),
        AH => units(4, 2),
        _ => Ok(None),
    }
}

/// Whether the fragment header at the start of `rest` has a nonzero offset.
fn is_later_fragment(rest: &[u8]) -> Result<bool, ParseError> {
    let header = rest.get(..8).ok_or(Truncated)?;
    Ok(read16(header, 2..4) & 0xfff8 != 0)
}

fn transport(net: &Net<'_>) -> Result<ReplyBody, ParseError> {
    let v6 = net.src.is_ipv6();
    match net.protocol {
        ipproto::TCP => tcp(net.payload),
        ipproto::UDP => udp(net.payload),
        ipproto::ICMP if !v6 => icmp(net.payload, false),
        ipproto::ICMPV6 if v6 => icmp(net.payload, true),
        _ => Ok(ReplyBody::Other),
    }
}

/// The TCP header; the data offset is checked against the data but options are not read.
fn tcp(segment: &[u8]) -> Result<ReplyBody, ParseError> {
    use field::tcp::*;
    let h = segment.get(..HEADER_LEN).ok_or(Truncated)?;
    let data_offset = usize::from(h[DATA_OFFSET] >> 4) * 4;
    if data_offset < HEADER_LEN {
        return Err(ParseError::BadHeaderLength);
    }
    if data_offset > segment.len() {
        return Err(Truncated);
    }
    Ok(ReplyBody::Tcp {
        sport: read16(h, SRC_PORT),
        dport: read16(h, DST_PORT),
        seq: read32(h, SEQ),
        ack: read32(h, ACK),
        flags: h[FLAGS],
        window: read16(h, WINDOW),
    })
}

fn udp(datagram: &[u8]) -> Result<ReplyBody, ParseError> {
    use field::udp::*;
    let h = datagram.get(..HEADER_LEN).ok_or(Truncated)?;
    let present = datagram.len() - HEADER_LEN;
    let claimed = usize::from(read16(h, LENGTH)).checked_sub(HEADER_LEN);
    Ok(ReplyBody::Udp {
        sport: read16(h, SRC_PORT),
        dport: read16(h, DST_PORT),
        payload_len: claimed.filter(|&c| c <= present).unwrap_or(present),
    })
}

/// Offset of the quoted packet in an ICMP or ICMPv6 error: type, code,
/// checksum, then 4 bytes (unused, pointer, MTU or RFC 4884 length).
const ICMP_ERROR_QUOTE: usize = 8;

fn icmp(message: &[u8], v6: bool) -> Result<ReplyBody, ParseError> {
    use field::icmp::{CODE, IDENT, SEQ, TYPE};
    let h = message.get(..4).ok_or(Truncated)?;
    let (icmp_type, code) = (h[TYPE], h[CODE]);
    if !is_icmp_error(icmp_type, v6) {
        let word = |at: core::ops::Range<usize>| message.get(at).map_or(0, |w| read16(w, 0..2));
        return Ok(ReplyBody::Icmp {
            v6,
            icmp_type,
            code,
            ident: word(IDENT),
            seq: word(SEQ),
        });
    }
    let quote = message.get(ICMP_ERROR_QUOTE..).ok_or(Truncated)?;
    let quoted = parse_quoted(quote)?;
    Ok(ReplyBody::IcmpError {
        v6,
        icmp_type,
        code,
        quoted,
    })
}

/// ICMP error types, which quote the packet that caused them: RFC 792
/// (unreachable 3, source quench 4, redirect 5, time exceeded 11, parameter
/// problem 12) and RFC 4443 (unreachable 1, too big 2, time exceeded 3,
/// parameter problem 4).
fn is_icmp_error(icmp_type: u8, v6: bool) -> bool {
    if v6 {
        (1..=4).contains(&icmp_type)
    } else {
        matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
    }
}

fn parse_quoted(quote: &[u8]) -> Result<Quoted, ParseError> {
    let net = network_layer(quote, Lengths::Lax)?;
    if net.later_fragment {
        return Err(ParseError::Fragment);
    }
    let (sport, dport) = quoted_ids(net.protocol, net.payload)?;
    let tcp_seq = match net.payload.get(field::tcp::SEQ) {
        Some(seq) if net.protocol == ipproto::TCP => Some(read32(seq, 0..4)),
        _ => None,
    };
    Ok(Quoted {
        src: net.src,
        dst: net.dst,
        protocol: net.protocol,
        sport,
        dport,
        tcp_seq,
    })
}

/// The two words that identify a quoted probe (see [`Quoted::sport`]).
fn quoted_ids(protocol: u8, transport: &[u8]) -> Result<(u16, u16), ParseError> {
    let at = match protocol {
        ipproto::ICMP | ipproto::ICMPV6 => field::icmp::IDENT.start,
        _ => 0,
    };
    let ids = transport.get(at..at + 4).ok_or(Truncated)?;
    Ok((read16(ids, 0..2), read16(ids, 2..4)))
}

/// Reads a big-endian u16 at `at`; callers pass a slice already checked to hold it.
fn read16(buf: &[u8], at: core::ops::Range<usize>) -> u16 {
    u16::from_be_bytes([buf[at.start], buf[at.start + 1]])
}

/// Reads a big-endian u32 at `at`; callers pass a slice already checked to hold it.
fn read32(buf: &[u8], at: core::ops::Range<usize>) -> u32 {
    let b = &buf[at.start..at.start + 4];
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn read128(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum;
    use crate::ether::{write_eth_header, ETHERTYPE_ARP, ETHERTYPE_VLAN};
    use crate::icmp::{Unreach4, Unreach6, UnreachKind};
    use crate::probe::{emit_tcp, emit_udp, tcp_flags, IpParams, TcpProbe, UdpProbe};

    const US4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const TARGET4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const ROUTER4: Ipv4Addr = Ipv4Addr::new(198, 19, 255, 254);
    const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const TARGET6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);

    fn syn() -> TcpProbe {
        TcpProbe {
            sport: 40000,
            dport: 443,
            seq: 0xdead_beef,
            ack: 0,
            flags: tcp_flags::SYN,
            window: 1024,
            mss: true,
        }
    }

    fn params(src: IpAddr, dst: IpAddr) -> IpParams {
        IpParams {
            src,
            dst,
            ttl: 64,
            ip_id: 0x0101,
        }
    }

    fn tcp_probe(src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let mut buf = [0u8; 128];
        let len = emit_tcp(&mut buf, &params(src, dst), &syn()).unwrap();
        buf[..len].to_vec()
    }

    fn udp_probe(src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
        let mut buf = [0u8; 256];
        let udp = UdpProbe {
            sport: 50000,
            dport: 53,
            payload,
        };
        let len = emit_udp(&mut buf, &params(src, dst), &udp).unwrap();
        buf[..len].to_vec()
    }

    /// An IPv4 packet assembled field by field (RFC 791), header checksum set.
    fn ipv4_packet(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        frag: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut p = vec![0x45, 0x00]; // version 4, IHL 5; DSCP/ECN 0
        p.extend(total.to_be_bytes()); // total length
        p.extend([0x00, 0x07]); // identification
        p.extend(frag.to_be_bytes()); // flags and fragment offset
        p.extend([57, protocol, 0, 0]); // TTL 57, protocol, checksum (below)
        p.extend(src.octets());
        p.extend(dst.octets());
        let check = checksum::checksum(&p);
        p[10..12].copy_from_slice(&check.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    /// An IPv6 packet (RFC 8200): `next` names the first header of `payload`.
    fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0]; // version 6, traffic class and flow label 0
        p.extend((payload.len() as u16).to_be_bytes()); // payload length
        p.extend([next, 55]); // next header, hop limit 55
        p.extend(src.octets());
        p.extend(dst.octets());
        p.extend_from_slice(payload);
        p
    }

    /// An ICMP/ICMPv6 error: type, code, checksum (not checked), 4 unused bytes, quote.
    fn icmp_error(icmp_type: u8, code: u8, quote: &[u8]) -> Vec<u8> {
        let mut m = vec![icmp_type, code, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(quote);
        m
    }

    fn quoted_of(reply: Reply) -> Quoted {
        match reply.body {
            ReplyBody::IcmpError { quoted, .. } => quoted,
            other => panic!("expected an ICMP error, got {other:?}"),
        }
    }

    #[test]
    fn tcp_round_trip_both_families() {
        for (src, dst) in [(US4.into(), TARGET4.into()), (US6.into(), TARGET6.into())] {
            let reply = parse_ip(&tcp_probe(src, dst)).unwrap();
            assert_eq!((reply.src, reply.dst, reply.ttl), (src, dst, 64));
            let expected = ReplyBody::Tcp {
                sport: 40000,
                dport: 443,
                seq: 0xdead_beef,
                ack: 0,
                flags: tcp_flags::SYN,
                window: 1024,
            };
            assert_eq!(reply.body, expected);
        }
    }

    #[test]
    fn udp_round_trip_both_families() {
        for (src, dst) in [(US4.into(), TARGET4.into()), (US6.into(), TARGET6.into())] {
            let reply = parse_ip(&udp_probe(src, dst, b"hello")).unwrap();
            let expected = ReplyBody::Udp {
                sport: 50000,
                dport: 53,
                payload_len: 5,
            };
            assert_eq!((reply.src, reply.dst, reply.body), (src, dst, expected));
        }
    }

    #[test]
    fn icmp4_port_unreachable_quotes_udp_probe() {
        let probe = udp_probe(US4.into(), TARGET4.into(), &[0xab; 40]);
        // The router quotes the IP header and 8 bytes; the quoted total length still says 68.
        let packet = ipv4_packet(TARGET4, US4, 1, 0, &icmp_error(3, 3, &probe[..28]));
        let reply = parse_ip(&packet).unwrap();
        assert_eq!(reply.src, IpAddr::V4(TARGET4));
        let ReplyBody::IcmpError {
            v6: false,
            icmp_type: 3,
            code,
            quoted,
        } = reply.body
        else {
            panic!("not an ICMPv4 unreachable: {:?}", reply.body);
        };
        assert_eq!(Unreach4::from(code).kind(), UnreachKind::Port);
        let expected = Quoted {
            src: US4.into(),
            dst: TARGET4.into(),
            protocol: ipproto::UDP,
            sport: 50000,
            dport: 53,
            tcp_seq: None,
        };
        assert_eq!(quoted, expected);
    }

    #[test]
    fn icmp4_admin_prohibited_quotes_tcp_probe() {
        let probe = tcp_probe(US4.into(), TARGET4.into());
        let packet = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(3, 13, &probe[..28]));
        let reply = parse_ip(&packet).unwrap();
        let ReplyBody::IcmpError { code: 13, .. } = reply.body else {
            panic!("wrong body {:?}", reply.body);
        };
        assert_eq!(Unreach4::from(13).kind(), UnreachKind::AdminProhibited);
        let q = quoted_of(reply);
        assert_eq!(
            (q.dst, q.protocol, q.sport, q.dport),
            (TARGET4.into(), 6, 40000, 443)
        );
        assert_eq!(q.tcp_seq, Some(0xdead_beef));
    }

    #[test]
    fn icmp6_port_unreachable_quotes_whole_udp_probe() {
        let probe = udp_probe(US6.into(), TARGET6.into(), b"x");
        let packet = ipv6_packet(TARGET6, US6, 58, &icmp_error(1, 4, &probe));
        let reply = parse_ip(&packet).unwrap();
        let ReplyBody::IcmpError {
            v6: true,
            icmp_type: 1,
            code: 4,
            quoted,
        } = reply.body
        else {
            panic!("not an ICMPv6 port unreachable: {:?}", reply.body);
        };
        assert_eq!(Unreach6::from(4).kind(), UnreachKind::Port);
        assert_eq!((quoted.src, quoted.dst), (US6.into(), TARGET6.into()));
        assert_eq!(
            (quoted.protocol, quoted.sport, quoted.dport),
            (17, 50000, 53)
        );
    }

    #[test]
    fn icmp6_admin_prohibited_quotes_truncated_tcp_probe() {
        let probe = tcp_probe(US6.into(), TARGET6.into());
        let packet = ipv6_packet(ROUTER6, US6, 58, &icmp_error(1, 1, &probe[..48]));
        let q = quoted_of(parse_ip(&packet).unwrap());
        assert_eq!(
            (q.dst, q.sport, q.dport, q.tcp_seq),
            (TARGET6.into(), 40000, 443, Some(0xdead_beef))
        );
    }

    #[test]
    fn quote_with_fewer_than_8_transport_bytes() {
        let probe = tcp_probe(US4.into(), TARGET4.into());
        let short = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(11, 0, &probe[..26]));
        let q = quoted_of(parse_ip(&short).unwrap());
        assert_eq!((q.sport, q.dport, q.tcp_seq), (40000, 443, None));
        let shorter = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(11, 0, &probe[..23]));
        assert_eq!(parse_ip(&shorter), Err(ParseError::Truncated));
    }

    #[test]
    fn quoted_length_fields_are_ignored() {
        // Some stacks have quoted ip_len byte-swapped or shortened; the ports are still there.
        for claimed in [20u16, 0x2c00, 0, 0xffff] {
            let mut probe = tcp_probe(US4.into(), TARGET4.into());
            probe[2..4].copy_from_slice(&claimed.to_be_bytes());
            let packet = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(3, 3, &probe[..28]));
            let q = quoted_of(parse_ip(&packet).unwrap());
            assert_eq!(
                (q.sport, q.tcp_seq),
                (40000, Some(0xdead_beef)),
                "ip_len {claimed:#x}"
            );
        }
        let mut probe6 = tcp_probe(US6.into(), TARGET6.into());
        probe6[4..6].copy_from_slice(&[0, 0]); // payload length 0
        let packet = ipv6_packet(ROUTER6, US6, 58, &icmp_error(3, 0, &probe6[..48]));
        assert_eq!(quoted_of(parse_ip(&packet).unwrap()).dport, 443);
    }

    #[test]
    fn quoted_ipv4_id_reads_the_quoted_header_not_the_outer_one() {
        let probe = udp_probe(US4.into(), TARGET4.into(), b"x");
        let exceeded = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(11, 0, &probe[..28]));
        assert_eq!(
            quoted_ipv4_id(&exceeded),
            Some(0x0101),
            "not the outer 0x0007"
        );
        let unreachable = ipv4_packet(TARGET4, US4, 1, 0, &icmp_error(3, 3, &probe));
        assert_eq!(quoted_ipv4_id(&unreachable), Some(0x0101));
        for len in 0..exceeded.len() {
            assert_eq!(quoted_ipv4_id(&exceeded[..len]), None, "length {len}");
        }
        let short_quote = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(11, 0, &probe[..19]));
        assert_eq!(quoted_ipv4_id(&short_quote), None);
        let echo_reply = ipv4_packet(TARGET4, US4, 1, 0, &[0, 0, 0, 0, 0, 1, 0, 1]);
        assert_eq!(quoted_ipv4_id(&echo_reply), None);
        let probe6 = udp_probe(US6.into(), TARGET6.into(), b"");
        let exceeded6 = ipv6_packet(ROUTER6, US6, 58, &icmp_error(3, 0, &probe6));
        assert_eq!(quoted_ipv4_id(&exceeded6), None);
        assert_eq!(quoted_ipv4_id(&probe), None, "a UDP packet quotes nothing");
    }

    #[test]
    fn quoted_echo_request_gives_identifier_and_sequence() {
        // Echo request: type 8, code 0, checksum, identifier 0x1234, sequence 7.
        let echo = [8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07];
        let probe = ipv4_packet(US4, TARGET4, 1, 0, &echo);
        let packet = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(11, 0, &probe));
        let q = quoted_of(parse_ip(&packet).unwrap());
        assert_eq!(
            (q.protocol, q.sport, q.dport, q.tcp_seq),
            (1, 0x1234, 7, None)
        );
    }

    #[test]
    fn quoted_later_fragment_is_rejected() {
        let probe = ipv4_packet(US4, TARGET4, 6, 0x0010, &[0; 8]);
        let packet = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(3, 1, &probe));
        assert_eq!(parse_ip(&packet), Err(ParseError::Fragment));
    }

    #[test]
    fn informational_icmp() {
        let echo_reply = ipv4_packet(TARGET4, US4, 1, 0, &[0, 0, 0, 0, 0, 1, 0, 1]);
        let body = ReplyBody::Icmp {
            v6: false,
            icmp_type: 0,
            code: 0,
            ident: 1,
            seq: 1,
        };
        assert_eq!(parse_ip(&echo_reply).unwrap().body, body);
        let neighbor_advert = ipv6_packet(TARGET6, US6, 58, &[136, 0, 0, 0, 0x60, 0, 0, 0]);
        let body = ReplyBody::Icmp {
            v6: true,
            icmp_type: 136,
            code: 0,
            ident: 0x6000, // NDP flags: bytes 4..8 are read whatever they mean
            seq: 0,
        };
        assert_eq!(parse_ip(&neighbor_advert).unwrap().body, body);
        // ICMPv4's protocol number means nothing inside IPv6.
        let odd = ipv6_packet(TARGET6, US6, 1, &[3, 3, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_ip(&odd).unwrap().body, ReplyBody::Other);
    }

    /// An ICMP query reply as a target sends it: type, code 0, checksum,
    /// identifier, sequence number, then `rest` (data, timestamps or mask).
    fn query_reply(icmp_type: u8, ident: u16, seq: u16, rest: &[u8]) -> Vec<u8> {
        let mut m = vec![icmp_type, 0, 0, 0];
        m.extend(ident.to_be_bytes());
        m.extend(seq.to_be_bytes());
        m.extend_from_slice(rest);
        let check = checksum::checksum(&m);
        m[2..4].copy_from_slice(&check.to_be_bytes());
        m
    }

    #[test]
    fn query_replies_carry_identifier_and_sequence() {
        let timestamps = [0, 0, 0, 0, 0x03, 0x21, 0x4e, 0x10, 0x03, 0x21, 0x4e, 0x11];
        let mask = [255, 255, 254, 0];
        let cases: [(u8, &[u8]); 3] = [(0, b"ping data"), (14, &timestamps), (18, &mask)];
        for (i, (icmp_type, rest)) in cases.into_iter().enumerate() {
            let (ident, seq) = (0xa5a5 ^ i as u16, 0x0100 + i as u16);
            let message = query_reply(icmp_type, ident, seq, rest);
            let reply = parse_ip(&ipv4_packet(TARGET4, US4, 1, 0, &message)).unwrap();
            let body = ReplyBody::Icmp {
                v6: false,
                icmp_type,
                code: 0,
                ident,
                seq,
            };
            assert_eq!((reply.src, reply.body), (TARGET4.into(), body));
        }
        let echo6 = query_reply(129, 0xfeed, 0xffff, &[1, 2, 3]);
        let reply = parse_ip(&ipv6_packet(TARGET6, US6, 58, &echo6)).unwrap();
        let body = ReplyBody::Icmp {
            v6: true,
            icmp_type: 129,
            code: 0,
            ident: 0xfeed,
            seq: 0xffff,
        };
        assert_eq!(reply.body, body);
    }

    #[test]
    fn short_query_replies_read_zero_for_missing_words() {
        let full = query_reply(0, 0x1234, 0x5678, b"");
        let expect = |ident, seq| ReplyBody::Icmp {
            v6: false,
            icmp_type: 0,
            code: 0,
            ident,
            seq,
        };
        let cases = [(4, expect(0, 0)), (5, expect(0, 0)), (6, expect(0x1234, 0))];
        for (len, body) in cases {
            let packet = ipv4_packet(TARGET4, US4, 1, 0, &full[..len]);
            assert_eq!(parse_ip(&packet).unwrap().body, body, "length {len}");
        }
        for len in 0..4 {
            let packet = ipv4_packet(TARGET4, US4, 1, 0, &full[..len]);
            assert_eq!(
                parse_ip(&packet),
                Err(ParseError::Truncated),
                "length {len}"
            );
        }
    }

    #[test]
    fn ipv6_hop_by_hop_and_first_fragment_before_tcp() {
        let tcp = tcp_probe(TARGET6.into(), US6.into());
        let mut payload = vec![
            44, 0, // hop-by-hop: next header fragment, length 0 (8 bytes)
            1, 4, 0, 0, 0, 0, // PadN option filling the header
            6, 0, // fragment: next header TCP, reserved
            0x00, 0x01, // offset 0, M flag set: the first fragment
            0, 0, 0, 42, // identification
        ];
        payload.extend_from_slice(&tcp[40..]);
        let reply = parse_ip(&ipv6_packet(TARGET6, US6, 0, &payload)).unwrap();
        assert_eq!(reply.ttl, 55);
        let ReplyBody::Tcp {
            sport: 40000,
            dport: 443,
            seq: 0xdead_beef,
            ..
        } = reply.body
        else {
            panic!("TCP after extension headers not found: {:?}", reply.body);
        };
    }

    #[test]
    fn ipv6_later_fragment_is_other() {
        let payload = [
            6, 0, // fragment: next header TCP
            0x05, 0xc8, // offset 185 (1480 bytes), M clear
            0, 0, 0, 42, // identification
            60, 0xff, 1,
            2, // fragment data that would read as a long destination-options header
        ];
        let reply = parse_ip(&ipv6_packet(TARGET6, US6, 44, &payload)).unwrap();
        assert_eq!(reply.body, ReplyBody::Other);
    }

    #[test]
    fn ipv6_other_extension_headers_and_no_next_header() {
        let mut payload = vec![
            60, 0, 1, 4, 0, 0, 0,
            0, // routing header (type 0 layout): next dest opts, 8 bytes
            51, 0, 1, 4, 0, 0, 0, 0, // destination options: next AH, 8 bytes
            59, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, // AH, length 1: (1 + 2) * 4 = 12 bytes; next: none
        ];
        let reply = parse_ip(&ipv6_packet(TARGET6, US6, 43, &payload)).unwrap();
        assert_eq!(reply.body, ReplyBody::Other);
        payload.truncate(20); // the AH header now claims more than is there
        assert_eq!(
            parse_ip(&ipv6_packet(TARGET6, US6, 43, &payload)),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn ipv4_non_first_fragment_is_other() {
        let packet = ipv4_packet(TARGET4, US4, 6, 0x00b9, &[1, 2, 3]); // offset 185, too short for TCP
        assert_eq!(parse_ip(&packet).unwrap().body, ReplyBody::Other);
        let tcp = tcp_probe(TARGET4.into(), US4.into());
        let first = ipv4_packet(TARGET4, US4, 6, 0x2000, &tcp[20..]); // MF set, offset 0
        assert!(matches!(
            parse_ip(&first).unwrap().body,
            ReplyBody::Tcp { sport: 40000, .. }
        ));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let probe = tcp_probe(US4.into(), TARGET4.into());
        let error4 = ipv4_packet(ROUTER4, US4, 1, 0, &icmp_error(3, 3, &probe[..28]));
        let error6 = ipv6_packet(
            ROUTER6,
            US6,
            58,
            &icmp_error(1, 4, &udp_probe(US6.into(), TARGET6.into(), b"")),
        );
        for packet in [probe, tcp_probe(US6.into(), TARGET6.into()), error4, error6] {
            assert!(parse_ip(&packet).is_ok());
            for len in 0..packet.len() {
                assert_eq!(
                    parse_ip(&packet[..len]),
                    Err(ParseError::Truncated),
                    "length {len}"
                );
            }
        }
    }

    #[test]
    fn tcp_data_offset_is_checked() {
        let mut packet = tcp_probe(TARGET4.into(), US4.into());
        packet[20 + 12] = 0x40; // 4 words: shorter than the fixed header
        assert_eq!(parse_ip(&packet), Err(ParseError::BadHeaderLength));
        packet[20 + 12] = 0xf0; // 60 bytes: past the end of the segment
        assert_eq!(parse_ip(&packet), Err(ParseError::Truncated));
    }

    #[test]
    fn ipv4_header_fields_are_checked() {
        let good = tcp_probe(TARGET4.into(), US4.into());
        let mut bad = good.clone();
        bad[0] = 0x44; // IHL 4
        assert_eq!(parse_ip(&bad), Err(ParseError::BadHeaderLength));
        bad = good.clone();
        bad[2..4].copy_from_slice(&[0, 19]); // total length smaller than the header
        assert_eq!(parse_ip(&bad), Err(ParseError::BadTotalLength));
        bad = good.clone();
        bad[0] = 0x55;
        assert_eq!(parse_ip(&bad), Err(ParseError::BadVersion));
    }

    #[test]
    fn ipv4_options_are_skipped() {
        let tcp = tcp_probe(TARGET4.into(), US4.into());
        let mut packet = tcp[..20].to_vec();
        packet[0] = 0x46; // IHL 6: one word of options
        packet[2..4].copy_from_slice(&((tcp.len() + 4) as u16).to_be_bytes());
        packet.extend([1, 1, 1, 0]); // NOP, NOP, NOP, end of options
        packet.extend_from_slice(&tcp[20..]);
        assert!(matches!(
            parse_ip(&packet).unwrap().body,
            ReplyBody::Tcp { dport: 443, .. }
        ));
    }

    #[test]
    fn udp_length_field_is_believed_only_when_it_fits() {
        let mut packet = udp_probe(TARGET4.into(), US4.into(), &[0; 10]);
        packet[24..26].copy_from_slice(&100u16.to_be_bytes());
        let ReplyBody::Udp { payload_len, .. } = parse_ip(&packet).unwrap().body else {
            panic!("not UDP");
        };
        assert_eq!(payload_len, 10);
        packet[24..26].copy_from_slice(&12u16.to_be_bytes());
        assert!(matches!(
            parse_ip(&packet).unwrap().body,
            ReplyBody::Udp { payload_len: 4, .. }
        ));
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let packet = udp_probe(TARGET4.into(), US4.into(), b"");
        let mut frame = vec![0u8; 14];
        write_eth_header(
            &mut frame,
            [2, 0, 0, 0, 0, 1],
            [2, 0, 0, 0, 0, 2],
            ETHERTYPE_IPV4,
        );
        frame.extend_from_slice(&packet);
        frame.resize(60, 0); // minimum Ethernet frame, padded
        let reply = parse_frame(&frame, LinkType::Ethernet).unwrap();
        assert_eq!(
            reply.body,
            ReplyBody::Udp {
                sport: 50000,
                dport: 53,
                payload_len: 0
            }
        );
    }

    #[test]
    fn vlan_tagged_frame() {
        let mut frame = vec![0u8; 14];
        write_eth_header(
            &mut frame,
            [2, 0, 0, 0, 0, 1],
            [2, 0, 0, 0, 0, 2],
            ETHERTYPE_VLAN,
        );
        frame.extend([0x00, 0x64]); // TCI: VLAN 100
        frame.extend(ETHERTYPE_IPV6.to_be_bytes()); // inner EtherType
        frame.extend(tcp_probe(TARGET6.into(), US6.into()));
        let reply = parse_frame(&frame, LinkType::Ethernet).unwrap();
        assert_eq!(reply.src, IpAddr::V6(TARGET6));
        assert!(matches!(reply.body, ReplyBody::Tcp { sport: 40000, .. }));
    }

    #[test]
    fn frame_errors() {
        let mut arp = vec![0u8; 42];
        write_eth_header(&mut arp, [0xff; 6], [2, 0, 0, 0, 0, 2], ETHERTYPE_ARP);
        assert_eq!(
            parse_frame(&arp, LinkType::Ethernet),
            Err(ParseError::NotIp {
                ethertype: ETHERTYPE_ARP
            })
        );
        let mut mislabelled = vec![0u8; 14];
        write_eth_header(&mut mislabelled, [2; 6], [2; 6], ETHERTYPE_IPV4);
        mislabelled.extend(tcp_probe(US6.into(), TARGET6.into()));
        assert_eq!(
            parse_frame(&mislabelled, LinkType::Ethernet),
            Err(ParseError::BadVersion)
        );
        assert_eq!(
            parse_frame(&[0u8; 10], LinkType::Ethernet),
            Err(ParseError::BadLinkHeader)
        );
        assert_eq!(
            parse_frame(&[0x70; 30], LinkType::RawIp),
            Err(ParseError::BadLinkHeader)
        );
        let raw = tcp_probe(US4.into(), TARGET4.into());
        assert!(parse_frame(&raw, LinkType::RawIp).is_ok());
    }
}
