//! Port lists as written in `ports`, `sslports` and `Exclude` lines: `80,443,8000-8010`,
//! and for `Exclude` the `T:` / `U:` prefixes of the `-p` syntax.

use portolan_model::Protocol;

/// A set of ports kept as sorted, merged, inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        let i = self.ranges.partition_point(|&(_, hi)| hi < port);
        self.ranges.get(i).is_some_and(|&(lo, _)| lo <= port)
    }

    /// Whether the set holds no port.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The inclusive ranges, sorted and non-overlapping.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    pub(crate) fn insert(&mut self, lo: u16, hi: u16) {
        self.ranges.push((lo, hi));
        self.normalise();
    }

    pub(crate) fn extend(&mut self, other: &PortSet) {
        self.ranges.extend_from_slice(&other.ranges);
        self.normalise();
    }

    fn normalise(&mut self) {
        self.ranges.sort_unstable();
        let mut out: Vec<(u16, u16)> = Vec::with_capacity(self.ranges.len());
        for &(lo, hi) in &self.ranges {
            match out.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        self.ranges = out;
    }
}

/// Which protocols the ports that follow a prefix apply to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Both,
    Only(Protocol),
}

/// Parses a plain list (`ports`, `sslports`): numbers and ranges, comma-separated.
/// On failure returns the bad entry.
pub(crate) fn parse_list(text: &str) -> Result<PortSet, String> {
    let mut set = PortSet::default();
    for token in text.split(',') {
        let (lo, hi) = parse_range(token.trim()).ok_or_else(|| token.trim().to_owned())?;
        set.insert(lo, hi);
    }
    Ok(set)
}

/// Parses an `Exclude` list: like [`parse_list`], with `T:` and `U:` switching the protocol
/// for the entries that follow (unprefixed entries apply to both). Returns (TCP, UDP).
pub(crate) fn parse_exclude(text: &str) -> Result<(PortSet, PortSet), String> {
    let (mut tcp, mut udp) = (PortSet::default(), PortSet::default());
    let mut scope = Scope::Both;
    for raw in text.split(',') {
        let raw = raw.trim();
        let mut token = raw;
        if let Some((prefix, rest)) = raw.split_once(':') {
            scope = match prefix.trim() {
                "T" | "t" => Scope::Only(Protocol::Tcp),
                "U" | "u" => Scope::Only(Protocol::Udp),
                _ => return Err(raw.to_owned()),
            };
            token = rest.trim();
        }
        let (lo, hi) = parse_range(token).ok_or_else(|| raw.to_owned())?;
        if scope != Scope::Only(Protocol::Udp) {
            tcp.insert(lo, hi);
        }
        if scope != Scope::Only(Protocol::Tcp) {
            udp.insert(lo, hi);
        }
    }
    Ok((tcp, udp))
}

fn parse_range(token: &str) -> Option<(u16, u16)> {
    let (lo, hi) = match token.split_once('-') {
        Some((a, b)) => (parse_port(a)?, parse_port(b)?),
        None => {
            let p = parse_port(token)?;
            (p, p)
        }
    };
    (lo <= hi).then_some((lo, hi))
}

fn parse_port(text: &str) -> Option<u16> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn list_with_ranges_merges_and_answers_membership() {
        let set = parse_list("80,443, 8000-8010,8005-8020,81").unwrap();
        assert_eq!(set.ranges(), &[(80, 81), (443, 443), (8000, 8020)]);
        for p in [80, 81, 443, 8000, 8015, 8020] {
            assert!(set.contains(p), "{p}");
        }
        for p in [0, 79, 82, 442, 444, 7999, 8021, 65535] {
            assert!(!set.contains(p), "{p}");
        }
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(parse_list("80,x1,90"), Err("x1".into()));
        assert_eq!(parse_list("90-80"), Err("90-80".into()));
        assert_eq!(parse_list("65536"), Err("65536".into()));
        assert_eq!(parse_list("80,,81"), Err(String::new()));
        assert_eq!(parse_list("+80"), Err("+80".into()));
    }

    #[test]
    fn exclude_prefixes_switch_protocol_for_following_entries() {
        let (tcp, udp) = parse_exclude("53,T:9100-9102,9200,U:30000-40000").unwrap();
        assert!(tcp.contains(53) && udp.contains(53));
        assert!(tcp.contains(9101) && !udp.contains(9101));
        assert!(tcp.contains(9200) && !udp.contains(9200));
        assert!(udp.contains(35000) && !tcp.contains(35000));
        assert_eq!(parse_exclude("X:80"), Err("X:80".into()));
    }
}
