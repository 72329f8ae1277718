// Reconcile compares content: every divergence kind is created behind the pipeline's back (writes the
// capture does not see), found, named down to the column, and repaired so both stores converge; a
// repair verifies its work. TRUNCATE in PostgreSQL travels as a versioned delete; in MySQL (no hook)
// the check reports it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { reconcile, type ReconcileOptions } from '../../src/reconcile/reconcile.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import type { Database } from '../../src/store/schema.ts';
import { assertStoresEqual, waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('reconcile', { DRIFT_CHECK_INTERVAL_MS: '0' });
let running: RunningRole;

const check = (options: ReconcileOptions = {}) => reconcile(running.stores, running.schemas.schemas, { chunkRows: 7, settleMs: 200, ...options });

/** Writes the way the sink writes: neither stamped nor captured, so the other side never hears of it. */
async function behindPostgres(work: (db: Kysely<Database>) => Promise<unknown>) {
  await running.stores.postgres.db.transaction().execute(async (trx) => {
    await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
    await work(trx);
  });
}
async function behindMysql(work: (db: Kysely<Database>) => Promise<unknown>) {
  await running.stores.mysql.db.transaction().execute(async (trx) => {
    await sql`SET @sync_origin = 'sink'`.execute(trx);
    try {
      await work(trx);
    } finally {
      await sql`SET @sync_origin = NULL`.execute(trx);
    }
  });
}

const mysqlIds = async () => (await running.stores.mysql.employees.dump()).map((r) => r.id).filter((id) => id > 0);

describe('reconcile', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
    for (let i = 0; i < 30; i++) {
      await running.stores.mysql.employees.insert({
        nom: `R${i}`, prenom: 'P', email: `reconcile${i}@example.fr`, poste: 'Dev', salaire: '10.00', department: 'R',
      });
    }
    // One row born in PostgreSQL: a repair must restore it there too.
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
              VALUES ('Born', 'Pg', 'reconcile.pg@example.fr', 'Dev', 1, 'R')`.execute(running.stores.postgres.db);
    await waitForConvergence(running.stores);
  });
  after(async () => {
    await running?.stop();
  });

  it('reports nothing when the stores agree, having compared checksums only', async () => {
    const report = await check();
    assert.equal(report.compared, 31);
    assert.equal(report.divergent, 0);
    assert.equal(report.chunksDiffering, 0);
    assert.ok(report.chunks >= 5, `${report.chunks} chunks`);
  });

  it('finds rows deleted and changed behind the pipeline, and repair makes the stores converge', async () => {
    const ids = await mysqlIds();
    const bornInPostgres = (await running.stores.postgres.employees.dump()).find((r) => r.id < 0)!.id;
    await behindPostgres(async (db) => {
      await sql`DELETE FROM employes WHERE id IN (${sql.join([...ids.slice(0, 3), bornInPostgres])})`.execute(db);
      await sql`UPDATE employes SET nom = 'stale', sync_version = sync_version - 1 WHERE id = ${ids[5]!}`.execute(db);
    });
    const report = await check();
    assert.equal(report.mysqlOnly, 4);
    assert.equal(report.versionMismatch, 1);
    assert.equal(report.divergent, 5);
    assert.ok(report.sample.every((d) => d.source === 'mysql'));
    assert.deepEqual(report.sample.find((d) => d.kind === 'version')?.columns, ['nom']);

    const repaired = await check({ repair: true, verifyTimeoutMs: 30_000 });
    assert.equal(repaired.republished, 5);
    assert.equal(repaired.unrepaired, 0, 'the repair verified its own work');
    await assertStoresEqual(running.stores);
    assert.equal((await check()).divergent, 0);
  });

  it('finds a value changed at the same version (triggers off: session_replication_role = replica), names the column, and the origin store wins', async () => {
    const [first, second] = await mysqlIds();
    await running.stores.postgres.db.connection().execute(async (db) => {
      await sql`SET session_replication_role = replica`.execute(db);
      try {
        await sql`UPDATE employes SET prenom = 'Edité en PostgreSQL' WHERE id = ${first!}`.execute(db);
      } finally {
        await sql`SET session_replication_role = DEFAULT`.execute(db);
      }
    });
    // And one changed in MySQL behind the capture: its origin (MySQL) is authoritative too.
    await behindMysql((db) => sql`UPDATE employes SET salaire = 99.99, poste = 'Autre' WHERE id = ${second!}`.execute(db));
    const before = await running.stores.postgres.employees.find(first!);
    const report = await check();
    assert.equal(report.contentMismatch, 2);
    assert.equal(report.versionMismatch, 0);
    const byId = new Map(report.sample.map((d) => [d.id, d]));
    assert.deepEqual(byId.get(first!)?.columns, ['prenom']);
    assert.deepEqual(byId.get(second!)?.columns.sort(), ['poste', 'salaire']);
    assert.ok(report.sample.every((d) => d.source === 'mysql' && d.repair === 'restamp'));

    const repaired = await check({ repair: true, verifyTimeoutMs: 30_000 });
    assert.equal(repaired.unrepaired, 0);
    await assertStoresEqual(running.stores);
    const after = await running.stores.postgres.employees.find(first!);
    assert.equal(after?.prenom, 'P', 'MySQL, where the row was born, is authoritative');
    assert.ok(after!.version > before!.version, 'the repair travelled as a newer version');
    assert.equal((await running.stores.postgres.employees.find(second!))?.salaire, '99.99', "MySQL's own change reached PostgreSQL");
  });

  it('a row whose deletion on the other side is newer is deleted, never resurrected', async () => {
    const [id] = await mysqlIds();
    const row = (await running.stores.mysql.reconcile.rowsById(running.schemas.schema('employes'), [id!]))[0]!;
    await running.stores.mysql.employees.delete(id!);
    await waitFor('the delete applied in PostgreSQL', async () => (await running.stores.postgres.employees.find(id!)) === null);
    // A restore brings the old row back in MySQL, behind the capture: PostgreSQL's tombstone is newer.
    await behindMysql((db) =>
      sql`INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, sync_version, sync_origin)
          VALUES (${id!}, ${row.values['nom']!}, 'Restauré', ${row.values['email']!}, 'Dev', 10, 'R', ${row.version.toString()}, 'mysql')`.execute(db),
    );
    const report = await check();
    assert.equal(report.deletedMismatch, 1);
    assert.deepEqual(
      report.sample.map((d) => [d.kind, d.source, d.repair]),
      [['deleted', 'postgres', 'delete']],
    );
    const repaired = await check({ repair: true, verifyTimeoutMs: 30_000 });
    assert.equal(repaired.unrepaired, 0);
    assert.equal(await running.stores.mysql.employees.find(id!), null, 'the restored row is gone again');
    assert.equal(await running.stores.postgres.employees.find(id!), null, 'and was not resurrected in PostgreSQL');
    await assertStoresEqual(running.stores);
  });

  it('a row newer than the other side\'s tombstone is re-published', async () => {
    const [id] = await mysqlIds();
    await running.stores.mysql.employees.delete(id!);
    await waitFor('the delete applied in PostgreSQL', async () => (await running.stores.postgres.employees.find(id!)) === null);
    const tombstone = (await running.stores.postgres.reconcile.tombstones('employes', [id!])).get(id!)!;
    await behindMysql((db) =>
      sql`INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, sync_version, sync_origin)
          VALUES (${id!}, 'Revenu', 'Plus', ${`revenu.${id}@example.fr`}, 'Dev', 10, 'R', ${(tombstone + 10n).toString()}, 'mysql')`.execute(db),
    );
    const report = await check({ repair: true, verifyTimeoutMs: 30_000 });
    assert.deepEqual(report.sample.map((d) => [d.kind, d.source, d.repair]), [['missing', 'mysql', 'republish']]);
    assert.equal(report.unrepaired, 0);
    assert.equal((await running.stores.postgres.employees.find(id!))?.nom, 'Revenu');
  });

  it('a repair that cannot converge says so: unrepaired rows', async () => {
    const [id] = await mysqlIds();
    await behindPostgres((db) => sql`DELETE FROM employes WHERE id = ${id!}`.execute(db));
    // Nothing carries the repair: the relays are stopped.
    for (const relay of running.relays) await relay.stop();
    const report = await check({ repair: true, verifyTimeoutMs: 1500 });
    assert.equal(report.divergent, 1);
    assert.equal(report.republished, 1);
    assert.equal(report.unrepaired, 1);
  });

  it('a row whose change still waits in an outbox is in flight, not drift', async () => {
    // The relays are stopped (above): this insert is captured and stays in MySQL's outbox.
    const row = await running.stores.mysql.employees.insert({ nom: 'Pending', prenom: 'P', email: 'pending@example.fr', poste: 'Dev', salaire: '1.00', department: 'R' });
    const report = await check();
    assert.ok(!report.sample.some((d) => d.id === row.id), 'not reported');
    assert.equal(report.divergent, 0, 'the row repaired above waits in the outbox too');
    assert.ok(report.inFlight >= 2);
  });
});

describe('TRUNCATE', () => {
  const truncateConfig = testConfig('reconcile_truncate', { DRIFT_CHECK_INTERVAL_MS: '0' });
  let role: RunningRole;
  before(async () => {
    await dropTestDatabases(truncateConfig);
    role = await startRole('all', { config: truncateConfig, logger: quietLogger(truncateConfig) });
    for (let i = 0; i < 12; i++) {
      await role.stores.mysql.employees.insert({ nom: `T${i}`, prenom: 'P', email: `truncate${i}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'T' });
    }
    await waitForConvergence(role.stores);
  });
  after(async () => {
    await role?.stop();
    await dropTestDatabases(truncateConfig);
  });

  it('in PostgreSQL travels to MySQL as a versioned delete of every row', async () => {
    await sql`TRUNCATE employes`.execute(role.stores.postgres.db);
    await waitFor('MySQL emptied', async () => (await role.stores.mysql.reconcile.count('employes')) === 0, 30_000);
    const tombstones = await role.stores.mysql.reconcile.tombstones('employes', [...(await role.stores.postgres.reconcile.tombstones('employes', Array.from({ length: 40 }, (_, i) => i + 1))).keys()]);
    assert.equal(tombstones.size, 12, 'each row is buried on both sides');
    // The table lives on: new rows sync again.
    await role.stores.mysql.employees.insert({ nom: 'Après', prenom: 'P', email: 'apres@example.fr', poste: 'Dev', salaire: '1.00', department: 'T' });
    await waitForConvergence(role.stores);
    assert.equal((await reconcile(role.stores, role.schemas.schemas, { settleMs: 0 })).divergent, 0);
  });

  it('in MySQL (no trigger fires) is reported by the check, with what it looks like', async () => {
    await sql`TRUNCATE employes`.execute(role.stores.mysql.db);
    const report = await reconcile(role.stores, role.schemas.schemas, { settleMs: 200 });
    assert.equal(report.postgresOnly, 1);
    assert.equal(report.divergent, 1);
    assert.match(report.notes.join('\n'), /employes is empty in MySQL .* TRUNCATE/);
    // The repair copies the rows back from PostgreSQL, and verifies.
    const repaired = await reconcile(role.stores, role.schemas.schemas, { settleMs: 200, repair: true, verifyTimeoutMs: 30_000 });
    assert.equal(repaired.unrepaired, 0);
    assert.equal(await role.stores.mysql.reconcile.count('employes'), 1);
    await assertStoresEqual(role.stores);
  });
});
