//! The few DNS messages reverse lookups need (RFC 1035 §4, RFC 3596 §2.5): a PTR query
//! encoder and a response decoder.
//!
//! The decoder reads the header, the question section and the answer section; it ignores
//! the authority and additional sections. Every length and offset comes from the message and
//! is checked before use: any byte sequence yields a [`Response`] or a [`DecodeError`], never
//! a panic. Compressed names are followed only backwards (each pointer must land before the
//! start of the run of labels that holds it, RFC 1035 §4.1.4 "a prior occurrence"), so a
//! pointer loop cannot be built; names longer than 255 bytes are refused.

use std::net::IpAddr;

/// Resource record type PTR (RFC 1035 §3.2.2).
pub const TYPE_PTR: u16 = 12;
/// Resource record type CNAME (RFC 1035 §3.2.2).
pub const TYPE_CNAME: u16 = 5;
/// Class IN (RFC 1035 §3.2.4).
pub const CLASS_IN: u16 = 1;
/// Response code NXDOMAIN ("name error", RFC 1035 §4.1.1).
pub const RCODE_NXDOMAIN: u8 = 3;

const HEADER_LEN: usize = 12;
const MAX_NAME_LEN: usize = 255;
const MAX_LABEL_LEN: usize = 63;
/// More pointers than this in one name is hostile even when each points backwards.
const MAX_POINTERS: usize = 64;

const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;

/// Why a datagram is not a DNS response we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message ends before the field at this offset.
    #[error("message truncated at offset {0}")]
    Truncated(usize),
    /// A label length byte with the reserved 0b01 or 0b10 high bits, at this offset.
    #[error("unsupported label type at offset {0}")]
    LabelType(usize),
    /// A compression pointer at this offset points forwards, or to itself.
    #[error("compression pointer at offset {0} does not point backwards")]
    BadPointer(usize),
    /// A name longer than 255 bytes (or with too many pointers) starting at this offset.
    #[error("name at offset {0} is too long")]
    NameTooLong(usize),
    /// The datagram is a query (QR bit clear), not a response.
    #[error("not a response")]
    NotResponse,
    /// A record's data does not match its own length field, at this offset.
    #[error("record data at offset {0} does not fit its length")]
    BadRecordData(usize),
}

/// A domain name in uncompressed wire form (length-prefixed labels, ending with the root's
/// zero byte). Comparisons that matter to DNS are ASCII case-insensitive (RFC 4343).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(Vec<u8>);

impl Name {
    /// The reverse-mapping name of `addr`: `d.c.b.a.in-addr.arpa` (RFC 1035 §3.5) or the
    /// 32 reversed nibbles under `ip6.arpa` (RFC 3596 §2.5).
    pub fn reverse(addr: IpAddr) -> Name {
        let mut wire = Vec::with_capacity(74);
        match addr {
            IpAddr::V4(v4) => {
                for octet in v4.octets().iter().rev() {
                    push_label(&mut wire, octet.to_string().as_bytes());
                }
                push_label(&mut wire, b"in-addr");
            }
            IpAddr::V6(v6) => {
                for byte in v6.octets().iter().rev() {
                    push_label(&mut wire, &[hex_digit(byte & 0x0f)]);
                    push_label(&mut wire, &[hex_digit(byte >> 4)]);
                }
                push_label(&mut wire, b"ip6");
            }
        }
        push_label(&mut wire, b"arpa");
        wire.push(0);
        Name(wire)
    }

    /// The name in wire form.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// True when both names are equal ignoring ASCII case.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }

    /// True for the root name (a single zero byte).
    pub fn is_root(&self) -> bool {
        self.0.len() <= 1
    }

    /// The labels, in order.
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: &self.0 }
    }

    /// Presentation form without the trailing dot (RFC 1035 §5.1). Bytes outside printable
    /// ASCII, and `.` or `\` inside a label, are escaped (`\DDD`, `\.`, `\\`), so a hostile
    /// name cannot smuggle control characters or fake label boundaries into output.
    pub fn to_presentation(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                out.push('.');
            }
            for &b in label {
                escape_byte(&mut out, b);
            }
        }
        out
    }
}

