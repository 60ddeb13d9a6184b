#!/usr/bin/env bash
# wirekit serve beside nginx and python3 -m http.server, in the same run.
# Servers on CPU 0 (taskset -c 0), wrk -t1 on CPU 1; each figure is the best of
# ROUNDS runs of DUR seconds, the tools taking turns.
# Prints a markdown table (see bench/RESULTS.md).
#
#   bench/serve.sh                 # builds --release first if needed
#   DUR=10 WIREKIT=path/to/wirekit bench/serve.sh
#   ONLY=rss IDLE="5000 10000" bench/serve.sh   # the idle-memory rows alone
#   ROWS="1k route" IDLE= bench/serve.sh         # some throughput rows (1k 1m list route), no memory rows
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${DUR:-5}
ROUNDS=${ROUNDS:-5}
IDLE=${IDLE-5000 10000}
ROWS=${ROWS:-1k 1m list route}
want() { [[ " $ROWS " == *" $1 "* ]]; }
TARGET=${CARGO_TARGET_DIR:-target}
WK=${WIREKIT:-$TARGET/release/wirekit}
source bench/lib.sh # cpu_ticks

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x "$WK" ] || cargo build --release
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT

chmod 755 "$work" # nginx workers run as www-data
site=$work/site
mkdir -p "$site/list"
head -c 1024 /dev/urandom >"$site/1k.bin"
head -c $((1 << 20)) /dev/urandom >"$site/1m.bin"
for i in $(seq -w 1 1000); do echo "$i" >"$site/list/file-$i.txt"; done
# Served files are rarely seconds old; wirekit keeps small files in memory only once
# they have been unchanged for 2 s (src/http/cache.rs), so let them settle first.
sleep 2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listening on $1" >&2
  exit 1
}

P_WK=$(free_port)
taskset -c 0 "$WK" -q serve "$site" -p "$P_WK" --route 'GET /api/data {"message": "Hello, World!"}' >/dev/null &
pids+=($!)
WK_PID=$!

P_NG=$(free_port)
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 19000;
pid $work/nginx.pid;
error_log $work/nginx.err;
daemon off;
events { worker_connections 15000; }
http {
$(nginx_http_common "$work")
  server {
    listen 127.0.0.1:$P_NG;
    root $site;
    autoindex on;
    location = /api/data { default_type application/json; return 200 '{"message": "Hello, World!"}'; }
  }
}
EOF
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)
NG_PID=$! # the master (taskset execs nginx); its worker is its child

P_PY=$(free_port)
taskset -c 0 python3 -m http.server "$P_PY" --bind 127.0.0.1 -d "$site" >/dev/null 2>&1 &
pids+=($!)
PY_PID=$!

wait_port "$P_WK"; wait_port "$P_NG"; wait_port "$P_PY"
# Every server must really serve the files, or the figures mean nothing.
for port in "$P_WK" "$P_NG" "$P_PY"; do
  for f in 1k.bin 1m.bin list/; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/$f")
    [ "$code" = 200 ] || { echo "port $port /$f answered $code" >&2; exit 1; }
  done
done

run() { # url connections server-pids... -> "req/s server-CPU-us-per-request"
  local url=$1 c=$2 a b out
  shift 2
  a=$(cpu_ticks "$@")
  out=$(taskset -c 1 wrk -t1 -c"$c" -d"${DUR}s" "$url" 2>/dev/null)
  b=$(cpu_ticks "$@")
  python3 -c '
import re, sys
out, a, b, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
n = re.search(r"(\d+) requests in", out)
r = re.search(r"Requests/sec:\s+([\d.]+)", out)
n = int(n.group(1)) if n else 0
print("%.0f %.1f" % (float(r.group(1)) if r else 0, (b - a) / hz / n * 1e6 if n else 0))
' "$out" "$a" "$b" "$(getconf CLK_TCK)"
}
ratio() { # wirekit peer1 peer2...: wirekit / best peer
  python3 -c 'import sys; w=float(sys.argv[1] or 0); p=[float(x) for x in sys.argv[2:] if x not in ("", "n/a")]; print("%.2f" % (w/max(p)) if p and max(p) else "n/a")' "$@"
}
row() { # label unit wirekit nginx python
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$3" "$4" "$5" "$(ratio "$3" "$4" "$5")"
}

echo "| scenario | wirekit | nginx | python http.server | wirekit / best peer |"
echo "|---|---|---|---|---|"

