// Sink: consumes `employes-sync` and applies other stores' changes to its store. Each batch is
// applied in one transaction together with the consumed offsets (stored in the target database);
// messages below the stored offsets are skipped, so a redelivery after a crash has no effect.
// Poison events go to the DLQ with their reason and the partition keeps flowing; transient errors
// retry with backoff.
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, Producer, type Message, type MessagesStream } from '@platformatic/kafka';
import { describeError, EmpsyncError, ErrorCodes, isEmpsyncError } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../store/store.ts';
import type { PartitionOffset } from '../store/types.ts';
import { decodeEnvelope } from '../transport/envelope.ts';
import { baseClientOptions, bufferHeaders, collectMessages, type KafkaConfig } from '../transport/kafka.ts';
import type { ConflictPolicy } from './conflict-policy.ts';
import { planBatch, type PositionedEvent } from './plan-batch.ts';
import { isTransientError } from './transient-errors.ts';

/** How often the applied offsets are also committed to Kafka (lag metric, consumer start). */
const kafkaCommitIntervalMs = 200;

export interface SinkOptions {
  store: Store;
  kafka: KafkaConfig;
  metrics: Metrics;
  logger: Logger;
  policy: ConflictPolicy;
  consumerGroup: string;
  maxBatch: number;
  /** Transactions applied at once, each on its own partitions (order is per partition). Default 1. */
  concurrency?: number;
}

interface PoisonMessage {
  message: Message;
  reason: string;
  code: string;
}

export interface ApplyResult {
  applied: number;
  stale: number;
  ownOrigin: number;
  alreadyApplied: number;
  deadLettered: number;
}

export class Sink {
  readonly #options: SinkOptions;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  #consumer: Consumer | null = null;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  #dlqProducer: Producer | null = null;
  #loop: Promise<void> | null = null;
  /** Next offset to apply per partition, as stored in the target database. */
  #storedOffsets = new Map<number, bigint>();
  /** The last applied message per partition, not yet committed to Kafka (see #commitToKafka). */
  #uncommitted = new Map<number, Message>();
  #commitTimer: NodeJS.Timeout | null = null;

  constructor(options: SinkOptions) {
    this.#options = options;
    this.#log = options.logger.child({ stage: 'sink', store: options.store.name });
  }

  get consuming(): boolean {
    return this.#stream !== null && !this.#stream.destroyed;
  }

  /** Connects and starts consuming; resolves once the first stream is open (errors surface here). */
  async start(): Promise<void> {
    const stream = await this.#connect();
    this.#loop = this.#supervise(stream);
    this.#log.info({ group: this.#options.consumerGroup }, 'sink consuming');
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#flushKafkaCommits();
    const stream = this.#stream;
    this.#stream = null;
    await stream?.close().catch(() => undefined);
    await this.#loop?.catch(() => undefined);
    await this.#disconnect();
    await this.#dlqProducer?.close(true).catch(() => undefined);
    this.#options.metrics.sinkUp.set({ store: this.#options.store.name }, 0);
  }

