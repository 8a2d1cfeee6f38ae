#!/usr/bin/env bash
# bench-scale.sh measures the manager's cache memory per 1,000 submitted batches with
# inline requests of 1 KiB and 100 KiB, kept and dropped, side by side against a real API
# server (envtest), and writes bench/results-scale.json and the scale section of
# docs/PERFORMANCE.md (make bench-scale runs it; separate from make bench).
#
# Then it runs make bench's scale scenario (bench.RunScale: the real binaries from bin/ under
# their ServiceAccounts, peak RSS, a receiver and a manager restart) at
# BENCH_SCALE_INFLIGHT in-flight plus BENCH_SCALE_DONE completed batches, with a first step
# at a tenth of both. BENCH_SCALE_SEED=1 (the default) seeds the in-flight batches (the
# manager submits about 50 a second on 2 CPUs; see bench.ScaleOptions.Seed); 0 has the
# manager submit them all.
#
# Last, in a fresh environment, the API server writes per submission and per completion
# (BENCH_SCALE_WRITES batches each, default 1000; 0 skips), the API server's ceiling for
# each item's writes (a bare client replays them, BENCH_SCALE_CEILING_CONCURRENCY items at
# once, default 16,64) and the receiver's throughput with BENCH_SCALE_RECEIVER_REPLICAS
# processes (default 1,2,4; empty skips). The submissions, completions and their replays
# run BENCH_SCALE_WRITES_ROUNDS times (default 2), each rate held against its own round's
# replays, with the API server and etcd pinned to half of the CPUs and everything else to
# the other half (benchscale -writes-split-cpus), as on separate nodes.
# BENCH_SCALE_ONLY_WRITES=1 runs only those and adds them, with their commit, to the
# existing bench/results-scale.json.
#
# Environment: SCALE_OBJECTS_1K (default 10000), SCALE_OBJECTS_100K (default 600: 100 KiB
# each is what etcd stores, ~60 MB), SCALE_ROUNDS (3): about 2.5 minutes on 2 shared CPUs;
# BENCH_SCALE_INFLIGHT (default 50000; 0 skips the real binaries), BENCH_SCALE_DONE
# (5000), BENCH_SCALE_SEED (1), BENCH_SCALE_TIMEOUT (20m), BENCH_WORK (logs; default a
# temporary directory). The machine is shared: the results record the load average at the
# start and end. The manager and the receiver get the MEMORY_LIMIT their Deployments set
# from limits.memory (config/; internal/memlimit makes it the Go runtime's soft limit), as
# in a cluster; BENCH_SCALE_SHIPPED_LIMITS=0 runs them without. BENCH_SCALE_PROFILE_DIR
# keeps the receiver's heap profile after each step (managers to compare, with their
# profiles and memory breakdowns: go run ./bench/cmd/benchscale -variant ..., see -help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

KUBEBUILDER_ASSETS="$(./hack/envtest-assets.sh)"
export KUBEBUILDER_ASSETS
commit="$(git describe --tags --always --dirty --abbrev=12 2>/dev/null || true)"
go run ./bench/cmd/benchscale \
	-objects-1k "${SCALE_OBJECTS_1K:-10000}" \
	-objects-100k "${SCALE_OBJECTS_100K:-600}" \
	-rounds "${SCALE_ROUNDS:-3}" \
	-inflight "${BENCH_SCALE_INFLIGHT:-50000}" \
	-done "${BENCH_SCALE_DONE:-5000}" \
	-seed="$([ "${BENCH_SCALE_SEED:-1}" = 0 ] && echo false || echo true)" \
	-timeout "${BENCH_SCALE_TIMEOUT:-20m}" \
	-writes-items "${BENCH_SCALE_WRITES:-1000}" \
	-writes-rounds "${BENCH_SCALE_WRITES_ROUNDS:-2}" \
	-ceiling-concurrency "${BENCH_SCALE_CEILING_CONCURRENCY:-16,64}" \
	-receiver-replicas "${BENCH_SCALE_RECEIVER_REPLICAS-1,2,4}" \
	-only-writes="$([ "${BENCH_SCALE_ONLY_WRITES:-0}" = 1 ] && echo true || echo false)" \
	-shipped-memory-limits="$([ "${BENCH_SCALE_SHIPPED_LIMITS:-1}" = 0 ] && echo false || echo true)" \
	-profile-dir "${BENCH_SCALE_PROFILE_DIR:-}" \
	-bin bin -work "${BENCH_WORK:-}" \
	-commit "$commit" \
	-out bench/results-scale.json -report docs/PERFORMANCE.md
