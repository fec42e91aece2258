#!/usr/bin/env bash
# Builds the test node's binaries from the Go module proxy, once per machine, into a cache outside the repository
# keyed by version (and by the hash of the node's own Go sources in test/cluster/node/): kubelet, kube-proxy and
# kube-scheduler (the same Kubernetes version as the control plane), containerd 2.x with ctr and the runc shim, the
# CNI bridge / host-local / loopback / portmap plugins, CoreDNS (only the plugins the node uses) and the pod sandbox
# program "pause". runc comes from Debian (prepare.sh). Shares the control plane's build lock; prints the node
# directory (bin/ and cni/) on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"
CONTAINERD_VERSION="${VIGIL_CONTAINERD_VERSION:-2.4.2}"
CNI_PLUGINS_VERSION="${VIGIL_CNI_PLUGINS_VERSION:-1.10.0}"
COREDNS_VERSION="${VIGIL_COREDNS_VERSION:-1.15.0}"
src_hash="$(cat "$here"/node/*/main.go | sha256sum | cut -c1-12)"
OUT="$CACHE_ROOT/node/k8s-$K8S_VERSION-containerd-$CONTAINERD_VERSION-cni-$CNI_PLUGINS_VERSION-coredns-$COREDNS_VERSION-$src_hash"
BIN="$OUT/bin"
CNI="$OUT/cni"
WANT=("$BIN/kubelet" "$BIN/kube-proxy" "$BIN/kube-scheduler" "$BIN/containerd" "$BIN/containerd-shim-runc-v2" "$BIN/ctr"
  "$BIN/coredns" "$BIN/pause" "$CNI/bridge" "$CNI/host-local" "$CNI/loopback" "$CNI/portmap")

have_all() {
  [ -f "$OUT/.complete" ] || return 1
  for f in "${WANT[@]}"; do [ -x "$f" ] || return 1; done
}

if have_all; then echo "$OUT"; exit 0; fi
command -v go >/dev/null || { echo "build-node: 'go' is not on PATH (need Go >= 1.26.8)" >&2; exit 1; }

mkdir -p "$OUT"
build_lock
if have_all; then echo "$OUT"; exit 0; fi

start=$(date +%s)
work="$OUT/src"
rm -rf "$work" && mkdir -p "$work" "$BIN" "$CNI"
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
echo "build-node: building kubelet, kube-proxy, kube-scheduler v$K8S_VERSION, containerd v$CONTAINERD_VERSION, CNI plugins v$CNI_PLUGINS_VERSION, CoreDNS v$COREDNS_VERSION into $OUT (first run only; takes a while)" >&2

# go_module DIR NAME REQUIRE...: a module that requires the given "path version" pairs.
go_module() {
  local dir="$1" name="$2"; shift 2
  mkdir -p "$dir"
  { echo "module $name"; echo "go 1.26.0"; for r in "$@"; do echo "require $r"; done; } > "$dir/go.mod"
}
tidy() { (cd "$1" && { go mod tidy -e >/dev/null 2>&1 || true; }); }

# The pause program (our own source, no dependencies).
go_module "$work/pause" vigil.dev/pause
cp "$here/node/pause/main.go" "$work/pause/"
(cd "$work/pause" && go build -ldflags "-s -w" -o "$BIN/pause" .)

# containerd, its CLI and the runc shim. No cgo: the btrfs snapshotter (cgo only) is left out, overlayfs is used.
go_module "$work/containerd" vigil.dev/containerd "github.com/containerd/containerd/v2 v$CONTAINERD_VERSION"
printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "github.com/containerd/containerd/v2/cmd/containerd"\n\t_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"\n\t_ "github.com/containerd/containerd/v2/cmd/ctr"\n)\n' > "$work/containerd/tools.go"
tidy "$work/containerd"
cd_ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD_VERSION"
(cd "$work/containerd" && go build -tags no_btrfs -ldflags "$cd_ldflags" -o "$BIN/" github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 github.com/containerd/containerd/v2/cmd/ctr)

# CNI plugins.
go_module "$work/cni" vigil.dev/cni "github.com/containernetworking/plugins v$CNI_PLUGINS_VERSION"
printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "github.com/containernetworking/plugins/plugins/main/bridge"\n\t_ "github.com/containernetworking/plugins/plugins/main/loopback"\n\t_ "github.com/containernetworking/plugins/plugins/ipam/host-local"\n\t_ "github.com/containernetworking/plugins/plugins/meta/portmap"\n)\n' > "$work/cni/tools.go"
tidy "$work/cni"
cni_ldflags="-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v$CNI_PLUGINS_VERSION"
(cd "$work/cni" && go build -ldflags "$cni_ldflags" -o "$CNI/" github.com/containernetworking/plugins/plugins/main/bridge github.com/containernetworking/plugins/plugins/main/loopback github.com/containernetworking/plugins/plugins/ipam/host-local github.com/containernetworking/plugins/plugins/meta/portmap)

# CoreDNS with the node's plugins only (test/cluster/node/coredns/main.go).
go_module "$work/coredns" vigil.dev/coredns "github.com/coredns/coredns v$COREDNS_VERSION"
cp "$here/node/coredns/main.go" "$work/coredns/"
tidy "$work/coredns"
(cd "$work/coredns" && go build -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=v$COREDNS_VERSION" -o "$BIN/coredns" .)

# Kubernetes node components last: the same module set as the control plane, so Go's build cache shares the work.
k8s_module "$work/k8s" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler
tidy "$work/k8s"
(cd "$work/k8s" && go build -ldflags "$(k8s_ldflags)" -o "$BIN/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler)

touch "$OUT/.complete"
echo "build-node: done in $(( $(date +%s) - start ))s" >&2
echo "$OUT"
