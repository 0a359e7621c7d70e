//! Perl-style match patterns, as written in the database, compiled with the `regex` crate.
//!
//! Patterns run over raw bytes: the regex is built with Unicode off, so `.`, `\d`, `\w`,
//! `\s` and negated classes match single bytes. `s` makes `.` match `\n`; `i` makes ASCII
//! letters caseless. Before compiling, Perl spellings our engine lacks are rewritten where
//! the meaning is plain:
//!
//! - `\0`, `\0N`, `\0NN` (octal), `\xH`, `\x{HH}`, `\e`, `\cX` become `\xHH`;
//! - `$` and `\Z` (end, or before a final newline) become `(?:\n?\z)`: the same match/no
//!   match answer as Perl's, though the match may then include that final newline;
//! - `\h`, `\v` (horizontal / vertical white space, PCRE's sets over bytes), `\R`, `\N`;
//! - `\Q...\E` quoting, `(?#...)` comments;
//! - a `{` that does not open a `{n}`, `{n,}` or `{n,m}` quantifier is a literal;
//! - in a class: `\b` is backspace, `[` `&` `~` are literals, and a `-` next to `\d`, `\w`,
//!   `\s` (as in `[\w-_.]`) is a literal;
//! - escaped punctuation and non-ASCII literals become byte escapes.
//!
//! What is left and still fails (backreferences, lookaround, atomic groups, possessive
//! quantifiers, `\G`) is reported to the caller, which skips that pattern with a warning.
//! The compiled size and the lazy DFA's cache are capped so that a hostile file cannot make
//! one pattern eat memory.

use regex::bytes::{Regex, RegexBuilder};
use std::fmt::Write as _;

/// Cap on one compiled pattern's program size.
pub const SIZE_LIMIT: usize = 1 << 20;
/// Cap on one pattern's lazy DFA cache.
pub const DFA_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a database pattern (the text between `m` delimiters) with its `i` / `s` flags.
/// The error names what our engine rejected.
pub fn compile(pattern: &str, caseless: bool, dot_all: bool) -> Result<Regex, String> {
    RegexBuilder::new(&translate(pattern))
        .unicode(false)
        .case_insensitive(caseless)
        .dot_matches_new_line(dot_all)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .nest_limit(100)
        .build()
        .map_err(|e| summary(&e.to_string()))
}

/// The line of a regex error message that says what is wrong.
fn summary(text: &str) -> String {
    let last = text.lines().rev().find(|l| l.contains("error:"));
    last.unwrap_or(text).trim().to_owned()
}

/// Rewrites a Perl pattern into the `regex` crate's syntax (see the module docs).
pub fn translate(pattern: &str) -> String {
    let mut t = Translator {
        chars: pattern.chars().collect(),
        i: 0,
        out: String::with_capacity(pattern.len() + 16),
    };
    t.run();
    t.out
}

const VSPACE: &str = r"\x0A-\x0D\x85";
const HSPACE: &str = r"\x09\x20\xA0";

struct Translator {
    chars: Vec<char>,
    i: usize,
    out: String,
}

