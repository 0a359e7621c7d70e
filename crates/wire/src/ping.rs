//! ICMP query probes for host discovery: echo (RFC 792; ICMPv6 echo, RFC
//! 4443 section 4), timestamp (RFC 792) and address mask (RFC 950) requests.
//!
//! A reply copies the request's identifier and sequence number, so a probe's
//! identity fits in those 32 bits and the reply is matched without state:
//! [`crate::reply::parse_ip`] reads them into
//! [`ReplyBody::Icmp`](crate::reply::ReplyBody::Icmp), and
//! [`PingKind::of_reply`] says which request a reply type answers.
//!
//! The emitter follows [`crate::probe`]: same IP header, every byte of the
//! returned packet written, errors instead of panics. ICMPv6 has only the
//! echo request; asking for a timestamp or address mask request over IPv6
//! is [`EmitError::NotInIcmpv6`].

use crate::checksum;
use crate::probe::{emit_ip, field, pseudo_sum, put16, EmitError, IpParams};
use crate::reply::ipproto;

/// ICMPv4 query message types (RFC 792, RFC 950).
pub mod icmpv4_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIMESTAMP: u8 = 13;
    pub const TIMESTAMP_REPLY: u8 = 14;
    pub const ADDRESS_MASK: u8 = 17;
    pub const ADDRESS_MASK_REPLY: u8 = 18;
}

/// ICMPv6 echo message types (RFC 4443 section 4).
pub mod icmpv6_type {
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
}

/// Which ICMP query a ping probe sends (Nmap's `-PE`, `-PP`, `-PM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PingKind {
    /// Echo request: ICMP type 8, or ICMPv6 type 128.
    Echo,
    /// Timestamp request, ICMP type 13 (IPv4 only).
    Timestamp,
    /// Address mask request, ICMP type 17 (IPv4 only).
    AddressMask,
}

impl PingKind {
    /// The request's message type, or `None` for a query ICMPv6 lacks.
    pub fn request_type(self, v6: bool) -> Option<u8> {
        match (self, v6) {
            (PingKind::Echo, true) => Some(icmpv6_type::ECHO_REQUEST),
            (PingKind::Echo, false) => Some(icmpv4_type::ECHO_REQUEST),
            (PingKind::Timestamp, false) => Some(icmpv4_type::TIMESTAMP),
            (PingKind::AddressMask, false) => Some(icmpv4_type::ADDRESS_MASK),
            (_, true) => None,
        }
    }

    /// The type of the reply that answers this request, or `None` as in
    /// [`PingKind::request_type`].
    pub fn reply_type(self, v6: bool) -> Option<u8> {
        match (self, v6) {
            (PingKind::Echo, true) => Some(icmpv6_type::ECHO_REPLY),
            (PingKind::Echo, false) => Some(icmpv4_type::ECHO_REPLY),
            (PingKind::Timestamp, false) => Some(icmpv4_type::TIMESTAMP_REPLY),
            (PingKind::AddressMask, false) => Some(icmpv4_type::ADDRESS_MASK_REPLY),
            (_, true) => None,
        }
    }

    /// The request a reply of type `icmp_type` answers, if it is one of ours.
    pub fn of_reply(icmp_type: u8, v6: bool) -> Option<PingKind> {
        [PingKind::Echo, PingKind::Timestamp, PingKind::AddressMask]
            .into_iter()
            .find(|kind| kind.reply_type(v6) == Some(icmp_type))
    }

    /// Length of the request message before the caller's payload: 8 for
    /// echo, 20 for timestamp, 12 for address mask.
    pub fn fixed_len(self) -> usize {
        match self {
            PingKind::Echo => field::icmp::HEADER_LEN,
            PingKind::Timestamp => field::icmp::TIMESTAMP_LEN,
            PingKind::AddressMask => field::icmp::ADDRESS_MASK_LEN,
        }
    }
}

