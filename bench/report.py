#!/usr/bin/env python3
"""Score benchmark runs against the known truth and write BENCHMARKS.md.

    python3 bench/report.py OUT_DIR BENCHMARKS.md
    python3 bench/report.py --write-meta OUT_DIR/scenarios.json   (bench/run.sh, from env)

OUT_DIR is what bench/run.sh leaves: scenarios.json (the truth of every scenario),
commands.tsv (scenario, tool, the exact command line), runs.tsv (one line per tool run:
scenario, tool, run, exit code, XML file, `/usr/bin/time -v` file, log file, veth
counter samples, timeout) and the files those lines name, plus the target's kernel
counters before and after each run (nstat). Every (host, port) of a scenario is compared
with the truth, so one wrong state shows; masscan reports open ports only and is scored
on those alone. Host discovery scenarios (D1, D2) are scored on the set of hosts
reported up instead, version detection (V1) on each service's name, TLS tunnel, product
and version. Output cut short by a timeout is scored as far as it goes.

Scenarios the run did not include keep their sections from the existing BENCHMARKS.md
(the file written to): each carried-over section gets one line under its heading naming
the run that wrote it, and is otherwise copied as it was. Stdlib only.
"""

import ipaddress
import json
import os
import re
import statistics
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the work tree

TIMED_OUT = (124, 137)  # timeout(1): SIGTERM sent, or SIGKILL after --kill-after
OPEN_ONLY = ("masscan", "masscan-max")  # tools that report open ports and nothing else
R2_LIMIT_S = 10.0
R4_LIMIT = 1.2
R5_FLAT = 1.25  # "flat": the /16 peak RSS at most this times the /20 one
V1_RATIO = 2.0  # V1 target: nmap_time / portolan_time at least this
ALL_SCENARIOS = "connect-1 connect-2 R1 R2 R3 R4 R5 D1 D2 V1".split()  # bench/run.sh's order
CARRIED = "> Section from an earlier run: "  # the first line of a carried-over section
PPS_SECTION = "Packet rates"


# ---------------------------------------------------------------------------- truth

def parse_ports(spec):
    """Expand '1-3,7' into [1, 2, 3, 7]."""
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def expand_targets(spec):
    if "/" in spec:
        return list(ipaddress.ip_network(spec, strict=False))
    return [ipaddress.ip_address(spec)]


def truth_fn(scenario):
    """want(addr, port) -> the state the port has on the test network."""
    opened = set(scenario.get("open", []))
    even = set(scenario.get("open_even", []))
    filtered = set(scenario.get("filtered", []))

    def want(addr, port):
        if port in opened or (port in even and int(addr) % 2 == 0):
            return "open"
        return "filtered" if port in filtered else "closed"
    return want


# ------------------------------------------------------------------------- results

def load_root(path):
    """(root element, complete?) of an XML file; a file cut short by a kill is closed
    after its last finished host."""
    try:
        return ET.parse(path).getroot(), True
    except ET.ParseError:
        with open(path, errors="replace") as f:
            text = f.read()
        cut = text.rfind("</host>")
        start = text.find("<nmaprun")
        if start < 0:
            raise
        if cut < 0:  # stopped before its first host was written
            return ET.fromstring("<nmaprun/>"), False
        return ET.fromstring(text[start:cut + len("</host>")] + "</nmaprun>"), False


def host_addr(host):
    for a in host.iter("address"):
        if a.get("addrtype") in ("ipv4", "ipv6"):
            return a.get("addr")
    return None


def parse_xml(path, proto):
    """({addr: {port: state}}, scanned ports, complete?) for one protocol. Extraports
    are expanded from their port lists (or, when one group has none, to every scanned
    port not listed). Repeated <host> elements (masscan writes one per port) merge."""
    root, complete = load_root(path)
    scanned = []
    for info in root.iter("scaninfo"):
        if info.get("protocol") == proto and info.get("services"):
            scanned = parse_ports(info.get("services"))
    result = {}
    for host in root.iter("host"):
        addr = host_addr(host)
        if addr is None:
            continue
        ports = result.setdefault(addr, {})
        ports_el = host.find("ports")
        if ports_el is None:
            continue
        for p in ports_el.iter("port"):
            if p.get("protocol") == proto:
                ports[int(p.get("portid"))] = p.find("state").get("state")
        extras = list(ports_el.iter("extraports"))
        for ex in extras:
            for reason in ex.iter("extrareasons"):
                if reason.get("ports") and reason.get("proto", proto) == proto:
                    for port in parse_ports(reason.get("ports")):
                        ports[port] = ex.get("state")
        if len(extras) == 1 and len(ports) < len(scanned):
            for port in scanned:
                ports.setdefault(port, extras[0].get("state"))
    return result, scanned, complete


def score(scenario, tool, xml_path):
    """Compare one result with the truth, port by port."""
    proto = scenario.get("proto", "tcp")
    want = truth_fn(scenario)
    hosts = expand_targets(scenario["targets"])
    try:
        result, scanned, complete = parse_xml(xml_path, proto)
    except (OSError, ET.ParseError) as err:
        return {"error": "no readable XML (%s)" % err.__class__.__name__}
    # "--top-ports N" is each tool's own list: score it on the ports it chose (the
    # truth covers every port); masscan is given portolan's list.
    if scenario.get("own_port_list") and tool not in OPEN_ONLY and scanned:
        ports = scanned
    elif scenario["ports"]:
        ports = parse_ports(scenario["ports"])
    else:
        return {"error": "no port list to score against"}
    found = correct = expected = 0
    for addr in hosts:
        got = result.get(str(addr), {})
        for port in ports:
            truth = want(addr, port)
            have = got.get(port)
            correct += have == truth
            expected += truth == "open"
            found += have == "open" and truth == "open"
    in_scope = {str(a) for a in hosts}
    false_open = 0
    for addr, got in result.items():
        for port, state in got.items():
            if state != "open":
                continue
            if addr not in in_scope or want(ipaddress.ip_address(addr), port) != "open":
                false_open += 1
    out = {"open_found": found, "open_expected": expected, "false_open": false_open,
           "hosts_reported": sum(1 for a in hosts if str(a) in result),
           "complete": complete, "scanned": scanned}
    if tool not in OPEN_ONLY:
        out.update(correct=correct, total=len(hosts) * len(ports))
    return out


