#!/usr/bin/env bash
# Container images for the test node, built without Docker or a registry, with buildah (Debian) in a storage of our
# own under the cache ($VIGIL_CACHE_DIR/images/storage):
#
#   build-images.sh base
#     once per machine (under the build lock): debian:bookworm-slim assembled from Debian's packages with mmdebstrap
#     (minbase, docs and locales left out as the official slim image does), node:24-bookworm-slim on top of it (the
#     repository's Node 24 binary from the `node` npm package, npm from the npm registry) — the FROM of the project's
#     Dockerfile — and the node's Redis, CoreDNS and pause images, exported as OCI archives. Prints the archive dir.
#   build-images.sh app NAME DOCKERFILE CONTEXT
#     `buildah bud --pull=never --isolation chroot --layers` of DOCKERFILE as NAME (unchanged layers are reused), then
#     `buildah push` of exactly the image built to an OCI archive (for `ctr images import`), kept in the cache by
#     image ID (an unchanged image is not exported again; the 8 most recently used are kept). Prints its path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"
IMAGES="$CACHE_ROOT/images"
DEBIAN_SUITE=bookworm
NPM_SPEC="${VIGIL_IMAGE_NPM:-npm@11}"
# Part of the base images' cache key with the Dockerfiles and versions: bump it when the base recipe below changes.
BASE_RECIPE=1
# The run root (locks, mount state) belongs on a tmpfs; one per storage root.
RUNROOT="/run/vigil-buildah/$(printf '%s' "$IMAGES/storage" | sha256sum | cut -c1-12)"
bah() { buildah --root "$IMAGES/storage" --runroot "$RUNROOT" --storage-driver overlay "$@"; }
export BUILDAH_ISOLATION=chroot

# bud NAME DOCKERFILE CONTEXT [extra bud args]: builds and prints the image ID.
bud() {
  local name="$1" file="$2" ctx="$3"; shift 3
  local iid; iid="$(mktemp)"
  bah bud --pull=never --isolation chroot --layers --iidfile "$iid" -t "$name" -f "$file" "$@" "$ctx" >&2
  cat "$iid"; rm -f "$iid"
}
# export_archive IMAGE_ID NAME ARCHIVE
export_archive() {
  local tmp="$3.tmp.$$"
  rm -f "$tmp"
  bah push --quiet "$1" "oci-archive:$tmp:$2" >&2
  mv "$tmp" "$3"
}

