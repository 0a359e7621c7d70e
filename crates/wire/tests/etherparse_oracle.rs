//! Differential tests against etherparse, an independent implementation:
//! what we emit (TCP, UDP, ICMP queries), it parses with the same fields and
//! valid checksums; what it builds, we parse with the same fields.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::{emit_icmp_vec, emit_tcp_vec, emit_udp_vec, ip_params, ping_kind_for, tcp_probe};
use etherparse::{
    Icmpv4Type, Icmpv6Type, NetHeaders, PacketBuilder, PacketBuilderStep, PacketHeaders, TcpHeader,
    TransportHeader,
};
use portolan_wire::ping::PingKind;
use portolan_wire::probe::{tcp_flags, IpParams};
use portolan_wire::reply::{parse_ip, ReplyBody};
use proptest::prelude::*;

fn v4(addr: IpAddr) -> [u8; 4] {
    match addr {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(_) => panic!("expected IPv4"),
    }
}

fn v6(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(_) => panic!("expected IPv6"),
    }
}

/// Checks the IP header etherparse read from one of our probes, its
/// IPv4 header checksum included.
fn check_net(net: &NetHeaders, ip: &IpParams, protocol: u8) -> Result<(), TestCaseError> {
    match net {
        NetHeaders::Ipv4(h, _) => {
            prop_assert_eq!(h.header_checksum, h.calc_header_checksum());
            prop_assert!(!h.dont_fragment && !h.more_fragments);
            prop_assert_eq!(
                (h.time_to_live, h.identification, h.protocol.0),
                (ip.ttl, ip.ip_id, protocol)
            );
            prop_assert_eq!((h.source, h.destination), (v4(ip.src), v4(ip.dst)));
        }
        NetHeaders::Ipv6(h, _) => {
            prop_assert_eq!((h.traffic_class, h.flow_label.value()), (0, 0));
            prop_assert_eq!((h.hop_limit, h.next_header.0), (ip.ttl, protocol));
            prop_assert_eq!((h.source, h.destination), (v6(ip.src), v6(ip.dst)));
        }
        NetHeaders::Arp(_) => prop_assert!(false, "ARP"),
    }
    Ok(())
}

fn tcp_checksum(net: &NetHeaders, tcp: &TcpHeader) -> u16 {
    match net {
        NetHeaders::Ipv4(h, _) => tcp.calc_checksum_ipv4(h, &[]).unwrap(),
        NetHeaders::Ipv6(h, _) => tcp.calc_checksum_ipv6(h, &[]).unwrap(),
        NetHeaders::Arp(_) => 0,
    }
}

fn flags_of(t: &TcpHeader) -> u8 {
    use tcp_flags::*;
    let bits = [
        (t.fin, FIN),
        (t.syn, SYN),
        (t.rst, RST),
        (t.psh, PSH),
        (t.ack, ACK),
        (t.urg, URG),
        (t.ece, ECE),
        (t.cwr, CWR),
    ];
    bits.iter()
        .filter(|(set, _)| *set)
        .map(|(_, bit)| bit)
        .sum()
}

/// Starts an etherparse packet of the family of `ip`.
fn builder(ip: &IpParams) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), ip.ttl),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), ip.ttl),
        _ => panic!("mixed families"),
    }
}

type TcpStep = PacketBuilderStep<TcpHeader>;
type SetFlag = fn(TcpStep) -> TcpStep;

