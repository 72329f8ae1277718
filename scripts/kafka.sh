#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one broker) without Docker: fetches the broker jars from Maven Central
# with infra/kafka/pom.xml, formats storage once, runs it on 127.0.0.1:${KAFKA_PORT:-9092}.
# The broker JVM carries the Prometheus JMX exporter agent (monitoring/jmx/kafka-broker.yml) on
# 127.0.0.1:${KAFKA_JMX_EXPORTER_PORT:-KAFKA_PORT+312}, i.e. 9404 for the default broker; 0 turns it off.
# KAFKA_ADVERTISED_PORT (default KAFKA_PORT) is the port the broker tells clients to use: a test puts a
# TCP proxy there (test/support/tcp-proxy.ts) so that its clients reach the broker only through it.
# `kill` is a crash: SIGKILL of the broker (`stop` shuts it down cleanly).
# KAFKA_ACLS=true: the StandardAuthorizer, nothing allowed without an ACL, User:ANONYMOUS (the PLAINTEXT
# listener, on loopback) a super user: the Compose broker's model, for deploy/kafka/acls.sh in tests.
# `fetch` also writes kafka-acls.sh and kafka-configs.sh (the distribution's tools) into `scripts/kafka.sh bin`.
# Usage: scripts/kafka.sh start [--fresh] | stop | kill | status | fetch | bin
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-9093}
advertised_port=${KAFKA_ADVERTISED_PORT:-$port}
cache=${EMPSYNC_CACHE_DIR:-$root/.cache}/kafka
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/infra/kafka/pom.xml")
# Keyed by the pom: a changed pom fetches into a new folder, never under a broker running from the old one.
libs=$cache/$kafka_version/libs-$(sha1sum "$root/infra/kafka/pom.xml" | cut -c1-12)
jmx_exporter_version=$(sed -n 's:.*<jmx.exporter.version>\(.*\)</jmx.exporter.version>.*:\1:p' "$root/infra/kafka/pom.xml")
# Outside the broker's libs folder: the agent must not be on the broker's classpath.
jmx_exporter_jar=$cache/jmx-exporter/$jmx_exporter_version/jmx_prometheus_javaagent-$jmx_exporter_version.jar
jmx_exporter_config=$root/monitoring/jmx/kafka-broker.yml
# 9092 + 312 = 9404, the exporter's usual port; a test broker on another port gets its own.
jmx_exporter_port=${KAFKA_JMX_EXPORTER_PORT:-$((port + 312))}
data=$cache/data-$port
# A SASL_PLAINTEXT listener with SCRAM-SHA-256 besides PLAINTEXT (tests of KAFKA_SASL_*): its port, and
# the one user formatted into the storage (on a fresh data directory).
sasl_port=${KAFKA_SASL_PORT:-}
scram_username=${KAFKA_SCRAM_USERNAME:-empsync}
scram_password=${KAFKA_SCRAM_PASSWORD:-}
acls=${KAFKA_ACLS:-false}
# An SSL listener (tests of KAFKA_TLS): its port, and a PEM file holding the broker's key and certificate chain.
ssl_port=${KAFKA_SSL_PORT:-}
ssl_keystore=${KAFKA_SSL_KEYSTORE:-}
pidfile=$cache/broker-$port.pid
logfile=$cache/broker-$port.log

say() { printf '[kafka] %s\n' "$*" >&2; }

. "$(dirname "$0")/process-helpers.sh"

running_pid() { pid_alive "$pidfile"; }

need_java_and_maven() {
  command -v java >/dev/null || { say "Java 17+ is required to run the local Kafka broker (apt-get install openjdk-17-jre-headless)"; exit 1; }
  command -v mvn >/dev/null || { say "Maven is required to fetch the Kafka broker from Maven Central (apt-get install maven)"; exit 1; }
}

fetch() {
  fetch_jmx_exporter
  if [ ! -f "$libs/.complete" ]; then
    need_java_and_maven
    say "fetching Apache Kafka $kafka_version from Maven Central (first run, or infra/kafka/pom.xml changed)"
    rm -rf "$libs"; mkdir -p "$libs"
    mvn -q -B -f "$root/infra/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime >&2
    touch "$libs/.complete"
  fi
  write_tools
}