/// The fields of an ICMP query probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpProbe<'a> {
    pub kind: PingKind,
    /// Identifier and sequence number: copied into the reply, so they carry
    /// the probe's identity.
    pub ident: u16,
    pub seq: u16,
    /// Bytes after the fixed message: the echo data, or padding after a
    /// timestamp or address mask request (empty for the usual 20 and 12
    /// bytes).
    pub payload: &'a [u8],
}

impl IcmpProbe<'_> {
    /// Length of the ICMP message this probe emits (IP header excluded).
    pub fn message_len(&self) -> usize {
        self.kind.fixed_len().saturating_add(self.payload.len())
    }
}

/// Writes an ICMP query probe (IP header onward) at the start of `buf`.
///
/// The IP header is the one [`crate::probe::emit_tcp`] writes, with
/// protocol 1 (IPv4) or next header 58 (IPv6). The timestamp request's
/// originate, receive and transmit timestamps are 0 and the address mask
/// request's mask is 0: the engine has no wall clock, and targets answer
/// either way. The ICMP checksum covers the message, and for ICMPv6 the
/// pseudo-header too (RFC 4443 section 2.3). Returns the packet length.
pub fn emit_icmp(buf: &mut [u8], ip: &IpParams, probe: &IcmpProbe) -> Result<usize, EmitError> {
    let v6 = ip.src.is_ipv6() && ip.dst.is_ipv6();
    let icmp_type = probe
        .kind
        .request_type(v6)
        .ok_or(EmitError::NotInIcmpv6 { kind: probe.kind })?;
    let protocol = if v6 { ipproto::ICMPV6 } else { ipproto::ICMP };
    let msg_len = probe.message_len();
    let (ip_len, packet) = emit_ip(buf, ip, protocol, msg_len)?;
    let message = &mut packet[ip_len..];
    write_query(message, icmp_type, probe);
    let initial = if v6 {
        pseudo_sum(ip.src, ip.dst, protocol, msg_len)
    } else {
        0
    };
    let check = checksum::finish(checksum::sum(message, initial));
    put16(message, field::icmp::CHECKSUM, check);
    Ok(packet.len())
}

