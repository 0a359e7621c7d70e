//! Which ports a report lists and which it folds into "Not shown" counts.
//!
//! This is the one place that decides it, so the normal, XML and grepable
//! formats always agree on what they hide. That includes the open TCP ports of
//! a host flagged [`HostResult::answers_every_port`] (a SYN proxy or tarpit):
//! they say nothing, so they are folded like an ignored state, whatever their
//! number. How a traceroute's probe is named (normal and XML formats) and
//! which of its silent hops share one `...` line (normal format) is decided
//! here too.

use portolan_model::{
    HostResult, HostStatus, OutputOptions, PortResult, PortState, Protocol, Reason, RunInfo,
    RunKind, Trace, TraceHop, TraceProto,
};
use std::net::IpAddr;

/// A state is folded away once more than this many ports are in it
/// (times the verbosity level when `-v` is given).
pub const IGNORE_THRESHOLD: usize = 25;

/// The ports of one host as a report presents them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortView<'a> {
    /// Ports listed one by one, in the host's (protocol, port) order.
    pub shown: Vec<&'a PortResult>,
    /// Folded states, most numerous first.
    pub ignored: Vec<IgnoredState>,
    /// Set when the host answers SYN-ACK on every port: its open TCP ports
    /// are then all in `ignored`, under [`PortState::Open`].
    pub answers_every_port: Option<AnswersEveryPort>,
}

/// The counts behind the report of a host that answers SYN-ACK on every port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswersEveryPort {
    /// Open TCP ports (SYN-ACK answers), all folded away.
    pub answered: usize,
    /// TCP ports scanned.
    pub scanned: usize,
}

/// One folded ("ignored") state and why its ports got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredState {
    pub state: PortState,
    pub count: usize,
    /// Per (protocol, reason), most numerous first.
    pub reasons: Vec<IgnoredReason>,
}

/// Ports of one protocol folded into a state for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredReason {
    pub protocol: Protocol,
    pub reason: Reason,
    /// Ascending port numbers.
    pub ports: Vec<u16>,
}

impl PortView<'_> {
    /// True when the host had ports but every one of them is folded away.
    pub fn all_ignored(&self) -> bool {
        self.shown.is_empty() && !self.ignored.is_empty()
    }

    /// Total number of folded ports.
    pub fn ignored_count(&self) -> usize {
        self.ignored.iter().map(|s| s.count).sum()
    }
}

/// Splits a host's ports into listed and folded ones.
///
/// Open ports are listed, except the open TCP ports of a host flagged
/// `answers_every_port`, which are always folded. With `--open` every other
/// state is folded. Otherwise a state is folded when more than
/// [`IGNORE_THRESHOLD`] × max(1, verbose) ports are in it, counting all
/// protocols together.
pub fn port_view<'a>(host: &'a HostResult, opts: &OutputOptions) -> PortView<'a> {
    let folded: Vec<PortState> = PortState::ALL
        .into_iter()
        .filter(|&st| is_folded(host, st, opts))
        .collect();
    let proxy = answers_every_port(host);
    let hidden = |p: &PortResult| folded.contains(&p.state) || (proxy.is_some() && proxied(p));
    let shown = host.ports.iter().filter(|p| !hidden(p)).collect();
    let mut ignored: Vec<IgnoredState> = folded
        .iter()
        .map(|&st| ignored_state(host, st, |p| p.state == st))
        .collect();
    if proxy.is_some() {
        ignored.push(ignored_state(host, PortState::Open, proxied));
    }
    ignored.sort_by_key(|s| (std::cmp::Reverse(s.count), s.state));
    PortView {
        shown,
        ignored,
        answers_every_port: proxy,
    }
}

/// A port whose state a SYN proxy or tarpit decided: open TCP.
fn proxied(p: &PortResult) -> bool {
    p.protocol == Protocol::Tcp && p.state == PortState::Open
}

/// The counts for a flagged host; `None` for any other host, and for a flagged
/// one without open TCP ports (nothing to fold, nothing to explain).
fn answers_every_port(host: &HostResult) -> Option<AnswersEveryPort> {
    if !host.answers_every_port {
        return None;
    }
    let tcp = host.ports.iter().filter(|p| p.protocol == Protocol::Tcp);
    let answered = tcp.clone().filter(|p| proxied(p)).count();
    let scanned = tcp.count();
    (answered > 0).then_some(AnswersEveryPort { answered, scanned })
}

fn is_folded(host: &HostResult, state: PortState, opts: &OutputOptions) -> bool {
    if state == PortState::Open {
        return false;
    }
    let count = host.ports.iter().filter(|p| p.state == state).count();
    if opts.open_only {
        return count > 0;
    }
    let threshold = IGNORE_THRESHOLD.saturating_mul(usize::from(opts.verbose.max(1)));
    count > threshold
}

