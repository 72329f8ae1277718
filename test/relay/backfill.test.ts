// Backfill: rows that exist in MySQL before empsync ever ran reach a new, empty PostgreSQL by a snapshot
// that reads the table and writes nothing to it or to the outbox; a crash mid-snapshot resumes after the
// last recorded chunk and applies nothing twice; the all-in-one role backfills by itself; the reverse
// direction (`backfill postgres`) works the same way.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { assertNoDoubleApply, waitForConvergence } from '../support/assertions.ts';
import { installApplyLog } from '../support/fault-apply-log.ts';
import { spawnSync } from 'node:child_process';
import { configEnv, RoleProcesses } from '../support/role-processes.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const config = testConfig('backfill', { BACKFILL_CHUNK_SIZE: '100', LOG_CHECK_INTERVAL_MS: '500' });
let base: RunningRole;

const roles = new RoleProcesses(config);
const backfillProcess = (args: string[] = [], extraEnv: Record<string, string> = {}) => roles.run(['backfill', ...args], extraEnv);

/** Rows in MySQL's outbox (the relay of a running role empties it: the tests run none while counting). */
async function mysqlOutboxRows(): Promise<number> {
  const { rows } = await sql<{ n: string | number }>`SELECT COUNT(*) AS n FROM sync_outbox`.execute(base.stores.mysql.db);
  return Number(rows[0]!.n);
}

async function runRecord(name: string) {
  return (await base.stores.mysql.outbox.snapshotRuns()).find((r) => r.run === name);
}

describe('backfill', () => {
  before(async () => {
    await dropTestDatabases(config);
    base = await startRole('migrate', { config, logger: quietLogger(config) });
    await installApplyLog(base.stores);
    // 450 rows that predate empsync: written, then their captured changes discarded.
    for (let start = 0; start < 450; start += 50) {
      const values = Array.from({ length: 50 }, (_, i) => sql`(${`N${start + i}`}, 'P', ${`old${start + i}@example.fr`}, 'Dev', 100, 'Old')`);
      await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ${sql.join(values)}`.execute(base.stores.mysql.db);
    }
    await sql`DELETE FROM sync_outbox`.execute(base.stores.mysql.db);
  });
  after(async () => {
    await roles.killAll();
    await base?.stop();
  });

  it('reads the table without writing to it or to the outbox, and resumes after a crash where it stopped', async () => {
    const rowsBefore = await base.stores.mysql.employees.dump();
    const crashed = await backfillProcess([], { EMPSYNC_FAILPOINT: 'backfill.after-chunk' });
    assert.equal(crashed.signal, 'SIGKILL');
    const interrupted = await runRecord('backfill-mysql:employes');
    assert.equal(interrupted?.done, false);
    assert.equal(interrupted?.published, 100, 'one chunk published and recorded before the crash');
    assert.equal(interrupted?.total, 450);
    assert.equal(await mysqlOutboxRows(), 0, 'nothing copied into the outbox');

    const resumed = await backfillProcess();
    assert.equal(resumed.code, 0);
    const finished = await runRecord('backfill-mysql:employes');
    assert.equal(finished?.done, true);
    assert.equal(finished?.published, 450, 'the run went on after the 100 rows it had published');
    assert.equal(await mysqlOutboxRows(), 0, 'nothing copied into the outbox');
    // The source table is as it was: same rows, same versions (read, never stamped).
    assert.deepEqual(await base.stores.mysql.employees.dump(), rowsBefore);
  });

  it('the all-in-one role applies what the snapshot published, each (id, version) once', async () => {
    const running = await startRole('all', { config, logger: quietLogger(config) });
    try {
      assert.equal(await waitForConvergence(running.stores), 450);
      await assertNoDoubleApply(running.stores);
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
      assert.equal(await mysqlOutboxRows(), 0);
    } finally {
      await running.stop();
    }
  });

  it('`backfill postgres` snapshots PostgreSQL into an empty MySQL', async () => {
    await base.stores.mysql.db.transaction().execute(async (trx) => {
      await sql`SET @sync_origin = 'sink'`.execute(trx);
      await sql`DELETE FROM employes`.execute(trx);
      await sql`DELETE FROM sync_tombstones`.execute(trx);
      await sql`SET @sync_origin = NULL`.execute(trx);
    });
    assert.equal((await backfillProcess(['postgres'])).code, 0);
    const run = (await base.stores.postgres.outbox.snapshotRuns()).find((r) => r.run === 'backfill-postgres:employes');
    assert.equal(run?.published, 450);
    const { rows } = await sql<{ n: string | number }>`SELECT COUNT(*) AS n FROM sync_outbox`.execute(base.stores.postgres.db);
    assert.equal(Number(rows[0]!.n), 0, 'nothing copied into PostgreSQL’s outbox');
    const running = await startRole('all', { config, logger: quietLogger(config) });
    try {
      assert.equal(await waitForConvergence(running.stores), 450);
    } finally {
      await running.stop();
    }
  });

  it('shows a progress bar with rate and ETA on a terminal', () => {
    // `script` gives the command a pseudo-terminal, as a person's shell would.
    const result = spawnSync('script', ['-qec', 'node_modules/.bin/node src/main.ts backfill', '/dev/null'], {
      env: { ...process.env, ...configEnv(config), HTTP_PORT: '0', LOG_LEVEL: 'error' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(result.status, 0, result.stderr);
    const output = result.stdout.replace(/\r/g, '\n');
    assert.match(output, /\[#+\.*\] \d+\/450 rows {2}\d+ rows\/s {2}ETA (\d+ s|--)/, 'a bar, rows, rate and ETA');
    assert.match(output, /\[#{30}\] 450\/450 rows/, 'ends full');
  });

  it('refuses an unknown source with a usage line', async () => {
    const refused = await backfillProcess(['oracle']);
    assert.notEqual(refused.code, 0);
  });
});