/// Writes the message with a zero checksum; `message` is exactly its length.
fn write_query(message: &mut [u8], icmp_type: u8, probe: &IcmpProbe) {
    use field::icmp::*;
    let fixed = probe.kind.fixed_len();
    message[TYPE] = icmp_type;
    message[CODE] = 0;
    put16(message, CHECKSUM, 0);
    put16(message, IDENT, probe.ident);
    put16(message, SEQ, probe.seq);
    message[HEADER_LEN..fixed].fill(0);
    message[fixed..].copy_from_slice(probe.payload);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::probe::MAX_PROBE_LEN;
    use crate::reply::{parse_ip, ReplyBody};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    const SRC4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

    fn params(src: IpAddr, dst: IpAddr) -> IpParams {
        IpParams {
            src,
            dst,
            ttl: 64,
            ip_id: 0x1234,
        }
    }

    fn v4() -> IpParams {
        params(SRC4.into(), DST4.into())
    }

    fn v6() -> IpParams {
        params(SRC6.into(), DST6.into())
    }

    fn probe(kind: PingKind, payload: &[u8]) -> IcmpProbe<'_> {
        IcmpProbe {
            kind,
            ident: 0xbeef,
            seq: 0x0102,
            payload,
        }
    }

    /// Emits into a buffer of stale bytes, so a byte left unwritten shows.
    fn emit(ip: &IpParams, probe: &IcmpProbe) -> Vec<u8> {
        let mut buf = [0xeeu8; 128];
        let len = emit_icmp(&mut buf, ip, probe).unwrap();
        buf[..len].to_vec()
    }

    /// An IPv4 header from 198.18.0.1 to 198.18.0.2, TTL 64, ident 0x1234,
    /// protocol ICMP, with the given total length and header checksum.
    fn ipv4_header(total_len: u8, check: [u8; 2]) -> Vec<u8> {
        vec![
            0x45, 0x00, // version 4, IHL 5; DSCP/ECN
            0x00, total_len, // total length
            0x12, 0x34, // identification
            0x00, 0x00, // flags and fragment offset
            0x40, 0x01, // TTL 64, protocol ICMP
            check[0], check[1], // header checksum
            198, 18, 0, 1, // source
            198, 18, 0, 2, // destination
        ]
    }

    #[test]
    fn ipv4_echo_golden_bytes() {
        let mut expected = ipv4_header(31, [0xdc, 0x82]);
        expected.extend([
            0x08, 0x00, // type 8 (echo request), code 0
            0x73, 0xab, // checksum
            0xbe, 0xef, // identifier
            0x01, 0x02, // sequence number
            b'a', b'b', b'c', // data (odd length)
        ]);
        assert_eq!(emit(&v4(), &probe(PingKind::Echo, b"abc")), expected);
    }

    #[test]
    fn ipv4_timestamp_golden_bytes() {
        let mut expected = ipv4_header(40, [0xdc, 0x79]);
        expected.extend([
            0x0d, 0x00, // type 13 (timestamp), code 0
            0x33, 0x0e, // checksum
            0xbe, 0xef, 0x01, 0x02, // identifier, sequence number
            0, 0, 0, 0, // originate timestamp
            0, 0, 0, 0, // receive timestamp
            0, 0, 0, 0, // transmit timestamp
        ]);
        assert_eq!(emit(&v4(), &probe(PingKind::Timestamp, b"")), expected);
    }

    #[test]
    fn ipv4_address_mask_golden_bytes() {
        let mut expected = ipv4_header(32, [0xdc, 0x81]);
        expected.extend([
            0x11, 0x00, // type 17 (address mask request), code 0
            0x2f, 0x0e, // checksum
            0xbe, 0xef, 0x01, 0x02, // identifier, sequence number
            0, 0, 0, 0, // address mask
        ]);
        assert_eq!(emit(&v4(), &probe(PingKind::AddressMask, b"")), expected);
    }

    #[test]
    fn ipv6_echo_golden_bytes() {
        let mut expected = vec![
            0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
            0x00, 0x0b, // payload length 11
            0x3a, // next header ICMPv6
            0x40, // hop limit 64
        ];
        expected.extend(SRC6.octets());
        expected.extend(DST6.octets());
        expected.extend([
            0x80, 0x00, // type 128 (echo request), code 0
            0x9f, 0xf0, // checksum, pseudo-header included
            0xbe, 0xef, 0x01, 0x02, // identifier, sequence number
            b'a', b'b', b'c', // data
        ]);
        assert_eq!(emit(&v6(), &probe(PingKind::Echo, b"abc")), expected);
    }

    #[test]
    fn every_ipv4_kind_round_trips_with_a_valid_checksum() {
        let cases = [
            (PingKind::Echo, 8, 28),
            (PingKind::Timestamp, 13, 40),
            (PingKind::AddressMask, 17, 32),
        ];
        for (kind, icmp_type, len) in cases {
            let packet = emit(&v4(), &probe(kind, b""));
            assert_eq!(packet.len(), len, "{kind:?}");
            assert_eq!(checksum::checksum(&packet[..20]), 0, "{kind:?} IP header");
            assert_eq!(checksum::checksum(&packet[20..]), 0, "{kind:?} ICMP");
            let reply = parse_ip(&packet).unwrap();
            assert_eq!((reply.src, reply.dst, reply.ttl), (v4().src, v4().dst, 64));
            let body = ReplyBody::Icmp {
                v6: false,
                icmp_type,
                code: 0,
                ident: 0xbeef,
                seq: 0x0102,
            };
            assert_eq!(reply.body, body, "{kind:?}");
        }
    }

    #[test]
    fn ipv6_echo_round_trips_with_a_valid_checksum() {
        let ip = v6();
        let packet = emit(&ip, &probe(PingKind::Echo, &[7; 56]));
        let message = &packet[40..];
        assert_eq!(message.len(), 64);
        let pseudo = pseudo_sum(ip.src, ip.dst, 58, message.len());
        assert_eq!(checksum::finish(checksum::sum(message, pseudo)), 0);
        // Without the pseudo-header the checksum would not verify.
        assert_ne!(checksum::checksum(message), 0);
        let reply = parse_ip(&packet).unwrap();
        let body = ReplyBody::Icmp {
            v6: true,
            icmp_type: 128,
            code: 0,
            ident: 0xbeef,
            seq: 0x0102,
        };
        assert_eq!((reply.src, reply.dst, reply.body), (ip.src, ip.dst, body));
    }

    #[test]
    fn payload_follows_the_fixed_part() {
        let packet = emit(&v4(), &probe(PingKind::Timestamp, b"xyz"));
        assert_eq!(packet.len(), 20 + 20 + 3);
        assert_eq!(&packet[28..40], &[0; 12], "timestamps stay zero");
        assert_eq!(&packet[40..], b"xyz");
        assert_eq!(checksum::checksum(&packet[20..]), 0);
    }

    #[test]
    fn queries_without_an_icmpv6_form_are_errors() {
        let mut buf = [0u8; 128];
        for kind in [PingKind::Timestamp, PingKind::AddressMask] {
            assert_eq!(
                emit_icmp(&mut buf, &v6(), &probe(kind, b"")),
                Err(EmitError::NotInIcmpv6 { kind })
            );
        }
    }

    #[test]
    fn errors() {
        let mut buf = [0u8; MAX_PROBE_LEN + 1];
        let echo = probe(PingKind::Echo, b"");
        let mixed = params(SRC4.into(), DST6.into());
        assert_eq!(
            emit_icmp(&mut buf, &mixed, &echo),
            Err(EmitError::FamilyMismatch)
        );
        let stamp = probe(PingKind::Timestamp, b"");
        assert_eq!(
            emit_icmp(&mut buf[..39], &v4(), &stamp),
            Err(EmitError::BufferTooSmall { needed: 40 })
        );
        assert_eq!(
            emit_icmp(&mut buf[..47], &v6(), &echo),
            Err(EmitError::BufferTooSmall { needed: 48 })
        );
        assert_eq!(
            emit_icmp(&mut [], &v4(), &echo),
            Err(EmitError::BufferTooSmall { needed: 28 })
        );
        let big = [0u8; MAX_PROBE_LEN - 27];
        assert_eq!(
            emit_icmp(&mut buf, &v4(), &probe(PingKind::Echo, &big)),
            Err(EmitError::PayloadTooLarge)
        );
        let fits = probe(PingKind::Echo, &big[1..]);
        assert_eq!(emit_icmp(&mut buf, &v4(), &fits), Ok(MAX_PROBE_LEN));
    }

    #[test]
    fn reply_types_name_their_request() {
        use PingKind::*;
        let v4_pairs = [(Echo, 8, 0), (Timestamp, 13, 14), (AddressMask, 17, 18)];
        for (kind, request, reply) in v4_pairs {
            assert_eq!(kind.request_type(false), Some(request));
            assert_eq!(kind.reply_type(false), Some(reply));
            assert_eq!(PingKind::of_reply(reply, false), Some(kind));
        }
        assert_eq!(Echo.request_type(true), Some(128));
        assert_eq!(PingKind::of_reply(129, true), Some(Echo));
        // A request is not a reply, and the v4 numbers mean nothing in ICMPv6.
        assert_eq!(PingKind::of_reply(8, false), None);
        assert_eq!(PingKind::of_reply(0, true), None);
        assert_eq!(PingKind::of_reply(14, true), None);
        assert_eq!(Timestamp.reply_type(true), None);
    }
}
