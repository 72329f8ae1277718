// `npm run bench:backfill`: the initial load and a bulk change at database speed, with the roles as
// deployed (one process each, so each one's memory is read apart).
//
// 1. snapshot MySQL → PostgreSQL: ROWS rows in MySQL, PostgreSQL empty; `relay mysql` and `sink postgres`
//    running; a backfill is requested and timed until PostgreSQL holds every row (`snapshotSeconds`,
//    target ≤ 20 s for 1,000,000 rows). The writes the snapshot made to the source are counted: the
//    outbox's AUTO_INCREMENT and the table's checksum before and after (target: none).
// 2. bulk update: `UPDATE employes SET salaire = salaire + 1` over every row in one MySQL transaction,
//    timed from its commit until PostgreSQL holds every new value (`bulkUpdateSeconds`, ≤ 30 s).
// 3. idle: the relay's and sink's resident memory after 15 s without work (`idleRssMiB`), beside their
//    footprint before it (`startRssMiB`).
// 4. snapshot PostgreSQL → MySQL: MySQL emptied; `relay postgres` and `sink mysql`; timed until MySQL
//    holds every row (`reverseSnapshotSeconds`, ≤ 30 s); PostgreSQL's writes counted from its statistics.
// Peak RSS of every role process (`peakRssMiB`, ceiling 200 MiB each).
//
// Environment: ROWS (default 1,000,000; QUICK=1: 100,000), ROLE_NODE_OPTIONS (V8 flags for the roles),
// WORKER_SETTINGS=compose (the workers' heap bounds and sink batch bytes from docker-compose.yml), and
// SINK_MAX_BATCH, SINK_MAX_BATCH_BYTES, SINK_CONCURRENCY, SINK_FETCH_MAX_BYTES, RELAY_BATCH_SIZE, BACKFILL_CHUNK_SIZE,
// KAFKA_PARTITIONS, IDLE_MEMORY_TRIM_MS, HEAP_GROWING_PERCENT and glibc's MALLOC_* tunables passed to the roles.
// Prints one JSON object on stdout, progress on stderr, and writes bench/results/backfill-<time>.json.
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '@platformatic/kafka';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.ts';
import { requestBackfill } from '../../src/relay/backfill.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { loadCompose } from '../../test/deploy/deploy-files.ts';
import { quietLogger } from '../../test/support/test-env.ts';
import { readGauge } from '../pipeline/prometheus-text.ts';
import { cpuSeconds, servicePids } from '../process-stats.ts';
import { RoleProcess } from '../pipeline/role-process.ts';
import { insertMysqlRows } from '../load-rows.ts';
import { publishReport } from '../results-file.ts';

const quick = process.env.QUICK === '1';
const rows = Number(process.env.ROWS ?? (quick ? 100_000 : 1_000_000));
const targets = { snapshotSeconds: 20, reverseSnapshotSeconds: 30, bulkUpdateSeconds: 30, peakRssMiB: 200 };
const database = 'empsync_bench_backfill';
const tag = `empsync-bench-backfill-${process.pid}`;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const env: Record<string, string> = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  MYSQL_URL: `mysql://root@127.0.0.1:3306/${database}`,
  POSTGRES_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
  KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
  KAFKA_TOPIC: `${tag}-sync`,
  KAFKA_DLQ_TOPIC: `${tag}-sync.dlq`,
  SINK_GROUP_PREFIX: tag,
  DRIFT_CHECK_INTERVAL_MS: '0',
  BACKFILL_ON_START: 'false',
  LOG_CHECK_INTERVAL_MS: '1000',
  // Settings to compare, passed through to the roles.
  ...Object.fromEntries(
    ['LOG_LEVEL', 'SINK_MAX_BATCH', 'SINK_MAX_BATCH_BYTES', 'SINK_CONCURRENCY', 'SINK_FETCH_MAX_BYTES', 'RELAY_BATCH_SIZE', 'BACKFILL_CHUNK_SIZE', 'KAFKA_PARTITIONS', 'IDLE_MEMORY_TRIM_MS', 'HEAP_GROWING_PERCENT', 'MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']
      .filter((name) => process.env[name])
      .map((name) => [name, process.env[name]!]),
  ),
};
// WORKER_SETTINGS=compose: the relays and sinks as docker-compose.yml runs them (heap bounds, sink batch bytes).
const composeWorkers = process.env.WORKER_SETTINGS === 'compose';
if (composeWorkers) {
  const services = loadCompose().services as Record<string, { environment?: Record<string, unknown> }>;
  const sink = services.sink?.environment ?? {};
  if (sink.SINK_MAX_BATCH_BYTES !== undefined) env.SINK_MAX_BATCH_BYTES = String(sink.SINK_MAX_BATCH_BYTES);
  if (sink.HEAP_GROWING_PERCENT !== undefined) env.HEAP_GROWING_PERCENT = String(sink.HEAP_GROWING_PERCENT);
  if (!process.env.ROLE_NODE_OPTIONS) process.env.ROLE_NODE_OPTIONS = String(sink.NODE_OPTIONS ?? '');
}
const nodeArgs = (process.env.ROLE_NODE_OPTIONS ?? '').split(' ').filter(Boolean);

