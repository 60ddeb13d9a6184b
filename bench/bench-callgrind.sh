#!/usr/bin/env bash
# The generator's own CPU cost per request, in instructions (valgrind callgrind),
# for wirekit bench and wrk against the same nginx: repeatable to a few per cent
# however loaded the machine is, unlike wall-clock figures (issue 13).
# Each tool runs twice under callgrind, for SHORT and LONG seconds; instructions per
# request = (instructions(LONG) - instructions(SHORT)) / (requests(LONG) - requests(SHORT)),
# so start-up costs cancel out. User-space instructions only (the kernel's share is not counted).
#
#   bench/bench-callgrind.sh                  # builds --release first if needed
#   WIREKIT=path/to/wirekit bench/bench-callgrind.sh
set -euo pipefail
GIVEN=${WIREKIT:-}
source "$(dirname "$0")/lib.sh"
SHORT=${SHORT:-2}
LONG=${LONG:-6}
CONNS=${CONNS:-64}
WK=${GIVEN:-$WIREKIT}
apt_need valgrind valgrind
apt_need wrk wrk
[ -x "$WK" ] || build_release
nginx_1k
URL=http://127.0.0.1:$P1/1k.bin
URL2=http://127.0.0.1:$P2/1k.bin

# run NAME SECONDS CMD...: prints "instructions requests" for CMD under callgrind on CPU 1.
run() {
  local name=$1 secs=$2; shift 2
  local out=$work/$name-$secs
  taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$@" >"$out.txt" 2>"$out.err"
  local ins; ins=$(grep -h -E '^(summary|totals):' "$out".cg* | awk '{s += $2} END {print s}')
  local n
  case $name in
    wrk) n=$(awk '/requests in/ {print $1}' "$out.txt") ;;
    h2load) n=$(awk '/^requests:/ {print $8}' "$out.txt") ;;
    oha) n=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(d["statusCodeDistribution"].values()))' "$out.txt") ;;
    *) n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["responses"])' "$out.txt") ;;
  esac
  echo "$ins $n"
}

# per NAME ARGS...: instructions per request, from a SHORT and a LONG run.
per() {
  local name=$1; shift
  local flag=-d suffix=s
  [ "$name" = h2load ] && { flag=-D; suffix=; }
  [ "$name" = oha ] && flag=-z
  read -r i1 n1 < <(run "$name" "$SHORT" "$@" "$flag" "$SHORT$suffix")
  read -r i2 n2 < <(run "$name" "$LONG" "$@" "$flag" "$LONG$suffix")
  python3 -c "print(round(($i2 - $i1) / ($n2 - $n1)))"
}

echo "# generator instructions per request (callgrind): $(machine); nginx 1 worker on CPU 0, generator on CPU 1"
echo
echo "| scenario | wirekit | peer | peer / wirekit |"
echo "|---|---|---|---|"
wk=$(per wirekit "$WK" bench "$URL" -t 1 -c "$CONNS" --json)
wrk=$(per wrk wrk -t1 -c "$CONNS" "$URL")
echo "| HTTP/1.1 -c$CONNS (vs wrk) | $wk | $wrk | $(ratio "$wrk" "$wk") |"
export PATH=$HOME/.cargo/bin:$PATH
if command -v oha >/dev/null; then
  oha=$(per oha oha -c "$CONNS" --no-tui --output-format json "$URL")
  echo "| HTTP/1.1 -c$CONNS (vs oha) | $wk | $oha | $(ratio "$oha" "$wk") |"
fi
if command -v h2load >/dev/null; then
  wk2=$(per wirekit2 "$WK" bench "$URL2" --h2 -m 10 -t 1 -c "$CONNS" --json)
  h2=$(per h2load h2load -t1 -c "$CONNS" -m 10 "$URL2")
  echo "| HTTP/2 -c$CONNS -m10 (vs h2load) | $wk2 | $h2 | $(ratio "$h2" "$wk2") |"
fi