def score_discovery(scenario, xml_path):
    """Compare the hosts a -sn run reported up with the live ones."""
    try:
        root, complete = load_root(xml_path)
    except (OSError, ET.ParseError) as err:
        return {"error": "no readable XML (%s)" % err.__class__.__name__}
    want = {ipaddress.ip_address(a) for a in scenario["up"]}
    up = set()
    for host in root.iter("host"):
        status, addr = host.find("status"), host_addr(host)
        if status is not None and status.get("state") == "up" and addr:
            up.add(ipaddress.ip_address(addr))
    counts = root.find("runstats/hosts")
    total = int(counts.get("total", 0)) if counts is not None else None
    return {"up_found": len(up & want), "up_expected": len(want),
            "false_up": len(up - want), "missed": sorted(str(a) for a in want - up),
            "hosts_total": total, "complete": complete}


def norm(text):
    """Case and runs of white space aside."""
    return " ".join(text.split()).casefold() if text else None


def version_right(have, want):
    """`have` is the truth's version, or starts with it followed by a separator: Nmap's
    '9.2p1 Debian 2+deb12u10' is right for 9.2p1; '1.2.20' and '1.2.2.1' are not for
    1.2.2."""
    if not have or not want or not have.startswith(want):
        return False
    rest = have[len(want):]
    return not re.match(r"[0-9A-Za-z]|[.:][0-9A-Za-z]", rest)


def show_name(name, tunnel):
    return ("ssl/" if tunnel else "") + (name or "none")


def show(text):
    return '"%s"' % text if text else "none"


def service_ports(root):
    """{(addr, proto, port): (state, <service> attributes)} of one -sV result."""
    out = {}
    for host in root.iter("host"):
        addr = host_addr(host)
        ports_el = host.find("ports")
        if addr is None or ports_el is None:
            continue
        for p in ports_el.iter("port"):
            state, svc = p.find("state"), p.find("service")
            out[(addr, p.get("protocol"), int(p.get("portid")))] = (
                state.get("state") if state is not None else None,
                dict(svc.attrib) if svc is not None else {})
    return out


def judge_service(truth, got):
    """(open?, name right?, product right?, version right?, table-named?, misses) of one
    truth service against what a tool reported for its port (None: nothing)."""
    state, svc = got if got is not None else ("not reported", {})
    misses = []
    is_open = state == "open"
    if not is_open:
        misses.append("state %s" % state)
    want_name = show_name(truth["name"], truth.get("tunnel"))
    have_name = show_name(svc.get("name"), svc.get("tunnel"))
    named = want_name == have_name
    if not named:
        misses.append("name %s (truth %s)" % (have_name, want_name))
    product = None
    if truth.get("product"):
        product = norm(svc.get("product")) == norm(truth["product"])
        if not product:
            misses.append("product %s (truth %s)" % (show(svc.get("product")),
                                                      show(truth["product"])))
    version = None
    if truth.get("version"):
        version = version_right(svc.get("version"), truth["version"])
        if not version:
            misses.append("version %s (truth %s)" % (show(svc.get("version")),
                                                      show(truth["version"])))
    return is_open, named, product, version, named and svc.get("method") == "table", misses


def service_key(t):
    return "%s %d/%s" % (t["addr"], t["port"], t["proto"])


def score_services(scenario, xml_path):
    """Compare a -sV run's services with the lab's truth, service by service."""
    try:
        root, complete = load_root(xml_path)
    except (OSError, ET.ParseError) as err:
        return {"error": "no readable XML (%s)" % err.__class__.__name__}
    got = service_ports(root)
    out = {"services": len(scenario["services"]), "svc_open": 0, "named": 0, "by_table": 0,
           "products": 0, "with_product": 0, "versions": 0, "with_version": 0,
           "right": {"product": set(), "version": set()}, "misses": [],
           "complete": complete}
    for t in scenario["services"]:
        key = service_key(t)
        is_open, named, product, version, by_table, misses = judge_service(
            t, got.get((t["addr"], t["proto"], t["port"])))
        out["svc_open"] += is_open
        out["named"] += named
        out["by_table"] += by_table
        for field, ok in (("product", product), ("version", version)):
            if ok is not None:
                out["with_" + field] += 1
                out[field + "s"] += ok
                if ok:
                    out["right"][field].add(key)
        if misses:
            out["misses"].append((key, t, misses))
    return out


def score_key(s):
    """Worst first: fewest right, then most wrong."""
    if "up_found" in s:
        return (s["up_found"], -s["false_up"])
    if "named" in s:
        return (s["named"], s["products"], s["versions"])
    return (s.get("correct", 0), s["open_found"], -s["false_open"])


# --------------------------------------------------------------------------- runs

def read_time_v(path):
    """Wall seconds and peak RSS (KiB) from GNU time's -v report."""
    wall, rss = None, None
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return wall, rss
    m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", text)
    if m:
        wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        rss = int(m.group(1))
    return wall, rss


def read_ifstat(path):
    """[(t, tx, rx)] samples of the scanner's veth counters."""
    samples = []
    try:
        with open(path) as f:
            for line in f:
                t, tx, rx = line.split()
                samples.append((float(t), int(tx), int(rx)))
    except (OSError, ValueError):
        pass
    return samples


PEAK_WINDOW_S = 0.5


def peak_rate(samples, col, window=PEAK_WINDOW_S):
    """Highest packets/s over any stretch of at least `window` seconds."""
    best, j = None, 0
    for i in range(len(samples)):
        j = max(j, i + 1)
        while j < len(samples) and samples[j][0] - samples[i][0] < window:
            j += 1
        if j >= len(samples):
            break
        dt = samples[j][0] - samples[i][0]
        rate = (samples[j][col] - samples[i][col]) / dt
        best = rate if best is None else max(best, rate)
    return best


