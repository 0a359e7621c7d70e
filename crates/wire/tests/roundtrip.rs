//! What the emitters build, the parser reads back: every field, both
//! families, bare and inside Ethernet (with and without a VLAN tag), and as
//! the quote of an ICMP error cut at any length past the 8 transport bytes.
//! ICMP query probes read back as the request type with their identifier
//! and sequence number, also when quoted.

#![allow(clippy::unwrap_used)]

mod common;

use common::{
    emit_icmp_vec, emit_tcp_vec, emit_udp_vec, icmp_error, icmp_packet, ip_params, ping_kind_for,
    tcp_probe,
};
use portolan_wire::ether::{
    write_eth_header, LinkType, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN,
};
use portolan_wire::reply::{ipproto, parse_frame, parse_ip, Quoted, ReplyBody};
use proptest::prelude::*;

fn ethernet(packet: &[u8], vlan: Option<u16>) -> Vec<u8> {
    let ethertype = if packet[0] >> 4 == 6 {
        ETHERTYPE_IPV6
    } else {
        ETHERTYPE_IPV4
    };
    let mut frame = vec![0u8; 14];
    let outer = if vlan.is_some() {
        ETHERTYPE_VLAN
    } else {
        ethertype
    };
    write_eth_header(&mut frame, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], outer);
    if let Some(tci) = vlan {
        frame.extend(tci.to_be_bytes());
        frame.extend(ethertype.to_be_bytes());
    }
    frame.extend_from_slice(packet);
    frame
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn tcp_fields_survive(ip in ip_params(), tcp in tcp_probe(), vlan: Option<u16>) {
        let packet = emit_tcp_vec(&ip, &tcp);
        let reply = parse_ip(&packet).unwrap();
        prop_assert_eq!((reply.src, reply.dst, reply.ttl), (ip.src, ip.dst, ip.ttl));
        let expected = ReplyBody::Tcp {
            sport: tcp.sport,
            dport: tcp.dport,
            seq: tcp.seq,
            ack: tcp.ack,
            flags: tcp.flags,
            window: tcp.window,
        };
        prop_assert_eq!(reply.body, expected);
        prop_assert_eq!(parse_frame(&ethernet(&packet, vlan), LinkType::Ethernet), Ok(reply));
        prop_assert_eq!(parse_frame(&packet, LinkType::RawIp), Ok(reply));
    }

    #[test]
    fn udp_fields_survive(ip in ip_params(), sport: u16, dport: u16, payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let reply = parse_ip(&emit_udp_vec(&ip, sport, dport, &payload)).unwrap();
        prop_assert_eq!((reply.src, reply.dst, reply.ttl), (ip.src, ip.dst, ip.ttl));
        prop_assert_eq!(reply.body, ReplyBody::Udp { sport, dport, payload_len: payload.len() });
    }

    #[test]
    fn icmp_query_fields_survive(ip in ip_params(), pick: u8, ident: u16, seq: u16, payload in proptest::collection::vec(any::<u8>(), 0..100), vlan: Option<u16>) {
        let kind = ping_kind_for(&ip, pick);
        let packet = emit_icmp_vec(&ip, kind, ident, seq, &payload);
        let reply = parse_ip(&packet).unwrap();
        prop_assert_eq!((reply.src, reply.dst, reply.ttl), (ip.src, ip.dst, ip.ttl));
        let v6 = ip.src.is_ipv6();
        let icmp_type = kind.request_type(v6).unwrap();
        prop_assert_eq!(reply.body, ReplyBody::Icmp { v6, icmp_type, code: 0, ident, seq });
        prop_assert_eq!(parse_frame(&ethernet(&packet, vlan), LinkType::Ethernet), Ok(reply));
    }

    #[test]
    fn quoted_echo_probe_gives_identifier_and_sequence(ip in ip_params(), ident: u16, seq: u16, payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let probe = emit_icmp_vec(&ip, portolan_wire::ping::PingKind::Echo, ident, seq, &payload);
        let icmp_type = if ip.src.is_ipv4() { 11 } else { 3 };
        let packet = icmp_packet(ip.dst, ip.src, &icmp_error(icmp_type, 0, &probe));
        let ReplyBody::IcmpError { quoted, .. } = parse_ip(&packet).unwrap().body else {
            return Err(TestCaseError::fail("not an ICMP error"));
        };
        let protocol = if ip.src.is_ipv4() { ipproto::ICMP } else { ipproto::ICMPV6 };
        prop_assert_eq!((quoted.src, quoted.dst, quoted.protocol), (ip.src, ip.dst, protocol));
        prop_assert_eq!((quoted.sport, quoted.dport, quoted.tcp_seq), (ident, seq, None));
    }

    #[test]
    fn quoted_tcp_probe_at_any_cut(ip in ip_params(), tcp in tcp_probe(), extra in 0usize..40, code: u8) {
        let probe = emit_tcp_vec(&ip, &tcp);
        let ip_len = if ip.src.is_ipv4() { 20 } else { 40 };
        let cut = (ip_len + 8 + extra).min(probe.len());
        let icmp_type = if ip.src.is_ipv4() { 3 } else { 1 };
        let packet = icmp_packet(ip.dst, ip.src, &icmp_error(icmp_type, code, &probe[..cut]));
        let reply = parse_ip(&packet).unwrap();
        let quoted = Quoted {
            src: ip.src,
            dst: ip.dst,
            protocol: ipproto::TCP,
            sport: tcp.sport,
            dport: tcp.dport,
            tcp_seq: Some(tcp.seq),
        };
        let v6 = ip.src.is_ipv6();
        prop_assert_eq!(reply.body, ReplyBody::IcmpError { v6, icmp_type, code, quoted });
    }

    #[test]
    fn quoted_udp_probe_time_exceeded(ip in ip_params(), sport: u16, dport: u16, payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let probe = emit_udp_vec(&ip, sport, dport, &payload);
        let icmp_type = if ip.src.is_ipv4() { 11 } else { 3 };
        let packet = icmp_packet(ip.dst, ip.src, &icmp_error(icmp_type, 0, &probe));
        let ReplyBody::IcmpError { quoted, .. } = parse_ip(&packet).unwrap().body else {
            return Err(TestCaseError::fail("not an ICMP error"));
        };
        prop_assert_eq!((quoted.src, quoted.dst, quoted.protocol), (ip.src, ip.dst, ipproto::UDP));
        prop_assert_eq!((quoted.sport, quoted.dport, quoted.tcp_seq), (sport, dport, None));
    }
}
