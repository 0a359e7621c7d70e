#!/usr/bin/env python3
"""Accept-and-close TCP listener for the Portolan test network.

Usage: listener.py [--v4-only] PORT...

Listens on every PORT on 0.0.0.0 and on :: (IPV6_V6ONLY, so the two sockets do
not collide), backlog 4096, and closes every accepted connection at once. One
process serves all ports of one host namespace. It exits on SIGTERM/SIGINT.
Stdlib only: CI machines have nothing but Python 3.
"""

import errno
import selectors
import signal
import socket
import sys

BACKLOG = 4096


def listen(family, addr, port):
    """Return a non-blocking listening socket, or None when the family is unusable."""
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        return None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind((addr, port))
    except OSError as err:
        sock.close()
        if family == socket.AF_INET6 and err.errno == errno.EADDRNOTAVAIL:
            return None
        raise
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


def drain(sock):
    """Accept every pending connection on sock and close it immediately."""
    for _ in range(BACKLOG):
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        conn.close()


def main(argv):
    v4_only = "--v4-only" in argv
    ports = [int(a) for a in argv if a != "--v4-only"]
    if not ports:
        sys.stderr.write("usage: listener.py [--v4-only] PORT...\n")
        return 2
    families = [(socket.AF_INET, "0.0.0.0")]
    if not v4_only:
        families.append((socket.AF_INET6, "::"))
    sel = selectors.DefaultSelector()
    for port in ports:
        for family, addr in families:
            sock = listen(family, addr, port)
            if sock is not None:
                sel.register(sock, selectors.EVENT_READ)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sys.stdout.write("listening %s\n" % ",".join(str(p) for p in ports))
    sys.stdout.flush()
    while not stop:
        for key, _ in sel.select(timeout=1.0):
            drain(key.fileobj)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
