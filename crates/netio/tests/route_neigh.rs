//! Route lookups, interfaces and next-hop MAC resolution against real
//! kernels, in network namespaces each test builds for itself.
//!
//! ```text
//!   p1  eth0 198.18.200.2   2001:db8:200::2   02:00:5e:c8:00:02
//!        |
//!   h   eth1 198.18.200.1   2001:db8:200::1   02:00:5e:c8:00:01
//!       eth2 198.18.201.1   2001:db8:201::1   02:00:5e:c9:00:01  (MTU 1400)
//!        |
//!   p2  eth0 198.18.201.2   2001:db8:201::2   02:00:5e:c9:00:02
//! ```
//!
//! In `h`: default routes via p2 (both families); a policy rule sends
//! 198.18.202.0/24 to table 100, which routes it via p1; 198.19.0.0/16 and
//! 2001:db8:300::/64 are local routes on lo; 198.18.203-205.0/24 and
//! 2001:db8:203-205::/64 are unreachable, prohibit and blackhole routes.
//! p1 and p2 have no default route. Needs root and iproute2; without them
//! every test prints SKIPPED and passes. Everything is torn down on drop.

mod nsutil;

use nsutil::Lab;
use portolan_netio::iface::{self, Interface, LinkKind};
use portolan_netio::neighbor;
use portolan_netio::route::{self, Route, RouteCache};
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

const H_ETH1: [u8; 6] = [0x02, 0x00, 0x5e, 0xc8, 0x00, 0x01];
const P1_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0xc8, 0x00, 0x02];
const H_ETH2: [u8; 6] = [0x02, 0x00, 0x5e, 0xc9, 0x00, 0x01];
const P2_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0xc9, 0x00, 0x02];
/// Per try; generous, since nothing here is timed: an answer comes in
/// microseconds and only the silent address waits this long.
const WAIT: Duration = Duration::from_millis(300);

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address literal")
}

