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
reported up instead. Output cut short by a timeout is scored as far as it goes. Stdlib
only.
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
        text = open(path, errors="replace").read()
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


def score_key(s):
    """Worst first: fewest right, then most wrong."""
    if "up_found" in s:
        return (s["up_found"], -s["false_up"])
    return (s.get("correct", 0), s["open_found"], -s["false_open"])


# --------------------------------------------------------------------------- runs

def read_time_v(path):
    """Wall seconds and peak RSS (KiB) from GNU time's -v report."""
    wall, rss = None, None
    try:
        text = open(path).read()
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
        for line in open(path):
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
        for line in open(path):
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


def port_verdict(name, scenario, rows):
    if name.startswith("connect"):
        return verdict_connect(rows)
    if name == "R4":
        return verdict_R4(scenario, rows)
    verdicts = {"R1": verdict_R1, "R2": verdict_R2, "R3": verdict_R3}
    return verdicts[name](rows) if name in verdicts else []


def scenario_section(name, scenario, rows, commands):
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


def main(argv):
    out_dir, target = argv[1], argv[2]
    meta = json.load(open(os.path.join(out_dir, "scenarios.json")))
    runs = read_runs(out_dir)
    commands = read_commands(out_dir)
    doc = ["# Benchmarks", "",
           "Written by `bench/run.sh`; do not edit by hand. Every run builds its own test "
           "network in network namespaces (a scanner namespace and a target namespace joined "
           "by a veth pair, 198.18.64.1/24 <-> 198.18.64.2/24; 198.19.0.0/16 routed to the "
           "target, which answers for all of it), scans it with each tool, and checks every "
           "port state against the known truth (masscan, which reports open ports only, on "
           "its open ports).", "",
           "- date: %s" % meta["date"],
           "- machine: %s CPUs (%s), %s, Linux %s" % (meta["nproc"], meta["cpu"], meta["mem"],
                                                     meta["kernel"]),
           "- load average (1/5/15 min): %s; other work on the machine shows up in the "
           "wall times" % meta.get("load", "n/a"),
           "- command: `%s`" % meta["cmdline"],
           "- portolan: %s (%s)" % (meta["portolan_rev"], meta["portolan_note"]),
           "- nmap: %s" % meta["nmap_version"],
           "- masscan: %s" % meta["masscan_version"],
           "- runs per tool: %d; wall time is the median, peak RSS the maximum, accuracy the "
           "worst run" % meta["runs"],
           "- per-run timeout: %s s (nmap: %s s); a run that hits it is reported as \"did not "
           "finish\" and whatever output it left is scored" % (meta["timeout"],
                                                               meta["nmap_timeout"]),
           ""]
    rows_by_scen = {}
    for name, scenario in meta["scenarios"].items():
        if name == "R5":
            doc += memory_section(meta, runs, commands) + [""]
            continue
        key = scenario.get("runs_key", name)
        rows = {}
        for t in scenario["tools"]:
            rr = [r for r in runs if r["scenario"] == key and r["tool"] == t]
            if rr:
                rows[t] = tool_row(scenario, t, rr)
        rows_by_scen[name] = rows
        doc += scenario_section(name, scenario, rows, commands) + [""]
    doc += pps_summary({k: v for k, v in rows_by_scen.items() if k in ("R1", "R2", "R3")})
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
    meta = {
        "date": env["BENCH_DATE"], "nproc": env["BENCH_NPROC"], "cpu": env["BENCH_CPU"],
        "mem": env["BENCH_MEM"], "kernel": env["BENCH_KERNEL"], "load": env["BENCH_LOAD"],
        "cmdline": env["BENCH_CMDLINE"], "portolan_rev": env["BENCH_REV"],
        "portolan_note": env["BENCH_NOTE"], "nmap_version": env["BENCH_NMAP"],
        "masscan_version": env["BENCH_MASSCAN"], "runs": int(env["BENCH_RUNS"]),
        "timeout": int(env["BENCH_TIMEOUT"]), "nmap_timeout": int(env["BENCH_NMAP_TIMEOUT"]),
        "scenarios": {k: v for k, v in s.items() if k in chosen},
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
