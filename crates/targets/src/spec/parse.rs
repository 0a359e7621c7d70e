//! The target-token parser. Each helper returns the reason as a `String`;
//! [`parse_target`] wraps it with the token so every error names what the
//! user typed.

use super::MIN_V6_PREFIX;
use super::{ConcreteSpec, HostName, OctetSet, TargetError, TargetSpec, V4Cidr, V4Octets, V6Cidr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

type Why = String;

/// Parse one Nmap-style target token.
///
/// Accepted forms: an IPv4 address or CIDR block (`198.18.0.0/24`, host bits
/// ignored), IPv4 octet ranges (`198.18.0-1.1-20`, `198.18.0.1,3,5-7`, `*`,
/// `A-`, `-B`), an IPv6 address or CIDR block of /96 or longer, and a DNS host
/// name with an optional `/prefix`. Anything else is
/// [`TargetError::BadSpec`], whose message quotes `token` exactly.
///
/// ```
/// use portolan_targets::spec::{parse_target, TargetSpec};
/// let TargetSpec::Concrete(spec) = parse_target("192.0.2.5/30").unwrap() else { panic!() };
/// assert_eq!(spec.len(), 4);
/// assert_eq!(spec.nth(0).unwrap().to_string(), "192.0.2.4");
/// let err = parse_target("192.0.2.300").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid target specification '192.0.2.300': octet 300 is out of range 0-255"
/// );
/// ```
pub fn parse_target(token: &str) -> Result<TargetSpec, TargetError> {
    parse_inner(token).map_err(|why| TargetError::bad(token, why))
}

fn parse_inner(token: &str) -> Result<TargetSpec, Why> {
    if token.is_empty() {
        return Err("empty target".into());
    }
    let (addr, prefix) = match token.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (token, None),
    };
    if addr.is_empty() {
        return Err("missing address before '/'".into());
    }
    if addr.contains(':') {
        return parse_v6(addr, prefix).map(TargetSpec::Concrete);
    }
    if addr.bytes().all(|b| b"0123456789.,-*".contains(&b)) {
        return parse_v4(addr, prefix).map(TargetSpec::Concrete);
    }
    parse_hostname(addr, prefix).map(TargetSpec::Hostname)
}

fn parse_prefix(text: Option<&str>, max: u8) -> Result<Option<u8>, Why> {
    let Some(text) = text else { return Ok(None) };
    match parse_decimal(text) {
        Some(n) if n <= u32::from(max) => Ok(u8::try_from(n).ok()),
        Some(_) => Err(format!("prefix /{text} is out of range 0-{max}")),
        None => Err(format!("prefix '/{text}' is not a number")),
    }
}

/// Digits only (no sign, no spaces); saturates instead of overflowing.
fn parse_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

fn parse_v4(addr: &str, prefix: Option<&str>) -> Result<ConcreteSpec, Why> {
    let parts: Vec<&str> = addr.split('.').collect();
    let [a, b, c, d] = parts[..] else {
        return Err(format!(
            "expected 4 dot-separated octets, found {}",
            parts.len()
        ));
    };
    let sets = [
        parse_octet(a)?,
        parse_octet(b)?,
        parse_octet(c)?,
        parse_octet(d)?,
    ];
    let prefix = parse_prefix(prefix, 32)?;
    let octets = V4Octets::new(sets);
    match (octets.nth(0), octets.len(), prefix) {
        (Some(first), 1, p) => single_v4(first, p.unwrap_or(32)),
        (_, _, None) => Ok(ConcreteSpec::from_octets(octets)),
        (_, _, Some(_)) => Err("a /prefix cannot be combined with octet ranges".into()),
    }
}

fn single_v4(addr: Ipv4Addr, prefix: u8) -> Result<ConcreteSpec, Why> {
    V4Cidr::new(addr, prefix)
        .map(ConcreteSpec::V4Cidr)
        .ok_or_else(|| prefix_problem(IpAddr::V4(addr), prefix))
}

fn parse_octet(text: &str) -> Result<OctetSet, Why> {
    let ranges = text
        .split(',')
        .map(|item| parse_octet_range(item, text))
        .collect::<Result<Vec<_>, _>>()?;
    OctetSet::from_ranges(ranges).ok_or_else(|| format!("empty octet '{text}'"))
}

fn parse_octet_range(item: &str, octet: &str) -> Result<(u8, u8), Why> {
    let (lo, hi) = match item {
        "" => return Err(format!("empty item in octet '{octet}'")),
        "*" | "-" => return Ok((0, 255)),
        _ => match item.split_once('-') {
            Some(("", hi)) => (0, octet_value(hi)?),
            Some((lo, "")) => (octet_value(lo)?, 255),
            Some((lo, hi)) => (octet_value(lo)?, octet_value(hi)?),
            None => (octet_value(item)?, octet_value(item)?),
        },
    };
    if lo > hi {
        return Err(format!("octet range {lo}-{hi} is reversed"));
    }
    Ok((lo, hi))
}

fn octet_value(text: &str) -> Result<u8, Why> {
    match parse_decimal(text) {
        Some(n) => u8::try_from(n).map_err(|_| format!("octet {text} is out of range 0-255")),
        None => Err(format!("'{text}' is not an octet value")),
    }
}

fn parse_v6(addr: &str, prefix: Option<&str>) -> Result<ConcreteSpec, Why> {
    let ip: Ipv6Addr = addr
        .parse()
        .map_err(|_| format!("'{addr}' is not a valid IPv6 address"))?;
    let prefix = parse_prefix(prefix, 128)?.unwrap_or(128);
    V6Cidr::new(ip, prefix)
        .map(ConcreteSpec::V6Cidr)
        .ok_or_else(|| prefix_problem(IpAddr::V6(ip), prefix))
}

