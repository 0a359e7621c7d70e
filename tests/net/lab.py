#!/usr/bin/env python3
"""Build and tear down Portolan's test network in network namespaces.

    python3 tests/net/lab.py up       --prefix P   # build, print the JSON truth on stdout
    python3 tests/net/lab.py down     --prefix P   # remove everything named P-*, idempotent
    python3 tests/net/lab.py describe --prefix P   # print the JSON truth without building
    python3 tests/net/lab.py gc                    # remove labs of dead test processes

Topology (every namespace is named P-<node>; the root namespace is never touched):

    P-scan 198.18.0.1  ---+
    P-h1   198.18.0.11 ---+                                   (bridge br0
    P-h2   198.18.0.12 ---+-- P-sw:br0                         lives in P-sw)
    P-h3   198.18.0.13 ---+
    P-rtr  198.18.0.254 --+   P-rtr 198.18.1.254 --veth-- P-h4 198.18.1.14

IPv6: scanner 2001:db8:0:1::1, h1 2001:db8:0:1::11, router 2001:db8:0:1::fe and
2001:db8:0:2::fe, h4 2001:db8:0:2::14. Only 198.18.0.0/15 and 2001:db8::/32 are
used. h2 filters with nftables (drop and ICMP rejects), h3 loses 10 % of all
packets both ways (nft numgen), h4 sits one routed hop away.

Every host namespace runs one tests/net/listener.py (accept-and-close on every
open port). Its pid goes to /tmp/portolan-lab-P.json so `down` can stop it.
Stdlib only; needs root, iproute2 (ip, ss) and nft.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LISTENER = os.path.join(HERE, "listener.py")
LOSS_PCT = 10
SCANNER = {"v4": "198.18.0.1", "v6": "2001:db8:0:1::1", "if": "eth0"}
ROUTER = {"v4_lan": "198.18.0.254", "v6_lan": "2001:db8:0:1::fe",
          "v4_far": "198.18.1.254", "v6_far": "2001:db8:0:2::fe"}

# Reject kinds: nft's ICMP type name -> the reason a scanner should report.
REJECT_REASON = {"admin-prohibited": "admin-prohibited",
                 "host-unreachable": "host-unreach"}

HOSTS = [
    {"name": "h1", "v4": "198.18.0.11", "v6": "2001:db8:0:1::11", "far": False,
     "open": [22, 80, 443, 8080, 3306, 50000], "drop": [], "reject": {},
     "lossy": False},
    {"name": "h2", "v4": "198.18.0.12", "v6": None, "far": False,
     "open": [22, 80, 5432], "drop": [23, 8081, 9999, 40000],
     "reject": {25: "admin-prohibited", 110: "admin-prohibited",
                3389: "admin-prohibited", 135: "host-unreachable"},
     "lossy": False},
    {"name": "h3", "v4": "198.18.0.13", "v6": None, "far": False,
     "open": [21, 22, 80, 443, 8443], "drop": [], "reject": {}, "lossy": True},
    {"name": "h4", "v4": "198.18.1.14", "v6": "2001:db8:0:2::14", "far": True,
     "open": [22, 443, 7000], "drop": [], "reject": {}, "lossy": False},
]
NODES = ["sw", "scan", "rtr"] + [h["name"] for h in HOSTS]

# Per-namespace sysctls: no DAD (addresses usable at once), no router
# solicitations or autoconf (no stray packets, so TX counters stay quiet), and
# no ICMP rate limiting (every reject is answered even during a fast scan).
SYSCTLS = {
    "net/ipv6/conf/all/accept_dad": "0", "net/ipv6/conf/default/accept_dad": "0",
    "net/ipv6/conf/all/accept_ra": "0", "net/ipv6/conf/default/accept_ra": "0",
    "net/ipv6/conf/all/autoconf": "0", "net/ipv6/conf/default/autoconf": "0",
    "net/ipv6/conf/all/router_solicitations": "0",
    "net/ipv6/conf/default/router_solicitations": "0",
    "net/ipv6/conf/all/disable_ipv6": "0", "net/ipv6/conf/default/disable_ipv6": "0",
    "net/ipv4/icmp_ratelimit": "0", "net/ipv6/icmp/ratelimit": "0",
}
ROUTER_SYSCTLS = {"net/ipv4/ip_forward": "1", "net/ipv6/conf/all/forwarding": "1"}


class LabError(Exception):
    pass


def run(args, check=True, capture=True, timeout=30):
    """Run a command (bounded in time); raise LabError with its stderr on failure."""
    proc = subprocess.run(args, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError("command failed (%d): %s\n%s" % (proc.returncode, " ".join(args),
                                                        proc.stderr.strip()))
    return proc


def ns(prefix, node):
    return "%s-%s" % (prefix, node)


def ipn(prefix, node, *args):
    """Run `ip` inside namespace P-node."""
    return run(["ip", "-n", ns(prefix, node)] + list(args))


def state_path(prefix):
    return "/tmp/portolan-lab-%s.json" % prefix


def netns_conf_dir(prefix, node):
    return "/etc/netns/%s" % ns(prefix, node)


# ---------------------------------------------------------------- truth


def host_truth(prefix, host):
    ports = {}
    for p in host["open"]:
        ports[str(p)] = {"state": "open", "reason": "syn-ack"}
    for p in host["drop"]:
        ports[str(p)] = {"state": "filtered", "reason": "no-response"}
    for p, kind in host["reject"].items():
        ports[str(p)] = {"state": "filtered", "reason": REJECT_REASON[kind],
                         "icmp": kind}
    ports = dict(sorted(ports.items(), key=lambda kv: int(kv[0])))
    return {"name": host["name"], "ns": ns(prefix, host["name"]), "v4": host["v4"],
            "v6": host["v6"], "hops": 2 if host["far"] else 1, "lossy": host["lossy"],
            "loss_pct": LOSS_PCT if host["lossy"] else 0, "ports": ports,
            "default_state": "closed", "default_reason": "conn-refused"}


def describe(prefix):
    return {"prefix": prefix, "scanner_ns": ns(prefix, "scan"),
            "scanner_if": SCANNER["if"], "scanner_v4": SCANNER["v4"],
            "scanner_v6": SCANNER["v6"], "router_ns": ns(prefix, "rtr"),
            "switch_ns": ns(prefix, "sw"), "state_file": state_path(prefix),
            "hosts": [host_truth(prefix, h) for h in HOSTS]}


# ---------------------------------------------------------------- build


def set_sysctls(prefix, node, values):
    script = "; ".join("echo %s > /proc/sys/%s" % (v, k) for k, v in values.items())
    run(["ip", "netns", "exec", ns(prefix, node), "sh", "-c", script])


def make_namespaces(prefix):
    for node in NODES:
        run(["ip", "netns", "add", ns(prefix, node)])
        set_sysctls(prefix, node, SYSCTLS)
        ipn(prefix, node, "link", "set", "lo", "up")
    set_sysctls(prefix, "rtr", ROUTER_SYSCTLS)
    # DNS inside the scanner namespace goes to its own loopback, never outside.
    os.makedirs(netns_conf_dir(prefix, "scan"), exist_ok=True)
    with open(os.path.join(netns_conf_dir(prefix, "scan"), "resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")


def add_addrs(prefix, node, dev, v4, v6):
    ipn(prefix, node, "addr", "add", v4, "dev", dev)
    if v6:
        ipn(prefix, node, "-6", "addr", "add", v6, "dev", dev, "nodad")
    ipn(prefix, node, "link", "set", dev, "up")


def plug_into_bridge(prefix, node, v4, v6):
    """veth created inside P-sw (port `node`), its peer born as eth0 inside P-node."""
    ipn(prefix, "sw", "link", "add", node, "type", "veth", "peer", "name", "eth0",
        "netns", ns(prefix, node))
    ipn(prefix, "sw", "link", "set", node, "master", "br0", "up")
    add_addrs(prefix, node, "eth0", v4, v6)


def make_links(prefix):
    ipn(prefix, "sw", "link", "add", "br0", "type", "bridge", "stp_state", "0",
        "forward_delay", "0", "mcast_snooping", "0")
    ipn(prefix, "sw", "link", "set", "br0", "up")
    plug_into_bridge(prefix, "scan", SCANNER["v4"] + "/24", SCANNER["v6"] + "/64")
    plug_into_bridge(prefix, "rtr", ROUTER["v4_lan"] + "/24", ROUTER["v6_lan"] + "/64")
    for h in HOSTS:
        if not h["far"]:
            plug_into_bridge(prefix, h["name"], h["v4"] + "/24",
                             h["v6"] + "/64" if h["v6"] else None)
    for h in HOSTS:
        if h["far"]:
            ipn(prefix, "rtr", "link", "add", "eth1", "type", "veth", "peer", "name",
                "eth0", "netns", ns(prefix, h["name"]))
            add_addrs(prefix, "rtr", "eth1", ROUTER["v4_far"] + "/24",
                      ROUTER["v6_far"] + "/64")
            add_addrs(prefix, h["name"], "eth0", h["v4"] + "/24", h["v6"] + "/64")
            ipn(prefix, h["name"], "route", "add", "default", "via", ROUTER["v4_far"])
            ipn(prefix, h["name"], "-6", "route", "add", "default", "via", ROUTER["v6_far"])
    ipn(prefix, "scan", "route", "add", "198.18.1.0/24", "via", ROUTER["v4_lan"])
    ipn(prefix, "scan", "-6", "route", "add", "2001:db8:0:2::/64", "via", ROUTER["v6_lan"])


def nft_rules(host):
    if host["lossy"]:
        drop = "numgen random mod 100 < %d drop" % LOSS_PCT
        return ("table inet portolan {\n"
                " chain in { type filter hook input priority 0; policy accept; %s; }\n"
                " chain out { type filter hook output priority 0; policy accept; %s; }\n"
                "}\n" % (drop, drop))
    if not host["drop"] and not host["reject"]:
        return None
    rules = []
    if host["drop"]:
        rules.append("tcp dport { %s } drop" % ", ".join(map(str, host["drop"])))
    for kind in sorted(set(host["reject"].values())):
        ports = sorted(p for p, k in host["reject"].items() if k == kind)
        rules.append("tcp dport { %s } reject with icmp type %s"
                     % (", ".join(map(str, ports)), kind))
    return ("table ip portolan {\n chain in {\n  type filter hook input priority 0;"
            " policy accept;\n  %s\n }\n}\n" % "\n  ".join(rules))


def apply_firewalls(prefix):
    for h in HOSTS:
        text = nft_rules(h)
        if text is None:
            continue
        proc = subprocess.run(["ip", "netns", "exec", ns(prefix, h["name"]), "nft", "-f", "-"],
                              input=text, text=True, stderr=subprocess.PIPE, timeout=30)
        if proc.returncode != 0:
            raise LabError("nft failed in %s: %s" % (h["name"], proc.stderr.strip()))


def save_state(prefix, state):
    tmp = state_path(prefix) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, state_path(prefix))


def start_listeners(prefix, state):
    for h in HOSTS:
        log = open("/tmp/portolan-lab-%s-%s.log" % (prefix, h["name"]), "w")
        args = ["ip", "netns", "exec", ns(prefix, h["name"]), sys.executable, LISTENER]
        proc = subprocess.Popen(args + [str(p) for p in h["open"]], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True)
        log.close()
        state["pids"].append(proc.pid)
        save_state(prefix, state)


def listening_ports(prefix, node):
    out = run(["ip", "netns", "exec", ns(prefix, node), "ss", "-ltnH"]).stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            addr, _, port = fields[3].rpartition(":")
            found.add((addr, int(port)))
    return found


def wait_listening(prefix, deadline_s=15.0):
    """Wait (bounded) until every open port listens on 0.0.0.0 and [::]."""
    end = time.monotonic() + deadline_s
    for h in HOSTS:
        want = {(a, p) for p in h["open"] for a in ("0.0.0.0", "[::]")}
        while True:
            missing = want - listening_ports(prefix, h["name"])
            if not missing:
                break
            if time.monotonic() > end:
                raise LabError("%s: listeners not up on %s (see /tmp/portolan-lab-%s-%s.log)"
                               % (h["name"], sorted(missing), prefix, h["name"]))
            time.sleep(0.1)


PROBE = r"""
import socket, sys, time
ok = True
for fam, addr, port in [tuple(x.split("|")) for x in sys.argv[1:]]:
    family = socket.AF_INET6 if fam == "6" else socket.AF_INET
    for attempt in range(8):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1.5)
        try:
            s.connect((addr, int(port)))
            break
        except OSError as e:
            err = e
        finally:
            s.close()
        time.sleep(0.2)
    else:
        print("unreachable %s port %s: %s" % (addr, port, err))
        ok = False
