#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from the Go module proxy, once per machine,
# into a cache outside the repository keyed by version. Safe to run concurrently (flock); prints the
# bin directory on its last line.
set -euo pipefail

# shellcheck source=build-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/build-lib.sh"
ETCD_VERSION="${VIGIL_ETCD_VERSION:-3.6.8}"
OUT="$CACHE_ROOT/control-plane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
BIN="$OUT/bin"

have_all() { [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/etcd" ] && [ -f "$OUT/.complete" ]; }

if have_all; then echo "$BIN"; exit 0; fi
command -v go >/dev/null || { echo "build-control-plane: 'go' is not on PATH (need Go >= 1.26)" >&2; exit 1; }

mkdir -p "$OUT"
build_lock
if have_all; then echo "$BIN"; exit 0; fi

start=$(date +%s)
work="$OUT/src"
rm -rf "$work" && mkdir -p "$work/etcd" "$BIN"
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0

k8s_module "$work/k8s" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
# etcd's server module also uses local replaces, so it gets the same treatment.
{
  echo "module vigil.dev/etcd"
  echo "go 1.26.0"
  echo "require go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
  for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do echo "replace go.etcd.io/etcd/$m => go.etcd.io/etcd/$m v$ETCD_VERSION"; done
} > "$work/etcd/go.mod"
cat > "$work/etcd/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO

echo "build-control-plane: building Kubernetes v$K8S_VERSION and etcd v$ETCD_VERSION into $BIN (first run only; takes a while)" >&2
ldflags="$(k8s_ldflags)"
(cd "$work/etcd" && { go mod tidy -e >/dev/null 2>&1 || true; } && go build -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
(cd "$work/k8s" && { go mod tidy -e >/dev/null 2>&1 || true; } && go build -ldflags "$ldflags" -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
touch "$OUT/.complete"
echo "build-control-plane: done in $(( $(date +%s) - start ))s" >&2
echo "$BIN"
