// Every metric of empsync, declared once (prom-client). The published design's names come first and
// keep their labels; the richer empsync_* set follows. Label values are bounded (operation names
// from the schema, store names, partitions of one topic).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const lagBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const batchBuckets = [1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'empsync_process_' });
  const r = [registry];

  return {
    registry,
    // ---- the published design's names ----
    graphqlRequests: new Counter({
      name: 'graphql_requests_total',
      help: 'GraphQL operations executed, by operation name and outcome',
      labelNames: ['operation', 'success'] as const,
      registers: r,
    }),
    graphqlResponseTime: new Histogram({
      name: 'graphql_response_time_seconds',
      help: 'GraphQL operation execution time',
      labelNames: ['operation'] as const,
      buckets: latencyBuckets,
      registers: r,
    }),
    kafkaMessagesSent: new Counter({
      name: 'kafka_messages_sent_total',
      help: 'Messages acknowledged by Kafka (events and tombstones)',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaMessagesReceived: new Counter({
      name: 'kafka_messages_received_total',
      help: 'Messages consumed from Kafka',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaProducerErrors: new Counter({
      name: 'kafka_producer_errors_total',
      help: 'Failed publish attempts (each is retried)',
      registers: r,
    }),
    employeesByDepartment: new Gauge({
      name: 'employees_by_department',
      help: 'Employees per department in the PostgreSQL read model',
      labelNames: ['department'] as const,
      registers: r,
    }),
    apiResponseTime: new Histogram({
      name: 'api_response_time_seconds',
      help: 'HTTP response time by endpoint and method',
      labelNames: ['endpoint', 'method'] as const,
      buckets: latencyBuckets,
      registers: r,
    }),
    // ---- empsync_* : per stage ----
    captured: new Counter({
      name: 'empsync_outbox_read_total',
      help: 'Outbox rows read by the relay (captured changes), by store',
      labelNames: ['store'] as const,
      registers: r,
    }),
    published: new Counter({
      name: 'empsync_events_published_total',
      help: 'Change events published to Kafka, by origin store and op',
      labelNames: ['store', 'op'] as const,
      registers: r,
    }),
    publishBatchSize: new Histogram({
      name: 'empsync_relay_batch_size',
      help: 'Outbox rows published per relay batch',
      labelNames: ['store'] as const,
      buckets: batchBuckets,
      registers: r,
    }),
    outboxBacklog: new Gauge({
      name: 'empsync_outbox_backlog',
      help: 'Captured changes not yet published, by store',
      labelNames: ['store'] as const,
      registers: r,
    }),
    relayActive: new Gauge({
      name: 'empsync_relay_active',
      help: '1 while this process holds the relay lease of the store',
      labelNames: ['store'] as const,
      registers: r,
    }),
    consumed: new Counter({
      name: 'empsync_events_consumed_total',
      help: 'Events consumed by a sink, by target store',
      labelNames: ['store'] as const,
      registers: r,
    }),
    applied: new Counter({
      name: 'empsync_events_applied_total',
      help: 'Events that changed the target store',
      labelNames: ['store', 'op'] as const,
      registers: r,
    }),
    skipped: new Counter({
      name: 'empsync_events_skipped_total',
      help: 'Events not applied: stale (version guard), own origin, or already applied (offset guard)',
      labelNames: ['store', 'reason'] as const,
      registers: r,
    }),
    deadLettered: new Counter({
      name: 'empsync_events_dead_lettered_total',
      help: 'Poison events parked in the DLQ topic',
      labelNames: ['store', 'reason'] as const,
      registers: r,
    }),
    conflicts: new Counter({
      name: 'empsync_conflicts_total',
      help: 'Concurrent changes of one row on both sides, by target store, kind and outcome',
      labelNames: ['store', 'kind', 'outcome'] as const,
      registers: r,
    }),
    sinkBatchSize: new Histogram({
      name: 'empsync_sink_batch_size',
      help: 'Events applied per sink transaction',
      labelNames: ['store'] as const,
      buckets: batchBuckets,
      registers: r,
    }),
    sinkBatchDuration: new Histogram({
      name: 'empsync_sink_batch_duration_seconds',
      help: 'Time to apply one batch in one transaction',
      labelNames: ['store'] as const,
      buckets: latencyBuckets,
      registers: r,
    }),
    sinkRetries: new Counter({
      name: 'empsync_sink_retries_total',
      help: 'Batches retried after a transient error',
      labelNames: ['store'] as const,
      registers: r,
    }),
    consumerLag: new Gauge({
      name: 'empsync_consumer_lag',
      help: 'Messages between the sink position and the partition end, by target store, topic and partition',
      labelNames: ['store', 'topic', 'partition'] as const,
      registers: r,
    }),
    endToEndLag: new Histogram({
      name: 'empsync_end_to_end_lag_seconds',
      help: 'Source commit to applied in the target store',
      labelNames: ['store'] as const,
      buckets: lagBuckets,
      registers: r,
    }),
    lastAppliedTimestamp: new Gauge({
      name: 'empsync_last_applied_timestamp_seconds',
      help: 'Unix time of the last applied batch, by target store',
      labelNames: ['store'] as const,
      registers: r,
    }),
    sinkUp: new Gauge({
      name: 'empsync_sink_up',
      help: '1 while the sink of the store is consuming the topic (one sink per store and synced table)',
      labelNames: ['store', 'topic'] as const,
      registers: r,
    }),
    logResets: new Counter({
      name: 'empsync_log_resets_total',
      help: 'Times a stage found its position belongs to no log it can read: the log changed (new cluster, recreated topic), a stored offset lay outside the log, or the database offsets went back (restore); by stage, store and reason',
      labelNames: ['stage', 'store', 'reason'] as const,
      registers: r,
    }),
    heldPartitions: new Gauge({
      name: 'empsync_sink_held_partitions',
      help: 'Partitions a sink holds because a poison event of theirs could not be parked (DLQ publish failing), by store and topic',
      labelNames: ['store', 'topic'] as const,
      registers: r,
    }),
    dlqPublishFailures: new Counter({
      name: 'empsync_dlq_publish_failures_total',
      help: 'Failed attempts to park a poison event on the DLQ topic (the partition is held and retried)',
      labelNames: ['store'] as const,
      registers: r,
    }),
    snapshotPublished: new Counter({
      name: 'empsync_snapshot_rows_published_total',
      help: 'Rows a snapshot (backfill, re-publish into a new log, resync) read from the table and published, by source store and table',
      labelNames: ['store', 'table'] as const,
      registers: r,
    }),
    snapshotProgress: new Gauge({
      name: 'empsync_snapshot_progress_rows',
      help: 'The running (or last) snapshot of a table: rows published so far (state=published) and rows the table held when it started (state=total)',
      labelNames: ['store', 'table', 'state'] as const,
      registers: r,
    }),
    snapshotRunning: new Gauge({
      name: 'empsync_snapshot_running',
      help: '1 while a snapshot of the table is being read and published by this process',
      labelNames: ['store', 'table'] as const,
      registers: r,
    }),
    relayParked: new Counter({
      name: 'empsync_relay_parked_total',
      help: 'Captured changes the relay could not carry (a value the other engine cannot hold), parked in sync_dead_letters',
      labelNames: ['store', 'reason'] as const,
      registers: r,
    }),
    deadLetters: new Gauge({
      name: 'empsync_dead_letters',
      help: 'Parked events waiting in each store (sync_dead_letters, not replayed), by store and the stage that parked them',
      labelNames: ['store', 'stage'] as const,
      registers: r,
    }),
    dlqSize: new Gauge({
      name: 'empsync_dlq_messages',
      help: 'Messages in the DLQ topic (end offsets summed)',
      registers: r,
    }),
    dependencyUp: new Gauge({
      name: 'empsync_dependency_up',
      help: '1 when the dependency answered the last readiness probe',
      labelNames: ['dependency'] as const,
      registers: r,
    }),
    schemaMismatches: new Gauge({
      name: 'empsync_schema_mismatches',
      help: 'Columns of a synced table left out of sync because they cannot travel as they are (one side only with no counterpart type, or different types); EMPSYNC_SCHEMA_MISMATCH in the log names them',
      labelNames: ['table'] as const,
      registers: r,
    }),
    schemaColumns: new Gauge({
      name: 'empsync_schema_columns',
      help: 'Columns synced for each table (declared and found on both engines), as of the last schema check',
      labelNames: ['table'] as const,
      registers: r,
    }),
    readinessChecks: new Counter({
      name: 'empsync_readiness_checks_total',
      help: 'Dependency checks run for /readyz and healthCheck (at most one per READYZ_CACHE_MS; concurrent probes share one)',
      registers: r,
    }),
    driftRows: new Gauge({
      name: 'empsync_drift_rows',
      help: 'Rows whose content differs between the stores (confirmed, not in flight) at the last complete drift check pass, by table and kind (missing, deleted, version, content); after a repair, those it could not repair',
      labelNames: ['table', 'kind'] as const,
      registers: r,
    }),
    driftLastPass: new Gauge({
      name: 'empsync_drift_last_pass_timestamp_seconds',
      help: 'When the last complete drift check pass ended (Unix time); 0 before the first',
      registers: r,
    }),
    driftPassSeconds: new Gauge({
      name: 'empsync_drift_pass_seconds',
      help: 'How long the last complete drift check pass took, confirmation included',
      registers: r,
    }),
    driftPasses: new Counter({
      name: 'empsync_drift_passes_total',
      help: 'Drift check passes, by outcome: clean, divergent, repaired, failed',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    dbPoolSize: new Gauge({
      name: 'empsync_db_pool_connections',
      help: 'Database pool connections configured, by store',
      labelNames: ['store'] as const,
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Creates the known label combinations at 0, so a counter exists before its first increment:
 * Prometheus counts no increase for a series that is born above zero (rate() and alerts miss it).
 */
export function initialiseKnownSeries(metrics: Metrics, uniqueColumns: readonly string[] = []): void {
  for (const store of ['mysql', 'postgres']) {
    for (const op of ['c', 'u', 'd', 'r']) {
      metrics.published.inc({ store, op }, 0);
      metrics.applied.inc({ store, op }, 0);
    }
    for (const reason of ['stale', 'own-origin', 'superseded', 'already-applied']) metrics.skipped.inc({ store, reason }, 0);
    for (const reason of ['log-changed', 'below-log-start', 'past-log-end', 'rewound', 'tombstones-expired']) {
      metrics.logResets.inc({ stage: 'sink', store, reason }, 0);
    }
    metrics.logResets.inc({ stage: 'relay', store, reason: 'log-changed' }, 0);
    metrics.relayParked.inc({ store, reason: 'EMPSYNC_VALUE_NOT_PORTABLE' }, 0);
    metrics.dlqPublishFailures.inc({ store }, 0);
    for (const reason of ['EMPSYNC_EVENT_INVALID', 'EMPSYNC_APPLY_REJECTED']) metrics.deadLettered.inc({ store, reason }, 0);
    // A conflict's kind: update, delete, or the unique column two rows wanted.
    for (const kind of ['update', 'delete', ...uniqueColumns]) {
      for (const outcome of ['incoming-applied', 'local-kept', 'local-displaced']) metrics.conflicts.inc({ store, kind, outcome }, 0);
    }
    metrics.captured.inc({ store }, 0);
    metrics.consumed.inc({ store }, 0);
    metrics.sinkRetries.inc({ store }, 0);
  }
  metrics.kafkaProducerErrors.inc(0);
}