sys.exit(0 if ok else 1)
"""


def check_reachability(prefix):
    """Connect once from the scanner to one open port of every host, v4 and v6."""
    targets = []
    for h in HOSTS:
        targets.append("4|%s|%d" % (h["v4"], h["open"][0]))
        if h["v6"]:
            targets.append("6|%s|%d" % (h["v6"], h["open"][0]))
    proc = run(["ip", "netns", "exec", ns(prefix, "scan"), sys.executable, "-c", PROBE]
               + targets, check=False, timeout=120)
    if proc.returncode != 0:
        raise LabError("lab reachability check failed:\n" + proc.stdout + proc.stderr)


def up(prefix):
    down(prefix)
    state = {"prefix": prefix, "pids": []}
    save_state(prefix, state)
    try:
        make_namespaces(prefix)
        make_links(prefix)
        apply_firewalls(prefix)
        start_listeners(prefix, state)
        wait_listening(prefix)
        check_reachability(prefix)
    except BaseException:
        down(prefix)
        raise
    return describe(prefix)


# ---------------------------------------------------------------- teardown


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def pid_is_listener(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"listener.py" in f.read()
    except OSError:
        return False


def stop_pids(pids):
    """SIGTERM then, after up to 3 s, SIGKILL: only the given pids."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + 3
    while time.monotonic() < end and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def our_namespaces(prefix):
    out = run(["ip", "netns", "list"], check=False).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix + "-")]


