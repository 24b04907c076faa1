#!/usr/bin/env bash
# The whole trust chain on this machine, with no internet access beyond the Debian package archive:
# build a small distroless-style image from Debian packages, push it to a throwaway local registry,
# scan it against the sample advisories, attest the scan, sign the image, decide admission for a
# signed and an unsigned image with a Kyverno policy, and replay a recorded event stream through
# Falco rules. Everything it starts or writes is removed on exit.
#
# Knobs (environment):
#   SEALWATCH_BIN               use this sealwatch binary instead of building one (tests set it)
#   SEALWATCH_SKIP_SETUP=1      do not run scripts/setup.sh (the tools are already installed)
#   SEALWATCH_SAMPLE_ADVISORIES the advisories to scan against (default: data/sample-advisories)
#   QUICKSTART_DEBS             where downloaded .deb files are kept between runs
#                               (default: ~/.cache/sealwatch/quickstart-debs)
#   QUICKSTART_REGISTRY         HOST:PORT of a loopback registry to use instead of starting one
#                               (the test harness starts and stops its own)
#   QUICKSTART_KEEP=1           keep the temporary folder (its path is printed) for a look around
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

if [ "${SEALWATCH_SKIP_SETUP:-}" != 1 ]; then
  # shellcheck source=setup.sh
  source scripts/setup.sh
fi
# shellcheck source=../bench/lib.sh
source bench/lib.sh # start_registry / stop_registry (by PID)
# shellcheck source=lib/distroless.sh
source scripts/lib/distroless.sh
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

ADVISORIES="${SEALWATCH_SAMPLE_ADVISORIES:-$ROOT/data/sample-advisories}"
if [ ! -d "$ADVISORIES" ]; then
  echo "error: the sample advisories are missing: $ADVISORIES does not exist" >&2
  echo "       (set SEALWATCH_SAMPLE_ADVISORIES to a folder of OSV records)" >&2
  exit 2
fi
for tool in docker-registry skopeo apt-get dpkg-deb jq python3 curl openssl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (run scripts/setup.sh)" >&2; exit 2; }
done

if [ -n "${SEALWATCH_BIN:-}" ]; then
  SW=$SEALWATCH_BIN
else
  echo "building sealwatch (release) …"
  cargo build --release --locked -q -p sealwatch
  SW="$CARGO_TARGET_DIR/release/sealwatch"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealwatch-quickstart.XXXXXX")
cleanup() {
  stop_registry
  if [ "${QUICKSTART_KEEP:-}" = 1 ]; then
    echo "kept $WORK"
  else
    rm -rf "$WORK" && echo "removed $WORK"
  fi
}
trap cleanup EXIT
# Everything sealwatch writes (blob cache, database) stays in the temporary folder.
export SEALWATCH_CACHE_DIR="$WORK/cache"
export SEALWATCH_DB="$WORK/db/advisories.redb"
# A test key's password, fixed so the chain runs unattended; never use it for a real key.
export COSIGN_PASSWORD="quickstart-only"

step() { printf '\n==> %s\n' "$*"; }
show() { printf '$ %s\n' "$*" | sed "s|$WORK|\$WORK|g; s|$SW|sealwatch|"; }
run() { show "$@"; "$@"; }
run_to() { local out=$1; shift; show "$@"; "$@" >"$out"; } # run, stdout into a file

# ---------------------------------------------------------------------------------------------------
step "1/7 Build a distroless-style image from Debian packages"
DEBS="${QUICKSTART_DEBS:-$HOME/.cache/sealwatch/quickstart-debs}"
PACKAGES=(base-files netbase tzdata ca-certificates libc6 libgcc-s1 "libssl3|libssl3t64")
echo "apt-get download ${PACKAGES[*]//|/ or } (kept in $DEBS)"
DL_DEBS=()
dl_fetch_debs "$DEBS" "${PACKAGES[@]}"
LAYOUT="$WORK/layout"
oci_init "$LAYOUT"
dl_base_rootfs "$WORK/rootfs/base"
oci_add_layer "$LAYOUT" "$WORK/rootfs/base"
for deb in "${DL_DEBS[@]}"; do
  name=$(dpkg-deb -f "$deb" Package)
  dl_package_rootfs "$deb" "$WORK/rootfs/$name"
  [ "$name" = ca-certificates ] && dl_ca_bundle "$WORK/rootfs/$name"
  oci_add_layer "$LAYOUT" "$WORK/rootfs/$name"
  printf '  layer %-16s %s\n' "$name" "$(dpkg-deb -f "$deb" Version)"
