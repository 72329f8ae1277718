// The measured phases, the same for both pipelines: a warm-up that also proves the pipeline caught
// up, a throughput run (first commit in MariaDB → last change visible in PostgreSQL) and a paced
// latency run (each commit → its row seen in PostgreSQL). Arrival is seen the same way for both:
// rows of PostgreSQL's `employes` above the highest id MariaDB held before the phase.
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import type { BenchSettings } from '../pipeline/bench-setup.ts';
import {
  writeAtRate,
  writeTransactions,
  type WriteLoad,
  type WriterPool,
} from '../pipeline/mysql-writers.ts';
import { ArrivalWatcher, postgresPresent } from '../pipeline/postgres-probes.ts';
import { round, summarizeLatencies } from '../pipeline/statistics.ts';
import { cpuSeconds, serviceCpu, serviceCpuDelta } from '../process-stats.ts';
import type { Pipeline } from './pipelines.ts';

export interface PhaseContext {
  pipeline: Pipeline;
  /** Sessions on the pipeline's MariaDB database. */
  writers: WriterPool;
  mysqlPool: mysql.Pool;
  /** A session on the pipeline's PostgreSQL database, polled for arrival. */
  poller: pg.Client;
  /** The binlog MariaDB (3307), the one source server of both pipelines. */
  mariadbPid: number;
}

async function highestMysqlId(pool: mysql.Pool): Promise<number> {
  const [rows] = await pool.query('SELECT COALESCE(MAX(id), 0) AS id FROM employes');
  return Number((rows as { id: number | string }[])[0]?.id ?? 0);
}

async function rowsAbove(client: pg.Client, id: number): Promise<number> {
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM employes WHERE id > $1', [
    id,
  ]);
  return Number(rows[0]?.n ?? 0);
}

/** Polls until PostgreSQL holds `target` rows above `baseline`; resolves with performance.now() at that poll. */
async function waitForRowsAbove(
  client: pg.Client,
  baseline: number,
  target: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const arrived = await rowsAbove(client, baseline);
    const seenAt = performance.now();
    if (arrived >= target) return seenAt;
    if (seenAt > deadline)
      throw new Error(`PostgreSQL holds ${arrived} of ${target} rows after the deadline`);
    await sleep(10);
  }
}

/** CPU seconds of the pipeline, the source MariaDB, PostgreSQL and the broker, and the load average. */
function resources(context: PhaseContext) {
  return {
    pipeline: context.pipeline.cpuSeconds(),
    mariadb: cpuSeconds(context.mariadbPid),
    services: serviceCpu(),
    loadAverage: loadavg().map((v) => round(v, 2)),
  };
}

function resourceDelta(before: ReturnType<typeof resources>, after: ReturnType<typeof resources>) {
  const services = serviceCpuDelta(before.services, after.services);
  return {
    cpuSeconds: {
      pipeline: round(after.pipeline - before.pipeline, 2),
      mariadbBinlogServer: round(after.mariadb - before.mariadb, 2),
      // Every PostgreSQL process of the machine, the other users' too.
      postgres: round(services.postgres, 2),
      kafkaBroker: round(services.kafka, 2),
    },
    loadAverageBefore: before.loadAverage,
    loadAverageAfter: after.loadAverage,
  };
}

/**
 * A few rows through the pipeline before a phase: the clock of the phase starts only once they are
 * in PostgreSQL, so whatever the pipeline had still to read (Debezium's binlog reader skipping the
 * other database's writes) is behind it.
 */
export async function warmUp(context: PhaseContext, tag: string, changes = 200): Promise<number> {
  const baseline = await highestMysqlId(context.mysqlPool);
  const started = performance.now();
  await writeTransactions(context.writers, {
    table: 'employes',
    changes,
    rowsPerTransaction: 10,
    connections: 2,
    tag,
  });
  await waitForRowsAbove(context.poller, baseline, changes, 120_000);
  return round(performance.now() - started, 0);
}

export interface ThroughputRun {
  changes: number;
  seconds: number;
  changesPerSecond: number;
  /** What MariaDB alone took from the writers meanwhile. */
  mariadbCommitChangesPerSecond: number;
  commitP50Ms: number;
  commitP99Ms: number;
  drainAfterLastCommitMs: number;
  warmUpMs: number;
  cpuSeconds: Record<string, number>;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
}

/** Writes `load` into the pipeline's `employes` and times first commit → every change visible in PostgreSQL. */
export async function throughputRun(
  context: PhaseContext,
  load: Omit<WriteLoad, 'table'>,
): Promise<ThroughputRun> {
  const warmUpMs = await warmUp(context, `${load.tag}w`);
  const baseline = await highestMysqlId(context.mysqlPool);
  const before = resources(context);
  const written = writeTransactions(context.writers, { ...load, table: 'employes' });
  const seenAt = await waitForRowsAbove(
    context.poller,
    baseline,
    load.changes,
    Math.max(120_000, load.changes * 5),
  );
  const writer = await written;
  const after = resources(context);
  const seconds = (seenAt - writer.startedAt) / 1000;
  return {
    changes: load.changes,
    seconds: round(seconds),
    changesPerSecond: round(load.changes / seconds, 0),
    mariadbCommitChangesPerSecond: writer.changesPerSecond,
    commitP50Ms: writer.commitP50Ms,
    commitP99Ms: writer.commitP99Ms,
    drainAfterLastCommitMs: round(seenAt - writer.endedAt, 0),
    warmUpMs,
    ...resourceDelta(before, after),
  };
}

/** Single-row autocommit inserts at `latencyRate` for `latencySeconds`; commit → row seen in PostgreSQL. */
export async function latencyRun(context: PhaseContext, settings: BenchSettings, tag: string) {
  const warmUpMs = await warmUp(context, `${tag}w`);
  const watcher = new ArrivalWatcher(postgresPresent(context.poller), settings.latencyPollMs);
  const before = resources(context);
  watcher.start();
  const writer = await writeAtRate(
    context.writers,
    {
      rate: settings.latencyRate,
      seconds: settings.latencySeconds,
      connections: settings.latencyConnections,
      tag,
    },
    (commit) => watcher.expect(commit.id, commit.ackAt),
  );
  await watcher.drain(60_000);
  const after = resources(context);
  return {
    rate: settings.latencyRate,
    seconds: settings.latencySeconds,
    changes: writer.sent,
    writerFellBehindMaxMs: writer.behindScheduleMaxMs,
    commitP50Ms: writer.commitP50Ms,
    commitP99Ms: writer.commitP99Ms,
    /** Commit acknowledged to the bench → row seen by a poll of PostgreSQL; exact up to the poll gap. */
    polled: {
      ...summarizeLatencies(watcher.latenciesMs),
      unseen: watcher.pending,
      pollGapMs: watcher.pollGaps(),
    },
    warmUpMs,
    ...resourceDelta(before, after),
  };
}

export type LatencyRun = Awaited<ReturnType<typeof latencyRun>>;
