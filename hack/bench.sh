#!/usr/bin/env bash
# bench.sh runs the performance benchmarks and writes bench/results.json and
# docs/PERFORMANCE.md (make bench runs it after make build envtest). About 15 minutes.
#
# 1. Signature verification micro-benchmarks: go test -bench BenchmarkVerify -benchmem
#    -count $BENCH_COUNT in ./bench (the receiver's verifier, openai-go's and the Standard
#    Webhooks library's, side by side).
# 2. The scenarios of bench/cmd/benchrun against a real API server, the OpenAI emulator,
#    the receiver and the controllers (in-process), and the real binaries in bin/ (scale).
#
# The machine is shared: before starting, it waits (up to $BENCH_WAIT_MINUTES, checking
# every minute) for the 1-minute load average to fall below $BENCH_MAX_LOAD, then runs
# anyway; the report records the load.
#
# Environment: BENCH_COUNT (default 10), BENCH_SIZE (full or small), BENCH_SCENARIOS
# (comma-separated: verify,throughput,latency,e2e,polling,scale; default all),
# BENCH_MAX_LOAD (2), BENCH_WAIT_MINUTES (15), BENCH_WORK (default: a temporary
# directory, kept for the logs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

count="${BENCH_COUNT:-10}"
size="${BENCH_SIZE:-full}"
scenarios="${BENCH_SCENARIOS:-all}"
max_load="${BENCH_MAX_LOAD:-2}"
wait_minutes="${BENCH_WAIT_MINUTES:-15}"
work="${BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/openai-operator-bench.XXXXXX")}"
mkdir -p "$work"

KUBEBUILDER_ASSETS="$(./hack/envtest-assets.sh)"
export KUBEBUILDER_ASSETS
go build -o "$work/benchrun" ./bench/cmd/benchrun

load1() { cut -d' ' -f1 /proc/loadavg; }
waited=0
while [ "$waited" -lt "$wait_minutes" ] && awk -v l="$(load1)" -v m="$max_load" 'BEGIN { exit !(l >= m) }'; do
  echo "bench: 1-minute load average $(load1) (nproc $(nproc)); waiting for it to fall below $max_load ($waited/$wait_minutes min)"
  sleep 60
  waited=$((waited + 1))
done
echo "bench: starting at load average $(cut -d' ' -f1-3 /proc/loadavg), nproc $(nproc); logs in $work"

before="waited ${waited} min for the load to drop; load $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ',') when the first benchmark started"
if [ "$scenarios" = all ] || [[ ",$scenarios," == *,verify,* ]]; then
  echo "bench: go test -bench BenchmarkVerify -benchmem -count $count ./bench"
  go test -run '^$' -bench '^BenchmarkVerify$' -benchmem -count "$count" ./bench | tee "$work/verify.txt"
fi

"$work/benchrun" \
  -size "$size" -scenarios "$scenarios" \
  -verify-bench "$work/verify.txt" -verify-count "$count" \
  -bin bin -work "$work" -load-waited "$before" \
  -out bench/results.json -report docs/PERFORMANCE.md
echo "bench: wrote bench/results.json and docs/PERFORMANCE.md"
