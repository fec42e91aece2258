#!/usr/bin/env bash
# Builds oauth2-proxy (the peer of `npm run bench:sidecar`) from the Go module proxy, once per machine, into the
# cache outside the repository (like test/cluster/build-control-plane.sh; nothing of it is vendored or committed).
# `go install module@version` resolves exactly the module's own go.mod (it has no replace directives). Safe to run
# concurrently (the shared build lock); prints the binary's path on its last line.
set -euo pipefail

# shellcheck source=../../test/cluster/build-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../test/cluster/build-lib.sh"
VERSION="${VIGIL_OAUTH2_PROXY_VERSION:-7.15.6}"
OUT="$CACHE_ROOT/peers/oauth2-proxy-v$VERSION"
BIN="$OUT/oauth2-proxy"

if [ -x "$BIN" ] && [ -f "$OUT/.complete" ]; then echo "$BIN"; exit 0; fi
command -v go >/dev/null || { echo "build-oauth2-proxy: 'go' is not on PATH (needs Go and the Go module proxy)" >&2; exit 1; }

mkdir -p "$OUT"
build_lock
if [ -x "$BIN" ] && [ -f "$OUT/.complete" ]; then echo "$BIN"; exit 0; fi

start=$(date +%s)
echo "build-oauth2-proxy: building oauth2-proxy v$VERSION into $OUT (first run only)" >&2
GOBIN="$OUT" GOFLAGS="-buildvcs=false" CGO_ENABLED=0 go install -ldflags "-s -w" "github.com/oauth2-proxy/oauth2-proxy/v7@v$VERSION"
touch "$OUT/.complete"
echo "build-oauth2-proxy: done in $(( $(date +%s) - start ))s" >&2
echo "$BIN"
