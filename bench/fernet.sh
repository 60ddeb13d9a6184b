#!/usr/bin/env bash
# Fernet in-process speed: wirekit's library (examples/fernet_bench.rs, release
# build) beside Python cryptography's Fernet in a loop, in the same run, at
# 100 B, 1 KiB, 1 MiB and 16 MiB, encrypt and decrypt. The two alternate size
# by size, each case for about SECONDS (default 1) of the process's own CPU
# time (user + system), so that neighbours' load on a shared machine skews
# neither side. Prints a Markdown table; MB/s counts plaintext bytes (10^6).
# Then a file row: `wirekit fernet encrypt/decrypt FILE -o OUT` (the CLI, which
# streams) beside Python reading the file, Fernet-encrypting it and writing the
# token (Python's Fernet cannot stream), at FILE_MIB (default 1024) MiB, with
# wall time, MB/s and peak RSS (/usr/bin/time). FERNET_FILE_ONLY=1 runs only the
# file row; WIREKIT_BIN picks another binary (e.g. a debug build for a smoke run).
# Usage: bench/fernet.sh [SECONDS] [FILE_MIB]
source "$(dirname "$0")/lib.sh"

SECONDS_PER_CASE=${1:-1}
FILE_MIB=${2:-1024}
SIZES=(100 1024 1048576 16777216)

python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install -q cryptography
[ -x /usr/bin/time ] || apt_need /usr/bin/time time

# file_row: the streamed CLI against Python's whole-file Fernet, with peak RSS.
file_row() {
  local bin=$1 dir key
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  head -c $((FILE_MIB << 20)) /dev/urandom > "$dir/plain"
  key=$("$bin" fernet genkey)
  measure() { # measure OUTFILE CMD...: "seconds peak_kib"
    local out=$1; shift
    /usr/bin/time -f '%e %M' -o "$out" "$@" >/dev/null
    cat "$out"
  }
  local we wd pe pd
  we=$(measure "$dir/t1" "$bin" fernet encrypt --key "$key" "$dir/plain" -o "$dir/w.tok")
  wd=$(measure "$dir/t2" "$bin" fernet decrypt --key "$key" "$dir/w.tok" -o "$dir/w.out")
  cmp -s "$dir/plain" "$dir/w.out" || { echo "wirekit round trip differs" >&2; return 1; }
  pe=$(measure "$dir/t3" python3 -c '
import sys
from cryptography.fernet import Fernet
f = Fernet(sys.argv[1].encode())
open(sys.argv[3], "wb").write(f.encrypt(open(sys.argv[2], "rb").read()) + b"\n")' "$key" "$dir/plain" "$dir/p.tok")
  pd=$(measure "$dir/t4" python3 -c '
import sys
from cryptography.fernet import Fernet
f = Fernet(sys.argv[1].encode())
open(sys.argv[3], "wb").write(f.decrypt(open(sys.argv[2], "rb").read()))' "$key" "$dir/w.tok" "$dir/p.out")
  cmp -s "$dir/plain" "$dir/p.out" || { echo "Python decrypt of wirekit's token differs" >&2; return 1; }
  python3 - "$FILE_MIB" "$we" "$wd" "$pe" "$pd" <<'PY'
import sys
mib = int(sys.argv[1])
mb = mib * (1 << 20) / 1e6
def cell(m):
    secs, kib = m.split()
    secs = max(float(secs), 0.001)
    return f"{secs:.2f} s, {mb / secs:,.1f} MB/s, {int(kib) / 1024:,.1f} MiB RSS"
print()
print(f"| file {mib} MiB (CLI) | Python Fernet (whole file) | wirekit fernet (streamed) |")
print("|---|---:|---:|")
print(f"| encrypt | {cell(sys.argv[4])} | {cell(sys.argv[2])} |")
print(f"| decrypt | {cell(sys.argv[5])} | {cell(sys.argv[3])} |")
PY
}

cd "$ROOT"
if [ -n "${FERNET_FILE_ONLY:-}" ]; then
  [ -n "${WIREKIT_BIN:-}" ] || { build_release; WIREKIT_BIN=$WIREKIT; }
  file_row "$WIREKIT_BIN"
  exit 0
fi
cargo build --release --quiet --example fernet_bench
BENCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/fernet_bench"

python_bench() {
  python3 - "$@" <<'PY'
import sys, time
from cryptography.fernet import Fernet
budget = float(sys.argv[1])
f = Fernet(Fernet.generate_key())
def rate(fn):
    fn()  # warm-up
    start = time.process_time()
    n, batch = 0, 1
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.process_time() - start
        if elapsed >= budget and n >= 3:
            return n / elapsed
        if elapsed < budget / 10:
            batch *= 2
for size in map(int, sys.argv[2:]):
    data = bytes((i * 31 + 7) & 0xff for i in range(size))
    enc = rate(lambda: f.encrypt(data))
    print(f"encrypt\t{size}\t{enc:.1f}\t{enc * size / 1e6:.1f}")
    token = f.encrypt(data)
    dec = rate(lambda: f.decrypt(token))
    print(f"decrypt\t{size}\t{dec:.1f}\t{dec * size / 1e6:.1f}")
PY
}

RUST_OUT=""
PY_OUT=""
for size in "${SIZES[@]}"; do
  RUST_OUT+="$("$BENCH" "$SECONDS_PER_CASE" "$size")"$'\n'
  PY_OUT+="$(python_bench "$SECONDS_PER_CASE" "$size")"$'\n'
done

python3 - "$RUST_OUT" "$PY_OUT" "$(machine)" "$(python3 -c 'import cryptography; print(cryptography.__version__)')" <<'PY'
import sys
def parse(text):
    return {(op, int(size)): (float(tps), float(mbs))
            for op, size, tps, mbs in (line.split("\t") for line in text.strip().splitlines())}
rust, py = parse(sys.argv[1]), parse(sys.argv[2])
def human(n):
    return {100: "100 B", 1024: "1 KiB", 1 << 20: "1 MiB", 16 << 20: "16 MiB"}.get(n, f"{n} B")
print(f"Machine: {sys.argv[3]}; Python cryptography {sys.argv[4]}")
print()
print("| size | op | Python tokens/s | Python MB/s | wirekit tokens/s | wirekit MB/s | wirekit / Python |")
print("|---|---|---:|---:|---:|---:|---:|")
for (op, size), (tps, mbs) in sorted(rust.items(), key=lambda kv: (kv[0][1], kv[0][0] != "encrypt")):
    ptps, pmbs = py[(op, size)]
    print(f"| {human(size)} | {op} | {ptps:,.0f} | {pmbs:,.1f} | {tps:,.0f} | {mbs:,.1f} | {tps / ptps:.2f}× |")
PY

[ -n "${WIREKIT_BIN:-}" ] || { build_release; WIREKIT_BIN=$WIREKIT; }
file_row "$WIREKIT_BIN"
