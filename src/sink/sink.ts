// Sink: consumes the topic of one synced table (`employes-sync` for employes) and applies other stores'
// changes to its store, with the table's current schema: an event written with another schema version
// (the previous or the next, during a change) writes the columns it holds that the table syncs here. Each batch is
// applied in one transaction together with the consumed offsets, stored in the target database and
// bound to the log they index (cluster id / topic id). The database is the truth: a sink starts each
// partition at its stored offset (src/sink/start-positions.ts), and inside every transaction it
// reads the stored offsets under lock before deciding — a message is skipped as already applied
// only when the stored offset of the same log proves it. When the log changes (new cluster,
// recreated topic) the sink re-reads the new log from its start; when the database's offsets go back
// (a restore from a dump) it seeks back to them. Poison events are parked — a record in the store's
// sync_dead_letters in the same transaction, a copy on the DLQ topic first — and the partition keeps
// flowing; when the DLQ publish fails that partition is held and retried, the others go on.
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, ListOffsetTimestamps, type Message, type MessagesStream } from '@platformatic/kafka';
import { describeError, EmpsyncError, ErrorCodes, isEmpsyncError, type ErrorCode } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ApplyPort } from '../store/ports.ts';
import { isRetryable } from '../store/store-errors.ts';
import type { PartitionOffset, StoreName } from '../store/types.ts';
import type { SchemaSource, TableSchema } from '../tables/table-schema.ts';
import { baseClientOptions, collectMessages, ensureTopics, tombstoneRetentionMs, type KafkaConfig } from '../transport/kafka.ts';
import type { ConflictPolicy } from './conflict-policy.ts';
import { DeadLetterQueue, sinkDeadLetter, type PoisonMessage } from './dead-letter-queue.ts';
import { decodeMessage, type DecodedMessage } from './decode-message.ts';
import { knownValues, planBatch, uniqueRequest, type PositionedEvent } from './plan-batch.ts';
import { planStartPositions, type PartitionBounds } from './start-positions.ts';

/** What a sink says about each finding on its start positions. */
const startMessages = {
  [ErrorCodes.LOG_CHANGED]: 'stored offset belongs to another log (new cluster or recreated topic): reading the new log from its start',
  [ErrorCodes.OFFSET_OUT_OF_RANGE]: 'stored offset lies outside the log: reading from the start of what the log holds (run reconcile)',
  [ErrorCodes.TOMBSTONES_EXPIRED]:
    'this sink was away longer than the topic keeps tombstones (delete.retention.ms): compaction may have removed deletes it never saw (run reconcile --repair)',
};

/** How often the applied offsets are also committed to Kafka (lag metric, Kafka tools). */
const kafkaCommitIntervalMs = 200;

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;

export interface SinkOptions {
  store: { name: StoreName; apply: ApplyPort };
  /** The synced table this sink applies (its topic is the table's). */
  table: string;
  /** The synced tables' current schemas (the schema keeper). */
  schemas: SchemaSource;
  kafka: KafkaConfig;
  metrics: Metrics;
  logger: Logger;
  policy: ConflictPolicy;
  consumerGroup: string;
  maxBatch: number;
  /** A batch's size bound in bytes (keys and values), besides `maxBatch` events. Default 4 MiB. */
  maxBatchBytes?: number;
  /** The most bytes one Kafka fetch brings (every partition together). Default 4 MiB. */
  fetchMaxBytes?: number;
  /** Transactions applied at once, each on its own partitions (order is per partition). Default 1. */
  concurrency?: number;
  /** How often the stored offsets and the log's identity are checked while idle (ms). Default 5000. */
  offsetCheckIntervalMs?: number;
}

export interface ApplyResult {
  applied: number;
  stale: number;
  ownOrigin: number;
  alreadyApplied: number;
  deadLettered: number;
}

/** A reason to drop the stream and start again from the database's offsets. */
const restartCodes = new Set<string>([ErrorCodes.LOG_CHANGED, ErrorCodes.OFFSETS_REWOUND]);
const isRestart = (error: unknown) => isEmpsyncError(error) && restartCodes.has(error.code);

const defaultBatchBytes = 4 * 1024 * 1024;
const defaultFetchBytes = 4 * 1024 * 1024;
/** Messages decoded ahead between two turns of the event loop (about a millisecond of JSON). */
const decodeSlice = 128;
/** What a message weighs in memory, roughly: its key and value, and its object. */
const messageBytes = (message: Message) => (message.key?.length ?? 0) + (message.value?.length ?? 0) + 128;

