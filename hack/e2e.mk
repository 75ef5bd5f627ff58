# End-to-end tests against a real Kubernetes control plane (docs/e2e.md).
# The Makefile includes this file; it also works alone:
#   make -f hack/e2e.mk e2e

GO          ?= go
E2E_TIMEOUT ?= 40m
E2E_PKGS    ?= ./e2e/... ./pkg/platform/kube/...
E2E_FLAGS   ?=

# Chaos Mesh's CRDs are not published in its api module: they are generated
# from the module's Go types with controller-gen (as Chaos Mesh's own
# Makefile does, allowDangerousTypes for its float fields) into a cache
# keyed by the module's version and controller-gen's (docs/chaos-mesh.md).
CHAOS_MESH_API             := github.com/chaos-mesh/chaos-mesh/api
E2E_CONTROLLER_GEN_VERSION ?= v0.23.0
E2E_CONTROLLER_GEN         ?= $(if $(CONTROLLER_GEN),$(CONTROLLER_GEN),$(CURDIR)/bin/controller-gen-$(E2E_CONTROLLER_GEN_VERSION))
E2E_CACHE                  ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/firedrill

##@ End-to-end

.PHONY: kube-binaries
kube-binaries: ## Build etcd, kube-apiserver, -controller-manager, -scheduler and kwok once into the cache.
	@nice -n 15 hack/kube-binaries.sh

.PHONY: chaos-mesh-crds
chaos-mesh-crds: ## Generate Chaos Mesh's CRDs from its api module once into the cache; print the directory.
	@set -e; \
	ver="$$($(GO) list -m -f '{{.Version}}' $(CHAOS_MESH_API))"; \
	dir="$(E2E_CACHE)/chaos-mesh-crds-$$ver-controller-gen-$(E2E_CONTROLLER_GEN_VERSION)"; \
	if [ ! -f "$$dir/.complete" ]; then \
		if [ ! -x "$(E2E_CONTROLLER_GEN)" ]; then \
			mkdir -p "$(dir $(E2E_CONTROLLER_GEN))"; \
			GOBIN="$(dir $(E2E_CONTROLLER_GEN))" $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(E2E_CONTROLLER_GEN_VERSION) >&2; \
			mv "$(dir $(E2E_CONTROLLER_GEN))controller-gen" "$(E2E_CONTROLLER_GEN)"; \
		fi; \
		mkdir -p "$(E2E_CACHE)"; \
		tmp="$$(mktemp -d "$(E2E_CACHE)/chaos-mesh-crds.XXXXXX")"; \
		"$(E2E_CONTROLLER_GEN)" crd:allowDangerousTypes=true paths=$(CHAOS_MESH_API)/v1alpha1 output:crd:artifacts:config="$$tmp" >&2; \
		touch "$$tmp/.complete"; \
		rm -rf "$$dir"; mv "$$tmp" "$$dir"; \
	fi; \
	echo "$$dir"

.PHONY: e2e
e2e: ## Run the e2e tests on a real control plane (first run builds it: 12-15 min).
	@bin="$$(nice -n 15 hack/kube-binaries.sh)" && \
	crds="$$($(MAKE) -s --no-print-directory -f hack/e2e.mk chaos-mesh-crds)" && \
	echo "FIREDRILL_KUBE_BIN=$$bin" && echo "FIREDRILL_CHAOS_MESH_CRDS=$$crds" && \
	FIREDRILL_KUBE_BIN="$$bin" FIREDRILL_CHAOS_MESH_CRDS="$$crds" $(GO) test -tags e2e -race -count=1 -timeout $(E2E_TIMEOUT) $(E2E_FLAGS) $(E2E_PKGS)
