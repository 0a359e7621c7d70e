//! Shards: `--shards N --shard I` (or masscan's `--shard I/N`) split one scan
//! across N machines that never talk to each other.
//!
//! Rule: address `a` belongs to shard `1 + ⌊h(a)·N / 2⁶⁴⌋`, where `h` is
//! SipHash-1-3 of the address bytes under a fixed, published key. Membership
//! is a pure function of the address and N: it depends neither on the seed
//! that orders the scan nor on how the targets were spelled (`198.18.0.0/24`
//! and `198.18.0.0-255` split the same way), so machines agree with nothing
//! to coordinate, and every address belongs to exactly one shard. Shards split
//! hosts, not ports: a single-host scan falls wholly into one shard.

use siphasher::sip::SipHasher13;
use std::fmt;
use std::net::IpAddr;
use thiserror::Error;

/// The fixed key of the shard hash ("portolan shards!"). Changing it would
/// change which machine scans which address, so it is part of the contract.
const SHARD_KEY: (u64, u64) = (0x706f_7274_6f6c_616e, 0x2073_6861_7264_7321);

/// One shard of N: 1-based, `1 <= index <= count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// A bad `--shard` / `--shards` value; the message names the flag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ShardError {
    #[error(
        "invalid --shards '{0}': give the number of shards, a whole number from 1 to 4294967295"
    )]
    BadCount(String),
    #[error(
        "invalid --shard '{0}': give the shard number I (1 <= I <= N, with --shards N) or I/N"
    )]
    BadIndex(String),
    #[error("invalid --shard {index}: shards are numbered from 1 to {count}")]
    OutOfRange { index: u64, count: u32 },
    #[error("--shard {0} needs --shards N (or write it as --shard {0}/N)")]
    MissingCount(String),
    #[error("--shards {0} needs --shard I to say which of the {0} shards this machine scans")]
    MissingIndex(u32),
    #[error("--shard {given} says {from_shard} shards but --shards says {count}")]
    Conflict {
        given: String,
        from_shard: u32,
        count: u32,
    },
}

impl Shard {
    /// Shard `index` of `count`, both 1-based.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::BadCount(count.to_string()));
        }
        if index == 0 || index > count {
            return Err(ShardError::OutOfRange {
                index: index.into(),
                count,
            });
        }
        Ok(Shard { index, count })
    }

    /// The shard the flags ask for: `--shards N --shard I`, `--shard I/N`,
    /// or (with neither flag) `None`.
    pub fn from_flags(
        shard: Option<&str>,
        shards: Option<&str>,
    ) -> Result<Option<Shard>, ShardError> {
        let count = shards.map(parse_count).transpose()?;
        let Some(given) = shard else {
            return match count {
                Some(n) => Err(ShardError::MissingIndex(n)),
                None => Ok(None),
            };
        };
        let (index, inline) = parse_shard(given)?;
        let count = match (inline, count) {
            (Some(a), Some(b)) if a != b => {
                return Err(ShardError::Conflict {
                    given: given.to_owned(),
                    from_shard: a,
                    count: b,
                })
            }
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => return Err(ShardError::MissingCount(given.to_owned())),
        };
        let index = u32::try_from(index).map_err(|_| ShardError::OutOfRange { index, count })?;
        Shard::new(index, count).map(Some)
    }

    /// The shard number, from 1.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many shards there are.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether `addr` belongs to this shard.
    pub fn holds(&self, addr: IpAddr) -> bool {
        shard_of(addr, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard (1-based) of `count` that `addr` belongs to.
pub fn shard_of(addr: IpAddr, count: u32) -> u32 {
    let hasher = SipHasher13::new_with_keys(SHARD_KEY.0, SHARD_KEY.1);
    let h = match addr {
        IpAddr::V4(a) => hasher.hash(&a.octets()),
        IpAddr::V6(a) => hasher.hash(&a.octets()),
    };
    // Multiply-shift maps the hash onto [0, count) without modulo bias.
    ((u128::from(h) * u128::from(count)) >> 64) as u32 + 1
}

fn parse_count(s: &str) -> Result<u32, ShardError> {
    match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ShardError::BadCount(s.to_owned())),
    }
}

