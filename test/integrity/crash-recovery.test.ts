// Integrity under crashes: kill -9 of the sink mid-stream, and of the relay between publish and
// mark (failpoint), then restart: no row lost, none applied twice, both tables identical.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { kill9, RoleProcesses } from '../support/role-processes.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('integrity');
let base: RunningRole;
const roles = new RoleProcesses(config);
const spawnRole = (args: string[], extraEnv?: Record<string, string>) => roles.spawn(args, extraEnv);

async function insertRows(prefix: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 50) {
    const values = Array.from({ length: Math.min(50, count - start) }, (_, i) => {
      const n = start + i;
      return sql`(${`N${n}`}, ${`P${n}`}, ${`${prefix}${n}@example.fr`}, 'Dev', ${(2000 + n).toFixed(2)}, ${`D${n % 5}`})`;
    });
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ${sql.join(values)}`.execute(
      base.stores.mysql.db,
    );
  }
}

/** (id, version) pairs the sink wrote more than once in PostgreSQL: must stay empty. */
async function doubleApplies(): Promise<unknown[]> {
  const { rows } = await sql`
    SELECT id, version, count(*) AS n FROM test_apply_log GROUP BY id, version HAVING count(*) > 1`.execute(
    base.stores.postgres.db,
  );
  return rows;
}

async function mysqlDoubleApplies(): Promise<unknown[]> {
  const { rows } = await sql`
    SELECT id, version, COUNT(*) AS n FROM test_apply_log GROUP BY id, version HAVING COUNT(*) > 1`.execute(base.stores.mysql.db);
  return rows;
}

describe('crash recovery (kill -9)', () => {
  before(async () => {
    await dropTestDatabases(config);
    base = await startRole('migrate', { config, logger: quietLogger(config) });
    // Test-only audit: every write the sink makes in PostgreSQL, to count applies per (id, version).
    await sql`CREATE TABLE test_apply_log (id integer, version bigint)`.execute(base.stores.postgres.db);
    await sql.raw(`CREATE FUNCTION test_log_apply() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('app.sync_origin', true) = 'sink' THEN
          INSERT INTO test_apply_log VALUES (NEW.id, NEW.sync_version);
        END IF;
        RETURN NULL;
      END $$`).execute(base.stores.postgres.db);
    await sql`CREATE TRIGGER test_log_apply AFTER INSERT OR UPDATE ON employes FOR EACH ROW EXECUTE FUNCTION test_log_apply()`.execute(
      base.stores.postgres.db,
    );
    // The same audit on the MySQL side, for the PostgreSQL → MySQL direction.
    await sql`CREATE TABLE test_apply_log (id INT, version BIGINT)`.execute(base.stores.mysql.db);
    for (const event of ['INSERT', 'UPDATE']) {
      await sql.raw(`CREATE TRIGGER test_log_apply_${event.toLowerCase()} AFTER ${event} ON employes FOR EACH ROW
        BEGIN IF @sync_origin = 'sink' THEN INSERT INTO test_apply_log VALUES (NEW.id, NEW.sync_version); END IF; END`).execute(
        base.stores.mysql.db,
      );
    }
  });
  after(async () => {
    await roles.killAll();
    await base?.stop();
  });

  it('kill -9 of the sink mid-stream loses nothing and applies nothing twice', async () => {
    const relay = spawnRole(['relay', 'mysql']);
    let sink = spawnRole(['sink', 'postgres']);
    const writes = insertRows('sinkcrash', 6000);
    await waitFor('the sink to have applied part of the stream', async () => (await base.stores.postgres.employees.count()) > 300, 60_000);
    await kill9(sink);
    await writes;
    sink = spawnRole(['sink', 'postgres']);
    const rows = await waitForConvergence(base.stores, 120_000);
    assert.equal(rows, 6000);
    assert.deepEqual(await doubleApplies(), []);
    await kill9(sink);
    await kill9(relay);
  });

  it('kill -9 of the relay between publish and mark republishes, and the sink applies once', async () => {
    const sink = spawnRole(['sink', 'postgres']);
    const crashing = spawnRole(['relay', 'mysql'], { EMPSYNC_FAILPOINT: 'relay.after-publish' });
    await insertRows('relaycrash', 500);
    const [, signal] = await once(crashing, 'exit');
    assert.equal(signal, 'SIGKILL', 'the relay should die at the failpoint');
    assert.ok((await base.stores.mysql.outbox.backlog()) > 0, 'published rows are still in the outbox');
    const relay = spawnRole(['relay', 'mysql']);
    const rows = await waitForConvergence(base.stores, 120_000);
    assert.equal(rows, 6500);
    // The rows arrived with the first publish; the new relay republishes them, then empties the outbox.
    await waitFor('the new relay to republish and empty the outbox', async () => (await base.stores.mysql.outbox.backlog()) === 0);
    await waitForConvergence(base.stores);
    assert.deepEqual(await doubleApplies(), []);
    await kill9(relay);
    await kill9(sink);
  });

  it('kill -9 of the MySQL sink mid-stream (PostgreSQL → MySQL) loses nothing and applies nothing twice', async () => {
    const relay = spawnRole(['relay', 'postgres']);
    let sink = spawnRole(['sink', 'mysql']);
    const before = await base.stores.mysql.employees.count();
    const writes = (async () => {
      for (let start = 0; start < 3000; start += 50) {
        const values = Array.from({ length: 50 }, (_, i) => sql`(${`M${start + i}`}, 'P', ${`pgcrash${start + i}@example.fr`}, 'Dev', 10, 'PG')`);
        await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ${sql.join(values)}`.execute(
          base.stores.postgres.db,
        );
      }
    })();
    await waitFor('the MySQL sink to have applied part of the stream', async () => (await base.stores.mysql.employees.count()) > before + 200, 60_000);
    await kill9(sink);
    await writes;
    sink = spawnRole(['sink', 'mysql']);
    assert.equal(await waitForConvergence(base.stores, 120_000), before + 3000);
    assert.deepEqual(await mysqlDoubleApplies(), []);
    await kill9(sink);
    await kill9(relay);
  });
});
