// Gauges computed from the databases and Kafka at scrape time (bounded by a minimum interval so a
// fast scraper cannot turn /metrics into a load test of the databases).
import { Admin } from '@platformatic/kafka';
import type { Stores } from '../store/create-stores.ts';
import { deadLetterStages } from '../store/types.ts';
import { baseClientOptions, type KafkaConfig } from '../transport/kafka.ts';
import type { Metrics } from './metrics.ts';

export function createGaugeRefresher(
  stores: Stores,
  kafka: KafkaConfig,
  metrics: Metrics,
  minIntervalMs: number,
  readiness: () => Promise<unknown>,
  maxDepartments = 50,
) {
  let last = 0;
  let inflight: Promise<void> | null = null;
  const refresh = async () => {
    // The readiness probe also sets empsync_dependency_up, which the Kafka-unreachable alert watches.
    const [, departments, mysqlBacklog, postgresBacklog, dlq, mysqlParked, postgresParked] = await Promise.allSettled([
      readiness(),
      stores.postgres.employees.countByDepartment(),
      stores.mysql.outbox.backlog(),
      stores.postgres.outbox.backlog(),
      dlqSize(kafka),
      stores.mysql.deadLetters.count(),
      stores.postgres.deadLetters.count(),
    ]);
    if (departments.status === 'fulfilled') {
      metrics.employeesByDepartment.reset();
      for (const { department, count } of boundedDepartments(departments.value, maxDepartments)) {
        metrics.employeesByDepartment.set({ department }, count);
      }
    }
    if (mysqlBacklog.status === 'fulfilled') metrics.outboxBacklog.set({ store: 'mysql' }, mysqlBacklog.value);
    if (postgresBacklog.status === 'fulfilled') metrics.outboxBacklog.set({ store: 'postgres' }, postgresBacklog.value);
    if (dlq.status === 'fulfilled') metrics.dlqSize.set(dlq.value);
    for (const [store, parked] of [['mysql', mysqlParked], ['postgres', postgresParked]] as const) {
      if (parked.status !== 'fulfilled') continue;
      for (const stage of deadLetterStages) {
        metrics.deadLetters.set({ store, stage }, parked.value.find((p) => p.stage === stage)?.parked ?? 0);
      }
    }
  };
  return async (): Promise<void> => {
    if (Date.now() - last < minIntervalMs) return;
    inflight ??= refresh().finally(() => {
      last = Date.now();
      inflight = null;
    });
    await inflight;
  };
}

async function dlqSize(kafka: KafkaConfig): Promise<number> {
  const admin = new Admin({ ...baseClientOptions(kafka, 'metrics'), retries: 0 });
  try {
    // Timestamp -1 asks for the end offset of each partition; the DLQ is never compacted, so ends sum to its size.
    const partitions = Array.from({ length: kafka.KAFKA_PARTITIONS }, (_, partitionIndex) => ({
      partitionIndex,
      timestamp: -1n,
    }));
    const offsets = await admin.listOffsets({ topics: [{ name: kafka.KAFKA_DLQ_TOPIC, partitions }] });
    return offsets.flatMap((topic) => topic.partitions).reduce((sum, p) => sum + Number(p.offset), 0);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** The label of the departments beyond METRICS_MAX_DEPARTMENTS. */
const otherDepartments = '(other)';

/**
 * At most `max` department labels (a label value per department would be an unbounded set): the
 * largest departments keep their own, the others are counted together under "(other)".
 */
export function boundedDepartments(counts: readonly { department: string; count: number }[], max: number): { department: string; count: number }[] {
  if (counts.length <= max) return [...counts];
  const sorted = [...counts].sort((a, b) => b.count - a.count || a.department.localeCompare(b.department));
  const kept = sorted.slice(0, max - 1);
  const rest = sorted.slice(max - 1).reduce((sum, d) => sum + d.count, 0);
  return [...kept, { department: otherDepartments, count: rest }];
}
