// Relay: moves captured changes from a store's outbox to Kafka. One active relay per store (a
// session lock in the store); others stand by and take over when it dies. Publishes with the
// idempotent producer, key = employee id, in outbox order, then deletes what Kafka acknowledged:
// a crash in between republishes (a duplicate the sink's version guard ignores), never loses.
// A row holding a value the other engine cannot store is parked in the store's sync_dead_letters
// with its reason, and the relay goes on: one row never stalls it. The relay remembers the log it
// publishes to (cluster id / topic id); when that log is replaced (an empty broker, a recreated
// topic), events published to the old one may never have been read, so it re-publishes the whole
// store — every row, every tombstone — into the new log.
import { setTimeout as sleep } from 'node:timers/promises';
import { ProduceAcks, Producer, type MessageToProduce } from '@platformatic/kafka';
import { describeError, ErrorCodes } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { unportableRow } from '../store/portable-values.ts';
import type { RelayLease, Store } from '../store/store.ts';
import type { DeadLetterRecord, OutboxRow } from '../store/types.ts';
import { encodeEnvelope, toEnvelope } from '../transport/envelope.ts';
import {
  baseClientOptions,
  bufferHeaders,
  collectMessages,
  ensureTopics,
  tombstoneHeaders,
  type KafkaConfig,
} from '../transport/kafka.ts';
import { runBackfill } from './backfill.ts';

/** The backfill run that re-publishes a store into a new log. */
export const logResetRun = 'log-reset';

export interface RelayOptions {
  store: Store;
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
  /** Rows per chunk of the re-publish into a new log. Default 5000. */
  backfillChunk?: number;
}

