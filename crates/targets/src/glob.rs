//! Nmap's service-name wildcards: `*` matches any run of characters
//! (including none), `?` exactly one. Everything else matches itself.

/// Whether `text` matches `pattern` in full. Linear in practice: on a
/// mismatch only the most recent `*` is retried.
pub(crate) fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut retry: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                retry = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match retry {
                Some((star, from)) => {
                    retry = Some((star, from + 1));
                    p = star + 1;
                    t = from + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether `pattern` holds a wildcard.
pub(crate) fn is_pattern(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, t: &str) -> bool {
        matches(p.as_bytes(), t.as_bytes())
    }

    #[test]
    fn wildcards() {
        assert!(m("http", "http"));
        assert!(!m("http", "https"));
        assert!(m("http*", "http"));
        assert!(m("http*", "http-alt"));
        assert!(m("*sql*", "mysql"));
        assert!(m("h?tp", "http"));
        assert!(!m("h?tp", "htp"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYbc"));
        assert!(!m("a*b*c", "aXXbYYb"));
        assert!(!m("", "x"));
    }
}
