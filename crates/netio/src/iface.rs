//! Network interfaces: name, link type, MAC address, MTU, and addresses.
//!
//! Asked of the kernel over rtnetlink (`RTM_GETLINK`, `RTM_GETADDR`), in the
//! network namespace of the calling thread.

use crate::route::netlink::{self, Attrs, Request};
use std::io;
use std::net::IpAddr;

/// What kind of link-layer header frames on an interface carry, which decides
/// how Portolan frames its probes and whether next hops need MAC addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// Ethernet framing (also veth, bridges, bonds, VLANs, macvlan, tap).
    Ethernet,
    /// The loopback interface.
    Loopback,
    /// Bare IP packets, no link-layer header: tun, WireGuard, PPP, IP-in-IP,
    /// SIT and GRE tunnels.
    RawIp,
    /// Anything else, by its ARPHRD_* number.
    Other(u16),
}

/// ARPHRD_* numbers from linux/if_arp.h.
mod arphrd {
    pub const ETHER: u16 = 1;
    pub const PPP: u16 = 512;
    pub const RAWIP: u16 = 519;
    pub const TUNNEL: u16 = 768;
    pub const TUNNEL6: u16 = 769;
    pub const LOOPBACK: u16 = 772;
    pub const SIT: u16 = 776;
    pub const IPGRE: u16 = 778;
    pub const IP6GRE: u16 = 823;
    pub const NONE: u16 = 0xfffe;
}

impl From<u16> for LinkKind {
    fn from(arphrd: u16) -> LinkKind {
        match arphrd {
            arphrd::ETHER => LinkKind::Ethernet,
            arphrd::LOOPBACK => LinkKind::Loopback,
            arphrd::NONE
            | arphrd::RAWIP
            | arphrd::PPP
            | arphrd::TUNNEL
            | arphrd::TUNNEL6
            | arphrd::SIT
            | arphrd::IPGRE
            | arphrd::IP6GRE => LinkKind::RawIp,
            other => LinkKind::Other(other),
        }
    }
}

/// One network interface as the kernel describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    /// The link-layer address, when it is 6 bytes long.
    pub mac: Option<[u8; 6]>,
    pub kind: LinkKind,
    pub mtu: u32,
    /// IFF_NOARP: the link resolves no neighbours (point-to-point, or
    /// `ip link set arp off`).
    pub noarp: bool,
}

impl Interface {
    /// Whether frames to a next hop on this interface need the hop's MAC
    /// address: only on an Ethernet link that does ARP/NDP.
    pub fn needs_resolution(&self) -> bool {
        self.kind == LinkKind::Ethernet && !self.noarp
    }
}

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
/// `struct ifinfomsg`: family, pad, u16 type, i32 index, u32 flags, u32 change.
const IFINFOMSG_LEN: usize = 16;
/// `struct ifaddrmsg`: family, prefix length, flags, scope, u32 index.
const IFADDRMSG_LEN: usize = 8;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFF_NOARP: u32 = 0x80;
const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_TENTATIVE: u32 = 0x40;

/// The interface with index `index`; ENODEV if there is none.
pub fn by_index(index: u32) -> io::Result<Interface> {
    let index = i32::try_from(index)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    let mut ifi = [0u8; IFINFOMSG_LEN];
    ifi[4..8].copy_from_slice(&index.to_ne_bytes());
    one_link(Request::new(RTM_GETLINK, 0, &ifi))
}

/// The interface named `name`; ENODEV if there is none.
pub fn by_name(name: &str) -> io::Result<Interface> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    let mut cname = name.as_bytes().to_vec();
    cname.push(0);
    let req = Request::new(RTM_GETLINK, 0, &[0u8; IFINFOMSG_LEN]).attr(IFLA_IFNAME, &cname);
    one_link(req)
}

/// Every interface, in index order.
pub fn list() -> io::Result<Vec<Interface>> {
    let req = Request::new(RTM_GETLINK, netlink::NLM_F_DUMP, &[0u8; IFINFOMSG_LEN]);
    let replies = netlink::Socket::open()?.request(req)?;
    let mut all: Vec<Interface> = replies
        .iter()
        .filter(|m| m.kind == RTM_NEWLINK)
        .filter_map(|m| parse_link(&m.payload))
        .collect();
    all.sort_by_key(|i| i.index);
    Ok(all)
}

