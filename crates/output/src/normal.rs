//! Nmap's human-readable report (the terminal, and `-oN` files).

use crate::service::{
    fingerprint_block, script_lines, service_column, service_info_line, version_column,
};
use crate::text::{
    answers_every_port_note, display_name, done_sentence, latency, one_line, primary_name,
    reason_text, target_label,
};
use crate::timefmt::{ctime, local_zone, short_stamp};
use crate::view::{
    host_visible, port_view, trace_lines, trace_using, PortView, TraceLine, TraceUsing,
};
use crate::{emit, fallback_run, Out, Sink};
use jiff::tz::TimeZone;
use portolan_model::{
    HostResult, HostStatus, HostnameKind, OutputOptions, PortResult, RunInfo, RunKind, RunSummary,
};
use std::borrow::Cow;
use std::io;

/// Where a normal report goes: the two differ only in their first and last lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalMode {
    /// Standard output: `Starting ...` / `... done: ...`.
    Terminal,
    /// An `-oN` file: `# ... scan initiated ...` / `# ... done at ...` comments.
    File,
}

/// Writes Nmap's normal output format.
pub struct NormalSink {
    out: Out,
    mode: NormalMode,
    run: Option<RunInfo>,
    tz: TimeZone,
}

impl NormalSink {
    pub fn new(out: Out, mode: NormalMode) -> Self {
        NormalSink {
            out,
            mode,
            run: None,
            tz: local_zone(),
        }
    }

