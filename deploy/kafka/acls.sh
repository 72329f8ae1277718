#!/usr/bin/env bash
# Kafka principals and ACLs of empsync (docs/security.md, "Events from strangers"): whoever may produce
# to the change topic writes into both databases, so only the relays may. Run once the broker is up, over
# its super-user listener (User:ANONYMOUS on a loopback-only PLAINTEXT listener): in Compose by the
# one-shot `kafka-acls` service (network_mode service:kafka), in tests against a private broker
# (test/security/kafka-acls.test.ts). Idempotent: credentials are set again, ACLs added if missing.
#
# Each principal gets a SCRAM-SHA-512 credential, from the variable named beside it (unset: skipped):
#   empsync-migrate    EMPSYNC_KAFKA_MIGRATE_PASSWORD    creates the topics (Create, Describe, configs)
#   empsync-relay      EMPSYNC_KAFKA_RELAY_PASSWORD      Write to the change topics (the only writer)
#   empsync-sink       EMPSYNC_KAFKA_SINK_PASSWORD       Read the change topics in its groups, Write the DLQ topics
#   empsync-api        EMPSYNC_KAFKA_API_PASSWORD        Describe topics and groups (readiness, lag, DLQ size);
#                                                        Read the change topics in its own subscription groups
#   empsync-reconcile  EMPSYNC_KAFKA_RECONCILE_PASSWORD  Describe topics and groups (readiness)
#   monitoring         KAFKA_MONITORING_PASSWORD         Describe everything, Read topics (Kafka UI, exporter)
# Settings: KAFKA_BIN (the broker's tools, /opt/kafka/bin), ACL_BOOTSTRAP (127.0.0.1:9095),
# EMPSYNC_TOPICS (the change topics, space-separated: employes-sync), EMPSYNC_GROUP_PREFIX (empsync-sink),
# EMPSYNC_CLIENT_ID (KAFKA_CLIENT_ID: the API's subscription groups are <client id>-api-subscriptions-…).
set -euo pipefail

bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${ACL_BOOTSTRAP:-127.0.0.1:9095}
topics=${EMPSYNC_TOPICS:-employes-sync}
group_prefix=${EMPSYNC_GROUP_PREFIX:-empsync-sink}
client_id=${EMPSYNC_CLIENT_ID:-empsync}

say() { printf '[kafka-acls] %s\n' "$*" >&2; }

credential() {
  local principal=$1 password=${2:-}
  if [ -z "$password" ]; then say "no password for $principal: skipped"; return 0; fi
  case "$password" in *[],=[]*) say "the password of $principal must not hold , = [ or ]"; exit 1 ;; esac
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter --entity-type users --entity-name "$principal" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" >/dev/null
  say "SCRAM-SHA-512 credential of $principal set"
}

allow() { # allow <principal> <resource options…> -- <operations…>
  local principal=$1; shift
  local resource=() operations=()
  while [ "$1" != -- ]; do resource+=("$1"); shift; done; shift
  for operation in "$@"; do operations+=(--operation "$operation"); done
  "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --add --allow-principal "User:$principal" \
    "${resource[@]}" "${operations[@]}" >/dev/null
}

credential empsync-migrate "${EMPSYNC_KAFKA_MIGRATE_PASSWORD:-}"
credential empsync-relay "${EMPSYNC_KAFKA_RELAY_PASSWORD:-}"
credential empsync-sink "${EMPSYNC_KAFKA_SINK_PASSWORD:-}"
credential empsync-api "${EMPSYNC_KAFKA_API_PASSWORD:-}"
credential empsync-reconcile "${EMPSYNC_KAFKA_RECONCILE_PASSWORD:-}"
credential monitoring "${KAFKA_MONITORING_PASSWORD:-}"

for topic in $topics; do
  # Prefixed: the topic and its dead-letter topic (<topic>.dlq).
  allow empsync-migrate --topic "$topic" --resource-pattern-type prefixed -- Create Describe DescribeConfigs AlterConfigs
  allow empsync-relay --topic "$topic" --resource-pattern-type literal -- Write Describe
  allow empsync-sink --topic "$topic" --resource-pattern-type prefixed -- Read Describe
  allow empsync-sink --topic "$topic.dlq" --resource-pattern-type literal -- Write
  for reader in empsync-relay empsync-reconcile; do
    allow "$reader" --topic "$topic" --resource-pattern-type prefixed -- Describe
  done
  # The API's employeChanged subscriptions read the change topic (each API process in a group of its own).
  allow empsync-api --topic "$topic" --resource-pattern-type prefixed -- Read Describe
done
allow empsync-sink --group "$group_prefix" --resource-pattern-type prefixed -- Read Describe
for reader in empsync-api empsync-reconcile; do
  allow "$reader" --group "$group_prefix" --resource-pattern-type prefixed -- Describe
done
allow empsync-api --group "$client_id-api-subscriptions" --resource-pattern-type prefixed -- Read Describe
allow monitoring --topic '*' -- Describe DescribeConfigs Read
allow monitoring --group '*' -- Describe
allow monitoring --cluster -- Describe DescribeConfigs
say "ACLs set: only empsync-relay may write to $topics"
