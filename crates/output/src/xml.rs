//! Nmap's XML format (`-oX`, `xmloutputversion` 1.05).
//!
//! The element order, attributes and line breaks follow what Nmap 7.93
//! writes, so the file validates against Nmap's DTD except for the `scanner`
//! attribute (the DTD allows only `nmap`), and ndiff and other Nmap XML
//! consumers read it. Each block is rendered into memory with quick-xml (which
//! escapes every attribute value) and then written and flushed in one go.

use crate::text::{answers_every_port_note, display_name, done_sentence, elapsed};
use crate::timefmt::{ctime, local_zone};
use crate::view::{
    host_visible, port_view, trace_using, AnswersEveryPort, IgnoredState, PortView, TraceUsing,
};
use crate::{emit, fallback_run, Out, Sink};
use jiff::tz::TimeZone;
use portolan_model::{
    HostResult, HostStatus, MacAddress, PortResult, RunInfo, RunKind, RunSummary, ScanInfo,
    ServiceInfo, ServiceMethod, TlsInfo, Trace, TraceHop,
};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::borrow::Cow;
use std::io;
use std::net::IpAddr;

/// The DTD version whose layout this writer follows.
const XML_OUTPUT_VERSION: &str = "1.05";

/// Writes Nmap's XML output format.
pub struct XmlSink {
    out: Out,
    run: Option<RunInfo>,
    tz: TimeZone,
}

impl XmlSink {
    pub fn new(out: Out) -> Self {
        XmlSink {
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

impl std::fmt::Debug for XmlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlSink").finish_non_exhaustive()
    }
}

impl Sink for XmlSink {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.run = Some(run.clone());
        let block = prologue(run, &self.tz)?;
        emit(&mut self.out, &block)
    }

    fn host(&mut self, host: &HostResult) -> io::Result<()> {
        self.ensure_begun()?;
        let Some(run) = &self.run else { return Ok(()) };
        if !host_visible(host, run) {
            return Ok(());
        }
        let block = render_host(host, run)?;
        emit(&mut self.out, &block)
    }

    fn end(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.ensure_begun()?;
        let Some(run) = &self.run else { return Ok(()) };
        let block = epilogue(run, summary, &self.tz)?;
        emit(&mut self.out, &block)
    }
}

/// A quick-xml writer into memory, with the few shapes this format needs.
struct Doc(Writer<Vec<u8>>);

impl Doc {
    fn new() -> Self {
        Doc(Writer::new(Vec::new()))
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.0.write_event(Event::Start(element(name, attrs)))
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.0.write_event(Event::Empty(element(name, attrs)))
    }

    fn end(&mut self, name: &str) -> io::Result<()> {
        self.0.write_event(Event::End(BytesEnd::new(name)))
    }

    /// `<name attrs>text</name>`, the text escaped.
    fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> io::Result<()> {
        self.start(name, attrs)?;
        self.0
            .write_event(Event::Text(BytesText::new(&xml_chars(text))))?;
        self.end(name)
    }

    fn newline(&mut self) -> io::Result<()> {
        self.0
            .write_event(Event::Text(BytesText::from_escaped("\n")))
    }

    fn finish(self) -> String {
        String::from_utf8_lossy(&self.0.into_inner()).into_owned()
    }
}

/// An element whose attribute values are escaped, with newlines, carriage
/// returns and tabs as character references (`&#xa;`, as Nmap writes script
/// output) so that parsers' attribute normalisation keeps them.
fn element<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
    let mut e = BytesStart::new(name);
    for (key, value) in attrs {
        let escaped = quick_xml::escape::escape(xml_chars(value).into_owned())
            .replace('\n', "&#xa;")
            .replace('\r', "&#xd;")
            .replace('\t', "&#x9;");
        e.push_attribute(quick_xml::events::attributes::Attribute {
            key: quick_xml::name::QName(key.as_bytes()),
            value: Cow::Owned(escaped.into_bytes()),
        });
    }
    e
}

/// Replaces characters XML 1.0 cannot carry even escaped (most control
/// characters, U+FFFE, U+FFFF) with U+FFFD, so no input makes the file invalid.
fn xml_chars(s: &str) -> Cow<'_, str> {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if s.chars().all(allowed) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
            .collect(),
    )
}

/// Text for an XML comment: `--` may not occur in one, so Nmap writes `-&#45;`.
fn comment_text(s: &str) -> String {
    xml_chars(s).replace("--", "-&#45;")
}

fn prologue(run: &RunInfo, tz: &TimeZone) -> io::Result<String> {
    let mut doc = Doc::new();
    doc.0
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    doc.newline()?;
    doc.0
        .write_event(Event::DocType(BytesText::from_escaped("nmaprun")))?;
    doc.newline()?;
    let startstr = ctime(run.start_time, tz);
    let comment = format!(
        " {} {} scan initiated {startstr} as: {} ",
        display_name(&run.scanner),
        run.version,
        run.args
    );
    doc.0
        .write_event(Event::Comment(BytesText::from_escaped(comment_text(
            &comment,
        ))))?;
    doc.newline()?;
    let start = run.start_time.to_string();
    doc.start(
        "nmaprun",
        &[
            ("scanner", &run.scanner),
            ("args", &run.args),
            ("start", &start),
            ("startstr", &startstr),
            ("version", &run.version),
            ("xmloutputversion", XML_OUTPUT_VERSION),
        ],
    )?;
    doc.newline()?;
    run_settings(&mut doc, run)?;
    Ok(doc.finish())
}