def read_nstat(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    out[parts[0]] = int(parts[1])
    except OSError:
        pass
    return out


def nstat_delta(base):
    before, after = read_nstat(base + ".nstat0"), read_nstat(base + ".nstat1")
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def read_runs(out_dir):
    runs = []
    with open(os.path.join(out_dir, "runs.tsv")) as f:
        for line in f:
            scen, tool, n, rc, xml, timef, log, ifstat, limit = line.rstrip("\n").split("\t")
            wall, rss = read_time_v(timef)
            samples = read_ifstat(ifstat)
            run = {"scenario": scen, "tool": tool, "run": int(n), "rc": int(rc), "xml": xml,
                   "log": log, "wall": wall, "rss": rss, "limit": int(limit),
                   "kernel": nstat_delta(xml[:-len(".xml")])}
            if len(samples) >= 2:
                run["tx"] = samples[-1][1] - samples[0][1]
                run["rx"] = samples[-1][2] - samples[0][2]
                run["peak_tx"] = peak_rate(samples, 1)
                run["peak_rx"] = peak_rate(samples, 2)
            runs.append(run)
    return runs


def read_commands(out_dir):
    commands = {}
    try:
        with open(os.path.join(out_dir, "commands.tsv")) as f:
            for line in f:
                scen, tool, cmd = line.rstrip("\n").split("\t")
                commands[(scen, tool)] = cmd
    except OSError:
        pass
    return commands


def tool_row(scenario, tool, runs):
    """Median wall, max RSS and the worst score over one tool's runs of a scenario."""
    ok = [r for r in runs if r["rc"] == 0]
    walls = [r["wall"] for r in ok if r["wall"] is not None]
    rss = [r["rss"] for r in runs if r["rss"] is not None]
    row = {"tool": tool, "runs": len(runs), "ok": len(ok),
           "rcs": sorted({r["rc"] for r in runs}),
           "timed_out": [r["limit"] for r in runs if r["rc"] in TIMED_OUT],
           "wall": statistics.median(walls) if walls else None,
           "rss_mib": max(rss) / 1024 if rss else None}
    if scenario.get("kind") == "discovery":
        scores = [score_discovery(scenario, r["xml"]) for r in runs]
    elif scenario.get("kind") == "services":
        scores = [score_services(scenario, r["xml"]) for r in runs]
    else:
        scores = [score(scenario, tool, r["xml"]) for r in runs]
    good = [s for s in scores if "error" not in s]
    row["partial"] = len(good) > 0 and any(r["rc"] != 0 for r in runs)
    if good:
        row.update(min(good, key=score_key))
    elif scores:
        row["error"] = scores[0]["error"]
    for key in ("tx", "rx"):
        vals = [r[key] for r in runs if key in r]
        row[key] = statistics.median(vals) if vals else None
    avg = [r["tx"] / r["wall"] for r in runs if "tx" in r and r["wall"]]
    row["avg_tx_pps"] = statistics.median(avg) if avg else None
    for key in ("peak_tx", "peak_rx"):
        vals = [r[key] for r in runs if r.get(key) is not None]
        row[key] = max(vals) if vals else None
    row["kernel"] = runs[-1]["kernel"] if runs else {}
    return row


# ------------------------------------------------------------------------ writing

def fmt(x, spec):
    return format(x, spec) if x is not None else "n/a"


def wall_text(r):
    if r.get("wall") is not None:
        return "%.2f" % r["wall"]
    if r.get("timed_out"):
        return "did not finish in %d s" % max(r["timed_out"])
    return "n/a (exit %s)" % ",".join(map(str, r["rcs"]))


def wall_bound(r):
    """(seconds, exact?): the median wall, or the timeout as a lower bound."""
    if r is None:
        return None, False
    if r.get("wall") is not None:
        return r["wall"], True
    if r.get("timed_out"):
        return float(max(r["timed_out"])), False
    return None, False


def accuracy_text(r):
    if "error" in r:
        return r["error"]
    if "open_found" not in r:
        return "no result (exit %s)" % r["rcs"]
    if r.get("partial") and r.get("hosts_reported") == 0:
        return "no port state written before it was stopped"
    if "correct" not in r:
        return "n/a (reports open ports only)"
    text = "%.3f %% (%d/%d)" % (100.0 * r["correct"] / r["total"], r["correct"], r["total"])
    if r.get("partial"):
        text += ", partial output"
    return text


def results_table(rows):
    lines = ["| tool | wall s (median) | peak RSS MiB | open found / expected | false open "
             "| state accuracy | runs ok |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        found = ("%d / %d" % (r["open_found"], r["open_expected"])
                 if "open_found" in r else "n/a")
        false_open = str(r["false_open"]) if "open_found" in r else "n/a"
        lines.append("| %s | %s | %s | %s | %s | %s | %d/%d |" % (
            r["tool"], wall_text(r), fmt(r["rss_mib"], ".1f"), found, false_open,
            accuracy_text(r), r["ok"], r["runs"]))
    return lines


def discovery_table(rows):
    lines = ["| tool | wall s (median) | peak RSS MiB | up found / expected | false up "
             "| addresses in runstats | runs ok |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "up_found" in r:
            found = "%d / %d" % (r["up_found"], r["up_expected"])
            if r["missed"]:
                found += " (missed %s)" % ", ".join(r["missed"])
            false_up, total = str(r["false_up"]), fmt(r["hosts_total"], "d")
        else:
            found = false_up = total = r.get("error", "n/a")
        lines.append("| %s | %s | %s | %s | %s | %s | %d/%d |" % (
            r["tool"], wall_text(r), fmt(r["rss_mib"], ".1f"), found, false_up, total,
            r["ok"], r["runs"]))
    return lines


def all_found(r):
    return (r is not None and "up_found" in r and r["up_found"] == r["up_expected"]
            and r["false_up"] == 0 and not r.get("partial"))


def verdict_discovery(rows):
    p, n = rows.get("portolan"), rows.get("nmap")
    lines = [ratio_line(p, n, "nmap")[1]]
    for label, r in (("portolan", p), ("nmap", n)):
        if r is not None:
            lines.append("%s found exactly the live hosts: %s" % (label, yes_no(all_found(r))))
    return lines


PPS_NOTE = (" (sent includes the scanner kernel's RSTs to SYN-ACKs it did not expect, for "
            "portolan and nmap, and masscan's own RSTs; received includes the 10/s nudge "
            "datagrams of masscan's runs)")


def pps_table(rows, note=PPS_NOTE):
    lines = ["", "Packets on the scanner's veth during each run, sampled every 0.1 s%s:" % note,
             "",
             "| tool | sent | received | sent/s over the wall time | peak sent/s (%g s) "
             "| peak received/s (%g s) |" % (PEAK_WINDOW_S, PEAK_WINDOW_S), "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            r["tool"], fmt(r["tx"], ",.0f"), fmt(r["rx"], ",.0f"), fmt(r["avg_tx_pps"], ",.0f"),
            fmt(r["peak_tx"], ",.0f"), fmt(r["peak_rx"], ",.0f")))
    return lines


KERNEL_KEYS = ("TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDrop",
               "TcpExtTCPReqQFullDoCookies", "TcpExtSyncookiesSent", "IcmpOutDestUnreachs",
               "IcmpOutRateLimitHost", "IcmpOutRateLimitGlobal", "UdpInDatagrams",
               "UdpOutDatagrams", "UdpNoPorts", "UdpRcvbufErrors")


def kernel_lines(rows, keys):
    out = []
    for r in rows:
        k = r.get("kernel", {})
        vals = ["%s %d" % (key, k.get(key, 0)) for key in keys]
        out.append("- %s: %s" % (r["tool"], ", ".join(vals)))
    return out


def yes_no(ok):
    return "**yes**" if ok else "**no**"


def all_right(r):
    return (r is not None and "correct" in r and r["correct"] == r["total"]
            and not r.get("partial"))


def all_open(r):
    return (r is not None and "open_found" in r and r["open_found"] == r["open_expected"]
            and r["false_open"] == 0 and not r.get("partial"))


def ratio_line(p, other, name):
    """'other_time / portolan_time' with a lower bound when `other` timed out."""
    pw, _ = wall_bound(p)
    ow, exact = wall_bound(other)
    if not pw or not ow:
        return None, "%s_time / portolan_time: n/a (a tool did not finish)" % name
    ratio = ow / pw
    if exact:
        return ratio, "%s_time / portolan_time = **%.2f**" % (name, ratio)
    return ratio, ("%s_time / portolan_time > **%.2f** (%s did not finish in %d s)"
                   % (name, ratio, name, ow))


def masscan_ratios(p, rows):
    return [ratio_line(p, rows[t], t)[1] for t in OPEN_ONLY if t in rows]


def verdict_connect(rows):
    _, line = ratio_line(rows.get("portolan"), rows.get("nmap"), "nmap")
    return [line]


def verdict_R1(rows):
    p = rows.get("portolan")
    lines = []
    ratio, line = ratio_line(p, rows.get("nmap"), "nmap")
    lines.append(line + " (target >= 3)")
    lines += masscan_ratios(p, rows)
    ok = all_right(p) and ratio is not None and ratio >= 3
    lines.append("Target (every state right, portolan time <= 1/3 of nmap -T4's): meets "
                 "target: %s" % yes_no(ok))
    return lines


def verdict_R2(rows):
    p = rows.get("portolan")
    lines = [ratio_line(p, rows.get("nmap"), "nmap")[1]]
    pw, exact = wall_bound(p)
    ok = all_open(p) and exact and pw <= R2_LIMIT_S
    lines.append("Target (every open port found, portolan <= %g s; here %s s): meets target: %s"
                 % (R2_LIMIT_S, fmt(pw, ".2f"), yes_no(ok)))
    m = rows.get("masscan")
    if m and "open_found" in m:
        lines.append("masscan found %d of the %d open ports." % (m["open_found"],
                                                                 m["open_expected"]))
    return lines


def verdict_R3(rows):
    p = rows.get("portolan")
    ratio, line = ratio_line(p, rows.get("nmap"), "nmap")
    lines = [line + " (target >= 3)"]
    lines += masscan_ratios(p, rows)
    ok = all_open(p) and ratio is not None and ratio >= 3
    lines.append("Target (every open port found, portolan time <= 1/3 of nmap's): meets "
                 "target: %s" % yes_no(ok))
    return lines


def verdict_R4(scenario, rows):
    ports = parse_ports(scenario["ports"]) if scenario["ports"] else []
    closed = len([p for p in ports if p not in scenario["open"]])
    imposed = max(closed - scenario["icmp_burst"], 0) * 1.0
    p = rows.get("portolan")
    lines = ["Closed ports: %d; the time the ICMP rate limit imposes = (%d - %d) x 1 s = "
             "**%.0f s**." % (closed, closed, scenario["icmp_burst"], imposed)]
    pw, exact = wall_bound(p)
    if pw and imposed and exact:
        ratio = pw / imposed
        lines.append("portolan_time / imposed = %.1f / %.0f = **%.2f** (target <= %g)"
                     % (pw, imposed, ratio, R4_LIMIT))
    else:
        ratio = None
        lines.append("portolan_time / imposed: n/a (portolan did not finish)")
    n = rows.get("nmap")
    nw, _ = wall_bound(n)
    if nw and imposed:
        lines.append("nmap_time / imposed = %.1f / %.0f = %.2f" % (nw, imposed, nw / imposed))
    ok_time = ratio is not None and ratio <= R4_LIMIT
    lines.append("Target (portolan <= %g x the imposed time): meets target: %s; every one "
                 "of the %d states right: %s" % (R4_LIMIT, yes_no(ok_time), len(ports),
                                                 yes_no(all_right(p))))
    if n and n.get("scanned") and sorted(n["scanned"]) != sorted(ports):
        common = len(set(n["scanned"]) & set(ports))
        lines.append("Note: nmap's --top-ports 100 list is not portolan's (%d ports in "
                     "common); each is scored on its own list, masscan on portolan's."
                     % common)
    return lines


def services_table(rows):
    lines = ["| tool | wall s (median) | peak RSS MiB | open | named right (name + tunnel) "
             "| products right | versions right | runs ok |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "named" in r:
            named = "%d / %d" % (r["named"], r["services"])
            if r["by_table"]:
                named += " (%d from the port table)" % r["by_table"]
            cells = ["%d / %d" % (r["svc_open"], r["services"]), named,
                     "%d / %d" % (r["products"], r["with_product"]),
                     "%d / %d" % (r["versions"], r["with_version"])]
            if r.get("partial"):
                cells[-1] += ", partial output"
        else:
            cells = [r.get("error", "n/a")] * 4
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %d/%d |" % tuple(
            [r["tool"], wall_text(r), fmt(r["rss_mib"], ".1f")] + cells + [r["ok"], r["runs"]]))
    return lines


