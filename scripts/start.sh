#!/usr/bin/env bash
# `npm start`: local dependencies up (npm packages, MariaDB, PostgreSQL, Kafka, Prometheus when
# installed), then empsync in its all-in-one role. Ctrl-C or SIGTERM stops every child it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Stop on exit only a broker this run started: a second `npm start` must not take the first one's away.
kafka_was_running=$(bash scripts/kafka.sh status >/dev/null 2>&1 && echo yes || echo no)
bash scripts/ensure-services.sh
started_kafka=no
if [ "$kafka_was_running" = no ] && bash scripts/kafka.sh status >/dev/null 2>&1; then started_kafka=yes; fi

children=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$started_kafka" = yes ] && [ "${EMPSYNC_KEEP_KAFKA:-0}" != 1 ]; then bash scripts/kafka.sh stop || true; fi
}
trap cleanup INT TERM EXIT

if [ -x scripts/ensure-prometheus.sh ] || [ -f scripts/ensure-prometheus.sh ]; then
  if prometheus_bin=$(EMPSYNC_NO_INSTALL=1 bash scripts/ensure-prometheus.sh 2>/dev/null) && [ -n "$prometheus_bin" ]; then
    mkdir -p .cache/prometheus
    "$prometheus_bin" --config.file=monitoring/prometheus/prometheus.yml --storage.tsdb.path=.cache/prometheus \
      --web.listen-address=127.0.0.1:9090 > .cache/prometheus/prometheus.log 2>&1 &
    children+=($!)
    printf '[empsync] Prometheus: http://127.0.0.1:9090\n' >&2
  fi
fi

# empsync prints where it listens once it does: a banner on a terminal (console, GraphiQL, metrics,
# readiness), the same URLs in its "empsync all running" log line otherwise.
node_modules/.bin/node src/main.ts "${1:-all}" &
children+=($!)
wait "${children[-1]}"
