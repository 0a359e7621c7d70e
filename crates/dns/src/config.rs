//! Resolver settings: which servers, how long to wait, how many tries, how many queries at
//! once. Read from `/etc/resolv.conf` or from a `--dns-servers` list.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// Wait per try when nothing says otherwise (resolv.conf's default, `RES_TIMEOUT`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per server when nothing says otherwise (resolv.conf's default, `RES_DFLRETRY`).
pub const DEFAULT_ATTEMPTS: u32 = 2;
/// Queries outstanding at once when nothing says otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// The most servers a configuration may list.
pub const MAX_SERVERS: usize = 64;
/// The most tries per address.
pub const MAX_TRIES: u32 = 10;
/// The longest wait per try.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The most queries outstanding at once; with [`MAX_TRIES`] this keeps every query ID that
/// may still be answered within the 16-bit ID space.
pub const MAX_IN_FLIGHT: usize = 4096;

/// resolv.conf keeps at most this many nameservers (glibc's `MAXNS`).
const RESOLV_MAX_NAMESERVERS: usize = 3;
/// resolv.conf caps `timeout:` at 30 s and `attempts:` at 5 (glibc's `RES_MAXRETRANS`, `RES_MAXRETRY`).
const RESOLV_MAX_TIMEOUT_SECS: u64 = 30;
const RESOLV_MAX_ATTEMPTS: u32 = 5;

/// A configuration that cannot be used, or a server list that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// One entry of a `--dns-servers` list is not an address with an optional port.
    #[error("bad DNS server {entry:?}: {reason}")]
    BadServer { entry: String, reason: &'static str },
    /// No server to ask.
    #[error("no DNS server configured")]
    NoServers,
    /// More servers than [`MAX_SERVERS`].
    #[error("{0} DNS servers given, at most {MAX_SERVERS} are supported")]
    TooManyServers(usize),
    /// A per-try timeout of zero or over [`MAX_TIMEOUT`].
    #[error("the DNS timeout must be positive and at most an hour, not {0:?}")]
    Timeout(Duration),
    /// Tries outside `1..=MAX_TRIES`.
    #[error("DNS tries must be between 1 and {MAX_TRIES}, not {0}")]
    Tries(u32),
    /// Queries in flight outside `1..=MAX_IN_FLIGHT`.
    #[error("DNS queries in flight must be between 1 and {MAX_IN_FLIGHT}, not {0}")]
    MaxInFlight(usize),
    /// The system resolver configuration exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// How [`crate::reverse_lookup_all`] resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Servers in order of preference; tries go round-robin over them.
    pub servers: Vec<SocketAddr>,
    /// How long one try waits for its answer.
    pub timeout: Duration,
    /// Tries per address, over all servers together (the first try included).
    pub tries: u32,
    /// Addresses being resolved at once (queries outstanding).
    pub max_in_flight: usize,
    /// A bound on the whole call: addresses unresolved by then are reported timed out.
    pub overall_deadline: Option<Duration>,
}

impl ResolverConfig {
    /// These servers, each tried [`DEFAULT_ATTEMPTS`] times, default timeout and concurrency.
    pub fn new(servers: Vec<SocketAddr>) -> Self {
        let tries = per_server_tries(DEFAULT_ATTEMPTS, servers.len());
        ResolverConfig {
            servers,
            timeout: DEFAULT_TIMEOUT,
            tries,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            overall_deadline: None,
        }
    }

    /// The system's resolver settings from `/etc/resolv.conf` (see [`parse_resolv_conf`]).
    /// A missing file means the local server, as the C library assumes.
    pub fn from_system() -> Result<Self, ConfigError> {
        Self::from_file(Path::new("/etc/resolv.conf"))
    }

    /// Like [`ResolverConfig::from_system`], from another file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(parse_resolv_conf(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(parse_resolv_conf("")),
            Err(source) => Err(ConfigError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Checks every field is within the supported range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.servers.len() {
            0 => return Err(ConfigError::NoServers),
            n if n > MAX_SERVERS => return Err(ConfigError::TooManyServers(n)),
            _ => {}
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(ConfigError::Timeout(self.timeout));
        }
        if !(1..=MAX_TRIES).contains(&self.tries) {
            return Err(ConfigError::Tries(self.tries));
        }
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return Err(ConfigError::MaxInFlight(self.max_in_flight));
        }
        Ok(())
    }
}

