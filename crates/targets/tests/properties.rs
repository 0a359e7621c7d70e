//! Property tests for the parsers and the target set, through the public API.

use portolan_targets::{
    parse_exclude_list, parse_ports, parse_target, parse_target_list, ConcreteSpec, Include,
    Permutation, PortTable, TargetSet, TargetSpec,
};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

fn concrete(token: &str) -> ConcreteSpec {
    match parse_target(token) {
        Ok(TargetSpec::Concrete(c)) => c,
        other => panic!("{token}: {other:?}"),
    }
}

fn empty_table() -> PortTable {
    PortTable::parse("").expect("the empty table is valid")
}

/// One octet item as text, and the values it denotes.
fn octet_item() -> impl Strategy<Value = (String, (u8, u8))> {
    prop_oneof![
        any::<u8>().prop_map(|v| (v.to_string(), (v, v))),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| {
            let (lo, hi) = (a.min(b), a.max(b));
            (format!("{lo}-{hi}"), (lo, hi))
        }),
        any::<u8>().prop_map(|v| (format!("{v}-"), (v, 255))),
        any::<u8>().prop_map(|v| (format!("-{v}"), (0, v))),
        Just(("*".to_owned(), (0, 255))),
    ]
}

/// An octet as text (a comma list of items), with its value ranges.
fn octet() -> impl Strategy<Value = (String, Vec<(u8, u8)>)> {
    prop::collection::vec(octet_item(), 1..4).prop_map(|items| {
        let text: Vec<String> = items.iter().map(|(t, _)| t.clone()).collect();
        (text.join(","), items.into_iter().map(|(_, r)| r).collect())
    })
}

fn in_ranges(ranges: &[(u8, u8)], v: u8) -> bool {
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&v))
}

/// A port-spec item as text, and the inclusive range it denotes.
fn port_item() -> impl Strategy<Value = (String, (u16, u16))> {
    prop_oneof![
        any::<u16>().prop_map(|p| (p.to_string(), (p, p))),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| {
            let (lo, hi) = (a.min(b), a.max(b));
            (format!("{lo}-{hi}"), (lo, hi))
        }),
        (1..=u16::MAX).prop_map(|p| (format!("-{p}"), (1, p))),
        any::<u16>().prop_map(|p| (format!("{p}-"), (p, u16::MAX))),
    ]
}

proptest! {
    #[test]
    fn ipv4_cidr_round_trips(addr in any::<u32>(), prefix in 0u8..=32, pick in any::<u64>()) {
        let spec = concrete(&format!("{}/{prefix}", Ipv4Addr::from(addr)));
        let len = 1u64 << (32 - prefix);
        prop_assert_eq!(spec.len(), len);
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        prop_assert_eq!(spec.nth(0), Some(IpAddr::V4(Ipv4Addr::from(addr & mask))));
        let i = pick % len;
        let nth = spec.nth(i).unwrap();
        prop_assert!(spec.contains(nth));
        prop_assert_eq!(spec.nth(len), None);
    }

    #[test]
    fn octet_ranges_are_ascending_and_contained(
        octets in prop::array::uniform4(octet()),
        picks in prop::collection::vec(any::<u64>(), 1..50),
        probe in any::<u32>(),
    ) {
        let token = octets.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(".");
        let spec = concrete(&token);
        let mut indices: Vec<u64> = picks.iter().map(|p| p % spec.len()).collect();
        indices.sort_unstable();
        indices.dedup();
        let addrs: Vec<IpAddr> = indices.iter().map(|&i| spec.nth(i).unwrap()).collect();
        prop_assert!(addrs.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(addrs.iter().all(|&a| spec.contains(a)));
        let probe = Ipv4Addr::from(probe);
        let expected = octets.iter().zip(probe.octets()).all(|((_, r), v)| in_ranges(r, v));
        prop_assert_eq!(spec.contains(IpAddr::V4(probe)), expected);
    }

    #[test]
    fn port_lists_parse_back_to_the_same_set(items in prop::collection::vec(port_item(), 1..20)) {
        let text: Vec<String> = items.iter().map(|(t, _)| t.clone()).collect();
        let spec = parse_ports(&text.join(","), &empty_table()).unwrap();
        let mut wanted = vec![false; 65536];
        for &(_, (lo, hi)) in &items {
            wanted[usize::from(lo)..=usize::from(hi)].fill(true);
        }
        let expected: Vec<u16> = (0..=u16::MAX).filter(|&p| wanted[usize::from(p)]).collect();
        prop_assert_eq!(spec.tcp_ports(), expected.clone());
        prop_assert_eq!(spec.udp_ports(), expected);
    }

    #[test]
    fn parsers_never_panic(text in "\\PC*") {
        let _ = parse_target(&text);
        let _ = parse_ports(&text, &empty_table());
        let _ = parse_exclude_list(&text);
        let _ = parse_target_list(&text);
        let _ = PortTable::parse(&text);
    }

    #[test]
    fn target_like_strings_never_panic(text in "[0-9a-f.:,*/-]{0,40}") {
        if let Ok(TargetSpec::Concrete(spec)) = parse_target(&text) {
            prop_assert!(spec.nth(spec.len() - 1).is_some_and(|a| spec.contains(a)));
        }
    }

    #[test]
    fn permutations_are_bijective(n in 1u64..3000, seed in any::<u64>()) {
        let perm = Permutation::new(n, seed);
        let seen: BTreeSet<u64> = perm.iter().collect();
        prop_assert_eq!(seen.len() as u64, n);
        prop_assert!(seen.iter().all(|&x| x < n));
    }

    #[test]
    fn target_sets_visit_the_union_minus_exclusions(
        includes in prop::collection::vec((0u8..4, 0u8..=255, 24u8..=32), 1..6),
        excludes in prop::collection::vec((0u8..4, 0u8..=255, 26u8..=32), 0..4),
        seed in any::<u64>(),
    ) {
        let spec = |&(c, d, p): &(u8, u8, u8)| concrete(&format!("198.18.{c}.{d}/{p}"));
        let inc: Vec<ConcreteSpec> = includes.iter().map(spec).collect();
        let exc: Vec<ConcreteSpec> = excludes.iter().map(spec).collect();
        let expected: BTreeSet<IpAddr> = inc
            .iter()
            .flat_map(ConcreteSpec::addrs)
            .filter(|a| !exc.iter().any(|e| e.contains(*a)))
            .collect();
        let set = TargetSet::new(inc.into_iter().map(Include::spec).collect(), exc).unwrap();
        let visited: Vec<IpAddr> = set.iter(seed).map(|t| t.addr).collect();
        let unique: BTreeSet<IpAddr> = visited.iter().copied().collect();
        prop_assert_eq!(unique.len(), visited.len());
        prop_assert_eq!(&unique, &expected);
        prop_assert_eq!(set.exact_count(u64::MAX), Some(expected.len() as u64));
    }
}
