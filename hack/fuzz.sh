#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target in the repository for a while each (default 10s):
# a short run in `make test`, a long one by hand, e.g. `./hack/fuzz.sh 10m`.
# Seed corpora live in each package's testdata/fuzz and run as plain tests too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${1:-10s}"
status=0
while IFS=: read -r file func; do
  pkg="./$(dirname "$file")"
  echo "fuzz: $func in $pkg for $fuzztime"
  if ! go test -run='^$' -fuzz="^${func}\$" -fuzztime="$fuzztime" "$pkg"; then
    status=1
  fi
done < <(git ls-files '*_test.go' | xargs grep -oE '^func (Fuzz[A-Za-z0-9_]+)' | sed 's/func //' | sort)
exit $status
