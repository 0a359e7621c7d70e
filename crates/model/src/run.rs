use crate::port::Protocol;
use serde::{Deserialize, Serialize};

/// Scan technique, with Nmap's XML name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ScanType {
    Connect,
    Syn,
    Ack,
    Window,
    Maimon,
    Fin,
    Null,
    Xmas,
    Udp,
}

impl ScanType {
    /// The `scaninfo@type` value of Nmap's XML.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Connect => "connect",
            ScanType::Syn => "syn",
            ScanType::Ack => "ack",
            ScanType::Window => "window",
            ScanType::Maimon => "maimon",
            ScanType::Fin => "fin",
            ScanType::Null => "null",
            ScanType::Xmas => "xmas",
            ScanType::Udp => "udp",
        }
    }
}

/// One scan technique over one protocol's port list (Nmap's `<scaninfo>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanInfo {
    pub scan_type: ScanType,
    pub protocol: Protocol,
    /// The ports in scan-list order, ascending and deduplicated.
    pub ports: Vec<u16>,
}

impl ScanInfo {
    /// Nmap's compact `services` attribute: `1-100,443,8000-8010`.
    pub fn services_string(&self) -> String {
        compact_ranges(&self.ports)
    }
}

/// Writes ascending ports as `a-b,c,...`.
pub fn compact_ranges(ports: &[u16]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < ports.len() {
        let start = ports[i];
        let mut end = start;
        while i + 1 < ports.len() && ports[i + 1] == end.wrapping_add(1) && end != u16::MAX {
            i += 1;
            end = ports[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

/// How the sinks should present results (Nmap's `--reason`, `--open`, `-v`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputOptions {
    pub reason: bool,
    pub open_only: bool,
    pub verbose: u8,
    pub debugging: u8,
    /// Version detection ran (`-sV`): reports get Nmap's VERSION column.
    #[serde(default)]
    pub version_scan: bool,
}

/// What a run does to its targets, which decides the layout of every report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RunKind {
    /// Ports are scanned on every host found up (or on every host, with `-Pn`).
    #[default]
    Ports,
    /// Host discovery only (`-sn`): hosts are up or down, no port is scanned.
    PingOnly,
    /// List scan (`-sL`): targets are listed (and named), nothing is sent;
    /// every host's status is [`HostStatus::Unknown`](crate::HostStatus::Unknown).
    List,
}

impl RunKind {
    /// The JSON spelling: `ports`, `ping-only`, `list`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Ports => "ports",
            RunKind::PingOnly => "ping-only",
            RunKind::List => "list",
        }
    }
}

/// What every sink learns before the first host: the command and the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Program name and version, e.g. `portolan` / `0.1.0`.
    pub scanner: String,
    pub version: String,
    /// The command line as typed, joined with spaces.
    pub args: String,
    /// Wall-clock seconds since the Unix epoch.
    pub start_time: u64,
    pub scans: Vec<ScanInfo>,
    pub options: OutputOptions,
    /// Lines the user should see before results (e.g. "all targets treated as up").
    pub notes: Vec<String>,
    /// Port scan, `-sn` or `-sL`. Absent in older records: a port scan.
    #[serde(default)]
    pub kind: RunKind,
}

impl RunInfo {
    /// The port scans the run made: `scans` for a port scan, none for `-sn`
    /// and `-sL`, whatever `scans` holds.
    pub fn port_scans(&self) -> &[ScanInfo] {
        match self.kind {
            RunKind::Ports => &self.scans,
            RunKind::PingOnly | RunKind::List => &[],
        }
    }
}

/// What every sink learns after the last host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Wall-clock seconds since the Unix epoch.
    pub end_time: u64,
    pub elapsed_secs: f64,
    pub hosts_up: u64,
    pub hosts_down: u64,
    pub hosts_total: u64,
    /// `None` on success; otherwise why the run stopped early.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_ranges_merges_runs() {
        assert_eq!(
            compact_ranges(&[1, 2, 3, 5, 7, 8, 65535]),
            "1-3,5,7-8,65535"
        );
        assert_eq!(compact_ranges(&[]), "");
        assert_eq!(compact_ranges(&[65534, 65535]), "65534-65535");
    }

    #[test]
    fn run_kind_serialises_as_its_spelling_and_defaults_to_ports() {
        for kind in [RunKind::Ports, RunKind::PingOnly, RunKind::List] {
            let text = serde_json::to_string(&kind).unwrap();
            assert_eq!(text, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<RunKind>(&text).unwrap(), kind);
        }
        let old = r#"{"scanner":"portolan","version":"0.1.0","args":"","start_time":0,
            "scans":[],"options":{"reason":false,"open_only":false,"verbose":0,"debugging":0},
            "notes":[]}"#;
        let run: RunInfo = serde_json::from_str(old).unwrap();
        assert_eq!(run.kind, RunKind::Ports);
    }

    #[test]
    fn only_a_port_scan_reports_its_scans() {
        let mut run = RunInfo {
            scanner: "portolan".into(),
            version: "0.1.0".into(),
            args: String::new(),
            start_time: 0,
            scans: vec![ScanInfo {
                scan_type: ScanType::Syn,
                protocol: Protocol::Tcp,
                ports: vec![22],
            }],
            options: OutputOptions::default(),
            notes: vec![],
            kind: RunKind::Ports,
        };
        assert_eq!(run.port_scans(), run.scans.as_slice());
        for kind in [RunKind::PingOnly, RunKind::List] {
            run.kind = kind;
            assert!(run.port_scans().is_empty(), "{kind:?}");
        }
    }
}
