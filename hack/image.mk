# The container image and Helm (docs/install.md). The Makefile includes this
# file after setting GO, BIN, VERSION and COMMIT.

# Push with IMAGE=<ref>, e.g. IMAGE=ghcr.io/firedrill/drill:v0.3.0.
IMAGE           ?=
# Several platforms make a multi-arch index: IMAGE_PLATFORMS="linux/amd64 linux/arm64".
IMAGE_PLATFORMS ?= linux/amd64
IMAGE_LAYOUT    ?= $(BIN)/image
# Debian's ca-certificates package installs the bundle here.
IMAGE_CA_CERTS  ?= /etc/ssl/certs/ca-certificates.crt
# Every timestamp in the image, and the binary's build date, is the commit's
# (or SOURCE_DATE_EPOCH's), so two builds of one commit give one digest.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_DATE      := $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
IMAGE_LDFLAGS   := -s -w \
                   -X github.com/firedrill/firedrill/pkg/version.Version=$(VERSION) \
                   -X github.com/firedrill/firedrill/pkg/version.Commit=$(COMMIT) \
                   -X github.com/firedrill/firedrill/pkg/version.Date=$(IMAGE_DATE)
IMAGE_FLAGS      = $(foreach p,$(IMAGE_PLATFORMS),--binary $(p)=$(BIN)/image-build/$(subst /,-,$(p))/drill) \
                   --ca-certs $(IMAGE_CA_CERTS) --version $(VERSION) --revision $(COMMIT) \
                   --created $(IMAGE_DATE) --layout $(IMAGE_LAYOUT)

##@ Image

.PHONY: image-binaries
image-binaries: ## Build the image's static drill binaries into bin/image-build/<os>-<arch>/.
	@set -e; for p in $(IMAGE_PLATFORMS); do \
		os="$${p%%/*}"; arch="$${p#*/}"; \
		echo "drill for $$p (CGO_ENABLED=0, -trimpath)"; \
		CGO_ENABLED=0 GOOS="$$os" GOARCH="$$arch" $(GO) build -trimpath -ldflags "$(IMAGE_LDFLAGS)" \
			-o "$(BIN)/image-build/$$os-$$arch/drill" ./cmd/drill; \
	done

.PHONY: image
image: image-binaries ## Build the OCI image into bin/image without Docker; IMAGE=<ref> also pushes it.
	$(GO) run ./hack/image $(IMAGE_FLAGS) $(if $(IMAGE),--push $(IMAGE))

.PHONY: image-verify
image-verify: image-binaries ## Build the image twice (one digest), push it to a loopback registry, pull it back and check it.
	$(GO) run ./hack/image $(IMAGE_FLAGS) --verify $(if $(IMAGE),--push $(IMAGE))

##@ Helm

.PHONY: helm
helm: ## Build helm v4 (and v3 with HELM_MAJOR=3 or all) from the Go module proxy once into the cache; print its path.
	@nice -n 15 hack/helm.sh $(or $(HELM_MAJOR),4)