def services_misses(rows):
    """Every service a tool got wrong, with what it reported; nmap's lines add the lab's
    note on what Nmap 7.93 printed there, when it has one."""
    lines = []
    for r in rows:
        if "named" not in r:
            continue
        misses = r["misses"]
        lines += ["", "%s: %s" % (r["tool"], "%d of %d services not fully right%s"
                                  % (len(misses), r["services"], ":" if misses else "."))]
        if misses:
            lines.append("")
        for key, t, what in misses:
            note = "; lab note: %s" % t["note"] if r["tool"] == "nmap" and t.get("note") \
                else ""
            lines.append("- %s %s: %s%s" % (key, show_name(t["name"], t.get("tunnel")),
                                             "; ".join(what), note))
    return lines


def covers(p, n, field):
    """(portolan right wherever nmap is?, services nmap has right and portolan not)."""
    if p is None or n is None or "right" not in p or "right" not in n:
        return False, []
    lost = sorted(n["right"][field] - p["right"][field])
    return not lost, lost


def verdict_V1(rows):
    p, n = rows.get("portolan"), rows.get("nmap")
    ratio, line = ratio_line(p, n, "nmap")
    lines = ["", line + " (target >= %g)" % V1_RATIO]
    ok = ratio is not None and ratio >= V1_RATIO and p is not None and not p.get("partial")
    for field in ("product", "version"):
        good, lost = covers(p, n, field)
        ok = ok and good
        lines.append("portolan has the %s right wherever nmap has: %s%s" % (
            field, yes_no(good), " (not on %s)" % ", ".join(lost) if lost else ""))
    lines.append("Target (the same products and versions as nmap, portolan time <= 1/%g of "
                 "nmap's): meets target: %s" % (V1_RATIO, yes_no(ok)))
    return lines


