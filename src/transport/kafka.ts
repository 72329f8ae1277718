// Kafka plumbing shared by relay and sink: client options from the config, and the topics
// (`employes-sync` compacted, its DLQ) created when missing.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '@platformatic/kafka';
import type { Config } from '../config.ts';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import type { StoreName } from '../tables/declaration.ts';

export type KafkaConfig = Pick<
  Config,
  'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID' | 'KAFKA_TOPIC' | 'KAFKA_DLQ_TOPIC' | 'KAFKA_PARTITIONS' | 'KAFKA_REPLICATION_FACTOR'
> &
  Partial<Pick<Config, 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD' | 'KAFKA_TLS' | 'KAFKA_TLS_CA_FILE'>>;

/** CA files read once per process (a client is created per stage and per reconnect). */
const caFiles = new Map<string, Buffer>();

export function baseClientOptions(config: KafkaConfig, suffix: string) {
  const ca = config.KAFKA_TLS_CA_FILE;
  if (ca && !caFiles.has(ca)) caFiles.set(ca, readFileSync(ca));
  return {
    clientId: `${config.KAFKA_CLIENT_ID}-${suffix}`,
    bootstrapBrokers: [...config.KAFKA_BROKERS],
    timeout: 10_000,
    retries: 3,
    retryDelay: 250,
    // SASL (SCRAM or PLAIN) and TLS to the brokers (docs/security.md): the production settings.
    ...(config.KAFKA_SASL_MECHANISM
      ? { sasl: { mechanism: config.KAFKA_SASL_MECHANISM, username: config.KAFKA_SASL_USERNAME!, password: config.KAFKA_SASL_PASSWORD! } }
      : {}),
    ...(config.KAFKA_TLS ? { tls: ca ? { ca: caFiles.get(ca)! } : {} } : {}),
  };
}

/** The consumer group of a store's sink of a table: `<prefix>-<store>` for the first table, as before. */
export function sinkGroup(config: Pick<Config, 'SINK_GROUP_PREFIX' | 'KAFKA_TOPIC'>, store: StoreName, topic: string, table: string): string {
  return topic === config.KAFKA_TOPIC ? `${config.SINK_GROUP_PREFIX}-${store}` : `${config.SINK_GROUP_PREFIX}-${store}-${table}`;
}

/** Creates the change topic (compacted: the latest event per id is kept, tombstones clear deletes) and the DLQ. */
/** The dead-letter topic of a synced table's topic: KAFKA_DLQ_TOPIC for KAFKA_TOPIC, `<topic>.dlq` for the others. */
export function deadLetterTopic(topic: string, config: Pick<KafkaConfig, 'KAFKA_TOPIC' | 'KAFKA_DLQ_TOPIC'>): string {
  return topic === config.KAFKA_TOPIC ? config.KAFKA_DLQ_TOPIC : `${topic}.dlq`;
}

/** Creates the change topics (compacted) and their dead-letter topics that do not exist yet. */
export async function ensureTopics(config: KafkaConfig, topics: readonly string[] = [config.KAFKA_TOPIC]): Promise<void> {
  const admin = new Admin(baseClientOptions(config, 'admin'));
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = topics.flatMap((name) => [
      {
        name,
        configs: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.compaction.lag.ms', value: String(60 * 60 * 1000) },
          { name: 'delete.retention.ms', value: String(24 * 60 * 60 * 1000) },
        ],
      },
      { name: deadLetterTopic(name, config), configs: [{ name: 'retention.ms', value: String(30 * 24 * 60 * 60 * 1000) }] },
    ]);
    for (const topic of wanted) {
      if (existing.has(topic.name)) continue;
      try {
        await admin.createTopics({
          topics: [topic.name],
          partitions: config.KAFKA_PARTITIONS,
          replicas: config.KAFKA_REPLICATION_FACTOR,
          configs: topic.configs,
        });
      } catch (error) {
        const message = collectMessages(error);
        if (/already exists/i.test(message)) continue;
        // A principal without Create (docs/security.md: only migrate's has it) may ask just after migrate
        // created the topic, before this broker's metadata shows it: it exists once the metadata catches up.
        if (/authorization/i.test(message) && (await appears(admin, topic.name))) continue;
        if (/authorization/i.test(message)) {
          throw new EmpsyncError(ErrorCodes.NOT_MIGRATED, `topic ${topic.name} does not exist and this Kafka principal may not create it: run \`empsync migrate\` first`, {
            cause: error,
          });
        }
        throw error;
      }
    }
  } catch (error) {
    if (error instanceof EmpsyncError) throw error;
    throw new EmpsyncError(
      ErrorCodes.DEPENDENCY_UNAVAILABLE,
      `Kafka is unreachable at ${config.KAFKA_BROKERS.join(',')}: ${collectMessages(error)}`,
      { cause: error, details: { dependency: 'kafka' } },
    );
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** Whether `topic` shows in the broker's metadata within 5 s. */
async function appears(admin: Admin, topic: string): Promise<boolean> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(200)) {
    if ((await admin.listTopics()).includes(topic)) return true;
  }
  return false;
}

/** How long the change topic keeps tombstones (its `delete.retention.ms`), or null when it cannot be read. */
export async function tombstoneRetentionMs(config: KafkaConfig): Promise<number | null> {
  const admin = new Admin({ ...baseClientOptions(config, 'admin'), retries: 0 });
  try {
    const [description] = await admin.describeConfigs({
      resources: [{ resourceType: 2, resourceName: config.KAFKA_TOPIC, configurationKeys: ['delete.retention.ms'] }],
    });
    const value = description?.configs.find((c) => c.name === 'delete.retention.ms')?.value;
    return value ? Number(value) : null;
  } catch {
    return null;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** Probes the brokers with a metadata request. */
export async function pingKafka(config: KafkaConfig, timeoutMs = 3000): Promise<void> {
  const admin = new Admin({ ...baseClientOptions(config, 'probe'), timeout: timeoutMs, retries: 0 });
  try {
    await admin.metadata({ topics: [] });
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * Headers of the tombstone that follows a delete: the delete itself, so a sink that only sees the
 * tombstone (compaction removed the delete event) still applies the delete, with its version.
 */
export const tombstoneHeaders = {
  op: 'empsync-op',
  eventId: 'empsync-event-id',
  version: 'empsync-version',
  baseVersion: 'empsync-base-version',
  origin: 'empsync-origin',
} as const;

/** The value of one header as text, or undefined. */
export function readHeader(headers: Map<Buffer, Buffer> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of headers) if (key.toString() === name) return value.toString();
  return undefined;
}

/** Kafka headers as the client sends them: Buffer keys and values. */
export function bufferHeaders(headers: Record<string, string>): Map<Buffer, Buffer> {
  return new Map(Object.entries(headers).map(([key, value]) => [Buffer.from(key), Buffer.from(value)]));
}

/** The messages of an error and its causes / aggregated errors, for one readable line. */
export function collectMessages(error: unknown): string {
  const parts: string[] = [];
  const visit = (value: unknown, depth: number) => {
    if (!(value instanceof Error) || depth > 4) return;
    if (value.message) parts.push(value.message);
    const nested = (value as { errors?: unknown[] }).errors;
    if (Array.isArray(nested)) nested.forEach((e) => visit(e, depth + 1));
    visit(value.cause, depth + 1);
  };
  visit(error, 0);
  return [...new Set(parts)].join('; ') || String(error);
}
