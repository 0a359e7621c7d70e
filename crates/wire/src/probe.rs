//! Building probes: IPv4 or IPv6 header, then a TCP or UDP header, with
//! correct checksums. ICMP query probes (echo, timestamp, address mask) are
//! built in [`crate::ping`] on the same IP header code.
//!
//! Everything here starts at the IP header; the driver prepends the link
//! header (see [`crate::ether`]). Emitters write every byte of the packet
//! they return (stale bytes in a reused buffer never leak into a probe) and
//! never panic: a short buffer or an impossible request is an [`EmitError`].
//!
//! Odd probes (bad checksums, unusual options for OS detection) are made by
//! emitting a normal one and then changing bytes through [`field`].
//!
//! For the hot path, [`TcpTemplate`] builds the constant part of a TCP probe
//! once and then patches the per-probe fields, updating both checksums from
//! precomputed partial sums (RFC 1624) instead of summing the packet again.

use std::net::IpAddr;

use crate::checksum;
use crate::ping::PingKind;
use crate::reply::ipproto;

/// TCP header flag bits (RFC 9293 section 3.1; ECE and CWR from RFC 3168).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// Byte layouts, written once, shared by the emitters and the parser.
pub mod field {
    /// IPv4 header (RFC 791 section 3.1), offsets from the start of the header.
    pub mod ipv4 {
        use core::ops::Range;
        pub const VER_IHL: usize = 0;
        pub const TOS: usize = 1;
        pub const TOTAL_LEN: Range<usize> = 2..4;
        pub const IDENT: Range<usize> = 4..6;
        pub const FLAGS_FRAG: Range<usize> = 6..8;
        pub const TTL: usize = 8;
        pub const PROTOCOL: usize = 9;
        pub const CHECKSUM: Range<usize> = 10..12;
        pub const SRC: Range<usize> = 12..16;
        pub const DST: Range<usize> = 16..20;
        /// Length of a header without options (IHL 5).
        pub const HEADER_LEN: usize = 20;
    }

    /// IPv6 fixed header (RFC 8200 section 3).
    pub mod ipv6 {
        use core::ops::Range;
        pub const VER_TC_FLOW: Range<usize> = 0..4;
        pub const PAYLOAD_LEN: Range<usize> = 4..6;
        pub const NEXT_HEADER: usize = 6;
        pub const HOP_LIMIT: usize = 7;
        pub const SRC: Range<usize> = 8..24;
        pub const DST: Range<usize> = 24..40;
        pub const HEADER_LEN: usize = 40;
    }

    /// TCP header (RFC 9293 section 3.1).
    pub mod tcp {
        use core::ops::Range;
        pub const SRC_PORT: Range<usize> = 0..2;
        pub const DST_PORT: Range<usize> = 2..4;
        pub const SEQ: Range<usize> = 4..8;
        pub const ACK: Range<usize> = 8..12;
        /// Data offset in the high nibble, in 32-bit words.
        pub const DATA_OFFSET: usize = 12;
        pub const FLAGS: usize = 13;
        pub const WINDOW: Range<usize> = 14..16;
        pub const CHECKSUM: Range<usize> = 16..18;
        pub const URGENT: Range<usize> = 18..20;
        /// Length of a header without options.
        pub const HEADER_LEN: usize = 20;
    }

    /// UDP header (RFC 768).
    pub mod udp {
        use core::ops::Range;
        pub const SRC_PORT: Range<usize> = 0..2;
        pub const DST_PORT: Range<usize> = 2..4;
        pub const LENGTH: Range<usize> = 4..6;
        pub const CHECKSUM: Range<usize> = 6..8;
        pub const HEADER_LEN: usize = 8;
    }

