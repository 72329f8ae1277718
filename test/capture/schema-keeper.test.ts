// Schema changes made as a DBA makes them — plain ALTER TABLE, while the API and both databases take
// writes — against the real pipeline (MariaDB ⇄ Kafka ⇄ PostgreSQL): a column added on both sides, on
// one side only, of a type that cannot travel, renamed on one side or both, dropped on one side or both. Every case ends with
// both stores equal row by row and column by column (the new columns included), and the GraphQL schema
// following without a restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { startRole } from '../../src/roles/roles.ts';
import type { Stores } from '../../src/store/create-stores.ts';
import type { StoreName } from '../../src/store/types.ts';
import { startApi, type RunningApi } from '../api/api-client.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('schema_keeper', { SCHEMA_CHECK_INTERVAL_MS: '200', SCHEMA_DROP_GRACE_MS: '5000' });
let api: RunningApi;
let stores: Stores;

/** The columns of employes in one engine's catalog, with their types. */
async function columnsOf(store: StoreName): Promise<Map<string, string>> {
  const db = stores[store].db;
  const { rows } =
    store === 'mysql'
      ? await sql<{ name: string; type: string }>`SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'employes'`.execute(db)
      : await sql<{ name: string; type: string }>`SELECT column_name AS name, format_type(atttypid, atttypmod) AS type
                 FROM information_schema.columns c JOIN pg_attribute a ON a.attrelid = 'employes'::regclass AND a.attname = c.column_name
                 WHERE table_schema = current_schema() AND table_name = 'employes'`.execute(db);
  return new Map(rows.map((r) => [r.name, r.type]));
}

/**
 * A check that reads the catalogs after this point: `check()` joins a check already running, which may
 * have read them before the caller's ALTER (and fail on it, as a timed check would, retried).
 */
async function checkFromNow(): Promise<void> {
  await api.running.schemas.check().catch(() => undefined);
  await api.running.schemas.check();
}

/** `column` of every row, by id, in one store. */
async function valuesOf(store: StoreName, column: string): Promise<Map<number, string | null>> {
  const { rows } = await sql<{ id: number; value: string | null }>`SELECT id, ${sql.ref(column)} AS value FROM employes ORDER BY id`.execute(
    stores[store].db,
  );
  return new Map(rows.map((r) => [Number(r.id), r.value === null ? null : String(r.value)]));
}

let serial = 0;
const fields = (who: string) => {
  serial += 1;
  return { nom: `N${serial}`, prenom: 'P', email: `${who}.${serial}.${process.pid}@schema.test`, poste: 'Dev', salaire: '10.00', department: 'S' };
};

/** A row written with plain SQL in PostgreSQL (a writer empsync does not know). */
async function insertInPostgres(): Promise<number> {
  const f = fields('pg');
  const { rows } = await sql<{ id: number }>`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
    VALUES (${f.nom}, ${f.prenom}, ${f.email}, ${f.poste}, ${f.salaire}, ${f.department}) RETURNING id`.execute(stores.postgres.db);
  return rows[0]!.id;
}

/**
 * Writers on both sides until `stop`: MySQL through the API's store, PostgreSQL with plain SQL; each
 * side sets `column` (once it exists there) on rows it owns, so no two writers race on one row. Returns
 * the last value each row's owner wrote into the column.
 */
function writeOnBothSides(column: string, stop: AbortSignal): Promise<Map<number, string>> {
  const written = new Map<number, string>();
  const side = async (store: StoreName) => {
    const own: number[] = [];
    for (let i = 0; !stop.aborted; i++) {
      if (i % 3 === 0 || own.length === 0) {
        own.push(store === 'mysql' ? (await stores.mysql.employees.insert(fields('my'))).id : await insertInPostgres());
        continue;
      }
      const id = own[i % own.length]!;
      const value = `${store}-${id}-${i}`;
      try {
        await sql`UPDATE employes SET ${sql.ref(column)} = ${value} WHERE id = ${id}`.execute(stores[store].db);
        written.set(id, value);
      } catch (error) {
        // The column does not exist on this side yet: the DBA has not got there.
        if (!/Unknown column|does not exist/i.test((error as Error).message)) throw error;
        await sql`UPDATE employes SET poste = ${`Dev${i}`} WHERE id = ${id}`.execute(stores[store].db);
      }
    }
  };
  return Promise.all([side('mysql'), side('postgres')]).then(() => written);
}

