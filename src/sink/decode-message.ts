// What a sink reads from one Kafka message: a change event (an envelope, or a tombstone that carries
// a delete's version in its headers), nothing (an old header-less tombstone), or a poison message
// with its reason. Pure: no I/O.
import type { Message } from '@platformatic/kafka';
import { describeError, EmpsyncError, ErrorCodes, isEmpsyncError } from '../errors.ts';
import type { StoreName } from '../store/types.ts';
import { decodeEnvelope, type ChangeEvent } from '../transport/envelope.ts';
import { readHeader, tombstoneHeaders } from '../transport/kafka.ts';

export type DecodedMessage =
  | { kind: 'event'; event: ChangeEvent }
  | { kind: 'nothing' }
  | { kind: 'poison'; code: string; reason: string };

const origins: readonly StoreName[] = ['mysql', 'postgres'];

/** Decodes one message of the topic of `table` (never throws). */
export function decodeMessage(message: Pick<Message, 'key' | 'value' | 'headers' | 'timestamp'>, table: string): DecodedMessage {
  try {
    if (message.value === null || message.value === undefined || message.value.length === 0) {
      const event = decodeTombstone(message, table);
      return event ? { kind: 'event', event } : { kind: 'nothing' };
    }
    const event = decodeEnvelope(message.value);
    if (event.table !== table) {
      throw new EmpsyncError(ErrorCodes.EVENT_INVALID, `event of table ${event.table} on the topic of table ${table}`);
    }
    const key = message.key?.length ? message.key.toString() : null;
    if (key !== null && key !== String(event.row.id)) {
      throw new EmpsyncError(ErrorCodes.EVENT_INVALID, `message key ${key} is not row id ${event.row.id}`);
    }
    return { kind: 'event', event };
  } catch (error) {
    return { kind: 'poison', code: isEmpsyncError(error) ? error.code : ErrorCodes.EVENT_INVALID, reason: describeError(error) };
  }
}

/**
 * A tombstone follows every delete so compaction can forget the key; it repeats the delete's event id,
 * version, base version and origin in headers. Once compaction has removed the delete event itself, the
 * tombstone is all a sink that was behind (or starts from offset 0) sees of the delete.
 */
function decodeTombstone(message: Pick<Message, 'key' | 'headers' | 'timestamp'>, table: string): ChangeEvent | null {
  const version = readHeader(message.headers, tombstoneHeaders.version);
  if (version === undefined) return null; // a tombstone from before tombstones carried their delete
  const origin = readHeader(message.headers, tombstoneHeaders.origin);
  const baseVersion = readHeader(message.headers, tombstoneHeaders.baseVersion) ?? '0';
  const eventId = readHeader(message.headers, tombstoneHeaders.eventId) ?? '';
  const key = message.key?.toString() ?? '';
  const id = Number(key);
  if (!/^-?\d{1,10}$/.test(key) || !Number.isInteger(id) || id < -2147483648 || id > 2147483647) {
    throw new EmpsyncError(ErrorCodes.EVENT_INVALID, `tombstone key ${JSON.stringify(key)} is not a row id`);
  }
  if (!/^\d{1,19}$/.test(version) || !/^\d{1,19}$/.test(baseVersion)) {
    throw new EmpsyncError(ErrorCodes.EVENT_INVALID, 'tombstone version headers are not non-negative integers');
  }
  if (!origins.includes(origin as StoreName)) {
    throw new EmpsyncError(ErrorCodes.EVENT_INVALID, `tombstone origin ${JSON.stringify(origin)} is not mysql or postgres`);
  }
  return {
    eventId,
    table,
    schemaVersion: '',
    op: 'd',
    baseVersion: BigInt(baseVersion),
    committedAt: new Date(Number(message.timestamp)).toISOString().replace('Z', '000Z'),
    row: { id, version: BigInt(version), origin: origin as StoreName, values: {} },
  };
}
