// Relay: moves captured changes of every synced table from a store's outbox to Kafka, each table to its
// own topic. One active relay per store (a session lock in the store); others stand by and take over
// when it dies. Publishes with the idempotent producer, key = row id, in outbox order, then deletes what
// Kafka acknowledged: a crash in between republishes (a duplicate the sink's version guard ignores),
// never loses. Each event carries the version of the schema its row was captured with; a captured
// column the schema does not know yet makes the relay wait for the schema keeper's next schema.
// A row holding a value the other engine cannot store is parked in the store's sync_dead_letters
// with its reason, and the relay goes on: one row never stalls it. The relay remembers the log each
// topic lives in (cluster id / topic id); when that log is replaced (an empty broker, a recreated
// topic), events published to the old one may never have been read, so it re-publishes the table —
// every row, every tombstone — into the new log. The leader also runs the store's snapshots (backfills,
// re-publishes, resyncs: src/relay/snapshot.ts), reading the table beside the outbox stream.
import { setTimeout as sleep } from 'node:timers/promises';
import { ProduceAcks, Producer, type MessageToProduce } from '@platformatic/kafka';
import { describeError, ErrorCodes } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { OutboxPort, ReconcilePort, RelayLease, SnapshotRun } from '../store/ports.ts';
import type { CapturedChange, DeadLetterRecord, StoreName } from '../store/types.ts';
import { rowSchemaVersion, type SchemaSource } from '../tables/table-schema.ts';
import { encodeEnvelope, toEnvelope } from '../transport/envelope.ts';
import {
  baseClientOptions,
  bufferHeaders,
  collectMessages,
  ensureTopics,
  tombstoneHeaders,
  type KafkaConfig,
} from '../transport/kafka.ts';
import { carryChange, rowsWithin, type CarriedChange } from './captured-change.ts';
import { continueSnapshot } from './snapshot.ts';

/** The backfill run that re-publishes a table into a new log. */
export function logResetRun(table: string): string {
  return `log-reset:${table}`;
}

export interface RelayOptions {
  store: { name: StoreName; outbox: OutboxPort; reconcile: ReconcilePort };
  /** The synced tables' current schemas (the schema keeper). */
  schemas: SchemaSource;
  kafka: KafkaConfig;
  metrics: Metrics;
  logger: Logger;
  batchSize: number;
  /** Longest wait between two outbox reads when nothing woke the relay. */
  pollIntervalMs: number;
  /** How often a standby relay tries to take the lease. */
  standbyIntervalMs?: number;
  /** How often the identity of the log is checked (ms). Default 5000. */
  logCheckIntervalMs?: number;
  /** Rows per chunk of a snapshot (backfill, re-publish into a new log). Default 1000. */
  backfillChunk?: number;
  /** Bytes per chunk of a snapshot, roughly. Default 4 MiB. */
  backfillChunkBytes?: number;
  /** Bytes of captured rows read from the outbox at once, roughly (besides `batchSize` rows). Default 4 MiB. */
  maxBatchBytes?: number;
  /** Bytes per produce request (Kafka refuses a record batch above the broker's message.max.bytes, 1 MiB by default). Default 512 KiB. */
  maxSendBytes?: number;
}

const defaultSendBytes = 512 * 1024;
const defaultBatchBytes = 4 * 1024 * 1024;
/** How often the leader reads the store's snapshot runs for new requests. */
const snapshotCheckIntervalMs = 1000;

export class Relay {
  readonly #options: RelayOptions;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  #producer: Producer | null = null;
  #loop: Promise<void> | null = null;
  #active = false;
  /** When the log's identity was last checked (0: check before the next publish). */
  #logCheckedAt = 0;
  /** When the store's snapshot runs were last read. */
  #snapshotsCheckedAt = 0;
  /** The snapshots running beside the publishing loop, by run. */
  readonly #snapshots = new Map<string, Promise<void>>();
  /** Aborted when this leadership term ends (lease lost, stop): snapshots stop publishing. */
  #term = new AbortController();

  constructor(options: RelayOptions) {
    this.#options = options;
    this.#log = options.logger.child({ stage: 'relay', store: options.store.name });
  }

