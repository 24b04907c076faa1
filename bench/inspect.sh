#!/usr/bin/env bash
# Reads every layer of the debian-bookworm-minbase fixture (one 48.7 MB gzip layer) with `sealwatch inspect`
# from the OCI layout and from a local registry, side by side with `pigz -dc` of the same blob (the
# practical floor) and Trivy 0.59.1's package listing of the same layout. Medians of $RUNS interleaved runs
# (hyperfine), peak RSS with GNU time. Results go to stdout; copy them into BENCHMARKS.md.
source "$(dirname "$0")/lib.sh"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
build_sealwatch
install_peers

IMG="$SHARED/fixtures/images/debian-bookworm-minbase"
LAYER=$(jq -r '.images[] | select(.name=="debian-bookworm-minbase") | .layers[0].digest' "$SHARED/fixtures/images/MANIFEST.json")
BLOB="$IMG/blobs/sha256/${LAYER#sha256:}"
WORK=$(mktemp -d)
trap 'stop_registry; rm -rf "$WORK"' EXIT
start_registry "$WORK/registry"
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$IMG:bookworm-minbase" \
  "docker://$REGISTRY_ADDR/bench/debian:minbase"
export TRIVY_CACHE_DIR="$WORK/trivy-cache"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$WORK/inspect.md" \
  -n "pigz -dc (floor)" "pigz -dc $BLOB" \
  -n "sealwatch inspect oci: (no cache)" "$SEALWATCH inspect -q --no-cache --format json oci:$IMG" \
  -n "sealwatch inspect oci: (layer results cached)" "$SEALWATCH inspect -q --cache-dir $WORK/cache --format json oci:$IMG" \
  -n "sealwatch inspect registry (no cache)" "$SEALWATCH inspect -q --no-cache --format json $REGISTRY_ADDR/bench/debian:minbase" \
  -n "trivy package listing" "$TRIVY image -q --input $IMG --scanners '' --list-all-pkgs --format json --cache-backend memory"
cat "$WORK/inspect.md"
echo
echo "peak RSS (MiB):"
echo "  pigz -dc:                  $(peak_rss_mib pigz -dc "$BLOB")"
echo "  sealwatch inspect oci:     $(peak_rss_mib "$SEALWATCH" inspect -q --no-cache --format json "oci:$IMG")"
echo "  sealwatch inspect registry: $(peak_rss_mib "$SEALWATCH" inspect -q --no-cache --format json "$REGISTRY_ADDR/bench/debian:minbase")"
echo "  trivy:                     $(peak_rss_mib "$TRIVY" image -q --input "$IMG" --scanners '' --list-all-pkgs --format json --cache-backend memory)"
