// The sink's locking read in PostgreSQL looks every id, tombstone and unique value up through the
// table's index whatever the planner's statistics say. A table never analysed (a snapshot into an empty
// table, autovacuum off or not yet run) or full of tombstones (a TRUNCATE) was read whole for every
// batch by `= ANY(array)`: the email holders of a 2,000-row batch by a sequential scan. Counted from
// PostgreSQL's own statistics: the read adds index scans and no sequential scan.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { startRole, type RunningRole } from '../../../src/roles/roles.ts';
import type { Database } from '../../../src/store/schema.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../../support/test-env.ts';

const config = testConfig('locking_read_plan');
let running: RunningRole;

/** What the session scanned and has not reported yet, by table: scans, and rows read (by sequential scans, or fetched by index and bitmap scans). */
async function scansOfThisTransaction(session: Kysely<Database>): Promise<Map<string, { seq: number; idx: number; rowsRead: number }>> {
  const { rows } = await sql<{ relname: string; seq_scan: string; idx_scan: string | null; rows_read: string }>`
    SELECT relname, seq_scan::text, idx_scan::text, (seq_tup_read + coalesce(idx_tup_fetch, 0))::text AS rows_read
      FROM pg_stat_xact_user_tables WHERE relname IN ('employes', 'sync_tombstones')`.execute(session);
  return new Map(rows.map((r) => [r.relname, { seq: Number(r.seq_scan), idx: Number(r.idx_scan ?? 0), rowsRead: Number(r.rows_read) }]));
}

describe('PostgreSQL sink locking read', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('migrate', { config, logger: quietLogger(config) });
    const db = running.stores.postgres.db;
    await db.connection().execute(async (session) => {
      // As the sink writes (no capture), and never analysed: 20,000 rows and 20,000 tombstones of other ids.
      await sql`SELECT set_config('app.sync_origin', 'sink', false)`.execute(session);
      await sql`INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, sync_version, sync_origin)
                SELECT g, 'N' || g, 'P' || g, 'user' || g || '@example.com', 'Dev', 1000, 'D' || (g % 10), 1, 'mysql'
                  FROM generate_series(1, 20000) AS g`.execute(session);
      await sql`INSERT INTO sync_tombstones (table_name, id, version, origin)
                SELECT 'employes', g, 1, 'mysql' FROM generate_series(100001, 120000) AS g`.execute(session);
      await sql`SELECT set_config('app.sync_origin', '', false)`.execute(session);
    });
  });
  after(async () => running?.stop());

  it('probes the indexes for 2,000 ids and unique values, never reading a table whole nor a row twice', async () => {
    const ids = Array.from({ length: 2000 }, (_, i) => 5001 + i);
    const others = Array.from({ length: 50 }, (_, i) => 101 + i);
    const nobody = Array.from({ length: 50 }, (_, i) => 50001 + i);
    const { state, scans } = await running.stores.postgres.apply.transaction(async (tx) => {
      // The transaction's own session (the store's, not part of the port): its statistics count only the read.
      const session = (tx as unknown as { trx: Kysely<Database> }).trx;
      // The session's counts not yet reported (earlier transactions of the pooled connection) come first.
      const before = await scansOfThisTransaction(session);
      const state = await tx.readState({
        table: 'employes',
        ids,
        // Each row's own email, the emails of 50 rows outside the batch, and 50 emails nobody holds.
        unique: [{ column: 'email', values: [...ids, ...others, ...nobody].map((id) => `user${id}@example.com`) }],
      });
      const after = await scansOfThisTransaction(session);
      const scans = new Map(
        [...after].map(([table, a]) => {
          const b = before.get(table) ?? { seq: 0, idx: 0, rowsRead: 0 };
          return [table, { seq: a.seq - b.seq, idx: a.idx - b.idx, rowsRead: a.rowsRead - b.rowsRead }] as const;
        }),
      );
      return { state, scans };
    });
    assert.equal(state.rows.length, 2000);
    assert.deepEqual(
      state.uniqueHolders.map((h) => h.id).sort((a, b) => a - b),
      [...others, ...ids],
    );
    for (const holder of state.uniqueHolders) assert.equal(holder.value, `user${holder.id}@example.com`);
    assert.equal(state.tombstones.length, 0);
    for (const table of ['employes', 'sync_tombstones']) {
      assert.equal(scans.get(table)?.seq ?? 0, 0, `no sequential scan of ${table}: ${JSON.stringify([...scans])}`);
      assert.ok((scans.get(table)?.idx ?? 0) > 0, `${table} looked up through its index`);
    }
    // Each of the 2,000 rows is fetched once: the holder of its own email is the row itself, not looked
    // up again; the 50 other holders are fetched through the email index. No tombstone matches, so none
    // is read (a plan filtering every tombstone of the table read all 20,000).
    assert.equal(scans.get('employes')!.rowsRead, 2050, 'employes: the rows, then only the holders outside the batch');
    assert.equal(scans.get('sync_tombstones')!.rowsRead, 0, 'sync_tombstones: none read');
  });
});
