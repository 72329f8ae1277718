// `npm run bench:pipeline`: throughput and latency of MariaDB → outbox → relay → Kafka → sink →
// PostgreSQL with the real relay and sink as child processes, next to the ceilings of the two
// databases measured in the same run. JSON on stdout (and in bench/results/), a table on stderr.
// Sizes: QUICK=1 (about 5× smaller), REPEATS, BATCH_CHANGES, SINGLE_CHANGES, LATENCY_SECONDS, … (bench-setup.ts);
// PROFILE=1 makes the relay and sink children write CPU profiles; KAFKA_REQUESTS=1 counts their Kafka requests.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
import { writeAtRate, writeTransactions, type WriteLoad } from './mysql-writers.ts';
import { appliedMessages, ArrivalWatcher, upsertCeiling, waitForApplied } from './postgres-probes.ts';
import { checkTargets, printTable } from './report.ts';
import { readGauge } from './prometheus-text.ts';
import { RoleProcess } from './role-process.ts';
import { describeStages, lagFromHistogram, takeSnapshot, type StageDescription } from './stage-snapshot.ts';
import { median, round, summarizeLatencies } from './statistics.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

interface Session {
  settings: BenchSettings;
  target: BenchTarget;
  mysqlPool: mysql.Pool;
  capturePool: mysql.Pool;
  postgres: pg.Client;
  poller: pg.Client;
  relay: RoleProcess;
  sink: RoleProcess;
  sinkGroup: string;
}

interface ThroughputRun {
  changes: number;
  seconds: number;
  changesPerSecond: number;
  mysqlWriteChangesPerSecond: number;
  mysqlCommitP50Ms: number;
  mysqlCommitP99Ms: number;
  drainAfterLastCommitMs: number;
  stages: StageDescription;
}

/** Writes `load` into the captured table and times first commit → every change applied in PostgreSQL. */
async function pipelineThroughput(session: Session, load: Omit<WriteLoad, 'table'>): Promise<ThroughputRun> {
  const { postgres, poller, mysqlPool, relay, sink, sinkGroup, target } = session;
  const target0 = await appliedMessages(postgres, sinkGroup, target.topic);
  const before = await takeSnapshot(relay, sink);
  const written = writeTransactions(mysqlPool, { ...load, table: 'employes' });
  const appliedAt = await waitForApplied(poller, sinkGroup, target.topic, target0 + load.changes, {
    intervalMs: 10,
    timeoutMs: Math.max(120_000, load.changes * 2),
  });
  const writer = await written;
  const after = await takeSnapshot(relay, sink);
  const seconds = (appliedAt - writer.startedAt) / 1000;
  return {
    changes: load.changes,
    seconds: round(seconds),
    changesPerSecond: round(load.changes / seconds, 0),
    mysqlWriteChangesPerSecond: writer.changesPerSecond,
    mysqlCommitP50Ms: writer.commitP50Ms,
    mysqlCommitP99Ms: writer.commitP99Ms,
    drainAfterLastCommitMs: round(appliedAt - writer.endedAt, 0),
    stages: describeStages(before, after, seconds),
  };
}

async function measureLatency(session: Session) {
  const { settings, postgres, poller, mysqlPool, relay, sink, sinkGroup, target } = session;
  const applied0 = await appliedMessages(postgres, sinkGroup, target.topic);
  const watcher = new ArrivalWatcher(poller, settings.latencyPollMs);
  const before = await takeSnapshot(relay, sink);
  watcher.start();
  const origin = performance.now();
  const writer = await writeAtRate(
    mysqlPool,
    {
      rate: settings.latencyRate,
      seconds: settings.latencySeconds,
      connections: settings.latencyConnections,
      tag: 'latency',
    },
    (commit) => watcher.expect(commit.id, commit.ackAt),
  );
  await watcher.drain(30_000);
  // The histogram counts an event when its batch commits: wait for the stored offsets so none is missed.
  await waitForApplied(postgres, sinkGroup, target.topic, applied0 + writer.sent, {
    intervalMs: 10,
    timeoutMs: 30_000,
  });
  const after = await takeSnapshot(relay, sink);
  const wallSeconds = (after.at - before.at) / 1000;
  return {
    rate: settings.latencyRate,
    seconds: settings.latencySeconds,
    changes: writer.sent,
    writerFellBehindMaxMs: writer.behindScheduleMaxMs,
    mysqlCommitP50Ms: writer.commitP50Ms,
    mysqlCommitP99Ms: writer.commitP99Ms,
    /** Commit acknowledged to the bench → row seen by a PostgreSQL poll; exact up to the poll gap. */
    polled: {
      ...summarizeLatencies(watcher.latenciesMs),
      unseen: watcher.pending,
      pollGapMs: watcher.pollGaps(),
      perSecond: watcher.perSecond(origin),
    },
    /** The sink's empsync_end_to_end_lag_seconds (captured_at in MariaDB → batch committed), bucket resolution. */
    sinkHistogram: lagFromHistogram(before, after),
    stages: describeStages(before, after, wallSeconds),
  };
}

