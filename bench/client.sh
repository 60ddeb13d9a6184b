#!/usr/bin/env bash
# HTTP client: `wirekit fetch` of N URLs from a local nginx (1 worker), -j 50, beside
# Python aiohttp + asyncio.gather (semaphore 50) and curl --parallel --parallel-max 50;
# then one GET as a whole process with hyperfine, beside curl. Prints markdown rows.
# Loopback only; every run is bounded with `timeout`.
source "$(dirname "$0")/lib.sh"

N=${N:-10000}        # URLs per run
J=${J:-50}           # requests in flight
RUNS=${RUNS:-3}      # best of RUNS for the throughput runs

apt_need nginx nginx
apt_need hyperfine hyperfine
python3 -c 'import aiohttp' 2>/dev/null || python3 -m pip install -q aiohttp
if [ -n "${WIREKIT_BIN:-}" ]; then
  WIREKIT=$WIREKIT_BIN
else
  build_release
  WIREKIT="${CARGO_TARGET_DIR:-$ROOT/target}/release/wirekit"
fi

TMP=$(mktemp -d)
chmod 755 "$TMP"   # nginx workers run as another user
NGINX_PID=""
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(free_port)
mkdir -p "$TMP/logs" "$TMP/html"
printf 'hello from nginx\n' > "$TMP/html/index.html"
cat > "$TMP/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log crit;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $TMP/body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  server {
    listen 127.0.0.1:$PORT;
    root $TMP/html;
    location / { try_files /index.html =404; }
  }
}
EOF
nginx -c "$TMP/nginx.conf" -p "$TMP" -g 'daemon off;' &
NGINX_PID=$!
wait_listen "$PORT"

python3 -c "
for i in range($N): print(f'http://127.0.0.1:$PORT/item/{i}')" > "$TMP/urls.txt"
awk '{print "url = \"" $0 "\"\noutput = \"/dev/null\""}' "$TMP/urls.txt" > "$TMP/curl.cfg"

cat > "$TMP/gather.py" <<'EOF'
# The seed's aiohttp + asyncio.gather, bounded by a semaphore, one shared session.
import asyncio, sys, aiohttp

async def main(path, limit):
    urls = [l.strip() for l in open(path) if l.strip()]
    sem = asyncio.Semaphore(limit)
    conn = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=conn) as session:
        async def fetch(url):
            async with sem:
                async with session.get(url) as r:
                    await r.read()
                    return r.status
        results = await asyncio.gather(*(fetch(u) for u in urls))
    bad = sum(1 for s in results if s != 200)
    if bad:
        sys.exit(f"{bad} failed")

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
EOF

# rate NAME CMD...: requests per second, best of $RUNS.
rate() {
  local best=0
  for _ in $(seq 1 "$RUNS"); do
    local t0 t1
    t0=$(now)
    timeout 300 "$@" > /dev/null || { echo "run failed: $*" >&2; return 1; }
    t1=$(now)
    best=$(python3 -c "print(max($best, $N / ($t1 - $t0)))")
  done
  python3 -c "print(f'{$best:.0f}')"
}

w=$(rate "$WIREKIT" -q fetch -i "$TMP/urls.txt" -j "$J" --no-progress)
a=$(rate python3 "$TMP/gather.py" "$TMP/urls.txt" "$J")
c=$(rate curl -s --parallel --parallel-max "$J" -K "$TMP/curl.cfg")
best=$(python3 -c "print(max($a, $c))")

echo "## HTTP client ($(machine); load average at the end $(cut -d" " -f1-3 /proc/loadavg))"
echo
echo "| scenario | wirekit | aiohttp + gather | curl --parallel | wirekit ÷ best peer |"
echo "|---|---|---|---|---|"
echo "| fetch $N URLs from nginx, $J in flight (req/s) | $w | $a | $c | $(ratio "$w" "$best") (÷ aiohttp $(ratio "$w" "$a"), ÷ curl $(ratio "$w" "$c")) |"

hyperfine -N --warmup 20 --runs 300 --export-json "$TMP/one.json" \
  "$WIREKIT -q http -b http://127.0.0.1:$PORT/" \
  "curl -s http://127.0.0.1:$PORT/" > /dev/null 2>&1
read -r wm cm < <(python3 -c "
import json; r=json.load(open('$TMP/one.json'))['results']
print(f\"{r[0]['mean']*1000:.2f} {r[1]['mean']*1000:.2f}\")")
echo "| one GET as a whole process, hyperfine mean (ms, lower is better) | $wm | – | $cm | $(ratio "$cm" "$wm") (curl time ÷ wirekit time) |"
echo
echo "Commands: \`wirekit -q fetch -i urls.txt -j $J --no-progress\`;"
echo "\`python3 gather.py urls.txt $J\` (aiohttp $(python3 -c 'import aiohttp; print(aiohttp.__version__)'), one ClientSession, Semaphore($J));"
echo "\`curl -s --parallel --parallel-max $J -K curl.cfg\` ($(curl --version | head -1 | cut -d' ' -f1,2));"
echo "\`hyperfine -N --warmup 20 --runs 300 'wirekit -q http -b URL' 'curl -s URL'\`; nginx $(nginx -v 2>&1 | cut -d/ -f2), 1 worker, a 17-byte file; best of $RUNS runs."
