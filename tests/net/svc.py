#!/usr/bin/env python3
"""Build and tear down the service-detection test network: real daemons in namespaces.

    python3 tests/net/svc.py up       --prefix P   # build, print the JSON truth on stdout
    python3 tests/net/svc.py down     --prefix P   # kill every daemon, remove P-*, idempotent
    python3 tests/net/svc.py describe --prefix P   # print the JSON truth without building
    python3 tests/net/svc.py gc                    # remove labs of dead test processes
    python3 tests/net/svc.py capture  --prefix P --addr A --port N [--udp] [--tls]
                                      [--send 'GET / HTTP/1.0\\r\\n\\r\\n'] [--wait 3]
    python3 tests/net/svc.py selftest --prefix P   # up, one capture per service, down

Topology (every namespace is named P-<node>; the root namespace is never touched):

    P-scan 198.18.0.1   2001:db8:0:1::1   ---+
    P-s1   198.18.0.11  2001:db8:0:1::11  ---+-- P-sw:br0
    P-s2   198.18.0.12  2001:db8:0:1::12  ---+
    P-s3   198.18.0.13  2001:db8:0:1::13  ---+

Only 198.18.0.0/15 and 2001:db8::/32 are used; no namespace has a default route.
Every daemon is the Debian package's own binary, started by hand inside its
host's namespace (and a UTS namespace whose host name is s1.svc.test,
s2.svc.test or s3.svc.test) with a configuration written under the lab's state directory
/tmp/portolan-svc-P/ (configs, keys, data, pid files; logs in logs/). The
system's configurations and instances are never used. Every service but RTSP
listens on the host's IPv4 and IPv6 addresses.

- s1: OpenSSH sshd 22 (ed25519 host key made at `up`), vsftpd 21 (default banner;
  anonymous read-only login into a directory holding one file), Postfix smtpd 25
  (master -d with its own main.cf and master.cf; default banner), Dovecot pop3
  110, imap 143, pop3s 995, imaps 993, nginx 80, 443 (TLS 1.2 and 1.3) and 8443
  (TLS 1.0 only, SECLEVEL=0), dnsmasq 53 TCP+UDP (the lab's names; version.bind
  answered), telnet 23 (inetutils-inetd forks inetutils telnetd per connection).
- s2: redis 6379, memcached 11211 TCP+UDP, PostgreSQL 5432 (initdb into the state
  directory at `up`, run as postgres, on the lab addresses only), MariaDB 3306
  (mariadb-install-db into the state directory, run as mysql; a user for the
  lab's networks, so a scanner gets the server greeting rather than error 1130),
  OpenLDAP slapd 389, mosquitto 1883 (anonymous), ntpsec ntpd 123/UDP (no upstream
  servers; mode 6 queries allowed from the lab; CAP_SYS_TIME is out of its
  bounding set, so it can never touch the machine's clock), snmpd 161/UDP
  (community `public` read-only, sysDescr default), kamailio 5060 UDP+TCP
  (OPTIONS -> 200 OK, with its Server header).
- s3: RabbitMQ 5672 (AMQP 0-9-1; its Erlang node, epmd and distribution port on
  the namespace's loopback), xrdp 3389 (the package's xrdp.ini, key pair and
  certificate), TigerVNC's Xvnc 5901 (no authentication; first free display),
  the Docker engine's API 2375 (plain TCP, no bridge or firewall rules; the
  cgroup hierarchies mounted again in its mount namespace), Perl RTSP::Server 554
  (IPv4 only: it binds one address). No daemon had to be left out.

The TLS services (443, 8443, 993, 995) share one self-signed certificate made at
`up` (RSA 2048, subject CN=s1.svc.test, O=Portolan Lab, valid from `up` for 365
days). Each server namespace has its own resolv.conf (its loopback, where nothing
answers) and hosts file (the lab's names); the scanner's resolv.conf points at its
loopback, as in lab.py.

The truth (`describe`, also printed by `up` with `up_seconds`) lists every service:
the name, product, version and extrainfo a version scan should report, spelled as
Nmap 7.93 spells them; `version` is the installed package's upstream version
(`dpkg-query` at describe time; epoch, Debian revision and repack suffix
stripped), null when the daemon does not disclose it on the wire; `nmap` holds
what Nmap 7.93 printed for that port in this lab (NMAP_SEEN below), and `note`
says where the truth departs from it. TLS services add the certificate's
subject, issuer, dates and SHA-256 (null when the lab is down) and the protocol
versions they accept.

`up` waits (bounded, UP_DEADLINE_S) until each daemon listens where it should
and every TCP port accepts a connection from the scanner over IPv4 and IPv6; a
daemon that exits or does not come up is named with the tail of its log, and
the lab is torn down. `down` stops every process in the lab's namespaces
(SIGTERM, then SIGKILL after 3 s), deletes them and the state directory. `gc`
removes labs of dead test and benchmark processes (prefix ps<pid> or pbv<pid>,
optionally a letter after). `capture` connects
from P-scan (TLS: any certificate, TLS 1.0 allowed), sends a C-escaped payload
(\\xHH takes exactly two hex digits; no octal) and prints the answer escaped and
in hex. `selftest` checks every service's answer against the truth (versions
included) and each TLS service's accepted protocol versions.

Reuses tests/net/lab.py's helpers; stdlib only; needs root, iproute2, util-linux
(unshare, setpriv), openssl and the packages scripts/setup-service-daemons.sh
installs.
"""

import argparse
import concurrent.futures
import grp
import hashlib
import ipaddress
import json
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import warnings

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab  # noqa: E402  (the lab's helpers, used as a library)

SELF = os.path.abspath(__file__)
SCANNER = {"v4": "198.18.0.1", "v6": "2001:db8:0:1::1"}
HOSTS = {
    "s1": {"v4": "198.18.0.11", "v6": "2001:db8:0:1::11", "fqdn": "s1.svc.test"},
    "s2": {"v4": "198.18.0.12", "v6": "2001:db8:0:1::12", "fqdn": "s2.svc.test"},
    "s3": {"v4": "198.18.0.13", "v6": "2001:db8:0:1::13", "fqdn": "s3.svc.test"},
}
NODES = ["sw", "scan", "s1", "s2", "s3"]
CERT_SUBJECT = "/O=Portolan Lab/CN=s1.svc.test"
NMAP_VERSION = "7.93"
UP_DEADLINE_S = 60.0
LAB_NETS = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32")]


class SvcError(lab.LabError):
    pass


def ns(prefix, node):
    return lab.ns(prefix, node)


def state_dir(prefix):
    return "/tmp/portolan-svc-%s" % prefix


def log_path(prefix, daemon):
    return os.path.join(state_dir(prefix), "logs", daemon + ".log")


def cert_path(prefix, ext):
    return os.path.join(state_dir(prefix), "tls", "s1." + ext)


# ---------------------------------------------------------------- truth


def service(host, port, proto, name, daemon, product, package, discloses, send, expect,
            **extra):
    """One service of the lab.

    `name`, `product`: what a version scan should report, spelled as Nmap 7.93
    spells them for this daemon (see `note` where the truth departs from what
    Nmap printed here). `package`: the Debian package whose version the daemon
    runs. `discloses`: whether the daemon puts its version on the wire (then the
    truth's `version` is the package's upstream version, else null). `send` is
    the C-escaped request the selftest sends (None: read the banner only) and
    `expect` a regular expression its answer must match ({version}: the escaped
    upstream version)."""
    s = {"host": host, "port": port, "proto": proto, "name": name, "daemon": daemon,
         "product": product, "package": package, "discloses": discloses, "send": send,
         "expect": expect, "tunnel": None, "extrainfo": None, "hostname": None,
         "note": None, "repack": False, "families": "46", "title": None}
    s.update(extra)
    return s


TLS12 = ["TLSv1.2", "TLSv1.3"]
DNS_VERSION_BIND = ("\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00"
                    "\\x07version\\x04bind\\x00\\x00\\x10\\x00\\x03")
HTTP_GET = r"GET / HTTP/1.0\r\n\r\n"
NGINX_OK = r"^HTTP/1\.1 200 OK\r\nServer: nginx/{version}\r\n"
NGINX_TITLE = "Portolan service lab"  # the <title> of NGINX_PAGE
DOVECOT_POP3 = r"^\+OK Dovecot \(Debian\) ready\.\r\n"
DOVECOT_IMAP = r"^\* OK \[CAPABILITY IMAP4rev1 [^]]*\] Dovecot \(Debian\) ready\.\r\n"
KAMAILIO_OK = r"^SIP/2\.0 200 OK\r\n.*\r\nServer: kamailio \({version} "
NOT_TLS = ("Nmap 7.93 printed %s?: Dovecot closes the connection without a TLS alert on "
           "Nmap's pre-TLS-1.2 probes, so Nmap never learns it speaks TLS")

