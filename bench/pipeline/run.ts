// `npm run bench:pipeline`: throughput and latency of MariaDB → outbox → relay → Kafka → sink →
// PostgreSQL with the real relay and sink as child processes, next to the ceilings of the two
// databases measured in the same run; then the reverse direction, PostgreSQL → MariaDB (`relay
// postgres`, `sink mysql`), under `reverse`. JSON on stdout (and in bench/results/), a table on stderr.
// Sizes: QUICK=1 (about 5× smaller), REPEATS, BATCH_CHANGES, SINGLE_CHANGES, LATENCY_SECONDS, … (bench-setup.ts);
// PROFILE=1 makes the relay and sink children write CPU profiles; KAFKA_REQUESTS=1 counts their Kafka requests.
import { readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import {
  benchTarget,
  createPlainTables,
  dropBenchDatabases,
  readSettings,
  roleEnvironment,
  serverVersions,
  type BenchSettings,
  type BenchTarget,
} from './bench-setup.ts';
import {
  mysqlWriters,
  postgresWriters,
  writeAtRate,
  writeTransactions,
  type WriteLoad,
  type WriteResult,
  type WriterPool,
} from './mysql-writers.ts';
import { mysqlPresent, rowsFromPostgres, waitForRows } from './mysql-probes.ts';
import {
  appliedMessages,
  ArrivalWatcher,
  postgresPresent,
  upsertCeiling,
  waitForApplied,
  type PresentIds,
} from './postgres-probes.ts';
import { checkTargets, directionRows, printTable, processRow } from './report.ts';
import { readGauge } from './prometheus-text.ts';
import { RoleProcess } from './role-process.ts';
import {
  describeStages,
  lagFromHistogram,
  mysqlToPostgres,
  postgresToMysql,
  takeSnapshot,
  type Direction,
  type StageDescription,
} from './stage-snapshot.ts';
import { median, round, summarizeLatencies } from './statistics.ts';
import { publishReport } from '../results-file.ts';
import { empsyncEntry } from '../child-process.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** One direction of the pipeline: its children, where its writers write, how arrival is seen. */
interface Leg {
  settings: BenchSettings;
  direction: Direction;
  relay: RoleProcess;
  sink: RoleProcess;
  /** Sessions on the source store (its captured `employes`). */
  writers: WriterPool;
  /** A count in the destination that grows by one per change applied (stored offsets, or rows). */
  arrived(): Promise<number>;
  /** Polls until arrived() reaches `target`; resolves with performance.now() at that poll. */
  waitFor(target: number, options: { intervalMs: number; timeoutMs: number }): Promise<number>;
  /** Which ids the destination's `employes` holds (the latency probe). */
  present: PresentIds;
}

type Store = Direction['source'];
/** The writer's own figures, named after the store written (mysqlCommitP50Ms, postgresCommitP50Ms, …). */
type WriterFigures = Partial<
  Record<`${Store}${'WriteChangesPerSecond' | 'CommitP50Ms' | 'CommitP99Ms'}`, number>
>;

const writerFigures = (
  store: Store,
  writer: Pick<WriteResult, 'commitP50Ms' | 'commitP99Ms'>,
  rate?: number,
) =>
  ({
    ...(rate === undefined ? {} : { [`${store}WriteChangesPerSecond`]: rate }),
    [`${store}CommitP50Ms`]: writer.commitP50Ms,
    [`${store}CommitP99Ms`]: writer.commitP99Ms,
  }) as WriterFigures;

type ThroughputRun = {
  changes: number;
  seconds: number;
  changesPerSecond: number;
  drainAfterLastCommitMs: number;
  stages: StageDescription;
} & WriterFigures;

/** Writes `load` into the captured table and times first commit → every change applied in the destination. */
/** The single-row and 50-row loads every phase of both directions writes. */
function phaseLoads(settings: BenchSettings) {
  return {
    singleLoad: { changes: settings.singleChanges, rowsPerTransaction: 1, connections: settings.singleConnections },
    batchLoad: {
      changes: settings.batchChanges,
      rowsPerTransaction: settings.batchRows,
      connections: settings.batchConnections,
    },
  };
}

async function pipelineThroughput(leg: Leg, load: Omit<WriteLoad, 'table'>): Promise<ThroughputRun> {
  const { relay, sink, direction } = leg;
  const target0 = await leg.arrived();
  const before = await takeSnapshot(relay, sink, direction);
  const written = writeTransactions(leg.writers, { ...load, table: 'employes' });
  const appliedAt = await leg.waitFor(target0 + load.changes, {
    intervalMs: 10,
    timeoutMs: Math.max(120_000, load.changes * 2),
  });
  const writer = await written;
  const after = await takeSnapshot(relay, sink, direction);
  const seconds = (appliedAt - writer.startedAt) / 1000;
  return {
    changes: load.changes,
    seconds: round(seconds),
    changesPerSecond: round(load.changes / seconds, 0),
    ...writerFigures(direction.source, writer, writer.changesPerSecond),
    drainAfterLastCommitMs: round(appliedAt - writer.endedAt, 0),
    stages: describeStages(before, after, seconds),
  };
}

async function measureLatency(leg: Leg) {
  const { settings, relay, sink, direction } = leg;
  const applied0 = await leg.arrived();
  const watcher = new ArrivalWatcher(leg.present, settings.latencyPollMs);
  const before = await takeSnapshot(relay, sink, direction);
  watcher.start();
  const origin = performance.now();
  const writer = await writeAtRate(
    leg.writers,
    {
      rate: settings.latencyRate,
      seconds: settings.latencySeconds,
      connections: settings.latencyConnections,
      tag: direction.source === 'mysql' ? 'latency' : 'rlatency',
    },
    (commit) => watcher.expect(commit.id, commit.ackAt),
  );
  await watcher.drain(30_000);
  // The histogram counts an event when its batch commits: wait for every change so none is missed.
  await leg.waitFor(applied0 + writer.sent, { intervalMs: 10, timeoutMs: 30_000 });
  const after = await takeSnapshot(relay, sink, direction);
  const wallSeconds = (after.at - before.at) / 1000;
  return {
    rate: settings.latencyRate,
    seconds: settings.latencySeconds,
    changes: writer.sent,
    writerFellBehindMaxMs: writer.behindScheduleMaxMs,
    ...writerFigures(direction.source, writer),
    /** Commit acknowledged to the bench → row seen by a poll of the destination; exact up to the poll gap. */
    polled: {
      ...summarizeLatencies(watcher.latenciesMs),
      unseen: watcher.pending,
      pollGapMs: watcher.pollGaps(),
      perSecond: watcher.perSecond(origin),
    },
    /** The sink's empsync_end_to_end_lag_seconds (captured_at in the source → batch committed), bucket resolution. */
    sinkHistogram: lagFromHistogram(before, after),
    stages: describeStages(before, after, wallSeconds),
  };
}

/**
 * One database alone: `plain` writes the trigger-free copy through `pools.plain`, `captured` the
 * migrated table of a database no relay reads through `pools.captured`.
 */
async function commitCeiling(
  pools: { plain: WriterPool; captured: WriterPool },
  kind: 'plain' | 'captured',
  load: { changes: number; rowsPerTransaction: number; connections: number; tag: string },
) {
  const result =
    kind === 'plain'
      ? await writeTransactions(pools.plain, { ...load, table: 'bench_plain' })
      : await writeTransactions(pools.captured, { ...load, table: 'employes' });
  return {
    changes: result.changes,
    transactions: result.transactions,
    seconds: result.seconds,
    changesPerSecond: result.changesPerSecond,
    commitP50Ms: result.commitP50Ms,
    commitP99Ms: result.commitP99Ms,
  };
}

/** CPU seconds and peak RSS of a role child (read while it is still running). */
function processFigures(child: RoleProcess) {
  return {
    pid: child.pid,
    cpuSecondsTotal: round(child.cpuSeconds(), 2),
    peakRssMiB: round(child.memory().peakRssMiB, 1),
  };
}

/**
 * PostgreSQL → MariaDB with `relay postgres` and `sink mysql` as children (the forward children are
 * stopped by then): PostgreSQL's commit ceilings (trigger-free copy, and the captured table of the
 * database no relay reads), then the pipeline's throughput (first PostgreSQL commit → MariaDB holds
 * every row, polled by count of negative ids) and latency at `latencyRate`, like the forward phases.
 */
async function reversePhases(options: {
  settings: BenchSettings;
  startChild: (name: string, args: string[]) => Promise<RoleProcess>;
  mysqlPool: mysql.Pool;
  postgresPool: pg.Pool;
  capturePostgresPool: pg.Pool;
}) {
  const { settings, mysqlPool } = options;
  const relay = await options.startChild('relay-postgres', ['relay', 'postgres']);
  const sink = await options.startChild('sink-mysql', ['sink', 'mysql']);
  await relay.waitUntil((s) => readGauge(s, 'empsync_relay_active', 'store="postgres"') === 1);
  await sink.waitUntil((s) => readGauge(s, 'empsync_sink_up', 'store="mysql"') === 1);
  const writers = postgresWriters(options.postgresPool);
  const leg: Leg = {
    settings,
    direction: postgresToMysql,
    relay,
    sink,
    writers,
    arrived: () => rowsFromPostgres(mysqlPool),
    waitFor: (target, wait) => waitForRows(mysqlPool, target, wait),
    present: mysqlPresent(mysqlPool),
  };
  const pools = { plain: writers, captured: postgresWriters(options.capturePostgresPool) };

  log('reverse (PostgreSQL → MariaDB) warm-up: 2,000 changes');
  await pipelineThroughput(leg, { changes: 2000, rowsPerTransaction: 50, connections: 2, tag: 'rwarmup' });
  const ceilings = {
    singleRow: [] as number[],
    batch: [] as number[],
    capturedSingleRow: [] as number[],
    capturedBatch: [] as number[],
  };
  const ceilingRuns: unknown[] = [];
  const batchRuns: ThroughputRun[] = [];
  const singleRuns: ThroughputRun[] = [];
  const { singleLoad, batchLoad } = phaseLoads(settings);
  for (let rep = 1; rep <= settings.repeats; rep++) {
    log(`reverse repeat ${rep}/${settings.repeats}: PostgreSQL ceilings`);
    const single = await commitCeiling(pools, 'plain', { ...singleLoad, tag: `rc${rep}s` });
    const batch = await commitCeiling(pools, 'plain', { ...batchLoad, tag: `rc${rep}b` });
    const capturedSingle = await commitCeiling(pools, 'captured', { ...singleLoad, tag: `rk${rep}s` });
    const capturedBatch = await commitCeiling(pools, 'captured', { ...batchLoad, tag: `rk${rep}b` });
    ceilings.singleRow.push(single.changesPerSecond);
    ceilings.batch.push(batch.changesPerSecond);
    ceilings.capturedSingleRow.push(capturedSingle.changesPerSecond);
    ceilings.capturedBatch.push(capturedBatch.changesPerSecond);
    ceilingRuns.push({
      postgresSingleRow: single,
      postgresBatch: batch,
      postgresCapturedSingleRow: capturedSingle,
      postgresCapturedBatch: capturedBatch,
    });
    log(`reverse repeat ${rep}/${settings.repeats}: pipeline, ${settings.batchRows}-row transactions`);
    batchRuns.push(await pipelineThroughput(leg, { ...batchLoad, tag: `rp${rep}b` }));
    log(`  ${batchRuns.at(-1)!.changesPerSecond} changes/s`);
    log(`reverse repeat ${rep}/${settings.repeats}: pipeline, single-row transactions`);
    singleRuns.push(await pipelineThroughput(leg, { ...singleLoad, tag: `rp${rep}s` }));
    log(`  ${singleRuns.at(-1)!.changesPerSecond} changes/s`);
  }
  log(`reverse latency: ${settings.latencyRate} changes/s for ${settings.latencySeconds} s`);
  const latency = await measureLatency(leg);
  const processes = { relay: processFigures(relay), sink: processFigures(sink) };
  const medianOf = (runs: ThroughputRun[]) => median(runs.map((r) => r.changesPerSecond));
  const ratio = (runs: ThroughputRun[], ceiling: number[]) =>
    round(median(runs.map((r, i) => r.changesPerSecond / ceiling[i]!)), 3);
  return {
    pipelineConfig: {
      relay: `node ${empsyncEntry} relay postgres (child process)`,
      sink: `node ${empsyncEntry} sink mysql (child process)`,
    },
    ceilings: {
      medians: {
        postgresSingleRowPerSecond: median(ceilings.singleRow),
        postgresBatchPerSecond: median(ceilings.batch),
        postgresCapturedSingleRowPerSecond: median(ceilings.capturedSingleRow),
        postgresCapturedBatchPerSecond: median(ceilings.capturedBatch),
      },
      runs: ceilingRuns,
    },
    throughput: {
      batch: {
        rowsPerTransaction: settings.batchRows,
        connections: settings.batchConnections,
        medianChangesPerSecond: medianOf(batchRuns),
        ratioToPostgresBatchCeiling: ratio(batchRuns, ceilings.batch),
        ratioToCapturedBatchCeiling: ratio(batchRuns, ceilings.capturedBatch),
        runs: batchRuns,
      },
      singleRow: {
        connections: settings.singleConnections,
        medianChangesPerSecond: medianOf(singleRuns),
        ratioToPostgresSingleRowCeiling: ratio(singleRuns, ceilings.singleRow),
        ratioToCapturedSingleRowCeiling: ratio(singleRuns, ceilings.capturedSingleRow),
        runs: singleRuns,
      },
    },
    latency,
    /** The reverse children only (started for this direction): CPU over the reverse phases, peak RSS. */
    processes,
  };
}

function machineInfo(versions: { mariadb: string; postgres: string }, loadAverageAtStart: number[]) {
  // scripts/kafka.sh keeps each broker version in .cache/kafka/<version>/.
  const kafkaVersion = (() => {
    try {
      return (
        readdirSync(fileURLToPath(new URL('../../.cache/kafka/', import.meta.url))).find((e) =>
          /^\d+\.\d+/.test(e),
        ) ?? 'unknown'
      );
    } catch {
      return 'unknown';
    }
  })();
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    mariadb: versions.mariadb,
    postgres: versions.postgres,
    kafka: kafkaVersion,
    loadAverageAtStart: loadAverageAtStart.map((v) => round(v, 2)),
    loadAverageAtEnd: loadavg().map((v) => round(v, 2)),
  };
}

