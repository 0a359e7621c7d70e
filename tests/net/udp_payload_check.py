#!/usr/bin/env python3
"""Check Portolan's UDP probe payloads against real daemons.

    sudo python3 tests/net/udp_payload_check.py [--only NAME[,NAME...]] [--verbose]

Builds two network namespaces joined by a veth pair,

    pnu-scan  198.18.220.1/24  eth0 <--veth--> eth0  198.18.220.2/24  pnu-srv

starts real servers (Debian packages; `scripts/setup-test-deps.sh` installs them) inside
pnu-srv, each with its own configuration in a temporary directory and bound to
198.18.220.2, then sends every payload of crates/engine/data/udp-payloads.txt from
pnu-scan to its port with a plain UDP socket and requires a UDP answer within 2 s
(3 tries). Prints a table (protocol, port, daemon, answer) and exits 1 if any payload
whose daemon could run got no answer, or a daemon that should run did not.

Payloads with no daemon here are listed as SKIP with the reason. Nothing is left
behind: daemons run in a private mount namespace with their own /run (tmpfs), and
are killed, and both namespaces deleted, whatever happens. Stdlib only; needs root
and iproute2.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PAYLOADS = os.path.join(ROOT, "crates", "engine", "data", "udp-payloads.txt")

SCAN_NS, SRV_NS = "pnu-scan", "pnu-srv"
SCAN_IP, SRV_IP = "198.18.220.1", "198.18.220.2"
# A second interface for daemons that want an "outside" (miniupnpd's WAN side).
EXT_IP = "198.18.221.2"
TRIES, WAIT_S = 3, 2.0
START_TIMEOUT_S = 20.0
os.environ["PATH"] += ":/usr/local/sbin:/usr/sbin:/sbin"


class CheckError(Exception):
    pass


# ------------------------------------------------------------------ payload file

def parse_payloads(text):
    """Parse udp-payloads.txt (format in its header) into [(name, [ports], bytes)]."""
    entries, seen_ports = [], {}
    for number, raw in enumerate(text.splitlines(), 1):
        if raw[:1] in (" ", "\t"):
            data = payload_line(raw, number)
            if data and not entries:
                raise CheckError("line %d: payload before any entry" % number)
            if data:
                entries[-1][2].extend(data)
            continue
        header = raw.split("#", 1)[0].split()
        if not header:
            continue
        if entries and not entries[-1][2]:
            raise CheckError("entry %r has no payload" % entries[-1][0])
        if len(header) != 2:
            raise CheckError("line %d: header is NAME PORT[,PORT...]" % number)
        ports = [int(p) for p in header[1].split(",")]
        for port in ports:
            if not 0 < port < 65536 or port in seen_ports:
                raise CheckError("line %d: bad or repeated port %d" % (number, port))
            seen_ports[port] = header[0]
        entries.append((header[0], ports, bytearray()))
    if entries and not entries[-1][2]:
        raise CheckError("entry %r has no payload" % entries[-1][0])
    return [(name, ports, bytes(data)) for name, ports, data in entries]


ESCAPES = {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\", '"': b'"'}


def payload_line(raw, number):
    """Bytes of one indented line: hex, HH*N repeats and "quoted" strings."""
    out, i = bytearray(), 0
    while i < len(raw):
        c = raw[i]
        if c.isspace():
            i += 1
        elif c == "#":
            break
        elif c == '"':
            i = quoted(raw, i + 1, number, out)
        else:
            j = i
            while j < len(raw) and not raw[j].isspace() and raw[j] not in '#"':
                j += 1
            token, i = raw[i:j], j
            byte, star, count = token.partition("*")
            try:
                if star:
                    if len(byte) != 2 or not 0 < int(count) < 65536:
                        raise ValueError(token)
                    out.extend(bytes.fromhex(byte) * int(count))
                else:
                    if len(token) % 2:
                        raise ValueError(token)
                    out.extend(bytes.fromhex(token))
            except ValueError:
                raise CheckError("line %d: bad token %r" % (number, token)) from None
    return bytes(out)


def quoted(raw, i, number, out):
    while i < len(raw):
        c = raw[i]
        if c == '"':
            return i + 1
        if c == "\\":
            e = raw[i + 1:i + 2]
            if e == "x":
                out.extend(bytes.fromhex(raw[i + 2:i + 4]))
                i += 4
                continue
            if e not in ESCAPES:
                raise CheckError("line %d: unknown escape \\%s" % (number, e))
            out.extend(ESCAPES[e])
            i += 2
            continue
        out.extend(c.encode())
        i += 1
    raise CheckError("line %d: unterminated string" % number)


# ------------------------------------------------------------------ commands

def run(args, check=True, timeout=60, **kw):
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise CheckError("failed (%d): %s\n%s" % (proc.returncode, " ".join(args),
                                                   proc.stderr.strip()))
    return proc


def in_ns(ns, *args, **kw):
    return run(["ip", "netns", "exec", ns] + list(args), **kw)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# ------------------------------------------------------------------ the network

def ns_pids(ns):
    proc = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in proc.stdout.split()] if proc.returncode == 0 else []


def kill_ns_processes(ns):
    """Kill whatever still runs in our namespace (only this script starts processes there)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = ns_pids(ns)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        for _ in range(20):
            if not ns_pids(ns):
                return
            time.sleep(0.1)


