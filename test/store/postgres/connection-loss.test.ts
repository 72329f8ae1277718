// Regression: PostgreSQL ending empsync's sessions (a server restart, a restore terminating sessions,
// an administrator's pg_terminate_backend) made an idle pooled client emit 'error' on the pool with no
// listener, which ends the process. Now the pool drops the client, and sync goes on.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../../src/roles/roles.ts';
import { waitForConvergence } from '../../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../../support/test-env.ts';

const config = testConfig('pg_connection_loss');
let running: RunningRole;

describe('PostgreSQL ends the sessions of empsync', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
  });
  after(async () => running?.stop());

  it('the process lives on and changes keep crossing in both directions', async () => {
    const { mysql, postgres } = running.stores;
    for (let i = 0; i < 10; i++) {
      await mysql.employees.insert({ nom: 'N', prenom: 'P', email: `before.${i}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'IT' });
    }
    await waitForConvergence(running.stores);
    // From a connection of its own (the superuser's), end every other session of the test database.
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: config.POSTGRES_URL });
    await admin.connect();
    try {
      const { rowCount } = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      assert.ok((rowCount ?? 0) > 0, 'empsync had sessions to end');
    } finally {
      await admin.end();
    }
    for (let i = 0; i < 10; i++) {
      await mysql.employees.insert({ nom: 'N', prenom: 'P', email: `after.${i}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'IT' });
    }
    await waitFor('a PostgreSQL write to go through again', async () => {
      await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
                VALUES ('Pg', 'After', ${`pg.after.${Date.now()}@example.fr`}, 'Dev', 1, 'IT')`.execute(postgres.db);
      return true;
    });
    await waitForConvergence(running.stores, 60_000);
  });

  it('a session ended while its client is checked out between two queries does not end the process', async () => {
    const { postgres } = running.stores;
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: config.POSTGRES_URL });
    await admin.connect();
    try {
      await assert.rejects(
        postgres.db.connection().execute(async (session) => {
          const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(session);
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          await sleep(300); // the checked-out client learns of it while no query runs (a workload step)
          await sql`SELECT 1`.execute(session);
        }),
      );
    } finally {
      await admin.end();
    }
    assert.equal(Number((await sql<{ one: number }>`SELECT 1 AS one`.execute(postgres.db)).rows[0]!.one), 1);
  });
});