/// `<scaninfo>` per scan (port scans only: Nmap writes none for `-sn` and
/// `-sL`), then `<verbose>` and `<debugging>`.
fn run_settings(doc: &mut Doc, run: &RunInfo) -> io::Result<()> {
    for scan in run.port_scans() {
        scaninfo(doc, scan)?;
    }
    let verbose = run.options.verbose.to_string();
    doc.empty("verbose", &[("level", &verbose)])?;
    doc.newline()?;
    let debugging = run.options.debugging.to_string();
    doc.empty("debugging", &[("level", &debugging)])?;
    doc.newline()
}

fn scaninfo(doc: &mut Doc, scan: &ScanInfo) -> io::Result<()> {
    let mut ports = scan.ports.clone();
    ports.sort_unstable();
    ports.dedup();
    let count = ports.len().to_string();
    let services = portolan_model::compact_ranges(&ports);
    doc.empty(
        "scaninfo",
        &[
            ("type", scan.scan_type.as_str()),
            ("protocol", scan.protocol.as_str()),
            ("numservices", &count),
            ("services", &services),
        ],
    )?;
    doc.newline()
}

/// One `<host>` element and the line break after it.
///
/// As in Nmap: `<status>`, the IP `<address>`, the MAC `<address>` when
/// known, `<hostnames>` (for a host not up only when it has names), then for
/// port scans `<ports>`, then `<trace>` for a traced host, and `<times>` for
/// a host found up.
pub(crate) fn render_host(host: &HostResult, run: &RunInfo) -> io::Result<String> {
    let up = host.status == HostStatus::Up;
    let mut doc = Doc::new();
    host_start(&mut doc, host, run.kind)?;
    status(&mut doc, host)?;
    address(&mut doc, host.addr)?;
    if let Some(mac) = &host.mac {
        mac_address(&mut doc, mac)?;
    }
    if up || !host.hostnames.is_empty() {
        hostnames(&mut doc, host)?;
    }
    if up && run.kind == RunKind::Ports && !host.timed_out && !host.ports.is_empty() {
        let view = port_view(host, &run.options);
        ports(&mut doc, &view)?;
        if let Some(counts) = view.answers_every_port {
            synproxy_script(&mut doc, counts)?;
        }
    }
    if up && run.kind != RunKind::List && !host.timed_out {
        if let Some(t) = &host.trace {
            trace(&mut doc, t, host.addr)?;
        }
    }
    if up {
        times(&mut doc, host)?;
    }
    doc.end("host")?;
    doc.newline()?;
    Ok(doc.finish())
}

/// `<status state reason reason_ttl>`; the TTL is 0 when no IP packet decided.
fn status(doc: &mut Doc, host: &HostResult) -> io::Result<()> {
    let ttl = host.status_reason_ttl.unwrap_or(0).to_string();
    doc.empty(
        "status",
        &[
            ("state", host.status.as_str()),
            ("reason", host.status_reason.as_str()),
            ("reason_ttl", &ttl),
        ],
    )?;
    doc.newline()
}

/// `<host starttime endtime [timedout]>` for a host whose ports were
/// scanned; a bare `<host>` for one found down, and in `-sn` and `-sL`
/// runs, as in Nmap.
fn host_start(doc: &mut Doc, host: &HostResult, kind: RunKind) -> io::Result<()> {
    if host.status != HostStatus::Up || kind != RunKind::Ports {
        return doc.start("host", &[]);
    }
    let (start, end) = (host.start_time.to_string(), host.end_time.to_string());
    let mut attrs = vec![("starttime", start.as_str()), ("endtime", end.as_str())];
    if host.timed_out {
        attrs.push(("timedout", "true"));
    }
    doc.start("host", &attrs)
}

fn address(doc: &mut Doc, addr: IpAddr) -> io::Result<()> {
    let kind = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
    doc.empty(
        "address",
        &[("addr", &addr.to_string()), ("addrtype", kind)],
    )?;
    doc.newline()
}

/// `<address addr="02:00:C6:12:00:0B" addrtype="mac" vendor="..."/>`; no
/// `vendor` attribute when the vendor is not known.
fn mac_address(doc: &mut Doc, mac: &MacAddress) -> io::Result<()> {
    let addr = mac.to_string();
    let mut attrs = vec![("addr", addr.as_str()), ("addrtype", "mac")];
    if let Some(vendor) = &mac.vendor {
        attrs.push(("vendor", vendor));
    }
    doc.empty("address", &attrs)?;
    doc.newline()
}