def delete_network():
    for ns in (SRV_NS, SCAN_NS):
        if os.path.exists("/run/netns/" + ns):
            kill_ns_processes(ns)
            run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree("/etc/netns/" + ns, ignore_errors=True)


def build_network():
    for ns in (SCAN_NS, SRV_NS):
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # Name lookups inside the namespaces go to their own loopback, never outside.
        os.makedirs("/etc/netns/" + ns, exist_ok=True)
        write("/etc/netns/%s/resolv.conf" % ns, "nameserver 127.0.0.1\n")
        write("/etc/netns/%s/hosts" % ns, "127.0.0.1 localhost\n%s pnusrv\n" % SRV_IP)
    run(["ip", "-n", SCAN_NS, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
         "netns", SRV_NS])
    for ns, addr in ((SCAN_NS, SCAN_IP), (SRV_NS, SRV_IP)):
        run(["ip", "-n", ns, "addr", "add", addr + "/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    # No dummy module everywhere: a veth pair whose both ends stay in pnu-srv.
    run(["ip", "-n", SRV_NS, "link", "add", "ext0", "type", "veth", "peer", "name", "ext1"])
    run(["ip", "-n", SRV_NS, "addr", "add", EXT_IP + "/24", "dev", "ext0"])
    for dev in ("ext0", "ext1"):
        run(["ip", "-n", SRV_NS, "link", "set", dev, "up"])
    in_ns(SCAN_NS, "ping", "-c", "1", "-W", "2", SRV_IP, check=False)


# ------------------------------------------------------------------ daemons
#
# Each daemon: the payload entries it answers, the binary, and a setup function that
# writes its configuration into its own directory and returns (argv, env). Every one
# runs in the foreground, bound to SRV_IP where it can be told to.

class Daemon:
    def __init__(self, label, entries, binary, setup, ports=None):
        self.label, self.entries, self.binary, self.setup = label, entries, binary, setup
        self.ports = ports  # UDP ports to wait for; default: the entries' ports
        self.proc, self.log, self.error = None, None, None


def setup_dnsmasq(d):
    return ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--listen-address=" + SRV_IP, "--bind-interfaces", "--port=53",
            "--user=root", "--pid-file=" + os.path.join(d, "dnsmasq.pid"),
            "--log-facility=-", "--log-queries"], {}


def setup_ntpd(d):
    conf = write(os.path.join(d, "ntp.conf"), "\n".join([
        "interface ignore wildcard",
        "interface listen " + SRV_IP,
        "restrict default",
        "disable kernel",  # never touch the host's clock discipline
        "driftfile " + os.path.join(d, "ntp.drift"), ""]))
    return ["ntpd", "-n", "-c", conf, "-l", "/dev/stderr"], {}


def setup_snmpd(d):
    conf = write(os.path.join(d, "snmpd.conf"),
                 "rocommunity public default\nsysDescr portolan payload test agent\n")
    env = {"SNMP_PERSISTENT_DIR": d, "MIBS": ""}
    return ["snmpd", "-f", "-Lo", "-C", "-c", conf, "-p", os.path.join(d, "snmpd.pid"),
            "udp:%s:161" % SRV_IP], env


def setup_rpcbind(d):
    return ["rpcbind", "-f", "-h", SRV_IP], {}


def setup_tftpd(d):
    os.makedirs(os.path.join(d, "root"))
    return ["in.tftpd", "--foreground", "--address", SRV_IP + ":69", "--secure",
            "--user", "nobody", "--verbose", os.path.join(d, "root")], {}


def setup_memcached(d):
    return ["memcached", "-U", "11211", "-p", "0", "-l", SRV_IP, "-u", "nobody", "-v"], {}


def setup_nmbd(d):
    dirs = {k: os.path.join(d, k) for k in ("lock", "state", "cache", "pid", "private")}
    for path in dirs.values():
        os.makedirs(path)
    conf = write(os.path.join(d, "smb.conf"), "\n".join([
        "[global]", "workgroup = PNU", "netbios name = PNUSRV",
        "interfaces = %s/24" % SRV_IP, "bind interfaces only = yes",
        "lock directory = " + dirs["lock"], "state directory = " + dirs["state"],
        "cache directory = " + dirs["cache"], "pid directory = " + dirs["pid"],
        "private dir = " + dirs["private"], "log file = " + os.path.join(d, "log.%m"),
        "disable netbios = no", ""]))
    return ["nmbd", "--foreground", "--no-process-group", "--debug-stdout",
            "--configfile=" + conf], {}


def setup_avahi(d):
    conf = write(os.path.join(d, "avahi-daemon.conf"), "\n".join([
        "[server]", "host-name=pnusrv", "use-ipv4=yes", "use-ipv6=no",
        "allow-interfaces=eth0", "enable-dbus=no", "ratelimit-burst=1000",
        "[publish]", "publish-workstation=yes", "publish-addresses=yes", ""]))
    return ["avahi-daemon", "-f", conf, "--no-drop-root", "--no-chroot", "--no-rlimits",
            "--no-proc-title"], {}


def setup_kamailio(d):
    conf = write(os.path.join(d, "kamailio.cfg"), "\n".join([
        "#!KAMAILIO", "listen=udp:%s:5060" % SRV_IP, "children=1", "log_stderror=yes",
        'mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"', 'loadmodule "sl.so"',
        'request_route { sl_send_reply("200", "OK"); }', ""]))
    return ["kamailio", "-f", conf, "-DD", "-E", "-Y", d, "-P",
            os.path.join(d, "kamailio.pid")], {}


def setup_coap(d):
    return ["coap-server-notls", "-A", SRV_IP, "-p", "5683"], {}


def setup_coturn(d):
    return ["turnserver", "-n", "--listening-ip=" + SRV_IP, "--listening-port=3478",
            "--stun-only", "--no-tls", "--no-dtls", "--no-cli", "--log-file=stdout",
            "--simple-log", "--pidfile=" + os.path.join(d, "turnserver.pid"),
            "--userdb=" + os.path.join(d, "turndb")], {}


def setup_charon(d):
    conf = write(os.path.join(d, "strongswan.conf"), """
charon {
    port = 500
    port_nat_t = 4500
    interfaces_use = eth0
    install_routes = no
    install_virtual_ip = no
    load = random nonce aes sha1 sha2 md5 hmac gmp kdf pem pkcs1 x509 pubkey kernel-netlink socket-default
    filelog {
        stderr {
            path = /dev/stderr
            default = 1
            ike = 2
        }
    }
}
""")
    return ["/usr/lib/ipsec/charon"], {"STRONGSWAN_CONF": conf}


def setup_miniupnpd(d):
    # miniupnpd's nftables backend adds its rules to chains it expects to exist.
    rules = write(os.path.join(d, "miniupnpd.nft"), """
table inet filter {
    chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
    chain miniupnpd { }
    chain prerouting { type nat hook prerouting priority -100; jump prerouting_miniupnpd; }
    chain postrouting { type nat hook postrouting priority 100; jump postrouting_miniupnpd; }
    chain prerouting_miniupnpd { }
    chain postrouting_miniupnpd { }
}
""")
    in_ns(SRV_NS, "nft", "-f", rules)
    conf = write(os.path.join(d, "miniupnpd.conf"), "\n".join([
        "ext_ifname=ext0", "listening_ip=eth0", "http_port=0", "enable_natpmp=yes",
        "enable_upnp=yes", "secure_mode=yes", "system_uptime=yes",
        "uuid=504f5254-4f4c-414e-5054-504f52544f4c", "serial=5054", "model_number=1",
        "lease_file=" + os.path.join(d, "upnp.leases"),
        "allow 1024-65535 198.18.220.0/24 1024-65535", "deny 0-65535 0.0.0.0/0 0-65535",
        ""]))
    return ["miniupnpd", "-d", "-f", conf, "-P", os.path.join(d, "miniupnpd.pid")], {}


def setup_frr_ripd(d):
    # BIRD would do, but it drops requests from ports other than 520, which RFC 2453
    # 3.9.1 asks a router to answer; FRR's ripd answers them. ripd learns interfaces
    # from zebra, so both run, joined by a zserv socket in the daemon's directory.
    zebra = write(os.path.join(d, "zebra.conf"), "hostname pnu-zebra\n")
    ripd = write(os.path.join(d, "ripd.conf"), "\n".join([
        "hostname pnu-ripd", "router rip", " version 2", " network eth0",
        " redistribute connected", ""]))
    shutil.chown(d, "frr", "frr")  # FRR drops to its own user; root is not in frrvty
    common = "-u frr -g frr -z %s/zserv.api --vty_socket %s -A 127.0.0.1 -P 0 " \
             "--log stdout" % (d, d)
    script = ("/usr/lib/frr/zebra %s -f %s -i %s/zebra.pid & sleep 1; "
              "exec /usr/lib/frr/ripd %s -f %s -i %s/ripd.pid"
              % (common, zebra, d, common, ripd, d))
    return ["sh", "-c", script], {}


KRB_REALM = "PNU.TEST"


def setup_krb5kdc(d):
    krb5 = write(os.path.join(d, "krb5.conf"), """
[libdefaults]
    default_realm = %s
[realms]
    %s = { kdc = %s }
""" % (KRB_REALM, KRB_REALM, SRV_IP))
    kdc = write(os.path.join(d, "kdc.conf"), """
[kdcdefaults]
    kdc_listen = %s:88
    kdc_tcp_listen = ""
[realms]
    %s = {
        database_name = %s
        key_stash_file = %s
        acl_file = %s
    }
[logging]
    kdc = STDERR
""" % (SRV_IP, KRB_REALM, os.path.join(d, "principal"), os.path.join(d, "stash"),
       write(os.path.join(d, "kadm5.acl"), "")))
    env = {"KRB5_CONFIG": krb5, "KRB5_KDC_PROFILE": kdc}
    run(["kdb5_util", "-r", KRB_REALM, "create", "-s", "-P", "pnu-test-only"],
        env=dict(os.environ, **env))
    return ["krb5kdc", "-n", "-r", KRB_REALM, "-P", os.path.join(d, "krb5kdc.pid")], env


def setup_samba_ad(d):
    # Connectionless LDAP is an Active Directory service: provision a throwaway domain
    # (a few seconds, no network) and run only Samba's CLDAP server.
    target = os.path.join(d, "ad")
    options = ["interfaces=%s/24" % SRV_IP, "bind interfaces only=yes",
               "server services=cldap", "pid directory=" + d,
               "log file=" + os.path.join(d, "log.%m")]
    in_ns(SRV_NS, "samba-tool", "domain", "provision", "--realm=" + KRB_REALM,
          "--domain=PNU", "--server-role=dc", "--dns-backend=NONE",
          "--adminpass=Pnu-test-0nly!", "--targetdir=" + target, "--host-ip=" + SRV_IP,
          "--host-name=pnusrv", *["--option=" + o for o in options], timeout=180)
    return ["samba", "--interactive", "--model=single", "--debug-stdout",
            "--configfile=" + os.path.join(target, "etc", "smb.conf")], {}


def setup_xl2tpd(d):
    conf = write(os.path.join(d, "xl2tpd.conf"), "\n".join([
        "[global]", "listen-addr = " + SRV_IP, "port = 1701", "access control = no",
        "[lns default]", "ip range = 198.18.222.10-198.18.222.20",
        "local ip = 198.18.222.1", "require authentication = no", "name = pnusrv", ""]))
    return ["xl2tpd", "-D", "-c", conf, "-p", os.path.join(d, "xl2tpd.pid"),
            "-C", os.path.join(d, "l2tp-control")], {}


def self_signed(d):
    """A throwaway P-256 key and self-signed certificate for TLS-based daemons."""
    key, crt = os.path.join(d, "server.key"), os.path.join(d, "server.crt")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
         "-subj", "/CN=pnu-test", "-days", "2"])
    return key, crt