SERVICES = [
    # "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10": the version is in the banner.
    service("s1", 22, "tcp", "ssh", "sshd", "OpenSSH", "openssh-server", True,
        None, r"^SSH-2\.0-OpenSSH_{version} Debian-", extrainfo="protocol 2.0",
        note="Nmap's version adds the Debian revision: 9.2p1 Debian 2+deb12u10"),
    # "220 (vsFTPd 3.0.3)": the default banner carries the version.
    service("s1", 21, "tcp", "ftp", "vsftpd", "vsftpd", "vsftpd", True,
        None, r"^220 \(vsFTPd {version}\)\r\n"),
    # "220 s1.svc.test ESMTP Postfix": Postfix never discloses its version.
    service("s1", 25, "tcp", "smtp", "postfix", "Postfix smtpd", "postfix", False,
        None, r"^220 s1\.svc\.test ESMTP Postfix\r\n", hostname="s1.svc.test"),
    # "+OK Dovecot (Debian) ready." and "* OK [CAPABILITY ...] Dovecot (Debian)
    # ready.": no version.
    service("s1", 110, "tcp", "pop3", "dovecot", "Dovecot pop3d", "dovecot-pop3d", False,
        None, DOVECOT_POP3),
    service("s1", 143, "tcp", "imap", "dovecot", "Dovecot imapd", "dovecot-imapd", False,
        None, DOVECOT_IMAP),
    service("s1", 995, "tcp", "pop3", "dovecot", "Dovecot pop3d", "dovecot-pop3d", False,
        None, DOVECOT_POP3, tunnel="ssl", tls_versions=TLS12, note=NOT_TLS % "pop3s"),
    service("s1", 993, "tcp", "imap", "dovecot", "Dovecot imapd", "dovecot-imapd", False,
        None, DOVECOT_IMAP, tunnel="ssl", tls_versions=TLS12, note=NOT_TLS % "imaps"),
    # "Server: nginx/1.22.1" (server_tokens on, the default).
    service("s1", 80, "tcp", "http", "nginx", "nginx", "nginx", True, HTTP_GET, NGINX_OK,
        title=NGINX_TITLE),
    service("s1", 443, "tcp", "http", "nginx", "nginx", "nginx", True, HTTP_GET, NGINX_OK,
        tunnel="ssl", tls_versions=TLS12, title=NGINX_TITLE),
    service("s1", 8443, "tcp", "http", "nginx", "nginx", "nginx", True, HTTP_GET, NGINX_OK,
        tunnel="ssl", tls_versions=["TLSv1.0"], title=NGINX_TITLE),
    # version.bind CHAOS TXT answers "dnsmasq-2.90".
    service("s1", 53, "tcp", "domain", "dnsmasq", "dnsmasq", "dnsmasq-base", True,
        "\\x00\\x1e" + DNS_VERSION_BIND, r"\x04bind\x00\x00\x10\x00\x03.*dnsmasq-{version}"),
    service("s1", 53, "udp", "domain", "dnsmasq", "dnsmasq", "dnsmasq-base", True,
        DNS_VERSION_BIND, r"\x04bind\x00\x00\x10\x00\x03.*dnsmasq-{version}"),
    # inetutils telnetd opens with option negotiation (IAC WILL AUTHENTICATION ...)
    # and never shows a version.
    service("s1", 23, "tcp", "telnet", "inetd", "GNU inetutils telnetd", "inetutils-telnetd",
        False, None, r"^\xff\xfb\x25\xff\xfb\x26\xff\xfd\x18",
        note="Nmap 7.93 knows no product for inetutils telnetd: it printed the service "
             "name only (a soft match); its opening negotiation (WILL AUTHENTICATION, "
             "WILL ENCRYPT, then DO TTYPE ...) names it"),
    # INFO answers "redis_version:7.0.15".
    service("s2", 6379, "tcp", "redis", "redis", "Redis key-value store", "redis-server", True,
        r"*1\r\n$4\r\nINFO\r\n", r"\r\nredis_version:{version}\r\n"),
    # "version" answers "VERSION 1.6.18" (UDP: after the 8-byte frame header).
    service("s2", 11211, "tcp", "memcached", "memcached", "Memcached", "memcached", True,
        r"version\r\n", r"^VERSION {version}\r\n",
        note="Nmap's extrainfo is the server's uptime (\"uptime 12 seconds\")"),
    service("s2", 11211, "udp", "memcached", "memcached", "Memcached", "memcached", True,
        r"\x00\x01\x00\x00\x00\x01\x00\x00version\r\n",
        r"^\x00\x01\x00\x00\x00\x01\x00\x00VERSION {version}\r\n",
        note="Nmap 7.93 printed memcache? (its UDP stats answer matched nothing)"),
    # The server version is sent only after authentication: not disclosed. A
    # startup packet from the scanner gets FATAL "no pg_hba.conf entry".
    service("s2", 5432, "tcp", "postgresql", "postgres", "PostgreSQL DB", "postgresql-15", False,
        "\\x00\\x00\\x00\\x29\\x00\\x03\\x00\\x00user\\x00portolan\\x00"
        "database\\x00portolan\\x00\\x00",
        r"^E.{4}SFATAL\x00.*no pg_hba\.conf entry for host",
        note="Nmap guessed the version from an error message: 9.6.0 or later"),
    # The greeting carries "5.5.5-10.11.19-MariaDB-0+deb12u1".
    service("s2", 3306, "tcp", "mysql", "mariadb", "MySQL", "mariadb-server", True,
        None, r"^.{4}\x0a5\.5\.5-{version}-MariaDB",
        note="MariaDB; Nmap names it MySQL and prints the greeting's whole version "
             "string, 5.5.5-10.11.19-MariaDB-0+deb12u1"),
    # An anonymous bind succeeds; OpenLDAP never discloses its version.
    service("s2", 389, "tcp", "ldap", "slapd", "OpenLDAP", "slapd", False,
        r"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00",
        r"^\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00",
        note="Nmap guessed the version: 2.2.X - 2.3.X"),
    # CONNECT is accepted (CONNACK 0); $SYS/broker/version then gives
    # "mosquitto version 2.0.11" to anyone subscribed.
    service("s2", 1883, "tcp", "mqtt", "mosquitto", "mosquitto", "mosquitto", True,
        r"\x10\x12\x00\x04MQTT\x04\x02\x00\x3c\x00\x06svctst"
        r"\x82\x18\x00\x01\x00\x13$SYS/broker/version\x00",
        r"^\x20\x02\x00\x00.*mosquitto version {version}",
        note="Nmap 7.93 put the broker's $SYS/broker/version text in the service name: "
             "\"mosquitto version 2.0.11\", no product"),
    # Mode 3 gets a mode 4 answer (stratum 16: no upstream); the mode 6 readvar
    # answer carries version="ntpd ntpsec-1.2.2".
    service("s2", 123, "udp", "ntp", "ntpd", "NTP", "ntpsec", True,
        r"\x16\x02\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00",
        r"version=\"ntpd ntpsec-{version}", extrainfo="unsynchronized",
        note="Nmap's version is the protocol's: v4 (from a mode 3 answer)"),
    # sysDescr is uname's (kernel, not Net-SNMP's version): not disclosed.
    service("s2", 161, "udp", "snmp", "snmpd", "net-snmp", "snmpd", False,
        "\\x30\\x29\\x02\\x01\\x00\\x04\\x06public\\xa0\\x1c\\x02\\x04\\x12\\x34\\x56"
        "\\x78\\x02\\x01\\x00\\x02\\x01\\x00\\x30\\x0e\\x30\\x0c\\x06\\x08\\x2b\\x06"
        "\\x01\\x02\\x01\\x01\\x01\\x00\\x05\\x00",
        r"^\x30.*public\xa2.*\x2b\x06\x01\x02\x01\x01\x01\x00\x04.Linux s2\.svc\.test ",
        extrainfo="public", hostname="s2.svc.test",
        note="Nmap's product joins two probes' answers: \"SNMPv1 server; net-snmp SNMPv3 "
             "server\"; the SNMPv3 engine ID (enterprise 8072) names net-snmp"),
    # "Server: kamailio (5.6.3 (x86_64/linux))" in every reply.
    service("s2", 5060, "udp", "sip", "kamailio", "kamailio", "kamailio", True,
        "SIP_OPTIONS_UDP", KAMAILIO_OK, extrainfo="Status: 200 OK",
        note="Nmap's product is the whole Server header: kamailio (5.6.3 (x86_64/linux))"),
    service("s2", 5060, "tcp", "sip", "kamailio", "kamailio", "kamailio", True,
        "SIP_OPTIONS_TCP", KAMAILIO_OK, extrainfo="Status: 200 OK",
        note="Nmap's product is the whole Server header: kamailio (5.6.3 (x86_64/linux))"),
    # Connection.Start's server-properties table: product "RabbitMQ", version "3.10.8".
    # (Nmap's extrainfo is "0-9", Connection.Start's major and minor; ours names the
    # protocol revision the header asked for.)
    service("s3", 5672, "tcp", "amqp", "rabbitmq", "RabbitMQ", "rabbitmq-server", True,
        r"AMQP\x00\x00\x09\x01",
        r"^\x01\x00\x00.{4}\x00\x0a\x00\x0a\x00\x09.*\x07productS.{4}RabbitMQ"
        r".*\x07versionS.{4}{version}", extrainfo="AMQP 0-9-1"),
    # The X.224 Connection Confirm of xrdp carries source reference 0x1234; no version.
    service("s3", 3389, "tcp", "ms-wbt-server", "xrdp", "xrdp", "xrdp", False,
        r"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03"
        r"\x00\x00\x00", r"^\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02"),
    # "RFB 003.008\n": the protocol version only.
    service("s3", 5901, "tcp", "vnc", "xvnc", "VNC", "tigervnc-standalone-server", False,
        None, r"^RFB 003\.008\n", extrainfo="protocol 3.8"),
    # GET /version: "Server: Docker/20.10.24+dfsg1 (linux)" and the JSON version.
    service("s3", 2375, "tcp", "docker", "dockerd", "Docker", "docker.io", True,
        r"GET /version HTTP/1.0\r\n\r\n",
        r"^HTTP/1\.[01] 200 OK\r\n.*Server: Docker/{version}", extrainfo="API 1.41",
        repack=True),
    # RTSP::Server (Perl) answers OPTIONS with its own method list (STOP included)
    # and no Server header: no version.
    service("s3", 554, "tcp", "rtsp", "rtsp", "Perl RTSP::Server", "rtsp-server-perl", False,
        r"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        r"^RTSP/1\.0 200 OK\r\nPublic: OPTIONS, DESCRIBE, TEARDOWN, SETUP, PLAY, STOP\r\n",
        families="4",
        note="Nmap 7.93 knows no product for RTSP::Server: it printed rtsp with a service "
             "fingerprint (its answers to RTSP OPTIONS and to other probes)"),
]


