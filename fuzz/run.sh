#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's instrumentation on the nightly toolchain
# (the flags cargo-fuzz passes, so cargo-fuzz itself is not needed) and runs each
# one for a bounded time. Nothing here touches the network.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   # default 60 s, every target
#
# A crash stops that target and leaves its input in fuzz/artifacts/<target>/; the
# script then exits 1 after the other targets have run. Corpora grow in
# fuzz/corpus/<target>/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(parse_reply parse_frame service_db service_match)
fi
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo +nightly build --release --target "$triple" "${bins[@]}"
failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "fuzz/run.sh: $t for ${secs}s"
    if ! "target/$triple/release/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" "corpus/$t" 2>"artifacts/$t.log"; then
        failed+=("$t")
        tail -30 "artifacts/$t.log"
    else
        grep -E '^(#[0-9]+ *DONE|Done [0-9]+ runs)' "artifacts/$t.log" | tail -1 || true
    fi
done
if ((${#failed[@]})); then
    echo "fuzz/run.sh: crashed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz/run.sh: no crash in ${targets[*]}"