/// Iterator over the labels of a [`Name`].
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let label = tail.get(..usize::from(len)).filter(|_| len > 0)?;
        self.rest = &tail[label.len()..];
        Some(label)
    }
}

fn escape_byte(out: &mut String, b: u8) {
    match b {
        b'.' | b'\\' => {
            out.push('\\');
            out.push(char::from(b));
        }
        0x21..=0x7e => out.push(char::from(b)),
        _ => out.push_str(&format!("\\{b:03}")),
    }
}

fn hex_digit(nibble: u8) -> u8 {
    b"0123456789abcdef"[usize::from(nibble & 0x0f)]
}

/// Appends one label; callers pass labels of at most 63 bytes.
fn push_label(wire: &mut Vec<u8>, label: &[u8]) {
    debug_assert!(label.len() <= MAX_LABEL_LEN);
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
}

/// Writes a standard recursive query (RD set) for `qname`, type PTR, class IN into `out`
/// (cleared first).
pub fn encode_ptr_query(id: u16, qname: &Name, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&FLAG_RD.to_be_bytes());
    for count in [1u16, 0, 0, 0] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(qname.as_wire());
    out.extend_from_slice(&TYPE_PTR.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
}

/// The question a response repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// One answer record. `target` holds the decoded name for PTR and CNAME records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub owner: Name,
    pub rtype: u16,
    pub rclass: u16,
    pub target: Option<Name>,
}

/// A decoded response: the header fields reverse lookups use, the question section and the
/// answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    pub opcode: u8,
    pub truncated: bool,
    pub rcode: u8,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
}

impl Response {
    /// Follows the answer section from `qname` through CNAME records (RFC 2317 delegation)
    /// to the first usable PTR target. Chains are followed at most 8 links deep.
    pub fn ptr_target(&self, qname: &Name) -> Option<&Name> {
        let mut current = qname;
        for _ in 0..=8 {
            let owned_by = |r: &&Record| r.rclass == CLASS_IN && r.owner.eq_ignore_case(current);
            let ptr = self
                .answers
                .iter()
                .filter(owned_by)
                .find(|r| r.rtype == TYPE_PTR);
            if let Some(target) = ptr.and_then(|r| r.target.as_ref()) {
                return Some(target).filter(|t| !t.is_root());
            }
            let cname = self
                .answers
                .iter()
                .filter(owned_by)
                .find(|r| r.rtype == TYPE_CNAME);
            current = cname.and_then(|r| r.target.as_ref())?;
        }
        None
    }
}

/// Decodes a response. Queries (QR clear) are refused; the authority and additional
/// sections are not read.
pub fn parse_response(msg: &[u8]) -> Result<Response, DecodeError> {
    let header = msg
        .get(..HEADER_LEN)
        .ok_or(DecodeError::Truncated(msg.len()))?;
    let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let flags = word(2);
    if flags & FLAG_QR == 0 {
        return Err(DecodeError::NotResponse);
    }
    let mut pos = HEADER_LEN;
    let questions = (0..word(4))
        .map(|_| read_question(msg, &mut pos))
        .collect::<Result<Vec<_>, _>>()?;
    let answers = (0..word(6))
        .map(|_| read_record(msg, &mut pos))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Response {
        id: word(0),
        opcode: ((flags >> 11) & 0x0f) as u8,
        truncated: flags & FLAG_TC != 0,
        rcode: (flags & 0x000f) as u8,
        questions,
        answers,
    })
}

fn read_u16(msg: &[u8], pos: usize) -> Result<u16, DecodeError> {
    match msg.get(pos..pos + 2) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(DecodeError::Truncated(pos)),
    }
}

fn read_question(msg: &[u8], pos: &mut usize) -> Result<Question, DecodeError> {
    let (name, next) = read_name(msg, *pos)?;
    let qtype = read_u16(msg, next)?;
    let qclass = read_u16(msg, next + 2)?;
    *pos = next + 4;
    Ok(Question {
        name,
        qtype,
        qclass,
    })
}

