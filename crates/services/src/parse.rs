//! The line parser for the `nmap-service-probes` grammar.
//!
//! One directive per line; blank lines and lines starting with `#` are skipped. The end
//! delimiter of a probe string, a pattern or a version field is the next occurrence of
//! the opening delimiter (there is no escaping it: authors pick a delimiter the text does
//! not contain).

use crate::db::{MatchLine, Probe, ProbeDb};
use crate::error::{DbError, DbWarning};
use crate::perl_regex;
use crate::ports;
use crate::template::Template;
use portolan_model::Protocol;
use std::collections::HashMap;
use std::time::Duration;

pub(crate) fn parse(text: &str) -> Result<(ProbeDb, Vec<DbWarning>), DbError> {
    let mut p = Parser::default();
    for (i, raw) in text.lines().enumerate() {
        p.line(i + 1, raw.trim())?;
    }
    let mut db = p.db;
    for (probe, name) in db.resolve_chains() {
        let line = p.fallback_lines.get(&probe).copied().unwrap_or(0);
        p.warnings.push(DbWarning {
            line,
            message: format!("fallback `{name}` names no probe of that protocol; ignored"),
        });
    }
    Ok((db, p.warnings))
}

#[derive(Default)]
struct Parser {
    db: ProbeDb,
    warnings: Vec<DbWarning>,
    fallback_lines: HashMap<usize, usize>,
}

fn syntax(line: usize, directive: &str, what: impl Into<String>) -> DbError {
    DbError::Syntax {
        line,
        directive: directive.to_owned(),
        what: what.into(),
    }
}

/// Splits off the first whitespace-delimited word.
fn word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    (&text[..end], text[end..].trim_start())
}

/// At `<lead><delim>body<delim>rest`: returns (body, rest).
fn delimited(text: &str, lead: char) -> Option<(&str, &str)> {
    let mut chars = text.strip_prefix(lead)?.chars();
    let delim = chars.next().filter(|d| !d.is_whitespace())?;
    let body = chars.as_str();
    let end = body.find(delim)?;
    Some((&body[..end], &body[end + delim.len_utf8()..]))
}

impl Parser {
    fn line(&mut self, n: usize, line: &str) -> Result<(), DbError> {
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let (directive, rest) = word(line);
        match directive {
            "Exclude" => self.exclude(n, rest),
            "Probe" => self.probe(n, rest),
            "match" | "softmatch" => self.match_line(n, directive, rest),
            "ports" | "sslports" => self.ports(n, directive, rest),
            "totalwaitms" | "tcpwrappedms" => self.wait(n, directive, rest),
            "rarity" => self.rarity(n, rest),
            "fallback" => self.fallback(n, rest),
            _ => {
                self.warn(n, format!("unknown directive `{directive}` ignored"));
                Ok(())
            }
        }
    }

    fn warn(&mut self, line: usize, message: String) {
        self.warnings.push(DbWarning { line, message });
    }

    fn current(&mut self, n: usize, directive: &str) -> Result<&mut Probe, DbError> {
        self.db
            .probes
            .last_mut()
            .ok_or_else(|| DbError::OutsideProbe {
                line: n,
                directive: directive.to_owned(),
            })
    }

    fn exclude(&mut self, n: usize, rest: &str) -> Result<(), DbError> {
        if rest.is_empty() {
            return Err(syntax(n, "Exclude", "missing port list"));
        }
        let (tcp, udp) =
            ports::parse_exclude(rest).map_err(|token| DbError::BadPorts { line: n, token })?;
        self.db.exclude_tcp.extend(&tcp);
        self.db.exclude_udp.extend(&udp);
        Ok(())
    }

    fn probe(&mut self, n: usize, rest: &str) -> Result<(), DbError> {
        let (proto, rest) = word(rest);
        let proto = match proto {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "" => return Err(syntax(n, "Probe", "missing protocol")),
            other => {
                return Err(syntax(
                    n,
                    "Probe",
                    format!("protocol `{other}` is not TCP or UDP"),
                ))
            }
        };
        let (name, rest) = word(rest);
        if name.is_empty() {
            return Err(syntax(n, "Probe", "missing probe name"));
        }
        let Some((body, tail)) = delimited(rest, 'q') else {
            return Err(syntax(
                n,
                "Probe",
                format!("probe string `{rest}` is not q<delim>...<delim>"),
            ));
        };
        if self.db.find(proto, name).is_some() {
            return Err(DbError::DuplicateProbe {
                line: n,
                proto: proto.to_string(),
                name: name.to_owned(),
            });
        }
        let mut probe = Probe::new(proto, name.to_owned(), unescape(n, body)?);
        for token in tail.split_whitespace() {
            if token == "no-payload" {
                probe.no_payload = true;
            } else {
                self.warn(
                    n,
                    format!("unexpected `{token}` after probe string ignored"),
                );
            }
        }
        self.db.probes.push(probe);
        Ok(())
    }

