//! Raw-packet scans (-sS, -sF, -sN, -sX, -sM, -sA, -sW, -sU) of the real lab
//! network (tests/net/lab.py), checked against the known truth and against
//! Nmap running the same scan on the same network. Needs root and `ip netns`
//! (CI has both); without them every test fails with a message saying so.

#[allow(dead_code)] // shared by the network test binaries, each using part of it
mod common;

use common::{assert_none, expand_ports, mismatches, read_jsonl, read_xml, state_mismatches, Lab};

const SPEC: &str = "1-1100,3306,3389,5432,8080,8081,8443,9999,40000,50000";

/// Our states against Nmap's for scan type `flag`, on the steady hosts.
fn agrees_with_nmap(lab: &Lab, flag: &str, spec: &str, family6: bool) {
    let steady: Vec<_> = lab.hosts.iter().filter(|h| !h.lossy).collect();
    let addr = |h: &common::HostTruth| match family6 {
        true => h.v6.clone(),
        false => Some(h.v4.clone()),
    };
    let targets: Vec<String> = steady.iter().filter_map(|h| addr(h)).collect();
    let ours = lab.out(&format!("ours{flag}.jsonl"));
    let theirs = lab.out(&format!("nmap{flag}.xml"));
    let mut cmd = vec![flag, "-Pn", "-n", "-T4", "-p", spec, "-oJ", &ours];
    let mut ncmd = vec![flag, "-Pn", "-n", "-T4", "-p", spec, "-oX", &theirs];
    if family6 {
        cmd.push("-6");
        ncmd.push("-6");
    }
    cmd.extend(targets.iter().map(String::as_str));
    ncmd.extend(targets.iter().map(String::as_str));
    lab.portolan(&cmd).ok(&format!("portolan {flag}"));
    lab.nmap(&ncmd).ok(&format!("nmap {flag}"));
    let ours = read_jsonl(&ours);
    let theirs = read_xml(&theirs);
    assert_eq!(
        ours.hosts.len(),
        targets.len(),
        "{flag}: every host reported"
    );
    let mut bad = Vec::new();
    for (addr, ports) in &ours.hosts {
        let nm = theirs
            .hosts
            .iter()
            .find(|(a, _)| a.parse::<std::net::IpAddr>().ok() == addr.parse().ok())
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("nmap has no result for {addr}"));
        for m in state_mismatches(ports, nm) {
            bad.push(format!("{flag} {addr}: {m} (portolan vs nmap)"));
        }
    }
    assert_none(&format!("{flag} against nmap"), &bad);
}

/// The lab's truth is written for connect scans: a closed port's reason is
/// conn-refused where a SYN scan sees a reset. Everything else is the same.
fn syn_truth(h: &common::HostTruth) -> common::HostTruth {
    let mut t = h.clone();
    for e in t.ports.values_mut().chain(std::iter::once(&mut t.default)) {
        if e.reason == "conn-refused" {
            e.reason = "reset".to_string();
        }
    }
    t
}

#[test]
fn syn_scan_matches_truth_on_every_host_including_lossy() {
    let lab = Lab::up("syn");
    let out = lab.out("syn.jsonl");
    let targets: Vec<String> = lab.hosts.iter().map(|h| h.v4.clone()).collect();
    let mut cmd = vec!["-sS", "-Pn", "-n", "-T4", "-p", SPEC, "-oJ", &out];
    cmd.extend(targets.iter().map(String::as_str));
    lab.portolan(&cmd).ok("portolan -sS");
    let scan = read_jsonl(&out);
    let scanned = expand_ports(SPEC);
    let mut bad = Vec::new();
    for h in &lab.hosts {
        let got = scan
            .hosts
            .get(&h.v4)
            .unwrap_or_else(|| panic!("no result for {}", h.v4));
        bad.extend(mismatches(&syn_truth(h), &scanned, got));
    }
    assert_none("-sS on h1..h4", &bad);
}

#[test]
fn syn_scan_agrees_with_nmap_over_ipv4_and_ipv6() {
    let lab = Lab::up("synnm");
    agrees_with_nmap(&lab, "-sS", SPEC, false);
    agrees_with_nmap(&lab, "-sS", SPEC, true);
}

#[test]
fn stealth_ack_and_window_scans_agree_with_nmap() {
    let lab = Lab::up("stealth");
    let spec = "1-200,3306,3389,5432,8080,8081,9999,40000,50000";
    for flag in ["-sF", "-sN", "-sX", "-sM", "-sA", "-sW"] {
        agrees_with_nmap(&lab, flag, spec, false);
    }
}

#[test]
fn udp_scan_agrees_with_nmap_over_ipv4_and_ipv6() {
    let lab = Lab::up("udp");
    agrees_with_nmap(&lab, "-sU", "1-100,123,161", false);
    agrees_with_nmap(&lab, "-sU", "1-100,123,161", true);
}