/// The usable addresses of interface `index`, IPv4 before IPv6, each family
/// in the kernel's order (for IPv6, wider scopes first). Tentative addresses
/// (duplicate address detection still running, or failed) are left out: the
/// kernel would not send from them.
pub fn addresses(index: u32) -> io::Result<Vec<IpAddr>> {
    let req = Request::new(RTM_GETADDR, netlink::NLM_F_DUMP, &[0u8; IFADDRMSG_LEN]);
    let replies = netlink::Socket::open()?.request(req)?;
    let mut addrs: Vec<IpAddr> = replies
        .iter()
        .filter(|m| m.kind == RTM_NEWADDR)
        .filter_map(|m| parse_addr(&m.payload))
        .filter(|&(i, _)| i == index)
        .map(|(_, a)| a)
        .collect();
    addrs.sort_by_key(|a| a.is_ipv6()); // stable: keeps each family's order
    Ok(addrs)
}

fn one_link(req: Request) -> io::Result<Interface> {
    let replies = netlink::Socket::open()?.request(req)?;
    replies
        .iter()
        .find(|m| m.kind == RTM_NEWLINK)
        .and_then(|m| parse_link(&m.payload))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no interface in the answer"))
}

fn parse_link(payload: &[u8]) -> Option<Interface> {
    let h = payload.get(..IFINFOMSG_LEN)?;
    let kind = u16::from_ne_bytes([h[2], h[3]]);
    let index = netlink::u32_of(&h[4..8])?;
    let flags = netlink::u32_of(&h[8..12])?;
    let mut iface = Interface {
        index,
        name: String::new(),
        mac: None,
        kind: LinkKind::from(kind),
        mtu: 0,
        noarp: flags & IFF_NOARP != 0,
    };
    for (kind, data) in Attrs::new(&payload[IFINFOMSG_LEN..]) {
        match kind {
            IFLA_ADDRESS => iface.mac = netlink::mac_of(data),
            IFLA_MTU => iface.mtu = netlink::u32_of(data).unwrap_or(0),
            IFLA_IFNAME => iface.name = c_string(data),
            _ => {}
        }
    }
    Some(iface)
}

/// Interface index and address of one RTM_NEWADDR message, unless the
/// address is tentative. IFA_LOCAL is the interface's own address on a
/// point-to-point link (IFA_ADDRESS is the peer's there); otherwise only
/// IFA_ADDRESS is present.
fn parse_addr(payload: &[u8]) -> Option<(u32, IpAddr)> {
    let h = payload.get(..IFADDRMSG_LEN)?;
    let index = netlink::u32_of(&h[4..8])?;
    let mut flags = u32::from(h[2]);
    let (mut local, mut address) = (None, None);
    for (kind, data) in Attrs::new(&payload[IFADDRMSG_LEN..]) {
        match kind {
            IFA_LOCAL => local = netlink::ip_of(data),
            IFA_ADDRESS => address = netlink::ip_of(data),
            IFA_FLAGS => flags = netlink::u32_of(data).unwrap_or(flags),
            _ => {}
        }
    }
    if flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) != 0 {
        return None;
    }
    Some((index, local.or(address)?))
}

fn c_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn loopback() -> Interface {
        list()
            .unwrap()
            .into_iter()
            .find(|i| i.kind == LinkKind::Loopback)
            .expect("a loopback interface")
    }

    #[test]
    fn loopback_described() {
        let lo = loopback();
        assert_eq!(lo.name, "lo");
        assert_eq!(lo.mac, Some([0; 6]));
        assert!(lo.mtu >= 1500);
        assert!(!lo.needs_resolution());
        assert_eq!(by_index(lo.index).unwrap(), lo);
        assert_eq!(by_name("lo").unwrap(), lo);
    }

    #[test]
    fn loopback_has_127_0_0_1() {
        let addrs = addresses(loopback().index).unwrap();
        assert!(
            addrs.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "{addrs:?}"
        );
        let first_v6 = addrs.iter().position(IpAddr::is_ipv6);
        let last_v4 = addrs.iter().rposition(IpAddr::is_ipv4);
        if let (Some(v6), Some(v4)) = (first_v6, last_v4) {
            assert!(v4 < v6, "IPv4 first: {addrs:?}");
        }
    }

    #[test]
    fn missing_interfaces_are_errors() {
        let e = by_index(i32::MAX as u32).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV), "{e}");
        assert_eq!(
            by_index(u32::MAX).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            by_name("pnb-none0").unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );
        assert_eq!(
            by_name("a-name-far-too-long").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn link_kinds() {
        assert_eq!(LinkKind::from(1), LinkKind::Ethernet);
        assert_eq!(LinkKind::from(772), LinkKind::Loopback);
        assert_eq!(LinkKind::from(0xfffe), LinkKind::RawIp);
        assert_eq!(LinkKind::from(32), LinkKind::Other(32));
    }

    #[test]
    fn malformed_messages_do_not_panic() {
        for n in 0..24 {
            let bytes = vec![0xffu8; n];
            let _ = parse_link(&bytes);
            let _ = parse_addr(&bytes);
        }
    }
}