def setup_openvpn(d):
    key, crt = self_signed(d)
    return ["openvpn", "--tls-server", "--dev", "null", "--proto", "udp4",
            "--local", SRV_IP, "--lport", "1194", "--ca", crt, "--cert", crt,
            "--key", key, "--dh", "none", "--verb", "3"], {}


def setup_dtls(d):
    key, crt = self_signed(d)
    # `sleep infinity |` keeps s_server's stdin open (it quits at end of input).
    script = ('sleep infinity | exec openssl s_server -dtls -accept %s:5684 -cert %s '
              '-key %s -quiet' % (SRV_IP, crt, key))
    return ["sh", "-c", script], {}


def setup_quic(d):
    # ngtcp2's example HTTP/3 server (package ngtcp2-server), built on GnuTLS.
    key, crt = self_signed(d)
    return ["gtlsserver", "--quiet", "-d", d, SRV_IP, "443", key, crt], {}


def setup_wsdd2(d):
    # wsdd2 (C) rather than wsdd (Python): wsdd answers Probes only on its socket bound
    # to the multicast group, so a unicast Probe never reaches its handler.
    return ["wsdd2", "-4", "-u", "-w", "-W", "-i", "eth0", "-H", "pnusrv", "-N", "PNUSRV",
            "-G", "PNU"], {}


