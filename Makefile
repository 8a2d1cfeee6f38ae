# openai-operator Makefile, in kubebuilder's shape.

# The version stamped into the binaries (--version, the start-up log line) and the
# image: `git describe` of this tree, e.g. v0.1.0, v0.1.0-3-gabc1234 or abc1234-dirty.
# `make release VERSION=vX.Y.Z` sets it explicitly.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
VERSION := $(VERSION)
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
GIT_COMMIT := $(GIT_COMMIT)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILD_DATE := $(BUILD_DATE)

# Image URL to use for building and deploying the operator: always a version's tag, never
# a moving one.
IMAGE_REPO ?= ghcr.io/openai-operator/openai-operator
IMG ?= $(IMAGE_REPO):$(VERSION)

# Get the currently used golang install path (in GOPATH/bin, unless GOBIN is set).
ifeq (,$(shell go env GOBIN))
GOBIN=$(shell go env GOPATH)/bin
else
GOBIN=$(shell go env GOBIN)
endif

# Setting SHELL to bash allows bash commands to be executed by recipes.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC (ClusterRoles) from the code's markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

.PHONY: fmt-check
fmt-check: vet ## Check formatting and vet.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (.golangci.yml: kubebuilder's linters plus errorlint).
	$(GOLANGCI_LINT) run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and fix what it can.
	$(GOLANGCI_LINT) run --fix

.PHONY: lint-config
lint-config: golangci-lint ## Verify the golangci-lint configuration.
	$(GOLANGCI_LINT) config verify

.PHONY: docs
docs: crd-ref-docs ## Generate the API reference docs/API.md from the Go types (crd-ref-docs).
	$(CRD_REF_DOCS) --source-path=./api/v1alpha1 --config=hack/api-docs/config.yaml --renderer=markdown --output-path=docs/API.md

.PHONY: helm-chart
helm-chart: manifests ## Regenerate the Helm chart's CRDs, RBAC, alerts and dashboard (charts/openai-operator) from config/.
	go run ./hack/helmchart .

# HELM_KUBE_VERSION is the Kubernetes version `helm template` renders for (the chart
# needs 1.30 or newer; helm's default is older).
HELM_KUBE_VERSION ?= 1.37.2
HELM_ALL_ON = --set prometheus.enable=true,metrics.certManager.enable=true,networkPolicy.enable=true,grafana.dashboard.enable=true,webhookReceiver.ingress.enable=true,webhookReceiver.ingress.tls.secretName=tls

.PHONY: helm-lint
helm-lint: helm ## helm lint and helm template the chart, with the default values and with every option on.
	$(HELM) lint --strict charts/openai-operator
	$(HELM) lint --strict charts/openai-operator $(HELM_ALL_ON)
	$(HELM) template openai-operator charts/openai-operator --namespace openai-operator-system --kube-version $(HELM_KUBE_VERSION) >/dev/null
	$(HELM) template openai-operator charts/openai-operator --namespace openai-operator-system --kube-version $(HELM_KUBE_VERSION) $(HELM_ALL_ON) >/dev/null

.PHONY: verify
verify: manifests generate docs helm-chart fmt fmt-check lint-config test-alerts helm-lint lint ## Regenerate everything (code, manifests, docs/API.md, the chart's copies), check the alerts, the chart and golangci-lint; fail if the tree is not clean.
	@if [ -n "$$(git status --porcelain)" ]; then echo "generated files or formatting are out of date:"; git status --porcelain; git --no-pager diff --stat; exit 1; fi

.PHONY: envtest
envtest: ## Provide kube-apiserver, etcd and kubectl for tests in bin/ (downloads, or builds them from the Go module proxy).
	@./hack/envtest-assets.sh >/dev/null

# Go test flags; `make test GOTESTFLAGS=-v` for more output.
GOTESTFLAGS ?=
# Fuzz budget per target for the short fuzz run in `make test`: a count of inputs
# (hack/fuzz.sh says why not a time), or a time such as 10s.
FUZZTIME ?= 20000x

# FAULT_SEED_BASE pins the fault schedules that make test runs (test/faultschedule: 50
# seeds at size ci from this seed), so that CI runs the same schedules every time; make
# test-reliability draws fresh ones from the clock.
FAULT_SEED_BASE ?= 1000

