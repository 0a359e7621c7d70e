#!/usr/bin/env bash
# The full check, as CI runs it: test dependencies, formatting, lints, then every test
# (release: the network tests run real scans on a namespace test network, as root).
set -euo pipefail
# ip, ss and nft live in sbin; a non-login root shell may lack it in PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup-test-deps.sh
bash scripts/setup-service-daemons.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --release --no-fail-fast
