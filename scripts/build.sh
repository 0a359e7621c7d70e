#!/usr/bin/env bash
# Builds Portolan (release) on a Debian machine that has only Rust, Python 3 and git:
# installs the TLS library's development files (libssl-dev, pkg-config) first when
# they are missing (needs root then), then runs `cargo build --release`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! pkg-config --exists openssl 2>/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "build: libssl-dev and pkg-config are missing; install them (as root: apt-get install libssl-dev pkg-config)" >&2
        exit 1
    fi
    echo "build: installing libssl-dev pkg-config"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    apt-get install -y -qq --no-install-recommends libssl-dev pkg-config </dev/null
fi
cargo build --release
