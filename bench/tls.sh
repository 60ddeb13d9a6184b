#!/usr/bin/env bash
# TLS benchmark: wirekit beside openssl, in the same run, on loopback.
#   1. handshakes/second: `openssl s_time -new` (full handshakes, TLS 1.3) against
#      `wirekit tcp listen -k --tls` and against `openssl s_server`, same client.
#   2. a SIZE (default 1 GiB) transfer over TLS: `wirekit tcp connect --tls
#      --zero-source SIZE` into `wirekit tcp listen --tls --discard`, beside
#      `head -c SIZE /dev/zero | openssl s_client` into `openssl s_server`.
# Both servers use the same ECDSA P-256 certificate (made by `wirekit cert`).
# Prints a markdown table with wirekit's ratio to openssl (higher is better).
#
# Environment: WIREKIT (binary; default: build --release), SECS (seconds per
# handshake run, default 10), SIZE (default 1G), RUNS (transfer runs, best kept; default 3).
given=${WIREKIT:-}
source "$(dirname "$0")/lib.sh"
apt_need openssl openssl
if [ -n "$given" ]; then
  WIREKIT=$given
else
  build_release
  WIREKIT="${CARGO_TARGET_DIR:-$ROOT/target}/release/wirekit"
fi
SECS=${SECS:-10}
SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
BYTES=$(numfmt --from=iec "$SIZE")

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$WIREKIT" -q cert ca --out "$tmp" >/dev/null 2>&1
"$WIREKIT" -q cert new localhost 127.0.0.1 --ca "$tmp/ca.pem" --ca-key "$tmp/ca-key.pem" --out "$tmp" >/dev/null
CERT="$tmp/localhost+1.pem"
KEY="$tmp/localhost+1-key.pem"

mkfifo "$tmp/fifo"
exec 7<>"$tmp/fifo"

# handshakes/second of the server on PORT, measured by s_time's count over wall time
handshakes() {
  local port=$1 start end out n
  start=$(now)
  out=$(timeout $((SECS + 30)) openssl s_time -connect "127.0.0.1:$port" -new -time "$SECS" 2>/dev/null)
  end=$(now)
  n=$(echo "$out" | grep -m1 -oE '^[0-9]+ connections in [0-9.]+s' | cut -d' ' -f1)
  echo "$n $start $end" | awk '{ printf "%.0f", $1 / ($3 - $2) }'
}

# --- 1. handshakes/second
port=$(free_port)
"$WIREKIT" -q tcp listen "127.0.0.1:$port" -k --tls --cert "$CERT" --key "$KEY" --discard >/dev/null 2>&1 &
pids+=($!); wait_listen "$port"
hs_wk=$(handshakes "$port")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

port=$(free_port)
openssl s_server -cert "$CERT" -key "$KEY" -accept "$port" -rev -quiet >/dev/null 2>&1 &
pids+=($!); wait_listen "$port"
hs_os=$(handshakes "$port")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# --- 2. SIZE over TLS: wall time from the client's start to the server's exit
transfer_wirekit() {
  local port start end server
  port=$(free_port)
  "$WIREKIT" -q tcp listen "127.0.0.1:$port" --tls --cert "$CERT" --key "$KEY" --discard >/dev/null 2>&1 &
  server=$!; wait_listen "$port"
  start=$(now)
  "$WIREKIT" -q tcp connect "localhost:$port" --tls --cacert "$tmp/ca.pem" --zero-source "$SIZE" >/dev/null 2>&1
  wait "$server"
  end=$(now)
  echo "$start $end" | awk -v b="$BYTES" '{ printf "%.0f", b / ($2 - $1) / 1e6 }'
}
transfer_openssl() {
  local port start end server
  port=$(free_port)
  # s_server quits at the end of its stdin: give it a FIFO this shell holds open.
  openssl s_server -cert "$CERT" -key "$KEY" -accept "$port" -naccept 1 >/dev/null 2>&1 <"$tmp/fifo" &
  server=$!; wait_listen "$port"
  start=$(now)
  head -c "$SIZE" /dev/zero | openssl s_client -connect "127.0.0.1:$port" -CAfile "$tmp/ca.pem" >/dev/null 2>&1 || true
  wait "$server" 2>/dev/null || true
  end=$(now)
  echo "$start $end" | awk -v b="$BYTES" '{ printf "%.0f", b / ($2 - $1) / 1e6 }'
}
best() { sort -n | tail -1; }
tr_wk=$(for _ in $(seq "$RUNS"); do transfer_wirekit; echo; done | best)
tr_os=$(for _ in $(seq "$RUNS"); do transfer_openssl; echo; done | best)

echo "machine: $(machine)"
echo
echo "| scenario | wirekit | openssl | wirekit / openssl |"
echo "|---|---|---|---|"
echo "| TLS 1.3 full handshakes/s (server; client \`openssl s_time -new\`, ${SECS} s) | $hs_wk | $hs_os | $(ratio "$hs_wk" "$hs_os")× |"
echo "| $SIZE over TLS, MB/s (best of $RUNS; wirekit connect→listen vs s_client→s_server) | $tr_wk | $tr_os | $(ratio "$tr_wk" "$tr_os")× |"
