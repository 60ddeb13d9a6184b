#!/usr/bin/env bash
# wirekit bench beside wrk, oha and h2load, in the same run (issue 13).
# nginx (1 worker) serves 1 KiB on CPU 0; every generator runs on CPU 1 with one
# thread. Prints a markdown table (see bench/RESULTS.md): requests/s, CPU time per
# request, RSS with many connections, and the open loop's achieved rate.
#
#   bench/bench.sh                       # builds --release first if needed
#   DUR=10 WIREKIT=path/to/wirekit bench/bench.sh
#   SMOKE=1 DUR=1 bench/bench.sh         # a one-second check that the script works
set -euo pipefail
GIVEN=${WIREKIT:-}
source "$(dirname "$0")/lib.sh"

DUR=${DUR:-10}
CONNS=${CONNS:-64}
MANY=${MANY:-10000}          # connections for the RSS row
RATE=${RATE:-50000}          # open-loop target
if [ -n "${SMOKE:-}" ]; then MANY=200; RATE=2000; fi
WK=${GIVEN:-$WIREKIT}

apt_need wrk wrk
apt_need nginx nginx
apt_need h2load nghttp2-client
# oha is on crates.io only: built once (a few minutes), then cached in ~/.cargo/bin.
export PATH=$HOME/.cargo/bin:$PATH
command -v oha >/dev/null || cargo install oha --locked --quiet
[ -x "$WK" ] || build_release
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

nginx_1k
URL=http://127.0.0.1:$P1/1k.bin
URL2=http://127.0.0.1:$P2/1k.bin

# measure OUT CMD...: run CMD on CPU 1, its stdout to OUT; prints "cpu_seconds max_rss_kib".
measure() {
  local out=$1; shift
  python3 - "$out" "$@" <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "wb") as f:
    subprocess.run(["taskset", "-c", "1"] + sys.argv[2:], stdout=f, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.3f} {r.ru_maxrss}")
PY
}
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {'d': d}))" "$@"; }
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_reqs() { awk '/requests in/ {print $1}' "$1"; }

echo "# wirekit bench vs peers: $(machine); nginx 1 worker on CPU 0, generators on CPU 1, ${DUR}s each"
echo
echo "| scenario | wirekit | peer | ratio |"
echo "|---|---|---|---|"

# Closed loop, HTTP/1.1: wrk -t1 -c64 and oha.
read -r wk_cpu wk_rss0 < <(measure "$work/wk.json" "$WK" bench "$URL" -t 1 -c "$CONNS" -d "${DUR}s" --json)
wk_rps=$(jget "$work/wk.json" 'd["rate"]')
wk_n=$(jget "$work/wk.json" 'd["responses"]')
read -r wrk_cpu wrk_rss0 < <(measure "$work/wrk.txt" wrk -t1 -c "$CONNS" -d "${DUR}s" "$URL")
wrk_r=$(wrk_rps "$work/wrk.txt")
echo "| req/s, -t1 -c$CONNS, HTTP/1.1 (vs wrk) | $wk_rps | $wrk_r | $(ratio "$wk_rps" "$wrk_r")x |"
wrk_n=$(wrk_reqs "$work/wrk.txt")
wk_us=$(python3 -c "print(f'{$wk_cpu / $wk_n * 1e6:.2f}')")
wrk_us=$(python3 -c "print(f'{$wrk_cpu / $wrk_n * 1e6:.2f}')")
echo "| CPU us per request (lower is better; vs wrk) | $wk_us | $wrk_us | $(ratio "$wrk_us" "$wk_us")x |"
if command -v oha >/dev/null; then
  # oha has no thread flag: its runtime runs on the one CPU it is pinned to, like the others.
  measure "$work/oha.json" oha -z "${DUR}s" -c "$CONNS" --no-tui --output-format json "$URL" >/dev/null
  oha_r=$(jget "$work/oha.json" 'd["summary"]["requestsPerSec"]')
  echo "| req/s, -c$CONNS, HTTP/1.1 (vs oha) | $wk_rps | $oha_r | $(ratio "$wk_rps" "$oha_r")x |"
