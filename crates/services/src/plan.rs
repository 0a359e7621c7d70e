//! The probes for one port, in order, and what their answers decide. Sans-IO: the driver
//! connects, sends, reads and keeps time; the plan says what to send next and reads the
//! answers.

use crate::db::{ProbeDb, ProbeId};
use crate::matcher::ServiceMatch;
use portolan_model::Protocol;
use std::time::Duration;

/// The service name that means "TLS: unwrap it and probe again inside".
pub const SSL_SERVICE: &str = "ssl";

/// Per-port settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanConfig {
    /// `--version-intensity` (0-9): probes rarer than this are sent only to the ports they
    /// list.
    pub intensity: u8,
    /// The connection is already inside TLS: probes are chosen by `sslports`, and an
    /// `ssl` match is a plain match rather than [`Outcome::Tls`].
    pub tunnel: bool,
}

impl Default for PlanConfig {
    /// Nmap's default intensity, 7, outside TLS.
    fn default() -> PlanConfig {
        PlanConfig {
            intensity: 7,
            tunnel: false,
        }
    }
}

/// One probe to send: on a fresh connection (TCP) or as one datagram (UDP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeStep<'a> {
    pub id: ProbeId,
    pub name: &'a str,
    /// Bytes to send; empty for the NULL probe, which only listens.
    pub payload: &'a [u8],
    /// How long to wait for the answer.
    pub wait: Duration,
}

/// How reading the answer to a probe ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The wait elapsed.
    Timeout,
    /// The peer closed the connection.
    Closed,
    /// The peer reset the connection.
    Reset,
}

/// What version detection concluded about a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A hard match named the service.
    Matched(ServiceMatch),
    /// The port speaks TLS: the driver should unwrap it and run a plan with
    /// `tunnel: true` inside.
    Tls,
    /// The peer closed the connection without a word, quickly: a TCP wrapper or similar.
    Tcpwrapped,
    /// No hard match; the soft match, if any, names the service without a version.
    Unknown { soft: Option<ServiceMatch> },
}

/// The version detection of one (host, port).
///
/// Order of probes: for TCP, the NULL probe first (it sends nothing and waits for a
/// banner); then the probes whose `ports` (inside TLS: `sslports`) list the port, in file
/// order; then the others in file order, leaving out those rarer than the intensity. An
/// excluded port gets no probe. Once a soft match names a service, only probes with a line
/// for that service are sent, and only such lines are tested.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    db: &'a ProbeDb,
    cfg: PlanConfig,
    order: Vec<ProbeId>,
    next: usize,
    outstanding: Vec<ProbeId>,
    soft: Option<ServiceMatch>,
    decided: Option<Outcome>,
}

impl<'a> Plan<'a> {
    pub fn new(db: &'a ProbeDb, proto: Protocol, port: u16, cfg: PlanConfig) -> Plan<'a> {
        Plan {
            db,
            cfg,
            order: probe_order(db, proto, port, cfg),
            next: 0,
            outstanding: Vec::new(),
            soft: None,
            decided: None,
        }
    }

    /// Next probe to send on a fresh connection (TCP) or datagram (UDP); `None` when none
    /// is left or the port is decided. The driver may take several steps before answering
    /// the first (it runs NULL and the first port-listed probe at once).
    pub fn next_probe(&mut self) -> Option<ProbeStep<'a>> {
        if self.decided.is_some() {
            return None;
        }
        let db = self.db;
        while let Some(&id) = self.order.get(self.next) {
            self.next += 1;
            if !self.worth_sending(id) {
                continue;
            }
            self.outstanding.push(id);
            let probe = db.probe(id);
            return Some(ProbeStep {
                id,
                name: &probe.name,
                payload: &probe.payload,
                wait: probe.total_wait,
            });
        }
        None
    }

    /// Data read so far for `id` (the whole buffer, after every read). `Some` when a hard
    /// match decides the port: [`Outcome::Matched`], or [`Outcome::Tls`] for an `ssl`
    /// match (hard or soft) outside TLS. Later calls return `None`. As in Nmap, a pattern
    /// that already matches the first part of an answer decides on that part, so a
    /// version captured from a half-read line may be cut short.
    pub fn on_data(&mut self, id: ProbeId, data: &[u8]) -> Option<Outcome> {
        if self.decided.is_some() {
            return None;
        }
        let m = self.db.match_response(id, data, self.only())?;
        self.decisive(m)
    }

