//! The title of the page an HTTP server sent back, as Nmap's `http-title`
//! reports it: the page's `<title>`, else a note that there is none (with the
//! content type), or, for a redirect, where it points.
//!
//! Any bytes are accepted: a cut or binary answer gives a note or `None`,
//! never a panic. Every text returned is one line of at most [`TITLE_MAX`]
//! characters without control characters.

/// Longest title (or redirect target, or content type) kept, in characters.
pub const TITLE_MAX: usize = 256;

/// Bytes searched for the end of a title once its start is found.
const TITLE_SCAN: usize = 8 * 1024;

/// What an HTTP answer says about its page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpTitle {
    /// The `<title>`, entities decoded and whitespace collapsed.
    Title(String),
    /// No title (or an empty one); the `Content-Type` header, if any.
    Untitled { content_type: Option<String> },
    /// A 3xx answer with a `Location` header.
    Redirect { location: String },
}

impl HttpTitle {
    /// The line Nmap's `http-title` prints: the title itself, `Site doesn't
    /// have a title (text/html).`, or `Did not follow redirect to /login`.
    pub fn text(&self) -> String {
        match self {
            HttpTitle::Title(t) => t.clone(),
            HttpTitle::Untitled {
                content_type: Some(ct),
            } => format!("Site doesn't have a title ({ct})."),
            HttpTitle::Untitled { content_type: None } => "Site doesn't have a title.".to_owned(),
            HttpTitle::Redirect { location } => format!("Did not follow redirect to {location}"),
        }
    }
}

/// Reads an HTTP answer (`HTTP/...` status line, headers, body). `None` when
/// `response` does not start with `HTTP/`. A 3xx status with a `Location`
/// header is a [`HttpTitle::Redirect`]; otherwise the body's first
/// `<title ...>` up to `</title>` (tags matched without regard to ASCII
/// case) is the title.
pub fn http_title(response: &[u8]) -> Option<HttpTitle> {
    if !response.starts_with(b"HTTP/") {
        return None;
    }
    let (head, body) = split_head(response);
    let mut lines = head.split(|&b| b == b'\n');
    let status = lines.next().map(status_code).unwrap_or_default();
    let headers: Vec<&[u8]> = lines.collect();
    if (300..400).contains(&status) {
        if let Some(location) = header(&headers, b"location") {
            return Some(HttpTitle::Redirect { location });
        }
    }
    match find_title(body).map(|raw| clean(&decode_entities(&String::from_utf8_lossy(raw)))) {
        Some(t) if !t.is_empty() => Some(HttpTitle::Title(t)),
        _ => Some(HttpTitle::Untitled {
            content_type: header(&headers, b"content-type"),
        }),
    }
}

/// Whether `response` holds all a title needs, so reading may stop: its head
/// has ended and it has a title, or is a redirect, or its body is as long as
/// its `Content-Length` says, or ends a chunked body.
pub fn page_complete(response: &[u8]) -> bool {
    let (head, body) = split_head(response);
    if head.len() == response.len() {
        return false;
    }
    if matches!(
        http_title(response),
        Some(HttpTitle::Title(_) | HttpTitle::Redirect { .. })
    ) {
        return true;
    }
    let headers: Vec<&[u8]> = head.split(|&b| b == b'\n').skip(1).collect();
    let length = header(&headers, b"content-length").and_then(|v| v.parse::<usize>().ok());
    match length {
        Some(n) => body.len() >= n,
        None => body.ends_with(b"\r\n0\r\n\r\n") || body == b"0\r\n\r\n",
    }
}

/// The head (status line and headers) and the body, split at the first empty
/// line; a head never ended has no body.
fn split_head(response: &[u8]) -> (&[u8], &[u8]) {
    for (i, w) in response.windows(2).enumerate() {
        if w == b"\n\n" {
            return (&response[..i], &response[i + 2..]);
        }
        if w == b"\n\r" && response.get(i + 2) == Some(&b'\n') {
            return (&response[..i], &response[i + 3..]);
        }
    }
    (response, &[])
}

