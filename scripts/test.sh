#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then runs every test of every crate, including the
# conformance suites that read ../shared (with CI set, missing shared data fails them instead of skipping).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

export SEALWATCH_SHARED="${SEALWATCH_SHARED:-$(cd .. && pwd)/shared}"
cargo test --workspace --locked --no-fail-fast
