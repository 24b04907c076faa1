#!/usr/bin/env bash
# `sealwatch sbom --format json` against Trivy 0.59.1 (package listing, no scanners) and Syft 1.18.1 on every
# fixture image: medians of $RUNS interleaved runs (hyperfine) and peak RSS (GNU time). Copy the output into
# BENCHMARKS.md.
source "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
build_sealwatch
install_peers
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export TRIVY_CACHE_DIR="$WORK/trivy-cache" SYFT_CHECK_FOR_APP_UPDATE=false TRIVY_DISABLE_VEX_NOTICE=1

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
for name in alpine-3.20 distroless-base debian-bookworm-minbase alpine-3.9.4 alpine-3.10.2; do
  path=$(jq -r --arg n "$name" '.images[] | select(.name==$n) | .path' "$SHARED/fixtures/images/MANIFEST.json")
  format=$(jq -r --arg n "$name" '.images[] | select(.name==$n) | .format' "$SHARED/fixtures/images/MANIFEST.json")
  input="$SHARED/$path"
  if [ "$format" = oci-layout ]; then sw="oci:$input"; sy="oci-dir:$input"; else sw="docker-archive:$input"; sy="docker-archive:$input"; fi
  echo "## $name"
  hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$WORK/$name.md" \
    -n "sealwatch sbom" "$CARGO_TARGET_DIR/release/sealwatch sbom -q --no-cache --format json $sw" \
    -n "sealwatch sbom (cached)" "$CARGO_TARGET_DIR/release/sealwatch sbom -q --cache-dir $WORK/cache --format json $sw" \
    -n "trivy" "$TRIVY image -q --input $input --scanners '' --list-all-pkgs --format json --cache-backend memory" \
    -n "syft" "$SYFT -q $sy -o json" >/dev/null
  cat "$WORK/$name.md"
  echo "peak RSS MiB: sealwatch $(peak_rss_mib "$SEALWATCH" sbom -q --no-cache --format json "$sw")," \
    "trivy $(peak_rss_mib "$TRIVY" image -q --input "$input" --scanners '' --list-all-pkgs --format json --cache-backend memory)," \
    "syft $(peak_rss_mib "$SYFT" -q "$sy" -o json)"
  echo
done
