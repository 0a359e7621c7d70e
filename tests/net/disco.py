#!/usr/bin/env python3
"""Build and tear down the host-discovery test network in network namespaces.

    python3 tests/net/disco.py up       --prefix P [--loss PCT] [--resolver dns|loopback]
    python3 tests/net/disco.py down     --prefix P   # remove everything named P-*, idempotent
    python3 tests/net/disco.py describe --prefix P   # print the JSON truth without building
    python3 tests/net/disco.py counters --prefix P   # the scanner's egress counters as JSON
    python3 tests/net/disco.py gc                    # remove labs of dead test processes

Topology (every namespace is named P-<node>; the root namespace is never touched):

    P-scan 198.18.0.1   ---+
    P-d1   198.18.0.21  ---+
    P-d2   198.18.0.22  ---+-- P-sw:br0            P-sw:br1 --+--- P-d4 198.18.1.24
    P-d3   198.18.0.23  ---+                                   +--- P-d5 198.18.1.25
    P-dns  198.18.0.53  ---+                                   |
    P-rtr  198.18.0.254 ---+   P-rtr 198.18.1.254 -------------+

IPv6: scanner 2001:db8:0:1::1, d1 2001:db8:0:1::21, d3 2001:db8:0:1::23, router
2001:db8:0:1::fe and 2001:db8:0:2::fe, d5 2001:db8:0:2::25. Only 198.18.0.0/15
and 2001:db8::/32 are used.

- d1: an ordinary host (answers ping; TCP 22 and 80 open).
- d2: nft drops ICMP echo, timestamp and address-mask requests; TCP 80 open.
- d3: nft drops every IP packet in and out, but IPv6 neighbour solicitations and
  advertisements: only ARP and ND find it.
- dns: dnsmasq on 198.18.0.53:53 (no upstream, no /etc/hosts, no DHCP), answering
  A/AAAA and PTR for the names in the truth and NXDOMAIN for every other address
  of the lab's zones.
- rtr: forwards between the two segments; ICMP rate limits off, so it answers
  every packet for an empty far address with an ICMP host unreachable once its
  ARP for that address fails.
- d4: nft drops all input but TCP 443 (open).
- d5: an ordinary host (answers ping and ICMP timestamps; TCP 22 open).

Every host on the scanner's segment has a fixed MAC from an IEEE-registered OUI
(a different vendor each); the truth carries each MAC and the vendor name as
Debian's ieee-data oui.csv spells it. The scanner namespace's resolver is
/etc/netns/P-scan/resolv.conf (`ip netns exec` bind-mounts it over
/etc/resolv.conf): the lab's DNS server, or with `--resolver loopback` the
scanner's own loopback (nothing answers there). `--loss PCT` drops PCT % of the
frames each way on the scanner's veth (nft netdev ingress and egress), after the
self-check. A netdev egress table on the scanner's eth0 counts what it sends
(`counters`): everything, DNS to the lab's server, ARP to or about it, and the
rest ("other").

`up` checks the lab from the scanner (a connection to an open port of every
listening host over IPv4 and IPv6, the PTR answers, d3's ARP answer), then
flushes every neighbour cache (each scan starts cold, and no peer revalidates
the scanner's MAC later) and returns once the scanner's interface has been
quiet for 2 s, so packet counts taken after it see only what a scan sends.

Reuses tests/net/lab.py's helpers; stdlib only; needs root, iproute2, nft and
dnsmasq.
"""

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab  # noqa: E402  (the lab's helpers, used as a library)

OUI_CSV = "/usr/share/ieee-data/oui.csv"
DNS_V4 = "198.18.0.53"
SILENT_V4 = "198.18.0.99"  # nothing lives here: a DNS server that never answers
SEGMENT = {"v4": "198.18.0.0/24", "v6": "2001:db8:0:1::/64"}
FAR = {"v4": "198.18.1.0/24", "v6": "2001:db8:0:2::/64"}
ZONES = ["18.198.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa", "lab.test"]
COUNT_TABLE = "portolan_count"
LOSS_TABLE = "portolan_loss"

SCANNER = {"name": "scan", "node": "scan", "v4": "198.18.0.1", "v6": "2001:db8:0:1::1",
           "mac": "00:1B:21:12:00:01", "ptr": "scanner.lab.test", "ptr_v6": None}

