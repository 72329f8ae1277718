// The source of the `employeChanged` subscription: a Kafka consumer of `employes-sync` owned by this API
// process (its own consumer group, starting at the end of the topic), started on the first subscriber.
// Each decoded change is published on an in-process PubSub that every open subscription reads.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import { createPubSub, SlidingBuffer } from 'graphql-yoga';
import { describeError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { EmployeeRow } from '../store/types.ts';
import { employeeFromValues } from '../store/row-format.ts';
import { decodeEnvelope } from '../transport/envelope.ts';
import { baseClientOptions, collectMessages, type KafkaConfig } from '../transport/kafka.ts';

/** A change as subscribers see it. Re-publish events (backfill, full resync) are not changes and are left out. */
export interface EmployeeChange {
  op: 'c' | 'u' | 'd';
  /** The row after the change; for a delete, the row before it. */
  row: EmployeeRow;
  committedAt: string;
  eventId: string;
}

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;

/** How long the first subscriber waits at most for the feed to know its start offsets. */
const positionTimeoutMs = 3000;

/** Events a subscriber may fall behind by before the oldest are dropped (a slow client never stalls the feed). */
export const subscriberBuffer = 1024;

export class EmployeeChangeFeed {
  readonly pubSub = createPubSub<{ employeChanged: [EmployeeChange] }>({
    repeaterBuffer: new SlidingBuffer(subscriberBuffer),
  });
  readonly #kafka: KafkaConfig;
  readonly #log: Logger;
  readonly #closing = new AbortController();
  #started: Promise<void> | null = null;
  #consumer: Consumer | null = null;
  #stream: Stream | null = null;

  constructor(kafka: KafkaConfig, logger: Logger) {
    this.#kafka = kafka;
    this.#log = logger.child({ stage: 'api', feed: 'employeChanged' });
  }

  /** Starts consuming on the first call (later calls share it); resolves once the consumer has joined. */
  start(): Promise<void> {
    if (this.#closing.signal.aborted) return Promise.reject(new Error('the change feed is closed'));
    this.#started ??= this.#connect().catch((error: unknown) => {
      this.#started = null;
      throw error;
    });
    return this.#started;
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await this.#disconnect();
  }

  async #connect(): Promise<void> {
    const consumer = new Consumer({
      ...baseClientOptions(this.#kafka, 'api-subscriptions'),
      // One group per API process: every replica sees every change.
      groupId: `${this.#kafka.KAFKA_CLIENT_ID}-api-subscriptions-${randomUUID()}`,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 15_000,
      maxWaitTime: 100,
      autocommit: false,
      // It reads from the end of the log: small fetches (the default is 50 MB).
      maxBytes: 1024 * 1024,
    });
    this.#consumer = consumer;
    try {
      const stream = await consumer.consume({
        topics: [this.#kafka.KAFKA_TOPIC],
        mode: 'latest',
        autocommit: false,
        maxWaitTime: 100,
      });
      // 'latest' is resolved to offsets after the group join: until then a change could slip by unseen.
      const positioned = once(stream, 'offsets', { signal: AbortSignal.timeout(positionTimeoutMs) }).catch(() => undefined);
      this.#stream = stream;
      stream.on('data', (message: Message) => this.#publish(message));
      stream.on('error', (error) => this.#log.warn({ err: collectMessages(error) }, 'change feed stream error'));
      stream.once('close', () => void this.#reconnect(stream));
      await positioned;
      this.#log.info('change feed consuming');
    } catch (error) {
      await this.#disconnect();
      throw error;
    }
  }

  /** A stream that ends while the feed is open (broker gone, group lost) is replaced, with backoff. */
  async #reconnect(ended: Stream): Promise<void> {
    if (this.#closing.signal.aborted || this.#stream !== ended) return;
    this.#log.warn('change feed stream ended: reconnecting');
    await this.#disconnect();
    for (let attempt = 0; !this.#closing.signal.aborted; attempt++) {
      await sleep(Math.min(250 * 2 ** attempt, 5000), undefined, { signal: this.#closing.signal }).catch(() => undefined);
      if (this.#closing.signal.aborted) return;
      try {
        await this.#connect();
        return;
      } catch (error) {
        this.#log.warn({ err: collectMessages(error) }, 'change feed cannot connect to Kafka yet');
      }
    }
  }

  #publish(message: Message): void {
    if (message.value === null || message.value === undefined || message.value.length === 0) return; // tombstone
    try {
      const event = decodeEnvelope(message.value);
      // Re-publishes are not changes; a delete re-published from a tombstone (after a log change) has no row to show.
      const row = event.op === 'r' ? null : employeeFromValues(event.row);
      if (event.op === 'r' || row === null) return;
      this.pubSub.publish('employeChanged', {
        op: event.op,
        row,
        committedAt: event.committedAt,
        eventId: event.eventId,
      });
    } catch (error) {
      // The sinks park poison events in the DLQ; the feed only skips them.
      this.#log.debug({ err: describeError(error) }, 'change feed skipped an undecodable event');
    }
  }

  async #disconnect(): Promise<void> {
    const stream = this.#stream;
    const consumer = this.#consumer;
    this.#stream = null;
    this.#consumer = null;
    await stream?.close().catch(() => undefined);
    await consumer?.close(true).catch(() => undefined);
  }
}
