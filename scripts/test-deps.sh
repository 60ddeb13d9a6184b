#!/usr/bin/env bash
# Installs what the integration tests talk to (the real peers), on a fresh machine.
# Idempotent: skips what is already there. Used by .ci/run and the README.
set -euo pipefail

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v chromium >/dev/null || need_apt+=(chromium)   # the serve listing page, rendered headless
command -v zstd >/dev/null || need_apt+=(zstd)           # decoding zstd responses in the serve tests
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "please install: ${need_apt[*]}" >&2
  fi
fi

python3 - <<'PY' || python3 -m pip install -q requests cryptography
import requests, cryptography
PY