fn read_record(msg: &[u8], pos: &mut usize) -> Result<Record, DecodeError> {
    let (owner, next) = read_name(msg, *pos)?;
    let rtype = read_u16(msg, next)?;
    let rclass = read_u16(msg, next + 2)?;
    // next + 4 .. next + 8 is the TTL, which reverse lookups do not keep.
    let rdlength = usize::from(read_u16(msg, next + 8)?);
    let rdata = next + 10;
    let end = rdata + rdlength;
    if end > msg.len() {
        return Err(DecodeError::Truncated(rdata));
    }
    let target = match rtype {
        TYPE_PTR | TYPE_CNAME => {
            let (name, name_end) = read_name(msg, rdata)?;
            if name_end != end {
                return Err(DecodeError::BadRecordData(rdata));
            }
            Some(name)
        }
        _ => None,
    };
    *pos = end;
    Ok(Record {
        owner,
        rtype,
        rclass,
        target,
    })
}

/// Reads a possibly compressed name at `start`; returns it and the offset just past its
/// encoding at `start` (past the first pointer, if any).
fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize), DecodeError> {
    let mut wire = Vec::with_capacity(32);
    let mut pos = start;
    let mut run_start = start;
    let mut after: Option<usize> = None;
    let mut pointers = 0;
    loop {
        let len = *msg.get(pos).ok_or(DecodeError::Truncated(pos))?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                wire.push(0);
                return Ok((Name(wire), after.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or(DecodeError::Truncated(pos + 1))?;
                // Room must remain for the root's zero byte.
                if wire.len() + 1 + label.len() + 1 > MAX_NAME_LEN {
                    return Err(DecodeError::NameTooLong(start));
                }
                wire.push(len);
                wire.extend_from_slice(label);
                pos += 1 + label.len();
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(DecodeError::Truncated(pos + 1))?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                if target >= run_start {
                    return Err(DecodeError::BadPointer(pos));
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(DecodeError::NameTooLong(start));
                }
                after.get_or_insert(pos + 2);
                pos = target;
                run_start = target;
            }
            _ => return Err(DecodeError::LabelType(pos)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn name(text: &str) -> Name {
        let mut wire = Vec::new();
        for label in text.split('.').filter(|l| !l.is_empty()) {
            push_label(&mut wire, label.as_bytes());
        }
        wire.push(0);
        Name(wire)
    }

    /// Header of a response: id, flags, then QD/AN/NS/AR counts.
    fn header(id: u16, flags: u16, qd: u16, an: u16) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [id, flags, qd, an, 0, 0] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out
    }

    fn rr_header(out: &mut Vec<u8>, rtype: u16, rdlength: u16) {
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&3600u32.to_be_bytes());
        out.extend_from_slice(&rdlength.to_be_bytes());
    }

    #[test]
    fn ipv4_reverse_name_reverses_octets() {
        let n = Name::reverse(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)));
        assert_eq!(n.to_presentation(), "1.0.18.198.in-addr.arpa");
        assert_eq!(n.as_wire()[..4], [1, b'1', 1, b'0']);
    }

    #[test]
    fn ipv6_reverse_name_is_32_reversed_nibbles() {
        let addr: Ipv6Addr = "2001:db8::abc:1".parse().unwrap();
        let n = Name::reverse(IpAddr::V6(addr));
        assert_eq!(
            n.to_presentation(),
            "1.0.0.0.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(n.labels().count(), 34);
    }

    #[test]
    fn query_bytes_are_exact() {
        let mut out = Vec::new();
        let qname = Name::reverse(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        encode_ptr_query(0xbeef, &qname, &mut out);
        let mut want = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x011\x010\x010\x03127\x07in-addr\x04arpa\x00");
        want.extend_from_slice(&[0, 12, 0, 1]);
        assert_eq!(out, want);
    }

    /// A response with a compressed PTR owner (pointer to the question) and a target that
    /// itself points into the owner's suffix.
    #[test]
    fn decodes_compressed_ptr_answer() {
        let qname = name("1.0.18.198.in-addr.arpa");
        let mut msg = header(7, 0x8180, 1, 1);
        msg.extend_from_slice(qname.as_wire());
        msg.extend_from_slice(&[0, 12, 0, 1]);
        msg.extend_from_slice(&[0xc0, 12]);
        let target = b"\x04host\x07example\xc0\x1f"; // "host.example" + "arpa" at offset 31
        rr_header(&mut msg, TYPE_PTR, target.len() as u16);
        msg.extend_from_slice(target);
        assert_eq!(msg[31..36], *b"\x04arpa");
        let resp = parse_response(&msg).unwrap();
        assert_eq!(resp.id, 7);
        assert_eq!(resp.rcode, 0);
        assert_eq!(resp.questions[0].name, qname);
        assert_eq!(resp.answers[0].owner, qname);
        let ptr = resp.ptr_target(&qname).unwrap();
        assert_eq!(ptr.to_presentation(), "host.example.arpa");
    }

    #[test]
    fn follows_cname_to_ptr_case_insensitively() {
        let qname = name("5.0.18.198.in-addr.arpa");
        let alias = name("5.0/26.0.18.198.in-addr.arpa");
        let resp = Response {
            id: 1,
            opcode: 0,
            truncated: false,
            rcode: 0,
            questions: vec![],
            answers: vec![
                Record {
                    owner: name("5.0/26.0.18.198.IN-ADDR.arpa"),
                    rtype: TYPE_PTR,
                    rclass: CLASS_IN,
                    target: Some(name("five.example")),
                },
                Record {
                    owner: name("5.0.18.198.in-addr.ARPA"),
                    rtype: TYPE_CNAME,
                    rclass: CLASS_IN,
                    target: Some(alias),
                },
            ],
        };
        let ptr = resp.ptr_target(&qname).unwrap();
        assert_eq!(ptr.to_presentation(), "five.example");
        assert!(resp.ptr_target(&name("6.0.18.198.in-addr.arpa")).is_none());
    }

    #[test]
    fn cname_loop_in_answers_ends() {
        let a = name("a.example");
        let b = name("b.example");
        let cname = |owner: &Name, target: &Name| Record {
            owner: owner.clone(),
            rtype: TYPE_CNAME,
            rclass: CLASS_IN,
            target: Some(target.clone()),
        };
        let resp = Response {
            id: 1,
            opcode: 0,
            truncated: false,
            rcode: 0,
            questions: vec![],
            answers: vec![cname(&a, &b), cname(&b, &a)],
        };
        assert!(resp.ptr_target(&a).is_none());
    }

    #[test]
    fn pointer_to_itself_is_refused() {
        let mut msg = header(1, 0x8180, 1, 0);
        msg.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1]);
        assert_eq!(parse_response(&msg), Err(DecodeError::BadPointer(12)));
    }

    #[test]
    fn forward_pointer_is_refused() {
        let mut msg = header(1, 0x8180, 1, 0);
        msg.extend_from_slice(&[0xc0, 14, 0, 0, 12, 0, 1]);
        assert_eq!(parse_response(&msg), Err(DecodeError::BadPointer(12)));
    }

    #[test]
    fn two_pointer_loop_is_refused() {
        // Offset 12: label "a" then a pointer to 16; offset 16: a pointer back to 12.
        let mut msg = header(1, 0x8180, 1, 0);
        msg.extend_from_slice(&[1, b'a', 0xc0, 16, 0xc0, 12, 0, 12, 0, 1]);
        assert_eq!(parse_response(&msg), Err(DecodeError::BadPointer(14)));
    }

    #[test]
    fn overlong_name_is_refused() {
        let mut msg = header(1, 0x8180, 1, 0);
        for _ in 0..5 {
            msg.push(63);
            msg.extend_from_slice(&[b'x'; 63]);
        }
        msg.extend_from_slice(&[0, 0, 12, 0, 1]);
        assert_eq!(parse_response(&msg), Err(DecodeError::NameTooLong(12)));
    }

    #[test]
    fn reserved_label_type_is_refused() {
        let mut msg = header(1, 0x8180, 1, 0);
        msg.extend_from_slice(&[0x40, 0, 0, 12, 0, 1]);
        assert_eq!(parse_response(&msg), Err(DecodeError::LabelType(12)));
    }

    #[test]
    fn ptr_rdata_longer_than_its_name_is_refused() {
        let mut msg = header(1, 0x8180, 0, 1);
        msg.push(0);
        rr_header(&mut msg, TYPE_PTR, 3);
        msg.extend_from_slice(&[1, b'x', 0]);
        assert!(parse_response(&msg).is_ok());
        msg[22] = 4; // low byte of RDLENGTH: one byte more than the data
        assert!(matches!(
            parse_response(&msg),
            Err(DecodeError::Truncated(_))
        ));
        msg.push(0);
        assert!(matches!(
            parse_response(&msg),
            Err(DecodeError::BadRecordData(_))
        ));
    }

    #[test]
    fn query_is_not_a_response() {
        let mut out = Vec::new();
        encode_ptr_query(1, &name("x.arpa"), &mut out);
        assert_eq!(parse_response(&out), Err(DecodeError::NotResponse));
    }

    #[test]
    fn presentation_escapes_hostile_bytes() {
        let mut wire = Vec::new();
        push_label(&mut wire, b"a.b\\c");
        push_label(&mut wire, b"x\n y");
        wire.push(0);
        assert_eq!(Name(wire).to_presentation(), "a\\.b\\\\c.x\\010\\032y");
    }

    #[test]
    fn every_truncation_of_a_valid_response_is_an_error() {
        let qname = name("1.0.18.198.in-addr.arpa");
        let mut msg = header(7, 0x8180, 1, 1);
        msg.extend_from_slice(qname.as_wire());
        msg.extend_from_slice(&[0, 12, 0, 1, 0xc0, 12]);
        rr_header(&mut msg, TYPE_PTR, 4);
        msg.extend_from_slice(b"\x01h\xc0\x17"); // "h" + "in-addr.arpa" at offset 23
        let resp = parse_response(&msg).unwrap();
        let ptr = resp.ptr_target(&qname).unwrap();
        assert_eq!(ptr.to_presentation(), "h.in-addr.arpa");
        for len in 0..msg.len() {
            assert!(
                parse_response(&msg[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
    }

    proptest! {
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_response(&bytes);
        }

        /// Arbitrary bytes after a plausible header exercise the name and record paths.
        #[test]
        fn decoder_never_panics_after_valid_header(
            qd in 0u16..4, an in 0u16..8,
            body in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut msg = header(1, 0x8180, qd, an);
            msg.extend_from_slice(&body);
            if let Ok(resp) = parse_response(&msg) {
                for r in &resp.answers {
                    prop_assert!(r.owner.as_wire().len() <= MAX_NAME_LEN);
                    let _ = r.owner.to_presentation();
                }
            }
        }

        #[test]
        fn encoded_ptr_answers_decode_to_the_same_name(
            labels in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 1..=20), 1..8),
            id in any::<u16>(),
        ) {
            let qname = name("9.8.7.6.in-addr.arpa");
            let mut target = Vec::new();
            for l in &labels {
                push_label(&mut target, l);
            }
            target.push(0);
            let mut msg = header(id, 0x8180, 1, 1);
            msg.extend_from_slice(qname.as_wire());
            msg.extend_from_slice(&[0, 12, 0, 1, 0xc0, 12]);
            rr_header(&mut msg, TYPE_PTR, target.len() as u16);
            msg.extend_from_slice(&target);
            let resp = parse_response(&msg).unwrap();
            prop_assert_eq!(resp.id, id);
            prop_assert_eq!(resp.ptr_target(&qname).map(|n| n.as_wire().to_vec()), Some(target));
        }
    }
}