/// Sets etherparse's flag bits one builder call at a time.
fn with_flags(mut b: TcpStep, flags: u8, ack: u32) -> TcpStep {
    use tcp_flags::*;
    let steps: [(u8, SetFlag); 6] = [
        (FIN, |b| b.fin()),
        (SYN, |b| b.syn()),
        (RST, |b| b.rst()),
        (PSH, |b| b.psh()),
        (ECE, |b| b.ece()),
        (CWR, |b| b.cwr()),
    ];
    for (bit, step) in steps {
        if flags & bit != 0 {
            b = step(b);
        }
    }
    if flags & ACK != 0 {
        b.ack(ack)
    } else {
        b
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn etherparse_reads_our_tcp(ip in ip_params(), tcp in tcp_probe()) {
        let packet = emit_tcp_vec(&ip, &tcp);
        let headers = PacketHeaders::from_ip_slice(&packet).unwrap();
        let net = headers.net.unwrap();
        check_net(&net, &ip, 6)?;
        let Some(TransportHeader::Tcp(t)) = headers.transport else {
            return Err(TestCaseError::fail("no TCP header"));
        };
        prop_assert_eq!(t.checksum, tcp_checksum(&net, &t));
        prop_assert_eq!((t.source_port, t.destination_port), (tcp.sport, tcp.dport));
        prop_assert_eq!((t.sequence_number, t.acknowledgment_number), (tcp.seq, tcp.ack));
        prop_assert_eq!((flags_of(&t), t.window_size, t.urgent_pointer), (tcp.flags, tcp.window, 0));
        let options: &[u8] = if tcp.mss { &[2, 4, 0x05, 0xb4] } else { &[] };
        prop_assert_eq!(t.options.as_slice(), options);
    }

    #[test]
    fn etherparse_reads_our_udp(ip in ip_params(), sport: u16, dport: u16, payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        let packet = emit_udp_vec(&ip, sport, dport, &payload);
        let headers = PacketHeaders::from_ip_slice(&packet).unwrap();
        let net = headers.net.unwrap();
        check_net(&net, &ip, 17)?;
        let Some(TransportHeader::Udp(u)) = headers.transport else {
            return Err(TestCaseError::fail("no UDP header"));
        };
        let expected = match &net {
            NetHeaders::Ipv4(h, _) => u.calc_checksum_ipv4(h, &payload).unwrap(),
            NetHeaders::Ipv6(h, _) => u.calc_checksum_ipv6(h, &payload).unwrap(),
            NetHeaders::Arp(_) => 0,
        };
        prop_assert_eq!(u.checksum, expected);
        prop_assert_eq!((u.source_port, u.destination_port, usize::from(u.length)), (sport, dport, 8 + payload.len()));
        prop_assert_eq!(headers.payload.slice(), &payload[..]);
    }

    #[test]
    fn we_read_etherparse_tcp(ip in ip_params(), tcp in tcp_probe(), payload in proptest::collection::vec(any::<u8>(), 0..40)) {
        let b = builder(&ip).tcp(tcp.sport, tcp.dport, tcp.seq, tcp.window);
        let b = with_flags(b, tcp.flags & !tcp_flags::URG, tcp.ack);
        let mut packet = Vec::new();
        b.write(&mut packet, &payload).unwrap();
        let reply = parse_ip(&packet).unwrap();
        prop_assert_eq!((reply.src, reply.dst, reply.ttl), (ip.src, ip.dst, ip.ttl));
        let ack = if tcp.flags & tcp_flags::ACK != 0 { tcp.ack } else { 0 };
        let flags = tcp.flags & !tcp_flags::URG;
        let expected = ReplyBody::Tcp { sport: tcp.sport, dport: tcp.dport, seq: tcp.seq, ack, flags, window: tcp.window };
        prop_assert_eq!(reply.body, expected);
    }

    #[test]
    fn we_read_etherparse_udp(ip in ip_params(), sport: u16, dport: u16, payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut packet = Vec::new();
        builder(&ip).udp(sport, dport).write(&mut packet, &payload).unwrap();
        let reply = parse_ip(&packet).unwrap();
        prop_assert_eq!(reply.body, ReplyBody::Udp { sport, dport, payload_len: payload.len() });
    }

    #[test]
    fn we_read_etherparse_icmp_errors(ip in ip_params(), tcp in tcp_probe(), code: u8, cut in 8usize..60) {
        // The probe came from us to the target; the error comes back from the target.
        let probe = emit_tcp_vec(&ip, &tcp);
        let ip_len = if ip.src.is_ipv4() { 20 } else { 40 };
        let quote = &probe[..(ip_len + cut).min(probe.len())];
        let back = IpParams { src: ip.dst, dst: ip.src, ..ip };
        let (is_v6, icmp_type) = (ip.src.is_ipv6(), if ip.src.is_ipv4() { 3 } else { 1 });
        let mut packet = Vec::new();
        if is_v6 {
            builder(&back).icmpv6_raw(icmp_type, code, [0; 4]).write(&mut packet, quote).unwrap();
        } else {
            builder(&back).icmpv4_raw(icmp_type, code, [0; 4]).write(&mut packet, quote).unwrap();
        }
        let ReplyBody::IcmpError { v6, icmp_type: t, code: c, quoted } = parse_ip(&packet).unwrap().body else {
            return Err(TestCaseError::fail("not an ICMP error"));
        };
        prop_assert_eq!((v6, t, c), (is_v6, icmp_type, code));
        prop_assert_eq!((quoted.src, quoted.dst, quoted.sport, quoted.dport), (ip.src, ip.dst, tcp.sport, tcp.dport));
        prop_assert_eq!(quoted.tcp_seq, Some(tcp.seq));
    }

    #[test]
    fn etherparse_reads_our_icmp_queries(ip in ip_params(), pick: u8, ident: u16, seq: u16, payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        // etherparse reads a timestamp request only at its exact 20 bytes.
        let kind = ping_kind_for(&ip, pick);
        let payload = if kind == PingKind::Timestamp { &[][..] } else { &payload[..] };
        let packet = emit_icmp_vec(&ip, kind, ident, seq, payload);
        let headers = PacketHeaders::from_ip_slice(&packet).unwrap();
        let net = headers.net.unwrap();
        let rest = headers.payload.slice();
        match headers.transport {
            Some(TransportHeader::Icmpv4(h)) => {
                check_net(&net, &ip, 1)?;
                prop_assert_eq!(h.checksum, h.icmp_type.calc_checksum(rest));
                match (kind, h.icmp_type) {
                    (PingKind::Echo, Icmpv4Type::EchoRequest(e)) => {
                        prop_assert_eq!((e.id, e.seq, rest), (ident, seq, payload));
                    }
                    (PingKind::Timestamp, Icmpv4Type::TimestampRequest(t)) => {
                        prop_assert_eq!((t.id, t.seq), (ident, seq));
                        let stamps = (t.originate_timestamp, t.receive_timestamp, t.transmit_timestamp);
                        prop_assert_eq!(stamps, (0, 0, 0));
                    }
                    (PingKind::AddressMask, Icmpv4Type::Unknown { type_u8: 17, code_u8: 0, bytes5to8 }) => {
                        let ids = [ident.to_be_bytes(), seq.to_be_bytes()].concat();
                        prop_assert_eq!(&bytes5to8[..], &ids[..]);
                        let mut expected = vec![0u8; 4];
                        expected.extend_from_slice(payload);
                        prop_assert_eq!(rest, &expected[..]);
                    }
                    (kind, other) => prop_assert!(false, "{:?} read as {:?}", kind, other),
                }
            }
            Some(TransportHeader::Icmpv6(h)) => {
                check_net(&net, &ip, 58)?;
                let expected = h.icmp_type.calc_checksum(v6(ip.src), v6(ip.dst), rest).unwrap();
                prop_assert_eq!(h.checksum, expected);
                let Icmpv6Type::EchoRequest(e) = h.icmp_type else {
                    return Err(TestCaseError::fail(format!("not an echo request: {:?}", h.icmp_type)));
                };
                prop_assert_eq!((e.id, e.seq, rest), (ident, seq, payload));
            }
            other => prop_assert!(false, "no ICMP header: {:?}", other),
        }
    }

    #[test]
    fn we_read_etherparse_echo_replies(ip in ip_params(), ident: u16, seq: u16, payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut packet = Vec::new();
        let (is_v6, icmp_type) = (ip.src.is_ipv6(), if ip.src.is_ipv6() { 129 } else { 0 });
        if is_v6 {
            builder(&ip).icmpv6_echo_reply(ident, seq).write(&mut packet, &payload).unwrap();
        } else {
            builder(&ip).icmpv4_echo_reply(ident, seq).write(&mut packet, &payload).unwrap();
        }
        let reply = parse_ip(&packet).unwrap();
        prop_assert_eq!(reply.body, ReplyBody::Icmp { v6: is_v6, icmp_type, code: 0, ident, seq });
        prop_assert_eq!(PingKind::of_reply(icmp_type, is_v6), Some(PingKind::Echo));
    }
}