    fn match_line(&mut self, n: usize, directive: &str, rest: &str) -> Result<(), DbError> {
        self.current(n, directive)?;
        let (service, rest) = word(rest);
        if service.is_empty() {
            return Err(syntax(n, directive, "missing service name"));
        }
        if rest.is_empty() {
            return Err(syntax(
                n,
                directive,
                format!("missing pattern after `{service}`"),
            ));
        }
        let Some((pattern, tail)) = delimited(rest, 'm') else {
            return Err(syntax(
                n,
                directive,
                format!("pattern `{rest}` is not m<delim>...<delim>"),
            ));
        };
        let flags_end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let (flags, info) = tail.split_at(flags_end);
        let (mut caseless, mut dot_all) = (false, false);
        for flag in flags.chars() {
            match flag {
                'i' => caseless = true,
                's' => dot_all = true,
                _ => {
                    return Err(syntax(
                        n,
                        directive,
                        format!("unknown pattern option `{flag}`"),
                    ))
                }
            }
        }
        let (template, problem) = Template::parse(info);
        if let Some(problem) = problem {
            self.warn(n, format!("{problem}; rest of the version info ignored"));
        }
        let regex = match perl_regex::compile(pattern, caseless, dot_all) {
            Ok(regex) => regex,
            Err(e) => {
                self.warn(n, format!("{directive} {service}: pattern skipped: {e}"));
                return Ok(());
            }
        };
        let line = MatchLine {
            service: service.to_owned(),
            soft: directive == "softmatch",
            regex,
            template,
            line: n,
        };
        self.current(n, directive)?.matches.push(line);
        Ok(())
    }

    fn ports(&mut self, n: usize, directive: &str, rest: &str) -> Result<(), DbError> {
        let probe = self.current(n, directive)?;
        if rest.is_empty() {
            return Err(syntax(n, directive, "missing port list"));
        }
        let set = ports::parse_list(rest).map_err(|token| DbError::BadPorts { line: n, token })?;
        let target = if directive == "ports" {
            &mut probe.ports
        } else {
            &mut probe.sslports
        };
        target.extend(&set);
        Ok(())
    }

    fn wait(&mut self, n: usize, directive: &str, rest: &str) -> Result<(), DbError> {
        let probe = self.current(n, directive)?;
        let ms: u32 = parse_number(rest).ok_or_else(|| DbError::BadNumber {
            line: n,
            directive: directive.to_owned(),
            value: rest.to_owned(),
        })?;
        let wait = Duration::from_millis(u64::from(ms));
        if directive == "totalwaitms" {
            probe.total_wait = wait;
        } else {
            probe.tcpwrapped = wait;
        }
        Ok(())
    }

    fn rarity(&mut self, n: usize, rest: &str) -> Result<(), DbError> {
        let probe = self.current(n, "rarity")?;
        match parse_number::<u8>(rest) {
            Some(r @ 1..=9) => {
                probe.rarity = r;
                Ok(())
            }
            _ => Err(DbError::BadNumber {
                line: n,
                directive: "rarity".into(),
                value: rest.to_owned(),
            }),
        }
    }

    fn fallback(&mut self, n: usize, rest: &str) -> Result<(), DbError> {
        let probe = self.current(n, "fallback")?;
        let names: Vec<String> = rest
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if names.is_empty() {
            return Err(syntax(n, "fallback", "missing probe names"));
        }
        probe.fallback.extend(names);
        let index = self.db.probes.len() - 1;
        self.fallback_lines.insert(index, n);
        Ok(())
    }
}

fn parse_number<T: std::str::FromStr>(text: &str) -> Option<T> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Decodes a probe string: `\\ \0 \a \b \f \n \r \t \v \xHH`, and a backslash before
/// other punctuation stands for that character. Other text is sent as its UTF-8 bytes.
pub(crate) fn unescape(n: usize, text: &str) -> Result<Vec<u8>, DbError> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    let bad = |escape: String| DbError::BadEscape { line: n, escape };
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or_else(|| bad("\\".into()))?;
        let byte = match e {
            '0' => 0,
            'a' => 0x07,
            'b' => 0x08,
            'f' => 0x0c,
            'n' => b'\n',
            'r' => b'\r',
            't' => b'\t',
            'v' => 0x0b,
            'x' => {
                let hex: String = chars.clone().take(2).collect();
                let value = (hex.len() == 2)
                    .then(|| u8::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| bad(format!("\\x{hex}")))?;
                chars.nth(1);
                value
            }
            c if c.is_ascii_punctuation() => c as u8,
            c => return Err(bad(format!("\\{c}"))),
        };
        out.push(byte);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db::{DEFAULT_RARITY, DEFAULT_TCPWRAPPED, DEFAULT_TOTAL_WAIT};

    const ALL: &str = r#"# comment, then a blank line

