// Reconcile finds rows that differ between the stores (changed behind the pipeline's back) and, with
// repair, re-publishes them so both stores converge again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const config = testConfig('reconcile');
let running: RunningRole;

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

  it('reports nothing when the stores agree', async () => {
    const report = await reconcile(running.stores, running.schemas.schemas, { pageSize: 7 });
    assert.equal(report.compared, 31);
    assert.equal(report.divergent, 0);
  });

  it('finds rows changed behind the pipeline, and repair makes the stores converge', async () => {
    const ids = (await running.stores.mysql.employees.dump()).map((r) => r.id).filter((id) => id > 0);
    const bornInPostgres = (await running.stores.postgres.employees.dump()).find((r) => r.id < 0)!.id;
    // Writes with the sink's marker are not captured: the other side never hears of them.
    await running.stores.postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`DELETE FROM employes WHERE id IN (${sql.join([...ids.slice(0, 3), bornInPostgres])})`.execute(trx);
      await sql`UPDATE employes SET nom = 'stale', sync_version = sync_version - 1 WHERE id = ${ids[5]!}`.execute(trx);
    });
    const report = await reconcile(running.stores, running.schemas.schemas, { pageSize: 7 });
    assert.equal(report.mysqlOnly, 4);
    assert.equal(report.versionMismatch, 1);
    assert.ok(report.sample.every((d) => d.source === 'mysql'));

    const repaired = await reconcile(running.stores, running.schemas.schemas, { repair: true, pageSize: 7 });
    assert.equal(repaired.republished, 5);
    await waitForConvergence(running.stores);
    assert.equal((await reconcile(running.stores, running.schemas.schemas)).divergent, 0);
  });
});
