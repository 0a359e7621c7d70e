//! Flags as parsed: no I/O happens here.

use clap::{ArgAction, Parser};
use std::path::PathBuf;

/// Portolan: a network scanner and auditor with Nmap's flags and formats.
#[derive(Debug, Parser)]
#[command(
    name = "portolan",
    version,
    disable_version_flag = true,
    about = "Network scanner and auditor with Nmap's flags and output formats.",
    after_help = "Nmap spellings are accepted as written: -sT -Pn -oX FILE -oA BASE -iL FILE -p- -T4.\n\
                  Examples:\n  portolan -sT -p 22,80,443 198.18.0.0/24\n  portolan -p- -T4 -oA scan 198.18.0.11\n  portolan -F --open -oJ hosts.jsonl -iL targets.txt"
)]
pub struct Cli {
    /// Targets: addresses, CIDR blocks (198.18.0.0/24), octet ranges (198.18.0-1.1-20),
    /// IPv6 addresses or prefixes, host names.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Read targets from FILE ('-' for standard input). [Nmap: -iL]
    #[arg(long = "iL", value_name = "FILE")]
    pub input_list: Option<String>,

    /// Exclude hosts, networks or ranges (comma-separated).
    #[arg(long, value_name = "LIST", action = ArgAction::Append)]
    pub exclude: Vec<String>,

    /// Exclude the targets listed in FILE.
    #[arg(long, value_name = "FILE")]
    pub excludefile: Option<PathBuf>,

    /// Ports: 22,80 1-1024 -p- 1000- T:22,U:53 http,ssh.
    #[arg(short = 'p', value_name = "PORTS", allow_hyphen_values = true)]
    pub ports: Option<String>,

    /// Fast mode: the 100 most common ports.
    #[arg(short = 'F')]
    pub fast: bool,

    /// Scan the N most common ports.
    #[arg(long = "top-ports", value_name = "N")]
    pub top_ports: Option<usize>,

    /// TCP connect scan (the default). [Nmap: -sT]
    #[arg(long = "sT")]
    pub connect_scan: bool,

    /// TCP SYN scan (the default when raw packets are allowed). [Nmap: -sS]
    #[arg(long = "sS")]
    pub syn_scan: bool,

    /// UDP scan, with protocol payloads for common services. [Nmap: -sU]
    #[arg(long = "sU")]
    pub udp_scan: bool,

    /// TCP ACK scan: unfiltered or filtered. [Nmap: -sA]
    #[arg(long = "sA")]
    pub ack_scan: bool,

    /// TCP Window scan: ACK scan reading the RST window. [Nmap: -sW]
    #[arg(long = "sW")]
    pub window_scan: bool,

    /// TCP Maimon scan (FIN/ACK). [Nmap: -sM]
    #[arg(long = "sM")]
    pub maimon_scan: bool,

    /// TCP FIN scan. [Nmap: -sF]
    #[arg(long = "sF")]
    pub fin_scan: bool,

    /// TCP NULL scan (no flags). [Nmap: -sN]
    #[arg(long = "sN")]
    pub null_scan: bool,

    /// TCP Xmas scan (FIN, PSH, URG). [Nmap: -sX]
    #[arg(long = "sX")]
    pub xmas_scan: bool,

    /// Custom TCP flags (SYNFIN, URGACKPSHRSTSYNFIN, or a number); replies are
    /// read as the TCP scan type given with it (SYN scan by default).
    #[arg(long = "scanflags", value_name = "FLAGS")]
    pub scanflags: Option<String>,

    /// Use a TCP connect scan even when raw packets are allowed.
    #[arg(long)]
    pub unprivileged: bool,

    /// Ping scan: not available yet. [Nmap: -sn]
    /// Ping scan: host discovery only, no port scan (Nmap's -sn).
    #[arg(long = "sn")]
    pub ping_scan: bool,

    /// List scan: list the targets (with reverse DNS names), send nothing to them (-sL).
    #[arg(long = "sL")]
    pub list_scan: bool,

    /// Discovery probe: ICMP echo request (-PE).
    #[arg(long = "PE")]
    pub ping_echo: bool,

    /// Discovery probe: ICMP timestamp request (-PP).
    #[arg(long = "PP")]
    pub ping_timestamp: bool,

    /// Discovery probe: ICMP address-mask request (-PM).
    #[arg(long = "PM")]
    pub ping_mask: bool,

    /// Discovery probe: ARP / IPv6 neighbour discovery on the local segment (-PR).
    #[arg(long = "PR")]
    pub ping_arp: bool,

    /// Discovery probe: TCP SYN to PORTS, 80 when none given (-PS[PORTS], attached as in -PS22,443).
    #[arg(long = "PS", value_name = "PORTS", action = ArgAction::Append)]
    pub ping_syn: Vec<String>,

    /// Discovery probe: TCP ACK to PORTS, 80 when none given (-PA[PORTS]).
    #[arg(long = "PA", value_name = "PORTS", action = ArgAction::Append)]
    pub ping_ack: Vec<String>,

    /// Discovery probe: UDP to PORTS, 40125 when none given (-PU[PORTS]).
    #[arg(long = "PU", value_name = "PORTS", action = ArgAction::Append)]
    pub ping_udp: Vec<String>,

    /// No ARP / neighbour discovery: on-link hosts get the IP probes too.
    #[arg(long = "disable-arp-ping")]
    pub disable_arp_ping: bool,

    /// Discover on-link hosts with IP probes rather than ARP / neighbour discovery.
    #[arg(long = "send-ip")]
    pub send_ip: bool,

