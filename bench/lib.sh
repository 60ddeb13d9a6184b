# Shared helpers for bench/*.sh: installs, free ports, timing, the machine line.
# Source it; every benchmark is bounded in time and talks only to 127.0.0.1.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# WIREKIT=path/to/wirekit measures that binary (no build); else a fresh release build.
WIREKIT_GIVEN=${WIREKIT:-}
WIREKIT="${WIREKIT:-$ROOT/target/release/wirekit}"

# apt_need CMD PACKAGE...: install PACKAGE when CMD is missing.
apt_need() {
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq >/dev/null; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

build_release() {
  [ -n "$WIREKIT_GIVEN" ] || (cd "$ROOT" && cargo build --release --quiet)
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_listen PORT: until something listens on 127.0.0.1:PORT (no connection made).
wait_listen() {
  local hex; hex=$(printf ':%04X' "$1")
  for _ in $(seq 1 500); do
    awk 'NR>1 && $4=="0A" {print $2}' /proc/net/tcp /proc/net/tcp6 | grep -q "$hex$" && return 0
    sleep 0.02
  done
  echo "nothing listening on port $1" >&2; return 1
}

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }

machine() {
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}

# part NAME: whether PARTS (the script's list of parts to run) names NAME.
part() { [[ " ${PARTS:-} " == *" $1 "* ]]; }

# percent_ok NAME VALUE: exit, saying why, unless VALUE is a whole percent from 10
# to 100 (a cgroup cpu quota under 1 ms per 10 ms period is refused by the kernel).
percent_ok() {
  [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 10 ] && [ "$2" -le 100 ] && return 0
  echo "$(basename "$0"): $1=$2: give a whole percent from 10 to 100 (the kernel refuses a cpu quota under 1 ms per 10 ms period)" >&2
  exit 2
}

# cpu_cgroup DIR PCT: make DIR a cgroup v1 cpu group whose processes get PCT % of
# one CPU (a quota per 10 ms period). Exits, saying why, when it cannot (written
# so that it does so even when called where `set -e` is off, as in an `if`).
cpu_cgroup() {
  mkdir "$1" && echo 10000 >"$1/cpu.cfs_period_us" && echo $(($2 * 100)) >"$1/cpu.cfs_quota_us" || {
    echo "$(basename "$0"): cannot make $1 a cpu cgroup of $2 % (needs the cgroup v1 cpu controller, writable: run as root)" >&2
    exit 1
  }
}

# ratio A B: A / B with two decimals.
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

# cpu_ticks PID...: user+system clock ticks (getconf CLK_TCK a second) of those processes.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do
    t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}

# nginx_one_process DIR: the head of an nginx.conf for one process in the
# foreground (no master), as callgrind needs it; pid and error log in DIR.
nginx_one_process() {
  cat <<NGINX
master_process off;
daemon off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/nginx.err;
events { worker_connections 1024; }
NGINX
}

# nginx_http_common DIR: the lines inside `http { }` that every bench's nginx shares
# (no access log, sendfile, no request cap per connection, temp files under DIR).
nginx_http_common() {
  cat <<NGINX
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  types { application/octet-stream bin; text/plain txt; }
  client_body_temp_path $1/ngx-body;
  proxy_temp_path $1/ngx-proxy;
  fastcgi_temp_path $1/ngx-fcgi;
  uwsgi_temp_path $1/ngx-uwsgi;
  scgi_temp_path $1/ngx-scgi;
NGINX
}

# nginx_1k: nginx (1 worker, on CPU 0) serving a 1 KiB /1k.bin over HTTP/1.1 on
# 127.0.0.1:$P1 and h2c on $P2, and on $P3 the same 1 KiB from `return 200` (no file
# opened per request: a cheaper server, to show a generator's own ceiling), from a
# fresh folder $work (removed at exit).
nginx_1k() {
  apt_need nginx nginx
  work=$(mktemp -d)
  chmod 755 "$work" # nginx workers may run as another user
  trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
  mkdir -p "$work/site"
  head -c 1024 /dev/urandom >"$work/site/1k.bin"
  P1=$(free_port)
  P2=$(free_port)
  P3=$(free_port)
  local body; body=$(head -c 1024 /dev/zero | tr '\0' x)
  cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 30000;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 25000; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $work/b; proxy_temp_path $work/p; fastcgi_temp_path $work/f;
  uwsgi_temp_path $work/u; scgi_temp_path $work/s;
  server { listen 127.0.0.1:$P1; root $work/site; }
  server { listen 127.0.0.1:$P2 http2; root $work/site; }
  server { listen 127.0.0.1:$P3; default_type application/octet-stream; location / { return 200 "$body"; } }
}
NGINX
  taskset -c 0 nginx -p "$work" -e "$work/nginx.err" -c "$work/nginx.conf" -g 'daemon off;' &
  wait_listen "$P1"
  wait_listen "$P2"
  wait_listen "$P3"
  # The worker's PID, whose CPU time bench.sh reads (the master forks it after listening).
  NGINX_WORKERS=
  for _ in $(seq 1 250); do
    NGINX_WORKERS=$(pgrep -P "$(cat "$work/nginx.pid" 2>/dev/null || echo 0)" | tr '\n' ' ' || true)
    [ -n "$NGINX_WORKERS" ] && break
    sleep 0.02
  done
}