/** MariaDB alone: `plain` writes the trigger-free copy, `captured` the migrated table of a database no relay reads. */
async function mysqlCeiling(
  session: Session,
  kind: 'plain' | 'captured',
  load: { changes: number; rowsPerTransaction: number; connections: number; tag: string },
) {
  const result =
    kind === 'plain'
      ? await writeTransactions(session.mysqlPool, { ...load, table: 'bench_plain' })
      : await writeTransactions(session.capturePool, { ...load, table: 'employes' });
  return {
    changes: result.changes,
    transactions: result.transactions,
    seconds: result.seconds,
    changesPerSecond: result.changesPerSecond,
    commitP50Ms: result.commitP50Ms,
    commitP99Ms: result.commitP99Ms,
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
  await createPlainTables(mysqlPool, postgres);
  const versions = await serverVersions(mysqlPool, postgres);

  // PROFILE=1: the children write V8 CPU profiles (open in Chrome DevTools) when they stop.
  const profileDirectory = fileURLToPath(
    new URL(`../results/profiles-${started.toISOString().replace(/[:.]/g, '-')}/`, import.meta.url),
  );
  const nodeArgs = process.env.PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`] : [];
  // KAFKA_REQUESTS=1: the children count their Kafka requests by API (kafka-request-counter.ts).
  const countRequests = process.env.KAFKA_REQUESTS === '1';
  const counter = fileURLToPath(new URL('kafka-request-counter.ts', import.meta.url));
  const childSetup = (name: string) => ({
    env: countRequests
      ? { ...env, EMPSYNC_BENCH_KAFKA_COUNTS: join(tmpdir(), `empsync-bench-${process.pid}-${name}.json`) }
      : env,
    nodeArgs: countRequests ? [...nodeArgs, '--import', counter] : nodeArgs,
  });
  const relaySetup = childSetup('relay');
  const sinkSetup = childSetup('sink');
  const relay = await RoleProcess.start('relay', ['relay', 'mysql'], relaySetup.env, relaySetup.nodeArgs);
  const sink = await RoleProcess.start('sink', ['sink', 'postgres'], sinkSetup.env, sinkSetup.nodeArgs);
  const children = [relay, sink];
  let cleaned = false;
  const cleanUp = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.allSettled(children.map((child) => child.stop()));
    for (const child of children) if (child.kafkaCountsFile) rmSync(child.kafkaCountsFile, { force: true });
    await Promise.allSettled([mysqlPool.end(), capturePool.end(), postgres.end(), poller.end()]);
    await deleteKafkaState(target, [sinkGroup]).catch((error: unknown) =>
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
    const session: Session = {
      settings,
      target,
      mysqlPool,
      capturePool,
      postgres,
      poller,
      relay,
      sink,
      sinkGroup,
    };

    log('warm-up: 2,000 changes through the pipeline');
    await pipelineThroughput(session, {
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
      const singleLoad = {
        changes: settings.singleChanges,
        rowsPerTransaction: 1,
        connections: settings.singleConnections,
      };
      const batchLoad = {
        changes: settings.batchChanges,
        rowsPerTransaction: settings.batchRows,
        connections: settings.batchConnections,
      };
      const single = await mysqlCeiling(session, 'plain', { ...singleLoad, tag: `c${rep}s` });
      const batch = await mysqlCeiling(session, 'plain', { ...batchLoad, tag: `c${rep}b` });
      const capturedSingle = await mysqlCeiling(session, 'captured', { ...singleLoad, tag: `k${rep}s` });
      const capturedBatch = await mysqlCeiling(session, 'captured', { ...batchLoad, tag: `k${rep}b` });
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
        await pipelineThroughput(session, {
          changes: settings.batchChanges,
          rowsPerTransaction: settings.batchRows,
          connections: settings.batchConnections,
          tag: `p${rep}b`,
        }),
      );
      log(`  ${batchRuns.at(-1)!.changesPerSecond} changes/s`);
      log(`repeat ${rep}/${settings.repeats}: pipeline, single-row transactions`);
      singleRuns.push(
        await pipelineThroughput(session, {
          changes: settings.singleChanges,
          rowsPerTransaction: 1,
          connections: settings.singleConnections,
          tag: `p${rep}s`,
        }),
      );
      log(`  ${singleRuns.at(-1)!.changesPerSecond} changes/s`);
    }

    log(`latency: ${settings.latencyRate} changes/s for ${settings.latencySeconds} s`);
    const latency = await measureLatency(session);

    const [[mysqlCount]] = (await mysqlPool.query('SELECT COUNT(*) AS n FROM employes')) as unknown as [
      [{ n: number }],
    ];
    const { rows: pgCount } = await postgres.query<{ n: string }>('SELECT count(*) AS n FROM employes');
    const memory = { relay: relay.memory(), sink: sink.memory() };
    const processes = {
      relay: {
        pid: relay.pid,
        cpuSecondsTotal: round(relay.cpuSeconds(), 2),
        peakRssMiB: round(memory.relay.peakRssMiB, 1),
      },
      sink: {
        pid: sink.pid,
        cpuSecondsTotal: round(sink.cpuSeconds(), 2),
        peakRssMiB: round(memory.sink.peakRssMiB, 1),
      },
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
        relay: 'node src/main.ts relay mysql (child process)',
        sink: 'node src/main.ts sink postgres (child process)',
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
      converged: {
        mysqlRows: Number(mysqlCount.n),
        postgresRows: Number(pgCount[0]?.n),
        equal: Number(mysqlCount.n) === Number(pgCount[0]?.n),
      },
      targets,
    };

    const text = `${JSON.stringify(result, null, 2)}\n`;
    process.stdout.write(text);
    const resultsDirectory = fileURLToPath(new URL('../results/', import.meta.url));
    mkdirSync(resultsDirectory, { recursive: true });
    const file = `${resultsDirectory}pipeline-${started.toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, text);

    printTable('pipeline bench (medians of repeats)', [
      [
        'MariaDB ceiling, 1-row tx',
        ceilingMedians.mariadbSingleRowPerSecond,
        `rows/s, ${settings.singleConnections} connections`,
      ],
      [
        'MariaDB ceiling, 50-row tx',
        ceilingMedians.mariadbBatchPerSecond,
        `rows/s, ${settings.batchConnections} connections`,
      ],
      [
        'MariaDB + triggers, 1-row tx',
        ceilingMedians.mariadbCapturedSingleRowPerSecond,
        'changes/s, no relay reading',
      ],
      [
        'MariaDB + triggers, 50-row tx',
        ceilingMedians.mariadbCapturedBatchPerSecond,
        'changes/s, no relay reading',
      ],
      [
        'PostgreSQL upsert ceiling',
        ceilingMedians.postgresUpsertPerSecond,
        `rows/s, batches of ${settings.upsertBatch}`,
      ],
      [
        'pipeline, 50-row tx',
        batchRate,
        `changes/s (×${result.throughput.batch.ratioToMariadbBatchCeiling} of plain, ×${result.throughput.batch.ratioToCapturedBatchCeiling} of triggers ceiling)`,
      ],
      [
        'pipeline, 1-row tx',
        singleRate,
        `changes/s (×${result.throughput.singleRow.ratioToMariadbSingleRowCeiling} of plain, ×${result.throughput.singleRow.ratioToCapturedSingleRowCeiling} of triggers ceiling)`,
      ],
      [
        'latency p50 / p99 / p99.9',
        `${latency.polled.p50Ms} / ${latency.polled.p99Ms} / ${latency.polled.p999Ms}`,
        `ms at ${settings.latencyRate}/s (polled)`,
      ],
      [
        'sink histogram p50 / p99 / p99.9',
        `${latency.sinkHistogram.p50Ms} / ${latency.sinkHistogram.p99Ms} / ${latency.sinkHistogram.p999Ms}`,
        'ms (bucket resolution)',
      ],
      ['relay CPU s / peak RSS MiB', `${processes.relay.cpuSecondsTotal} / ${processes.relay.peakRssMiB}`],
      ['sink CPU s / peak RSS MiB', `${processes.sink.cpuSecondsTotal} / ${processes.sink.peakRssMiB}`],
      ['bench CPU s / peak RSS MiB', `${processes.bench.cpuSecondsTotal} / ${processes.bench.peakRssMiB}`],
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
