//! Nmap's grepable format (`-oG`): one line per host and fact, fields split by TABs.

use crate::text::{display_name, done_sentence, one_line};
use crate::timefmt::{ctime, local_zone};
use crate::view::{host_visible, port_view, PortView};
use crate::{emit, fallback_run, Out, Sink};
use jiff::tz::TimeZone;
use portolan_model::{
    HostResult, HostStatus, HostnameKind, PortResult, PortState, Protocol, RunInfo, RunKind,
    RunSummary,
};
use std::io;

/// Writes Nmap's grepable output format.
pub struct GrepableSink {
    out: Out,
    run: Option<RunInfo>,
    tz: TimeZone,
}

impl GrepableSink {
    pub fn new(out: Out) -> Self {
        GrepableSink {
            out,
            run: None,
            tz: local_zone(),
        }
    }

    fn ensure_begun(&mut self) -> io::Result<()> {
        if self.run.is_none() {
            self.begin(&fallback_run())?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for GrepableSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrepableSink").finish_non_exhaustive()
    }
}

impl Sink for GrepableSink {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.run = Some(run.clone());
        let mut block = format!(
            "# {} {} scan initiated {} as: {}\n",
            display_name(&run.scanner),
            run.version,
            ctime(run.start_time, &self.tz),
            one_line(&run.args)
        );
        if run.options.verbose > 0 {
            block.push_str(&ports_scanned(run));
        }
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
        let name = display_name(&run.scanner);
        let mut block = String::new();
        if let Some(why) = &summary.error {
            block.push_str(&format!("# {name} stopped early: {}\n", one_line(why)));
        }
        block.push_str(&format!(
            "# {name} done at {} -- {}\n",
            ctime(summary.end_time, &self.tz),
            done_sentence(summary)
        ));
        emit(&mut self.out, &block)
    }
}

/// `# Ports scanned: TCP(101;1-100,8000) UDP(0;) SCTP(0;) PROTOCOLS(0;)`, written with `-v`
/// (all counts 0 for `-sn` and `-sL`).
fn ports_scanned(run: &RunInfo) -> String {
    let list = |proto: Protocol| {
        let mut ports: Vec<u16> = run
            .port_scans()
            .iter()
            .filter(|s| s.protocol == proto)
            .flat_map(|s| s.ports.iter().copied())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        format!("{};{}", ports.len(), portolan_model::compact_ranges(&ports))
    };
    format!(
        "# Ports scanned: TCP({}) UDP({}) SCTP(0;) PROTOCOLS(0;)\n",
        list(Protocol::Tcp),
        list(Protocol::Udp)
    )
}

/// The lines for one host: its status, then (port scans only) its ports
/// unless it timed out. As in Nmap, the name in brackets is the reverse-DNS
/// name only, and the MAC address is not written.
pub(crate) fn render_host(host: &HostResult, run: &RunInfo) -> String {
    let prefix = format!(
        "Host: {} ({})",
        host.addr,
        field(ptr_name(host).unwrap_or(""))
    );
    let mut s = format!("{prefix}\tStatus: {}\n", status_word(host.status));
    if host.status != HostStatus::Up {
        return s;
    }
    if host.timed_out {
        s.push_str(&format!("{prefix}\tStatus: Timeout\n"));
    } else if run.kind == RunKind::Ports && !host.ports.is_empty() {
        let view = port_view(host, &run.options);
        s.push_str(&format!(
            "{prefix}\tPorts: {}{}\n",
            port_list(&view),
            ignored_field(&view)
        ));
    }
    s
}

/// The host's reverse-DNS name: Nmap's grepable format leaves names given on
/// the command line out.
fn ptr_name(host: &HostResult) -> Option<&str> {
    host.hostnames
        .iter()
        .find(|h| h.kind == HostnameKind::Ptr)
        .map(|h| h.name.as_str())
}

fn status_word(status: HostStatus) -> &'static str {
    match status {
        HostStatus::Up => "Up",
        HostStatus::Down => "Down",
        HostStatus::Unknown => "Unknown",
    }
}

/// `22/open/tcp//ssh///, 80/open/tcp//http///`
fn port_list(view: &PortView<'_>) -> String {
    let entries: Vec<String> = view.shown.iter().map(|p| port_entry(p)).collect();
    entries.join(", ")
}

