#!/usr/bin/env python3
"""Check the test network against its own truth, with Nmap as the scanner.

    python3 tests/net/nmap_check.py --prefix P [--runs N] [--timing T4]

Builds nothing: run `lab.py up --prefix P` first. Runs, inside P-scan:
  1. nmap -sT on h1..h4 (v4) with an explicit list covering every interesting port,
  2. nmap -sT -p- on h2,
  3. nmap -sT -6 on h1 and h4 (v6),
  4. nmap -sT with Nmap's default 1000 ports on all four hosts,
and compares every port state with the lab's truth. Mismatches on the lossy
host are reported but tolerated (Nmap gives up on some lossy ports); any
mismatch elsewhere fails (exit 1). Stdlib only.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
PORT_LIST = "1-1024,3306,5432,8080,8081,8443,9999,40000,50000"


def parse_ports(spec):
    """Expand '1-3,7' into [1, 2, 3, 7]."""
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def parse_nmap_xml(path):
    """Return {addr: {port: (state, reason)}}, extraports expanded."""
    root = ET.parse(path).getroot()
    scanned = []
    for info in root.iter("scaninfo"):
        if info.get("protocol") == "tcp":
            scanned = parse_ports(info.get("services"))
    result = {}
    for host in root.iter("host"):
        addr = host.find("address").get("addr")
        ports = {}
        ports_el = host.find("ports")
        listed = set()
        if ports_el is not None:
            for p in ports_el.iter("port"):
                st = p.find("state")
                ports[int(p.get("portid"))] = (st.get("state"), st.get("reason"))
                listed.add(int(p.get("portid")))
            extras = list(ports_el.iter("extraports"))
            for ex in extras:
                for reason in ex.iter("extrareasons"):
                    if reason.get("ports"):
                        for port in parse_ports(reason.get("ports")):
                            ports[port] = (ex.get("state"), reason.get("reason"))
            if len(extras) == 1 and len(ports) < len(scanned):
                for port in scanned:
                    ports.setdefault(port, (extras[0].get("state"), None))
        result[addr] = ports
    return result, scanned


def expected(host, port):
    truth = host["ports"].get(str(port))
    if truth:
        return truth["state"], truth["reason"]
    return host["default_state"], host["default_reason"]


def run_nmap(lab, args, targets, timing):
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        out = f.name
    cmd = ["ip", "netns", "exec", lab["scanner_ns"], "timeout", "600", "nmap", "-sT", "-Pn",
           "-n", "--reason", "-" + timing, "-oX", out] + args + targets
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit("nmap failed: %s\n%s" % (" ".join(cmd), proc.stderr))
    try:
        return parse_nmap_xml(out)
    finally:
        os.unlink(out)


def compare(lab, name, args, family, hosts, timing):
    targets = [h[family] for h in hosts]
    result, scanned = run_nmap(lab, args, targets, timing)
    hard = 0
    for h in hosts:
        got = result.get(h[family], {})
        bad = []
        for port in scanned:
            want = expected(h, port)
            have = got.get(port, ("missing", None))
            if have[0] != want[0]:
                bad.append("%d: nmap %s/%s, truth %s/%s" % (port, have[0], have[1], *want))
        tag = "OK " if not bad else ("LOSSY" if h["lossy"] else "FAIL")
        print("%s %-8s %-4s %-18s %d ports, %d wrong %s" % (tag, name, h["name"], h[family],
                                                            len(scanned), len(bad), bad[:8]))
        if bad and not h["lossy"]:
            hard += 1
    return hard


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timing", default="T4")
    args = parser.parse_args(argv)
    lab = json.loads(subprocess.run([sys.executable, os.path.join(HERE, "lab.py"), "describe",
                                     "--prefix", args.prefix], check=True,
                                    stdout=subprocess.PIPE, text=True).stdout)
    hosts = {h["name"]: h for h in lab["hosts"]}
    everyone = [hosts[n] for n in ("h1", "h2", "h3", "h4")]
    v6 = [h for h in everyone if h["v6"]]
    failures = 0
    for _ in range(max(1, min(args.runs, 20))):
        failures += compare(lab, "list", ["-p", PORT_LIST], "v4", everyone, args.timing)
        failures += compare(lab, "all", ["-p-"], "v4", [hosts["h2"]], args.timing)
        failures += compare(lab, "v6", ["-6", "-p", PORT_LIST], "v6", v6, args.timing)
        failures += compare(lab, "default", [], "v4", everyone, args.timing)
    print("nmap_check: %s" % ("FAIL" if failures else "lab matches its truth"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
