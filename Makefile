# openai-operator Makefile, in kubebuilder's shape.

# Image URL to use for building and deploying the operator.
IMG ?= ghcr.io/openai-operator/openai-operator:latest

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

.PHONY: lint
lint: vet ## Check formatting and vet.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: verify
verify: manifests generate fmt lint ## Regenerate everything and fail if the tree is not clean.
	@if [ -n "$$(git status --porcelain)" ]; then echo "generated files or formatting are out of date:"; git status --porcelain; git --no-pager diff --stat; exit 1; fi

.PHONY: envtest
envtest: ## Provide kube-apiserver, etcd and kubectl for tests in bin/ (downloads, or builds them from the Go module proxy).
	@./hack/envtest-assets.sh >/dev/null

# Go test flags; `make test GOTESTFLAGS=-v` for more output.
GOTESTFLAGS ?=
# Fuzz time per target for the short fuzz run in `make test`.
FUZZTIME ?= 10s

.PHONY: test
test: manifests generate vet envtest ## Run all tests (unit, integration against a real API server, e2e) with -race.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" go test -race -count=1 $(GOTESTFLAGS) ./...
	./hack/fuzz.sh $(FUZZTIME)

.PHONY: test-e2e
test-e2e: envtest ## Run only the end-to-end tests (real binaries, real API server, the emulator).
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" go test -count=1 $(GOTESTFLAGS) ./test/e2e/...

.PHONY: test-cluster
test-cluster: envtest ## Run the operator as Pods on a one-node cluster started here (needs root; see hack/cluster), then remove the cluster.
	./hack/cluster/test.sh

.PHONY: test-reliability
test-reliability: build envtest ## The long fault-injection runs (crashes, lost webhooks, load); writes docs/RELIABILITY.md figures.
	./hack/reliability.sh

##@ Build

LDFLAGS ?= -s -w

.PHONY: build
build: manifests generate fmt vet ## Build the manager, webhook-receiver and openai-emulator binaries into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/manager ./cmd/manager
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/webhook-receiver ./cmd/webhook-receiver
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/openai-emulator ./cmd/openai-emulator

.PHONY: run
run: manifests generate fmt vet ## Run the manager from your host against the cluster in ~/.kube/config.
	go run ./cmd/manager

CONTAINER_TOOL ?= docker

.PHONY: docker-build
docker-build: ## Build the image holding manager and webhook-receiver.
	$(CONTAINER_TOOL) build -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push the image.
	$(CONTAINER_TOOL) push ${IMG}

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml: CRDs and the whole deployment in one file.
	mkdir -p dist
	cd config/default && $(KUSTOMIZE) edit set image controller=${IMG}
	$(KUSTOMIZE) build config/default > dist/install.yaml
	cd config/default && $(KUSTOMIZE) edit set image controller=controller:latest

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
deploy: manifests kustomize ## Deploy the operator to the cluster in ~/.kube/config.
	cd config/default && $(KUSTOMIZE) edit set image controller=${IMG}
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -
	cd config/default && $(KUSTOMIZE) edit set image controller=controller:latest

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

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p $(LOCALBIN)

KUBECTL ?= kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)

KUSTOMIZE_VERSION ?= v5.8.0
CONTROLLER_TOOLS_VERSION ?= v0.23.0

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

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