impl Translator {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn byte(&mut self, b: u8) {
        let _ = write!(self.out, "\\x{b:02X}");
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            self.i += 1;
            match c {
                '\\' => self.escape_outside(),
                '[' => self.class(),
                '$' => self.out.push_str(r"(?:\n?\z)"),
                '{' => self.brace(),
                '}' | ']' => self.literal(c),
                '(' if self.peek(0) == Some('?') && self.peek(1) == Some('#') => self.comment(),
                c if c.is_ascii() => self.out.push(c),
                c => self.literal(c),
            }
        }
    }

    /// A literal character outside a class: bytes escaped so that nothing is special and
    /// a following quantifier applies to the whole character.
    fn literal(&mut self, c: char) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ' ' {
            self.out.push(c);
        } else if c.is_ascii() {
            self.byte(c as u8);
        } else {
            self.out.push_str("(?:");
            let mut buf = [0u8; 4];
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                self.byte(b);
            }
            self.out.push(')');
        }
    }

    fn comment(&mut self) {
        while let Some(c) = self.peek(0) {
            self.i += 1;
            if c == ')' {
                return;
            }
        }
    }

    /// `{` opens a quantifier only as `{n}`, `{n,}` or `{n,m}`; otherwise Perl reads it
    /// literally.
    fn brace(&mut self) {
        let rest: String = self.chars[self.i..].iter().take(24).collect();
        match quantifier_len(&rest) {
            Some(len) => {
                self.out.push('{');
                self.out.push_str(&rest[..len]);
                self.i += rest[..len].chars().count();
            }
            None => self.literal('{'),
        }
    }

    fn escape_outside(&mut self) {
        let Some(c) = self.peek(0) else {
            self.out.push('\\');
            return;
        };
        self.i += 1;
        match c {
            'Z' => self.out.push_str(r"(?:\n?\z)"),
            'h' => {
                let _ = write!(self.out, "[{HSPACE}]");
            }
            'H' => {
                let _ = write!(self.out, "[^{HSPACE}]");
            }
            'v' => {
                let _ = write!(self.out, "[{VSPACE}]");
            }
            'V' => {
                let _ = write!(self.out, "[^{VSPACE}]");
            }
            'R' => {
                let _ = write!(self.out, r"(?:\r\n|[{VSPACE}])");
            }
            'N' => self.out.push_str(r"[^\n]"),
            'Q' => self.quoted(),
            'E' => {}
            '<' | '>' => self.literal(c),
            _ => {
                if !self.byte_escape(c) {
                    self.other_escape(c);
                }
            }
        }
    }

    /// Escapes that name one byte, the same inside and outside a class. Returns false if
    /// `c` is not one of them.
    fn byte_escape(&mut self, c: char) -> bool {
        match c {
            '0' => {
                let mut value = 0u32;
                for _ in 0..2 {
                    match self.peek(0).and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            self.i += 1;
                        }
                        None => break,
                    }
                }
                self.byte(value as u8);
            }
            'x' => self.hex(),
            'e' => self.byte(0x1B),
            'c' => match self.peek(0) {
                Some(x) if x.is_ascii() => {
                    self.i += 1;
                    self.byte(x.to_ascii_uppercase() as u8 ^ 0x40);
                }
                _ => self.out.push_str(r"\c"),
            },
            _ => return false,
        }
        true
    }

    fn other_escape(&mut self, c: char) {
        if c.is_ascii_alphanumeric() {
            // \d \w \s \b \A \z \n \t ... and backreferences, which fail to compile.
            self.out.push('\\');
            self.out.push(c);
        } else {
            self.literal(c);
        }
    }

    fn hex(&mut self) {
        if self.peek(0) == Some('{') {
            let close = self.chars[self.i..].iter().position(|&c| c == '}');
            if let Some(close) = close {
                let digits: String = self.chars[self.i + 1..self.i + close].iter().collect();
                if let Ok(v @ 0..=0xFF) = u32::from_str_radix(digits.trim(), 16) {
                    self.i += close + 1;
                    self.byte(v as u8);
                    return;
                }
            }
            self.out.push_str(r"\x");
            return;
        }
        let mut value = 0u32;
        for _ in 0..2 {
            match self.peek(0).and_then(|d| d.to_digit(16)) {
                Some(d) => {
                    value = value * 16 + d;
                    self.i += 1;
                }
                None => break,
            }
        }
        self.byte(value as u8);
    }

    fn quoted(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == '\\' && self.peek(1) == Some('E') {
                self.i += 2;
                return;
            }
            self.i += 1;
            if c.is_ascii() {
                self.byte(c as u8);
            } else {
                self.literal(c);
            }
        }
    }

    fn class(&mut self) {
        self.out.push('[');
        if self.peek(0) == Some('^') {
            self.i += 1;
            self.out.push('^');
        }
        if self.peek(0) == Some(']') {
            self.i += 1;
            self.byte(b']');
        }
        let mut prev_set = false;
        while let Some(c) = self.peek(0) {
            self.i += 1;
            let set = match c {
                ']' => {
                    self.out.push(']');
                    return;
                }
                '\\' => self.escape_in_class(),
                '[' => self.posix_or_bracket(),
                '-' => {
                    self.class_dash(prev_set);
                    false
                }
                '&' | '~' => {
                    self.byte(c as u8);
                    false
                }
                _ => {
                    self.out.push(c);
                    false
                }
            };
            prev_set = set;
        }
    }

    /// A `-` is a range operator between two single characters only.
    fn class_dash(&mut self, prev_set: bool) {
        let next_set =
            self.peek(0) == Some('\\') && self.peek(1).is_some_and(|c| "dDwWsShHvV".contains(c));
        let dash_next = matches!(self.peek(0), Some('-' | ']'));
        if prev_set || next_set || dash_next {
            self.byte(b'-');
        } else {
            self.out.push('-');
        }
    }

    fn posix_or_bracket(&mut self) -> bool {
        if self.peek(0) == Some(':') {
            let rest: String = self.chars[self.i..].iter().take(16).collect();
            if let Some(end) = rest[1..].find(":]") {
                let name = &rest[1..end + 1];
                let name = name.strip_prefix('^').unwrap_or(name);
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase()) {
                    self.out.push('[');
                    self.out.push_str(&rest[..end + 3]);
                    self.i += end + 3;
                    return true;
                }
            }
        }
        self.byte(b'[');
        false
    }

    /// Returns whether the escape was a set (`\d`, `\w`, ...), not a single character.
    fn escape_in_class(&mut self) -> bool {
        let Some(c) = self.peek(0) else {
            self.out.push('\\');
            return false;
        };
        self.i += 1;
        match c {
            'b' => self.byte(0x08),
            'h' => self.out.push_str(HSPACE),
            'v' => self.out.push_str(VSPACE),
            'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                self.out.push('\\');
                self.out.push(c);
                return true;
            }
            'Q' => self.quoted(),
            'E' => {}
            _ => {
                if !self.byte_escape(c) {
                    if c.is_ascii_alphanumeric() {
                        self.out.push('\\');
                        self.out.push(c);
                    } else if c.is_ascii() {
                        self.byte(c as u8);
                    } else {
                        self.out.push(c);
                    }
                }
            }
        }
        matches!(c, 'h' | 'v')
    }
}

