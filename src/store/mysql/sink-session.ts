// MySQL's loop prevention: a session variable the capture triggers read (src/capture/mysql/triggers.ts).
// Writes made under it are neither stamped nor captured — the sink's, and the store's own repairs.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/** Runs `work` on `trx` with the sink's marker set, and clears it after (the pooled session goes back). */
export async function asSink<T>(trx: Kysely<Database>, work: () => Promise<T>): Promise<T> {
  await sql`SET @sync_origin = 'sink'`.execute(trx);
  try {
    return await work();
  } finally {
    await sql`SET @sync_origin = NULL`.execute(trx);
  }
}
