#!/usr/bin/env bash
# bench-scale.sh measures the manager's cache memory per 1,000 submitted batches with
# inline requests of 1 KiB and 100 KiB, kept and dropped, side by side against a real API
# server (envtest), and writes bench/results-scale.json and the scale section of
# docs/PERFORMANCE.md (make bench-scale runs it; separate from make bench).
#
# Environment: SCALE_OBJECTS_1K (default 10000), SCALE_OBJECTS_100K (default 600: 100 KiB
# each is what etcd stores, ~60 MB); about 2.5 minutes on 2 shared CPUs, SCALE_ROUNDS (3). The machine is shared: the results
# record the load average at the start and end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

KUBEBUILDER_ASSETS="$(./hack/envtest-assets.sh)"
export KUBEBUILDER_ASSETS
commit="$(git describe --tags --always --dirty --abbrev=12 2>/dev/null || true)"
go run ./bench/cmd/benchscale \
	-objects-1k "${SCALE_OBJECTS_1K:-10000}" \
	-objects-100k "${SCALE_OBJECTS_100K:-600}" \
	-rounds "${SCALE_ROUNDS:-3}" \
	-commit "$commit" \
	-out bench/results-scale.json -report docs/PERFORMANCE.md