describe('schema changes made with plain ALTER TABLE flow without a restart', () => {
  before(async () => {
    api = await startApi(config);
    stores = api.running.stores;
  });
  after(async () => {
    await api?.running.stop();
  });

  it('a column added on both engines while both sides write: every value arrives, column by column', async () => {
    const stop = new AbortController();
    const writing = writeOnBothSides('telephone', stop.signal);
    try {
      await waitFor('some rows on both sides', async () => (await stores.postgres.employees.count()) > 20);
      // The DBA adds it on both sides (IF NOT EXISTS: empsync may have carried one side's to the other first).
      await Promise.all([
        sql`ALTER TABLE employes ADD COLUMN IF NOT EXISTS telephone VARCHAR(30) NULL`.execute(stores.mysql.db),
        sql`ALTER TABLE employes ADD COLUMN IF NOT EXISTS telephone varchar(30)`.execute(stores.postgres.db),
      ]);
      await waitFor('the column synced', async () => api.running.schemas.schema('employes').columns.some((c) => c.name === 'telephone'));
      // Writes go on across the change and after it.
      const after = await stores.postgres.employees.count();
      await waitFor('more rows after the change', async () => (await stores.postgres.employees.count()) > after + 60, 60_000);
    } finally {
      stop.abort();
    }
    const written = await writing;
    assert.ok(written.size > 10, `values were written into the new column (${written.size})`);
    await waitForConvergence(stores);
    for (const store of ['mysql', 'postgres'] as const) {
      const values = await valuesOf(store, 'telephone');
      for (const [id, value] of written) assert.equal(values.get(id), value, `${store} row ${id}`);
    }
  });

  it('a column added on one side only is added to the other with the mapped type, and its values flow both ways', async () => {
    const ids = (await stores.postgres.employees.dump()).map((r) => r.id);
    await sql`ALTER TABLE employes ADD COLUMN badge integer`.execute(stores.postgres.db);
    await sql`UPDATE employes SET badge = abs(id) * 10 WHERE id < 0`.execute(stores.postgres.db);
    await waitFor('the column synced', async () => api.running.schemas.schema('employes').columns.some((c) => c.name === 'badge'));
    assert.match((await columnsOf('mysql')).get('badge')!, /^int/);
    await sql`UPDATE employes SET badge = id * 10 WHERE id > 0`.execute(stores.mysql.db);
    await waitForConvergence(stores);
    for (const store of ['mysql', 'postgres'] as const) {
      const values = await valuesOf(store, 'badge');
      for (const id of ids) assert.equal(values.get(id), String(Math.abs(id) * 10), `${store} row ${id}`);
    }
  });

  it('GraphQL shows the new columns as nullable fields of EmployeType and EmployeInput, without a restart', async () => {
    const introspection = await api.gql<{ type: { fields: { name: string; type: { kind: string; name: string | null } }[] }; input: { inputFields: { name: string }[] } }>(
      `{ type: __type(name: "EmployeType") { fields { name type { kind name } } } input: __type(name: "EmployeInput") { inputFields { name } } }`,
    );
    const typeFields = new Map(introspection.data!.type.fields.map((f) => [f.name, f.type]));
    assert.deepEqual(typeFields.get('telephone'), { kind: 'SCALAR', name: 'String' });
    assert.deepEqual(typeFields.get('badge'), { kind: 'SCALAR', name: 'Int' });
    // The published contract is unchanged.
    assert.deepEqual(typeFields.get('salaire'), { kind: 'NON_NULL', name: null });
    const inputs = introspection.data!.input.inputFields.map((f) => f.name);
    assert.ok(inputs.includes('telephone') && inputs.includes('badge'), inputs.join(', '));

    const created = await api.gql<{ createEmploye: { id: number; telephone: string | null; badge: number | null } }>(
      `mutation ($input: EmployeInput!) { createEmploye(input: $input, waitForSync: true) { id telephone badge } }`,
      { input: { ...fields('gql'), salaire: 12.5, telephone: '+33 1 23 45 67 89', badge: 7 } },
    );
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
    const id = created.data!.createEmploye.id;
    assert.deepEqual(created.data!.createEmploye, { id, telephone: '+33 1 23 45 67 89', badge: 7 });
    const read = await api.gql<{ employeParId: { telephone: string; badge: number } }>(`{ employeParId(id: ${id}) { telephone badge } }`);
    assert.deepEqual(read.data!.employeParId, { telephone: '+33 1 23 45 67 89', badge: 7 });
    const tooLong = await api.gql(`mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }`, {
      input: { ...fields('gql'), salaire: 1, telephone: 'x'.repeat(31) },
    });
    assert.equal(tooLong.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal(tooLong.errors?.[0]?.extensions?.field, 'telephone');
  });

  it('a column whose type cannot travel is reported (metric, readyz degraded), and sync goes on', async () => {
    await sql`ALTER TABLE employes ADD COLUMN profile jsonb`.execute(stores.postgres.db);
    await waitFor('the mismatch', async () => api.running.schemas.mismatches.some((m) => m.column === 'profile'));
    const gauge = (await api.running.metrics.schemaMismatches.get()).values.find((v) => v.labels.table === 'employes');
    assert.equal(gauge?.value, 1);
    const ready = (await (await fetch(api.url.replace('/graphql', '/readyz'))).json()) as {
      status: string;
      schema: { column: string; reason: string }[];
    };
    assert.equal(ready.status, 'degraded');
    assert.match(ready.schema.find((s) => s.column === 'profile')?.reason ?? '', /jsonb/);
    assert.ok(!(await columnsOf('mysql')).has('profile'), 'nothing was invented for it in MySQL');
    const drift = await reconcile(stores, api.running.schemas.schemas, { columnsLeftOut: api.running.schemas.mismatches });
    assert.deepEqual(drift.columnsLeftOut.map((c) => `${c.table}.${c.column}`), ['employes.profile'], 'the drift check names it');
    const row = await stores.mysql.employees.insert(fields('after-mismatch'));
    await waitFor('a write still syncs', () => stores.postgres.employees.find(row.id));
    await sql`ALTER TABLE employes DROP COLUMN profile`.execute(stores.postgres.db);
    await waitFor('the report to clear', async () => api.running.schemas.mismatches.length === 0);
    assert.equal((await api.running.metrics.schemaMismatches.get()).values.find((v) => v.labels.table === 'employes')?.value, 0);
  });

  it('a column renamed on one side only ends on both sides under both names, every value kept', async () => {
    await sql`ALTER TABLE employes RENAME COLUMN telephone TO portable`.execute(stores.postgres.db);
    await waitFor('both names on both sides', async () => {
      const [m, p] = await Promise.all([columnsOf('mysql'), columnsOf('postgres')]);
      return m.has('portable') && p.has('telephone') && m.has('telephone') && p.has('portable');
    });
    // Both names join the sync once their values are copied to the side that lacks them.
    const synced = (name: string) => api.running.schemas.schema('employes').columns.some((c) => c.name === name);
    await waitFor('both names synced', async () => synced('telephone') && synced('portable'));
    await waitForConvergence(stores);
    const [mysqlOld, mysqlNew] = await Promise.all([valuesOf('mysql', 'telephone'), valuesOf('mysql', 'portable')]);
    for (const [id, value] of mysqlOld) assert.equal(mysqlNew.get(id), value, `row ${id}: the renamed column holds the values`);
  });

  it('a synced column dropped on one engine leaves the sync at once, and is added back from the other after the grace period, every value kept', async () => {
    const before = await valuesOf('mysql', 'badge');
    await sql`ALTER TABLE employes DROP COLUMN badge`.execute(stores.postgres.db);
    await waitFor('the schema without it', async () => api.running.schemas.schema('employes').columns.every((c) => c.name !== 'badge'));
    // Not added back within the grace period (5 s here), however many checks run: the DBA may be about to drop it from MySQL too.
    await checkFromNow();
    assert.ok(!(await columnsOf('postgres')).has('badge'), 'not added back before the grace period ends');
    await waitFor('the column back in the sync', async () => api.running.schemas.schema('employes').columns.some((c) => c.name === 'badge'), 60_000);
    assert.match((await columnsOf('postgres')).get('badge')!, /^integer/);
    await waitForConvergence(stores);
    const after = await valuesOf('postgres', 'badge');
    for (const [id, value] of before) assert.equal(after.get(id), value, `row ${id}: its value is back in PostgreSQL`);
  });

  it('`empsync schema drop-column` drops a column on both engines while MySQL takes writes, none refused', async () => {
    await assert.rejects(api.running.schemas.dropColumn('employes', 'salaire'), /declared/);
    let failures = 0;
    let writes = 0;
    const errors = new Set<string>();
    const stop = new AbortController();
    const writing = (async () => {
      while (!stop.signal.aborted) {
        await stores.mysql.employees.insert(fields('during-drop')).then(
          () => (writes += 1),
          (error: unknown) => {
            failures += 1;
            errors.add((error as Error).message);
          },
        );
      }
    })();
    try {
      await api.running.schemas.dropColumn('employes', 'badge');
    } finally {
      stop.abort();
      await writing;
    }
    assert.equal(failures, 0, `${failures} of ${writes + failures} writes refused during the drop: ${[...errors].join('; ')}`);
    assert.ok(!(await columnsOf('mysql')).has('badge') && !(await columnsOf('postgres')).has('badge'));
    await waitForConvergence(stores);
  });

  it('a column renamed on both engines, one after the other, ends under its new name only, every value kept', async () => {
    const before = await valuesOf('mysql', 'portable');
    await sql`ALTER TABLE employes RENAME COLUMN portable TO mobile`.execute(stores.mysql.db);
    await waitFor('the schema without the old name', async () => api.running.schemas.schema('employes').columns.every((c) => c.name !== 'portable'));
    await checkFromNow();
    assert.ok(!(await columnsOf('postgres')).has('mobile'), 'the new name waits: added to PostgreSQL, it would make the rename there fail');
    // The DBA's second statement: refused if the keeper had taken the name in PostgreSQL.
    await sql`ALTER TABLE employes RENAME COLUMN portable TO mobile`.execute(stores.postgres.db);
    await waitFor('the new name synced', async () => api.running.schemas.schema('employes').columns.some((c) => c.name === 'mobile'));
    await checkFromNow();
    for (const store of ['mysql', 'postgres'] as const) {
      const columns = await columnsOf(store);
      assert.ok(columns.has('mobile') && !columns.has('portable'), `${store}: only the new name`);
    }
    await waitForConvergence(stores);
    for (const store of ['mysql', 'postgres'] as const) {
      const values = await valuesOf(store, 'mobile');
      for (const [id, value] of before) assert.equal(values.get(id), value, `${store} row ${id}`);
    }
  });

  it('a column dropped on both sides leaves the sync, and writes go on with nothing lost', async () => {
    // As a DBA does it: one engine, then the other, with the keeper's checks running in between.
    await sql`ALTER TABLE employes DROP COLUMN mobile, DROP COLUMN telephone`.execute(stores.mysql.db);
    await waitFor('the schema without them', async () =>
      api.running.schemas.schema('employes').columns.every((c) => c.name !== 'telephone' && c.name !== 'mobile'),
    );
    await checkFromNow();
    await sql`ALTER TABLE employes DROP COLUMN mobile, DROP COLUMN telephone`.execute(stores.postgres.db);
    await checkFromNow();
    for (const store of ['mysql', 'postgres'] as const) {
      const columns = await columnsOf(store);
      assert.ok(!columns.has('telephone') && !columns.has('mobile'), `${store}: the dropped columns were not added back`);
    }
    const rows = await Promise.all([stores.mysql.employees.insert(fields('after-drop')), insertInPostgres()]);
    await waitFor('both writes synced', async () =>
      (await stores.postgres.employees.find(rows[0].id)) !== null && (await stores.mysql.employees.find(rows[1])) !== null,
    );
    await waitForConvergence(stores);
    assert.equal(await stores.mysql.outbox.backlog(), 0, 'the relay did not stall');
    // The GraphQL schema is rebuilt after the keeper's change and swapped in between requests: polled.
    await waitFor('the field to leave the GraphQL schema', async () => {
      const introspection = await api.gql<{ type: { fields: { name: string }[] } }>(`{ type: __type(name: "EmployeType") { fields { name } } }`);
      return !introspection.data!.type.fields.some((f) => f.name === 'telephone');
    });
  });
});

describe('a restart finds the columns as they are', () => {
  it('a process started after a change made while none ran syncs the column from its first check', async () => {
    const first = await startRole('migrate', { config, logger: quietLogger(config) });
    try {
      await sql`ALTER TABLE employes ADD COLUMN note VARCHAR(40) NULL`.execute(first.stores.mysql.db);
      await sql`ALTER TABLE employes ADD COLUMN note varchar(40)`.execute(first.stores.postgres.db);
    } finally {
      await first.stop();
    }
    const running = await startRole('migrate', { config, logger: quietLogger(config) });
    try {
      const note = running.schemas.schema('employes').columns.find((c) => c.name === 'note');
      assert.deepEqual(note && { declared: note.declared, type: note.type }, { declared: false, type: { kind: 'text', length: 40 } });
      assert.deepEqual(await running.stores.mysql.schema.capturedColumns('employes').then((c) => c?.includes('note')), true);
    } finally {
      await running.stop();
    }
  });
});