  get active(): boolean {
    return this.#active;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#term.abort();
    await this.#loop;
    await Promise.all(this.#snapshots.values());
    await this.#producer?.close(true).catch(() => undefined);
    this.#producer = null;
  }

  async #run(): Promise<void> {
    const { store, metrics } = this.#options;
    const signal = this.#stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      let lease: RelayLease | null = null;
      try {
        lease = await store.outbox.acquireLease();
      } catch (error) {
        this.#log.warn({ err: describeError(error) }, 'cannot reach the store to take the relay lease');
      }
      if (!lease) {
        await pause(this.#options.standbyIntervalMs ?? 2000, signal);
        continue;
      }
      this.#active = true;
      metrics.relayActive.set({ store: store.name }, 1);
      this.#log.info('relay lease taken: publishing');
      this.#term = new AbortController();
      try {
        failures = await this.#publishWhileLeader(lease, failures);
      } finally {
        // Snapshots publish only under the lease: they stop before it is released.
        this.#term.abort();
        await Promise.all(this.#snapshots.values());
        this.#active = false;
        metrics.relayActive.set({ store: store.name }, 0);
        await lease.release().catch(() => undefined);
      }
    }
  }

  async #publishWhileLeader(lease: RelayLease, failures: number): Promise<number> {
    const { store } = this.#options;
    let lost = false;
    void lease.lost.then(() => (lost = true));
    this.#logCheckedAt = 0;
    this.#snapshotsCheckedAt = 0;
    void lease.lost.then(() => this.#term.abort());
    // A snapshot requested in this process starts at once; one requested elsewhere at the next log check.
    const stopListening = store.outbox.onSnapshotRequested(() => {
      this.#startSnapshots().catch((error: unknown) => this.#log.warn({ err: describeError(error) }, 'cannot read the snapshot runs'));
    });
    try {
      return await this.#publishLoop(lease, failures, () => lost);
    } finally {
      stopListening();
    }
  }

  async #publishLoop(lease: RelayLease, failures: number, lost: () => boolean): Promise<number> {
    const { store, batchSize, pollIntervalMs, metrics } = this.#options;
    const signal = this.#stopping.signal;
    let idleWait = 1;
    let readLimit = Math.min(batchSize, 100);
    while (!signal.aborted && !lost()) {
      if (Date.now() - this.#logCheckedAt >= (this.#options.logCheckIntervalMs ?? 5000)) {
        try {
          await this.#checkLog();
        } catch (error) {
          // Kafka does not answer: nothing can be published (counted as a failed attempt, as a publish would be).
          metrics.kafkaProducerErrors.inc();
          this.#log.warn({ err: collectMessages(error) }, 'cannot read the log identity yet: retrying');
          await this.#resetProducer();
          await pause(backoff(++failures), signal);
          continue;
        }
      }
      // Snapshots requested by another process (empsync backfill, an API's resync) start within a second.
      if (Date.now() - this.#snapshotsCheckedAt >= snapshotCheckIntervalMs) {
        this.#snapshotsCheckedAt = Date.now();
        await this.#startSnapshots().catch((error: unknown) => this.#log.warn({ err: describeError(error) }, 'cannot read the snapshot runs'));
      }
      let rows: CarriedChange[];
      try {
        const captured = await store.outbox.read(readLimit);
        // The next read is sized on this one's rows: wide rows make smaller batches (bounded in bytes).
        readLimit = rowsWithin(captured, batchSize, this.#options.maxBatchBytes ?? defaultBatchBytes);
        rows = await this.#carry(captured);
      } catch (error) {
        this.#log.warn({ err: describeError(error) }, 'outbox read failed');
        await pause(backoff(++failures), signal);
        continue;
      }
      try {
        rows = await this.#parkUnportable(rows);
      } catch (error) {
        this.#log.warn({ err: describeError(error) }, 'parking rows failed');
        await pause(backoff(++failures), signal);
        continue;
      }
      if (rows.length === 0) {
        // Nothing to do: wait for a wake-up (in-process write, NOTIFY) or poll again, a bit later each time.
        await lease.waitForWork(idleWait);
        idleWait = Math.min(idleWait * 2, pollIntervalMs);
        continue;
      }
      idleWait = 1;
      metrics.captured.inc({ store: store.name }, rows.length);
      try {
        await this.#publish(rows);
      } catch (error) {
        metrics.kafkaProducerErrors.inc();
        failures += 1;
        const reason = collectMessages(error);
        this.#log.warn({ err: reason, backlog: rows.length }, 'publish failed: retrying with backoff');
        await this.#resetProducer();
        // The topic may be gone (deleted by hand, an empty broker): create it again, as `migrate` would.
        if (/unknown topic|UNKNOWN_TOPIC|does not host this topic/i.test(reason)) await ensureTopics(this.#options.kafka, this.#options.schemas.schemas.map((t) => t.table.topic)).catch(() => undefined);
        this.#logCheckedAt = 0;
        await pause(backoff(failures), signal);
        continue;
      }
      failpoint('relay.after-publish');
      try {
        await store.outbox.delete(rows.map((row) => row.change.seq));
      } catch (error) {
        // The events are in Kafka; they will be published again (a harmless duplicate).
        this.#log.warn({ err: describeError(error) }, 'outbox delete failed after publish');
        await pause(backoff(++failures), signal);
        continue;
      }
      failures = 0;
      metrics.publishBatchSize.observe({ store: store.name }, rows.length);
      const byOp = new Map<string, number>();
      for (const row of rows) byOp.set(row.change.op, (byOp.get(row.change.op) ?? 0) + 1);
      for (const [op, count] of byOp) metrics.published.inc({ store: store.name, op }, count);
    }
    return failures;
  }

  /**
   * The captured changes as events, each with its table's current schema. A captured column the schema
   * does not know yet (added a moment ago) makes the relay wait for the keeper's next schema: a column it
   * still does not know then is left out (it cannot travel yet), and the keeper fills its values on the
   * side that lacks them when it joins the sync.
   */
  async #carry(captured: Awaited<ReturnType<OutboxPort['read']>>): Promise<CarriedChange[]> {
    const { schemas } = this.#options;
    let rows = captured.map((c) => carryChange(c, schemas.schema(c.table)));
    if (rows.some((row) => row.unknown.length > 0)) {
      await schemas.refresh();
      rows = captured.map((c) => carryChange(c, schemas.schema(c.table)));
    }
    return rows;
  }

  /**
   * Publishes the rows' events (and a tombstone after each delete) in produce requests of at most
   * `maxSendBytes`, in order — or overlapping when `ordered` is false.
   */
  async #publish(rows: CarriedChange[], { ordered = true } = {}): Promise<void> {
    const { schemas, metrics } = this.#options;
    const messages: MessageToProduce[] = [];
    for (const { change: row, columns } of rows) {
      const schema = schemas.schema(row.table);
      const topic = schema.table.topic;
      const key = Buffer.from(String(row.row.id));
      const version = rowSchemaVersion(schema, columns);
      messages.push({ topic, key, value: encodeEnvelope(row, version), headers: bufferHeaders({ 'empsync-op': row.op }) });
      // A delete is followed by a tombstone, so compaction drops the key and a replay ends without it. The
      // tombstone repeats the delete: once compaction has removed the delete event, it is what a sink sees.
      if (row.op === 'd') {
        messages.push({
          topic,
          key,
          value: null as unknown as Buffer,
          headers: bufferHeaders({
            [tombstoneHeaders.op]: 'd',
            [tombstoneHeaders.eventId]: row.eventId,
            [tombstoneHeaders.version]: row.row.version.toString(),
            [tombstoneHeaders.baseVersion]: row.baseVersion.toString(),
            [tombstoneHeaders.origin]: row.row.origin,
          }),
        });
      }
    }
    const producer = this.#getProducer();
    const requests = bySize(messages, this.#options.maxSendBytes ?? defaultSendBytes);
    if (ordered) for (const request of requests) await producer.send({ messages: request });
    else await Promise.all(requests.map((request) => producer.send({ messages: request })));
    const sent = new Map<string, number>();
    for (const message of messages) sent.set(message.topic, (sent.get(message.topic) ?? 0) + 1);
    for (const [topic, count] of sent) metrics.kafkaMessagesSent.inc({ topic }, count);
  }

  /** Parks the rows the other engine cannot hold (sync_dead_letters, outbox row removed); returns the others. */
  async #parkUnportable(rows: CarriedChange[]): Promise<CarriedChange[]> {
    const { store, metrics, schemas } = this.#options;
    const parked: { seq: bigint | null; deadLetter: DeadLetterRecord }[] = [];
    const carried = rows.filter((row) => {
      if (row.unportable === null) return true;
      const schema = schemas.schema(row.change.table);
      parked.push({ seq: fromSnapshot(row) ? null : row.change.seq, deadLetter: relayDeadLetter(store.name, row, rowSchemaVersion(schema, row.columns)) });
      return false;
    });
    if (parked.length === 0) return rows;
    await store.outbox.park(parked);
    for (const { deadLetter } of parked) {
      metrics.relayParked.inc({ store: store.name, reason: deadLetter.code });
      this.#log.error(
        { code: deadLetter.code, table: deadLetter.table, id: deadLetter.employeId, op: deadLetter.op, reason: deadLetter.reason },
        'change parked: a value the other database cannot store (fix the row; `empsync dlq replay` re-publishes it)',
      );
    }
    return carried;
  }

  /**
   * Compares the log each table's topic lives in now with the one this store last published to. A new
   * log (an empty broker, a recreated topic) may lack events published to the old one and not yet read
   * by the sinks: the table is re-published into it (the sinks' version guard keeps what is newer).
   */
  async #checkLog(): Promise<void> {
    const { store, kafka, metrics, schemas } = this.#options;
    const tables = schemas.schemas.map((s) => s.table);
    const topics = tables.map((t) => t.topic);
    let metadata = await this.#getProducer().metadata({ topics, forceUpdate: true }).catch(() => null);
    if (!metadata || topics.some((topic) => !metadata!.topics.get(topic))) {
      await ensureTopics(kafka, topics);
      await this.#resetProducer();
      metadata = await this.#getProducer().metadata({ topics, forceUpdate: true });
    }
    for (const table of tables) {
      const topic = table.topic;
      const logId = `${metadata.id}/${metadata.topics.get(topic)!.id}`;
      const published = await store.outbox.readPublishedLog(topic);
      if (published === logId) continue;
      if (published === null) {
        await store.outbox.adoptLog(topic, logId, null);
        this.#log.info({ topic, log: logId }, 'publishing to log');
        continue;
      }
      metrics.logResets.inc({ stage: 'relay', store: store.name, reason: 'log-changed' });
      this.#log.warn(
        { code: ErrorCodes.LOG_CHANGED, topic, previousLog: published, log: logId },
        'the topic is a new log (new cluster or recreated topic): re-publishing every row and tombstone of the table into it',
      );
      await store.outbox.adoptLog(topic, logId, { run: logResetRun(table.name), table: table.name });
    }
    this.#logCheckedAt = Date.now();
  }

  /**
   * Starts every unfinished snapshot run of the store not running yet: requested (empsync backfill, the
   * start-up backfill, a resync), queued by a new log, or interrupted by a crash (resumed where it stopped).
   */
  async #startSnapshots(): Promise<void> {
    const { store, schemas } = this.#options;
    const synced = new Set(schemas.schemas.map((s) => s.table.name));
    // A run of a table no longer synced waits (kept, not done) until the table is declared again.
    for (const run of await store.outbox.snapshotRuns()) {
      if (!run.done && synced.has(run.table) && !this.#snapshots.has(run.run)) this.#startSnapshot(run);
    }
  }

  #startSnapshot(run: SnapshotRun): void {
    const { store, schemas, metrics } = this.#options;
    const term = this.#term.signal;
    const labels = { store: store.name, table: run.table };
    const snapshot = (async () => {
      let current = run;
      let failures = 0;
      const timings = { readWait: 0, publish: 0, record: 0 };
      const started = performance.now();
      const publishedBefore = run.published;
      metrics.snapshotRunning.set(labels, 1);
      while (!term.aborted && !current.done) {
        try {
          metrics.snapshotProgress.set({ ...labels, state: 'total' }, current.total ?? 0);
          current = await continueSnapshot(current, {
            outbox: store.outbox,
            schemas,
            chunkRows: this.#options.backfillChunk ?? 1000,
            chunkBytes: this.#options.backfillChunkBytes ?? 4 * 1024 * 1024,
            publish: (rows) => this.#publishSnapshotRows(rows),
            signal: term,
            timings,
            onChunk: (progress, rows) => {
              metrics.snapshotPublished.inc(labels, rows);
              metrics.snapshotProgress.set({ ...labels, state: 'published' }, progress.published);
            },
          });
          failures = 0;
        } catch (error) {
          this.#log.warn({ err: collectMessages(error), run: current.run, table: current.table }, 'snapshot interrupted: resuming from its last recorded chunk');
          await pause(backoff(++failures), term);
          const recorded = await store.outbox.snapshotRuns().catch(() => null);
          current = recorded?.find((r) => r.run === current.run) ?? current;
        }
      }
      if (!current.done) return;
      const seconds = (performance.now() - started) / 1000;
      const rows = current.published - publishedBefore;
      const round = (n: number) => Math.round(n * 1000) / 1000;
      this.#log.info(
        { run: current.run, table: current.table, published: current.published, seconds: round(seconds), rowsPerSecond: Math.round(rows / seconds), waitingForReads: round(timings.readWait), publishing: round(timings.publish), recording: round(timings.record) },
        'snapshot published',
      );
    })()
      .catch((error: unknown) => this.#log.warn({ err: describeError(error), run: run.run }, 'snapshot stopped'))
      .finally(() => {
        metrics.snapshotRunning.set(labels, 0);
        this.#snapshots.delete(run.run);
      });
    this.#snapshots.set(run.run, snapshot);
  }

  /** A snapshot's rows to Kafka: carried like captured changes, unportable ones parked (no outbox row to remove). */
  async #publishSnapshotRows(captured: CapturedChange[]): Promise<void> {
    const rows = await this.#parkUnportable(await this.#carry(captured));
    // Distinct rows, every one a re-publish: their order does not matter, the sends may overlap.
    await this.#publish(rows, { ordered: false });
    this.#options.metrics.published.inc({ store: this.#options.store.name, op: 'r' }, rows.length);
  }

  #getProducer(): Producer {
    this.#producer ??= new Producer({
      ...baseClientOptions(this.#options.kafka, `relay-${this.#options.store.name}`),
      idempotent: true,
      acks: ProduceAcks.ALL,
    });
    return this.#producer;
  }

  async #resetProducer(): Promise<void> {
    const producer = this.#producer;
    this.#producer = null;
    await producer?.close(true).catch(() => undefined);
  }
}