else
  echo "| req/s vs oha | $wk_rps | (oha did not install: cargo install oha) | – |"
fi

# HTTP/2: h2load -t1 -c64 -m10.
if "$WK" bench --help | grep -q -- '--h2'; then
  measure "$work/wk2.json" "$WK" bench "$URL2" --h2 -m 10 -t 1 -c "$CONNS" -d "${DUR}s" --json >/dev/null
  wk2=$(jget "$work/wk2.json" 'd["rate"]')
  measure "$work/h2load.txt" h2load -t1 -c "$CONNS" -m 10 -D "$DUR" "$URL2" >/dev/null
  h2=$(awk '/^finished in/ {print $4}' "$work/h2load.txt")
  echo "| req/s, HTTP/2 -c$CONNS -m10 (vs h2load) | $wk2 | $h2 | $(ratio "$wk2" "$h2")x |"
else
  echo "| req/s, HTTP/2 (vs h2load) | (no --h2 in this wirekit) | – | – |"
fi

# RSS with MANY connections open.
read -r _ wk_rss < <(measure "$work/many.json" "$WK" bench "$URL" -t 1 -c "$MANY" -d "${DUR}s" --json)
read -r _ wrk_rss < <(measure "$work/many.txt" wrk -t1 -c "$MANY" -d "${DUR}s" "$URL")
echo "| max RSS with $MANY connections, KiB (lower is better; vs wrk) | $wk_rss | $wrk_rss | $(ratio "$wrk_rss" "$wk_rss")x |"
per_conn() { python3 -c "print(round(($1 - $2) * 1024 / ($MANY - $CONNS)))"; }
wk_pc=$(per_conn "$wk_rss" "$wk_rss0")
wrk_pc=$(per_conn "$wrk_rss" "$wrk_rss0")
echo "| RSS bytes per connection beyond $CONNS (lower is better; vs wrk) | $wk_pc | $wrk_pc | $(ratio "$wrk_pc" "$wk_pc")x |"

# Open loop at RATE: achieved rate over the run (until the last answer) and the
# corrected p99 (wrk2 is not packaged: beside the theory); then the highest rate
# held here (99 % answered, none dropped, p99 under 100 ms) (--find-max-rate, KNEE_STEP apart, 3 s steps).
measure "$work/open.json" "$WK" bench "$URL" -t 1 -c "$CONNS" -R "$RATE" -d "${DUR}s" --json >/dev/null
got=$(jget "$work/open.json" 'round(d["rate"], 1)')
took=$(jget "$work/open.json" 'round(d["elapsed_s"], 2)')
p99=$(jget "$work/open.json" 'd["latency"]["percentiles"]["p99"]')
verdict=$(jget "$work/open.json" 'd["verdict"] or "none"')
echo "| open loop -R $RATE: achieved req/s (target $RATE; ${took}s for ${DUR}s of schedule) | $got | – | $(ratio "$got" "$RATE")x |"
echo "| open loop -R $RATE: corrected p99 (us); verdict: $verdict | $p99 | theory: about one service time when the server keeps up | – |"
STEP=${KNEE_STEP:-5000}
measure "$work/knee.json" "$WK" bench "$URL" -t 1 -c "$CONNS" --find-max-rate --slo 'p99<100ms' \
  -R "$STEP" --rate-step "$STEP" -d 3s --max-steps 12 --json >/dev/null || true
knee=$(jget "$work/knee.json" 'd["knee"]')
kp99=$(jget "$work/knee.json" '[s for s in d["steps"] if s["rate"] == d["knee"]][0]["report"]["latency"]["percentiles"]["p99"] if d["knee"] else "-"')
echo "| highest open-loop rate held (99 % of it answered, none dropped, p99 < 100 ms) (--find-max-rate, steps of $STEP) | $knee (p99 $kp99 us) | – | – |"
