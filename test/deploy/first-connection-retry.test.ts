// `migrate` on a clean Compose machine: the databases can report healthy a moment before they accept the
// connections of another container, and migrate runs once (restart: 'no'). ensureDatabases waits for them,
// within a bound, and then names the server it could not reach. Proven against the real MariaDB and
// PostgreSQL, reached through a TCP port that starts listening late.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { isEmpsyncError } from '../../src/errors.ts';
import { ensureDatabases } from '../../src/store/create-stores.ts';
import { freePort } from '../support/role-processes.ts';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';

/** After `delayMs`, listens on `port` and forwards every connection to 127.0.0.1:`target`. */
function lateProxy(port: number, target: number, delayMs: number) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  const timer = setTimeout(() => server.listen(port, '127.0.0.1'), delayMs);
  return {
    close: async () => {
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('ensureDatabases on a first start', () => {
  const config = testConfig('first_connection_retry');
  after(() => dropTestDatabases(config));

  it('waits for servers that start listening 2 s late, then creates both databases', async () => {
    await dropTestDatabases(config);
    const [mysqlPort, postgresPort] = [await freePort(), await freePort()];
    const proxies = [lateProxy(mysqlPort, 3306, 2000), lateProxy(postgresPort, 5432, 2000)];
    try {
      const mysqlUrl = new URL(config.MYSQL_URL);
      mysqlUrl.port = String(mysqlPort);
      const postgresUrl = new URL(config.POSTGRES_URL);
      postgresUrl.port = String(postgresPort);
      const started = Date.now();
      await ensureDatabases(
        { MYSQL_URL: mysqlUrl.toString(), POSTGRES_URL: postgresUrl.toString() },
        { waitForMs: 20_000 },
      );
      assert.ok(Date.now() - started >= 1900, 'it waited for the late servers');
    } finally {
      await Promise.all(proxies.map((proxy) => proxy.close()));
    }
    const connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
    const [rows] = await connection.query(
      'SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      ['empsync_test_first_connection_retry'],
    );
    await connection.end();
    assert.deepEqual(rows, [{ c: 'utf8mb4_bin' }]);
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      'empsync_test_first_connection_retry',
    ]);
    await client.end();
    assert.equal(rowCount, 1);
  });

  it('gives up after the bound with EMPSYNC_DEPENDENCY_UNAVAILABLE naming the server', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(
      ensureDatabases(
        { MYSQL_URL: `mysql://root@127.0.0.1:${port}/empsync_test_never`, POSTGRES_URL: config.POSTGRES_URL },
        { waitForMs: 1500 },
      ),
      (error: unknown) => {
        assert.ok(isEmpsyncError(error), String(error));
        assert.equal(error.code, 'EMPSYNC_DEPENDENCY_UNAVAILABLE');
        assert.match(
          error.message,
          new RegExp(
            `^MySQL is unreachable at 127\\.0\\.0\\.1:${port} \\(\\d+ attempts in 1\\.\\d s\\): .*ECONNREFUSED`,
          ),
        );
        assert.equal(error.details['dependency'], 'mysql');
        assert.ok(Number(error.details['attempts']) >= 3, 'it retried with backoff');
        return true;
      },
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1400 && elapsed < 4000, `gave up after the bound (${elapsed} ms)`);
  });

  it('does not wait on an error that waiting cannot cure (a refused login)', async () => {
    const started = Date.now();
    await assert.rejects(
      ensureDatabases(
        {
          MYSQL_URL: 'mysql://empsync_no_such_user:wrong@127.0.0.1:3306/empsync_test_never',
          POSTGRES_URL: config.POSTGRES_URL,
        },
        { waitForMs: 30_000 },
      ),
      (error: unknown) =>
        isEmpsyncError(error) && /^MySQL is unreachable at 127\.0\.0\.1:3306: .*denied/i.test(error.message),
    );
    assert.ok(Date.now() - started < 5000, 'failed at once');
  });
});