export class Sink {
  readonly #options: SinkOptions;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  readonly #dlq: DeadLetterQueue;
  #consumer: Consumer | null = null;
  #stream: Stream | null = null;
  #loop: Promise<void> | null = null;
  /** The log (`clusterId/topicId`) the current stream reads. */
  #logId = '';
  /** The topic's partitions when the stream started: partitions added later need a new assignment. */
  #partitionCount = 0;
  /** Per partition, the next offset stored in the database as this sink last wrote or read it. */
  #applied = new Map<number, bigint>();
  /** Per partition, the offset after the last message delivered: a message below it means the log went back. */
  #delivered = new Map<number, bigint>();
  /** Messages received and not yet applied, in arrival order (per partition, log order). */
  #pending: Message[] = [];
  /** The bytes (keys and values) of `#pending`: back-pressure and batches are bounded in bytes too. */
  #pendingBytes = 0;
  /** Partitions whose poison event could not be parked (DLQ publish failed): retried after `until`. */
  #held = new Map<number, { until: number; failures: number }>();
  /** Set when the stream must be replaced (the log changed, the database's offsets went back). */
  #restart: { code: ErrorCode | null; reason: string } | null = null;
  #wake: (() => void) | null = null;
  /** The last applied message per partition, not yet committed to Kafka (see #flushKafkaCommits). */
  #uncommitted = new Map<number, Message>();
  #commitTimer: NodeJS.Timeout | null = null;
  /** Pending messages decoded while a transaction ran in the database (#decodeAhead); decoding is pure. */
  #decodedAhead = new WeakMap<Message, DecodedMessage>();
  /** Bumped at each decode-ahead: a newer one (or a batch taken) ends the one before. */
  #decodeAheadRun = 0;
  #checkTimer: NodeJS.Timeout | null = null;

  /** The topic of the sink's table. */
  readonly #topic: string;

  constructor(options: SinkOptions) {
    this.#options = options;
    this.#topic = options.schemas.schema(options.table).table.topic;
    this.#log = options.logger.child({ stage: 'sink', store: options.store.name, table: options.table });
    this.#dlq = new DeadLetterQueue(options.kafka, this.#topic, options.store.name, this.#log);
  }

  get table(): string {
    return this.#options.table;
  }

  get consuming(): boolean {
    return this.#stream !== null && !this.#stream.destroyed;
  }

  /** The log the sink reads (`clusterId/topicId`), once connected. */
  get logId(): string {
    return this.#logId;
  }

  /** Connects and starts consuming; resolves once the first stream is open (errors surface here). */
  async start(): Promise<void> {
    const stream = await this.#connect();
    this.#loop = this.#supervise(stream);
    this.#log.info({ group: this.#options.consumerGroup, log: this.#logId }, 'sink consuming');
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#wake?.();
    this.#flushKafkaCommits();
    const stream = this.#stream;
    this.#stream = null;
    await stream?.close().catch(() => undefined);
    await this.#loop?.catch(() => undefined);
    await this.#disconnect();
    await this.#dlq.close();
    this.#options.metrics.sinkUp.set({ store: this.#options.store.name, topic: this.#topic }, 0);
  }

  /** Runs the stream; when it ends (broker gone, log changed, offsets rewound), connects again until stopped. */
  async #supervise(first: Stream): Promise<void> {
    const { metrics, store } = this.#options;
    const signal = this.#stopping.signal;
    let stream: Stream | null = first;
    for (let attempt = 0; !signal.aborted; ) {
      let immediate = false;
      if (stream) {
        attempt = 0;
        await this.#run(stream);
        if (signal.aborted) return;
        metrics.sinkUp.set({ store: store.name, topic: this.#topic }, 0);
        const restart = this.#restart;
        if (restart) this.#log.warn({ code: restart.code ?? undefined, reason: restart.reason }, 'starting again from the stored offsets');
        else this.#log.warn('consumer stream ended: reconnecting');
        await this.#disconnect();
        // A restart asked for by a check connects again at once; a lost broker backs off.
        immediate = restart !== null;
      }
      this.#restart = null;
      const wait = immediate ? 0 : Math.min(250 * 2 ** Math.min(attempt++, 5), 5000);
      await sleep(wait, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      stream = await this.#connect().catch((error: unknown) => {
        this.#log.warn({ err: collectMessages(error) }, 'sink cannot connect to Kafka yet');
        return null;
      });
    }
  }

