#!/usr/bin/env bash
# fuzz-race.sh, sourced by hack/fuzz.sh and hack/reliability.sh: fuzz_deadline_race LOG
# succeeds when a failed fuzz run's output (LOG) shows only go1.26's coordinator racing
# its own time budget ("context deadline exceeded" while a worker was mid-input,
# golang/go#75804, fixed in Go 1.27) and no finding: no failing input written, no panic,
# no test failure. Such a run found nothing.
fuzz_deadline_race() {
  grep -q 'context deadline exceeded' "$1" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$1"
}