def services_section(scenario, rows, commands):
    lines = ["## %s" % scenario["title"], "", scenario["description"], ""]
    if scenario.get("error"):
        return lines + ["Not run: %s." % scenario["error"]]
    for r in rows.values():
        lines.append("- `%s`" % commands.get(("V1", r["tool"]), ""))
    lines += [""] + services_table(list(rows.values()))
    lines += services_misses(list(rows.values()))
    return lines + verdict_V1(rows)


def port_verdict(name, scenario, rows):
    if name.startswith("connect"):
        return verdict_connect(rows)
    if name == "R4":
        return verdict_R4(scenario, rows)
    verdicts = {"R1": verdict_R1, "R2": verdict_R2, "R3": verdict_R3}
    return verdicts[name](rows) if name in verdicts else []


def scenario_section(name, scenario, rows, commands):
    if scenario.get("kind") == "services":
        return services_section(scenario, rows, commands)
    lines = ["## %s" % scenario["title"], "", scenario["description"], ""]
    for r in rows.values():
        cmd = commands.get((scenario.get("runs_key", name), r["tool"]), "")
        lines.append("- `%s`" % cmd)
    if scenario.get("kind") == "discovery":
        lines += [""] + discovery_table(list(rows.values())) + [""]
        lines += verdict_discovery(rows)
    else:
        lines += [""] + results_table(list(rows.values())) + [""]
        lines += port_verdict(name, scenario, rows)
    if scenario.get("pps"):
        note = "" if scenario.get("kind") == "discovery" else PPS_NOTE
        lines += pps_table(list(rows.values()), note)
    if scenario.get("kernel"):
        lines += ["", "Target kernel counters during the last run of each tool (nstat deltas%s):"
                  % scenario.get("kernel_note", ""), ""] + \
            kernel_lines(list(rows.values()), scenario["kernel"])
    return [x for x in lines]


def memory_section(meta, runs, commands):
    scen = meta["scenarios"]["R5"]
    lines = ["## %s" % scen["title"], "", scen["description"], ""]
    table = {}
    for size, key in (("/20", "R5-20"), ("/16", "R5-16")):
        sub = dict(scen["sizes"][size])
        use = key if any(r["scenario"] == key for r in runs) else sub.get("fallback")
        for tool in ("portolan", "nmap"):
            rr = [r for r in runs if r["scenario"] == use and r["tool"] == tool]
            if rr:
                table[(size, tool)] = (tool_row(sub, tool, rr), use)
                cmd = commands.get((use, tool))
                if cmd:
                    lines.append("- %s: `%s`%s" % (size, cmd,
                                                   " (the R3 run)" if use == "R3" else ""))
    lines += ["", "| targets | tool | peak RSS MiB | wall s | open found / expected "
              "| state accuracy |", "|---|---|---:|---:|---:|---:|"]
    order = lambda kv: (kv[0][0] != "/20", kv[0][1] != "portolan")
    for (size, tool), (r, _) in sorted(table.items(), key=order):
        found = "%d / %d" % (r["open_found"], r["open_expected"]) if "open_found" in r else "n/a"
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            size, tool, fmt(r["rss_mib"], ".1f"), wall_text(r), found, accuracy_text(r)))
    get = lambda size, tool: table.get((size, tool), ({}, None))[0].get("rss_mib")
    p20, p16, n16, n20 = get("/20", "portolan"), get("/16", "portolan"), get("/16", "nmap"), \
        get("/20", "nmap")
    lines.append("")
    if p20 and p16:
        flat = p16 <= R5_FLAT * p20
        lines.append("portolan /16 RSS / /20 RSS = %.2f (16x the targets; flat means <= %g): "
                     "%s" % (p16 / p20, R5_FLAT, yes_no(flat)))
    else:
        flat = False
        lines.append("portolan RSS at /16 or /20: n/a")
    if p16 and n16:
        lines.append("portolan / nmap peak RSS at /16 = %.2f%s" % (
            p16 / n16, "" if table[("/16", "nmap")][0].get("wall") else
            " (nmap did not finish: its peak is a lower bound)"))
    if p20 and n20:
        lines.append("portolan / nmap peak RSS at /20 = %.2f" % (p20 / n20))
    ok = flat and p16 is not None and n16 is not None and p16 <= n16 and \
        (n20 is None or p20 <= n20)
    lines.append("Target (portolan's memory flat in the number of targets and <= nmap's): "
                 "meets target: %s" % yes_no(ok))
    return lines


