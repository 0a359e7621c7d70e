#!/usr/bin/env bash
# Installs the real UDP servers tests/net/udp_payload_check.py probes (one per
# payload in crates/engine/data/udp-payloads.txt). Not part of CI: the check is
# run by hand when payloads change. Services are kept from starting on install.
set -euo pipefail
pkgs=(dnsmasq avahi-daemon samba snmpd ntpsec rpcbind tftpd-hpa kamailio memcached
      libcoap3-bin coturn strongswan-charon miniupnpd frr krb5-kdc samba-ad-dc
      samba-ad-provision xl2tpd openvpn ngtcp2-server wsdd2 openipmi openssl)
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; made_policy=1
fi
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
[ "$made_policy" = 1 ] && rm -f "$policy"
echo ok
