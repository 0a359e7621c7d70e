//! Nmap-style target specifications: addresses, CIDR blocks, IPv4 octet
//! ranges and host names.
//!
//! [`parse_target`] reads one token. Concrete specs ([`ConcreteSpec`]) know
//! their size, can produce their `i`-th address in ascending order without
//! allocating, and answer membership; host names ([`HostName`]) are left for
//! the caller to resolve, since this crate does no I/O.

mod cidr;
mod octets;
mod parse;

pub use cidr::{V4Cidr, V6Cidr, MIN_V6_PREFIX};
pub use octets::{OctetSet, V4Octets};
pub use parse::parse_target;

use std::fmt;
use std::net::IpAddr;

/// Errors from parsing or combining target specifications.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// `token` is not a valid target; `why` says what is wrong with it.
    #[error("invalid target specification '{token}': {why}")]
    BadSpec { token: String, why: String },
    /// The include specs together hold more than `u64::MAX` addresses.
    #[error("too many targets: the specifications together hold more than 2^64-1 addresses")]
    TooManyAddresses,
}

impl TargetError {
    pub(crate) fn bad(token: &str, why: impl Into<String>) -> Self {
        TargetError::BadSpec {
            token: token.to_owned(),
            why: why.into(),
        }
    }
}

/// One parsed target token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetSpec {
    /// Addresses known without any lookup.
    Concrete(ConcreteSpec),
    /// A host name the caller must resolve, then turn into a concrete spec
    /// with [`HostName::to_spec`].
    Hostname(HostName),
}

/// A set of addresses known without any lookup.
///
/// Every variant has at least one address and at most 2^32.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConcreteSpec {
    /// An IPv4 address (as a /32) or CIDR block.
    V4Cidr(V4Cidr),
    /// IPv4 octet ranges that are not a CIDR block.
    V4Octets(V4Octets),
    /// An IPv6 address (as a /128) or CIDR block of /96 or longer.
    V6Cidr(V6Cidr),
}

impl ConcreteSpec {
    /// The block of length `prefix` around `addr` (the whole address when
    /// `prefix` is `None`), e.g. for a resolved `host/24`.
    ///
    /// Fails when the prefix is too long for the family, or, for IPv6, shorter
    /// than /96; the error names `addr/prefix`.
    pub fn from_addr(addr: IpAddr, prefix: Option<u8>) -> Result<Self, TargetError> {
        let spec = match addr {
            IpAddr::V4(a) => V4Cidr::new(a, prefix.unwrap_or(32)).map(Self::V4Cidr),
            IpAddr::V6(a) => V6Cidr::new(a, prefix.unwrap_or(128)).map(Self::V6Cidr),
        };
        spec.ok_or_else(|| {
            let token = format!("{addr}/{}", prefix.unwrap_or_default());
            TargetError::bad(
                &token,
                parse::prefix_problem(addr, prefix.unwrap_or_default()),
            )
        })
    }

    /// The spec for octet ranges, stored as a CIDR block when it is one so
    /// that deduplication and exclusion can use interval lookups.
    pub fn from_octets(octets: V4Octets) -> Self {
        match octets.as_cidr().and_then(|(net, p)| V4Cidr::new(net, p)) {
            Some(cidr) => Self::V4Cidr(cidr),
            None => Self::V4Octets(octets),
        }
    }

    /// Number of addresses, 1..=2^32.
    pub fn len(&self) -> u64 {
        match self {
            Self::V4Cidr(c) => c.len(),
            Self::V4Octets(o) => o.len(),
            Self::V6Cidr(c) => c.len(),
        }
    }

    /// Always false: every spec holds at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `i`-th address in ascending numeric order, or `None` when
    /// `i >= len()`. Allocates nothing; O(1) for CIDR blocks and O(number of
    /// ranges) for octet specs.
    pub fn nth(&self, i: u64) -> Option<IpAddr> {
        match self {
            Self::V4Cidr(c) => c.nth(i).map(IpAddr::V4),
            Self::V4Octets(o) => o.nth(i).map(IpAddr::V4),
            Self::V6Cidr(c) => c.nth(i).map(IpAddr::V6),
        }
    }

