# End-to-end tests against a real Kubernetes control plane (docs/e2e.md).
# The Makefile includes this file; it also works alone:
#   make -f hack/e2e.mk e2e

GO          ?= go
E2E_TIMEOUT ?= 40m
E2E_PKGS    ?= ./e2e/... ./pkg/platform/kube/...
E2E_FLAGS   ?=

##@ End-to-end

.PHONY: kube-binaries
kube-binaries: ## Build etcd, kube-apiserver, -controller-manager, -scheduler and kwok once into the cache.
	@nice -n 15 hack/kube-binaries.sh

.PHONY: e2e
e2e: ## Run the e2e tests on a real control plane (first run builds it: 12-15 min).
	@bin="$$(nice -n 15 hack/kube-binaries.sh)" && \
	echo "FIREDRILL_KUBE_BIN=$$bin" && \
	FIREDRILL_KUBE_BIN="$$bin" $(GO) test -tags e2e -race -count=1 -timeout $(E2E_TIMEOUT) $(E2E_FLAGS) $(E2E_PKGS)
