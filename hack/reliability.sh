#!/usr/bin/env bash
# reliability.sh runs the reliability and security scenarios of test/reliability at full
# size (crashes, leader handover, lost webhooks, hostile load, API faults, API server
# trouble, secret hygiene), the randomized fault schedules of test/faultschedule (2,000
# seeds), then the long fuzz runs one target at a time, and writes their figures into the
# generated section of docs/RELIABILITY.md. `make test-reliability` runs it; `make test`
# runs the same scenarios at a small size and 50 seeds.
#
# Every run starts from an empty bin/reliability/ (`report -begin` writes run.json: the
# commit, whether the tree has uncommitted changes, the run id), so nothing of an earlier
# run can reach the document; the report refuses result files of another run or commit,
# and a run of a tree with uncommitted changes unless RELIABILITY_ALLOW_DIRTY=1 (then the
# document says so). Parts skipped or filtered out show as "not run in this run".
#
# Environment:
#   RELIABILITY_SCALE  full (default) or ci (also picks the fault schedules' size)
#   RELIABILITY_RUN    a `go test -run` pattern to run only some scenarios
#   RELIABILITY_SEED   replay the random choices of an earlier run
#   FAULT_SEEDS        fault schedule seeds (default 2000 at full size, 50 at ci)
#   FAULT_SEED_BASE    the first seed (default: from the clock, printed)
#   FUZZTIME           time per fuzz target (default 10m)
#   RELIABILITY_FUZZ   a regular expression: fuzz only the matching targets
#   SKIP_TESTS=1, SKIP_FAULTS=1, SKIP_FUZZ=1   skip a part
#   RELIABILITY_ALLOW_DIRTY=1  report a run of a tree with uncommitted changes
# The scenarios run one at a time (-parallel 1), so that their figures are their own.
# Figures and logs go to bin/reliability/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=bin/reliability
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$(./hack/envtest-assets.sh)}"
fuzztime="${FUZZTIME:-10m}"
scale="${RELIABILITY_SCALE:-full}"
status=0

# A new run: empty the results, record the commit and the tree's state.
RELIABILITY_RUN_ID="$(go run ./test/reliability/report -begin -results "$out")"
export RELIABILITY_RUN_ID RELIABILITY_RESULTS="$PWD/$out/results"
echo "reliability: run $RELIABILITY_RUN_ID, $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -z "${SKIP_TESTS:-}" ]; then
  if ! RELIABILITY_SCALE="$scale" \
    go test -count=1 -parallel 1 -timeout 3h -v -run "${RELIABILITY_RUN:-.}" ./test/reliability/ 2>&1 | tee "$out/test.log"; then
    status=1
  fi
fi

if [ -z "${SKIP_FAULTS:-}" ]; then
  seeds=2000
  if [ "$scale" = ci ]; then
    seeds=50
  fi
  echo "reliability: fault schedules, ${FAULT_SEEDS:-$seeds} seeds at size $scale, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  if ! FAULT_SIZE="$scale" FAULT_SEEDS="${FAULT_SEEDS:-$seeds}" \
    go test -count=1 -timeout 4h -v -run '^TestFaultSchedules$' ./test/faultschedule/ >"$out/faults.log" 2>&1; then
    status=1
  fi
  sed -n '/fault schedule figures:/,/^\(---\|PASS\|FAIL\|ok\)/p' "$out/faults.log"
fi

if [ -z "${SKIP_FUZZ:-}" ]; then
  # shellcheck source=hack/fuzz-race.sh
  . hack/fuzz-race.sh
  # The signature verifier, the event decoder, the receiver's whole request path, and
  # the JSONL input parser; seeds are committed with each target.
  for target in internal/standardwebhooks:FuzzVerify webhook-receiver:FuzzParseEvent \
    webhook-receiver:FuzzHandler internal/batchinput:FuzzValidate; do
    pkg="${target%%:*}" func="${target##*:}"
    if [[ ! "$func" =~ ${RELIABILITY_FUZZ:-.} ]]; then
      continue
    fi
    corpus="$pkg/testdata/fuzz/$func"
    before="$(ls "$corpus" 2>/dev/null || true)"
    echo "reliability: fuzzing $func in ./$pkg for $fuzztime, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    code=0
    go test -run='^$' -fuzz="^${func}\$" -fuzztime="$fuzztime" "./$pkg" >"$out/fuzz-$func.log" 2>&1 || code=$?
    # go1.26's coordinator can fail a target that found nothing when its time runs out
    # mid-input (golang/go#75804; hack/fuzz.sh): that is the fuzzer's race, not a finding.
    if [ "$code" != 0 ] && fuzz_deadline_race "$out/fuzz-$func.log"; then
      echo "reliability: $func stopped at its time budget with Go's coordinator race (golang/go#75804), no failing input" |
        tee -a "$out/fuzz-$func.log"
      code=0
    fi
    echo "$code" >"$out/fuzz-$func.status"
    tail -n 3 "$out/fuzz-$func.log"
    if [ "$code" != 0 ]; then
      status=1
    fi
    # A failing input lands in the package's seed corpus, where it would fail every
    # later `go test` of that package: move it here and report it instead.
    rm -f "$out/fuzz-$func.moved"
    for f in $(ls "$corpus" 2>/dev/null || true); do
      if ! grep -qxF "$f" <<<"$before"; then
        mkdir -p "$out/fuzz-$func-failing"
        mv "$corpus/$f" "$out/fuzz-$func-failing/"
        echo "$out/fuzz-$func-failing/$f" >>"$out/fuzz-$func.moved"
        echo "reliability: $func failed; its failing input is now $out/fuzz-$func-failing/$f"
      fi
    done
  done
fi

go run ./test/reliability/report -results "$out" -doc docs/RELIABILITY.md ${RELIABILITY_ALLOW_DIRTY:+-allow-dirty}
echo "reliability: figures written to docs/RELIABILITY.md; load average $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
