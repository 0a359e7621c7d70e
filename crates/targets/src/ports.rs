//! Nmap's `-p` port specification.
//!
//! Items are separated by commas: `22`, `1-100`, `-100` (1-100), `1000-`
//! (1000-65535), `-` (1-65535), service names from the [`PortTable`] with
//! `*`/`?` wildcards (`http*`). Port 0 is only included when written (`0`,
//! `0-10`). `T:` and `U:` restrict the items that follow, up to the next
//! prefix, to TCP or UDP; items before any prefix apply to both.

use crate::glob;
use crate::table::PortTable;
use portolan_model::Protocol;

/// Errors from [`parse_ports`]; each names the item at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// `item` is malformed; `why` says how.
    #[error("invalid port specification '{item}': {why}")]
    BadSpec { item: String, why: String },
    /// No entry in the table has a name matching `name` (for the protocol
    /// the item was restricted to, if any).
    #[error("no {}service {} '{name}' in the port table", proto_word(.proto), verb(.name))]
    UnknownService {
        name: String,
        proto: Option<Protocol>,
    },
}

fn proto_word(proto: &Option<Protocol>) -> String {
    proto.map(|p| format!("{p} ")).unwrap_or_default()
}

fn verb(name: &str) -> &'static str {
    if glob::is_pattern(name) {
        "matching"
    } else {
        "named"
    }
}

/// A parsed `-p` spec: the ports for each protocol, sorted and deduplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSpec {
    tcp: Vec<u16>,
    udp: Vec<u16>,
    unprefixed: Vec<u16>,
    prefixed: [bool; 2],
}

impl PortSpec {
    /// Ports to scan over `proto`: items under its prefix, unprefixed
    /// numbers, and unprefixed names the table defines for `proto`.
    /// Sorted ascending, no duplicates.
    pub fn ports(&self, proto: Protocol) -> &[u16] {
        match proto {
            Protocol::Tcp => &self.tcp,
            Protocol::Udp => &self.udp,
        }
    }

    /// An owned copy of `ports(Protocol::Tcp)`.
    pub fn tcp_ports(&self) -> Vec<u16> {
        self.tcp.clone()
    }

    /// An owned copy of `ports(Protocol::Udp)`.
    pub fn udp_ports(&self) -> Vec<u16> {
        self.udp.clone()
    }

    /// Numeric ports given without any prefix (they are in both `tcp_ports()` and
    /// `udp_ports()`), sorted ascending, no duplicates.
    pub fn unprefixed(&self) -> &[u16] {
        &self.unprefixed
    }

    /// Whether a `T:` (or `U:`) prefix appeared, so the caller can warn when
    /// the user named ports for a protocol that is not being scanned.
    pub fn has_prefix(&self, proto: Protocol) -> bool {
        self.prefixed[slot(proto)]
    }

    /// Whether no port was selected for either protocol.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty()
    }
}

fn slot(proto: Protocol) -> usize {
    match proto {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
    }
}

/// Parse Nmap's `-p` syntax, resolving service names against `table`.
///
/// ```
/// use portolan_targets::{ports::parse_ports, table::PortTable};
/// let table = PortTable::parse("53/udp\tdomain\t1\n").unwrap();
/// let spec = parse_ports("22,80-82,U:domain", &table).unwrap();
/// assert_eq!(spec.tcp_ports(), [22, 80, 81, 82]);
/// assert_eq!(spec.udp_ports(), [22, 53, 80, 81, 82]);
/// ```
pub fn parse_ports(spec: &str, table: &PortTable) -> Result<PortSpec, PortError> {
    if spec.trim().is_empty() {
        return Err(bad(spec, "empty port specification"));
    }
    let mut acc = Accumulator::default();
    let mut scope = None;
    for raw in spec.split(',') {
        let item = raw.trim();
        let body = match split_prefix(item)? {
            Some((proto, rest)) => {
                acc.prefixed[slot(proto)] = true;
                scope = Some(proto);
                rest
            }
            None => item,
        };
        if body.is_empty() {
            return Err(bad(if item.is_empty() { spec } else { item }, "empty item"));
        }
        parse_item(body, scope, table, &mut acc)?;
    }
    Ok(acc.finish())
}

