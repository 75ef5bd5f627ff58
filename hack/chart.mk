# The Helm chart's generated parts (docs/install.md). The Makefile includes
# this file after setting GO, BIN and CONTROLLER_GEN.

CHART           := charts/firedrill
# drill serve's code: every +kubebuilder:rbac marker of these packages is a
# right the chart grants it.
CHART_RBAC_PATHS := ./pkg/controller/...;./pkg/server/kubeauth/...
CHART_RBAC_DIRS  := pkg/controller/cluster,pkg/controller/drillplan,pkg/controller/drillrun,pkg/server/kubeauth
# The leader election's rights, for a Role in the release namespace.
CHART_RBAC_LEADER := ./pkg/controller/cluster
CHART_GENERATED  := $(CHART)/templates/_rbac.tpl $(CHART)/crds docs/install.md

##@ Chart

.PHONY: chart
chart: $(CONTROLLER_GEN) manifests ## Generate the chart's RBAC (from the code's markers), CRDs and the values table of docs/install.md.
	@rm -rf $(BIN)/chart-rbac && mkdir -p $(BIN)/chart-rbac
	$(CONTROLLER_GEN) rbac:roleName=firedrill paths="$(CHART_RBAC_PATHS)" output:rbac:dir=$(BIN)/chart-rbac
	$(CONTROLLER_GEN) rbac:roleName=firedrill-leader-election paths="$(CHART_RBAC_LEADER)" output:rbac:dir=$(BIN)/chart-rbac/leader-election
	$(GO) run ./hack/chart rbac --role $(BIN)/chart-rbac/role.yaml --leader-election-role $(BIN)/chart-rbac/leader-election/role.yaml --markers $(CHART_RBAC_DIRS) --out $(CHART)/templates/_rbac.tpl
	@rm -rf $(CHART)/crds && mkdir -p $(CHART)/crds && cp config/crd/bases/*.yaml $(CHART)/crds/
	$(GO) run ./hack/chart values-doc --schema $(CHART)/values.schema.json --doc docs/install.md

.PHONY: test-chart
test-chart: ## helm lint and helm template of the chart with Helm v4 and v3 (builds them once: make helm HELM_MAJOR=all).
	$(GO) test -race -count=1 -v ./charts/
