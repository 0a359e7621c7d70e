#!/usr/bin/env python3
"""Tests of bench/report.py: V1's service scoring and the carrying over of sections a
run did not measure. Stdlib only; no network, no root.

    python3 bench/test_report.py
"""

import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

TRUTH = [
    {"host": "s1", "addr": "198.18.0.11", "port": 22, "proto": "tcp", "name": "ssh",
     "tunnel": None, "product": "OpenSSH", "version": "9.2p1", "note": None},
    {"host": "s1", "addr": "198.18.0.11", "port": 995, "proto": "tcp", "name": "pop3",
     "tunnel": "ssl", "product": "Dovecot pop3d", "version": None,
     "note": "Nmap printed pop3s?"},
    {"host": "s1", "addr": "198.18.0.11", "port": 25, "proto": "tcp", "name": "smtp",
     "tunnel": None, "product": "Postfix smtpd", "version": None, "note": None},
    {"host": "s2", "addr": "198.18.0.12", "port": 123, "proto": "udp", "name": "ntp",
     "tunnel": None, "product": "NTP", "version": "1.2.2", "note": None},
    {"host": "s2", "addr": "198.18.0.12", "port": 1883, "proto": "tcp", "name": "mqtt",
     "tunnel": None, "product": None, "version": None, "note": None},
]

XML = """<?xml version="1.0"?>
<nmaprun scanner="nmap">
<host><status state="up"/><address addr="198.18.0.11" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="22"><state state="open"/>
 <service name="ssh" product="OpenSSH" version="9.2p1 Debian 2+deb12u10" method="probed"/></port>
<port protocol="tcp" portid="995"><state state="open"/>
 <service name="pop3s" method="table" conf="3"/></port>
<port protocol="tcp" portid="25"><state state="open"/>
 <service name="smtp" product="postfix  SMTPD" method="probed"/></port>
</ports></host>
<host><status state="up"/><address addr="198.18.0.12" addrtype="ipv4"/><ports>
<port protocol="udp" portid="123"><state state="open|filtered"/>
 <service name="ntp" product="NTP" version="1.2.20" method="probed"/></port>
<port protocol="tcp" portid="1883"><state state="open"/>
 <service name="mqtt" method="table" conf="3"/></port>
</ports></host>
</nmaprun>
"""