    /// ICMP and ICMPv6 messages (RFC 792, RFC 4443 section 2.1). The first
    /// four bytes are common to every message; identifier and sequence
    /// number are those of the query messages (echo, timestamp, address
    /// mask), whose replies copy them from the request.
    pub mod icmp {
        use core::ops::Range;
        pub const TYPE: usize = 0;
        pub const CODE: usize = 1;
        pub const CHECKSUM: Range<usize> = 2..4;
        pub const IDENT: Range<usize> = 4..6;
        pub const SEQ: Range<usize> = 6..8;
        /// Length of an echo message without data.
        pub const HEADER_LEN: usize = 8;
        /// Timestamp and timestamp reply (RFC 792): milliseconds since
        /// midnight UT, as the sender and the replier saw them.
        pub const ORIGINATE: Range<usize> = 8..12;
        pub const RECEIVE: Range<usize> = 12..16;
        pub const TRANSMIT: Range<usize> = 16..20;
        pub const TIMESTAMP_LEN: usize = 20;
        /// Address mask request and reply (RFC 950).
        pub const ADDRESS_MASK: Range<usize> = 8..12;
        pub const ADDRESS_MASK_LEN: usize = 12;
    }
}

/// Largest packet (IP header onward) the emitters produce: a standard
/// Ethernet MTU, so a probe is never fragmented on the way out.
pub const MAX_PROBE_LEN: usize = 1500;

/// The MSS a SYN probe announces, the usual value behind an Ethernet MTU.
pub const SYN_MSS: u16 = 1460;

/// The MSS option (RFC 9293 section 3.2): kind 2, length 4, [`SYN_MSS`].
const MSS_OPTION: [u8; 4] = [2, 4, (SYN_MSS >> 8) as u8, SYN_MSS as u8];

/// Largest TCP probe: an IPv6 header and a TCP header with the MSS option.
const TCP_PROBE_MAX: usize = field::ipv6::HEADER_LEN + field::tcp::HEADER_LEN + MSS_OPTION.len();

/// Network-layer fields of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpParams {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification; IPv6 has no such field and ignores it.
    pub ip_id: u16,
}

/// Transport fields of a TCP probe. The probe carries no payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpProbe {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// Bits from [`tcp_flags`].
    pub flags: u8,
    pub window: u16,
    /// Add an MSS option of 1460 (SYN probes carry one, like a real stack).
    pub mss: bool,
}

impl TcpProbe {
    /// Length of the TCP header this probe emits: 20, or 24 with the MSS option.
    pub fn header_len(&self) -> usize {
        field::tcp::HEADER_LEN + if self.mss { MSS_OPTION.len() } else { 0 }
    }
}

/// Transport fields of a UDP probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpProbe<'a> {
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
}

/// Why a probe could not be built. Nothing useful is left in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    #[error("buffer too small: the probe needs {needed} bytes")]
    BufferTooSmall { needed: usize },
    #[error("source and destination are of different IP versions")]
    FamilyMismatch,
    #[error("probe would exceed {MAX_PROBE_LEN} bytes")]
    PayloadTooLarge,
    #[error("ICMPv6 has no {kind:?} request (RFC 4443 defines only echo)")]
    NotInIcmpv6 { kind: PingKind },
}

/// Writes a TCP probe (IP header onward) at the start of `buf`.
///
/// IPv4: a 20-byte header, DF clear, header checksum set. IPv6: a 40-byte
/// header, traffic class and flow label 0, hop limit `ip.ttl`. The TCP
/// checksum covers the pseudo-header. Returns the packet length.
pub fn emit_tcp(buf: &mut [u8], ip: &IpParams, tcp: &TcpProbe) -> Result<usize, EmitError> {
    let seg_len = tcp.header_len();
    let (ip_len, packet) = emit_ip(buf, ip, ipproto::TCP, seg_len)?;
    let segment = &mut packet[ip_len..];
    write_tcp(segment, tcp);
    let sum = checksum::sum(segment, pseudo_sum(ip.src, ip.dst, ipproto::TCP, seg_len));
    put16(segment, field::tcp::CHECKSUM, checksum::finish(sum));
    Ok(packet.len())
}

/// Writes a UDP probe (IP header onward) at the start of `buf`.
///
/// Same IP header as [`emit_tcp`]. The UDP checksum is always set (it is
/// mandatory over IPv6, and a target may drop a datagram without one); a
/// computed zero is sent as `0xffff` (RFC 768). Returns the packet length.
pub fn emit_udp(buf: &mut [u8], ip: &IpParams, udp: &UdpProbe) -> Result<usize, EmitError> {
    let dgram_len = field::udp::HEADER_LEN.saturating_add(udp.payload.len());
    let (ip_len, packet) = emit_ip(buf, ip, ipproto::UDP, dgram_len)?;
    let datagram = &mut packet[ip_len..];
    write_udp_header(datagram, udp, dgram_len);
    datagram[field::udp::HEADER_LEN..].copy_from_slice(udp.payload);
    let sum = checksum::sum(
        datagram,
        pseudo_sum(ip.src, ip.dst, ipproto::UDP, dgram_len),
    );
    let check = match checksum::finish(sum) {
        0 => 0xffff,
        check => check,
    };
    put16(datagram, field::udp::CHECKSUM, check);
    Ok(packet.len())
}

