// Backfill: rows that exist in MySQL before empsync ever ran reach a new, empty PostgreSQL; a crash
// mid-backfill resumes after the last committed chunk; the all-in-one role backfills by itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { RoleProcesses } from '../support/role-processes.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const config = testConfig('backfill', { BACKFILL_CHUNK_SIZE: '100' });
let base: RunningRole;

const roles = new RoleProcesses(config);
const backfillProcess = (extraEnv: Record<string, string> = {}) => roles.run(['backfill'], extraEnv);

describe('backfill', () => {
  before(async () => {
    await dropTestDatabases(config);
    base = await startRole('migrate', { config, logger: quietLogger(config) });
    // 450 rows that predate empsync: written, then their captured changes discarded.
    for (let start = 0; start < 450; start += 50) {
      const values = Array.from({ length: 50 }, (_, i) => sql`(${`N${start + i}`}, 'P', ${`old${start + i}@example.fr`}, 'Dev', 100, 'Old')`);
      await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ${sql.join(values)}`.execute(base.stores.mysql.db);
    }
    await sql`DELETE FROM sync_outbox`.execute(base.stores.mysql.db);
  });
  after(async () => {
    await base?.stop();
  });

  it('resumes after a crash without copying a chunk twice', async () => {
    const crashed = await backfillProcess({ EMPSYNC_FAILPOINT: 'backfill.after-chunk' });
    assert.equal(crashed.signal, 'SIGKILL');
    assert.equal(await base.stores.mysql.outbox.backlog(), 100, 'one committed chunk before the crash');
    const resumed = await backfillProcess();
    assert.equal(resumed.code, 0);
    assert.equal(await base.stores.mysql.outbox.backlog(), 450, 'every row exactly once');
  });

  it('the all-in-one role publishes the backlog and an empty read model catches up', async () => {
    const running = await startRole('all', { config, logger: quietLogger(config) });
    try {
      assert.equal(await waitForConvergence(running.stores), 450);
    } finally {
      await running.stop();
    }
  });

  it('with an empty read model, the all-in-one role backfills by itself', async () => {
    // A new, empty read model: emptied without capture (a TRUNCATE by a writer would travel as deletes).
    await base.stores.postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`TRUNCATE employes`.execute(trx);
      await sql`TRUNCATE sync_tombstones`.execute(trx);
    });
    // Same consumer group: its offsets are stored, so nothing is replayed — only the backfill can refill.
    const running = await startRole('all', { config, logger: quietLogger(config) });
    try {
      assert.equal(await waitForConvergence(running.stores), 450);
    } finally {
      await running.stop();
    }
  });
});