/// `301` from `HTTP/1.1 301 Moved Permanently`; 0 when unreadable.
fn status_code(line: &[u8]) -> u16 {
    line.split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .nth(1)
        .map(<[u8]>::trim_ascii)
        .filter(|w| w.len() == 3 && w.iter().all(u8::is_ascii_digit))
        .and_then(|w| std::str::from_utf8(w).ok())
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

/// The value of the first header called `name` (lowercase), cleaned; `None`
/// when absent or empty.
fn header(headers: &[&[u8]], name: &[u8]) -> Option<String> {
    headers.iter().find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        let (key, value) = (&line[..colon], &line[colon + 1..]);
        if !key.trim_ascii().eq_ignore_ascii_case(name) {
            return None;
        }
        let value = &value[..value.len().min(TITLE_SCAN)];
        Some(clean(&String::from_utf8_lossy(value))).filter(|v| !v.is_empty())
    })
}

/// The raw text between the first `<title ...>` and the next `</title`.
fn find_title(body: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    loop {
        let at = from + find_ci(&body[from..], b"<title")?;
        let after = at + b"<title".len();
        from = after;
        match body.get(after) {
            Some(b'>') | Some(b' ' | b'\t' | b'\r' | b'\n' | b'/') => {}
            // `<titlebar>` and the like are other tags.
            _ => continue,
        }
        let open_end = after + body[after..].iter().position(|&b| b == b'>')? + 1;
        let rest = &body[open_end..];
        let rest = &rest[..rest.len().min(TITLE_SCAN)];
        let close = find_ci(rest, b"</title")?;
        return Some(&rest[..close]);
    }
}

/// Where `needle` (lowercase ASCII) first occurs in `hay`, ignoring ASCII case.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Decodes `&amp; &lt; &gt; &quot; &#39; &apos;` and numeric references
/// (`&#233;`, `&#xE9;`); anything else stays as written.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match entity(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity at the start of `s` stands for, and its length.
fn entity(s: &str) -> Option<(char, usize)> {
    // `;` is ASCII, so the slice ends on a character boundary.
    let semi = s.bytes().take(12).position(|b| b == b';')?;
    let name = &s[1..semi];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let num = name.strip_prefix('#')?;
            let (digits, radix) = match num.strip_prefix(['x', 'X']) {
                Some(hex) => (hex, 16),
                None => (num, 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            let code = u32::from_str_radix(digits, radix).ok()?;
            char::from_u32(code).filter(|&c| c != '\0')?
        }
    };
    Some((c, semi + 1))
}

