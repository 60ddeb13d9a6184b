#!/usr/bin/env bash
# `wirekit proxy` beside the relays people use, in one run on loopback: iperf3 single
# stream direct, through wirekit proxy, through socat and through an `ncat --sh-exec`
# relay, first where the kernel places them, then (2+ cores) with the iperf3 client
# alone on CPU 0 and its server and the relay on CPU 1; the relay's own latency
# (1-byte ping-pong p50, proxy minus direct); throughput with --pcap on and with a
# latency=0 toxic, as a ratio to the plain relay; each ROUNDS times in turn, medians
# reported. Last, --http mode under wrk against `wirekit serve`, as a ratio to direct.
# Prints markdown table rows.
# Knobs: IPERF_SECS (5), PINGS (20000), ROUNDS (3), WRK_SECS (5), NO_BUILD=1 with WIREKIT_BIN=path (smoke runs).
source "$(dirname "$0")/lib.sh"

IPERF_SECS=${IPERF_SECS:-5}
PINGS=${PINGS:-20000}
WIREKIT=${WIREKIT_BIN:-$WIREKIT}

apt_need iperf3 iperf3
apt_need ncat ncat
apt_need socat socat
apt_need wrk wrk
apt_need taskset util-linux
[ -n "${NO_BUILD:-}" ] || build_release
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

ROUNDS=${ROUNDS:-3}
# Every process runs under `taskset -c CPUS` (taskset execs it, so $! is its PID); ANY
# is every CPU, the kernel's choice.
ANY="0-$(($(nproc) - 1))"
# median V...: the middle value.
median() { python3 -c 'import statistics,sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

# relay NAME PORT UPSTREAM_PORT CPUS [ARGS...]: start a relay on PORT to UPSTREAM_PORT.
relay() {
  local name=$1 port=$2 up=$3 cpus=$4; shift 4
  case $name in
    wirekit) taskset -c "$cpus" "$WIREKIT" -q proxy "127.0.0.1:$port" "127.0.0.1:$up" "$@" 2>/dev/null & ;;
    socat) taskset -c "$cpus" socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$up" 2>/dev/null & ;;
    ncat) taskset -c "$cpus" ncat -l -k 127.0.0.1 "$port" --sh-exec "ncat 127.0.0.1 $up" & ;;
  esac
  PIDS+=($!)
  wait_listen "$port"
}

# iperf PORT CPUS: Gbit/s of one iperf3 stream to PORT, the client on CPUS.
iperf() {
  taskset -c "$2" timeout $((IPERF_SECS + 20)) iperf3 -c 127.0.0.1 -p "$1" -t "$IPERF_SECS" -J \
    | python3 -c 'import json,sys; b=json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]; print(f"{b/1e9:.2f}")'
}

# iperf_rows TAG CLIENT_CPUS SERVER_CPUS WHAT...: ROUNDS rounds of the WHATs in turn
# (direct, wirekit, socat, ncat; pcap: wirekit --pcap, then a sync so that its
# writeback does not spill into the next run; toxic: wirekit with a latency=0
# toxic); sets <TAG>_<what> to the medians.
iperf_rows() {
  local tag=$1 ccpu=$2 scpu=$3 iport r
  shift 3
  local -A port got
  iport=$(free_port)
  taskset -c "$scpu" iperf3 -s -p "$iport" >/dev/null 2>&1 & PIDS+=($!)
  wait_listen "$iport"
  for r in "$@"; do
    port[$r]=$(free_port)
    case $r in
      direct) port[$r]=$iport ;;
      pcap) relay wirekit "${port[$r]}" "$iport" "$scpu" --pcap "$TMP/cap.pcapng" ;;
      toxic) relay wirekit "${port[$r]}" "$iport" "$scpu" --toxic latency:latency=0 ;;
      *) relay "$r" "${port[$r]}" "$iport" "$scpu" ;;
    esac
  done
  for _ in $(seq "$ROUNDS"); do
    for r in "$@"; do
      got[$r]="${got[$r]:-} $(iperf "${port[$r]}" "$ccpu")"
      [ "$r" != pcap ] || sync
    done
  done
  for r in "$@"; do
    # shellcheck disable=SC2086
    printf -v "${tag}_$r" '%s' "$(median ${got[$r]})"
    echo "iperf3 $tag $r:${got[$r]}" >&2
  done
}

