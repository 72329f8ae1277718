// Least privilege in the databases (issue "Secure by default", item 5; docs/security.md): `empsync
// migrate`, run as the owner, creates one database user per runtime role with only the grants of
// src/store/privileges.ts; the pipeline runs end to end with each role connected as its own user; no
// role user may change the schema or write another role's tables; a role user meeting an unmigrated
// database stops with EMPSYNC_NOT_MIGRATED; and a column a DBA adds flows through the owner's
// `migrate --watch` while the roles run without DDL.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import type { Config } from '../../src/config.ts';
import { isEmpsyncError } from '../../src/errors.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { databaseRoles, type DatabaseRole } from '../../src/store/privileges.ts';
import type { Database } from '../../src/store/schema.ts';
import { assertStoresEqual } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const prefix = 'estest_';
const passwords: Record<DatabaseRole, string> = {
  api: 'api-secret-0123456789',
  relay: 'relay-secret-0123456789',
  sink: 'sink-secret-0123456789',
  reconcile: 'reconcile-secret-0123456789',
};
const rolePasswords = (values: Record<DatabaseRole, string>) => databaseRoles.map((role) => `${role}:${values[role]}`).join(',');

const owner = testConfig('least_privilege', {
  DB_ROLE_PASSWORDS: rolePasswords(passwords),
  DB_ROLE_USER_PREFIX: prefix,
  SCHEMA_CHECK_INTERVAL_MS: '200',
  DRIFT_SETTLE_MS: '200',
});
const mysqlDatabase = new URL(owner.MYSQL_URL).pathname.slice(1);
const postgresDatabase = new URL(owner.POSTGRES_URL).pathname.slice(1);

/** The config of a role connected as its own database users. */
function asRole(role: DatabaseRole, overrides: Record<string, string> = {}): Config {
  const user = `${prefix}${role}`;
  return testConfig('least_privilege', {
    MYSQL_URL: `mysql://${user}:${passwords[role]}@127.0.0.1:3306/${mysqlDatabase}`,
    POSTGRES_URL: `postgres://${user}:${passwords[role]}@127.0.0.1:5432/${postgresDatabase}`,
    SCHEMA_CHECK_INTERVAL_MS: '200',
    DRIFT_SETTLE_MS: '200',
    ...overrides,
  });
}

const started: RunningRole[] = [];
async function start(role: Parameters<typeof startRole>[0], config: Config, args: string[] = []): Promise<RunningRole> {
  const running = await startRole(role, { config, logger: quietLogger(config), createGraphqlHandler }, args);
  started.push(running);
  return running;
}

let migrated: RunningRole;
let relay: RunningRole;
before(async () => {
  await dropTestDatabases(owner);
  migrated = await start('migrate', owner);
});
after(async () => {
  for (const running of started.reverse()) await running.stop();
});

/** A session of a role user: each engine's client, closed after `work`. */
async function withRoleSessions<T>(role: DatabaseRole, work: (my: mysql.Connection, postgres: pg.Client) => Promise<T>): Promise<T> {
  const config = asRole(role);
  const my = await mysql.createConnection({ uri: config.MYSQL_URL });
  const postgres = new pg.Client({ connectionString: config.POSTGRES_URL });
  await postgres.connect();
  try {
    return await work(my, postgres);
  } finally {
    await my.end();
    await postgres.end();
  }
}

/** MySQL's "command denied" errors (table, database, column level) and PostgreSQL's insufficient_privilege / must be owner. */
async function assertDenied(what: string, attempt: () => Promise<unknown>): Promise<void> {
  await assert.rejects(attempt, (error: { errno?: number; code?: string; message?: string }) => {
    const denied = [1142, 1044, 1045, 1143, 1227, 1370].includes(error.errno ?? 0) || error.code === '42501';
    assert.ok(denied, `${what}: expected a privilege error, got ${error.code ?? ''} ${error.errno ?? ''} ${error.message}`);
    return true;
  });
}

const count = async (db: Kysely<Database>, table: string) => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(db)).rows[0]!.n);