    /// A sink used without `begin` first writes the header of an unnamed run.
    fn ensure_begun(&mut self) -> io::Result<()> {
        if self.run.is_none() {
            self.begin(&fallback_run())?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for NormalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NormalSink")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Sink for NormalSink {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.run = Some(run.clone());
        let block = header(run, self.mode, &self.tz);
        emit(&mut self.out, &block)
    }

    fn host(&mut self, host: &HostResult) -> io::Result<()> {
        self.ensure_begun()?;
        let Some(run) = &self.run else { return Ok(()) };
        if !host_visible(host, run) {
            return Ok(());
        }
        let block = render_host(host, run);
        emit(&mut self.out, &block)
    }

    fn end(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.ensure_begun()?;
        let Some(run) = &self.run else { return Ok(()) };
        let block = footer(run, summary, self.mode, &self.tz);
        emit(&mut self.out, &block)
    }
}

fn header(run: &RunInfo, mode: NormalMode, tz: &TimeZone) -> String {
    let name = display_name(&run.scanner);
    let mut s = match mode {
        NormalMode::Terminal => format!(
            "Starting {name} {} at {}\n",
            run.version,
            short_stamp(run.start_time, tz)
        ),
        NormalMode::File => format!(
            "# {name} {} scan initiated {} as: {}\n",
            run.version,
            ctime(run.start_time, tz),
            one_line(&run.args)
        ),
    };
    for note in &run.notes {
        s.push_str(&one_line(note));
        s.push('\n');
    }
    s
}

/// What the terminal says when the only target did not answer host discovery.
const SEEMS_DOWN: &str =
    "Note: Host seems down. If it is really up, but blocking our ping probes, try -Pn\n";

fn footer(run: &RunInfo, summary: &RunSummary, mode: NormalMode, tz: &TimeZone) -> String {
    let name = display_name(&run.scanner);
    let mut s = String::new();
    if let Some(why) = &summary.error {
        s.push_str(&format!("{name} stopped early: {}\n", one_line(why)));
    }
    let lone_target_down = summary.hosts_total == 1 && summary.hosts_up == 0;
    if mode == NormalMode::Terminal
        && lone_target_down
        && summary.error.is_none()
        && run.kind != RunKind::List
    {
        s.push_str(SEEMS_DOWN);
    }
    if run.options.version_scan && run.kind == RunKind::Ports {
        s.push_str("Service detection performed.\n");
    }
    let done = match mode {
        NormalMode::Terminal => format!("{name} done: {}\n", done_sentence(summary)),
        NormalMode::File => format!(
            "# {name} done at {} -- {}\n",
            ctime(summary.end_time, tz),
            done_sentence(summary)
        ),
    };
    s.push_str(&done);
    s
}

/// One host's report block, as printed between the header and the footer.
///
/// A list scan (`-sL`) prints the title line alone; a host not up, the title
/// with its status in brackets. A host found up gets its status line, then
/// its ports (port scans only), its MAC address line and its traceroute, or
/// `Skipping host ...` when it timed out. As in Nmap, a host whose ports
/// were scanned, or one with a traceroute, ends with a blank line.
pub(crate) fn render_host(host: &HostResult, run: &RunInfo) -> String {
    let name = display_name(&run.scanner);
    let label = target_label(host);
    let title = format!("{name} scan report for {label}");
    if run.kind == RunKind::List {
        return format!("{title}\n");
    }
    if host.status != HostStatus::Up {
        return format!("{title} [{}]\n", down_status(host, run));
    }
    let mut s = format!("{title}\n{}", up_lines(host, run));
    if host.timed_out {
        s.push_str(&format!("Skipping host {label} due to host timeout\n"));
    } else if run.kind == RunKind::Ports && !host.ports.is_empty() {
        s.push_str(&ports_block(
            host,
            &port_view(host, &run.options),
            &run.options,
        ));
        s.push_str(&trace_block(host));
        s.push('\n');
    } else {
        s.push_str(&mac_line(host));
        if host.trace.is_some() {
            s.push_str(&trace_block(host));
            s.push('\n');
        }
    }
    s
}

/// A blank line, `TRACEROUTE (using port 443/tcp)` (`(using proto 1/icmp)`,
/// or nothing in brackets when no probe was sent), then the `HOP RTT ADDRESS`
/// table, as Nmap prints them after the port table and MAC address. Empty
/// when the host has no trace or a trace without hops (our own address).
fn trace_block(host: &HostResult) -> String {
    let Some(trace) = host.trace.as_ref().filter(|t| !t.hops.is_empty()) else {
        return String::new();
    };
    let title = match trace_using(trace, host.addr) {
        TraceUsing::Port(port, proto) => format!("TRACEROUTE (using port {port}/{proto})"),
        TraceUsing::Proto(number, name) => format!("TRACEROUTE (using proto {number}/{name})"),
        TraceUsing::Nothing => "TRACEROUTE".to_owned(),
    };
    let mut rows = vec![vec![
        "HOP".to_owned(),
        "RTT".to_owned(),
        "ADDRESS".to_owned(),
    ]];
    rows.extend(trace_lines(trace).into_iter().map(trace_row));
    format!("\n{title}\n{}", columns(&rows))
}

/// `1   0.05 ms 198.18.0.254`, `3   ... 5` (silent TTLs 3 to 5), `6   ...`.
fn trace_row(line: TraceLine<'_>) -> Vec<String> {
    match line {
        TraceLine::Silent { first, last } if first == last => {
            vec![first.to_string(), "...".to_owned()]
        }
        TraceLine::Silent { first, last } => vec![first.to_string(), format!("... {last}")],
        TraceLine::Hop(hop) => {
            let rtt = hop.rtt_us.map_or("--".to_owned(), |us| {
                format!("{:.2} ms", us as f64 / 1000.0)
            });
            let addr = hop.addr.map(|a| a.to_string()).unwrap_or_default();
            let address = match &hop.host {
                Some(name) => format!("{} ({addr})", one_line(name)),
                None => addr,
            };
            vec![hop.ttl.to_string(), rtt, address]
        }
    }
}

fn down_status(host: &HostResult, run: &RunInfo) -> String {
    let mut s = format!("host {}", host.status.as_str());
    if run.options.reason {
        s.push_str(&format!(", received {}", status_reason(host)));
    }
    s
}

/// `arp-response`, `echo-reply ttl 64`.
fn status_reason(host: &HostResult) -> String {
    reason_text(host.status_reason, host.status_reason_ttl)
}

/// `MAC Address: 02:00:C6:12:00:0B (Vendor)`, `(Unknown)` when the vendor
/// is not known; empty when the MAC address is not known.
fn mac_line(host: &HostResult) -> String {
    let Some(mac) = &host.mac else {
        return String::new();
    };
    let vendor = mac
        .vendor
        .as_deref()
        .map_or(Cow::Borrowed("Unknown"), one_line);
    format!("MAC Address: {mac} ({vendor})\n")
}

/// `Host is up, received user-set (0.00037s latency).` and the rDNS line if any.
fn up_lines(host: &HostResult, run: &RunInfo) -> String {
    let mut s = String::from("Host is up");
    if run.options.reason {
        s.push_str(&format!(", received {}", status_reason(host)));
    }
    if let Some(times) = &host.times {
        s.push_str(&format!(" ({} latency)", latency(times.srtt_us)));
    }
    s.push_str(".\n");
    if let Some(ptr) = extra_ptr_name(host) {
        s.push_str(&format!(
            "rDNS record for {}: {}\n",
            host.addr,
            one_line(ptr)
        ));
    }
    s
}

/// A reverse-DNS name worth its own line: one that differs from the name in the title.
fn extra_ptr_name(host: &HostResult) -> Option<&str> {
    let shown = primary_name(host)?;
    host.hostnames
        .iter()
        .find(|h| h.kind == HostnameKind::Ptr && h.name != shown)
        .map(|h| h.name.as_str())
}

fn ports_block(host: &HostResult, view: &PortView<'_>, opts: &OutputOptions) -> String {
    let (reason, version_scan) = (opts.reason, opts.version_scan);
    let mut s = String::new();
    if let Some(counts) = view.answers_every_port {
        s.push_str(&answers_every_port_note(counts, Some(&target_label(host))));
        s.push('\n');
    }
    if view.all_ignored() {
        s.push_str(&format!(
            "All {} scanned ports on {} are in ignored states.\n",
            host.ports.len(),
            target_label(host)
        ));
    }
    s.push_str(&not_shown_line(view));
    s.push('\n');
    if !view.all_ignored() {
        s.push_str(&port_table(&view.shown, reason, version_scan));
        s.push_str(&fingerprint_block(&view.shown));
    }
    s.push_str(&mac_line(host));
    s.push_str(&service_info_line(&view.shown));
    s
}

/// `Not shown: 990 closed tcp ports (conn-refused), 5 filtered tcp ports (no-response)`,
/// or an empty string when nothing is folded.
pub(crate) fn not_shown_line(view: &PortView<'_>) -> String {
    let groups: Vec<String> = view
        .ignored
        .iter()
        .flat_map(|st| {
            st.reasons.iter().map(move |r| {
                format!(
                    "{} {} {} ports ({})",
                    r.ports.len(),
                    st.state,
                    r.protocol,
                    r.reason
                )
            })
        })
        .collect();
    if groups.is_empty() {
        return String::new();
    }
    format!("Not shown: {}", groups.join(", "))
}

/// The `PORT STATE SERVICE [REASON] [VERSION]` table, each column as wide as
/// its longest entry; a port's script lines (`http-title`, a TLS port's
/// certificate) follow its row.
pub(crate) fn port_table(ports: &[&PortResult], reason: bool, version_scan: bool) -> String {
    let mut header = vec!["PORT", "STATE", "SERVICE"];
    if reason {
        header.push("REASON");
    }
    if version_scan {
        header.push("VERSION");
    }
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    rows.extend(ports.iter().map(|p| port_row(p, reason, version_scan)));
    let table = columns(&rows);
    let mut lines = table.lines();
    let mut s = String::new();
    if let Some(head) = lines.next() {
        s.push_str(head.trim_end());
        s.push('\n');
    }
    for (line, p) in lines.zip(ports) {
        s.push_str(line.trim_end());
        s.push('\n');
        if let Some(service) = &p.service {
            s.push_str(&script_lines(service));
        }
    }
    s
}

fn port_row(p: &PortResult, reason: bool, version_scan: bool) -> Vec<String> {
    let mut row = vec![
        format!("{}/{}", p.port, p.protocol),
        p.state.to_string(),
        service_column(p, version_scan),
    ];
    if reason {
        row.push(reason_text(p.reason, p.reason_ttl));
    }
    if version_scan {
        row.push(version_column(p));
    }
    row
}

/// Left-aligned columns separated by one space; the last column is not padded.
fn columns(rows: &[Vec<String>]) -> String {
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (c, cell) in row.iter().enumerate() {
            if c == last {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$} ", w = widths[c]));
            }
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        arp_host, discovery_run, discovery_summary, hop, host_with, listed_host, named,
        ping_scan_hosts, port, proxied_host, reference_host, run_info, service, silent_host,
        silent_range_host, summary, traced_host, SharedBuf, T0,
    };
    use portolan_model::{OutputOptions, PortState, Protocol, Reason};

