#!/usr/bin/env bash
# Benchmarks portolan against nmap and masscan on a test network of its own and writes
# BENCHMARKS.md at the repo root.
#
#   bash bench/run.sh [--runs N] [--scenario all|NAME[,NAME...]] [--timeout SECONDS]
#                     [--nmap-timeout SECONDS] [--masscan-rate PPS]
#                     [--masscan-max-rate PPS] [--tools LIST] [--out FILE]
#
# Scenarios (names are case-insensitive; 1 and 2 stand for connect-1 and connect-2):
#   connect-1  all 65535 TCP ports of 198.18.64.2, -sT (portolan, nmap).
#   connect-2  ports 1-1000 of each of 198.19.0.0/24, -sT (portolan, nmap).
#   R1  all 65535 TCP ports of 198.18.64.2, -sS (portolan, nmap, masscan at
#       --masscan-rate [100000] and, for its best packet rate, at --masscan-max-rate).
#   R2  R1 on a target that drops 10 % of the packets each way (nft numgen).
#   R3  ports 22,80,443 of each of the 65536 addresses of 198.19.0.0/16, -sS (as R1).
#   R4  -sU --top-ports 100 of 198.18.64.2 under Linux's default ICMP rate limit.
#   R5  peak RSS of R3 at /20 and /16 (portolan, nmap); reuses R3's /16 runs.
#   D1  host discovery (-sn -n -T4) of the scanner's own /24, 198.18.64.0/24, where
#       the target and five more hosts live (ARP), portolan vs nmap.
#   D2  host discovery (-sn -n -T4) of 198.19.0.0/16 beyond a router (the target
#       namespace routes it) with five live hosts, portolan vs nmap. Nmap 7.93 sends
#       100-200 probes/s here and had covered less than half of the /16 after 1800 s
#       (2 CPUs): unless --nmap-timeout allows well over an hour, its time is a lower
#       bound and its hosts are those it reached.
#   V1  version detection on a lab of real daemons (tests/net/svc.py, prefix pbv<pid>,
#       its own namespaces): -sS -sU -sV -Pn -n -T4 on the lab's TCP and UDP service
#       ports of both server addresses, from the lab's scanner namespace, portolan vs
#       nmap; scored on each service's name (+ TLS tunnel), product and version.
# A run of some scenarios keeps the other scenarios' sections of the report file
# (each marked with the date and command of the run that wrote it).
# --tools portolan,nmap,masscan picks the tools (default: all three; without portolan
# nothing is built).
# Network (namespaces pb<pid>-scan and pb<pid>-tgt, one veth pair, not built when V1 is
# the only scenario; V1 has its own lab; the root namespace is never touched): scanner
# 198.18.64.1/24, target 198.18.64.2/24; 198.19.0.0/16 is routed to the target, which
# holds it as a local route on lo so every address answers. Truth:
# 198.18.64.2 has 22,80,443,8080,31337 open and nft drops 23,8081,9999,40000 (TCP);
# 198.19.x.y has 22 and 80 open (in R3/R5 80 only on even addresses: odd ones
# nft-reject with a RST) and everything else closed; UDP 53,123,161 of 198.18.64.2
# answer (bench/udp_answer.py) and every other UDP port is closed.
# D1 adds five namespaces P-l1..l5 on the scanner's segment (macvlans on the target's
# eth0, each with its own MAC): 198.18.64.11, .57, .103, .160, .222. D2 turns the target
# into a router for 198.19.0.0/16 (its local route and the sweep's answers are put back
# afterwards) that answers every packet for an empty address with an ICMP host
# unreachable (nft reject, no ICMP rate limit); five namespaces P-r1..r5 hang off it by
# veth pairs: 198.19.0.1, 198.19.37.42, 198.19.128.7, 198.19.200.200 (nft drops ICMP
# echo and timestamp requests: only TCP probes find it) and 198.19.255.254. The
# scanner's own address counts as up in D1, as both tools report it.
# Each run is bounded by `timeout` (nmap by --nmap-timeout); wall time and peak RSS come
# from /usr/bin/time -v, packet counts from the scanner's veth counters, and every port
# state is scored against the truth (bench/report.py). Raw outputs stay in
# bench/out/<prefix>/ (git-ignored). Torn down on any exit (the V1 lab too).
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