fn mac_str(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The topology of the module documentation.
fn two_links() -> Lab {
    let mut lab = Lab::new();
    for node in ["h", "p1", "p2"] {
        lab.add(node);
    }
    lab.veth(
        "h",
        "eth1",
        &mac_str(H_ETH1),
        "p1",
        "eth0",
        &mac_str(P1_MAC),
    );
    lab.veth(
        "h",
        "eth2",
        &mac_str(H_ETH2),
        "p2",
        "eth0",
        &mac_str(P2_MAC),
    );
    lab.ip("h", &["link", "set", "eth2", "mtu", "1400"]);
    lab.ip("p2", &["link", "set", "eth0", "mtu", "1400"]);
    for (node, dev, addrs) in [
        ("h", "eth1", ["198.18.200.1/24", "2001:db8:200::1/64"]),
        ("h", "eth2", ["198.18.201.1/24", "2001:db8:201::1/64"]),
        ("p1", "eth0", ["198.18.200.2/24", "2001:db8:200::2/64"]),
        ("p2", "eth0", ["198.18.201.2/24", "2001:db8:201::2/64"]),
    ] {
        for a in addrs {
            lab.addr(node, dev, a);
        }
    }
    let routes: &[&[&str]] = &[
        &["route", "add", "default", "via", "198.18.201.2"],
        &["-6", "route", "add", "default", "via", "2001:db8:201::2"],
        &["rule", "add", "to", "198.18.202.0/24", "table", "100"],
        &[
            "route",
            "add",
            "198.18.202.0/24",
            "via",
            "198.18.200.2",
            "table",
            "100",
        ],
        &["route", "add", "local", "198.19.0.0/16", "dev", "lo"],
        &[
            "-6",
            "route",
            "add",
            "local",
            "2001:db8:300::/64",
            "dev",
            "lo",
        ],
        &["route", "add", "unreachable", "198.18.203.0/24"],
        &["route", "add", "prohibit", "198.18.204.0/24"],
        &["route", "add", "blackhole", "198.18.205.0/24"],
        &["-6", "route", "add", "unreachable", "2001:db8:203::/64"],
        &["-6", "route", "add", "prohibit", "2001:db8:204::/64"],
        &["-6", "route", "add", "blackhole", "2001:db8:205::/64"],
    ];
    for args in routes {
        lab.ip("h", args);
    }
    lab
}

/// Inside a namespace: the interface named `name`, once its IPv6
/// link-local address exists (it appears when the link comes up; waits at
/// most two seconds).
fn link_with_link_local(name: &str) -> Interface {
    let link = iface::by_name(name).expect("the interface");
    for _ in 0..100 {
        let addrs = iface::addresses(link.index).expect("its addresses");
        if addrs
            .iter()
            .any(|a| matches!(a, IpAddr::V6(v6) if v6.segments()[0] == 0xfe80))
        {
            return link;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{name} never got a link-local address");
}

fn index_of(name: &str) -> u32 {
    iface::by_name(name).expect("the interface").index
}

#[test]
fn ipv4_routes_follow_the_kernel() {
    if !nsutil::can_run("ipv4_routes_follow_the_kernel") {
        return;
    }
    let lab = two_links();
    lab.run("h", || {
        let (eth1, eth2, lo) = (index_of("eth1"), index_of("eth2"), index_of("lo"));
        let on_link = route::lookup(ip("198.18.200.7")).unwrap();
        assert_eq!(
            on_link,
            Route {
                ifindex: eth1,
                src: ip("198.18.200.1"),
                gateway: None,
                local: false
            }
        );
        assert_eq!(
            route::next_hop(&on_link, ip("198.18.200.7")),
            ip("198.18.200.7")
        );
        let other_link = route::lookup(ip("198.18.201.9")).unwrap();
        assert_eq!(
            (other_link.ifindex, other_link.src),
            (eth2, ip("198.18.201.1"))
        );
        assert_eq!(other_link.gateway, None);

        let default = route::lookup(ip("198.18.99.1")).unwrap();
        assert_eq!(
            default,
            Route {
                ifindex: eth2,
                src: ip("198.18.201.1"),
                gateway: Some(ip("198.18.201.2")),
                local: false
            }
        );
        assert_eq!(default.next_hop(ip("198.18.99.1")), ip("198.18.201.2"));

        // The policy rule beats the default route of the main table.
        let ruled = route::lookup(ip("198.18.202.5")).unwrap();
        assert_eq!(
            (ruled.ifindex, ruled.gateway),
            (eth1, Some(ip("198.18.200.2")))
        );
        assert_eq!(ruled.src, ip("198.18.200.1"));

        let local = route::lookup(ip("198.19.3.4")).unwrap();
        assert_eq!(
            local,
            Route {
                ifindex: lo,
                src: ip("198.19.3.4"),
                gateway: None,
                local: true
            }
        );
        let own = route::lookup(ip("198.18.201.1")).unwrap();
        assert!(own.local);
        assert_eq!((own.ifindex, own.src), (lo, ip("198.18.201.1")));

        let mut cache = RouteCache::new();
        assert_eq!(cache.lookup(ip("198.18.99.1")).unwrap(), default);
        assert_eq!(cache.lookup(ip("198.19.3.4")).unwrap(), local);
        assert_eq!(cache.lookup(ip("198.18.99.1")).unwrap(), default);
        assert_eq!(cache.len(), 2);
    });
}

#[test]
fn ipv6_routes_follow_the_kernel() {
    if !nsutil::can_run("ipv6_routes_follow_the_kernel") {
        return;
    }
    let lab = two_links();
    lab.run("h", || {
        let (eth1, eth2, lo) = (index_of("eth1"), index_of("eth2"), index_of("lo"));
        let on_link = route::lookup(ip("2001:db8:200::7")).unwrap();
        assert_eq!(
            on_link,
            Route {
                ifindex: eth1,
                src: ip("2001:db8:200::1"),
                gateway: None,
                local: false
            }
        );
        let default = route::lookup(ip("2001:db8:999::1")).unwrap();
        assert_eq!(
            default,
            Route {
                ifindex: eth2,
                src: ip("2001:db8:201::1"),
                gateway: Some(ip("2001:db8:201::2")),
                local: false
            }
        );
        let local = route::lookup(ip("2001:db8:300::5")).unwrap();
        assert!(local.local);
        assert_eq!(local.ifindex, lo);
        assert_eq!(local.gateway, None);
        let own = route::lookup(ip("2001:db8:200::1")).unwrap();
        assert!(own.local);
        assert_eq!((own.ifindex, own.src), (lo, ip("2001:db8:200::1")));
    });
}

#[test]
fn unroutable_destinations_are_not_found() {
    if !nsutil::can_run("unroutable_destinations_are_not_found") {
        return;
    }
    let lab = two_links();
    let not_found = |dst: &'static str| {
        move || {
            let e = route::lookup(ip(dst)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{dst}: {e}");
            assert!(e.to_string().contains(dst), "names the destination: {e}");
        }
    };
    // No default route in p1.
    lab.run("p1", not_found("198.18.99.1"));
    lab.run("p1", not_found("2001:db8:999::1"));
    for dst in [
        "198.18.203.1",
        "198.18.204.1",
        "198.18.205.1",
        "2001:db8:203::1",
        "2001:db8:204::1",
        "2001:db8:205::1",
    ] {
        lab.run("h", not_found(dst));
    }
    lab.run("h", || {
        let mut cache = RouteCache::new();
        assert!(cache.lookup(ip("198.18.203.1")).is_err());
        assert!(cache.is_empty(), "failures are not cached");
    });
}

#[test]
fn interfaces_described() {
    if !nsutil::can_run("interfaces_described") {
        return;
    }
    let lab = two_links();
    lab.run("h", || {
        let eth1 = link_with_link_local("eth1");
        assert_eq!(eth1.name, "eth1");
        assert_eq!(eth1.mac, Some(H_ETH1));
        assert_eq!(eth1.kind, LinkKind::Ethernet);
        assert_eq!(eth1.mtu, 1500);
        assert!(!eth1.noarp);
        assert!(eth1.needs_resolution());
        assert_eq!(iface::by_index(eth1.index).unwrap(), eth1);
        let eth2 = iface::by_name("eth2").unwrap();
        assert_eq!((eth2.mac, eth2.mtu), (Some(H_ETH2), 1400));
        let lo = iface::by_name("lo").unwrap();
        assert_eq!(lo.kind, LinkKind::Loopback);
        let names: Vec<String> = iface::list().unwrap().into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["lo", "eth1", "eth2"]);

        let addrs = iface::addresses(eth1.index).unwrap();
        assert_eq!(addrs[0], ip("198.18.200.1"), "IPv4 first: {addrs:?}");
        assert!(addrs.contains(&ip("2001:db8:200::1")), "{addrs:?}");
        assert!(
            !addrs.contains(&ip("198.18.201.1")),
            "not eth2's: {addrs:?}"
        );
        assert_eq!(addrs.len(), 3, "v4, global v6, link-local: {addrs:?}");
    });
}

#[test]
fn noarp_link_needs_no_resolution() {
    if !nsutil::can_run("noarp_link_needs_no_resolution") {
        return;
    }
    let lab = two_links();
    lab.ip("h", &["link", "set", "eth1", "arp", "off"]);
    lab.run("h", || {
        let eth1 = iface::by_name("eth1").unwrap();
        assert!(eth1.noarp);
        assert!(!eth1.needs_resolution());
        let hops = [ip("198.18.200.2"), ip("2001:db8:200::2")];
        let got = neighbor::resolve(&eth1, ip("198.18.200.1"), &hops, WAIT, 2).unwrap();
        assert_eq!(got, hops.iter().map(|&h| (h, [0; 6])).collect());
        let lo = iface::by_name("lo").unwrap();
        let got = neighbor::resolve(&lo, ip("198.19.0.1"), &[ip("198.19.0.1")], WAIT, 2).unwrap();
        assert_eq!(got, HashMap::from([(ip("198.19.0.1"), [0; 6])]));
    });
}

#[test]
fn arp_finds_the_peer_with_an_empty_table() {
    if !nsutil::can_run("arp_finds_the_peer_with_an_empty_table") {
        return;
    }
    let lab = two_links();
    lab.ip("h", &["neigh", "flush", "all"]);
    lab.run("h", || {
        let eth1 = iface::by_name("eth1").unwrap();
        let hops = [ip("198.18.200.2"), ip("198.18.200.77")];
        let src = ip("198.18.200.1");
        let table_only = neighbor::resolve(&eth1, src, &hops, WAIT, 0).unwrap();
        assert!(table_only.is_empty(), "the table is empty: {table_only:?}");
        let got = neighbor::resolve(&eth1, src, &hops, WAIT, 2).unwrap();
        assert_eq!(got, HashMap::from([(ip("198.18.200.2"), P1_MAC)]));
    });
}

#[test]
fn solicitation_finds_the_peer_with_an_empty_table() {
    if !nsutil::can_run("solicitation_finds_the_peer_with_an_empty_table") {
        return;
    }
    let lab = two_links();
    lab.ip("h", &["neigh", "flush", "all"]);
    lab.run("h", || {
        let eth1 = link_with_link_local("eth1");
        let hops = [ip("2001:db8:200::2"), ip("2001:db8:200::77")];
        let table_only = neighbor::resolve(&eth1, ip("2001:db8:200::1"), &hops, WAIT, 0).unwrap();
        assert!(table_only.is_empty(), "the table is empty: {table_only:?}");
        let want = HashMap::from([(ip("2001:db8:200::2"), P1_MAC)]);
        let got = neighbor::resolve(&eth1, ip("2001:db8:200::1"), &hops, WAIT, 2).unwrap();
        assert_eq!(got, want);
        // A source on another interface: the solicitation goes out from
        // eth1's link-local address instead, and is answered all the same.
        let got = neighbor::resolve(&eth1, ip("2001:db8:201::1"), &hops[..1], WAIT, 2).unwrap();
        assert_eq!(got, want);
    });
}

#[test]
fn gateway_mac_found_through_the_route() {
    if !nsutil::can_run("gateway_mac_found_through_the_route") {
        return;
    }
    let lab = two_links();
    lab.ip("h", &["neigh", "flush", "all"]);
    lab.run("h", || {
        link_with_link_local("eth2");
        for dst in [ip("198.18.99.1"), ip("2001:db8:999::1")] {
            let route = route::lookup(dst).unwrap();
            let hop = route.next_hop(dst);
            let out = iface::by_index(route.ifindex).unwrap();
            assert_eq!(out.name, "eth2");
            let got = neighbor::resolve(&out, route.src, &[hop], WAIT, 2).unwrap();
            assert_eq!(got, HashMap::from([(hop, P2_MAC)]), "{dst} via {hop}");
        }
    });
}

#[test]
fn kernel_table_answers_without_asking() {
    if !nsutil::can_run("kernel_table_answers_without_asking") {
        return;
    }
    let lab = two_links();
    let fake = "02:00:5e:c8:00:50";
    let fake_mac = [0x02, 0x00, 0x5e, 0xc8, 0x00, 0x50];
    lab.ip("h", &["neigh", "flush", "all"]);
    for args in [
        ["198.18.200.50", "permanent"],
        ["198.18.200.51", "stale"],
        ["2001:db8:200::50", "permanent"],
        ["2001:db8:200::51", "reachable"],
    ] {
        let [addr, state] = args;
        lab.ip(
            "h",
            &[
                "neigh", "add", addr, "lladdr", fake, "dev", "eth1", "nud", state,
            ],
        );
    }
    lab.run("h", move || {
        let eth1 = iface::by_name("eth1").unwrap();
        let hops = [
            ip("198.18.200.50"),
            ip("198.18.200.51"),
            ip("2001:db8:200::50"),
            ip("2001:db8:200::51"),
        ];
        let got = neighbor::resolve(&eth1, ip("198.18.200.1"), &hops, WAIT, 0).unwrap();
        assert_eq!(got, hops.iter().map(|&h| (h, fake_mac)).collect());
        // The entries belong to eth1 only.
        let eth2 = iface::by_name("eth2").unwrap();
        let got = neighbor::resolve(&eth2, ip("198.18.201.1"), &hops, WAIT, 0).unwrap();
        assert!(got.is_empty(), "{got:?}");
    });
}

#[test]
fn a_whole_subnet_is_asked_at_once() {
    if !nsutil::can_run("a_whole_subnet_is_asked_at_once") {
        return;
    }
    let lab = two_links();
    lab.ip("h", &["neigh", "flush", "all"]);
    lab.run("h", || {
        let eth1 = link_with_link_local("eth1");
        let mut hops: Vec<IpAddr> = (2..=254u8)
            .map(|i| IpAddr::from([198, 18, 200, i]))
            .collect();
        hops.extend((2..=130u16).map(|i| IpAddr::from([0x2001, 0xdb8, 0x200, 0, 0, 0, 0, i])));
        let got = neighbor::resolve(&eth1, ip("198.18.200.1"), &hops, WAIT, 1).unwrap();
        let want = HashMap::from([
            (ip("198.18.200.2"), P1_MAC),
            (ip("2001:db8:200::2"), P1_MAC),
        ]);
        assert_eq!(got, want);
    });
}