/// Checks the request, writes the IP header, and returns the header length
/// and the whole packet's slice of `buf` (exactly header + `l4_len` bytes).
pub(crate) fn emit_ip<'b>(
    buf: &'b mut [u8],
    ip: &IpParams,
    protocol: u8,
    l4_len: usize,
) -> Result<(usize, &'b mut [u8]), EmitError> {
    let header_len = match (ip.src, ip.dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => field::ipv4::HEADER_LEN,
        (IpAddr::V6(_), IpAddr::V6(_)) => field::ipv6::HEADER_LEN,
        _ => return Err(EmitError::FamilyMismatch),
    };
    let total = header_len.saturating_add(l4_len);
    if total > MAX_PROBE_LEN {
        return Err(EmitError::PayloadTooLarge);
    }
    let packet = buf
        .get_mut(..total)
        .ok_or(EmitError::BufferTooSmall { needed: total })?;
    write_ip_header(packet, ip, protocol);
    Ok((header_len, packet))
}

/// Writes the IP header of `packet` (whose length is the packet's total length).
fn write_ip_header(packet: &mut [u8], ip: &IpParams, protocol: u8) {
    match (ip.src, ip.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            write_ipv4_fixed(packet, ip.ttl, protocol, src.octets());
            packet[field::ipv4::DST].copy_from_slice(&dst.octets());
            put16(packet, field::ipv4::IDENT, ip.ip_id);
            let check = checksum::checksum(&packet[..field::ipv4::HEADER_LEN]);
            put16(packet, field::ipv4::CHECKSUM, check);
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            write_ipv6_fixed(packet, ip.ttl, protocol, src.octets());
            packet[field::ipv6::DST].copy_from_slice(&dst.octets());
        }
        // emit_ip rejected mixed families before calling.
        _ => {}
    }
}

/// IPv4 header fields that do not vary per destination; ident, destination
/// and checksum are left zero.
fn write_ipv4_fixed(packet: &mut [u8], ttl: u8, protocol: u8, src: [u8; 4]) {
    use field::ipv4::*;
    packet[VER_IHL] = 0x45;
    packet[TOS] = 0;
    put16(packet, TOTAL_LEN, packet.len() as u16);
    put16(packet, IDENT, 0);
    put16(packet, FLAGS_FRAG, 0);
    packet[TTL] = ttl;
    packet[PROTOCOL] = protocol;
    put16(packet, CHECKSUM, 0);
    packet[SRC].copy_from_slice(&src);
    packet[DST].fill(0);
}

/// IPv6 header fields that do not vary per destination; destination left zero.
fn write_ipv6_fixed(packet: &mut [u8], hop_limit: u8, next_header: u8, src: [u8; 16]) {
    use field::ipv6::*;
    packet[VER_TC_FLOW].copy_from_slice(&[0x60, 0, 0, 0]);
    put16(packet, PAYLOAD_LEN, (packet.len() - HEADER_LEN) as u16);
    packet[NEXT_HEADER] = next_header;
    packet[HOP_LIMIT] = hop_limit;
    packet[SRC].copy_from_slice(&src);
    packet[DST].fill(0);
}

/// Writes the TCP header with a zero checksum; `segment` is exactly its length.
fn write_tcp(segment: &mut [u8], tcp: &TcpProbe) {
    use field::tcp::*;
    put16(segment, SRC_PORT, tcp.sport);
    put16(segment, DST_PORT, tcp.dport);
    put32(segment, SEQ, tcp.seq);
    put32(segment, ACK, tcp.ack);
    segment[DATA_OFFSET] = ((segment.len() / 4) as u8) << 4;
    segment[FLAGS] = tcp.flags;
    put16(segment, WINDOW, tcp.window);
    put16(segment, CHECKSUM, 0);
    put16(segment, URGENT, 0);
    if tcp.mss {
        segment[HEADER_LEN..].copy_from_slice(&MSS_OPTION);
    }
}