OLD_REPORT = """# Benchmarks

Intro.

- date: 2020-01-02 03:04 UTC
- machine: 2 CPUs (X), 1.0 GiB RAM, Linux 1
- load average (1/5/15 min): 0.1 0.2 0.3 (start), 0.4 0.5 0.6 (end); other work
- command: `bench/run.sh --nmap-timeout 300`
- portolan: abc1234 (release build)
- runs per tool: 3; wall time is the median
- per-run timeout: 600 s (nmap: 300 s); a run that hits it

## D2: host discovery of a /16

D2 text.

| a | b |

## R1: SYN scan

R1 text, with a colon: here.
- `portolan -sS`

## V1: version detection (stale)

Old V1 text.

## Gone: a scenario that no longer exists

Gone text.

## Packet rates

- portolan: 1 pps peak
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class VersionRight(unittest.TestCase):
    def test_prefix_at_a_separator_counts(self):
        self.assertTrue(report.version_right("9.2p1 Debian 2+deb12u10", "9.2p1"))
        self.assertTrue(report.version_right("1.22.1", "1.22.1"))
        self.assertTrue(report.version_right("5.6.3 (x86_64/linux)", "5.6.3"))

    def test_a_longer_number_does_not(self):
        self.assertFalse(report.version_right("1.2.20", "1.2.2"))
        self.assertFalse(report.version_right("1.2.2.1", "1.2.2"))
        self.assertFalse(report.version_right("9.2p10", "9.2p1"))
        self.assertFalse(report.version_right("5.5.5-10.11.19-MariaDB", "10.11.19"))
        self.assertFalse(report.version_right(None, "1.0"))


class ScoreServices(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.xml = os.path.join(self.dir.name, "V1-nmap-1.xml")
        write(self.xml, XML)

    def tearDown(self):
        self.dir.cleanup()

    def test_counts_and_misses(self):
        s = report.score_services({"services": TRUTH}, self.xml)
        self.assertEqual(s["services"], 5)
        self.assertEqual(s["svc_open"], 4)  # ntp is open|filtered
        # ssh, smtp, ntp, mqtt named right; pop3s is not ssl/pop3; mqtt by table only.
        self.assertEqual((s["named"], s["by_table"]), (4, 1))
        # OpenSSH, Postfix smtpd (case and spacing aside), NTP right; Dovecot missing.
        self.assertEqual((s["products"], s["with_product"]), (3, 4))
        # 9.2p1 Debian... right for 9.2p1; 1.2.20 wrong for 1.2.2.
        self.assertEqual((s["versions"], s["with_version"]), (1, 2))
        self.assertEqual(s["right"]["version"], {"198.18.0.11 22/tcp"})
        misses = {key: what for key, _, what in s["misses"]}
        self.assertEqual(sorted(misses), ["198.18.0.11 995/tcp", "198.18.0.12 123/udp"])
        self.assertIn("name pop3s (truth ssl/pop3)", misses["198.18.0.11 995/tcp"])
        self.assertIn('product none (truth "Dovecot pop3d")', misses["198.18.0.11 995/tcp"])
        self.assertIn("state open|filtered", misses["198.18.0.12 123/udp"])
        self.assertIn('version "1.2.20" (truth "1.2.2")', misses["198.18.0.12 123/udp"])

    def test_unreported_ports_are_misses(self):
        truth = TRUTH + [dict(TRUTH[0], addr="198.18.0.99")]
        s = report.score_services({"services": truth}, self.xml)
        self.assertEqual(s["named"], 4)
        missing = [what for key, _, what in s["misses"] if key == "198.18.0.99 22/tcp"]
        self.assertEqual(missing[0][0], "state not reported")

    def test_verdict_needs_nmaps_right_answers_and_the_ratio(self):
        s = report.score_services({"services": TRUTH}, self.xml)
        nmap = dict(s, tool="nmap", wall=10.0)
        worse = dict(s, tool="portolan", wall=4.0,
                     right={"product": s["right"]["product"], "version": set()})
        lines = report.verdict_V1({"portolan": worse, "nmap": nmap})
        self.assertIn("nmap_time / portolan_time = **2.50** (target >= 2)", lines)
        self.assertIn("(not on 198.18.0.11 22/tcp)", lines[-2])
        self.assertTrue(lines[-1].endswith("**no**"))
        same = dict(s, tool="portolan", wall=4.0)
        self.assertTrue(report.verdict_V1({"portolan": same, "nmap": nmap})[-1]
                        .endswith("**yes**"))
        slow = dict(s, tool="portolan", wall=6.0)
        self.assertTrue(report.verdict_V1({"portolan": slow, "nmap": nmap})[-1]
                        .endswith("**no**"))


class CarryOver(unittest.TestCase):
    """A run of V1 alone: the other sections stay as they were, in bench/run.sh's
    order, each with one note under its heading naming the run that wrote it."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.out = os.path.join(d, "out")
        os.mkdir(self.out)
        self.target = os.path.join(d, "BENCHMARKS.md")
        write(self.target, OLD_REPORT)
        base = os.path.join(self.out, "V1-nmap-1")
        write(base + ".xml", XML)
        write(base + ".time", "\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:12.50\n"
                              "\tMaximum resident set size (kbytes): 20480\n")
        write(os.path.join(self.out, "runs.tsv"), "\t".join(
            ["V1", "nmap", "1", "0", base + ".xml", base + ".time", base + ".log",
             base + ".ifstat", "600"]) + "\n")
        write(os.path.join(self.out, "commands.tsv"), "V1\tnmap\tnmap -sV X -oX FILE\n")
        meta = {"date": "2030-05-06 07:08 UTC", "nproc": "2", "cpu": "X", "mem": "1.0 GiB RAM",
                "kernel": "1", "load": "1 1 1", "cmdline": "bench/run.sh --scenario V1",
                "portolan_rev": "def5678", "portolan_note": "release build",
                "nmap_version": "Nmap 7.93", "masscan_version": "m", "runs": 1,
                "timeout": 600, "nmap_timeout": 600,
                "all_scenarios": report.ALL_SCENARIOS,
                "scenarios": {"V1": {"title": "V1: version detection", "kind": "services",
                                     "services": TRUTH, "error": None,
                                     "description": "V1 description.",
                                     "tools": ["portolan", "nmap"]}}}
        write(os.path.join(self.out, "scenarios.json"), json.dumps(meta))

    def tearDown(self):
        self.dir.cleanup()

    def run_report(self):
        rc = report.main(["report.py", self.out, self.target])
        with open(self.target) as f:
            return rc, f.read()

    def test_sections_are_carried_in_order_with_a_note(self):
        rc, text = self.run_report()
        self.assertEqual(rc, 0)
        header, sections = report.split_report(text)
        self.assertEqual(list(sections), ["R1", "D2", "V1", "Packet rates"])
        note = ("> Section from an earlier run: 2020-01-02 03:04 UTC, `bench/run.sh "
                "--nmap-timeout 300`; portolan abc1234 (release build); runs per tool: 3; "
                "timeout 600 s (nmap: 300 s); load average 0.1 0.2 0.3 (start), 0.4 0.5 0.6 "
                "(end).")
        _, old = report.split_report(OLD_REPORT)
        for name in ("R1", "D2", "Packet rates"):
            got = sections[name]
            self.assertEqual(got[:3], [old[name][0], "", note])
            self.assertEqual(got[:1] + got[3:], old[name], name)
        self.assertIn("V1 description.", sections["V1"])
        self.assertNotIn("Old V1 text.", text)
        self.assertNotIn("Gone", text)
        self.assertIn("- command: `bench/run.sh --scenario V1`", header)
        self.assertIn("- sections from this run: V1; carried over from earlier runs (the "
                      "line under each heading says which): R1, D2, packet rates", header)
        self.assertTrue(text.endswith("- portolan: 1 pps peak\n"))

    def test_a_second_run_keeps_the_first_note(self):
        _, first = self.run_report()
        _, second = self.run_report()
        self.assertEqual(first, second)
        self.assertEqual(second.count(report.CARRIED), 3)

    def test_no_previous_report(self):
        os.unlink(self.target)
        _, text = self.run_report()
        _, sections = report.split_report(text)
        self.assertEqual(list(sections), ["V1"])
        self.assertNotIn(report.CARRIED, text)
        self.assertIn("| nmap | 12.50 | 20.0 | 4 / 5 | 4 / 5 (1 from the port table) "
                      "| 3 / 4 | 1 / 2 | 1/1 |", text)
        self.assertIn("- 198.18.0.11 995/tcp ssl/pop3: name pop3s (truth ssl/pop3); product "
                      'none (truth "Dovecot pop3d"); lab note: Nmap printed pop3s?', text)


