#!/usr/bin/env bash
# The main job on a built-in default that needs no internet: inspect the host's own root filesystem, then
# scan it against the small set of real advisories shipped in data/sample-advisories (a SAMPLE, see its README).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -q -p sealwatch
sealwatch="$CARGO_TARGET_DIR/release/sealwatch"
target="${1:-rootfs:/}"
"$sealwatch" inspect "$target"

demo_db="$(mktemp -d)"
trap 'rm -rf "$demo_db"' EXIT
echo
echo "== Vulnerability scan against the SAMPLE advisories in data/sample-advisories (not a full database;"
echo "   run 'sealwatch db update' for real results) =="
"$sealwatch" db import --db "$demo_db/sample.redb" data/sample-advisories/osv >/dev/null
"$sealwatch" scan "$target" --offline --db "$demo_db/sample.redb"
