//! Keeps docs/json-lines.md honest: its examples must parse, carry the current
//! schema, and name exactly the fields the sink writes.

use portolan_model::{
    HostResult, HostStatus, OutputOptions, Protocol, Reason, RunInfo, RunKind, RunSummary,
    ScanInfo, ScanType,
};
use portolan_output::{JsonLinesSink, Sink, JSON_SCHEMA};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

const DOC: &str = include_str!("../../../docs/json-lines.md");

fn doc_examples() -> Vec<Value> {
    let mut lines = Vec::new();
    let mut in_json = false;
    for line in DOC.lines() {
        match line.trim() {
            "```json" => in_json = true,
            "```" => in_json = false,
            text if in_json && !text.is_empty() => {
                lines.push(serde_json::from_str(text).expect("doc example line is JSON"));
            }
            _ => {}
        }
    }
    lines
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(Map::keys)
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the sink writes for the doc's own host, fed back through the model.
fn sink_lines(host: &HostResult) -> Vec<Value> {
    let buf = Buf::default();
    let mut sink = JsonLinesSink::new(Box::new(buf.clone()));
    let run = RunInfo {
        scanner: "portolan".into(),
        version: "0.1.0".into(),
        args: String::new(),
        start_time: 0,
        scans: vec![ScanInfo {
            scan_type: ScanType::Syn,
            protocol: Protocol::Tcp,
            ports: vec![22, 80, 443],
        }],
        options: OutputOptions::default(),
        notes: vec![],
        kind: RunKind::Ports,
    };
    let summary = RunSummary {
        end_time: 0,
        elapsed_secs: 0.0,
        hosts_up: 1,
        hosts_down: 0,
        hosts_total: 1,
        error: None,
    };
    sink.begin(&run).expect("begin");
    sink.host(host).expect("host");
    sink.end(&summary).expect("end");
    let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf-8");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

#[test]
fn doc_examples_parse_and_match_what_the_sink_writes() {
    let examples = doc_examples();
    assert!(
        examples.len() >= 3,
        "expected host and summary examples in the doc"
    );
    let doc_host = examples
        .iter()
        .find(|v| v["type"] == "host")
        .expect("a host example");
    let doc_summary = examples
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("a summary example");
    for v in &examples {
        assert_eq!(v["schema"], JSON_SCHEMA);
    }
    let host: HostResult =
        serde_json::from_value(doc_host.clone()).expect("host example fits the model");
    assert_eq!(host.status, HostStatus::Up);
    assert_eq!(host.status_reason, Reason::SynAck);

    let written = sink_lines(&host);
    assert_eq!(
        &written[0], doc_host,
        "the doc's host line is not what the sink writes for it"
    );
    assert_eq!(keys(&written[1]), keys(doc_summary));
    assert_eq!(
        keys(&written[1]["scans"][0]),
        keys(&doc_summary["scans"][0])
    );
}

#[test]
fn every_doc_example_is_what_the_sink_writes() {
    let examples = doc_examples();
    let hosts: Vec<&Value> = examples.iter().filter(|v| v["type"] == "host").collect();
    assert!(
        hosts.iter().any(|v| v.get("mac").is_some()),
        "a host example shows a MAC address"
    );
    assert!(
        hosts.iter().any(|v| v.get("mac").is_none()),
        "a host example has none"
    );
    for doc_host in hosts {
        let host: HostResult =
            serde_json::from_value(doc_host.clone()).expect("host example fits the model");
        let written = sink_lines(&host);
        assert_eq!(&written[0], doc_host, "the sink writes this host otherwise");
    }
    let summary_keys = keys(&sink_lines(&sink_host())[1]);
    let mut kinds = BTreeSet::new();
    for doc_summary in examples.iter().filter(|v| v["type"] == "summary") {
        assert_eq!(keys(doc_summary), summary_keys, "{doc_summary}");
        kinds.insert(
            doc_summary["run_kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        kinds.contains("ports") && kinds.contains("ping-only"),
        "summaries of a port scan and a ping scan are shown: {kinds:?}"
    );
}

/// Any host: the summary line does not depend on it.
fn sink_host() -> HostResult {
    let doc_host = doc_examples()
        .into_iter()
        .find(|v| v["type"] == "host")
        .expect("a host example");
    serde_json::from_value(doc_host).expect("host example fits the model")
}
