#!/usr/bin/env bash
# TLS benchmark: wirekit beside openssl, in the same run, on loopback.
#   1. handshakes/second: `openssl s_time -new` (full handshakes, TLS 1.3) against
#      `wirekit tcp listen -k --tls` and against `openssl s_server`, same client.
#   2. a SIZE (default 1 GiB) transfer over TLS: `wirekit tcp connect --tls
#      --zero-source SIZE` into `wirekit tcp listen --tls --discard`, beside
#      `head -c SIZE /dev/zero | openssl s_client` into `openssl s_server`.
#   3. `wirekit serve --tls` beside nginx `ssl` (1 worker, TLS 1.3), servers on
#      CPU 0 and clients on CPU 1: 1 KiB keep-alive req/s (wrk -c64), handshakes/s
#      (wrk with `Connection: close`, which resumes the previous connection's
#      session; and full handshakes with `openssl s_time -new`, one and 4 at a
#      time; then again with each server held to SBUDGET % of CPU 0, so that the
#      server and not the client is the limit), 1 MiB req/s (wrk -c16); then HTTP/2, `h2load -c64 -m10`
#      for 1 KiB and 1 MiB over h2c and over TLS (ALPN h2) beside nginx `http2`,
#      and TLS 1 MiB again with the servers held to SBUDGET % (h2load is the limit).
#      Beside each rate, the server's CPU time per request (/proc/PID/stat).
# Every server uses the same ECDSA P-256 certificate (made by `wirekit cert`).
# Prints markdown tables with wirekit's ratio to the peer (higher is better).
#
# Environment: WIREKIT (binary; default: build --release), SECS (seconds per
# handshake run, default 10), SIZE (default 1G), RUNS (transfer runs, best kept; default 3),
# PARTS (default "tcp serve": parts 1-2 and 3; "handshake": part 3's handshake rows only;
# "h2": part 3's HTTP/2 rows only), DUR (seconds per serve run, default 5),
# ROUNDS (serve runs per figure, the tools taking turns, best kept; default 3),
# SBUDGET (percent of CPU 0 each server gets in the budgeted handshake and h2 rows; default 15).
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
PARTS=${PARTS:-tcp serve}
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-3}
SBUDGET=${SBUDGET:-15}
percent_ok SBUDGET "$SBUDGET"

tmp=$(mktemp -d)
pids=()
cgroups=() # made by budget (below)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.2
  # A cgroup can go once its process has: give nginx's worker a moment more.
  for g in "${cgroups[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -d "$g" ] && ! rmdir "$g" 2>/dev/null || break; sleep 0.2; done
  done
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

echo "machine: $(machine)"
if part tcp; then
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

echo
echo "| scenario | wirekit | openssl | wirekit / openssl |"
echo "|---|---|---|---|"
echo "| TLS 1.3 full handshakes/s (server; client \`openssl s_time -new\`, ${SECS} s) | $hs_wk | $hs_os | $(ratio "$hs_wk" "$hs_os")× |"
echo "| $SIZE over TLS, MB/s (best of $RUNS; wirekit connect→listen vs s_client→s_server) | $tr_wk | $tr_os | $(ratio "$tr_wk" "$tr_os")× |"
fi