def setup_ipmi_sim(d):
    # OpenIPMI's BMC simulator: one management controller with a LAN channel.
    conf = write(os.path.join(d, "lan.conf"), "\n".join([
        'name "pnu"', "set_working_mc 0x20", "  startlan 1",
        "    addr %s 623" % SRV_IP, "    priv_limit admin",
        "    allowed_auths_callback none", "    allowed_auths_user none",
        "    allowed_auths_operator none", "    allowed_auths_admin none",
        "    guid 504f52544f4c414e504f52544f4c414e", "  endlan",
        'user 1 true "" "" user 10 none', ""]))
    emu = write(os.path.join(d, "bmc.emu"), "\n".join([
        "mc_setbmc 0x20",
        "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr",
        "mc_enable 0x20", ""]))
    return ["ipmi_sim", "-n", "-p", "-c", conf, "-f", emu, "-s", d], {}


def daemons():
    return [
        Daemon("dnsmasq", ["dns"], "dnsmasq", setup_dnsmasq),
        Daemon("avahi-daemon", ["mdns"], "avahi-daemon", setup_avahi),
        Daemon("nmbd (samba)", ["netbios-ns"], "nmbd", setup_nmbd),
        Daemon("snmpd (net-snmp)", ["snmp"], "snmpd", setup_snmpd),
        Daemon("ntpd (ntpsec)", ["ntp"], "ntpd", setup_ntpd),
        Daemon("rpcbind", ["rpcbind"], "rpcbind", setup_rpcbind),
        Daemon("in.tftpd (tftpd-hpa)", ["tftp"], "in.tftpd", setup_tftpd),
        Daemon("kamailio", ["sip"], "kamailio", setup_kamailio),
        Daemon("memcached -U", ["memcached"], "memcached", setup_memcached),
        Daemon("coap-server (libcoap3)", ["coap"], "coap-server-notls", setup_coap),
        Daemon("turnserver (coturn)", ["stun"], "turnserver", setup_coturn),
        Daemon("charon (strongswan)", ["ike"], "/usr/lib/ipsec/charon", setup_charon),
        Daemon("miniupnpd", ["nat-pmp", "ssdp"], "miniupnpd", setup_miniupnpd),
        Daemon("ripd (frr)", ["rip"], "/usr/lib/frr/ripd", setup_frr_ripd),
        Daemon("krb5kdc (MIT)", ["kerberos"], "krb5kdc", setup_krb5kdc),
        Daemon("samba (AD DC)", ["cldap"], "samba", setup_samba_ad),
        Daemon("xl2tpd", ["l2tp"], "xl2tpd", setup_xl2tpd),
        Daemon("openvpn", ["openvpn"], "openvpn", setup_openvpn),
        Daemon("openssl s_server -dtls", ["dtls"], "openssl", setup_dtls),
        Daemon("gtlsserver (ngtcp2)", ["quic"], "gtlsserver", setup_quic),
        Daemon("wsdd2", ["ws-discovery"], "wsdd2", setup_wsdd2),
        Daemon("ipmi_sim (openipmi)", ["ipmi"], "ipmi_sim", setup_ipmi_sim),
    ]


