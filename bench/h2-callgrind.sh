#!/usr/bin/env bash
# CPU cost per HTTP/2 request that repeats whatever the machine's load: valgrind's
# instruction count of `wirekit serve` (h2c, and h2 over TLS by ALPN) for `h2load -c1
# -m10 -n MANY` minus that for `-n FEW`, over MANY - FEW, beside nginx `http2` (one
# process: master_process off, the same files and certificate) counted the same way.
# One valgrind start per server: counters are zeroed and dumped around each h2load
# run (callgrind_control), so start-up, shutdown and the connection's set-up cancel out.
#
#   bench/h2-callgrind.sh BINARY [BINARY...]    # e.g. a release build of main and of a branch
# Prints one markdown row per case: instructions per request (1 KiB) or per
# 1 MiB response for each binary, and nginx's, then last/first and last/nginx.
# NGINX=0 leaves nginx out; CASES picks rows (default "h2c-1k h2c-1m tls-1k tls-1m").
source "$(dirname "$0")/lib.sh"
apt_need valgrind valgrind
apt_need h2load nghttp2-client
NGINX=${NGINX:-1}
[ "$NGINX" = 0 ] || apt_need nginx nginx
CASES=${CASES:-h2c-1k h2c-1m tls-1k tls-1m}
[ $# -ge 1 ] || { echo "usage: bench/h2-callgrind.sh BINARY [BINARY...]" >&2; exit 2; }

work=$(mktemp -d)
vp=""
trap '[ -z "$vp" ] || kill "$vp" 2>/dev/null; rm -rf "$work"' EXIT
chmod 755 "$work"
site=$work/site
mkdir -p "$site"
head -c 1024 /dev/urandom >"$site/1k.bin"
head -c 1048576 /dev/urandom >"$site/1m.bin"
"$1" -q cert ca --out "$work" >/dev/null 2>&1
"$1" -q cert new localhost 127.0.0.1 --ca "$work/ca.pem" --ca-key "$work/ca-key.pem" --out "$work" >/dev/null
CERT="$work/localhost+1.pem"
KEY="$work/localhost+1-key.pem"
sleep 2.5 # the small-file cache takes only files settled for 2 s

# nginx_start: nginx under callgrind, h2c on $PC and TLS on $PT; sets vp.
nginx_start() {
  local out=$work/run
  rm -f "$out".*
  PC=$(free_port)
  PT=$(free_port)
  cat >"$work/nginx.conf" <<NGX
$(nginx_one_process "$work")
http {
$(nginx_http_common "$work")
  ssl_protocols TLSv1.3;
  ssl_certificate $CERT;
  ssl_certificate_key $KEY;
  server { listen 127.0.0.1:$PC http2; root $site; }
  server { listen 127.0.0.1:$PT ssl http2; root $site; }
}
NGX
  valgrind --tool=callgrind --callgrind-out-file="$out.cg" nginx -c "$work/nginx.conf" -p "$work" \
    >"$out.stdout" 2>"$out.stderr" &
  vp=$!
  for _ in $(seq 1 30); do wait_listen "$PC" 2>/dev/null && break; done
  wait_listen "$PT"
}

# wk_start BIN TLS(0|1): wirekit serve under callgrind; sets vp and PORT.
wk_start() {
  local bin=$1 tls=$2 out=$work/run
  rm -f "$out".*
  local -a args=(-q serve "$site" -p 0)
  [ "$tls" = 1 ] && args+=(--tls --cert "$CERT" --key "$KEY")
  valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$bin" "${args[@]}" >"$out.stdout" 2>"$out.stderr" &
  vp=$!
  # valgrind's start-up takes minutes on a loaded machine: wait up to 10 min, then give up loudly.
  for _ in $(seq 1 6000); do grep -q Serving "$out.stdout" 2>/dev/null && break; sleep 0.1; done
  PORT=$(grep -o '127.0.0.1:[0-9]*' "$out.stdout" | head -1 | cut -d: -f2)
  [ -n "$PORT" ] || { echo "h2-callgrind.sh: $bin did not start serving under valgrind in 10 min" >&2; exit 1; }
}

stop() {
  kill -INT "$vp" 2>/dev/null || true
  wait "$vp" 2>/dev/null || true
  vp=""
}

# count URL N: instructions of the server under callgrind for one `h2load -c1 -m10 -n N`.
count() {
  local url=$1 n=$2 before after out
  callgrind_control -z "$vp" >/dev/null 2>&1
  out=$(timeout 600 h2load -c 1 -m 10 -n "$n" "$url" 2>&1)
  echo "$out" | grep -q "requests: $n total, $n started, $n done, $n succeeded" ||
    { echo "h2-callgrind.sh: h2load against $url failed: $(echo "$out" | tail -5)" >&2; exit 1; }
  before=$(ls "$work"/run.cg* 2>/dev/null | wc -l)
  callgrind_control -d "$vp" >/dev/null 2>&1
  for _ in $(seq 1 600); do
    after=$(ls "$work"/run.cg.* 2>/dev/null | wc -l)
    [ "$after" -ge "$before" ] && [ "$after" -gt 0 ] && break
    sleep 0.1
  done
  local last
  last=$(ls -t "$work"/run.cg.* | head -1)
  for _ in $(seq 1 100); do grep -qE '^totals:' "$last" && break; sleep 0.1; done
  grep -E '^totals:' "$last" | awk '{print $2}'
  rm -f "$work"/run.cg.*
}

# per_request URL FEW MANY: instructions per request, the connection's set-up cancelled out.
per_request() {
  local a b
  a=$(count "$1" "$2"); b=$(count "$1" "$3")
  echo $(( (b - a) / ($3 - $2) ))
}

spec() { # CASE -> "tls path few many"
  case $1 in
    h2c-1k) echo "0 /1k.bin 500 2500" ;;
    h2c-1m) echo "0 /1m.bin 20 120" ;;
    tls-1k) echo "1 /1k.bin 500 2500" ;;
    tls-1m) echo "1 /1m.bin 20 120" ;;
    *) echo "h2-callgrind.sh: unknown case $1" >&2; exit 2 ;;
  esac
}

