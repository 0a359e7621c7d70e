//! The port table: service names per port and protocol, and how often each
//! port is found open (for `--top-ports` and `-F`).
//!
//! Format (UTF-8): `#` starts a comment line, blank lines are ignored, and
//! every other line is `port/proto<TAB>name<TAB>rank`, where `proto` is
//! `tcp` or `udp`, `name` uses `[a-z0-9-+._]`, and `rank` is the port's
//! frequency rank within its protocol (1 = most often open) or `-`.

use crate::glob;
use portolan_model::Protocol;
use std::sync::OnceLock;

/// The table compiled into the crate.
const BUILTIN_TEXT: &str = include_str!("../data/ports.tsv");

/// Errors from [`PortTable::parse`]; line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    #[error("port table line {line}: {why}")]
    Malformed { line: usize, why: String },
    #[error("port table line {line}: {port}/{proto} is listed twice")]
    DuplicatePort {
        line: usize,
        port: u16,
        proto: Protocol,
    },
    #[error("port table line {line}: {proto} rank {rank} is given twice")]
    DuplicateRank {
        line: usize,
        proto: Protocol,
        rank: u32,
    },
    #[error(
        "port table: {proto} ranks must run 1..=N without gaps, but rank {missing} is missing"
    )]
    RankGap { proto: Protocol, missing: u32 },
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortEntry {
    pub port: u16,
    pub proto: Protocol,
    pub name: String,
    /// Frequency rank within `proto`, 1 = most often open.
    pub rank: Option<u32>,
}

/// Service names and frequency ranks by port and protocol.
///
/// Guaranteed by [`PortTable::parse`]: each port/protocol pair appears once,
/// and each protocol's ranks are exactly `1..=ranked_len(proto)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortTable {
    /// Sorted by (protocol, port).
    entries: Vec<PortEntry>,
    /// Per protocol (TCP, UDP), ports in rank order.
    by_rank: [Vec<u16>; 2],
}

fn slot(proto: Protocol) -> usize {
    match proto {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
    }
}

impl PortTable {
    /// The table shipped with Portolan (`data/ports.tsv`), parsed once.
    ///
    /// # Panics
    /// If the shipped file is invalid, which the crate's tests rule out.
    pub fn builtin() -> &'static PortTable {
        static TABLE: OnceLock<PortTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            PortTable::parse(BUILTIN_TEXT).expect("data/ports.tsv is checked by the crate's tests")
        })
    }

    /// Parse a table in the format described in the module docs.
    pub fn parse(text: &str) -> Result<PortTable, TableError> {
        let mut lines = Vec::new();
        for (k, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if !line.trim().is_empty() && !line.starts_with('#') {
                let entry =
                    parse_line(line).map_err(|why| TableError::Malformed { line: k + 1, why })?;
                lines.push((k + 1, entry));
            }
        }
        check_unique_ports(&mut lines)?;
        let by_rank = [
            rank_order(&lines, Protocol::Tcp)?,
            rank_order(&lines, Protocol::Udp)?,
        ];
        let entries = lines.into_iter().map(|(_, e)| e).collect();
        Ok(PortTable { entries, by_rank })
    }

    /// Every entry, sorted by protocol then port.
    pub fn entries(&self) -> &[PortEntry] {
        &self.entries
    }

    /// The service name of `port`/`proto`, if the table names it.
    pub fn name(&self, port: u16, proto: Protocol) -> Option<&str> {
        let at = self
            .entries
            .binary_search_by_key(&(proto, port), |e| (e.proto, e.port))
            .ok()?;
        Some(&self.entries[at].name)
    }

    /// The `n` best-ranked ports of `proto`, sorted ascending; all ranked
    /// ports when `n` exceeds [`PortTable::ranked_len`].
    pub fn top(&self, n: usize, proto: Protocol) -> Vec<u16> {
        let ranked = &self.by_rank[slot(proto)];
        let mut ports = ranked[..n.min(ranked.len())].to_vec();
        ports.sort_unstable();
        ports
    }

    /// How many ports of `proto` carry a rank.
    pub fn ranked_len(&self, proto: Protocol) -> usize {
        self.by_rank[slot(proto)].len()
    }

    /// Every port/protocol whose name matches `pattern` (case-insensitive,
    /// `*` and `?` wildcards), sorted by port then protocol.
    pub fn ports_named(&self, pattern: &str) -> Vec<(u16, Protocol)> {
        let pattern = pattern.to_ascii_lowercase();
        let mut found: Vec<(u16, Protocol)> = self
            .entries
            .iter()
            .filter(|e| glob::matches(pattern.as_bytes(), e.name.as_bytes()))
            .map(|e| (e.port, e.proto))
            .collect();
        found.sort_unstable();
        found
    }
}

fn parse_line(line: &str) -> Result<PortEntry, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [port_proto, name, rank] = fields[..] else {
        return Err(format!(
            "expected 3 tab-separated fields, found {}",
            fields.len()
        ));
    };
    let (port, proto) = parse_port_proto(port_proto)?;
    Ok(PortEntry {
        port,
        proto,
        name: parse_name(name)?,
        rank: parse_rank(rank)?,
    })
}

fn parse_port_proto(field: &str) -> Result<(u16, Protocol), String> {
    let bad = || format!("'{field}' is not port/tcp or port/udp");
    let (port, proto) = field.split_once('/').ok_or_else(bad)?;
    let proto = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return Err(bad()),
    };
    Ok((digits(port).ok_or_else(bad)?, proto))
}