# Every address that answers, with what it answers. `reason` is what a default
# privileged -sn of both /24s reports; `no_arp` what it reports with
# --disable-arp-ping (None: down); `open` its open TCP ports; every other TCP port
# is closed (RST), or filtered (no answer) on the hosts in FILTERED.
HOSTS = [
    {"name": "d1", "node": "d1", "v4": "198.18.0.21", "v6": "2001:db8:0:1::21",
     "mac": "00:00:0C:12:00:21", "on_link": True, "open": [22, 80],
     "ptr": "d1.lab.test", "ptr_v6": "d1.lab.test",
     "reason": "arp-response", "no_arp": ["echo-reply"], "v6_reason": "nd-response"},
    {"name": "d2", "node": "d2", "v4": "198.18.0.22", "v6": None,
     "mac": "00:14:22:12:00:22", "on_link": True, "open": [80],
     "ptr": "d2.lab.test", "ptr_v6": None,
     "reason": "arp-response", "no_arp": ["syn-ack", "reset"], "v6_reason": None},
    {"name": "d3", "node": "d3", "v4": "198.18.0.23", "v6": "2001:db8:0:1::23",
     "mac": "B8:27:EB:12:00:23", "on_link": True, "open": [],
     "ptr": "d3.lab.test", "ptr_v6": None,
     "reason": "arp-response", "no_arp": None, "v6_reason": "nd-response"},
    {"name": "dns", "node": "dns", "v4": DNS_V4, "v6": None,
     "mac": "00:11:32:12:00:53", "on_link": True, "open": [],
     "ptr": "ns.lab.test", "ptr_v6": None,
     "reason": "arp-response", "no_arp": ["echo-reply"], "v6_reason": None},
    {"name": "rtr", "node": "rtr", "v4": "198.18.0.254", "v6": "2001:db8:0:1::fe",
     "mac": "4C:5E:0C:12:00:FE", "on_link": True, "open": [],
     "ptr": "rtr.lab.test", "ptr_v6": None,
     "reason": "arp-response", "no_arp": ["echo-reply"], "v6_reason": "nd-response"},
    {"name": "rtr1", "node": "rtr", "v4": "198.18.1.254", "v6": "2001:db8:0:2::fe",
     "mac": None, "on_link": False, "open": [],
     "ptr": "rtr1.lab.test", "ptr_v6": None,
     "reason": "echo-reply", "no_arp": ["echo-reply"], "v6_reason": "echo-reply"},
    {"name": "d4", "node": "d4", "v4": "198.18.1.24", "v6": None,
     "mac": None, "on_link": False, "open": [443],
     "ptr": "d4.lab.test", "ptr_v6": None,
     "reason": "syn-ack", "no_arp": ["syn-ack"], "v6_reason": None},
    {"name": "d5", "node": "d5", "v4": "198.18.1.25", "v6": "2001:db8:0:2::25",
     "mac": None, "on_link": False, "open": [22],
     "ptr": "d5.lab.test", "ptr_v6": "d5.lab.test",
     "reason": "echo-reply", "no_arp": ["echo-reply"], "v6_reason": "echo-reply"},
]
# The router's far side and the hosts behind it (MACs no scanner can see).
FAR_MACS = {"rtr": "4C:5E:0C:12:01:FE", "d4": "00:19:E3:12:01:24",
            "d5": "3C:5A:B4:12:01:25"}
ROUTER = {"v4_lan": "198.18.0.254", "v6_lan": "2001:db8:0:1::fe",
          "v4_far": "198.18.1.254", "v6_far": "2001:db8:0:2::fe"}
FILTERED = ["d3", "d4"]
MACHINES = ["d1", "d2", "d3", "dns", "d4", "d5"]
NODES = ["sw", "scan", "rtr"] + MACHINES

NFT = {
    "d2": """table inet portolan {
 chain in {
  type filter hook input priority 0; policy accept;
  icmp type { echo-request, timestamp-request, address-mask-request } drop
 }
}
""",
    "d3": """table inet portolan {
 chain in {
  type filter hook input priority 0; policy drop;
  icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
 }
 chain out {
  type filter hook output priority 0; policy drop;
  icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
 }
}
""",
    "d4": """table inet portolan {
 chain in {
  type filter hook input priority 0; policy drop;
  tcp dport 443 accept
 }
}
""",
}

