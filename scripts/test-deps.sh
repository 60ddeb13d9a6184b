#!/usr/bin/env bash
# Installs what the integration tests talk to (the real peers), on a fresh machine.
# Idempotent: skips what is already there. Used by .ci/run and the README.
set -euo pipefail

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v chromium >/dev/null || need_apt+=(chromium)   # the serve listing page, rendered headless
command -v zstd >/dev/null || need_apt+=(zstd)           # decoding zstd responses in the serve tests
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)   # the seed's snippets, http_peer.py
command -v ncat >/dev/null || need_apt+=(ncat)             # half-closing clients (tests/serve.rs), ncat parity (tests/tcp.rs)
command -v microsocks >/dev/null || need_apt+=(microsocks) # a real SOCKS5 server for tcp connect --proxy (tests/tcp.rs)
command -v nginx >/dev/null || need_apt+=(nginx)           # tests/bench.rs: open-loop rate, h2c and h2 over TLS, chunked answers, CPU verdict
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "please install: ${need_apt[*]}" >&2
  fi
fi

# requests and cryptography: from pip, or (pip refusing a system Python) from Debian.
if ! python3 -c 'import requests, cryptography' 2>/dev/null; then
  python3 -m pip install -q requests cryptography \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-requests python3-cryptography >/dev/null
fi

# h2: a raw HTTP/2 client for the h2c limit tests (tests/serve.rs).
if ! python3 -c 'import h2' 2>/dev/null; then
  python3 -m pip install -q h2 \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-h2 >/dev/null
fi

# pproxy: a real SOCKS4 server for tcp connect --proxy-type socks4 (tests/tcp.rs).
if ! python3 -c 'import pproxy' 2>/dev/null; then
  python3 -m pip install -q pproxy || python3 -m pip install -q --break-system-packages pproxy   # no Debian package
fi

# toxiproxy-node-client: an existing Toxiproxy client that drives `wirekit proxy --api`
# (tests/proxy.rs finds it under `npm root -g`).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d "$(npm root -g)/toxiproxy-node-client" ]; then
  npm install -g -q toxiproxy-node-client@4.1.0 >/dev/null
fi

# tshark and capinfos: read the pcapng files of `wirekit proxy --pcap` (tests/proxy.rs).
if ! command -v tshark >/dev/null || ! command -v capinfos >/dev/null; then
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null
fi

# hdrhistogram (PyPI, module hdrh): decodes `wirekit bench --json` histograms (tests/bench.rs).
if ! python3 -c 'import hdrh' 2>/dev/null; then
  python3 -m pip install -q hdrhistogram \
    || python3 -m pip install -q --break-system-packages hdrhistogram
fi

# kubernetes-validate (PyPI): checks deploy/kubernetes/*.yaml against Kubernetes' schemas (tests/bench.rs).
if ! command -v kubernetes-validate >/dev/null; then
  python3 -m pip install -q kubernetes-validate \
    || python3 -m pip install -q --break-system-packages kubernetes-validate
fi
