//! ARP for Ethernet and IPv4 (RFC 826): the request that asks for a next
//! hop's MAC address, and the parse of what comes back.
//!
//! Only the 28-byte Ethernet/IPv4 form exists here (hardware type 1, protocol
//! 0x0800, lengths 6 and 4); anything else parses to `None`. The bytes are the
//! ARP payload alone: the Ethernet header is the socket's business (an
//! `AF_PACKET` `SOCK_DGRAM` socket writes it). [`Repr::parse`] checks the
//! length before reading, so no input makes it panic.

use std::net::Ipv4Addr;

/// Where each field sits in the Ethernet/IPv4 form.
mod field {
    pub type Field = core::ops::Range<usize>;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// Length of an Ethernet/IPv4 ARP payload.
pub const PACKET_LEN: usize = 28;
/// Hardware type: Ethernet.
const HTYPE_ETHERNET: u16 = 1;
/// Protocol type: IPv4 (the EtherType).
const PTYPE_IPV4: u16 = 0x0800;

/// The ARP operation code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(op: u16) -> Self {
        match op {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(op: Operation) -> u16 {
        match op {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub operation: Operation,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: Ipv4Addr,
}

impl Repr {
    /// Parses an Ethernet/IPv4 ARP payload; `None` if it is short or of
    /// another hardware or protocol type. Trailing bytes (Ethernet padding)
    /// are ignored.
    pub fn parse(payload: &[u8]) -> Option<Repr> {
        let p = payload.get(..PACKET_LEN)?;
        let well_formed = be16(&p[field::HTYPE]) == HTYPE_ETHERNET
            && be16(&p[field::PTYPE]) == PTYPE_IPV4
            && p[field::HLEN] == 6
            && p[field::PLEN] == 4;
        if !well_formed {
            return None;
        }
        Some(Repr {
            operation: Operation::from(be16(&p[field::OPER])),
            sender_mac: mac(&p[field::SHA]),
            sender_ip: ipv4(&p[field::SPA]),
            target_mac: mac(&p[field::THA]),
            target_ip: ipv4(&p[field::TPA]),
        })
    }

    /// Bytes [`Repr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet to the front of `buf`; returns its length, or 0 if
    /// `buf` is too short (nothing is written then).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let Some(p) = buf.get_mut(..PACKET_LEN) else {
            return 0;
        };
        p[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        p[field::PTYPE].copy_from_slice(&PTYPE_IPV4.to_be_bytes());
        p[field::HLEN] = 6;
        p[field::PLEN] = 4;
        p[field::OPER].copy_from_slice(&u16::from(self.operation).to_be_bytes());
        p[field::SHA].copy_from_slice(&self.sender_mac);
        p[field::SPA].copy_from_slice(&self.sender_ip.octets());
        p[field::THA].copy_from_slice(&self.target_mac);
        p[field::TPA].copy_from_slice(&self.target_ip.octets());
        PACKET_LEN
    }
}

/// Writes a request asking who has `target_ip` (target MAC zero, as RFC 826
/// leaves it) to the front of `buf`. Returns 28, or 0 if `buf` is shorter.
pub fn build_request(
    buf: &mut [u8],
    sender_mac: [u8; 6],
    sender_ip: Ipv4Addr,
    target_ip: Ipv4Addr,
) -> usize {
    Repr {
        operation: Operation::Request,
        sender_mac,
        sender_ip,
        target_mac: [0; 6],
        target_ip,
    }
    .emit(buf)
}

/// The sender's IPv4 and MAC address of an ARP reply or request: both tell
/// which MAC owns the sender's address. `None` for anything else, and for a
/// probe (RFC 5227: sender address 0.0.0.0), which reveals no mapping.
pub fn parse_reply(payload: &[u8]) -> Option<(Ipv4Addr, [u8; 6])> {
    let repr = Repr::parse(payload)?;
    match repr.operation {
        Operation::Request | Operation::Reply if !repr.sender_ip.is_unspecified() => {
            Some((repr.sender_ip, repr.sender_mac))
        }
        _ => None,
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn mac(b: &[u8]) -> [u8; 6] {
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

fn ipv4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OURS: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
    const THEIRS: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02];

    /// Who has 198.18.200.2? Tell 198.18.200.1 (at 02:00:5e:10:00:01).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet, IPv4, 6, 4, request
        0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, 198, 18, 200, 1, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 198, 18, 200, 2, // target
    ];

    /// 198.18.200.2 is at 02:00:5e:10:00:02 (to 198.18.200.1), with the 18
    /// bytes of padding a minimum-size Ethernet frame carries.
    const REPLY: [u8; 46] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, // Ethernet, IPv4, 6, 4, reply
        0x02, 0x00, 0x5e, 0x10, 0x00, 0x02, 198, 18, 200, 2, // sender
        0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, 198, 18, 200, 1, // target
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding
    ];

    #[test]
    fn request_golden_bytes() {
        let mut buf = [0xaa; 40];
        let n = build_request(
            &mut buf,
            OURS,
            Ipv4Addr::new(198, 18, 200, 1),
            Ipv4Addr::new(198, 18, 200, 2),
        );
        assert_eq!(n, 28);
        assert_eq!(buf[..n], REQUEST);
        assert_eq!(buf[28..], [0xaa; 12], "nothing written past the packet");
    }

    #[test]
    fn request_parses_back() {
        let repr = Repr::parse(&REQUEST).unwrap();
        assert_eq!(repr.operation, Operation::Request);
        assert_eq!(repr.target_ip, Ipv4Addr::new(198, 18, 200, 2));
        assert_eq!(
            parse_reply(&REQUEST),
            Some((Ipv4Addr::new(198, 18, 200, 1), OURS))
        );
    }

    #[test]
    fn reply_golden_bytes_parse_and_emit() {
        let repr = Repr::parse(&REPLY).unwrap();
        assert_eq!(repr.operation, Operation::Reply);
        assert_eq!(repr.target_mac, OURS);
        let mut buf = [0u8; 28];
        assert_eq!(repr.emit(&mut buf), 28);
        assert_eq!(buf, REPLY[..28]);
        assert_eq!(
            parse_reply(&REPLY),
            Some((Ipv4Addr::new(198, 18, 200, 2), THEIRS))
        );
    }

    #[test]
    fn short_buffer_writes_nothing() {
        let mut buf = [0u8; 27];
        let n = build_request(&mut buf, OURS, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
        assert_eq!(n, 0);
        assert_eq!(buf, [0; 27]);
    }

    #[test]
    fn rejects_short_other_types_and_probes() {
        assert_eq!(parse_reply(&REPLY[..27]), None);
        let mut other_hw = REPLY;
        other_hw[1] = 6; // IEEE 802
        assert_eq!(parse_reply(&other_hw), None);
        let mut ipv6 = REPLY;
        ipv6[2..4].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(parse_reply(&ipv6), None);
        let mut rarp = REPLY;
        rarp[7] = 4; // RARP reply
        assert_eq!(parse_reply(&rarp), None);
        assert_eq!(Repr::parse(&rarp).unwrap().operation, Operation::Unknown(4));
        let mut probe = REQUEST;
        probe[14..18].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(parse_reply(&probe), None);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_reply(&bytes);
            let _ = Repr::parse(&bytes);
        }

        #[test]
        fn emit_parse_roundtrip(sha in any::<[u8; 6]>(), spa in any::<u32>(), tha in any::<[u8; 6]>(), tpa in any::<u32>(), op in any::<u16>()) {
            let repr = Repr {
                operation: Operation::from(op),
                sender_mac: sha,
                sender_ip: Ipv4Addr::from(spa),
                target_mac: tha,
                target_ip: Ipv4Addr::from(tpa),
            };
            let mut buf = [0u8; PACKET_LEN];
            prop_assert_eq!(repr.emit(&mut buf), PACKET_LEN);
            prop_assert_eq!(Repr::parse(&buf), Some(repr));
        }
    }
}
