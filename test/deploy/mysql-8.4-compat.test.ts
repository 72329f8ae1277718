// What MySQL 8.4 in Docker Compose does differently from the local MariaDB 10.11, met by the MySQL store
// before any container runs it (docs/docker.md, "MySQL 8.4 against the local MariaDB"):
// - a database made with another default collation (the mysql image makes `entreprise` with MySQL 8.4's
//   utf8mb4_0900_ai_ci) is brought to utf8mb4_bin by migration 003, on MariaDB here;
// - the store's statements run under MySQL 8.4's default sql_mode (ONLY_FULL_GROUP_BY, NO_ZERO_DATE, …);
// - root logs in with caching_sha2_password over plain TCP on a first start (no cached hash): mysql2, as
//   the store configures it, asks the server for its RSA key. Shown against a socket that speaks that
//   exchange as MySQL 8.4 does, since no MySQL 8.4 runs here.
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import mysql from 'mysql2/promise';
import { ensureDatabases } from '../../src/store/create-stores.ts';
import { tableCollation, tablesWithOtherCollation } from '../../src/store/mysql/migrations.ts';
import { MysqlStore } from '../../src/store/mysql/mysql-store.ts';
import type { ApplyPlan, SyncedRow } from '../../src/store/types.ts';
import { employesTable } from '../../src/tables/employes.ts';
import { declaredSchema } from '../../src/tables/table-schema.ts';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';

/** MySQL 8.4's default SQL mode (https://dev.mysql.com/doc/refman/8.4/en/sql-mode.html). */
const mysql84SqlMode =
  'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

async function rootQuery<T>(statement: string, values: unknown[] = []): Promise<T> {
  const connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
  try {
    return (await connection.query(statement, values))[0] as T;
  } finally {
    await connection.end();
  }
}

describe('migration 003: a database made with another default collation', () => {
  const config = testConfig('mysql_collation');
  const database = new URL(config.MYSQL_URL).pathname.slice(1);
  let store: MysqlStore;
  const db = () => store.db as unknown as Kysely<unknown>;
  const schemaCollation = async () =>
    (
      await rootQuery<{ c: string }[]>(
        'SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
        [database],
      )
    )[0]?.c;

  before(async () => {
    await dropTestDatabases(config);
    // As the mysql image does with MYSQL_DATABASE: no collation named, so the server's default (here
    // MariaDB's utf8mb4_general_ci, case-insensitive like MySQL 8.4's utf8mb4_0900_ai_ci).
    await rootQuery(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
    store = new MysqlStore({ url: config.MYSQL_URL, poolSize: 2 });
  });
  after(async () => {
    await store.close();
    await dropTestDatabases(config);
  });

  it('creates every table in utf8mb4_bin whatever the database default, and makes the default explicit', async () => {
    assert.deepEqual((await store.migrate()).slice(0, 3), [
      '001_employes_sync',
      '002_offsets_log_dead_letters_portable_values',
      '003_explicit_collations',
    ]);
    assert.deepEqual(await tablesWithOtherCollation(db()), []);
    assert.equal(await schemaCollation(), tableCollation);
  });

  it('converts the tables of a database migrated before 003, and a second run changes nothing', async () => {
    // The state 001 and 002 left in such a database: tables in the database default (the shared
    // tombstones of 005 stand for employes' own, which 005 replaced).
    await rootQuery(`ALTER DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
    for (const table of [
      'sync_tombstones',
      'sync_offsets',
      'sync_conflicts',
      'sync_backfill',
      'sync_log_identity',
    ]) {
      await rootQuery(
        `ALTER TABLE \`${database}\`.${table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`,
      );
    }
    await rootQuery(`DELETE FROM \`${database}\`.empsync_migrations WHERE name >= '003_explicit_collations'`);
    assert.deepEqual(await tablesWithOtherCollation(db()), [
      'sync_backfill',
      'sync_conflicts',
      'sync_log_identity',
      'sync_offsets',
      'sync_tombstones',
    ]);
    // What that collation does to a sync key: two backfill runs that differ by case are one row.
    await rootQuery(`INSERT INTO \`${database}\`.sync_backfill (name) VALUES ('Run')`);
    await assert.rejects(
      rootQuery(`INSERT INTO \`${database}\`.sync_backfill (name) VALUES ('run')`),
      /Duplicate entry/,
    );

    assert.deepEqual((await store.migrate()).slice(0, 1), ['003_explicit_collations']);
    assert.deepEqual(await tablesWithOtherCollation(db()), []);
    assert.equal(await schemaCollation(), tableCollation);
    await rootQuery(`INSERT INTO \`${database}\`.sync_backfill (name) VALUES ('run')`);

    // MySQL DDL is not transactional: 003 re-runs safely after a crash half-way.
    await rootQuery(`DELETE FROM \`${database}\`.empsync_migrations WHERE name >= '003_explicit_collations'`);
    assert.deepEqual((await store.migrate()).slice(0, 1), ['003_explicit_collations']);
    assert.deepEqual(await tablesWithOtherCollation(db()), []);
  });
});

