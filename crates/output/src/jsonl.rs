//! Portolan's JSON Lines format (`-oJ`): one object per host, then a summary.
//!
//! The schema is documented in `docs/json-lines.md`. Every line carries
//! `"schema": "portolan/1"`; additive changes keep that value, anything else
//! bumps it.

use crate::view::host_visible;
use crate::{emit, fallback_run, Out, Sink};
use portolan_model::{HostResult, PortState, RunInfo, RunSummary, ScanInfo};
use serde::Serialize;
use std::borrow::Cow;
use std::io;

/// The value of every line's `schema` field.
pub const JSON_SCHEMA: &str = "portolan/1";

/// Writes one JSON object per line.
pub struct JsonLinesSink {
    out: Out,
    run: Option<RunInfo>,
}

impl JsonLinesSink {
    pub fn new(out: Out) -> Self {
        JsonLinesSink { out, run: None }
    }
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink").finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct HostLine<'a> {
    schema: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    host: &'a HostResult,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    schema: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    scanner: &'a str,
    version: &'a str,
    args: &'a str,
    start_time: u64,
    end_time: u64,
    elapsed_secs: f64,
    run_kind: &'static str,
    scans: Vec<ScanLine>,
    hosts_up: u64,
    hosts_down: u64,
    hosts_total: u64,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct ScanLine {
    scan_type: &'static str,
    protocol: &'static str,
    services: String,
}

impl From<&ScanInfo> for ScanLine {
    fn from(scan: &ScanInfo) -> Self {
        let mut ports = scan.ports.clone();
        ports.sort_unstable();
        ports.dedup();
        ScanLine {
            scan_type: scan.scan_type.as_str(),
            protocol: scan.protocol.as_str(),
            services: portolan_model::compact_ranges(&ports),
        }
    }
}

impl Sink for JsonLinesSink {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.run = Some(run.clone());
        Ok(())
    }

    fn host(&mut self, host: &HostResult) -> io::Result<()> {
        let run = self.run.get_or_insert_with(fallback_run);
        if !host_visible(host, run) {
            return Ok(());
        }
        let line = host_line(host, run.options.open_only)?;
        emit(&mut self.out, &line)
    }

    fn end(&mut self, summary: &RunSummary) -> io::Result<()> {
        let run = self.run.get_or_insert_with(fallback_run);
        let line = summary_line(run, summary)?;
        emit(&mut self.out, &line)
    }
}

/// A host's line. With `--open` only open ports are kept; otherwise every scanned port.
pub(crate) fn host_line(host: &HostResult, open_only: bool) -> io::Result<String> {
    let host: Cow<'_, HostResult> = if open_only {
        let mut h = host.clone();
        h.ports.retain(|p| p.state == PortState::Open);
        Cow::Owned(h)
    } else {
        Cow::Borrowed(host)
    };
    to_line(&HostLine {
        schema: JSON_SCHEMA,
        kind: "host",
        host: &host,
    })
}

pub(crate) fn summary_line(run: &RunInfo, summary: &RunSummary) -> io::Result<String> {
    to_line(&SummaryLine {
        schema: JSON_SCHEMA,
        kind: "summary",
        scanner: &run.scanner,
        version: &run.version,
        args: &run.args,
        start_time: run.start_time,
        end_time: summary.end_time,
        elapsed_secs: summary.elapsed_secs,
        run_kind: run.kind.as_str(),
        scans: run.port_scans().iter().map(ScanLine::from).collect(),
        hosts_up: summary.hosts_up,
        hosts_down: summary.hosts_down,
        hosts_total: summary.hosts_total,
        error: summary.error.as_deref(),
    })
}