def nm(name, product=None, version=None, extrainfo=None, tunnel=None, method="probed",
       conf=10, **extra):
    return dict({"name": name, "product": product, "version": version,
                 "extrainfo": extrainfo, "tunnel": tunnel, "method": method, "conf": conf},
                **extra)


# What `nmap -sV -Pn -n` (and `-sU -sV` for the UDP ports) 7.93 reported for each
# port of this lab, run by hand from P-scan against 198.18.0.11 and 198.18.0.12
# (its XML fields; method "table" means Nmap only guessed from the port number,
# and it printed the name with a "?"). `nmap -6 -sV` gave the same TCP answers.
NMAP_SEEN = {
    ("s1", "tcp", 21): nm("ftp", "vsftpd", "3.0.3", ostype="Unix"),
    ("s1", "tcp", 22): nm("ssh", "OpenSSH", "9.2p1 Debian 2+deb12u10", "protocol 2.0",
                          ostype="Linux"),
    ("s1", "tcp", 23): nm("telnet"),
    ("s1", "tcp", 25): nm("smtp", "Postfix smtpd", hostname=" s1.svc.test"),
    ("s1", "tcp", 53): nm("domain", "dnsmasq", "2.90"),
    ("s1", "udp", 53): nm("domain", "dnsmasq", "2.90"),
    ("s1", "tcp", 80): nm("http", "nginx", "1.22.1"),
    ("s1", "tcp", 110): nm("pop3", "Dovecot pop3d"),
    ("s1", "tcp", 143): nm("imap", "Dovecot imapd"),
    ("s1", "tcp", 443): nm("http", "nginx", "1.22.1", tunnel="ssl"),
    ("s1", "tcp", 993): nm("imaps", method="table", conf=3),
    ("s1", "tcp", 995): nm("pop3s", method="table", conf=3),
    ("s1", "tcp", 8443): nm("http", "nginx", "1.22.1", tunnel="ssl"),
    ("s2", "tcp", 389): nm("ldap", "OpenLDAP", "2.2.X - 2.3.X"),
    ("s2", "tcp", 1883): nm("mosquitto version 2.0.11"),
    ("s2", "tcp", 3306): nm("mysql", "MySQL", "5.5.5-10.11.19-MariaDB-0+deb12u1"),
    ("s2", "tcp", 5060): nm("sip", "kamailio (5.6.3 (x86_64/linux))", None, "Status: 200 OK"),
    ("s2", "udp", 5060): nm("sip", "kamailio (5.6.3 (x86_64/linux))", None, "Status: 200 OK"),
    ("s2", "tcp", 5432): nm("postgresql", "PostgreSQL DB", "9.6.0 or later"),
    ("s2", "tcp", 6379): nm("redis", "Redis key-value store", "7.0.15"),
    ("s2", "tcp", 11211): nm("memcached", "Memcached", "1.6.18", "uptime 14 seconds"),
    ("s2", "udp", 11211): nm("memcache", method="table", conf=3),
    ("s2", "udp", 123): nm("ntp", "NTP", "v4", "unsynchronized"),
    ("s2", "udp", 161): nm("snmp", "SNMPv1 server; net-snmp SNMPv3 server", None, "public",
                           hostname="s2.svc.test"),
    ("s3", "tcp", 554): nm("rtsp", servicefp=True),
    ("s3", "tcp", 2375): nm("docker", "Docker", "20.10.24+dfsg1"),
    ("s3", "tcp", 3389): nm("ms-wbt-server", "xrdp"),
    ("s3", "tcp", 5672): nm("amqp", "RabbitMQ", "3.10.8", "0-9"),
    ("s3", "tcp", 5901): nm("vnc", "VNC", None, "protocol 3.8"),
}


def upstream_version(debian_version, keep_repack=False):
    """'1:9.2p1-2+deb12u10' -> '9.2p1': no epoch, Debian revision or repack suffix
    (the suffix stays with `keep_repack`, for daemons that show it on the wire)."""
    v = re.sub(r"^\d+:", "", debian_version)
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    return v if keep_repack else re.sub(r"[+~](dfsg|ds|repack)[0-9a-z.]*$", "", v)


def package_versions(packages):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\n"]
                         + sorted(set(packages)), stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=30).stdout
    found = {}
    for line in out.splitlines():
        name, _, version = line.partition("\t")
        if version:
            found[name] = version
    return found


def openssl_field(args, path):
    proc = subprocess.run(["openssl", "x509", "-noout", "-in", path] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=30)
    if proc.returncode != 0:
        raise SvcError("openssl x509 %s: %s" % (" ".join(args), proc.stderr.strip()))
    return proc.stdout.strip().partition("=")[2]


def iso_date(openssl_date):
    """'Jan  2 03:04:05 2025 GMT' -> '2025-01-02T03:04:05' (UTC, as Nmap prints it)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S",
                         time.strptime(openssl_date.strip(), "%b %d %H:%M:%S %Y %Z"))


def cert_truth(prefix):
    """The lab certificate's fields, or None when the lab is not up."""
    path = cert_path(prefix, "crt")
    if not os.path.exists(path):
        return None
    name = ["-nameopt", "RFC2253"]
    return {
        "subject": openssl_field(["-subject"] + name, path),
        "issuer": openssl_field(["-issuer"] + name, path),
        "not_before": iso_date(openssl_field(["-startdate"], path)),
        "not_after": iso_date(openssl_field(["-enddate"], path)),
        "sha256": openssl_field(["-fingerprint", "-sha256"], path).replace(":", "").lower(),
        "key": "rsa 2048",
    }


def service_truth(svc, versions, cert):
    host = HOSTS[svc["host"]]
    pkg_version = versions.get(svc["package"])
    t = {"host": svc["host"], "addr": host["v4"], "addr6": host["v6"], "port": svc["port"],
         "proto": svc["proto"], "name": svc["name"], "tunnel": svc["tunnel"],
         "product": svc["product"],
         "version": upstream_version(pkg_version, svc["repack"])
         if svc["discloses"] and pkg_version
         else None,
         "extrainfo": svc["extrainfo"], "hostname": svc["hostname"],
         "daemon": svc["daemon"], "package": svc["package"],
         "package_version": pkg_version,
         "nmap": NMAP_SEEN.get((svc["host"], svc["proto"], svc["port"])),
         "note": svc["note"], "families": svc["families"], "title": svc["title"]}
    if svc["tunnel"] == "ssl":
        t["cert"] = cert
        t["tls_versions"] = svc["tls_versions"]
    return t


