//! Matching one response against the database.

use crate::db::{MatchLine, ProbeDb, ProbeId};
use regex::bytes::Captures;

/// What a match line said about a service.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServiceMatch {
    /// The service name as the line wrote it (`ssh`; `ssl/imap` for a service recognised
    /// inside TLS without unwrapping it).
    pub service: String,
    /// From a `softmatch` line: the service is known, the version is not.
    pub soft: bool,
    pub product: Option<String>,
    pub version: Option<String>,
    pub info: Option<String>,
    pub hostname: Option<String>,
    pub ostype: Option<String>,
    pub devicetype: Option<String>,
    /// CPE names with their `cpe:/` prefix.
    pub cpe: Vec<String>,
}

impl ServiceMatch {
    /// Whether the line named the service as wrapped in TLS (`ssl/…`).
    pub fn ssl_tunnel(&self) -> bool {
        self.service.starts_with("ssl/")
    }

    /// The service name without an `ssl/` prefix.
    pub fn base_service(&self) -> &str {
        self.service.strip_prefix("ssl/").unwrap_or(&self.service)
    }
}

impl MatchLine {
    fn build(&self, caps: &Captures<'_>) -> ServiceMatch {
        let mut m = ServiceMatch {
            service: self.service.clone(),
            soft: self.soft,
            ..ServiceMatch::default()
        };
        self.template.apply(caps, &mut m);
        m
    }
}

impl ProbeDb {
    /// Tests `data`, the answer to probe `id`, as version detection does: the probe's own
    /// lines in file order, then those of its `fallback` probes left to right, then (TCP)
    /// the NULL probe's. The first hard match wins; failing one, the first soft match is
    /// returned. With `only`, lines naming another service are not considered (what
    /// follows a soft match). `None` also for an `id` this database does not have.
    pub fn match_response(
        &self,
        id: ProbeId,
        data: &[u8],
        only: Option<&str>,
    ) -> Option<ServiceMatch> {
        let mut soft = None;
        for &link in &self.get(id)?.chain {
            let Some(probe) = self.get(link) else {
                continue;
            };
            for line in &probe.matches {
                if only.is_some_and(|s| s != line.service) || (line.soft && soft.is_some()) {
                    continue;
                }
                let Some(caps) = line.regex.captures(data) else {
                    continue;
                };
                if !line.soft {
                    return Some(line.build(&caps));
                }
                soft = Some(line.build(&caps));
            }
        }
        soft
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use portolan_model::Protocol;

    const DB: &str = r"
Probe TCP NULL q||
match banner m/^BANNER/ p/from NULL/
softmatch late m/^late/
Probe TCP A q|a|
softmatch early m/^X/
match alpha m/^Xa/ p/from A/
Probe TCP B q|b|
match beta m/^Xb/ p/from B/
match both m/^X/ p/from B/
Probe TCP C q|c|
fallback B,A
match gamma m/^Xc/ p/from C/
Probe UDP U q|u|
fallback V
match udp1 m/^U1/
Probe UDP V q|v|
match udp2 m/^U2/
Probe UDP NULL q||
match udpnull m/^BANNER/
";

    fn db() -> ProbeDb {
        let (db, w) = ProbeDb::parse(DB).unwrap();
        assert!(w.is_empty(), "{w:?}");
        db
    }

    fn service(db: &ProbeDb, proto: Protocol, probe: &str, data: &[u8]) -> Option<(String, bool)> {
        let id = db.find(proto, probe).unwrap();
        db.match_response(id, data, None)
            .map(|m| (m.service, m.soft))
    }

    #[test]
    fn own_lines_then_fallbacks_left_to_right_then_null() {
        let db = db();
        let tcp = Protocol::Tcp;
        assert_eq!(service(&db, tcp, "C", b"Xc"), Some(("gamma".into(), false)));
        // B is C's first fallback, and its `both` line comes before A's `alpha`.
        assert_eq!(service(&db, tcp, "C", b"Xa"), Some(("both".into(), false)));
        assert_eq!(service(&db, tcp, "C", b"Xb"), Some(("beta".into(), false)));
        // With an explicit fallback list, the NULL probe still comes last for TCP.
        assert_eq!(
            service(&db, tcp, "C", b"BANNER"),
            Some(("banner".into(), false))
        );
        let c = db.probe(db.find(tcp, "C").unwrap());
        let chain: Vec<&str> = c
            .chain
            .iter()
            .map(|&id| db.probe(id).name.as_str())
            .collect();
        assert_eq!(chain, ["C", "B", "A", "NULL"]);
    }

    #[test]
    fn tcp_probes_without_fallback_fall_back_to_null() {
        let db = db();
        assert_eq!(
            service(&db, Protocol::Tcp, "B", b"BANNER x"),
            Some(("banner".into(), false))
        );
        assert_eq!(
            service(&db, Protocol::Tcp, "B", b"Xa"),
            Some(("both".into(), false))
        );
        assert_eq!(service(&db, Protocol::Tcp, "B", b"nothing"), None);
    }

    #[test]
    fn udp_probes_never_fall_back_to_null() {
        let db = db();
        assert_eq!(
            service(&db, Protocol::Udp, "U", b"U2"),
            Some(("udp2".into(), false))
        );
        assert_eq!(service(&db, Protocol::Udp, "U", b"BANNER"), None);
        assert_eq!(service(&db, Protocol::Udp, "V", b"U1"), None);
    }

    #[test]
    fn first_hard_match_beats_an_earlier_soft_match() {
        let db = db();
        // A's soft `early` line comes first, its hard `alpha` line wins.
        assert_eq!(
            service(&db, Protocol::Tcp, "A", b"Xa"),
            Some(("alpha".into(), false))
        );
        // Only the soft line matches: a soft match, and the first one found.
        assert_eq!(
            service(&db, Protocol::Tcp, "A", b"Xz"),
            Some(("early".into(), true))
        );
        assert_eq!(
            service(&db, Protocol::Tcp, "A", b"late"),
            Some(("late".into(), true))
        );
        let a = db.find(Protocol::Tcp, "A").unwrap();
        assert_eq!(
            db.match_response(a, b"Xa", None)
                .unwrap()
                .product
                .as_deref(),
            Some("from A")
        );
    }

    #[test]
    fn only_lines_for_the_soft_service_count_after_a_soft_match() {
        let db = db();
        let a = db.find(Protocol::Tcp, "A").unwrap();
        assert_eq!(
            db.match_response(a, b"Xa", Some("early")).map(|m| m.soft),
            Some(true)
        );
        assert_eq!(db.match_response(a, b"BANNER", Some("early")), None);
        let m = db.match_response(a, b"BANNER", Some("banner")).unwrap();
        assert_eq!(m.product.as_deref(), Some("from NULL"));
    }

    #[test]
    fn foreign_ids_match_nothing() {
        let db = db();
        assert_eq!(db.match_response(ProbeId(99), b"BANNER", None), None);
        assert!(db.get(ProbeId(99)).is_none());
    }

    #[test]
    fn ssl_prefixed_services() {
        let m = ServiceMatch {
            service: "ssl/imap".into(),
            ..ServiceMatch::default()
        };
        assert!(m.ssl_tunnel());
        assert_eq!(m.base_service(), "imap");
        let m = ServiceMatch {
            service: "ssl".into(),
            ..ServiceMatch::default()
        };
        assert!(!m.ssl_tunnel());
        assert_eq!(m.base_service(), "ssl");
    }
}