COUNT_RULES = """table netdev %(t)s {
 counter total {}
 counter dns {}
 counter arp_dns {}
 chain out {
  type filter hook egress device "eth0" priority 0; policy accept;
  counter name "total"
  ip daddr %(dns)s udp dport 53 counter name "dns"
  ip daddr %(dns)s tcp dport 53 counter name "dns"
  arp daddr ip %(dns)s counter name "arp_dns"
 }
}
"""

LOSS_RULES = """table netdev %(t)s {
 chain in {
  type filter hook ingress device "eth0" priority -10; policy accept;
  numgen random mod 100 < %(pct)d drop
 }
 chain out {
  type filter hook egress device "eth0" priority -10; policy accept;
  numgen random mod 100 < %(pct)d drop
 }
}
"""


class DiscoError(lab.LabError):
    pass


def ns(prefix, node):
    return lab.ns(prefix, node)


def dns_pid_path(prefix):
    return "/tmp/portolan-disco-%s-dns.pid" % prefix


def log_path(prefix, node):
    return "/tmp/portolan-disco-%s-%s.log" % (prefix, node)


# ---------------------------------------------------------------- truth


def oui_names(path=OUI_CSV):
    """{'00000C': 'Cisco Systems, Inc', ...} for the OUIs the lab uses."""
    wanted = {h["mac"].replace(":", "")[:6] for h in HOSTS + [SCANNER] if h["mac"]}
    wanted |= {m.replace(":", "")[:6] for m in FAR_MACS.values()}
    names = {}
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.reader(f):
                if len(row) >= 3 and row[0] == "MA-L" and row[1].upper() in wanted:
                    names.setdefault(row[1].upper(), row[2].strip())
    except OSError as err:
        raise DiscoError("cannot read %s (Debian package ieee-data): %s" % (path, err))
    missing = wanted - set(names)
    if missing:
        raise DiscoError("%s lacks OUIs %s" % (path, sorted(missing)))
    return names


def vendor_of(names, mac):
    return names[mac.replace(":", "")[:6]] if mac else None


def host_truth(prefix, host, names):
    t = {k: host[k] for k in ("name", "v4", "v6", "on_link", "open", "ptr", "ptr_v6",
                              "reason", "no_arp", "v6_reason")}
    t["ns"] = ns(prefix, host["node"])
    t["mac"] = host["mac"]
    # A scanner sees the MAC of on-link hosts only (and never reports its own).
    t["mac_reported"] = host["on_link"]
    t["vendor"] = vendor_of(names, host["mac"])
    t["hops"] = 1 if host["on_link"] or host["node"] == "rtr" else 2
    t["other_ports"] = ({"state": "filtered", "reason": "no-response"}
                        if host["name"] in FILTERED else {"state": "closed", "reason": "reset"})
    return t


def describe(prefix, loss=0, resolver="dns"):
    names = oui_names()
    scanner = dict(SCANNER, ns=ns(prefix, "scan"), vendor=vendor_of(names, SCANNER["mac"]),
                   reason="localhost-response", on_link=True, mac_reported=False, hops=0,
                   open=[], other_ports=None)
    return {
        "prefix": prefix, "scanner_ns": ns(prefix, "scan"), "scanner_if": "eth0",
        "scanner_v4": SCANNER["v4"], "scanner_v6": SCANNER["v6"], "scanner": scanner,
        "segment": SEGMENT, "far": FAR, "router": ROUTER,
        "dns_server": DNS_V4, "silent_dns_server": SILENT_V4,
        "resolver": DNS_V4 if resolver == "dns" else "127.0.0.1",
        "zones": ZONES, "loss_pct": loss, "state_file": lab.state_path(prefix),
        "hosts": [host_truth(prefix, h, names) for h in HOSTS],
        "far_macs": {k: {"mac": v, "vendor": vendor_of(names, v)} for k, v in FAR_MACS.items()},
        "empty": {
            "segment": "no answer at all: nothing answers ARP for it",
            "far": "the router answers each probe with ICMP host unreachable "
                   "(type 3 code 1) once its ARP for the address fails (about 3 s)",
        },
        "answers": {
            "arp": "every on-link host but the scanner",
            "icmp_echo": ["d1", "dns", "rtr", "rtr1", "d5"],
            "icmp_timestamp": ["d1", "dns", "rtr", "rtr1", "d5"],
            "icmp_address_mask": [],
            "udp_closed_port_unreachable": ["d1", "d2", "dns", "rtr", "rtr1", "d5"],
        },
    }