def describe(prefix):
    versions = package_versions(s["package"] for s in SERVICES)
    cert = cert_truth(prefix)
    return {"prefix": prefix, "scanner_ns": ns(prefix, "scan"), "scanner_if": "eth0",
            "scanner_v4": SCANNER["v4"], "scanner_v6": SCANNER["v6"],
            "hosts": {name: dict(h, ns=ns(prefix, name)) for name, h in HOSTS.items()},
            "state_dir": state_dir(prefix), "nmap_version": NMAP_VERSION,
            "services": [service_truth(s, versions, cert) for s in SERVICES]}


# ---------------------------------------------------------------- daemon configs


class Ctx:
    """Where one host's daemons keep their files, and the host's addresses."""

    def __init__(self, prefix, host):
        self.prefix, self.host = prefix, host
        self.v4, self.v6, self.fqdn = (HOSTS[host][k] for k in ("v4", "v6", "fqdn"))

    def path(self, *parts):
        return os.path.join(state_dir(self.prefix), self.host, *parts)

    def log(self, daemon):
        return log_path(self.prefix, daemon)


def chown(path, user):
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def mkdir(path, mode=0o755, owner=None):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if owner:
        chown(path, owner)
    return path


def write(path, text, mode=0o644, owner=None):
    mkdir(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner:
        chown(path, owner)
    return path


def as_user(user, argv):
    """argv run as `user` (uid, gid and supplementary groups), for daemons that
    refuse to run as root and have no option to drop privileges themselves."""
    return ["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups"] + argv


def make_cert(prefix):
    """The lab's self-signed certificate (RSA 2048, valid from now for a year)."""
    mkdir(os.path.dirname(cert_path(prefix, "crt")), 0o700)
    lab.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-days", "365", "-subj", CERT_SUBJECT,
             "-addext", "subjectAltName=DNS:s1.svc.test,IP:%s,IP:%s"
             % (HOSTS["s1"]["v4"], HOSTS["s1"]["v6"]),
             "-keyout", cert_path(prefix, "key"), "-out", cert_path(prefix, "crt")])
    os.chmod(cert_path(prefix, "crt"), 0o644)


SSHD_CONF = """Port 22
ListenAddress %(v4)s
ListenAddress %(v6)s
HostKey %(key)s
PidFile %(pid)s
UsePAM no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
LogLevel INFO
"""


def setup_sshd(c):
    key = c.path("ssh", "ssh_host_ed25519_key")
    mkdir(c.path("ssh"), 0o700)
    lab.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", c.fqdn, "-f", key])
    # sshd insists on its privilege-separation directory (the package's, empty).
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    conf = write(c.path("ssh", "sshd_config"), SSHD_CONF % {
        "v4": c.v4, "v6": c.v6, "key": key, "pid": c.path("ssh", "sshd.pid")}, 0o600)
    return ["/usr/sbin/sshd", "-D", "-e", "-f", conf]


# No ftpd_banner: vsftpd's default banner shows its version. One IPv6 socket
# serves both families. Anonymous read-only login into a root-owned directory
# holding one file (vsftpd refuses to start with no kind of login enabled).
VSFTPD_CONF = """listen=NO
listen_ipv6=YES
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=%(root)s
ftp_username=ftp
local_enable=NO
write_enable=NO
dirmessage_enable=NO
xferlog_enable=NO
seccomp_sandbox=NO
pam_service_name=vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
vsftpd_log_file=%(log)s
"""


def setup_vsftpd(c):
    root = mkdir(c.path("vsftpd", "anon"))
    write(os.path.join(root, "README.txt"), "Portolan service lab: s1 anonymous FTP.\n")
    conf = write(c.path("vsftpd", "vsftpd.conf"), VSFTPD_CONF % {
        "log": c.log("vsftpd"), "root": root}, 0o600)
    return ["vsftpd", conf]


# Compiled-in smtpd_banner ($myhostname ESMTP $mail_name); no chroot; no
# reverse lookup of clients; every message refused (no local or relay domain).
POSTFIX_MAIN = """compatibility_level = 3.6
queue_directory = %(spool)s
data_directory = %(data)s
mail_owner = postfix
setgid_group = postdrop
myhostname = %(fqdn)s
mydomain = svc.test
myorigin = $myhostname
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
inet_interfaces = all
inet_protocols = all
alias_maps =
alias_database =
local_recipient_maps =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
maillog_file_prefixes = %(logdir)s
maillog_file = %(log)s
"""
POSTFIX_MASTER = """smtp      inet  n       -       n       -       -       smtpd
postlog   unix-dgram n  -       n       -       1       postlogd
anvil     unix  -       -       n       -       1       anvil
cleanup   unix  n       -       n       -       0       cleanup
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
scache    unix  -       -       n       -       1       scache
"""


def setup_postfix(c):
    spool = mkdir(c.path("postfix", "spool"))
    mkdir(os.path.join(spool, "pid"))
    mkdir(os.path.join(spool, "public"), 0o710, "postfix")
    os.chown(os.path.join(spool, "public"), pwd.getpwnam("postfix").pw_uid,
             grp.getgrnam("postdrop").gr_gid)
    mkdir(os.path.join(spool, "private"), 0o700, "postfix")
    data = mkdir(c.path("postfix", "data"), 0o700, "postfix")
    conf = c.path("postfix", "etc")
    write(os.path.join(conf, "main.cf"), POSTFIX_MAIN % {
        "spool": spool, "data": data, "fqdn": c.fqdn, "log": c.log("postfix"),
        "logdir": os.path.dirname(c.log("postfix"))})
    write(os.path.join(conf, "master.cf"), POSTFIX_MASTER)
    return ["/usr/lib/postfix/sbin/master", "-d", "-c", conf]


DOVECOT_CONF = """instance_name = portolan-%(prefix)s
base_dir = %(run)s
state_dir = %(lib)s
log_path = %(log)s
protocols = imap pop3
listen = %(v4)s, %(v6)s
ssl = yes
ssl_cert = <%(crt)s
ssl_key = <%(key)s
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = static
  args = password=portolan-lab
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}
"""


def setup_dovecot(c):
    conf = write(c.path("dovecot", "dovecot.conf"), DOVECOT_CONF % {
        "prefix": c.prefix, "run": c.path("dovecot", "run"), "lib": c.path("dovecot", "lib"),
        "log": c.log("dovecot"), "v4": c.v4, "v6": c.v6,
        "crt": cert_path(c.prefix, "crt"), "key": cert_path(c.prefix, "key")})
    mkdir(c.path("dovecot", "lib"))
    return ["dovecot", "-F", "-c", conf]


NGINX_CONF = """daemon off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(log)s info;
events { worker_connections 64; }
http {
  access_log %(dir)s/access.log;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  default_type text/html;
  ssl_certificate %(crt)s;
  ssl_certificate_key %(key)s;
  server {
    listen %(v4)s:80;
    listen [%(v6)s]:80;
    server_name %(fqdn)s;
    location / { return 200 "%(page)s"; }
  }
  server {
    listen %(v4)s:443 ssl;
    listen [%(v6)s]:443 ssl;
    server_name %(fqdn)s;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "%(page)s"; }
  }
  server {
    listen %(v4)s:8443 ssl;
    listen [%(v6)s]:8443 ssl;
    server_name %(fqdn)s;
    ssl_protocols TLSv1;
    ssl_ciphers DEFAULT:@SECLEVEL=0;
    location / { return 200 "%(page)s"; }
  }
}
"""
NGINX_PAGE = "<html><head><title>Portolan service lab</title></head><body>s1</body></html>\\n"


def setup_nginx(c):
    d = mkdir(c.path("nginx"))
    conf = write(os.path.join(d, "nginx.conf"), NGINX_CONF % {
        "dir": d, "log": c.log("nginx"), "v4": c.v4, "v6": c.v6, "fqdn": c.fqdn,
        "crt": cert_path(c.prefix, "crt"), "key": cert_path(c.prefix, "key"),
        "page": NGINX_PAGE})
    return ["nginx", "-p", d, "-e", c.log("nginx"), "-c", conf]


def setup_dnsmasq(c):
    """No upstream, no /etc/hosts, no DHCP: the lab's names only; version.bind (CHAOS
    TXT) is answered by default."""
    args = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--no-poll", "--port=53", "--bind-interfaces",
            "--listen-address=" + c.v4, "--listen-address=" + c.v6,
            "--log-facility=-", "--user=root", "--group=root",
            "--pid-file=" + c.path("dnsmasq.pid"), "--local=/svc.test/"]
    for name, h in HOSTS.items():
        args.append("--host-record=%s,%s,%s" % (h["fqdn"], h["v4"], h["v6"]))
    return args


