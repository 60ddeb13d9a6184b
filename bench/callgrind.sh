#!/usr/bin/env bash
# CPU cost per request that repeats (to about 3 %; the runtime's threads and timers vary a little), for A/B checks of a change on a noisy
# machine: valgrind's instruction count of `wirekit serve` for N keep-alive requests
# minus that for M requests, over N - M. Wall-clock figures here swing by 30 %; these do not.
#
#   bench/callgrind.sh OLD_BINARY NEW_BINARY      # e.g. a release build of main and of a branch
# Prints one markdown row per resource: instructions per request for each binary, and new/old.
source "$(dirname "$0")/lib.sh"
apt_need valgrind valgrind
[ $# -ge 1 ] || { echo "usage: bench/callgrind.sh BINARY [BINARY...]" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
site=$work/site
mkdir -p "$site/list"
head -c 1024 /dev/urandom >"$site/1k.bin"
head -c 1048576 /dev/urandom >"$site/1m.bin"
for i in $(seq 1 1000); do : >"$site/list/file-$i.txt"; done
sleep 2.5 # the small-file cache takes only files settled for 2 s

# instructions BIN PATH N: the server's total instruction count for N requests to PATH.
instructions() {
  local bin=$1 path=$2 n=$3 out=$work/run
  valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$bin" -q serve "$site" -p 0 \
    --route 'GET /api/data {"message": "Hello, World!"}' >"$out.stdout" 2>"$out.stderr" &
  local vp=$!
  for _ in $(seq 1 600); do grep -q Serving "$out.stdout" 2>/dev/null && break; sleep 0.1; done
  local port; port=$(grep -o '127.0.0.1:[0-9]*' "$out.stdout" | head -1 | cut -d: -f2)
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

echo "| resource (instructions per request) | $(printf '%s | ' "$@")last / first |"
echo "|---|$(printf -- '---|%.0s' "$@")---|"
for spec in /1k.bin:500:2500 /1m.bin:20:120 /list/:20:70 /api/data:500:2500; do
  IFS=: read -r path few many <<<"$spec"
  row="| $path |"; first=""; last=""
  for bin in "$@"; do
    a=$(instructions "$bin" "$path" "$few"); b=$(instructions "$bin" "$path" "$many")
    per=$(( (b - a) / (many - few) )); row="$row $per |"
    [ -n "$first" ] || first=$per; last=$per
  done
  echo "$row $(ratio "$last" "$first") |"
done
