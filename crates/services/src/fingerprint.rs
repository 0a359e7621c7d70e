//! Service fingerprints: what a port that answered but matched nothing said,
//! written in Nmap's `SF-Port` format so that a user can turn it into a match
//! line (and paste it where Nmap users paste theirs).
//!
//! ```text
//! SF-Port554-TCP:V=0.1.0%I=7%D=11/21%Time=6B016F9E%P=x86_64-unknown-linux-gnu%r(NULL,5,"hi\r\n\0");
//! ```
//!
//! `%T=SSL` follows the version when the answers came through TLS. Each
//! `%r(probe,length,"answer")` holds at most [`RESPONSE_MAX`] bytes of the
//! answer (the length, in hex, is that of what is shown), escaped so that it
//! reads as the body of a match pattern: letters and digits as they are, the
//! regex metacharacters `\ ? " [ ] ( ) . * + $ ^ |` after a backslash, other
//! ASCII punctuation as it is, `\r \n \t`, `\0` (`\x00` before a digit), and
//! every other byte as `\xHH`. Answers stop being added once the fingerprint
//! is [`SOFT_LIMIT`] characters long, so it never exceeds [`MAX_LEN`]. The
//! result is always printable ASCII without spaces, whatever the bytes.
//!
//! Pure: the caller passes the time, the version and the platform.

use portolan_model::Protocol;

/// Bytes of one answer shown in a fingerprint.
pub const RESPONSE_MAX: usize = 900;

/// Once the fingerprint is this long, no further answer is added.
pub const SOFT_LIMIT: usize = 2200;

/// Longest text kept of the scanner version, the platform and a probe name.
const FIELD_MAX: usize = 64;

/// An upper bound on the length of any fingerprint: the soft limit, plus one
/// more answer with every byte escaped as `\xHH` and its `%r(...)` framing,
/// plus the closing `;`.
pub const MAX_LEN: usize = SOFT_LIMIT + RESPONSE_MAX * 4 + FIELD_MAX + 16;

/// What the fingerprint's header says about the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FingerprintMeta<'a> {
    pub port: u16,
    pub proto: Protocol,
    /// The answers came through TLS (`%T=SSL`).
    pub tls: bool,
    /// The scanner's version (`V=`).
    pub version: &'a str,
    /// `--version-intensity` (`%I=`).
    pub intensity: u8,
    /// When the port was probed, seconds since the Unix epoch (`%Time=`, and
    /// `%D=` as the UTC month and day).
    pub unix_time: u64,
    /// The platform triple (`%P=`), e.g. `x86_64-unknown-linux-gnu`.
    pub platform: &'a str,
}

/// The fingerprint for `responses` (probe name, answer), in the order they
/// arrived; empty answers are left out. `None` when no answer had a byte.
pub fn service_fingerprint<'r>(
    meta: &FingerprintMeta<'_>,
    responses: impl IntoIterator<Item = (&'r str, &'r [u8])>,
) -> Option<String> {
    let mut fp = header(meta);
    let mut any = false;
    for (probe, data) in responses {
        if data.is_empty() {
            continue;
        }
        if fp.len() > SOFT_LIMIT {
            break;
        }
        push_response(&mut fp, probe, data);
        any = true;
    }
    if !any {
        return None;
    }
    fp.push(';');
    Some(fp)
}

fn header(meta: &FingerprintMeta<'_>) -> String {
    let proto = match meta.proto {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    };
    let tls = if meta.tls { "%T=SSL" } else { "" };
    let (month, day) = month_day(meta.unix_time);
    format!(
        "SF-Port{}-{proto}:V={}{tls}%I={}%D={month}/{day}%Time={:X}%P={}",
        meta.port,
        field(meta.version),
        meta.intensity,
        meta.unix_time,
        field(meta.platform),
    )
}

fn push_response(fp: &mut String, probe: &str, data: &[u8]) {
    let shown = &data[..data.len().min(RESPONSE_MAX)];
    fp.push_str(&format!("%r({},{:X},\"", field(probe), shown.len()));
    escape_into(fp, shown);
    fp.push_str("\")");
}

/// A header field or probe name as safe text: printable ASCII other than the
/// fingerprint's own delimiters, at most [`FIELD_MAX`] characters.
fn field(s: &str) -> String {
    s.chars()
        .take(FIELD_MAX)
        .map(|c| match c {
            '%' | ',' | '(' | ')' | '"' | '\\' | ';' => '_',
            c if c.is_ascii_graphic() => c,
            _ => '_',
        })
        .collect()
}