/// Writes the UDP header with a zero checksum.
fn write_udp_header(datagram: &mut [u8], udp: &UdpProbe, len: usize) {
    use field::udp::*;
    put16(datagram, SRC_PORT, udp.sport);
    put16(datagram, DST_PORT, udp.dport);
    put16(datagram, LENGTH, len as u16);
    put16(datagram, CHECKSUM, 0);
}

/// Unfolded one's-complement sum of the TCP/UDP pseudo-header (RFC 9293
/// section 3.1 for IPv4, RFC 8200 section 8.1 for IPv6). Both reduce to the
/// same words: the two addresses, the protocol, and the length (< 2^16 here).
pub fn pseudo_sum(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> u32 {
    addr_sum(src) + addr_sum(dst) + u32::from(protocol) + len as u32
}

fn addr_sum(addr: IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => checksum::sum(&a.octets(), 0),
        IpAddr::V6(a) => checksum::sum(&a.octets(), 0),
    }
}

pub(crate) fn put16(buf: &mut [u8], at: core::ops::Range<usize>, value: u16) {
    buf[at].copy_from_slice(&value.to_be_bytes());
}

fn put32(buf: &mut [u8], at: core::ops::Range<usize>, value: u32) {
    buf[at].copy_from_slice(&value.to_be_bytes());
}

/// A TCP probe prebuilt for one (source, flags, window, MSS, TTL), patched
/// per destination.
///
/// [`TcpTemplate::write`] copies the prebuilt bytes, writes destination,
/// ports, sequence, acknowledgement and IP ident, and finishes both
/// checksums from sums precomputed over everything that does not change
/// (RFC 1624: adding a word to a sum in which it was zero). Its output is
/// byte-for-byte what [`emit_tcp`] builds from the same fields.
#[derive(Debug, Clone)]
pub struct TcpTemplate {
    bytes: [u8; TCP_PROBE_MAX],
    len: usize,
    ip_len: usize,
    src: IpAddr,
    /// IPv4 header sum with ident, destination and checksum zero (0 for IPv6).
    ip_partial: u32,
    /// Pseudo-header and TCP header sum with destination, ports, seq, ack
    /// and checksum zero.
    tcp_partial: u32,
}

impl TcpTemplate {
    pub fn new(src: IpAddr, flags: u8, window: u16, mss: bool, ttl: u8) -> Self {
        let ip = IpParams {
            src,
            dst: unspecified_like(src),
            ttl,
            ip_id: 0,
        };
        let tcp = TcpProbe {
            sport: 0,
            dport: 0,
            seq: 0,
            ack: 0,
            flags,
            window,
            mss,
        };
        let mut bytes = [0u8; TCP_PROBE_MAX];
        let len = emit_tcp(&mut bytes, &ip, &tcp)
            .expect("a TCP_PROBE_MAX buffer holds any single-family TCP probe");
        let ip_len = len - tcp.header_len();
        zero_checksums(&mut bytes, ip_len, src.is_ipv4());
        let ip_partial = if src.is_ipv4() {
            checksum::sum(&bytes[..ip_len], 0)
        } else {
            0
        };
        let pseudo = pseudo_sum(src, ip.dst, ipproto::TCP, len - ip_len);
        let tcp_partial = checksum::sum(&bytes[ip_len..len], pseudo);
        TcpTemplate {
            bytes,
            len,
            ip_len,
            src,
            ip_partial,
            tcp_partial,
        }
    }