/// `port/state/protocol/owner/service/rpc info/version/`; we know no owner or
/// RPC info. A service inside TLS is `ssl|http`, as Nmap writes it.
fn port_entry(p: &PortResult) -> String {
    let (service, version) = match &p.service {
        None => ("unknown".to_owned(), String::new()),
        Some(s) => {
            let name = match s.tunnel {
                Some(_) => format!("ssl|{}", s.name),
                None => s.name.clone(),
            };
            (name, s.version_text())
        }
    };
    format!(
        "{}/{}/{}//{}//{}/",
        p.port,
        p.state,
        p.protocol,
        field(&service),
        field(&version)
    )
}

/// Nmap names the folded state only when there is exactly one. A host that
/// answers SYN-ACK on every port always names its folded open ports (Nmap never
/// folds open ones, so `open` there marks such a host), even beside other
/// folded states.
fn ignored_field(view: &PortView<'_>) -> String {
    let named = match view.ignored.as_slice() {
        [only] => Some(only),
        all if view.answers_every_port.is_some() => all.iter().find(|s| s.state == PortState::Open),
        _ => None,
    };
    named.map_or_else(String::new, |s| {
        format!("\tIgnored State: {} ({})", s.state, s.count)
    })
}

/// A value made safe for a grepable field: no control characters, and none of
/// the separators `/` and `,` (they become `|` and `;`).
fn field(s: &str) -> String {
    one_line(s)
        .chars()
        .map(|c| match c {
            '/' => '|',
            ',' => ';',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        arp_host, discovery_run, discovery_summary, host_with, listed_host, named, ping_scan_hosts,
        port, proxied_host, reference_host, run_info, silent_range_host, summary, traced_host,
        SharedBuf,
    };
    use portolan_model::{HostnameKind, OutputOptions, PortState, Reason};

    #[test]
    fn a_probed_service_in_tls_is_ssl_bar_name_with_its_version_slashes_turned_to_bars() {
        use portolan_model::{ServiceInfo, ServiceMethod, Tunnel};
        let mut p = port(443, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::named("http", ServiceMethod::Probed, 10);
        s.product = Some("nginx".into());
        s.version = Some("1.22.1".into());
        s.extrainfo = Some("a/b, c".into());
        s.tunnel = Some(Tunnel::Ssl);
        p.service = Some(s);
        assert_eq!(
            port_entry(&p),
            "443/open/tcp//ssl|http//nginx 1.22.1 (a|b; c)/"
        );
    }

    #[test]
    fn whole_file_matches_the_nmap_reference_run() {
        let buf = SharedBuf::default();
        let mut sink = GrepableSink::new(Box::new(buf.clone()));
        sink.tz = TimeZone::UTC;
        sink.begin(&run_info(OutputOptions {
            reason: true,
            ..OutputOptions::default()
        }))
        .unwrap();
        sink.host(&reference_host()).unwrap();
        sink.end(&summary()).unwrap();
        let expected = "\
# Portolan 0.1.0 scan initiated Sat Nov 21 10:17:02 2026 as: portolan -sT -Pn -n -p 1-100,8000 --reason -oA /tmp/ref 127.0.0.1
Host: 198.18.0.2 ()\tStatus: Up
Host: 198.18.0.2 ()\tPorts: 8000/open/tcp//http-alt///\tIgnored State: closed (100)
# Portolan done at Sat Nov 21 10:17:02 2026 -- 1 IP address (1 host up) scanned in 0.03 seconds
";
        assert_eq!(buf.text(), expected);
    }

    #[test]
    fn several_folded_states_name_none_and_names_are_cleaned() {
        let mut ports: Vec<_> = (1..=30)
            .map(|n| port(n, PortState::Closed, Reason::Reset))
            .collect();
        ports.extend((100..=130).map(|n| port(n, PortState::Filtered, Reason::NoResponse)));
        ports.push(port(443, PortState::Open, Reason::SynAck));
        let mut host = host_with(ports);
        host.hostnames = vec![named("a\tb", HostnameKind::Ptr)];
        let text = render_host(&host, &run_info(OutputOptions::default()));
        assert_eq!(
            text,
            "Host: 198.18.0.2 (a b)\tStatus: Up\nHost: 198.18.0.2 (a b)\tPorts: 443/open/tcp//unknown///\n"
        );
    }

    #[test]
    fn only_a_reverse_dns_name_is_written_never_a_name_given_by_the_user() {
        let run = run_info(OutputOptions::default());
        let mut host = host_with(vec![]);
        host.hostnames = vec![named("given.test", HostnameKind::User)];
        assert_eq!(
            render_host(&host, &run),
            "Host: 198.18.0.2 ()\tStatus: Up\n"
        );
        host.hostnames.push(named("ptr.test", HostnameKind::Ptr));
        assert_eq!(
            render_host(&host, &run),
            "Host: 198.18.0.2 (ptr.test)\tStatus: Up\n"
        );
    }

    fn whole_file(run: &RunInfo, hosts: &[HostResult], summary: &RunSummary) -> String {
        let buf = SharedBuf::default();
        let mut sink = GrepableSink::new(Box::new(buf.clone()));
        sink.tz = TimeZone::UTC;
        sink.begin(run).unwrap();
        for h in hosts {
            sink.host(h).unwrap();
        }
        sink.end(summary).unwrap();
        buf.text()
    }

    #[test]
    fn a_ping_scan_writes_one_status_line_per_up_host_and_no_mac() {
        let run = discovery_run(RunKind::PingOnly, OutputOptions::default());
        let text = whole_file(&run, &ping_scan_hosts(), &discovery_summary(8, 3));
        let expected = "\
# Portolan 0.1.0 scan initiated Sat Nov 21 10:17:02 2026 as: portolan -sn -n -oA /tmp/disc 198.18.0.8/29
Host: 198.18.0.11 ()\tStatus: Up
Host: 198.18.0.12 ()\tStatus: Up
Host: 198.18.0.14 ()\tStatus: Up
# Portolan done at Sat Nov 21 10:17:02 2026 -- 8 IP addresses (3 hosts up) scanned in 1.25 seconds
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_verbose_ping_scan_adds_down_lines_and_the_empty_ports_header() {
        let opts = OutputOptions {
            verbose: 1,
            reason: true,
            ..OutputOptions::default()
        };
        let run = discovery_run(RunKind::PingOnly, opts);
        let text = whole_file(&run, &ping_scan_hosts(), &discovery_summary(8, 3));
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "# Ports scanned: TCP(0;) UDP(0;) SCTP(0;) PROTOCOLS(0;)",
                "Host: 198.18.0.8 ()\tStatus: Down",
                "Host: 198.18.0.11 ()\tStatus: Up",
                "Host: 198.18.0.12 ()\tStatus: Up",
                "Host: 198.18.0.14 ()\tStatus: Up",
                "Host: 198.18.0.13 ()\tStatus: Down",
                "# Portolan done at Sat Nov 21 10:17:02 2026 -- 8 IP addresses (3 hosts up) scanned in 1.25 seconds",
            ]
        );
    }

    #[test]
    fn a_ping_scan_writes_no_ports_line_even_for_a_host_with_ports() {
        let run = discovery_run(RunKind::PingOnly, OutputOptions::default());
        assert_eq!(
            render_host(&reference_host(), &run),
            "Host: 198.18.0.2 ()\tStatus: Up\n"
        );
    }

    #[test]
    fn a_list_scan_writes_every_target_as_unknown() {
        let mut named_host = listed_host("198.18.0.9");
        named_host.hostnames = vec![named("example.test", HostnameKind::User)];
        let run = discovery_run(RunKind::List, OutputOptions::default());
        let text = whole_file(
            &run,
            &[listed_host("198.18.0.8"), named_host],
            &discovery_summary(2, 0),
        );
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "Host: 198.18.0.8 ()\tStatus: Unknown",
                "Host: 198.18.0.9 ()\tStatus: Unknown",
                "# Portolan done at Sat Nov 21 10:17:02 2026 -- 2 IP addresses (0 hosts up) scanned in 1.25 seconds",
            ]
        );
    }

    #[test]
    fn a_port_scanned_host_with_a_mac_gets_the_usual_two_lines() {
        let mut host = arp_host(Some("Example Networks"));
        host.ports = vec![port(22, PortState::Closed, Reason::Reset)];
        assert_eq!(
            render_host(&host, &run_info(OutputOptions::default())),
            "Host: 198.18.0.11 ()\tStatus: Up\nHost: 198.18.0.11 ()\tPorts: 22/closed/tcp//unknown///\n"
        );
    }

    #[test]
    fn all_ignored_timed_out_and_portless_hosts() {
        let opts = run_info(OutputOptions::default());
        let ports = (1..=70)
            .map(|n| port(n, PortState::Filtered, Reason::NoResponse))
            .collect();
        let all = render_host(&host_with(ports), &opts);
        assert!(all.ends_with("\tPorts: \tIgnored State: filtered (70)\n"));
        let mut late = reference_host();
        late.timed_out = true;
        assert!(render_host(&late, &opts)
            .ends_with("()\tStatus: Up\nHost: 198.18.0.2 ()\tStatus: Timeout\n"));
        assert_eq!(render_host(&host_with(vec![]), &opts).lines().count(), 1);
    }

    #[test]
    fn a_host_answering_every_port_names_its_open_ports_as_the_ignored_state() {
        let run = run_info(OutputOptions::default());
        assert_eq!(
            render_host(&proxied_host(), &run),
            "Host: 198.18.0.2 ()\tStatus: Up\n\
             Host: 198.18.0.2 ()\tPorts: 7/closed/tcp//unknown///, 9/closed/tcp//unknown///, \
             53/open/udp//domain///\tIgnored State: open (998)\n"
        );
        let mut also_filtered = proxied_host();
        also_filtered.ports.retain(|p| p.port > 50);
        also_filtered
            .ports
            .extend((1..=50).map(|n| port(n, PortState::Filtered, Reason::NoResponse)));
        also_filtered.sort_ports();
        let line = render_host(&also_filtered, &run);
        assert!(line.ends_with("\tIgnored State: open (950)\n"), "{line}");
    }

    #[test]
    fn a_normal_host_with_many_open_ports_has_no_open_ignored_state() {
        let mut host = proxied_host();
        host.answers_every_port = false;
        let line = render_host(&host, &run_info(OutputOptions::default()));
        assert!(!line.contains("Ignored State"));
        assert!(line.contains(", 1000/open/tcp//unknown///, 53/open/udp//domain///\n"));
    }

    #[test]
    fn the_verbose_header_of_a_discovery_run_lists_no_ports_whatever_scans_holds() {
        let opts = OutputOptions {
            verbose: 1,
            ..OutputOptions::default()
        };
        for kind in [RunKind::PingOnly, RunKind::List] {
            let run = RunInfo {
                kind,
                ..run_info(opts)
            };
            assert_eq!(
                ports_scanned(&run),
                "# Ports scanned: TCP(0;) UDP(0;) SCTP(0;) PROTOCOLS(0;)\n"
            );
        }
    }

    #[test]
    fn verbose_header_lists_the_scanned_ports() {
        let run = run_info(OutputOptions {
            verbose: 1,
            ..OutputOptions::default()
        });
        assert_eq!(
            ports_scanned(&run),
            "# Ports scanned: TCP(101;1-100,8000) UDP(0;) SCTP(0;) PROTOCOLS(0;)\n"
        );
    }

    #[test]
    fn a_traceroute_is_not_written_as_nmap_writes_none_here() {
        let run = run_info(OutputOptions::default());
        for traced in [traced_host(), silent_range_host()] {
            let text = render_host(&traced, &run);
            assert_eq!(
                text,
                "Host: 198.18.1.14 ()\tStatus: Up\n\
                 Host: 198.18.1.14 ()\tPorts: 443/open/tcp//https///\n"
            );
            let mut untraced = traced.clone();
            untraced.trace = None;
            assert_eq!(text, render_host(&untraced, &run));
        }
        let ping = discovery_run(RunKind::PingOnly, OutputOptions::default());
        assert_eq!(
            render_host(&traced_host(), &ping),
            "Host: 198.18.1.14 ()\tStatus: Up\n"
        );
    }
}