.PHONY: test
test: manifests generate vet envtest helm kustomize ## Run all tests (unit, integration against a real API server, e2e) with -race; the fault schedules from FAULT_SEED_BASE.
	HELM=$(HELM) KUSTOMIZE=$(KUSTOMIZE) KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" FAULT_SEED_BASE=$(FAULT_SEED_BASE) go test -race -count=1 $(GOTESTFLAGS) ./...
	./hack/fuzz.sh $(FUZZTIME)

.PHONY: test-alerts
test-alerts: promtool ## Check the PrometheusRule's alerts and run their promtool unit tests.
	mkdir -p bin/prometheus-rules
	go run ./hack/promrules config/prometheus/alerts.yaml > bin/prometheus-rules/alerts.rules.yaml
	$(PROMTOOL) check rules bin/prometheus-rules/alerts.rules.yaml
	$(PROMTOOL) test rules config/prometheus/tests/alerts_test.yaml

.PHONY: test-e2e
test-e2e: envtest ## Run only the end-to-end tests (real binaries, real API server, the emulator).
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" go test -count=1 $(GOTESTFLAGS) ./test/e2e/...

.PHONY: test-cluster
test-cluster: envtest ## Run the operator as Pods on a one-node cluster started here (needs root; see hack/cluster), then remove the cluster.
	./hack/cluster/test.sh

.PHONY: test-reliability
test-reliability: build envtest ## The long fault-injection runs (crashes, lost webhooks, load, 2,000 fault schedules); writes docs/RELIABILITY.md figures.
	./hack/reliability.sh

##@ Build

VERSION_PKG := github.com/openai-operator/openai-operator/internal/version
LDFLAGS ?= -s -w -X $(VERSION_PKG).version=$(VERSION) -X $(VERSION_PKG).commit=$(GIT_COMMIT) -X $(VERSION_PKG).buildDate=$(BUILD_DATE)

.PHONY: build
build: manifests generate fmt vet ## Build the manager, webhook-receiver and openai-emulator binaries into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/manager ./cmd/manager
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/webhook-receiver ./cmd/webhook-receiver
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/openai-emulator ./cmd/openai-emulator

.PHONY: run
run: manifests generate fmt vet ## Run the manager from your host against the cluster in ~/.kube/config.
	go run ./cmd/manager

CONTAINER_TOOL ?= docker

DOCKER_BUILD_ARGS = --build-arg VERSION=$(VERSION) --build-arg GIT_COMMIT=$(GIT_COMMIT) --build-arg BUILD_DATE=$(BUILD_DATE)

.PHONY: docker-build
docker-build: ## Build the image holding manager and webhook-receiver (stamped with VERSION).
	$(CONTAINER_TOOL) build $(DOCKER_BUILD_ARGS) -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push the image.
	$(CONTAINER_TOOL) push ${IMG}

# PLATFORMS lists the platforms `docker-buildx` builds for. The Dockerfile compiles on the
# build host and cross-compiles for each (its builder stage is FROM --platform=$$BUILDPLATFORM),
# so no emulation is needed; the distroless base exists for each of these.
PLATFORMS ?= linux/amd64,linux/arm64,linux/s390x,linux/ppc64le

.PHONY: docker-buildx
docker-buildx: ## Build and push the image for every platform in PLATFORMS (docker buildx).
	- $(CONTAINER_TOOL) buildx create --name openai-operator-builder
	$(CONTAINER_TOOL) buildx use openai-operator-builder
	- $(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) $(DOCKER_BUILD_ARGS) --tag ${IMG} .
	- $(CONTAINER_TOOL) buildx rm openai-operator-builder

# render-install writes config/default with the image set to $(IMG) to $(1), through a
# throwaway overlay in dist/, so that the checked-in kustomization is never edited.
define render-install
@set -e; mkdir -p dist; overlay=$$(mktemp -d dist/overlay.XXXXXX); trap 'rm -rf "$$overlay"' EXIT; \
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../config/default\n' > "$$overlay/kustomization.yaml"; \
(cd "$$overlay" && $(KUSTOMIZE) edit set image controller=$(IMG)); \
$(KUSTOMIZE) build "$$overlay" > $(1)
endef

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml: CRDs and the whole deployment in one file, with the image IMG.
	mkdir -p dist
	$(call render-install,dist/install.yaml)

