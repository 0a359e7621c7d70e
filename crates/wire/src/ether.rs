//! Link headers: Ethernet II (with one optional 802.1Q tag) or none at all.
//!
//! Probes are built from the IP header onward (see [`crate::probe`]); the
//! driver prepends the link header with [`write_eth_header`] when the
//! interface has one. On receive, [`strip_link`] hands the network-layer
//! bytes to [`crate::reply::parse_ip`]. Neither function panics on any
//! input: short buffers give `0` or `None`.

/// An Ethernet (EUI-48) hardware address.
pub type MacAddr = [u8; 6];

/// Length of an Ethernet II header without a VLAN tag.
pub const ETH_HEADER_LEN: usize = 14;
/// Length of one 802.1Q tag (TPID is the outer EtherType; then TCI and the inner EtherType).
pub const VLAN_TAG_LEN: usize = 4;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// Byte layout of an Ethernet II header (IEEE 802.3 clause 3, DIX framing).
pub mod field {
    use core::ops::Range;

    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    /// Inside an 802.1Q tag that starts at [`ETHERTYPE`]: the inner EtherType.
    pub const VLAN_INNER_ETHERTYPE: Range<usize> = 16..18;
}

/// How frames on an interface begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Frames start with a 14-byte Ethernet header (also Linux loopback).
    Ethernet,
    /// No link header: tun devices, some VPNs. The IP version nibble tells the family.
    RawIp,
}

impl LinkType {
    /// Bytes of link header that [`write_eth_header`] puts in front of a probe.
    pub fn header_len(self) -> usize {
        match self {
            LinkType::Ethernet => ETH_HEADER_LEN,
            LinkType::RawIp => 0,
        }
    }
}

/// Writes an untagged Ethernet II header at the start of `buf`.
///
/// Returns the number of bytes written: [`ETH_HEADER_LEN`], or `0` (and
/// writes nothing) if `buf` is shorter than that.
pub fn write_eth_header(buf: &mut [u8], dst: MacAddr, src: MacAddr, ethertype: u16) -> usize {
    let Some(header) = buf.get_mut(..ETH_HEADER_LEN) else {
        return 0;
    };
    header[field::DST].copy_from_slice(&dst);
    header[field::SRC].copy_from_slice(&src);
    header[field::ETHERTYPE].copy_from_slice(&ethertype.to_be_bytes());
    ETH_HEADER_LEN
}

/// Strips the link header (and one 802.1Q tag) and returns `(ethertype, payload)`.
///
/// For [`LinkType::RawIp`] the EtherType is inferred from the IP version
/// nibble. `None` if the frame is too short for its header, or a raw frame
/// is neither IPv4 nor IPv6. The payload may carry Ethernet padding past the
/// IP packet; the IP length fields tell where the packet really ends.
pub fn strip_link(frame: &[u8], link: LinkType) -> Option<(u16, &[u8])> {
    match link {
        LinkType::Ethernet => strip_ethernet(frame),
        LinkType::RawIp => raw_ip_family(frame).map(|ethertype| (ethertype, frame)),
    }
}

fn strip_ethernet(frame: &[u8]) -> Option<(u16, &[u8])> {
    let ethertype = read_u16(frame, field::ETHERTYPE.start)?;
    if ethertype != ETHERTYPE_VLAN {
        return Some((ethertype, frame.get(ETH_HEADER_LEN..)?));
    }
    let inner = read_u16(frame, field::VLAN_INNER_ETHERTYPE.start)?;
    Some((inner, frame.get(ETH_HEADER_LEN + VLAN_TAG_LEN..)?))
}

fn raw_ip_family(packet: &[u8]) -> Option<u16> {
    match packet.first()? >> 4 {
        4 => Some(ETHERTYPE_IPV4),
        6 => Some(ETHERTYPE_IPV6),
        _ => None,
    }
}

fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DST: MacAddr = [0x02, 0, 0, 0, 0, 0x01];
    const SRC: MacAddr = [0x02, 0, 0, 0, 0, 0x02];

    #[test]
    fn header_golden_bytes() {
        let mut buf = [0u8; 20];
        assert_eq!(write_eth_header(&mut buf, DST, SRC, ETHERTYPE_IPV6), 14);
        let expected = [
            0x02, 0, 0, 0, 0, 0x01, // destination
            0x02, 0, 0, 0, 0, 0x02, // source
            0x86, 0xdd, // EtherType IPv6
        ];
        assert_eq!(&buf[..14], &expected);
        assert_eq!(&buf[14..], &[0u8; 6], "nothing written past the header");
    }

    #[test]
    fn short_buffer_writes_nothing() {
        let mut buf = [0xaau8; 13];
        assert_eq!(write_eth_header(&mut buf, DST, SRC, ETHERTYPE_IPV4), 0);
        assert_eq!(buf, [0xaa; 13]);
    }

    #[test]
    fn untagged_frame() {
        let mut frame = [0u8; 18];
        write_eth_header(&mut frame, DST, SRC, ETHERTYPE_ARP);
        frame[14..].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            strip_link(&frame, LinkType::Ethernet),
            Some((ETHERTYPE_ARP, &[1u8, 2, 3, 4][..]))
        );
    }

    #[test]
    fn one_vlan_tag_is_stripped() {
        let mut frame = vec![0u8; 14];
        write_eth_header(&mut frame, DST, SRC, ETHERTYPE_VLAN);
        frame.extend_from_slice(&[0x20, 0x0a]); // TCI: priority 1, VLAN 10
        frame.extend_from_slice(&[0x08, 0x00]); // inner EtherType IPv4
        frame.extend_from_slice(&[0x45, 0x00]);
        let (ethertype, payload) = strip_link(&frame, LinkType::Ethernet).unwrap();
        assert_eq!(ethertype, ETHERTYPE_IPV4);
        assert_eq!(payload, &[0x45, 0x00]);
    }

    #[test]
    fn truncated_frames() {
        assert_eq!(strip_link(&[0u8; 13], LinkType::Ethernet), None);
        let mut tagged = [0u8; 17];
        write_eth_header(&mut tagged, DST, SRC, ETHERTYPE_VLAN);
        assert_eq!(strip_link(&tagged, LinkType::Ethernet), None);
        let mut bare = [0u8; 14];
        write_eth_header(&mut bare, DST, SRC, ETHERTYPE_IPV4);
        assert_eq!(
            strip_link(&bare, LinkType::Ethernet),
            Some((0x0800, &[][..]))
        );
    }

    #[test]
    fn raw_ip_family_from_version_nibble() {
        let v4 = [0x45, 0];
        let v6 = [0x60, 0];
        assert_eq!(
            strip_link(&v4, LinkType::RawIp),
            Some((ETHERTYPE_IPV4, &v4[..]))
        );
        assert_eq!(
            strip_link(&v6, LinkType::RawIp),
            Some((ETHERTYPE_IPV6, &v6[..]))
        );
        assert_eq!(strip_link(&[0x50], LinkType::RawIp), None);
        assert_eq!(strip_link(&[], LinkType::RawIp), None);
    }

    proptest! {
        #[test]
        fn never_panics(frame in proptest::collection::vec(any::<u8>(), 0..40)) {
            for link in [LinkType::Ethernet, LinkType::RawIp] {
                if let Some((_, payload)) = strip_link(&frame, link) {
                    prop_assert!(payload.len() <= frame.len());
                }
            }
        }
    }
}
