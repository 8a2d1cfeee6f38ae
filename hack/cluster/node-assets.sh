#!/usr/bin/env bash
# node-assets.sh provides the node components of a one-node cluster and prints the
# directory that holds them: kubelet, kube-controller-manager, kube-scheduler and
# kube-proxy, built from k8s.io/kubernetes through the Go module proxy at the same version
# as hack/envtest-assets.sh's kube-apiserver (it follows k8s.io/api in go.mod).
#
# It builds in a throwaway module under bin/cluster-build (k8s.io/kubernetes carries
# replace directives that `go install module@version` refuses; see hack/envtest-assets.sh)
# and caches the binaries in bin/k8s-node/<version>-<os>-<arch>/, so only the first run
# pays (about 10 minutes on 2 cores after the API server's build, whose packages the Go
# build cache shares).
#
# Progress goes to stderr; stdout carries only the directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

K8S_VERSION="${ENVTEST_K8S_VERSION:-$(go list -m -f '{{.Version}}' k8s.io/api | sed 's/^v0\./1./')}"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
ASSETS="$ROOT/bin/k8s-node/${K8S_VERSION}-${GOOS}-${GOARCH}"
COMPONENTS=(kubelet kube-controller-manager kube-scheduler kube-proxy)

log() { echo "node-assets: $*" >&2; }

have_all() {
  for c in "${COMPONENTS[@]}"; do [ -x "$ASSETS/$c" ] || return 1; done
}

if have_all; then
  echo "$ASSETS"
  exit 0
fi
mkdir -p "$ASSETS"

LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*} -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
STAGING_VERSION="v0.${K8S_VERSION#*.}"
mod="$ROOT/bin/cluster-build/kubernetes-${K8S_VERSION}"
mkdir -p "$mod"
log "preparing a throwaway module for k8s.io/kubernetes v${K8S_VERSION} in ${mod#$ROOT/}"
cd "$mod"
cat > go.mod <<GOMOD
module cluster.local/kubernetes

go 1.26.0

require k8s.io/kubernetes v${K8S_VERSION}
GOMOD
{
  printf '//go:build tools\n\npackage tools\n\nimport (\n'
  for c in "${COMPONENTS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
  printf ')\n'
} > tools.go
# Learn from kubernetes' own go.mod which staging modules it replaces, and use the
# published module of the matching version for each.
go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" > kube.json
kmod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' kube.json)"
grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$kmod" | awk '{print $1}' | sort -u > staging.txt
while read -r m; do
  go mod edit -replace "${m}=${m}@${STAGING_VERSION}"
done < staging.txt
log "resolving dependencies (go mod tidy)"
GOFLAGS=-mod=mod go mod tidy >&2
for c in "${COMPONENTS[@]}"; do
  [ -x "$ASSETS/$c" ] && continue
  log "building $c v${K8S_VERSION}"
  start=$(date +%s)
  CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o "$ASSETS/$c.tmp" "k8s.io/kubernetes/cmd/$c"
  mv "$ASSETS/$c.tmp" "$ASSETS/$c"
  log "built $c in $(( $(date +%s) - start ))s"
done

have_all || { log "components incomplete in $ASSETS"; exit 1; }
log "node components ready in ${ASSETS#$ROOT/}"
echo "$ASSETS"