fn hostnames(doc: &mut Doc, host: &HostResult) -> io::Result<()> {
    doc.start("hostnames", &[])?;
    doc.newline()?;
    for h in &host.hostnames {
        doc.empty("hostname", &[("name", &h.name), ("type", h.kind.as_str())])?;
        doc.newline()?;
    }
    doc.end("hostnames")?;
    doc.newline()
}

fn ports(doc: &mut Doc, view: &PortView<'_>) -> io::Result<()> {
    doc.start("ports", &[])?;
    for state in &view.ignored {
        extraports(doc, state)?;
    }
    for p in &view.shown {
        port(doc, p)?;
    }
    doc.end("ports")?;
    doc.newline()
}

fn extraports(doc: &mut Doc, state: &IgnoredState) -> io::Result<()> {
    let count = state.count.to_string();
    doc.start(
        "extraports",
        &[("state", state.state.as_str()), ("count", &count)],
    )?;
    doc.newline()?;
    for r in &state.reasons {
        let n = r.ports.len().to_string();
        let list = portolan_model::compact_ranges(&r.ports);
        doc.empty(
            "extrareasons",
            &[
                ("reason", r.reason.as_str()),
                ("count", &n),
                ("proto", r.protocol.as_str()),
                ("ports", &list),
            ],
        )?;
        doc.newline()?;
    }
    doc.end("extraports")?;
    doc.newline()
}

fn port(doc: &mut Doc, p: &PortResult) -> io::Result<()> {
    let portid = p.port.to_string();
    doc.start(
        "port",
        &[("protocol", p.protocol.as_str()), ("portid", &portid)],
    )?;
    let ttl = p.reason_ttl.unwrap_or(0).to_string();
    doc.empty(
        "state",
        &[
            ("state", p.state.as_str()),
            ("reason", p.reason.as_str()),
            ("reason_ttl", &ttl),
        ],
    )?;
    service(doc, p.service.as_ref())?;
    doc.end("port")?;
    doc.newline()
}

/// Like Nmap, a port with no known service is written as `unknown` from the
/// table. A probed service carries what version detection found, its CPEs
/// as `<cpe>` children, and `tunnel="ssl"` when reached through TLS; a port
/// that answered but was not named, its fingerprint as `servicefp`. The TLS
/// certificate or else the page title follows as an `ssl-cert` or
/// `http-title` script, as Nmap's scripts write them.
fn service(doc: &mut Doc, service: Option<&ServiceInfo>) -> io::Result<()> {
    let Some(s) = service else {
        return doc.empty(
            "service",
            &[("name", "unknown"), ("method", "table"), ("conf", "3")],
        );
    };
    let method = match s.method {
        ServiceMethod::Table => "table",
        ServiceMethod::Probed => "probed",
    };
    let conf = s.conf.min(10).to_string();
    let mut attrs: Vec<(&str, &str)> = vec![("name", s.name.as_str())];
    for (key, value) in [
        ("product", &s.product),
        ("version", &s.version),
        ("extrainfo", &s.extrainfo),
        ("hostname", &s.hostname),
        ("ostype", &s.ostype),
        ("devicetype", &s.devicetype),
    ] {
        if let Some(v) = value {
            attrs.push((key, v.as_str()));
        }
    }
    if s.tunnel.is_some() {
        attrs.push(("tunnel", "ssl"));
    }
    if let Some(fp) = &s.fingerprint {
        attrs.push(("servicefp", fp.as_str()));
    }
    attrs.push(("method", method));
    attrs.push(("conf", &conf));
    if s.cpe.is_empty() {
        doc.empty("service", &attrs)?;
    } else {
        doc.start("service", &attrs)?;
        for c in &s.cpe {
            doc.text_element("cpe", &[], c)?;
        }
        doc.end("service")?;
    }
    // One script per port at most: ndiff (up to Nmap 7.95, Debian's 7.93
    // included) fails on a port with two, as it sorts them and they do not
    // compare. On a TLS port the certificate wins; its title stays in the
    // other formats.
    if let Some(tls) = &s.tls {
        ssl_cert_script(doc, tls)?;
    } else if let Some(title) = &s.http_title {
        http_title_script(doc, title)?;
    }
    Ok(())
}

/// `<script id="http-title" output="...">`, with the title as an `<elem>`
/// when the page had one (not for the no-title and redirect notes).
fn http_title_script(doc: &mut Doc, text: &str) -> io::Result<()> {
    let attrs = [("id", "http-title"), ("output", text)];
    if !crate::service::is_real_title(text) {
        return doc.empty("script", &attrs);
    }
    doc.start("script", &attrs)?;
    doc.text_element("elem", &[("key", "title")], text)?;
    doc.end("script")
}

/// `<script id="ssl-cert" output="...">` with the fields as `<elem>`s.
fn ssl_cert_script(doc: &mut Doc, tls: &TlsInfo) -> io::Result<()> {
    let output = format!("\n{}", crate::service::tls_lines(tls).join("\n"));
    doc.start("script", &[("id", "ssl-cert"), ("output", &output)])?;
    let fields = [
        ("protocol", Some(&tls.protocol)),
        ("cipher", tls.cipher.as_ref()),
        ("subject", tls.subject.as_ref()),
        ("issuer", tls.issuer.as_ref()),
        ("pubkey", tls.public_key.as_ref()),
        ("notBefore", tls.not_before.as_ref()),
        ("notAfter", tls.not_after.as_ref()),
        ("sha256", tls.sha256.as_ref()),
    ];
    for (key, value) in fields {
        if let Some(v) = value {
            doc.text_element("elem", &[("key", key)], v)?;
        }
    }
    doc.end("script")
}