def down(prefix):
    pids = []
    try:
        with open(state_path(prefix)) as f:
            pids = [p for p in json.load(f).get("pids", []) if pid_is_listener(p)]
    except (OSError, ValueError):
        pass
    namespaces = our_namespaces(prefix)
    for name in namespaces:
        # Anything still running inside our namespaces (listeners, a hung scan) is ours.
        out = run(["ip", "netns", "pids", name], check=False).stdout
        pids += [int(p) for p in out.split() if p.isdigit()]
    stop_pids(sorted(set(pids)))
    errors = []
    for name in namespaces:
        proc = run(["ip", "netns", "del", name], check=False)
        if proc.returncode != 0 and name in our_namespaces(prefix):
            errors.append(proc.stderr.strip())
    for node in NODES:
        path = netns_conf_dir(prefix, node)
        for f in ("resolv.conf",):
            try:
                os.unlink(os.path.join(path, f))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(path)
        except (FileNotFoundError, OSError):
            pass
    for path in [state_path(prefix)] + ["/tmp/portolan-lab-%s-%s.log" % (prefix, h["name"])
                                         for h in HOSTS]:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    if errors:
        raise LabError("could not delete namespaces: " + "; ".join(errors))


def gc():
    """Tear down labs left by killed test runs: prefix `pt<pid>` whose pid is gone."""
    out = run(["ip", "netns", "list"], check=False).stdout
    nodes = "|".join(NODES)
    stale = set()
    for line in out.splitlines():
        m = re.fullmatch(r"(pt(\d+))-(%s)" % nodes, line.split()[0] if line.split() else "")
        if m and not pid_alive(int(m.group(2))):
            stale.add(m.group(1))
    for prefix in sorted(stale):
        sys.stderr.write("lab.py gc: removing stale lab %s\n" % prefix)
        down(prefix)


# ---------------------------------------------------------------- main


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "describe", "gc"])
    parser.add_argument("--prefix", default="",
                        help="namespace prefix: a letter then up to 9 letters/digits")
    args = parser.parse_args(argv)
    if args.command != "gc" and not re.fullmatch(r"[a-z][a-z0-9]{0,9}", args.prefix):
        parser.error("--prefix must match [a-z][a-z0-9]{0,9}")
    if args.command == "describe":
        print(json.dumps(describe(args.prefix), indent=1))
        return 0
    if os.geteuid() != 0:
        sys.stderr.write("lab.py: needs root (network namespaces, veth, nftables)\n")
        return 1
    try:
        if args.command == "up":
            print(json.dumps(up(args.prefix), indent=1))
        elif args.command == "gc":
            gc()
        else:
            down(args.prefix)
    except (LabError, subprocess.TimeoutExpired, OSError) as err:
        sys.stderr.write("lab.py %s: %s\n" % (args.command, err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
