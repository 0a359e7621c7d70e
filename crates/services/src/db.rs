//! The probe database: probes in file order, each with its match lines, plus the ports
//! excluded from version detection.

use crate::error::{DbError, DbWarning};
use crate::ports::PortSet;
use crate::template::Template;
use portolan_model::Protocol;
use regex::bytes::Regex;
use std::time::Duration;

/// How long to wait for an answer when a probe has no `totalwaitms`.
pub const DEFAULT_TOTAL_WAIT: Duration = Duration::from_millis(5000);
/// The `tcpwrappedms` of a probe that sets none.
pub const DEFAULT_TCPWRAPPED: Duration = Duration::from_millis(3000);
/// The rarity of a probe that sets none.
pub const DEFAULT_RARITY: u8 = 5;
/// Name of the TCP probe that sends nothing and listens for a banner.
pub const NULL_PROBE: &str = "NULL";

/// Names a probe in the [`ProbeDb`] it came from (an index, stable until the next
/// [`ProbeDb::merge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeId(pub(crate) usize);

impl ProbeId {
    /// Position of the probe in file order.
    pub fn index(self) -> usize {
        self.0
    }
}

/// One `match` or `softmatch` line: the service it names, its compiled pattern and its
/// version info template.
#[derive(Clone, Debug)]
pub struct MatchLine {
    pub(crate) service: String,
    pub(crate) soft: bool,
    pub(crate) regex: Regex,
    pub(crate) template: Template,
    pub(crate) line: usize,
}

impl MatchLine {
    /// The service named (as written, e.g. `http` or `ssl/imap`).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Whether this is a `softmatch`.
    pub fn is_soft(&self) -> bool {
        self.soft
    }

    /// The line it was read from, in its own file.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// One `Probe` section.
#[derive(Clone, Debug)]
pub struct Probe {
    pub proto: Protocol,
    pub name: String,
    /// Bytes to send (empty for the NULL probe).
    pub payload: Vec<u8>,
    /// 1 (common, always worth sending) to 9 (rare).
    pub rarity: u8,
    /// How long to wait for the answer.
    pub total_wait: Duration,
    /// For the NULL probe: a peer that closes without a word before this is `tcpwrapped`.
    pub tcpwrapped: Duration,
    /// `no-payload`: not to be used as a UDP port-scan payload.
    pub no_payload: bool,
    /// Ports the services this probe identifies usually listen on.
    pub ports: PortSet,
    /// The same, for services wrapped in TLS.
    pub sslports: PortSet,
    pub(crate) fallback: Vec<String>,
    pub(crate) matches: Vec<MatchLine>,
    /// This probe, its fallbacks, then (TCP) the NULL probe: whose lines to test, in order.
    pub(crate) chain: Vec<ProbeId>,
}

impl Probe {
    pub(crate) fn new(proto: Protocol, name: String, payload: Vec<u8>) -> Probe {
        Probe {
            proto,
            name,
            payload,
            rarity: DEFAULT_RARITY,
            total_wait: DEFAULT_TOTAL_WAIT,
            tcpwrapped: DEFAULT_TCPWRAPPED,
            no_payload: false,
            ports: PortSet::default(),
            sslports: PortSet::default(),
            fallback: Vec::new(),
            matches: Vec::new(),
            chain: Vec::new(),
        }
    }

    /// The match lines, in file order.
    pub fn matches(&self) -> &[MatchLine] {
        &self.matches
    }

    /// The probe names of its `fallback` directive, as written.
    pub fn fallback(&self) -> &[String] {
        &self.fallback
    }

    /// Whether this is the TCP NULL probe.
    pub fn is_null(&self) -> bool {
        self.proto == Protocol::Tcp && self.name == NULL_PROBE
    }

    /// Whether one of its own lines (hard or soft) names `service`: after a soft match,
    /// only such probes are still worth sending.
    pub fn can_identify(&self, service: &str) -> bool {
        self.matches.iter().any(|m| m.service == service)
    }

    /// Whether `port` is one of its likely ports: `sslports` inside TLS, `ports` otherwise.
    pub fn lists_port(&self, port: u16, tunnel: bool) -> bool {
        if tunnel {
            self.sslports.contains(port)
        } else {
            self.ports.contains(port)
        }
    }
}

/// A probe database in the `nmap-service-probes` grammar.
#[derive(Clone, Debug, Default)]
pub struct ProbeDb {
    pub(crate) probes: Vec<Probe>,
    pub(crate) exclude_tcp: PortSet,
    pub(crate) exclude_udp: PortSet,
}

impl ProbeDb {
    /// Parses a whole database. Problems that cost only one line (an unknown directive, a
    /// pattern our engine cannot compile, a malformed version field) are warnings; the
    /// rest are errors naming the line.
    pub fn parse(text: &str) -> Result<(ProbeDb, Vec<DbWarning>), DbError> {
        crate::parse::parse(text)
    }

    /// Portolan's own database, built into the binary.
    pub fn builtin() -> Result<(ProbeDb, Vec<DbWarning>), DbError> {
        ProbeDb::parse(include_str!("../data/portolan-service-probes"))
    }

