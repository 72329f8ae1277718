// Parking a poison event: its record for the store's sync_dead_letters (written in the same
// transaction as the offsets that pass it) and its copy on the table's DLQ topic (`employes-sync.dlq`,
// `<topic>.dlq`), with the reason in headers. A DLQ topic that is missing is created again (it is empsync's own); a publish
// that still fails throws EMPSYNC_PUBLISH_FAILED, and the sink holds that partition and retries.
import { Producer, type Message } from '@platformatic/kafka';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { DeadLetterRecord, StoreName } from '../store/types.ts';
import type { ChangeEvent } from '../transport/envelope.ts';
import { baseClientOptions, bufferHeaders, collectMessages, deadLetterTopic, ensureTopics, type KafkaConfig } from '../transport/kafka.ts';

export interface PoisonMessage {
  message: Message;
  code: string;
  reason: string;
  /** What could be read of it (a delete whose row the target rejected, say); null when nothing could. */
  event: ChangeEvent | null;
}

/** Text as is when the bytes are UTF-8, base64 otherwise: the payload is kept exactly. */
function payloadOf(value: Buffer | null | undefined): Pick<DeadLetterRecord, 'payload' | 'payloadEncoding'> {
  const bytes = value ?? Buffer.alloc(0);
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes)
    ? { payload: text, payloadEncoding: 'utf8' }
    : { payload: bytes.toString('base64'), payloadEncoding: 'base64' };
}

/** The sync_dead_letters record of a poison message of the change topic. */
export function sinkDeadLetter(poison: PoisonMessage, logId: string, table: string): DeadLetterRecord {
  const { message, event } = poison;
  const headers = Object.fromEntries([...(message.headers ?? new Map())].map(([k, v]) => [k.toString(), v.toString()]));
  const keyId = Number(message.key?.toString());
  return {
    stage: 'sink',
    table,
    sourceKey: `${message.topic}:${message.partition}:${message.offset}@${logId}`,
    source: {
      topic: message.topic,
      partition: String(message.partition),
      offset: message.offset.toString(),
      log: logId,
      key: message.key?.toString() ?? '',
      timestamp: message.timestamp.toString(),
      headers: JSON.stringify(headers),
    },
    code: poison.code,
    reason: poison.reason,
    eventId: event?.eventId ?? null,
    employeId: event?.row.id ?? (Number.isInteger(keyId) ? keyId : null),
    op: event?.op ?? null,
    version: event?.row.version ?? null,
    origin: event?.row.origin ?? null,
    ...payloadOf(message.value),
  };
}

export class DeadLetterQueue {
  readonly #kafka: KafkaConfig;
  /** The change topic whose poison events this queue parks. */
  readonly #topic: string;
  readonly #store: StoreName;
  readonly #log: Logger;
  #producer: Producer | null = null;

  constructor(kafka: KafkaConfig, topic: string, store: StoreName, logger: Logger) {
    this.#kafka = kafka;
    this.#topic = topic;
    this.#store = store;
    this.#log = logger;
  }

  /** Publishes the poison messages to the DLQ topic; throws EMPSYNC_PUBLISH_FAILED when Kafka does not take them. */
  async publish(poison: PoisonMessage[], logId: string): Promise<void> {
    const messages = poison.map(({ message, reason, code }) => ({
      topic: deadLetterTopic(this.#topic, this.#kafka),
      key: message.key ?? undefined,
      value: message.value ?? Buffer.alloc(0),
      headers: bufferHeaders({
        'empsync-error-code': code,
        'empsync-error-reason': reason.slice(0, 2000),
        'empsync-source-topic': message.topic,
        'empsync-source-partition': String(message.partition),
        'empsync-source-offset': message.offset.toString(),
        'empsync-source-log': logId,
        'empsync-sink-store': this.#store,
      }),
    }));
    try {
      await this.#getProducer().send({ messages });
    } catch (error) {
      await this.#reset();
      const reason = collectMessages(error);
      if (/unknown topic|UNKNOWN_TOPIC|does not host this topic/i.test(reason)) {
        // The DLQ topic is gone (deleted by hand, a new cluster): create it again; the caller retries.
        this.#log.warn({ code: ErrorCodes.PUBLISH_FAILED, topic: deadLetterTopic(this.#topic, this.#kafka) }, 'DLQ topic missing: creating it');
        await ensureTopics(this.#kafka, [this.#topic]).catch(() => undefined);
      }
      throw new EmpsyncError(ErrorCodes.PUBLISH_FAILED, `DLQ publish failed: ${reason}`, {
        cause: error,
        details: { partitions: [...new Set(poison.map((p) => p.message.partition))] },
      });
    }
  }

  async close(): Promise<void> {
    await this.#reset();
  }

  #getProducer(): Producer {
    this.#producer ??= new Producer({
      ...baseClientOptions(this.#kafka, `sink-${this.#store}-dlq`),
      idempotent: true,
    });
    return this.#producer;
  }

  async #reset(): Promise<void> {
    const producer = this.#producer;
    this.#producer = null;
    await producer?.close(true).catch(() => undefined);
  }
}
