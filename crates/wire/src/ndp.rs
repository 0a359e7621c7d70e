//! IPv6 neighbour discovery (RFC 4861): the neighbour solicitation that asks
//! for a next hop's MAC address, and the parse of the advertisement that
//! answers it.
//!
//! Both work on whole IPv6 packets (40-byte header, no extension headers: NDP
//! messages carry none), without the Ethernet header, which an `AF_PACKET`
//! `SOCK_DGRAM` socket writes and strips. [`parse_advertisement`] applies the
//! validity checks of RFC 4861 section 7.1.2 (hop limit 255, checksum, code 0,
//! non-multicast target, no zero-length option) and checks every length before
//! reading, so no input makes it panic.

use crate::checksum;
use std::net::Ipv6Addr;

/// Where each field sits: the IPv6 header, then the ICMPv6 message.
mod field {
    pub type Field = core::ops::Range<usize>;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
    /// Offsets inside the ICMPv6 message.
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const TARGET: Field = 8..24;
    pub const OPTIONS: usize = 24;
}

/// IPv6 header length.
pub const IPV6_HEADER_LEN: usize = 40;
/// The IPv6 next-header value of ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// ICMPv6 type of a neighbour solicitation.
pub const TYPE_SOLICITATION: u8 = 135;
/// ICMPv6 type of a neighbour advertisement.
pub const TYPE_ADVERTISEMENT: u8 = 136;
/// Option type: source link-layer address.
const OPT_SOURCE_LLADDR: u8 = 1;
/// Option type: target link-layer address.
const OPT_TARGET_LLADDR: u8 = 2;
/// Hop limit every NDP message is sent with and must arrive with, proof that
/// it was not forwarded by a router.
const HOP_LIMIT: u8 = 255;
/// A solicitation: type, code, checksum, reserved word, target address.
const SOLICITATION_LEN: usize = 24;
/// A link-layer address option for Ethernet: type, length 1 (8 bytes), MAC.
const LLADDR_OPTION_LEN: usize = 8;

/// Advertisement flags (RFC 4861 section 4.4).
pub const FLAG_ROUTER: u8 = 0x80;
pub const FLAG_SOLICITED: u8 = 0x40;
pub const FLAG_OVERRIDE: u8 = 0x20;

/// The solicited-node multicast address of `addr`, ff02::1:ffXX:XXXX, where
/// XX:XXXX are its low 24 bits: the group a solicitation for `addr` goes to.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    let mut group = [0u8; 16];
    group[..2].copy_from_slice(&[0xff, 0x02]);
    group[11] = 0x01;
    group[12] = 0xff;
    group[13..].copy_from_slice(&o[13..]);
    Ipv6Addr::from(group)
}