describe('least privilege: a database user per role, created by empsync migrate', () => {
  it('creates each role user in both engines; none may change the schema', async () => {
    const { rows } = await sql<{ user: string }>`SELECT User AS user FROM mysql.user WHERE User LIKE ${`${prefix}%`} ORDER BY User`.execute(migrated.stores.mysql.db);
    assert.deepEqual(rows.map((r) => r.user), databaseRoles.map((r) => `${prefix}${r}`).sort());
    const roles = await sql<{ rolname: string; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>`
      SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname LIKE ${`${prefix}%`} ORDER BY rolname`.execute(migrated.stores.postgres.db);
    assert.deepEqual(roles.rows.map((r) => r.rolname), databaseRoles.map((r) => `${prefix}${r}`).sort());
    assert.ok(roles.rows.every((r) => !r.rolsuper && !r.rolcreatedb && !r.rolcreaterole));
    for (const role of databaseRoles) {
      await withRoleSessions(role, async (my, postgres) => {
        await assertDenied(`${role} CREATE TABLE (MySQL)`, () => my.query('CREATE TABLE intruder (id INT)'));
        await assertDenied(`${role} ALTER TABLE (MySQL)`, () => my.query('ALTER TABLE employes ADD COLUMN intruder INT'));
        await assertDenied(`${role} DROP TABLE (MySQL)`, () => my.query('DROP TABLE sync_offsets'));
        await assertDenied(`${role} DROP TRIGGER (MySQL)`, () => my.query('DROP TRIGGER employes_before_insert'));
        await assertDenied(`${role} CREATE TABLE (PostgreSQL)`, () => postgres.query('CREATE TABLE intruder (id int)'));
        await assertDenied(`${role} ALTER TABLE (PostgreSQL)`, () => postgres.query('ALTER TABLE employes ADD COLUMN intruder int'));
        await assertDenied(`${role} DROP TABLE (PostgreSQL)`, () => postgres.query('DROP TABLE sync_offsets'));
        await assertDenied(`${role} TRUNCATE (PostgreSQL)`, () => postgres.query('TRUNCATE employes'));
        await assertDenied(`${role} DISABLE TRIGGER (PostgreSQL)`, () => postgres.query('ALTER TABLE employes DISABLE TRIGGER ALL'));
      });
    }
    const tables = await sql<{ n: string }>`SELECT count(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'intruder'`.execute(migrated.stores.mysql.db);
    assert.equal(Number(tables.rows[0]!.n), 0, 'nothing was created');
  });

  it("refuses each role the tables of another role's job, and nothing is written", async () => {
    const offsetsBefore = await count(migrated.stores.postgres.db, 'sync_offsets');
    await withRoleSessions('api', async (my, postgres) => {
      await assertDenied('api rewrites the log identity', () => postgres.query('DELETE FROM sync_log_identity'));
      await assertDenied('api moves sink offsets', () => postgres.query("INSERT INTO sync_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES ('g', 't', 0, 0)"));
      await assertDenied('api forges the drift status', () => postgres.query('DELETE FROM sync_drift'));
      await assertDenied('api moves MySQL offsets', () => my.query('DELETE FROM sync_offsets'));
    });
    await withRoleSessions('relay', async (my, postgres) => {
      await assertDenied('relay writes employees (MySQL)', () => my.query("UPDATE employes SET nom = 'relay'"));
      await assertDenied('relay writes employees (PostgreSQL)', () => postgres.query("UPDATE employes SET nom = 'relay'"));
      await assertDenied('relay moves sink offsets', () => postgres.query('DELETE FROM sync_offsets'));
    });
    await withRoleSessions('sink', async (_my, postgres) => {
      await assertDenied('sink forges the drift status', () => postgres.query('DELETE FROM sync_drift'));
      await assertDenied('sink rewrites backfill runs', () => postgres.query('DELETE FROM sync_backfill'));
    });
    await withRoleSessions('reconcile', async (my) => {
      await assertDenied('reconcile moves sink offsets', () => my.query('DELETE FROM sync_offsets'));
    });
    assert.equal(await count(migrated.stores.postgres.db, 'sync_offsets'), offsetsBefore);
    assert.equal(await count(migrated.stores.postgres.db, 'employes'), 0);
  });

  it('runs the pipeline end to end with every role as its own user: API writes, plain-SQL writes on both sides, drift repair', async () => {
    const api = await start('api', asRole('api'));
    relay = await start('relay', asRole('relay'), ['both']);
    await start('sink', asRole('sink'), ['both']);
    const { port } = api.server!.address() as AddressInfo;
    const gql = async (query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as { data?: Record<string, { id: number } | null>; errors?: unknown[] };
    };
    const ok = async (query: string, variables: Record<string, unknown> = {}) => {
      const result = await gql(query, variables);
      assert.equal(result.errors, undefined, `${query}: ${JSON.stringify(result.errors)}`);
      return result.data!;
    };
    const created = await gql(
      'mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }',
      { input: { nom: 'Least', prenom: 'Privilege', email: 'least@example.fr', poste: 'Dev', salaire: 1000.5, department: 'Sec' } },
    );
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
    const id = created.data!['createEmploye']!.id;
    const { mysql: my, postgres } = migrated.stores;
    await waitFor('the API write in PostgreSQL', async () => (await postgres.employees.find(id))?.nom === 'Least');
    // A plain-SQL writer on each side (the application's own account).
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ('FromPg', 'P', 'frompg@example.fr', 'Ops', 2, 'Sec')`.execute(postgres.db);
    await sql`UPDATE employes SET salaire = 2000.25 WHERE id = ${id}`.execute(my.db);
    await waitFor('the PostgreSQL write in MySQL', async () => (await my.employees.list()).some((e) => e.nom === 'FromPg'));
    await waitFor('the MySQL update in PostgreSQL', async () => (await postgres.employees.find(id))?.salaire === '2000.25');
    const deleted = await gql('mutation ($id: Int!) { deleteEmploye(id: $id) }', { id });
    assert.equal(deleted.errors, undefined, JSON.stringify(deleted.errors));
    await waitFor('the delete in PostgreSQL', async () => (await postgres.employees.find(id)) === null);
    await assertStoresEqual(migrated.stores);

    // Drift no capture saw (the sink's own session marker), repaired by the reconcile role as its own user.
    const pgRow = (await postgres.employees.list()).find((e) => e.nom === 'FromPg')!;
    await postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`UPDATE employes SET poste = 'Drifted' WHERE id = ${pgRow.id}`.execute(trx);
    });
    const repair = await start('reconcile', asRole('reconcile'), ['--repair']);
    assert.equal(repair.reconcileReport!.unrepaired, 0, JSON.stringify(repair.reconcileReport));
    assert.ok(repair.reconcileReport!.divergent >= 1 && repair.reconcileReport!.republished >= 1, 'the drift was found and repaired');
    await waitFor('both stores equal after the repair', async () => {
      await assertStoresEqual(migrated.stores);
      return true;
    });

    // The API's reads and admin operations as the API's user: status, a full resync, dead letters and their replay.
    await ok('{ syncStatus { directions { source outboxBacklog parkedAtSink } dlqMessages } syncConflicts { employeId } }');
    await ok('mutation { syncEmployes }');
    await ok('{ deadLetters { id } }');
    await ok('mutation { replayDeadLetters(all: true) { __typename } }');
    // The drift check as the reconcile user records its pass, and the API shows it.
    await start('reconcile', asRole('reconcile', { DRIFT_CHECK_INTERVAL_MS: '500' }), ['--watch']);
    await waitFor('a drift pass recorded', async () => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM sync_drift`.execute(postgres.db);
      return Number(rows[0]!.n) > 0;
    });
    await ok('{ syncStatus { drift { lastCompletePassAt rows } } }');
    await waitFor('both stores equal after the resync', async () => {
      await assertStoresEqual(migrated.stores);
      return true;
    });
  });

  it('a column a DBA adds flows through the owner\'s `migrate --watch` while the roles run without DDL', async () => {
    const { mysql: my, postgres } = migrated.stores;
    const mismatches = async () => (await relay.metrics.schemaMismatches.get()).values.find((v) => v.labels.table === 'employes')?.value ?? 0;
    await sql`ALTER TABLE employes ADD COLUMN badge VARCHAR(20) NULL`.execute(my.db);
    // Nobody with DDL runs yet: the relay, without DDL, reports the column instead of syncing it in silence.
    await waitFor('the relay reports badge as left out', async () => (await mismatches()) >= 1);
    assert.deepEqual(
      relay.schemas.mismatches.map((m) => m.column),
      ['badge'],
    );
    assert.match(relay.schemas.mismatches[0]!.reason, /empsync migrate --watch/);
    await start('migrate', owner, ['--watch']);
    await waitFor('badge added to PostgreSQL by the owner', async () => (await postgres.schema.columns('employes'))?.some((c) => c.name === 'badge'), 30_000);
    await waitFor('capture carries badge on both sides', async () =>
      (await Promise.all([my.schema.capturedColumns('employes'), postgres.schema.capturedColumns('employes')])).every((c) => c?.includes('badge')),
    30_000);
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department, badge) VALUES ('Badge', 'B', 'badge@example.fr', 'Dev', 3, 'Sec', 'B-42')`.execute(my.db);
    await waitFor('the badge value in PostgreSQL', async () => {
      const { rows } = await sql<{ badge: string | null }>`SELECT badge FROM employes WHERE email = 'badge@example.fr'`.execute(postgres.db);
      return rows[0]?.badge === 'B-42';
    }, 30_000);
    await waitFor('the mismatch cleared', async () => (await mismatches()) === 0);
  });

  it('a role user meeting a migration not applied stops with EMPSYNC_NOT_MIGRATED, naming what to run', async () => {
    const { rows } = await sql<{ name: string }>`SELECT name FROM empsync_migrations ORDER BY name DESC LIMIT 1`.execute(migrated.stores.mysql.db);
    const last = rows[0]!.name;
    await sql`DELETE FROM empsync_migrations WHERE name = ${last}`.execute(migrated.stores.mysql.db);
    try {
      await assert.rejects(
        startRole('relay', { config: asRole('relay'), logger: quietLogger(owner) }, ['mysql']),
        (error) => isEmpsyncError(error, 'EMPSYNC_NOT_MIGRATED') && /empsync migrate/.test(error.message) && error.message.includes(last),
      );
    } finally {
      await sql`INSERT INTO empsync_migrations (name, timestamp) VALUES (${last}, ${new Date().toISOString()})`.execute(migrated.stores.mysql.db);
    }
  });

  it('migrate again is idempotent and rotates the passwords', async () => {
    const rotated = { ...passwords, relay: 'relay-rotated-0123456789' };
    const again = await start('migrate', testConfig('least_privilege', { DB_ROLE_PASSWORDS: rolePasswords(rotated), DB_ROLE_USER_PREFIX: prefix }));
    await again.stop();
    await assert.rejects(mysql.createConnection({ uri: asRole('relay').MYSQL_URL }), (error: { errno?: number }) => error.errno === 1045);
    const connection = await mysql.createConnection({ uri: asRole('relay').MYSQL_URL.replace(passwords.relay, rotated.relay) });
    await connection.end();
  });
});
