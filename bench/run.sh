#!/usr/bin/env bash
# Builds hanko_bench (Release, in build-bench) if needed, runs it over the
# corpus and prints a table of operations per second, then the OpenSSL
# RSA-2048 reference line. Takes about 2.5 minutes on a 2-core machine.
#
#   bench/run.sh                      # everything
#   bench/run.sh --benchmark_filter=sign_BB   # extra arguments go to hanko_bench
#
# Environment: BUILD_DIR (default <repo>/build-bench), MIN_TIME (seconds per
# benchmark, default 1), JOBS (build parallelism, default 1),
# HANKO_CORPUS_DIR (default <repo>/../shared/corpus), SKIP_OPENSSL=1.
# The JSON results are written to $BUILD_DIR/bench-results.json.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
MIN_TIME="${MIN_TIME:-1}"
JOBS="${JOBS:-1}"
OUT_JSON="$BUILD_DIR/bench-results.json"

if ! [ -f "$BUILD_DIR/CMakeCache.txt" ] || ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD_DIR/CMakeCache.txt"; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DHANKO_BUILD_TESTS=OFF -DHANKO_BUILD_BENCH=ON >/dev/null
fi
cmake --build "$BUILD_DIR" --target hanko_bench -j"$JOBS" >/dev/null
BENCH="$BUILD_DIR/bin/hanko_bench"
if ! [ -x "$BENCH" ]; then
  echo "run.sh: $BENCH was not built: is Google Benchmark (libbenchmark-dev) installed?" >&2
  exit 1
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BENCH" --benchmark_min_time="$MIN_TIME" --benchmark_out="$OUT_JSON" --benchmark_out_format=json \
  --benchmark_format=console "$@" >"$BUILD_DIR/bench-console.txt"
echo "== hanko_bench (full output in $BUILD_DIR/bench-console.txt, JSON in $OUT_JSON)"

python3 - "$OUT_JSON" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
rows = []
for b in data["benchmarks"]:
    if b.get("run_type") != "iteration" or b.get("error_occurred"):
        if b.get("error_occurred"):
            print(f"ERROR {b['name']}: {b.get('error_message')}")
        continue
    name = b["name"].replace("/real_time", "")
    op, _, rest = name.partition("/")
    bundle, _, threads = rest.partition("/")
    if threads:
        op += " x" + threads.split(":")[1] + " threads"
    ops = b.get("items_per_second", 0.0)
    ms = 1000.0 / ops if ops else float("nan")
    rows.append((bundle, b.get("label", ""), op, ops, ms))
w = max(len(r[0]) for r in rows)
o = max(len(r[2]) for r in rows)
print(f"| {'bundle':<{w}} | size    | {'operation':<{o}} |    ops/s | ms/op  |")
print(f"|{'-' * (w + 2)}|---------|{'-' * (o + 2)}|---------:|-------:|")
for bundle, label, op, ops, ms in rows:
    print(f"| {bundle:<{w}} | {label:>7} | {op:<{o}} | {ops:8.1f} | {ms:6.3f} |")
PY

if [ "${SKIP_OPENSSL:-0}" != 1 ]; then
  echo "== reference: openssl speed -seconds 3 rsa2048 ($(openssl version))"
  openssl speed -seconds 3 rsa2048 2>/dev/null | tail -2
fi
