// What the bench runs against: its own databases (empsync_bench_*) and topics (empsync-bench-*),
// never those of `npm start` or of the tests; the environment the role children get; the sizes of
// each phase (QUICK=1 cuts them about five times).
import mysql from 'mysql2/promise';
import pg from 'pg';

const databasePrefix = 'empsync_bench_';

export interface BenchSettings {
  quick: boolean;
  repeats: number;
  batchChanges: number;
  batchRows: number;
  batchConnections: number;
  singleChanges: number;
  singleConnections: number;
  latencyRate: number;
  latencySeconds: number;
  latencyConnections: number;
  latencyPollMs: number;
  upsertBatch: number;
  partitions: number;
}

const integer = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
};

export function readSettings(): BenchSettings {
  const quick = process.env.QUICK === '1' || process.env.QUICK === 'true';
  const scale = quick ? 5 : 1;
  return {
    quick,
    repeats: integer('REPEATS', 3),
    batchChanges: integer('BATCH_CHANGES', 60_000 / scale),
    batchRows: integer('BATCH_ROWS', 50),
    batchConnections: integer('BATCH_CONNECTIONS', 4),
    singleChanges: integer('SINGLE_CHANGES', 15_000 / scale),
    singleConnections: integer('SINGLE_CONNECTIONS', 8),
    latencyRate: integer('LATENCY_RATE', 1000),
    latencySeconds: integer('LATENCY_SECONDS', quick ? 5 : 20),
    latencyConnections: integer('LATENCY_CONNECTIONS', 8),
    latencyPollMs: integer('LATENCY_POLL_MS', 2),
    upsertBatch: integer('UPSERT_BATCH', 2000),
    partitions: integer('KAFKA_PARTITIONS', 6),
  };
}

export interface BenchTarget {
  mysqlUrl: string;
  postgresUrl: string;
  mysqlDatabase: string;
  postgresDatabase: string;
  topic: string;
  dlqTopic: string;
  groupPrefix: string;
  brokers: string;
  /** A second, migrated database that no relay reads: the commit rate with the capture triggers alone. */
  captureDatabase: string;
  captureMysqlUrl: string;
  capturePostgresUrl: string;
}

export function benchTarget(): BenchTarget {
  const database = `${databasePrefix}pipeline`;
  const tag = `empsync-bench-pipeline-${process.pid}`;
  return {
    mysqlUrl: `mysql://root@127.0.0.1:3306/${database}`,
    postgresUrl: `postgres://postgres@127.0.0.1:5432/${database}`,
    mysqlDatabase: database,
    postgresDatabase: database,
    topic: `${tag}-sync`,
    dlqTopic: `${tag}-sync.dlq`,
    groupPrefix: tag,
    brokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    captureDatabase: `${databasePrefix}capture`,
    captureMysqlUrl: `mysql://root@127.0.0.1:3306/${databasePrefix}capture`,
    capturePostgresUrl: `postgres://postgres@127.0.0.1:5432/${databasePrefix}capture`,
  };
}

/** The environment of every role child: the bench's stores and topics, quiet logs, defaults otherwise. */
export function roleEnvironment(target: BenchTarget, settings: BenchSettings): Record<string, string> {
  const passThrough = [
    'RELAY_BATCH_SIZE',
    'RELAY_POLL_INTERVAL_MS',
    'SINK_MAX_BATCH',
    'SINK_CONCURRENCY',
    'MYSQL_POOL_SIZE',
    'POSTGRES_POOL_SIZE',
    // Memory settings to compare (docs/benchmarks.md, "The bundle"): byte bounds, V8's heap growth, glibc's arenas.
    'SINK_MAX_BATCH_BYTES',
    'SINK_FETCH_MAX_BYTES',
    'RELAY_MAX_BATCH_BYTES',
    'HEAP_GROWING_PERCENT',
    'MALLOC_ARENA_MAX',
    'MALLOC_TRIM_THRESHOLD_',
  ];
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    MYSQL_URL: target.mysqlUrl,
    POSTGRES_URL: target.postgresUrl,
    KAFKA_BROKERS: target.brokers,
    KAFKA_TOPIC: target.topic,
    KAFKA_DLQ_TOPIC: target.dlqTopic,
    KAFKA_PARTITIONS: String(settings.partitions),
    SINK_GROUP_PREFIX: target.groupPrefix,
    ...Object.fromEntries(
      passThrough.filter((name) => process.env[name]).map((name) => [name, process.env[name]!]),
    ),
  };
}

/** Drops the bench databases (refuses any name outside the empsync_bench_ prefix). */
export async function dropBenchDatabases(target: BenchTarget): Promise<void> {
  const mysqlNames = [target.mysqlDatabase, target.captureDatabase];
  const postgresNames = [target.postgresDatabase, target.captureDatabase];
  if (![...mysqlNames, ...postgresNames].every((name) => name.startsWith(databasePrefix))) {
    throw new Error('refusing to drop a database that is not a bench database');
  }
  const connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
  try {
    for (const name of mysqlNames) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await connection.end();
  }
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  try {
    for (const name of postgresNames) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Plain copies of `employes` (same columns and indexes, no triggers) for the ceiling measurements. */
export async function createPlainTables(mysqlPool: mysql.Pool, postgres: pg.Client): Promise<void> {
  await mysqlPool.query('DROP TABLE IF EXISTS bench_plain');
  await mysqlPool.query('CREATE TABLE bench_plain LIKE employes'); // LIKE copies indexes, never triggers
  await postgres.query('DROP TABLE IF EXISTS bench_plain');
  await postgres.query(
    'CREATE TABLE bench_plain (LIKE employes INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING CONSTRAINTS)',
  );
}

export async function serverVersions(
  mysqlPool: mysql.Pool,
  postgres: pg.Client,
): Promise<{ mariadb: string; postgres: string }> {
  const [rows] = await mysqlPool.query('SELECT VERSION() AS v');
  const { rows: pgRows } = await postgres.query<{ v: string }>(
    "SELECT current_setting('server_version') AS v",
  );
  return { mariadb: String((rows as { v: string }[])[0]?.v), postgres: String(pgRows[0]?.v) };
}

/** One synthetic employee; `n` makes the email unique within the run. */
export function employeeValues(tag: string, n: number): [string, string, string, string, string, string] {
  return [
    `Nom${n}`,
    `Prenom${n}`,
    `${tag}.${n}@bench.example`,
    'Dev',
    (1000 + (n % 100_000) / 100).toFixed(2),
    `D${n % 7}`,
  ];
}