done
RUNTIME_CONFIG='{"User":"65532:65532","WorkingDir":"/home/nonroot",
  "Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"]}'
DIGEST=$(oci_commit "$LAYOUT" 1.0 "$RUNTIME_CONFIG")
# The same layers rebuilt a day later: another digest, which nobody signs.
UNSIGNED_DIGEST=$(SOURCE_DATE_EPOCH=$((SOURCE_DATE_EPOCH + 86400)) oci_commit "$LAYOUT" 1.0-rc "$RUNTIME_CONFIG")
echo "image oci:$LAYOUT:1.0  ${#OCI_LAYERS[@]} layers  $DIGEST" | sed "s|$WORK|\$WORK|"
run "$SW" inspect -q "oci:$LAYOUT:1.0"

# ---------------------------------------------------------------------------------------------------
step "2/7 Start a throwaway registry on 127.0.0.1 and push the image"
if [ -n "${QUICKSTART_REGISTRY:-}" ]; then
  REGISTRY_ADDR=$QUICKSTART_REGISTRY
  echo "using the registry on $REGISTRY_ADDR"
else
  start_registry "$WORK/registry"
  echo "docker-registry (pid $REGISTRY_PID) on $REGISTRY_ADDR"
fi
IMAGE="$REGISTRY_ADDR/quickstart/app"
oci_push "$LAYOUT" 1.0 "$IMAGE:1.0"
oci_push "$LAYOUT" 1.0-rc "$IMAGE:1.0-rc"
echo "pushed $IMAGE:1.0 ($DIGEST)"
echo "pushed $IMAGE:1.0-rc ($UNSIGNED_DIGEST, the unsigned rebuild)"

# ---------------------------------------------------------------------------------------------------
step "3/7 Scan it against the sample advisories, and sign the result as evidence (scan --attest)"
run "$SW" db import --fresh "$ADVISORIES"
# Two test keys: the scanner's (vuln attestations) and the CI's (image signatures), as a pipeline
# would hold them.
run "$SW" keygen --output-key-prefix "$WORK/scanner"
run "$SW" keygen --output-key-prefix "$WORK/ci"
# How alerts will name the signer: the SHA-256 of the public key's DER encoding.
echo "ci key fingerprint sha256:$(openssl pkey -pubin -in "$WORK/ci.pub" -outform DER | sha256sum | cut -d' ' -f1)"
run "$SW" scan -q --attest --key "$WORK/scanner.key" "$IMAGE:1.0"

# ---------------------------------------------------------------------------------------------------
step "4/7 Check the evidence: the vuln attestation verifies against the scanner's key"
run_to "$WORK/attestations.json" \
  "$SW" verify-attestation --key "$WORK/scanner.pub" --type vuln "$IMAGE@$DIGEST"
# What admission will read from it: who scanned, with which database, when, and what was found.
jq -r '.payload | @base64d | fromjson as $statement
  | $statement.predicate as $v
  | "subject   \($statement.subject[0].name)@sha256:\($statement.subject[0].digest.sha256)",
    "scanner   \($v.scanner.uri)",
    "database  \($v.scanner.db.uri), built \($v.scanner.db.version)",
    "scanned   \($v.metadata.scanStartedOn) .. \($v.metadata.scanFinishedOn)",
    "findings  \([$v.scanner.result.results[]?.vulnerabilities[]?] | length)"' "$WORK/attestations.json"