describe("the MySQL store under MySQL 8.4's default sql_mode", () => {
  const config = testConfig('mysql_sql_mode');
  // One pooled session, so the session's sql_mode holds for every statement of the store.
  let store: MysqlStore;
  const sessionMode = async () =>
    (await sql<{ mode: string }>`SELECT @@SESSION.sql_mode AS mode`.execute(store.db)).rows[0]?.mode;

  before(async () => {
    await dropTestDatabases(config);
    await ensureDatabases(config);
    store = new MysqlStore({ url: config.MYSQL_URL, poolSize: 1 });
    await sql.raw(`SET SESSION sql_mode = '${mysql84SqlMode}'`).execute(store.db);
  });
  after(async () => {
    await store.close();
    await dropTestDatabases(config);
  });

  it('migrates, captures, applies a sink batch and answers every grouped read', async () => {
    await store.migrate();
    const created = await store.employees.insert({
      nom: 'Durand',
      prenom: 'Alice',
      email: 'alice@example.fr',
      poste: 'Dev',
      salaire: '4200.50',
      department: 'R&D',
    });
    await store.employees.update(created.id, { ...created, salaire: '4300.00' });
    const schema = declaredSchema(employesTable('employes-sync'));
    const at = '2024-01-02T03:04:05.000006Z';
    const row = (id: number, email: string, version: bigint): SyncedRow => ({
      id,
      version,
      origin: 'postgres',
      values: {
        nom: 'Martin', prenom: 'Paul', email, poste: 'Ops', salaire: '3100.00', department: 'R&D',
        date_embauche: at, created_at: at, updated_at: at,
      },
    });
    const plan = (version: bigint): ApplyPlan => ({
      schema,
      upserts: [row(-7, 'paul@example.fr', version)],
      deletes: [{ id: -8, version, origin: 'postgres' }],
      displaced: [],
      parkUnique: [],
      seen: new Map([
        [-7, version],
        [-8, version],
      ]),
      conflicts: [
        {
          table: 'employes',
          employeId: -7,
          kind: 'update',
          outcome: 'incoming-applied',
          policy: 'newer-wins',
          localVersion: version - 1n,
          localOrigin: 'mysql',
          incomingVersion: version,
          incomingOrigin: 'postgres',
          incomingRow: row(-7, 'paul@example.fr', version),
          eventId: '00000000-0000-4000-8000-000000000007',
        },
      ],
      deadLetters: [
        {
          stage: 'sink',
          table: 'employes',
          sourceKey: 'employes-sync:0:41@cluster/topic',
          source: { topic: 'employes-sync', partition: '0', offset: '41' },
          code: 'EMPSYNC_EVENT_INVALID',
          reason: 'not JSON',
          eventId: null,
          employeId: null,
          op: null,
          version: null,
          origin: null,
          payload: 'eA==',
          payloadEncoding: 'base64',
        },
      ],
      replayedDeadLetters: [],
      offsets: [{ topic: 'employes-sync', partition: 0, nextOffset: version }],
      logId: 'cluster/topic',
      consumerGroup: 'empsync-sink-mysql',
    });
    // Twice: the second batch takes every ON DUPLICATE KEY UPDATE branch.
    for (const version of [1_700_000_000_000_000n, 1_700_000_000_000_001n]) {
      await store.apply.transaction(async (tx) => {
        await tx.readState({
          table: 'employes',
          ids: [-7, -8],
          unique: [{ column: 'email', values: ['paul@example.fr'] }],
          offsets: { consumerGroup: 'empsync-sink-mysql', topic: 'employes-sync', partitions: [0] },
        });
        await tx.write(plan(version));
      });
    }

    assert.deepEqual(await store.employees.countByDepartment(), [{ department: 'R&D', count: 2 }]);
    assert.deepEqual(await store.deadLetters.count(), [{ stage: 'sink', parked: 1 }]);
    assert.equal((await store.deadLetters.list({ limit: 10 }))[0]?.seenCount, 2);
    assert.equal((await store.conflicts.list(10)).length, 2);
    assert.equal(await store.employees.countMatching({ search: 'dur' }), 1);
    assert.equal((await store.outbox.read(10)).length, 2, 'the API create and update were captured');
    assert.equal(
      (await store.apply.readOffsets('empsync-sink-mysql', 'employes-sync'))[0]?.nextOffset,
      1_700_000_000_000_001n,
    );
    assert.equal(await sessionMode(), mysql84SqlMode, 'every statement ran in the session set up above');
    // The mode bites here too: a column neither grouped nor aggregated is refused.
    await assert.rejects(
      sql`SELECT department, nom FROM employes GROUP BY department`.execute(store.db),
      /GROUP BY/,
    );
  });
});

