#!/usr/bin/env python3
"""Add a host behind an nftables SYN proxy to a running test lab (tests/net/lab.py).

    python3 tests/net/lab.py up --prefix P              # the lab first
    python3 tests/net/synproxy_lab.py up    --prefix P  # add P-syn, print its truth as JSON
    python3 tests/net/synproxy_lab.py stats --prefix P  # the SYN proxy's counters as JSON
    python3 tests/net/synproxy_lab.py down  --prefix P  # remove P-syn only, idempotent
    python3 tests/net/lab.py down --prefix P            # removes P-syn with the rest

P-syn (198.18.0.21, 2001:db8:0:1::21) hangs off the lab's bridge like h1-h3 and
runs no listener. Its nft rules untrack every incoming SYN and hand it to the
kernel's `synproxy` statement, which answers SYN-ACK itself, on every port,
before any socket is involved; only ports 7 and 9 answer RST instead (rejected
before the proxy), so a scan sees them closed. A scanner must therefore report
every other TCP port open (syn-ack) and flag the host as answering every port.

`up` proves the proxy answers (its syn_received counter grows when the scanner
namespace connects to a port nothing listens on) before it prints. Scan it over
IPv4: the nft synproxy drops IPv6 SYNs built by raw sockets (seen on Linux 6.18
with Nmap's -sS as well), answering only those of the kernel's own TCP stack. Nothing here
changes lab.py's behaviour: it only reuses its helpers. Only 198.18.0.0/15 and
2001:db8::/32 are used. Stdlib only; needs root, iproute2 and nft.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab  # noqa: E402  (the lab's helpers, used as a library)

NODE = "syn"
HOST = {"name": "syn", "v4": "198.18.0.21", "v6": "2001:db8:0:1::21"}
CLOSED = [7, 9]
# A port nothing listens on, for the self-check: only the proxy can answer it.
CHECK_PORT = 4444

# Raw prerouting untracks SYNs; filter input rejects the closed ports, hands
# untracked SYNs and unknown ACKs to synproxy, and drops what stays invalid.
NFT_RULES = """table inet portolan_synproxy {
 chain pre {
  type filter hook prerouting priority raw; policy accept;
  tcp flags syn notrack
 }
 chain in {
  type filter hook input priority filter; policy accept;
  tcp dport { %s } reject with tcp reset
  ct state invalid,untracked synproxy mss 1460 wscale 7 timestamp sack-perm
  ct state invalid drop
 }
}
""" % ", ".join(map(str, CLOSED))

# The proxy's third step (the client's ACK) must be seen as invalid, not picked
# up mid-stream as a new connection.
SYNPROXY_SYSCTLS = {"net/netfilter/nf_conntrack_tcp_loose": "0",
                    "net/ipv4/tcp_timestamps": "1"}


def truth(prefix):
    ports = {str(p): {"state": "closed", "reason": "reset"} for p in CLOSED}
    return {"name": HOST["name"], "ns": lab.ns(prefix, NODE), "v4": HOST["v4"],
            "v6": HOST["v6"], "ports": ports, "default_state": "open",
            "default_reason": "syn-ack", "answers_every_port": True}


def apply_rules(prefix):
    proc = subprocess.run(["ip", "netns", "exec", lab.ns(prefix, NODE), "nft", "-f", "-"],
                          input=NFT_RULES, text=True, stderr=subprocess.PIPE, timeout=30)
    if proc.returncode != 0:
        raise lab.LabError("nft synproxy rules failed in %s: %s"
                           % (lab.ns(prefix, NODE), proc.stderr.strip()))


def stats(prefix):
    """Sum of each column of /proc/net/stat/synproxy (one hex line per CPU)."""
    out = lab.run(["ip", "netns", "exec", lab.ns(prefix, NODE), "cat",
                   "/proc/net/stat/synproxy"]).stdout.split("\n")
    names = out[0].split()
    totals = dict.fromkeys(names, 0)
    for line in out[1:]:
        for name, value in zip(names, line.split()):
            totals[name] += int(value, 16)
    return totals


CONNECT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(1.5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except OSError as e:
    print("error: %s" % e)
finally:
    s.close()
"""


def check_proxy(prefix):
    """Connect (bounded retries) until the proxy's syn_received counter moves."""
    before = stats(prefix)["syn_received"]
    last = ""
    for _ in range(8):
        proc = lab.run(["ip", "netns", "exec", lab.ns(prefix, "scan"), sys.executable, "-c",
                        CONNECT, HOST["v4"], str(CHECK_PORT)], check=False, timeout=30)
        last = (proc.stdout + proc.stderr).strip()
        if stats(prefix)["syn_received"] > before:
            return
        time.sleep(0.2)
    raise lab.LabError("the SYN proxy on %s never answered port %d (last try: %s)"
                       % (HOST["v4"], CHECK_PORT, last))


def up(prefix):
    if lab.ns(prefix, "sw") not in lab.our_namespaces(prefix):
        raise lab.LabError("no lab %s: run `lab.py up --prefix %s` first" % (prefix, prefix))
    down(prefix)
    try:
        lab.run(["ip", "netns", "add", lab.ns(prefix, NODE)])
        lab.set_sysctls(prefix, NODE, lab.SYSCTLS)
        lab.ipn(prefix, NODE, "link", "set", "lo", "up")
        lab.plug_into_bridge(prefix, NODE, HOST["v4"] + "/24", HOST["v6"] + "/64")
        apply_rules(prefix)
        # The netfilter sysctls exist once the rules above brought conntrack in.
        lab.set_sysctls(prefix, NODE, SYNPROXY_SYSCTLS)
        check_proxy(prefix)
    except BaseException:
        down(prefix)
        raise
    return truth(prefix)


def down(prefix):
    name = lab.ns(prefix, NODE)
    if name not in lab.our_namespaces(prefix):
        return
    out = lab.run(["ip", "netns", "pids", name], check=False).stdout
    lab.stop_pids(sorted({int(p) for p in out.split() if p.isdigit()}))
    # Deleting the namespace also deletes its veth and the bridge port in P-sw.
    proc = lab.run(["ip", "netns", "del", name], check=False)
    if proc.returncode != 0 and name in lab.our_namespaces(prefix):
        raise lab.LabError("could not delete %s: %s" % (name, proc.stderr.strip()))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "stats"])
    parser.add_argument("--prefix", required=True,
                        help="the lab's namespace prefix (as given to lab.py)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9]{0,9}", args.prefix):
        parser.error("--prefix must match [a-z][a-z0-9]{0,9}")
    if os.geteuid() != 0:
        sys.stderr.write("synproxy_lab.py: needs root (network namespaces, nftables)\n")
        return 1
    try:
        if args.command == "up":
            print(json.dumps(up(args.prefix), indent=1))
        elif args.command == "stats":
            print(json.dumps(stats(args.prefix)))
        else:
            down(args.prefix)
    except (lab.LabError, subprocess.TimeoutExpired, OSError) as err:
        sys.stderr.write("synproxy_lab.py %s: %s\n" % (args.command, err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
