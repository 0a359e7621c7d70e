//! How a port's service reads in the human formats: the SERVICE and VERSION
//! columns, the `http-title` and `ssl-cert` lines under a port, the service
//! fingerprints of ports that answered but were not named, and the host's
//! `Service Info:` line, as Nmap prints them after `-sV`.

use crate::text::one_line;
use portolan_model::{PortResult, PortState, ServiceInfo, ServiceMethod, TlsInfo};

/// The SERVICE column: `ssl/http` for a service inside TLS; a name guessed
/// from the port table after version detection failed gets a `?` (Nmap's
/// `http?`), since version detection did try that port.
pub(crate) fn service_column(p: &PortResult, version_scan: bool) -> String {
    let Some(s) = &p.service else {
        return "unknown".to_owned();
    };
    let mut name = String::new();
    if s.tunnel.is_some() {
        name.push_str("ssl/");
    }
    name.push_str(&one_line(&s.name));
    if version_scan && s.method == ServiceMethod::Table && p.state == PortState::Open {
        name.push('?');
    }
    name
}

/// The VERSION column: product, version and `(extra info)`.
pub(crate) fn version_column(p: &PortResult) -> String {
    p.service
        .as_ref()
        .map(|s| one_line(&s.version_text()).into_owned())
        .unwrap_or_default()
}

/// The lines of Nmap's `ssl-cert` script for a TLS port, without the `| `
/// prefixes: subject, issuer, key, validity, digest, and the protocol and
/// cipher the handshake settled on.
pub(crate) fn tls_lines(tls: &TlsInfo) -> Vec<String> {
    let mut lines = Vec::new();
    let mut push = |label: &str, value: &Option<String>| {
        if let Some(v) = value {
            lines.push(format!("{label}{}", one_line(v)));
        }
    };
    push("Subject: ", &tls.subject);
    push("Issuer: ", &tls.issuer);
    push("Public Key: ", &tls.public_key);
    push("Not valid before: ", &tls.not_before);
    push("Not valid after:  ", &tls.not_after);
    push("SHA-256: ", &tls.sha256);
    let mut proto = format!("Protocol: {}", one_line(&tls.protocol));
    if let Some(c) = &tls.cipher {
        proto.push_str(&format!(", cipher {}", one_line(c)));
    }
    lines.push(proto);
    lines
}

/// The `ssl-cert` block as Nmap prints script output under a port:
/// `| ssl-cert: first`, `| next`, `|_last`.
pub(crate) fn tls_block(tls: &TlsInfo) -> String {
    let lines = tls_lines(tls);
    let last = lines.len().saturating_sub(1);
    let mut s = String::new();
    for (i, line) in lines.iter().enumerate() {
        let lead = if i == last { "|_" } else { "| " };
        let name = if i == 0 { "ssl-cert: " } else { "" };
        s.push_str(&format!("{lead}{name}{line}\n"));
    }
    s
}

/// The script lines under a port's row, in Nmap's order (by script name):
/// `|_http-title: ...`, then the `ssl-cert` block.
pub(crate) fn script_lines(service: &ServiceInfo) -> String {
    let mut s = String::new();
    if let Some(title) = &service.http_title {
        s.push_str(&format!("|_http-title: {}\n", one_line(title)));
    }
    if let Some(tls) = &service.tls {
        s.push_str(&tls_block(tls));
    }
    s
}

/// Whether an `http-title` text is a page's title rather than one of the
/// notes said in its place (no title, a redirect not followed).
pub(crate) fn is_real_title(text: &str) -> bool {
    !(text.starts_with("Site doesn't have a title")
        || text.starts_with("Did not follow redirect to "))
}

/// Width of a fingerprint line in normal output, `SF:` included, as Nmap
/// wraps them.
const FP_WIDTH: usize = 74;

/// A fingerprint as normal output shows it: lines of [`FP_WIDTH`]
/// characters, each after the first starting `SF:`; the closing `;` stays
/// on the last line (which may so be one longer).
pub(crate) fn fingerprint_lines(fp: &str) -> Vec<String> {
    let fp = one_line(fp);
    let (body, semi) = match fp.strip_suffix(';') {
        Some(body) => (body, ";"),
        None => (&*fp, ""),
    };
    let chars: Vec<char> = body.chars().collect();
    let first = chars.len().min(FP_WIDTH);
    let mut lines = vec![chars[..first].iter().collect::<String>()];
    for chunk in chars[first..].chunks(FP_WIDTH - 3) {
        lines.push(format!("SF:{}", chunk.iter().collect::<String>()));
    }
    if let Some(last) = lines.last_mut() {
        last.push_str(semi);
    }
    lines
}

