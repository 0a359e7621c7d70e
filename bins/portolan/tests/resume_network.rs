//! Ctrl-C and `--resume`, and `--shards N --shard I`, with the real binary on the lab
//! network (tests/net/lab.py). Each test gives h1 and h2 a hundred extra addresses each
//! (198.18.0.20-119 on h1, .120-219 on h2), so 200 hosts answer with known ports: on
//! h1 22 open, 25 and 81 closed; on h2 22 open, 25 rejected (filtered), 81 closed. The
//! addresses go when the lab is torn down. Needs root and `ip netns` (CI has both);
//! without them every test fails with a message saying so, as the other network tests do.

#[allow(dead_code)] // shared by the network test binaries, each using part of it
mod common;

use common::{assert_none, mismatches, read_jsonl, read_xml, state_mismatches, Hosts, Lab};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::Duration;

const RANGE: &str = "198.18.0.20-219";
const PORTS: &str = "22,25,81";
const SCANNED: [u16; 3] = [22, 25, 81];
/// The scans that run to the end. Rate-limited: h2's rejects for 100 addresses at full
/// speed exceed the kernel's global ICMP budget (`icmp_msgs_burst`, 50), and a reject
/// the kernel did not send reads as a drop (filtered/no-response instead of
/// admin-prohibited). 400 probes per second stays well within it.
const WHOLE: [&str; 8] = ["-sT", "-Pn", "-n", "-T4", "--max-rate", "400", "-p", PORTS];
/// The scan to interrupt: 600 probes at 100 per second take at least 6 s, and hosts
/// finish 16 at a time, so some are finished and some not when it is interrupted.
const SLOW: [&str; 9] = [
    "-sT",
    "-Pn",
    "-n",
    "-p",
    PORTS,
    "--max-rate",
    "100",
    "--max-hostgroup",
    "16",
];

/// Adds the 200 extra addresses; returns each address with the lab host that owns it.
fn populate(lab: &Lab) -> BTreeMap<String, &common::HostTruth> {
    let mut owners = BTreeMap::new();
    for (name, first) in [("h1", 20), ("h2", 120)] {
        let addrs: Vec<String> = (first..first + 100)
            .map(|i| format!("198.18.0.{i}"))
            .collect();
        let batch: String = addrs
            .iter()
            .map(|a| format!("addr add {a}/24 dev eth0\n"))
            .collect();
        let path = lab.out(&format!("{name}.batch"));
        fs::write(&path, batch).expect("write ip batch");
        let ns = format!("{}-{name}", lab.prefix);
        common::run(Command::new("ip").args(["-n", &ns, "-batch", &path])).ok("ip addr add");
        owners.extend(addrs.into_iter().map(|a| (a, lab.host(name))));
    }
    owners
}

/// Every mismatch between `hosts` and the truth of the 200 populated addresses.
fn against_truth(owners: &BTreeMap<String, &common::HostTruth>, hosts: &Hosts) -> Vec<String> {
    let mut bad = Vec::new();
    for (addr, truth) in owners {
        match hosts.get(addr) {
            Some(got) => bad.extend(
                mismatches(truth, &SCANNED, got)
                    .into_iter()
                    .map(|m| format!("{addr} ({m})")),
            ),
            None => bad.push(format!("{addr}: missing")),
        }
    }
    let extra = hosts.keys().filter(|a| !owners.contains_key(*a));
    bad.extend(extra.map(|a| format!("{a}: reported but not a target")));
    bad
}

/// Host lines written so far to a JSON Lines file (0 if it does not exist yet).
fn host_lines(path: &str) -> usize {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("\"type\":\"host\""))
        .count()
}

/// Starts portolan in the scanner namespace, in directory `dir`.
fn spawn(lab: &Lab, dir: &Path, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &lab.scanner_ns, common::PORTOLAN])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start portolan")
}

/// Waits (at most 60 s) until `json` holds more than `count` host lines, then sends
/// SIGINT and waits (at most 20 s) for the exit. Returns the status and stderr.
#[allow(clippy::disallowed_methods)] // waits on a real process with a real deadline
fn interrupt_after(mut child: Child, json: &str, count: usize) -> (ExitStatus, String) {
    use std::time::Instant;
    let deadline = Instant::now() + Duration::from_secs(60);
    while host_lines(json) <= count {
        if let Some(s) = child.try_wait().expect("wait") {
            panic!("portolan ended ({s}) before it could be interrupted");
        }
        assert!(Instant::now() < deadline, "no progress in {json}");
        sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    common::run(Command::new("kill").args(["-INT", &pid])).ok("kill -INT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("portolan did not stop within 20 s of SIGINT");
        }
        sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect output");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn resume_file(path: &str) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON: {e}"))
}

