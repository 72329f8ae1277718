// The fault suite's own servers do what its tests rely on: a private MariaDB and PostgreSQL keep every
// committed row through kill -9 and lose the uncommitted ones; restoring a dump undoes later changes,
// triggers included; a Kafka client behind the TCP proxy works, fails within its timeout once the proxy
// is cut, and works again once it heals; a broker killed with SIGKILL comes back with its topics, and
// a wiped one comes back empty with a new cluster id at the same address.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Admin } from '@platformatic/kafka';
import mysql from 'mysql2/promise';
import pg from 'pg';
import {
  dumpMariadb,
  dumpPostgres,
  killBroker,
  killPrivateDatabase,
  privateDatabase,
  restoreMariadb,
  restorePostgres,
  startBroker,
  startPrivateDatabase,
  stopBroker,
  stopPrivateDatabase,
  wipeAndStartBroker,
  type DatabaseEngine,
  type PrivateDatabase,
} from '../support/private-services.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/test-env.ts';

/** One connection, rows as arrays; errors of a connection the server dropped are expected here. */
interface SqlSession {
  query(statement: string): Promise<unknown[][]>;
  close(): Promise<void>;
}

async function connectMariadb(url: string): Promise<SqlSession> {
  const connection = await mysql.createConnection({ uri: url });
  connection.on('error', () => undefined);
  return {
    query: async (statement) =>
      (await connection.query({ sql: statement, rowsAsArray: true }))[0] as unknown[][],
    close: () => connection.end().catch(() => connection.destroy()),
  };
}

async function connectPostgres(url: string): Promise<SqlSession> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return {
    query: async (statement) =>
      (await client.query({ text: statement, rowMode: 'array' })).rows as unknown[][],
    close: () => client.end().catch(() => undefined),
  };
}

interface EngineCase {
  engine: DatabaseEngine;
  adminDatabase: string;
  connect(url: string): Promise<SqlSession>;
  /** Statements after CREATE TABLE kept_rows (id, label): an audit table filled by an insert trigger. */
  auditTrigger: string[];
  dump(database: string, file: string, server: PrivateDatabase): Promise<void>;
  restore(database: string, file: string, server: PrivateDatabase): Promise<void>;
}

const engineCases: EngineCase[] = [
  {
    engine: 'mariadb',
    adminDatabase: 'mysql',
    connect: connectMariadb,
    auditTrigger: [
      'CREATE TABLE audit (id INT)',
      'CREATE TRIGGER audit_insert AFTER INSERT ON kept_rows FOR EACH ROW INSERT INTO audit VALUES (NEW.id)',
    ],
    dump: dumpMariadb,
    restore: restoreMariadb,
  },
  {
    engine: 'postgres',
    adminDatabase: 'postgres',
    connect: connectPostgres,
    auditTrigger: [
      'CREATE TABLE audit (id int)',
      'CREATE FUNCTION audit_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NULL; END $$',
      'CREATE TRIGGER audit_insert AFTER INSERT ON kept_rows FOR EACH ROW EXECUTE FUNCTION audit_insert()',
    ],
    dump: dumpPostgres,
    restore: restorePostgres,
  },
];

const brokerOptions = { port: 19392, controllerPort: 19393 };
const kafkaTimeoutMs = 2000;
let proxy: TcpProxy | undefined;
let dumps: string | undefined;

/** A new empty database `name` on `server` with table kept_rows, and a session on it. */
async function freshDatabase(
  engineCase: EngineCase,
  server: PrivateDatabase,
  name: string,
): Promise<SqlSession> {
  const admin = await engineCase.connect(server.url(engineCase.adminDatabase));
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const session = await engineCase.connect(server.url(name));
  await session.query('CREATE TABLE kept_rows (id INT PRIMARY KEY, label VARCHAR(40))');
  return session;
}

/** Runs `use` with a new session on `url`, closed whatever happens. */
async function withSession<T>(
  engineCase: EngineCase,
  url: string,
  use: (session: SqlSession) => Promise<T>,
): Promise<T> {
  const session = await engineCase.connect(url);
  try {
    return await use(session);
  } finally {
    await session.close();
  }
}