    /// Adds `other`'s probes after ours. A probe we already have (same protocol and name)
    /// gets `other`'s match lines appended after its own and keeps its other settings.
    /// Exclusions are combined. Every [`ProbeId`] of `other` is invalid afterwards.
    pub fn merge(&mut self, other: ProbeDb) {
        for probe in other.probes {
            match self.find(probe.proto, &probe.name) {
                Some(id) => self.probes[id.0].matches.extend(probe.matches),
                None => self.probes.push(probe),
            }
        }
        self.exclude_tcp.extend(&other.exclude_tcp);
        self.exclude_udp.extend(&other.exclude_udp);
        self.resolve_chains();
    }

    /// Whether `Exclude` keeps version detection off this port.
    pub fn excluded(&self, proto: Protocol, port: u16) -> bool {
        self.exclusions(proto).contains(port)
    }

    /// The ports `Exclude` names for `proto`.
    pub fn exclusions(&self, proto: Protocol) -> &PortSet {
        match proto {
            Protocol::Tcp => &self.exclude_tcp,
            Protocol::Udp => &self.exclude_udp,
        }
    }

    /// The probe `id` names.
    ///
    /// # Panics
    /// If `id` came from another database (or from this one before a merge that
    /// invalidated it); [`ProbeDb::get`] does not panic.
    pub fn probe(&self, id: ProbeId) -> &Probe {
        &self.probes[id.0]
    }

    /// The probe `id` names, if this database has it.
    pub fn get(&self, id: ProbeId) -> Option<&Probe> {
        self.probes.get(id.0)
    }

    /// The probe of this protocol and name.
    pub fn find(&self, proto: Protocol, name: &str) -> Option<ProbeId> {
        let at = self
            .probes
            .iter()
            .position(|p| p.proto == proto && p.name == name)?;
        Some(ProbeId(at))
    }

    /// Every probe, in file order.
    pub fn probes(&self) -> impl Iterator<Item = (ProbeId, &Probe)> {
        self.probes.iter().enumerate().map(|(i, p)| (ProbeId(i), p))
    }

    /// Number of probes.
    pub fn len(&self) -> usize {
        self.probes.len()
    }

    /// Whether there is no probe at all.
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }

    /// Number of match and softmatch lines kept (those whose pattern compiled).
    pub fn match_count(&self) -> usize {
        self.probes.iter().map(|p| p.matches.len()).sum()
    }

    /// Recomputes each probe's matching order; returns `(probe index, name)` for fallback
    /// names that name no probe of the same protocol.
    pub(crate) fn resolve_chains(&mut self) -> Vec<(usize, String)> {
        let null = self.find(Protocol::Tcp, NULL_PROBE);
        let mut unknown = Vec::new();
        for i in 0..self.probes.len() {
            let proto = self.probes[i].proto;
            let mut chain = vec![ProbeId(i)];
            for name in &self.probes[i].fallback {
                match self.find(proto, name) {
                    Some(id) if !chain.contains(&id) => chain.push(id),
                    Some(_) => {}
                    None => unknown.push((i, name.clone())),
                }
            }
            if let Some(null) = null.filter(|n| proto == Protocol::Tcp && !chain.contains(n)) {
                chain.push(null);
            }
            self.probes[i].chain = chain;
        }
        unknown
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BASE: &str = "Exclude T:9100
Probe TCP NULL q||
match a m/^a/
Probe TCP Get q|GET|
rarity 2
ports 80
match http m/^HTTP/
";

    const EXTRA: &str = "Exclude U:161
Probe TCP Get q|OTHER|
rarity 9
ports 8080
match web m/^WEB/
Probe TCP New q|new|
fallback Get
match fresh m/^fresh/
";

    #[test]
    fn merge_appends_lines_keeps_settings_and_adds_probes() {
        let (mut db, _) = ProbeDb::parse(BASE).unwrap();
        let (extra, _) = ProbeDb::parse(EXTRA).unwrap();
        db.merge(extra);
        assert_eq!(db.len(), 3);
        assert_eq!(db.match_count(), 4);
        let get = db.probe(db.find(Protocol::Tcp, "Get").unwrap());
        assert_eq!(get.payload, b"GET");
        assert_eq!(get.rarity, 2);
        assert!(get.ports.contains(80) && !get.ports.contains(8080));
        let services: Vec<&str> = get.matches().iter().map(MatchLine::service).collect();
        assert_eq!(services, ["http", "web"]);
        assert!(db.excluded(Protocol::Tcp, 9100) && db.excluded(Protocol::Udp, 161));
        assert!(!db.excluded(Protocol::Udp, 9100));
        // The new probe's fallback resolves against the merged database.
        let new = db.find(Protocol::Tcp, "New").unwrap();
        assert_eq!(db.match_response(new, b"WEB", None).unwrap().service, "web");
        assert_eq!(db.match_response(new, b"a", None).unwrap().service, "a");
    }

    #[test]
    fn merged_null_probe_becomes_everyones_fallback() {
        let (mut db, _) = ProbeDb::parse("Probe TCP X q|x|\nmatch x m/^x/").unwrap();
        let x = db.find(Protocol::Tcp, "X").unwrap();
        assert_eq!(db.match_response(x, b"banner", None), None);
        let (null, _) = ProbeDb::parse("Probe TCP NULL q||\nmatch banner m/^banner/").unwrap();
        db.merge(null);
        assert_eq!(
            db.match_response(x, b"banner", None).unwrap().service,
            "banner"
        );
    }

    #[test]
    fn builtin_database_loads() {
        let (db, warnings) = ProbeDb::builtin().unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        if let Some(null) = db.find(Protocol::Tcp, NULL_PROBE) {
            assert!(db.probe(null).payload.is_empty());
        }
    }
}