/// After the port table, Nmap's block for the shown ports that answered but
/// were not named: how many, what to do with them, and each fingerprint
/// (under a `NEXT SERVICE FINGERPRINT` line when there are several).
/// Empty when there are none.
pub(crate) fn fingerprint_block(shown: &[&PortResult]) -> String {
    let fps: Vec<&str> = shown
        .iter()
        .filter_map(|p| p.service.as_ref()?.fingerprint.as_deref())
        .collect();
    let advice = "If you know the service/version, add a match line for it \
                  (Nmap's nmap-service-probes format) and pass the file with --versiondb-add:";
    let mut s = match fps.len() {
        0 => return String::new(),
        1 => format!("1 service unrecognized despite returning data. {advice}\n"),
        n => format!("{n} services unrecognized despite returning data. {advice}\n"),
    };
    for fp in &fps {
        if fps.len() > 1 {
            s.push_str(
                "==============NEXT SERVICE FINGERPRINT (SUBMIT INDIVIDUALLY)==============\n",
            );
        }
        for line in fingerprint_lines(fp) {
            s.push_str(&line);
            s.push('\n');
        }
    }
    s
}

/// `Service Info: Host: mail; OS: Linux; CPE: cpe:/o:linux:linux_kernel`,
/// gathered from every shown port's service, or an empty string. Only OS and
/// hardware CPEs appear here, as in Nmap.
pub(crate) fn service_info_line(shown: &[&PortResult]) -> String {
    let services: Vec<&ServiceInfo> = shown.iter().filter_map(|p| p.service.as_ref()).collect();
    let gather = |f: &dyn Fn(&ServiceInfo) -> Option<&String>| {
        let mut v: Vec<String> = Vec::new();
        for s in &services {
            if let Some(x) = f(s) {
                let x = one_line(x).into_owned();
                if !v.contains(&x) {
                    v.push(x);
                }
            }
        }
        v
    };
    let hosts = gather(&|s| s.hostname.as_ref());
    let oses = gather(&|s| s.ostype.as_ref());
    let devices = gather(&|s| s.devicetype.as_ref());
    let mut cpes: Vec<String> = Vec::new();
    for s in &services {
        for c in &s.cpe {
            if (c.starts_with("cpe:/o") || c.starts_with("cpe:/h")) && !cpes.contains(c) {
                cpes.push(one_line(c).into_owned());
            }
        }
    }
    let mut parts = Vec::new();
    for (one, many, v) in [
        ("Host", "Hosts", &hosts),
        ("OS", "OSs", &oses),
        ("Device", "Devices", &devices),
        ("CPE", "CPE", &cpes),
    ] {
        if !v.is_empty() {
            let label = if v.len() == 1 { one } else { many };
            parts.push(format!("{label}: {}", v.join(", ")));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("Service Info: {}\n", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portolan_model::{Protocol, Reason, Tunnel};

    fn probed(name: &str) -> ServiceInfo {
        ServiceInfo::named(name, ServiceMethod::Probed, 10)
    }

    fn port_with(service: ServiceInfo) -> PortResult {
        PortResult {
            protocol: Protocol::Tcp,
            port: 443,
            state: PortState::Open,
            reason: Reason::SynAck,
            reason_ttl: Some(64),
            service: Some(service),
        }
    }

    #[test]
    fn tunnel_prefixes_ssl_and_table_guesses_get_a_question_mark_after_sv() {
        let mut s = probed("http");
        s.tunnel = Some(Tunnel::Ssl);
        assert_eq!(service_column(&port_with(s), true), "ssl/http");
        let guess = port_with(ServiceInfo::table("https"));
        assert_eq!(service_column(&guess, true), "https?");
        assert_eq!(service_column(&guess, false), "https");
    }

    #[test]
    fn version_column_joins_product_version_and_info() {
        let mut s = probed("ssh");
        s.product = Some("OpenSSH".into());
        s.version = Some("9.2p1".into());
        s.extrainfo = Some("protocol 2.0".into());
        assert_eq!(
            version_column(&port_with(s)),
            "OpenSSH 9.2p1 (protocol 2.0)"
        );
        let mut only_info = probed("smtp");
        only_info.extrainfo = Some("x\ny".into());
        assert_eq!(version_column(&port_with(only_info)), "(x y)");
    }

    #[test]
    fn service_info_gathers_distinct_hosts_oses_and_os_cpes_only() {
        let mut a = probed("ssh");
        a.ostype = Some("Linux".into());
        a.cpe = vec![
            "cpe:/a:openbsd:openssh:9.2p1".into(),
            "cpe:/o:linux:linux_kernel".into(),
        ];
        let mut b = probed("smtp");
        b.hostname = Some("mail.lab".into());
        b.ostype = Some("Linux".into());
        b.cpe = vec!["cpe:/o:linux:linux_kernel".into()];
        let (pa, pb) = (port_with(a), port_with(b));
        assert_eq!(
            service_info_line(&[&pa, &pb]),
            "Service Info: Host: mail.lab; OS: Linux; CPE: cpe:/o:linux:linux_kernel\n"
        );
        let none = port_with(probed("http"));
        assert_eq!(service_info_line(&[&none]), "");
    }

    #[test]
    fn fingerprints_wrap_at_74_columns_with_sf_prefixes() {
        let fp = format!("SF-Port9-TCP:V=0.1.0%r(NULL,C8,\"{}\");", "a".repeat(200));
        let lines = fingerprint_lines(&fp);
        let unwrapped: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 0 { &l[..] } else { &l[3..] })
            .collect();
        assert_eq!(unwrapped, fp);
        assert_eq!(lines[0].len(), 74);
        assert!(lines[0].starts_with("SF-Port9-TCP:"));
        for l in &lines[1..] {
            assert!(l.starts_with("SF:"), "{l}");
        }
        for l in &lines[..lines.len() - 1] {
            assert_eq!(l.len(), 74, "{l}");
        }
        assert!(lines.iter().all(|l| l.len() <= 80));
        assert!(lines.last().unwrap().ends_with("\");"));
        // The `;` is never wrapped on its own.
        let exact = format!("{};", "x".repeat(74 + 71));
        let lines = fingerprint_lines(&exact);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].len(), 75);
        assert_eq!(fingerprint_lines("short;"), ["short;"]);
    }

    #[test]
    fn one_unrecognized_service_has_no_next_line_several_do() {
        let mut a = ServiceInfo::table("rtsp");
        a.fingerprint = Some("SF-Port554-TCP:V=0.1.0%r(NULL,1,\"x\");".into());
        let mut b = probed("http");
        b.fingerprint = Some("SF-Port81-TCP:V=0.1.0%r(GetRequest,1,\"y\");".into());
        let (pa, pb, pc) = (port_with(a), port_with(b), port_with(probed("ssh")));
        assert_eq!(
            fingerprint_block(&[&pa, &pc]),
            "1 service unrecognized despite returning data. If you know the service/version, \
             add a match line for it (Nmap's nmap-service-probes format) and pass the file \
             with --versiondb-add:\nSF-Port554-TCP:V=0.1.0%r(NULL,1,\"x\");\n"
        );
        let both = fingerprint_block(&[&pa, &pb, &pc]);
        assert!(both.starts_with("2 services unrecognized despite returning data. "));
        assert_eq!(
            both.matches(
                "\n==============NEXT SERVICE FINGERPRINT (SUBMIT INDIVIDUALLY)==============\nSF-Port"
            )
            .count(),
            2
        );
        assert_eq!(fingerprint_block(&[&pc]), "");
    }

    #[test]
    fn script_lines_put_http_title_before_ssl_cert_and_notes_are_told_apart() {
        let mut s = probed("http");
        s.http_title = Some("Tab\there\nand there".into());
        assert_eq!(script_lines(&s), "|_http-title: Tab here and there\n");
        s.tls = Some(TlsInfo {
            protocol: "TLSv1.3".into(),
            cipher: None,
            subject: None,
            issuer: None,
            not_before: None,
            not_after: None,
            public_key: None,
            sha256: None,
        });
        assert_eq!(
            script_lines(&s),
            "|_http-title: Tab here and there\n|_ssl-cert: Protocol: TLSv1.3\n"
        );
        assert!(is_real_title("Welcome to nginx!"));
        assert!(!is_real_title("Site doesn't have a title (text/html)."));
        assert!(!is_real_title("Site doesn't have a title."));
        assert!(!is_real_title("Did not follow redirect to https://x.test/"));
    }

    #[test]
    fn tls_block_ends_with_the_script_closer() {
        let tls = TlsInfo {
            protocol: "TLSv1.0".into(),
            cipher: Some("ECDHE-RSA-AES256-SHA".into()),
            subject: Some("commonName=s1".into()),
            issuer: Some("commonName=s1".into()),
            not_before: Some("2026-11-21T00:00:00".into()),
            not_after: Some("2027-11-21T00:00:00".into()),
            public_key: Some("rsaEncryption 2048".into()),
            sha256: None,
        };
        let block = tls_block(&tls);
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines[0], "| ssl-cert: Subject: commonName=s1");
        assert_eq!(
            *lines.last().unwrap_or(&""),
            "|_Protocol: TLSv1.0, cipher ECDHE-RSA-AES256-SHA"
        );
        assert_eq!(lines.len(), 6);
    }
}
