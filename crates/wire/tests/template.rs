//! `TcpTemplate::write` must be byte-for-byte `emit_tcp`: the template's
//! incremental checksums (RFC 1624) are only an optimisation.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::{addr4, addr6, emit_tcp_vec, tcp_probe};
use portolan_wire::probe::{IpParams, TcpProbe, TcpTemplate, MAX_PROBE_LEN};
use proptest::prelude::*;

/// Writes through a fresh template into a buffer full of stale bytes and
/// compares with `emit_tcp` for the same fields.
fn check_same(
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_id: u16,
    tcp: TcpProbe,
) -> Result<(), TestCaseError> {
    let template = TcpTemplate::new(src, tcp.flags, tcp.window, tcp.mss, ttl);
    let mut buf = [0xa5u8; MAX_PROBE_LEN];
    let len = template
        .write(&mut buf, dst, tcp.sport, tcp.dport, tcp.seq, tcp.ack, ip_id)
        .unwrap();
    let expected = emit_tcp_vec(
        &IpParams {
            src,
            dst,
            ttl,
            ip_id,
        },
        &tcp,
    );
    prop_assert_eq!(&buf[..len], &expected[..]);
    prop_assert_eq!(template.len(), len);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn template_matches_emit_ipv4(src in addr4(), dst in addr4(), ttl: u8, ip_id: u16, tcp in tcp_probe()) {
        check_same(src, dst, ttl, ip_id, tcp)?;
    }

    #[test]
    fn template_matches_emit_ipv6(src in addr6(), dst in addr6(), ttl: u8, ip_id: u16, tcp in tcp_probe()) {
        check_same(src, dst, ttl, ip_id, tcp)?;
    }
}

proptest! {
    /// One template reused for many destinations, as the hot path does:
    /// nothing from an earlier probe leaks into a later one.
    #[test]
    fn reused_template_matches_emit(
        src in addr4(),
        probes in proptest::collection::vec((addr4(), any::<[u16; 3]>(), any::<[u32; 2]>()), 1..20),
    ) {
        let template = TcpTemplate::new(src, 0x12, 29200, true, 48);
        let mut buf = [0u8; 64];
        for (dst, [sport, dport, ip_id], [seq, ack]) in probes {
            let len = template.write(&mut buf, dst, sport, dport, seq, ack, ip_id).unwrap();
            let tcp = TcpProbe { sport, dport, seq, ack, flags: 0x12, window: 29200, mss: true };
            let expected = emit_tcp_vec(&IpParams { src, dst, ttl: 48, ip_id }, &tcp);
            prop_assert_eq!(&buf[..len], &expected[..]);
        }
    }
}

/// Regression guard for the end-around carry: all-ones fields push the
/// unfolded sums as high as they go.
#[test]
fn extreme_field_values() {
    let all_ones = TcpProbe {
        sport: 0xffff,
        dport: 0xffff,
        seq: !0,
        ack: !0,
        flags: 0xff,
        window: 0xffff,
        mss: true,
    };
    let zeros = TcpProbe {
        sport: 0,
        dport: 0,
        seq: 0,
        ack: 0,
        flags: 0,
        window: 0,
        mss: false,
    };
    let v4 = (
        "198.19.255.255".parse().unwrap(),
        "198.19.255.254".parse().unwrap(),
    );
    let v6 = (
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
        "2001:db8::".parse().unwrap(),
    );
    for (src, dst) in [v4, v6] {
        for tcp in [all_ones, zeros] {
            for ttl in [0, 255] {
                check_same(src, dst, ttl, 0xffff, tcp).unwrap();
                check_same(src, dst, ttl, 0, tcp).unwrap();
            }
        }
    }
}
