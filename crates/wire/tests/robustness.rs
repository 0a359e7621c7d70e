//! No input makes the parsers panic: random bytes, and valid packets with
//! random bytes overwritten and random cuts (mutations get much deeper into
//! the parser than noise, which mostly fails the version check). What they
//! do return stays within the input.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv6Addr};

use common::{
    emit_icmp_vec, emit_tcp_vec, emit_udp_vec, icmp_error, icmp_packet, ip_params, ping_kind_for,
    tcp_probe,
};
use portolan_wire::ether::{strip_link, LinkType};
use portolan_wire::probe::IpParams;
use portolan_wire::reply::{parse_frame, parse_ip, Reply, ReplyBody};
use proptest::prelude::*;

/// Checks what a parse returned against the input it came from.
fn check(
    packet: &[u8],
    parsed: Result<Reply, portolan_wire::reply::ParseError>,
) -> Result<(), TestCaseError> {
    if let Ok(Reply {
        body: ReplyBody::Udp { payload_len, .. },
        ..
    }) = parsed
    {
        prop_assert!(payload_len + 8 <= packet.len());
    }
    Ok(())
}

/// An IPv6 packet with hop-by-hop, routing, destination options and fragment headers before `upper`.
fn with_extensions(ip: &IpParams, upper_proto: u8, upper: &[u8]) -> Vec<u8> {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (ip.src, ip.dst) else {
        let fallback = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        return with_extensions(
            &IpParams {
                src: fallback.into(),
                dst: fallback.into(),
                ..*ip
            },
            upper_proto,
            upper,
        );
    };
    let exts = [
        43,
        0,
        1,
        4,
        0,
        0,
        0,
        0, // hop-by-hop: next routing
        60,
        0,
        0,
        0,
        0,
        0,
        0,
        0, // routing: next destination options
        44,
        0,
        1,
        4,
        0,
        0,
        0,
        0, // destination options: next fragment
        upper_proto,
        0,
        0,
        1,
        0,
        0,
        0,
        9, // fragment: first, more to come
    ];
    let mut p = vec![0x60, 0, 0, 0];
    p.extend(((exts.len() + upper.len()) as u16).to_be_bytes());
    p.extend([0, ip.ttl]);
    p.extend(src.octets());
    p.extend(dst.octets());
    p.extend(exts);
    p.extend_from_slice(upper);
    p
}

/// A valid packet of one of the kinds the parser knows, chosen by `kind`.
fn valid_packet(kind: u8, ip: &IpParams, tcp: &portolan_wire::probe::TcpProbe) -> Vec<u8> {
    let probe = emit_tcp_vec(ip, tcp);
    let segment = &probe[if ip.src.is_ipv4() { 20 } else { 40 }..];
    match kind % 6 {
        0 => probe,
        5 => {
            let ping = ping_kind_for(ip, kind / 6);
            emit_icmp_vec(
                ip,
                ping,
                tcp.sport,
                tcp.dport,
                &probe[..usize::from(kind) % 16],
            )
        }
        1 => emit_udp_vec(ip, tcp.sport, tcp.dport, &probe),
        2 => icmp_packet(
            ip.dst,
            ip.src,
            &icmp_error(if ip.src.is_ipv4() { 3 } else { 1 }, 3, &probe),
        ),
        3 => icmp_packet(
            ip.dst,
            ip.src,
            &icmp_error(
                if ip.src.is_ipv4() { 11 } else { 3 },
                0,
                &with_extensions(ip, 6, segment),
            ),
        ),
        _ => with_extensions(ip, 6, segment),
    }
}

fn mutations() -> impl Strategy<Value = (Vec<(usize, u8)>, usize)> {
    (
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        any::<usize>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check(&bytes, parse_ip(&bytes))?;
        check(&bytes, parse_frame(&bytes, LinkType::Ethernet))?;
        check(&bytes, parse_frame(&bytes, LinkType::RawIp))?;
        let _ = strip_link(&bytes, LinkType::Ethernet);
    }

    #[test]
    fn random_bytes_behind_a_valid_version(v6: bool, bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut packet = vec![if v6 { 0x60 } else { 0x45 }];
        packet.extend(bytes);
        check(&packet, parse_ip(&packet))?;
    }

    #[test]
    fn mutated_valid_packets(kind: u8, ip in ip_params(), tcp in tcp_probe(), (edits, cut) in mutations()) {
        let mut packet = valid_packet(kind, &ip, &tcp);
        prop_assert!(parse_ip(&packet).is_ok(), "the unmutated packet parses");
        for (at, value) in edits {
            let len = packet.len();
            packet[at % len] = value;
        }
        packet.truncate(cut % (packet.len() + 1));
        check(&packet, parse_ip(&packet))?;
        check(&packet, parse_frame(&packet, LinkType::RawIp))?;
    }
}