    /// Reading the answer to `id` ended. Tests the final data like [`Plan::on_data`], and
    /// also records a soft match (narrowing the probes still to send). The NULL probe
    /// closed by the peer ([`End::Closed`]) with no data before its `tcpwrappedms` decides
    /// [`Outcome::Tcpwrapped`]; a reset does not (it also stands for a connection that
    /// failed to open).
    pub fn on_end(
        &mut self,
        id: ProbeId,
        data: &[u8],
        end: End,
        elapsed: Duration,
    ) -> Option<Outcome> {
        self.outstanding.retain(|&o| o != id);
        if self.decided.is_some() {
            return None;
        }
        let probe = self.db.get(id)?;
        let closed = end == End::Closed;
        if probe.is_null() && data.is_empty() && closed && elapsed < probe.tcpwrapped {
            return self.decide(Outcome::Tcpwrapped);
        }
        let m = self.db.match_response(id, data, self.only())?;
        if m.soft && !self.is_tls(&m) {
            self.soft.get_or_insert(m);
            return None;
        }
        self.decisive(m)
    }

    /// Whether the port is decided, or no probe is left to send and none is awaited.
    pub fn is_done(&self) -> bool {
        self.decided.is_some()
            || (self.outstanding.is_empty()
                && !self.order[self.next..]
                    .iter()
                    .any(|&id| self.worth_sending(id)))
    }

    /// The soft match recorded so far.
    pub fn soft(&self) -> Option<&ServiceMatch> {
        self.soft.as_ref()
    }

    /// The decision, once there is one.
    pub fn decided(&self) -> Option<&Outcome> {
        self.decided.as_ref()
    }

    /// The result: the decision, else the soft match (or nothing) as
    /// [`Outcome::Unknown`].
    pub fn finish(self) -> Outcome {
        match self.decided {
            Some(outcome) => outcome,
            None => Outcome::Unknown { soft: self.soft },
        }
    }

    fn only(&self) -> Option<&str> {
        self.soft.as_ref().map(|s| s.service.as_str())
    }

    fn worth_sending(&self, id: ProbeId) -> bool {
        match &self.soft {
            Some(soft) => self.db.probe(id).can_identify(&soft.service),
            None => true,
        }
    }

    /// A match that settles the port, or `None` for a soft match that does not.
    fn is_tls(&self, m: &ServiceMatch) -> bool {
        m.service == SSL_SERVICE && !self.cfg.tunnel
    }

    fn decisive(&mut self, m: ServiceMatch) -> Option<Outcome> {
        if self.is_tls(&m) {
            return self.decide(Outcome::Tls);
        }
        if m.soft {
            return None;
        }
        self.decide(Outcome::Matched(m))
    }

    fn decide(&mut self, outcome: Outcome) -> Option<Outcome> {
        self.decided = Some(outcome.clone());
        Some(outcome)
    }
}

