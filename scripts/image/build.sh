#!/usr/bin/env bash
# Builds the agent and hub images from agent/Dockerfile and hub/Dockerfile with
# buildah (no Docker engine needed), with BASE set to the local stand-in for
# node:20-bookworm-slim that base.sh builds. Prints the two image names.
# Set TRIBUTARY_BASE to build on another base (e.g. the official image, pulled).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/image/tools.sh
need_tools buildah

base=${TRIBUTARY_BASE:-$(bash scripts/image/base.sh)}
# Behind a TLS-intercepting proxy, npm on this host trusts an extra CA file; the build
# stages get the same file, mounted for RUN steps only on /mnt (which exists in the base,
# so no mount point is left in an image).
proxy_ca=()
cafile=$(npm config get cafile 2>/dev/null || true)
if [ -n "$cafile" ] && [ "$cafile" != null ] && [ -f "$cafile" ]; then
  proxy_ca=(--volume "$(dirname "$cafile"):/mnt:ro" --build-arg npm_config_cafile="/mnt/$(basename "$cafile")")
fi
dangling() { buildah images --filter dangling=true --format '{{.ID}}' | sort; }
before=$(dangling)
for image in agent hub; do
  # --layers: the two Dockerfiles share their build stage, so the second build reuses it.
  buildah build --isolation=chroot --format docker --layers --pull=never \
    --build-arg BASE="$base" "${proxy_ca[@]}" -f "$image/Dockerfile" -t "localhost/tributary-$image:dev" . >&2
  echo "localhost/tributary-$image:dev"
done
# The stages' intermediate images (and images these builds replaced) served their purpose.
comm -13 <(echo "$before") <(dangling) | xargs -r buildah rmi >/dev/null 2>&1 || true