# Payloads no Debian daemon can answer here, and why.
NO_DAEMON = {
    "mssql-browser": "SQL Server Browser is not packaged for Debian",
    "slp": "OpenSLP's slpd is not packaged for Debian 12",
}

# Each daemon runs in its own mount namespace with empty tmpfs over /run, /tmp and
# /var/tmp, so pid files, sockets and scratch files (FRR's /var/tmp/frr, ...) vanish
# with it. The work directory (under /var/tmp) is bound back in at the same path.
RUN_DIRS = "/run/avahi-daemon /run/samba /run/xl2tpd /run/openvpn /run/kamailio"
WRAP = """set -e
mount -t tmpfs -o mode=755 pnu-run /run
mkdir -p /run/pnu-work %s
mount --bind "$PNU_WORK" /run/pnu-work
mount -t tmpfs -o mode=1777 pnu-tmp /tmp
mount -t tmpfs -o mode=1777 pnu-vartmp /var/tmp
mkdir -p "$PNU_WORK"
mount --bind /run/pnu-work "$PNU_WORK"
exec "$@"
""" % RUN_DIRS


def start(daemon, workdir, verbose):
    path = shutil.which(daemon.binary)
    if not path:
        daemon.error = "not installed (%s); run scripts/setup-test-deps.sh" % daemon.binary
        return
    d = os.path.join(workdir, daemon.entries[0])
    os.makedirs(d)
    os.chmod(d, 0o755)
    try:
        argv, env = daemon.setup(d)
    except (CheckError, subprocess.SubprocessError, OSError) as e:
        daemon.error = "setup failed: %s" % e
        return
    daemon.log = os.path.join(d, "daemon.log")
    if verbose:
        print("start %s: %s" % (daemon.label, " ".join(argv)), file=sys.stderr)
    with open(daemon.log, "w") as log:
        daemon.proc = subprocess.Popen(
            ["ip", "netns", "exec", SRV_NS, "unshare", "--mount", "--propagation", "private",
             "sh", "-c", WRAP, "sh"] + argv,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PNU_WORK=workdir, **env), start_new_session=True)