  /** Runs the stream; when it dies (broker gone, group lost), reconnects with backoff until stopped. */
  async #supervise(first: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
    const { metrics, store } = this.#options;
    const signal = this.#stopping.signal;
    let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = first;
    for (let attempt = 0; !signal.aborted; ) {
      if (stream) {
        attempt = 0;
        await this.#run(stream);
        if (signal.aborted) return;
        metrics.sinkUp.set({ store: store.name }, 0);
        this.#log.warn('consumer stream ended: reconnecting');
        await this.#disconnect();
      }
      const wait = Math.min(250 * 2 ** Math.min(attempt++, 5), 5000);
      await sleep(wait, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      stream = await this.#connect().catch((error: unknown) => {
        this.#log.warn({ err: collectMessages(error) }, 'sink cannot connect to Kafka yet');
        return null;
      });
    }
  }

  async #connect(): Promise<MessagesStream<Buffer, Buffer, Buffer, Buffer>> {
    const { kafka, consumerGroup, store, metrics } = this.#options;
    await this.#reloadOffsets();
    const consumer = new Consumer({
      ...baseClientOptions(kafka, `sink-${store.name}`),
      groupId: consumerGroup,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 15_000,
      maxWaitTime: 100,
      autocommit: false,
    });
    consumer.on('consumer:group:join', () => {
      this.#reloadOffsets().catch((error) => this.#log.warn({ err: describeError(error) }, 'offset reload failed'));
    });
    consumer.on('consumer:lag', (lag) => {
      for (const [, partitions] of lag) {
        partitions.forEach((value, partition) =>
          metrics.consumerLag.set({ store: store.name, partition: String(partition) }, Number(value < 0n ? 0n : value)),
        );
      }
    });
    this.#consumer = consumer;
    try {
      const stream = await consumer.consume({
        topics: [kafka.KAFKA_TOPIC],
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: false,
        maxWaitTime: 100,
      });
      stream.on('error', (error) => this.#log.error({ err: collectMessages(error) }, 'consumer stream error'));
      consumer.startLagMonitoring({ topics: [kafka.KAFKA_TOPIC] }, 5000);
      metrics.sinkUp.set({ store: store.name }, 1);
      this.#stream = stream;
      this.#commitTimer = setInterval(() => this.#flushKafkaCommits(), kafkaCommitIntervalMs);
      this.#commitTimer.unref();
      return stream;
    } catch (error) {
      await this.#disconnect();
      throw error;
    }
  }

  async #disconnect(): Promise<void> {
    if (this.#commitTimer) clearInterval(this.#commitTimer);
    this.#commitTimer = null;
    // Messages of a closed stream cannot be committed; the next batches of the new one will be.
    this.#uncommitted.clear();
    const consumer = this.#consumer;
    this.#consumer = null;
    this.#stream = null;
    if (!consumer) return;
    consumer.stopLagMonitoring();
    await consumer.close(true).catch(() => undefined);
  }

  async #reloadOffsets(): Promise<void> {
    const { store, consumerGroup, kafka } = this.#options;
    const offsets = await store.readOffsets(consumerGroup, kafka.KAFKA_TOPIC);
    this.#storedOffsets = new Map(offsets.map((o) => [o.partition, o.nextOffset]));
  }

  async #run(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
    const { maxBatch } = this.#options;
    const signal = this.#stopping.signal;
    const buffer: Message[] = [];
    let wake: (() => void) | null = null;
    // Flowing mode with back-pressure: the stream pauses while two batches wait to be applied.
    stream.on('data', (message: Message) => {
      buffer.push(message);
      if (buffer.length >= maxBatch * 2) stream.pause();
      wake?.();
    });
    let ended = false;
    const closed = new Promise<void>((resolve) => {
      const end = () => {
        ended = true;
        resolve();
      };
      stream.once('close', end);
      stream.once('error', end);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    while (!signal.aborted && !(ended && buffer.length === 0)) {
      if (buffer.length === 0) {
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), closed]);
        wake = null;
        continue;
      }
      const batch = buffer.splice(0, maxBatch);
      if (stream.isPaused() && buffer.length < maxBatch) stream.resume();
      try {
        // Partitions are independent (key = id): disjoint groups of them apply in parallel transactions.
        await Promise.all(this.#groupByPartition(batch).map((group) => this.#applyWithRetry(group)));
      } catch (error) {
        // Never reached in normal operation (#applyWithRetry handles every failure); a bug must not stop the sink silently.
        this.#log.error({ err: describeError(error) }, 'unexpected sink failure: stopping the stream');
        stream.destroy(error as Error);
      }
    }
  }

  #groupByPartition(batch: Message[]): Message[][] {
    const groups = Math.max(1, this.#options.concurrency ?? 1);
    if (groups === 1) return [batch];
    const byGroup = new Map<number, Message[]>();
    for (const message of batch) {
      const group = message.partition % groups;
      const list = byGroup.get(group);
      if (list) list.push(message);
      else byGroup.set(group, [message]);
    }
    return [...byGroup.values()];
  }

  async #applyWithRetry(batch: Message[]): Promise<void> {
    const { store, metrics } = this.#options;
    const signal = this.#stopping.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.applyMessages(batch);
        return;
      } catch (error) {
        if (!isTransientError(error)) {
          // A value the store rejects: find the poison events one by one, park them, apply the rest.
          this.#log.warn({ err: describeError(error) }, 'batch rejected: applying its events one by one');
          await this.#applyOneByOne(batch);
          return;
        }
        metrics.sinkRetries.inc({ store: store.name });
        const wait = Math.min(100 * 2 ** Math.min(attempt, 6), 5000);
        this.#log.warn({ err: describeError(error), attempt, waitMs: wait }, 'transient apply error: retrying');
        await sleep(wait, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  async #applyOneByOne(batch: Message[]): Promise<void> {
    for (const message of batch) {
      for (let attempt = 1; !this.#stopping.signal.aborted; attempt++) {
        try {
          await this.applyMessages([message]);
          break;
        } catch (error) {
          if (isTransientError(error)) {
            await sleep(Math.min(100 * 2 ** Math.min(attempt, 6), 5000)).catch(() => undefined);
            continue;
          }
          await this.applyMessages([message], { reason: describeError(error), code: ErrorCodes.APPLY_REJECTED });
          break;
        }
      }
    }
  }

  /**
   * Applies one batch in one transaction with its offsets. With `forcePoison`, every message of the
   * batch goes to the DLQ with that reason and only the offsets are stored.
   */
  async applyMessages(batch: Message[], forcePoison?: { reason: string; code: string }): Promise<ApplyResult> {
    const { store, metrics, kafka, policy, consumerGroup } = this.#options;
    const started = performance.now();
    const events: PositionedEvent[] = [];
    const poison: PoisonMessage[] = [];
    const nextOffsets = new Map<number, bigint>();
    let alreadyApplied = 0;
    for (const message of batch) {
      metrics.kafkaMessagesReceived.inc({ topic: message.topic });
      const stored = this.#storedOffsets.get(message.partition);
      if (stored !== undefined && message.offset < stored) {
        alreadyApplied += 1;
        continue;
      }
      nextOffsets.set(message.partition, message.offset + 1n);
      if (forcePoison) {
        poison.push({ message, ...forcePoison });
        continue;
      }
      if (message.value === null || message.value === undefined || message.value.length === 0) continue; // tombstone
      try {
        const event = decodeEnvelope(message.value);
        if (message.key && message.key.toString() !== String(event.row.id)) {
          throw new EmpsyncError(ErrorCodes.EVENT_INVALID, `message key ${message.key.toString()} is not row id ${event.row.id}`);
        }
        events.push({ event, partition: message.partition, offset: message.offset });
      } catch (error) {
        poison.push({
          message,
          reason: describeError(error),
          code: isEmpsyncError(error) ? error.code : ErrorCodes.EVENT_INVALID,
        });
      }
    }
    metrics.consumed.inc({ store: store.name }, batch.length);
    if (nextOffsets.size === 0) {
      if (alreadyApplied) metrics.skipped.inc({ store: store.name, reason: 'already-applied' }, alreadyApplied);
      return { applied: 0, stale: 0, ownOrigin: 0, alreadyApplied, deadLettered: 0 };
    }
    if (poison.length) await this.#deadLetter(poison);

    const offsets: PartitionOffset[] = [...nextOffsets].map(([partition, nextOffset]) => ({
      topic: kafka.KAFKA_TOPIC,
      partition,
      nextOffset,
    }));
    const outcome = await store.applyTransaction(async (tx) => {
      const ids = [...new Set(events.map((e) => e.event.row.id))];
      const emails = [...new Set(events.filter((e) => e.event.op !== 'd').map((e) => e.event.row.email))];
      const current = events.length ? await tx.readCurrent(ids, emails) : { rows: [], tombstones: [], emailHolders: [] };
      const result = planBatch({ target: store.name, policy, consumerGroup, events, offsets, current });
      await tx.write(result.plan);
      return result;
    });
    failpoint('sink.after-apply');
    for (const [partition, next] of nextOffsets) this.#storedOffsets.set(partition, next);
    for (const message of batch) this.#uncommitted.set(message.partition, message);

    const { plan, stats } = outcome;
    const now = Date.now();
    const applied = plan.upserts.length + plan.deletes.length;
    const appliedIds = new Set([...plan.upserts.map((r) => r.id), ...plan.deletes.map((d) => d.id)]);
    for (const { event } of events) {
      if (!appliedIds.has(event.row.id)) continue;
      metrics.applied.inc({ store: store.name, op: event.op });
      metrics.endToEndLag.observe({ store: store.name }, Math.max(0, now - Date.parse(event.committedAt)) / 1000);
      appliedIds.delete(event.row.id);
    }
    for (const conflict of plan.conflicts) {
      metrics.conflicts.inc({ store: store.name, kind: conflict.kind, outcome: conflict.outcome });
    }
    if (stats.stale) metrics.skipped.inc({ store: store.name, reason: 'stale' }, stats.stale);
    if (stats.ownOrigin) metrics.skipped.inc({ store: store.name, reason: 'own-origin' }, stats.ownOrigin);
    if (stats.superseded) metrics.skipped.inc({ store: store.name, reason: 'superseded' }, stats.superseded);
    if (alreadyApplied) metrics.skipped.inc({ store: store.name, reason: 'already-applied' }, alreadyApplied);
    metrics.sinkBatchSize.observe({ store: store.name }, batch.length);
    metrics.sinkBatchDuration.observe({ store: store.name }, (performance.now() - started) / 1000);
    metrics.lastAppliedTimestamp.set({ store: store.name }, now / 1000);
    return { applied, stale: stats.stale, ownOrigin: stats.ownOrigin, alreadyApplied, deadLettered: poison.length };
  }

  async #deadLetter(poison: PoisonMessage[]): Promise<void> {
    const { kafka, metrics, store } = this.#options;
    this.#dlqProducer ??= new Producer({
      ...baseClientOptions(kafka, `sink-${store.name}-dlq`),
      idempotent: true,
    });
    await this.#dlqProducer
      .send({
      messages: poison.map(({ message, reason, code }) => ({
        topic: kafka.KAFKA_DLQ_TOPIC,
        key: message.key ?? undefined,
        value: message.value ?? Buffer.alloc(0),
        headers: bufferHeaders({
          'empsync-error-code': code,
          'empsync-error-reason': reason.slice(0, 2000),
          'empsync-source-topic': message.topic,
          'empsync-source-partition': String(message.partition),
          'empsync-source-offset': message.offset.toString(),
          'empsync-sink-store': store.name,
        }),
      })),
      })
      .catch((error: unknown) => {
        // Nothing is stored until the DLQ has the event: the batch is retried as a whole.
        throw new EmpsyncError(ErrorCodes.PUBLISH_FAILED, `DLQ publish failed: ${collectMessages(error)}`, {
          cause: error,
        });
      });
    for (const { reason, code, message } of poison) {
      metrics.deadLettered.inc({ store: store.name, reason: code });
      this.#log.warn({ partition: message.partition, offset: message.offset.toString(), reason }, 'event parked in the DLQ');
    }
  }

  /**
   * Kafka's committed offsets trail the database's, which decide what is applied: they only serve the
   * lag metric and a new consumer's starting point (the stored offsets then skip what was applied). So
   * they are sent every `kafkaCommitIntervalMs`, one request for all partitions, not after every batch:
   * with small batches that was one more request per transaction, for the sink and for the broker.
   */
  #flushKafkaCommits(): void {
    const messages = [...this.#uncommitted.values()];
    this.#uncommitted.clear();
    for (const message of messages) Promise.resolve(message.commit()).catch(() => undefined);
  }
}