async function deleteKafkaState(target: BenchTarget, groups: string[]): Promise<void> {
  const admin = new Admin({ clientId: 'empsync-bench-cleanup', bootstrapBrokers: target.brokers.split(',') });
  try {
    await admin.deleteGroups({ groups }).catch(() => undefined);
    const existing = new Set(await admin.listTopics());
    const topics = [target.topic, target.dlqTopic].filter((t) => existing.has(t));
    if (topics.length) await admin.deleteTopics({ topics });
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  const target = benchTarget();
  const env = roleEnvironment(target, settings);
  const effective = loadConfig(env);
  const sinkGroup = `${target.groupPrefix}-postgres`;
  const reverseSinkGroup = `${target.groupPrefix}-mysql`;
  const started = new Date();
  const loadAverageAtStart = loadavg();
  log(
    `${settings.quick ? 'QUICK' : 'full'} run, ${settings.repeats} repeats; databases ${target.mysqlDatabase}, topic ${target.topic}`,
  );

  await dropBenchDatabases(target);
  await RoleProcess.runToEnd('migrate', ['migrate'], env);
  await RoleProcess.runToEnd('migrate-capture', ['migrate'], {
    ...env,
    MYSQL_URL: target.captureMysqlUrl,
    POSTGRES_URL: target.capturePostgresUrl,
  });
  const connectionLimit = Math.max(
    settings.batchConnections,
    settings.singleConnections,
    settings.latencyConnections,
  );
  const mysqlPool = mysql.createPool({ uri: target.mysqlUrl, connectionLimit });
  const capturePool = mysql.createPool({ uri: target.captureMysqlUrl, connectionLimit });
  const postgres = new pg.Client({ connectionString: target.postgresUrl });
  const poller = new pg.Client({ connectionString: target.postgresUrl });
  await Promise.all([postgres.connect(), poller.connect()]);
  // The reverse phases' writers (PostgreSQL is their source).
  const postgresPool = new pg.Pool({ connectionString: target.postgresUrl, max: connectionLimit });
  const capturePostgresPool = new pg.Pool({
    connectionString: target.capturePostgresUrl,
    max: connectionLimit,
  });
  await createPlainTables(mysqlPool, postgres);
  const versions = await serverVersions(mysqlPool, postgres);

  // PROFILE=1: the children write V8 CPU profiles (open in Chrome DevTools) when they stop.
  const profileDirectory = fileURLToPath(
    new URL(`../results/profiles-${started.toISOString().replace(/[:.]/g, '-')}/`, import.meta.url),
  );
  const nodeArgs = [
    ...(process.env.PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`] : []),
    // ROLE_NODE_OPTIONS: V8 flags for the roles (e.g. heap limits), to compare memory settings.
    ...(process.env.ROLE_NODE_OPTIONS ?? '').split(' ').filter(Boolean),
  ];
  // KAFKA_REQUESTS=1: the children count their Kafka requests by API (kafka-request-counter.ts).
  const countRequests = process.env.KAFKA_REQUESTS === '1';
  const counter = fileURLToPath(new URL('kafka-request-counter.ts', import.meta.url));
  const childSetup = (name: string) => ({
    env: countRequests
      ? { ...env, EMPSYNC_BENCH_KAFKA_COUNTS: join(tmpdir(), `empsync-bench-${process.pid}-${name}.json`) }
      : env,
    nodeArgs: countRequests ? [...nodeArgs, '--import', counter] : nodeArgs,
  });
  const children: RoleProcess[] = [];
  const startChild = async (name: string, args: string[]) => {
    const setup = childSetup(name);
    const child = await RoleProcess.start(name, args, setup.env, setup.nodeArgs);
    children.push(child);
    return child;
  };
  const relay = await startChild('relay', ['relay', 'mysql']);
  const sink = await startChild('sink', ['sink', 'postgres']);
  let cleaned = false;
  const cleanUp = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.allSettled(children.map((child) => child.stop()));
    for (const child of children) if (child.kafkaCountsFile) rmSync(child.kafkaCountsFile, { force: true });
    await Promise.allSettled([
      mysqlPool.end(),
      capturePool.end(),
      postgres.end(),
      poller.end(),
      postgresPool.end(),
      capturePostgresPool.end(),
    ]);
    await deleteKafkaState(target, [sinkGroup, reverseSinkGroup]).catch((error: unknown) =>
      log(`Kafka clean-up failed: ${String(error)}`),
    );
    if (process.env.KEEP_DATABASES !== '1') await dropBenchDatabases(target).catch(() => undefined);
  };
  process.once('SIGINT', () => {
    log('interrupted: stopping the children');
    void cleanUp().finally(() => process.exit(130));
  });

  try {
    await relay.waitUntil((s) => readGauge(s, 'empsync_relay_active', 'store="mysql"') === 1);
    await sink.waitUntil((s) => readGauge(s, 'empsync_sink_up', 'store="postgres"') === 1);
    const forward: Leg = {
      settings,
      direction: mysqlToPostgres,
      relay,
      sink,
      writers: mysqlWriters(mysqlPool),
      arrived: () => appliedMessages(postgres, sinkGroup, target.topic),
      waitFor: (goal, wait) => waitForApplied(poller, sinkGroup, target.topic, goal, wait),
      present: postgresPresent(poller),
    };
    const mysqlCeilingPools = { plain: mysqlWriters(mysqlPool), captured: mysqlWriters(capturePool) };

    log('warm-up: 2,000 changes through the pipeline');
    await pipelineThroughput(forward, {
      changes: 2000,
      rowsPerTransaction: 50,
      connections: 2,
      tag: 'warmup',
    });

    const ceilings = {
      mariadbSingleRow: [] as number[],
      mariadbBatch: [] as number[],
      capturedSingleRow: [] as number[],
      capturedBatch: [] as number[],
      postgresUpsert: [] as number[],
    };
    const ceilingRuns: unknown[] = [];
    const batchRuns: ThroughputRun[] = [];
    const singleRuns: ThroughputRun[] = [];
    for (let rep = 1; rep <= settings.repeats; rep++) {
      log(`repeat ${rep}/${settings.repeats}: ceilings`);
      const { singleLoad, batchLoad } = phaseLoads(settings);
      const single = await commitCeiling(mysqlCeilingPools, 'plain', { ...singleLoad, tag: `c${rep}s` });
      const batch = await commitCeiling(mysqlCeilingPools, 'plain', { ...batchLoad, tag: `c${rep}b` });
      const capturedSingle = await commitCeiling(mysqlCeilingPools, 'captured', {
        ...singleLoad,
        tag: `k${rep}s`,
      });
      const capturedBatch = await commitCeiling(mysqlCeilingPools, 'captured', {
        ...batchLoad,
        tag: `k${rep}b`,
      });
      const upsert = await upsertCeiling(postgres, {
        rows: settings.batchChanges,
        batch: settings.upsertBatch,
        firstId: rep * 10_000_000,
        tag: `c${rep}u`,
      });
      ceilings.mariadbSingleRow.push(single.changesPerSecond);
      ceilings.mariadbBatch.push(batch.changesPerSecond);
      ceilings.capturedSingleRow.push(capturedSingle.changesPerSecond);
      ceilings.capturedBatch.push(capturedBatch.changesPerSecond);
      ceilings.postgresUpsert.push(upsert.rowsPerSecond);
      ceilingRuns.push({
        mariadbSingleRow: single,
        mariadbBatch: batch,
        mariadbCapturedSingleRow: capturedSingle,
        mariadbCapturedBatch: capturedBatch,
        postgresUpsert: upsert,
      });

      log(`repeat ${rep}/${settings.repeats}: pipeline, ${settings.batchRows}-row transactions`);
      batchRuns.push(
        await pipelineThroughput(forward, {
          changes: settings.batchChanges,
          rowsPerTransaction: settings.batchRows,
          connections: settings.batchConnections,
          tag: `p${rep}b`,
        }),
      );
      log(`  ${batchRuns.at(-1)!.changesPerSecond} changes/s`);
      log(`repeat ${rep}/${settings.repeats}: pipeline, single-row transactions`);
      singleRuns.push(
        await pipelineThroughput(forward, {
          changes: settings.singleChanges,
          rowsPerTransaction: 1,
          connections: settings.singleConnections,
          tag: `p${rep}s`,
        }),
      );
      log(`  ${singleRuns.at(-1)!.changesPerSecond} changes/s`);
    }

    log(`latency: ${settings.latencyRate} changes/s for ${settings.latencySeconds} s`);
    const latency = await measureLatency(forward);
    const forwardProcesses = { relay: processFigures(relay), sink: processFigures(sink) };

    // The reverse direction runs with its own children only: the forward ones stop first.
    await Promise.all([relay.stop(), sink.stop()]);
    const reverse = await reversePhases({
      settings,
      startChild,
      mysqlPool,
      postgresPool,
      capturePostgresPool,
    });

    const [[mysqlCount]] = (await mysqlPool.query('SELECT COUNT(*) AS n FROM employes')) as unknown as [
      [{ n: number }],
    ];
    const { rows: pgCount } = await postgres.query<{ n: string }>('SELECT count(*) AS n FROM employes');
    const processes = {
      ...forwardProcesses,
      bench: {
        pid: process.pid,
        cpuSecondsTotal: round(
          Object.values(process.cpuUsage()).reduce((sum, micros) => sum + micros, 0) / 1e6,
          2,
        ),
        peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
      },
    };

    const medianOf = (runs: ThroughputRun[]) => median(runs.map((r) => r.changesPerSecond));
    const batchRate = medianOf(batchRuns);
    const singleRate = medianOf(singleRuns);
    const ceilingMedians = {
      mariadbSingleRowPerSecond: median(ceilings.mariadbSingleRow),
      mariadbBatchPerSecond: median(ceilings.mariadbBatch),
      mariadbCapturedSingleRowPerSecond: median(ceilings.capturedSingleRow),
      mariadbCapturedBatchPerSecond: median(ceilings.capturedBatch),
      postgresUpsertPerSecond: median(ceilings.postgresUpsert),
    };
    // Per-repeat ratios (pipeline / ceiling of the same repeat), then their median.
    const ratio = (runs: ThroughputRun[], ceiling: number[]) =>
      round(median(runs.map((r, i) => r.changesPerSecond / ceiling[i]!)), 3);
    const targets = checkTargets({ batchRate, singleRate, p99Ms: latency.polled.p99Ms });

    const result = {
      bench: 'pipeline',
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: machineInfo(versions, loadAverageAtStart),
      settings,
      pipelineConfig: {
        relay: `node ${empsyncEntry} relay mysql (child process)`,
        sink: `node ${empsyncEntry} sink postgres (child process)`,
        RELAY_BATCH_SIZE: effective.RELAY_BATCH_SIZE,
        RELAY_POLL_INTERVAL_MS: effective.RELAY_POLL_INTERVAL_MS,
        SINK_MAX_BATCH: effective.SINK_MAX_BATCH,
        KAFKA_PARTITIONS: effective.KAFKA_PARTITIONS,
        MYSQL_POOL_SIZE: effective.MYSQL_POOL_SIZE,
        POSTGRES_POOL_SIZE: effective.POSTGRES_POOL_SIZE,
      },
      ceilings: { medians: ceilingMedians, runs: ceilingRuns },
      throughput: {
        batch: {
          rowsPerTransaction: settings.batchRows,
          connections: settings.batchConnections,
          medianChangesPerSecond: batchRate,
          ratioToMariadbBatchCeiling: ratio(batchRuns, ceilings.mariadbBatch),
          ratioToCapturedBatchCeiling: ratio(batchRuns, ceilings.capturedBatch),
          ratioToPostgresUpsertCeiling: ratio(batchRuns, ceilings.postgresUpsert),
          runs: batchRuns,
        },
        singleRow: {
          connections: settings.singleConnections,
          medianChangesPerSecond: singleRate,
          ratioToMariadbSingleRowCeiling: ratio(singleRuns, ceilings.mariadbSingleRow),
          ratioToCapturedSingleRowCeiling: ratio(singleRuns, ceilings.capturedSingleRow),
          runs: singleRuns,
        },
      },
      latency,
      processes,
      reverse,
      converged: {
        mysqlRows: Number(mysqlCount.n),
        postgresRows: Number(pgCount[0]?.n),
        equal: Number(mysqlCount.n) === Number(pgCount[0]?.n),
      },
      targets,
    };

    const file = publishReport('pipeline', result, started);

    const forwardRows = directionRows({
      prefix: '',
      source: 'MariaDB',
      connections: { single: settings.singleConnections, batch: settings.batchConnections },
      ceilings: {
        single: ceilingMedians.mariadbSingleRowPerSecond,
        batch: ceilingMedians.mariadbBatchPerSecond,
        capturedSingle: ceilingMedians.mariadbCapturedSingleRowPerSecond,
        capturedBatch: ceilingMedians.mariadbCapturedBatchPerSecond,
      },
      batch: {
        rate: batchRate,
        ofPlain: result.throughput.batch.ratioToMariadbBatchCeiling,
        ofCaptured: result.throughput.batch.ratioToCapturedBatchCeiling,
      },
      singleRow: {
        rate: singleRate,
        ofPlain: result.throughput.singleRow.ratioToMariadbSingleRowCeiling,
        ofCaptured: result.throughput.singleRow.ratioToCapturedSingleRowCeiling,
      },
      latency,
      latencyNote: `ms at ${settings.latencyRate}/s (polled)`,
    });
    printTable('pipeline bench (medians of repeats)', [
      ...forwardRows.slice(0, 4),
      [
        'PostgreSQL upsert ceiling',
        ceilingMedians.postgresUpsertPerSecond,
        `rows/s, batches of ${settings.upsertBatch}`,
      ],
      ...forwardRows.slice(4),
      processRow('relay', processes.relay),
      processRow('sink', processes.sink),
      processRow('bench', processes.bench),
    ]);
    const back = reverse.ceilings.medians;
    const backBatch = reverse.throughput.batch;
    const backSingle = reverse.throughput.singleRow;
    printTable('PostgreSQL → MariaDB (relay postgres, sink mysql; medians of repeats)', [
      ...directionRows({
        prefix: 'reverse ',
        source: 'PostgreSQL',
        connections: { single: settings.singleConnections, batch: settings.batchConnections },
        ceilings: {
          single: back.postgresSingleRowPerSecond,
          batch: back.postgresBatchPerSecond,
          capturedSingle: back.postgresCapturedSingleRowPerSecond,
          capturedBatch: back.postgresCapturedBatchPerSecond,
        },
        batch: {
          rate: backBatch.medianChangesPerSecond,
          ofPlain: backBatch.ratioToPostgresBatchCeiling,
          ofCaptured: backBatch.ratioToCapturedBatchCeiling,
        },
        singleRow: {
          rate: backSingle.medianChangesPerSecond,
          ofPlain: backSingle.ratioToPostgresSingleRowCeiling,
          ofCaptured: backSingle.ratioToCapturedSingleRowCeiling,
        },
        latency: reverse.latency,
        latencyNote: `ms at ${settings.latencyRate}/s (polled in MariaDB)`,
      }),
      processRow('relay postgres', reverse.processes.relay),
      processRow('sink mysql', reverse.processes.sink),
    ]);
    printTable(
      'targets',
      targets.map((t) => [t.name, t.measured, `${t.target}: ${t.pass ? 'pass' : 'MISS'}`]),
    );
    log(`written to ${file}`);
    if (nodeArgs.length) log(`CPU profiles of the children in ${profileDirectory} (written when they stop)`);
  } finally {
    await cleanUp();
  }
}

await main();