class WriteMeta(unittest.TestCase):
    def test_v1_truth_and_error(self):
        with tempfile.TemporaryDirectory() as d:
            truth = os.path.join(d, "truth.json")
            write(truth, json.dumps({"hosts": {"s1": {"v4": "198.18.0.11"},
                                               "s2": {"v4": "198.18.0.12"}},
                                     "services": [dict(t, daemon="x") for t in TRUTH]}))
            v1 = report.service_meta({"BENCH_V1_TRUTH": truth, "BENCH_V1_ERROR": ""})
            self.assertIsNone(v1["error"])
            self.assertEqual(v1["services"], TRUTH)
            self.assertIn("s1 198.18.0.11: 22/tcp OpenSSH, 25/tcp Postfix smtpd, "
                          "995/tcp Dovecot pop3d; s2 198.18.0.12: 1883/tcp mqtt, "
                          "123/udp NTP", v1["description"])
            self.assertIn("5 services (4 TCP, 1 UDP)", v1["description"])
            bad = report.service_meta({"BENCH_V1_TRUTH": os.path.join(d, "none.json")})
            self.assertEqual(bad["error"], "no readable lab truth (FileNotFoundError)")
            failed = report.service_meta({"BENCH_V1_TRUTH": truth,
                                          "BENCH_V1_ERROR": "the lab did not come up"})
            self.assertEqual((failed["error"], failed["services"]),
                             ("the lab did not come up", []))


if __name__ == "__main__":
    unittest.main()
