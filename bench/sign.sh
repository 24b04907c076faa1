#!/usr/bin/env bash
# Signing and verification against a real local registry and the loopback Sigstore stand-in:
#   1. registry requests per `sealwatch verify` (counted from docker-registry's access log), for a
#      legacy `.sig` signature and a cosign-v3 bundle referrer, given a digest and given a tag;
#   2. wall time of sign and verify (hyperfine);
#   3. `sealwatch verify-blob` vs sigstore-python 4.5.1 `verify identity --offline` on the same
#      keyless bundle (made by `sealwatch sign-blob` against the stand-in).
# In-process verifications per second (a cached signature manifest) come from
# `cargo bench -p sealwatch-trust --bench verify`. Copy the numbers into BENCHMARKS.md.
#
# Env: SEALWATCH_BIN (skip the release build), RUNS (hyperfine runs, default 7).
source "$(dirname "$0")/lib.sh"
if [ -n "${SEALWATCH_BIN:-}" ]; then SEALWATCH="$SEALWATCH_BIN"; else build_sealwatch; fi
SIGSTORE_PY="$PEERS/sigstore-venv/bin/sigstore"
STAND_IN_NPM="$HOME/.cache/sealwatch/stand-in-npm/node_modules"
for tool in skopeo docker-registry hyperfine node curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/setup.sh)" >&2; exit 2; }
done
[ -x "$SIGSTORE_PY" ] || { echo "missing $SIGSTORE_PY (scripts/setup.sh)" >&2; exit 2; }
[ -d "$STAND_IN_NPM/@sigstore/mock" ] || { echo "missing @sigstore/mock (scripts/setup.sh)" >&2; exit 2; }

WORK=$(mktemp -d)
STAND_IN_PID=
cleanup() {
  if [ -n "$STAND_IN_PID" ]; then kill "$STAND_IN_PID" 2>/dev/null || true; wait "$STAND_IN_PID" 2>/dev/null || true; fi
  stop_registry
  rm -rf "$WORK"
}
trap cleanup EXIT

start_registry "$WORK/registry"
LOG="$WORK/registry/registry.log"
for repo in legacy bundle; do
  skopeo copy --quiet --dest-tls-verify=false "oci:$SHARED/fixtures/images/alpine-3.20" \
    "docker://$REGISTRY_ADDR/bench/$repo:v1"
done
DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REGISTRY_ADDR/bench/legacy:v1")
export COSIGN_PASSWORD=bench
"$SEALWATCH" keygen --output-key-prefix "$WORK/cosign" >/dev/null
"$SEALWATCH" sign --key "$WORK/cosign.key" "$REGISTRY_ADDR/bench/legacy:v1" 2>/dev/null
"$SEALWATCH" sign --bundle-format --key "$WORK/cosign.key" "$REGISTRY_ADDR/bench/bundle:v1" 2>/dev/null

# requests CMD... -> the registry requests CMD made, one "METHOD path status" per line.
requests() {
  local before
  before=$(wc -l < "$LOG")
  "$@" >/dev/null 2>&1
  tail -n +"$((before + 1))" "$LOG" | grep -oE '"(GET|HEAD|PUT|POST|PATCH|DELETE) /v2/[^ ]*' \
    | sed -E 's/sha256:[0-9a-f]{64}/sha256:…/g; s/sha256-[0-9a-f]{64}/sha256-…/g; s/^"//'
}
echo "== registry requests per verify (docker-registry 2.8, no referrers API)"
for case in "legacy@$DIGEST" "legacy:v1" "bundle@$DIGEST" "bundle:v1"; do
  image="$REGISTRY_ADDR/bench/$case"
  list=$(requests "$SEALWATCH" verify --key "$WORK/cosign.pub" "$image")
  echo "verify ${case%%@*}$( [[ $case == *@* ]] && echo ' by digest' || echo ' by tag'): $(echo "$list" | grep -c .) requests"
  echo "$list" | sed 's/^/    /'
done

echo "== wall time"
hyperfine -N --warmup 1 --runs "$RUNS" \
  -n "verify legacy .sig by digest" "$SEALWATCH verify --key $WORK/cosign.pub $REGISTRY_ADDR/bench/legacy@$DIGEST" \
  -n "verify bundle referrer by digest" "$SEALWATCH verify --key $WORK/cosign.pub $REGISTRY_ADDR/bench/bundle@$DIGEST" \
  -n "sign (legacy, appends a layer)" "$SEALWATCH sign --key $WORK/cosign.key $REGISTRY_ADDR/bench/legacy@$DIGEST"

echo "== verify-blob vs sigstore-python on the same keyless bundle"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/stand-in"
NODE_PATH="$STAND_IN_NPM" node "$SHARED/conformance/sigstore/stand-in/server.js" --port "$port" \
  --out "$WORK/stand-in" --lifetime 600 2>"$WORK/stand-in.log" &
STAND_IN_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/stand-in/server.pid" ] && break; sleep 0.1; done
[ -s "$WORK/stand-in/server.pid" ] || { echo "stand-in did not start" >&2; exit 1; }
head -c 65536 /dev/urandom > "$WORK/artifact.bin"
"$SEALWATCH" sign-blob --identity-token-file "$WORK/stand-in/token.txt" \
  --signing-config "$WORK/stand-in/signing_config.json" --bundle "$WORK/artifact.sigstore.json" "$WORK/artifact.bin" 2>/dev/null
IDENTITY=(alice@example.invalid https://oidc.example.invalid)
hyperfine -N --warmup 1 --runs "$RUNS" \
  -n "sealwatch verify-blob" \
  "$SEALWATCH verify-blob --bundle $WORK/artifact.sigstore.json --certificate-identity ${IDENTITY[0]} --certificate-oidc-issuer ${IDENTITY[1]} --trusted-root $WORK/stand-in/trusted_root.json $WORK/artifact.bin" \
  -n "sigstore-python 4.5.1 verify identity --offline" \
  "$SIGSTORE_PY --trust-config $WORK/stand-in/trust_config.json verify identity --offline --bundle $WORK/artifact.sigstore.json --cert-identity ${IDENTITY[0]} --cert-oidc-issuer ${IDENTITY[1]} $WORK/artifact.bin"
echo "peak RSS: sealwatch verify-blob $(peak_rss_mib "$SEALWATCH" verify-blob --bundle "$WORK/artifact.sigstore.json" \
  --certificate-identity "${IDENTITY[0]}" --certificate-oidc-issuer "${IDENTITY[1]}" \
  --trusted-root "$WORK/stand-in/trusted_root.json" "$WORK/artifact.bin") MiB, sigstore-python $(peak_rss_mib \
  "$SIGSTORE_PY" --trust-config "$WORK/stand-in/trust_config.json" verify identity --offline \
  --bundle "$WORK/artifact.sigstore.json" --cert-identity "${IDENTITY[0]}" --cert-oidc-issuer "${IDENTITY[1]}" \
  "$WORK/artifact.bin") MiB"