def bound_udp_ports():
    out = in_ns(SRV_NS, "ss", "-H", "-u", "-l", "-n", check=False).stdout
    ports = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            ports.add(int(fields[3].rsplit(":", 1)[1]))
    return ports


def wait_ready(all_daemons, port_of):
    """Wait (bounded) until every started daemon has bound its UDP ports."""
    deadline = time.monotonic() + START_TIMEOUT_S
    pending = [d for d in all_daemons if d.proc]
    while pending and time.monotonic() < deadline:
        bound = bound_udp_ports()
        still = []
        for d in pending:
            want = d.ports or [port_of[e] for e in d.entries]
            if all(p in bound for p in want):
                continue
            if d.proc.poll() is not None:
                d.error = "exited with status %d before binding" % d.proc.returncode
                continue
            still.append(d)
        pending = still
        time.sleep(0.2)
    for d in pending:
        d.error = "did not bind its UDP port within %.0f s" % START_TIMEOUT_S


def stop(daemon):
    proc = daemon.proc
    if not proc or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 3)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------ probing

def probe_all(jobs):
    """Run the probes inside pnu-scan (a child of this script); return {name: result}."""
    proc = in_ns(SCAN_NS, sys.executable, os.path.abspath(__file__), "--probe-worker",
                 input=json.dumps(jobs), timeout=60 + len(jobs) * TRIES * WAIT_S)
    return json.loads(proc.stdout)


def probe_worker():
    """Inside pnu-scan: send each payload, wait for an answer from the server's address."""
    results = {}
    for name, port, hexdata in json.load(sys.stdin):
        results[name] = probe_one(port, bytes.fromhex(hexdata))
    json.dump(results, sys.stdout)


