// Replay of an event a sink parked: after a fix (a schema or code change that makes it valid, a
// target table that accepts it again), the parked message is read again exactly as it arrived and
// applied through the version guard in one transaction that also marks it replayed. A newer version
// of the row already in the store wins (the parked event is then superseded); replaying twice changes
// nothing the second time.
import { describeError } from '../errors.ts';
import type { ApplyPort, DeadLetterPort } from '../store/ports.ts';
import type { ReplayOutcome, ReplayResult, StoreName, StoredDeadLetter } from '../store/types.ts';
import type { SchemaSource } from '../tables/table-schema.ts';
import type { ConflictPolicy } from './conflict-policy.ts';
import { decodeMessage } from './decode-message.ts';
import { knownValues, planBatch, uniqueRequest } from './plan-batch.ts';

/** The parked message as it arrived: key, value, headers and timestamp from the dead letter. */
export function parkedMessage(letter: StoredDeadLetter) {
  const headers = new Map<Buffer, Buffer>(
    Object.entries(JSON.parse(letter.source.headers ?? '{}') as Record<string, string>).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]),
  );
  return {
    key: Buffer.from(letter.source.key ?? ''),
    value: Buffer.from(letter.payload, letter.payloadEncoding === 'base64' ? 'base64' : 'utf8'),
    headers,
    timestamp: BigInt(letter.source.timestamp ?? Date.now()),
  };
}

export async function replaySinkDeadLetter(
  store: { name: StoreName; apply: ApplyPort; deadLetters: DeadLetterPort },
  schemas: SchemaSource,
  letter: StoredDeadLetter,
  policy: ConflictPolicy,
): Promise<ReplayResult> {
  const result = (outcome: ReplayOutcome, detail: string): ReplayResult => ({ store: store.name, id: letter.id.toString(), outcome, detail });
  const decoded = decodeMessage(parkedMessage(letter), letter.table);
  if (decoded.kind === 'poison') {
    await store.deadLetters.resolve(letter.id, { replayed: false, error: decoded.reason });
    return result('failed', decoded.reason);
  }
  if (decoded.kind === 'nothing') {
    await store.deadLetters.resolve(letter.id, { replayed: true });
    return result('superseded', 'the message carries no change');
  }
  await schemas.check();
  const schema = schemas.schema(letter.table);
  const event = { ...decoded.event, row: { ...decoded.event.row, values: knownValues(schema, decoded.event.row.values) } };
  try {
    const plan = await store.apply.transaction(async (tx) => {
      const current = await tx.readState({ table: schema.table.name, ids: [event.row.id], unique: uniqueRequest(schema, [event]) });
      const { plan } = planBatch({
        schema,
        target: store.name,
        policy,
        consumerGroup: 'dead-letter-replay',
        events: [{ event, partition: -1, offset: 0n }],
        offsets: [],
        logId: '',
        current,
        replayedDeadLetters: [letter.id],
      });
      await tx.write(plan);
      return plan;
    });
    const written = plan.upserts.length + plan.deletes.length > 0;
    return written
      ? result('applied', `${event.op} of row ${event.row.id} at version ${event.row.version} applied`)
      : result('superseded', `row ${event.row.id} already holds this or a newer version: nothing to apply`);
  } catch (error) {
    const reason = describeError(error);
    await store.deadLetters.resolve(letter.id, { replayed: false, error: reason });
    return result('failed', reason);
  }
}