/** A row a snapshot read from its table (seq 0: outbox rows count from 1). */
const fromSnapshot = (row: CarriedChange) => row.change.seq === 0n;

/** Messages in groups of at most `maxBytes` (keys and values); a larger message goes alone. */
function bySize(messages: MessageToProduce[], maxBytes: number): MessageToProduce[][] {
  const groups: MessageToProduce[][] = [];
  let group: MessageToProduce[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = 64 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
    if (group.length && bytes + size > maxBytes) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(message);
    bytes += size;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** The sync_dead_letters record of an outbox row (or a snapshot's row) the relay cannot carry. */
function relayDeadLetter(store: string, carried: CarriedChange, schemaVersion: string): DeadLetterRecord {
  const { change: row, unportable } = carried;
  return {
    stage: 'relay',
    table: row.table,
    // A snapshot read again parks the same row again under one key: counted, not duplicated.
    sourceKey: fromSnapshot(carried) ? `snapshot:${row.table}:${row.row.id}:${row.row.version}` : `outbox:${row.eventId}`,
    source: fromSnapshot(carried) ? { store, readFrom: 'table', capturedAt: row.capturedAt } : { store, outboxSeq: row.seq.toString(), capturedAt: row.capturedAt },
    code: ErrorCodes.VALUE_NOT_PORTABLE,
    reason: unportable ?? '',
    eventId: row.eventId,
    employeId: row.row.id,
    op: row.op,
    version: row.row.version,
    origin: row.row.origin,
    payload: JSON.stringify(toEnvelope(row, schemaVersion)),
    payloadEncoding: 'utf8',
  };
}

function backoff(failures: number): number {
  const base = Math.min(100 * 2 ** Math.min(failures, 6), 5000);
  return base / 2 + Math.random() * (base / 2);
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