    /// Length of every probe this template writes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a probe has at least its two headers. (For clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The source address the template was built for.
    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// Writes one probe at the start of `buf` and returns its length.
    ///
    /// `ip_id` is ignored over IPv6. Fails if `dst` is not of the template's
    /// family or `buf` is shorter than [`TcpTemplate::len`].
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        buf: &mut [u8],
        dst: IpAddr,
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        ip_id: u16,
    ) -> Result<usize, EmitError> {
        if dst.is_ipv4() != self.src.is_ipv4() {
            return Err(EmitError::FamilyMismatch);
        }
        let out = buf
            .get_mut(..self.len)
            .ok_or(EmitError::BufferTooSmall { needed: self.len })?;
        out.copy_from_slice(&self.bytes[..self.len]);
        let dst_sum = addr_sum(dst);
        self.patch_ip(out, dst, dst_sum, ip_id);
        self.patch_tcp(&mut out[self.ip_len..], dst_sum, sport, dport, seq, ack);
        Ok(self.len)
    }

    fn patch_ip(&self, packet: &mut [u8], dst: IpAddr, dst_sum: u32, ip_id: u16) {
        match dst {
            IpAddr::V4(dst) => {
                packet[field::ipv4::DST].copy_from_slice(&dst.octets());
                put16(packet, field::ipv4::IDENT, ip_id);
                let sum = self.ip_partial + dst_sum + u32::from(ip_id);
                put16(packet, field::ipv4::CHECKSUM, checksum::finish(sum));
            }
            IpAddr::V6(dst) => packet[field::ipv6::DST].copy_from_slice(&dst.octets()),
        }
    }

    fn patch_tcp(&self, seg: &mut [u8], dst_sum: u32, sport: u16, dport: u16, seq: u32, ack: u32) {
        use field::tcp::*;
        put16(seg, SRC_PORT, sport);
        put16(seg, DST_PORT, dport);
        put32(seg, SEQ, seq);
        put32(seg, ACK, ack);
        let words = u32::from(sport) + u32::from(dport) + words32(seq) + words32(ack);
        let sum = self.tcp_partial + dst_sum + words;
        put16(seg, CHECKSUM, checksum::finish(sum));
    }
}

/// Sum of the two 16-bit halves of a 32-bit field.
fn words32(value: u32) -> u32 {
    (value >> 16) + (value & 0xffff)
}

