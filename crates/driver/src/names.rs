//! Reverse DNS for the hosts of a scan: Nmap's "Parallel DNS resolution".
//!
//! `/etc/hosts` answers first (as in Nmap), then the DNS servers (ours or
//! the system resolver's, `--system-dns`) for the rest, in parallel with
//! bounded concurrency and hard timeouts (see `portolan_dns`). Loopback
//! addresses not in `/etc/hosts` are not asked about: no server knows them.

use portolan_dns::{ResolverConfig, MAX_SYSTEM_THREADS};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How names are looked up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameConfig {
    /// `--dns-servers`; `None`: the servers of `/etc/resolv.conf`.
    pub servers: Option<Vec<SocketAddr>>,
    /// `--system-dns`: the C library's resolver.
    pub system: bool,
    /// The hosts file read first; `None` reads none.
    pub hosts_file: Option<std::path::PathBuf>,
}

impl NameConfig {
    pub fn new(servers: Option<Vec<SocketAddr>>, system: bool) -> NameConfig {
        NameConfig {
            servers,
            system,
            hosts_file: Some("/etc/hosts".into()),
        }
    }
}

/// Names found, and what it cost.
#[derive(Debug, Clone, Default)]
pub struct NameReport {
    pub names: HashMap<IpAddr, String>,
    /// Addresses asked about (after the hosts file).
    pub queried: usize,
    pub elapsed: Duration,
    /// Why no server could be asked at all, if so.
    pub warning: Option<String>,
}

/// Looks up the name of each of `addrs`.
#[allow(clippy::disallowed_methods)] // the driver owns the clock
pub fn reverse_names(addrs: &[IpAddr], cfg: &NameConfig) -> NameReport {
    let started = Instant::now();
    let mut report = NameReport::default();
    let hosts = cfg
        .hosts_file
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| parse_hosts(&t))
        .unwrap_or_default();
    let mut ask = Vec::new();
    for &a in addrs {
        match hosts.get(&a) {
            Some(name) => {
                report.names.insert(a, name.clone());
            }
            None if a.is_loopback() => {}
            None => {
                if !ask.contains(&a) {
                    ask.push(a);
                }
            }
        }
    }
    report.queried = ask.len();
    if !ask.is_empty() {
        let found = if cfg.system {
            let threads = MAX_SYSTEM_THREADS.min(ask.len());
            portolan_dns::system_reverse_lookup_all(&ask, threads, SYSTEM_TIMEOUT)
                .map_err(|e| e.to_string())
        } else {
            resolver_config(cfg)
                .and_then(|c| portolan_dns::reverse_lookup_all(&c, &ask).map_err(|e| e.to_string()))
        };
        match found {
            Ok(lookups) => {
                for (addr, name) in lookups.names() {
                    if let Some(n) = name {
                        report.names.insert(addr, n);
                    }
                }
            }
            Err(e) => report.warning = Some(e),
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Bound on a whole `--system-dns` batch.
const SYSTEM_TIMEOUT: Duration = Duration::from_secs(10);

fn resolver_config(cfg: &NameConfig) -> Result<ResolverConfig, String> {
    match &cfg.servers {
        Some(s) => Ok(ResolverConfig::new(s.clone())),
        None => ResolverConfig::from_system().map_err(|e| e.to_string()),
    }
}

/// The first name of each address in a hosts file.
pub fn parse_hosts(text: &str) -> HashMap<IpAddr, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(addr), Some(name)) = (fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(a) = addr.parse::<IpAddr>() {
            out.entry(a).or_insert_with(|| name.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn hosts_file_gives_the_first_name_of_each_address() {
        let h = parse_hosts(
            "127.0.0.1\tlocalhost\n# comment\n::1 ip6-localhost ip6-loopback\n\
             198.18.0.5 a.lab.test a # alias\n198.18.0.5 later.lab.test\nbogus line\n",
        );
        assert_eq!(h[&IpAddr::V4(Ipv4Addr::LOCALHOST)], "localhost");
        assert_eq!(h[&"::1".parse::<IpAddr>().unwrap()], "ip6-localhost");
        assert_eq!(h[&"198.18.0.5".parse::<IpAddr>().unwrap()], "a.lab.test");
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn loopback_is_named_from_the_hosts_file_and_never_queried() {
        let dir = std::env::temp_dir().join(format!("portolan-hosts-{}", std::process::id()));
        std::fs::write(&dir, "127.0.0.1 localhost\n").unwrap();
        let cfg = NameConfig {
            // Nothing listens on this port: a query would time out.
            servers: Some(vec!["127.0.0.1:9".parse().unwrap()]),
            system: false,
            hosts_file: Some(dir.clone()),
        };
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let r = reverse_names(&[lo, other], &cfg);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(r.names.get(&lo).map(String::as_str), Some("localhost"));
        assert!(!r.names.contains_key(&other));
        assert_eq!(r.queried, 0);
    }
}
