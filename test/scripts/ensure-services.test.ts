// scripts/ensure-services.sh as `npm start` and `npm test` run it on a machine whose databases have
// stopped: both MariaDB and PostgreSQL are stopped for real, the script runs, and both must answer
// queries again (the README promises that the project's own scripts start what they need).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { waitFor } from '../support/test-env.ts';

const run = promisify(execFile);
const ensureServices = fileURLToPath(new URL('../../scripts/ensure-services.sh', import.meta.url));

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

async function newestPostgresCluster(): Promise<string> {
  const { stdout } = await run('bash', ['-c', 'ls /etc/postgresql | sort -V | tail -n 1']);
  return stdout.trim();
}

describe('ensure-services', () => {
  it('starts MariaDB and PostgreSQL again when both have stopped', async () => {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', await newestPostgresCluster(), 'main', 'stop']);
    await run('mysqladmin', ['--user=root', 'shutdown']);
    await waitFor(
      'MariaDB and PostgreSQL to stop',
      async () => !(await listening(3306)) && !(await listening(5432)),
      60_000,
    );

    const { stderr } = await run('bash', [ensureServices], { timeout: 120_000 });
    assert.match(stderr, /MariaDB is installed but stopped: starting it/);
    assert.match(stderr, /PostgreSQL is installed but stopped: starting it/);

    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    try {
      assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally {
      await client.end();
    }
    const connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
      assert.equal(rows[0]?.one, 1);
    } finally {
      await connection.end();
    }
  });
});