def pps_summary(rows_by_scen):
    best = {}
    for scen, rows in rows_by_scen.items():
        for label, r in rows.items():
            tool = "masscan" if label in OPEN_ONLY else label
            if r.get("peak_tx") is None:
                continue
            if tool not in best or r["peak_tx"] > best[tool][0]:
                best[tool] = (r["peak_tx"], "%s, %s" % (scen, label), r.get("avg_tx_pps"))
    if "masscan" not in best or "portolan" not in best:
        return []
    lines = ["## Packet rates", "",
             "Best peak send rate (packets/s over %g s, scanner veth tx counter) in the raw "
             "TCP scenarios:" % PEAK_WINDOW_S, ""]
    for tool in ("portolan", "nmap", "masscan"):
        if tool in best:
            pk, scen, avg = best[tool]
            lines.append("- %s: %s pps peak (%s; %s pps over the whole run)"
                         % (tool, fmt(pk, ",.0f"), scen, fmt(avg, ",.0f")))
    lines += ["", "portolan peak / masscan peak = **%.2f**"
              % (best["portolan"][0] / best["masscan"][0])]
    return lines


def section_key(heading):
    """'## R1: SYN scan ...' -> 'R1'; '## Packet rates' -> 'Packet rates'."""
    title = heading[3:].strip()
    m = re.match(r"([^:\s]+):", title)
    return m.group(1) if m else title


def split_report(text):
    """(header lines, {key: section lines}) of a report: a section runs from its '## '
    heading to the next one, without trailing blank lines."""
    header, sections, current = [], {}, None
    for line in text.split("\n"):
        if line.startswith("## "):
            current = sections.setdefault(section_key(line), [])
            if current:  # a repeated heading: keep the first section of that name only
                current = []
        (header if current is None else current).append(line)
    for lines in sections.values():
        while lines and not lines[-1].strip():
            lines.pop()
    return header, sections


HEADER_FACTS = {"date": r"- date: (.*)$", "command": r"- command: `(.*)`$",
                "portolan": r"- portolan: (.*)$", "machine": r"- machine: (.*)$",
                "runs": r"- runs per tool: (\d+);", "load": r"- load average [^:]*: (.*?);",
                "timeout": r"- per-run timeout: (\d+ s \(nmap: \d+ s\));"}


def header_facts(header):
    facts = {}
    for line in header:
        for key, pattern in HEADER_FACTS.items():
            m = re.match(pattern, line)
            if m and key not in facts:
                facts[key] = m.group(1)
    return facts


def carried_note(facts, machine):
    """The line under a carried-over section's heading: the run that wrote it."""
    if "date" not in facts and "command" not in facts:
        return CARRIED + "date and command unknown (no header in the previous report)."
    parts = ["%s, `%s`" % (facts.get("date", "date unknown"), facts.get("command", "?"))]
    if "portolan" in facts:
        parts.append("portolan %s" % facts["portolan"])
    if "runs" in facts:
        parts.append("runs per tool: %s" % facts["runs"])
    if "timeout" in facts:
        parts.append("timeout %s" % facts["timeout"])
    if "load" in facts:
        parts.append("load average %s" % facts["load"])
    if facts.get("machine") and facts["machine"] != machine:
        parts.append("machine: %s" % facts["machine"])
    return CARRIED + "; ".join(parts) + "."


def carry(lines, note):
    """A section from the previous report with the note under its heading (a section
    carried before keeps the note it has)."""
    if len(lines) > 2 and lines[2].startswith(CARRIED):
        return list(lines)
    return lines[:1] + ["", note] + lines[1:]


def read_previous(target):
    try:
        with open(target) as f:
            return split_report(f.read())
    except OSError:
        return [], {}


def report_header(meta, kept, carried):
    lines = ["# Benchmarks", "",
             "Written by `bench/run.sh`; do not edit by hand. Every run builds its own test "
             "network in network namespaces (a scanner namespace and a target namespace "
             "joined by a veth pair, 198.18.64.1/24 <-> 198.18.64.2/24; 198.19.0.0/16 routed "
             "to the target, which answers for all of it; V1 has a lab of real daemons of its "
             "own), scans it with each tool, and checks every port state against the known "
             "truth (masscan, which reports open ports only, on its open ports).", "",
             "- date: %s" % meta["date"],
             "- machine: %s" % machine_text(meta),
             "- load average (1/5/15 min): %s; other work on the machine shows up in the "
             "wall times" % meta.get("load", "n/a"),
             "- command: `%s`" % meta["cmdline"],
             "- portolan: %s (%s)" % (meta["portolan_rev"], meta["portolan_note"]),
             "- nmap: %s" % meta["nmap_version"],
             "- masscan: %s" % meta["masscan_version"],
             "- runs per tool: %d; wall time is the median, peak RSS the maximum, accuracy "
             "the worst run" % meta["runs"],
             "- per-run timeout: %s s (nmap: %s s); a run that hits it is reported as \"did "
             "not finish\" and whatever output it left is scored" % (meta["timeout"],
                                                                     meta["nmap_timeout"])]
    if carried:
        lines.append("- sections from this run: %s; carried over from earlier runs (the line "
                     "under each heading says which): %s"
                     % (", ".join(kept) or "none", ", ".join(carried)))
    return lines + [""]


def machine_text(meta):
    return "%s CPUs (%s), %s, Linux %s" % (meta["nproc"], meta["cpu"], meta["mem"],
                                          meta["kernel"])


