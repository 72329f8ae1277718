// A second synced table, declared in a SYNC_TABLES_FILE and nowhere else: `departements`, on its own
// topic. Against the real pipeline (MariaDB ⇄ Kafka ⇄ PostgreSQL) it proves that creation, capture,
// relay, sink, the drift check (reconcile) and backfill work for any declared table, both ways, column
// by column — none of it written for employes.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { followBackfill, requestBackfill } from '../../src/relay/backfill.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import type { TableDeclaration } from '../../src/tables/declaration.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const base = testConfig('second_table');
const departements: TableDeclaration = {
  name: 'departements',
  topic: `${base.KAFKA_TOPIC}-departements`,
  columns: [
    { name: 'code', type: { kind: 'text', length: 20 }, nullable: false },
    { name: 'nom', type: { kind: 'text', length: 100 }, nullable: false },
    { name: 'budget', type: { kind: 'decimal', precision: 14, scale: 2 }, nullable: true },
    { name: 'effectif', type: { kind: 'integer' }, nullable: false, default: { value: '0' } },
    { name: 'ouvert', type: { kind: 'boolean' }, nullable: false, default: { value: 'true' } },
    { name: 'cree_le', type: { kind: 'date' }, nullable: true },
    { name: 'revu_le', type: { kind: 'timestamp' }, nullable: true },
    { name: 'modifie_le', type: { kind: 'timestamp' }, nullable: false, default: 'now', role: 'updated-at' },
  ],
  unique: ['code'],
  indexes: [{ name: 'departements_nom_idx', columns: ['nom'] }],
};
const file = join(mkdtempSync(join(tmpdir(), 'empsync-tables-')), 'tables.json');
writeFileSync(file, JSON.stringify([departements]));
const config = testConfig('second_table', { SYNC_TABLES_FILE: file });
let running: RunningRole;

const schema = () => running.schemas.schema('departements');
const dump = async (store: 'mysql' | 'postgres') =>
  (await running.stores[store].reconcile.dump(schema())).map((row) => JSON.stringify({ ...row, version: row.version.toString() }));