    fn with_reason() -> OutputOptions {
        OutputOptions {
            reason: true,
            ..OutputOptions::default()
        }
    }

    fn run_sink(mode: NormalMode, opts: OutputOptions, hosts: &[HostResult]) -> String {
        run_whole(mode, &run_info(opts), hosts, &summary())
    }

    fn run_whole(
        mode: NormalMode,
        run: &RunInfo,
        hosts: &[HostResult],
        summary: &RunSummary,
    ) -> String {
        let buf = SharedBuf::default();
        let mut sink = NormalSink::new(Box::new(buf.clone()), mode);
        sink.tz = TimeZone::UTC;
        sink.begin(run).unwrap();
        for h in hosts {
            sink.host(h).unwrap();
        }
        sink.end(summary).unwrap();
        buf.text()
    }

    #[test]
    fn file_form_matches_the_nmap_reference_run() {
        let text = run_sink(NormalMode::File, with_reason(), &[reference_host()]);
        let expected = "\
# Portolan 0.1.0 scan initiated Sat Nov 21 10:17:02 2026 as: portolan -sT -Pn -n -p 1-100,8000 --reason -oA /tmp/ref 127.0.0.1
Portolan scan report for 198.18.0.2
Host is up, received user-set (0.00037s latency).
Not shown: 100 closed tcp ports (conn-refused)
PORT     STATE SERVICE  REASON
8000/tcp open  http-alt syn-ack

# Portolan done at Sat Nov 21 10:17:02 2026 -- 1 IP address (1 host up) scanned in 0.03 seconds
";
        assert_eq!(text, expected);
    }

