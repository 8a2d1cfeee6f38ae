#!/usr/bin/env bash
# Usage: hack/lint-budget.sh GOLANGCI_LINT [BUDGET_FILE]
# Runs golangci-lint over the module and compares each linter's number of findings with
# the budget (hack/lint-budget.txt: "linter count" per line). Fails when a linter finds
# more than its budget, or one without a budget finds anything, and prints the findings
# of that linter; says so when a count fell, so that the budget can be lowered. A
# ratchet until `make lint` is clean (see CONTRIBUTING.md, "Lint").
set -euo pipefail
lint=${1:?usage: hack/lint-budget.sh GOLANGCI_LINT [BUDGET_FILE]}
budget=${2:-hack/lint-budget.txt}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$lint" run --max-issues-per-linter=0 --max-same-issues=0 --output.text.path="$out" \
	--output.text.print-issued-lines=false ./... >/dev/null 2>&1 || true
if grep -q '(typecheck)$' "$out"; then
	echo "lint-budget: the code does not type-check:" >&2
	grep '(typecheck)$' "$out" >&2
	exit 1
fi
declare -A found allowed
while read -r n linter; do found[$linter]=$n; done < <(sed -nE 's/.*\(([a-z0-9]+)\)$/\1/p' "$out" | sort | uniq -c)
while read -r linter n; do
	[[ -z "$linter" || "$linter" == \#* ]] && continue
	allowed[$linter]=$n
done < "$budget"
status=0
for linter in $(printf '%s\n' "${!found[@]}" "${!allowed[@]}" | sort -u); do
	f=${found[$linter]:-0} a=${allowed[$linter]:-0}
	if ((f > a)); then
		echo "lint-budget: $linter finds $f, the budget allows $a:"
		grep "($linter)\$" "$out" | sed 's/^/  /'
		status=1
	elif ((f < a)); then
		echo "lint-budget: $linter finds $f, fewer than its budget $a: lower it in $budget"
	fi
done
total=$(grep -cE '\([a-z0-9]+\)$' "$out" || true)
echo "lint-budget: $total findings in all"
exit $status