/** Both sides hold the same departements, column by column; returns how many. */
async function converged(): Promise<number> {
  let last = '';
  try {
    return await waitFor(
      'departements equal on both sides',
      async () => {
        const [a, b] = await Promise.all([dump('mysql'), dump('postgres')]);
        const first = a.findIndex((row, i) => row !== b[i]);
        last = `mysql ${a.length}, postgres ${b.length}${first < 0 ? '' : `: ${a[first]} / ${b[first]}`}`;
        return a.length === b.length && first < 0 ? a.length || -1 : false;
      },
      60_000,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message} (${last})`);
  }
}

describe('a second declared table (departements) syncs like employes', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
  });
  after(async () => {
    await running?.stop();
  });

  it('is created on both engines from its declaration alone, with its unique key', async () => {
    for (const store of ['mysql', 'postgres'] as const) {
      const columns = await running.stores[store].schema.columns('departements');
      assert.deepEqual(
        columns?.map((c) => c.name),
        ['id', ...departements.columns.map((c) => c.name), 'sync_version', 'sync_origin', 'sync_seen_version'],
        store,
      );
    }
    assert.deepEqual(
      schema().columns.map((c) => c.name),
      departements.columns.map((c) => c.name),
    );
  });

  it('rows written with plain SQL on either side reach the other, every column exact, on its own topic', async () => {
    await sql`INSERT INTO departements (code, nom, budget, effectif, ouvert, cree_le, revu_le)
              VALUES ('RD', 'Recherche', 1234567.89, 12, 0, '2024-02-29', '2024-01-02 03:04:05.123456'),
                     ('OPS', 'Opérations 🦄', NULL, 3, 1, NULL, NULL)`.execute(running.stores.mysql.db);
    await sql`INSERT INTO departements (code, nom, budget, effectif, ouvert, cree_le, revu_le)
              VALUES ('FIN', 'Finance', -0.01, 5, false, '1000-01-01', '9999-12-31 23:59:59.999999+00')`.execute(
      running.stores.postgres.db,
    );
    assert.equal(await converged(), 3);
    const rows = await running.stores.postgres.reconcile.dump(schema());
    const rd = rows.find((r) => r.values.code === 'RD')!;
    assert.deepEqual(
      { ...rd.values, modifie_le: undefined },
      {
        code: 'RD',
        nom: 'Recherche',
        budget: '1234567.89',
        effectif: '12',
        ouvert: 'false',
        cree_le: '2024-02-29',
        revu_le: '2024-01-02T03:04:05.123456Z',
        modifie_le: undefined,
      },
    );
    assert.ok(rows.find((r) => r.values.code === 'FIN')!.id < 0, 'ids born in PostgreSQL are negative');
    const sent = (await running.metrics.kafkaMessagesSent.get()).values.find((v) => v.labels.topic === departements.topic);
    assert.ok((sent?.value ?? 0) >= 3, 'the events travelled on the table’s own topic');
  });

  it('updates and deletes travel both ways, and the employes pipeline is not disturbed', async () => {
    await sql`UPDATE departements SET budget = budget + 1, revu_le = '2030-06-15 12:00:00' WHERE code = 'FIN'`.execute(running.stores.mysql.db);
    await sql`DELETE FROM departements WHERE code = 'OPS'`.execute(running.stores.postgres.db);
    await sql`UPDATE departements SET nom = 'R&D' WHERE code = 'RD'`.execute(running.stores.postgres.db);
    assert.equal(await converged(), 2);
    const fin = (await running.stores.mysql.reconcile.dump(schema())).find((r) => r.values.code === 'FIN')!;
    assert.equal(fin.values.budget, '0.99');
    assert.equal(fin.values.revu_le, '2030-06-15T12:00:00.000000Z');
    const employee = await running.stores.mysql.employees.insert({
      nom: 'N', prenom: 'P', email: 'second.table@example.fr', poste: 'Dev', salaire: '1.00', department: 'R&D',
    });
    await waitFor('the employee in PostgreSQL', () => running.stores.postgres.employees.find(employee.id));
  });

  it('the drift check compares it and a repair makes it converge', async () => {
    // A change made with the sink's marker is not captured: PostgreSQL never hears of it.
    await running.stores.mysql.db.transaction().execute(async (trx) => {
      await sql`SET @sync_origin = 'sink'`.execute(trx);
      await sql`UPDATE departements SET nom = 'hidden', sync_version = sync_version + 1 WHERE code = 'RD'`.execute(trx);
      await sql`SET @sync_origin = NULL`.execute(trx);
    });
    const report = await reconcile(running.stores, running.schemas.schemas);
    assert.equal(report.tables.departements?.versionMismatch, 1);
    assert.equal(report.tables.departements?.compared, 2);
    assert.equal(report.sample[0]?.table, 'departements');
    const repaired = await reconcile(running.stores, running.schemas.schemas, { repair: true });
    assert.equal(repaired.tables.departements?.republished, 1);
    await converged();
    assert.equal((await reconcile(running.stores, running.schemas.schemas)).divergent, 0);
  });

  it('a column added to the declaration by another process (`migrate` with the new file) flows here without a restart', async () => {
    const next = join(mkdtempSync(join(tmpdir(), 'empsync-tables-')), 'tables.json');
    const responsable = { name: 'responsable', type: { kind: 'text', length: 100 }, nullable: true } as const;
    writeFileSync(next, JSON.stringify([{ ...departements, columns: [...departements.columns, responsable] }]));
    const upgraded = testConfig('second_table', { SYNC_TABLES_FILE: next });
    const migrate = await startRole('migrate', { config: upgraded, logger: quietLogger(upgraded) });
    await migrate.stop();
    await waitFor('the running process to sync it', async () => schema().columns.some((c) => c.name === 'responsable'));
    await sql`UPDATE departements SET responsable = 'Mme Durand' WHERE code = 'FIN'`.execute(running.stores.postgres.db);
    await sql`UPDATE departements SET responsable = 'M. Martin' WHERE code = 'RD'`.execute(running.stores.mysql.db);
    await converged();
    const byCode = new Map((await running.stores.mysql.reconcile.dump(schema())).map((r) => [r.values.code, r.values.responsable]));
    assert.deepEqual([byCode.get('FIN'), byCode.get('RD')], ['Mme Durand', 'M. Martin']);
  });

  it('a backfill re-publishes rows the other side never saw', async () => {
    await running.stores.mysql.db.transaction().execute(async (trx) => {
      await sql`SET @sync_origin = 'sink'`.execute(trx);
      await sql`INSERT INTO departements (code, nom, sync_version, sync_origin) VALUES ('ARCH', 'Archives', 1, 'mysql')`.execute(trx);
      await sql`SET @sync_origin = NULL`.execute(trx);
    });
    const [request] = await requestBackfill(running.stores.mysql, ['departements'], { resume: false });
    const [run] = await followBackfill(running.stores.mysql.outbox, [request!.run]);
    assert.equal(run!.table, 'departements');
    assert.equal(run!.published, 3);
    assert.equal(await converged(), 3);
  });
});
