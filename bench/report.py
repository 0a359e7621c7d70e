#!/usr/bin/env python3
"""Score benchmark runs against the known truth and write BENCHMARKS.md.

    python3 bench/report.py OUT_DIR BENCHMARKS.md

OUT_DIR is what bench/run.sh leaves: scenarios.json (the truth and the exact
command lines), runs.tsv (one line per tool run: scenario, tool, run, exit code,
XML file, `/usr/bin/time -v` file, log file) and the files those lines name.
Stdlib only.
"""

import ipaddress
import json
import os
import re
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "net"))
from nmap_check import parse_nmap_xml, parse_ports  # noqa: E402


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


def expand_targets(spec):
    if "/" in spec:
        return [str(a) for a in ipaddress.ip_network(spec, strict=False)]
    return [spec]


def score(scenario, xml_path):
    """Compare one XML result with the truth: open found/expected, state accuracy."""
    ports = parse_ports(scenario["ports"])
    opened = set(scenario["open"])
    filtered = set(scenario.get("filtered", []))
    hosts = expand_targets(scenario["targets"])
    try:
        result, _ = parse_nmap_xml(xml_path)
    except Exception as err:  # a missing or broken file scores zero, with the reason
        return {"error": "unreadable XML: %s" % err}
    found = correct = false_open = 0
    for host in hosts:
        got = result.get(host, {})
        for port in ports:
            want = "open" if port in opened else "filtered" if port in filtered else "closed"
            have = got.get(port, (None, None))[0]
            correct += have == want
            found += have == "open" and want == "open"
            false_open += have == "open" and want != "open"
    return {"open_found": found, "open_expected": len(hosts) * len(opened),
            "false_open": false_open, "correct": correct, "total": len(hosts) * len(ports),
            "hosts_reported": sum(1 for h in hosts if h in result)}


def read_runs(out_dir):
    runs = []
    with open(os.path.join(out_dir, "runs.tsv")) as f:
        for line in f:
            scen, tool, n, rc, xml, timef, log = line.rstrip("\n").split("\t")
            wall, rss = read_time_v(timef)
            runs.append({"scenario": scen, "tool": tool, "run": int(n), "rc": int(rc),
                         "xml": xml, "log": log, "wall": wall, "rss": rss})
    return runs


def tool_row(scenario, runs):
    ok = [r for r in runs if r["rc"] == 0]
    scores = [score(scenario, r["xml"]) for r in ok]
    walls = [r["wall"] for r in ok if r["wall"] is not None]
    rss = [r["rss"] for r in runs if r["rss"] is not None]
    row = {"runs": len(runs), "ok": len(ok), "rcs": sorted({r["rc"] for r in runs}),
           "wall": statistics.median(walls) if walls else None,
           "rss_mib": max(rss) / 1024 if rss else None}
    good = [s for s in scores if "error" not in s]
    if good:
        worst = min(good, key=lambda s: (s["correct"], s["open_found"]))
        row.update(worst)
    elif scores:
        row["error"] = scores[0]["error"]
    return row


def fmt(x, spec):
    return format(x, spec) if x is not None else "n/a"


def scenario_section(name, scenario, rows, tools):
    lines = ["## %s" % scenario["title"], "", scenario["description"], ""]
    for tool in tools:
        lines.append("- `%s`" % scenario["commands"][tool])
    lines += ["", "| tool | wall s (median) | peak RSS MiB | open found / expected | false open "
              "| state accuracy | runs ok |", "|---|---:|---:|---:|---:|---:|---:|"]
    for tool in tools:
        r = rows.get(tool)
        if r is None:
            lines.append("| %s | not run | | | | | |" % tool)
            continue
        if "correct" in r:
            acc = "%.3f %% (%d/%d)" % (100.0 * r["correct"] / r["total"], r["correct"], r["total"])
            found = "%d / %d" % (r["open_found"], r["open_expected"])
            false_open = str(r["false_open"])
        else:
            acc, found, false_open = r.get("error", "no result (exit %s)" % r["rcs"]), "n/a", "n/a"
        lines.append("| %s | %s | %s | %s | %s | %s | %d/%d |" % (
            tool, fmt(r["wall"], ".2f"), fmt(r["rss_mib"], ".1f"), found, false_open, acc,
            r["ok"], r["runs"]))
    p, n = rows.get("portolan", {}), rows.get("nmap", {})
    if p.get("wall") and n.get("wall") and p.get("ok") and n.get("ok"):
        lines += ["", "nmap_time / portolan_time = **%.2f**" % (n["wall"] / p["wall"])]
    else:
        lines += ["", "nmap_time / portolan_time: n/a (a tool did not finish)"]
    return lines


def main(argv):
    out_dir, target = argv[1], argv[2]
    meta = json.load(open(os.path.join(out_dir, "scenarios.json")))
    runs = read_runs(out_dir)
    tools = meta["tools"]
    doc = ["# Benchmarks", "",
           "Written by `bench/run.sh`; do not edit by hand. Every run builds its own test "
           "network in network namespaces (a scanner namespace and a target namespace joined "
           "by a veth pair, 198.18.64.1/24 <-> 198.18.64.2/24; 198.19.0.0/24 routed to the "
           "target, which answers for all of it), scans it with each tool, and checks every "
           "port state against the known truth.", "",
           "- date: %s" % meta["date"],
           "- machine: %s CPUs (%s), %s, Linux %s" % (meta["nproc"], meta["cpu"], meta["mem"],
                                                     meta["kernel"]),
           "- command: `%s`" % meta["cmdline"],
           "- portolan: %s (%s)" % (meta["portolan_rev"], meta["portolan_note"]),
           "- nmap: %s" % meta["nmap_version"],
           "- runs per tool: %d; wall time is the median, peak RSS the maximum, accuracy the "
           "worst run" % meta["runs"],
           "- per-run timeout: %s s" % meta["timeout"], ""]
    for name, scenario in meta["scenarios"].items():
        rows = {t: tool_row(scenario, [r for r in runs if r["scenario"] == name and
                                       r["tool"] == t])
                for t in tools if any(r["scenario"] == name and r["tool"] == t for r in runs)}
        doc += scenario_section(name, scenario, rows, tools) + [""]
    with open(target, "w") as f:
        f.write("\n".join(doc))
    failed = [r for r in runs if r["rc"] != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
