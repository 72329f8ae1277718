// scripts/ensure-services.sh as `npm start` and `npm test` run it on a machine whose databases have
// stopped: a MariaDB and a PostgreSQL are stopped for real, the script runs, and both must answer
// queries again (the README promises that the project's own scripts start what they need). They are
// private servers (scripts/private-db.sh) on ports of their own: the machine's shared servers are never
// stopped; the script is pointed at them by its MYSQL_PORT, POSTGRES_PORT and EMPSYNC_*_START variables.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { privateDatabase, startPrivateDatabase, stopPrivateDatabase } from '../support/private-services.ts';

const run = promisify(execFile);
const ensureServices = fileURLToPath(new URL('../../scripts/ensure-services.sh', import.meta.url));
const privateDb = fileURLToPath(new URL('../../scripts/private-db.sh', import.meta.url));
const mariadb = privateDatabase('mariadb', 13316);
const postgres = privateDatabase('postgres', 15442);

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('connect', () => done(true)).once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

describe('ensure-services', () => {
  before(async () => {
    // Installed (a data directory each), then stopped.
    await Promise.all([
      startPrivateDatabase(mariadb, { fresh: true }),
      startPrivateDatabase(postgres, { fresh: true }),
    ]);
    await Promise.all([stopPrivateDatabase(mariadb), stopPrivateDatabase(postgres)]);
  });
  after(async () => {
    await Promise.all([stopPrivateDatabase(mariadb), stopPrivateDatabase(postgres)]);
  });

  it('starts MariaDB and PostgreSQL again when both have stopped', async () => {
    assert.equal(await listening(mariadb.port), false, 'MariaDB is stopped');
    assert.equal(await listening(postgres.port), false, 'PostgreSQL is stopped');

    const { stderr } = await run('bash', [ensureServices], {
      timeout: 120_000,
      env: {
        ...process.env,
        EMPSYNC_ENSURE_ONLY: 'databases',
        MYSQL_PORT: String(mariadb.port),
        POSTGRES_PORT: String(postgres.port),
        PRIVATE_MARIADB_PORT: String(mariadb.port),
        PRIVATE_POSTGRES_PORT: String(postgres.port),
        EMPSYNC_MARIADB_START: `bash '${privateDb}' mariadb start`,
        EMPSYNC_POSTGRES_START: `bash '${privateDb}' postgres start`,
      },
    });
    assert.match(stderr, /MariaDB is installed but stopped: starting it/);
    assert.match(stderr, /PostgreSQL is installed but stopped: starting it/);

    const client = new pg.Client({ connectionString: postgres.url('postgres') });
    await client.connect();
    try {
      assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally {
      await client.end();
    }
    const connection = await mysql.createConnection({ uri: mariadb.url('mysql') });
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
      assert.equal(rows[0]?.one, 1);
    } finally {
      await connection.end();
    }
  });
});