/// The ports of `host` that `folds` picks, all in `state`, grouped by reason.
fn ignored_state(
    host: &HostResult,
    state: PortState,
    folds: impl Fn(&PortResult) -> bool,
) -> IgnoredState {
    let mut reasons: Vec<IgnoredReason> = Vec::new();
    for p in host.ports.iter().filter(|p| folds(p)) {
        match reasons
            .iter_mut()
            .find(|r| r.protocol == p.protocol && r.reason == p.reason)
        {
            Some(r) => r.ports.push(p.port),
            None => reasons.push(IgnoredReason {
                protocol: p.protocol,
                reason: p.reason,
                ports: vec![p.port],
            }),
        }
    }
    for r in &mut reasons {
        r.ports.sort_unstable();
    }
    reasons.sort_by_key(|r| (std::cmp::Reverse(r.ports.len()), r.protocol, r.reason));
    let count = reasons.iter().map(|r| r.ports.len()).sum();
    IgnoredState {
        state,
        count,
        reasons,
    }
}

/// How the normal and XML reports name the probe a trace was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceUsing {
    /// A TCP or UDP probe: its destination port and protocol name.
    Port(u16, &'static str),
    /// An ICMP probe, or a TCP or UDP one of unknown port: the IP protocol
    /// number and its IANA keyword, as Nmap names them.
    Proto(u8, &'static str),
    /// Nothing was sent: the host is on our own link.
    Nothing,
}

/// The probe of `trace`, a trace to `addr` (ICMP over IPv6 is ICMPv6,
/// protocol 58, `ipv6-icmp`).
pub(crate) fn trace_using(trace: &Trace, addr: IpAddr) -> TraceUsing {
    let Some(proto) = trace.proto else {
        return TraceUsing::Nothing;
    };
    match (proto, trace.port) {
        (TraceProto::Icmp, _) if addr.is_ipv6() => TraceUsing::Proto(58, "ipv6-icmp"),
        (TraceProto::Icmp, _) => TraceUsing::Proto(1, "icmp"),
        (TraceProto::Tcp | TraceProto::Udp, Some(port)) => TraceUsing::Port(port, proto.as_str()),
        (TraceProto::Tcp, None) => TraceUsing::Proto(6, "tcp"),
        (TraceProto::Udp, None) => TraceUsing::Proto(17, "udp"),
    }
}

/// One line of a trace table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceLine<'a> {
    /// A hop that answered.
    Hop(&'a TraceHop),
    /// Consecutive silent hops, from the first TTL to the last.
    Silent { first: u8, last: u8 },
}

/// The lines of a trace table, as Nmap folds them: each answering hop on its
/// own, each run of consecutive silent entries as one line.
pub(crate) fn trace_lines(trace: &Trace) -> Vec<TraceLine<'_>> {
    let mut lines: Vec<TraceLine<'_>> = Vec::new();
    for hop in &trace.hops {
        match (hop.addr, lines.last_mut()) {
            (Some(_), _) => lines.push(TraceLine::Hop(hop)),
            (None, Some(TraceLine::Silent { last, .. })) => *last = hop.ttl,
            (None, _) => lines.push(TraceLine::Silent {
                first: hop.ttl,
                last: hop.ttl,
            }),
        }
    }
    lines
}