    #[test]
    fn terminal_form_has_starting_and_done_lines_and_notes_first() {
        let buf = SharedBuf::default();
        let mut sink = NormalSink::new(Box::new(buf.clone()), NormalMode::Terminal);
        sink.tz = TimeZone::UTC;
        let mut run = run_info(OutputOptions::default());
        run.notes = vec!["Host discovery disabled (-Pn).".to_owned()];
        sink.begin(&run).unwrap();
        sink.host(&reference_host()).unwrap();
        sink.end(&summary()).unwrap();
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Starting Portolan 0.1.0 at 2026-11-21 10:17 UTC");
        assert_eq!(lines[1], "Host discovery disabled (-Pn).");
        assert_eq!(lines[2], "Portolan scan report for 198.18.0.2");
        assert_eq!(lines[3], "Host is up (0.00037s latency).");
        assert_eq!(lines[5], "PORT     STATE SERVICE");
        assert_eq!(
            lines.last(),
            Some(&"Portolan done: 1 IP address (1 host up) scanned in 0.03 seconds")
        );
    }

    #[test]
    fn host_with_997_closed_2_open_1_filtered_prints_exactly_these_lines() {
        let mut ports: Vec<_> = (1..=1000)
            .filter(|n| ![22, 80, 443].contains(n))
            .map(|n| port(n, PortState::Closed, Reason::Reset))
            .collect();
        let mut ssh = port(22, PortState::Open, Reason::SynAck);
        ssh.service = service("ssh");
        ssh.reason_ttl = Some(64);
        let mut http = port(80, PortState::Open, Reason::SynAck);
        http.service = service("http");
        http.reason_ttl = Some(64);
        ports.extend([
            ssh,
            http,
            port(443, PortState::Filtered, Reason::AdminProhibited),
        ]);
        let mut host = host_with(ports);
        host.sort_ports();
        let expected = "\
Portolan scan report for 198.18.0.2
Host is up, received user-set (0.00037s latency).
Not shown: 997 closed tcp ports (reset)
PORT    STATE    SERVICE REASON
22/tcp  open     ssh     syn-ack ttl 64
80/tcp  open     http    syn-ack ttl 64
443/tcp filtered unknown admin-prohibited

";
        assert_eq!(render_host(&host, &run_info(with_reason())), expected);
    }

