#!/usr/bin/env bash
# Build sealwatch's own container image the way distroless images are made: a statically linked
# binary, the Debian packages base-files, netbase, tzdata and ca-certificates unpacked (not
# installed), the nonroot user (65532), and no shell or package manager. The result is an OCI image
# layout, pushed to a registry, then checked, scanned, attested and signed with sealwatch itself.
#
#   scripts/build-image.sh [--registry HOST[:PORT]] [--repository REPO] [--key cosign.key]
#                          [--db ADVISORIES.redb] [--out DIR] [--write-deploy]
#
#   --registry      push there (default: a throwaway registry on 127.0.0.1, stopped on exit)
#   --repository    repository name (default: sealwatch/sealwatch)
#   --key           cosign key to sign and attest with (password from COSIGN_PASSWORD); default: a
#                   throwaway key generated into DIR, for trying the script out
#   --db            vulnerability database to scan with (default: the sample advisories, which are
#                   a demo, not a feed; see data/sample-advisories/README.md)
#   --out           where the OCI layout, the digest and a Helm values file go
#                   (default: $CARGO_TARGET_DIR/sealwatch-image)
#   --write-deploy  point deploy/ (the Helm chart's values, admission.yaml, daemonset.yaml) at
#                   REGISTRY/REPOSITORY@DIGEST. Use it with the registry your clusters pull from.
#
# Environment: SEALWATCH_BIN uses an already built static binary; SEALWATCH_SKIP_SETUP=1 skips
# scripts/setup.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

REGISTRY="" REPOSITORY="sealwatch/sealwatch" KEY="" DB="" OUT="" WRITE_DEPLOY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) REGISTRY=$2; shift 2 ;;
    --repository) REPOSITORY=$2; shift 2 ;;
    --key) KEY=$2; shift 2 ;;
    --db) DB=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --write-deploy) WRITE_DEPLOY=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ "${SEALWATCH_SKIP_SETUP:-}" != 1 ]; then
  # shellcheck source=setup.sh
  source scripts/setup.sh
fi
# shellcheck source=../bench/lib.sh
source bench/lib.sh # start_registry / stop_registry (by PID)
# shellcheck source=lib/distroless.sh
source scripts/lib/distroless.sh
for tool in skopeo apt-get dpkg-deb jq strip; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (run scripts/setup.sh)" >&2; exit 2; }
done
[ -z "$KEY" ] || [ -f "$KEY" ] || { echo "error: --key $KEY: no such file" >&2; exit 2; }
[ -z "$DB" ] || [ -f "$DB" ] || { echo "error: --db $DB: no such file" >&2; exit 2; }

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
OUT="${OUT:-$CARGO_TARGET_DIR/sealwatch-image}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealwatch-image.XXXXXX")
trap 'stop_registry; rm -rf "$WORK"' EXIT
export SEALWATCH_CACHE_DIR="$WORK/cache"
step() { printf '\n==> %s\n' "$*"; }

# ---------------------------------------------------------------------------------------------------
step "Static binary"
if [ -n "${SEALWATCH_BIN:-}" ]; then
  BIN=$SEALWATCH_BIN
else
  TARGET="$(uname -m)-unknown-linux-gnu"
  # crt-static links glibc in; sealwatch resolves names only through getaddrinfo's files/dns
  # sources, which the image's /etc/nsswitch.conf names.
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked -q -p sealwatch --target "$TARGET"
  BIN="$CARGO_TARGET_DIR/$TARGET/release/sealwatch"
fi
# ldd (from libc-bin, on every Debian) says so for static and static-pie executables alike.
if ! ldd "$BIN" 2>&1 | grep -q -E 'not a dynamic executable|statically linked'; then
  echo "error: $BIN is not statically linked:" >&2
  ldd "$BIN" >&2 || true
  exit 2
fi
echo "$BIN: statically linked, $(du -h "$BIN" | cut -f1)"

# ---------------------------------------------------------------------------------------------------
step "Image: base, Debian packages, the binary"
DL_DEBS=()
dl_fetch_debs "$WORK/debs" base-files netbase tzdata ca-certificates
rm -rf "$OUT/oci"
oci_init "$OUT/oci"
dl_base_rootfs "$WORK/rootfs/base"
oci_add_layer "$OUT/oci" "$WORK/rootfs/base"
for deb in "${DL_DEBS[@]}"; do
  name=$(dpkg-deb -f "$deb" Package)
  dl_package_rootfs "$deb" "$WORK/rootfs/$name"
  [ "$name" = ca-certificates ] && dl_ca_bundle "$WORK/rootfs/$name"
  oci_add_layer "$OUT/oci" "$WORK/rootfs/$name"
  printf '  layer %-16s %s\n' "$name" "$(dpkg-deb -f "$deb" Version)"
