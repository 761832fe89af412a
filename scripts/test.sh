#!/usr/bin/env bash
# The whole test suite on a fresh machine: dependencies, generated-code check,
# type check, unit tests, then integration tests against private PostgreSQL
# instances that the tests start themselves (see test/support/postgres.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# The console's browser test drives Debian's chromium (playwright-core downloads no browser).
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
fi
bash scripts/check-proto.sh
npx tsc -p tsconfig.json --noEmit
npx tsc -p hub/console/tsconfig.json  # the console's browser JavaScript (JSDoc types)
echo "== unit tests"
# Node 20's test runner takes no glob patterns: list the files.
mapfile -t unit < <(find agent hub proto -name '*.test.ts' | sort)
node --import tsx --test --test-reporter=spec "${unit[@]}"
echo "== integration tests"
mapfile -t integration < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=900000 "${integration[@]}"
