// The sink's locking read, in both stores: a row deleted by a local transaction that the read had to
// wait for must show up as its tombstone, never as "nothing there" — else a late event would bring the
// row back. (PostgreSQL's one statement kept the snapshot it started with: it saw the row gone and not
// the tombstone committed with the delete.)
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { isRetryable } from '../../src/store/store-errors.ts';
import type { Store } from '../../src/store/ports.ts';
import { storeNames } from '../../src/store/types.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const config = testConfig('apply_state');
let running: RunningRole;

/** The sink's read of `id`, retried on transient errors as the sink retries its transactions. */
async function readAsTheSink(store: Store, id: number) {
  for (;;) {
    try {
      return await store.apply.transaction((tx) => tx.readState({ table: 'employes', ids: [id], unique: [] }));
    } catch (error) {
      if (!isRetryable(error)) throw error;
    }
  }
}

describe('the sink locking read (both stores)', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('migrate', { config, logger: quietLogger(config) });
  });
  after(async () => running?.stop());

  for (const name of storeNames) {
    it(`${name}: a delete committed while the read waited shows as its tombstone`, async () => {
      const store = running.stores[name];
      const row = await store.employees.insert({ nom: 'N', prenom: 'P', email: `race.${name}@x`, poste: 'Dev', salaire: '1.00', department: 'IT' });
      await store.db.connection().execute(async (session) => {
        await sql.raw(name === 'mysql' ? 'START TRANSACTION' : 'BEGIN').execute(session);
        await sql`DELETE FROM employes WHERE id = ${row.id}`.execute(session);
        const read = readAsTheSink(store, row.id);
        await sleep(300); // the read is now waiting on the deleted row's lock (a workload step, not a wait for an effect)
        await sql.raw('COMMIT').execute(session);
        const state = await read;
        assert.deepEqual(state.rows, [], 'the row is gone');
        assert.equal(state.tombstones.length, 1, 'and its tombstone is seen');
        assert.ok(state.tombstones[0]!.version > row.version);
      });
    });
  }
});

describe('PostgreSQL ids after its own rows come back from the log', () => {
  const restored = testConfig('id_sequence');
  let migrated: RunningRole;
  before(async () => {
    await dropTestDatabases(restored);
    migrated = await startRole('migrate', { config: restored, logger: quietLogger(restored) });
  });
  after(async () => migrated?.stop());

  it('the next id born in PostgreSQL is below every id the sink wrote back, rows and deletes', async () => {
    const { postgres } = migrated.stores;
    const schema = migrated.schemas.schema('employes');
    const first = await postgres.employees.insert({ nom: 'N', prenom: 'P', email: 'first@x', poste: 'Dev', salaire: '1.00', department: 'IT' });
    // What a restored PostgreSQL gets back from the log: its own rows and deletes with ids it had handed
    // out after the dump, below where its restored sequence stands.
    const [current] = await postgres.reconcile.dump(schema);
    const row = { ...current!, id: first.id - 5, version: first.version + 10n, values: { ...current!.values, email: 'came.back@x' } };
    await postgres.apply.transaction(async (tx) => {
      await tx.readState({ table: 'employes', ids: [row.id, first.id - 9], unique: [{ column: 'email', values: ['came.back@x'] }] });
      await tx.write({
        schema,
        upserts: [row],
        deletes: [{ id: first.id - 9, version: first.version + 11n, origin: 'postgres' }],
        displaced: [],
        parkUnique: [],
        seen: new Map(),
        conflicts: [],
        deadLetters: [],
        replayedDeadLetters: [],
        offsets: [],
        logId: '',
        consumerGroup: 'test',
      });
    });
    const next = await postgres.employees.insert({ nom: 'N', prenom: 'P', email: 'next@x', poste: 'Dev', salaire: '1.00', department: 'IT' });
    assert.ok(next.id < first.id - 9, `next id ${next.id} must be below ${first.id - 9}`);
  });
});