/**
 * A socket that authenticates one account as MySQL 8.4 does with caching_sha2_password when its cache
 * holds no hash yet (the first login after the server started): "perform full authentication", then, on a
 * connection without TLS, the RSA public key on request and the password encrypted with it (RSA-OAEP).
 * It answers OK to any query. Protocol: https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
function fakeMysql84(password: string) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const seen = { keyRequests: 0, logins: 0, queries: [] as string[] };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const scramble = randomBytes(20).map((byte) => byte & 0x7f || 1);
    const send = (sequence: number, payload: Buffer) => {
      const header = Buffer.alloc(4);
      header.writeUIntLE(payload.length, 0, 3);
      header[3] = sequence;
      socket.write(Buffer.concat([header, payload]));
    };
    const ok = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
    const capabilities = 0x1 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000 | 0x200000;
    const greeting = Buffer.concat([
      Buffer.from([10]),
      Buffer.from('8.4.7\0'),
      Buffer.from([1, 0, 0, 0]),
      scramble.subarray(0, 8),
      Buffer.from([0]),
      Buffer.from([capabilities & 0xff, (capabilities >> 8) & 0xff, 255, 0x02, 0x00]),
      Buffer.from([(capabilities >> 16) & 0xff, (capabilities >> 24) & 0xff, 21]),
      Buffer.alloc(10),
      scramble.subarray(8),
      Buffer.from([0]),
      Buffer.from('caching_sha2_password\0'),
    ]);
    send(0, greeting);
    let state: 'response' | 'key-request' | 'password' | 'command' = 'response';
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUIntLE(0, 3)) {
        const length = pending.readUIntLE(0, 3);
        const sequence = pending[3]!;
        const payload = pending.subarray(4, 4 + length);
        pending = pending.subarray(4 + length);
        if (state === 'response') {
          send(sequence + 1, Buffer.from([0x01, 0x04])); // no cached hash: perform full authentication
          state = 'key-request';
        } else if (state === 'key-request') {
          assert.deepEqual([...payload], [0x02], 'the client asks for the public key');
          seen.keyRequests++;
          send(
            sequence + 1,
            Buffer.concat([
              Buffer.from([0x01]),
              Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })),
            ]),
          );
          state = 'password';
        } else if (state === 'password') {
          const xored = privateDecrypt(
            { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
            payload,
          );
          const clear = Buffer.from(xored.map((byte, index) => byte ^ scramble[index % scramble.length]!));
          if (clear.toString('utf8') === `${password}\0`) {
            seen.logins++;
            send(sequence + 1, ok);
            state = 'command';
          } else {
            send(
              sequence + 1,
              Buffer.concat([Buffer.from([0xff, 0x15, 0x04]), Buffer.from('#28000Access denied')]),
            );
            socket.end();
          }
        } else if (payload[0] === 0x03) {
          seen.queries.push(payload.subarray(1).toString('utf8'));
          send(1, ok);
        } else if (payload[0] === 0x01) {
          socket.end();
        }
      }
    });
  });
  return {
    seen,
    listen: () =>
      new Promise<number>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
      ),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('root logs in to MySQL 8.4 over plain TCP on a first start (caching_sha2_password)', () => {
  const config = testConfig('mysql_first_login');
  after(() => dropTestDatabases(config));

  it('ensureDatabases completes the full authentication by asking for the RSA key, then creates the database', async () => {
    const server = fakeMysql84('s3cret-root');
    const port = await server.listen();
    try {
      await ensureDatabases({
        MYSQL_URL: `mysql://root:s3cret-root@127.0.0.1:${port}/entreprise`,
        POSTGRES_URL: config.POSTGRES_URL,
      });
    } finally {
      await server.close();
    }
    assert.deepEqual(server.seen.keyRequests, 1);
    assert.deepEqual(server.seen.logins, 1);
    // Asked first (a role's own user may see the database, not create it), then created.
    assert.deepEqual(server.seen.queries, [
      "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'entreprise'",
      'CREATE DATABASE IF NOT EXISTS `entreprise` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin',
    ]);
  });

  it('the check bites: a wrong password is refused by the same exchange', async () => {
    const server = fakeMysql84('s3cret-root');
    const port = await server.listen();
    try {
      await assert.rejects(
        ensureDatabases(
          { MYSQL_URL: `mysql://root:other@127.0.0.1:${port}/entreprise`, POSTGRES_URL: config.POSTGRES_URL },
          { waitForMs: 1000 },
        ),
        /Access denied/,
      );
    } finally {
      await server.close();
    }
    assert.equal(server.seen.logins, 0);
  });
});