fn bad(item: &str, why: impl Into<String>) -> PortError {
    PortError::BadSpec {
        item: item.to_owned(),
        why: why.into(),
    }
}

/// Split a `T:`/`U:` prefix off `item`. Other one-letter prefixes (Nmap's
/// `S:` for SCTP, `P:` for IP protocols) are rejected as unsupported.
fn split_prefix(item: &str) -> Result<Option<(Protocol, &str)>, PortError> {
    let Some((head, rest)) = item.split_once(':') else {
        return Ok(None);
    };
    match head {
        "T" | "t" => Ok(Some((Protocol::Tcp, rest))),
        "U" | "u" => Ok(Some((Protocol::Udp, rest))),
        "S" | "s" => Err(bad(item, "SCTP ports (S:) are not supported")),
        "P" | "p" => Err(bad(item, "IP protocol numbers (P:) are not supported")),
        _ => Err(bad(
            item,
            format!("unknown protocol prefix '{head}:' (use T: or U:)"),
        )),
    }
}

fn parse_item(
    body: &str,
    scope: Option<Protocol>,
    table: &PortTable,
    acc: &mut Accumulator,
) -> Result<(), PortError> {
    if body.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        let (lo, hi) = parse_range(body)?;
        acc.add_range(lo, hi, scope);
        return Ok(());
    }
    let named = table.ports_named(body);
    let mut any = false;
    for (port, proto) in named
        .into_iter()
        .filter(|&(_, p)| scope.is_none_or(|s| s == p))
    {
        acc.add_range(port, port, Some(proto));
        any = true;
    }
    if !any {
        return Err(unknown_service(body, scope));
    }
    Ok(())
}

fn unknown_service(body: &str, scope: Option<Protocol>) -> PortError {
    PortError::UnknownService {
        name: body.to_owned(),
        proto: scope,
    }
}

fn parse_range(body: &str) -> Result<(u16, u16), PortError> {
    let (lo, hi) = match body.split_once('-') {
        None => (port_number(body, body)?, port_number(body, body)?),
        Some((lo, hi)) => (
            if lo.is_empty() {
                1
            } else {
                port_number(body, lo)?
            },
            if hi.is_empty() {
                65535
            } else {
                port_number(body, hi)?
            },
        ),
    };
    if lo > hi {
        return Err(bad(body, format!("range {lo}-{hi} is reversed")));
    }
    Ok((lo, hi))
}

fn port_number(item: &str, text: &str) -> Result<u16, PortError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(item, format!("'{text}' is not a port number")));
    }
    text.parse()
        .map_err(|_| bad(item, format!("port {text} is out of range 0-65535")))
}

/// Three 65536-bit sets: TCP only, UDP only, both.
#[derive(Debug)]
struct Accumulator {
    bits: [Vec<u64>; 3],
    prefixed: [bool; 2],
}

impl Default for Accumulator {
    fn default() -> Self {
        Self {
            bits: std::array::from_fn(|_| vec![0; 1024]),
            prefixed: [false; 2],
        }
    }
}

impl Accumulator {
    fn add_range(&mut self, lo: u16, hi: u16, scope: Option<Protocol>) {
        let set = &mut self.bits[scope.map_or(2, slot)];
        let (lo, hi) = (usize::from(lo), usize::from(hi));
        for (word, bits) in set.iter_mut().enumerate().take(hi / 64 + 1).skip(lo / 64) {
            let first = lo.saturating_sub(word * 64);
            let last = (hi - word * 64).min(63);
            *bits |= (u64::MAX >> (63 - last)) & (u64::MAX << first);
        }
    }

