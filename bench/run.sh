#!/usr/bin/env bash
# Benchmarks portolan against nmap (both TCP connect scans, -T4) on a test network of
# its own and writes BENCHMARKS.md at the repo root.
#
#   bash bench/run.sh [--runs N] [--scenario all|1|2] [--timeout SECONDS] [--out FILE]
#
# Network (namespaces pb<pid>-scan and pb<pid>-tgt, joined by one veth pair; the root
# namespace is never touched): scanner 198.18.64.1/24, target 198.18.64.2/24, and
# 198.19.0.0/24 routed to the target, which holds it as a local route on lo so every
# address of the /24 answers.
#   Scenario 1: all 65535 TCP ports of 198.18.64.2; open 22,80,443,8080,31337;
#               23,8081,9999,40000 dropped by nft; the rest closed.
#   Scenario 2: ports 1-1000 on each of 198.19.0.0/24 (256 hosts); 22 and 80 open.
# Each tool run is bounded by `timeout`; wall time and peak RSS come from
# /usr/bin/time -v; every port state is scored against the truth (bench/report.py).
# Raw outputs stay in bench/out/<prefix>/ (git-ignored). Torn down on any exit.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

CMDLINE="bench/run.sh${*:+ $*}"
RUNS=1
SCENARIOS="1 2"
TOOL_TIMEOUT=600
REPORT="$ROOT/BENCHMARKS.md"
while (($#)); do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --scenario) [[ $2 == all ]] && SCENARIOS="1 2" || SCENARIOS=$2; shift 2 ;;
        --timeout) TOOL_TIMEOUT=$2; shift 2 ;;
        --out) REPORT=$2; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || { echo "bench/run.sh: --runs 1..99" >&2; exit 2; }

P="pb$$"
SCAN="$P-scan"
TGT="$P-tgt"
OUT="$ROOT/bench/out/$P"
LISTENER_PID=""
OPEN1="22 80 443 8080 31337"
DROP1="23 8081 9999 40000"
OPEN2="22 80"

log() { echo "bench: $*" >&2; }