describe('private services', () => {
  before(async () => {
    dumps = await mkdtemp(join(tmpdir(), 'empsync-private-services-'));
    proxy = await TcpProxy.start({ listenPort: 0, targetHost: '127.0.0.1', targetPort: brokerOptions.port });
    await Promise.all([
      ...engineCases.map(({ engine }) => startPrivateDatabase(privateDatabase(engine), { fresh: true })),
      startBroker({ ...brokerOptions, advertisedPort: proxy.port, fresh: true }),
    ]);
  });
  after(async () => {
    const results = await Promise.allSettled([
      ...engineCases.map(({ engine }) => stopPrivateDatabase(privateDatabase(engine))),
      stopBroker(brokerOptions),
      proxy?.close(),
      dumps && rm(dumps, { recursive: true, force: true }),
    ]);
    const failures = results.filter((result) => result.status === 'rejected');
    if (failures.length > 0)
      throw new AggregateError(
        failures.map((failure) => failure.reason),
        'clean-up failed',
      );
  });

  for (const engineCase of engineCases) {
    const server = privateDatabase(engineCase.engine);

    it(`${engineCase.engine}: kill -9 keeps the committed row and drops the uncommitted one`, async () => {
      const database = 'private_services_crash';
      const writer = await freshDatabase(engineCase, server, database);
      const open = await engineCase.connect(server.url(database));
      try {
        await writer.query("INSERT INTO kept_rows VALUES (1, 'committed')");
        await open.query('BEGIN');
        await open.query("INSERT INTO kept_rows VALUES (2, 'uncommitted')");
        await killPrivateDatabase(server);
        await assert.rejects(writer.query('SELECT 1'), 'the server is gone');
      } finally {
        await Promise.all([writer.close(), open.close()]);
      }
      await startPrivateDatabase(server);
      const rows = await withSession(engineCase, server.url(database), (reader) =>
        reader.query('SELECT id, label FROM kept_rows ORDER BY id'),
      );
      assert.deepEqual(rows, [[1, 'committed']]);
    });

    it(`${engineCase.engine}: restoring a dump undoes later changes, triggers included, and ends other sessions`, async () => {
      const database = 'private_services_restore';
      const file = join(dumps!, `${engineCase.engine}.dump`);
      const session = await freshDatabase(engineCase, server, database);
      try {
        for (const statement of engineCase.auditTrigger) await session.query(statement);
        await session.query("INSERT INTO kept_rows VALUES (1, 'dumped')");
        await engineCase.dump(database, file, server);
        await session.query("UPDATE kept_rows SET label = 'changed' WHERE id = 1");
        await session.query("INSERT INTO kept_rows VALUES (2, 'after the dump')");
        await engineCase.restore(database, file, server);
        await assert.rejects(session.query('SELECT 1'), 'the restore ends the sessions of the database');
      } finally {
        await session.close();
      }
      await withSession(engineCase, server.url(database), async (reader) => {
        assert.deepEqual(await reader.query('SELECT id, label FROM kept_rows ORDER BY id'), [[1, 'dumped']]);
        assert.deepEqual(await reader.query('SELECT id FROM audit ORDER BY id'), [[1]]);
        await reader.query("INSERT INTO kept_rows VALUES (3, 'after the restore')");
        assert.deepEqual(
          await reader.query('SELECT id FROM audit ORDER BY id'),
          [[1], [3]],
          'the trigger came back',
        );
      });
    });
  }

  it('Kafka through the TCP proxy: works, fails within its timeout when cut, works again when healed', async () => {
    const tcp = proxy!;
    const admin = proxiedAdmin(tcp);
    const metadata = () => admin.metadata({ topics: [], forceUpdate: true });
    try {
      const cluster = await waitFor('the broker to answer through the proxy', () => metadata(), 30_000);
      assert.deepEqual(
        [...cluster.brokers.values()].map(({ port }) => port),
        [tcp.port],
        'the broker advertises the proxy, so clients reach it only through the proxy',
      );
      assert.ok(tcp.counters.open > 0, 'the client connection goes through the proxy');

      tcp.cut();
      assert.equal(tcp.counters.open, 0);
      assert.ok(tcp.counters.reset > 0, 'the open connection was reset');
      // The call on the reset connection fails at once; the next one connects into the black hole and
      // can only time out.
      await assert.rejects(metadata());
      const cutAt = Date.now();
      await assert.rejects(metadata(), /timed out/i);
      const failedAfterMs = Date.now() - cutAt;
      assert.ok(failedAfterMs < kafkaTimeoutMs + 3000, `the call failed after ${failedAfterMs} ms`);
      assert.ok(tcp.counters.blackHoled > 0, 'the reconnection was black-holed');

      tcp.heal();
      const forwardedBefore = tcp.counters.forwarded;
      await waitFor('the broker to answer again through the healed proxy', () => metadata(), 15_000);
      assert.ok(tcp.counters.forwarded > forwardedBefore, 'a new connection was forwarded');
    } finally {
      await admin.close().catch(() => undefined);
    }
  });

  it('the broker comes back from kill -9 with its topics, and from a wipe empty with a new cluster id', async () => {
    const tcp = proxy!;
    const behindProxy = { ...brokerOptions, advertisedPort: tcp.port };
    const topic = 'private-services-kept';
    const admin = proxiedAdmin(tcp);
    const metadata = () => admin.metadata({ topics: [], forceUpdate: true });
    try {
      const { id } = await waitFor('the broker to answer', () => metadata(), 30_000);
      await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });

      await killBroker(behindProxy);
      await assert.rejects(metadata(), 'the broker is gone');
      await startBroker(behindProxy);
      const recovered = await waitFor('the restarted broker to answer', () => metadata(), 30_000);
      assert.equal(recovered.id, id, 'the same cluster');
      assert.ok((await admin.listTopics()).includes(topic), 'the topic survived the crash');

      await wipeAndStartBroker(behindProxy);
      // A new client: @platformatic/kafka keeps the cluster id of a client's first metadata for its lifetime.
      const wiped = await waitFor('the wiped broker to answer', async () => {
        const fresh = proxiedAdmin(tcp);
        try {
          return await fresh.metadata({ topics: [] });
        } finally {
          await fresh.close().catch(() => undefined);
        }
      });
      assert.notEqual(wiped.id, id, 'a new cluster');
      assert.deepEqual(
        [...wiped.brokers.values()].map(({ port }) => port),
        [tcp.port],
        'at the same address',
      );
      assert.ok(!(await admin.listTopics()).includes(topic), 'the new broker is empty');
    } finally {
      await admin.close().catch(() => undefined);
    }
  });
});

/** An Admin client that reaches the broker through `tcp`, failing after kafkaTimeoutMs without retries. */
function proxiedAdmin(tcp: TcpProxy): Admin {
  return new Admin({
    clientId: 'private-services-test',
    bootstrapBrokers: [`127.0.0.1:${tcp.port}`],
    connectTimeout: kafkaTimeoutMs,
    requestTimeout: kafkaTimeoutMs,
    timeout: kafkaTimeoutMs,
    retries: 0,
  });
}
