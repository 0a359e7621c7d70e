#!/usr/bin/env bash
# Installs the real servers the service-detection tests (tests/net/svc.py) run inside
# network namespaces, and the TLS library the build links. Packages are installed
# with their services kept from starting (a policy-rc.d that says no), so nothing
# listens in the machine's own namespace; the lab starts each daemon by hand in its
# namespace with a configuration of its own. Idempotent: apt runs only when a
# package is missing. Needs root when something is missing.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

pkgs=(
    libssl-dev pkg-config openssl
    openssh-server nginx-light vsftpd dnsmasq-base ntpsec snmpd redis-server memcached
    postgresql postfix dovecot-imapd dovecot-pop3d mariadb-server slapd mosquitto
    inetutils-telnetd inetutils-inetd kamailio
    rabbitmq-server xrdp tigervnc-standalone-server docker.io rtsp-server-perl
)

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "setup-service-daemons: ok (all installed)"
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "setup-service-daemons: need root to install: ${missing[*]}" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
fi
cleanup() { if ((made_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "setup-service-daemons: installing ${missing[*]}"
apt-get update -qq </dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
# Daemons that a package starts despite the policy (none should) are stopped, so
# that only the lab's own instances listen. Only processes in this (the machine's)
# network namespace: the instances of labs that are up run in namespaces of their
# own and are left alone.
root_net=$(readlink /proc/self/ns/net)
for d in sshd nginx vsftpd redis-server memcached postgres postfix dovecot mariadbd slapd \
    mosquitto kamailio snmpd ntpd inetutils-inetd beam.smp epmd xrdp xrdp-sesman Xvnc dockerd \
    containerd; do
    for pid in $(pgrep -x "$d" || true); do
        if [[ $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "$root_net" ]]; then
            kill "$pid" 2>/dev/null || true
        fi
    done
done
echo "setup-service-daemons: ok"
