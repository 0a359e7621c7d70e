//! Protocol payloads for UDP probes.
//!
//! An empty UDP datagram draws no answer from most services, so a UDP scan that sends
//! one can only call the port `open|filtered`. For well-known ports we send instead a
//! request of that port's protocol (a DNS query to 53, an SNMP GetRequest to 161, ...)
//! that a server answers, which proves the port open.
//!
//! The payloads live in `data/udp-payloads.txt`, a readable text file with the spec
//! section of every field beside its bytes; its header describes the format. It is
//! compiled in with `include_str!` and parsed once, on first use. The unit tests
//! guarantee the shipped file parses and check every payload's structure against its
//! protocol's specification, so at run time a parse failure cannot happen; were it to,
//! every port would get the empty payload (the behaviour without this table).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The payload table as shipped.
const DATA: &str = include_str!("../data/udp-payloads.txt");

/// The probe payload for a UDP port: a protocol request likely to draw an answer from a
/// server, or empty.
pub fn udp_payload(port: u16) -> &'static [u8] {
    table().entry(port).map_or(&[][..], |e| e.bytes.as_slice())
}

/// Name of the payload's protocol, for docs/debugging.
pub fn udp_payload_name(port: u16) -> Option<&'static str> {
    table().entry(port).map(|e| e.name)
}

/// Every port that has a payload, in ascending order.
pub fn udp_payload_ports() -> impl Iterator<Item = u16> {
    table().by_port.keys().copied()
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| parse(DATA).unwrap_or_default())
}

/// One protocol's payload and the ports it is sent to.
#[derive(Debug)]
struct Entry {
    name: &'static str,
    ports: Vec<u16>,
    bytes: Vec<u8>,
    /// Line of the entry's header in the file, for error messages.
    line: usize,
}

#[derive(Debug, Default)]
struct Table {
    entries: Vec<Entry>,
    /// Port -> index into `entries`.
    by_port: BTreeMap<u16, usize>,
}

impl Table {
    fn entry(&self, port: u16) -> Option<&Entry> {
        self.by_port.get(&port).and_then(|&i| self.entries.get(i))
    }
}

/// A defect in the payload file, with the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParseError {
    line: usize,
    what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "udp-payloads.txt line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(line: usize, what: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        what: what.into(),
    })
}

/// Parses the whole file: header lines in column 0 open entries, indented lines add bytes.
fn parse(text: &'static str) -> Result<Table, ParseError> {
    let mut table = Table::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.starts_with([' ', '\t']) {
            let mut bytes = Vec::new();
            payload_tokens(raw, line, &mut bytes)?;
            match table.entries.last_mut() {
                _ if bytes.is_empty() => {}
                Some(entry) => entry.bytes.extend(bytes),
                None => return err(line, "payload bytes before any entry header"),
            }
        } else if let Some(header) = strip_comment(raw) {
            close_entry(&table)?;
            table.entries.push(parse_header(header, line)?);
        }
    }
    close_entry(&table)?;
    index_ports(&mut table)?;
    Ok(table)
}

/// The part of a line before `#`, trimmed, or `None` when nothing is left.
fn strip_comment(raw: &str) -> Option<&str> {
    let text = raw.split('#').next().unwrap_or("").trim();
    (!text.is_empty()).then_some(text)
}

/// An entry must carry at least one byte once its payload lines are over.
fn close_entry(table: &Table) -> Result<(), ParseError> {
    match table.entries.last() {
        Some(entry) if entry.bytes.is_empty() => err(
            entry.line,
            format!("entry {:?} has no payload bytes", entry.name),
        ),
        _ => Ok(()),
    }
}

/// `NAME PORT[,PORT...]`.
fn parse_header(header: &'static str, line: usize) -> Result<Entry, ParseError> {
    let mut words = header.split_whitespace();
    let (Some(name), Some(ports), None) = (words.next(), words.next(), words.next()) else {
        return err(line, "an entry header is `NAME PORT[,PORT...]`");
    };
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return err(line, format!("bad entry name {name:?}: use [a-z0-9-]"));
    }
    let ports = ports
        .split(',')
        .map(|p| match p.parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => err(line, format!("bad port {p:?} in entry {name:?}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Entry {
        name,
        ports,
        bytes: Vec::new(),
        line,
    })
}

/// Fills `by_port`, refusing a port or a name that appears twice.
fn index_ports(table: &mut Table) -> Result<(), ParseError> {
    let mut names = BTreeMap::new();
    for (i, entry) in table.entries.iter().enumerate() {
        if let Some(first) = names.insert(entry.name, entry.line) {
            let what = format!("entry {:?} already defined on line {first}", entry.name);
            return err(entry.line, what);
        }
        for &port in &entry.ports {
            if let Some(prev) = table.by_port.insert(port, i) {
                let other = table.entries.get(prev).map_or("?", |e| e.name);
                let what = format!("port {port} is already in entry {other:?}");
                return err(entry.line, what);
            }
        }
    }
    Ok(())
}

/// Appends the bytes of one indented line: hex runs, `HH*N` repeats and quoted strings.
fn payload_tokens(raw: &str, line: usize, out: &mut Vec<u8>) -> Result<(), ParseError> {
    let mut rest = raw;
    loop {
        rest = rest.trim_start();
        match rest.chars().next() {
            None | Some('#') => return Ok(()),
            Some('"') => rest = quoted(&rest[1..], line, out)?,
            Some(_) => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '#' || c == '"')
                    .unwrap_or(rest.len());
                bare_token(&rest[..end], line, out)?;
                rest = &rest[end..];
            }
        }
    }
}