/// The note for a host that answers SYN-ACK on every port, as a host script
/// (Nmap's DTD allows `<hostscript>` between `<ports>` and `<times>`), with
/// the counts also as `<elem>`s for programs. The open ports themselves are in
/// `<extraports state="open">`.
fn synproxy_script(doc: &mut Doc, counts: AnswersEveryPort) -> io::Result<()> {
    let output = answers_every_port_note(counts, None);
    doc.start("hostscript", &[])?;
    doc.start("script", &[("id", "synproxy"), ("output", &output)])?;
    doc.text_element("elem", &[("key", "answered")], &counts.answered.to_string())?;
    doc.newline()?;
    doc.text_element("elem", &[("key", "scanned")], &counts.scanned.to_string())?;
    doc.newline()?;
    doc.end("script")?;
    doc.end("hostscript")?;
    doc.newline()
}

/// `<trace port="443" proto="tcp">` (`proto="icmp"` alone for ICMP probes,
/// no attribute for ICMPv6 ones or when nothing was sent, as in Nmap 7.93)
/// and a `<hop>` per answering TTL:
/// Nmap leaves silent TTLs out and writes `rtt="--"` for one not measured.
/// Nothing for a trace without hops (our own address), as in Nmap.
fn trace(doc: &mut Doc, trace: &Trace, addr: IpAddr) -> io::Result<()> {
    if trace.hops.is_empty() {
        return Ok(());
    }
    let port;
    let attrs: Vec<(&str, &str)> = match trace_using(trace, addr) {
        TraceUsing::Port(p, proto) => {
            port = p.to_string();
            vec![("port", &port), ("proto", proto)]
        }
        // Nmap 7.93 names no protocol for ICMPv6 probes here (its normal
        // output says `58/ipv6-icmp`); consumers see what Nmap writes.
        TraceUsing::Proto(58, _) => vec![],
        TraceUsing::Proto(_, name) => vec![("proto", name)],
        TraceUsing::Nothing => vec![],
    };
    doc.start("trace", &attrs)?;
    doc.newline()?;
    for hop in &trace.hops {
        trace_hop(doc, hop)?;
    }
    doc.end("trace")?;
    doc.newline()
}

fn trace_hop(doc: &mut Doc, hop: &TraceHop) -> io::Result<()> {
    let Some(ipaddr) = hop.addr else {
        return Ok(());
    };
    let (ttl, ipaddr) = (hop.ttl.to_string(), ipaddr.to_string());
    let rtt = hop
        .rtt_us
        .map_or("--".to_owned(), |us| format!("{:.2}", us as f64 / 1000.0));
    let mut attrs = vec![("ttl", ttl.as_str()), ("ipaddr", &ipaddr), ("rtt", &rtt)];
    if let Some(name) = &hop.host {
        attrs.push(("host", name));
    }
    doc.empty("hop", &attrs)?;
    doc.newline()
}

fn times(doc: &mut Doc, host: &HostResult) -> io::Result<()> {
    let Some(t) = &host.times else { return Ok(()) };
    let (srtt, rttvar, to) = (
        t.srtt_us.to_string(),
        t.rttvar_us.to_string(),
        t.timeout_us.to_string(),
    );
    doc.empty(
        "times",
        &[("srtt", &srtt), ("rttvar", &rttvar), ("to", &to)],
    )?;
    doc.newline()
}

fn epilogue(run: &RunInfo, summary: &RunSummary, tz: &TimeZone) -> io::Result<String> {
    let mut doc = Doc::new();
    doc.start("runstats", &[])?;
    let time = summary.end_time.to_string();
    let timestr = ctime(summary.end_time, tz);
    let sentence = format!(
        "{} done at {timestr}; {}",
        display_name(&run.scanner),
        done_sentence(summary)
    );
    let secs = elapsed(summary.elapsed_secs);
    let mut attrs = vec![
        ("time", time.as_str()),
        ("timestr", timestr.as_str()),
        ("summary", sentence.as_str()),
        ("elapsed", secs.as_str()),
    ];
    match &summary.error {
        None => attrs.push(("exit", "success")),
        Some(why) => attrs.extend([("exit", "error"), ("errormsg", why.as_str())]),
    }
    doc.empty("finished", &attrs)?;
    host_counts(&mut doc, summary)?;
    doc.newline()?;
    doc.end("runstats")?;
    doc.newline()?;
    doc.end("nmaprun")?;
    doc.newline()?;
    Ok(doc.finish())
}