/// Compact JSON (serde_json escapes newlines inside strings) plus the line break.
fn to_line(value: &impl Serialize) -> io::Result<String> {
    let mut line = serde_json::to_string(value).map_err(io::Error::other)?;
    line.push('\n');
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        arp_host, discovery_run, discovery_summary, host_with, listed_host, ping_scan_hosts,
        proxied_host, reference_host, run_info, silent_range_host, summary, traced_host, SharedBuf,
    };
    use portolan_model::{OutputOptions, Reason, RunKind};
    use serde_json::Value;

    fn lines(opts: OutputOptions, hosts: &[HostResult], summary: &RunSummary) -> Vec<Value> {
        run_lines(&run_info(opts), hosts, summary)
    }

    fn run_lines(run: &RunInfo, hosts: &[HostResult], summary: &RunSummary) -> Vec<Value> {
        let buf = SharedBuf::default();
        let mut sink = JsonLinesSink::new(Box::new(buf.clone()));
        sink.begin(run).unwrap();
        for h in hosts {
            sink.host(h).unwrap();
        }
        sink.end(summary).unwrap();
        buf.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .collect()
    }

    #[test]
    fn host_line_round_trips_into_a_host_result_with_every_port() {
        let host = reference_host();
        let out = lines(
            OutputOptions::default(),
            std::slice::from_ref(&host),
            &summary(),
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["schema"], JSON_SCHEMA);
        assert_eq!(out[0]["type"], "host");
        assert_eq!(out[0]["ports"].as_array().map(Vec::len), Some(101));
        assert_eq!(out[0]["ports"][100]["service"]["name"], "http-alt");
        assert_eq!(out[0]["addr"], "198.18.0.2");
        let back: HostResult = serde_json::from_value(out[0].clone()).unwrap();
        assert_eq!(back, host);
    }

    #[test]
    fn fingerprint_and_http_title_are_service_fields_and_read_back() {
        use portolan_model::{PortState, ServiceInfo, ServiceMethod};
        let mut odd = crate::fixtures::port(554, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::table("rtsp");
        s.fingerprint = Some("SF-Port554-TCP:V=0.1.0%r(NULL,2,\"\\r\\n\");".into());
        odd.service = Some(s);
        let mut web = crate::fixtures::port(80, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::named("http", ServiceMethod::Probed, 10);
        s.http_title = Some("Welcome to nginx!".into());
        web.service = Some(s);
        let host = host_with(vec![odd, web]);
        let out = lines(
            OutputOptions::default(),
            std::slice::from_ref(&host),
            &summary(),
        );
        let ports = &out[0]["ports"];
        assert_eq!(
            ports[0]["service"]["fingerprint"],
            "SF-Port554-TCP:V=0.1.0%r(NULL,2,\"\\r\\n\");"
        );
        assert!(ports[0]["service"].get("http_title").is_none());
        assert_eq!(ports[1]["service"]["http_title"], "Welcome to nginx!");
        assert!(ports[1]["service"].get("fingerprint").is_none());
        let back: HostResult = serde_json::from_value(out[0].clone()).unwrap();
        assert_eq!(back, host);
    }

    #[test]
    fn a_host_answering_every_port_is_flagged_and_still_lists_every_port() {
        let flagged = proxied_host();
        let mut normal = proxied_host();
        normal.answers_every_port = false;
        let out = lines(
            OutputOptions::default(),
            &[flagged.clone(), normal],
            &summary(),
        );
        assert_eq!(out[0]["answers_every_port"], true);
        assert_eq!(out[1]["answers_every_port"], false);
        for line in &out[..2] {
            assert_eq!(line["ports"].as_array().map(Vec::len), Some(1001));
        }
        let back: HostResult = serde_json::from_value(out[0].clone()).unwrap();
        assert_eq!(back, flagged);
    }

    #[test]
    fn summary_line_has_every_documented_field() {
        let mut s = summary();
        s.error = Some("interrupted by user".to_owned());
        let out = lines(OutputOptions::default(), &[], &s);
        let line = &out[0];
        assert_eq!(line["type"], "summary");
        for key in [
            "schema",
            "scanner",
            "version",
            "args",
            "start_time",
            "end_time",
            "elapsed_secs",
            "run_kind",
            "scans",
            "hosts_up",
            "hosts_down",
            "hosts_total",
            "error",
        ] {
            assert!(line.get(key).is_some(), "missing {key}");
        }
        assert_eq!(line["run_kind"], "ports");
        assert_eq!(line["scans"][0]["services"], "1-100,8000");
        assert_eq!(line["scans"][0]["scan_type"], "connect");
        assert_eq!(line["error"], "interrupted by user");
        assert_eq!(
            lines(OutputOptions::default(), &[], &summary())[0]["error"],
            Value::Null
        );
    }

    #[test]
    fn open_only_keeps_only_open_ports() {
        let opts = OutputOptions {
            open_only: true,
            ..OutputOptions::default()
        };
        let out = lines(opts, &[reference_host()], &summary());
        assert_eq!(out[0]["ports"].as_array().map(Vec::len), Some(1));
        assert_eq!(out[0]["ports"][0]["port"], 8000);
    }

    #[test]
    fn down_hosts_follow_the_same_visibility_rule() {
        let mut down = host_with(vec![]);
        down.status = portolan_model::HostStatus::Down;
        down.status_reason = Reason::NoResponse;
        assert_eq!(
            lines(
                OutputOptions::default(),
                std::slice::from_ref(&down),
                &summary()
            )
            .len(),
            1
        );
        let verbose = OutputOptions {
            verbose: 1,
            ..OutputOptions::default()
        };
        assert_eq!(lines(verbose, &[down], &summary()).len(), 2);
    }

    #[test]
    fn a_mac_is_an_object_with_the_upper_case_address_and_absent_when_unknown() {
        let mut with_vendor = arp_host(Some("Example Networks"));
        with_vendor.status_reason_ttl = Some(64);
        let hosts = [with_vendor.clone(), arp_host(None), reference_host()];
        let out = lines(OutputOptions::default(), &hosts, &summary());
        assert_eq!(
            out[0]["mac"],
            serde_json::json!({"addr": "02:00:C6:12:00:0B", "vendor": "Example Networks"})
        );
        assert_eq!(out[0]["status_reason"], "arp-response");
        assert_eq!(out[0]["status_reason_ttl"], 64);
        assert_eq!(
            out[1]["mac"],
            serde_json::json!({"addr": "02:00:C6:12:00:0B", "vendor": null})
        );
        assert!(out[2].get("mac").is_none(), "{}", out[2]);
        assert_eq!(out[2]["status_reason_ttl"], Value::Null);
        for (line, host) in out.iter().zip(&hosts) {
            let back: HostResult = serde_json::from_value(line.clone()).unwrap();
            assert_eq!(&back, host);
        }
    }

    /// `(addr, status)` of each host line, `("summary", run_kind)` for the summary.
    fn outline(out: &[Value]) -> Vec<(String, String)> {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        out.iter()
            .map(|l| match l["type"].as_str() {
                Some("host") => (text(&l["addr"]), text(&l["status"])),
                _ => (text(&l["type"]), text(&l["run_kind"])),
            })
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_ping_scan_writes_up_hosts_and_with_verbose_down_ones_too() {
        let run = discovery_run(RunKind::PingOnly, OutputOptions::default());
        let out = run_lines(&run, &ping_scan_hosts(), &discovery_summary(8, 3));
        assert_eq!(
            outline(&out),
            pairs(&[
                ("198.18.0.11", "up"),
                ("198.18.0.12", "up"),
                ("198.18.0.14", "up"),
                ("summary", "ping-only"),
            ])
        );
        assert_eq!(out[0]["mac"]["vendor"], "Example Networks");
        assert_eq!(out[2]["status_reason"], "echo-reply");
        assert_eq!(out[2]["status_reason_ttl"], 63);
        assert_eq!(out[3]["scans"], serde_json::json!([]));
        assert_eq!(
            (out[3]["hosts_up"].as_u64(), out[3]["hosts_down"].as_u64()),
            (Some(3), Some(5))
        );
        let verbose = discovery_run(
            RunKind::PingOnly,
            OutputOptions {
                verbose: 1,
                ..OutputOptions::default()
            },
        );
        let out = run_lines(&verbose, &ping_scan_hosts(), &discovery_summary(8, 3));
        assert_eq!(
            outline(&out),
            pairs(&[
                ("198.18.0.8", "down"),
                ("198.18.0.11", "up"),
                ("198.18.0.12", "up"),
                ("198.18.0.14", "up"),
                ("198.18.0.13", "down"),
                ("summary", "ping-only"),
            ])
        );
        assert_eq!(out[0]["status_reason"], "no-response");
    }

    #[test]
    fn a_list_scan_writes_every_target_as_unknown_even_with_open_only() {
        let run = discovery_run(
            RunKind::List,
            OutputOptions {
                open_only: true,
                ..OutputOptions::default()
            },
        );
        let hosts = [listed_host("198.18.0.8"), listed_host("198.18.0.9")];
        let out = run_lines(&run, &hosts, &discovery_summary(2, 0));
        assert_eq!(
            outline(&out),
            pairs(&[
                ("198.18.0.8", "unknown"),
                ("198.18.0.9", "unknown"),
                ("summary", "list"),
            ])
        );
        assert_eq!(out[0]["status_reason"], "user-set");
    }

    #[test]
    fn a_ping_scan_summary_lists_no_scans_whatever_the_run_holds() {
        let run = RunInfo {
            kind: RunKind::PingOnly,
            ..run_info(OutputOptions::default())
        };
        let out = run_lines(&run, &[], &summary());
        assert_eq!(out[0]["scans"], serde_json::json!([]));
        assert_eq!(out[0]["run_kind"], "ping-only");
    }

    #[test]
    fn non_finite_elapsed_time_still_writes_valid_json() {
        let mut s = summary();
        s.elapsed_secs = f64::INFINITY;
        let out = lines(OutputOptions::default(), &[], &s);
        assert_eq!(out[0]["elapsed_secs"], Value::Null);
    }

    #[test]
    fn a_two_hop_trace_is_a_trace_object_and_reads_back() {
        let host = traced_host();
        let out = lines(
            OutputOptions::default(),
            std::slice::from_ref(&host),
            &summary(),
        );
        assert_eq!(
            out[0]["trace"],
            serde_json::json!({
                "proto": "tcp",
                "port": 443,
                "hops": [
                    {"ttl": 1, "addr": "198.18.0.254", "rtt_us": 50},
                    {"ttl": 2, "addr": "198.18.1.14", "rtt_us": 80},
                ]
            })
        );
        let back: HostResult = serde_json::from_value(out[0].clone()).unwrap();
        assert_eq!(back, host);
    }

    #[test]
    fn silent_hops_are_null_entries_and_an_untraced_host_has_no_trace_field() {
        let host = silent_range_host();
        let out = lines(
            OutputOptions::default(),
            &[host.clone(), reference_host()],
            &summary(),
        );
        let hops = out[0]["trace"]["hops"].as_array().unwrap();
        let ttls: Vec<_> = hops.iter().map(|h| h["ttl"].as_u64().unwrap()).collect();
        assert_eq!(ttls, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            hops[1],
            serde_json::json!({"ttl": 2, "addr": null, "rtt_us": null})
        );
        assert_eq!(
            hops[2],
            serde_json::json!({"ttl": 3, "addr": "198.18.2.1", "rtt_us": 12500, "host": "r3.example.test"})
        );
        let back: HostResult = serde_json::from_value(out[0].clone()).unwrap();
        assert_eq!(back, host);
        assert!(out[1].get("trace").is_none(), "{}", out[1]);
    }
}
