//! Nmap's spellings in front of clap.
//!
//! Nmap uses multi-letter single-dash options (`-sT`, `-Pn`, `-oX`, `-iL`)
//! that clap cannot express, so they are rewritten to long options before
//! parsing (`-sT` → `--sT`). Everything else passes through untouched. A
//! token in one of Nmap's option families that we do not know is an error
//! naming that exact token, before anything else happens.

use std::fmt;

/// Multi-letter single-dash options and the long option each becomes.
const MULTI: &[(&str, &str)] = &[
    ("-sT", "--sT"),
    ("-sS", "--sS"),
    ("-sU", "--sU"),
    ("-sA", "--sA"),
    ("-sW", "--sW"),
    ("-sM", "--sM"),
    ("-sF", "--sF"),
    ("-sN", "--sN"),
    ("-sX", "--sX"),
    ("-sn", "--sn"),
    ("-sL", "--sL"),
    ("-PE", "--PE"),
    ("-PP", "--PP"),
    ("-PM", "--PM"),
    ("-PR", "--PR"),
    ("-sV", "--sV"),
    ("-Pn", "--Pn"),
    ("-iL", "--iL"),
    ("-oN", "--oN"),
    ("-oX", "--oX"),
    ("-oG", "--oG"),
    ("-oJ", "--oJ"),
    ("-oA", "--oA"),
];

/// Families whose members are all multi-letter: `-s?`, `-P?`, `-o?`, `-i?`.
const FAMILIES: &[&str] = &["-s", "-P", "-o", "-i"];

/// A token in one of Nmap's option families that Portolan does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOption(pub String);

impl fmt::Display for UnknownOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown option '{}' (see 'portolan -h')", self.0)
    }
}

/// Rewrites Nmap-style tokens; the program name (first token) is kept.
pub fn normalize(args: Vec<String>) -> Result<Vec<String>, UnknownOption> {
    let mut out = Vec::with_capacity(args.len() + 4);
    let mut it = args.into_iter();
    out.extend(it.next());
    let mut after_separator = false;
    for tok in it {
        if after_separator || !tok.starts_with('-') || tok.starts_with("--") {
            after_separator |= tok == "--";
            out.push(tok);
            continue;
        }
        out.extend(rewrite(&tok)?);
    }
    Ok(out)
}

fn rewrite(tok: &str) -> Result<Vec<String>, UnknownOption> {
    if let Some((_, long)) = MULTI.iter().find(|(short, _)| *short == tok) {
        return Ok(vec![long.to_string()]);
    }
    // `-p-`, `-p1-100`, `-T4` carry their value attached.
    // -PS, -PA and -PU take an optional port list, attached: -PS22,443.
    for flag in ["-PS", "-PA", "-PU"] {
        if let Some(rest) = tok.strip_prefix(flag) {
            return Ok(vec![format!("-{flag}={rest}")]);
        }
    }
    if let Some(rest) = tok.strip_prefix("-p").filter(|r| !r.is_empty()) {
        return Ok(vec!["-p".into(), rest.into()]);
    }
    if FAMILIES
        .iter()
        .any(|f| tok.starts_with(f) && tok.len() > f.len())
    {
        return Err(UnknownOption(tok.to_string()));
    }
    Ok(vec![tok.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Result<Vec<String>, UnknownOption> {
        normalize(s.split(' ').map(String::from).collect())
    }

    #[test]
    fn nmap_tokens_become_long_options() {
        assert_eq!(
            n("portolan -sT -Pn -oX f.xml -iL - 198.18.0.1").unwrap(),
            [
                "portolan",
                "--sT",
                "--Pn",
                "--oX",
                "f.xml",
                "--iL",
                "-",
                "198.18.0.1"
            ]
        );
    }

    #[test]
    fn attached_port_values_are_split() {
        assert_eq!(n("portolan -p- x").unwrap(), ["portolan", "-p", "-", "x"]);
        assert_eq!(n("portolan -p22,80").unwrap(), ["portolan", "-p", "22,80"]);
        assert_eq!(
            n("portolan -T4 -vv -6").unwrap(),
            ["portolan", "-T4", "-vv", "-6"]
        );
    }

    #[test]
    fn unknown_family_members_are_named() {
        assert_eq!(
            n("portolan -sZ x").unwrap_err(),
            UnknownOption("-sZ".into())
        );
        assert_eq!(n("portolan -oZ f").unwrap_err().0, "-oZ");
    }

    #[test]
    fn ping_probe_flags_keep_their_attached_ports() {
        assert_eq!(
            n("portolan -PS22,443 -PA -PU53 -PE -sn x").unwrap(),
            [
                "portolan",
                "--PS=22,443",
                "--PA=",
                "--PU=53",
                "--PE",
                "--sn",
                "x"
            ]
        );
        assert_eq!(n("portolan -PZ x").unwrap_err().0, "-PZ");
    }

    #[test]
    fn values_after_double_dash_are_untouched() {
        assert_eq!(n("portolan -- -sZ").unwrap(), ["portolan", "--", "-sZ"]);
    }
}
