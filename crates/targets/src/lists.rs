//! Tokenisers for `-iL` target files and `--exclude` / `--excludefile` lists.

use crate::spec::{parse_target, ConcreteSpec, HostName, TargetError, TargetSpec};

/// The target tokens of an `-iL` file: whitespace-separated, with `#`
/// starting a comment that runs to the end of the line. Each token is meant
/// for [`parse_target`]; nothing is validated here.
pub fn parse_target_list(text: &str) -> Vec<String> {
    uncommented_lines(text)
        .flat_map(str::split_whitespace)
        .map(str::to_owned)
        .collect()
}

/// Parse an `--exclude` argument or `--excludefile` contents: entries are
/// separated by commas or whitespace, and `#` starts a comment to the end of
/// the line.
///
/// Returns the concrete specs, ready for
/// [`TargetSet::new`](crate::set::TargetSet::new), and separately the host
/// names for the caller to resolve (each resolved address then goes through
/// [`HostName::to_spec`]).
///
/// Because commas separate entries, an octet list such as `198.18.0.1,3`
/// cannot be written as one exclusion (Nmap behaves the same); write
/// `198.18.0.1 198.18.0.3` or a range instead. The first bad entry fails the
/// whole list, naming the entry.
pub fn parse_exclude_list(text: &str) -> Result<(Vec<ConcreteSpec>, Vec<HostName>), TargetError> {
    let (mut specs, mut hostnames) = (Vec::new(), Vec::new());
    let tokens = uncommented_lines(text)
        .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|token| !token.is_empty());
    for token in tokens {
        match parse_target(token)? {
            TargetSpec::Concrete(spec) => specs.push(spec),
            TargetSpec::Hostname(host) => hostnames.push(host),
        }
    }
    Ok((specs, hostnames))
}

fn uncommented_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|line| line.split_once('#').map_or(line, |(before, _)| before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_lists_drop_comments_and_blank_lines() {
        let text = "# lab hosts\n198.18.0.1  198.18.0.0/30\n\n\tgateway.test # the router\n#198.18.9.9\r\n2001:db8::1\r\n";
        assert_eq!(
            parse_target_list(text),
            ["198.18.0.1", "198.18.0.0/30", "gateway.test", "2001:db8::1"]
        );
    }

    #[test]
    fn exclude_lists_split_on_commas_and_whitespace() {
        let text = "198.18.0.1,198.18.1.0/24 printer.test,,\n# skip\n2001:db8::/120";
        let (specs, hostnames) = parse_exclude_list(text).unwrap();
        let shown: Vec<String> = specs.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["198.18.0.1", "198.18.1.0/24", "2001:db8::/120"]);
        assert_eq!(hostnames.len(), 1);
        assert_eq!(hostnames[0].name(), "printer.test");
    }

    #[test]
    fn bad_exclusions_name_the_entry() {
        let err = parse_exclude_list("198.18.0.1, 198.18.0.256").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid target specification '198.18.0.256': octet 256 is out of range 0-255"
        );
    }
}
