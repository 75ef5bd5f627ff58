# firedrill's build contract. `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.DEFAULT_GOAL := help

GO            ?= go
BIN           := $(CURDIR)/bin
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT        ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE          ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS       := -X github.com/firedrill/firedrill/pkg/version.Version=$(VERSION) \
                 -X github.com/firedrill/firedrill/pkg/version.Commit=$(COMMIT) \
                 -X github.com/firedrill/firedrill/pkg/version.Date=$(DATE)

# Pinned tools, installed into ./bin.
CONTROLLER_GEN_VERSION := v0.23.0
GOLANGCI_LINT_VERSION  := v2.15.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GOLANGCI_LINT  := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# An execution count, not a duration: a duration-bounded run can fail with a bare
# "context deadline exceeded" when its workers are starved as the time runs out
# (go.dev/issue/75804), which is a race in Go's fuzz coordinator, never a finding.
FUZZTIME ?= 300000x
BENCHTIME ?= 1s

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build bin/drill and bin/recommender with version information.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/drill ./cmd/drill
	@if [ -d cmd/recommender ]; then $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/recommender ./cmd/recommender; fi

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy functions.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./pkg/apis/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs into config/crd.
	$(CONTROLLER_GEN) crd paths=./pkg/apis/... output:crd:artifacts:config=config/crd/bases

DASHBOARD := charts/firedrill/dashboards/firedrill.json

.PHONY: dashboards
dashboards: ## Generate the Grafana dashboard (pkg/dashboards) into charts/firedrill/dashboards.
	$(GO) run ./hack/dashboards -o $(DASHBOARD)

##@ Test

# The engine's real-time tier measures outages on the wall clock to within
# 25 ms; it runs alone, after the rest, so other packages' tests do not
# share its two cores.
REALTIME_PKGS := ./pkg/engine/integration

.PHONY: test
test: ## Run every unit and integration test with the race detector.
	@# The chart tests run helm v4 and v3, built from the Go module proxy once into the cache.
	@nice -n 15 hack/helm.sh all >/dev/null
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -x -F "$$($(GO) list $(REALTIME_PKGS))")
	$(GO) test -race -count=1 -p 1 $(REALTIME_PKGS)

.PHONY: fuzz
fuzz: ## Fuzz the plan loader for FUZZTIME executions (default 300000x, about 20-40 s).
	$(GO) test ./pkg/plan -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME)

.PHONY: bench
bench: ## Run the benchmarks (numbers go to docs/benchmarks.md).
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	$(GO) test ./pkg/probe -run '^$$' -bench ProbeAt -cpu 1 -benchtime 5x

.PHONY: bench-kube
bench-kube: ## Kubernetes scale benchmark: 200 kwok GPU nodes, 2,000 pods, drill cuts a region over (10-15 min).
	@bin="$$(nice -n 15 hack/kube-binaries.sh)" && \
	FIREDRILL_KUBE_BIN="$$bin" $(GO) test -tags 'e2e scale' -count=1 -timeout 80m -run '^TestKubernetesScale$$' -v ./e2e/ $(BENCH_KUBE_FLAGS)

.PHONY: bench-serve
bench-serve: ## drill serve at scale: 200 DrillPlans and 2,000 DrillRuns on a real API server; RSS, idle reconcile, API listing.
	@bin="$$(nice -n 15 hack/kube-binaries.sh)" && \
	FIREDRILL_KUBE_BIN="$$bin" $(GO) test -tags 'e2e scale' -count=1 -timeout 40m -run '^TestServeScale$$' -v ./e2e/

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: generate manifests dashboards chart ## Fail when generated files or go.mod drift from the source.
	$(GO) mod tidy
	@git diff --exit-code -- go.mod go.sum pkg/apis config/crd $(DASHBOARD) $(CHART_GENERATED) || { echo "generated files or go.mod are out of date: run 'make generate manifests dashboards chart' and 'go mod tidy'"; exit 1; }
	@test -z "$$(git status --porcelain -- pkg/apis config/crd $(DASHBOARD) $(CHART_GENERATED))" || { echo "untracked generated files:"; git status --porcelain -- pkg/apis config/crd $(DASHBOARD) $(CHART_GENERATED); exit 1; }

include hack/e2e.mk
include hack/image.mk
include hack/chart.mk

##@ Tools

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(GOLANGCI_LINT):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@
