// What the Debezium comparison runs on: its sizes, its names (databases empsync_bench_dbz_*, topics
// and connectors empsync-bench-dbz-*), the services it starts through the project's scripts (the
// broker, the MariaDB with the binlog on 3307, the Connect worker) and the two databases it prepares,
// one per pipeline, on the same MariaDB and PostgreSQL servers.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { readSettings, type BenchSettings, type BenchTarget } from '../pipeline/bench-setup.ts';
import { RoleProcess } from '../pipeline/role-process.ts';

export const log = (line: string) => process.stderr.write(`[bench:debezium] ${line}\n`);

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const databasePrefix = 'empsync_bench_dbz_';
const namePrefix = 'empsync-bench-dbz';

/**
 * The pipeline bench's sizes (bench/pipeline/bench-setup.ts: BATCH_CHANGES, SINGLE_CHANGES, …) with
 * this bench's own defaults: one repeat under QUICK=1, a 500 changes/s latency phase.
 */
export function readDebeziumSettings(): BenchSettings {
  const settings = readSettings();
  const unset = (name: string) => (process.env[name] ?? '') === '';
  return {
    ...settings,
    repeats: unset('REPEATS') ? (settings.quick ? 1 : 3) : settings.repeats,
    batchChanges: unset('BATCH_CHANGES') ? (settings.quick ? 20_000 : 60_000) : settings.batchChanges,
    singleChanges: unset('SINGLE_CHANGES') ? (settings.quick ? 5_000 : 15_000) : settings.singleChanges,
    latencyRate: unset('LATENCY_RATE') ? 500 : settings.latencyRate,
    latencySeconds: unset('LATENCY_SECONDS') ? (settings.quick ? 10 : 20) : settings.latencySeconds,
  };
}

export interface DebeziumBenchNames {
  mysqlPort: number;
  connectUrl: string;
  brokers: string;
  /** Where empsync's relay and sink run: a database of the same name on both servers. */
  empsyncDatabase: string;
  /** Where Debezium captures and applies (same schema, no triggers). */
  debeziumDatabase: string;
  /** Topics, connectors and consumer groups of this run all start with it. */
  tag: string;
}

export function benchNames(): DebeziumBenchNames {
  return {
    mysqlPort: Number(process.env.MARIADB_BINLOG_PORT ?? 3307),
    connectUrl: `http://127.0.0.1:${process.env.DEBEZIUM_CONNECT_PORT ?? 8083}`,
    brokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    empsyncDatabase: `${databasePrefix}empsync`,
    debeziumDatabase: `${databasePrefix}debezium`,
    tag: `${namePrefix}-${process.pid}`,
  };
}

export const mysqlUrl = (names: DebeziumBenchNames, database: string) =>
  `mysql://root@127.0.0.1:${names.mysqlPort}/${database}`;
export const postgresUrl = (database: string) => `postgres://postgres@127.0.0.1:5432/${database}`;

/** The pipeline bench's target, pointed at the binlog server and this bench's own names. */
export function empsyncTarget(names: DebeziumBenchNames): BenchTarget {
  const database = names.empsyncDatabase;
  return {
    mysqlUrl: mysqlUrl(names, database),
    postgresUrl: postgresUrl(database),
    mysqlDatabase: database,
    postgresDatabase: database,
    topic: `${names.tag}-sync`,
    dlqTopic: `${names.tag}-sync.dlq`,
    groupPrefix: names.tag,
    brokers: names.brokers,
    captureDatabase: database,
    captureMysqlUrl: mysqlUrl(names, database),
    capturePostgresUrl: postgresUrl(database),
  };
}

/** Runs `bash scripts/<script> <command>` to its end, its output on stderr; resolves with the exit code. */
export async function runScript(script: string, command: string): Promise<number> {
  const child = spawn('bash', [`scripts/${script}`, command], {
    cwd: repositoryRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const forward = (chunk: Buffer) => process.stderr.write(chunk);
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}

export async function runScriptOrThrow(script: string, command: string): Promise<void> {
  const code = await runScript(script, command);
  if (code !== 0) throw new Error(`scripts/${script} ${command} exited with code ${code}`);
}

/** The pid a script wrote (the Connect worker, the binlog MariaDB), or -1. */
export function pidFromFile(relativePath: string): number {
  try {
    return Number(readFileSync(`${repositoryRoot}${relativePath}`, 'utf8').trim());
  } catch {
    return -1;
  }
}

/** Drops this bench's databases on the binlog MariaDB and on PostgreSQL (refuses any other name). */
export async function dropDatabases(names: DebeziumBenchNames): Promise<void> {
  const databases = [names.empsyncDatabase, names.debeziumDatabase];
  if (!databases.every((name) => name.startsWith(databasePrefix)))
    throw new Error(`refusing to drop a database outside ${databasePrefix}*`);
  const connection = await mysql.createConnection({ host: '127.0.0.1', port: names.mysqlPort, user: 'root' });
  try {
    for (const name of databases) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await connection.end();
  }
  const client = new pg.Client({ connectionString: postgresUrl('postgres') });
  await client.connect();
  try {
    for (const name of databases) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * Both databases get empsync's schema from its own `migrate` role, so the columns, types and indexes
 * of `employes` are the same for both pipelines. Debezium's then loses every trigger, on both
 * servers: it reads the binlog, and the capture triggers would write an outbox it never reads.
 */
export async function prepareDatabases(
  names: DebeziumBenchNames,
  env: Record<string, string>,
): Promise<void> {
  await RoleProcess.runToEnd('migrate', ['migrate'], env);
  await RoleProcess.runToEnd('migrate-debezium', ['migrate'], {
    ...env,
    MYSQL_URL: mysqlUrl(names, names.debeziumDatabase),
    POSTGRES_URL: postgresUrl(names.debeziumDatabase),
  });
  const connection = await mysql.createConnection(mysqlUrl(names, names.debeziumDatabase));
  try {
    const [triggers] = await connection.query('SHOW TRIGGERS');
    for (const { Trigger } of triggers as { Trigger: string }[])
      await connection.query(`DROP TRIGGER \`${Trigger}\``);
  } finally {
    await connection.end();
  }
  const client = new pg.Client({ connectionString: postgresUrl(names.debeziumDatabase) });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; relation: string }>(
      'SELECT tgname AS name, tgrelid::regclass::text AS relation FROM pg_trigger WHERE NOT tgisinternal',
    );
    for (const { name, relation } of rows) await client.query(`DROP TRIGGER "${name}" ON ${relation}`);
  } finally {
    await client.end();
  }
}