def fresh_sections(meta, runs, commands):
    """{name: section lines} of the scenarios this run measured, and the packet rates
    summary of its raw TCP scenarios (empty when it has none)."""
    out, rows_by_scen = {}, {}
    for name, scenario in meta["scenarios"].items():
        if name == "R5":
            out[name] = memory_section(meta, runs, commands)
            continue
        key = scenario.get("runs_key", name)
        rows = {}
        for t in scenario["tools"]:
            rr = [r for r in runs if r["scenario"] == key and r["tool"] == t]
            if rr:
                rows[t] = tool_row(scenario, t, rr)
        rows_by_scen[name] = rows
        out[name] = scenario_section(name, scenario, rows, commands)
    pps = pps_summary({k: v for k, v in rows_by_scen.items() if k in ("R1", "R2", "R3")})
    if pps:
        out[PPS_SECTION] = pps
    return out


def main(argv):
    out_dir, target = argv[1], argv[2]
    with open(os.path.join(out_dir, "scenarios.json")) as f:
        meta = json.load(f)
    runs = read_runs(out_dir)
    commands = read_commands(out_dir)
    fresh = fresh_sections(meta, runs, commands)
    old_header, old = read_previous(target)
    note = carried_note(header_facts(old_header), machine_text(meta))
    order = meta.get("all_scenarios") or ALL_SCENARIOS
    for name in old:
        if name not in order and name != PPS_SECTION:
            sys.stderr.write("report.py: dropping section %r of %s: no such scenario\n"
                             % (name, target))
    body, kept, carried = [], [], []
    for name in order + [PPS_SECTION]:
        if name in fresh:
            body += fresh[name] + [""]
            kept.append(name)
        elif name in old:
            body += carry(old[name], note) + [""]
            carried.append(name)
    doc = report_header(meta, [k for k in kept if k != PPS_SECTION],
                        [c for c in carried if c != PPS_SECTION] +
                        (["packet rates"] if PPS_SECTION in carried else [])) + body
    with open(target, "w") as f:
        f.write("\n".join(doc).rstrip("\n") + "\n")
    failed = [r for r in runs if r["rc"] != 0 and not (r["tool"] == "nmap" and
                                                        r["rc"] in TIMED_OUT)]
    return 1 if failed else 0


# ---------------------------------------------------------------- scenarios.json

def discovery_meta(env):
    """D1 and D2: which addresses answer, from bench/run.sh's environment."""
    d1 = env["BENCH_D1_HOSTS"].split()
    d2 = env["BENCH_D2_HOSTS"].split()
    cmd = "`-sn -n -T4` (each tool's default privileged probes, no reverse DNS)"
    return {
        "D1": {"title": "D1: host discovery of the scanner's own /24 (ARP)", "kind": "discovery",
               "description": "%s on the scanner's segment, %s: the target (%s) and five "
                              "more hosts (%s; each a namespace with a macvlan of its own "
                              "MAC on the target's link), and the scanner itself (%s), "
                              "which both tools report up; nothing else answers ARP."
                              % (cmd, env["BENCH_D1_NET"], env["BENCH_TGT_IP"], ", ".join(d1),
                                 env["BENCH_SCAN_IP"]),
               "targets": env["BENCH_D1_NET"], "ports": "",
               "up": [env["BENCH_SCAN_IP"], env["BENCH_TGT_IP"]] + d1,
               "tools": ["portolan", "nmap"], "pps": True},
        "D2": {"title": "D2: host discovery of a /16 beyond a router", "kind": "discovery",
               "description": "%s of %s, which the target namespace routes: five live hosts "
                              "(%s) on veth links of their own; %s drops ICMP echo and "
                              "timestamp requests (only TCP probes find it); the router "
                              "answers every packet for any other address with an ICMP "
                              "host unreachable (nft reject on its route to an unused link, "
                              "no ICMP rate limit), as a router whose ARP fails does."
                              % (cmd, env["BENCH_D2_NET"], ", ".join(d2), env["BENCH_D2_QUIET"]),
               "targets": env["BENCH_D2_NET"], "ports": "", "up": d2,
               "tools": ["portolan", "nmap"], "pps": True},
    }


def service_meta(env):
    """V1: the lab's truth (svc.py up's JSON), or why the lab did not come up."""
    title = "V1: version detection of real daemons (-sS -sU -sV)"
    error = env.get("BENCH_V1_ERROR") or None
    services, hosts = [], {}
    if not error:
        try:
            with open(env["BENCH_V1_TRUTH"]) as f:
                truth = json.load(f)
            hosts = truth["hosts"]
            services = [{k: svc.get(k) for k in ("host", "addr", "port", "proto", "name",
                                                 "tunnel", "product", "version", "note")}
                        for svc in truth["services"]]
        except (OSError, ValueError, KeyError) as err:
            error = "no readable lab truth (%s)" % err.__class__.__name__
    return {"title": title, "kind": "services", "services": services, "error": error,
            "description": services_description(hosts, services),
            "tools": ["portolan", "nmap"]}


def services_description(hosts, services):
    per_host = []
    for name, h in sorted(hosts.items()):
        mine = sorted((s for s in services if s["host"] == name),
                      key=lambda s: (s["proto"], s["port"]))
        per_host.append("%s %s: %s" % (name, h.get("v4", "?"), ", ".join(
            "%d/%s %s" % (s["port"], s["proto"], s["product"] or show_name(s["name"],
                                                                          s["tunnel"]))
            for s in mine)))
    return ("Real Debian daemons in %d server namespaces of their own lab (tests/net/svc.py, "
            "one bridge, the scanner at 198.18.0.1), each started with a configuration of "
            "the lab's: %s. Both tools get the same arguments: -sS -sU -sV -Pn -n -T4 on the "
            "lab's TCP and UDP service ports (T:/U: lists) of every address, so each host "
            "also has the others' ports closed. %d services (%d TCP, %d UDP) are scored "
            "against the lab's truth: named right when the service name and the TLS tunnel "
            "(ssl/) are the truth's; product right when it is the truth's (case and spacing "
            "aside); version, where the daemon discloses one (the installed package's "
            "upstream version), right when the reported version is the truth's or starts "
            "with it followed by a separator (Nmap's `9.2p1 Debian 2+deb12u10` for 9.2p1). "
            "Every miss is listed with what the tool reported."
            % (len(hosts), "; ".join(per_host) or "the lab did not come up", len(services),
               sum(s["proto"] == "tcp" for s in services),
               sum(s["proto"] == "udp" for s in services)))