#[test]
fn without_raw_privileges_syn_falls_back_and_udp_is_refused() {
    let lab = Lab::up("unpriv");
    let h1 = lab.host("h1");
    let out = lab.out("unpriv.jsonl");
    let drop = [
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let bin = env!("CARGO_BIN_EXE_portolan");
    let mut args: Vec<&str> = drop.to_vec();
    args.extend([bin, "-Pn", "-n", "-p", "22,23,80,81", "-oJ", &out, &h1.v4]);
    // The output directory must be writable by the unprivileged user.
    std::process::Command::new("chmod")
        .args([
            "0777",
            std::path::Path::new(&out)
                .parent()
                .unwrap()
                .to_str()
                .unwrap(),
        ])
        .status()
        .unwrap();
    let run = lab
        .in_scanner("setpriv", &args)
        .ok("unprivileged default scan");
    assert!(
        run.stderr.contains("falling back to a TCP connect scan")
            || run.stdout.contains("falling back to a TCP connect scan"),
        "says it falls back: {}",
        run.stderr
    );
    let scan = read_jsonl(&out);
    assert_eq!(scan.hosts[&h1.v4][&22].state, "open");
    assert_eq!(
        scan.hosts[&h1.v4][&81].reason.as_deref(),
        Some("conn-refused")
    );
    let mut args: Vec<&str> = drop.to_vec();
    args.extend([bin, "-sU", "-Pn", "-p", "53", &h1.v4]);
    let run = lab.in_scanner("setpriv", &args);
    assert_eq!(
        run.code, 2,
        "-sU without privileges exits 2: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("-sU") && run.stderr.contains("CAP_NET_RAW"),
        "{}",
        run.stderr
    );
}

/// A running scan keeps only what it still needs: CAP_NET_RAW for a raw
/// scan, nothing for a connect scan, and can never regain the rest.
#[test]
fn a_running_scan_holds_only_the_privileges_it_needs() {
    let lab = Lab::up("privs");
    let h1 = lab.host("h1");
    let status_of = |flags: &[&str]| {
        let flag = flags.join(" ");
        // `ip netns exec` execs the scanner itself: the child is portolan.
        let mut child = std::process::Command::new("ip")
            .args(["netns", "exec", &lab.scanner_ns, common::PORTOLAN])
            .args(flags)
            .args(["-Pn", "-n", "--max-rate", "40", "-p", "1-120", &h1.v4])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start portolan");
        let path = format!("/proc/{}/status", child.id());
        let mut status = String::new();
        // The scan takes about 3 s; look once the sockets are open.
        for _ in 0..40 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            status = std::fs::read_to_string(&path).unwrap_or_default();
            if status.contains("Name:\tportolan") && status.contains("NoNewPrivs:\t1") {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("{flag}: no {name} in {status}"))
        };
        (field("CapEff:"), field("CapBnd:"), field("NoNewPrivs:"))
    };
    let net_raw = "0000000000002000".to_string();
    assert_eq!(
        status_of(&["-sS"]),
        (net_raw.clone(), net_raw.clone(), "1".to_string()),
        "-sS keeps CAP_NET_RAW only"
    );
    // -Pn still asks the segment by ARP (raw packets), as Nmap does.
    assert_eq!(
        status_of(&["-sT"]),
        (net_raw.clone(), net_raw, "1".to_string()),
        "-sT -Pn on a segment keeps CAP_NET_RAW for ARP"
    );
    let none = "0000000000000000".to_string();
    assert_eq!(
        status_of(&["-sT", "--disable-arp-ping"]),
        (none.clone(), none, "1".to_string()),
        "-sT -Pn --disable-arp-ping sends no raw packet and keeps nothing"
    );
}

/// The scanner's own addresses: IPv4 packets to a local address cannot go
/// out through a packet socket (the kernel drops them as martians), so they
/// take the raw IP socket fallback; IPv6 ones go through loopback's packet
/// socket. Either way the states are exact and nothing leaves on the wire.
#[test]
fn local_addresses_are_scanned_through_the_raw_ip_fallback() {
    use std::io::{BufRead, BufReader};
    let lab = Lab::up("local");
    // A listener on port 7001 of every scanner address; 7002 stays closed.
    let listener = "import socket,sys,time\n\
        a=socket.socket(socket.AF_INET6)\n\
        a.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0)\n\
        a.bind(('::',7001)); a.listen(64)\n\
        print('ready',flush=True); time.sleep(60)";
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.scanner_ns, "timeout", "90", "python3"])
        .args(["-c", listener])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the listener");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("listener stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("listener starts");
    assert_eq!(line.trim(), "ready");
    let check = |family6: bool, targets: &[&str], via_raw_ip: bool| {
        let out = lab.out(&format!("local{}.jsonl", u8::from(family6)));
        lab.wait_tx_quiet();
        let before = lab.tx_packets();
        let mut args = vec!["-v", "-sS", "-Pn", "-n", "-p", "7001,7002", "-oJ", &out];
        if family6 {
            args.push("-6");
        }
        args.extend(targets);
        let run = lab.portolan(&args).ok("local scan");
        assert_eq!(lab.tx_packets(), before, "nothing went out on eth0");
        let scan = read_jsonl(&out);
        for t in targets {
            let ports = &scan.hosts[*t];
            assert_eq!(ports[&7001].state, "open", "{t}");
            assert_eq!(ports[&7001].reason.as_deref(), Some("syn-ack"), "{t}");
            assert_eq!(ports[&7002].state, "closed", "{t}");
            assert_eq!(ports[&7002].reason.as_deref(), Some("reset"), "{t}");
        }
        let stats = run
            .stderr
            .lines()
            .find(|l| l.starts_with("Raw packets sent: "))
            .unwrap_or_else(|| panic!("no packet counts with -v: {}", run.stderr));
        let numbers: Vec<u64> = stats
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        let (sent, raw_ip) = (numbers[0], numbers[1]);
        assert!(sent >= 2 * targets.len() as u64, "{stats}");
        let want = if via_raw_ip { sent } else { 0 };
        assert_eq!(raw_ip, want, "{stats}");
    };
    let v4 = "198.18.0.1";
    check(false, &["127.0.0.1", v4], true);
    check(true, &["::1", "2001:db8:0:1::1"], false);
    let _ = child.kill();
    let _ = child.wait();
}