/// Length of the quantifier body after `{` (through the closing `}`) if `rest` starts with
/// `n}`, `n,}` or `n,m}`.
fn quantifier_len(rest: &str) -> Option<usize> {
    let b = rest.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(0);
    if n == 0 {
        return None;
    }
    let mut at = n;
    if b.get(at) == Some(&b',') {
        at += 1;
        at += digits(at);
    }
    (b.get(at) == Some(&b'}')).then_some(at + 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(pattern: &str, data: &[u8]) -> bool {
        compile(pattern, false, false).unwrap().is_match(data)
    }

    fn cap1(pattern: &str, data: &[u8]) -> Vec<u8> {
        let re = compile(pattern, false, false).unwrap();
        re.captures(data)
            .unwrap()
            .get(1)
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn classes_and_dot_match_single_bytes() {
        assert!(m(r"^\x10\0\0\x01\xff$", b"\x10\0\0\x01\xff"));
        assert!(m(r"^.\d$", b"\xff7"));
        assert!(m(r"^[^\r\n]+$", b"\x80\xfe\x01"));
        assert!(!m(r"^\w$", b"\xe9"));
        assert!(m(r"^[\d\D]{3}X", b"\0\xff\nX"));
        assert!(!m(r"^.X", b"\nX"));
        assert!(compile(r"^.X", false, true).unwrap().is_match(b"\nX"));
        assert!(compile(r"^hello", true, false).unwrap().is_match(b"HeLLo"));
    }

    #[test]
    fn octal_and_short_hex_escapes() {
        assert!(m(r"^\0\012\0377$", b"\0\n\x1f7"));
        assert!(m(r"^\x7Z\x{41}$", b"\x07ZA"));
        assert!(m(r"^\e\cA\cz", b"\x1b\x01\x1a"));
    }

    #[test]
    fn dollar_and_big_z_allow_one_final_newline() {
        assert!(m(r"^abc$", b"abc"));
        assert!(m(r"^abc$", b"abc\n"));
        assert!(!m(r"^abc$", b"abc\n\n"));
        assert!(!m(r"^abc$", b"abcd"));
        assert!(m(r"abc\Z", b"xabc\n"));
        assert!(m(r"^a\$b", b"a$b"));
        assert!(m(r"^[$]", b"$"));
    }

    #[test]
    fn perl_literals_that_rust_reads_differently() {
        assert!(m(r"^a{b}$", b"a{b}"));
        assert!(m(r"^a{2}$", b"aa"));
        assert!(m(r"^a{1,}b{,2}$", b"aab{,2}"));
        assert!(m(r"^\<html\>", b"<html>"));
        assert!(m(r"^[\w-_.]+$", b"a-b_c.d"));
        assert!(m(r"^[a&&b~]+$", b"a&b~"));
        assert!(m(r"^[[]x$", b"[x"));
        assert!(m(r"^[]a]+$", b"]a]"));
        assert!(m(r"^[^]a]$", b"b"));
        assert!(m(r"^[\b]$", b"\x08"));
        assert!(m(r"^\/\:\'\@$", b"/:'@"));
        assert!(m(r"^[[:digit:]]+$", b"123"));
        assert!(m(r"^\Qa.b*\E$", b"a.b*"));
        assert!(!m(r"^\Qa.b\E$", b"axb"));
        assert!(m(r"^a(?#note)b$", b"ab"));
    }

    #[test]
    fn perl_space_classes() {
        assert!(m(r"^a\hb$", b"a\tb"));
        assert!(!m(r"^a\hb$", b"a\nb"));
        assert!(m(r"^a\vb\Rc$", b"a\x0bb\r\nc"));
        assert!(m(r"^[\h]+$", b" \t"));
        assert!(m(r"^\N+$", b"abc"));
        assert!(!m(r"^\N$", b"\n"));
    }

    #[test]
    fn non_ascii_literals_match_their_utf8_bytes() {
        assert!(m("^caf\u{e9}+$", "caf\u{e9}\u{e9}".as_bytes()));
        assert!(!m("^caf\u{e9}+$", b"caf\xc3\xa9\xa9"));
    }

    #[test]
    fn captures_survive_translation() {
        assert_eq!(
            cap1(
                r"^SSH-[\d.]+-OpenSSH_([\w.]+)\r?$",
                b"SSH-2.0-OpenSSH_9.6\r\n"
            ),
            b"9.6"
        );
    }

    #[test]
    fn unsupported_constructs_are_errors_not_panics() {
        for p in [
            r"(a)\1", r"a(?=b)", r"(?<!x)y", r"a\G", r"(", r"a{5,2}", "\\",
        ] {
            assert!(compile(p, false, false).is_err(), "{p}");
        }
    }

    #[test]
    fn oversized_patterns_are_refused() {
        let err = compile(r"(?:\w{1000}){1000}", false, false).unwrap_err();
        assert!(err.contains("size"), "{err}");
    }
}
