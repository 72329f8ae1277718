// A large transaction on either side arrives whole: one MySQL transaction that inserts N rows, one that
// updates all of them, and one PostgreSQL transaction that updates all of them again — each applied on
// the other side row by row and column by column. N = LARGE_TRANSACTION_ROWS (20,000 in `npm test`;
// 1,000,000 for the full size: `LARGE_TRANSACTION_ROWS=1000000 npm run test:only -- test/pipeline/large-transactions.test.ts`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const rows = Number(process.env.LARGE_TRANSACTION_ROWS ?? 20_000);
// Generous: this 2-core machine applies 10,000–20,000 rows/s while everything else runs on it.
const deadline = 60_000 + rows * 2;
// The sinks compare their positions with the stored offsets every 20 ms: while a large transaction flows,
// that check must never mistake a batch committed during its read for a database gone back (a restore).
const config = testConfig('large_transactions', { DRIFT_CHECK_INTERVAL_MS: '0', BACKFILL_ON_START: 'false', LOG_CHECK_INTERVAL_MS: '20' });
let running: RunningRole;

/** The salaries' sum and the rows holding `prenom` in a store (what a whole transaction changes everywhere). */
async function summary(store: 'mysql' | 'postgres', prenom: string): Promise<{ count: number; total: string }> {
  const db = running.stores[store].db;
  const { rows: found } = await sql<{ count: string | number; total: string | null }>`
    SELECT COUNT(*) AS count, CAST(SUM(salaire) AS CHAR(40)) AS total FROM employes WHERE prenom = ${prenom}`.execute(db);
  return { count: Number(found[0]!.count), total: String(found[0]!.total ?? '0') };
}

async function arrivesWhole(target: 'mysql' | 'postgres', prenom: string, expected: { count: number; total: string }): Promise<void> {
  assert.equal(expected.count, rows, 'the transaction changed every row at its source');
  await waitFor(
    `${target} to hold the ${rows} rows of the transaction`,
    async () => {
      const now = await summary(target, prenom);
      return now.count === expected.count && Number(now.total) === Number(expected.total);
    },
    deadline,
  );
  // Column by column, every row.
  const report = await reconcile(running.stores, running.schemas.schemas, { settleMs: 0 });
  assert.equal(report.divergent, 0, JSON.stringify(report.sample.slice(0, 3)));
  const resets = (await running.metrics.logResets.get()).values.filter((v) => v.value > 0);
  assert.deepEqual(resets, [], 'no sink restarted: no offset seen going back, no log seen changing');
}

describe(`a transaction of ${rows} rows arrives whole`, { timeout: deadline * 4 }, () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
  });
  after(async () => {
    await running?.stop();
  });

  it('a MySQL INSERT … SELECT of every row', async () => {
    await running.stores.mysql.db.transaction().execute(async (trx) => {
      const digits = sql.raw('(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)');
      await sql`
        INSERT INTO employes (nom, prenom, email, poste, salaire, department)
        SELECT CONCAT('Nom ', i), 'Inséré', CONCAT('bulk', i, '@example.fr'), 'Développeur', (i % 100000) / 100 + 1000, CONCAT('D', i % 20)
          FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d + 1000000 * h.d + 1 AS i
                  FROM ${digits} a, ${digits} b, ${digits} c, ${digits} e, ${digits} f, ${digits} g, ${digits} h) numbers
         WHERE i <= ${rows}`.execute(trx);
    });
    const expected = await summary('mysql', 'Inséré');
    assert.equal(expected.count, rows);
    await arrivesWhole('postgres', 'Inséré', expected);
  });

  it('a MySQL UPDATE of every row in one transaction', async () => {
    await sql`UPDATE employes SET prenom = 'MisÀJour', salaire = salaire + 1.25`.execute(running.stores.mysql.db);
    await arrivesWhole('postgres', 'MisÀJour', await summary('mysql', 'MisÀJour'));
  });

  it('a PostgreSQL UPDATE of every row in one transaction', async () => {
    await sql`UPDATE employes SET prenom = 'Retour', salaire = salaire - 0.5, department = department || '-pg'`.execute(running.stores.postgres.db);
    await arrivesWhole('mysql', 'Retour', await summary('postgres', 'Retour'));
  });
});