def probe_one(port, payload):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((SCAN_IP, 0))
        for attempt in range(1, TRIES + 1):
            s.sendto(payload, (SRV_IP, port))
            deadline = time.monotonic() + WAIT_S
            while (left := deadline - time.monotonic()) > 0:
                s.settimeout(left)
                try:
                    data, (addr, sport) = s.recvfrom(65535)
                except socket.timeout:
                    break
                except ConnectionRefusedError:
                    return {"ok": False, "why": "ICMP port unreachable"}
                if addr == SRV_IP:
                    return {"ok": True, "bytes": len(data), "from_port": sport,
                            "try": attempt, "head": data[:400].hex()}
    return {"ok": False, "why": "no answer in %d x %.0f s" % (TRIES, WAIT_S)}


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated payload names to check")
    ap.add_argument("--payloads", default=PAYLOADS, help="payload file (default: the engine's)")
    ap.add_argument("--verbose", action="store_true", help="show answers and daemon logs")
    ap.add_argument("--probe-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe_worker:
        probe_worker()
        return 0
    if os.geteuid() != 0:
        print("udp_payload_check: needs root (network namespaces)", file=sys.stderr)
        return 2
    with open(args.payloads) as f:
        entries = parse_payloads(f.read())
    only = set(args.only.split(",")) if args.only else None
    unknown = only - {e[0] for e in entries} if only else set()
    if unknown:
        print("udp_payload_check: no payload named %s" % ", ".join(sorted(unknown)),
              file=sys.stderr)
        return 2
    # A SIGTERM (a test runner's timeout) unwinds through the `finally` below too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    entries = [e for e in entries if only is None or e[0] in only]
    port_of = {name: ports[0] for name, ports, _ in entries}
    chosen = [d for d in daemons() if any(e in port_of for e in d.entries)]
    for d in chosen:
        d.entries = [e for e in d.entries if e in port_of]
    # Bound into each daemon's private mount namespace at the same path (see WRAP).
    workdir = tempfile.mkdtemp(prefix="pnu-udp-", dir="/var/tmp")
    os.chmod(workdir, 0o755)
    try:
        delete_network()  # leftovers of a killed run
        build_network()
        for d in chosen:
            start(d, workdir, args.verbose)
        wait_ready(chosen, port_of)
        by_entry = {e: d for d in chosen for e in d.entries}
        jobs = [(name, port_of[name], data.hex()) for name, _, data in entries
                if name in by_entry and not by_entry[name].error]
        results = probe_all(jobs) if jobs else {}
        return report(entries, by_entry, results, args.verbose)
    finally:
        for d in chosen:
            stop(d)
        delete_network()
        shutil.rmtree(workdir, ignore_errors=True)


def report(entries, by_entry, results, verbose):
    rows, failed = [], 0
    for name, ports, data in entries:
        port = ",".join(map(str, ports))
        daemon = by_entry.get(name)
        if daemon is None:
            rows.append((name, port, "-", "SKIP: " + NO_DAEMON.get(name, "no daemon")))
            continue
        if daemon.error:
            failed += 1
            rows.append((name, port, daemon.label, "FAIL: daemon " + daemon.error))
            show_log(daemon)
            continue
        r = results.get(name, {"ok": False, "why": "not probed"})
        if r["ok"]:
            extra = "" if r["from_port"] == ports[0] else " (from port %d)" % r["from_port"]
            rows.append((name, port, daemon.label,
                         "%d bytes (sent %d)%s" % (r["bytes"], len(data), extra)))
            if verbose:
                print("%s answer: %r" % (name, bytes.fromhex(r["head"])), file=sys.stderr)
        else:
            failed += 1
            rows.append((name, port, daemon.label, "FAIL: " + r["why"]))
            show_log(daemon)
    widths = [max(len(row[i]) for row in rows + [HEAD]) for i in range(3)]
    for row in [HEAD] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
    answered = sum(1 for r in rows if not r[3].startswith(("FAIL", "SKIP")))
    skipped = sum(1 for r in rows if r[3].startswith("SKIP"))
    print("\n%d answered, %d failed, %d skipped" % (answered, failed, skipped))
    return 1 if failed else 0


HEAD = ("protocol", "port", "daemon", "answer")


def show_log(daemon):
    if daemon.log and os.path.exists(daemon.log):
        with open(daemon.log, errors="replace") as f:
            tail = f.read().splitlines()[-15:]
        print("---- %s log (tail) ----\n%s\n----" % (daemon.label, "\n".join(tail)),
              file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