export class Relay {
  readonly #options: RelayOptions;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  #producer: Producer | null = null;
  #loop: Promise<void> | null = null;
  #active = false;
  /** When the log's identity was last checked (0: check before the next publish). */
  #logCheckedAt = 0;
  /** The re-publish into a new log, running beside the publishing loop. */
  #resync: Promise<void> | null = null;

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
    await this.#loop;
    await this.#resync;
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
        lease = await store.acquireRelayLease();
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
      try {
        failures = await this.#publishWhileLeader(lease, failures);
      } finally {
        this.#active = false;
        metrics.relayActive.set({ store: store.name }, 0);
        await lease.release().catch(() => undefined);
      }
    }
  }

  async #publishWhileLeader(lease: RelayLease, failures: number): Promise<number> {
    const { store, batchSize, pollIntervalMs, metrics } = this.#options;
    const signal = this.#stopping.signal;
    let lost = false;
    void lease.lost.then(() => (lost = true));
    let idleWait = 1;
    this.#logCheckedAt = 0;
    this.#resumeResync();
    while (!signal.aborted && !lost) {
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
      let rows: OutboxRow[];
      try {
        rows = await store.readOutbox(batchSize);
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
        if (/unknown topic|UNKNOWN_TOPIC|does not host this topic/i.test(reason)) await ensureTopics(this.#options.kafka).catch(() => undefined);
        this.#logCheckedAt = 0;
        await pause(backoff(failures), signal);
        continue;
      }
      failpoint('relay.after-publish');
      try {
        await store.deleteOutbox(rows.map((row) => row.seq));
      } catch (error) {
        // The events are in Kafka; they will be published again (a harmless duplicate).
        this.#log.warn({ err: describeError(error) }, 'outbox delete failed after publish');
        await pause(backoff(++failures), signal);
        continue;
      }
      failures = 0;
      metrics.publishBatchSize.observe({ store: store.name }, rows.length);
      for (const row of rows) metrics.published.inc({ store: store.name, op: row.op });
    }
    return failures;
  }

  async #publish(rows: OutboxRow[]): Promise<void> {
    const topic = this.#options.kafka.KAFKA_TOPIC;
    const messages: MessageToProduce[] = [];
    for (const row of rows) {
      const key = Buffer.from(String(row.row.id));
      messages.push({ topic, key, value: encodeEnvelope(row), headers: bufferHeaders({ 'empsync-op': row.op }) });
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
    await this.#getProducer().send({ messages });
    this.#options.metrics.kafkaMessagesSent.inc({ topic }, messages.length);
  }

  /** Parks the rows the other engine cannot hold (sync_dead_letters, outbox row removed); returns the others. */
  async #parkUnportable(rows: OutboxRow[]): Promise<OutboxRow[]> {
    const { store, metrics } = this.#options;
    const parked: { seq: bigint; deadLetter: DeadLetterRecord }[] = [];
    const carried = rows.filter((row) => {
      const reason = unportableRow(row.op, row.row);
      if (reason === null) return true;
      parked.push({ seq: row.seq, deadLetter: relayDeadLetter(store.name, row, reason) });
      return false;
    });
    if (parked.length === 0) return rows;
    await store.parkOutboxRows(parked);
    for (const { deadLetter } of parked) {
      metrics.relayParked.inc({ store: store.name, reason: deadLetter.code });
      this.#log.error(
        { code: deadLetter.code, id: deadLetter.employeId, op: deadLetter.op, reason: deadLetter.reason },
        'change parked: a value the other database cannot store (fix the row; `empsync dlq replay` re-publishes it)',
      );
    }
    return carried;
  }

  /**
   * Compares the log the topic lives in now with the one this store last published to. A new log (an
   * empty broker, a recreated topic) may lack events published to the old one and not yet read by the
   * sinks: the whole store is re-published into it (the sinks' version guard keeps what is newer).
   */
  async #checkLog(): Promise<void> {
    const { store, kafka, metrics } = this.#options;
    const topic = kafka.KAFKA_TOPIC;
    let metadata = await this.#getProducer().metadata({ topics: [topic], forceUpdate: true }).catch(() => null);
    if (!metadata?.topics.get(topic)) {
      await ensureTopics(kafka);
      await this.#resetProducer();
      metadata = await this.#getProducer().metadata({ topics: [topic], forceUpdate: true });
    }
    const logId = `${metadata.id}/${metadata.topics.get(topic)!.id}`;
    const published = await store.readPublishedLog(topic);
    this.#logCheckedAt = Date.now();
    if (published === logId) return;
    if (published === null) {
      await store.adoptLog(topic, logId, null);
      this.#log.info({ log: logId }, 'publishing to log');
      return;
    }
    metrics.logResets.inc({ stage: 'relay', store: store.name, reason: 'log-changed' });
    this.#log.warn(
      { code: ErrorCodes.LOG_CHANGED, previousLog: published, log: logId },
      'the topic is a new log (new cluster or recreated topic): re-publishing every row and tombstone of the store into it',
    );
    await store.adoptLog(topic, logId, logResetRun);
    this.#startResync();
  }

  /** After a crash during a re-publish into a new log, the next leader finishes it. */
  #resumeResync(): void {
    this.#options.store
      .unfinishedBackfill(logResetRun)
      .then((unfinished) => {
        if (unfinished) this.#startResync();
      })
      .catch((error: unknown) => this.#log.warn({ err: describeError(error) }, 'cannot read the re-publish state'));
  }

  #startResync(): void {
    if (this.#resync) return;
    const { store } = this.#options;
    this.#resync = runBackfill(store, { run: logResetRun, resume: true, chunk: this.#options.backfillChunk ?? 5000 })
      .then((report) => this.#log.info(report, 'store re-published into the new log'))
      .catch((error: unknown) => this.#log.warn({ err: describeError(error) }, 're-publish interrupted: resumed by the next check'))
      .finally(() => {
        this.#resync = null;
      });
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

/** The sync_dead_letters record of an outbox row the relay cannot carry. */
function relayDeadLetter(store: string, row: OutboxRow, reason: string): DeadLetterRecord {
  return {
    stage: 'relay',
    sourceKey: `outbox:${row.eventId}`,
    source: { store, outboxSeq: row.seq.toString(), capturedAt: row.capturedAt },
    code: ErrorCodes.VALUE_NOT_PORTABLE,
    reason,
    eventId: row.eventId,
    employeId: row.row.id,
    op: row.op,
    version: row.row.version,
    origin: row.row.origin,
    payload: JSON.stringify(toEnvelope(row)),
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