cmd="${1:-}"
case "$cmd" in
app)
  [ $# -eq 4 ] || { echo "usage: build-images.sh app NAME DOCKERFILE CONTEXT" >&2; exit 2; }
  name="$2"; file="$3"; ctx="$4"
  # RUN steps (the build stage's `npm ci`) get the machine's npm cache, an npmrc that prefers it, and the machine's CA
  # bundle when it has one (a TLS-intercepting proxy's CA is trusted there). Mount points are left empty in the
  # layers of the stage that ran them; the project's final stage has no RUN step, so none of it reaches the image.
  extra=()
  npmrc="$(mktemp)"
  printf 'prefer-offline=true\nfund=false\naudit=false\nupdate-notifier=false\n' > "$npmrc"
  mkdir -p "$HOME/.npm"
  extra+=(--volume "$HOME/.npm:/root/.npm" --volume "$npmrc:/root/.npmrc:ro")
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    echo "cafile=/etc/ssl/certs/ca-certificates.crt" >> "$npmrc"
    extra+=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  fi
  id="$(bud "$name" "$file" "$ctx" "${extra[@]}")"
  rm -f "$npmrc"
  cached="$IMAGES/app-archives"
  archive="$cached/$(printf '%s %s' "$id" "$name" | sha256sum | cut -c1-24).tar"
  mkdir -p "$cached"
  if [ -f "$archive" ]; then touch "$archive"; else export_archive "$id" "$name" "$archive"; fi
  # shellcheck disable=SC2012
  ls -t "$cached"/*.tar 2>/dev/null | tail -n +9 | while read -r old; do rm -f "$old"; done
  # Every change of the sources leaves layers behind; past 6 GB the unused ones go (the next build redoes npm ci).
  if [ "$(du -sm "$IMAGES/storage" | cut -f1)" -gt 6144 ]; then bah rmi --prune >/dev/null 2>&1 || true; fi
  echo "$archive"
  ;;
base)
  node_bin="$root/node_modules/node/bin/node"
  [ -x "$node_bin" ] || { echo "build-images: run 'npm ci' first ($node_bin missing)" >&2; exit 1; }
  node_version="$("$node_bin" --version)"
  from="$(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$root/Dockerfile" | head -n 1)"
  node_dir="$(bash "$here/build-node.sh" | tail -n 1)"
  key="$( { cat "$here"/images/{node-base,redis,coredns,pause}/Dockerfile; echo "$BASE_RECIPE $node_version $NPM_SPEC $from $DEBIAN_SUITE $node_dir"; } | sha256sum | cut -c1-16)"
  archives="$IMAGES/archives-$key"
  if [ -f "$archives/.complete" ]; then echo "$archives"; exit 0; fi
  for tool in buildah mmdebstrap; do command -v "$tool" >/dev/null || { echo "build-images: '$tool' is not installed (prepare.sh installs it)" >&2; exit 1; }; done
  build_lock
  if [ -f "$archives/.complete" ]; then echo "$archives"; exit 0; fi
  start=$(date +%s)
  echo "build-images: debian:$DEBIAN_SUITE-slim, $from ($node_version), redis, coredns and pause images (first run only)" >&2
  work="$IMAGES/work"
  rm -rf "$work" "$archives" && mkdir -p "$work" "$archives"

  # debian:bookworm-slim from Debian's packages (the host's Debian sources when it has them).
  mirror=()
  [ -f /etc/apt/sources.list.d/debian.sources ] && mirror=(/etc/apt/sources.list.d/debian.sources)
  # merged-usr hook: /usr merged as bookworm expects, without the usrmerge package (and the perl it pulls in).
  mmdebstrap --variant=minbase --mode=root --quiet --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    "$DEBIAN_SUITE" "$work/debian.tar" "${mirror[@]}" >&2
  c="$(bah from --quiet scratch)"
  bah add "$c" "$work/debian.tar" / >&2
  bah config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c" >&2
  bah commit --quiet --rm "$c" "docker.io/library/debian:$DEBIAN_SUITE-slim" >&2

  # node:24-bookworm-slim: the repository's Node binary and npm, laid out as in the official image.
  ctx="$work/node-ctx"
  mkdir -p "$ctx/usr/local/bin" "$ctx/usr/local/lib/node_modules"
  cp "$node_bin" "$ctx/usr/local/bin/node"
  (cd "$work" && npm pack --silent "$NPM_SPEC" >/dev/null)
  mkdir -p "$ctx/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-*.tgz -C "$ctx/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr/local/bin/npx"
  bud "docker.io/library/$from" "$here/images/node-base/Dockerfile" "$ctx" >/dev/null

  id="$(bud localhost/vigil-test/redis:7 "$here/images/redis/Dockerfile" "$here/images/redis")"
  export_archive "$id" localhost/vigil-test/redis:7 "$archives/redis.tar"
  id="$(bud localhost/vigil-test/coredns:1 "$here/images/coredns/Dockerfile" "$node_dir/bin")"
  export_archive "$id" localhost/vigil-test/coredns:1 "$archives/coredns.tar"
  id="$(bud localhost/vigil-test/pause:1 "$here/images/pause/Dockerfile" "$node_dir/bin")"
  export_archive "$id" localhost/vigil-test/pause:1 "$archives/pause.tar"
  rm -rf "$work"
  touch "$archives/.complete"
  # Base images of earlier versions of this script, unused for a day.
  find "$IMAGES" -maxdepth 1 -name 'archives-*' ! -name "archives-$key" -mtime +1 -exec rm -rf {} + 2>/dev/null || true
  echo "build-images: done in $(( $(date +%s) - start ))s" >&2
  echo "$archives"
  ;;
*)
  echo "usage: build-images.sh base | app NAME DOCKERFILE CONTEXT" >&2; exit 2 ;;
esac