async function count(running: RunningRole, store: 'mysql' | 'postgres'): Promise<number> {
  return running.stores[store].reconcile.count('employes');
}

/** The events a sink applied so far (every op), from its /metrics. */
async function appliedEvents(sink: RoleProcess): Promise<number> {
  let total = 0;
  for (const [series, value] of await sink.scrape()) if (series.startsWith('empsync_events_applied_total{')) total += value;
  return total;
}

/**
 * The seconds since `since` until `check` holds. The check reads the whole table (a COUNT, a SUM): run
 * every 100 ms it took PostgreSQL a large share of the CPU the pipeline was measured with (a COUNT of
 * 1,000,000 rows is tens of milliseconds). So the sink's applied-events counter is polled every 100 ms
 * and the check runs once `events` more are applied — or every 2 s regardless (an event the guard
 * skipped would leave the counter short). Fails after `timeoutMs`.
 */
async function timeUntil(
  what: string,
  since: number,
  sink: RoleProcess,
  events: number,
  check: () => Promise<boolean>,
  { everyPoll, timeoutMs = 600_000 }: { everyPoll?: () => Promise<void>; timeoutMs?: number } = {},
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const before = await appliedEvents(sink);
  let checkedAt = performance.now();
  for (;;) {
    await everyPoll?.();
    const applied = (await appliedEvents(sink)) - before >= events;
    if (applied || performance.now() - checkedAt >= 2000) {
      checkedAt = performance.now();
      if (await check()) return (performance.now() - since) / 1000;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function loadMysql(running: RunningRole): Promise<void> {
  const { mysql } = running.stores;
  if ((await count(running, 'mysql')) === rows) {
    log(`${rows} rows already in MySQL: kept`);
    return;
  }
  log(`loading ${rows} rows into MySQL (as the sink writes: not captured)`);
  await sql`TRUNCATE employes`.execute(mysql.db);
  await insertMysqlRows(mysql.db, rows);
  await sql`ANALYZE TABLE employes`.execute(mysql.db);
}

/** Empties a store's table, tombstones and outbox without capture (the state of a new, empty read model). */
async function empty(running: RunningRole, store: 'mysql' | 'postgres'): Promise<void> {
  const db = running.stores[store].db;
  if (store === 'mysql') {
    // MySQL's TRUNCATE fires no trigger: nothing is captured.
    for (const table of ['employes', 'sync_tombstones', 'sync_outbox']) await sql`TRUNCATE ${sql.table(table)}`.execute(db);
    return;
  }
  await db.transaction().execute(async (trx) => {
    await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
    await sql`TRUNCATE employes, sync_tombstones, sync_outbox`.execute(trx);
  });
}

/** What tells whether the source was written: MySQL's outbox counter and the table's checksum; PostgreSQL's statistics. */
async function sourceWrites(running: RunningRole, store: 'mysql' | 'postgres'): Promise<Record<string, number>> {
  const db = running.stores[store].db;
  if (store === 'mysql') {
    const { rows: outbox } = await sql<{ next: string | number | null }>`
      SELECT AUTO_INCREMENT AS next FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_outbox'`.execute(db);
    await sql`ANALYZE TABLE sync_outbox`.execute(db); // information_schema's AUTO_INCREMENT is refreshed by it
    const { rows: again } = await sql<{ next: string | number | null }>`
      SELECT AUTO_INCREMENT AS next FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_outbox'`.execute(db);
    const { rows: checksum } = await sql<{ Checksum: string | number }>`CHECKSUM TABLE employes`.execute(db);
    return { outboxNextSeq: Number(again[0]?.next ?? outbox[0]?.next ?? 0), tableChecksum: Number(checksum[0]?.Checksum ?? 0) };
  }
  await sql`SELECT pg_stat_force_next_flush()`.execute(db);
  const { rows: stats } = await sql<{ relname: string; writes: string | number }>`
    SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS writes FROM pg_stat_user_tables WHERE relname IN ('employes', 'sync_outbox')`.execute(db);
  return Object.fromEntries(stats.map((s) => [`${s.relname}Writes`, Number(s.writes)]));
}

function difference(before: Record<string, number>, after: Record<string, number>): number {
  return Object.keys(after).reduce((sum, key) => sum + (key === 'tableChecksum' ? Number(after[key] !== before[key]) : after[key]! - (before[key] ?? 0)), 0);
}

/** CPU seconds so far of the role processes and of each shared service. */
function cpuNow(roles: RoleProcess[]): Record<string, number> {
  const services = servicePids();
  const sum = (pids: number[]) => pids.map(cpuSeconds).filter(Number.isFinite).reduce((a, b) => a + b, 0);
  return {
    ...Object.fromEntries(roles.map((r) => [r.name, r.cpuSeconds()])),
    mariadb: sum(services.mariadb),
    postgres: sum(services.postgres),
    kafka: sum(services.kafka),
  };
}

/** CPU seconds each process spent between two readings. */
const cpuSpent = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).map((k) => [k, Math.round((after[k]! - (before[k] ?? 0)) * 100) / 100]));

async function startPair(relayStore: 'mysql' | 'postgres', sinkStore: 'mysql' | 'postgres'): Promise<[RoleProcess, RoleProcess]> {
  const relay = await RoleProcess.start(`relay-${relayStore}`, ['relay', relayStore], env, nodeArgs);
  const sink = await RoleProcess.start(`sink-${sinkStore}`, ['sink', sinkStore], env, nodeArgs);
  await relay.waitUntil((s) => readGauge(s, 'empsync_relay_active', `store="${relayStore}"`) === 1);
  await sink.waitUntil((s) => readGauge(s, 'empsync_sink_up', `store="${sinkStore}"`) === 1);
  return [relay, sink];
}

/**
 * Resident memory after 15 s of idleness: a role gives a burst's memory back after one idle interval
 * (IDLE_MEMORY_TRIM_MS, 5 s by default) seen whole by its 5-second check, so within 10 s.
 */
async function settledRss(role: RoleProcess): Promise<number> {
  await sleep(15_000);
  return role.memory().rssMiB;
}

async function main(): Promise<void> {
  const started = new Date();
  const config = loadConfig({ ...env, LOG_LEVEL: 'error', NODE_ENV: 'test' });
  // Databases, tables and topic made once by `migrate`; this process keeps its stores to load and count.
  const running = await startRole('migrate', { config, logger: quietLogger(config) });
  const peakRssMiB: Record<string, number> = {};
  const startRssMiB: Record<string, number> = {};
  const idleRssMiB: Record<string, number> = {};
  const keepPeak = (role: RoleProcess) => (peakRssMiB[role.name] = Math.max(peakRssMiB[role.name] ?? 0, role.memory().peakRssMiB));
  try {
    await loadMysql(running);
    await empty(running, 'postgres');
    await sql`DELETE FROM sync_backfill`.execute(running.stores.mysql.db);
    await sql`DELETE FROM sync_backfill`.execute(running.stores.postgres.db);

    // 1. MySQL → PostgreSQL.
    let [relay, sink] = await startPair('mysql', 'postgres');
    startRssMiB[relay.name] = relay.memory().rssMiB;
    startRssMiB[sink.name] = sink.memory().rssMiB;
    const mysqlBefore = await sourceWrites(running, 'mysql');
    log(`snapshot of ${rows} rows MySQL → PostgreSQL`);
    let cpu = cpuNow([relay, sink]);
    let t0 = performance.now();
    await requestBackfill(running.stores.mysql, ['employes'], { resume: false });
    let publishSeconds = 0;
    const snapshotSeconds = await timeUntil('PostgreSQL to hold every row', t0, sink, rows, async () => (await count(running, 'postgres')) === rows, {
      everyPoll: async () => {
        if (!publishSeconds && (await running.stores.mysql.outbox.snapshotRuns()).every((r) => r.done)) publishSeconds = (performance.now() - t0) / 1000;
      },
    });
    keepPeak(relay);
    keepPeak(sink);
    const cpuSecondsByPhase: Record<string, Record<string, number>> = { snapshot: cpuSpent(cpu, cpuNow([relay, sink])) };
    const mysqlWrites = difference(mysqlBefore, await sourceWrites(running, 'mysql'));
    log(`  ${snapshotSeconds.toFixed(2)} s (${Math.round(rows / snapshotSeconds)} rows/s; published in ${publishSeconds.toFixed(2)} s); writes to the source: ${mysqlWrites}`);

    // 2. One transaction updates every row in MySQL.
    log(`bulk update of ${rows} rows in one MySQL transaction`);
    cpu = cpuNow([relay, sink]);
    await sql`UPDATE employes SET salaire = salaire + 1`.execute(running.stores.mysql.db);
    t0 = performance.now();
    const { rows: sums } = await sql<{ total: string }>`SELECT CAST(SUM(salaire) AS CHAR) AS total FROM employes`.execute(running.stores.mysql.db);
    const expected = sums[0]!.total;
    const bulkUpdateSeconds = await timeUntil('PostgreSQL to hold every updated row', t0, sink, rows, async () => {
      const { rows: now } = await sql<{ total: string }>`SELECT SUM(salaire)::text AS total FROM employes`.execute(running.stores.postgres.db);
      return now[0]?.total === expected;
    });
    keepPeak(relay);
    keepPeak(sink);
    cpuSecondsByPhase.bulkUpdate = cpuSpent(cpu, cpuNow([relay, sink]));
    log(`  applied ${bulkUpdateSeconds.toFixed(2)} s after the commit`);

    // 3. Idle again.
    [idleRssMiB[relay.name], idleRssMiB[sink.name]] = await Promise.all([settledRss(relay), settledRss(sink)]);
    keepPeak(relay);
    keepPeak(sink);
    await Promise.all([relay.stop(), sink.stop()]);

    // 4. PostgreSQL → MySQL.
    await empty(running, 'mysql');
    [relay, sink] = await startPair('postgres', 'mysql');
    startRssMiB[relay.name] = relay.memory().rssMiB;
    startRssMiB[sink.name] = sink.memory().rssMiB;
    const postgresBefore = await sourceWrites(running, 'postgres');
    log(`snapshot of ${rows} rows PostgreSQL → MySQL`);
    cpu = cpuNow([relay, sink]);
    t0 = performance.now();
    await requestBackfill(running.stores.postgres, ['employes'], { resume: false });
    const reverseSnapshotSeconds = await timeUntil('MySQL to hold every row', t0, sink, rows, async () => (await count(running, 'mysql')) === rows);
    keepPeak(relay);
    keepPeak(sink);
    cpuSecondsByPhase.reverseSnapshot = cpuSpent(cpu, cpuNow([relay, sink]));
    // A session reports its statistics when it ends (or idle, within 10 s): the roles stop first.
    await Promise.all([relay.stop(), sink.stop()]);
    await sleep(1000);
    const postgresWrites = difference(postgresBefore, await sourceWrites(running, 'postgres'));
    log(`  ${reverseSnapshotSeconds.toFixed(2)} s (${Math.round(rows / reverseSnapshotSeconds)} rows/s); writes to the source: ${postgresWrites}`);

    const worstRss = Math.max(...Object.values(peakRssMiB));
    const report = {
      bench: 'backfill',
      startedAt: started.toISOString(),
      loadAverage: loadavg(),
      rows,
      settings: { workers: composeWorkers ? 'compose' : 'defaults', roleNodeOptions: nodeArgs.join(' '), sinkMaxBatchBytes: env.SINK_MAX_BATCH_BYTES ?? 'default' },
      snapshotSeconds,
      snapshotRowsPerSecond: rows / snapshotSeconds,
      snapshotPublishSeconds: publishSeconds,
      reverseSnapshotSeconds,
      reverseSnapshotRowsPerSecond: rows / reverseSnapshotSeconds,
      bulkUpdateSeconds,
      bulkUpdateRowsPerSecond: rows / bulkUpdateSeconds,
      sourceWritesBySnapshot: { mysql: mysqlWrites, postgres: postgresWrites },
      cpuSecondsByPhase,
      peakRssMiB,
      startRssMiB,
      idleRssMiB,
      targets,
      ratios: {
        snapshotSeconds: snapshotSeconds / targets.snapshotSeconds,
        reverseSnapshotSeconds: reverseSnapshotSeconds / targets.reverseSnapshotSeconds,
        bulkUpdateSeconds: bulkUpdateSeconds / targets.bulkUpdateSeconds,
        peakRssMiB: worstRss / targets.peakRssMiB,
      },
      verdict: {
        snapshot: snapshotSeconds <= targets.snapshotSeconds * (rows / 1_000_000) ? 'pass' : 'MISS',
        reverseSnapshot: reverseSnapshotSeconds <= targets.reverseSnapshotSeconds * (rows / 1_000_000) ? 'pass' : 'MISS',
        bulkUpdate: bulkUpdateSeconds <= targets.bulkUpdateSeconds * (rows / 1_000_000) ? 'pass' : 'MISS',
        noSourceWrites: mysqlWrites === 0 && postgresWrites === 0 ? 'pass' : 'MISS',
        peakRss: worstRss <= targets.peakRssMiB ? 'pass' : 'MISS',
      },
    };
    const file = publishReport('backfill', report, started);
    log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; written to ${file}`);
  } finally {
    await running.stop();
    const admin = new Admin({ clientId: 'bench-backfill', bootstrapBrokers: env.KAFKA_BROKERS!.split(',') });
    await admin.deleteTopics({ topics: [env.KAFKA_TOPIC!, env.KAFKA_DLQ_TOPIC!] }).catch(() => undefined);
    await admin.close();
  }
}

await main();