/// `I` or `I/N`.
fn parse_shard(s: &str) -> Result<(u64, Option<u32>), ShardError> {
    let bad = || ShardError::BadIndex(s.to_owned());
    let (index, count) = match s.split_once('/') {
        Some((i, n)) => (i, Some(n)),
        None => (s, None),
    };
    let index = index.trim().parse::<u64>().map_err(|_| bad())?;
    let count = count
        .map(|n| {
            n.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(bad)
        })
        .transpose()?;
    Ok((index, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(shard: Option<&str>, shards: Option<&str>) -> Result<Option<Shard>, ShardError> {
        Shard::from_flags(shard, shards)
    }

    #[test]
    fn both_spellings_parse_to_the_same_shard() {
        let shard = Shard::new(2, 3).unwrap();
        let want = Some(shard);
        assert_eq!(flags(Some("2"), Some("3")), Ok(want));
        assert_eq!(flags(Some("2/3"), None), Ok(want));
        assert_eq!(flags(Some("2/3"), Some("3")), Ok(want));
        assert_eq!(
            flags(Some("1"), Some("1")),
            Ok(Some(Shard::new(1, 1).unwrap()))
        );
        assert_eq!(flags(None, None), Ok(None));
        assert_eq!(shard.to_string(), "2/3");
    }

    #[test]
    fn bad_values_name_the_flag() {
        let cases = [
            (Some("0"), Some("3"), "--shard"),
            (Some("4"), Some("3"), "--shard"),
            (Some("0/3"), None, "--shard"),
            (Some("4/3"), None, "--shard"),
            (Some("x"), Some("3"), "--shard"),
            (Some("1/x"), None, "--shard"),
            (Some("1/0"), None, "--shard"),
            (Some("-1"), Some("3"), "--shard"),
            (Some("99999999999"), Some("3"), "--shard"),
            (Some("1"), Some("0"), "--shards"),
            (Some("1"), Some("three"), "--shards"),
            (Some("1"), Some("-3"), "--shards"),
            (Some("1"), None, "--shards"),
            (None, Some("3"), "--shard"),
            (Some("1/2"), Some("3"), "--shards"),
        ];
        for (shard, shards, flag) in cases {
            let err = flags(shard, shards).expect_err("must be rejected");
            let msg = err.to_string();
            assert!(msg.contains(flag), "{shard:?} {shards:?}: {msg}");
        }
        assert!(matches!(
            flags(Some("4"), Some("3")),
            Err(ShardError::OutOfRange { index: 4, count: 3 })
        ));
        assert!(matches!(
            flags(Some("1"), None),
            Err(ShardError::MissingCount(_))
        ));
        assert!(matches!(
            flags(None, Some("3")),
            Err(ShardError::MissingIndex(3))
        ));
    }

    #[test]
    fn every_address_is_in_exactly_one_shard() {
        for count in [1, 2, 3, 7] {
            let shards: Vec<Shard> = (1..=count).map(|i| Shard::new(i, count).unwrap()).collect();
            for i in 0..2000u32 {
                let v4 = IpAddr::from((0xC612_0000u32 + i).to_be_bytes());
                let v6 = IpAddr::from(((0x2001_0db8u128 << 96) + u128::from(i)).to_be_bytes());
                for addr in [v4, v6] {
                    let holders = shards.iter().filter(|s| s.holds(addr)).count();
                    assert_eq!(holders, 1, "{addr} in {holders} of {count} shards");
                }
            }
        }
    }

    #[test]
    fn split_is_pinned() {
        // Which machine scans which address is part of the contract: a change
        // here would split one scan inconsistently between two releases.
        let got: Vec<u32> = (0..12u8)
            .map(|i| shard_of(IpAddr::from([198, 18, 0, i]), 3))
            .collect();
        assert_eq!(got, PINNED_198_18_0_X_OF_3);
    }

    const PINNED_198_18_0_X_OF_3: [u32; 12] = [2, 1, 2, 3, 2, 1, 1, 2, 2, 2, 2, 2];
}