  /**
   * A consumer positioned from the database: the log's identity from fresh metadata, each partition's
   * bounds, then the stored offsets judged against both (offsets of a gone log are replaced).
   */
  async #connect(): Promise<Stream> {
    const { kafka, consumerGroup, store, metrics } = this.#options;
    const topic = this.#topic;
    // A topic deleted by hand (or a new, empty cluster) is created again, as `migrate` would.
    await ensureTopics(kafka, [topic]);
    const consumer = new Consumer({
      ...baseClientOptions(kafka, `sink-${store.name}`),
      groupId: consumerGroup,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 15_000,
      maxWaitTime: 100,
      autocommit: false,
      // Bounded in bytes: a fetch of a large backlog would otherwise decode up to 50 MB of events at once.
      maxBytes: this.#options.fetchMaxBytes ?? defaultFetchBytes,
    });
    this.#consumer = consumer;
    try {
      const { logId, bounds } = await readLog(consumer, topic);
      const retentionMs = await tombstoneRetentionMs(kafka);
      const tombstones = retentionMs === null ? undefined : { retentionMs, now: Date.now() };
      const plan = planStartPositions(logId, bounds, await store.apply.readOffsets(consumerGroup, topic), tombstones);
      for (const finding of plan.findings) {
        metrics.logResets.inc({ stage: 'sink', store: store.name, reason: finding.reason });
        this.#log.warn(
          {
            code: finding.code,
            partition: finding.partition,
            storedOffset: finding.storedOffset.toString(),
            storedLog: finding.storedLogId,
            log: logId,
            startOffset: finding.startOffset.toString(),
          },
          startMessages[finding.code],
        );
      }
      await store.apply.resetOffsets(consumerGroup, topic, logId, plan.resets);
      const stored = new Set([...(await store.apply.readOffsets(consumerGroup, topic)).map((o) => o.partition)]);
      this.#logId = logId;
      this.#partitionCount = plan.starts.length;
      this.#applied = new Map(plan.starts.filter((s) => stored.has(s.partition)).map((s) => [s.partition, s.offset]));
      this.#delivered = new Map(plan.starts.map((s) => [s.partition, s.offset]));
      this.#setPending([]);
      this.#held.clear();
      const stream = await consumer.consume({
        topics: [topic],
        mode: 'manual',
        offsets: plan.starts.map((s) => ({ topic, partition: s.partition, offset: s.offset })),
        // A partition added while running starts at its beginning.
        fallbackMode: 'earliest',
        autocommit: false,
        maxWaitTime: 100,
      });
      stream.on('error', (error) => this.#log.error({ err: collectMessages(error) }, 'consumer stream error'));
      consumer.on('client:metadata', (metadata) => {
        const current = metadata.topics.get(topic);
        if (current && `${metadata.id}/${current.id}` !== this.#logId) {
          this.#requestRestart(ErrorCodes.LOG_CHANGED, `the topic is now log ${metadata.id}/${current.id}, not ${this.#logId}`);
        } else if (current && current.partitionsCount > this.#partitionCount) {
          // The group assigned the partitions of the time it formed: partitions added since are read by
          // nobody until the members join again, so this member joins again (from the stored offsets).
          this.#requestRestart(null, `the topic grew from ${this.#partitionCount} to ${current.partitionsCount} partitions`);
        }
      });
      consumer.on('consumer:lag', (lag) => {
        for (const [, partitions] of lag) {
          partitions.forEach((value, partition) =>
            metrics.consumerLag.set({ store: store.name, topic, partition: String(partition) }, Number(value < 0n ? 0n : value)),
          );
        }
      });
      consumer.startLagMonitoring({ topics: [topic] }, 5000);
      metrics.sinkUp.set({ store: store.name, topic }, 1);
      this.#stream = stream;
      this.#commitTimer = setInterval(() => this.#flushKafkaCommits(), kafkaCommitIntervalMs);
      this.#commitTimer.unref();
      this.#checkTimer = setInterval(() => void this.#checkPositions(), this.#options.offsetCheckIntervalMs ?? 5000);
      this.#checkTimer.unref();
      return stream;
    } catch (error) {
      await this.#disconnect();
      throw error;
    }
  }

  async #disconnect(): Promise<void> {
    if (this.#commitTimer) clearInterval(this.#commitTimer);
    if (this.#checkTimer) clearInterval(this.#checkTimer);
    this.#commitTimer = null;
    this.#checkTimer = null;
    // Messages of a closed stream are not committed to Kafka; the database has what was applied.
    this.#uncommitted.clear();
    this.#pending = [];
    const consumer = this.#consumer;
    this.#consumer = null;
    this.#stream = null;
    if (!consumer) return;
    consumer.stopLagMonitoring();
    await consumer.close(true).catch(() => undefined);
  }

  /** Ends the current stream so the supervisor connects again from the database's offsets. */
  #requestRestart(code: ErrorCode | null, reason: string): void {
    if (this.#restart || this.#stopping.signal.aborted) return;
    this.#restart = { code, reason };
    if (code === ErrorCodes.OFFSETS_REWOUND) {
      this.#options.metrics.logResets.inc({ stage: 'sink', store: this.#options.store.name, reason: 'rewound' });
    }
    const stream = this.#stream;
    this.#wake?.();
    void stream?.close().catch(() => undefined);
  }

  /**
   * While the sink idles, nothing else would notice that the database went back (a restore) or that
   * the topic was replaced: compare the stored offsets and the log's identity with what the sink holds.
   */
  async #checkPositions(): Promise<void> {
    const { store, consumerGroup } = this.#options;
    const consumer = this.#consumer;
    if (!consumer || this.#restart) return;
    try {
      // A copy taken before the read: batches committed while it runs raise #applied past what it read
      // (stored offsets only grow, so what was applied before the read is never above what it finds).
      const applied = new Map(this.#applied);
      const problem = offsetProblem(this.#logId, applied, await store.apply.readOffsets(consumerGroup, this.#topic));
      if (problem) return this.#requestRestart(problem.code, problem.reason);
      // Fresh metadata: a changed topic id shows in the consumer's 'client:metadata' handler.
      await consumer.metadata({ topics: [this.#topic], forceUpdate: true });
    } catch (error) {
      this.#log.debug({ err: describeError(error) }, 'position check failed (retried at the next one)');
    }
  }

  async #run(stream: Stream): Promise<void> {
    const { maxBatch } = this.#options;
    const maxBytes = this.#options.maxBatchBytes ?? defaultBatchBytes;
    const signal = this.#stopping.signal;
    stream.on('data', (message: Message) => {
      if (stream !== this.#stream) return;
      const expected = this.#delivered.get(message.partition);
      if (expected !== undefined && message.offset < expected) {
        // The stream stepped back: its position fell outside the log (a truncated or replaced log).
        this.#requestRestart(ErrorCodes.LOG_CHANGED, `partition ${message.partition} went back from ${expected} to ${message.offset}`);
        return;
      }
      this.#delivered.set(message.partition, message.offset + 1n);
      this.#pending.push(message);
      this.#pendingBytes += messageBytes(message);
      // Back-pressure: the stream pauses while two batches (in events or in bytes) wait to be applied.
      if (this.#pending.length >= maxBatch * 2 || this.#pendingBytes >= maxBytes * 2) stream.pause();
      this.#wake?.();
    });
    let ended = false;
    const end = () => {
      ended = true;
      this.#wake?.();
    };
    stream.once('close', end);
    stream.once('error', end);
    // Up to `concurrency` transactions at once, each on its own slot of partitions (partition % slots):
    // one slot's events are decoded and planned while another's transaction runs in the database.
    const slots = Math.max(1, this.#options.concurrency ?? 1);
    const running = new Map<number, Promise<void>>();
    while (!signal.aborted && !ended && !this.#restart) {
      let started = false;
      for (let slot = 0; slot < slots && !this.#restart; slot++) {
        if (running.has(slot)) continue;
        const batch = this.#takeBatch(maxBatch, maxBytes, (partition) => partition % slots === slot);
        if (batch.length === 0) continue;
        started = true;
        const applying = this.#applyWithRetry(batch)
          .then((held) => {
            // Messages of held partitions go back in front, in their order, for the next attempt (no
            // other message of the slot's partitions was taken meanwhile).
            if (held.length) this.#setPending([...held, ...this.#pending]);
          })
          .catch((error: unknown) => {
            if (isRestart(error)) {
              this.#requestRestart((error as EmpsyncError).code, (error as Error).message);
              return;
            }
            // Never reached in normal operation (#applyWithRetry handles every failure); a bug must not stop the sink silently.
            this.#log.error({ err: describeError(error) }, 'unexpected sink failure: starting again from the stored offsets');
            this.#restart ??= { code: ErrorCodes.INTERNAL, reason: describeError(error) };
          })
          .finally(() => {
            running.delete(slot);
            this.#wake?.();
          });
        running.set(slot, applying);
      }
      if (started) void this.#decodeAhead(running, maxBatch);
      if (stream.isPaused() && this.#pending.length < maxBatch && this.#pendingBytes < maxBytes) stream.resume();
      if (started) continue;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        const nextRetry = Math.min(...[...this.#held.values()].map((h) => h.until));
        if (Number.isFinite(nextRetry)) setTimeout(resolve, Math.max(1, nextRetry - Date.now())).unref();
      });
      this.#wake = null;
    }
    await Promise.all(running.values());
    // What was received and not applied is read again by the next stream, from the database's offsets.
    this.#setPending([]);
  }

  /**
   * While transactions run in the database, decodes the first `max` pending messages — what the next
   * batch takes — in slices that leave the event loop to the transactions' replies: the sink's JSON work
   * overlaps the database's instead of following it. Stops when no transaction runs, when a batch was
   * taken from the pending messages, or when a newer decode-ahead starts.
   */
  async #decodeAhead(running: ReadonlyMap<number, Promise<void>>, max: number): Promise<void> {
    const run = ++this.#decodeAheadRun;
    const pending = this.#pending;
    const table = this.#options.table;
    for (let at = 0; at < Math.min(max, pending.length); at += decodeSlice) {
      await new Promise((resolve) => setImmediate(resolve));
      if (run !== this.#decodeAheadRun || running.size === 0 || this.#pending !== pending) return;
      for (const message of pending.slice(at, at + decodeSlice)) {
        if (!this.#decodedAhead.has(message)) this.#decodedAhead.set(message, decodeMessage(message, table));
      }
    }
  }

  /**
   * Up to `max` pending messages (and `maxBytes`, at least one message) of partitions that are not held,
   * in order; the rest stay pending.
   */
  #takeBatch(max: number, maxBytes: number, ofSlot: (partition: number) => boolean): Message[] {
    const now = Date.now();
    for (const [partition, hold] of this.#held) if (hold.until <= now) this.#held.delete(partition);
    this.#options.metrics.heldPartitions.set({ store: this.#options.store.name, topic: this.#topic }, this.#held.size);
    const batch: Message[] = [];
    const rest: Message[] = [];
    let bytes = 0;
    for (const message of this.#pending) {
      const size = messageBytes(message);
      const fits = batch.length < max && (batch.length === 0 || bytes + size <= maxBytes);
      if (fits && ofSlot(message.partition) && !this.#held.has(message.partition)) {
        batch.push(message);
        bytes += size;
      } else rest.push(message);
    }
    this.#setPending(rest);
    return batch;
  }

  #setPending(messages: Message[]): void {
    this.#pending = messages;
    this.#pendingBytes = messages.reduce((sum, m) => sum + messageBytes(m), 0);
  }

  /** Applies a batch, retrying transient errors; returns the messages of partitions held by a failed DLQ publish. */
  async #applyWithRetry(batch: Message[]): Promise<Message[]> {
    const { store, metrics } = this.#options;
    const signal = this.#stopping.signal;
    for (let attempt = 1; !signal.aborted && batch.length; attempt++) {
      try {
        await this.applyMessages(batch);
        return [];
      } catch (error) {
        if (isRestart(error)) throw error;
        if (isEmpsyncError(error, ErrorCodes.PUBLISH_FAILED)) {
          // The DLQ did not take a poison event: hold its partition, apply the others now.
          const held = this.#hold(error, batch);
          const rest = batch.filter((message) => !held.includes(message));
          return [...held, ...(rest.length ? await this.#applyWithRetry(rest) : [])];
        }
        if (!isRetryable(error)) {
          // A value the store rejects: find the poison events one by one, park them, apply the rest.
          this.#log.warn({ err: describeError(error) }, 'batch rejected: applying its events one by one');
          return this.#applyOneByOne(batch);
        }
        metrics.sinkRetries.inc({ store: store.name });
        if (isEmpsyncError(error, ErrorCodes.SCHEMA_MISMATCH)) {
          // A column the batch writes is gone here (dropped a moment ago): read the schema again, retry.
          this.#log.warn({ err: describeError(error) }, 'the table changed under the batch: reading its schema again');
          await this.#options.schemas.refresh();
          continue;
        }
        const wait = Math.min(100 * 2 ** Math.min(attempt, 6), 5000);
        this.#log.warn({ err: describeError(error), attempt, waitMs: wait }, 'transient apply error: retrying');
        await sleep(wait, undefined, { signal }).catch(() => undefined);
      }
    }
    return [];
  }

  /** Holds the partitions a failed DLQ publish names (with backoff); returns their messages of `batch`. */
  #hold(error: EmpsyncError, batch: Message[]): Message[] {
    const { store, metrics } = this.#options;
    const partitions = new Set((error.details.partitions as number[] | undefined) ?? batch.map((m) => m.partition));
    for (const partition of partitions) {
      const failures = (this.#held.get(partition)?.failures ?? 0) + 1;
      const waitMs = Math.min(250 * 2 ** Math.min(failures, 5), 8000);
      this.#held.set(partition, { until: Date.now() + waitMs, failures });
      metrics.dlqPublishFailures.inc({ store: store.name });
      this.#log.error(
        { code: ErrorCodes.PUBLISH_FAILED, partition, failures, retryInMs: waitMs, err: error.message },
        'poison event cannot be parked: partition held, retrying (other partitions go on)',
      );
    }
    metrics.heldPartitions.set({ store: store.name, topic: this.#topic }, this.#held.size);
    return batch.filter((message) => partitions.has(message.partition));
  }

  async #applyOneByOne(batch: Message[]): Promise<Message[]> {
    const held: Message[] = [];
    for (const message of batch) {
      if (held.some((m) => m.partition === message.partition)) {
        held.push(message); // after a held message of its partition: keeps the partition's order
        continue;
      }
      for (let attempt = 1; !this.#stopping.signal.aborted; attempt++) {
        try {
          await this.applyMessages([message]);
          break;
        } catch (error) {
          if (isRestart(error)) throw error;
          if (isRetryable(error) && !isEmpsyncError(error, ErrorCodes.PUBLISH_FAILED)) {
            await sleep(Math.min(100 * 2 ** Math.min(attempt, 6), 5000)).catch(() => undefined);
            continue;
          }
          try {
            await this.applyMessages([message], { reason: describeError(error), code: ErrorCodes.APPLY_REJECTED });
          } catch (parkError) {
            if (!isEmpsyncError(parkError, ErrorCodes.PUBLISH_FAILED)) throw parkError;
            held.push(...this.#hold(parkError, [message]));
          }
          break;
        }
      }
    }
    return held;
  }

  /**
   * The table's schema to apply these events with. An event holding a column the schema does not know
   * (a column added on the other side a moment ago) makes the sink wait for the keeper's next schema,
   * which adds the column here; a column still unknown then (dropped here, or one that cannot travel)
   * is not written.
   */
  async #schemaFor(events: readonly { schemaVersion: string; row: { values: Record<string, unknown> } }[]): Promise<TableSchema> {
    const { schemas, table } = this.#options;
    const unknownOf = (schema: TableSchema) => {
      const known = new Set(schema.columns.map((c) => c.name));
      return new Set(
        events.flatMap((e) => (e.schemaVersion === schema.version ? [] : Object.keys(e.row.values).filter((name) => !known.has(name)))),
      );
    };
    if (unknownOf(schemas.schema(table)).size === 0) return schemas.schema(table);
    await schemas.refresh();
    const schema = schemas.schema(table);
    for (const column of unknownOf(schema)) {
      if (this.#unknownWarned.has(column)) continue;
      this.#unknownWarned.add(column);
      this.#log.warn({ code: ErrorCodes.SCHEMA_MISMATCH, column }, 'events carry a column this side does not sync: its values are not written here');
    }
    return schema;
  }

  readonly #unknownWarned = new Set<string>();

  /**
   * Applies one batch in one transaction with its offsets. With `forcePoison`, every message of the
   * batch is parked with that reason and only the offsets move.
   */
  async applyMessages(batch: Message[], forcePoison?: { reason: string; code: string }): Promise<ApplyResult> {
    const { store, metrics, policy, consumerGroup } = this.#options;
    const started = performance.now();
    const logId = this.#logId;
    const topic = this.#topic;
    // Decoding needs no lock: done before the transaction.
    metrics.kafkaMessagesReceived.inc({ topic }, batch.length);
    const decoded = batch.map((message) => {
      const result = this.#decodedAhead.get(message) ?? decodeMessage(message, this.#options.table);
      if (forcePoison) {
        return { message, result: { kind: 'poison' as const, ...forcePoison }, event: result.kind === 'event' ? result.event : null };
      }
      return { message, result, event: result.kind === 'event' ? result.event : null };
    });
    const schema = await this.#schemaFor(decoded.flatMap((d) => (d.event ? [d.event] : [])));
    for (const d of decoded) {
      if (d.result.kind === 'event') {
        const event = d.result.event;
        const values = knownValues(schema, event.row.values);
        d.result = { kind: 'event', event: { ...event, row: { ...event.row, values } } };
        d.event = d.result.event;
      }
    }
    metrics.consumed.inc({ store: store.name }, batch.length);
    const partitions = [...new Set(batch.map((m) => m.partition))];
    const ids = [...new Set(decoded.flatMap((d) => (d.event ? [d.event.row.id] : [])))];
    const unique = uniqueRequest(
      schema,
      decoded.flatMap((d) => (d.event ? [d.event] : [])),
    );

    const outcome = await store.apply.transaction(async (tx) => {
      const state = await tx.readState({ table: schema.table.name, ids, unique, offsets: { consumerGroup, topic, partitions } });
      const problem = offsetProblem(logId, this.#applied, state.offsets, partitions);
      if (problem) throw new EmpsyncError(problem.code, problem.reason);
      const floor = new Map(state.offsets.map((o) => [o.partition, o.nextOffset]));
      const fresh = decoded.filter((d) => d.message.offset >= (floor.get(d.message.partition) ?? 0n));
      const poison: PoisonMessage[] = [];
      const events: PositionedEvent[] = [];
      for (const { message, result, event } of fresh) {
        if (result.kind === 'poison') poison.push({ message, code: result.code, reason: result.reason, event });
        else if (result.kind === 'event') events.push({ event: result.event, partition: message.partition, offset: message.offset });
      }
      // The DLQ first: offsets never pass an event that is neither applied nor parked.
      if (poison.length) await this.#dlq.publish(poison, logId);
      const next = new Map<number, bigint>();
      for (const message of batch) {
        if (message.offset + 1n > (next.get(message.partition) ?? -1n)) next.set(message.partition, message.offset + 1n);
      }
      const offsets: PartitionOffset[] = [...next].map(([partition, nextOffset]) => ({ topic, partition, nextOffset }));
      const result = planBatch({
        schema,
        target: store.name,
        policy,
        consumerGroup,
        events,
        offsets,
        logId,
        current: state,
        deadLetters: poison.map((p) => sinkDeadLetter(p, logId, schema.table.name)),
      });
      await tx.write(result.plan);
      return { ...result, next, alreadyApplied: decoded.length - fresh.length, poison, events };
    });
    failpoint('sink.after-apply');
    for (const [partition, next] of outcome.next) {
      if (next > (this.#applied.get(partition) ?? -1n)) this.#applied.set(partition, next);
    }
    for (const message of batch) this.#uncommitted.set(message.partition, message);

    const { plan, stats, poison, events, alreadyApplied } = outcome;
    const now = Date.now();
    const written = new Map<number, string>([
      ...plan.upserts.map((r) => [r.id, `${r.version}/${r.origin}`] as const),
      ...plan.deletes.map((d) => [d.id, `${d.version}/${d.origin}`] as const),
    ]);
    const appliedByOp = new Map<string, number>();
    const lag = metrics.endToEndLag.labels({ store: store.name });
    const lagSeconds = new Map<string, number>();
    for (const { event } of events) {
      // Counted once per written row: the event whose version was written.
      if (written.get(event.row.id) !== `${event.row.version}/${event.row.origin}`) continue;
      written.delete(event.row.id);
      appliedByOp.set(event.op, (appliedByOp.get(event.op) ?? 0) + 1);
      // Events of one transaction (or one snapshot chunk) share their commit time: parsed once.
      let committed = lagSeconds.get(event.committedAt);
      if (committed === undefined) lagSeconds.set(event.committedAt, (committed = Date.parse(event.committedAt)));
      lag.observe(Math.max(0, now - committed) / 1000);
    }
    for (const [op, count] of appliedByOp) metrics.applied.inc({ store: store.name, op }, count);
    for (const conflict of plan.conflicts) {
      metrics.conflicts.inc({ store: store.name, kind: conflict.kind, outcome: conflict.outcome });
    }
    for (const { code, reason, message } of poison) {
      metrics.deadLettered.inc({ store: store.name, reason: code });
      this.#log.warn(
        { code, partition: message.partition, offset: message.offset.toString(), reason },
        'event parked (sync_dead_letters and the DLQ topic)',
      );
    }
    if (stats.stale) metrics.skipped.inc({ store: store.name, reason: 'stale' }, stats.stale);
    if (stats.ownOrigin) metrics.skipped.inc({ store: store.name, reason: 'own-origin' }, stats.ownOrigin);
    if (stats.superseded) metrics.skipped.inc({ store: store.name, reason: 'superseded' }, stats.superseded);
    if (alreadyApplied) metrics.skipped.inc({ store: store.name, reason: 'already-applied' }, alreadyApplied);
    metrics.sinkBatchSize.observe({ store: store.name }, batch.length);
    metrics.sinkBatchDuration.observe({ store: store.name }, (performance.now() - started) / 1000);
    metrics.lastAppliedTimestamp.set({ store: store.name }, now / 1000);
    return {
      applied: plan.upserts.length + plan.deletes.length,
      stale: stats.stale,
      ownOrigin: stats.ownOrigin,
      alreadyApplied,
      deadLettered: poison.length,
    };
  }

  /**
   * Kafka's committed offsets trail the database's, which decide what is applied: they only serve the
   * lag metric and Kafka's own tools. So they are sent every `kafkaCommitIntervalMs`, one request for
   * all partitions, not after every batch.
   */
  #flushKafkaCommits(): void {
    const messages = [...this.#uncommitted.values()];
    this.#uncommitted.clear();
    for (const message of messages) Promise.resolve(message.commit()).catch(() => undefined);
  }
}

/** The log's identity (`clusterId/topicId`, from fresh metadata) and the bounds of each partition. */
async function readLog(consumer: Consumer, topic: string): Promise<{ logId: string; bounds: PartitionBounds[] }> {
  const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true });
  const current = metadata.topics.get(topic);
  if (!current) {
    throw new EmpsyncError(ErrorCodes.DEPENDENCY_UNAVAILABLE, `topic ${topic} is missing`, { details: { dependency: 'kafka' } });
  }
  const [earliest, latest] = await Promise.all([
    consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.EARLIEST }),
    consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.LATEST }),
  ]);
  const starts = earliest.get(topic) ?? [];
  const ends = latest.get(topic) ?? [];
  const bounds = Array.from({ length: current.partitionsCount }, (_, partition) => ({
    earliest: starts[partition] ?? 0n,
    latest: ends[partition] ?? 0n,
  }));
  return { logId: `${metadata.id}/${current.id}`, bounds };
}

/**
 * Whether the database's offsets still agree with what the sink read and applied: each of the log it
 * reads, never below what it applied. `partitions` limits the check (a transaction checks its own).
 */
export function offsetProblem(
  logId: string,
  applied: ReadonlyMap<number, bigint>,
  stored: readonly { partition: number; nextOffset: bigint; logId: string }[],
  partitions: readonly number[] = [...new Set([...applied.keys(), ...stored.map((o) => o.partition)])],
): { code: typeof ErrorCodes.LOG_CHANGED | typeof ErrorCodes.OFFSETS_REWOUND; reason: string } | null {
  const byPartition = new Map(stored.map((o) => [o.partition, o]));
  for (const partition of partitions) {
    const offset = byPartition.get(partition);
    const known = applied.get(partition);
    if (offset && offset.logId !== logId) {
      return {
        code: ErrorCodes.LOG_CHANGED,
        reason: `partition ${partition}: the database holds an offset of log ${offset.logId}, this sink reads ${logId}`,
      };
    }
    if (known !== undefined && (!offset || offset.nextOffset < known)) {
      return {
        code: ErrorCodes.OFFSETS_REWOUND,
        reason: `partition ${partition}: the database's offset went back from ${known} to ${offset?.nextOffset ?? 'none'} (restored from a dump?)`,
      };
    }
  }
  return null;
}
