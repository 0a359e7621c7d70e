//! Version info templates: the `p/…/ v/…/ i/…/ h/…/ o/…/ d/…/ cpe:/…/` part of a match
//! line, filled in from the pattern's captures.
//!
//! Each field is a letter (or `cpe:`), a delimiter of the author's choosing, the value and
//! the same delimiter again; `cpe:` may be followed by the flag `a`. Values may hold `$1` to
//! `$9` and the helpers `$P(n)` (printable bytes only), `$SUBST(n,"from","to")` (replace
//! every occurrence) and `$I(n,">")` / `$I(n,"<")` (the captured bytes, at most 8, read as
//! an unsigned big- / little-endian integer, in decimal).
//!
//! Guarantees on the output: it is printable ASCII apart from what the database author
//! wrote literally. A captured byte outside 0x20..=0x7e is written `\xHH` (or, in `$P`,
//! dropped). In `cpe:` fields substituted text is made lower case, spaces become `_` and
//! any byte other than `a-z 0-9 . _ ~ -` is percent-encoded (`%3a`), so a captured `:`
//! cannot forge a CPE component. Each field is capped ([`FIELD_CAP`], [`INFO_CAP`],
//! [`CPE_CAP`] bytes) without splitting an escape. A group that did not take part in the
//! match substitutes nothing; a field whose `$I` capture is longer than 8 bytes is
//! omitted; a field that comes out empty is omitted.

use crate::ServiceMatch;
use regex::bytes::Captures;

/// Longest product, version, hostname, OS type or device type, in bytes.
pub const FIELD_CAP: usize = 80;
/// Longest extra info, in bytes.
pub const INFO_CAP: usize = 128;
/// Longest CPE name (with its `cpe:/` prefix), in bytes.
pub const CPE_CAP: usize = 160;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Product,
    Version,
    Info,
    Hostname,
    OsType,
    DeviceType,
    Cpe,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Printable(usize),
    Subst(usize, Vec<u8>, Vec<u8>),
    Int(usize, bool),
}

/// A parsed version info template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    fields: Vec<(Field, Vec<Piece>)>,
}

impl Template {
    /// Parses the text after a match's pattern. Fields are read up to the first malformed
    /// one; the template holds those read so far and the message says what was wrong.
    pub fn parse(text: &str) -> (Template, Option<String>) {
        let mut t = Template::default();
        let mut rest = text;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                return (t, None);
            }
            match parse_field(rest) {
                Ok((field, pieces, after)) => {
                    t.fields.push((field, pieces));
                    rest = after;
                }
                Err(e) => return (t, Some(e)),
            }
        }
    }

    /// Whether the template has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Fills the fields of `out` from `caps`. A field already set in `out` (by an earlier
    /// field of the same kind) is kept.
    pub fn apply(&self, caps: &Captures<'_>, out: &mut ServiceMatch) {
        for (field, pieces) in &self.fields {
            let Some(value) = render(*field, pieces, caps) else {
                continue;
            };
            let slot = match field {
                Field::Product => &mut out.product,
                Field::Version => &mut out.version,
                Field::Info => &mut out.info,
                Field::Hostname => &mut out.hostname,
                Field::OsType => &mut out.ostype,
                Field::DeviceType => &mut out.devicetype,
                Field::Cpe => {
                    out.cpe.push(value);
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
    }
}

type Parsed<'a> = (Field, Vec<Piece>, &'a str);

fn parse_field(text: &str) -> Result<Parsed<'_>, String> {
    let (field, rest) = if let Some(rest) = text.strip_prefix("cpe:") {
        (Field::Cpe, rest)
    } else {
        let mut chars = text.chars();
        let key = chars.next().unwrap_or(' ');
        let field = match key {
            'p' => Field::Product,
            'v' => Field::Version,
            'i' => Field::Info,
            'h' => Field::Hostname,
            'o' => Field::OsType,
            'd' => Field::DeviceType,
            _ => return Err(format!("unknown version field `{}`", word(text))),
        };
        (field, chars.as_str())
    };
    let mut chars = rest.chars();
    let delim = match chars.next() {
        Some(d) if !d.is_whitespace() => d,
        _ => return Err(format!("version field `{}` has no delimiter", word(text))),
    };
    let body = chars.as_str();
    let Some(end) = body.find(delim) else {
        return Err(format!("unterminated version field `{}`", word(text)));
    };
    let pieces = parse_value(&body[..end])?;
    let mut after = &body[end + delim.len_utf8()..];
    if field == Field::Cpe {
        after = after.strip_prefix('a').unwrap_or(after);
    }
    if !after.is_empty() && !after.starts_with(char::is_whitespace) {
        return Err(format!("junk after version field: `{}`", word(after)));
    }
    Ok((field, pieces, after))
}

