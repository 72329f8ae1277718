// Relay: moves captured changes from a store's outbox to Kafka. One active relay per store (a
// session lock in the store); others stand by and take over when it dies. Publishes with the
// idempotent producer, key = employee id, in outbox order, then deletes what Kafka acknowledged:
// a crash in between republishes (a duplicate the sink's version guard ignores), never loses.
import { setTimeout as sleep } from 'node:timers/promises';
import { ProduceAcks, Producer, type MessageToProduce } from '@platformatic/kafka';
import { describeError } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { RelayLease, Store } from '../store/store.ts';
import type { OutboxRow } from '../store/types.ts';
import { encodeEnvelope } from '../transport/envelope.ts';
import { baseClientOptions, bufferHeaders, collectMessages, type KafkaConfig } from '../transport/kafka.ts';

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
}

export class Relay {
  readonly #options: RelayOptions;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  #producer: Producer | null = null;
  #loop: Promise<void> | null = null;
  #active = false;

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
    while (!signal.aborted && !lost) {
      let rows: OutboxRow[];
      try {
        rows = await store.readOutbox(batchSize);
      } catch (error) {
        this.#log.warn({ err: describeError(error) }, 'outbox read failed');
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
        this.#log.warn({ err: collectMessages(error), backlog: rows.length }, 'publish failed: retrying with backoff');
        await this.#resetProducer();
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
      // A delete is followed by a tombstone, so compaction drops the key and a replay ends without it.
      if (row.op === 'd') messages.push({ topic, key, value: null as unknown as Buffer });
    }
    await this.#getProducer().send({ messages });
    this.#options.metrics.kafkaMessagesSent.inc({ topic }, messages.length);
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

function backoff(failures: number): number {
  const base = Math.min(100 * 2 ** Math.min(failures, 6), 5000);
  return base / 2 + Math.random() * (base / 2);
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