# ---------------------------------------------------------------------------------------------------
step "5/7 Sign the image with the CI key"
run "$SW" sign --key "$WORK/ci.key" "$IMAGE@$DIGEST"
run "$SW" verify --key "$WORK/ci.pub" "$IMAGE:1.0" >/dev/null

# ---------------------------------------------------------------------------------------------------
step "6/7 Admission: Kyverno policies admit the signed, scanned image and deny the unsigned rebuild"
# The shipped keyed policies, pointed at this registry and these keys: the seed's signature check,
# and the evidence policy (signed by CI and a fresh vuln attestation without fixable CRITICALs).
template_policy() {
  python3 - "$IMAGE" "$@" <<'PY'
import re, sys
image, policy_file, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
policy = open(policy_file).read().replace('"ghcr.io/your-org/*"', f'"{image.rsplit("/", 1)[0]}/*"')
blocks = list(re.finditer(r"( *)-----BEGIN PUBLIC KEY-----\n.*?-----END PUBLIC KEY-----\n", policy, flags=re.S))
if len(blocks) != len(keys):
    sys.exit(f"{policy_file}: {len(blocks)} public key blocks, expected {len(keys)}")
for block, key_file in reversed(list(zip(blocks, keys))):
    indent = block.group(1)
    pem = "".join(f"{indent}{line}\n" for line in open(key_file).read().strip().splitlines())
    policy = policy[:block.start()] + pem + policy[block.end():]
print(policy, end="")
PY
}
mkdir -p "$WORK/policies"
template_policy examples/policies/verify-image-signatures-keyed.yaml "$WORK/ci.pub" \
  >"$WORK/policies/verify-image-signatures-keyed.yaml"
template_policy examples/policies/require-fresh-clean-vuln-attestation-keyed.yaml "$WORK/ci.pub" \
  "$WORK/scanner.pub" >"$WORK/policies/require-fresh-clean-vuln-attestation-keyed.yaml"
pod() {
  cat >"$WORK/pods/$1.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default}
spec:
  containers:
    - name: app
      image: $2
YAML
}
mkdir -p "$WORK/pods"
pod signed "$IMAGE:1.0"
pod unsigned "$IMAGE:1.0-rc"
set +e
run "$SW" policy apply --policy "$WORK/policies" --resource "$WORK/pods/signed.yaml" \
  --resource "$WORK/pods/unsigned.yaml"
status=$?
set -e
[ "$status" -eq 1 ] || { echo "error: expected exactly one denial (exit 1), got exit $status" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------------
step "7/7 Runtime: replay a recorded event stream through Falco rules"
# The recording names the image by the registry and digest of this run.
jq -c --arg image "$IMAGE:1.0" --arg digest "$DIGEST" \
  'if .kind == "container" then .image = $image | .image_digest = $digest else . end' \
  examples/events/shell-in-container.jsonl >"$WORK/events.jsonl"
run "$SW" rules validate examples/rules/shell-in-container.yaml
set +e
# --verify-key / --attestation-key: each alert also says whether the image's signature verifies,
# who signed it (the key's fingerprint) and how many CRITICAL/HIGH CVEs its attested scan lists.
run_to "$WORK/alerts.jsonl" "$SW" watch --rules examples/rules/shell-in-container.yaml \
  --replay "$WORK/events.jsonl" --hostname node-1 --output json \
  --verify-key "$WORK/ci.pub" --attestation-key "$WORK/scanner.pub"
status=$?
set -e
[ "$status" -eq 1 ] || { echo "error: expected alerts (exit 1), got exit $status" >&2; exit 2; }
# Falco's JSON alerts (what falcosidekick receives), one line each: rule, priority, output.
jq -r '"ALERT \(.rule) [\(.priority)]: \(.output)"' "$WORK/alerts.jsonl"

printf '\n==> Done: built, pushed, scanned, attested, signed, admitted/denied and watched %s\n' "$IMAGE@$DIGEST"
