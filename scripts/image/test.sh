#!/usr/bin/env bash
# The image test: builds the agent and hub images with buildah (installing
# buildah and debootstrap with apt-get when missing), then runs them against a
# private PostgreSQL (test/image/*.image-test.ts). Separate from `npm test`
# because it is slower and needs root for buildah and debootstrap.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
bash scripts/image/build.sh >/dev/null
echo "== images built in $(( $(date +%s) - start )) s"
mapfile -t tests < <(find test/image -name '*.image-test.ts' | sort)
node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 "${tests[@]}"
echo "== image test: $(( $(date +%s) - start )) s in all"