/// The Ethernet multicast address of an IPv6 multicast group (RFC 2464
/// section 7): 33:33 followed by the group's low 32 bits.
pub fn multicast_mac(addr: Ipv6Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// Writes a neighbour solicitation for `target` from `src` as a whole IPv6
/// packet (to `target`'s solicited-node group, hop limit 255, checksum set)
/// to the front of `buf`. It carries a source link-layer address option with
/// `src_mac` unless `src` is unspecified (RFC 4861 forbids it then). Returns
/// the packet length (72, or 64 without the option), or 0 if `buf` is too
/// short (nothing is written then).
pub fn build_solicitation(
    buf: &mut [u8],
    src: Ipv6Addr,
    target: Ipv6Addr,
    src_mac: [u8; 6],
) -> usize {
    let with_option = !src.is_unspecified();
    let icmp_len = SOLICITATION_LEN + if with_option { LLADDR_OPTION_LEN } else { 0 };
    let Some(pkt) = buf.get_mut(..IPV6_HEADER_LEN + icmp_len) else {
        return 0;
    };
    let dst = solicited_node(target);
    write_ipv6_header(pkt, src, dst, icmp_len as u16);
    let icmp = &mut pkt[IPV6_HEADER_LEN..];
    icmp.fill(0);
    icmp[field::TYPE] = TYPE_SOLICITATION;
    icmp[field::TARGET].copy_from_slice(&target.octets());
    if with_option {
        let opt = &mut icmp[field::OPTIONS..];
        opt[0] = OPT_SOURCE_LLADDR;
        opt[1] = 1;
        opt[2..8].copy_from_slice(&src_mac);
    }
    let sum = icmpv6_checksum(src, dst, icmp);
    icmp[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    IPV6_HEADER_LEN + icmp_len
}

/// The target address and target link-layer address of a valid neighbour
/// advertisement (a whole IPv6 packet; bytes past its payload length are
/// ignored). `None` for anything else, including an advertisement without a
/// 6-byte target link-layer address option.
pub fn parse_advertisement(ipv6_packet: &[u8]) -> Option<(Ipv6Addr, [u8; 6])> {
    let (src, dst, icmp) = icmpv6_payload(ipv6_packet)?;
    let valid = icmp.len() >= SOLICITATION_LEN
        && icmp[field::TYPE] == TYPE_ADVERTISEMENT
        && icmp[field::CODE] == 0
        && checksum::finish(pseudo_sum(src, dst, icmp)) == 0;
    if !valid {
        return None;
    }
    let target = Ipv6Addr::from(octets16(&icmp[field::TARGET]));
    if target.is_multicast() {
        return None;
    }
    let mac = find_lladdr(&icmp[field::OPTIONS..], OPT_TARGET_LLADDR)??;
    Some((target, mac))
}

/// The source, destination and ICMPv6 message of an IPv6 packet that
/// carries ICMPv6 with hop limit 255, or `None`.
fn icmpv6_payload(pkt: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, &[u8])> {
    let header = pkt.get(..IPV6_HEADER_LEN)?;
    let ok = header[0] >> 4 == 6
        && header[field::NEXT_HEADER] == NEXT_HEADER_ICMPV6
        && header[field::HOP_LIMIT] == HOP_LIMIT;
    if !ok {
        return None;
    }
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let icmp = pkt.get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + payload_len)?;
    let src = Ipv6Addr::from(octets16(&header[field::SRC]));
    let dst = Ipv6Addr::from(octets16(&header[field::DST]));
    Some((src, dst, icmp))
}

/// Walks NDP options. `None` if any option is malformed (zero length, or
/// longer than what is left), which makes the whole message invalid;
/// otherwise the first option of type `kind` with an Ethernet address, if any.
fn find_lladdr(mut options: &[u8], kind: u8) -> Option<Option<[u8; 6]>> {
    let mut found = None;
    while !options.is_empty() {
        let len = usize::from(*options.get(1)?) * 8;
        if len == 0 || len > options.len() {
            return None;
        }
        if options[0] == kind && len == LLADDR_OPTION_LEN && found.is_none() {
            let m = &options[2..8];
            found = Some([m[0], m[1], m[2], m[3], m[4], m[5]]);
        }
        options = &options[len..];
    }
    Some(found)
}

fn write_ipv6_header(pkt: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, payload_len: u16) {
    pkt[..4].copy_from_slice(&[0x60, 0, 0, 0]);
    pkt[field::PAYLOAD_LEN].copy_from_slice(&payload_len.to_be_bytes());
    pkt[field::NEXT_HEADER] = NEXT_HEADER_ICMPV6;
    pkt[field::HOP_LIMIT] = HOP_LIMIT;
    pkt[field::SRC].copy_from_slice(&src.octets());
    pkt[field::DST].copy_from_slice(&dst.octets());
}

/// The ICMPv6 checksum (RFC 4443 section 2.3) of `icmp`, whose checksum
/// field must be zero.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u16 {
    checksum::finish(pseudo_sum(src, dst, icmp))
}

/// The unfolded sum of the IPv6 pseudo-header (RFC 8200 section 8.1) and
/// `icmp`.
fn pseudo_sum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u32 {
    let mut acc = checksum::sum(&src.octets(), 0);
    acc = checksum::sum(&dst.octets(), acc);
    acc = checksum::sum(&(icmp.len() as u32).to_be_bytes(), acc);
    acc += u32::from(NEXT_HEADER_ICMPV6);
    checksum::sum(icmp, acc)
}

