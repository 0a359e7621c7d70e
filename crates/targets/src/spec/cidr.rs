//! CIDR blocks. Nmap semantics: host bits are ignored and the network and
//! broadcast addresses are part of the block.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The longest IPv6 block accepted has 2^32 addresses (prefix /96).
pub const MIN_V6_PREFIX: u8 = 96;

/// An IPv4 CIDR block; a single address is a /32.
///
/// Guaranteed: `prefix <= 32` and the stored base has its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V4Cidr {
    base: u32,
    prefix: u8,
}

impl V4Cidr {
    /// The block of length `prefix` containing `addr`; `None` when `prefix > 32`.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        let mask = v4_mask(prefix)?;
        Some(Self {
            base: u32::from(addr) & mask,
            prefix,
        })
    }

    /// The network address (lowest address of the block).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base)
    }

    /// The prefix length, 0..=32.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Number of addresses, 2^(32 - prefix).
    pub fn len(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `i`-th address in ascending order, or `None` when `i >= len()`.
    pub fn nth(&self, i: u64) -> Option<Ipv4Addr> {
        let offset = u32::try_from(i).ok().filter(|_| i < self.len())?;
        Some(Ipv4Addr::from(self.base | offset))
    }

    /// Whether `addr` lies in the block.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        v4_mask(self.prefix).is_some_and(|mask| u32::from(addr) & mask == self.base)
    }

    /// Inclusive bounds of the block as integers.
    pub(crate) fn bounds(&self) -> (u128, u128) {
        let lo = u128::from(self.base);
        (lo, lo + u128::from(self.len()) - 1)
    }
}

impl fmt::Display for V4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            32 => write!(f, "{}", self.network()),
            p => write!(f, "{}/{p}", self.network()),
        }
    }
}

/// An IPv6 CIDR block of at most 2^32 addresses; a single address is a /128.
///
/// Guaranteed: `96 <= prefix <= 128` and the base has its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V6Cidr {
    base: u128,
    prefix: u8,
}

impl V6Cidr {
    /// The block of length `prefix` containing `addr`; `None` unless
    /// `96 <= prefix <= 128` (larger blocks cannot be scanned address by address).
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Option<Self> {
        if !(MIN_V6_PREFIX..=128).contains(&prefix) {
            return None;
        }
        Some(Self {
            base: u128::from(addr) & v6_mask(prefix),
            prefix,
        })
    }

    /// The lowest address of the block.
    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.base)
    }

    /// The prefix length, 96..=128.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Number of addresses, 2^(128 - prefix), at most 2^32.
    pub fn len(&self) -> u64 {
        1u64 << (128 - u32::from(self.prefix))
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `i`-th address in ascending order, or `None` when `i >= len()`.
    pub fn nth(&self, i: u64) -> Option<Ipv6Addr> {
        (i < self.len()).then(|| Ipv6Addr::from(self.base | u128::from(i)))
    }

    /// Whether `addr` lies in the block.
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & v6_mask(self.prefix) == self.base
    }

    /// Inclusive bounds of the block as integers.
    pub(crate) fn bounds(&self) -> (u128, u128) {
        (self.base, self.base | !v6_mask(self.prefix))
    }
}

impl fmt::Display for V6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            128 => write!(f, "{}", self.network()),
            p => write!(f, "{}/{p}", self.network()),
        }
    }
}

fn v4_mask(prefix: u8) -> Option<u32> {
    match prefix {
        0 => Some(0),
        1..=32 => Some(u32::MAX << (32 - prefix)),
        _ => None,
    }
}

fn v6_mask(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_host_bits_are_ignored_and_ends_included() {
        let c = V4Cidr::new(Ipv4Addr::new(198, 18, 0, 5), 24).unwrap();
        assert_eq!(c.network(), Ipv4Addr::new(198, 18, 0, 0));
        assert_eq!(c.len(), 256);
        assert_eq!(c.nth(255), Some(Ipv4Addr::new(198, 18, 0, 255)));
        assert_eq!(c.nth(256), None);
        assert!(c.contains(Ipv4Addr::new(198, 18, 0, 0)));
        assert!(!c.contains(Ipv4Addr::new(198, 18, 1, 0)));
    }

    #[test]
    fn v4_prefix_zero_covers_everything() {
        let c = V4Cidr::new(Ipv4Addr::new(198, 18, 0, 1), 0).unwrap();
        assert_eq!(c.len(), 1 << 32);
        assert_eq!(c.nth((1 << 32) - 1), Some(Ipv4Addr::BROADCAST));
        assert!(c.contains(Ipv4Addr::new(127, 0, 0, 1)));
        assert!(V4Cidr::new(Ipv4Addr::LOCALHOST, 33).is_none());
    }

    #[test]
    fn v6_blocks_are_limited_to_two_to_the_32() {
        let addr: Ipv6Addr = "2001:db8::1:2".parse().unwrap();
        assert!(V6Cidr::new(addr, 95).is_none());
        let c = V6Cidr::new(addr, 96).unwrap();
        assert_eq!(c.len(), 1 << 32);
        assert_eq!(c.to_string(), "2001:db8::/96");
        let top: Ipv6Addr = "2001:db8::ffff:ffff".parse().unwrap();
        assert_eq!(c.nth((1 << 32) - 1), Some(top));
        assert_eq!(c.bounds().1, u128::from(top));
    }
}