# bin/kafka-acls.sh and bin/kafka-configs.sh as the distribution has them, on these jars.
write_tools() {
  local bin=$libs/bin tool main
  mkdir -p "$bin"
  for tool in kafka-acls:org.apache.kafka.tools.AclCommand kafka-configs:kafka.admin.ConfigCommand; do
    main=${tool#*:}
    cat > "$bin/${tool%%:*}.sh" <<TOOL
#!/usr/bin/env bash
exec java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.level=warn -cp '$libs/*' $main "\$@"
TOOL
    chmod +x "$bin/${tool%%:*}.sh"
  done
}

# Checked on its own, so a broker cache made before the agent existed still gets it.
fetch_jmx_exporter() {
  [ "$jmx_exporter_port" = 0 ] && return 0
  [ -s "$jmx_exporter_jar" ] && return 0
  need_java_and_maven
  say "fetching the Prometheus JMX exporter agent $jmx_exporter_version from Maven Central (first run only)"
  local folder; folder=$(dirname "$jmx_exporter_jar")
  mkdir -p "$folder"
  mvn -q -B -f "$root/infra/kafka/pom.xml" dependency:copy@jmx-exporter-agent \
    -Djmx.exporter.outputDirectory="$folder" >&2
  [ -s "$jmx_exporter_jar" ] || { say "the JMX exporter agent was not fetched: $jmx_exporter_jar"; exit 1; }
}

# -javaagent option of the broker JVM (empty when the exporter is off).
jmx_exporter_opts() {
  [ "$jmx_exporter_port" = 0 ] && return 0
  printf -- "'-javaagent:%s=127.0.0.1:%s:%s'" "$jmx_exporter_jar" "$jmx_exporter_port" "$jmx_exporter_config"
}

write_config() {
  mkdir -p "$data"
  cat > "$cache/server-$port.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port${sasl_port:+,SASL_PLAINTEXT://127.0.0.1:$sasl_port}${ssl_port:+,SSL://127.0.0.1:$ssl_port}
advertised.listeners=PLAINTEXT://127.0.0.1:$advertised_port${sasl_port:+,SASL_PLAINTEXT://127.0.0.1:$sasl_port}${ssl_port:+,SSL://127.0.0.1:$ssl_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL
log.dirs=$data/logs
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
PROPS
  if [ -n "$sasl_port" ]; then
    cat >> "$cache/server-$port.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
  fi
  if [ -n "$ssl_port" ]; then
    cat >> "$cache/server-$port.properties" <<PROPS
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$ssl_keystore
PROPS
  fi
  if [ "$acls" = true ]; then
    cat >> "$cache/server-$port.properties" <<PROPS
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:ANONYMOUS
PROPS
  fi
  cat > "$cache/log4j2-$port.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $cache/broker-$port.server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
PROPS
}

java_cmd() {
  local main=$1; shift
  java -Xms256m -Xmx${KAFKA_HEAP:-768m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$cache/log4j2-$port.properties" \
    ${KAFKA_JAVA_OPTS:-} -cp "$libs/*" "$main" "$@"
}

start() {
  local fresh=${1:-}
  if pid=$(running_pid); then
    say "already running (pid $pid) on 127.0.0.1:$port"; wait_ready; return 0
  fi
  if port_open "$port"; then
    say "a broker already answers on 127.0.0.1:$port (not started by this script): using it"; return 0
  fi
  fetch
  if [ "$fresh" = "--fresh" ]; then say "wiping $data"; rm -rf "$data"; fi
  write_config
  if [ ! -f "$data/logs/meta.properties" ]; then
    local cluster_id; cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    local scram=()
    [ -n "$sasl_port" ] && scram=(--add-scram "SCRAM-SHA-256=[name=$scram_username,password=$scram_password]")
    java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$cache/server-$port.properties" "${scram[@]}" >&2
  fi
  if [ "$jmx_exporter_port" != 0 ] && port_open "$jmx_exporter_port"; then
    say "port $jmx_exporter_port of the JMX exporter is taken: set KAFKA_JMX_EXPORTER_PORT (0 turns the exporter off)"; exit 1
  fi
  local metrics=""
  [ "$jmx_exporter_port" != 0 ] && metrics=", metrics: http://127.0.0.1:$jmx_exporter_port/metrics"
  say "starting broker on 127.0.0.1:$port (log: $logfile$metrics)"
  launch_jvm "$logfile" "$pidfile" "${KAFKA_HEAP:-768m}" \
    "-Dlog4j2.configurationFile='$cache/log4j2-$port.properties' $(jmx_exporter_opts) ${KAFKA_JAVA_OPTS:-} \
     -cp '$libs/*' kafka.Kafka '$cache/server-$port.properties'"
  wait_ready
}

wait_ready() {
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  while [ $SECONDS -lt $deadline ]; do
    if port_open "$port" && grep -q "Kafka Server started\|started (kafka.server.BrokerServer)\|Transition from STARTING to STARTED" "$cache/broker-$port.server.log" 2>/dev/null; then
      say "ready on 127.0.0.1:$port"; return 0
    fi
    if ! running_pid >/dev/null; then
      say "broker exited during start-up; last lines of $logfile:"; tail -n 20 "$logfile" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  say "broker did not become ready within ${KAFKA_START_TIMEOUT:-90}s; see $logfile"; exit 1
}

stop() { stop_pid broker "$pidfile"; }

case "${1:-start}" in
  start) start "${2:-}" ;;
  stop) stop ;;
  kill) kill_process_tree broker "$pidfile" ;;
  status) if pid=$(running_pid); then echo "running (pid $pid)"; else echo "stopped"; exit 1; fi ;;
  fetch) fetch ;;
  bin) fetch; echo "$libs/bin" ;;
  *) echo "usage: $0 start [--fresh] | stop | kill | status | fetch | bin" >&2; exit 2 ;;
esac