/// `hex` or `HH*N`.
fn bare_token(token: &str, line: usize, out: &mut Vec<u8>) -> Result<(), ParseError> {
    if let Some((byte, count)) = token.split_once('*') {
        let byte = hex_bytes(byte, line)?;
        let count = match count.parse::<u16>() {
            Ok(n) if n > 0 && byte.len() == 1 => n,
            _ => return err(line, format!("bad repeat {token:?}: use HH*N")),
        };
        out.extend(std::iter::repeat_n(byte[0], usize::from(count)));
        return Ok(());
    }
    out.extend(hex_bytes(token, line)?);
    Ok(())
}

fn hex_bytes(token: &str, line: usize) -> Result<Vec<u8>, ParseError> {
    if token.len() % 2 != 0 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return err(line, format!("bad hex {token:?}: need pairs of hex digits"));
    }
    (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16).or_else(|_| err(line, "bad hex")))
        .collect()
}

/// Reads a quoted string's body (after the opening quote) into `out`; returns what
/// follows the closing quote.
fn quoted<'a>(body: &'a str, line: usize, out: &mut Vec<u8>) -> Result<&'a str, ParseError> {
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok(&body[i + 1..]),
            '\\' => {
                let escaped = match chars.next().map(|(_, e)| e) {
                    Some('r') => b'\r',
                    Some('n') => b'\n',
                    Some('t') => b'\t',
                    Some('\\') => b'\\',
                    Some('"') => b'"',
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).map(|(_, h)| h).collect();
                        hex_bytes(&hex, line)
                            .ok()
                            .filter(|b| b.len() == 1)
                            .map_or_else(|| err(line, "bad \\x escape: use \\xHH"), |b| Ok(b[0]))?
                    }
                    other => {
                        return err(line, format!("unknown escape \\{}", other.unwrap_or(' ')))
                    }
                };
                out.push(escaped);
            }
            _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    err(line, "unterminated string")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! The shipped file must parse, and each payload must be a well-formed request of its
    //! protocol. The structural checks are written from the specifications, independently
    //! of the data file's comments, so a mistyped length or field shows up here.

    use super::*;

    /// The shipped table; a parse error fails the test with the file's line number.
    fn shipped() -> &'static Table {
        static SHIPPED: OnceLock<Table> = OnceLock::new();
        SHIPPED.get_or_init(|| parse(DATA).unwrap_or_else(|e| panic!("{e}")))
    }

    fn payload(name: &str) -> &'static [u8] {
        let entry = shipped().entries.iter().find(|e| e.name == name);
        &entry.unwrap_or_else(|| panic!("no entry {name:?}")).bytes
    }

    // ------------------------------------------------------------------ the file

    #[test]
    fn shipped_file_parses() {
        if let Err(e) = parse(DATA) {
            panic!("{e}");
        }
    }

    #[test]
    fn every_port_in_one_entry_and_the_api_agrees() {
        let table = shipped();
        let listed: usize = table.entries.iter().map(|e| e.ports.len()).sum();
        assert_eq!(
            udp_payload_ports().count(),
            listed,
            "a port is listed twice"
        );
        for entry in &table.entries {
            for &port in &entry.ports {
                assert_eq!(udp_payload(port), entry.bytes.as_slice());
                assert_eq!(udp_payload_name(port), Some(entry.name));
            }
        }
        let ports: Vec<u16> = udp_payload_ports().collect();
        assert!(ports.windows(2).all(|w| w[0] < w[1]), "ports not ascending");
    }

    #[test]
    fn well_known_ports_have_their_protocol() {
        let expect = [
            (53, "dns"),
            (123, "ntp"),
            (161, "snmp"),
            (137, "netbios-ns"),
            (5353, "mdns"),
            (11211, "memcached"),
        ];
        for (port, name) in expect {
            assert_eq!(udp_payload_name(port), Some(name), "port {port}");
        }
    }

    #[test]
    fn port_without_payload_gets_empty_bytes() {
        assert_eq!(udp_payload(9), b"");
        assert_eq!(udp_payload_name(9), None);
        assert!(udp_payload_ports().all(|p| p != 9 && p != 0));
    }

    #[test]
    fn every_entry_has_a_structural_check() {
        for entry in &shipped().entries {
            if let Err(e) = check(entry.name, &entry.bytes) {
                panic!("{} (line {}): {e}", entry.name, entry.line);
            }
        }
    }

    #[test]
    fn checks_catch_a_truncated_payload() {
        for entry in &shipped().entries {
            let short = &entry.bytes[..entry.bytes.len() - 1];
            assert!(check(entry.name, short).is_err(), "{}", entry.name);
        }
    }

    #[test]
    fn checks_catch_a_wrong_field() {
        let mutate = |name: &str, at: usize, value: u8| {
            let mut bytes = payload(name).to_vec();
            bytes[at] = value;
            check(name, &bytes)
        };
        assert!(mutate("snmp", 1, 0x2a).is_err(), "BER length");
        assert!(mutate("snmp", 12, b'x').is_err(), "community");
        assert!(mutate("ike", 27, 0xd1).is_err(), "IKE length");
        assert!(mutate("dns", 5, 2).is_err(), "QDCOUNT");
        assert!(mutate("ntp", 0, 0xe4).is_err(), "NTP mode");
        assert!(mutate("l2tp", 3, 0x45).is_err(), "L2TP length");
        assert!(mutate("kerberos", 2, 0x97).is_err(), "DER length");
    }

    // ------------------------------------------------------------------ the parser

    fn bytes_of(text: &'static str) -> Vec<u8> {
        let table = parse(text).unwrap();
        table.entries.into_iter().next().unwrap().bytes
    }

    fn error_of(text: &'static str) -> ParseError {
        parse(text).unwrap_err()
    }

    #[test]
    fn parser_reads_hex_repeats_strings_and_escapes() {
        let text = "# head\nx 7,9\n    0a0B 00*3 # three zeros\n\t\"r\\r\\n\\x41\\\\\\\"#\" ff\n";
        assert_eq!(bytes_of(text), b"\x0a\x0b\0\0\0r\r\nA\\\"#\xff");
    }

    #[test]
    fn parser_joins_lines_and_ignores_blank_and_comment_lines() {
        let text = "a 1\n  01\n\n    # note\n  02\nb 2\n  03\n";
        let table = parse(text).unwrap();
        assert_eq!(table.entries[0].bytes, [1, 2]);
        assert_eq!(table.entries[1].bytes, [3]);
        assert_eq!(table.entries[1].ports, [2]);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let cases: [(&'static str, usize, &str); 12] = [
            ("a 1\n  01\n  0g\n", 3, "bad hex"),
            ("a 1\n  012\n", 2, "bad hex"),
            ("a 1\n  \"open\n", 2, "unterminated"),
            ("a 1\n  \"\\q\"\n", 2, "unknown escape"),
            ("a 1\n  \"\\x4\"\n", 2, "\\x"),
            ("a 1\n  00*0\n", 2, "bad repeat"),
            ("a 1\n  0000*2\n", 2, "bad repeat"),
            ("  01\na 1\n  01\n", 1, "before any entry"),
            ("a 1\nb 2\n  01\n", 1, "no payload"),
            ("a 70000\n  01\n", 1, "bad port"),
            ("a 1\n  01\n\nb 3,1\n  02\n", 4, "port 1 is already"),
            ("Bad 1\n  01\n", 1, "bad entry name"),
        ];
        for (text, line, what) in cases {
            let e = error_of(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn parse_rejects_a_name_twice_and_a_last_entry_without_bytes() {
        assert!(error_of("a 1\n  01\na 2\n  02\n")
            .what
            .contains("already defined"));
        assert_eq!(error_of("a 1\n  01\nb 2\n").line, 3);
        assert_eq!(error_of("a\n  01\n").line, 1);
        assert_eq!(error_of("a 0\n  01\n").line, 1);
    }

    // ------------------------------------------------------------------ structure

    type Check = Result<(), String>;

    fn need(ok: bool, what: &str) -> Check {
        if ok {
            Ok(())
        } else {
            Err(what.to_string())
        }
    }

    /// The structural check for the entry called `name`.
    fn check(name: &str, p: &[u8]) -> Check {
        match name {
            "dns" => dns(p),
            "mdns" => mdns(p),
            "netbios-ns" => netbios_ns(p),
            "snmp" => snmp(p),
            "ntp" => ntp(p),
            "rpcbind" => rpcbind(p),
            "tftp" => tftp(p),
            "sip" => sip(p),
            "memcached" => memcached(p),
            "coap" => coap(p),
            "stun" => stun(p),
            "ike" => ike(p),
            "nat-pmp" => need(p == [0, 0], "NAT-PMP: version 0, opcode 0"),
            "rip" => rip(p),
            "cldap" => cldap(p),
            "kerberos" => kerberos(p),
            "mssql-browser" => need(p == [2], "MC-SQLR: one byte 0x02"),
            "l2tp" => l2tp(p),
            "slp" => slp(p),
            "openvpn" => openvpn(p),
            "quic" => quic(p),
            "ws-discovery" => ws_discovery(p),
            "ssdp" => ssdp(p),
            "ipmi" => ipmi(p),
            "dtls" => dtls(p),
            other => Err(format!("no structural check for {other:?}: write one")),
        }
    }

    /// Big-endian reader over a payload; every read is bounds-checked.
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if n > self.0.len() {
                return Err(format!("truncated: need {n} bytes, have {}", self.0.len()));
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn u8(&mut self) -> Result<u8, String> {
            Ok(self.take(1)?[0])
        }
        fn u16(&mut self) -> Result<u16, String> {
            let b = self.take(2)?;
            Ok(u16::from_be_bytes([b[0], b[1]]))
        }
        fn u32(&mut self) -> Result<u32, String> {
            let b = self.take(4)?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }
        fn done(&self) -> Check {
            need(self.0.is_empty(), "trailing bytes after the message")
        }
    }

    // ---- DNS family (RFC 1035 4.1)

    /// Header of a query with one question; returns (id, flags).
    fn dns_header(r: &mut Reader) -> Result<(u16, u16), String> {
        let id = r.u16()?;
        let flags = r.u16()?;
        need(flags & 0x8000 == 0, "QR must be 0 (query)")?;
        need((flags >> 11) & 0xf == 0, "OPCODE must be 0 (QUERY)")?;
        let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        need(counts == [1, 0, 0, 0], "QDCOUNT 1, other counts 0")?;
        Ok((id, flags))
    }

    /// An uncompressed QNAME (RFC 1035 3.1, 4.1.2): labels of 1..=63 bytes, 255 total.
    fn dns_name(r: &mut Reader) -> Result<Vec<Vec<u8>>, String> {
        let (mut labels, mut total) = (Vec::new(), 0);
        loop {
            let len = r.u8()?;
            total += usize::from(len) + 1;
            need(total <= 255, "name longer than 255 bytes")?;
            if len == 0 {
                return Ok(labels);
            }
            need(len <= 63, "label over 63 bytes or a compression pointer")?;
            labels.push(r.take(usize::from(len))?.to_vec());
        }
    }

    fn dns_question(p: &[u8], name: &[&str], qtype: u16, qclass: u16) -> Result<u16, String> {
        let mut r = Reader(p);
        let (id, _) = dns_header(&mut r)?;
        let labels = dns_name(&mut r)?;
        let same = labels
            .iter()
            .map(Vec::as_slice)
            .eq(name.iter().map(|n| n.as_bytes()));
        need(same, "unexpected QNAME")?;
        need(r.u16()? == qtype, "unexpected QTYPE")?;
        need(r.u16()? == qclass, "unexpected QCLASS")?;
        r.done()?;
        Ok(id)
    }

    fn dns(p: &[u8]) -> Check {
        // RFC 4892 2: version.bind, TXT, class CHAOS.
        dns_question(p, &["version", "bind"], 16, 3).map(drop)
    }

    fn mdns(p: &[u8]) -> Check {
        // RFC 6763 9: service type enumeration; RFC 6762 18.1: ID 0 in queries.
        let name = ["_services", "_dns-sd", "_udp", "local"];
        let id = dns_question(p, &name, 12, 1)?;
        need(id == 0, "mDNS query ID must be 0")
    }

    fn netbios_ns(p: &[u8]) -> Check {
        let mut r = Reader(p);
        let (_, flags) = dns_header(&mut r)?;
        need(
            flags & 0x0010 == 0,
            "B (broadcast) flag must be clear when unicast",
        )?;
        let labels = dns_name(&mut r)?;
        need(
            labels.len() == 1 && labels[0].len() == 32,
            "one 32-byte encoded name",
        )?;
        // RFC 1001 14.1: each half-byte of the 16-byte name is encoded as 'A' + nibble.
        let half = |c: u8| (b'A'..=b'P').contains(&c).then(|| c - b'A');
        let decoded: Option<Vec<u8>> = labels[0]
            .chunks(2)
            .map(|pair| Some(half(pair[0])? << 4 | half(pair[1])?))
            .collect();
        let mut wildcard = [0u8; 16];
        wildcard[0] = b'*';
        need(
            decoded.as_deref() == Some(&wildcard[..]),
            "name must be '*' + 15 NULs",
        )?;
        need(r.u16()? == 0x21, "QUESTION_TYPE must be NBSTAT")?;
        need(r.u16()? == 1, "QUESTION_CLASS must be IN")?;
        r.done()
    }

    // ---- BER / DER (X.690): single-byte tags, definite lengths

    fn tlv<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8]), String> {
        let tag = r.u8()?;
        need(tag & 0x1f != 0x1f, "multi-byte tags are not used here")?;
        let first = r.u8()?;
        let len = match first {
            0..=0x7f => usize::from(first),
            0x81 => usize::from(r.u8()?),
            0x82 => usize::from(r.u16()?),
            _ => return Err(format!("unsupported length byte {first:#04x}")),
        };
        need(
            first < 0x80 || len >= 0x80,
            "long-form length for a short value",
        )?;
        Ok((tag, r.take(len)?))
    }

    /// The value of the next TLV, which must carry `tag`.
    fn field<'a>(r: &mut Reader<'a>, tag: u8, what: &str) -> Result<&'a [u8], String> {
        let (got, value) = tlv(r)?;
        need(
            got == tag,
            &format!("{what}: tag {got:#04x}, want {tag:#04x}"),
        )?;
        Ok(value)
    }

    fn only<'a>(bytes: &'a [u8], tag: u8, what: &str) -> Result<&'a [u8], String> {
        let mut r = Reader(bytes);
        let value = field(&mut r, tag, what)?;
        r.done()?;
        Ok(value)
    }

    fn integer(r: &mut Reader, what: &str) -> Result<i64, String> {
        let v = field(r, 0x02, what)?;
        need(!v.is_empty() && v.len() <= 8, "INTEGER of 1..=8 bytes")?;
        let sign = if v[0] & 0x80 != 0 { -1 } else { 0 };
        Ok(v.iter().fold(sign, |acc, &b| acc << 8 | i64::from(b)))
    }

    fn oid(v: &[u8]) -> Result<Vec<u64>, String> {
        need(
            !v.is_empty() && v[v.len() - 1] & 0x80 == 0,
            "OID ends mid-arc",
        )?;
        let mut arcs = Vec::new();
        let mut acc = 0u64;
        for &b in v {
            acc = acc << 7 | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                if arcs.is_empty() {
                    let first = (acc / 40).min(2);
                    arcs.extend([first, acc - first * 40]);
                } else {
                    arcs.push(acc);
                }
                acc = 0;
            }
        }
        Ok(arcs)
    }

    fn snmp(p: &[u8]) -> Check {
        let mut msg = Reader(only(p, 0x30, "Message")?);
        need(integer(&mut msg, "version")? == 0, "version-1 (0)")?;
        need(
            field(&mut msg, 0x04, "community")? == b"public",
            "community public",
        )?;
        let mut pdu = Reader(field(&mut msg, 0xa0, "GetRequest-PDU")?);
        msg.done()?;
        integer(&mut pdu, "request-id")?;
        need(integer(&mut pdu, "error-status")? == 0, "error-status 0")?;
        need(integer(&mut pdu, "error-index")? == 0, "error-index 0")?;
        let list = field(&mut pdu, 0x30, "variable-bindings")?;
        pdu.done()?;
        let mut bind = Reader(only(list, 0x30, "VarBind")?);
        let name = oid(field(&mut bind, 0x06, "name")?)?;
        need(name == [1, 3, 6, 1, 2, 1, 1, 1, 0], "sysDescr.0")?;
        need(field(&mut bind, 0x05, "value")?.is_empty(), "NULL value")?;
        bind.done()
    }

    fn cldap(p: &[u8]) -> Check {
        let mut msg = Reader(only(p, 0x30, "LDAPMessage")?);
        need(integer(&mut msg, "messageID")? > 0, "messageID > 0")?;
        let mut req = Reader(field(&mut msg, 0x63, "SearchRequest")?);
        msg.done()?;
        need(
            field(&mut req, 0x04, "baseObject")?.is_empty(),
            "root DSE base \"\"",
        )?;
        need(field(&mut req, 0x0a, "scope")? == [0], "scope baseObject")?;
        need(
            field(&mut req, 0x0a, "derefAliases")?.len() == 1,
            "derefAliases",
        )?;
        integer(&mut req, "sizeLimit")?;
        integer(&mut req, "timeLimit")?;
        need(field(&mut req, 0x01, "typesOnly")?.len() == 1, "BOOLEAN")?;
        let present = field(&mut req, 0x87, "filter present")?;
        need(
            present.eq_ignore_ascii_case(b"objectClass"),
            "(objectClass=*)",
        )?;
        let mut attributes = Reader(field(&mut req, 0x30, "attributes")?);
        req.done()?;
        while !attributes.0.is_empty() {
            need(
                !field(&mut attributes, 0x04, "attribute")?.is_empty(),
                "attribute name",
            )?;
        }
        Ok(())
    }

    fn kerberos(p: &[u8]) -> Check {
        let mut req = Reader(only(only(p, 0x6a, "AS-REQ")?, 0x30, "KDC-REQ")?);
        need(
            integer(&mut Reader(field(&mut req, 0xa1, "pvno")?), "pvno")? == 5,
            "pvno 5",
        )?;
        let msg_type = integer(&mut Reader(field(&mut req, 0xa2, "msg-type")?), "msg-type")?;
        need(msg_type == 10, "msg-type 10 (AS-REQ)")?;
        let mut body = Reader(only(
            field(&mut req, 0xa4, "req-body")?,
            0x30,
            "KDC-REQ-BODY",
        )?);
        req.done()?;
        let mut seen = Vec::new();
        while !body.0.is_empty() {
            let (tag, value) = tlv(&mut body)?;
            need(seen.last().is_none_or(|&t| t < tag), "fields out of order")?;
            seen.push(tag);
            kerberos_body_field(tag, value)?;
        }
        // Required fields of KDC-REQ-BODY (RFC 4120 5.4.1): kdc-options, realm, till,
        // nonce, etype; sname is required in an AS-REQ.
        let required = [0xa0, 0xa2, 0xa3, 0xa5, 0xa7, 0xa8];
        need(
            required.iter().all(|t| seen.contains(t)),
            "a required field is missing",
        )
    }

    fn kerberos_body_field(tag: u8, value: &[u8]) -> Check {
        match tag {
            0xa0 => need(
                only(value, 0x03, "kdc-options")?.len() == 5,
                "32-bit KerberosFlags",
            ),
            0xa1 | 0xa3 => principal(value),
            0xa2 => need(!only(value, 0x1b, "realm")?.is_empty(), "non-empty realm"),
            0xa5 => {
                let till = only(value, 0x18, "till")?;
                need(
                    till.len() == 15 && till.ends_with(b"Z"),
                    "KerberosTime YYYYMMDDHHMMSSZ",
                )
            }
            0xa7 => integer(&mut Reader(value), "nonce").map(drop),
            0xa8 => {
                let mut list = Reader(only(value, 0x30, "etype")?);
                need(!list.0.is_empty(), "at least one etype")?;
                while !list.0.is_empty() {
                    integer(&mut list, "etype")?;
                }
                Ok(())
            }
            other => Err(format!("unexpected KDC-REQ-BODY field {other:#04x}")),
        }
    }

    fn principal(value: &[u8]) -> Check {
        let mut name = Reader(only(value, 0x30, "PrincipalName")?);
        integer(
            &mut Reader(field(&mut name, 0xa0, "name-type")?),
            "name-type",
        )?;
        let mut strings = Reader(only(field(&mut name, 0xa1, "name-string")?, 0x30, "SEQ")?);
        name.done()?;
        need(!strings.0.is_empty(), "at least one name component")?;
        while !strings.0.is_empty() {
            field(&mut strings, 0x1b, "KerberosString")?;
        }
        Ok(())
    }

    // ---- fixed binary headers

    fn ntp(p: &[u8]) -> Check {
        need(
            p.len() == 48,
            "48 bytes, no extension fields (RFC 5905 7.3)",
        )?;
        need(p[0] & 0x7 == 3, "mode 3 (client)")?;
        need((p[0] >> 3) & 0x7 == 4, "version 4")?;
        need(
            p[40..48].iter().any(|&b| b != 0),
            "non-zero transmit timestamp",
        )
    }

    fn rpcbind(p: &[u8]) -> Check {
        let mut r = Reader(p);
        let _xid = r.u32()?;
        let fields = [r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?];
        need(
            fields == [0, 2, 100_000, 2, 0],
            "CALL rpcvers 2 prog 100000 vers 2 NULL",
        )?;
        for what in ["cred", "verf"] {
            need(r.u32()? == 0, &format!("{what}: AUTH_NONE"))?;
            let len = r.u32()?;
            need(len == 0, &format!("{what}: empty body"))?;
        }
        r.done()
    }

    fn tftp(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need(r.u16()? == 1, "opcode RRQ")?;
        let parts: Vec<&[u8]> = r.0.split(|&b| b == 0).collect();
        need(
            parts.len() == 3 && parts[2].is_empty(),
            "filename NUL mode NUL",
        )?;
        need(!parts[0].is_empty(), "non-empty filename")?;
        need(parts[1].eq_ignore_ascii_case(b"octet"), "mode octet")
    }

    fn memcached(p: &[u8]) -> Check {
        let mut r = Reader(p);
        let _request_id = r.u16()?;
        need(r.u16()? == 0, "sequence number 0")?;
        need(r.u16()? == 1, "total datagrams 1")?;
        need(r.u16()? == 0, "reserved 0")?;
        need(r.0 == b"version\r\n", "command \"version\\r\\n\"")
    }

    fn coap(p: &[u8]) -> Check {
        let mut r = Reader(p);
        let first = r.u8()?;
        need(first >> 6 == 1, "version 1")?;
        need((first >> 4) & 3 == 0, "type Confirmable")?;
        r.take(usize::from(first & 0xf))?; // token
        need(r.u8()? == 0x01, "code 0.01 GET")?;
        r.u16()?; // message ID
        let (mut number, mut path) = (0u32, Vec::new());
        while !r.0.is_empty() {
            let byte = r.u8()?;
            need(byte != 0xff, "a GET carries no payload")?;
            number += coap_ext(&mut r, byte >> 4)?;
            let len = coap_ext(&mut r, byte & 0xf)?;
            let value = r.take(usize::try_from(len).map_err(|e| e.to_string())?)?;
            need(number != 11 || !value.is_empty(), "Uri-Path segment")?;
            if number == 11 {
                path.push(value);
            }
        }
        need(
            path == [&b".well-known"[..], b"core"],
            "Uri-Path /.well-known/core",
        )
    }

    /// RFC 7252 3.1: option delta/length nibbles 13 and 14 take extension bytes.
    fn coap_ext(r: &mut Reader, nibble: u8) -> Result<u32, String> {
        match nibble {
            13 => Ok(u32::from(r.u8()?) + 13),
            14 => Ok(u32::from(r.u16()?) + 269),
            15 => Err("reserved nibble 15".into()),
            n => Ok(u32::from(n)),
        }
    }

    fn stun(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need(r.u16()? == 0x0001, "Binding request")?;
        let len = r.u16()?;
        need(r.u32()? == 0x2112_a442, "magic cookie")?;
        r.take(12)?; // transaction ID
        need(
            usize::from(len) == r.0.len() && len % 4 == 0,
            "message length",
        )
    }

    fn rip(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need([r.u8()?, r.u8()?] == [1, 2], "command request, version 2")?;
        need(r.u16()? == 0, "must-be-zero")?;
        need(r.u16()? == 0, "address family 0 (whole table)")?;
        r.take(2 + 4 * 3)?; // route tag, address, mask, next hop
        need(r.u32()? == 16, "metric 16 (infinity)")?;
        r.done()
    }

    fn openvpn(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need(
            r.u8()? == 7 << 3,
            "P_CONTROL_HARD_RESET_CLIENT_V2, key id 0",
        )?;
        r.take(8)?; // session ID
        need(r.u8()? == 0, "empty ack array")?;
        need(r.u32()? == 0, "message packet-id 0")?;
        r.done()
    }

    fn quic(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need(p.len() >= 1200, "padded to 1200 bytes (RFC 9000 14.1)")?;
        need(r.u8()? & 0xc0 == 0xc0, "long header with fixed bit")?;
        need(
            r.u32()? & 0x0f0f_0f0f == 0x0a0a_0a0a,
            "reserved version 0x?a?a?a?a",
        )?;
        let dcid = r.u8()?;
        need(
            (8..=20).contains(&dcid),
            "DCID of 8..=20 bytes (RFC 9000 7.2)",
        )?;
        r.take(usize::from(dcid))?;
        let scid = r.u8()?;
        need(scid <= 20, "SCID of at most 20 bytes")?;
        r.take(usize::from(scid)).map(drop)
    }

    fn ipmi(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need(r.take(4)? == [6, 0, 0xff, 6], "RMCP 1.0, no ACK, class ASF")?;
        need(r.u32()? == 4542, "ASF IANA number")?;
        need(r.u8()? == 0x80, "Presence Ping")?;
        r.take(2)?; // tag, reserved
        need(usize::from(r.u8()?) == r.0.len(), "data length")
    }

    // ---- type-length chains

    fn ike(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need(r.take(8)?.iter().any(|&b| b != 0), "non-zero initiator SPI")?;
        need(r.take(8)?.iter().all(|&b| b == 0), "zero responder SPI")?;
        let mut next = r.u8()?;
        need(r.u8()? == 0x20, "version 2.0")?;
        need(r.u8()? == 34, "IKE_SA_INIT")?;
        need(r.u8()? & 0x28 == 0x08, "Initiator flag, not a response")?;
        need(r.u32()? == 0, "message ID 0")?;
        need(usize::try_from(r.u32()?) == Ok(p.len()), "length field")?;
        let mut payloads = Vec::new();
        while next != 0 {
            let following = r.u8()?;
            r.u8()?; // critical bit, reserved
            let len = usize::from(r.u16()?);
            need(len >= 4, "payload length")?;
            payloads.push((next, r.take(len - 4)?));
            next = following;
        }
        r.done()?;
        let kinds: Vec<u8> = payloads.iter().map(|(k, _)| *k).collect();
        need(kinds == [33, 34, 40], "SA, KE, Nonce")?;
        let groups = ike_proposal(payloads[0].1)?;
        let mut ke = Reader(payloads[1].1);
        let group = ke.u16()?;
        need(
            groups.contains(&group),
            "KE group is one of the offered groups",
        )?;
        need(ke.u16()? == 0, "KE reserved")?;
        let want = match group {
            19 => 64,
            14 => 256,
            _ => return Err(format!("unchecked DH group {group}")),
        };
        need(
            ke.0.len() == want,
            "KE data length for its group (RFC 5903, 3526)",
        )?;
        need(
            (16..=256).contains(&payloads[2].1.len()),
            "nonce of 16..=256 bytes",
        )
    }

    /// One IKE proposal with transforms of all four types; returns the DH groups offered.
    fn ike_proposal(sa: &[u8]) -> Result<Vec<u16>, String> {
        let mut r = Reader(sa);
        need(r.u8()? == 0, "single (last) proposal")?;
        r.u8()?;
        need(usize::from(r.u16()?) == sa.len(), "proposal length")?;
        need(
            [r.u8()?, r.u8()?, r.u8()?] == [1, 1, 0],
            "proposal 1, IKE, no SPI",
        )?;
        let count = r.u8()?;
        let (mut types, mut groups) = (Vec::new(), Vec::new());
        for i in 0..count {
            let more = r.u8()?;
            need(more == if i + 1 == count { 0 } else { 3 }, "last/more flag")?;
            r.u8()?;
            let len = usize::from(r.u16()?);
            need(len >= 8, "transform length")?;
            let kind = r.u8()?;
            r.u8()?;
            let id = r.u16()?;
            r.take(len - 8)?; // attributes
            types.push(kind);
            if kind == 4 {
                groups.push(id);
            }
        }
        r.done()?;
        need(
            (1..=4).all(|t| types.contains(&t)),
            "ENCR, PRF, INTEG and D-H",
        )?;
        Ok(groups)
    }

    fn dtls(p: &[u8]) -> Check {
        let mut record = Reader(p);
        need(record.u8()? == 22, "record type handshake")?;
        need(
            [0xfeff, 0xfefd].contains(&record.u16()?),
            "record version DTLS 1.0 or 1.2",
        )?;
        need(
            record.take(8)?.iter().all(|&b| b == 0),
            "epoch 0, sequence number 0",
        )?;
        need(
            usize::from(record.u16()?) == record.0.len(),
            "record length",
        )?;
        let mut hs = Reader(record.0);
        need(hs.u8()? == 1, "handshake type ClientHello")?;
        let len = hs.take(3)?;
        need(
            hs.u16()? == 0 && hs.take(3)? == [0, 0, 0],
            "message_seq 0, offset 0",
        )?;
        need(
            hs.take(3)? == len,
            "unfragmented: fragment_length == length",
        )?;
        let len = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
        need(len == hs.0.len(), "handshake length")?;
        client_hello(hs.0)
    }

    /// RFC 6347 4.2.1 (TLS 1.2's ClientHello plus a cookie).
    fn client_hello(body: &[u8]) -> Check {
        let mut r = Reader(body);
        need(r.u16()? == 0xfefd, "client_version DTLS 1.2")?;
        r.take(32)?; // random
        let session = r.u8()?;
        need(session <= 32, "session_id of at most 32 bytes")?;
        r.take(usize::from(session))?;
        let cookie = r.u8()?;
        r.take(usize::from(cookie))?;
        let suites = usize::from(r.u16()?);
        need(suites >= 2 && suites % 2 == 0, "cipher suites: whole pairs")?;
        r.take(suites)?;
        let methods = usize::from(r.u8()?);
        need(r.take(methods)?.contains(&0), "null compression offered")?;
        need(usize::from(r.u16()?) == r.0.len(), "extensions length")?;
        let mut seen = Vec::new();
        while !r.0.is_empty() {
            let kind = r.u16()?;
            need(!seen.contains(&kind), "extension repeated")?;
            seen.push(kind);
            let len = usize::from(r.u16()?);
            r.take(len)?;
        }
        Ok(())
    }

    fn l2tp(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need(r.u16()? == 0xc802, "T, L and S bits, version 2")?;
        need(usize::from(r.u16()?) == p.len(), "length field")?;
        need(
            r.take(8)?.iter().all(|&b| b == 0),
            "tunnel, session, Ns, Nr all 0",
        )?;
        let mut types = Vec::new();
        while !r.0.is_empty() {
            let head = r.u16()?;
            let len = usize::from(head & 0x3ff);
            need(
                head & 0x8000 != 0 && len >= 6,
                "mandatory AVP of length >= 6",
            )?;
            need(r.u16()? == 0, "IETF vendor ID")?;
            let kind = r.u16()?;
            let value = r.take(len - 6)?;
            need(
                !types.is_empty() || (kind == 0 && value == [0, 1]),
                "first AVP: SCCRQ",
            )?;
            types.push(kind);
        }
        // RFC 2661 6.1: Message Type, Protocol Version, Framing Capabilities, Host Name,
        // Assigned Tunnel ID.
        need(
            [0, 2, 3, 7, 9].iter().all(|t| types.contains(t)),
            "a required AVP",
        )
    }

    fn slp(p: &[u8]) -> Check {
        let mut r = Reader(p);
        need([r.u8()?, r.u8()?] == [2, 1], "version 2, SrvRqst")?;
        let len = r.take(3)?;
        let len = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
        need(len == p.len(), "length field")?;
        need(
            r.u16()? & 0x2000 == 0,
            "no multicast flag on a unicast request",
        )?;
        need(r.take(3)? == [0, 0, 0], "no extensions")?;
        r.u16()?; // XID
        let mut string = || -> Result<&[u8], String> {
            let n = r.u16()?;
            r.take(usize::from(n))
        };
        need(string()? == b"en", "language tag")?;
        string()?; // previous responders
        need(string()? == b"service:service-agent", "service type")?;
        need(!string()?.is_empty(), "scope list")?;
        string()?; // predicate
        string()?; // SLP SPI
        r.done()
    }

    // ---- text protocols

    /// CRLF-separated head lines of a text message whose body is empty.
    fn text_lines(p: &[u8]) -> Result<Vec<&str>, String> {
        let text = std::str::from_utf8(p).map_err(|e| e.to_string())?;
        let head = text
            .strip_suffix("\r\n\r\n")
            .ok_or("must end with an empty line")?;
        let lines: Vec<&str> = head.split("\r\n").collect();
        need(
            lines.iter().all(|l| !l.contains(['\r', '\n'])),
            "bare CR or LF",
        )?;
        Ok(lines)
    }

    /// `Name: value` header lines, names lowercased.
    fn headers<'a>(lines: &[&'a str]) -> Result<BTreeMap<String, &'a str>, String> {
        let mut map = BTreeMap::new();
        for line in lines {
            let (name, value) = line.split_once(':').ok_or("header without ':'")?;
            let fresh = map
                .insert(name.to_ascii_lowercase(), value.trim())
                .is_none();
            need(fresh, "header repeated")?;
        }
        Ok(map)
    }

    fn sip(p: &[u8]) -> Check {
        let lines = text_lines(p)?;
        let request: Vec<&str> = lines[0].split(' ').collect();
        need(
            request.len() == 3 && request[0] == "OPTIONS",
            "OPTIONS request line",
        )?;
        need(
            request[1].starts_with("sip:") && request[2] == "SIP/2.0",
            "URI, SIP/2.0",
        )?;
        let h = headers(&lines[1..])?;
        let get = |name: &str| h.get(name).copied().ok_or(format!("no {name} header"));
        let via = get("via")?;
        need(via.starts_with("SIP/2.0/UDP "), "Via over UDP")?;
        need(via.contains(";branch=z9hG4bK"), "RFC 3261 branch cookie")?;
        need(via.split(';').any(|p| p == "rport"), "rport (RFC 3581)")?;
        need(get("max-forwards")?.parse::<u8>().is_ok(), "Max-Forwards")?;
        need(get("from")?.contains(";tag="), "From tag")?;
        need(
            !get("to")?.is_empty() && !get("call-id")?.is_empty(),
            "To, Call-ID",
        )?;
        need(get("cseq")?.ends_with(" OPTIONS"), "CSeq method matches")?;
        need(get("content-length")? == "0", "Content-Length 0")
    }

    fn ssdp(p: &[u8]) -> Check {
        let lines = text_lines(p)?;
        need(lines[0] == "M-SEARCH * HTTP/1.1", "M-SEARCH request line")?;
        let h = headers(&lines[1..])?;
        need(
            h.get("man") == Some(&"\"ssdp:discover\""),
            "MAN \"ssdp:discover\"",
        )?;
        need(
            h.contains_key("host") && h.contains_key("st"),
            "HOST and ST",
        )?;
        let mx = h.get("mx").and_then(|v| v.parse::<u8>().ok());
        need(mx.is_some_and(|mx| (1..=5).contains(&mx)), "MX of 1..=5 s")
    }

    fn ws_discovery(p: &[u8]) -> Check {
        let text = std::str::from_utf8(p).map_err(|e| e.to_string())?;
        need(text.starts_with("<?xml "), "XML declaration")?;
        need(text.ends_with("</soap:Envelope>"), "ends with the envelope")?;
        xml_balanced(text)?;
        let action = "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe<";
        need(text.contains(action), "Probe action")?;
        need(text.contains("<wsa:MessageID>urn:uuid:"), "MessageID")?;
        need(text.contains("<wsd:Probe>"), "Probe body")
    }

    /// Every element is closed in order and the document has one root.
    fn xml_balanced(text: &str) -> Check {
        let (mut stack, mut roots) = (Vec::new(), 0);
        for piece in text.split('<').skip(1) {
            let tag = piece.split('>').next().unwrap_or("");
            let name = tag
                .trim_start_matches('/')
                .split([' ', '/'])
                .next()
                .unwrap_or("");
            if tag.starts_with('?') {
                continue;
            } else if tag.starts_with('/') {
                need(stack.pop() == Some(name), &format!("stray </{name}>"))?;
            } else if !tag.ends_with('/') {
                roots += usize::from(stack.is_empty());
                stack.push(name);
            }
        }
        need(
            stack.is_empty() && roots == 1,
            "unclosed element or several roots",
        )
    }
}
