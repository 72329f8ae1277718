#!/usr/bin/env bash
# `npm test`: the same set-up as `npm start` (npm packages, MariaDB, PostgreSQL, Kafka), then
# typecheck, lint, and every unit and integration test with node's test runner.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/ensure-services.sh
[ -f scripts/ensure-prometheus.sh ] && bash scripts/ensure-prometheus.sh >/dev/null

echo "== typecheck"; node_modules/.bin/tsc --noEmit -p .
echo "== lint"; node_modules/.bin/eslint .
echo "== tests"
# Files run one at a time: integration tests share the broker and the database servers.
exec node_modules/.bin/node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec "${@:-test/**/*.test.ts}"