fn probe_order(db: &ProbeDb, proto: Protocol, port: u16, cfg: PlanConfig) -> Vec<ProbeId> {
    if db.excluded(proto, port) {
        return Vec::new();
    }
    let candidates = || {
        db.probes()
            .filter(|(_, p)| p.proto == proto && !p.is_null())
    };
    let listed = candidates().filter(|(_, p)| p.lists_port(port, cfg.tunnel));
    let rest =
        candidates().filter(|(_, p)| !p.lists_port(port, cfg.tunnel) && p.rarity <= cfg.intensity);
    let null = db.probes().filter(|(_, p)| p.proto == proto && p.is_null());
    null.chain(listed).chain(rest).map(|(id, _)| id).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DB: &str = r"
Exclude T:9100,U:5353
Probe TCP NULL q||
totalwaitms 4000
tcpwrappedms 2500
match ftp m/^220 AcmeFTP ([\d.]+)\r\n/ p/AcmeFTP/ v/$1/
softmatch ftp m/^220 [^\r\n]*ftp/i
softmatch ssl m/^\x16\x03/
Probe TCP Options q|OPTIONS / HTTP/1.0\r\n\r\n|
rarity 4
ports 80,8080
match http m|^HTTP/1\.[01] \d+ .*\r\nServer: Acme/([\d.]+)|s p/Acme httpd/ v/$1/
softmatch http m|^HTTP/1\.[01] \d+|
Probe TCP Get q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 8000-8010
sslports 443
match http m|^HTTP/1\.0 200 OK\r\nServer: Tiny/([\d.]+)| p/Tiny httpd/ v/$1/
Probe TCP FtpHelp q|HELP\r\n|
rarity 8
ports 21
match ftp m|^214 AcmeFTP ([\d.]+)| p/AcmeFTP/ v/$1/
match http m|^HTTP/1\.0 400|
Probe TCP Hello q|\x16\x03\x01|
rarity 3
ports 443
match ssl m|^\x16\x03[\x00-\x03]|
Probe TCP Rare q|rare|
rarity 9
sslports 993
match imap m|^\* OK|
Probe UDP Dns q|\x00\x01|
rarity 1
match domain m|^\x00\x01\x81|
Probe UDP Echo q|ping|
rarity 9
ports 7
match echo m|^ping$|
";

    fn db() -> ProbeDb {
        let (db, w) = ProbeDb::parse(DB).unwrap();
        assert!(w.is_empty(), "{w:?}");
        db
    }

    fn names(db: &ProbeDb, proto: Protocol, port: u16, cfg: PlanConfig) -> Vec<String> {
        let mut plan = Plan::new(db, proto, port, cfg);
        std::iter::from_fn(|| plan.next_probe().map(|s| s.name.to_owned())).collect()
    }

    fn cfg(intensity: u8, tunnel: bool) -> PlanConfig {
        PlanConfig { intensity, tunnel }
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn tcp_without_port_hints_null_then_file_order_within_intensity() {
        let db = db();
        assert_eq!(
            names(&db, Protocol::Tcp, 1234, cfg(7, false)),
            ["NULL", "Options", "Get", "Hello"]
        );
        assert_eq!(
            names(&db, Protocol::Tcp, 1234, cfg(9, false)),
            ["NULL", "Options", "Get", "FtpHelp", "Hello", "Rare"]
        );
        assert_eq!(names(&db, Protocol::Tcp, 1234, cfg(0, false)), ["NULL"]);
        assert_eq!(PlanConfig::default(), cfg(7, false));
    }

    #[test]
    fn tcp_port_listed_probes_go_first_and_ignore_rarity() {
        let db = db();
        assert_eq!(
            names(&db, Protocol::Tcp, 8005, cfg(7, false)),
            ["NULL", "Get", "Options", "Hello"]
        );
        assert_eq!(
            names(&db, Protocol::Tcp, 21, cfg(7, false)),
            ["NULL", "FtpHelp", "Options", "Get", "Hello"]
        );
        assert_eq!(
            names(&db, Protocol::Tcp, 21, cfg(0, false)),
            ["NULL", "FtpHelp"]
        );
        assert_eq!(
            names(&db, Protocol::Tcp, 443, cfg(2, false)),
            ["NULL", "Hello", "Get"]
        );
    }

    #[test]
    fn inside_tls_sslports_choose() {
        let db = db();
        assert_eq!(
            names(&db, Protocol::Tcp, 443, cfg(2, true)),
            ["NULL", "Get"]
        );
        assert_eq!(
            names(&db, Protocol::Tcp, 993, cfg(1, true)),
            ["NULL", "Rare", "Get"]
        );
        assert_eq!(
            names(&db, Protocol::Tcp, 993, cfg(1, false)),
            ["NULL", "Get"]
        );
    }

    #[test]
    fn udp_has_no_null_probe() {
        let db = db();
        assert_eq!(names(&db, Protocol::Udp, 53, cfg(7, false)), ["Dns"]);
        assert_eq!(names(&db, Protocol::Udp, 7, cfg(7, false)), ["Echo", "Dns"]);
        let mut plan = Plan::new(&db, Protocol::Udp, 7, cfg(7, false));
        let echo = plan.next_probe().unwrap();
        assert_eq!(echo.payload, b"ping");
        assert_eq!(
            plan.on_data(echo.id, b"ping"),
            Some(Outcome::Matched(ServiceMatch {
                service: "echo".into(),
                ..ServiceMatch::default()
            }))
        );
    }

    #[test]
    fn excluded_ports_get_nothing() {
        let db = db();
        let plan = Plan::new(&db, Protocol::Tcp, 9100, cfg(9, false));
        assert!(plan.is_done());
        assert_eq!(plan.finish(), Outcome::Unknown { soft: None });
        assert!(names(&db, Protocol::Udp, 5353, cfg(9, false)).is_empty());
        assert_eq!(
            names(&db, Protocol::Udp, 9100, cfg(9, false)),
            ["Dns", "Echo"]
        );
    }

    #[test]
    fn steps_carry_payload_and_wait() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 80, cfg(7, false));
        let null = plan.next_probe().unwrap();
        assert_eq!(
            (null.name, null.payload, null.wait),
            ("NULL", &b""[..], Duration::from_millis(4000))
        );
        let options = plan.next_probe().unwrap();
        assert_eq!(options.payload, b"OPTIONS / HTTP/1.0\r\n\r\n");
        assert_eq!(options.wait, crate::DEFAULT_TOTAL_WAIT);
    }

    #[test]
    fn hard_match_mid_stream_decides_and_stops() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 21, cfg(7, false));
        let null = plan.next_probe().unwrap();
        assert_eq!(plan.on_data(null.id, b"220 Acme"), None);
        assert!(!plan.is_done());
        let out = plan.on_data(null.id, b"220 AcmeFTP 3.1\r\n").unwrap();
        let Outcome::Matched(m) = &out else {
            panic!("{out:?}")
        };
        assert_eq!(
            (
                m.service.as_str(),
                m.product.as_deref(),
                m.version.as_deref()
            ),
            ("ftp", Some("AcmeFTP"), Some("3.1"))
        );
        assert!(plan.is_done());
        assert_eq!(plan.next_probe(), None);
        assert_eq!(
            plan.on_end(null.id, b"220 AcmeFTP 3.1\r\n", End::Closed, SEC),
            None
        );
        assert_eq!(plan.finish(), out);
    }

    #[test]
    fn soft_match_narrows_probes_and_lines() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 2121, cfg(9, false));
        let null = plan.next_probe().unwrap();
        let banner = b"220 welcome to some ftp\r\n";
        assert_eq!(plan.on_data(null.id, banner), None);
        assert_eq!(
            plan.soft(),
            None,
            "a soft match waits for the end of the answer"
        );
        assert_eq!(plan.on_end(null.id, banner, End::Timeout, SEC * 4), None);
        assert_eq!(plan.soft().map(|s| s.service.as_str()), Some("ftp"));
        // Only FtpHelp has an ftp line: Options, Get, Hello, Rare are skipped.
        let help = plan.next_probe().unwrap();
        assert_eq!(help.name, "FtpHelp");
        // An answer that would hard-match another service no longer counts.
        let other = b"HTTP/1.0 400 Bad request\r\n";
        assert_eq!(
            db.match_response(help.id, other, None).unwrap().service,
            "http"
        );
        assert_eq!(plan.on_end(help.id, other, End::Timeout, SEC), None);
        assert_eq!(plan.next_probe(), None);
        assert!(plan.is_done());
        let Outcome::Unknown { soft: Some(soft) } = plan.finish() else {
            panic!()
        };
        assert_eq!((soft.service.as_str(), soft.soft), ("ftp", true));
    }

    #[test]
    fn soft_then_hard_match_for_the_same_service() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 2121, cfg(9, false));
        let null = plan.next_probe().unwrap();
        plan.on_end(null.id, b"220 an FTP server\r\n", End::Timeout, SEC * 4);
        let help = plan.next_probe().unwrap();
        let Some(Outcome::Matched(m)) = plan.on_data(help.id, b"214 AcmeFTP 2.5 help") else {
            panic!()
        };
        assert_eq!((m.soft, m.version.as_deref()), (false, Some("2.5")));
    }

    #[test]
    fn two_steps_in_flight_before_the_first_answer() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 8080, cfg(7, false));
        let null = plan.next_probe().unwrap();
        let options = plan.next_probe().unwrap();
        assert_eq!(options.name, "Options");
        assert_eq!(plan.on_end(null.id, b"", End::Timeout, SEC * 4), None);
        let answer = b"HTTP/1.1 200 OK\r\nServer: Acme/2.4.1\r\n\r\n";
        let Some(Outcome::Matched(m)) = plan.on_data(options.id, answer) else {
            panic!()
        };
        assert_eq!(
            (m.service.as_str(), m.version.as_deref()),
            ("http", Some("2.4.1"))
        );
    }

    #[test]
    fn is_done_waits_for_outstanding_answers() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 1234, cfg(0, false));
        let null = plan.next_probe().unwrap();
        assert_eq!(plan.next_probe(), None);
        assert!(!plan.is_done());
        assert_eq!(plan.on_end(null.id, b"???", End::Timeout, SEC * 4), None);
        assert!(plan.is_done());
        assert_eq!(plan.finish(), Outcome::Unknown { soft: None });
    }

    #[test]
    fn hard_ssl_match_outside_tls_is_tls_inside_is_a_match() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 443, cfg(7, false));
        let null = plan.next_probe().unwrap();
        plan.on_end(null.id, b"", End::Timeout, SEC * 4);
        let hello = plan.next_probe().unwrap();
        assert_eq!(hello.name, "Hello");
        assert_eq!(
            plan.on_data(hello.id, b"\x16\x03\x03\x00"),
            Some(Outcome::Tls)
        );
        assert_eq!(plan.finish(), Outcome::Tls);

        let mut plan = Plan::new(&db, Protocol::Tcp, 443, cfg(7, true));
        let steps: Vec<_> = std::iter::from_fn(|| plan.next_probe()).collect();
        let hello = steps.iter().find(|s| s.name == "Hello").unwrap();
        let Some(Outcome::Matched(m)) = plan.on_data(hello.id, b"\x16\x03\x03\x00") else {
            panic!()
        };
        assert!(!m.soft && m.service == "ssl");
    }

    #[test]
    fn soft_ssl_match_outside_tls_is_tls_at_once() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 5000, cfg(7, false));
        let null = plan.next_probe().unwrap();
        assert_eq!(plan.on_data(null.id, b"\x16\x03\x09"), Some(Outcome::Tls));
        assert!(plan.is_done());
        let mut plan = Plan::new(&db, Protocol::Tcp, 5000, cfg(7, false));
        let null = plan.next_probe().unwrap();
        assert_eq!(
            plan.on_end(null.id, b"\x16\x03\x09", End::Closed, SEC),
            Some(Outcome::Tls)
        );
    }

    #[test]
    fn inside_tls_a_soft_ssl_match_is_only_a_soft_match() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 5000, cfg(7, true));
        let null = plan.next_probe().unwrap();
        assert_eq!(plan.on_data(null.id, b"\x16\x03\x09"), None);
        assert_eq!(
            plan.on_end(null.id, b"\x16\x03\x09", End::Closed, SEC),
            None
        );
        assert_eq!(plan.soft().map(|s| s.service.as_str()), Some("ssl"));
        // Hello is the one other probe with an ssl line.
        assert_eq!(plan.next_probe().map(|s| s.name), Some("Hello"));
    }

    #[test]
    fn quiet_quick_close_on_null_is_tcpwrapped() {
        let db = db();
        let mut plan = Plan::new(&db, Protocol::Tcp, 1234, cfg(7, false));
        let null = plan.next_probe().unwrap();
        let elapsed = Duration::from_millis(2499);
        assert_eq!(
            plan.on_end(null.id, b"", End::Closed, elapsed),
            Some(Outcome::Tcpwrapped)
        );
        assert!(plan.is_done());
        assert_eq!(plan.next_probe(), None);
        assert_eq!(plan.finish(), Outcome::Tcpwrapped);
    }

    #[test]
    fn not_tcpwrapped_when_slow_talkative_timed_out_reset_or_not_null() {
        let db = db();
        let cases: [(&[u8], End, u64); 4] = [
            (b"", End::Closed, 2500),
            (b"x", End::Closed, 10),
            (b"", End::Timeout, 10),
            (b"", End::Reset, 10),
        ];
        for (data, end, ms) in cases {
            let mut plan = Plan::new(&db, Protocol::Tcp, 1234, cfg(7, false));
            let null = plan.next_probe().unwrap();
            assert_eq!(
                plan.on_end(null.id, data, end, Duration::from_millis(ms)),
                None
            );
            assert!(!plan.is_done());
        }
        let mut plan = Plan::new(&db, Protocol::Tcp, 1234, cfg(7, false));
        plan.next_probe().unwrap();
        let options = plan.next_probe().unwrap();
        assert_eq!(
            plan.on_end(options.id, b"", End::Closed, Duration::ZERO),
            None
        );
    }
}