/// Valid against Nmap's DTD (once `scanner` says nmap, the only value the DTD allows).
fn nmap_dtd_valid(lab: &Lab, xml: &str) {
    let text = fs::read_to_string(xml).expect("read our XML");
    let copy = lab.out("as-nmap.xml");
    let text = text.replace("scanner=\"portolan\"", "scanner=\"nmap\"");
    fs::write(&copy, text).expect("write");
    let check = common::run(Command::new("xmllint").args([
        "--noout",
        "--dtdvalid",
        "/usr/share/nmap/nmap.dtd",
        &copy,
    ]));
    assert_eq!(
        check.code, 0,
        "{xml} is not valid nmap.dtd:\n{}",
        check.stderr
    );
}

/// The address of every `<host>` in an XML file, duplicates included.
fn xml_host_addrs(xml: &str) -> Vec<String> {
    let text = fs::read_to_string(xml).expect("read XML");
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, opts).expect("XML parses");
    let hosts = doc.descendants().filter(|n| n.has_tag_name("host"));
    let addr = |h: roxmltree::Node| {
        let a = h.children().find(|n| n.has_tag_name("address"));
        a.and_then(|a| a.attribute("addr"))
            .expect("host/address@addr")
            .to_string()
    };
    hosts.map(addr).collect()
}

/// Asserts every address occurs once in `addrs` and they are exactly `want`.
fn exactly_once(what: &str, addrs: &[String], want: &BTreeSet<&String>) {
    let mut seen = BTreeMap::new();
    for a in addrs {
        *seen.entry(a).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{what}: hosts reported more than once: {twice:?}"
    );
    let got: BTreeSet<&String> = seen.into_keys().collect();
    assert_eq!(&got, want, "{what}: the hosts reported");
}