/// Tries per address so that each server gets `attempts` of them (capped at [`MAX_TRIES`]).
fn per_server_tries(attempts: u32, servers: usize) -> u32 {
    let servers = u32::try_from(servers.max(1)).unwrap_or(u32::MAX);
    attempts.max(1).saturating_mul(servers).min(MAX_TRIES)
}

/// Reads resolv.conf text (resolv.conf(5)): the first three `nameserver` lines (port 53;
/// IPv6 zone indices only in numeric form), and `options timeout:N` / `attempts:N` (capped at
/// 30 s and 5 as the C library does; `timeout:0` counts as 1 s). Unknown keywords, bad
/// addresses and comments (`#` or `;` first on the line) are skipped. With no usable
/// nameserver the local one (127.0.0.1) is used, as the C library does. `attempts` is per
/// server, so the result's `tries` is attempts × servers.
pub fn parse_resolv_conf(text: &str) -> ResolverConfig {
    let mut servers = Vec::new();
    let mut timeout = DEFAULT_TIMEOUT;
    let mut attempts = DEFAULT_ATTEMPTS;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                let addr = words.next().and_then(parse_nameserver);
                if let Some(addr) = addr.filter(|_| servers.len() < RESOLV_MAX_NAMESERVERS) {
                    servers.push(addr);
                }
            }
            Some("options") => {
                for opt in words {
                    if let Some(v) = option_value(opt, "timeout:") {
                        let secs = u64::from(v).clamp(1, RESOLV_MAX_TIMEOUT_SECS);
                        timeout = Duration::from_secs(secs);
                    } else if let Some(v) = option_value(opt, "attempts:") {
                        attempts = v.clamp(1, RESOLV_MAX_ATTEMPTS);
                    }
                }
            }
            _ => {}
        }
    }
    if servers.is_empty() {
        servers.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
    }
    let mut cfg = ResolverConfig::new(servers);
    cfg.timeout = timeout;
    cfg.tries = per_server_tries(attempts, cfg.servers.len());
    cfg
}

fn option_value(opt: &str, key: &str) -> Option<u32> {
    opt.strip_prefix(key)?.parse::<u32>().ok()
}

/// A resolv.conf nameserver: an IP address, IPv6 possibly with a numeric `%zone`.
fn parse_nameserver(word: &str) -> Option<SocketAddr> {
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    format!("[{word}]:53").parse::<SocketAddr>().ok()
}

