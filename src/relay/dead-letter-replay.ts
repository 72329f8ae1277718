// Replay of a change the relay parked (a value the other engine cannot store): once the row is
// fixed — or empsync learned to carry the value — the row is re-published as it is now (op 'r',
// through the outbox), so the other side gets the current row through its version guard. A row
// that still cannot be carried is parked again by the relay, with its reason.
import type { DeadLetterPort, OutboxPort } from '../store/ports.ts';
import type { ReplayResult, StoreName, StoredDeadLetter } from '../store/types.ts';
import type { SchemaSource } from '../tables/table-schema.ts';

export async function replayRelayDeadLetter(
  store: { name: StoreName; outbox: OutboxPort; deadLetters: DeadLetterPort },
  schemas: SchemaSource,
  letter: StoredDeadLetter,
): Promise<ReplayResult> {
  const result = (outcome: ReplayResult['outcome'], detail: string): ReplayResult => ({ store: store.name, id: letter.id.toString(), outcome, detail });
  const requeued = letter.employeId === null ? 0 : await store.outbox.republish(schemas.schema(letter.table), [letter.employeId]);
  await store.deadLetters.resolve(letter.id, { replayed: true });
  return requeued
    ? result('requeued', `${letter.table} row ${letter.employeId} re-published as it is now`)
    : result('gone', `${letter.table} row ${letter.employeId} no longer exists: its delete was carried`);
}
