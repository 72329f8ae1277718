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
import type { ApplyStateRequest } from '../../../src/store/ports.ts';
import type { Database } from '../../../src/store/schema.ts';
import { isRetryable } from '../../../src/store/store-errors.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../../support/test-env.ts';

const config = testConfig('mysql_apply');
let running: RunningRole;

/** The sink's read, retried on transient errors (a lock not granted at once, a deadlock) as the sink retries its transactions. */
async function readAsTheSink(request: ApplyStateRequest) {
  for (;;) {
    try {
      return await running.stores.mysql.apply.transaction((tx) => tx.readState(request));
    } catch (error) {
      if (!isRetryable(error)) throw error;
    }
  }
}

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
      // The sink reads a batch whose incoming row takes the holder's email, retried on transient errors
      // as the sink retries its transactions: its read waits for that row…
      const read = readAsTheSink({
        table: 'employes',
        ids: [incoming.id],
        unique: [{ column: 'email', values: [email, ...otherValues] }],
      });
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

  it('every holder is returned: a row of the batch, another row, none', async () => {
    const { mysql } = running.stores;
    const input = { nom: 'N', prenom: 'P', poste: 'Dev', salaire: '1.00', department: 'IT' };
    const own = await mysql.employees.insert({ ...input, email: 'own@x' });
    const other = await mysql.employees.insert({ ...input, email: 'other@x' });
    const absent = other.id + 1000;
    const state = await readAsTheSink({
      table: 'employes',
      ids: [own.id, absent],
      unique: [{ column: 'email', values: ['own@x', 'other@x', 'nobody@x'] }],
    });
    assert.deepEqual(
      state.rows.map((r) => r.id),
      [own.id],
    );
    assert.deepEqual(
      state.uniqueHolders.map((h) => [h.id, h.column, h.value, h.version]).sort(),
      [
        [own.id, 'email', 'own@x', own.version],
        [other.id, 'email', 'other@x', other.version],
      ].sort(),
    );
  });

  it('a holder of a unique value is locked with the batch', async () => {
    const { mysql } = running.stores;
    const input = { nom: 'N', prenom: 'P', poste: 'Dev', salaire: '1.00', department: 'IT' };
    const other = await mysql.employees.insert({ ...input, email: 'locked@x' });
    await mysql.apply.transaction(async (tx) => {
      await tx.readState({
        table: 'employes',
        ids: [other.id + 1000],
        unique: [{ column: 'email', values: ['locked@x'] }],
      });
      // Another session cannot take the holder's row while the sink's transaction runs.
      await mysql.db.connection().execute(async (session) => {
        await assert.rejects(
          sql`SELECT id FROM employes WHERE id = ${other.id} FOR UPDATE NOWAIT`.execute(session),
          (error: { code?: string }) => ['ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_NOWAIT'].includes(error.code ?? ''),
        );
      });
    });
  });
});
