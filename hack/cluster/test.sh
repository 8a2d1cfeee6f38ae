#!/usr/bin/env bash
# test.sh: `make test-cluster`. Starts a one-node cluster (hack/cluster/cluster.sh up),
# runs the Go end-to-end test test/cluster against it, and removes the cluster whatever
# happened (cluster.sh down, which fails if anything is left behind). Logs of every
# component stay in bin/cluster/logs.
# Environment: GOTESTFLAGS (e.g. -v, -run), CLUSTER_KEEP=1 leaves the cluster up after the
# test (remove it with hack/cluster/cluster.sh down).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DIR="${CLUSTER_DIR:-$ROOT/bin/cluster}"
export CLUSTER_DIR="$DIR"

start=$(date +%s)
cleanup() {
  rc=$?
  if [ "${CLUSTER_KEEP:-}" = 1 ] && [ $rc -eq 0 ]; then
    echo "test-cluster: cluster left running; export OPENAI_OPERATOR_CLUSTER=$DIR/cluster.env"
    return
  fi
  if ! ./hack/cluster/cluster.sh down; then
    rc=1
  fi
  echo "test-cluster: $([ $rc -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start ))s"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

./hack/cluster/cluster.sh up
up=$(date +%s)
echo "test-cluster: cluster up after $(( up - start ))s; running test/cluster"
OPENAI_OPERATOR_CLUSTER="$DIR/cluster.env" go test -count=1 -timeout 45m ${GOTESTFLAGS:--v} ./test/cluster/
echo "test-cluster: test/cluster took $(( $(date +%s) - up ))s"