/// Whether a report shows this host at all.
///
/// A list scan (`-sL`) shows every target, whatever the options. Otherwise
/// hosts not up are shown only with `-v`. With `--open`, a host whose ports
/// were scanned but none is open is left out (as Nmap does); a host that timed
/// out, or one with no ports (host discovery only), is still shown.
pub fn host_visible(host: &HostResult, run: &RunInfo) -> bool {
    let opts = &run.options;
    if run.kind == RunKind::List {
        return true;
    }
    if host.status != HostStatus::Up {
        return opts.verbose > 0;
    }
    if opts.open_only && !host.timed_out && !host.ports.is_empty() {
        return host.ports.iter().any(|p| p.state == PortState::Open);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        arp_host, discovery_run, hop, host_with, listed_host, port, proxied_host, run_info,
        silent_host, silent_range_host, traced_host,
    };

    fn opts() -> OutputOptions {
        OutputOptions::default()
    }

    #[test]
    fn open_ports_are_always_listed() {
        let ports: Vec<_> = (1..=100)
            .map(|n| port(n, PortState::Open, Reason::SynAck))
            .collect();
        let host = host_with(ports);
        let v = port_view(&host, &opts());
        assert_eq!(v.shown.len(), 100);
        assert!(v.ignored.is_empty());
    }

    #[test]
    fn a_state_is_folded_above_25_ports_not_at_25() {
        let mut ports: Vec<_> = (1..=25)
            .map(|n| port(n, PortState::Closed, Reason::Reset))
            .collect();
        ports.extend((100..126).map(|n| port(n, PortState::Filtered, Reason::NoResponse)));
        let host = host_with(ports);
        let v = port_view(&host, &opts());
        assert_eq!(v.shown.len(), 25);
        assert_eq!(v.ignored.len(), 1);
        assert_eq!(v.ignored[0].state, PortState::Filtered);
        assert_eq!(v.ignored[0].count, 26);
    }

    #[test]
    fn verbosity_multiplies_the_threshold() {
        let ports: Vec<_> = (1..=40)
            .map(|n| port(n, PortState::Closed, Reason::Reset))
            .collect();
        let host = host_with(ports);
        let v1 = OutputOptions {
            verbose: 1,
            ..opts()
        };
        let v2 = OutputOptions {
            verbose: 2,
            ..opts()
        };
        assert_eq!(port_view(&host, &v1).ignored.len(), 1);
        assert!(port_view(&host, &v2).ignored.is_empty());
    }

    #[test]
    fn open_only_folds_every_other_state_including_open_filtered() {
        let host = host_with(vec![
            port(22, PortState::Open, Reason::SynAck),
            port(23, PortState::Closed, Reason::Reset),
            port(53, PortState::OpenFiltered, Reason::NoResponse),
        ]);
        let v = port_view(
            &host,
            &OutputOptions {
                open_only: true,
                ..opts()
            },
        );
        assert_eq!(v.shown.len(), 1);
        assert_eq!(v.ignored_count(), 2);
    }

    #[test]
    fn threshold_counts_protocols_together_and_keeps_them_apart_in_reasons() {
        let mut ports: Vec<_> = (1..=20)
            .map(|n| port(n, PortState::Closed, Reason::Reset))
            .collect();
        for n in 1..=10 {
            let mut p = port(n, PortState::Closed, Reason::PortUnreach);
            p.protocol = Protocol::Udp;
            ports.push(p);
        }
        let host = host_with(ports);
        let v = port_view(&host, &opts());
        assert_eq!(v.ignored.len(), 1);
        let reasons = &v.ignored[0].reasons;
        assert_eq!(
            (reasons[0].protocol, reasons[0].ports.len()),
            (Protocol::Tcp, 20)
        );
        assert_eq!(
            (reasons[1].protocol, reasons[1].reason),
            (Protocol::Udp, Reason::PortUnreach)
        );
    }

    #[test]
    fn states_and_reasons_are_ordered_by_count() {
        let mut ports: Vec<_> = (1..=30)
            .map(|n| port(n, PortState::Closed, Reason::Reset))
            .collect();
        ports.extend((100..140).map(|n| port(n, PortState::Filtered, Reason::NoResponse)));
        ports.extend((200..250).map(|n| port(n, PortState::Filtered, Reason::AdminProhibited)));
        let host = host_with(ports);
        let v = port_view(&host, &opts());
        assert_eq!(v.ignored[0].state, PortState::Filtered);
        assert_eq!(v.ignored[0].reasons[0].reason, Reason::AdminProhibited);
        assert_eq!(v.ignored[1].state, PortState::Closed);
    }

    #[test]
    fn a_host_answering_every_port_folds_its_open_tcp_ports_only() {
        let host = proxied_host();
        let v = port_view(&host, &opts());
        assert_eq!(
            v.answers_every_port,
            Some(AnswersEveryPort {
                answered: 998,
                scanned: 1000
            })
        );
        let open = &v.ignored[0];
        assert_eq!((open.state, open.count), (PortState::Open, 998));
        assert_eq!(open.reasons.len(), 1);
        assert_eq!(
            (open.reasons[0].protocol, open.reasons[0].reason),
            (Protocol::Tcp, Reason::SynAck)
        );
        let shown: Vec<_> = v.shown.iter().map(|p| (p.protocol, p.port)).collect();
        assert_eq!(
            shown,
            [(Protocol::Tcp, 7), (Protocol::Tcp, 9), (Protocol::Udp, 53)]
        );
    }

    #[test]
    fn the_same_ports_without_the_flag_are_all_listed() {
        let mut host = proxied_host();
        host.answers_every_port = false;
        let v = port_view(&host, &opts());
        assert_eq!(v.answers_every_port, None);
        assert_eq!(v.shown.len(), 1001);
        assert!(v.ignored.is_empty());
    }

    #[test]
    fn a_flagged_host_keeps_the_usual_folding_for_other_states() {
        let mut host = proxied_host();
        host.ports
            .retain(|p| p.port > 100 || p.protocol != Protocol::Tcp);
        host.ports
            .extend((1..=100).map(|n| port(n, PortState::Filtered, Reason::NoResponse)));
        host.sort_ports();
        let v = port_view(&host, &opts());
        let states: Vec<_> = v.ignored.iter().map(|s| (s.state, s.count)).collect();
        assert_eq!(states, [(PortState::Open, 900), (PortState::Filtered, 100)]);
        assert_eq!(v.shown.len(), 1);
        let open_only = OutputOptions {
            open_only: true,
            ..opts()
        };
        let v = port_view(&host, &open_only);
        assert_eq!(v.ignored_count(), 1000);
        assert_eq!(v.shown.len(), 1, "the open UDP port stays listed");
    }

    #[test]
    fn a_flag_without_open_tcp_ports_changes_nothing() {
        let mut host = host_with(vec![port(1, PortState::Closed, Reason::Reset)]);
        host.answers_every_port = true;
        let v = port_view(&host, &opts());
        assert_eq!(v.answers_every_port, None);
        assert!(v.ignored.is_empty() && v.shown.len() == 1);
    }

    #[test]
    fn a_host_without_ports_has_an_empty_view() {
        let host = host_with(vec![]);
        let v = port_view(&host, &opts());
        assert!(v.shown.is_empty() && v.ignored.is_empty() && !v.all_ignored());
    }

    #[test]
    fn down_hosts_need_verbose_and_open_only_hides_hosts_without_open_ports() {
        let mut down = host_with(vec![]);
        down.status = HostStatus::Down;
        assert!(!host_visible(&down, &run_info(opts())));
        let verbose = OutputOptions {
            verbose: 1,
            ..opts()
        };
        assert!(host_visible(&down, &run_info(verbose)));
        let closed = host_with(vec![port(1, PortState::Closed, Reason::Reset)]);
        let open_only = run_info(OutputOptions {
            open_only: true,
            ..opts()
        });
        assert!(!host_visible(&closed, &open_only));
        assert!(host_visible(&host_with(vec![]), &open_only));
    }

    #[test]
    fn a_list_scan_shows_every_target_and_a_ping_scan_hides_down_ones() {
        let open_only = OutputOptions {
            open_only: true,
            ..opts()
        };
        let list = discovery_run(RunKind::List, open_only);
        assert!(host_visible(&listed_host("198.18.0.8"), &list));
        assert!(host_visible(&silent_host("198.18.0.9"), &list));
        let ping = discovery_run(RunKind::PingOnly, open_only);
        assert!(host_visible(&arp_host(None), &ping));
        assert!(!host_visible(&silent_host("198.18.0.9"), &ping));
        assert!(!host_visible(&listed_host("198.18.0.8"), &ping));
    }

    fn trace_of(host: &HostResult) -> &Trace {
        host.trace.as_ref().expect("fixture has a trace")
    }

    #[test]
    fn silent_runs_fold_into_one_line_each_and_answering_hops_stay_apart() {
        let host = silent_range_host();
        let lines = trace_lines(trace_of(&host));
        let shape: Vec<String> = lines
            .iter()
            .map(|l| match l {
                TraceLine::Hop(h) => format!("hop {}", h.ttl),
                TraceLine::Silent { first, last } => format!("silent {first}-{last}"),
            })
            .collect();
        assert_eq!(
            shape,
            ["hop 1", "silent 2-2", "hop 3", "silent 4-6", "hop 7"]
        );
        let mut all_silent = trace_of(&host).clone();
        all_silent.hops.iter_mut().for_each(|h| h.addr = None);
        assert_eq!(
            trace_lines(&all_silent),
            [TraceLine::Silent { first: 1, last: 7 }]
        );
        let answered = traced_host();
        assert_eq!(trace_lines(trace_of(&answered)).len(), 2);
    }

    #[test]
    fn a_trace_names_its_port_or_its_ip_protocol_per_address_family() {
        let v4: IpAddr = "198.18.1.14".parse().unwrap();
        let v6: IpAddr = "2001:db8::14".parse().unwrap();
        let mut trace = trace_of(&traced_host()).clone();
        assert_eq!(trace_using(&trace, v4), TraceUsing::Port(443, "tcp"));
        trace.proto = Some(TraceProto::Udp);
        trace.port = Some(53);
        assert_eq!(trace_using(&trace, v6), TraceUsing::Port(53, "udp"));
        trace.port = None;
        assert_eq!(trace_using(&trace, v4), TraceUsing::Proto(17, "udp"));
        trace.proto = Some(TraceProto::Icmp);
        assert_eq!(trace_using(&trace, v4), TraceUsing::Proto(1, "icmp"));
        assert_eq!(trace_using(&trace, v6), TraceUsing::Proto(58, "ipv6-icmp"));
        trace.proto = None;
        trace.hops = vec![hop(1, "198.18.0.11", 50)];
        assert_eq!(trace_using(&trace, v4), TraceUsing::Nothing);
    }
}