# Other work on the machine comes and goes: each figure is the best of ROUNDS
# runs, the tools taking turns, so none is favoured by a quiet moment. Beside
# req/s, the servers' own CPU time per request (lowest of the rounds) is kept:
# when the client is the bottleneck, it shows which server does less work.
declare -A CPU
best3() { # label path conns with_python -> "wirekit nginx python"
  local bw=0 bn=0 bp=0 cw=1e9 cn=1e9 r c
  local ng_workers
  ng_workers=$(pgrep -P "$NG_PID" | tr '\n' ' ')
  for _ in $(seq "$ROUNDS"); do
    read -r r c < <(run "http://127.0.0.1:$P_WK$2" "$3" "$WK_PID")
    [ "${r:-0}" -gt "$bw" ] && bw=$r
    cw=$(python3 -c "print(min($cw, $c))")
    # shellcheck disable=SC2086
    read -r r c < <(run "http://127.0.0.1:$P_NG$2" "$3" $ng_workers)
    [ "${r:-0}" -gt "$bn" ] && bn=$r
    cn=$(python3 -c "print(min($cn, $c))")
    if [ "$4" = yes ]; then
      read -r r c < <(run "http://127.0.0.1:$P_PY$2" "$3" "$PY_PID")
      [ "${r:-0}" -gt "$bp" ] && bp=$r
    fi
  done
  [ "$4" = yes ] || bp=n/a
  CPU[$1]="$cw $cn"
  echo "$bw $bn $bp"
}

# ONLY=rss: just the memory rows (quick checks of a memory change).
if [ "${ONLY:-}" != rss ]; then
if want 1k; then
best3 1k /1k.bin 64 yes >"$work/r"; read -r w n p <"$work/r"
row "1 KiB file, keep-alive, 64 conns (req/s)" req/s "$w" "$n" "$p"
fi

if want 1m; then
best3 1m /1m.bin 16 yes >"$work/r"; read -r w n p <"$work/r"
gb() { python3 -c 'import sys; print("%.2f GB/s" % (float(sys.argv[1] or 0) * 1048576 / 1e9))' "$1"; }
printf '| 1 MiB file, 16 conns (req/s) | %s (%s) | %s (%s) | %s (%s) | %s |\n' "$w" "$(gb "$w")" "$n" "$(gb "$n")" "$p" "$(gb "$p")" "$(ratio "$w" "$n" "$p")"
fi

if want list; then
best3 list /list/ 64 yes >"$work/r"; read -r w n p <"$work/r"
row "1,000-entry listing, 64 conns (req/s)" req/s "$w" "$n" "$p"
fi

if want route; then
best3 route /api/data 64 no >"$work/r"; read -r w n p <"$work/r"
row "mock JSON route, 64 conns (req/s; nginx: return 200)" req/s "$w" "$n" "n/a"
fi
fi

# Memory: hold IDLE keep-alive connections (each made one request) and read RSS;
# IDLE may list several counts ("5000 10000"), each held by a fresh client.
hold() { # port count -> prints nothing; holds until killed
  python3 - "$1" "$2" <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET /1k.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    got = b""
    while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + 1024:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    socks.append(s)
print("held", flush=True)
time.sleep(600)
PY
}
rss_kb() { # pids... -> sum of VmRSS in kB
  local t=0
  for p in "$@"; do
    t=$((t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status")))
  done
  echo "$t"
}
mb() { python3 -c 'import sys; print("%.1f MB" % (int(sys.argv[1]) / 1024))' "$1"; }
held_rss() { # port count pids... -> RSS of pids while count idle clients are held
  local port=$1 n=$2 h out=$work/hold-$1-$2
  shift 2
  hold "$port" "$n" >"$out"
  h=$!
  for _ in $(seq 600); do grep -q held "$out" 2>/dev/null && break; sleep 0.1; done
  sleep 3 # let the server settle (wirekit parks idle keep-alive connections, then purges its heap)
  rss_kb "$@"
  kill "$h" 2>/dev/null || true
  wait "$h" 2>/dev/null || true
}

ng_pids="$NG_PID $(pgrep -P "$NG_PID" || true)"
for n in $IDLE; do
  wk_rss=$(held_rss "$P_WK" "$n" "$WK_PID")
  # shellcheck disable=SC2086
  ng_rss=$(held_rss "$P_NG" "$n" $ng_pids)
  printf '| RSS holding %s idle keep-alive conns | %s | %s | n/a (closes after each response) | %s |\n' \
    "$n" "$(mb "$wk_rss")" "$(mb "$ng_rss")" "$(python3 -c 'import sys; print("%.2f" % (int(sys.argv[1]) / int(sys.argv[2])))' "$wk_rss" "$ng_rss") (lower is better)"
done

[ "${ONLY:-}" != rss ] || exit 0
echo
echo "| server CPU per request (µs, lowest of the rounds) | wirekit | nginx | wirekit / nginx (lower is better) |"
echo "|---|---|---|---|"
for k in 1k 1m list route; do
  want "$k" || continue
  read -r cw cn <<<"${CPU[$k]}"
  case $k in
    1k) label="1 KiB file" ;; 1m) label="1 MiB file" ;; list) label="1,000-entry listing" ;; route) label="mock JSON route" ;;
  esac
  printf '| %s | %s | %s | %s |\n' "$label" "$cw" "$cn" "$(python3 -c "import sys; print('%.2f' % ($cw / $cn) if $cn else 'n/a')")"
done