    #[test]
    fn version_scan_adds_the_version_column_certificate_lines_and_service_info() {
        use portolan_model::{ServiceInfo, ServiceMethod, TlsInfo, Tunnel};
        let mut ssh = port(22, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::named("ssh", ServiceMethod::Probed, 10);
        s.product = Some("OpenSSH".into());
        s.version = Some("9.2p1".into());
        s.extrainfo = Some("protocol 2.0".into());
        s.ostype = Some("Linux".into());
        s.cpe = vec!["cpe:/o:linux:linux_kernel".into()];
        ssh.service = Some(s);
        let mut https = port(443, PortState::Open, Reason::SynAck);
        let mut h = ServiceInfo::named("http", ServiceMethod::Probed, 10);
        h.product = Some("nginx".into());
        h.tunnel = Some(Tunnel::Ssl);
        h.tls = Some(TlsInfo {
            protocol: "TLSv1.2".into(),
            cipher: None,
            subject: Some("commonName=s1".into()),
            issuer: None,
            not_before: None,
            not_after: Some("2027-11-21T00:00:00".into()),
            public_key: None,
            sha256: None,
        });
        https.service = Some(h);
        let mut odd = port(9999, PortState::Open, Reason::SynAck);
        odd.service = service("abyss");
        let host = host_with(vec![ssh, https, odd]);
        let opts = OutputOptions {
            version_scan: true,
            ..OutputOptions::default()
        };
        let expected = "\
Portolan scan report for 198.18.0.2
Host is up (0.00037s latency).

PORT     STATE SERVICE  VERSION
22/tcp   open  ssh      OpenSSH 9.2p1 (protocol 2.0)
443/tcp  open  ssl/http nginx
| ssl-cert: Subject: commonName=s1
| Not valid after:  2027-11-21T00:00:00
|_Protocol: TLSv1.2
9999/tcp open  abyss?
Service Info: OS: Linux; CPE: cpe:/o:linux:linux_kernel

";
        assert_eq!(render_host(&host, &run_info(opts)), expected);
        let text = run_sink(NormalMode::File, opts, &[host]);
        assert!(
            text.contains("\nService detection performed.\n# Portolan done"),
            "{text}"
        );
    }

    #[test]
    fn http_titles_sit_under_their_port_and_fingerprints_follow_the_table() {
        use portolan_model::{ServiceInfo, ServiceMethod, TlsInfo, Tunnel};
        let mut web = port(80, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::named("http", ServiceMethod::Probed, 10);
        s.product = Some("nginx".into());
        s.http_title = Some("Welcome to nginx!".into());
        web.service = Some(s);
        let mut https = port(443, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::named("http", ServiceMethod::Probed, 10);
        s.tunnel = Some(Tunnel::Ssl);
        s.http_title = Some("Site doesn't have a title (text/html).".into());
        s.tls = Some(TlsInfo {
            protocol: "TLSv1.3".into(),
            cipher: None,
            subject: Some("commonName=s1".into()),
            issuer: None,
            not_before: None,
            not_after: None,
            public_key: None,
            sha256: None,
        });
        https.service = Some(s);
        let mut odd = port(554, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::table("rtsp");
        let fp = format!(
            "SF-Port554-TCP:V=0.1.0%I=7%D=11/21%Time=6B016F9E%P=x86_64-unknown-linux-gnu%r(NULL,32,\"{}\");",
            "Z".repeat(50)
        );
        s.fingerprint = Some(fp);
        odd.service = Some(s);
        let mut host = host_with(vec![web, odd, https]);
        host.mac = Some(portolan_model::MacAddress {
            addr: [2, 0, 0xc6, 0x12, 0, 2],
            vendor: None,
        });
        let opts = OutputOptions {
            version_scan: true,
            ..OutputOptions::default()
        };
        let expected = "\
Portolan scan report for 198.18.0.2
Host is up (0.00037s latency).

PORT    STATE SERVICE  VERSION
80/tcp  open  http     nginx
|_http-title: Welcome to nginx!
554/tcp open  rtsp?
443/tcp open  ssl/http
|_http-title: Site doesn't have a title (text/html).
| ssl-cert: Subject: commonName=s1
|_Protocol: TLSv1.3
1 service unrecognized despite returning data. If you know the service/version, add a match line for it (Nmap's nmap-service-probes format) and pass the file with --versiondb-add:
SF-Port554-TCP:V=0.1.0%I=7%D=11/21%Time=6B016F9E%P=x86_64-unknown-linux-gn
SF:u%r(NULL,32,\"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ\");
MAC Address: 02:00:C6:12:00:02 (Unknown)

";
        assert_eq!(render_host(&host, &run_info(opts)), expected);
    }

    #[test]
    fn nothing_folded_leaves_an_empty_line_and_columns_follow_the_longest_entry() {
        let mut long = port(22222, PortState::Closed, Reason::ConnRefused);
        long.service = service("easyengine");
        let host = host_with(vec![port(1, PortState::Open, Reason::SynAck), long]);
        let text = render_host(&host, &run_info(OutputOptions::default()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], "PORT      STATE  SERVICE");
        assert_eq!(lines[4], "1/tcp     open   unknown");
        assert_eq!(lines[5], "22222/tcp closed easyengine");
    }

    #[test]
    fn several_folded_groups_share_one_not_shown_line() {
        let mut ports: Vec<_> = (1..=990)
            .map(|n| port(n, PortState::Closed, Reason::ConnRefused))
            .collect();
        ports.extend((991..=1020).map(|n| port(n, PortState::Filtered, Reason::NoResponse)));
        ports.extend((1021..=1045).map(|n| port(n, PortState::Filtered, Reason::AdminProhibited)));
        ports.push(port(2000, PortState::Open, Reason::SynAck));
        let view_text = render_host(&host_with(ports), &run_info(OutputOptions::default()));
        assert!(view_text.contains(
            "\nNot shown: 990 closed tcp ports (conn-refused), 30 filtered tcp ports (no-response), \
             25 filtered tcp ports (admin-prohibited)\n"
        ));
    }

    #[test]
    fn all_ports_ignored_says_so_with_the_host_name() {
        let ports = (1..=1000)
            .map(|n| port(n, PortState::Filtered, Reason::NoResponse))
            .collect();
        let mut host = host_with(ports);
        host.hostnames = vec![named("example.test", HostnameKind::User)];
        host.times = None;
        let expected = "\
Portolan scan report for example.test (198.18.0.2)
Host is up.
All 1000 scanned ports on example.test (198.18.0.2) are in ignored states.
Not shown: 1000 filtered tcp ports (no-response)

";
        assert_eq!(
            render_host(&host, &run_info(OutputOptions::default())),
            expected
        );
    }

    #[test]
    fn a_host_answering_every_port_gets_a_note_and_its_open_tcp_ports_folded() {
        let expected = "\
Portolan scan report for 198.18.0.2
Host is up, received user-set (0.00037s latency).
998 of 1000 scanned TCP ports on 198.18.0.2 answered SYN-ACK: a SYN proxy or tarpit answers for this host; open ports cannot be told apart.
Not shown: 998 open tcp ports (syn-ack)
PORT   STATE  SERVICE REASON
7/tcp  closed unknown reset
9/tcp  closed unknown reset
53/udp open   domain  udp-response

";
        assert_eq!(
            render_host(&proxied_host(), &run_info(with_reason())),
            expected
        );
    }

    #[test]
    fn a_host_whose_every_tcp_port_answered_says_all() {
        let mut host = proxied_host();
        host.ports
            .retain(|p| p.state == PortState::Open && p.protocol == Protocol::Tcp);
        host.hostnames = vec![named("proxy.test", HostnameKind::User)];
        let expected = "\
Portolan scan report for proxy.test (198.18.0.2)
Host is up (0.00037s latency).
All 998 scanned TCP ports on proxy.test (198.18.0.2) answered SYN-ACK: a SYN proxy or tarpit answers for this host; open ports cannot be told apart.
All 998 scanned ports on proxy.test (198.18.0.2) are in ignored states.
Not shown: 998 open tcp ports (syn-ack)

";
        assert_eq!(
            render_host(&host, &run_info(OutputOptions::default())),
            expected
        );
    }

    #[test]
    fn a_normal_host_with_many_open_ports_gets_no_note_and_lists_them() {
        let mut host = proxied_host();
        host.answers_every_port = false;
        let text = render_host(&host, &run_info(OutputOptions::default()));
        assert!(!text.contains("SYN proxy"));
        assert!(!text.contains("open tcp ports"));
        assert!(text.contains("\n1000/tcp open   unknown\n"));
        assert_eq!(text.lines().count(), 2 + 1 + 1 + 1001 + 1);
    }

    #[test]
    fn a_port_scanned_host_with_a_vendor_gets_the_mac_line_after_its_port_table() {
        let mut ssh = port(22, PortState::Closed, Reason::Reset);
        ssh.service = service("ssh");
        ssh.reason_ttl = Some(64);
        let mut http = port(80, PortState::Closed, Reason::Reset);
        http.service = service("http");
        http.reason_ttl = Some(64);
        let mut host = arp_host(Some("Example Networks"));
        host.ports = vec![ssh, http];
        let expected = "\
Portolan scan report for 198.18.0.11
Host is up, received arp-response (0.000033s latency).

PORT   STATE  SERVICE REASON
22/tcp closed ssh     reset ttl 64
80/tcp closed http    reset ttl 64
MAC Address: 02:00:C6:12:00:0B (Example Networks)

";
        assert_eq!(render_host(&host, &run_info(with_reason())), expected);
    }

    #[test]
    fn an_unknown_vendor_reads_unknown_and_follows_the_not_shown_line() {
        let mut host = arp_host(None);
        host.ports = (1..=100)
            .map(|n| port(n, PortState::Closed, Reason::Reset))
            .collect();
        let expected = "\
Portolan scan report for 198.18.0.11
Host is up (0.000033s latency).
All 100 scanned ports on 198.18.0.11 are in ignored states.
Not shown: 100 closed tcp ports (reset)
MAC Address: 02:00:C6:12:00:0B (Unknown)

";
        assert_eq!(
            render_host(&host, &run_info(OutputOptions::default())),
            expected
        );
    }

    #[test]
    fn a_vendor_name_cannot_break_the_line() {
        let host = arp_host(Some("Evil\nNmap scan report for 198.18.0.99"));
        let text = render_host(
            &host,
            &discovery_run(RunKind::PingOnly, OutputOptions::default()),
        );
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text
            .ends_with("MAC Address: 02:00:C6:12:00:0B (Evil Nmap scan report for 198.18.0.99)\n"));
    }

    #[test]
    fn a_ping_scan_lists_up_hosts_with_their_mac_and_no_port_table() {
        let run = discovery_run(RunKind::PingOnly, OutputOptions::default());
        let text = run_whole(
            NormalMode::File,
            &run,
            &ping_scan_hosts(),
            &discovery_summary(8, 3),
        );
        let expected = "\
# Portolan 0.1.0 scan initiated Sat Nov 21 10:17:02 2026 as: portolan -sn -n -oA /tmp/disc 198.18.0.8/29
Portolan scan report for 198.18.0.11
Host is up (0.000033s latency).
MAC Address: 02:00:C6:12:00:0B (Example Networks)
Portolan scan report for 198.18.0.12
Host is up.
Portolan scan report for 198.18.0.14
Host is up (0.000033s latency).
# Portolan done at Sat Nov 21 10:17:02 2026 -- 8 IP addresses (3 hosts up) scanned in 1.25 seconds
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_verbose_ping_scan_shows_down_hosts_and_reasons_with_their_ttl() {
        let opts = OutputOptions {
            verbose: 1,
            reason: true,
            ..OutputOptions::default()
        };
        let run = discovery_run(RunKind::PingOnly, opts);
        let text = run_whole(
            NormalMode::File,
            &run,
            &ping_scan_hosts(),
            &discovery_summary(8, 3),
        );
        let body: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            body,
            [
                "Portolan scan report for 198.18.0.8 [host down, received no-response]",
                "Portolan scan report for 198.18.0.11",
                "Host is up, received arp-response (0.000033s latency).",
                "MAC Address: 02:00:C6:12:00:0B (Example Networks)",
                "Portolan scan report for 198.18.0.12",
                "Host is up, received localhost-response.",
                "Portolan scan report for 198.18.0.14",
                "Host is up, received echo-reply ttl 63 (0.000033s latency).",
                "Portolan scan report for 198.18.0.13 [host down, received no-response]",
                "# Portolan done at Sat Nov 21 10:17:02 2026 -- 8 IP addresses (3 hosts up) scanned in 1.25 seconds",
            ]
        );
        let quiet_reasons = discovery_run(
            RunKind::PingOnly,
            OutputOptions {
                verbose: 1,
                ..OutputOptions::default()
            },
        );
        assert_eq!(
            render_host(&silent_host("198.18.0.8"), &quiet_reasons),
            "Portolan scan report for 198.18.0.8 [host down]\n"
        );
    }

    #[test]
    fn a_ping_scan_prints_no_port_table_even_for_a_host_with_ports() {
        let run = discovery_run(RunKind::PingOnly, OutputOptions::default());
        assert_eq!(
            render_host(&reference_host(), &run),
            "Portolan scan report for 198.18.0.2\nHost is up (0.00037s latency).\n"
        );
    }

    #[test]
    fn a_list_scan_prints_one_title_line_per_target_whatever_the_options() {
        let mut named_host = listed_host("198.18.0.9");
        named_host.hostnames = vec![named("example.test", HostnameKind::User)];
        let hosts = [listed_host("198.18.0.8"), named_host];
        let expected_body = "\
Portolan scan report for 198.18.0.8
Portolan scan report for example.test (198.18.0.9)
# Portolan done at Sat Nov 21 10:17:02 2026 -- 2 IP addresses (0 hosts up) scanned in 1.25 seconds
";
        let loud = OutputOptions {
            verbose: 2,
            reason: true,
            open_only: true,
            ..OutputOptions::default()
        };
        for opts in [OutputOptions::default(), loud] {
            let run = discovery_run(RunKind::List, opts);
            let text = run_whole(NormalMode::File, &run, &hosts, &discovery_summary(2, 0));
            let (header, body) = text.split_once('\n').unwrap();
            assert!(header.ends_with("as: portolan -sL -n -oA /tmp/disc 198.18.0.8/29"));
            assert_eq!(body, expected_body);
        }
    }

    #[test]
    fn the_terminal_notes_a_lone_target_that_seems_down() {
        let one_down = discovery_summary(1, 0);
        let ping = discovery_run(RunKind::PingOnly, OutputOptions::default());
        let hosts = [silent_host("198.18.0.8")];
        let text = run_whole(NormalMode::Terminal, &ping, &hosts, &one_down);
        assert!(text.ends_with(
            "Note: Host seems down. If it is really up, but blocking our ping probes, try -Pn\n\
             Portolan done: 1 IP address (0 hosts up) scanned in 1.25 seconds\n"
        ));
        let file = run_whole(NormalMode::File, &ping, &hosts, &one_down);
        assert!(!file.contains("seems down"));
        let two = run_whole(
            NormalMode::Terminal,
            &ping,
            &hosts,
            &discovery_summary(2, 0),
        );
        assert!(!two.contains("seems down"));
        let up = run_whole(NormalMode::Terminal, &ping, &[], &discovery_summary(1, 1));
        assert!(!up.contains("seems down"));
        let list = discovery_run(RunKind::List, OutputOptions::default());
        let listed = run_whole(NormalMode::Terminal, &list, &[], &one_down);
        assert!(!listed.contains("seems down"));
    }

    #[test]
    fn timed_out_host_is_skipped_without_a_port_table() {
        let mut host = reference_host();
        host.timed_out = true;
        host.mac = arp_host(Some("Example Networks")).mac;
        let text = render_host(&host, &run_info(OutputOptions::default()));
        assert_eq!(
            text,
            "Portolan scan report for 198.18.0.2\nHost is up (0.00037s latency).\n\
             Skipping host 198.18.0.2 due to host timeout\n"
        );
    }

    #[test]
    fn down_hosts_appear_only_when_verbose() {
        let mut down = host_with(vec![]);
        down.status = HostStatus::Down;
        down.status_reason = Reason::NoResponse;
        let quiet = run_sink(
            NormalMode::File,
            OutputOptions::default(),
            std::slice::from_ref(&down),
        );
        assert!(!quiet.contains("scan report"));
        let verbose = OutputOptions {
            verbose: 1,
            reason: true,
            ..OutputOptions::default()
        };
        let loud = run_sink(NormalMode::File, verbose, &[down]);
        assert!(loud
            .contains("\nPortolan scan report for 198.18.0.2 [host down, received no-response]\n"));
    }

    #[test]
    fn a_differing_ptr_name_gets_its_own_line() {
        let mut host = reference_host();
        host.hostnames = vec![
            named("example.test", HostnameKind::User),
            named("ptr.example.test", HostnameKind::Ptr),
        ];
        let text = render_host(&host, &run_info(OutputOptions::default()));
        assert!(text.starts_with(
            "Portolan scan report for example.test (198.18.0.2)\nHost is up (0.00037s latency).\n\
             rDNS record for 198.18.0.2: ptr.example.test\n"
        ));
    }

    #[test]
    fn a_host_without_ports_prints_only_its_status() {
        let text = render_host(&host_with(vec![]), &run_info(OutputOptions::default()));
        assert_eq!(
            text,
            "Portolan scan report for 198.18.0.2\nHost is up (0.00037s latency).\n"
        );
    }

    #[test]
    fn an_interrupted_run_says_why_before_the_done_line() {
        let buf = SharedBuf::default();
        let mut sink = NormalSink::new(Box::new(buf.clone()), NormalMode::File);
        sink.tz = TimeZone::UTC;
        sink.begin(&run_info(OutputOptions::default())).unwrap();
        let mut s = summary();
        s.error = Some("interrupted\nby user".to_owned());
        s.end_time = T0 + 60;
        sink.end(&s).unwrap();
        let text = buf.text();
        assert!(text.ends_with(
            "Portolan stopped early: interrupted by user\n\
             # Portolan done at Sat Nov 21 10:18:02 2026 -- 1 IP address (1 host up) scanned in 0.03 seconds\n"
        ));
    }

    #[test]
    fn end_without_begin_still_writes_a_header_and_footer() {
        let buf = SharedBuf::default();
        let mut sink = NormalSink::new(Box::new(buf.clone()), NormalMode::File);
        sink.host(&reference_host()).unwrap();
        sink.end(&summary()).unwrap();
        let text = buf.text();
        assert!(text.starts_with("# Portolan "));
        assert!(text.contains("Portolan scan report for 198.18.0.2\n"));
    }

    #[test]
    fn a_two_hop_trace_follows_the_port_table_as_in_nmap() {
        let expected = "\
Portolan scan report for 198.18.1.14
Host is up (0.00037s latency).

PORT    STATE SERVICE
443/tcp open  https

TRACEROUTE (using port 443/tcp)
HOP RTT     ADDRESS
1   0.05 ms 198.18.0.254
2   0.08 ms 198.18.1.14

";
        let run = run_info(OutputOptions::default());
        assert_eq!(render_host(&traced_host(), &run), expected);
    }

    #[test]
    fn silent_hops_print_as_ranges_and_named_hops_as_name_and_address() {
        let mut host = silent_range_host();
        host.mac = arp_host(Some("Example Networks")).mac;
        let expected = "\
Portolan scan report for 198.18.1.14
Host is up (0.00037s latency).

PORT    STATE SERVICE
443/tcp open  https
MAC Address: 02:00:C6:12:00:0B (Example Networks)

TRACEROUTE (using port 443/tcp)
HOP RTT      ADDRESS
1   0.05 ms  198.18.0.254
2   ...
3   12.50 ms r3.example.test (198.18.2.1)
4   ... 6
7   13.08 ms 198.18.1.14

";
        let run = run_info(OutputOptions::default());
        assert_eq!(render_host(&host, &run), expected);
    }

    #[test]
    fn an_on_link_host_gets_a_bare_title_and_icmp_names_its_protocol() {
        let mut host = traced_host();
        let trace = host.trace.as_mut().unwrap();
        (trace.proto, trace.port) = (None, None);
        trace.hops = vec![hop(1, "198.18.1.14", 50)];
        let run = run_info(OutputOptions::default());
        let text = render_host(&host, &run);
        assert!(
            text.ends_with("\n\nTRACEROUTE\nHOP RTT     ADDRESS\n1   0.05 ms 198.18.1.14\n\n"),
            "{text}"
        );
        let trace = host.trace.as_mut().unwrap();
        trace.proto = Some(portolan_model::TraceProto::Icmp);
        trace.hops[0].rtt_us = None;
        assert!(render_host(&host, &run)
            .contains("\nTRACEROUTE (using proto 1/icmp)\nHOP RTT ADDRESS\n1   --  198.18.1.14\n"));
        host.addr = "2001:db8::14".parse().unwrap();
        assert!(render_host(&host, &run).contains("\nTRACEROUTE (using proto 58/ipv6-icmp)\n"));
    }

    #[test]
    fn a_trace_without_hops_or_a_timed_out_host_prints_no_traceroute() {
        let run = run_info(OutputOptions::default());
        let mut host = traced_host();
        host.trace.as_mut().unwrap().hops.clear();
        let text = render_host(&host, &run);
        assert!(!text.contains("TRACEROUTE"), "{text}");
        assert!(text.ends_with("443/tcp open  https\n\n"), "{text}");
        let mut late = traced_host();
        late.timed_out = true;
        assert!(!render_host(&late, &run).contains("TRACEROUTE"));
    }

    #[test]
    fn a_ping_scan_host_with_a_trace_ends_with_it_and_a_blank_line() {
        let run = discovery_run(RunKind::PingOnly, OutputOptions::default());
        let mut host = traced_host();
        host.mac = arp_host(None).mac;
        let expected = "\
Portolan scan report for 198.18.1.14
Host is up (0.00037s latency).
MAC Address: 02:00:C6:12:00:0B (Unknown)

TRACEROUTE (using port 443/tcp)
HOP RTT     ADDRESS
1   0.05 ms 198.18.0.254
2   0.08 ms 198.18.1.14

";
        assert_eq!(render_host(&host, &run), expected);
    }

    #[test]
    fn a_hop_name_cannot_break_the_table() {
        let mut host = traced_host();
        host.trace.as_mut().unwrap().hops[0].host = Some("evil\nPORT open".to_owned());
        let text = render_host(&host, &run_info(OutputOptions::default()));
        assert!(
            text.contains("\n1   0.05 ms evil PORT open (198.18.0.254)\n"),
            "{text}"
        );
    }
}