done
mkdir -p "$WORK/rootfs/app/usr/bin"
install -m 0755 "$BIN" "$WORK/rootfs/app/usr/bin/sealwatch"
# The release profile keeps line tables for local backtraces; the image does without them.
strip --strip-debug "$WORK/rootfs/app/usr/bin/sealwatch"
oci_add_layer "$OUT/oci" "$WORK/rootfs/app"
echo "  layer sealwatch        $VERSION"
RUNTIME_CONFIG=$(jq -n -c --arg version "$VERSION" '{
  User: "65532:65532", WorkingDir: "/home/nonroot", Entrypoint: ["/usr/bin/sealwatch"],
  Env: ["PATH=/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
  Labels: {"org.opencontainers.image.title": "sealwatch", "org.opencontainers.image.version": $version,
           "org.opencontainers.image.licenses": "Apache-2.0"}}')
DIGEST=$(oci_commit "$OUT/oci" "$VERSION" "$RUNTIME_CONFIG")
echo "oci:$OUT/oci:$VERSION $DIGEST"

# ---------------------------------------------------------------------------------------------------
step "Check: no shell, no package manager program, not root"
"$BIN" inspect -q --format json "oci:$OUT/oci:$VERSION" >"$WORK/inspect.json"
jq -r '"shells: \(.shells | length), package managers with a program: \([.package_managers[] | select(.program != null)] | length), setuid: \(.setuid | length), runs as root: \(.run_as.root)"' "$WORK/inspect.json"
jq -e '(.shells | length) == 0 and ([.package_managers[] | select(.program != null)] | length) == 0
  and (.setuid | length) == 0 and .run_as.root == false' "$WORK/inspect.json" >/dev/null || {
  echo "error: the image has a shell, a package manager, a setuid file or runs as root" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------------
step "Push"
if [ -z "$REGISTRY" ]; then
  start_registry "$WORK/registry"
  REGISTRY=$REGISTRY_ADDR
  echo "throwaway registry on $REGISTRY (pid $REGISTRY_PID)"
fi
IMAGE="$REGISTRY/$REPOSITORY"
skopeo copy -q --preserve-digests ${REGISTRY_PID:+--dest-tls-verify=false} \
  "oci:$OUT/oci:$VERSION" "docker://$IMAGE:$VERSION"
echo "pushed $IMAGE:$VERSION ($DIGEST)"

# ---------------------------------------------------------------------------------------------------
step "Scan, attest (vuln and CycloneDX), sign"
if [ -z "$KEY" ]; then
  export COSIGN_PASSWORD="${COSIGN_PASSWORD:-build-image-throwaway}"
  "$BIN" keygen --force --output-key-prefix "$OUT/throwaway"
  KEY="$OUT/throwaway.key"
  echo "(a throwaway key: pass --key for one your policies trust)"
fi
if [ -z "$DB" ]; then
  DB="$WORK/advisories.redb"
  "$BIN" db import --db "$DB" --fresh data/sample-advisories
fi
"$BIN" scan -q --db "$DB" --offline --attest --key "$KEY" "$IMAGE@$DIGEST"
"$BIN" sbom -q --attest --key "$KEY" -o "$OUT/sbom.cdx.json" "$IMAGE@$DIGEST"
"$BIN" sign --key "$KEY" "$IMAGE@$DIGEST"

# ---------------------------------------------------------------------------------------------------
step "Result"
echo "$IMAGE@$DIGEST" >"$OUT/image"
cat >"$OUT/values-image.yaml" <<YAML
# helm install … -f $OUT/values-image.yaml
image:
  repository: $IMAGE
  digest: $DIGEST
YAML
echo "image:       $IMAGE@$DIGEST"
echo "layout:      oci:$OUT/oci:$VERSION"
echo "Helm values: $OUT/values-image.yaml"
if [ -n "$WRITE_DEPLOY" ]; then
  [ -z "${REGISTRY_PID:-}" ] || { echo "error: --write-deploy needs --registry (the throwaway registry is gone after this script)" >&2; exit 2; }
  sed -i "s|^  repository: .*|  repository: $IMAGE|; s|^  digest: .*|  digest: \"$DIGEST\"|" \
    deploy/helm/sealwatch-admission/values.yaml
  sed -i "s|^\( *image: \)\"\?[^\"]*sealwatch[^\"]*\"\?$|\1\"$IMAGE@$DIGEST\"|" \
    deploy/admission.yaml deploy/daemonset.yaml
  echo "deploy/ now pulls $IMAGE@$DIGEST"
fi