Exclude 53,T:9100-9102,U:30000
Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 2000
match ftp m/^220 Acme ([\d.]+)\r\n/ p/Acme ftpd/ v/$1/
softmatch ftp m|^220 .*ftp|i
Probe TCP Get q!GET / HTTP/1.0\r\n\r\n!
rarity 3
ports 80,8000-8010
sslports 443
fallback NULL,Get
match http m=^HTTP/1\.. 200=si
Probe UDP Status q|\0\x10| no-payload
ports 161
"#;

    fn err(text: &str) -> DbError {
        parse(text).unwrap_err()
    }

    #[test]
    fn every_directive_lands_where_it_belongs() {
        let (db, warnings) = parse(ALL).unwrap();
        assert_eq!(warnings, vec![]);
        assert_eq!(db.len(), 3);
        assert_eq!(db.match_count(), 3);
        assert!(db.excluded(Protocol::Tcp, 53) && db.excluded(Protocol::Udp, 53));
        assert!(db.excluded(Protocol::Tcp, 9101) && !db.excluded(Protocol::Udp, 9101));
        assert!(db.excluded(Protocol::Udp, 30000) && !db.excluded(Protocol::Tcp, 30000));

        let null = db.probe(db.find(Protocol::Tcp, "NULL").unwrap());
        assert!(null.payload.is_empty() && null.is_null());
        assert_eq!(null.total_wait, Duration::from_millis(6000));
        assert_eq!(null.tcpwrapped, Duration::from_millis(2000));
        assert_eq!(null.rarity, DEFAULT_RARITY);
        let kinds: Vec<_> = null
            .matches()
            .iter()
            .map(|m| (m.service(), m.is_soft(), m.line()))
            .collect();
        assert_eq!(kinds, vec![("ftp", false, 7), ("ftp", true, 8)]);

        let get = db.probe(db.find(Protocol::Tcp, "Get").unwrap());
        assert_eq!(get.payload, b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(get.rarity, 3);
        assert_eq!(get.total_wait, DEFAULT_TOTAL_WAIT);
        assert_eq!(get.tcpwrapped, DEFAULT_TCPWRAPPED);
        assert!(get.ports.contains(8005) && !get.ports.contains(443));
        assert!(get.sslports.contains(443) && !get.sslports.contains(80));
        assert_eq!(get.fallback(), ["NULL", "Get"]);
        assert!(!get.no_payload);

        let status = db.probe(db.find(Protocol::Udp, "Status").unwrap());
        assert_eq!(status.payload, b"\0\x10");
        assert!(status.no_payload && !status.is_null());
        assert!(status.ports.contains(161));
    }

    #[test]
    fn pattern_flags_apply() {
        let (db, _) = parse(ALL).unwrap();
        let get = db.find(Protocol::Tcp, "Get").unwrap();
        // `s` lets `.` take the \n, `i` the lower-case "http".
        let m = db.match_response(get, b"http/1.\n 200", None).unwrap();
        assert_eq!(m.service, "http");
        let null = db.find(Protocol::Tcp, "NULL").unwrap();
        let m = db.match_response(null, b"220 Acme 1.2\r\n", None).unwrap();
        assert_eq!((m.soft, m.version.as_deref()), (false, Some("1.2")));
        let m = db.match_response(null, b"220 my FTP server", None).unwrap();
        assert!(m.soft);
    }

    #[test]
    fn probe_string_escapes_and_delimiters() {
        let text = r#"Probe TCP A q|\\\0\a\b\f\n\r\t\v\x41\xfF|
Probe TCP B q#a|b#
Probe TCP C q/caf\u{e9}\"/"#;
        let text = text.replace("\\u{e9}", "\u{e9}");
        let (db, _) = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let a = db.probe(db.find(Protocol::Tcp, "A").unwrap());
        assert_eq!(a.payload, b"\\\0\x07\x08\x0c\n\r\t\x0bA\xff");
        let b = db.probe(db.find(Protocol::Tcp, "B").unwrap());
        assert_eq!(b.payload, b"a|b");
        let c = db.probe(db.find(Protocol::Tcp, "C").unwrap());
        assert_eq!(c.payload, "caf\u{e9}\"".as_bytes());
    }

    #[test]
    fn bad_escapes_are_errors_naming_the_escape() {
        for (payload, escape) in [
            (r"\q", r"\q"),
            (r"\x4", r"\x4"),
            (r"\xZZ", r"\xZZ"),
            ("a\\", "\\"),
        ] {
            let text = format!("# x\nProbe TCP A q|{payload}|");
            assert_eq!(
                err(&text),
                DbError::BadEscape {
                    line: 2,
                    escape: escape.into()
                },
                "{payload}"
            );
        }
    }

    #[test]
    fn structural_errors_carry_line_and_culprit() {
        let e = err("# head\n\nmatch ftp m/^220/\n");
        assert_eq!(
            e,
            DbError::OutsideProbe {
                line: 3,
                directive: "match".into()
            }
        );
        for directive in [
            "softmatch ftp m/x/",
            "ports 80",
            "sslports 443",
            "rarity 2",
            "totalwaitms 5",
            "tcpwrappedms 5",
            "fallback NULL",
        ] {
            assert!(
                matches!(err(directive), DbError::OutsideProbe { line: 1, .. }),
                "{directive}"
            );
        }

        let e = err("Probe SCTP X q||");
        assert_eq!(e.line(), 1);
        assert!(e.to_string().contains("`SCTP`"), "{e}");
        assert!(err("Probe TCP").to_string().contains("missing probe name"));
        assert!(err("Probe TCP X |abc|").to_string().contains("|abc|"));
        assert!(err("Probe TCP X q|abc").to_string().contains("q|abc"));

        let pre = "Probe TCP X q||\n";
        let e = err(&format!("{pre}match http m|^HTTP"));
        assert!(
            matches!(&e, DbError::Syntax { line: 2, directive, .. } if directive == "match"),
            "{e}"
        );
        let e = err(&format!("{pre}match http m/x/g p/y/"));
        assert!(e.to_string().contains("option `g`"), "{e}");
        assert!(err(&format!("{pre}match m/x/"))
            .to_string()
            .contains("m/x/"));
        assert!(err(&format!("{pre}softmatch"))
            .to_string()
            .contains("missing service"));

        for bad in ["0", "10", "x", ""] {
            assert_eq!(
                err(&format!("{pre}rarity {bad}")),
                DbError::BadNumber {
                    line: 2,
                    directive: "rarity".into(),
                    value: bad.into()
                }
            );
        }
        assert!(matches!(
            err(&format!("{pre}totalwaitms -1")),
            DbError::BadNumber { line: 2, .. }
        ));
        assert!(matches!(
            err(&format!("{pre}tcpwrappedms 99999999999")),
            DbError::BadNumber { .. }
        ));
        assert_eq!(
            err(&format!("{pre}ports 80,eighty")),
            DbError::BadPorts {
                line: 2,
                token: "eighty".into()
            }
        );
        assert_eq!(
            err("Exclude T:1,Q:2"),
            DbError::BadPorts {
                line: 1,
                token: "Q:2".into()
            }
        );
        assert!(matches!(err("Exclude"), DbError::Syntax { line: 1, .. }));
        assert!(matches!(
            err(&format!("{pre}fallback ,")),
            DbError::Syntax { line: 2, .. }
        ));
        assert_eq!(
            err(&format!("{pre}Probe UDP X q||\nProbe TCP X q|a|")),
            DbError::DuplicateProbe {
                line: 3,
                proto: "tcp".into(),
                name: "X".into()
            }
        );
    }

    #[test]
    fn one_line_problems_are_warnings() {
        let text = "Probe TCP X q||
match ok m/^ok/
Frobnicate 12
match back m/(a)\\1/ p/never/
softmatch look m/^a(?=b)/
match half m/^half/ p/Half/ v$1/
fallback Nowhere
Probe TCP Y q|y| trailing";
        let (db, w) = parse(text).unwrap();
        let lines: Vec<usize> = w.iter().map(|w| w.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 8, 7]);
        assert!(w[0].message.contains("`Frobnicate`"));
        assert!(w[1].message.contains("back") && w[1].message.contains("skipped"));
        assert!(w[1].to_string().starts_with("line 4: "));
        assert!(w[3].message.contains("unterminated"));
        assert!(w[4].message.contains("`trailing`"));
        assert!(w[5].message.contains("`Nowhere`"));
        // The lines that compiled are kept, the half-parsed template with its first field.
        assert_eq!(db.match_count(), 2);
        let x = db.find(Protocol::Tcp, "X").unwrap();
        let m = db.match_response(x, b"half", None).unwrap();
        assert_eq!((m.product.as_deref(), m.version), (Some("Half"), None));
    }

    #[test]
    fn crlf_and_indentation_are_tolerated() {
        let (db, w) = parse("Probe TCP X q|a|\r\n  ports 1-2\r\n\tmatch x m/^x$/\r\n").unwrap();
        assert!(w.is_empty());
        assert_eq!(db.match_count(), 1);
        assert!(db
            .probe(db.find(Protocol::Tcp, "X").unwrap())
            .ports
            .contains(2));
    }

    #[test]
    fn empty_text_is_an_empty_database() {
        let (db, w) = parse("").unwrap();
        assert!(db.is_empty() && w.is_empty());
        assert_eq!(db.match_count(), 0);
    }
}