fn unspecified_like(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

fn zero_checksums(bytes: &mut [u8], ip_len: usize, v4: bool) {
    if v4 {
        put16(bytes, field::ipv4::CHECKSUM, 0);
    }
    let at = ip_len + field::tcp::CHECKSUM.start;
    put16(bytes, at..at + 2, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SRC4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

    fn syn() -> TcpProbe {
        TcpProbe {
            sport: 40000,
            dport: 80,
            seq: 0x0102_0304,
            ack: 0,
            flags: tcp_flags::SYN,
            window: 1024,
            mss: true,
        }
    }

    /// The TCP header of [`syn`], checksum given separately.
    fn syn_tcp_bytes(check: [u8; 2]) -> Vec<u8> {
        let mut b = vec![
            0x9c, 0x40, // source port 40000
            0x00, 0x50, // destination port 80
            0x01, 0x02, 0x03, 0x04, // sequence number
            0x00, 0x00, 0x00, 0x00, // acknowledgement number
            0x60, // data offset 6 words (24 bytes), reserved 0
            0x02, // flags: SYN
            0x04, 0x00, // window 1024
        ];
        b.extend_from_slice(&check); // checksum
        b.extend_from_slice(&[0x00, 0x00]); // urgent pointer
        b.extend_from_slice(&[0x02, 0x04, 0x05, 0xb4]); // option: MSS, length 4, 1460
        b
    }

    /// One's-complement sum over `data` plus `initial`, folded: 0xffff when a checksum verifies.
    fn folded(data: &[u8], initial: u32) -> u16 {
        !checksum::finish(checksum::sum(data, initial))
    }

    #[test]
    fn ipv4_syn_golden_bytes() {
        let mut expected = vec![
            0x45, // version 4, IHL 5
            0x00, // DSCP/ECN
            0x00, 0x2c, // total length 44
            0x12, 0x34, // identification
            0x00, 0x00, // flags (DF clear) and fragment offset
            0x40, // TTL 64
            0x06, // protocol TCP
            0xdc, 0x70, // header checksum
            198, 18, 0, 1, // source
            198, 18, 0, 2, // destination
        ];
        expected.extend(syn_tcp_bytes([0x67, 0x68]));
        let ip = IpParams {
            src: SRC4.into(),
            dst: DST4.into(),
            ttl: 64,
            ip_id: 0x1234,
        };
        let mut buf = [0xeeu8; 64];
        let len = emit_tcp(&mut buf, &ip, &syn()).unwrap();
        assert_eq!(&buf[..len], &expected[..]);
        assert_eq!(folded(&buf[..20], 0), 0xffff, "IPv4 header checksum");
        let pseudo = pseudo_sum(ip.src, ip.dst, 6, 24);
        assert_eq!(folded(&buf[20..len], pseudo), 0xffff, "TCP checksum");
    }

    #[test]
    fn ipv6_syn_golden_bytes() {
        let mut expected = vec![
            0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
            0x00, 0x18, // payload length 24
            0x06, // next header TCP
            0x40, // hop limit 64
        ];
        expected.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // source
        expected.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]); // destination
        expected.extend(syn_tcp_bytes([0x98, 0x1b]));
        let ip = IpParams {
            src: SRC6.into(),
            dst: DST6.into(),
            ttl: 64,
            ip_id: 0x1234,
        };
        let mut buf = [0xeeu8; 64];
        let len = emit_tcp(&mut buf, &ip, &syn()).unwrap();
        assert_eq!(&buf[..len], &expected[..]);
        let pseudo = pseudo_sum(ip.src, ip.dst, 6, 24);
        assert_eq!(folded(&buf[40..len], pseudo), 0xffff, "TCP checksum");
    }

    #[test]
    fn udp_checksum_verifies_with_odd_payload() {
        let ip = IpParams {
            src: SRC6.into(),
            dst: DST6.into(),
            ttl: 1,
            ip_id: 0,
        };
        let udp = UdpProbe {
            sport: 53000,
            dport: 53,
            payload: &[1, 2, 3],
        };
        let mut buf = [0u8; 64];
        let len = emit_udp(&mut buf, &ip, &udp).unwrap();
        assert_eq!(len, 40 + 8 + 3);
        assert_eq!(&buf[44..46], &[0, 11], "UDP length");
        assert_eq!(
            folded(&buf[40..len], pseudo_sum(ip.src, ip.dst, 17, 11)),
            0xffff
        );
    }

    #[test]
    fn errors() {
        let mixed = IpParams {
            src: SRC4.into(),
            dst: DST6.into(),
            ttl: 64,
            ip_id: 0,
        };
        let mut buf = [0u8; MAX_PROBE_LEN + 1];
        assert_eq!(
            emit_tcp(&mut buf, &mixed, &syn()),
            Err(EmitError::FamilyMismatch)
        );
        let ip = IpParams {
            src: SRC4.into(),
            dst: DST4.into(),
            ttl: 64,
            ip_id: 0,
        };
        assert_eq!(
            emit_tcp(&mut buf[..43], &ip, &syn()),
            Err(EmitError::BufferTooSmall { needed: 44 })
        );
        let big = [0u8; MAX_PROBE_LEN - 27];
        let udp = UdpProbe {
            sport: 1,
            dport: 2,
            payload: &big,
        };
        assert_eq!(
            emit_udp(&mut buf, &ip, &udp),
            Err(EmitError::PayloadTooLarge)
        );
        let fits = UdpProbe {
            payload: &big[1..],
            ..udp
        };
        assert_eq!(emit_udp(&mut buf, &ip, &fits), Ok(MAX_PROBE_LEN));
    }

    #[test]
    fn template_checks_family_and_buffer() {
        let t = TcpTemplate::new(SRC4.into(), tcp_flags::SYN, 1024, true, 64);
        let mut buf = [0u8; 64];
        assert_eq!(t.len(), 44);
        assert_eq!(
            t.write(&mut buf, DST6.into(), 1, 2, 3, 4, 5),
            Err(EmitError::FamilyMismatch)
        );
        assert_eq!(
            t.write(&mut buf[..43], DST4.into(), 1, 2, 3, 4, 5),
            Err(EmitError::BufferTooSmall { needed: 44 })
        );
    }

    #[test]
    fn template_golden_matches_emit() {
        let t = TcpTemplate::new(SRC6.into(), tcp_flags::SYN, 1024, true, 64);
        let (mut a, mut b) = ([0u8; 64], [0xffu8; 64]);
        let ip = IpParams {
            src: SRC6.into(),
            dst: DST6.into(),
            ttl: 64,
            ip_id: 0,
        };
        let n = emit_tcp(&mut a, &ip, &syn()).unwrap();
        let m = t
            .write(&mut b, DST6.into(), 40000, 80, 0x0102_0304, 0, 7)
            .unwrap();
        assert_eq!(&a[..n], &b[..m]);
    }
}