    /// Whether `addr` is one of the spec's addresses. Addresses of the other
    /// family never are (an IPv4-mapped IPv6 address is not an IPv4 address).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self, addr) {
            (Self::V4Cidr(c), IpAddr::V4(a)) => c.contains(a),
            (Self::V4Octets(o), IpAddr::V4(a)) => o.contains(a),
            (Self::V6Cidr(c), IpAddr::V6(a)) => c.contains(a),
            _ => false,
        }
    }

    /// Whether the spec holds IPv4 addresses (otherwise IPv6).
    pub fn is_v4(&self) -> bool {
        !matches!(self, Self::V6Cidr(_))
    }

    /// All addresses in ascending order, computed on the fly.
    pub fn addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        (0..self.len()).map_while(|i| self.nth(i))
    }
}

impl TryFrom<TargetSpec> for ConcreteSpec {
    type Error = TargetError;

    /// The concrete spec inside; a host name is an error naming it, since it
    /// must be resolved first (see [`HostName::to_spec`]).
    fn try_from(spec: TargetSpec) -> Result<Self, TargetError> {
        match spec {
            TargetSpec::Concrete(c) => Ok(c),
            TargetSpec::Hostname(h) => Err(TargetError::bad(
                &h.to_string(),
                "a host name must be resolved before use",
            )),
        }
    }
}

impl fmt::Display for ConcreteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4Cidr(c) => c.fmt(f),
            Self::V4Octets(o) => o.fmt(f),
            Self::V6Cidr(c) => c.fmt(f),
        }
    }
}

/// A syntactically valid DNS host name, optionally with a `/prefix`
/// (`host/24` means the block of that length around each resolved address).
///
/// Guaranteed: letters, digits and hyphens in dot-separated labels of 1-63
/// characters, no label starting or ending with a hyphen, at most 253
/// characters without the optional trailing dot; `prefix <= 128`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostName {
    name: String,
    prefix: Option<u8>,
}

impl HostName {
    /// The name as the user typed it (case and trailing dot kept).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `/prefix` the user gave, if any.
    pub fn prefix(&self) -> Option<u8> {
        self.prefix
    }

    /// The concrete spec for one address the name resolved to. Fails when the
    /// prefix does not fit the address family; the error names the token.
    pub fn to_spec(&self, addr: IpAddr) -> Result<ConcreteSpec, TargetError> {
        ConcreteSpec::from_addr(addr, self.prefix).map_err(|e| match e {
            TargetError::BadSpec { why, .. } => TargetError::bad(&self.to_string(), why),
            other => other,
        })
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(p) => write!(f, "{}/{p}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn resolved_names_become_blocks_around_the_address() {
        let TargetSpec::Hostname(h) = parse_target("scanme.test/24").unwrap() else {
            panic!("expected a host name");
        };
        let spec = h.to_spec(IpAddr::V4(Ipv4Addr::new(198, 18, 3, 7))).unwrap();
        assert_eq!(spec.to_string(), "198.18.3.0/24");
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        let err = h.to_spec(v6).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid target specification 'scanme.test/24': "),
            "{err}"
        );
    }

    #[test]
    fn from_addr_without_prefix_is_one_address() {
        let addr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9));
        let spec = ConcreteSpec::from_addr(addr, None).unwrap();
        assert_eq!(spec.len(), 1);
        assert_eq!(spec.nth(0), Some(addr));
        let err = ConcreteSpec::from_addr(addr, Some(64))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'2001:db8::9/64'"), "{err}");
    }

    #[test]
    fn aligned_octet_ranges_are_stored_as_cidr() {
        let spec = parse_target("198.18.*.*").unwrap();
        let TargetSpec::Concrete(ConcreteSpec::V4Cidr(c)) = spec else {
            panic!("expected a CIDR block, got {spec:?}");
        };
        assert_eq!(c.to_string(), "198.18.0.0/16");
    }

    #[test]
    fn only_concrete_specs_convert() {
        let spec = ConcreteSpec::try_from(parse_target("198.18.0.1").unwrap()).unwrap();
        assert_eq!(spec.len(), 1);
        let err = ConcreteSpec::try_from(parse_target("host.test").unwrap()).unwrap_err();
        assert!(err.to_string().contains("'host.test'"));
    }

    #[test]
    fn families_do_not_mix() {
        let v4 = ConcreteSpec::from_addr("127.0.0.1".parse().unwrap(), Some(0)).unwrap();
        assert!(!v4.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(v4.is_v4());
    }
}