#[test]
fn interrupted_twice_then_resumed_scan_has_every_host_once() {
    let lab = Lab::up("resume");
    let owners = populate(&lab);
    let reference = lab.out("ref.jsonl");
    let cmd = [&WHOLE[..], &["-oJ", &reference, RANGE]].concat();
    lab.portolan(&cmd).ok("uninterrupted scan");
    let reference = read_jsonl(&reference);
    assert_none(
        "uninterrupted scan",
        &against_truth(&owners, &reference.hosts),
    );

    let (xml, json) = (lab.out("scan.xml"), lab.out("scan.jsonl"));
    let (normal, grep) = (lab.out("scan.nmap"), lab.out("scan.gnmap"));
    let outputs = ["-oX", &xml, "-oJ", &json, "-oN", &normal, "-oG", &grep];
    let args = [&SLOW[..], &outputs, &[RANGE]].concat();
    let (status, stderr) = interrupt_after(spawn(&lab, &lab.ns.dir, &args), &json, 10);
    assert_eq!(
        status.code(),
        Some(130),
        "interrupted scans exit 130: {stderr}"
    );
    let resume = lab.out("portolan.resume");
    let hint = format!("Resume with: portolan --resume {resume}");
    assert!(stderr.contains(&hint), "stderr must say {hint:?}: {stderr}");
    nmap_dtd_valid(&lab, &xml);
    let first = resume_file(&resume);
    assert_eq!(first["format"], "portolan-resume");
    assert_eq!(first["version"], 1);
    let done_first = first["hosts_total"].as_u64().expect("hosts_total");
    assert_eq!(done_first as usize, host_lines(&json), "{first}");
    assert!(done_first < 200, "the scan was interrupted: {first}");

    // Resumed from elsewhere (the file says where the scan ran), interrupted again.
    let child = spawn(&lab, Path::new("/"), &["--resume", &resume]);
    let (status, stderr) = interrupt_after(child, &json, done_first as usize + 10);
    assert_eq!(status.code(), Some(130), "second interruption: {stderr}");
    assert!(stderr.contains(&hint), "stderr must say {hint:?}: {stderr}");
    nmap_dtd_valid(&lab, &xml);
    let second = resume_file(&resume);
    let done_second = second["hosts_total"].as_u64().expect("hosts_total");
    assert_eq!(
        done_second as usize,
        host_lines(&json),
        "counts both runs: {second}"
    );
    assert!(done_first < done_second && done_second < 200, "{second}");
    assert_eq!(second["seed"], first["seed"], "the order is kept");
    assert_eq!(second["argv"], first["argv"], "the command line is kept");

    lab.portolan(&["--resume", &resume]).ok("portolan --resume");
    assert!(
        !Path::new(&resume).exists(),
        "a finished resume removes its file"
    );

    let want: BTreeSet<&String> = owners.keys().collect();
    nmap_dtd_valid(&lab, &xml);
    exactly_once("XML", &xml_host_addrs(&xml), &want);
    let text = fs::read_to_string(&xml).expect("read XML");
    assert_eq!(text.matches("<nmaprun").count(), 1, "one XML document");
    assert_eq!(text.matches("<runstats>").count(), 1, "one runstats");
    assert!(text.contains("<hosts up=\"200\" down=\"0\" total=\"200\"/>"));
    assert!(text.contains("exit=\"success\""), "the last run finished");
    assert_none(
        "XML after resume",
        &against_truth(&owners, &read_xml(&xml).hosts),
    );

    let scan = read_jsonl(&json);
    let json_addrs: Vec<String> = scan
        .host_lines
        .iter()
        .map(|l| l["addr"].as_str().expect("addr").to_string())
        .collect();
    exactly_once("JSON Lines", &json_addrs, &want);
    assert_eq!(scan.summary["hosts_total"], 200, "{}", scan.summary);
    assert!(scan.summary["error"].is_null(), "{}", scan.summary);
    let mut diff = Vec::new();
    for (addr, got) in &scan.hosts {
        let m = state_mismatches(got, &reference.hosts[addr]);
        diff.extend(
            m.into_iter()
                .map(|m| format!("{addr}: {m} (resumed vs uninterrupted)")),
        );
    }
    assert_none("resumed scan vs uninterrupted scan", &diff);

    let gnmap = fs::read_to_string(&grep).expect("read gnmap");
    let grep_addrs: Vec<String> = gnmap
        .lines()
        .filter(|l| l.starts_with("Host: ") && l.contains("Ports: "))
        .map(|l| l[6..].split_whitespace().next().expect("addr").to_string())
        .collect();
    exactly_once("grepable", &grep_addrs, &want);
    let report = fs::read_to_string(&normal).expect("read normal output");
    let normal_addrs: Vec<String> = report
        .lines()
        .filter_map(|l| l.strip_prefix("Portolan scan report for "))
        .map(str::to_string)
        .collect();
    exactly_once("normal output", &normal_addrs, &want);
}

/// The host sets of `--shards 3 --shard I` for I = 1..3 are disjoint and together are
/// the unsharded scan, with the same port states; `--shard I/3` is the same split.
#[test]
fn shards_are_disjoint_and_add_up_to_the_unsharded_scan() {
    let lab = Lab::up("shards");
    let owners = populate(&lab);
    let scan = |name: &str, shard: &[&str]| {
        let out = lab.out(name);
        let cmd = [&WHOLE[..], &["-oJ", &out, RANGE], shard].concat();
        lab.portolan(&cmd).ok(&format!("portolan {shard:?}"));
        read_jsonl(&out)
    };
    let all = scan("all.jsonl", &[]);
    assert_none("unsharded scan", &against_truth(&owners, &all.hosts));
    let mut union = Hosts::new();
    for i in ["1", "2", "3"] {
        let part = scan(&format!("shard{i}.jsonl"), &["--shards", "3", "--shard", i]);
        assert!(!part.hosts.is_empty(), "shard {i} is empty");
        let total = part.summary["hosts_total"].as_u64();
        assert_eq!(total, Some(part.hosts.len() as u64), "shard {i} summary");
        let masscan = scan(&format!("slash{i}.jsonl"), &["--shard", &format!("{i}/3")]);
        let keys = |h: &Hosts| h.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&part.hosts), keys(&masscan.hosts), "--shard {i}/3");
        for (addr, ports) in part.hosts {
            assert!(
                union.insert(addr.clone(), ports).is_none(),
                "{addr} in two shards"
            );
        }
    }
    let keys: Vec<&String> = union.keys().collect();
    assert_eq!(
        keys,
        all.hosts.keys().collect::<Vec<_>>(),
        "union of the shards"
    );
    let mut diff = Vec::new();
    for (addr, got) in &union {
        let m = state_mismatches(got, &all.hosts[addr]);
        diff.extend(
            m.into_iter()
                .map(|m| format!("{addr}: {m} (sharded vs whole)")),
        );
    }
    assert_none("sharded vs unsharded", &diff);
}

