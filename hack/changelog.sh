#!/usr/bin/env bash
# Usage: hack/changelog.sh vX.Y.Z
# Turns CHANGELOG.md's "## [Unreleased]" section into the entry of the given version,
# dated today (UTC), and opens a new empty Unreleased section above it. A version that
# already has an entry is left alone, so `make release` can be run again.
set -euo pipefail
version=${1:?usage: hack/changelog.sh vX.Y.Z}
file=${CHANGELOG:-CHANGELOG.md}
if grep -q "^## \[${version}\]" "$file"; then
	echo "changelog: $file already has an entry for $version"
	exit 0
fi
if ! grep -q '^## \[Unreleased\]' "$file"; then
	echo "changelog: $file has no '## [Unreleased]' section to release" >&2
	exit 1
fi
today=$(date -u +%Y-%m-%d)
tmp=$(mktemp)
awk -v v="$version" -v d="$today" '
	!done && /^## \[Unreleased\]/ { print; print ""; print "## [" v "] - " d; done = 1; next }
	{ print }
' "$file" > "$tmp"
mv "$tmp" "$file"
echo "changelog: $file: the Unreleased changes are now $version ($today)"