    fn finish(self) -> PortSpec {
        let [tcp, udp, both] = &self.bits;
        PortSpec {
            tcp: collect(tcp, both),
            udp: collect(udp, both),
            unprefixed: collect(both, both),
            prefixed: self.prefixed,
        }
    }
}

/// Ports set in `a` or `b`, ascending.
fn collect(a: &[u64], b: &[u64]) -> Vec<u16> {
    let mut ports = Vec::new();
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        let mut word = x | y;
        while word != 0 {
            let port = k * 64 + word.trailing_zeros() as usize;
            ports.extend(u16::try_from(port).ok());
            word &= word - 1;
        }
    }
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PortTable {
        let text = "21/tcp\tftp\t3\n22/tcp\tssh\t1\n53/tcp\tdomain\t-\n53/udp\tdomain\t1\n\
            80/tcp\thttp\t2\n80/udp\thttp\t-\n443/tcp\thttps\t4\n8080/tcp\thttp-proxy\t5\n";
        PortTable::parse(text).unwrap()
    }

    fn parse(spec: &str) -> PortSpec {
        parse_ports(spec, &table()).unwrap()
    }

    fn err(spec: &str) -> String {
        parse_ports(spec, &table()).unwrap_err().to_string()
    }

    #[test]
    fn numbers_and_ranges() {
        let p = parse("22,1-3,3,-2,65534-");
        assert_eq!(p.tcp_ports(), [1, 2, 3, 22, 65534, 65535]);
        assert_eq!(p.udp_ports(), p.tcp_ports());
        assert_eq!(p.unprefixed(), p.tcp_ports());
        assert_eq!(parse("-").tcp_ports().len(), 65535);
        assert_eq!(parse("0").tcp_ports(), [0]);
        assert_eq!(parse("0-2").udp_ports(), [0, 1, 2]);
        assert_eq!(parse(" 22 , 80 ").tcp_ports(), [22, 80]);
    }

    #[test]
    fn prefixes_last_until_the_next_one() {
        let p = parse("1,T:22,80,U:53,T:443");
        assert_eq!(p.tcp_ports(), [1, 22, 80, 443]);
        assert_eq!(p.udp_ports(), [1, 53]);
        assert!(p.has_prefix(Protocol::Tcp) && p.has_prefix(Protocol::Udp));
        assert!(!parse("22").has_prefix(Protocol::Udp));
    }

    #[test]
    fn names_follow_the_table_per_protocol() {
        let p = parse("domain,ssh");
        assert_eq!(p.tcp_ports(), [22, 53]);
        assert_eq!(p.udp_ports(), [53]);
        assert!(p.unprefixed().is_empty());
        assert_eq!(parse("http*").tcp_ports(), [80, 443, 8080]);
        assert_eq!(parse("U:http*").udp_ports(), [80]);
        assert_eq!(parse("U:http*").tcp_ports(), [] as [u16; 0]);
    }

    #[test]
    fn errors_name_the_item() {
        assert_eq!(
            err("22,70000"),
            "invalid port specification '70000': port 70000 is out of range 0-65535"
        );
        assert_eq!(
            err("100-1"),
            "invalid port specification '100-1': range 100-1 is reversed"
        );
        assert_eq!(
            err("22,,80"),
            "invalid port specification '22,,80': empty item"
        );
        assert_eq!(err("T:"), "invalid port specification 'T:': empty item");
        assert_eq!(
            err(""),
            "invalid port specification '': empty port specification"
        );
        assert_eq!(
            err("1-2-3"),
            "invalid port specification '1-2-3': '2-3' is not a port number"
        );
        assert_eq!(err("htp"), "no service named 'htp' in the port table");
        assert_eq!(err("U:ssh"), "no udp service named 'ssh' in the port table");
        assert_eq!(err("zz*"), "no service matching 'zz*' in the port table");
        assert_eq!(
            err("S:22"),
            "invalid port specification 'S:22': SCTP ports (S:) are not supported"
        );
    }
}
