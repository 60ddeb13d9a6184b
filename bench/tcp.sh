#!/usr/bin/env bash
# TCP throughput and idle-connection memory: wirekit beside ncat, socat and iperf3,
# in one run on loopback. Prints markdown table rows with wirekit's ratio to the best peer.
source "$(dirname "$0")/lib.sh"

SIZE=${SIZE:-4G}            # bytes through the stdin→socket→stdout pipe
IPERF_SECS=${IPERF_SECS:-5} # iperf3 run length
IDLE=${IDLE:-10000}         # idle connections held

apt_need ncat ncat
apt_need socat socat
apt_need iperf3 iperf3
apt_need /usr/bin/time time
build_release
BYTES=$(python3 -c "
s='$SIZE'; m={'K':1<<10,'M':1<<20,'G':1<<30}
print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))")

# pipe_run NAME LISTEN_CMD CONNECT_CMD: seconds to move $BYTES through.
pipe_run() {
  local port; port=$(free_port)
  local listen=${2//PORT/$port} connect=${3//PORT/$port}
  bash -c "exec $listen > /dev/null 2>/dev/null" & local lp=$!
  wait_listen "$port"
  local t0; t0=$(now)
  timeout 120 bash -c "head -c $BYTES /dev/zero | $connect > /dev/null 2>/dev/null"
  wait "$lp" 2>/dev/null || true
  elapsed "$t0" "$(now)"
}

gbps() { python3 -c "print(f'{$BYTES * 8 / $1 / 1e9:.2f}')"; }

echo "## TCP ($(machine))"
echo
echo "| scenario | wirekit | ncat | socat | iperf3 | wirekit ÷ best peer |"
echo "|---|---|---|---|---|---|"

# best_of N CMD...: the smallest of N timings.
best_of() {
  local n=$1; shift; local best=""
  for _ in $(seq 1 "$n"); do
    local t; t=$("$@")
    best=$(python3 -c "print(min(x for x in [$t, ${best:-$t}]))")
  done
  echo "$best"
}

w=$(best_of 2 pipe_run wirekit "$WIREKIT -q tcp listen 127.0.0.1:PORT" "$WIREKIT -q tcp connect 127.0.0.1:PORT --send-only")
n=$(best_of 2 pipe_run ncat "ncat -l --recv-only 127.0.0.1 PORT" "ncat --send-only 127.0.0.1 PORT")
s=$(best_of 2 pipe_run socat "socat -u TCP-LISTEN:PORT,reuseaddr,bind=127.0.0.1 STDOUT" "socat -u STDIN TCP:127.0.0.1:PORT")
wg=$(gbps "$w"); ng=$(gbps "$n"); sg=$(gbps "$s")
best=$(python3 -c "print(max($ng, $sg))")
echo "| $SIZE stdin → tcp connect → tcp listen → /dev/null (Gbit/s) | $wg | $ng | $sg | – | $(ratio "$wg" "$best") |"

# Built-in source into --discard, beside iperf3 single stream: ROUNDS alternating runs,
# best of each, so both see the same (possibly shared) machine.
ROUNDS=${ROUNDS:-3}
ig=0; dg=0
for _ in $(seq 1 "$ROUNDS"); do
  port=$(free_port)
  iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 & ip=$!
  wait_listen "$port"
  g=$(iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_SECS" -J 2>/dev/null | python3 -c "import json,sys; print(f\"{json.load(sys.stdin)['end']['sum_received']['bits_per_second']/1e9:.2f}\")")
  wait "$ip" 2>/dev/null || true
  ig=$(python3 -c "print(max($ig, $g))")
  port=$(free_port)
  "$WIREKIT" -q tcp listen "127.0.0.1:$port" --discard --json > /tmp/wirekit-discard.json 2>/dev/null & dp=$!
  wait_listen "$port"
  # Sized to run about as long as iperf3 did.
  zbytes=$(python3 -c "print(int($g * 1e9 / 8 * $IPERF_SECS))")
  "$WIREKIT" -q tcp connect "127.0.0.1:$port" --zero-source "$zbytes" > /dev/null 2>&1
  wait "$dp" 2>/dev/null || true
  g=$(python3 -c "import json; e=[json.loads(l) for l in open('/tmp/wirekit-discard.json')][-1]; print(f\"{e['receive_bits_per_second']/1e9:.2f}\")")
  dg=$(python3 -c "print(max($dg, $g))")
done
echo "| --zero-source → --discard vs iperf3 single stream (Gbit/s) | $dg | – | – | $ig | $(ratio "$dg" "$ig") |"

# RSS holding $IDLE idle connections.
ulimit -n "$(ulimit -Hn)"  # 10,000 each side fits under the usual 20,000
port=$(free_port)
/usr/bin/time -v -o /tmp/wirekit-idle.time "$WIREKIT" -q tcp listen "127.0.0.1:$port" -k --shutdown-timeout 1s > /dev/null 2>/dev/null & tp=$!
wait_listen "$port"
python3 - "$port" "$IDLE" <<'PY'
import socket, sys, time, resource
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    socks.append(socket.create_connection(("127.0.0.1", port)))
time.sleep(2)  # let the server accept and settle every connection
PY
kill -TERM "$(pgrep -P "$tp" || echo "$tp")" 2>/dev/null || true  # the child of time, whatever the binary is called
wait "$tp" 2>/dev/null || true
rss=$(awk -F: '/Maximum resident/ {print $2/1024}' /tmp/wirekit-idle.time)
[ -n "$rss" ] || { echo "tcp.sh: /usr/bin/time recorded no RSS for tcp listen" >&2; exit 1; }
echo "| RSS holding $IDLE idle connections, tcp listen -k (MiB; target ≤ 64) | $(printf %.1f "$rss") | – | – | – | – |"
