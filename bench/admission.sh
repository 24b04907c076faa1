#!/usr/bin/env bash
# `sealwatch admission serve` under load: wrk POSTs a real AdmissionReview (the shared Pod CREATE,
# its image replaced by one signed in a local registry) to /mutate over HTTPS on loopback. The
# first request verifies against the registry; every later one is a verification-cache hit, so this
# measures the cached-decision path (budget: p99 under 2 ms at 2,000 requests/s on 2 cores, zero
# errors). Prints wrk's latency distribution (p50/p90/p99) and requests/s; copy into BENCHMARKS.md.
#
# Env: SEALWATCH_BIN (skip the release build), DURATION (default 20s), CONNECTIONS (32), THREADS (2).
source "$(dirname "$0")/lib.sh"
DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
if [ -n "${SEALWATCH_BIN:-}" ]; then SEALWATCH="$SEALWATCH_BIN"; else build_sealwatch; fi
for tool in wrk skopeo openssl docker-registry curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  stop_registry
  rm -rf "$WORK"
}
trap cleanup EXIT

# A registry holding the alpine fixture, signed with a fresh key.
start_registry "$WORK/registry"
IMAGE="$REGISTRY_ADDR/bench/app:v1"
skopeo copy --quiet --dest-tls-verify=false "oci:$SHARED/fixtures/images/alpine-3.20" "docker://$IMAGE"
export COSIGN_PASSWORD=bench
"$SEALWATCH" keygen --output-key-prefix "$WORK/cosign" >/dev/null
"$SEALWATCH" sign --key "$WORK/cosign.key" "$IMAGE" >/dev/null

# The keyed example policy, pointed at the local registry and the fresh key.
mkdir -p "$WORK/policies"
python3 - "$ROOT/examples/policies/verify-image-signatures-keyed.yaml" "$WORK/cosign.pub" "$REGISTRY_ADDR" \
  > "$WORK/policies/policy.yaml" <<'PY'
import re, sys
policy, key, registry = open(sys.argv[1]).read(), open(sys.argv[2]).read().strip(), sys.argv[3]
indent = " " * 22
policy = re.sub(r"(publicKeys: \|-\n)(?:\s+.*PUBLIC KEY-----\n|\s+[A-Za-z0-9+/=]+\n)+",
                lambda m: m.group(1) + "".join(indent + line + "\n" for line in key.splitlines()), policy)
print(policy.replace("ghcr.io/your-org/*", registry + "/bench/*"), end="")
PY

# The AdmissionReview body.
python3 - "$SHARED/conformance/kyverno/admissionreview/pod-create.raw.json" "$IMAGE" > "$WORK/review.json" <<'PY'
import json, sys
review = json.load(open(sys.argv[1]))
review["request"]["object"]["spec"]["containers"][0]["image"] = sys.argv[2]
print(json.dumps(review))
PY
cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open(os.getenv("REVIEW_BODY"), "r")
wrk.body = file:read("*a")
file:close()
LUA

# TLS and the server.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SEALWATCH" admission serve --quiet --policies "$WORK/policies" --tls-cert "$WORK/tls.crt" \
  --tls-key "$WORK/tls.key" --listen "127.0.0.1:$PORT" 2>"$WORK/server.log" &
SERVER_PID=$!
URL="https://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -fs --cacert "$WORK/tls.crt" "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.05; done

# First request: a real verification against the registry; it must be allowed and pinned.
first=$(curl -s --cacert "$WORK/tls.crt" -H 'Content-Type: application/json' --data-binary @"$WORK/review.json" \
  -w '\n%{time_total}' "$URL/mutate?timeout=10s")
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "first request (registry verification, curl total incl. TLS handshake): $(echo "$first" | tail -1) s"
echo "$first" | head -1 | grep -q '"allowed":true' || { echo "first review not allowed: $first" >&2; cat "$WORK/server.log" >&2; exit 1; }
echo "$first" | head -1 | grep -q '"patchType":"JSONPatch"' || { echo "no patch: $first" >&2; exit 1; }

echo "## cached verification: wrk -t$THREADS -c$CONNECTIONS -d$DURATION POST /mutate"
REVIEW_BODY="$WORK/review.json" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/post.lua" \
  "$URL/mutate?timeout=10s"
echo "## server metrics after the run"
curl -s --cacert "$WORK/tls.crt" "$URL/metrics" | grep -E '^sealwatch_admission_(decisions_total|verification_cache_total|verification_errors_total|rejected_requests_total)'
