#!/usr/bin/env bash
# Fails when proto/gen is not what `npm run proto` generates from proto/tributary.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|out: proto/gen|out: $tmp/gen|" proto/buf.gen.yaml > "$tmp/buf.gen.yaml"
npx buf generate proto --template "$tmp/buf.gen.yaml"
if ! diff -r "$tmp/gen" proto/gen; then
  echo "proto/gen is stale: run 'npm run proto' and commit the result" >&2
  exit 1
fi
echo "proto/gen is up to date"
