#!/usr/bin/env bash
# `npm run bench:<name>`: the same set-up as `npm start` (npm packages with the pinned Node, MariaDB,
# PostgreSQL, Kafka), then bench/<name>/run.ts on the pinned Node — on a fresh clone too, where the
# system's older Node cannot run TypeScript (ERR_UNKNOWN_FILE_EXTENSION). Arguments pass through.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
name=${1:?usage: scripts/bench.sh <pipeline|api|debezium|reconcile> [arguments]}
shift
[ -f "bench/$name/run.ts" ] || { echo "no benchmark bench/$name/run.ts" >&2; exit 2; }
bash scripts/ensure-services.sh
# The roles run as the Docker image runs them: bundled (BENCH_SOURCES=1: the TypeScript sources).
[ "${BENCH_SOURCES:-}" = 1 ] || node_modules/.bin/node scripts/build.mjs
exec node_modules/.bin/node "bench/$name/run.ts" "$@"