part serve || part handshake || part h2 || exit 0
# --- 3. serve over TLS and HTTP/2 beside nginx
apt_need wrk wrk
apt_need nginx nginx
apt_need h2load nghttp2-client
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
chmod 755 "$tmp" # nginx workers run as www-data
site=$tmp/site
mkdir -p "$site"
head -c 1024 /dev/urandom >"$site/1k.bin"
head -c $((1 << 20)) /dev/urandom >"$site/1m.bin"
chmod 644 "$site"/*.bin
sleep 2.5 # wirekit keeps small files in memory once unchanged for 2 s

P_WT=$(free_port) # wirekit --tls (HTTP/1.1, and h2 by ALPN)
P_WC=$(free_port) # wirekit plain (HTTP/1.1, and h2c)
P_NT=$(free_port) # nginx ssl http2
P_NC=$(free_port) # nginx http2 (h2c)
taskset -c 0 "$WIREKIT" -q serve "$site" -p "$P_WT" --backlog 4096 --tls --cert "$CERT" --key "$KEY" >/dev/null 2>"$tmp/wt.err" &
WT_PID=$!
pids+=($!)
taskset -c 0 "$WIREKIT" -q serve "$site" -p "$P_WC" >/dev/null 2>"$tmp/wc.err" &
WC_PID=$!
pids+=($!)
cat >"$tmp/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 30000;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err;
daemon off;
events { worker_connections 25000; }
http {
$(nginx_http_common "$tmp")
  ssl_protocols TLSv1.3;
  ssl_certificate $CERT;
  ssl_certificate_key $KEY;
  server { listen 127.0.0.1:$P_NT ssl http2 backlog=4096; root $site; }
  server { listen 127.0.0.1:$P_NC http2; root $site; }
}
NGINX
taskset -c 0 nginx -c "$tmp/nginx.conf" -p "$tmp" &
NG_PID=$!
pids+=($!)
for p in "$P_WT" "$P_WC" "$P_NT" "$P_NC"; do wait_listen "$p"; done
sleep 0.5
NG_WORKER=$(pgrep -P "$NG_PID")
# Every server must really serve the files (TLS 1.3, the same certificate), or the figures mean nothing.
for f in 1k.bin 1m.bin; do
  for u in "https://localhost:$P_WT" "https://localhost:$P_NT"; do
    for v in --http1.1 --http2; do
      got=$(curl -s --cacert "$tmp/ca.pem" --tlsv1.3 "$v" -o /dev/null -w '%{http_code} %{http_version}' "$u/$f")
      want="200 1.1"
      [ "$v" = --http2 ] && want="200 2"
      [ "$got" = "$want" ] || { echo "$u/$f ($v) answered: $got" >&2; exit 1; }
    done
  done
  for u in "http://127.0.0.1:$P_WC" "http://127.0.0.1:$P_NC"; do
    got=$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' "$u/$f")
    [ "$got" = "200 2" ] || { echo "$u/$f (h2c) answered: $got" >&2; exit 1; }
  done
done

# load PID UNIT CMD...: run the client CMD (wrk, h2load or s_time) on CPU 1
# against the server PID; prints "rate server-CPU-µs", the rate in requests (or
# connections) per second and the server's CPU per request, or with UNIT MB
# in MB/s of the bytes received (h2load counts unfinished streams' bytes too)
# and CPU per MB; "0 0" when it failed.
load() {
  local pid=$1 unit=$2 a b t0 t1 out
  shift 2
  a=$(cpu_ticks "$pid")
  t0=$(now)
  out=$(timeout $((DUR + 60)) taskset -c 1 "$@" 2>&1 || true)
  t1=$(now)
  b=$(cpu_ticks "$pid")
  python3 - "$out" "$a" "$b" "$(getconf CLK_TCK)" "$t0" "$t1" "$unit" <<'PY'
import re, sys
out, a, b, hz, t0, t1, unit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
n, secs, nbytes, failed = 0, 1.0, 0, 0
if m := re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", out):  # wrk
    n = int(m.group(1))
    secs = float(m.group(2)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(3)]
    nbytes = float(m.group(4)) * {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m.group(5)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)
elif m := re.search(r"finished in ([\d.]+)s, ", out):  # h2load
    d = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    n, failed, secs = int(d.group(1)), int(d.group(2)) + int(d.group(3)), float(m.group(1))
    nbytes = int(re.search(r"traffic: \S+ \((\d+)\) total", out).group(1))
elif m := re.search(r"(\d+) connections in [\d.]+s", out):  # s_time: its own time is CPU time
    n, secs = int(m.group(1)), t1 - t0
if failed > n / 100:
    print(f"warning: {failed} failed of {n}: {out[-300:]}", file=sys.stderr)
per = nbytes / 1e6 if unit == "MB" else n  # CPU per MB for throughput rows
rate = nbytes / secs / 1e6 if unit == "MB" else n / secs
print("%.0f %.1f" % (rate, (b - a) / hz / per * 1e6 if per else 0))
PY
}
# best PID_A PID_B UNIT CMD_A... -- CMD_B...: ROUNDS runs of each, taking turns
# (so neither gets the quiet moments); "rate_a cpu_a rate_b cpu_b", the highest
# rate and the lowest CPU per request of the rounds.
best() {
  local pa=$1 pb=$2 unit=$3 ra=0 rb=0 ca=1e9 cb=1e9 r c
  shift 3
  local -a A=()
  while [ "$1" != -- ]; do
    A+=("$1")
    shift
  done
  shift
  for _ in $(seq "$ROUNDS"); do
    read -r r c < <(load "$pa" "$unit" "${A[@]}")
    ra=$(python3 -c "print(max($ra, $r))")
    ca=$(python3 -c "print(min($ca, $c) if $c else $ca)")
    read -r r c < <(load "$pb" "$unit" "$@")
    rb=$(python3 -c "print(max($rb, $r))")
    cb=$(python3 -c "print(min($cb, $c) if $c else $cb)")
  done
  echo "$ra $ca $rb $cb"
}
row() { # label unit rate_w cpu_w rate_n cpu_n
  local per=""
  [ "$2" = MB ] && per=/MB
  printf '| %s | %s (%s µs%s) | %s (%s µs%s) | %s× (CPU %s×) |\n' "$1" "$3" "$4" "$per" "$5" "$6" "$per" "$(ratio "$3" "$5")" "$(ratio "$4" "$6")"
}
# side LABEL UNIT PORT_WIREKIT PORT_NGINX WIREKIT_PID CMD... (the last word with
# PORT in it): one row, wirekit beside nginx.
side() {
  local label=$1 unit=$2 pw=$3 pn=$4 wpid=$5 a b c d
  shift 5
  local -a W=("$@") N=("$@")
  W[-1]=${W[-1]//PORT/$pw}
  N[-1]=${N[-1]//PORT/$pn}
  read -r a b c d < <(best "$wpid" "$NG_WORKER" "$unit" "${W[@]}" -- "${N[@]}")
  row "$label" "$unit" "$a" "$b" "$c" "$d"
}
WRK=(wrk -t1 -d "${DUR}s")
H2=(h2load -t1 -c 64 -m 10 -D "$DUR")
# Handshakes: wrk with `Connection: close` makes a new connection for every
# request, 32 at a time, and drives the most; but it resumes (its SSL_clear keeps
# the session, and the next ClientHello offers the last ticket: both servers send
# two), so its handshakes are PSK + ECDHE, without certificate or signature (the
# check below shows both servers resume). Full handshakes: `openssl s_time -new`,
# one at a time, and 4 of them at once (summed).
HS=(wrk -t1 -c 32 -d "${DUR}s" -H "Connection: close")
ST=(openssl s_time -new -time "$DUR" -connect)
cat >"$tmp/stimes.sh" <<'SH'
# stimes.sh N SECS HOST:PORT: N `openssl s_time -new` at once; prints their summed count.
for _ in $(seq "$1"); do openssl s_time -new -time "$2" -connect "$3" 2>/dev/null & done | awk -v secs="$2" '
  /^[0-9]+ connections in [0-9.]+s/ { n += $1 }
  END { printf "%d connections in %ss\n", n, secs }'
SH
ST4=(bash "$tmp/stimes.sh" 4 "$DUR")
# budget PCT: hold the TLS servers (wirekit's, nginx's worker) to PCT % of CPU 0 each
# (cpu_cgroup); budget 0 lifts it. Returns 1, saying so, when the cpu controller is
# not writable (not root); any other failure ends the run (called as an `if`
# condition, the function runs without `set -e`).
cgroot=/sys/fs/cgroup/cpu
put() { # VALUE FILE
  echo "$1" >"$2" || { echo "bench/tls.sh: cannot write $1 to $2" >&2; exit 1; }
}
budget() {
  local pid g
  if [ ! -w "$cgroot" ]; then
    echo "(no budget rows: the cgroup v1 cpu controller at $cgroot is not writable; run as root)"
    return 1
  fi
  for pid in "$WT_PID" "$NG_WORKER"; do
    g=$cgroot/wirekit-tls-$pid
    if [ "$1" = 0 ]; then
      put "$pid" "$cgroot/cgroup.procs"
      rmdir "$g" || { echo "bench/tls.sh: cannot remove $g" >&2; exit 1; }
    else
      cgroups+=("$g")
      cpu_cgroup "$g" "$1"
      put "$pid" "$g/cgroup.procs"
    fi
  done
}
# resumed PORT: "Reused" when the server resumes a TLS 1.3 session from its ticket, as wrk does.
resumed() {
  local get='GET /1k.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
  printf "$get" | timeout 10 openssl s_client -connect "127.0.0.1:$1" -tls1_3 -sess_out "$tmp/sess.$1" -ign_eof >/dev/null 2>&1
  printf "$get" | timeout 10 openssl s_client -connect "127.0.0.1:$1" -tls1_3 -sess_in "$tmp/sess.$1" -ign_eof 2>/dev/null |
    grep -a -m1 -oE '^(Reused|New)' || echo "no answer"
}

echo
echo "serve: servers on CPU 0, clients on CPU 1, best of $ROUNDS runs of ${DUR}s each, taking turns; load average $(cut -d' ' -f1-3 /proc/loadavg)"
table_head() {
  echo
  echo "| scenario (rate; server CPU per request) | wirekit | nginx | wirekit / nginx (CPU: lower is better) |"
  echo "|---|---|---|---|"
}
part serve || part handshake && table_head
part serve && side "HTTPS 1 KiB keep-alive, wrk -c64 (req/s)" req "$P_WT" "$P_NT" "$WT_PID" "${WRK[@]}" -c 64 "https://127.0.0.1:PORT/1k.bin"
if part serve || part handshake; then
side "TLS 1.3 resumed handshakes/s, wrk -c32 \`Connection: close\` (1 KiB each)" req "$P_WT" "$P_NT" "$WT_PID" "${HS[@]}" "https://127.0.0.1:PORT/1k.bin"
side "TLS 1.3 full handshakes/s, \`openssl s_time -new\` (one at a time)" req "$P_WT" "$P_NT" "$WT_PID" "${ST[@]}" "127.0.0.1:PORT"
side "TLS 1.3 full handshakes/s, 4 × \`openssl s_time -new\` at once" req "$P_WT" "$P_NT" "$WT_PID" "${ST4[@]}" "127.0.0.1:PORT"
# Server capacity: a handshake costs the client (s_time, wrk) about what it costs the
# server, so above both servers wait on a client at 100 % of CPU 1 and tie. Held to
# SBUDGET % of CPU 0 each (budget, above), the servers are the limit.
if budget "$SBUDGET"; then
  side "TLS 1.3 resumed handshakes/s, wrk -c32 \`Connection: close\`, servers at $SBUDGET % of CPU 0" req "$P_WT" "$P_NT" "$WT_PID" "${HS[@]}" "https://127.0.0.1:PORT/1k.bin"
  side "TLS 1.3 full handshakes/s, 4 × \`openssl s_time -new\`, servers at $SBUDGET % of CPU 0" req "$P_WT" "$P_NT" "$WT_PID" "${ST4[@]}" "127.0.0.1:PORT"
  budget 0
fi
echo
echo "Session resumption (what wrk's handshakes are): wirekit $(resumed "$P_WT"), nginx $(resumed "$P_NT")."
fi
if part serve || part h2; then
table_head
part serve && side "HTTPS 1 MiB, wrk -c16 (MB/s)" MB "$P_WT" "$P_NT" "$WT_PID" "${WRK[@]}" -c 16 "https://127.0.0.1:PORT/1m.bin"
side "h2c 1 KiB, h2load -c64 -m10 (req/s)" req "$P_WC" "$P_NC" "$WC_PID" "${H2[@]}" "http://127.0.0.1:PORT/1k.bin"
side "h2c 1 MiB, h2load -c64 -m10 (MB/s)" MB "$P_WC" "$P_NC" "$WC_PID" "${H2[@]}" "http://127.0.0.1:PORT/1m.bin"
side "h2 over TLS 1 KiB, h2load -c64 -m10 (req/s)" req "$P_WT" "$P_NT" "$WT_PID" "${H2[@]}" "https://127.0.0.1:PORT/1k.bin"
side "h2 over TLS 1 MiB, h2load -c64 -m10 (MB/s)" MB "$P_WT" "$P_NT" "$WT_PID" "${H2[@]}" "https://127.0.0.1:PORT/1m.bin"
# h2load decrypting on CPU 1 is the limit of the row above (both servers below 100 %).
if budget "$SBUDGET"; then
  side "h2 over TLS 1 MiB, h2load -c64 -m10, servers at $SBUDGET % of CPU 0 (MB/s)" MB "$P_WT" "$P_NT" "$WT_PID" "${H2[@]}" "https://127.0.0.1:PORT/1m.bin"
  budget 0
fi
fi
# Under -q nothing but errors reaches stderr, whatever the clients sent (wrk: an IP address as SNI).
for f in wt wc; do
  if [ -s "$tmp/$f.err" ]; then
    echo "wirekit wrote to stderr under -q:" >&2
    head -5 "$tmp/$f.err" >&2
  fi
done
