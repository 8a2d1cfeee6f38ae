#!/usr/bin/env bash
# envtest-assets.sh provides a real kube-apiserver, etcd and kubectl for tests and prints
# the directory that holds them (use it as KUBEBUILDER_ASSETS).
#
# It first asks setup-envtest (the ecosystem's usual path, which downloads prebuilt
# binaries); where that cannot download, it builds the binaries from the Go module proxy
# in a throwaway module under bin/, because k8s.io/kubernetes and etcd carry replace
# directives that `go install module@version` refuses. Results are cached in bin/ by
# version, so only the first run pays (several minutes for kube-apiserver).
#
# Progress goes to stderr; stdout carries only the asset directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The Kubernetes minor follows k8s.io/api in go.mod (v0.37.2 -> v1.37.2).
K8S_VERSION="${ENVTEST_K8S_VERSION:-$(go list -m -f '{{.Version}}' k8s.io/api | sed 's/^v0\./1./')}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.16}"
SETUP_ENVTEST_VERSION="${SETUP_ENVTEST_VERSION:-v0.25.1}"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"

BIN="$ROOT/bin"
ASSETS="$BIN/k8s/${K8S_VERSION}-etcd${ETCD_VERSION}-${GOOS}-${GOARCH}"

log() { echo "envtest-assets: $*" >&2; }

have_all() {
  [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ] && [ -x "$1/kubectl" ]
}

if have_all "$ASSETS"; then
  echo "$ASSETS"
  exit 0
fi
mkdir -p "$ASSETS"

# 1. setup-envtest, with a short deadline: on a machine without internet it fails fast.
if [ "${ENVTEST_SKIP_DOWNLOAD:-}" != "1" ]; then
  log "trying setup-envtest ${SETUP_ENVTEST_VERSION} for Kubernetes ${K8S_VERSION}"
  SETUP_ENVTEST="$BIN/setup-envtest-${SETUP_ENVTEST_VERSION}"
  if [ ! -x "$SETUP_ENVTEST" ]; then
    GOBIN="$BIN" go install "sigs.k8s.io/controller-runtime/tools/setup-envtest@${SETUP_ENVTEST_VERSION}" >&2 \
      && mv "$BIN/setup-envtest" "$SETUP_ENVTEST" || true
  fi
  if [ -x "$SETUP_ENVTEST" ]; then
    if dir="$(timeout 120 "$SETUP_ENVTEST" use "$K8S_VERSION" --bin-dir "$BIN/setup-envtest-cache" -p path 2>/dev/null)" && [ -n "$dir" ] && have_all "$dir"; then
      cp "$dir/kube-apiserver" "$dir/etcd" "$dir/kubectl" "$ASSETS/"
      log "using downloaded binaries"
      echo "$ASSETS"
      exit 0
    fi
  fi
  log "setup-envtest could not download; building from the Go module proxy instead"
fi

# 2. Build from source via the module proxy.
WORK="$BIN/envtest-build"
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*} -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
STAGING_VERSION="v0.${K8S_VERSION#*.}"

if [ ! -x "$ASSETS/kube-apiserver" ] || [ ! -x "$ASSETS/kubectl" ]; then
  mod="$WORK/kubernetes-${K8S_VERSION}"
  mkdir -p "$mod"
  log "preparing a throwaway module for k8s.io/kubernetes v${K8S_VERSION} in ${mod#$ROOT/}"
  (
    cd "$mod"
    cat > go.mod <<GOMOD
module envtest.local/kubernetes

go 1.26.0

require k8s.io/kubernetes v${K8S_VERSION}
GOMOD
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    # Fetch kubernetes' own go.mod to learn which staging modules it replaces.
    go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" > kube.json
    kmod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' kube.json)"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$kmod" | awk '{print $1}' | sort -u > staging.txt
    while read -r m; do
      go mod edit -replace "${m}=${m}@${STAGING_VERSION}"
    done < staging.txt
    log "resolving dependencies (go mod tidy)"
    GOFLAGS=-mod=mod go mod tidy >&2
    log "building kube-apiserver v${K8S_VERSION} (about 7 minutes on 2 cores the first time)"
    CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o "$ASSETS/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    log "building kubectl v${K8S_VERSION}"
    CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o "$ASSETS/kubectl" k8s.io/kubernetes/cmd/kubectl
  )
fi

if [ ! -x "$ASSETS/etcd" ]; then
  mod="$WORK/etcd-${ETCD_VERSION}"
  mkdir -p "$mod"
  log "building etcd v${ETCD_VERSION}"
  (
    cd "$mod"
    cat > go.mod <<GOMOD
module envtest.local/etcd

go 1.26.0
GOMOD
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >&2
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$ASSETS/etcd" go.etcd.io/etcd/server/v3
  )
fi

have_all "$ASSETS" || { log "assets incomplete in $ASSETS"; exit 1; }
log "assets ready in ${ASSETS#$ROOT/}"
echo "$ASSETS"
