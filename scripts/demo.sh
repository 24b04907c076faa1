#!/usr/bin/env bash
# The main job on a built-in default that needs no internet: inspect the host's own root filesystem.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -q -p sealwatch
"$CARGO_TARGET_DIR/release/sealwatch" inspect "${1:-rootfs:/}"