def setup_inetd(c):
    """telnetd is an inetd service: inetutils-inetd (foreground, its own pid file)
    forks one telnetd per connection, with the socket on its stdin and stdout."""
    conf = write(c.path("inetd", "inetd.conf"),
                 "%s:telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n"
                 "%s:telnet stream tcp6 nowait root /usr/sbin/telnetd telnetd\n"
                 % (c.v4, c.v6))
    return ["inetutils-inetd", "-d", "--pidfile=" + c.path("inetd", "inetd.pid"), conf]


def setup_redis(c):
    d = mkdir(c.path("redis"))
    return ["redis-server", "--bind", c.v4, c.v6, "--port", "6379", "--protected-mode", "no",
            "--daemonize", "no", "--supervised", "no", "--dir", d, "--save", "",
            "--appendonly", "no", "--logfile", "", "--pidfile", os.path.join(d, "redis.pid")]


def setup_memcached(c):
    return ["memcached", "-u", "memcache", "-l", "%s,[%s]" % (c.v4, c.v6), "-p", "11211",
            "-U", "11211", "-m", "16", "-v"]


def setup_postgres(c):
    """initdb at every `up` (about a second with --no-sync), then the server on the
    lab addresses only, its socket in the state directory."""
    d = mkdir(c.path("pg"), 0o700, "postgres")
    data, sock = os.path.join(d, "data"), mkdir(os.path.join(d, "sock"), 0o755, "postgres")
    bindir = pg_bindir()
    script = ("%(b)s/initdb -D %(data)s -U postgres -A trust -E UTF8 --locale=C --no-sync "
              "--no-instructions && exec %(b)s/postgres -D %(data)s "
              "-c listen_addresses='%(v4)s,%(v6)s' -c port=5432 "
              "-c unix_socket_directories='%(sock)s' -c fsync=off -c shared_buffers=16MB "
              "-c max_connections=20 -c logging_collector=off"
              % {"b": bindir, "data": data, "sock": sock, "v4": c.v4, "v6": c.v6})
    return as_user("postgres", ["sh", "-c", script])


def pg_bindir():
    found = sorted(os.listdir("/usr/lib/postgresql")) if os.path.isdir(
        "/usr/lib/postgresql") else []
    if not found:
        raise SvcError("PostgreSQL is not installed (scripts/setup-service-daemons.sh)")
    return "/usr/lib/postgresql/%s/bin" % found[-1]


MARIADB_INIT = """CREATE USER IF NOT EXISTS 'portolan'@'198.18.0.%%' IDENTIFIED BY 'portolan-lab';
CREATE USER IF NOT EXISTS 'portolan'@'%s' IDENTIFIED BY 'portolan-lab';
"""


def setup_mariadb(c):
    """mariadb-install-db at every `up`; the init file adds a user for the lab's
    network, so a client there gets the server greeting (with the version) rather
    than error 1130 "host not allowed"."""
    d = mkdir(c.path("mariadb"), 0o755, "mysql")
    data = os.path.join(d, "data")
    init = write(os.path.join(d, "init.sql"), MARIADB_INIT % "2001:db8:0:1::%")
    write(c.log("mariadb"), "", 0o644, "mysql")  # mariadbd opens it as mysql
    common = "--datadir=%s --user=mysql" % data
    script = ("mariadb-install-db --no-defaults %(c)s --skip-test-db "
              "--auth-root-authentication-method=socket >/dev/null && "
              "exec mariadbd --no-defaults %(c)s --bind-address='*' --port=3306 "
              "--socket=%(d)s/mysqld.sock --pid-file=%(d)s/mysqld.pid --skip-name-resolve "
              "--skip-log-bin --init-file=%(init)s --innodb-buffer-pool-size=16M "
              "--log-error=%(log)s"
              % {"c": common, "d": d, "init": init, "log": c.log("mariadb")})
    return ["sh", "-c", script]


SLAPD_CONF = """include /etc/ldap/schema/core.schema
pidfile %(d)s/slapd.pid
argsfile %(d)s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "dc=svc,dc=test"
rootdn "cn=admin,dc=svc,dc=test"
directory %(db)s
"""


def setup_slapd(c):
    d = mkdir(c.path("slapd"), 0o755, "openldap")
    db = mkdir(os.path.join(d, "db"), 0o700, "openldap")
    conf = write(os.path.join(d, "slapd.conf"), SLAPD_CONF % {"d": d, "db": db})
    urls = "ldap://%s:389/ ldap://[%s]:389/" % (c.v4, c.v6)
    return ["slapd", "-d", "stats", "-h", urls, "-f", conf, "-u", "openldap", "-g", "openldap"]


MOSQUITTO_CONF = """pid_file %(d)s/mosquitto.pid
user mosquitto
persistence false
log_dest stderr
listener 1883
allow_anonymous true
"""


def setup_mosquitto(c):
    d = mkdir(c.path("mosquitto"), 0o755, "mosquitto")
    conf = write(os.path.join(d, "mosquitto.conf"), MOSQUITTO_CONF % {"d": d})
    return ["mosquitto", "-c", conf]


# No server lines: nothing to synchronise with. Mode 3 clients get a mode 4 answer
# (stratum 16). ntpsec answers mode 6 (control) queries from other addresses only
# when a restrict line names them: the lab's networks are named here.
NTPD_CONF = """restrict default nomodify
restrict -6 default nomodify
restrict 198.18.0.0 mask 255.254.0.0 nomodify
restrict 2001:db8:: mask ffff:ffff:: nomodify
"""


def setup_ntpd(c):
    """ntpd runs as root, but with CAP_SYS_TIME out of its bounding set: whatever
    it decides, it cannot set or slew the machine's clock."""
    d = mkdir(c.path("ntpd"))
    conf = write(os.path.join(d, "ntp.conf"), NTPD_CONF)
    return ["setpriv", "--bounding-set", "-sys_time", "--inh-caps", "-sys_time",
            "ntpd", "-n", "-c", conf, "-p", os.path.join(d, "ntpd.pid"), "-l", c.log("ntpd")]


SNMPD_CONF = """rocommunity public default
rocommunity6 public default
"""


def setup_snmpd(c):
    d = mkdir(c.path("snmpd"))
    conf = write(os.path.join(d, "snmpd.conf"), SNMPD_CONF)
    mkdir(os.path.join(d, "persist"), 0o700)
    return ["env", "SNMP_PERSISTENT_DIR=" + os.path.join(d, "persist"), "MIBS=",
            "snmpd", "-f", "-Lo", "-C", "-c", conf, "-p", os.path.join(d, "snmpd.pid"),
            "udp:%s:161" % c.v4, "udp6:[%s]:161" % c.v6]


KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
dns=no
rev_dns=no
listen=udp:%(v4)s:5060
listen=tcp:%(v4)s:5060
listen=udp:[%(v6)s]:5060
listen=tcp:[%(v6)s]:5060
mpath="%(mpath)s"
loadmodule "sl.so"
request_route {
    if (method == "OPTIONS") {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("501", "Not Implemented");
    exit;
}
"""


def kamailio_modules():
    for path in ("/usr/lib/x86_64-linux-gnu/kamailio/modules",
                 "/usr/lib/aarch64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules"):
        if os.path.isdir(path):
            return path + "/"
    raise SvcError("kamailio modules not found (scripts/setup-service-daemons.sh)")


def setup_kamailio(c):
    d = mkdir(c.path("kamailio"))
    cfg = write(os.path.join(d, "kamailio.cfg"), KAMAILIO_CFG % {
        "v4": c.v4, "v6": c.v6, "mpath": kamailio_modules()})
    return ["kamailio", "-DD", "-E", "-f", cfg, "-P", os.path.join(d, "kamailio.pid"),
            "-Y", d, "-m", "32", "-M", "4"]


RABBITMQ_CONF = """listeners.tcp.v4 = %(v4)s:5672
listeners.tcp.v6 = %(v6)s:5672
loopback_users = none
log.console = true
log.file = false
"""


def setup_rabbitmq(c):
    """The broker's node on the namespace's loopback (epmd and distribution too),
    its database, cookie and logs in the state directory; no plugins."""
    d = mkdir(c.path("rabbitmq"))
    conf = write(os.path.join(d, "rabbitmq.conf"), RABBITMQ_CONF % {"v4": c.v4, "v6": c.v6})
    write(os.path.join(d, "enabled_plugins"), "[].\n")
    env = {"HOME": d, "RABBITMQ_CONFIG_FILE": conf,
           "RABBITMQ_MNESIA_BASE": mkdir(os.path.join(d, "mnesia")),
           "RABBITMQ_LOG_BASE": mkdir(os.path.join(d, "log")),
           "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(d, "enabled_plugins"),
           "RABBITMQ_NODENAME": "rabbit@localhost", "RABBITMQ_NODE_IP_ADDRESS": "",
           "RABBITMQ_DIST_PORT": "25672", "ERL_EPMD_ADDRESS": "127.0.0.1"}
    return ["env"] + ["%s=%s" % kv for kv in sorted(env.items())] + [
        "/usr/lib/rabbitmq/bin/rabbitmq-server"]


def setup_xrdp(c):
    """The package's xrdp.ini with its own log file and the port on every address of
    the namespace (only the lab's); the package's key pair and certificate."""
    d = mkdir(c.path("xrdp"))
    with open("/etc/xrdp/xrdp.ini") as f:
        ini = f.read()
    ini = re.sub(r"(?m)^port=3389$", "port=tcp6://:3389", ini)
    ini = re.sub(r"(?m)^LogFile=.*$", "LogFile=" + c.log("xrdp"), ini)
    ini = re.sub(r"(?m)^EnableSyslog=.*$", "EnableSyslog=false", ini)
    conf = write(os.path.join(d, "xrdp.ini"), ini)
    return ["xrdp", "--nodaemon", "--config", conf]


def setup_xvnc(c):
    """TigerVNC's X server without X11 sockets, on the first free display number
    (so that labs side by side do not collide), which it writes to a file of the
    state directory: its descriptor is closed after that, so it must not be one
    of the standard three (the next client's socket would take it over)."""
    display = c.path("xvnc", "display")
    mkdir(os.path.dirname(display))
    return ["sh", "-c", 'exec "$@" 3>"$0"', display, "Xvnc", "-displayfd", "3",
            "-rfbport", "5901", "-SecurityTypes", "None", "-nolisten", "tcp",
            "-nolisten", "unix", "-geometry", "640x480", "-depth", "16"]


DOCKERD_SH = """set -e
# ip netns exec gave this process a /sys of its own, without the cgroup
# hierarchies dockerd needs: mount them again (in this mount namespace only).
if grep -q '^0::' /proc/self/cgroup && ! grep -q '^[1-9]' /proc/self/cgroup; then
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
    mount -t tmpfs cgroup_root /sys/fs/cgroup
    for s in $(awk '!/^#/ && $4 == 1 {print $1}' /proc/cgroups); do
        mkdir -p /sys/fs/cgroup/$s
        mount -t cgroup -o $s cgroup /sys/fs/cgroup/$s || rmdir /sys/fs/cgroup/$s
    done
fi
exec dockerd -H tcp://%(v4)s:2375 -H tcp://[%(v6)s]:2375 --tls=false \\
    --data-root %(d)s/data --exec-root %(d)s/exec --pidfile %(d)s/docker.pid \\
    --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false
"""


def setup_dockerd(c):
    """The Docker engine's API on plain TCP (no TLS: the lab's scanner only); no
    bridge, no firewall rules; its data under the state directory."""
    d = mkdir(c.path("docker"), 0o700)
    script = write(os.path.join(d, "dockerd.sh"), DOCKERD_SH % {"v4": c.v4, "v6": c.v6,
                                                                 "d": d})
    return ["sh", script]


def setup_rtsp(c):
    """RTSP::Server's clients port on the host's IPv4 address; its source
    (publisher) port on loopback."""
    return ["rtsp-server-perl", "--clientport", "554", "--serverport", "5545",
            "--client_listen_address", c.v4, "--source_listen_address", "127.0.0.1",
            "--loglevel", "2"]


class Daemon:
    """One daemon: its host, how to configure it, and the (proto, port, families)
    it must listen on before the lab is up."""

    def __init__(self, name, host, setup, listens):
        self.name, self.host, self.setup, self.listens = name, host, setup, listens


DAEMONS = [
    Daemon("sshd", "s1", setup_sshd, [("tcp", 22, "46")]),
    Daemon("vsftpd", "s1", setup_vsftpd, [("tcp", 21, "46")]),
    Daemon("postfix", "s1", setup_postfix, [("tcp", 25, "46")]),
    Daemon("dovecot", "s1", setup_dovecot,
           [("tcp", 110, "46"), ("tcp", 143, "46"), ("tcp", 993, "46"), ("tcp", 995, "46")]),
    Daemon("nginx", "s1", setup_nginx,
           [("tcp", 80, "46"), ("tcp", 443, "46"), ("tcp", 8443, "46")]),
    Daemon("dnsmasq", "s1", setup_dnsmasq, [("tcp", 53, "46"), ("udp", 53, "46")]),
    Daemon("inetd", "s1", setup_inetd, [("tcp", 23, "46")]),
    Daemon("redis", "s2", setup_redis, [("tcp", 6379, "46")]),
    Daemon("memcached", "s2", setup_memcached, [("tcp", 11211, "46"), ("udp", 11211, "46")]),
    Daemon("postgres", "s2", setup_postgres, [("tcp", 5432, "46")]),
    Daemon("mariadb", "s2", setup_mariadb, [("tcp", 3306, "46")]),
    Daemon("slapd", "s2", setup_slapd, [("tcp", 389, "46")]),
    Daemon("mosquitto", "s2", setup_mosquitto, [("tcp", 1883, "46")]),
    Daemon("ntpd", "s2", setup_ntpd, [("udp", 123, "46")]),
    Daemon("snmpd", "s2", setup_snmpd, [("udp", 161, "46")]),
    Daemon("kamailio", "s2", setup_kamailio, [("udp", 5060, "46"), ("tcp", 5060, "46")]),
    Daemon("rabbitmq", "s3", setup_rabbitmq, [("tcp", 5672, "46")]),
    Daemon("xrdp", "s3", setup_xrdp, [("tcp", 3389, "46")]),
    Daemon("xvnc", "s3", setup_xvnc, [("tcp", 5901, "46")]),
    Daemon("dockerd", "s3", setup_dockerd, [("tcp", 2375, "46")]),
    Daemon("rtsp", "s3", setup_rtsp, [("tcp", 554, "4")]),
]


# ---------------------------------------------------------------- build


HOSTS_FILE = "127.0.0.1 localhost\n::1 localhost\n" + "".join(
    "%s %s %s\n%s %s %s\n" % (h["v4"], h["fqdn"], n, h["v6"], h["fqdn"], n)
    for n, h in HOSTS.items())


def make_namespaces(prefix):
    for node in NODES:
        lab.run(["ip", "netns", "add", ns(prefix, node)])
        lab.set_sysctls(prefix, node, lab.SYSCTLS)
        lab.ipn(prefix, node, "link", "set", "lo", "up")
    # Name lookups in every namespace go to its own loopback, where nothing answers;
    # the servers find the lab's names in a hosts file of their own.
    for node in NODES[1:]:
        conf = lab.netns_conf_dir(prefix, node)
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        if node in HOSTS:
            with open(os.path.join(conf, "hosts"), "w") as f:
                f.write(HOSTS_FILE)


def make_links(prefix):
    lab.ipn(prefix, "sw", "link", "add", "br0", "type", "bridge", "stp_state", "0",
            "forward_delay", "0", "mcast_snooping", "0")
    lab.ipn(prefix, "sw", "link", "set", "br0", "up")
    lab.plug_into_bridge(prefix, "scan", SCANNER["v4"] + "/24", SCANNER["v6"] + "/64")
    for name, h in HOSTS.items():
        lab.plug_into_bridge(prefix, name, h["v4"] + "/24", h["v6"] + "/64")


def start_daemon(prefix, daemon):
    """The daemon in its host's namespace, with a UTS namespace of its own named
    after the host (what telnetd's prompt and snmpd's sysName show)."""
    ctx = Ctx(prefix, daemon.host)
    argv = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', ctx.fqdn]
    argv += daemon.setup(ctx)
    log = open(log_path(prefix, daemon.name), "a")
    try:
        return subprocess.Popen(["ip", "netns", "exec", ns(prefix, daemon.host)] + argv,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    finally:
        log.close()


def log_tail(prefix, daemon, lines=20):
    try:
        with open(log_path(prefix, daemon), errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as err:
        return "(no log: %s)\n" % err


def listening(prefix, host):
    """{(proto, local address, port)} of every listening socket in P-host."""
    found = set()
    for proto, flag in (("tcp", "-ltnH"), ("udp", "-lunH")):
        out = lab.run(["ip", "netns", "exec", ns(prefix, host), "ss", flag]).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 4:
                addr, _, port = fields[3].rpartition(":")
                found.add((proto, addr.split("%")[0].strip("[]"), int(port)))
    return found


def serves(found, host, proto, port, family):
    addr = HOSTS[host]["v4" if family == "4" else "v6"]
    wild = "0.0.0.0" if family == "4" else "::"
    return any(p == proto and po == port and a in (addr, wild, "*") for p, a, po in found)


def missing_listens(daemon, found):
    return [(proto, port, fam) for proto, port, fams in daemon.listens for fam in fams
            if not serves(found, daemon.host, proto, port, fam)]


def daemon_failed(prefix, daemon, why):
    return SvcError("%s on %s did not come up: %s\n--- tail of %s ---\n%s" % (
        daemon.name, ns(prefix, daemon.host), why, log_path(prefix, daemon.name),
        log_tail(prefix, daemon.name)))


def wait_daemons(prefix, procs, deadline):
    """Wait (bounded) until every daemon listens where it should; a daemon that
    exits or misses the deadline is named, with the tail of its log."""
    pending = list(DAEMONS)
    while pending:
        found = {h: listening(prefix, h) for h in HOSTS}
        for d in list(pending):
            missing = missing_listens(d, found[d.host])
            if not missing:
                pending.remove(d)
            elif procs[d.name].poll() is not None:
                raise daemon_failed(prefix, d, "exited with status %d, not listening on %s"
                                    % (procs[d.name].returncode, missing))
            elif time.monotonic() > deadline:
                raise daemon_failed(prefix, d, "not listening on %s after %.0f s"
                                    % (missing, UP_DEADLINE_S))
        if pending:
            time.sleep(0.1)


def check_from_scanner(prefix):
    """Every TCP port of the truth accepts a connection from the scanner, over IPv4
    and IPv6 (bounded: a few attempts each)."""
    targets = []
    for s in SERVICES:
        if s["proto"] == "tcp":
            h = HOSTS[s["host"]]
            targets += [[h["v" + f], s["port"]] for f in s["families"]]
    results = in_scanner(prefix, {"connect": targets}, timeout=120)
    bad = [r for r in results["connect"] if r["error"]]
    if bad:
        raise SvcError("not reachable from the scanner: " + "; ".join(
            "%s port %d: %s" % (r["addr"], r["port"], r["error"]) for r in bad))


def check_alive(prefix, procs):
    """Every daemon still runs (some fail fatally just after they start listening)."""
    for d in DAEMONS:
        if procs[d.name].poll() is not None:
            raise daemon_failed(prefix, d, "exited with status %d after it listened"
                                % procs[d.name].returncode)


def up(prefix):
    down(prefix)
    start = time.monotonic()
    state = {"prefix": prefix, "kind": "svc", "pids": [], "state_dir": state_dir(prefix)}
    lab.save_state(prefix, state)
    try:
        mkdir(state_dir(prefix))
        mkdir(os.path.join(state_dir(prefix), "logs"))
        make_namespaces(prefix)
        make_links(prefix)
        make_cert(prefix)
        procs = {}
        for d in DAEMONS:
            procs[d.name] = start_daemon(prefix, d)
            state["pids"].append(procs[d.name].pid)
            lab.save_state(prefix, state)
        wait_daemons(prefix, procs, start + UP_DEADLINE_S)
        check_from_scanner(prefix)
        check_alive(prefix, procs)
    except BaseException:
        down(prefix)
        raise
    truth = describe(prefix)
    truth["up_seconds"] = round(time.monotonic() - start, 1)
    return truth


# ---------------------------------------------------------------- teardown


def down(prefix):
    """lab.py's teardown (every process in P-*: SIGTERM, then SIGKILL after 3 s; the
    namespaces; the scanner's resolv.conf; the state file), then this lab's own
    resolv.conf files and state directory."""
    lab.down(prefix)
    for node in NODES:
        path = lab.netns_conf_dir(prefix, node)
        for name in ("resolv.conf", "hosts"):
            try:
                os.unlink(os.path.join(path, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(path)
        except OSError:
            pass
    shutil.rmtree(state_dir(prefix), ignore_errors=True)
    if os.path.exists(state_dir(prefix)):
        raise SvcError("could not remove %s" % state_dir(prefix))


def gc():
    """Tear down labs left by killed runs: prefix `ps<pid>` (the network tests) or
    `pbv<pid>` (bench/run.sh), optionally a letter after, whose pid is
    gone (namespaces or state directory)."""
    out = lab.run(["ip", "netns", "list"], check=False).stdout
    names = [line.split()[0] for line in out.splitlines() if line.split()]
    names += [n[len("portolan-svc-"):] + "-sw" for n in os.listdir("/tmp")
              if n.startswith("portolan-svc-")]
    stale = set()
    for name in names:
        m = re.fullmatch(r"((?:ps|pbv)(\d+)[a-z]?)-(%s)" % "|".join(NODES), name)
        if m and not lab.pid_alive(int(m.group(2))):
            stale.add(m.group(1))
    for prefix in sorted(stale):
        sys.stderr.write("svc.py gc: removing stale lab %s\n" % prefix)
        down(prefix)


# ---------------------------------------------------------------- inside the scanner


def in_scanner(prefix, spec, timeout):
    """Run this file's scanner-side half inside P-scan with a JSON spec; its JSON answer."""
    proc = lab.run(["ip", "netns", "exec", ns(prefix, "scan"), sys.executable, SELF,
                    "scanner-side", "--spec", json.dumps(spec)], timeout=timeout)
    return json.loads(proc.stdout)


def in_lab(addr):
    ip = ipaddress.ip_address(addr)
    return any(ip in net for net in LAB_NETS)


def tls_context(version=None):
    """Any certificate, any protocol down to TLS 1.0 (SECLEVEL=0); `version` pins one."""
    warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point here
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    if version:
        v = getattr(ssl.TLSVersion, version.replace(".", "_").replace("TLSv1_0", "TLSv1"))
        ctx.minimum_version = ctx.maximum_version = v
    return ctx


def read_until(sock, deadline, limit=65536):
    """Read until the peer closes, `limit` bytes or the deadline (whichever first)."""
    data, closed = b"", False
    while len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(limit - len(data))
        except (socket.timeout, ssl.SSLWantReadError):
            break
        except (ssl.SSLEOFError, ConnectionResetError):  # closed without ceremony
            chunk = b""
        if not chunk:
            closed = True
            break
        data += chunk
    return data, closed


def capture_tcp(addr, port, payload, wait, tls):
    deadline = time.monotonic() + wait
    result = {"tls": None}
    sock = socket.create_connection((addr, port), timeout=min(wait, 5.0))
    with sock:
        if tls:
            sock = tls_context().wrap_socket(sock, server_hostname=None)
            der = sock.getpeercert(binary_form=True) or b""
            result["tls"] = {"version": sock.version(), "cipher": sock.cipher()[0],
                             "cert_sha256": hashlib.sha256(der).hexdigest()}
        if payload:
            sock.sendall(payload)
        result["data"], result["closed"] = read_until(sock, deadline)
    return result


def capture_udp(addr, port, payload, wait):
    deadline = time.monotonic() + wait
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    data = b""
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((addr, port))
        sock.send(payload)
        for _ in range(64):  # at most 64 datagrams, and no later than the deadline
            left = deadline - time.monotonic()
            if left <= 0 or len(data) >= 65536:
                break
            sock.settimeout(left)
            try:
                data += sock.recv(65536)
            except socket.timeout:
                break
    return {"tls": None, "data": data[:65536], "closed": False}


def capture_here(c):
    """One capture, from the namespace this process runs in: the answer as hex."""
    if not in_lab(c["addr"]):
        raise SvcError("%s is outside the lab's networks" % c["addr"])
    payload = unescape(c.get("send") or "")
    wait = max(0.1, min(float(c.get("wait", 3)), 30.0))
    try:
        if c.get("udp"):
            r = capture_udp(c["addr"], int(c["port"]), payload, wait)
        else:
            r = capture_tcp(c["addr"], int(c["port"]), payload, wait, c.get("tls"))
        r["data"], r["error"] = r["data"].hex(), None
    except (OSError, ssl.SSLError, ValueError) as err:
        r = {"data": "", "error": "%s: %s" % (type(err).__name__, err), "tls": None,
             "closed": True}
    return dict(r, addr=c["addr"], port=int(c["port"]))


def connect_here(addr, port):
    err = None
    for _ in range(10):  # bounded: 10 attempts, 0.2 s apart, 1.5 s each at most
        try:
            socket.create_connection((addr, port), timeout=1.5).close()
            return None
        except OSError as e:
            err = "%s: %s" % (type(e).__name__, e)
        time.sleep(0.2)
    return err


def tls_handshake_here(addr, port, version):
    try:
        with socket.create_connection((addr, port), timeout=3.0) as sock:
            with tls_context(version).wrap_socket(sock, server_hostname=None) as tsock:
                return tsock.version()
    except (OSError, ssl.SSLError, ValueError):
        return None


def scanner_side(spec):
    """The half that runs inside P-scan: connects, captures, TLS handshakes. It
    refuses to run where the scanner's address is not local (outside a lab)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((SCANNER["v4"], 0))
    except OSError:
        raise SvcError("scanner-side runs only inside a lab's scanner namespace") from None
    out = {}
    for addr, port in spec.get("connect", []) + [t[:2] for t in spec.get("tls", [])]:
        if not in_lab(addr):
            raise SvcError("%s is outside the lab's networks" % addr)
    if "connect" in spec:
        out["connect"] = [{"addr": a, "port": p, "error": connect_here(a, p)}
                          for a, p in spec["connect"]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        if "captures" in spec:
            out["captures"] = list(pool.map(capture_here, spec["captures"]))
        if "tls" in spec:
            accepted = pool.map(lambda t: tls_handshake_here(*t), spec["tls"])
            out["tls"] = [{"addr": a, "port": p, "version": v, "accepted": ok}
                          for (a, p, v), ok in zip(spec["tls"], accepted)]
    return out


# ---------------------------------------------------------------- C escapes


C_ESCAPES = {"n": 10, "r": 13, "t": 9, "0": 0, "\\": 92, "'": 39, '"': 34, "a": 7,
             "b": 8, "f": 12, "v": 11, "e": 27}


def unescape(text):
    """C-style escapes (\\r \\n \\t \\0 \\xHH \\\\ ...) to bytes; other characters as UTF-8."""
    out, i = bytearray(), 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 == len(text):
            out += ch.encode()
            i += 1
            continue
        nxt = text[i + 1]
        m = re.match(r"[0-9a-fA-F]{1,2}", text[i + 2:i + 4]) if nxt == "x" else None
        if m:
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        elif nxt in C_ESCAPES:
            out.append(C_ESCAPES[nxt])
            i += 2
        else:
            raise ValueError("unknown escape \\%s in %r" % (nxt, text))
    return bytes(out)


def escape(data):
    """Bytes as a C string body: printable ASCII as is, the rest escaped."""
    names = {10: "\\n", 13: "\\r", 9: "\\t", 0: "\\0", 92: "\\\\", 34: '\\"'}
    out = []
    for i, b in enumerate(data):
        if b in names and not (b == 0 and i + 1 < len(data) and 48 <= data[i + 1] <= 55):
            out.append(names[b])
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


# ---------------------------------------------------------------- capture and selftest


def sip_options(host, transport):
    """An OPTIONS request from the scanner; `rport` sends the UDP answer back to the
    port it came from."""
    to = HOSTS[host]["fqdn"]
    return ("OPTIONS sip:%(to)s SIP/2.0\r\n"
            "Via: SIP/2.0/%(t)s %(me)s:5060;branch=z9hG4bK-portolan-1;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:scan@svc.test>;tag=portolan1\r\n"
            "To: <sip:%(to)s>\r\nCall-ID: portolan-svc-1@%(me)s\r\nCSeq: 1 OPTIONS\r\n"
            "Contact: <sip:scan@%(me)s:5060>\r\nAccept: application/sdp\r\n"
            "Content-Length: 0\r\n\r\n"
            % {"to": to, "t": transport, "me": SCANNER["v4"]})


def selftest_payload(svc):
    send = svc["send"]
    if send in ("SIP_OPTIONS_UDP", "SIP_OPTIONS_TCP"):
        return escape(sip_options(svc["host"], send.rsplit("_", 1)[1]).encode())
    return send


def expected(svc, truth):
    pattern = svc["expect"]
    if "{version}" in pattern:
        upstream = upstream_version(truth["package_version"] or "", svc["repack"])
        pattern = pattern.replace("{version}", re.escape(upstream))
    return re.compile(pattern.encode("latin-1"), re.S)


def print_capture(r):
    data = bytes.fromhex(r["data"])
    if r["error"]:
        print("error: %s" % r["error"])
    if r["tls"]:
        print("tls: %(version)s %(cipher)s cert sha256 %(cert_sha256)s" % r["tls"])
    print("%d bytes%s" % (len(data), ", peer closed" if r["closed"] else ""))
    print('"%s"' % escape(data))
    print(data.hex())


def capture(prefix, args):
    if not in_lab(args.addr):
        raise SvcError("--addr %s is outside 198.18.0.0/15 and 2001:db8::/32" % args.addr)
    spec = {"captures": [{"addr": args.addr, "port": args.port, "udp": args.udp,
                          "tls": args.tls, "send": args.send, "wait": args.wait}]}
    r = in_scanner(prefix, spec, timeout=60)["captures"][0]
    print_capture(r)
    return 0 if not r["error"] else 1


def first_line(data):
    """The first line of a text answer; the first bytes of a binary one."""
    line = data.split(b"\n", 1)[0]
    if line and all(32 <= b < 127 or b in (9, 13) for b in line[:64]):
        data = line + (b"\n" if len(line) < len(data) else b"")
    text = escape(data[:64])
    return text if len(text) <= 72 else text[:69] + "..."


def check_captures(truth, results):
    """One row per service: (ok, service, first line of the answer, why not)."""
    rows = []
    for svc, t, r in zip(SERVICES, truth["services"], results):
        label = "%s %s %d/%s%s" % (svc["host"], svc["name"], svc["port"], svc["proto"],
                                   "/ssl" if svc["tunnel"] else "")
        data = bytes.fromhex(r["data"])
        why = r["error"] or ("" if expected(svc, t).search(data)
                             else "no match for %s" % svc["expect"])
        if not why and svc["tunnel"] and r["tls"]["cert_sha256"] != t["cert"]["sha256"]:
            why = "certificate is not the lab's"
        rows.append((not why, label, first_line(data), why))
    return rows


def check_tls_versions(prefix, truth):
    """Each TLS service accepts exactly the protocol versions its truth lists."""
    tls = [s for s in truth["services"] if s["tunnel"] == "ssl"]
    probes = [[s["addr"], s["port"], v] for s in tls
              for v in ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")]
    got = in_scanner(prefix, {"tls": probes}, timeout=120)["tls"]
    rows = []
    for s in tls:
        accepted = [g["version"] for g in got if g["port"] == s["port"] and g["accepted"]]
        why = "" if accepted == s["tls_versions"] else "accepts %s" % accepted
        rows.append((not why, "s1 tls %d" % s["port"], " ".join(accepted), why))
    return rows


def selftest(prefix):
    start = time.monotonic()
    truth = up(prefix)
    try:
        spec = {"captures": [
            {"addr": t["addr"], "port": t["port"], "udp": t["proto"] == "udp",
             "tls": t["tunnel"] == "ssl", "send": selftest_payload(svc), "wait": 2}
            for svc, t in zip(SERVICES, truth["services"])]}
        results = in_scanner(prefix, spec, timeout=180)["captures"]
        rows = check_captures(truth, results) + check_tls_versions(prefix, truth)
    finally:
        down(prefix)
    for ok, label, line, why in rows:
        print("%-4s %-28s %s%s" % ("ok" if ok else "FAIL", label, line,
                                   "" if ok else "   <- " + why))
    print("up took %.1f s; selftest %.1f s in all" % (truth["up_seconds"],
                                                        time.monotonic() - start))
    return 0 if all(r[0] for r in rows) else 1


# ---------------------------------------------------------------- main


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "describe", "gc", "capture",
                                            "selftest", "scanner-side"])
    parser.add_argument("--prefix", default="",
                        help="namespace prefix: a letter then up to 9 letters/digits")
    parser.add_argument("--addr", help="capture: the lab address to connect to")
    parser.add_argument("--port", type=int, help="capture: the port")
    parser.add_argument("--udp", action="store_true", help="capture: UDP (default TCP)")
    parser.add_argument("--tls", action="store_true",
                        help="capture: TLS first (any certificate, TLS 1.0 and up)")
    parser.add_argument("--send", default="", help="capture: C-escaped payload to send")
    parser.add_argument("--wait", type=float, default=3.0,
                        help="capture: seconds to read for (at most 30)")
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command not in ("gc", "scanner-side") and not re.fullmatch(
            r"[a-z][a-z0-9]{0,9}", args.prefix):
        parser.error("--prefix must match [a-z][a-z0-9]{0,9}")
    if args.command == "capture" and (not args.addr or args.port is None):
        parser.error("capture needs --addr and --port")
    if args.udp and args.tls:
        parser.error("--tls is for TCP only")
    if args.command == "scanner-side" and not args.spec:
        parser.error("scanner-side needs --spec")
    try:
        if args.command == "describe":
            print(json.dumps(describe(args.prefix), indent=1))
            return 0
        if args.command == "scanner-side":
            print(json.dumps(scanner_side(json.loads(args.spec))))
            return 0
        if os.geteuid() != 0:
            sys.stderr.write("svc.py: needs root (network namespaces, daemons)\n")
            return 1
        if args.command == "up":
            print(json.dumps(up(args.prefix), indent=1))
        elif args.command == "capture":
            return capture(args.prefix, args)
        elif args.command == "selftest":
            return selftest(args.prefix)
        elif args.command == "gc":
            gc()
        else:
            down(args.prefix)
    except (lab.LabError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as err:
        sys.stderr.write("svc.py %s: %s\n" % (args.command, err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
