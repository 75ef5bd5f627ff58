# syntax=docker/dockerfile:1
#
# For people who build with Docker: the same image `make image` builds without
# a Docker daemon (docs/install.md#the-image) — a static drill binary at
# /usr/local/bin/drill, user 65532:65532, entrypoint drill, command serve, the
# same OCI labels — on distroless/static-debian12:nonroot (CA bundle, passwd
# with nonroot 65532, /tmp, tzdata; no shell). firedrill's CI has no Docker
# engine, so this file is not built or tested there; `make image` is.
#
#   docker build \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     --build-arg DATE="$(git log -1 --format=%cI)" \
#     -t firedrill/drill:dev .
#
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ...

ARG GO_IMAGE=golang:1.26
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=1970-01-01T00:00:00Z
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH}" \
    go build -trimpath -buildvcs=false -o /out/drill \
      -ldflags "-s -w \
        -X github.com/firedrill/firedrill/pkg/version.Version=${VERSION} \
        -X github.com/firedrill/firedrill/pkg/version.Commit=${COMMIT} \
        -X github.com/firedrill/firedrill/pkg/version.Date=${DATE}" \
      ./cmd/drill

FROM ${BASE_IMAGE}
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="firedrill" \
      org.opencontainers.image.description="Disaster-recovery drills for AI inference services: drill run and drill serve" \
      org.opencontainers.image.source="https://github.com/firedrill/firedrill" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/drill /usr/local/bin/drill
USER 65532:65532
WORKDIR /
ENTRYPOINT ["/usr/local/bin/drill"]
CMD ["serve"]
