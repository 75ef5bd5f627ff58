#!/usr/bin/env bash
# Builds helm from the Go module proxy, cached by version under
# ${XDG_CACHE_HOME:-$HOME/.cache}/firedrill/helm-<version>/bin/helm, as
# hack/kube-binaries.sh does for the control plane. The chart must work with
# Helm v3 and v4, so both can be built.
#
# Usage: hack/helm.sh [4|3|all]   (default 4)
#
# Prints the path of each binary on stdout, one a line (v4 first with "all");
# everything else goes to stderr. A cached build costs nothing; a fresh one
# about 10 minutes per major version on 2 loaded cores.
#
# Environment: HELM_V4_VERSION, HELM_V3_VERSION override the pinned versions;
# GO selects the go command.
set -euo pipefail

HELM_V4_VERSION="${HELM_V4_VERSION:-v4.3.2}"
HELM_V3_VERSION="${HELM_V3_VERSION:-v3.21.4}"
GO="${GO:-go}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/firedrill"

log() { echo "helm: $(date -u +%H:%M:%S) $*" >&2; }

# build MAJOR VERSION builds helm.sh/helm/vMAJOR/cmd/helm at VERSION into the
# cache unless it is there, and prints the binary's path.
build() {
  local major="$1" version="$2"
  local mod="helm.sh/helm/v$major"
  local dir="$CACHE_ROOT/helm-$version/bin"
  local bin="$dir/helm"
  if [[ -x "$bin" ]]; then
    echo "$bin"
    return
  fi
  mkdir -p "$dir"
  # One build at a time per version (parallel callers may all ask for it);
  # whoever waited finds the binary built. The lock is released when the
  # subshell holding descriptor 9 ends.
  (
    flock 9
    if [[ -x "$bin" ]]; then
      exit 0
    fi
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    cd "$work"
    log "building helm $version (about 10 minutes on 2 cores)"
    # A throwaway module that requires only helm, so firedrill's go.mod is
    # never touched and helm's own requirements decide every version.
    printf 'module firedrill.local/helmbuild\n\ngo 1.26\n' > go.mod
    export GOFLAGS="-mod=mod -buildvcs=false"
    "$GO" get "$mod/cmd/helm@$version" >&2
    # What helm's Makefile stamps, so `helm version` reports the release. The
    # proxy does not carry the upstream commit, so gitCommit stays empty. Helm
    # v3 also takes the Kubernetes version it assumes offline (`helm
    # template`) from ldflags: client-go v0.X.Y means Kubernetes v1.X.
    local ldflags="-s -w -X $mod/internal/version.version=$version -X $mod/internal/version.metadata= -X $mod/internal/version.gitTreeState=clean"
    if [[ "$major" == 3 ]]; then
      local cg minor
      cg="$("$GO" list -m -f '{{.Version}}' k8s.io/client-go)"
      minor="${cg#v0.}"
      minor="${minor%%.*}"
      for p in pkg/lint/rules pkg/chartutil; do
        ldflags+=" -X $mod/$p.k8sVersionMajor=1 -X $mod/$p.k8sVersionMinor=$minor"
      done
    fi
    CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" -o "$work/helm" "$mod/cmd/helm" >&2
    "$work/helm" version --short >&2
    # Atomic install: a rename within the cache directory.
    mv "$work/helm" "$bin.tmp.$$"
    mv "$bin.tmp.$$" "$bin"
    log "built $bin"
  ) 9>"$CACHE_ROOT/helm-$version/.lock"
  [[ -x "$bin" ]] || { log "no helm at $bin"; exit 1; }
  echo "$bin"
}

case "${1:-4}" in
  4 | v4) build 4 "$HELM_V4_VERSION" ;;
  3 | v3) build 3 "$HELM_V3_VERSION" ;;
  all)
    build 4 "$HELM_V4_VERSION"
    build 3 "$HELM_V3_VERSION"
    ;;
  *)
    echo "usage: $0 [4|3|all]" >&2
    exit 2
    ;;
esac