# Free placement (the kernel's choice), then fixed placement on 2+ cores: the iperf3
# client alone on CPU 0, its server and the relay on CPU 1, the same for every relay;
# then the relay with a capture and with a toxic beside the plain relay.
iperf_rows free "$ANY" "$ANY" direct wirekit socat ncat
if [ "$(nproc)" -ge 2 ]; then iperf_rows placed 0 1 direct wirekit socat ncat; fi
iperf_rows cap "$ANY" "$ANY" wirekit toxic pcap

# Ping-pong: an echo server, then PINGS 1-byte round trips direct, through the proxy
# and through socat, ROUNDS times in turn; the medians of the p50s.
EPORT=$(free_port)
"$WIREKIT" -q tcp listen "127.0.0.1:$EPORT" -k --echo 2>/dev/null & PIDS+=($!)
wait_listen "$EPORT"
P=$(free_port); relay wirekit "$P" "$EPORT" "$ANY"
S=$(free_port); relay socat "$S" "$EPORT" "$ANY"
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
pds="" pps="" pss=""
for _ in $(seq "$ROUNDS"); do pds="$pds $(p50 "$EPORT")"; pps="$pps $(p50 "$P")"; pss="$pss $(p50 "$S")"; done
echo "ping-pong p50s: direct$pds; wirekit$pps; socat$pss" >&2
# shellcheck disable=SC2086
pd=$(median $pds); pp=$(median $pps); ps=$(median $pss)

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
echo "Each figure is the median of $ROUNDS runs taken in turn (every run is on stderr)."
echo
echo "| scenario | direct | wirekit proxy | socat | ncat --sh-exec | wirekit ÷ socat | wirekit ÷ direct |"
echo "|---|---|---|---|---|---|---|"
echo "| iperf3 single stream, ${IPERF_SECS} s, free placement (Gbit/s) | $free_direct | $free_wirekit | $free_socat | $free_ncat | $(ratio "$free_wirekit" "$free_socat") | $(ratio "$free_wirekit" "$free_direct") |"
if [ -n "${placed_direct:-}" ]; then
  echo "| iperf3 single stream, ${IPERF_SECS} s, client on CPU 0, server and relay on CPU 1 (Gbit/s) | $placed_direct | $placed_wirekit | $placed_socat | $placed_ncat | $(ratio "$placed_wirekit" "$placed_socat") | $(ratio "$placed_wirekit" "$placed_direct") |"
fi
echo "| 1-byte ping-pong p50, $PINGS round trips (µs; last column: proxy minus direct) | $pd | $pp | $ps (+$(python3 -c "print(f'{$ps - $pd:.1f}')")) | – | – | +$(python3 -c "print(f'{$pp - $pd:.1f}')") µs |"
echo "| iperf3 with --pcap (Gbit/s; ÷ plain relay) | – | $cap_pcap | – | – | – | $(ratio "$cap_pcap" "$cap_wirekit") |"
echo "| iperf3 with a latency=0 toxic (Gbit/s; ÷ plain relay) | – | $cap_toxic | – | – | – | $(ratio "$cap_toxic" "$cap_wirekit") |"
echo "| --http, wrk 32 conns, 1 KiB file from serve (req/s; ÷ direct) | $wd | $wh | – | – | – | $(ratio "$wh" "$wd") |"
echo
echo "(--pcap wrote $(du -h "$TMP/cap.pcapng" | cut -f1).)"
