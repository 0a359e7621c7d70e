#!/usr/bin/env python3
"""Answer every UDP datagram, for the UDP benchmark scenario.

    udp_answer.py ADDR PORT...

Binds ADDR:PORT for each PORT and sends one datagram back to the sender of every
datagram it receives. Any UDP answer makes a port "open" to Nmap and Portolan, but
masscan parses the answers of the protocols it knows and drops what does not parse,
so the answer is the probe turned into a plausible reply: on 53 the DNS header's QR
bit set, on 161 the SNMP PDU tag changed to GetResponse, on 123 the NTP mode set to
server; anything else (and an empty probe) is echoed, or answered b"ok". Prints "listening PORT,..." once bound; exits on SIGTERM/SIGINT.
Stdlib only.
"""

import selectors
import signal
import socket
import sys


def ber_skip(data, i):
    """Index just past the BER TLV at i (IndexError when truncated)."""
    length = data[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[i:i + n], "big")
        i += n
    return i + length


def snmp_reply(data):
    """The same message with the PDU tag set to GetResponse (0xa2)."""
    try:
        i = 2 + (data[1] & 0x7F if data[1] & 0x80 else 0)  # into the SEQUENCE
        i = ber_skip(data, i)  # version
        i = ber_skip(data, i)  # community
        if data[0] == 0x30 and 0xA0 <= data[i] <= 0xA7:
            return data[:i] + b"\xa2" + data[i + 1:]
    except IndexError:
        pass
    return data


def answer(port, payload):
    if not payload:
        return b"ok"
    if port == 53 and len(payload) >= 12:
        return payload[:2] + bytes([payload[2] | 0x80]) + payload[3:]
    if port == 161:
        return snmp_reply(payload)
    if port == 123 and len(payload) >= 48:
        return bytes([(payload[0] & 0xF8) | 4]) + payload[1:]
    return payload


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: udp_answer.py ADDR PORT...\n")
        return 2
    addr, ports = argv[0], [int(p) for p in argv[1:]]
    sel = selectors.DefaultSelector()
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((addr, port))
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, port)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sys.stdout.write("listening %s\n" % ",".join(str(p) for p in ports))
    sys.stdout.flush()
    while not stop:
        for key, _ in sel.select(timeout=1.0):
            for _ in range(1024):  # bounded: drain what is queued, then select again
                try:
                    data, peer = key.fileobj.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                try:
                    key.fileobj.sendto(answer(key.data, data), peer)
                except OSError:
                    pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