def write_meta(path):
    """The truth of every scenario run, from bench/run.sh's environment."""
    env = os.environ
    tcp_open = [int(p) for p in env["BENCH_TCP_OPEN"].split()]
    tcp_drop = [int(p) for p in env["BENCH_TCP_DROP"].split()]
    udp_open = [int(p) for p in env["BENCH_UDP_OPEN"].split()]
    chosen = env["BENCH_SCENARIOS"].split()
    raw = ["portolan", "nmap", "masscan"]
    raw_max = raw + ["masscan-max"]
    rates = (" masscan runs at --rate %s, and again (masscan-max) at --rate %s for its best "
             "packet rate." % (env["BENCH_MASSCAN_RATE"], env["BENCH_MASSCAN_MAX_RATE"]))
    host = "198.18.64.2, one veth hop away: open %s; dropped by nft (no answer) %s; every " \
           "other port closed (RST)." % (", ".join(map(str, tcp_open)),
                                         ", ".join(map(str, tcp_drop)))
    sweep = ("(a local route on the target's lo answers for every address): 22 open on every "
             "address, 80 open on even addresses and closed (nft rejects with a RST) on odd "
             "ones, 443 closed.")
    one_host = {"targets": "198.18.64.2", "ports": "1-65535", "open": tcp_open,
                "filtered": tcp_drop}
    s = {}
    s["connect-1"] = dict(one_host, title="connect-1: all 65535 TCP ports of one host (-sT)",
                          description=host, tools=["portolan", "nmap"])
    s["connect-2"] = {"title": "connect-2: 1000 ports on each of 256 hosts (-sT)",
                      "description": "198.19.0.0/24 (a local route on the target's lo answers "
                                     "for every address): open 22, 80 on every host, ports "
                                     "1-1000, all else closed.",
                      "targets": "198.19.0.0/24", "ports": "1-1000", "open": [22, 80],
                      "tools": ["portolan", "nmap"]}
    s["R1"] = dict(one_host, title="R1: SYN scan of all 65535 TCP ports of one host",
                   description=host + rates, tools=raw_max, pps=True)
    s["R2"] = dict(one_host, title="R2: SYN scan of all 65535 TCP ports, 10 % loss each way",
                   description=host + " On top, nft on the target drops 10 %% of all packets "
                   "in and 10 %% out at random (`numgen random mod 100 < 10 drop` on input "
                   "and output). masscan runs at --rate %s." % env["BENCH_MASSCAN_RATE"],
                   tools=raw, pps=True)
    s["R3"] = {"title": "R3: ports 22,80,443 on each of 65536 addresses (SYN)",
               "description": "198.19.0.0/16 " + sweep + rates,
               "targets": "198.19.0.0/16", "ports": "22,80,443", "open": [22],
               "open_even": [80], "tools": raw_max, "pps": True,
               "kernel": ["TcpExtListenOverflows", "TcpExtListenDrops",
                          "TcpExtTCPReqQFullDrop", "TcpExtTCPReqQFullDoCookies"]}
    s["R4"] = {"title": "R4: UDP, the 100 top ports, under the default ICMP rate limit",
               "description": "198.18.64.2 with Linux's default ICMP rate limit left in place "
                              "(net.ipv4.icmp_ratelimit 1000 ms: a burst of %s port "
                              "unreachables, then one per second to the scanner). UDP %s "
                              "answer every datagram (bench/udp_answer.py); every other port "
                              "is closed. The port list is the one portolan's --top-ports 100 "
                              "scans (its XML scaninfo), given to masscan as -pU:LIST. Each "
                              "run starts after %d s of quiet so the rate limiter's burst is "
                              "full again."
                              % (env["BENCH_ICMP_BURST"], ", ".join(map(str, udp_open)),
                                 int(env["BENCH_ICMP_BURST"]) + 2),
               "targets": "198.18.64.2", "ports": env.get("BENCH_UDP_PORTS", ""),
               "proto": "udp", "open": udp_open, "tools": raw, "own_port_list": True,
               "icmp_burst": int(env["BENCH_ICMP_BURST"]),
               "kernel": ["IcmpOutDestUnreachs", "IcmpOutRateLimitHost", "UdpInDatagrams",
                          "UdpOutDatagrams"],
               "kernel_note": "; masscan's UdpOutDatagrams include the 10/s nudge datagrams"}
    r3 = {k: s["R3"][k] for k in ("ports", "open", "open_even")}
    s["R5"] = {"title": "R5: peak memory of R3 at /20 and at /16",
               "description": "Peak RSS (`/usr/bin/time -v`) of the R3 SYN scan (ports "
                              "22,80,443) over 198.19.0.0/20 (4096 addresses) and "
                              "198.19.0.0/16 (65536 addresses), portolan and nmap.",
               "sizes": {"/20": dict(r3, targets="198.19.0.0/20"),
                         "/16": dict(r3, targets="198.19.0.0/16", fallback="R3")}}
    s.update(discovery_meta(env))
    if "V1" in chosen:
        s["V1"] = service_meta(env)
    meta = {
        "date": env["BENCH_DATE"], "nproc": env["BENCH_NPROC"], "cpu": env["BENCH_CPU"],
        "mem": env["BENCH_MEM"], "kernel": env["BENCH_KERNEL"], "load": env["BENCH_LOAD"],
        "cmdline": env["BENCH_CMDLINE"], "portolan_rev": env["BENCH_REV"],
        "portolan_note": env["BENCH_NOTE"], "nmap_version": env["BENCH_NMAP"],
        "masscan_version": env["BENCH_MASSCAN"], "runs": int(env["BENCH_RUNS"]),
        "timeout": int(env["BENCH_TIMEOUT"]), "nmap_timeout": int(env["BENCH_NMAP_TIMEOUT"]),
        "scenarios": {k: v for k, v in s.items() if k in chosen},
        "all_scenarios": env.get("BENCH_ALL_SCENARIOS", " ".join(ALL_SCENARIOS)).split(),
    }
    with open(path, "w") as f:
        json.dump(meta, f, indent=1)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write-meta":
        sys.exit(write_meta(sys.argv[2]))
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv))
