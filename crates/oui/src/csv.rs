//! A small, lenient CSV record reader (RFC 4180 quoting) for the IEEE registry files.
//!
//! The registry files quote fields that hold commas, double embedded quotes (`""`), and
//! let quoted addresses run over several lines; lines end in CRLF. The reader borrows
//! from the input and allocates only for fields with doubled quotes.
//!
//! Leniency, so that any input gives records rather than a panic: a quote inside an
//! unquoted field is an ordinary character; text after a closing quote is kept as part
//! of the field; a lone CR or LF ends a record as CRLF does. The only malformed record
//! is one whose quoted field is never closed (it runs to the end of the input).

use std::borrow::Cow;

/// Fields beyond this many are parsed over but not kept: the registry has four.
pub(crate) const MAX_FIELDS: usize = 4;

/// A record whose quoted field never closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unterminated;

/// Reads records one at a time from a text.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

/// How a field ended.
enum End {
    Comma,
    Record,
    Unterminated,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Reader { text, pos: 0 }
    }

    /// Reads the next record's first [`MAX_FIELDS`] fields into `fields` (cleared first).
    /// `None` at the end of the input.
    pub(crate) fn next_record(
        &mut self,
        fields: &mut Vec<Cow<'a, str>>,
    ) -> Option<Result<(), Unterminated>> {
        fields.clear();
        if self.pos >= self.text.len() {
            return None;
        }
        loop {
            let (field, end) = self.field();
            if fields.len() < MAX_FIELDS {
                fields.push(field);
            }
            match end {
                End::Comma => {}
                End::Record => return Some(Ok(())),
                End::Unterminated => return Some(Err(Unterminated)),
            }
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn field(&mut self) -> (Cow<'a, str>, End) {
        if self.rest().first() == Some(&b'"') {
            self.pos += 1;
            self.quoted()
        } else {
            let (field, end) = self.unquoted();
            (Cow::Borrowed(field), end)
        }
    }

    /// The body of a quoted field, `pos` just past its opening quote.
    fn quoted(&mut self) -> (Cow<'a, str>, End) {
        let mut owned: Option<String> = None;
        let mut start = self.pos;
        loop {
            let Some(q) = self.rest().iter().position(|&b| b == b'"') else {
                let piece = self.slice(start, self.text.len());
                self.pos = self.text.len();
                return (join(owned, piece), End::Unterminated);
            };
            let quote = self.pos + q;
            self.pos = quote + 1;
            if self.rest().first() == Some(&b'"') {
                // A doubled quote: keep one, carry on past the other.
                let piece = self.slice(start, quote + 1);
                owned.get_or_insert_with(String::new).push_str(&piece);
                self.pos += 1;
                start = self.pos;
                continue;
            }
            let piece = self.slice(start, quote);
            let field = join(owned, piece);
            return self.after_quote(field);
        }
    }

    /// Text between a closing quote and the delimiter is kept, as a lenient reader does.
    fn after_quote(&mut self, field: Cow<'a, str>) -> (Cow<'a, str>, End) {
        let (tail, end) = self.unquoted();
        if tail.is_empty() {
            return (field, end);
        }
        let mut s = field.into_owned();
        s.push_str(tail);
        (Cow::Owned(s), end)
    }

    /// Text up to the next delimiter, and that delimiter.
    fn unquoted(&mut self) -> (&'a str, End) {
        let start = self.pos;
        let rest = self.rest();
        let len = rest
            .iter()
            .position(|&b| matches!(b, b',' | b'\r' | b'\n'))
            .unwrap_or(rest.len());
        self.pos += len;
        let text = self.text.get(start..self.pos).unwrap_or_default();
        (text, self.delimiter())
    }

    /// Consumes the delimiter at `pos`: a comma, CRLF, CR, LF, or the end of input.
    fn delimiter(&mut self) -> End {
        match self.rest() {
            [b',', ..] => {
                self.pos += 1;
                End::Comma
            }
            [b'\r', b'\n', ..] => {
                self.pos += 2;
                End::Record
            }
            [b'\r' | b'\n', ..] => {
                self.pos += 1;
                End::Record
            }
            _ => End::Record,
        }
    }

    /// Delimiters are ASCII, so every index this reader stops at is a char boundary;
    /// `get` keeps that an invariant checked rather than assumed.
    fn slice(&self, start: usize, end: usize) -> Cow<'a, str> {
        Cow::Borrowed(self.text.get(start..end).unwrap_or_default())
    }
}