/// Runs a bad command and returns it with the packets the scanner's interface sent
/// meanwhile, the smallest of up to three tries (the kernel may send a stray ARP).
fn counted(lab: &Lab, cmd: &[&str]) -> (common::Run, u64) {
    let mut best = None;
    for _ in 0..3 {
        lab.wait_tx_quiet();
        let before = lab.tx_packets();
        let run = lab.portolan(cmd);
        let sent = lab.tx_packets() - before;
        if sent == 0 {
            return (run, 0);
        }
        best = Some((run, sent));
    }
    best.expect("three attempts")
}

/// A resume file for `argv`, as an interrupted scan that finished nothing writes it.
fn write_resume(lab: &Lab, name: &str, argv: &[&str]) -> String {
    let path = lab.out(name);
    let file = serde_json::json!({
        "format": "portolan-resume", "version": 1, "portolan": "0.1.0",
        "cwd": lab.ns.dir, "argv": argv, "seed": 7, "raw": null, "shard": null,
        "index_space": 1, "next_position": 0, "unfinished": [],
        "hosts_total": 0, "hosts_up": 0, "elapsed_secs": 0.5,
    });
    fs::write(&path, file.to_string()).expect("write resume file");
    path
}

#[test]
fn bad_shard_and_resume_input_exits_2_names_it_and_sends_nothing() {
    let lab = Lab::up("resumebad");
    let h1 = lab.host("h1").v4.clone();
    let scan = ["-sT", "-Pn", "-n", "-p", "22"];
    let shard_cases: [(&[&str], &str); 5] = [
        (&["--shards", "3", "--shard", "4"], "--shard 4"),
        (&["--shards", "3", "--shard", "0"], "--shard 0"),
        (&["--shards", "three", "--shard", "1"], "--shards 'three'"),
        (&["--shard", "2"], "--shards"),
        (&["--shards", "3", "--shard", "x"], "--shard 'x'"),
    ];
    for (flags, named) in shard_cases {
        let cmd = [&scan[..], flags, &[h1.as_str()]].concat();
        let (run, sent) = counted(&lab, &cmd);
        assert_eq!(run.code, 2, "{flags:?}: {run:?}");
        assert!(
            run.stderr.contains(named),
            "stderr must name {named}: {run:?}"
        );
        assert_eq!(sent, 0, "{flags:?}: packets sent");
    }

    let xml = lab.out("cut.xml");
    let argv = [
        "portolan", "-sT", "-Pn", "-n", "-p", "22", "-oX", "cut.xml", &h1,
    ];
    let resume = write_resume(&lab, "bad.resume", &argv);
    let (run, sent) = counted(&lab, &["--resume", &resume, "-v"]);
    assert_eq!(
        (run.code, sent),
        (2, 0),
        "--resume with another option: {run:?}"
    );
    assert!(run.stderr.contains("'-v'"), "stderr must name -v: {run:?}");
    let (run, sent) = counted(&lab, &["--resume", &resume]);
    assert_eq!((run.code, sent), (2, 0), "missing output file: {run:?}");
    assert!(
        run.stderr.contains("cut.xml"),
        "stderr must name cut.xml: {run:?}"
    );
    let cut = "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"portolan\">\n<host>";
    fs::write(&xml, cut).expect("write");
    let (run, sent) = counted(&lab, &["--resume", &resume]);
    assert_eq!((run.code, sent), (2, 0), "XML without runstats: {run:?}");
    assert!(
        run.stderr.contains("cut.xml"),
        "stderr must name cut.xml: {run:?}"
    );
    assert_eq!(
        fs::read_to_string(&xml).expect("read"),
        cut,
        "refused file untouched"
    );
    let missing = lab.out("no-such.resume");
    let (run, sent) = counted(&lab, &["--resume", &missing]);
    assert_eq!((run.code, sent), (2, 0), "missing resume file: {run:?}");
    assert!(run.stderr.contains("no-such.resume"), "{run:?}");
}