teardown() {
    set +e
    if [[ -n $LISTENER_PID ]]; then
        kill "$LISTENER_PID" 2>/dev/null
        wait "$LISTENER_PID" 2>/dev/null
        LISTENER_PID=""
    fi
    for ns in "$SCAN" "$TGT"; do
        # Whatever still runs inside our own namespaces (a hung scan) is ours to stop.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    set -e
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
    ip -n "$SCAN" addr add 198.18.64.1/24 dev eth0
    ip -n "$TGT" addr add 198.18.64.2/24 dev eth0
    ip -n "$SCAN" link set eth0 up
    ip -n "$TGT" link set eth0 up
    ip -n "$SCAN" route add 198.19.0.0/24 via 198.18.64.2
    ip -n "$TGT" route add local 198.19.0.0/24 dev lo
    ip netns exec "$TGT" nft -f - <<EOF
table ip bench {
    chain in {
        type filter hook input priority 0; policy accept;
        ip daddr 198.18.64.2 tcp dport { ${DROP1// /, } } drop
    }
}
EOF
}

start_listener() {
    ip netns exec "$TGT" python3 "$ROOT/tests/net/listener.py" --v4-only "$@" \
        >"$OUT/listener.log" 2>&1 &
    LISTENER_PID=$!
    local port
    for _ in $(seq 100); do
        local up=0
        for port in "$@"; do
            ip netns exec "$TGT" ss -ltnH "sport = :$port" | grep -q . && up=$((up + 1))
        done
        ((up == $#)) && return 0
        sleep 0.1
    done
    log "listener did not come up on $*"; return 1
}

stop_listener() {
    kill "$LISTENER_PID" 2>/dev/null || true
    wait "$LISTENER_PID" 2>/dev/null || true
    LISTENER_PID=""
}

# run_tool SCENARIO TOOL RUN ARGS... : one bounded, timed run; appends to runs.tsv.
run_tool() {
    local scen=$1 tool=$2 n=$3
    shift 3
    local bin=$tool
    [[ $tool == portolan ]] && bin="$ROOT/target/release/portolan"
    local base="$OUT/s$scen-$tool-$n"
    local rc=0
    log "scenario $scen, $tool run $n: $tool $* -oX $base.xml"
    ip netns exec "$SCAN" /usr/bin/time -v -o "$base.time" \
        timeout --kill-after=10 "$TOOL_TIMEOUT" "$bin" "$@" -oX "$base.xml" \
        >"$base.log" 2>&1 || rc=$?
    ((rc == 0)) || log "$tool exited $rc (see $base.log)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$tool" "$n" "$rc" "$base.xml" \
        "$base.time" "$base.log" >>"$OUT/runs.tsv"
}

COMMON=(-sT -Pn -n -T4)
ARGS1=(-p- 198.18.64.2)
ARGS2=(-p 1-1000 198.19.0.0/24)

write_meta() {
    local rev note
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    git diff --quiet HEAD -- 2>/dev/null || rev="$rev+dirty"
    note=$PORTOLAN_NOTE
    python3 - "$OUT/scenarios.json" <<EOF
import json, sys
common = "${COMMON[*]}"
def cmd(tool, args):
    return "%s %s %s -oX FILE" % (tool, common, args)
meta = {
  "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
  "nproc": "$(nproc)",
  "cpu": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)",
  "mem": "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)",
  "kernel": "$(uname -r)",
  "cmdline": "$CMDLINE",
  "portolan_rev": "$rev",
  "portolan_note": "$note",
  "nmap_version": "$(nmap --version | head -1)",
  "runs": $RUNS,
  "timeout": $TOOL_TIMEOUT,
  "tools": ["portolan", "nmap"],
  "scenarios": {},
}
if "1" in "$SCENARIOS".split():
    meta["scenarios"]["1"] = {
        "title": "Scenario 1: all 65535 TCP ports of one host",
        "description": "198.18.64.2, one veth hop away: open ${OPEN1// /, }; "
                       "dropped by nft (no answer) ${DROP1// /, }; every other port closed (RST).",
        "targets": "198.18.64.2", "ports": "1-65535",
        "open": [int(p) for p in "$OPEN1".split()],
        "filtered": [int(p) for p in "$DROP1".split()],
        "commands": {t: cmd(t, "${ARGS1[*]}") for t in ("portolan", "nmap")}}
if "2" in "$SCENARIOS".split():
    meta["scenarios"]["2"] = {
        "title": "Scenario 2: 1000 ports on each of 256 hosts",
        "description": "198.19.0.0/24 (a local route on the target's lo answers for every "
                       "address): open ${OPEN2// /, } on every host, ports 1-1000, all else closed.",
        "targets": "198.19.0.0/24", "ports": "1-1000",
        "open": [int(p) for p in "$OPEN2".split()],
        "commands": {t: cmd(t, "${ARGS2[*]}") for t in ("portolan", "nmap")}}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF
}

main() {
    mkdir -p "$OUT"
    : >"$OUT/runs.tsv"
    bash scripts/setup-test-deps.sh >&2
    PORTOLAN_NOTE="release build"
    local tools=(portolan nmap)
    if ! cargo build --release -p portolan >&2; then
        log "cargo build failed: benchmarking nmap only"
        PORTOLAN_NOTE="build FAILED, not run"
        tools=(nmap)
    fi
    write_meta
    build_network
    local n tool
    for scen in $SCENARIOS; do
        local open_var="OPEN$scen" args_var="ARGS$scen[@]"
        # shellcheck disable=SC2086
        start_listener ${!open_var}
        for n in $(seq "$RUNS"); do
            for tool in "${tools[@]}"; do
                run_tool "$scen" "$tool" "$n" "${COMMON[@]}" "${!args_var}"
            done
        done
        stop_listener
    done
    local rc=0
    python3 bench/report.py "$OUT" "$REPORT" || rc=$?
    log "wrote $REPORT (raw results in $OUT)"
    cat "$REPORT"
    if [[ $PORTOLAN_NOTE != "release build" ]]; then
        log "portolan was not benchmarked (build failed)"
        rc=1
    fi
    return "$rc"
}

main