fn join<'a>(owned: Option<String>, piece: Cow<'a, str>) -> Cow<'a, str> {
    match owned {
        None => piece,
        Some(mut s) => {
            s.push_str(&piece);
            Cow::Owned(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn records(text: &str) -> Vec<Result<Vec<String>, Unterminated>> {
        let mut reader = Reader::new(text);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        while let Some(r) = reader.next_record(&mut fields) {
            out.push(r.map(|()| fields.iter().map(|f| f.to_string()).collect()));
        }
        out
    }

    fn ok(fields: &[&str]) -> Result<Vec<String>, Unterminated> {
        Ok(fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn plain_fields_and_crlf() {
        assert_eq!(
            records("a,b,c\r\nd,,f\r\n"),
            vec![ok(&["a", "b", "c"]), ok(&["d", "", "f"])]
        );
    }

    #[test]
    fn quoted_comma_doubled_quote_and_newline() {
        let text = "MA-L,001EFC,\"JSC \"\"MASSA-K\"\"\",\"15, A,\r\nSaint-Petersburg \"\r\nx,y\n";
        assert_eq!(
            records(text),
            vec![
                ok(&[
                    "MA-L",
                    "001EFC",
                    "JSC \"MASSA-K\"",
                    "15, A,\r\nSaint-Petersburg "
                ]),
                ok(&["x", "y"]),
            ]
        );
    }

    #[test]
    fn lenient_quotes() {
        // A quote inside an unquoted field is literal; text after a closing quote is kept.
        assert_eq!(records("a\"b,\"c\"d,e\n"), vec![ok(&["a\"b", "cd", "e"])]);
    }

    #[test]
    fn unterminated_quote_is_reported() {
        assert_eq!(
            records("a,b\n\"c,d\ne,f\n"),
            vec![ok(&["a", "b"]), Err(Unterminated)]
        );
    }

    #[test]
    fn no_final_newline_and_trailing_comma() {
        assert_eq!(records("a,b,"), vec![ok(&["a", "b", ""])]);
        assert_eq!(records(""), Vec::new());
        assert_eq!(records("\n"), vec![ok(&[""])]);
    }

    #[test]
    fn extra_fields_are_dropped() {
        assert_eq!(records("1,2,3,4,5,6\n"), vec![ok(&["1", "2", "3", "4"])]);
    }

    /// Quotes a field as a CSV writer does.
    fn quote(field: &str) -> String {
        format!("\"{}\"", field.replace('"', "\"\""))
    }

    proptest! {
        #[test]
        fn never_panics_and_always_advances(text in any::<String>()) {
            let mut reader = Reader::new(&text);
            let mut fields = Vec::new();
            let mut n = 0usize;
            while reader.next_record(&mut fields).is_some() {
                n += 1;
                // Each record consumes at least one byte.
                prop_assert!(n <= text.len());
            }
        }

        #[test]
        fn quoted_fields_round_trip(
            rows in proptest::collection::vec(
                proptest::collection::vec(any::<String>(), 1..=MAX_FIELDS), 1..8)
        ) {
            let text: String = rows
                .iter()
                .map(|row| row.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",") + "\r\n")
                .collect();
            let expected: Vec<_> = rows.iter().map(|r| Ok(r.clone())).collect();
            prop_assert_eq!(records(&text), expected);
        }
    }
}
