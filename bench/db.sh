#!/usr/bin/env bash
# Vulnerability database at scale: 150,000 synthetic-but-realistic OSV records (bench/gen-osv.py, package
# names from the debian fixture and common ecosystem packages) -> `db import` time and peak RSS, database
# size, `db update` from a loopback mirror (full download, then the all-unchanged 304 path), and a scan of
# the debian fixture with a warm database, next to Trivy 0.59.1's package listing of the same image (Trivy
# cannot load a vulnerability DB offline, so its listing time is a lower bound for its scan). Copy the output
# into BENCHMARKS.md.
source "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
build_sealwatch
install_peers
WORK=$(mktemp -d)
HTTP_PID=""
cleanup() {
  if [ -n "$HTTP_PID" ]; then kill "$HTTP_PID" 2>/dev/null || true; wait "$HTTP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export TRIVY_CACHE_DIR="$WORK/trivy-cache" TRIVY_DISABLE_VEX_NOTICE=1
RECORDS="${RECORDS:-150000}"
IMAGE="$SHARED/fixtures/images/debian-bookworm-minbase"
sw() { "$SEALWATCH" "$@"; }
# wall_rss CMD... -> "wall_s peak_rss_mib" of one run (GNU time)
wall_rss() {
  /usr/bin/time -o "$WORK/time" -f '%e %M' "$@" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; return 1; }
  awk '{printf "%.2f s, %d MiB", $1, $2/1024}' "$WORK/time"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
sw sbom -q --no-cache --format json "oci:$IMAGE" >"$WORK/sbom.json"
mkdir -p "$WORK/osv"
python3 "$ROOT/bench/gen-osv.py" "$WORK/sbom.json" "$WORK/osv" "$RECORDS" >/dev/null
echo "data: $RECORDS records in $(ls "$WORK"/osv/*.zip | wc -l) zips, $(du -sm "$WORK/osv" | cut -f1) MiB compressed"

echo "## db import (all zips, fresh database), 3 runs"
for i in 1 2 3; do
  rm -f "$WORK/db.redb"
  echo "run $i: $(wall_rss "$SEALWATCH" db import --fresh --db "$WORK/db.redb" "$WORK"/osv/*.zip)"
done
echo "database size: $(du -m "$WORK/db.redb" | cut -f1) MiB ($(sw db status --json --db "$WORK/db.redb" | jq '.records') records, $(sw db status --json --db "$WORK/db.redb" | jq '.packages') package keys)"

echo "## db update from a loopback mirror (python3 -m http.server: Last-Modified / If-Modified-Since)"
mkdir -p "$WORK/mirror"
ecosystems=""
for z in "$WORK"/osv/*.zip; do
  eco=$(basename "$z" .zip); eco=${eco//_/ }
  mkdir -p "$WORK/mirror/$eco"; mv "$z" "$WORK/mirror/$eco/all.zip"
  ecosystems="${ecosystems:+$ecosystems,}$eco"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/mirror" "$port" >/dev/null 2>&1 &
HTTP_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.05; done
up() { "$SEALWATCH" db update -q --db "$WORK/upd.redb" --base-url "http://127.0.0.1:$port" --ecosystems "$ecosystems"; }
echo "first update (download + build): $(wall_rss "$SEALWATCH" db update -q --db "$WORK/upd.redb" --base-url "http://127.0.0.1:$port" --ecosystems "$ecosystems")"
echo "second update (all 304, nothing rewritten): $(wall_rss "$SEALWATCH" db update -q --db "$WORK/upd.redb" --base-url "http://127.0.0.1:$port" --ecosystems "$ecosystems")"
up
echo "archives kept: $(du -sm "$WORK/upd.redb.archives" | cut -f1) MiB"

echo "## scan of the debian fixture against the 150k-record database"
sw scan -q --offline --cache-dir "$WORK/cache" --db "$WORK/db.redb" --format json "oci:$IMAGE" >"$WORK/report.json" || true
echo "findings: $(jq '[.results[].vulnerabilities[]] | length' "$WORK/report.json")"
trivy_warm() { "$TRIVY" image -q --input "$IMAGE" --scanners '' --list-all-pkgs --format json --cache-dir "$WORK/trivy-cache"; }
trivy_warm >/dev/null
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$WORK/scan.md" \
  -n "sealwatch scan (warm DB, warm layer cache)" "$SEALWATCH scan -q --offline --cache-dir $WORK/cache --db $WORK/db.redb --format json oci:$IMAGE" \
  -n "sealwatch scan (warm DB, no layer cache)" "$SEALWATCH scan -q --offline --no-cache --db $WORK/db.redb --format json oci:$IMAGE" \
  -n "trivy package listing (fs cache warm)" "$TRIVY image -q --input $IMAGE --scanners '' --list-all-pkgs --format json --cache-dir $WORK/trivy-cache" \
  -n "trivy package listing (no cache)" "$TRIVY image -q --input $IMAGE --scanners '' --list-all-pkgs --format json --cache-backend memory" >/dev/null
cat "$WORK/scan.md"
echo "peak RSS: sealwatch warm $(wall_rss "$SEALWATCH" scan -q --offline --cache-dir "$WORK/cache" --db "$WORK/db.redb" --format json "oci:$IMAGE")," \
  "sealwatch no layer cache $(wall_rss "$SEALWATCH" scan -q --offline --no-cache --db "$WORK/db.redb" --format json "oci:$IMAGE")," \
  "trivy warm $(wall_rss "$TRIVY" image -q --input "$IMAGE" --scanners '' --list-all-pkgs --format json --cache-dir "$WORK/trivy-cache")," \
  "trivy no cache $(wall_rss "$TRIVY" image -q --input "$IMAGE" --scanners '' --list-all-pkgs --format json --cache-backend memory)"