fn word(text: &str) -> &str {
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let mut cut = end.min(40);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

fn parse_value(value: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        match parse_dollar(rest)? {
            Some((piece, len)) => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
                rest = &rest[len..];
            }
            None => {
                text.push('$');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// At a `$`: the substitution it starts and its length, `None` for a literal `$`, or an
/// error for a malformed helper.
fn parse_dollar(s: &str) -> Result<Option<(Piece, usize)>, String> {
    let b = s.as_bytes();
    if let Some(d @ b'1'..=b'9') = b.get(1) {
        return Ok(Some((Piece::Group(usize::from(d - b'0')), 2)));
    }
    let helper = |name: &str| s[1..].starts_with(name) && s[1 + name.len()..].starts_with('(');
    if !(helper("P") || helper("SUBST") || helper("I")) {
        return Ok(None);
    }
    let open = s.find('(').unwrap_or(0);
    let close = closing_paren(s, open).ok_or_else(|| format!("unclosed helper `{}`", word(s)))?;
    let args = split_args(&s[open + 1..close]).ok_or_else(|| bad_helper(s, close))?;
    let group = args
        .first()
        .and_then(|a| group_number(a))
        .ok_or_else(|| bad_helper(s, close))?;
    let piece = match (&s[1..open], args.as_slice()) {
        ("P", [_]) => Piece::Printable(group),
        ("SUBST", [_, from, to]) => match (quoted(from), quoted(to)) {
            (Some(f), Some(t)) if !f.is_empty() => Piece::Subst(group, f.into(), t.into()),
            _ => return Err(bad_helper(s, close)),
        },
        ("I", [_, order]) => match quoted(order) {
            Some(">") => Piece::Int(group, true),
            Some("<") => Piece::Int(group, false),
            _ => return Err(bad_helper(s, close)),
        },
        _ => return Err(bad_helper(s, close)),
    };
    Ok(Some((piece, close + 1)))
}

/// The `)` closing the helper whose `(` is at `open`, skipping quoted arguments.
fn closing_paren(s: &str, open: usize) -> Option<usize> {
    let mut in_quotes = false;
    for (i, c) in s[open..].char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ')' if !in_quotes => return Some(open + i),
            _ => {}
        }
    }
    None
}

fn bad_helper(s: &str, close: usize) -> String {
    format!("bad helper `{}`", &s[..close + 1])
}

/// Splits helper arguments on commas outside double quotes.
fn split_args(args: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let (mut start, mut in_quotes) = (0, false);
    for (i, c) in args.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_quotes {
        return None;
    }
    out.push(args[start..].trim());
    Some(out)
}

fn group_number(arg: &str) -> Option<usize> {
    match arg.as_bytes() {
        [d @ b'1'..=b'9'] => Some(usize::from(d - b'0')),
        _ => None,
    }
}

fn quoted(arg: &str) -> Option<&str> {
    arg.strip_prefix('"')?.strip_suffix('"')
}

/// Builds one field, refusing any piece that would cross the cap.
struct Out {
    s: String,
    cap: usize,
    full: bool,
}

impl Out {
    fn push(&mut self, piece: &str) {
        if self.full || self.s.len() + piece.len() > self.cap {
            self.full = true;
        } else {
            self.s.push_str(piece);
        }
    }

    fn push_byte(&mut self, b: u8, cpe: bool) {
        let mut buf = [0u8; 4];
        if cpe {
            let b = b.to_ascii_lowercase();
            match b {
                b' ' => self.push("_"),
                b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'~' | b'-' => {
                    self.push(char::from(b).encode_utf8(&mut buf))
                }
                _ => self.push(&format!("%{b:02x}")),
            }
        } else if (0x20..=0x7e).contains(&b) {
            self.push(char::from(b).encode_utf8(&mut buf));
        } else {
            self.push(&format!("\\x{b:02x}"));
        }
    }
}

fn render(field: Field, pieces: &[Piece], caps: &Captures<'_>) -> Option<String> {
    let cpe = field == Field::Cpe;
    let cap = match field {
        Field::Info => INFO_CAP,
        Field::Cpe => CPE_CAP,
        _ => FIELD_CAP,
    };
    let mut out = Out {
        s: String::new(),
        cap,
        full: false,
    };
    if cpe {
        out.push("cpe:/");
    }
    let group = |n: usize| caps.get(n).map_or(&[][..], |m| m.as_bytes());
    for piece in pieces {
        match piece {
            Piece::Text(t) => t.chars().for_each(|c| out.push(c.encode_utf8(&mut [0; 4]))),
            Piece::Group(n) => group(*n).iter().for_each(|&b| out.push_byte(b, cpe)),
            Piece::Printable(n) => group(*n)
                .iter()
                .filter(|b| (0x20..=0x7e).contains(*b))
                .for_each(|&b| out.push_byte(b, cpe)),
            Piece::Subst(n, from, to) => {
                for b in substitute(group(*n), from, to) {
                    out.push_byte(b, cpe);
                }
            }
            Piece::Int(n, big) => out.push(&unpack(group(*n), *big)?.to_string()),
        }
    }
    let empty = if cpe { "cpe:/".len() } else { 0 };
    (out.s.len() > empty).then_some(out.s)
}

fn substitute(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

fn unpack(bytes: &[u8], big_endian: bool) -> Option<u64> {
    if bytes.len() > 8 {
        return None;
    }
    let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
    Some(if big_endian {
        bytes.iter().fold(0, fold)
    } else {
        bytes.iter().rev().fold(0, fold)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use regex::bytes::Regex;

    fn fill(template: &str, pattern: &str, data: &[u8]) -> ServiceMatch {
        let (t, warning) = Template::parse(template);
        assert_eq!(warning, None);
        let re = Regex::new(pattern).unwrap();
        let caps = re.captures(data).unwrap();
        let mut out = ServiceMatch::default();
        t.apply(&caps, &mut out);
        out
    }

    #[test]
    fn every_field_with_any_delimiter() {
        let m = fill(
            "p/Acme httpd/ v|$1| i#proto $2# h=$3= o/Linux/ d,router, cpe:/a:acme:httpd:$1/ cpe:|o:linux:linux_kernel|a",
            r"^(\S+) (\S+) (\S+)",
            b"2.4 x1 gw.example",
        );
        assert_eq!(m.product.as_deref(), Some("Acme httpd"));
        assert_eq!(m.version.as_deref(), Some("2.4"));
        assert_eq!(m.info.as_deref(), Some("proto x1"));
        assert_eq!(m.hostname.as_deref(), Some("gw.example"));
        assert_eq!(m.ostype.as_deref(), Some("Linux"));
        assert_eq!(m.devicetype.as_deref(), Some("router"));
        assert_eq!(
            m.cpe,
            vec!["cpe:/a:acme:httpd:2.4", "cpe:/o:linux:linux_kernel"]
        );
    }

    #[test]
    fn non_printable_captures_are_escaped() {
        let m = fill("v/$1/", r"(?s-u)^V(.*)$", b"V1\x00\xff\n\\");
        assert_eq!(m.version.as_deref(), Some(r"1\x00\xff\x0a\"));
    }

    #[test]
    fn printable_helper_drops_other_bytes() {
        let m = fill("i/$P(1)/", r"(?s-u)^(.*)$", b"W\0O\0R\0K\0\xff!");
        assert_eq!(m.info.as_deref(), Some("WORK!"));
    }

    #[test]
    fn subst_helper_replaces_every_occurrence() {
        let m = fill(r#"v/$SUBST(1,"_",".")/"#, r"^(\S+)", b"2_2_3_578");
        assert_eq!(m.version.as_deref(), Some("2.2.3.578"));
        let m = fill(r#"v/$SUBST(1, ",", ")")/"#, r"^(\S+)", b"1,2,3");
        assert_eq!(m.version.as_deref(), Some("1)2)3"));
    }

    #[test]
    fn int_helper_reads_both_byte_orders() {
        let m = fill(r#"v/$I(1,">")/ i/$I(1,"<")/"#, r"(?s-u)^(..)", b"\x01\x02");
        assert_eq!(m.version.as_deref(), Some("258"));
        assert_eq!(m.info.as_deref(), Some("513"));
        let m = fill(r#"v/$I(1,">")/"#, r"(?s-u)^(.{8})", &[0xff; 8]);
        assert_eq!(m.version.as_deref(), Some(u64::MAX.to_string().as_str()));
    }

    #[test]
    fn int_helper_over_eight_bytes_drops_the_field() {
        let m = fill(r#"v/$I(1,">")/ p/x/"#, r"(?s-u)^(.{9})", &[1; 9]);
        assert_eq!(m.version, None);
        assert_eq!(m.product.as_deref(), Some("x"));
    }

    #[test]
    fn cpe_substitutions_are_normalised() {
        let m = fill("cpe:/a:acme:$1:$2/", r"^(.+)\|(.+)$", b"Big Server|1:2/3");
        assert_eq!(m.cpe, vec!["cpe:/a:acme:big_server:1%3a2%2f3"]);
    }

    #[test]
    fn fields_are_capped_without_splitting_escapes() {
        let data = [b'a'; 200];
        let m = fill("p/$1/ i/$1/ cpe:/a:$1/", r"^(a+)$", &data);
        assert_eq!(m.product.unwrap().len(), FIELD_CAP);
        assert_eq!(m.info.unwrap().len(), INFO_CAP);
        assert_eq!(m.cpe[0].len(), CPE_CAP);
        let data = [0u8; 100];
        let m = fill("p/$1/", r"(?-u)^(\x00+)$", &data);
        let p = m.product.unwrap();
        assert_eq!(p.len(), 80);
        assert!(p.ends_with(r"\x00"));
    }

    #[test]
    fn missing_group_and_empty_fields() {
        let m = fill("p/$1/ v/$5/ i/x$2y/", r"^(a)|(b)", b"a");
        assert_eq!(m.product.as_deref(), Some("a"));
        assert_eq!(m.version, None);
        assert_eq!(m.info.as_deref(), Some("xy"));
    }

    #[test]
    fn literal_dollars_stay() {
        let m = fill("p/US$ $0 $x/", r"^", b"");
        assert_eq!(m.product.as_deref(), Some("US$ $0 $x"));
    }

    #[test]
    fn malformed_fields_stop_with_a_message() {
        let (t, w) = Template::parse("p/ok/ v$1/");
        assert_eq!(t.fields.len(), 1);
        assert!(w.unwrap().contains("unterminated"));
        let (_, w) = Template::parse("p/ok/ z/what/");
        assert!(w.unwrap().contains("`z/what/`"));
        let (_, w) = Template::parse(r#"v/$SUBST(1,"a")/"#);
        assert!(w.unwrap().contains("bad helper"));
        let (_, w) = Template::parse(r#"v/$I(1,"x")/"#);
        assert!(w.unwrap().contains("bad helper"));
        let (_, w) = Template::parse("v/$P(1/");
        assert!(w.unwrap().contains("unclosed"));
        let (_, w) = Template::parse("p/a/b");
        assert!(w.unwrap().contains("junk"));
        let (_, w) = Template::parse("p");
        assert!(w.unwrap().contains("no delimiter"));
    }
}