fn octets16(b: &[u8]) -> [u8; 16] {
    let mut o = [0u8; 16];
    o.copy_from_slice(b);
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OURS: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
    const THEIRS: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02];

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// 2001:db8:200::1 (02:00:5e:10:00:01) asks ff02::1:ff00:2 who has
    /// 2001:db8:200::2. Checksum 0xba16, computed independently of this code.
    const SOLICITATION: &str = "6000000000203aff20010db8020000000000000000000001\
        ff0200000000000000000001ff000002\
        8700ba160000000020010db8020000000000000000000002\
        010102005e100001";

    /// 2001:db8:200::2 tells 2001:db8:200::1 it is at 02:00:5e:10:00:02
    /// (solicited, override). Checksum 0x2661.
    const ADVERTISEMENT: &str = "6000000000203aff20010db8020000000000000000000002\
        20010db8020000000000000000000001\
        880026616000000020010db8020000000000000000000002\
        020102005e100002";

    /// An advertisement built the way `build_solicitation` builds, for the
    /// property tests.
    fn advertisement(src: Ipv6Addr, dst: Ipv6Addr, target: Ipv6Addr, mac: [u8; 6]) -> Vec<u8> {
        let mut pkt = vec![0u8; IPV6_HEADER_LEN + 32];
        write_ipv6_header(&mut pkt, src, dst, 32);
        let icmp = &mut pkt[IPV6_HEADER_LEN..];
        icmp[field::TYPE] = TYPE_ADVERTISEMENT;
        icmp[4] = FLAG_SOLICITED | FLAG_OVERRIDE;
        icmp[field::TARGET].copy_from_slice(&target.octets());
        icmp[24..26].copy_from_slice(&[OPT_TARGET_LLADDR, 1]);
        icmp[26..32].copy_from_slice(&mac);
        let sum = icmpv6_checksum(src, dst, icmp);
        icmp[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        pkt
    }

    #[test]
    fn solicited_node_and_multicast_mac() {
        let a = addr("2001:db8:200::1:2ab:cdef");
        assert_eq!(solicited_node(a), addr("ff02::1:ffab:cdef"));
        assert_eq!(
            multicast_mac(solicited_node(a)),
            [0x33, 0x33, 0xff, 0xab, 0xcd, 0xef]
        );
        assert_eq!(multicast_mac(addr("ff02::1")), [0x33, 0x33, 0, 0, 0, 1]);
    }

    #[test]
    fn solicitation_golden_bytes() {
        let mut buf = [0xaau8; 100];
        let n = build_solicitation(
            &mut buf,
            addr("2001:db8:200::1"),
            addr("2001:db8:200::2"),
            OURS,
        );
        assert_eq!(n, 72);
        assert_eq!(buf[..n], hex(SOLICITATION)[..]);
        assert_eq!(buf[n..], [0xaa; 28], "nothing written past the packet");
    }

    #[test]
    fn solicitation_from_unspecified_has_no_option() {
        let mut buf = [0u8; 72];
        let n = build_solicitation(&mut buf, Ipv6Addr::UNSPECIFIED, addr("2001:db8::2"), OURS);
        assert_eq!(n, 64);
        assert_eq!(&buf[4..6], &[0, 24]);
        let (src, dst, icmp) = icmpv6_payload(&buf[..n]).unwrap();
        assert_eq!(checksum::finish(pseudo_sum(src, dst, icmp)), 0);
    }

    #[test]
    fn solicitation_short_buffer_writes_nothing() {
        let mut buf = [0u8; 71];
        let n = build_solicitation(&mut buf, addr("2001:db8::1"), addr("2001:db8::2"), OURS);
        assert_eq!(n, 0);
        assert_eq!(buf, [0u8; 71]);
    }

    #[test]
    fn advertisement_golden_bytes() {
        let pkt = hex(ADVERTISEMENT);
        assert_eq!(
            parse_advertisement(&pkt),
            Some((addr("2001:db8:200::2"), THEIRS))
        );
        let built = advertisement(
            addr("2001:db8:200::2"),
            addr("2001:db8:200::1"),
            addr("2001:db8:200::2"),
            THEIRS,
        );
        assert_eq!(built, pkt);
    }

    #[test]
    fn advertisement_validity_checks() {
        let good = hex(ADVERTISEMENT);
        let mutate = |at: usize, v: u8| {
            let mut p = good.clone();
            p[at] = v;
            parse_advertisement(&p)
        };
        assert_eq!(mutate(7, 64), None, "hop limit not 255: forwarded");
        assert_eq!(mutate(6, 17), None, "not ICMPv6");
        assert_eq!(mutate(0, 0x40), None, "not IPv6");
        assert_eq!(mutate(40, 135), None, "a solicitation");
        assert_eq!(mutate(41, 1), None, "code not 0");
        assert_eq!(mutate(43, 0x62), None, "bad checksum");
        assert_eq!(parse_advertisement(&good[..71]), None, "truncated");
        // Trailing bytes past the payload length are ignored.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 10]);
        assert!(parse_advertisement(&padded).is_some());
    }

    #[test]
    fn advertisement_without_target_option_or_with_bad_options() {
        let (src, dst, target) = (
            addr("2001:db8::2"),
            addr("2001:db8::1"),
            addr("2001:db8::2"),
        );
        let mut pkt = advertisement(src, dst, target, THEIRS);
        // Rewrite the option as a source link-layer address and fix the sum.
        let reoption = |pkt: &mut Vec<u8>, kind: u8, len: u8| {
            pkt[64] = kind;
            pkt[65] = len;
            pkt[42..44].copy_from_slice(&[0, 0]);
            let sum = icmpv6_checksum(src, dst, &pkt[40..]);
            pkt[42..44].copy_from_slice(&sum.to_be_bytes());
        };
        reoption(&mut pkt, OPT_SOURCE_LLADDR, 1);
        assert_eq!(parse_advertisement(&pkt), None, "no target option");
        reoption(&mut pkt, OPT_TARGET_LLADDR, 0);
        assert_eq!(parse_advertisement(&pkt), None, "zero-length option");
        reoption(&mut pkt, OPT_TARGET_LLADDR, 2);
        assert_eq!(parse_advertisement(&pkt), None, "option overruns");
        reoption(&mut pkt, OPT_TARGET_LLADDR, 1);
        assert_eq!(parse_advertisement(&pkt), Some((target, THEIRS)));
    }

    #[test]
    fn multicast_target_rejected() {
        let pkt = advertisement(
            addr("2001:db8::2"),
            addr("2001:db8::1"),
            addr("ff02::1"),
            THEIRS,
        );
        assert_eq!(parse_advertisement(&pkt), None);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_advertisement(&bytes);
        }

        #[test]
        fn random_tail_after_valid_header_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..64), plen in any::<u16>()) {
            // A header that passes the first checks, so the ICMPv6 and option
            // walks see the random bytes.
            let mut pkt = hex(ADVERTISEMENT)[..64].to_vec();
            pkt[4..6].copy_from_slice(&plen.to_be_bytes());
            pkt.extend_from_slice(&tail);
            let _ = parse_advertisement(&pkt);
        }

        #[test]
        fn built_solicitations_are_valid(src in any::<u128>(), target in any::<u128>(), mac in any::<[u8; 6]>()) {
            let (src, target) = (Ipv6Addr::from(src), Ipv6Addr::from(target));
            let mut buf = [0u8; 72];
            let n = build_solicitation(&mut buf, src, target, mac);
            prop_assert!(n == 72 || (n == 64 && src.is_unspecified()));
            let (s, d, icmp) = icmpv6_payload(&buf[..n]).unwrap();
            prop_assert_eq!(s, src);
            prop_assert_eq!(d, solicited_node(target));
            prop_assert_eq!(checksum::finish(pseudo_sum(s, d, icmp)), 0);
            prop_assert_eq!(&icmp[8..24], &target.octets()[..]);
        }

        #[test]
        fn advertisement_roundtrip(src in any::<u128>(), dst in any::<u128>(), target in any::<u128>(), mac in any::<[u8; 6]>()) {
            let target = Ipv6Addr::from(target);
            let pkt = advertisement(Ipv6Addr::from(src), Ipv6Addr::from(dst), target, mac);
            let want = if target.is_multicast() { None } else { Some((target, mac)) };
            prop_assert_eq!(parse_advertisement(&pkt), want);
        }
    }
}
