// Shared set-up of the integration tests: a config pointing at test databases and test topics (never
// the `entreprise` databases of `npm start`), a quiet logger, and polling with a deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createStores, ensureDatabases, type Stores } from '../../src/store/create-stores.ts';
import { seedReadModel } from '../../bench/api/seed-read-model.ts';

/** A config for one test file: its own databases, topics and consumer groups, so files never share state. */
export function testConfig(name: string, overrides: Record<string, string> = {}): Config {
  const suffix = name.replace(/[^a-z0-9]/gi, '_').toLowerCase();
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    HTTP_PORT: '0',
    MYSQL_URL: `mysql://root@127.0.0.1:3306/empsync_test_${suffix}`,
    POSTGRES_URL: `postgres://postgres@127.0.0.1:5432/empsync_test_${suffix}`,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    KAFKA_TOPIC: `test-${suffix}-${process.pid}-sync`,
    KAFKA_DLQ_TOPIC: `test-${suffix}-${process.pid}-sync.dlq`,
    KAFKA_PARTITIONS: '3',
    SINK_GROUP_PREFIX: `test-${suffix}-${process.pid}`,
    RELAY_POLL_INTERVAL_MS: '50',
    ...overrides,
  });
}

export const quietLogger = (config: Config) => createLogger(config, 'test');

/** Polls `check` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let delay = 10; Date.now() < deadline; delay = Math.min(delay * 2, 250)) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(delay);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Drops the test databases of `config` so a test file starts from nothing (the role recreates them). */
export async function dropTestDatabases(config: Config): Promise<void> {
  const { databaseName } = await import('../../src/config.ts');
  const mysqlName = databaseName(config.MYSQL_URL);
  const postgresName = databaseName(config.POSTGRES_URL);
  if (!mysqlName.startsWith('empsync_test_') || !postgresName.startsWith('empsync_test_')) {
    throw new Error('refusing to drop a database that is not a test database');
  }
  const mysql = await import('mysql2/promise');
  const connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
  await connection.query(`DROP DATABASE IF EXISTS \`${mysqlName}\``);
  await connection.end();
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${postgresName}" WITH (FORCE)`);
  await client.end();
}

/**
 * Fresh test databases of `config` with the PostgreSQL read model migrated and filled with `rows`
 * synthetic employees (the bench's seed); `close` closes the stores and drops the databases.
 */
export async function seededStores(config: Config, rows: number): Promise<{ stores: Stores; close: () => Promise<void> }> {
  await dropTestDatabases(config);
  await ensureDatabases(config);
  const stores = createStores(config);
  await stores.postgres.migrate();
  await seedReadModel(config.POSTGRES_URL, rows);
  return {
    stores,
    close: async () => {
      await stores.postgres.close();
      await stores.mysql.close();
      await dropTestDatabases(config);
    },
  };
}
