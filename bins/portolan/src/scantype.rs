//! Which scan the flags ask for, and what this process may do.
//!
//! Nmap's rules: one TCP scan type at a time, `-sU` may join any of them;
//! with no type given, a SYN scan when raw packets are allowed and a connect
//! scan otherwise. `--scanflags` sends custom flags and reads replies as the
//! TCP type given with it (SYN scan when none).

use crate::cli::Cli;
use crate::plan::UsageError;
use anyhow::Result;
use portolan_engine::probe::flags;
use portolan_engine::TcpScan;

/// The scan method chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// `None`: TCP connect scan (when TCP ports are scanned).
    pub tcp_raw: Option<TcpScan>,
    pub tcp: bool,
    pub udp: bool,
}

impl Method {
    pub fn raw(&self) -> bool {
        self.udp || self.tcp_raw.is_some()
    }
}

/// Picks the method; `raw_allowed` says whether raw sockets can be opened.
pub fn choose(cli: &Cli, raw_allowed: bool, notes: &mut Vec<String>) -> Result<Method> {
    let given: Vec<(&str, Option<TcpScan>)> = [
        (cli.connect_scan, "-sT", None),
        (cli.syn_scan, "-sS", Some(TcpScan::SYN)),
        (cli.ack_scan, "-sA", Some(TcpScan::ACK)),
        (cli.window_scan, "-sW", Some(TcpScan::WINDOW)),
        (cli.maimon_scan, "-sM", Some(TcpScan::MAIMON)),
        (cli.fin_scan, "-sF", Some(TcpScan::FIN)),
        (cli.null_scan, "-sN", Some(TcpScan::NULL)),
        (cli.xmas_scan, "-sX", Some(TcpScan::XMAS)),
    ]
    .into_iter()
    .filter(|(on, _, _)| *on)
    .map(|(_, name, t)| (name, t))
    .collect();
    if given.len() > 1 {
        let names: Vec<&str> = given.iter().map(|g| g.0).collect();
        return Err(UsageError(format!(
            "only one TCP scan type at a time: {} were given",
            names.join(" and ")
        ))
        .into());
    }
    let custom = cli.scanflags.as_deref().map(parse_scanflags).transpose()?;
    let explicit = given.first().copied();
    let tcp = explicit.is_some() || custom.is_some() || !cli.udp_scan;
    let mut tcp_raw = match explicit {
        Some((_, t)) => t,
        None if tcp => Some(TcpScan::SYN),
        None => None,
    };
    if let (Some(f), Some(base)) = (custom, tcp_raw) {
        tcp_raw = Some(TcpScan::custom(f, base));
    } else if custom.is_some() {
        return Err(UsageError("--scanflags needs a raw TCP scan type, not -sT".into()).into());
    }
    let wants_raw = cli.udp_scan || (tcp && tcp_raw.is_some());
    if wants_raw && (!raw_allowed || cli.unprivileged) {
        return fallback(cli, explicit, custom.is_some(), notes);
    }
    Ok(Method {
        tcp_raw,
        tcp,
        udp: cli.udp_scan,
    })
}

/// Without raw sockets only a connect scan is possible: said so, as Nmap does.
fn fallback(
    cli: &Cli,
    explicit: Option<(&str, Option<TcpScan>)>,
    custom: bool,
    notes: &mut Vec<String>,
) -> Result<Method> {
    let syn_like = matches!(explicit, None | Some(("-sS", _)) | Some(("-sT", _)));
    if cli.udp_scan || custom || !syn_like {
        let name = explicit.map_or(if custom { "--scanflags" } else { "-sU" }, |e| e.0);
        let name = if cli.udp_scan { "-sU" } else { name };
        return Err(UsageError(format!(
            "{name} sends raw packets, which needs root or CAP_NET_RAW; run as root, or use -sT (TCP connect scan)"
        ))
        .into());
    }
    notes.push(
        "Raw packets need root or CAP_NET_RAW: falling back to a TCP connect scan (-sT)."
            .to_string(),
    );
    Ok(Method {
        tcp_raw: None,
        tcp: true,
        udp: false,
    })
}

/// `SYNFIN`, `URGACKPSHRSTSYNFIN`, or a number (`9`, `0x29`).
pub fn parse_scanflags(s: &str) -> Result<u8> {
    let bad = || {
        UsageError(format!("invalid --scanflags '{s}': give flag names (URG ACK PSH RST SYN FIN ECE CWR) run together, or a number 0-255"))
    };
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u8::from_str_radix(hex, 16).map_err(|_| bad().into());
    }
    if let Ok(n) = s.parse::<u8>() {
        return Ok(n);
    }
    const NAMES: [(&str, u8); 8] = [
        ("URG", flags::URG),
        ("ACK", flags::ACK),
        ("PSH", flags::PSH),
        ("RST", flags::RST),
        ("SYN", flags::SYN),
        ("FIN", flags::FIN),
        ("ECE", 0x40),
        ("CWR", 0x80),
    ];
    let upper = s.to_ascii_uppercase();
    let mut rest = upper.as_str();
    let mut out = 0u8;
    while !rest.is_empty() {
        let (name, bit) = NAMES
            .iter()
            .find(|(n, _)| rest.starts_with(n))
            .ok_or_else(bad)?;
        out |= bit;
        rest = &rest[name.len()..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanflags_by_name_and_number() {
        assert_eq!(parse_scanflags("SYNFIN").unwrap(), flags::SYN | flags::FIN);
        assert_eq!(parse_scanflags("urgpsh").unwrap(), flags::URG | flags::PSH);
        assert_eq!(parse_scanflags("9").unwrap(), 9);
        assert_eq!(parse_scanflags("0x29").unwrap(), 0x29);
        assert!(parse_scanflags("SYNFOO").is_err());
        assert!(parse_scanflags("300").is_err());
    }
}