    /// Reverse-resolve every target, up or not (-R).
    #[arg(short = 'R')]
    pub resolve_all: bool,

    /// DNS servers for reverse lookups, comma-separated (ADDR or ADDR:PORT, [V6]:PORT).
    #[arg(long = "dns-servers", value_name = "LIST")]
    pub dns_servers: Option<String>,

    /// Reverse lookups through the system resolver (getnameinfo) instead of our own.
    #[arg(long = "system-dns")]
    pub system_dns: bool,

    /// Trace the hops to each host that is up.
    #[arg(long)]
    pub traceroute: bool,

    /// Version detection: probe open ports to name the service, product and
    /// version, through TLS where the port speaks it. [Nmap: -sV]
    #[arg(long = "sV")]
    pub version_scan: bool,

    /// How many probes version detection may try on a port: 0 (light) to 9
    /// (all); probes meant for the port's number are always tried. Default 7.
    #[arg(long = "version-intensity", value_name = "0-9")]
    pub version_intensity: Option<String>,

    /// Version detection at intensity 2.
    #[arg(long = "version-light")]
    pub version_light: bool,

    /// Version detection with every probe (intensity 9).
    #[arg(long = "version-all")]
    pub version_all: bool,

    /// Probe database in Nmap's nmap-service-probes format, used instead of ours.
    #[arg(long = "versiondb", value_name = "FILE")]
    pub versiondb: Option<PathBuf>,

    /// Probe database in Nmap's format, used in addition to ours.
    #[arg(long = "versiondb-add", value_name = "FILE")]
    pub versiondb_add: Option<PathBuf>,

    /// Aggressive: version detection and traceroute (OS detection when it lands). [Nmap: -A]
    #[arg(short = 'A')]
    pub aggressive: bool,

    /// Treat every target as up (no host discovery). [Nmap: -Pn]
    #[arg(long = "Pn")]
    pub no_ping: bool,

    /// Never do DNS resolution of addresses.
    #[arg(short = 'n')]
    pub no_dns: bool,

    /// Prefer IPv6 when resolving host names.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// More output (-vv for even more).
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,

    /// Show why each port is in its state.
    #[arg(long)]
    pub reason: bool,

    /// Show only open ports.
    #[arg(long)]
    pub open: bool,

    /// Timing template 0-5 or paranoid|sneaky|polite|normal|aggressive|insane.
    #[arg(short = 'T', value_name = "0-5")]
    pub timing: Option<String>,

    /// Send no slower than N probes per second.
    #[arg(long = "min-rate", value_name = "N")]
    pub min_rate: Option<f64>,

    /// Send no faster than N probes per second.
    #[arg(long = "max-rate", value_name = "N")]
    pub max_rate: Option<f64>,

    /// Retransmissions allowed per port.
    #[arg(long = "max-retries", value_name = "N")]
    pub max_retries: Option<u8>,

    /// Keep at least N probes in flight.
    #[arg(long = "min-parallelism", value_name = "N")]
    pub min_parallelism: Option<usize>,

    /// Keep at most N probes in flight.
    #[arg(long = "max-parallelism", value_name = "N")]
    pub max_parallelism: Option<usize>,

    /// Wait at least TIME between probes to one host (e.g. 100ms, 1s).
    #[arg(long = "scan-delay", value_name = "TIME")]
    pub scan_delay: Option<String>,

    /// Give up on a host after TIME (e.g. 30s, 5m, 1h, 500ms).
    #[arg(long = "host-timeout", value_name = "TIME")]
    pub host_timeout: Option<String>,

    /// Seed for the target and port order (a scan is reproducible with it).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Split the targets into N shards, one per machine, with --shard.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub shards: Option<String>,

    /// Scan shard I of N (1 <= I <= N): --shards N --shard I, or masscan's --shard I/N.
    /// Each address belongs to exactly one shard, chosen by a fixed hash of the address,
    /// so machines split a scan with no coordination and need no common --seed. Shards
    /// split hosts, not ports: a single-host scan is not split (one shard scans it, the
    /// others scan nothing).
    #[arg(long, value_name = "I", allow_hyphen_values = true)]
    pub shard: Option<String>,

    /// Hosts scanned at once (default 256). [Nmap: --max-hostgroup]
    #[arg(long = "max-hostgroup", value_name = "N")]
    pub max_hostgroup: Option<usize>,

    /// Continue a scan interrupted by Ctrl-C from the resume file it wrote; give no
    /// other options (they come from the file). Finished hosts are skipped, and the
    /// output files are continued: -oN, -oG and -oJ appended to, -oX extended in place.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,

    /// Normal output to FILE. [Nmap: -oN]
    #[arg(long = "oN", value_name = "FILE")]
    pub out_normal: Option<String>,

    /// XML output (Nmap's format) to FILE. [Nmap: -oX]
    #[arg(long = "oX", value_name = "FILE")]
    pub out_xml: Option<String>,

    /// Grepable output to FILE. [Nmap: -oG]
    #[arg(long = "oG", value_name = "FILE")]
    pub out_grep: Option<String>,

    /// JSON Lines output to FILE (docs/json-lines.md). [-oJ]
    #[arg(long = "oJ", value_name = "FILE")]
    pub out_json: Option<String>,

    /// Normal, XML and grepable output to BASE.nmap, BASE.xml, BASE.gnmap. [Nmap: -oA]
    #[arg(long = "oA", value_name = "BASE")]
    pub out_all: Option<String>,

    /// Print the version.
    #[arg(long = "version", short = 'V', action = ArgAction::Version)]
    pub version: Option<bool>,
}
