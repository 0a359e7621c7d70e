//! Strategies and packet builders shared by the integration tests.
//! Addresses come only from the documentation/benchmark ranges
//! 198.18.0.0/15 and 2001:db8::/32.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use portolan_wire::ping::{emit_icmp, IcmpProbe, PingKind};
use portolan_wire::probe::{emit_tcp, emit_udp, IpParams, TcpProbe, UdpProbe, MAX_PROBE_LEN};
use proptest::prelude::*;

/// An address in 198.18.0.0/15.
pub fn addr4() -> impl Strategy<Value = IpAddr> {
    (0u32..1 << 17).prop_map(|host| IpAddr::V4(Ipv4Addr::from(0xc612_0000 | host)))
}

/// An address in 2001:db8::/32.
pub fn addr6() -> impl Strategy<Value = IpAddr> {
    any::<u128>().prop_map(|host| {
        let prefix = 0x2001_0db8u128 << 96;
        IpAddr::V6(Ipv6Addr::from(prefix | (host & ((1u128 << 96) - 1))))
    })
}

/// Source and destination of one family, either family.
pub fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![(addr4(), addr4()), (addr6(), addr6())]
}

pub fn ip_params() -> impl Strategy<Value = IpParams> {
    (addr_pair(), any::<u8>(), any::<u16>()).prop_map(|((src, dst), ttl, ip_id)| IpParams {
        src,
        dst,
        ttl,
        ip_id,
    })
}

pub fn tcp_probe() -> impl Strategy<Value = TcpProbe> {
    (
        any::<[u16; 3]>(),
        any::<[u32; 2]>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(
            |([sport, dport, window], [seq, ack], flags, mss)| TcpProbe {
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                mss,
            },
        )
}

pub fn emit_tcp_vec(ip: &IpParams, tcp: &TcpProbe) -> Vec<u8> {
    let mut buf = [0u8; MAX_PROBE_LEN];
    let len = emit_tcp(&mut buf, ip, tcp).unwrap();
    buf[..len].to_vec()
}

/// A ping kind that exists in the family of `ip`: any kind over IPv4, echo over IPv6.
pub fn ping_kind_for(ip: &IpParams, pick: u8) -> PingKind {
    match (ip.src.is_ipv6(), pick % 3) {
        (true, _) | (false, 0) => PingKind::Echo,
        (false, 1) => PingKind::Timestamp,
        (false, _) => PingKind::AddressMask,
    }
}

pub fn emit_icmp_vec(
    ip: &IpParams,
    kind: PingKind,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut buf = [0u8; MAX_PROBE_LEN];
    let probe = IcmpProbe {
        kind,
        ident,
        seq,
        payload,
    };
    let len = emit_icmp(&mut buf, ip, &probe).unwrap();
    buf[..len].to_vec()
}

pub fn emit_udp_vec(ip: &IpParams, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; MAX_PROBE_LEN];
    let udp = UdpProbe {
        sport,
        dport,
        payload,
    };
    let len = emit_udp(&mut buf, ip, &udp).unwrap();
    buf[..len].to_vec()
}

/// Wraps `message` in an IPv4 (protocol 1) or IPv6 (next header 58) header
/// of the family of `src`, from `src` to `dst`, with its length fields set.
pub fn icmp_packet(src: IpAddr, dst: IpAddr, message: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut p = vec![0x45, 0];
            p.extend(((20 + message.len()) as u16).to_be_bytes());
            p.extend([0, 0, 0, 0, 250, 1, 0, 0]);
            p.extend(s.octets());
            p.extend(d.octets());
            p.extend_from_slice(message);
            p
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut p = vec![0x60, 0, 0, 0];
            p.extend((message.len() as u16).to_be_bytes());
            p.extend([58, 250]);
            p.extend(s.octets());
            p.extend(d.octets());
            p.extend_from_slice(message);
            p
        }
        _ => panic!("mixed families"),
    }
}

/// An ICMP error message (type, code, zero checksum, four zero bytes) quoting `quote`.
pub fn icmp_error(icmp_type: u8, code: u8, quote: &[u8]) -> Vec<u8> {
    let mut m = vec![icmp_type, code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(quote);
    m
}
