// PostgreSQL's loop prevention: a transaction-local setting the capture triggers read
// (src/capture/postgres/triggers.ts). Writes made under it are neither stamped nor captured — the sink's,
// and the store's own repairs. (The sink sets it in the statement that begins its transaction: apply.ts.)
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/** Runs `work` inside a transaction `trx` with the sink's marker set for the rest of that transaction. */
export async function asSink<T>(trx: Kysely<Database>, work: () => Promise<T>): Promise<T> {
  await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
  try {
    return await work();
  } finally {
    await sql`SELECT set_config('app.sync_origin', '', true)`.execute(trx);
  }
}