/// Appends `data` escaped as the module documentation describes.
pub fn escape_into(out: &mut String, data: &[u8]) {
    for (i, &b) in data.iter().enumerate() {
        match b {
            0 if data.get(i + 1).is_some_and(u8::is_ascii_digit) => out.push_str("\\x00"),
            0 => out.push_str("\\0"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' | b'?' | b'"' | b'[' | b']' | b'(' | b')' | b'.' | b'*' | b'+' | b'$' | b'^'
            | b'|' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b if b.is_ascii_alphanumeric() || b.is_ascii_punctuation() => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
}

/// Month (1-12) and day of month of a Unix time, in UTC.
fn month_day(unix_time: u64) -> (u32, u32) {
    // Days since 0000-03-01 in the proleptic Gregorian calendar, so that the
    // leap day ends a year; 719_468 days separate it from 1970-01-01.
    let days = unix_time / 86_400 + 719_468;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    // Both are small by construction (1..=12, 1..=31).
    (month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn meta(tls: bool) -> FingerprintMeta<'static> {
        FingerprintMeta {
            port: 554,
            proto: Protocol::Tcp,
            tls,
            version: "0.1.0",
            intensity: 7,
            // Sat Nov 21 10:17:02 2026 UTC.
            unix_time: 1_795_256_222,
            platform: "x86_64-unknown-linux-gnu",
        }
    }

    #[test]
    fn a_small_answer_gives_the_exact_nmap_layout() {
        let banner: &[u8] = b"Hi \"you\"\\ 1.2\r\n\t\0\x007\xff{ok}";
        let fp = service_fingerprint(
            &meta(false),
            [("NULL", banner), ("GetRequest", &b""[..]), ("Help", b"?")],
        )
        .unwrap();
        assert_eq!(
            fp,
            "SF-Port554-TCP:V=0.1.0%I=7%D=11/21%Time=6B016F9E%P=x86_64-unknown-linux-gnu\
             %r(NULL,18,\"Hi\\x20\\\"you\\\"\\\\\\x201\\.2\\r\\n\\t\\0\\x007\\xff{ok}\")\
             %r(Help,1,\"\\?\");"
        );
    }

    #[test]
    fn tls_answers_are_flagged_after_the_version_and_udp_is_named() {
        let mut m = meta(true);
        m.proto = Protocol::Udp;
        m.port = 9;
        let fp = service_fingerprint(&m, [("Status", &b"x"[..])]).unwrap();
        assert!(
            fp.starts_with("SF-Port9-UDP:V=0.1.0%T=SSL%I=7%D=11/21%Time="),
            "{fp}"
        );
    }

    #[test]
    fn no_answer_with_data_gives_no_fingerprint() {
        assert_eq!(service_fingerprint(&meta(false), []), None);
        assert_eq!(
            service_fingerprint(&meta(false), [("NULL", &b""[..])]),
            None
        );
    }

    #[test]
    fn dates_follow_the_calendar() {
        assert_eq!(month_day(0), (1, 1));
        assert_eq!(month_day(951_782_400), (2, 29)); // 2000-02-29
        assert_eq!(month_day(951_868_800), (3, 1));
        assert_eq!(month_day(1_704_067_199), (12, 31)); // 2023-12-31T23:59:59
        assert_eq!(month_day(1_795_256_222), (11, 21));
    }

    #[test]
    fn a_mebibyte_answer_is_cut_and_the_whole_is_capped() {
        let big = vec![0xABu8; 1 << 20];
        let fp = service_fingerprint(&meta(false), [("NULL", &big[..])]).unwrap();
        assert!(fp.contains("%r(NULL,384,\""), "{}", &fp[..120]);
        assert_eq!(fp.matches("\\xab").count(), RESPONSE_MAX);
        let many: Vec<(&str, &[u8])> = (0..50).map(|_| ("GetRequest", &big[..])).collect();
        let fp = service_fingerprint(&meta(false), many).unwrap();
        assert!(fp.len() <= MAX_LEN, "{}", fp.len());
        assert_eq!(fp.matches("%r(").count(), 1, "one answer fills it");
        let small: Vec<(&str, &[u8])> = (0..50).map(|_| ("P", &b"abc"[..])).collect();
        let fp = service_fingerprint(&meta(false), small).unwrap();
        assert_eq!(fp.matches("%r(P,3,\"abc\")").count(), 50);
    }

    #[test]
    fn hostile_header_fields_cannot_break_the_format() {
        let m = FingerprintMeta {
            version: "1%r(x,\"é\n",
            platform: &"p".repeat(1000),
            ..meta(false)
        };
        let fp = service_fingerprint(&m, [("Na(m)e,\"%\u{7f}", &b"a"[..])]).unwrap();
        assert!(fp.contains("V=1_r_x___"), "{fp}");
        assert!(fp.contains(&format!("%P={}%r(Na_m_e____,1,\"a\");", "p".repeat(64))));
    }

    proptest! {
        #[test]
        fn any_bytes_give_bounded_printable_ascii(
            answers in proptest::collection::vec(
                ("[A-Za-z]{1,12}", proptest::collection::vec(any::<u8>(), 0..2000)),
                0..8,
            ),
            time in any::<u64>(),
            port in any::<u16>(),
        ) {
            let m = FingerprintMeta { unix_time: time, port, ..meta(false) };
            let fp = service_fingerprint(
                &m,
                answers.iter().map(|(n, d)| (n.as_str(), d.as_slice())),
            );
            prop_assert_eq!(fp.is_some(), answers.iter().any(|(_, d)| !d.is_empty()));
            if let Some(fp) = fp {
                prop_assert!(fp.len() <= MAX_LEN);
                prop_assert!(fp.bytes().all(|b| b.is_ascii_graphic()), "{}", fp);
                prop_assert!(fp.ends_with("\");"));
            }
        }

        #[test]
        fn escaping_round_trips(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut s = String::new();
            escape_into(&mut s, &data);
            prop_assert_eq!(unescape(&s), data);
        }
    }

    /// Reads the escapes back, as a match pattern's literal would.
    fn unescape(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'\\' {
                out.push(b[i]);
                i += 1;
                continue;
            }
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'x' => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 2;
        }
        out
    }
}
