#!/usr/bin/env bash
# Builds a real Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) and kwok from the Go module proxy,
# cached by version under ${XDG_CACHE_HOME:-$HOME/.cache}/firedrill. Prints
# the bin directory on stdout (everything else goes to stderr). A cached build
# costs nothing; a fresh one about 12-15 minutes on 2 cores.
#
# Environment: KUBE_VERSION, ETCD_VERSION, KWOK_VERSION override the pinned
# versions; GO selects the go command.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
GO="${GO:-go}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/firedrill/kube-${KUBE_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}"
BIN="$CACHE/bin"
STAGES="$CACHE/stages"

have_all() {
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    [[ -x "$BIN/$b" ]] || return 1
  done
  for s in node-fast node-heartbeat-with-lease pod-general; do
    [[ -d "$STAGES/$s" ]] || return 1
  done
}

if have_all; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$BIN"
# One build at a time per cache (parallel test binaries may all ask for it);
# whoever waited finds the binaries built.
exec 9>"$CACHE/.lock"
flock 9
if have_all; then
  echo "$BIN"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOFLAGS="-buildvcs=false"
log() { echo "kube-binaries: $(date -u +%H:%M:%S) $*" >&2; }

# moddir prints the module cache directory of module@version, downloading it.
moddir() {
  (cd "$work" && "$GO" mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

if [[ ! -x "$BIN/kwok" ]]; then
  log "building kwok $KWOK_VERSION"
  GOBIN="$BIN" "$GO" install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
fi

if [[ ! -d "$STAGES/pod-general" || ! -d "$STAGES/node-fast" || ! -d "$STAGES/node-heartbeat-with-lease" ]]; then
  # kwok needs Stage objects; keep the ones its module ships.
  kwokdir="$(moddir "sigs.k8s.io/kwok@$KWOK_VERSION")"
  rm -rf "$STAGES.tmp" && mkdir -p "$STAGES.tmp"
  cp -r "$kwokdir/kustomize/stage/node/fast" "$STAGES.tmp/node-fast"
  cp -r "$kwokdir/kustomize/stage/node/heartbeat-with-lease" "$STAGES.tmp/node-heartbeat-with-lease"
  cp -r "$kwokdir/kustomize/stage/pod/general" "$STAGES.tmp/pod-general"
  chmod -R u+w "$STAGES.tmp"
  rm -rf "$STAGES" && mv "$STAGES.tmp" "$STAGES"
fi

if [[ ! -x "$BIN/etcd" ]]; then
  log "building etcd $ETCD_VERSION"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  cat > go.mod <<MOD
module firedrill.local/etcdbuild

go 1.26

require (
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
)
MOD
  printf 'package main\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n\nfunc main() {}\n' > tools.go
  "$GO" mod tidy >&2
  rm tools.go
  "$GO" build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi

if [[ ! -x "$BIN/kube-apiserver" || ! -x "$BIN/kube-controller-manager" || ! -x "$BIN/kube-scheduler" ]]; then
  log "building kube-apiserver, kube-controller-manager, kube-scheduler $KUBE_VERSION"
  mkdir -p "$work/kube" && cd "$work/kube"
  # k8s.io/kubernetes replaces every staging module with a path inside its own
  # repository, which a dependent module cannot use. Replace the same set (read
  # from its go.mod, so a new staging module is never missed) with the
  # published modules at the matching v0 version.
  printf 'module firedrill.local/kubemod\n\ngo 1.26\n' > go.mod
  kubemod="$("$GO" mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  staging="$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$kubemod" | sort -u)"
  [[ -n "$staging" ]] || { log "no staging replace directives found in $kubemod"; exit 1; }
  log "replacing $(echo "$staging" | wc -l) staging modules with $STAGING_VERSION"
  {
    echo "module firedrill.local/kubebuild"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    for m in $staging; do
      echo "	$m => $m $STAGING_VERSION"
    done
    echo ")"
  } > go.mod
  printf 'package main\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler/app"\n)\n\nfunc main() {}\n' > tools.go
  "$GO" mod tidy >&2
  rm tools.go
  minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    [[ -x "$BIN/$c" ]] && continue
    log "building $c"
    "$GO" build -trimpath -ldflags "$ldflags" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c" >&2
    mv "$BIN/$c.tmp" "$BIN/$c"
  done
fi

have_all || { log "missing binaries or stages in $CACHE"; exit 1; }
log "done"
echo "$BIN"