/// Why `prefix` cannot be used with `addr`'s family.
pub(super) fn prefix_problem(addr: IpAddr, prefix: u8) -> Why {
    match addr {
        IpAddr::V4(_) => format!("prefix /{prefix} is out of range 0-32"),
        IpAddr::V6(_) if prefix > 128 => format!("prefix /{prefix} is out of range 0-128"),
        IpAddr::V6(_) => format!(
            "prefix /{prefix} gives 2^{} addresses; at most 2^32 (prefix /{MIN_V6_PREFIX} or longer) can be scanned",
            128 - u32::from(prefix)
        ),
    }
}

fn parse_hostname(name: &str, prefix: Option<&str>) -> Result<HostName, Why> {
    check_hostname(name)?;
    Ok(HostName {
        name: name.to_owned(),
        prefix: parse_prefix(prefix, 128)?,
    })
}

fn check_hostname(name: &str) -> Result<(), Why> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if let Some(c) = bare
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !"-.".contains(*c))
    {
        return Err(format!("character '{c}' is not allowed in a host name"));
    }
    if bare.len() > 253 {
        return Err(format!(
            "host name is {} characters long; at most 253 are allowed",
            bare.len()
        ));
    }
    bare.split('.').try_for_each(check_label)
}

fn check_label(label: &str) -> Result<(), Why> {
    match label.len() {
        0 => Err("host name has an empty label".into()),
        64.. => Err(format!(
            "host name label '{label}' is longer than 63 characters"
        )),
        _ if label.starts_with('-') || label.ends_with('-') => {
            Err(format!("host name label '{label}' starts or ends with '-'"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concrete(token: &str) -> ConcreteSpec {
        match parse_target(token) {
            Ok(TargetSpec::Concrete(c)) => c,
            other => panic!("{token}: expected a concrete spec, got {other:?}"),
        }
    }

    fn why(token: &str) -> String {
        match parse_target(token) {
            Err(TargetError::BadSpec { token: t, why }) => {
                assert_eq!(t, token);
                why
            }
            other => panic!("{token}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn single_addresses_and_cidr_blocks() {
        assert_eq!(concrete("198.18.0.1").len(), 1);
        let block = concrete("198.18.0.5/24");
        assert_eq!(block.to_string(), "198.18.0.0/24");
        assert_eq!(block.len(), 256);
        assert_eq!(concrete("198.18.0.1/0").len(), 1 << 32);
        assert_eq!(concrete("2001:db8::1").len(), 1);
        assert_eq!(concrete("2001:db8::/120").len(), 256);
    }

    #[test]
    fn octet_ranges_in_every_form() {
        assert_eq!(concrete("198.18.0-1.1-20").len(), 40);
        assert_eq!(concrete("198.18.0.1,3,5-7").to_string(), "198.18.0.1,3,5-7");
        assert_eq!(concrete("198.18.0.250-").len(), 6);
        assert_eq!(concrete("198.18.0.-9").len(), 10);
        assert_eq!(concrete("198.18-19.0.*").len(), 512);
        assert_eq!(concrete("198.18.0.-").len(), 256);
    }

    #[test]
    fn bad_ipv4_tokens_say_why() {
        assert_eq!(why("198.18.0.300"), "octet 300 is out of range 0-255");
        assert_eq!(why("198.18.0"), "expected 4 dot-separated octets, found 3");
        assert_eq!(why("198.18.0.9-3"), "octet range 9-3 is reversed");
        assert_eq!(why("198.18.0.1,,2"), "empty item in octet '1,,2'");
        assert_eq!(why("198.18.0.1/33"), "prefix /33 is out of range 0-32");
        assert_eq!(why("198.18.0.1/x"), "prefix '/x' is not a number");
        assert_eq!(
            why("198.18.0.1-5/24"),
            "a /prefix cannot be combined with octet ranges"
        );
        assert_eq!(
            why("198.18.0.99999999999"),
            "octet 99999999999 is out of range 0-255"
        );
        assert_eq!(why(""), "empty target");
        assert_eq!(why("/24"), "missing address before '/'");
    }

    #[test]
    fn bad_ipv6_tokens_say_why() {
        assert!(why("2001:db8::/64").contains("2^64 addresses"));
        assert_eq!(why("2001:db8::/129"), "prefix /129 is out of range 0-128");
        assert_eq!(
            why("2001:db8:::1"),
            "'2001:db8:::1' is not a valid IPv6 address"
        );
    }

    #[test]
    fn host_names_are_checked_but_not_resolved() {
        let spec = parse_target("Scanme.Example.").unwrap();
        let TargetSpec::Hostname(h) = spec else {
            panic!("expected a host name")
        };
        assert_eq!((h.name(), h.prefix()), ("Scanme.Example.", None));
        let TargetSpec::Hostname(h) = parse_target("3com-box/24").unwrap() else {
            panic!("expected a host name")
        };
        assert_eq!(h.prefix(), Some(24));
        assert_eq!(
            why("bad_name"),
            "character '_' is not allowed in a host name"
        );
        assert_eq!(why("a..b"), "host name has an empty label");
        assert_eq!(why("-a.b"), "host name label '-a' starts or ends with '-'");
        assert!(why(&"a".repeat(64)).contains("longer than 63"));
        let long = ["abcdefghi"; 26].join(".");
        assert!(why(&long).contains("at most 253"));
    }
}
