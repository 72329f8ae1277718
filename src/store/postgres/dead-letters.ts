// Parking an event in PostgreSQL: an upsert on sync_dead_letters' source key (a record parked again is
// counted again, and parked again if it had been replayed).
import { sql, type Kysely } from 'kysely';
import { deadLetterValues } from '../kysely/dead-letters.ts';
import type { Database } from '../schema.ts';
import type { DeadLetterRecord } from '../types.ts';

export async function upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void> {
  if (records.length === 0) return;
  await trx
    .insertInto('sync_dead_letters')
    .values(records.map(deadLetterValues))
    .onConflict((oc) =>
      oc.column('source_key').doUpdateSet((eb) => ({
        seen_count: sql`sync_dead_letters.seen_count + 1`,
        last_seen_at: sql`now()`,
        code: eb.ref('excluded.code'),
        reason: eb.ref('excluded.reason'),
        status: 'parked',
        resolved_at: null,
      })),
    )
    .execute();
}

