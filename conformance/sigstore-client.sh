#!/bin/sh
# sigstore-conformance CLI protocol client: `verify-bundle ARGS...` is `sealwatch verify-blob ARGS...`
# (same flags). The binary is $SEALWATCH_BIN, else `sealwatch` on PATH.
[ "$1" = verify-bundle ] || { echo "unsupported command: $1 (only verify-bundle)" >&2; exit 2; }
shift; exec "${SEALWATCH_BIN:-sealwatch}" verify-blob "$@"