# ---------------------------------------------------------------- build


def make_namespaces(prefix, resolver):
    for node in NODES:
        lab.run(["ip", "netns", "add", ns(prefix, node)])
        lab.set_sysctls(prefix, node, lab.SYSCTLS)
        lab.ipn(prefix, node, "link", "set", "lo", "up")
    lab.set_sysctls(prefix, "rtr", lab.ROUTER_SYSCTLS)
    conf = lab.netns_conf_dir(prefix, "scan")
    os.makedirs(conf, exist_ok=True)
    server = DNS_V4 if resolver == "dns" else "127.0.0.1"
    with open(os.path.join(conf, "resolv.conf"), "w") as f:
        f.write("nameserver %s\noptions timeout:1 attempts:2\n" % server)


def plug(prefix, bridge, port, node, dev, mac, v4, v6):
    """veth `port` on P-sw's `bridge`, its peer born as `dev` inside P-node."""
    lab.ipn(prefix, "sw", "link", "add", port, "type", "veth", "peer", "name", dev,
            "netns", ns(prefix, node))
    lab.ipn(prefix, "sw", "link", "set", port, "master", bridge, "up")
    lab.ipn(prefix, node, "link", "set", dev, "address", mac)
    lab.add_addrs(prefix, node, dev, v4, v6)


def make_bridges(prefix):
    for br in ("br0", "br1"):
        lab.ipn(prefix, "sw", "link", "add", br, "type", "bridge", "stp_state", "0",
                "forward_delay", "0", "mcast_snooping", "0")
        lab.ipn(prefix, "sw", "link", "set", br, "up")


def make_links(prefix):
    make_bridges(prefix)
    plug(prefix, "br0", "scan", "scan", "eth0", SCANNER["mac"], SCANNER["v4"] + "/24",
         SCANNER["v6"] + "/64")
    for h in HOSTS:
        if h["name"] == "rtr1":
            continue
        bridge = "br0" if h["on_link"] else "br1"
        v6 = h["v6"] + "/64" if h["v6"] else None
        mac = h["mac"] or FAR_MACS[h["name"]]
        plug(prefix, bridge, h["name"], h["node"], "eth0", mac, h["v4"] + "/24", v6)
    plug(prefix, "br1", "rtr1", "rtr", "eth1", FAR_MACS["rtr"], ROUTER["v4_far"] + "/24",
         ROUTER["v6_far"] + "/64")
    for h in HOSTS:
        if not h["on_link"] and h["node"] != "rtr":
            lab.ipn(prefix, h["node"], "route", "add", "default", "via", ROUTER["v4_far"])
            if h["v6"]:
                lab.ipn(prefix, h["node"], "-6", "route", "add", "default", "via",
                        ROUTER["v6_far"])
        elif h["node"] not in ("rtr",):
            lab.ipn(prefix, h["node"], "route", "add", FAR["v4"], "via", ROUTER["v4_lan"])
            if h["v6"]:
                lab.ipn(prefix, h["node"], "-6", "route", "add", FAR["v6"], "via",
                        ROUTER["v6_lan"])
    lab.ipn(prefix, "scan", "route", "add", FAR["v4"], "via", ROUTER["v4_lan"])
    lab.ipn(prefix, "scan", "-6", "route", "add", FAR["v6"], "via", ROUTER["v6_lan"])


def nft_load(prefix, node, text):
    proc = subprocess.run(["ip", "netns", "exec", ns(prefix, node), "nft", "-f", "-"],
                          input=text, text=True, stderr=subprocess.PIPE, timeout=30)
    if proc.returncode != 0:
        raise DiscoError("nft failed in %s: %s" % (ns(prefix, node), proc.stderr.strip()))


def apply_firewalls(prefix):
    for node, text in NFT.items():
        nft_load(prefix, node, text)
    nft_load(prefix, "scan", COUNT_RULES % {"t": COUNT_TABLE, "dns": DNS_V4})


def dnsmasq_args(prefix):
    args = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--no-poll", "--port=53", "--listen-address=" + DNS_V4,
            "--bind-interfaces", "--log-facility=-", "--log-queries",
            "--user=root", "--group=root", "--pid-file=" + dns_pid_path(prefix)]
    args += ["--local=/%s/" % z for z in ZONES]
    for h in HOSTS + [SCANNER]:
        addrs = [h["v4"]] + ([h["v6"]] if h["ptr_v6"] else [])
        args.append("--host-record=%s,%s" % (h["ptr"], ",".join(addrs)))
    return args


