#!/usr/bin/env bash
# `wirekit proxy` beside the relays people use, in one run on loopback:
# iperf3 single stream direct, through wirekit proxy, through socat and through an
# `ncat --sh-exec` relay; the relay's own latency (1-byte ping-pong p50, proxy minus
# direct); and throughput with --pcap on and with a latency=0 toxic, as a ratio to the
# plain relay; and --http mode under wrk against `wirekit serve`, as a ratio to direct.
# Prints markdown table rows.
# Knobs: IPERF_SECS (5), PINGS (20000), WRK_SECS (5), NO_BUILD=1 with WIREKIT_BIN=path (smoke runs).
source "$(dirname "$0")/lib.sh"

IPERF_SECS=${IPERF_SECS:-5}
PINGS=${PINGS:-20000}
WIREKIT=${WIREKIT_BIN:-$WIREKIT}

apt_need iperf3 iperf3
apt_need ncat ncat
apt_need socat socat
apt_need wrk wrk
[ -n "${NO_BUILD:-}" ] || build_release
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

# relay NAME PORT UPSTREAM_PORT [ARGS...]: start a relay on PORT to UPSTREAM_PORT.
relay() {
  local name=$1 port=$2 up=$3; shift 3
  case $name in
    wirekit) "$WIREKIT" -q proxy "127.0.0.1:$port" "127.0.0.1:$up" "$@" 2>/dev/null & ;;
    socat) socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$up" & ;;
    ncat) ncat -l -k 127.0.0.1 "$port" --sh-exec "ncat 127.0.0.1 $up" & ;;
  esac
  PIDS+=($!)
  wait_listen "$port"
}

# iperf PORT: Gbit/s of one iperf3 stream to PORT.
iperf() {
  timeout $((IPERF_SECS + 20)) iperf3 -c 127.0.0.1 -p "$1" -t "$IPERF_SECS" -J \
    | python3 -c 'import json,sys; b=json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]; print(f"{b/1e9:.2f}")'
}

IPORT=$(free_port)
iperf3 -s -p "$IPORT" >/dev/null 2>&1 & PIDS+=($!)
wait_listen "$IPORT"

direct=$(iperf "$IPORT")
P=$(free_port); relay wirekit "$P" "$IPORT"; wk=$(iperf "$P")
P=$(free_port); relay socat "$P" "$IPORT"; so=$(iperf "$P")
P=$(free_port); relay ncat "$P" "$IPORT"; nc=$(iperf "$P")
P=$(free_port); relay wirekit "$P" "$IPORT" --pcap "$TMP/cap.pcapng"; pc=$(iperf "$P")
P=$(free_port); relay wirekit "$P" "$IPORT" --toxic latency:latency=0; lt=$(iperf "$P")

# Ping-pong: an echo server, then PINGS 1-byte round trips direct and through the proxy.
EPORT=$(free_port)
"$WIREKIT" -q tcp listen "127.0.0.1:$EPORT" -k --echo 2>/dev/null & PIDS+=($!)
wait_listen "$EPORT"
P=$(free_port); relay wirekit "$P" "$EPORT"
p50() {
  python3 - "$1" "$PINGS" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
t = []
for _ in range(n):
    a = time.perf_counter_ns(); s.sendall(b"x"); s.recv(1); t.append(time.perf_counter_ns() - a)
t.sort(); print(f"{t[len(t)//2]/1000:.1f}")
PY
}
pd=$(p50 "$EPORT"); pp=$(p50 "$P")
P=$(free_port); relay socat "$P" "$EPORT"; ps=$(p50 "$P")

# --http: wrk through the HTTP proxy to `wirekit serve` vs direct (req/s).
WRK_SECS=${WRK_SECS:-5}
mkdir -p "$TMP/site"; head -c 1024 /dev/zero > "$TMP/site/1k.bin"
SPORT=$(free_port)
"$WIREKIT" -q serve "$TMP/site" -p "$SPORT" >/dev/null 2>&1 & PIDS+=($!)
wait_listen "$SPORT"
HPORT=$(free_port)
"$WIREKIT" -q proxy "127.0.0.1:$HPORT" "127.0.0.1:$SPORT" --http 2>/dev/null & PIDS+=($!)
wait_listen "$HPORT"
rps() { wrk -t2 -c32 -d"${WRK_SECS}s" "http://127.0.0.1:$1/1k.bin" | awk '/Requests\/sec/ {print $2}'; }
wd=$(rps "$SPORT"); wh=$(rps "$HPORT")

echo "## proxy ($(machine))"
echo
echo "| scenario | direct | wirekit proxy | socat | ncat --sh-exec | wirekit ÷ socat | wirekit ÷ direct |"
echo "|---|---|---|---|---|---|---|"
echo "| iperf3 single stream, ${IPERF_SECS} s (Gbit/s) | $direct | $wk | $so | $nc | $(ratio "$wk" "$so") | $(ratio "$wk" "$direct") |"
echo "| 1-byte ping-pong p50, $PINGS round trips (µs; last column: proxy minus direct) | $pd | $pp | $ps (+$(python3 -c "print(f'{$ps - $pd:.1f}')")) | – | – | +$(python3 -c "print(f'{$pp - $pd:.1f}')") µs |"
echo "| iperf3 with --pcap (Gbit/s; ÷ plain relay) | – | $pc | – | – | – | $(ratio "$pc" "$wk") |"
echo "| iperf3 with a latency=0 toxic (Gbit/s; ÷ plain relay) | – | $lt | – | – | – | $(ratio "$lt" "$wk") |"
echo "| --http, wrk 32 conns, 1 KiB file from serve (req/s; ÷ direct) | $wd | $wh | – | – | – | $(ratio "$wh" "$wd") |"
echo
echo "(--pcap wrote $(du -h "$TMP/cap.pcapng" | cut -f1).)"
