// The MySQL sink's locking read takes its locks in the order an application's DELETE takes them: rows
// through the primary key first, then the unique index's entries, then sync_tombstones. A DELETE locks
// its row, then its index entries, then its capture trigger inserts the row's tombstone. The read used
// to lock a unique value's entry before its row, and to hold gap locks on sync_tombstones while it
// waited for a row: each made the two wait for each other, and InnoDB rolled the application back with
// error 1213 (seen in the pipeline test, session 11). Each order is reproduced here step by step, with
// no retry: the application's transaction holds the row first, the sink's read waits for it, then the
// application deletes the row and commits. (information_schema.INNODB_LOCK_WAITS is MariaDB's; MySQL 8
// moved it to performance_schema.data_lock_waits.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { startRole, type RunningRole } from '../../../src/roles/roles.ts';
import type { Database } from '../../../src/store/schema.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../../support/test-env.ts';

const config = testConfig('mysql_apply');
let running: RunningRole;

/** The application takes the holder's row (as its transaction's earlier statement does), the sink reads, the application deletes the row. */
async function deleteWhileTheSinkWaits(
  email: string,
  holdRow: (application: Kysely<Database>, id: number) => Promise<unknown>,
  otherValues: string[] = [],
) {
  const { mysql } = running.stores;
  const input = { nom: 'N', prenom: 'P', poste: 'Dev', salaire: '1.00', department: 'IT' };
  const incoming = await mysql.employees.insert({ ...input, email: `incoming.${email}` });
  const holder = await mysql.employees.insert({ ...input, email });
  await mysql.db.connection().execute(async (application) => {
    try {
      await sql`START TRANSACTION`.execute(application);
      await holdRow(application, holder.id);
      const { rows } = await sql<{ trx: string }>`
        SELECT trx_id AS trx FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()`.execute(
        application,
      );
      // The sink reads a batch whose incoming row takes the holder's email: its read waits for that row…
      const read = mysql.apply.transaction((tx) =>
        tx.readState({
          table: 'employes',
          ids: [incoming.id],
          unique: [{ column: 'email', values: [email, ...otherValues] }],
        }),
      );
      read.catch(() => undefined); // awaited below
      await waitFor('the sink read waiting for the application', async () => {
        const waits = await sql<{ n: number }>`
          SELECT COUNT(*) AS n FROM information_schema.INNODB_LOCK_WAITS WHERE blocking_trx_id = ${rows[0]!.trx}`.execute(
          mysql.db,
        );
        return Number(waits.rows[0]!.n) > 0;
      });
      // …and the application deletes it (its trigger writes the tombstone): neither may wait for the other.
      await sql`DELETE FROM employes WHERE id = ${holder.id}`.execute(application);
      await sql`COMMIT`.execute(application);
      const state = await read;
      assert.deepEqual(state.uniqueHolders, [], 'the holder is gone once the delete committed');
      assert.deepEqual(
        state.rows.map((r) => r.id),
        [incoming.id],
        'only the batch rows are rows of the state',
      );
    } finally {
      await sql`ROLLBACK`.execute(application); // after a failure: the row's lock goes with the transaction
    }
  });
  const tombstones = await sql<{
    n: number;
  }>`SELECT COUNT(*) AS n FROM sync_tombstones WHERE table_name = 'employes' AND id = ${holder.id}`.execute(
    mysql.db,
  );
  assert.equal(Number(tombstones.rows[0]!.n), 1, 'the delete left its tombstone');
}

describe('MySQL sink locking read: the lock order of an application DELETE', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('migrate', { config, logger: quietLogger(config) });
  });
  after(async () => running?.stop());

  it('a row held through its primary key: the read never holds its unique entry while waiting for it', async () => {
    await deleteWhileTheSinkWaits('by.id@x', (application, id) =>
      sql`SELECT id FROM employes WHERE id = ${id} FOR UPDATE`.execute(application),
    );
  });

  it('a row held through its unique entry: the read holds no gap of sync_tombstones while waiting for it', async () => {
    // Two values: the holders' read is a range, run after the single tombstone's key was read.
    await deleteWhileTheSinkWaits(
      'by.email@x',
      (application) =>
        sql`SELECT id FROM employes WHERE email = 'by.email@x' FOR UPDATE`.execute(application),
      ['nobody@x'],
    );
  });

  it('the holders of unique values are still read and locked', async () => {
    const { mysql } = running.stores;
    const holder = await mysql.employees.insert({
      nom: 'N',
      prenom: 'P',
      poste: 'Dev',
      salaire: '1.00',
      department: 'IT',
      email: 'kept@x',
    });
    const state = await mysql.apply.transaction((tx) =>
      tx.readState({
        table: 'employes',
        ids: [holder.id + 1000],
        unique: [{ column: 'email', values: ['kept@x', 'nobody@x'] }],
      }),
    );
    assert.deepEqual(state.rows, []);
    assert.deepEqual(
      state.uniqueHolders.map((h) => [h.id, h.column, h.value]),
      [[holder.id, 'email', 'kept@x']],
    );
  });
});