def start_daemons(prefix, state):
    for h in HOSTS:
        if not h["open"]:
            continue
        log = open(log_path(prefix, h["name"]), "w")
        args = ["ip", "netns", "exec", ns(prefix, h["node"]), sys.executable, lab.LISTENER]
        proc = subprocess.Popen(args + [str(p) for p in h["open"]], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True)
        log.close()
        state["pids"].append(proc.pid)
        lab.save_state(prefix, state)
    log = open(log_path(prefix, "dns"), "w")
    args = ["ip", "netns", "exec", ns(prefix, "dns")] + dnsmasq_args(prefix)
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    log.close()
    state["pids"].append(proc.pid)
    lab.save_state(prefix, state)


def wait_daemons(prefix, deadline_s=15.0):
    """Wait (bounded) for every listener and for dnsmasq on port 53."""
    end = time.monotonic() + deadline_s
    want = [(h["node"], "0.0.0.0", p) for h in HOSTS for p in h["open"]]
    while True:
        missing = [w for w in want if (w[1], w[2]) not in lab.listening_ports(prefix, w[0])]
        udp = lab.run(["ip", "netns", "exec", ns(prefix, "dns"), "ss", "-lunH",
                       "sport = :53"]).stdout
        if not missing and DNS_V4 in udp:
            return
        if time.monotonic() > end:
            raise DiscoError("daemons not up: %s%s (see %s)" % (
                missing, "" if DNS_V4 in udp else " and dnsmasq", log_path(prefix, "*")))
        time.sleep(0.1)


CHECK = r"""
import json, socket, sys, time
want = json.loads(sys.argv[1])
bad = []
for fam, addr, port in want["connect"]:
    family = socket.AF_INET6 if fam == 6 else socket.AF_INET
    for attempt in range(8):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1.5)
        try:
            s.connect((addr, port))
            break
        except OSError as e:
            err = e
        finally:
            s.close()
        time.sleep(0.2)
    else:
        bad.append("cannot connect to %s port %d: %s" % (addr, port, err))
for addr, name in want["ptr"]:
    try:
        got = socket.gethostbyaddr(addr)[0]
    except OSError as e:
        got = "error %s" % e
    if got != name:
        bad.append("PTR %s: got %s, want %s" % (addr, got, name))
# Nothing answers d3 over IP: a datagram makes the kernel resolve its MAC.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"x", (want["arp_only"], 9))
print("\n".join(bad))
sys.exit(1 if bad else 0)
"""


def check_reachability(prefix, resolver):
    """From the scanner: one open port of every listening host (v4 and v6), the
    DNS server's PTR answers, and ARP alone for d3."""
    connect = []
    for h in HOSTS:
        for p in h["open"][:1]:
            connect.append([4, h["v4"], p])
            if h["v6"]:
                connect.append([6, h["v6"], p])
    ptr = [[h["v4"], h["ptr"]] for h in HOSTS] if resolver == "dns" else []
    d3 = next(h for h in HOSTS if h["name"] == "d3")
    want = {"connect": connect, "ptr": ptr, "arp_only": d3["v4"]}
    proc = lab.run(["ip", "netns", "exec", ns(prefix, "scan"), sys.executable, "-c", CHECK,
                    json.dumps(want)], check=False, timeout=120)
    if proc.returncode != 0:
        raise DiscoError("lab self-check failed:\n" + proc.stdout + proc.stderr)
    wait_neighbour(prefix, d3["v4"], d3["mac"])


def wait_neighbour(prefix, addr, mac, deadline_s=5.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        out = lab.ipn(prefix, "scan", "neigh", "show", addr).stdout.lower()
        if "lladdr " + mac.lower() in out:
            return
        time.sleep(0.1)
    raise DiscoError("%s never answered ARP with %s" % (addr, mac))


def tx_packets(prefix):
    path = "/sys/class/net/eth0/statistics/tx_packets"
    out = lab.run(["ip", "netns", "exec", ns(prefix, "scan"), "cat", path]).stdout
    return int(out.strip())


def wait_quiet(prefix, quiet_s=2.0, deadline_s=15.0):
    """Wait (bounded) until the scanner's eth0 sent nothing for `quiet_s` (the
    kernel's unsolicited MLD reports after the link came up are over)."""
    end = time.monotonic() + deadline_s
    last, since = tx_packets(prefix), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.25)
        now = tx_packets(prefix)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
    raise DiscoError("the scanner's eth0 never went quiet (tx_packets %d)" % last)


