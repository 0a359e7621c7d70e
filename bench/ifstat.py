#!/usr/bin/env python3
"""Sample one interface's packet counters while a benchmarked tool runs.

    ifstat.py IFACE INTERVAL_S MAX_S OUT

Every INTERVAL_S seconds, appends "monotonic_s tx_packets rx_packets" for IFACE (read
from /sys/class/net, so run it inside the namespace that owns IFACE) to OUT. Stops on
SIGTERM/SIGINT, or after MAX_S seconds at the latest, with a last sample. The first
and last lines give the packets sent and received during the run; bench/report.py
turns the series into average and peak packets per second. Stdlib only.
"""

import signal
import sys
import time


def counters(iface):
    base = "/sys/class/net/%s/statistics/" % iface
    with open(base + "tx_packets") as tx, open(base + "rx_packets") as rx:
        return int(tx.read()), int(rx.read())


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: ifstat.py IFACE INTERVAL_S MAX_S OUT\n")
        return 2
    iface, interval, max_s, out = argv[0], float(argv[1]), float(argv[2]), argv[3]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    start = time.monotonic()
    with open(out, "w") as f:
        while True:
            now = time.monotonic()
            tx, rx = counters(iface)
            f.write("%.3f %d %d\n" % (now - start, tx, rx))
            f.flush()
            if stop or now - start >= max_s:
                return 0
            time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