/// One line: control characters and runs of whitespace become one space,
/// the ends are trimmed, and at most [`TITLE_MAX`] characters are kept.
fn clean(s: &str) -> String {
    let mut out = String::new();
    let mut kept = 0;
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        if kept == TITLE_MAX {
            break;
        }
        if space && kept > 0 {
            if kept + 1 == TITLE_MAX {
                break;
            }
            out.push(' ');
            kept += 1;
        }
        space = false;
        out.push(c);
        kept += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn title(r: &[u8]) -> Option<String> {
        http_title(r).map(|t| t.text())
    }

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n";

    #[test]
    fn entities_are_decoded() {
        let r = format!(
            "{OK}<html><title>Tom &amp; Jerry &lt;3&gt; &quot;x&quot; &#39;y&apos; &#233;&#xE9;&#X41; &bogus; &#xZZ; & end</title>"
        );
        assert_eq!(
            title(r.as_bytes()).as_deref(),
            Some("Tom & Jerry <3> \"x\" 'y' ééA &bogus; &#xZZ; & end")
        );
    }

    #[test]
    fn tags_in_any_case_with_attributes_and_whitespace() {
        let r = format!("{OK}<HEAD><TiTlE lang=\"en\" >\n\t  Welcome \r\n  to\t\tnginx!  </TITLE>");
        assert_eq!(title(r.as_bytes()).as_deref(), Some("Welcome to nginx!"));
        let r = format!("{OK}<titlebar>no</titlebar><title>yes</title>");
        assert_eq!(title(r.as_bytes()).as_deref(), Some("yes"));
        let r = format!("{OK}<title>first</title><title>second</title>");
        assert_eq!(
            http_title(r.as_bytes()),
            Some(HttpTitle::Title("first".into()))
        );
    }

    #[test]
    fn no_title_names_the_content_type() {
        let r = format!("{OK}<html><body>hi</body></html>");
        assert_eq!(
            title(r.as_bytes()).as_deref(),
            Some("Site doesn't have a title (text/html; charset=utf-8).")
        );
        let r = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n<title>  </title>";
        assert_eq!(
            http_title(r),
            Some(HttpTitle::Untitled { content_type: None })
        );
        assert_eq!(title(r).as_deref(), Some("Site doesn't have a title."));
        // A title in the headers is not the page's.
        let r = b"HTTP/1.0 200 OK\r\nX: <title>no</title>\r\n\r\n";
        assert_eq!(title(r).as_deref(), Some("Site doesn't have a title."));
    }

    #[test]
    fn redirects_say_where_they_point() {
        let r = b"HTTP/1.1 301 Moved Permanently\r\nlocation:  https://example.test/a b \r\n\r\n<title>Moved</title>";
        assert_eq!(
            http_title(r),
            Some(HttpTitle::Redirect {
                location: "https://example.test/a b".into()
            })
        );
        assert_eq!(
            title(r).as_deref(),
            Some("Did not follow redirect to https://example.test/a b")
        );
        // A 3xx without a Location, or a Location on a 200, is no redirect.
        let r = b"HTTP/1.1 304 Not Modified\r\n\r\n";
        assert_eq!(title(r).as_deref(), Some("Site doesn't have a title."));
        let r = b"HTTP/1.1 200 OK\nLocation: /x\n\n<title>Here</title>";
        assert_eq!(title(r).as_deref(), Some("Here"));
    }

    #[test]
    fn cut_binary_and_non_http_answers() {
        assert_eq!(http_title(b"SSH-2.0-x\r\n"), None);
        assert_eq!(http_title(b""), None);
        let cut = format!("{OK}<title>never closed");
        assert_eq!(
            title(cut.as_bytes()).as_deref(),
            Some("Site doesn't have a title (text/html; charset=utf-8).")
        );
        assert_eq!(
            title(b"HTTP/1.1 200 OK\r\nContent-Ty").as_deref(),
            Some("Site doesn't have a title.")
        );
        assert_eq!(
            title(b"HTTP/1.1 302").as_deref(),
            Some("Site doesn't have a title.")
        );
        let binary = b"HTTP/1.1 200 OK\r\n\r\n<title>\xff\xfe\x00ab\x1b[31m\x7fc</title>";
        assert_eq!(title(binary).as_deref(), Some("\u{fffd}\u{fffd} ab [31m c"));
        assert_eq!(
            title(b"HTTP/1.0 200 OK\r\n\r\n<title").as_deref(),
            Some("Site doesn't have a title.")
        );
    }

    #[test]
    fn a_page_is_complete_with_its_title_redirect_length_or_last_chunk() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        assert!(!page_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"));
        assert!(!page_complete(format!("{head}<html>").as_bytes()));
        assert!(page_complete(format!("{head}<html>1234").as_bytes()));
        assert!(page_complete(format!("{OK}<title>t</title>").as_bytes()));
        assert!(!page_complete(format!("{OK}<title>t").as_bytes()));
        assert!(page_complete(b"HTTP/1.1 302 Found\r\nLocation: /\r\n\r\n"));
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(!page_complete(
            format!("{chunked}5\r\nhello\r\n").as_bytes()
        ));
        assert!(page_complete(
            format!("{chunked}5\r\nhello\r\n0\r\n\r\n").as_bytes()
        ));
        assert!(!page_complete(b"SSH-2.0-x\r\n\r\n"));
    }

    #[test]
    fn long_titles_are_cut_to_the_limit() {
        let r = format!("{OK}<title>{}</title>", "word ".repeat(200));
        let t = title(r.as_bytes()).unwrap();
        assert!(t.chars().count() <= TITLE_MAX);
        assert!(t.starts_with("word word"));
        assert!(!t.ends_with(' '));
        let r = format!("{OK}<title>{}</title>", "é".repeat(1000));
        assert_eq!(title(r.as_bytes()).unwrap().chars().count(), TITLE_MAX);
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_give_one_bounded_line(
            body in proptest::collection::vec(any::<u8>(), 0..600),
            status in 100u16..600,
        ) {
            let mut r = format!("HTTP/1.1 {status} X\r\nLocation: /l\r\n\r\n<title>").into_bytes();
            r.extend_from_slice(&body);
            for input in [&r[..], &body[..]] {
                page_complete(input);
                if let Some(t) = http_title(input) {
                    let text = t.text();
                    prop_assert!(!text.chars().any(|c| c.is_control()));
                    prop_assert!(text.chars().count() <= TITLE_MAX + 40);
                }
            }
        }

        #[test]
        fn titles_from_any_text(t in "\\PC{0,300}") {
            let r = format!("HTTP/1.0 200 OK\r\n\r\n<title>{t}</title>");
            let got = http_title(r.as_bytes());
            prop_assert!(got.is_some());
        }
    }
}