declare -A result
for bin in "$@"; do
  for tls in 0 1; do
    started=0
    for c in $CASES; do
      read -r t path few many <<<"$(spec "$c")"
      [ "$t" = "$tls" ] || continue
      [ "$started" = 1 ] || { wk_start "$bin" "$tls"; started=1; }
      scheme=http; [ "$tls" = 1 ] && scheme=https
      result[$bin,$c]=$(per_request "$scheme://127.0.0.1:$PORT$path" "$few" "$many")
    done
    [ "$started" = 0 ] || stop
  done
done
if [ "$NGINX" != 0 ]; then
  nginx_start
  for c in $CASES; do
    read -r t path few many <<<"$(spec "$c")"
    if [ "$t" = 1 ]; then url="https://127.0.0.1:$PT$path"; else url="http://127.0.0.1:$PC$path"; fi
    result[nginx,$c]=$(per_request "$url" "$few" "$many")
  done
  stop
fi

cols="$(printf '%s | ' "$@")"
sep="$(printf -- '---|%.0s' "$@")"
if [ "$NGINX" = 0 ]; then
  echo "| case (instructions per response) | ${cols}last / first |"
  echo "|---|${sep}---|"
else
  echo "| case (instructions per response) | ${cols}nginx | last / first | last / nginx |"
  echo "|---|${sep}---|---|---|"
fi
for c in $CASES; do
  row="| $c, h2load -c1 -m10 |"
  first=""; last=""
  for bin in "$@"; do
    per=${result[$bin,$c]}; row="$row $per |"
    [ -n "$first" ] || first=$per; last=$per
  done
  if [ "$NGINX" = 0 ]; then
    echo "$row $(ratio "$last" "$first") |"
  else
    echo "$row ${result[nginx,$c]} | $(ratio "$last" "$first") | $(ratio "$last" "${result[nginx,$c]}") |"
  fi
done