fn host_counts(doc: &mut Doc, summary: &RunSummary) -> io::Result<()> {
    let (up, down, total) = (
        summary.hosts_up.to_string(),
        summary.hosts_down.to_string(),
        summary.hosts_total.to_string(),
    );
    doc.empty("hosts", &[("up", &up), ("down", &down), ("total", &total)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        arp_host, discovery_run, discovery_summary, host_with, listed_host, named, ping_scan_hosts,
        port as mk_port, proxied_host, reference_host, run_info, silent_host, silent_range_host,
        summary, traced_host, SharedBuf,
    };
    use portolan_model::{HostnameKind, OutputOptions, PortState, Reason};

    fn reference_file(opts: OutputOptions, hosts: &[HostResult], summary: &RunSummary) -> String {
        whole_file(&run_info(opts), hosts, summary)
    }

    fn whole_file(run: &RunInfo, hosts: &[HostResult], summary: &RunSummary) -> String {
        let buf = SharedBuf::default();
        let mut sink = XmlSink::new(Box::new(buf.clone()));
        sink.tz = TimeZone::UTC;
        sink.begin(run).unwrap();
        for h in hosts {
            sink.host(h).unwrap();
        }
        sink.end(summary).unwrap();
        buf.text()
    }

    /// The `<host>` elements of the `-sn` fixtures found up, as Nmap writes them.
    const PING_UP_HOSTS: &str = r#"<host><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.11" addrtype="ipv4"/>
<address addr="02:00:C6:12:00:0B" addrtype="mac" vendor="Example Networks"/>
<hostnames>
</hostnames>
<times srtt="33" rttvar="5000" to="100000"/>
</host>
<host><status state="up" reason="localhost-response" reason_ttl="0"/>
<address addr="198.18.0.12" addrtype="ipv4"/>
<hostnames>
</hostnames>
</host>
<host><status state="up" reason="echo-reply" reason_ttl="63"/>
<address addr="198.18.0.14" addrtype="ipv4"/>
<hostnames>
</hostnames>
<times srtt="33" rttvar="5000" to="100000"/>
</host>
"#;

    const PING_RUNSTATS: &str = r#"<runstats><finished time="1795256222" timestr="Sat Nov 21 10:17:02 2026" summary="Portolan done at Sat Nov 21 10:17:02 2026; 8 IP addresses (3 hosts up) scanned in 1.25 seconds" elapsed="1.25" exit="success"/><hosts up="3" down="5" total="8"/>
</runstats>
</nmaprun>
"#;

    #[test]
    fn a_ping_scan_has_no_scaninfo_no_ports_no_host_times_and_hides_down_hosts() {
        let run = discovery_run(RunKind::PingOnly, OutputOptions::default());
        let text = whole_file(&run, &ping_scan_hosts(), &discovery_summary(8, 3));
        let expected = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<!-- Portolan 0.1.0 scan initiated Sat Nov 21 10:17:02 2026 as: portolan -sn -n -oA /tmp/disc 198.18.0.8/29 -->
<nmaprun scanner="portolan" args="portolan -sn -n -oA /tmp/disc 198.18.0.8/29" start="1795256222" startstr="Sat Nov 21 10:17:02 2026" version="0.1.0" xmloutputversion="1.05">
<verbose level="0"/>
<debugging level="0"/>
{PING_UP_HOSTS}{PING_RUNSTATS}"#
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn a_verbose_ping_scan_writes_down_hosts_in_completion_order() {
        let opts = OutputOptions {
            verbose: 1,
            ..OutputOptions::default()
        };
        let run = discovery_run(RunKind::PingOnly, opts);
        let text = whole_file(&run, &ping_scan_hosts(), &discovery_summary(8, 3));
        let down = |addr: &str| {
            format!(
                "<host><status state=\"down\" reason=\"no-response\" reason_ttl=\"0\"/>\n\
                 <address addr=\"{addr}\" addrtype=\"ipv4\"/>\n</host>\n"
            )
        };
        let body = format!(
            "<verbose level=\"1\"/>\n<debugging level=\"0\"/>\n{}{PING_UP_HOSTS}{}{PING_RUNSTATS}",
            down("198.18.0.8"),
            down("198.18.0.13")
        );
        assert!(text.ends_with(&body), "{text}");
        assert!(!text.contains("<scaninfo"));
    }

    #[test]
    fn a_list_scan_writes_every_target_as_unknown_user_set() {
        let mut named_host = listed_host("198.18.0.9");
        named_host.hostnames = vec![named("example.test", HostnameKind::User)];
        let run = discovery_run(RunKind::List, OutputOptions::default());
        let text = whole_file(
            &run,
            &[listed_host("198.18.0.8"), named_host],
            &discovery_summary(2, 0),
        );
        let expected_tail = r#"<verbose level="0"/>
<debugging level="0"/>
<host><status state="unknown" reason="user-set" reason_ttl="0"/>
<address addr="198.18.0.8" addrtype="ipv4"/>
</host>
<host><status state="unknown" reason="user-set" reason_ttl="0"/>
<address addr="198.18.0.9" addrtype="ipv4"/>
<hostnames>
<hostname name="example.test" type="user"/>
</hostnames>
</host>
<runstats><finished time="1795256222" timestr="Sat Nov 21 10:17:02 2026" summary="Portolan done at Sat Nov 21 10:17:02 2026; 2 IP addresses (0 hosts up) scanned in 1.25 seconds" elapsed="1.25" exit="success"/><hosts up="0" down="2" total="2"/>
</runstats>
</nmaprun>
"#;
        assert!(text.ends_with(expected_tail), "{text}");
        assert!(text.contains(r#"args="portolan -sL -n -oA /tmp/disc 198.18.0.8/29""#));
        assert!(!text.contains("<scaninfo"));
    }

    #[test]
    fn a_discovery_run_writes_no_scaninfo_whatever_the_run_holds() {
        for kind in [RunKind::PingOnly, RunKind::List] {
            let run = RunInfo {
                kind,
                ..run_info(OutputOptions::default())
            };
            let text = whole_file(&run, &[], &summary());
            assert!(!text.contains("<scaninfo"), "{kind:?}: {text}");
            assert!(text.contains("\n<verbose level=\"0\"/>\n"));
        }
    }

    #[test]
    fn a_port_scanned_host_has_its_mac_after_the_ip_address() {
        let mut host = arp_host(Some("Example Networks"));
        host.ports = vec![mk_port(22, PortState::Closed, Reason::Reset)];
        host.ports[0].reason_ttl = Some(64);
        let text = render_host(&host, &run_info(OutputOptions::default())).unwrap();
        let expected = r#"<host starttime="1795256222" endtime="1795256222"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.11" addrtype="ipv4"/>
<address addr="02:00:C6:12:00:0B" addrtype="mac" vendor="Example Networks"/>
<hostnames>
</hostnames>
<ports><port protocol="tcp" portid="22"><state state="closed" reason="reset" reason_ttl="64"/><service name="unknown" method="table" conf="3"/></port>
</ports>
<times srtt="33" rttvar="5000" to="100000"/>
</host>
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn an_unknown_vendor_leaves_the_vendor_attribute_out_and_a_hostile_one_is_escaped() {
        let run = run_info(OutputOptions::default());
        let text = render_host(&arp_host(None), &run).unwrap();
        assert!(
            text.contains("\n<address addr=\"02:00:C6:12:00:0B\" addrtype=\"mac\"/>\n"),
            "{text}"
        );
        assert!(!text.contains("vendor"));
        let text = render_host(&arp_host(Some("A&B \"<x>\"\u{7}")), &run).unwrap();
        assert!(
            text.contains(r#"addrtype="mac" vendor="A&amp;B &quot;&lt;x&gt;&quot;"#),
            "{text}"
        );
        assert!(text.contains("\u{FFFD}\"/>"));
    }

    #[test]
    fn the_status_carries_the_ttl_of_the_reply_that_decided_it() {
        let mut host = arp_host(None);
        (host.status_reason, host.status_reason_ttl, host.mac) =
            (Reason::TimestampReply, Some(128), None);
        let text = render_host(&host, &run_info(OutputOptions::default())).unwrap();
        assert!(text.contains(r#"<status state="up" reason="timestamp-reply" reason_ttl="128"/>"#));
    }

    #[test]
    fn a_down_host_carries_no_times_even_when_some_were_kept() {
        let mut down = silent_host("198.18.0.8");
        down.times = reference_host().times;
        let run = run_info(OutputOptions {
            verbose: 1,
            ..OutputOptions::default()
        });
        let text = render_host(&down, &run).unwrap();
        assert!(!text.contains("<times"), "{text}");
    }

    #[test]
    fn whole_file_matches_the_nmap_reference_run() {
        let opts = OutputOptions {
            reason: true,
            ..OutputOptions::default()
        };
        let text = reference_file(opts, &[reference_host()], &summary());
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<!-- Portolan 0.1.0 scan initiated Sat Nov 21 10:17:02 2026 as: portolan -sT -Pn -n -p 1-100,8000 -&#45;reason -oA /tmp/ref 127.0.0.1 -->
<nmaprun scanner="portolan" args="portolan -sT -Pn -n -p 1-100,8000 --reason -oA /tmp/ref 127.0.0.1" start="1795256222" startstr="Sat Nov 21 10:17:02 2026" version="0.1.0" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="101" services="1-100,8000"/>
<verbose level="0"/>
<debugging level="0"/>
<host starttime="1795256222" endtime="1795256222"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><extraports state="closed" count="100">
<extrareasons reason="conn-refused" count="100" proto="tcp" ports="1-100"/>
</extraports>
<port protocol="tcp" portid="8000"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="http-alt" method="table" conf="3"/></port>
</ports>
<times srtt="368" rttvar="337" to="100000"/>
</host>
<runstats><finished time="1795256222" timestr="Sat Nov 21 10:17:02 2026" summary="Portolan done at Sat Nov 21 10:17:02 2026; 1 IP address (1 host up) scanned in 0.03 seconds" elapsed="0.03" exit="success"/><hosts up="1" down="0" total="1"/>
</runstats>
</nmaprun>
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn hostile_text_is_escaped_and_cleaned() {
        let mut host = reference_host();
        host.hostnames = vec![named("a\"<b>&\u{1}", HostnameKind::User)];
        let text = render_host(&host, &run_info(OutputOptions::default())).unwrap();
        assert!(
            text.contains(r#"<hostname name="a&quot;&lt;b&gt;&amp;"#),
            "{text}"
        );
        assert!(text.contains("\u{FFFD}\" type=\"user\"/>"));
        assert_eq!(comment_text("a---b----c"), "a-&#45;-b-&#45;-&#45;c");
    }

    #[test]
    fn interrupted_run_records_the_error() {
        let mut s = summary();
        s.error = Some("interrupted by user".to_owned());
        let text = reference_file(OutputOptions::default(), &[], &s);
        assert!(text.contains(r#"elapsed="0.03" exit="error" errormsg="interrupted by user"/>"#));
        assert!(text.ends_with("</runstats>\n</nmaprun>\n"));
    }

    #[test]
    fn timed_out_and_down_hosts() {
        let run = run_info(OutputOptions {
            verbose: 1,
            ..OutputOptions::default()
        });
        let mut late = reference_host();
        late.timed_out = true;
        let text = render_host(&late, &run).unwrap();
        assert!(text
            .starts_with(r#"<host starttime="1795256222" endtime="1795256222" timedout="true">"#));
        assert!(!text.contains("<ports>"));
        let mut down = host_with(vec![]);
        (down.status, down.status_reason, down.times) =
            (HostStatus::Down, Reason::NoResponse, None);
        assert_eq!(
            render_host(&down, &run).unwrap(),
            "<host><status state=\"down\" reason=\"no-response\" reason_ttl=\"0\"/>\n\
             <address addr=\"198.18.0.2\" addrtype=\"ipv4\"/>\n</host>\n"
        );
    }

    #[test]
    fn a_host_answering_every_port_has_open_extraports_and_a_synproxy_script() {
        let text = render_host(&proxied_host(), &run_info(OutputOptions::default())).unwrap();
        let expected = r#"<host starttime="1795256222" endtime="1795256222"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><extraports state="open" count="998">
<extrareasons reason="syn-ack" count="998" proto="tcp" ports="1-6,8,10-1000"/>
</extraports>
<port protocol="tcp" portid="7"><state state="closed" reason="reset" reason_ttl="0"/><service name="unknown" method="table" conf="3"/></port>
<port protocol="tcp" portid="9"><state state="closed" reason="reset" reason_ttl="0"/><service name="unknown" method="table" conf="3"/></port>
<port protocol="udp" portid="53"><state state="open" reason="udp-response" reason_ttl="0"/><service name="domain" method="table" conf="3"/></port>
</ports>
<hostscript><script id="synproxy" output="998 of 1000 scanned TCP ports answered SYN-ACK: a SYN proxy or tarpit answers for this host; open ports cannot be told apart."><elem key="answered">998</elem>
<elem key="scanned">1000</elem>
</script></hostscript>
<times srtt="368" rttvar="337" to="100000"/>
</host>
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn a_normal_host_with_many_open_ports_lists_them_without_a_script() {
        let mut host = proxied_host();
        host.answers_every_port = false;
        let text = render_host(&host, &run_info(OutputOptions::default())).unwrap();
        assert!(!text.contains("<extraports"));
        assert!(!text.contains("<hostscript>"));
        assert!(!text.contains("synproxy"));
        assert_eq!(text.matches("<port ").count(), 1001);
    }

    #[test]
    fn a_timed_out_flagged_host_writes_neither_ports_nor_script() {
        let mut host = proxied_host();
        host.timed_out = true;
        let text = render_host(&host, &run_info(OutputOptions::default())).unwrap();
        assert!(!text.contains("<ports>") && !text.contains("<hostscript>"));
    }

    #[test]
    fn ipv6_ttl_and_unknown_service() {
        let mut p = mk_port(22, PortState::Open, Reason::SynAck);
        p.reason_ttl = Some(64);
        let mut host = host_with(vec![p]);
        host.addr = "2001:db8::2".parse().unwrap();
        let text = render_host(&host, &run_info(OutputOptions::default())).unwrap();
        assert!(text.contains(r#"<address addr="2001:db8::2" addrtype="ipv6"/>"#));
        assert!(text.contains(
            r#"<state state="open" reason="syn-ack" reason_ttl="64"/><service name="unknown" method="table" conf="3"/>"#
        ));
    }

    /// The `<host>` of [`traced_host`] up to its `<ports>`.
    const TRACED_HOST_HEAD: &str = r#"<host starttime="1795256222" endtime="1795256222"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="198.18.1.14" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="https" method="table" conf="3"/></port>
</ports>
"#;

    const TRACED_HOST_TAIL: &str = r#"<times srtt="368" rttvar="337" to="100000"/>
</host>
"#;

    #[test]
    fn a_two_hop_trace_sits_between_ports_and_times() {
        let text = render_host(&traced_host(), &run_info(OutputOptions::default())).unwrap();
        let expected = format!(
            r#"{TRACED_HOST_HEAD}<trace port="443" proto="tcp">
<hop ttl="1" ipaddr="198.18.0.254" rtt="0.05"/>
<hop ttl="2" ipaddr="198.18.1.14" rtt="0.08"/>
</trace>
{TRACED_HOST_TAIL}"#
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn silent_hops_are_left_out_and_names_go_in_the_host_attribute() {
        let text = render_host(&silent_range_host(), &run_info(OutputOptions::default())).unwrap();
        let expected = format!(
            r#"{TRACED_HOST_HEAD}<trace port="443" proto="tcp">
<hop ttl="1" ipaddr="198.18.0.254" rtt="0.05"/>
<hop ttl="3" ipaddr="198.18.2.1" rtt="12.50" host="r3.example.test"/>
<hop ttl="7" ipaddr="198.18.1.14" rtt="13.08"/>
</trace>
{TRACED_HOST_TAIL}"#
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn icmp_and_on_link_traces_name_their_probe_as_nmap_does() {
        let run = run_info(OutputOptions::default());
        let mut host = traced_host();
        let trace = host.trace.as_mut().unwrap();
        (trace.proto, trace.port) = (Some(portolan_model::TraceProto::Icmp), None);
        trace.hops.truncate(1);
        trace.hops[0].rtt_us = None;
        let text = render_host(&host, &run).unwrap();
        assert!(
            text.contains("\n<trace proto=\"icmp\">\n<hop ttl=\"1\" ipaddr=\"198.18.0.254\" rtt=\"--\"/>\n</trace>\n"),
            "{text}"
        );
        host.addr = "2001:db8::14".parse().unwrap();
        assert!(render_host(&host, &run)
            .unwrap()
            .contains("\n<trace>\n<hop ttl=\"1\""));
        host.trace.as_mut().unwrap().proto = None;
        assert!(render_host(&host, &run)
            .unwrap()
            .contains("\n<trace>\n<hop "));
    }

    #[test]
    fn no_trace_element_for_an_empty_trace_a_timed_out_host_or_a_ping_scan_without_one() {
        let run = run_info(OutputOptions::default());
        let mut empty = traced_host();
        empty.trace.as_mut().unwrap().hops.clear();
        assert_eq!(
            render_host(&empty, &run).unwrap(),
            format!("{TRACED_HOST_HEAD}{TRACED_HOST_TAIL}")
        );
        let mut late = traced_host();
        late.timed_out = true;
        assert!(!render_host(&late, &run).unwrap().contains("<trace"));
        let ping = discovery_run(RunKind::PingOnly, OutputOptions::default());
        let text = render_host(&traced_host(), &ping).unwrap();
        assert!(
            text.ends_with("</hostnames>\n<trace port=\"443\" proto=\"tcp\">\n<hop ttl=\"1\" ipaddr=\"198.18.0.254\" rtt=\"0.05\"/>\n<hop ttl=\"2\" ipaddr=\"198.18.1.14\" rtt=\"0.08\"/>\n</trace>\n<times srtt=\"368\" rttvar=\"337\" to=\"100000\"/>\n</host>\n"),
            "{text}"
        );
    }

    #[test]
    fn servicefp_and_http_title_are_written_as_nmap_writes_them() {
        use portolan_model::{ServiceInfo, ServiceMethod};
        let mut odd = mk_port(554, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::table("rtsp");
        s.fingerprint = Some("SF-Port554-TCP:V=0.1.0%r(NULL,3,\"<\\\"&\");".into());
        odd.service = Some(s);
        let mut web = mk_port(80, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::named("http", ServiceMethod::Probed, 10);
        s.http_title = Some("Tom & \"Jerry\"".into());
        web.service = Some(s);
        let mut moved = mk_port(81, PortState::Open, Reason::SynAck);
        let mut s = ServiceInfo::named("http", ServiceMethod::Probed, 10);
        s.http_title = Some("Did not follow redirect to /login".into());
        moved.service = Some(s);
        let host = host_with(vec![odd, web, moved]);
        let text = render_host(&host, &run_info(OutputOptions::default())).unwrap();
        assert!(
            text.contains(r#"<service name="rtsp" servicefp="SF-Port554-TCP:V=0.1.0%r(NULL,3,&quot;&lt;\&quot;&amp;&quot;);" method="table" conf="3"/></port>"#),
            "{text}"
        );
        assert!(
            text.contains(r#"<service name="http" method="probed" conf="10"/><script id="http-title" output="Tom &amp; &quot;Jerry&quot;"><elem key="title">Tom &amp; &quot;Jerry&quot;</elem></script></port>"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"<script id="http-title" output="Did not follow redirect to /login"/></port>"#
            ),
            "{text}"
        );
    }

    #[test]
    fn a_hostile_hop_name_is_escaped() {
        let mut host = traced_host();
        host.trace.as_mut().unwrap().hops[0].host = Some("a\"<b>&\u{1}".to_owned());
        let text = render_host(&host, &run_info(OutputOptions::default())).unwrap();
        assert!(
            text.contains("rtt=\"0.05\" host=\"a&quot;&lt;b&gt;&amp;\u{FFFD}\"/>"),
            "{text}"
        );
    }
}