fn parse_name(name: &str) -> Result<String, String> {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-+._".contains(&b);
    if name.is_empty() || !name.bytes().all(ok) {
        return Err(format!(
            "service name '{name}' is empty or not in [a-z0-9-+._]"
        ));
    }
    Ok(name.to_owned())
}

fn parse_rank(rank: &str) -> Result<Option<u32>, String> {
    match (rank, digits::<u32>(rank)) {
        ("-", _) => Ok(None),
        (_, Some(r)) if r > 0 => Ok(Some(r)),
        _ => Err(format!(
            "rank '{rank}' is neither a positive integer nor '-'"
        )),
    }
}

fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| text.parse().ok()).flatten()
}

/// Sort by (protocol, port) and reject repeats.
fn check_unique_ports(lines: &mut [(usize, PortEntry)]) -> Result<(), TableError> {
    lines.sort_by_key(|(line, e)| (e.proto, e.port, *line));
    match lines
        .windows(2)
        .find(|w| (w[0].1.proto, w[0].1.port) == (w[1].1.proto, w[1].1.port))
    {
        Some([_, (line, e)]) => Err(TableError::DuplicatePort {
            line: *line,
            port: e.port,
            proto: e.proto,
        }),
        _ => Ok(()),
    }
}

/// The ports of `proto` in rank order, after checking the ranks are 1..=N.
fn rank_order(lines: &[(usize, PortEntry)], proto: Protocol) -> Result<Vec<u16>, TableError> {
    let mut ranked: Vec<(u32, usize, u16)> = lines
        .iter()
        .filter(|(_, e)| e.proto == proto)
        .filter_map(|(line, e)| Some((e.rank?, *line, e.port)))
        .collect();
    ranked.sort_unstable();
    for (expected, w) in (1u32..).zip(&ranked) {
        match w.0.cmp(&expected) {
            std::cmp::Ordering::Less => {
                let (rank, line) = (w.0, w.1);
                return Err(TableError::DuplicateRank { line, proto, rank });
            }
            std::cmp::Ordering::Greater => {
                return Err(TableError::RankGap {
                    proto,
                    missing: expected,
                })
            }
            std::cmp::Ordering::Equal => {}
        }
    }
    Ok(ranked.into_iter().map(|(_, _, port)| port).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "# test table\n\n22/tcp\tssh\t2\n80/tcp\thttp\t1\n\
        80/udp\thttp\t-\n8080/tcp\thttp-proxy\t3\n53/udp\tdomain\t1\n53/tcp\tdomain\t-\n";

    #[test]
    fn small_table_answers_lookups() {
        let t = PortTable::parse(SMALL).unwrap();
        assert_eq!(t.name(22, Protocol::Tcp), Some("ssh"));
        assert_eq!(t.name(22, Protocol::Udp), None);
        assert_eq!(t.top(2, Protocol::Tcp), [22, 80]);
        assert_eq!(t.top(99, Protocol::Tcp), [22, 80, 8080]);
        assert_eq!(t.ranked_len(Protocol::Udp), 1);
        assert_eq!(
            t.ports_named("HTTP"),
            [(80, Protocol::Tcp), (80, Protocol::Udp)]
        );
        assert_eq!(t.ports_named("http*").len(), 3);
        assert_eq!(t.entries().len(), 6);
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number() {
        let cases = [
            ("22/tcp ssh 1", "expected 3 tab-separated fields, found 1"),
            ("22/sctp\tssh\t1", "'22/sctp' is not port/tcp or port/udp"),
            (
                "70000/tcp\tssh\t1",
                "'70000/tcp' is not port/tcp or port/udp",
            ),
            (
                "22/tcp\tSSH\t1",
                "service name 'SSH' is empty or not in [a-z0-9-+._]",
            ),
            (
                "22/tcp\tssh\t0",
                "rank '0' is neither a positive integer nor '-'",
            ),
        ];
        for (line, why) in cases {
            let err = PortTable::parse(&format!("# header\n{line}\n")).unwrap_err();
            assert_eq!(
                err,
                TableError::Malformed {
                    line: 2,
                    why: why.into()
                },
                "{line}"
            );
        }
    }

    #[test]
    fn integrity_violations_are_rejected() {
        let dup = PortTable::parse("22/tcp\tssh\t1\n22/tcp\tssh2\t-\n");
        assert!(matches!(
            dup,
            Err(TableError::DuplicatePort {
                line: 2,
                port: 22,
                ..
            })
        ));
        let dup_rank = PortTable::parse("22/tcp\tssh\t1\n23/tcp\ttelnet\t1\n");
        assert!(matches!(
            dup_rank,
            Err(TableError::DuplicateRank {
                line: 2,
                rank: 1,
                ..
            })
        ));
        let gap = PortTable::parse("22/tcp\tssh\t1\n23/tcp\ttelnet\t3\n");
        assert_eq!(
            gap,
            Err(TableError::RankGap {
                proto: Protocol::Tcp,
                missing: 2
            })
        );
    }

    /// Integrity of the shipped `data/ports.tsv`; a failure is a data bug.
    #[test]
    fn builtin_table_is_complete_and_consistent() {
        let table = PortTable::parse(BUILTIN_TEXT).unwrap();
        let tcp = table.ranked_len(Protocol::Tcp);
        let udp = table.ranked_len(Protocol::Udp);
        assert!(tcp >= 1000, "only {tcp} ranked TCP ports");
        assert!(udp >= 100, "only {udp} ranked UDP ports");
        assert_eq!(table.top(tcp, Protocol::Tcp).len(), tcp);
        assert!(std::ptr::eq(PortTable::builtin(), PortTable::builtin()));
    }
}
