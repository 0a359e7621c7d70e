//! Phrases shared by the human-readable formats.

use crate::view::AnswersEveryPort;
use portolan_model::{HostResult, HostnameKind, Reason, RunSummary};
use std::borrow::Cow;

/// `portolan` -> `Portolan`: how the program names itself in prose.
pub(crate) fn display_name(scanner: &str) -> String {
    let mut chars = scanner.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The name a report shows for a host: a user-given name first, else a PTR name.
pub(crate) fn primary_name(host: &HostResult) -> Option<&str> {
    let by_kind = |kind| host.hostnames.iter().find(|h| h.kind == kind);
    by_kind(HostnameKind::User)
        .or_else(|| by_kind(HostnameKind::Ptr))
        .map(|h| h.name.as_str())
}

/// `example.test (198.18.0.2)`, or just the address when the host has no name.
pub(crate) fn target_label(host: &HostResult) -> String {
    match primary_name(host) {
        Some(name) => format!("{} ({})", one_line(name), host.addr),
        None => host.addr.to_string(),
    }
}

/// `syn-ack`, or `syn-ack ttl 64` when the deciding packet's TTL is known.
pub(crate) fn reason_text(reason: Reason, ttl: Option<u8>) -> String {
    match ttl {
        Some(ttl) => format!("{reason} ttl {ttl}"),
        None => reason.to_string(),
    }
}

/// Why a host's open TCP ports are not listed: `All 1000 scanned TCP ports
/// on X answered SYN-ACK: ...`, or `998 of 1000 ...` when a few did not.
/// `on` names the host where the sentence stands outside the host's block.
pub(crate) fn answers_every_port_note(counts: AnswersEveryPort, on: Option<&str>) -> String {
    let ports = if counts.scanned == 1 { "port" } else { "ports" };
    let how_many = if counts.answered == counts.scanned {
        format!("All {} scanned TCP {ports}", counts.scanned)
    } else {
        format!(
            "{} of {} scanned TCP {ports}",
            counts.answered, counts.scanned
        )
    };
    let on = on.map(|label| format!(" on {label}")).unwrap_or_default();
    format!(
        "{how_many}{on} answered SYN-ACK: a SYN proxy or tarpit answers for this host; \
         open ports cannot be told apart."
    )
}

/// `1 IP address (1 host up) scanned in 0.03 seconds`.
pub(crate) fn done_sentence(summary: &RunSummary) -> String {
    let total = summary.hosts_total;
    let up = summary.hosts_up;
    format!(
        "{total} IP address{} ({up} host{} up) scanned in {} seconds",
        if total == 1 { "" } else { "es" },
        if up == 1 { "" } else { "s" },
        elapsed(summary.elapsed_secs),
    )
}

/// Seconds with two decimals; a negative or non-finite value reads as zero.
pub(crate) fn elapsed(secs: f64) -> String {
    let secs = if secs.is_finite() && secs > 0.0 {
        secs
    } else {
        0.0
    };
    format!("{secs:.2}")
}

/// A round-trip time in seconds with two significant digits: `0.00037s`, `0.11s`.
pub(crate) fn latency(srtt_us: u64) -> String {
    if srtt_us == 0 {
        return "0.00s".to_owned();
    }
    let secs = srtt_us as f64 / 1e6;
    let exponent = secs.log10().floor() as i32;
    let mut decimals = (1 - exponent).max(0);
    let scale = 10f64.powi(decimals);
    if (secs * scale).round() / scale >= 10f64.powi(exponent + 1) {
        decimals = (decimals - 1).max(0);
    }
    format!("{secs:.prec$}s", prec = decimals as usize)
}

/// Control characters (newlines included) become spaces, so a value cannot
/// break the line-oriented layout of the text formats.
pub(crate) fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{host_with, named};

    #[test]
    fn latency_keeps_two_significant_digits_like_nmap() {
        assert_eq!(latency(368), "0.00037s");
        assert_eq!(latency(192), "0.00019s");
        assert_eq!(latency(6), "0.0000060s");
        assert_eq!(latency(12), "0.000012s");
        assert_eq!(latency(110_000), "0.11s");
        assert_eq!(latency(1_234_567), "1.2s");
        assert_eq!(latency(12_345_678), "12s");
        assert_eq!(latency(996), "0.0010s");
        assert_eq!(latency(0), "0.00s");
        assert_eq!(latency(u64::MAX), format!("{:.0}s", u64::MAX as f64 / 1e6));
    }

    #[test]
    fn done_sentence_pluralises_each_count_on_its_own() {
        let mut s = crate::fixtures::summary();
        assert_eq!(
            done_sentence(&s),
            "1 IP address (1 host up) scanned in 0.03 seconds"
        );
        (s.hosts_total, s.hosts_up, s.elapsed_secs) = (256, 0, f64::NAN);
        assert_eq!(
            done_sentence(&s),
            "256 IP addresses (0 hosts up) scanned in 0.00 seconds"
        );
    }

    #[test]
    fn labels_prefer_the_user_name_and_flatten_control_characters() {
        let mut host = host_with(vec![]);
        assert_eq!(target_label(&host), "198.18.0.2");
        host.hostnames = vec![
            named("ptr.test", HostnameKind::Ptr),
            named("a\nb", HostnameKind::User),
        ];
        assert_eq!(target_label(&host), "a b (198.18.0.2)");
    }

    #[test]
    fn display_name_capitalises() {
        assert_eq!(display_name("portolan"), "Portolan");
        assert_eq!(display_name(""), "");
    }
}