def up(prefix, loss, resolver):
    down(prefix)
    state = {"prefix": prefix, "pids": [], "kind": "disco"}
    lab.save_state(prefix, state)
    try:
        make_namespaces(prefix, resolver)
        make_links(prefix)
        apply_firewalls(prefix)
        start_daemons(prefix, state)
        wait_daemons(prefix)
        check_reachability(prefix, resolver)
        # Every scan starts with cold neighbour caches, as a first scan would, and no
        # peer revalidates the scanner's MAC (so its interface stays quiet).
        for node in NODES:
            lab.ipn(prefix, node, "neigh", "flush", "all")
        wait_quiet(prefix)
        if loss:
            nft_load(prefix, "scan", LOSS_RULES % {"t": LOSS_TABLE, "pct": loss})
    except BaseException:
        down(prefix)
        raise
    return describe(prefix, loss, resolver)


def counters(prefix):
    out = lab.run(["ip", "netns", "exec", ns(prefix, "scan"), "nft", "-j", "list",
                   "counters", "table", "netdev", COUNT_TABLE]).stdout
    found = {}
    for item in json.loads(out).get("nftables", []):
        c = item.get("counter")
        if c:
            found[c["name"]] = c["packets"]
    found["other"] = found.get("total", 0) - found.get("dns", 0) - found.get("arp_dns", 0)
    return found


# ---------------------------------------------------------------- teardown


def down(prefix):
    """lab.py's teardown (every process in P-*, the namespaces, the scanner's
    resolv.conf, the state file), then this lab's own files."""
    lab.down(prefix)
    for node in ["dns"] + [h["name"] for h in HOSTS]:
        try:
            os.unlink(log_path(prefix, node))
        except FileNotFoundError:
            pass
    try:
        os.unlink(dns_pid_path(prefix))
    except FileNotFoundError:
        pass


def gc():
    """Tear down labs left by killed test runs: prefix `pd<pid>` whose pid is gone."""
    out = lab.run(["ip", "netns", "list"], check=False).stdout
    stale = set()
    for line in out.splitlines():
        fields = line.split()
        m = re.fullmatch(r"(pd(\d+)[a-z]?)-(%s)" % "|".join(NODES), fields[0] if fields else "")
        if m and not lab.pid_alive(int(m.group(2))):
            stale.add(m.group(1))
    for prefix in sorted(stale):
        sys.stderr.write("disco.py gc: removing stale lab %s\n" % prefix)
        down(prefix)


# ---------------------------------------------------------------- main


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "describe", "counters", "gc"])
    parser.add_argument("--prefix", default="",
                        help="namespace prefix: a letter then up to 9 letters/digits")
    parser.add_argument("--loss", type=int, default=0, help="percent lost each way (0-50)")
    parser.add_argument("--resolver", choices=["dns", "loopback"], default="dns",
                        help="the scanner's resolv.conf: the lab's DNS server or 127.0.0.1")
    args = parser.parse_args(argv)
    if args.command != "gc" and not re.fullmatch(r"[a-z][a-z0-9]{0,9}", args.prefix):
        parser.error("--prefix must match [a-z][a-z0-9]{0,9}")
    if not 0 <= args.loss <= 50:
        parser.error("--loss must be 0..50")
    try:
        if args.command == "describe":
            print(json.dumps(describe(args.prefix, args.loss, args.resolver), indent=1))
            return 0
        if os.geteuid() != 0:
            sys.stderr.write("disco.py: needs root (network namespaces, veth, nftables)\n")
            return 1
        if args.command == "up":
            print(json.dumps(up(args.prefix, args.loss, args.resolver), indent=1))
        elif args.command == "counters":
            print(json.dumps(counters(args.prefix)))
        elif args.command == "gc":
            gc()
        else:
            down(args.prefix)
    except (lab.LabError, subprocess.TimeoutExpired, OSError, ValueError) as err:
        sys.stderr.write("disco.py %s: %s\n" % (args.command, err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