.PHONY: release
release: manifests generate kustomize helm ## Write release VERSION=vX.Y.Z: dist/install.yaml (image $(IMAGE_REPO):VERSION), dist/crds.yaml, the Helm chart's package, dist/checksums.txt (sha256) and its CHANGELOG.md entry.
	@[[ "$(VERSION)" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$$ ]] || { echo "make release needs VERSION=vX.Y.Z (got $(VERSION))" >&2; exit 1; }
	mkdir -p dist
	$(MAKE) --no-print-directory build-installer VERSION=$(VERSION) IMG=$(IMAGE_REPO):$(VERSION)
	$(KUSTOMIZE) build config/crd > dist/crds.yaml
	$(HELM) package charts/openai-operator --version $(VERSION:v%=%) --app-version $(VERSION) --destination dist
	cd dist && sha256sum install.yaml crds.yaml openai-operator-$(VERSION:v%=%).tgz > checksums.txt
	./hack/changelog.sh $(VERSION)
	@echo "release $(VERSION): dist/install.yaml, dist/crds.yaml, dist/openai-operator-$(VERSION:v%=%).tgz, dist/checksums.txt; build and push the image with: make docker-buildx VERSION=$(VERSION)"

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install CRDs into the cluster in ~/.kube/config.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall CRDs. Call with ignore-not-found=true to ignore missing resources.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator (image IMG) to the cluster in ~/.kube/config.
	mkdir -p dist
	$(call render-install,dist/deploy.yaml)
	$(KUBECTL) apply --server-side -f dist/deploy.yaml

.PHONY: undeploy
undeploy: kustomize ## Remove the operator. Call with ignore-not-found=true to ignore missing resources.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Local environment

.PHONY: dev-up
dev-up: build envtest ## Start a local control plane, the emulator, manager and receiver; writes bin/dev/env.sh.
	./hack/dev.sh up

.PHONY: dev-down
dev-down: ## Stop everything dev-up started.
	./hack/dev.sh down

.PHONY: demo
demo: build envtest ## The main job: dev-up, apply the samples, watch them complete, show a result, dev-down.
	./hack/demo.sh

.PHONY: bench
bench: build envtest ## Run the benchmarks; writes bench/results.json and docs/PERFORMANCE.md.
	./hack/bench.sh

.PHONY: bench-scale
bench-scale: build envtest ## Measure the manager's cache per 1,000 submitted batches, then the real binaries at BENCH_SCALE_INFLIGHT + BENCH_SCALE_DONE (50,000 + 5,000); writes bench/results-scale.json and docs/PERFORMANCE.md's scale section.
	./hack/bench-scale.sh

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p $(LOCALBIN)

KUBECTL ?= kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)

HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
PROMTOOL ?= $(LOCALBIN)/promtool-$(PROMETHEUS_VERSION)
CRD_REF_DOCS ?= $(LOCALBIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)

KUSTOMIZE_VERSION ?= v5.8.0
CONTROLLER_TOOLS_VERSION ?= v0.23.0
HELM_VERSION ?= v3.22.0
GOLANGCI_LINT_VERSION ?= v2.15.0
# Prometheus' Go module versions are v0.<minor>.<patch> for release v3.<minor>.<patch>.
PROMETHEUS_VERSION ?= v0.316.0
CRD_REF_DOCS_VERSION ?= v0.3.0

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: helm
helm: $(HELM) ## Download helm locally if necessary.
$(HELM): | $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Download golangci-lint locally if necessary.
$(GOLANGCI_LINT): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: promtool
promtool: $(PROMTOOL) ## Download promtool (Prometheus' rule checker) locally if necessary.
$(PROMTOOL): | $(LOCALBIN)
	$(call go-install-tool,$(PROMTOOL),github.com/prometheus/prometheus/cmd/promtool,$(PROMETHEUS_VERSION))

.PHONY: crd-ref-docs
crd-ref-docs: $(CRD_REF_DOCS) ## Download crd-ref-docs (the API reference generator) locally if necessary.
$(CRD_REF_DOCS): | $(LOCALBIN)
	$(call go-install-tool,$(CRD_REF_DOCS),github.com/elastic/crd-ref-docs,$(CRD_REF_DOCS_VERSION))

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary (ideally with version)
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f $(1) ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
GOBIN=$(LOCALBIN) go install $${package} ;\
mv "$$(echo "$(1)" | sed "s/-$(3)$$//")" $(1) ;\
}
endef