/// Reads a `--dns-servers` list: comma-separated addresses, each with an optional port
/// (`198.18.0.53`, `198.18.0.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`). The error
/// names the first bad entry.
pub fn parse_dns_servers(spec: &str) -> Result<Vec<SocketAddr>, ConfigError> {
    let servers = spec
        .split(',')
        .map(|entry| parse_server_entry(entry.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if servers.len() > MAX_SERVERS {
        return Err(ConfigError::TooManyServers(servers.len()));
    }
    Ok(servers)
}

fn parse_server_entry(entry: &str) -> Result<SocketAddr, ConfigError> {
    let bad = |reason| ConfigError::BadServer {
        entry: entry.to_string(),
        reason,
    };
    if entry.is_empty() {
        return Err(bad("empty entry"));
    }
    let addr = if let Ok(ip) = entry.parse::<IpAddr>() {
        SocketAddr::new(ip, 53)
    } else if let Ok(addr) = entry.parse::<SocketAddr>() {
        addr
    } else if let Some(inner) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        let ip = inner
            .parse::<IpAddr>()
            .map_err(|_| bad("not an IP address"))?;
        SocketAddr::new(ip, 53)
    } else {
        return Err(bad("not an IP address with an optional port"));
    };
    if addr.port() == 0 {
        return Err(bad("port 0"));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn resolv_conf_nameservers_and_options() {
        let text = "# generated\n\
                    ; also a comment\n\
                    search example.test\n\
                    nameserver 198.18.0.53\n\
                    nameserver   2001:db8::53  # trailing words are ignored\n\
                    options ndots:2 timeout:3 attempts:4 rotate\n";
        let cfg = parse_resolv_conf(text);
        assert_eq!(
            cfg.servers,
            vec![sa("198.18.0.53:53"), sa("[2001:db8::53]:53")]
        );
        assert_eq!(cfg.timeout, Duration::from_secs(3));
        assert_eq!(cfg.tries, 8, "4 attempts on each of 2 servers");
        assert_eq!(cfg.overall_deadline, None);
    }

    #[test]
    fn resolv_conf_keeps_three_servers_and_skips_bad_ones() {
        let text = "nameserver not-an-address\n\
                    nameserver 198.18.0.1\n\
                    #nameserver 198.18.0.9\n\
                    nameserver fe80::1%2\n\
                    nameserver 198.18.0.3\n\
                    nameserver 198.18.0.4\n";
        let cfg = parse_resolv_conf(text);
        let zoned = match cfg.servers[1] {
            SocketAddr::V6(v6) => v6.scope_id(),
            SocketAddr::V4(_) => 0,
        };
        assert_eq!(cfg.servers.len(), 3);
        assert_eq!(cfg.servers[0], sa("198.18.0.1:53"));
        assert_eq!(zoned, 2);
        assert_eq!(cfg.servers[2], sa("198.18.0.3:53"));
    }

    #[test]
    fn resolv_conf_caps_options_like_the_c_library() {
        let cfg = parse_resolv_conf("nameserver 198.18.0.1\noptions timeout:99 attempts:9\n");
        assert_eq!(cfg.timeout, Duration::from_secs(30));
        assert_eq!(cfg.tries, 5);
        let later = parse_resolv_conf("options timeout:0 attempts:0\noptions timeout:x\n");
        assert_eq!(later.timeout, Duration::from_secs(1));
        assert_eq!(later.tries, 1);
    }

    #[test]
    fn empty_resolv_conf_means_local_server_and_defaults() {
        let cfg = parse_resolv_conf("");
        assert_eq!(cfg.servers, vec![sa("127.0.0.1:53")]);
        assert_eq!(cfg.timeout, DEFAULT_TIMEOUT);
        assert_eq!(cfg.tries, DEFAULT_ATTEMPTS);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn missing_resolv_conf_is_not_an_error() {
        let cfg = ResolverConfig::from_file(Path::new("/nonexistent/resolv.conf")).unwrap();
        assert_eq!(cfg.servers, vec![sa("127.0.0.1:53")]);
    }

    #[test]
    fn dns_servers_with_and_without_ports() {
        let got =
            parse_dns_servers("198.18.0.53, 2001:db8::53,198.18.0.54:5353,[2001:db8::1]:54,[::1]")
                .unwrap();
        let want = [
            "198.18.0.53:53",
            "[2001:db8::53]:53",
            "198.18.0.54:5353",
            "[2001:db8::1]:54",
            "[::1]:53",
        ];
        assert_eq!(got, want.iter().map(|s| sa(s)).collect::<Vec<_>>());
    }

    #[test]
    fn dns_servers_error_names_the_bad_entry() {
        for (spec, bad) in [
            ("198.18.0.53,dns.example", "dns.example"),
            ("198.18.0.53,,198.18.0.54", ""),
            ("198.18.0.256", "198.18.0.256"),
            ("198.18.0.53:0", "198.18.0.53:0"),
            ("198.18.0.53:99999", "198.18.0.53:99999"),
            ("[2001:db8::zz]", "[2001:db8::zz]"),
        ] {
            match parse_dns_servers(spec) {
                Err(ConfigError::BadServer { entry, .. }) => assert_eq!(entry, bad, "{spec}"),
                other => panic!("{spec}: {other:?}"),
            }
        }
    }

    #[test]
    fn validate_rejects_out_of_range_settings() {
        let good = ResolverConfig::new(vec![sa("127.0.0.1:53")]);
        assert!(good.validate().is_ok());
        let check = |f: &dyn Fn(&mut ResolverConfig)| {
            let mut cfg = good.clone();
            f(&mut cfg);
            cfg.validate()
        };
        assert!(matches!(
            check(&|c| c.servers.clear()),
            Err(ConfigError::NoServers)
        ));
        assert!(matches!(
            check(&|c| c.timeout = Duration::ZERO),
            Err(ConfigError::Timeout(_))
        ));
        let day = Duration::from_secs(86_400);
        assert!(matches!(
            check(&|c| c.timeout = day),
            Err(ConfigError::Timeout(_))
        ));
        assert!(matches!(
            check(&|c| c.tries = 0),
            Err(ConfigError::Tries(0))
        ));
        assert!(matches!(
            check(&|c| c.max_in_flight = 0),
            Err(ConfigError::MaxInFlight(0))
        ));
        let many = check(&|c| c.servers = vec![c.servers[0]; MAX_SERVERS + 1]);
        assert!(matches!(many, Err(ConfigError::TooManyServers(65))));
    }
}
