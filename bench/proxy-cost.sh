#!/usr/bin/env bash
# The proxy's CPU cost in figures that hold on a busy machine (wall clock swings
# 30 % here): valgrind's instruction count and strace's system-call count of
# `wirekit proxy`, per 1-byte round trip (a ping-pong through it to an echo
# server) and per MiB relayed one way (to a discarding server), each as the
# difference of a long and a short run over their difference.
#
#   bench/proxy-cost.sh OLD_BINARY NEW_BINARY [ARGS...]   # e.g. main's release build and a branch's
# PROXY_ARGS="--toxic latency:latency=0" measures the toxic chains instead of the plain relay.
# Prints one markdown row per figure: each binary's value, and last / first.
source "$(dirname "$0")/lib.sh"
apt_need valgrind valgrind
apt_need strace strace
[ $# -ge 1 ] || { echo "usage: bench/proxy-cost.sh BINARY [BINARY...]" >&2; exit 2; }
read -r -a EXTRA <<<"${PROXY_ARGS:-}"

work=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# Peers, run by the first binary (not measured): an echo server and a discarding one.
EPORT=$(free_port); "$1" -q tcp listen "127.0.0.1:$EPORT" -k --echo 2>/dev/null & PIDS+=($!)
DPORT=$(free_port); "$1" -q tcp listen "127.0.0.1:$DPORT" -k --discard >/dev/null 2>&1 & PIDS+=($!)
wait_listen "$EPORT"; wait_listen "$DPORT"

# client KIND PORT N: N round trips of 1 byte (ping), or N MiB one way (stream).
client() {
  timeout 600 python3 - "$@" <<'PY'
import socket, sys
kind, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if kind == "ping":
    for _ in range(n):
        s.sendall(b"x"); assert s.recv(1) == b"x"
else:
    block = b"\0" * (1 << 20)
    for _ in range(n):
        s.sendall(block)
    s.shutdown(socket.SHUT_WR); s.recv(1)
PY
}

# measure TOOL BIN KIND N: the proxy's instructions (callgrind) or system calls (strace -c) for one run.
measure() {
  local tool=$1 bin=$2 kind=$3 n=$4 out=$work/run up=$EPORT
  [ "$kind" = ping ] || up=$DPORT
  local port; port=$(free_port)
  case $tool in
    ir) valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$bin" -q proxy "127.0.0.1:$port" "127.0.0.1:$up" "${EXTRA[@]}" 2>"$out.err" & ;;
    sys) strace -f -c -o "$out.st" "$bin" -q proxy "127.0.0.1:$port" "127.0.0.1:$up" "${EXTRA[@]}" 2>"$out.err" & ;;
  esac
  local pid=$!
  for _ in $(seq 1 600); do grep -q "listening on" "$out.err" 2>/dev/null && break; sleep 0.1; done
  client "$kind" "$port" "$n"
  sleep 0.3 # the proxy's close of that connection
  # Stop wirekit itself (under strace it is strace's child), so it writes its counts.
  local target; target=$(pgrep -P "$pid" | head -1 || true)
  kill -INT "${target:-$pid}" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  case $tool in
    ir) grep -E '^(summary|totals):' "$out.cg" | head -1 | awk '{print $2}' ;;
    sys) awk '$NF == "total" {print $4}' "$out.st" ;;
  esac
}

echo "| proxy cost$( [ ${#EXTRA[@]} -eq 0 ] || echo " (${EXTRA[*]})") | $(printf '%s | ' "$@")last / first |"
echo "|---|$(printf -- '---|%.0s' "$@")---|"
for spec in "ir:ping:200:2200:instructions per 1-byte round trip" "ir:stream:16:80:instructions per MiB" \
            "sys:ping:200:5200:system calls per 1-byte round trip" "sys:stream:64:320:system calls per MiB"; do
  IFS=: read -r tool kind few many label <<<"$spec"
  row="| $label |"; first=""; last=""
  for bin in "$@"; do
    a=$(measure "$tool" "$bin" "$kind" "$few"); b=$(measure "$tool" "$bin" "$kind" "$many")
    per=$(python3 -c "print(f'{($b - $a) / ($many - $few):.1f}')"); row="$row $per |"
    [ -n "$first" ] || first=$per; last=$per
  done
  echo "$row $(ratio "$last" "$first") |"
done
