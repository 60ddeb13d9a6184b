#!/usr/bin/env bash
# CPU cost per request that repeats (to about 3 %; the runtime's threads and timers vary a little), for A/B checks of a change on a noisy
# machine: valgrind's instruction count of `wirekit serve` for N keep-alive requests
# minus that for M requests, over N - M. Wall-clock figures here swing by 30 %; these do not.
# nginx (one process: master_process off, the same files, `return 200` for the mock
# route) is counted the same way beside them, so the CPU comparison with it is
# load-independent too (NGINX=0 leaves it out).
#
#   bench/callgrind.sh OLD_BINARY NEW_BINARY      # e.g. a release build of main and of a branch
#   PATHS="/1k.bin /api/data" bench/callgrind.sh BINARY   # some resources only
# Prints one markdown row per resource: instructions per request for each binary, and
# nginx's, then last/first and last/nginx.
source "$(dirname "$0")/lib.sh"
apt_need valgrind valgrind
NGINX=${NGINX:-1}
[ "$NGINX" = 0 ] || apt_need nginx nginx
[ $# -ge 1 ] || { echo "usage: bench/callgrind.sh BINARY [BINARY...]" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
site=$work/site
mkdir -p "$site/list"
head -c 1024 /dev/urandom >"$site/1k.bin"
head -c 1048576 /dev/urandom >"$site/1m.bin"
for i in $(seq 1 1000); do : >"$site/list/file-$i.txt"; done
sleep 2.5 # the small-file cache takes only files settled for 2 s

# nginx_conf PORT: one process, no log, the same site and mock answer as serve.sh.
nginx_conf() {
  cat >"$work/nginx.conf" <<NGX
$(nginx_one_process "$work")
http {
$(nginx_http_common "$work")
  server {
    listen 127.0.0.1:$1;
    root $site;
    autoindex on;
    location = /api/data { default_type application/json; return 200 '{"message": "Hello, World!"}'; }
  }
}
NGX
}

# instructions BIN PATH N: the server's total instruction count for N requests to
# PATH (BIN `nginx`: nginx itself).
instructions() {
  local bin=$1 path=$2 n=$3 out=$work/run port vp
  if [ "$bin" = nginx ]; then
    port=$(free_port)
    nginx_conf "$port"
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" nginx -c "$work/nginx.conf" -p "$work" \
      >"$out.stdout" 2>"$out.stderr" &
    vp=$!
    wait_listen "$port"
  else
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$bin" -q serve "$site" -p 0 \
      --route 'GET /api/data {"message": "Hello, World!"}' >"$out.stdout" 2>"$out.stderr" &
    vp=$!
    # valgrind's start-up takes minutes on a loaded machine: wait up to 10 min, then give up loudly.
    for _ in $(seq 1 6000); do grep -q Serving "$out.stdout" 2>/dev/null && break; sleep 0.1; done
    port=$(grep -o '127.0.0.1:[0-9]*' "$out.stdout" | head -1 | cut -d: -f2)
    [ -n "$port" ] || { echo "callgrind.sh: $bin did not start serving under valgrind in 10 min" >&2; kill "$vp"; exit 1; }
  fi
  timeout 300 python3 - "$port" "$path" "$n" <<'PY'
import sys, http.client
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
for _ in range(n):
    c.request('GET', path); r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
  kill -INT "$vp"; wait "$vp" 2>/dev/null || true
  grep -E '^(summary|totals):' "$out.cg" | head -1 | awk '{print $2}'
}

# per_request BIN PATH FEW MANY: instructions per request, start-up and shutdown cancelled out.
per_request() {
  local a b
  a=$(instructions "$1" "$2" "$3"); b=$(instructions "$1" "$2" "$4")
  echo $(( (b - a) / ($4 - $3) ))
}

cols="$(printf '%s | ' "$@")"
sep="$(printf -- '---|%.0s' "$@")"
if [ "$NGINX" = 0 ]; then
  echo "| resource (instructions per request) | ${cols}last / first |"
  echo "|---|${sep}---|"
else
  echo "| resource (instructions per request) | ${cols}nginx | last / first | last / nginx |"
  echo "|---|${sep}---|---|---|"
fi
PATHS=${PATHS:-/1k.bin /1m.bin /list/ /api/data}
for spec in /1k.bin:500:2500 /1m.bin:20:120 /list/:20:70 /api/data:500:2500; do
  IFS=: read -r path few many <<<"$spec"
  [[ " $PATHS " == *" $path "* ]] || continue
  row="| $path |"; first=""; last=""
  for bin in "$@"; do
    per=$(per_request "$bin" "$path" "$few" "$many"); row="$row $per |"
    [ -n "$first" ] || first=$per; last=$per
  done
  if [ "$NGINX" = 0 ]; then
    echo "$row $(ratio "$last" "$first") |"
  else
    ng=$(per_request nginx "$path" "$few" "$many")
    echo "$row $ng | $(ratio "$last" "$first") | $(ratio "$last" "$ng") |"
  fi
done