CMDLINE="bench/run.sh${*:+ $*}"
ALL_SCENARIOS="connect-1 connect-2 R1 R2 R3 R4 R5 D1 D2 V1"
RUNS=1
SCENARIOS=$ALL_SCENARIOS
TOOL_TIMEOUT=600
NMAP_TIMEOUT=""
MASSCAN_RATE=100000
MASSCAN_MAX_RATE=10000000
REPORT="$ROOT/BENCHMARKS.md"

die() { echo "bench/run.sh: $*" >&2; exit 2; }

# canonical NAME -> prints the scenario's canonical name, or fails.
canonical() {
    case "${1,,}" in
        1|connect-1) echo connect-1 ;;
        2|connect-2) echo connect-2 ;;
        r[1-5]|d[12]|v1) echo "${1^^}" ;;
        *) return 1 ;;
    esac
}

pick_scenarios() {
    [[ $1 == all ]] && { SCENARIOS=$ALL_SCENARIOS; return; }
    local want=() name c
    for name in ${1//,/ }; do
        c=$(canonical "$name") || die "unknown scenario $name (all, $ALL_SCENARIOS)"
        want+=("$c")
    done
    ((${#want[@]})) || die "--scenario needs a name"
    # Keep the canonical order, without duplicates.
    SCENARIOS=""
    for c in $ALL_SCENARIOS; do
        [[ " ${want[*]} " == *" $c "* ]] && SCENARIOS+="${SCENARIOS:+ }$c"
    done
    return 0
}

TOOLS=(portolan nmap masscan)

pick_tools() {
    local t
    TOOLS=()
    for t in ${1//,/ }; do
        case $t in
            portolan|nmap|masscan) TOOLS+=("$t") ;;
            *) die "unknown tool $t (portolan, nmap, masscan)" ;;
        esac
    done
    ((${#TOOLS[@]})) || die "--tools needs a name"
}

while (($#)); do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --scenario) pick_scenarios "$2"; shift 2 ;;
        --timeout) TOOL_TIMEOUT=$2; shift 2 ;;
        --nmap-timeout) NMAP_TIMEOUT=$2; shift 2 ;;
        --masscan-rate) MASSCAN_RATE=$2; shift 2 ;;
        --masscan-max-rate) MASSCAN_MAX_RATE=$2; shift 2 ;;
        --tools) pick_tools "$2"; shift 2 ;;
        --out) REPORT=$(realpath -m "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || die "--runs 1..99"
[[ $TOOL_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout: whole seconds"
NMAP_TIMEOUT=${NMAP_TIMEOUT:-$TOOL_TIMEOUT}
[[ $NMAP_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--nmap-timeout: whole seconds"
[[ $MASSCAN_RATE =~ ^[1-9][0-9]*$ ]] || die "--masscan-rate: packets per second"
[[ $MASSCAN_MAX_RATE =~ ^[1-9][0-9]*$ ]] || die "--masscan-max-rate: packets per second"
has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

P="pb$$"
SCAN="$P-scan"
TGT="$P-tgt"
OUT="$ROOT/bench/out/$P"
PORTOLAN="$ROOT/target/release/portolan"
SCAN_IP=198.18.64.1
TGT_IP=198.18.64.2
# Fixed, locally administered MACs: masscan is given both, so its commands are exact.
SCAN_MAC=02:00:c6:12:40:01
TGT_MAC=02:00:c6:12:40:02
SWEEP=198.19.0.0/16
SWEEP20=198.19.0.0/20
# masscan's own source port: the scanner's kernel must not see (and RST) its replies.
MASSCAN_PORT=61000
# masscan 1.3.2's receive thread only notices the end of the scan when a packet arrives
# (masscan issue #144: "waiting -N secs" forever on a quiet link), so while it runs the
# target sends a datagram to this port every 0.1 s; the scanner drops it unanswered.
NUDGE_PORT=61001
TCP_OPEN="22 80 443 8080 31337"
TCP_DROP="23 8081 9999 40000"
SWEEP_PORTS=22,80,443
UDP_OPEN="53 123 161"
# Linux answers a burst of 6 port unreachables, then one per second per peer.
ICMP_BURST=6
LISTENER_PID=""
UDP_PID=""
D2_RATEMASK=6160
SAMPLER_PID=""
NUDGE_PID=""
# Host discovery scenarios (D1, D2).
D1_NET=198.18.64.0/24
D1_HOSTS="198.18.64.11 198.18.64.57 198.18.64.103 198.18.64.160 198.18.64.222"
D2_NET=$SWEEP
D2_HOSTS="198.19.0.1 198.19.37.42 198.19.128.7 198.19.200.200 198.19.255.254"
D2_QUIET=198.19.200.200
# The router's (the target's) address on every link to a D2 host.
D2_LINK=198.18.65.1
PING=(-sn -n -T4)
# V1: the service lab (tests/net/svc.py) and its truth; LAB_UP says it may need tearing down.
LAB="pbv$$"
LAB_UP=0
V1_ERROR=""
# Where run_tool runs a tool (namespace, interface whose counters are sampled) and whose
# kernel counters it records (empty: none); scenario_V1 points them at its lab.
RUN_NS=$SCAN
RUN_IF=eth0
NSTAT_NS=$TGT

log() { echo "bench: $*" >&2; }

stop_pid() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

teardown() {
    set +e
    stop_pid "$SAMPLER_PID"
    stop_pid "$NUDGE_PID"
    stop_pid "$LISTENER_PID"
    stop_pid "$UDP_PID"
    SAMPLER_PID="" NUDGE_PID="" LISTENER_PID="" UDP_PID=""
    lab_down
    for ns in $(ip netns list 2>/dev/null | awk -v p="$P-" 'index($1, p) == 1 {print $1}'); do
        # Whatever still runs inside our own namespaces (a hung scan) is ours to stop.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    set -e
}
# The V1 lab's own teardown (idempotent; stops every process in its namespaces).
lab_down() {
    ((LAB_UP)) || return 0
    python3 "$ROOT/tests/net/svc.py" down --prefix "$LAB" >>"$OUT/V1-lab.log" 2>&1 ||
        log "svc.py down --prefix $LAB failed (see $OUT/V1-lab.log)"
    LAB_UP=0
}

trap teardown EXIT
trap 'exit 130' INT TERM

build_network() {
    ip netns add "$SCAN"
    ip netns add "$TGT"
    for ns in "$SCAN" "$TGT"; do
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sh -c 'echo 0 > /proc/sys/net/ipv6/conf/all/accept_ra;
            echo 0 > /proc/sys/net/ipv6/conf/default/accept_ra'
    done
    ip -n "$SCAN" link add eth0 type veth peer name eth0 netns "$TGT"
    ip -n "$SCAN" link set eth0 address "$SCAN_MAC"
    ip -n "$TGT" link set eth0 address "$TGT_MAC"
    ip -n "$SCAN" addr add "$SCAN_IP/24" dev eth0
    ip -n "$TGT" addr add "$TGT_IP/24" dev eth0
    ip -n "$SCAN" link set eth0 up
    ip -n "$TGT" link set eth0 up
    ip -n "$SCAN" route add "$SWEEP" via "$TGT_IP"
    ip -n "$TGT" route add local "$SWEEP" dev lo
    # The ICMP rate limit stays at the kernel's default (R4 measures against it).
    ip netns exec "$TGT" nft -f - <<EOF
table ip bench {
    chain in {
        type filter hook input priority 0; policy accept;
        ip daddr $TGT_IP tcp dport { ${TCP_DROP// /, } } drop
    }
}
EOF
}

# R3/R5: port 80 closed on the odd addresses of the sweep (answered with a RST, never
# dropped), so the truth is not the same on every host.
add_odd_reject() {
    ip netns exec "$TGT" nft -f - <<EOF
table ip sweep {
    chain in {
        type filter hook input priority 0; policy accept;
        ip daddr $SWEEP ip daddr & 0.0.0.1 == 0.0.0.1 tcp dport 80 reject with tcp reset
    }
}
EOF
}

del_odd_reject() { ip netns exec "$TGT" nft delete table ip sweep; }

# The R2 loss: 10 % of the packets into and out of the target, at random.
add_loss() {
    ip netns exec "$TGT" nft -f - <<EOF
table ip loss {
    chain in {
        type filter hook input priority -10; policy accept;
        numgen random mod 100 < 10 drop
    }
    chain out {
        type filter hook output priority -10; policy accept;
        numgen random mod 100 < 10 drop
    }
}
EOF
}

del_loss() { ip netns exec "$TGT" nft delete table ip loss; }

# masscan has its own TCP/IP stack: the scanner's kernel must drop what comes back to
# masscan's source port instead of answering it with RSTs (masscan's documented setup).
masscan_guard() {  # on TIMEOUT_S | off
    if [[ $1 == on ]]; then
        ip netns exec "$SCAN" nft -f - <<EOF
table ip masscan {
    chain in {
        type filter hook input priority 0; policy accept;
        tcp dport $MASSCAN_PORT drop
        udp dport { $MASSCAN_PORT, $NUDGE_PORT } drop
    }
}
EOF
        # Bounded: at most as many datagrams as 0.1 s steps in the run's timeout. R2's
        # loss rule makes some sends fail (EPERM): those are skipped.
        ip netns exec "$TGT" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    try:
        s.sendto(b"nudge", (sys.argv[1], int(sys.argv[2])))
    except OSError:
        pass
    time.sleep(0.1)' "$SCAN_IP" "$NUDGE_PORT" $(($2 * 10 + 400)) &
        NUDGE_PID=$!
    else
        stop_pid "$NUDGE_PID"
        NUDGE_PID=""
        ip netns exec "$SCAN" nft delete table ip masscan
    fi
}

wait_ports() {
    local proto=$1
    shift
    local port up
    for _ in $(seq 100); do
        up=0
        for port in "$@"; do
            ip netns exec "$TGT" ss "-${proto}lnH" "sport = :$port" | grep -q . &&
                up=$((up + 1))
        done
        ((up == $#)) && return 0
        sleep 0.1
    done
    log "$proto listener did not come up on $*"
    return 1
}

start_listener() {
    ip netns exec "$TGT" python3 "$ROOT/tests/net/listener.py" --v4-only "$@" \
        >"$OUT/listener.log" 2>&1 &
    LISTENER_PID=$!
    wait_ports t "$@"
}

stop_listener() { stop_pid "$LISTENER_PID"; LISTENER_PID=""; }

start_udp() {
    ip netns exec "$TGT" python3 "$ROOT/bench/udp_answer.py" "$TGT_IP" "$@" \
        >"$OUT/udp_answer.log" 2>&1 &
    UDP_PID=$!
    wait_ports u "$@"
}

stop_udp() { stop_pid "$UDP_PID"; UDP_PID=""; }

# run_tool SCENARIO LABEL RUN BIN ARGS... : one bounded, timed run (-oX FILE is
# appended); records the command, the target's kernel counters and the scanner's veth
# counters, and appends a line to runs.tsv.
run_tool() {
    local scen=$1 label=$2 n=$3 bin=$4
    shift 4
    local exe=$bin limit=$TOOL_TIMEOUT
    [[ $bin == portolan ]] && exe=$PORTOLAN
    [[ $bin == nmap ]] && limit=$NMAP_TIMEOUT
    local base="$OUT/$scen-$label-$n"
    local rc=0
    if ! grep -qP "^\Q$scen\E\t\Q$label\E\t" "$OUT/commands.tsv"; then
        printf '%s\t%s\t%s\n' "$scen" "$label" "$bin $* -oX FILE" >>"$OUT/commands.tsv"
    fi
    log "$scen, $label run $n (timeout ${limit}s): $bin $* -oX $base.xml"
    [[ $bin == masscan ]] && masscan_guard on "$limit"
    [[ -z $NSTAT_NS ]] || ip netns exec "$NSTAT_NS" nstat -asz >"$base.nstat0"
    ip netns exec "$RUN_NS" python3 "$ROOT/bench/ifstat.py" "$RUN_IF" 0.1 $((limit + 30)) \
        "$base.ifstat" &
    SAMPLER_PID=$!
    sleep 0.2
    ip netns exec "$RUN_NS" /usr/bin/time -v -o "$base.time" \
        timeout --kill-after=10 "$limit" "$exe" "$@" -oX "$base.xml" \
        >"$base.log" 2>&1 || rc=$?
    stop_pid "$SAMPLER_PID"
    SAMPLER_PID=""
    [[ -z $NSTAT_NS ]] || ip netns exec "$NSTAT_NS" nstat -asz >"$base.nstat1"
    [[ $bin == masscan ]] && masscan_guard off
    ((rc == 0)) || log "$label exited $rc (see $base.log)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$label" "$n" "$rc" "$base.xml" \
        "$base.time" "$base.log" "$base.ifstat" "$limit" >>"$OUT/runs.tsv"
}

MASSCAN=(masscan -e eth0 --adapter-ip "$SCAN_IP" --adapter-mac "$SCAN_MAC"
         --router-mac "$TGT_MAC" --adapter-port "$MASSCAN_PORT" --wait 1)
SYN=(-sS -Pn -n -T4)

have_tool() { [[ " ${TOOLS[*]} " == *" $1 "* ]]; }

# tcp_round SCENARIO RUN TARGETS PORTS : portolan, nmap and masscan, one after the other.
tcp_round() {
    local scen=$1 n=$2 targets=$3 ports=$4
    local pspec="-p $ports" mspec="-p$ports"
    [[ $ports == all ]] && pspec=-p- mspec=-p0-65535
    # shellcheck disable=SC2086
    {
        have_tool portolan && run_tool "$scen" portolan "$n" portolan "${SYN[@]}" $pspec "$targets"
        have_tool nmap && run_tool "$scen" nmap "$n" nmap "${SYN[@]}" $pspec "$targets"
        have_tool masscan && run_tool "$scen" masscan "$n" "${MASSCAN[@]}" $mspec \
            --rate "$MASSCAN_RATE" "$targets"
        [[ $scen != R2 ]] && have_tool masscan && run_tool "$scen" masscan-max "$n" \
            "${MASSCAN[@]}" $mspec --rate "$MASSCAN_MAX_RATE" "$targets"
    }
    return 0
}

scenario_connect() {
    local scen=$1 n tool
    local args=(-p- "$TGT_IP") open=$TCP_OPEN
    [[ $scen == connect-2 ]] && args=(-p 1-1000 198.19.0.0/24) open="22 80"
    # shellcheck disable=SC2086
    start_listener $open
    for n in $(seq "$RUNS"); do
        for tool in portolan nmap; do
            have_tool "$tool" && run_tool "$scen" "$tool" "$n" "$tool" -sT -Pn -n -T4 "${args[@]}"
        done
    done
    stop_listener
}

scenario_R1() {
    local n
    # shellcheck disable=SC2086
    start_listener $TCP_OPEN
    for n in $(seq "$RUNS"); do tcp_round R1 "$n" "$TGT_IP" all; done
    stop_listener
}

scenario_R2() {
    local n
    # shellcheck disable=SC2086
    start_listener $TCP_OPEN
    add_loss
    for n in $(seq "$RUNS"); do tcp_round R2 "$n" "$TGT_IP" all; done
    del_loss
    stop_listener
}

scenario_R3() {
    local n
    start_listener 22 80
    add_odd_reject
    for n in $(seq "$RUNS"); do tcp_round R3 "$n" "$SWEEP" "$SWEEP_PORTS"; done
    del_odd_reject
    stop_listener
}

scenario_R5() {
    local n tool spec scen
    start_listener 22 80
    add_odd_reject
    for n in $(seq "$RUNS"); do
        for spec in "$SWEEP20" "$SWEEP"; do
            scen=R5-${spec#*/}
            # R3 measured the /16 already in this invocation.
            [[ $spec == "$SWEEP" ]] && has R3 && continue
            for tool in portolan nmap; do
                have_tool "$tool" && run_tool "$scen" "$tool" "$n" "$tool" "${SYN[@]}" \
                    -p "$SWEEP_PORTS" "$spec"
            done
        done
    done
    del_odd_reject
    stop_listener
}

# udp_ports XML : the UDP port list a scan's scaninfo names (empty if none).
udp_ports() {
    python3 - "$1" <<'EOF' 2>/dev/null || true
import sys, xml.etree.ElementTree as ET
for info in ET.parse(sys.argv[1]).getroot().iter("scaninfo"):
    if info.get("protocol") == "udp" and info.get("services"):
        print(info.get("services"))
        break
EOF
}

# Before each UDP run: let the target's per-peer ICMP token bucket fill up again, so
# every tool starts with the same burst.
icmp_rest() { sleep $((ICMP_BURST + 2)); }

scenario_R4() {
    local n ports=""
    # shellcheck disable=SC2086
    start_udp $UDP_OPEN
    for n in $(seq "$RUNS"); do
        if have_tool portolan; then
            icmp_rest
            run_tool R4 portolan "$n" portolan -sU -Pn -n -T4 --top-ports 100 "$TGT_IP"
            [[ -n $ports ]] || ports=$(udp_ports "$OUT/R4-portolan-$n.xml")
        fi
        if have_tool nmap; then
            icmp_rest
            run_tool R4 nmap "$n" nmap -sU -Pn -n -T4 --top-ports 100 "$TGT_IP"
            [[ -n $ports ]] || ports=$(udp_ports "$OUT/R4-nmap-$n.xml")
        fi
        if [[ -n $ports ]]; then
            icmp_rest
            run_tool R4 masscan "$n" "${MASSCAN[@]}" "-pU:$ports" --rate "$MASSCAN_RATE" "$TGT_IP"
        else
            log "R4: no port list from portolan or nmap: masscan not run"
        fi
    done
    stop_udp
    echo "$ports" >"$OUT/R4-ports.txt"
}

# D1: five more hosts on the scanner's segment, each a namespace with a macvlan on the
# target's eth0 (its own MAC, so each answers ARP for itself alone).
add_segment_hosts() {
    local i=0 addr ns
    for addr in $D1_HOSTS; do
        i=$((i + 1))
        ns="$P-l$i"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n "$TGT" link add link eth0 name "mv$i" type macvlan mode bridge
        ip -n "$TGT" link set "mv$i" netns "$ns"
        ip -n "$ns" link set "mv$i" name eth0
        ip -n "$ns" link set eth0 address "$(printf '02:00:c6:12:40:%02x' $((0x10 + i)))"
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
    done
}

del_namespaces() {  # del_namespaces INFIX : removes $P-INFIX1, $P-INFIX2, ...
    local ns
    for ns in $(ip netns list | awk -v p="$P-$1" 'index($1, p) == 1 {print $1}'); do
        ip netns del "$ns"
    done
}

# D2: the target routes 198.19.0.0/16 instead of answering for all of it: five hosts on
# point-to-point veths; the rest is routed to a veth going nowhere (both ends in the
# target), where nft rejects every packet with an ICMP host unreachable, as a router
# whose ARP fails does, with no ICMP rate limit (the mask is put back afterwards).
add_routed_hosts() {
    local i=0 addr ns
    D2_RATEMASK=$(ip netns exec "$TGT" cat /proc/sys/net/ipv4/icmp_ratemask)
    ip -n "$TGT" route del local "$SWEEP" dev lo table local
    ip -n "$TGT" link add d2sink type veth peer name d2sinkp
    ip -n "$TGT" link set d2sink up
    ip -n "$TGT" link set d2sinkp up
    ip -n "$TGT" route add "$D2_NET" dev d2sink
    ip netns exec "$TGT" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward;
        echo 0 > /proc/sys/net/ipv4/icmp_ratemask'
    ip netns exec "$TGT" nft -f - <<EOF
table ip d2 {
    chain empties {
        type filter hook forward priority 0; policy accept;
        oifname "d2sink" reject with icmp type host-unreachable
    }
}
EOF
    for addr in $D2_HOSTS; do
        i=$((i + 1))
        ns="$P-r$i"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n "$TGT" link add "r$i" type veth peer name eth0 netns "$ns"
        ip -n "$TGT" addr add "$D2_LINK/32" dev "r$i"
        ip -n "$TGT" link set "r$i" up
        ip -n "$TGT" route add "$addr/32" dev "r$i"
        ip -n "$ns" addr add "$addr/32" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" route add "$D2_LINK/32" dev eth0
        ip -n "$ns" route add default via "$D2_LINK"
        [[ $addr == "$D2_QUIET" ]] && ip netns exec "$ns" nft -f - <<EOF
table ip quiet {
    chain in {
        type filter hook input priority 0; policy accept;
        icmp type { echo-request, timestamp-request } drop
    }
}
EOF
    done
    return 0
}

del_routed_hosts() {
    del_namespaces r
    ip netns exec "$TGT" nft delete table ip d2
    ip -n "$TGT" link del d2sink
    ip netns exec "$TGT" sh -c "echo 0 > /proc/sys/net/ipv4/ip_forward;
        echo $D2_RATEMASK > /proc/sys/net/ipv4/icmp_ratemask"
    ip -n "$TGT" route add local "$SWEEP" dev lo
}

# check_reach ADDR... : every address answers a TCP connect to a closed port with a
# RST (bounded: 5 tries of 1 s each); fails loudly otherwise.
check_reach() {
    ip netns exec "$SCAN" python3 -c '
import socket, sys, time
bad = []
for addr in sys.argv[1:]:
    for _ in range(5):
        s = socket.socket()
        s.settimeout(1.0)
        try:
            s.connect((addr, 9))
            break
        except ConnectionRefusedError:
            break
        except OSError:
            time.sleep(0.2)
        finally:
            s.close()
    else:
        bad.append(addr)
if bad:
    sys.exit("bench: no answer from " + " ".join(bad))' "$@"
}

# ping_round SCENARIO RUN NET : portolan and nmap -sn, one after the other.
ping_round() {
    local scen=$1 n=$2 net=$3 tool
    for tool in portolan nmap; do
        have_tool "$tool" && run_tool "$scen" "$tool" "$n" "$tool" "${PING[@]}" "$net"
    done
    return 0
}

scenario_D1() {
    local n
    add_segment_hosts
    # shellcheck disable=SC2086
    check_reach $D1_HOSTS
    for n in $(seq "$RUNS"); do ping_round D1 "$n" "$D1_NET"; done
    del_namespaces l
}

scenario_D2() {
    local n
    add_routed_hosts
    # shellcheck disable=SC2086
    check_reach $D2_HOSTS
    for n in $(seq "$RUNS"); do ping_round D2 "$n" "$D2_NET"; done
    del_routed_hosts
}

# lab_facts TRUTH : "scanner-namespace<TAB>interface<TAB>tcp ports<TAB>udp ports<TAB>
# addresses" from svc.py's JSON truth (ports comma-separated in ascending order,
# addresses space-separated in the truth's order).
lab_facts() {
    python3 - "$1" <<'EOF'
import json, sys
truth = json.load(open(sys.argv[1]))
svcs = truth["services"]
ports = lambda proto: ",".join(str(p) for p in sorted({s["port"] for s in svcs
                                                        if s["proto"] == proto}))
addrs = list(dict.fromkeys(s["addr"] for s in svcs))
print("\t".join([truth["scanner_ns"], truth.get("scanner_if", "eth0"), ports("tcp"),
                 ports("udp"), " ".join(addrs)]))
EOF
}

# V1: version detection of the service lab's daemons, portolan and nmap with the same
# arguments, from the lab's scanner namespace. A lab that does not come up is reported
# (V1_ERROR) and the other scenarios' results are still written.
scenario_V1() {
    local n tool truth="$OUT/V1-truth.json" facts lab_ns lab_if tcp udp addrs
    log "V1: building the service lab $LAB (tests/net/svc.py up)"
    LAB_UP=1
    if ! python3 "$ROOT/tests/net/svc.py" up --prefix "$LAB" >"$truth" 2>>"$OUT/V1-lab.log"; then
        V1_ERROR="the service lab did not come up (svc.py up; see bench/out/$P/V1-lab.log)"
        log "V1: $V1_ERROR"
        lab_down
        return 0
    fi
    if ! facts=$(lab_facts "$truth"); then
        V1_ERROR="svc.py up printed no usable truth (bench/out/$P/V1-truth.json)"
        log "V1: $V1_ERROR"
        lab_down
        return 0
    fi
    IFS=$'\t' read -r lab_ns lab_if tcp udp addrs <<<"$facts"
    RUN_NS=$lab_ns RUN_IF=$lab_if NSTAT_NS=""
    for n in $(seq "$RUNS"); do
        for tool in portolan nmap; do
            # shellcheck disable=SC2086
            have_tool "$tool" && run_tool V1 "$tool" "$n" "$tool" -sS -sU -sV -Pn -n -T4 \
                -p "T:$tcp,U:$udp" $addrs
        done
    done
    RUN_NS=$SCAN RUN_IF=eth0 NSTAT_NS=$TGT
    lab_down
}

write_meta() {
    local rev
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    git diff --quiet HEAD -- 2>/dev/null || rev="$rev+dirty"
    BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
    BENCH_NPROC="$(nproc)" \
    BENCH_CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    BENCH_MEM="$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)" \
    BENCH_KERNEL="$(uname -r)" \
    BENCH_CMDLINE="$CMDLINE" \
    BENCH_REV="$rev" \
    BENCH_NOTE="$PORTOLAN_NOTE" \
    BENCH_NMAP="$(nmap --version | head -1)" \
    BENCH_MASSCAN="$(masscan --version 2>/dev/null | grep -m1 -i 'masscan version')" \
    BENCH_RUNS="$RUNS" BENCH_TIMEOUT="$TOOL_TIMEOUT" BENCH_NMAP_TIMEOUT="$NMAP_TIMEOUT" \
    BENCH_MASSCAN_RATE="$MASSCAN_RATE" BENCH_MASSCAN_MAX_RATE="$MASSCAN_MAX_RATE" \
    BENCH_SCENARIOS="$SCENARIOS" \
    BENCH_TCP_OPEN="$TCP_OPEN" BENCH_TCP_DROP="$TCP_DROP" BENCH_UDP_OPEN="$UDP_OPEN" \
    BENCH_UDP_PORTS="$(cat "$OUT/R4-ports.txt" 2>/dev/null || true)" \
    BENCH_ICMP_BURST="$ICMP_BURST" \
    BENCH_SCAN_IP="$SCAN_IP" BENCH_TGT_IP="$TGT_IP" \
    BENCH_D1_NET="$D1_NET" BENCH_D1_HOSTS="$D1_HOSTS" \
    BENCH_D2_NET="$D2_NET" BENCH_D2_HOSTS="$D2_HOSTS" BENCH_D2_QUIET="$D2_QUIET" \
    BENCH_V1_TRUTH="$OUT/V1-truth.json" BENCH_V1_ERROR="$V1_ERROR" \
    BENCH_ALL_SCENARIOS="$ALL_SCENARIOS" \
    BENCH_LOAD="$LOAD_START (start), $(cut -d' ' -f1-3 /proc/loadavg) (end)" \
    python3 "$ROOT/bench/report.py" --write-meta "$OUT/scenarios.json"
}

main() {
    mkdir -p "$OUT"
    : >"$OUT/runs.tsv"
    : >"$OUT/commands.tsv"
    bash scripts/setup-test-deps.sh >&2
    if has V1 && ! bash scripts/setup-service-daemons.sh >&2; then
        log "V1: scripts/setup-service-daemons.sh failed (svc.py up will say what is missing)"
    fi
    PORTOLAN_NOTE="release build"
    if ! have_tool portolan; then
        PORTOLAN_NOTE="not run (--tools ${TOOLS[*]})"
    elif ! cargo build --release -p portolan >&2; then
        log "cargo build failed: benchmarking the peers only"
        PORTOLAN_NOTE="build FAILED, not run"
        local t kept=()
        for t in "${TOOLS[@]}"; do [[ $t == portolan ]] || kept+=("$t"); done
        TOOLS=("${kept[@]}")
    fi
    [[ $SCENARIOS == V1 ]] || build_network
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    log "scenarios: $SCENARIOS"
    local scen
    for scen in $SCENARIOS; do
        case $scen in
            connect-*) scenario_connect "$scen" ;;
            *) "scenario_$scen" ;;
        esac
    done
    write_meta
    local rc=0
    python3 bench/report.py "$OUT" "$REPORT" || rc=$?
    log "wrote $REPORT (raw results in $OUT)"
    cat "$REPORT"
    if [[ $PORTOLAN_NOTE == "build FAILED, not run" ]]; then
        log "portolan was not benchmarked (build failed)"
        rc=1
    fi
    if [[ -n $V1_ERROR ]]; then
        log "V1 was not run: $V1_ERROR"
        rc=1
    fi
    return "$rc"
}

main
