#!/usr/bin/env bash
# Installs what the integration tests and benchmarks need on a Debian machine that has
# only Rust, Python 3 and git: nmap (+ nmap.dtd) and ndiff as oracles, nftables for the
# lab's drop/reject/loss rules, iproute2 for namespaces/veth/bridges, xmllint for DTD
# validation, masscan as a benchmark peer, GNU time for peak RSS, ieee-data for the IEEE
# MAC registry files that MAC vendor lookup reads (crates/oui), dnsmasq (the binary
# alone, no system service) as the discovery lab's DNS server. Idempotent: apt runs
# only when a tool is missing. Then checks that network namespaces, veth and nftables
# really work here (they need root), and fails loudly if not.
set -euo pipefail
# ip, ss and nft live in sbin; a non-login root shell may lack it in PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# tool -> Debian package
declare -A PKG=(
    [nmap]=nmap
    [ndiff]=ndiff
    [nft]=nftables
    [xmllint]=libxml2-utils
    [masscan]=masscan
    [ip]=iproute2
    [ss]=iproute2
    [/usr/bin/time]=time
    [/usr/share/nmap/nmap.dtd]=nmap-common
    [/usr/share/ieee-data/oui.csv]=ieee-data
    [timeout]=coreutils
    [dnsmasq]=dnsmasq-base
    [python3]=python3
)

have() {
    case "$1" in
        /*) [[ -e "$1" ]] ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing=()
for tool in "${!PKG[@]}"; do
    have "$tool" || missing+=("${PKG[$tool]}")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup-test-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "setup-test-deps: installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" </dev/null
    for tool in "${!PKG[@]}"; do
        have "$tool" || { echo "setup-test-deps: $tool still missing" >&2; exit 1; }
    done
fi

# Namespaces, veth and nftables must work: build a throwaway namespace and remove it.
if [[ $(id -u) -ne 0 ]]; then
    echo "setup-test-deps: the network tests need root (network namespaces)" >&2
    exit 1
fi
probe="ptchk$$"
cleanup() { ip netns del "$probe" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$probe"
ip -n "$probe" link add pva type veth peer name pvb
ip -n "$probe" link set lo up
ip netns exec "$probe" nft add table inet probe
ip netns exec "$probe" nft list ruleset >/dev/null
cleanup
trap - EXIT
echo "setup-test-deps: ok (nmap $(nmap --version | awk 'NR==1{print $3}'), ip netns, veth, nftables)"
