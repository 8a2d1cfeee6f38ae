#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target in the repository for a budget each: a count of
# inputs (`20000x`, the default and `make test`'s) or a time (a long run by hand, e.g.
# `./hack/fuzz.sh 10m`). Seed corpora live in each package's testdata/fuzz and run as
# plain tests too.
#
# A count is the default because go1.26's fuzzing coordinator can fail a target that
# found nothing when a time budget runs out while a worker is mid-input ("context
# deadline exceeded", golang/go#75804, fixed in Go 1.27); it failed one clean-clone
# `.ci/run` here that way. With a time budget, a failure that says
# only that and wrote no failing input is reported as that race, not as a finding.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/fuzz-race.sh
. hack/fuzz-race.sh
budget="${1:-20000x}"
status=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
while IFS=: read -r file func; do
  pkg="./$(dirname "$file")"
  echo "fuzz: $func in $pkg for $budget"
  if go test -run='^$' -fuzz="^${func}\$" -fuzztime="$budget" "$pkg" 2>&1 | tee "$log"; then
    continue
  fi
  if fuzz_deadline_race "$log"; then
    echo "fuzz: $func stopped at its time budget with Go's coordinator race (golang/go#75804), no failing input: not a finding"
    continue
  fi
  status=1
done < <(git ls-files '*_test.go' | xargs grep -oE '^func (Fuzz[A-Za-z0-9_]+)' | sed 's/func //' | sort)
exit $status
