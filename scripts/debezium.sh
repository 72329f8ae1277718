#!/usr/bin/env bash
# The peer of the Debezium comparison (bench/debezium, docs/benchmark-debezium.md), without Docker:
#  - a Kafka Connect worker (standalone) with the Debezium MariaDB source and JDBC sink plugins, jars
#    from Maven Central with infra/debezium/pom.xml, REST on 127.0.0.1:${DEBEZIUM_CONNECT_PORT:-8083},
#    talking to the broker of scripts/kafka.sh (${KAFKA_BROKERS:-127.0.0.1:9092});
#  - a second MariaDB server with the binlog on (Debezium reads it; the machine's main server on 3306
#    has none and is left alone) on 127.0.0.1:${MARIADB_BINLOG_PORT:-3307}, data in .cache/mariadb-binlog.
# Usage: scripts/debezium.sh fetch | start | stop | status | mariadb-start | mariadb-stop | mariadb-status
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pom=$root/infra/debezium/pom.xml
cache_root=${EMPSYNC_CACHE_DIR:-$root/.cache}
pom_property() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$pom"; }
connect_version=$(pom_property kafka.version)
debezium_version=$(pom_property debezium.version)
cache=$cache_root/debezium
libs=$cache/$connect_version/libs
plugins=$cache/$connect_version/plugins/$debezium_version
connect_port=${DEBEZIUM_CONNECT_PORT:-8083}
brokers=${KAFKA_BROKERS:-127.0.0.1:9092}
run=$cache/run-$connect_port
pidfile=$run/connect.pid
logfile=$run/connect.log

mariadb_port=${MARIADB_BINLOG_PORT:-3307}
mariadb_home=$cache_root/mariadb-binlog
mariadb_pidfile=$mariadb_home/mariadbd.pid

say() { printf '[debezium] %s\n' "$*" >&2; }

. "$(dirname "$0")/process-helpers.sh"

fetch() {
  [ -f "$libs/.complete" ] && [ -f "$plugins/.complete" ] && return 0
  command -v java >/dev/null || { say "Java 17+ is required (apt-get install openjdk-17-jre-headless)"; exit 1; }
  command -v mvn >/dev/null || { say "Maven is required to fetch Kafka Connect and Debezium (apt-get install maven)"; exit 1; }
  if [ ! -f "$libs/.complete" ]; then
    say "fetching Kafka Connect $connect_version from Maven Central (first run only)"
    rm -rf "$libs"; mkdir -p "$libs"
    mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime >&2
    touch "$libs/.complete"
  fi
  if [ ! -f "$plugins/.complete" ]; then
    say "fetching the Debezium $debezium_version MariaDB and JDBC connector plugins from Maven Central (first run only)"
    rm -rf "$plugins"; mkdir -p "$plugins"
    mvn -q -B -f "$pom" dependency:unpack@debezium-plugins -Ddebezium.pluginDirectory="$plugins" >&2
    [ -d "$plugins/debezium-connector-mariadb" ] && [ -d "$plugins/debezium-connector-jdbc" ] ||
      { say "the Debezium plugins were not unpacked into $plugins"; exit 1; }
    touch "$plugins/.complete"
  fi
}

write_worker_config() {
  mkdir -p "$run"
  # Standalone: offsets in a file, wiped at each start (the bench names its connectors per run).
  rm -f "$run/offsets.dat"
  cat > "$run/worker.properties" <<PROPS
bootstrap.servers=$brokers
listeners=http://127.0.0.1:$connect_port
plugin.path=$plugins
plugin.discovery=service_load
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=$run/offsets.dat
# Lets a connector set its own consumer's max.poll.records (consumer.override.*).
connector.client.config.override.policy=All
PROPS
  cat > "$run/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $run/connect.server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.runtime.name = org.apache.kafka.connect.runtime
logger.runtime.level = INFO
logger.debezium.name = io.debezium
logger.debezium.level = INFO
PROPS
}

start() {
  if pid=$(pid_alive "$pidfile"); then say "Connect worker already running (pid $pid)"; wait_ready; return 0; fi
  if port_open "$connect_port"; then
    say "port $connect_port is taken by another process: set DEBEZIUM_CONNECT_PORT"; exit 1
  fi
  fetch
  write_worker_config
  say "starting Kafka Connect $connect_version (standalone) with Debezium $debezium_version on 127.0.0.1:$connect_port (log: $run/connect.server.log)"
  launch_jvm "$logfile" "$pidfile" "${DEBEZIUM_CONNECT_HEAP:-1g}" \
    "-Dlog4j2.configurationFile='$run/log4j2.properties' ${DEBEZIUM_CONNECT_JAVA_OPTS:-} \
     -cp '$libs/*' org.apache.kafka.connect.cli.ConnectStandalone '$run/worker.properties'"
  wait_ready
}

wait_ready() {
  local deadline=$((SECONDS + ${DEBEZIUM_START_TIMEOUT:-120}))
  while [ $SECONDS -lt $deadline ]; do
    if port_open "$connect_port" && (exec 3<>"/dev/tcp/127.0.0.1/$connect_port" && printf 'GET /connector-plugins HTTP/1.0\r\n\r\n' >&3 && grep -q 'MariaDbConnector' <&3) 2>/dev/null; then
      say "Connect worker ready on 127.0.0.1:$connect_port"; return 0
    fi
    if ! pid_alive "$pidfile" >/dev/null; then
      say "Connect worker exited during start-up; last lines of its logs:"
      tail -n 20 "$logfile" "$run/connect.server.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.5
  done
  say "Connect worker not ready within ${DEBEZIUM_START_TIMEOUT:-120}s; see $run/connect.server.log"; exit 1
}

# The binlog Debezium needs on top of the shared settings: ROW format, full row images.
mariadb_start() {
  start_mariadb_server "$mariadb_home" "$mariadb_port" "MariaDB (binlog)" MARIADB_BINLOG_PORT \
    --log-bin="$mariadb_home/binlog" --binlog-format=ROW --binlog-row-image=FULL --server-id=1 --expire-logs-days=1
}

case "${1:-start}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop_pid "Connect worker" "$pidfile" ;;
  status) if pid=$(pid_alive "$pidfile"); then echo "running (pid $pid)"; else echo "stopped"; exit 1; fi ;;
  mariadb-start) mariadb_start ;;
  mariadb-stop) stop_pid "MariaDB (binlog)" "$mariadb_pidfile" ;;
  mariadb-status) if pid=$(pid_alive "$mariadb_pidfile"); then echo "running (pid $pid)"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 fetch | start | stop | status | mariadb-start | mariadb-stop | mariadb-status" >&2; exit 2 ;;
esac
