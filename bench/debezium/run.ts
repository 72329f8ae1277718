// `npm run -s bench:debezium`: empsync's MariaDB → PostgreSQL pipeline (capture triggers → outbox →
// relay → Kafka → sink) against Debezium's (binlog → MariaDB source connector → Kafka → JDBC sink
// connector), the same workloads on the same MariaDB (a second server with the binlog on, 3307), the
// same PostgreSQL and the same broker, one pipeline at a time, alternating their order per repeat.
// JSON on stdout (and in bench/results/debezium-*.json), progress and a table on stderr.
// Sizes: QUICK=1 (one repeat, smaller phases), REPEATS, BATCH_CHANGES, SINGLE_CHANGES, LATENCY_RATE,
// LATENCY_SECONDS (bench/pipeline/bench-setup.ts, setup.ts); DBZ_* tune the connectors (connect-worker.ts).
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { roleEnvironment, type BenchSettings } from '../pipeline/bench-setup.ts';
import { mysqlWriters } from '../pipeline/mysql-writers.ts';
import { printTable } from '../pipeline/report.ts';
import { median, round } from '../pipeline/statistics.ts';
import { publishReport } from '../results-file.ts';
import { empsyncEntry } from '../child-process.ts';
import { ConnectWorker, debeziumConnectors } from './connect-worker.ts';
import {
  latencyRun,
  throughputRun,
  warmUp,
  type LatencyRun,
  type PhaseContext,
  type ThroughputRun,
} from './phases.ts';
import { DebeziumPipeline, EmpsyncPipeline, type Pipeline } from './pipelines.ts';
import {
  benchNames,
  dropDatabases,
  empsyncTarget,
  log,
  mysqlUrl,
  pidFromFile,
  postgresUrl,
  prepareDatabases,
  readDebeziumSettings,
  runScript,
  runScriptOrThrow,
  type DebeziumBenchNames,
} from './setup.ts';

/** Clean-up steps, run once, last registered first, whatever happened before. */
class CleanUp {
  readonly #steps: { name: string; run: () => Promise<unknown> }[] = [];
  #done: Promise<void> | undefined;

  push(name: string, run: () => Promise<unknown>): void {
    this.#steps.push({ name, run });
  }

  run(): Promise<void> {
    this.#done ??= (async () => {
      for (const step of this.#steps.reverse()) {
        await step.run().catch((error: unknown) => log(`clean-up "${step.name}" failed: ${String(error)}`));
      }
    })();
    return this.#done;
  }
}

/** Starts a service with its script unless it already runs; registers its stop only if this run started it. */
async function ensureService(
  cleanUp: CleanUp,
  service: { script: string; status: string; start: string; stop: string; name: string },
): Promise<boolean> {
  const wasRunning = (await runScript(service.script, service.status)) === 0;
  await runScriptOrThrow(service.script, service.start);
  if (!wasRunning) cleanUp.push(`stop ${service.name}`, () => runScript(service.script, service.stop));
  return !wasRunning;
}

/** Deletes this run's topics and consumer groups (all named after names.tag). */
async function deleteKafkaState(names: DebeziumBenchNames): Promise<void> {
  const admin = new Admin({ clientId: `${names.tag}-cleanup`, bootstrapBrokers: names.brokers.split(',') });
  const ours = (name: string) => name.startsWith(names.tag) || name.startsWith(`connect-${names.tag}`);
  try {
    const groups = [...(await admin.listGroups()).keys()].filter(ours);
    if (groups.length) await admin.deleteGroups({ groups }).catch(() => undefined);
    const topics = (await admin.listTopics()).filter(ours);
    if (topics.length) await admin.deleteTopics({ topics });
    log(`deleted ${topics.length} topics and ${groups.length} consumer groups named ${names.tag}*`);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** Rows in both stores of one pipeline's database, and whether they hold the same ids and values. */
async function convergence(context: PhaseContext) {
  const [rows] = await context.mysqlPool.query(
    'SELECT COUNT(*) AS n, COALESCE(SUM(id), 0) AS ids, COALESCE(SUM(salaire), 0) AS salaries FROM employes',
  );
  const mariadb = (rows as { n: number; ids: string; salaries: string }[])[0]!;
  const { rows: pgRows } = await context.poller.query<{ n: string; ids: string; salaries: string }>(
    'SELECT count(*) AS n, COALESCE(sum(id), 0) AS ids, COALESCE(sum(salaire), 0) AS salaries FROM employes',
  );
  const postgres = pgRows[0]!;
  return {
    mariadbRows: Number(mariadb.n),
    postgresRows: Number(postgres.n),
    equal:
      Number(mariadb.n) === Number(postgres.n) &&
      String(mariadb.ids) === String(postgres.ids) &&
      Number(mariadb.salaries) === Number(postgres.salaries),
  };
}

const pomProperty = (pom: string, name: string) =>
  new RegExp(`<${name}>([^<]+)</${name}>`).exec(
    readFileSync(fileURLToPath(new URL(`../../${pom}`, import.meta.url)), 'utf8'),
  )?.[1] ?? 'unknown';

interface PipelineRuns {
  batch: ThroughputRun[];
  singleRow: ThroughputRun[];
  latency: LatencyRun[];
}

/** Medians of one phase for both pipelines, and empsync ÷ Debezium per repeat, then its median. */
function throughputSummary(empsync: ThroughputRun[], debezium: ThroughputRun[]) {
  const rate = (runs: ThroughputRun[]) => median(runs.map((r) => r.changesPerSecond));
  return {
    empsync: { medianChangesPerSecond: rate(empsync), runs: empsync },
    debezium: { medianChangesPerSecond: rate(debezium), runs: debezium },
    ratioEmpsyncToDebezium: round(
      median(empsync.map((run, i) => run.changesPerSecond / debezium[i]!.changesPerSecond)),
      3,
    ),
  };
}

function latencySummary(empsync: LatencyRun[], debezium: LatencyRun[]) {
  const medians = (runs: LatencyRun[]) => ({
    p50Ms: median(runs.map((r) => r.polled.p50Ms)),
    p99Ms: median(runs.map((r) => r.polled.p99Ms)),
    p999Ms: median(runs.map((r) => r.polled.p999Ms)),
  });
  const [e, d] = [medians(empsync), medians(debezium)];
  return {
    empsync: { ...e, runs: empsync },
    debezium: { ...d, runs: debezium },
    /** Below 1: empsync's changes arrive sooner. */
    ratioEmpsyncToDebezium: { p50: round(e.p50Ms / d.p50Ms, 3), p99: round(e.p99Ms / d.p99Ms, 3) },
  };
}

/** Changes sent through a pipeline each time it starts, before its first measured phase. */
const warmUpChanges = Number(process.env.WARMUP_CHANGES || 5000);

async function measure(settings: BenchSettings, contexts: PhaseContext[]) {
  const runs = new Map<Pipeline['name'], PipelineRuns>(
    contexts.map((c) => [c.pipeline.name, { batch: [], singleRow: [], latency: [] }]),
  );
  for (let rep = 1; rep <= settings.repeats; rep++) {
    // Alternating the order spreads a drift of the machine (the other users' load) over both.
    const order = rep % 2 === 1 ? contexts : [...contexts].reverse();
    for (const context of order) {
      const { pipeline } = context;
      const mine = runs.get(pipeline.name)!;
      const tag = `${pipeline.name.slice(0, 3)}${rep}`;
      log(`repeat ${rep}/${settings.repeats}: starting ${pipeline.name}`);
      await pipeline.start();
      try {
        // Past the JIT compilers of both runtimes (V8, the JVM), not only past start-up.
        const warmUpMs = await warmUp(context, `${tag}w`, warmUpChanges);
        log(`  ${pipeline.name}: warm-up, ${warmUpChanges} changes through in ${warmUpMs} ms`);
        log(`  ${pipeline.name}: ${settings.batchChanges} changes in ${settings.batchRows}-row transactions`);
        mine.batch.push(
          await throughputRun(context, {
            changes: settings.batchChanges,
            rowsPerTransaction: settings.batchRows,
            connections: settings.batchConnections,
            tag: `${tag}b`,
          }),
        );
        log(`    ${mine.batch.at(-1)!.changesPerSecond} changes/s`);
        log(`  ${pipeline.name}: ${settings.singleChanges} single-row transactions`);
        mine.singleRow.push(
          await throughputRun(context, {
            changes: settings.singleChanges,
            rowsPerTransaction: 1,
            connections: settings.singleConnections,
            tag: `${tag}s`,
          }),
        );
        log(`    ${mine.singleRow.at(-1)!.changesPerSecond} changes/s`);
        log(
          `  ${pipeline.name}: latency at ${settings.latencyRate} changes/s for ${settings.latencySeconds} s`,
        );
        mine.latency.push(await latencyRun(context, settings, `${tag}l`));
        const { polled } = mine.latency.at(-1)!;
        log(`    p50 ${polled.p50Ms} ms, p99 ${polled.p99Ms} ms, p99.9 ${polled.p999Ms} ms`);
      } finally {
        await pipeline.stop();
      }
    }
  }
  const empsync = runs.get('empsync')!;
  const debezium = runs.get('debezium')!;
  return {
    batch: {
      rowsPerTransaction: settings.batchRows,
      connections: settings.batchConnections,
      ...throughputSummary(empsync.batch, debezium.batch),
    },
    singleRow: {
      connections: settings.singleConnections,
      ...throughputSummary(empsync.singleRow, debezium.singleRow),
    },
    latency: {
      rate: settings.latencyRate,
      seconds: settings.latencySeconds,
      connections: settings.latencyConnections,
      ...latencySummary(empsync.latency, debezium.latency),
    },
  };
}

async function main(): Promise<void> {
  const settings = readDebeziumSettings();
  const names = benchNames();
  const env = roleEnvironment(empsyncTarget(names), settings);
  const effective = loadConfig(env);
  const started = new Date();
  const loadAverageAtStart = loadavg().map((v) => round(v, 2));
  log(`${settings.quick ? 'QUICK' : 'full'} run, ${settings.repeats} repeats; tag ${names.tag}`);

  const cleanUp = new CleanUp();
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void cleanUp.run().finally(() => process.exit(code));
    });
  }

  try {
    const startedBroker = await ensureService(cleanUp, {
      name: 'the Kafka broker',
      script: 'kafka.sh',
      status: 'status',
      start: 'start',
      stop: 'stop',
    });
    const startedMariadb = await ensureService(cleanUp, {
      name: 'the binlog MariaDB',
      script: 'debezium.sh',
      status: 'mariadb-status',
      start: 'mariadb-start',
      stop: 'mariadb-stop',
    });
    if (process.env.KEEP_DATABASES !== '1') cleanUp.push('drop the databases', () => dropDatabases(names));
    await dropDatabases(names);
    log(`migrating both databases with empsync (node ${empsyncEntry} migrate)`);
    await prepareDatabases(names, env);
    cleanUp.push('delete the Kafka topics and groups', () => deleteKafkaState(names));
    const startedWorker = await ensureService(cleanUp, {
      name: 'the Connect worker',
      script: 'debezium.sh',
      status: 'status',
      start: 'start',
      stop: 'stop',
    });

    const worker = new ConnectWorker(names.connectUrl);
    const connectors = debeziumConnectors(names);
    const workerPid = () => pidFromFile(`.cache/debezium/run-${new URL(names.connectUrl).port}/connect.pid`);
    const debezium = new DebeziumPipeline(names.debeziumDatabase, worker, connectors, workerPid);
    cleanUp.push('delete the connectors', () => debezium.remove());
    const empsync = new EmpsyncPipeline(names.empsyncDatabase, env);
    cleanUp.push('stop the empsync children', () => empsync.stop());

    const connections = Math.max(
      settings.batchConnections,
      settings.singleConnections,
      settings.latencyConnections,
    );
    const contexts: PhaseContext[] = [];
    for (const pipeline of [empsync, debezium]) {
      const mysqlPool = mysql.createPool({
        uri: mysqlUrl(names, pipeline.database),
        connectionLimit: connections,
      });
      const poller = new pg.Client({ connectionString: postgresUrl(pipeline.database) });
      await poller.connect();
      cleanUp.push(`close the ${pipeline.name} sessions`, () => Promise.all([mysqlPool.end(), poller.end()]));
      contexts.push({
        pipeline,
        writers: mysqlWriters(mysqlPool),
        mysqlPool,
        poller,
        mariadbPid: pidFromFile('.cache/mariadb-binlog/mariadbd.pid'),
      });
    }

    const phases = await measure(settings, contexts);

    const [versionRows] = await contexts[0]!.mysqlPool.query('SELECT VERSION() AS v');
    const { rows: pgVersion } = await contexts[0]!.poller.query<{ v: string }>(
      "SELECT current_setting('server_version') AS v",
    );
    const plugins = await worker.plugins();
    const result = {
      bench: 'debezium',
      command: `${settings.quick ? 'QUICK=1 ' : ''}npm run -s bench:debezium`,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        nproc: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 2 ** 30, 1),
        node: process.version,
        loadAverageAtStart,
        loadAverageAtEnd: loadavg().map((v) => round(v, 2)),
      },
      versions: {
        mariadbBinlogServer: String((versionRows as { v: string }[])[0]?.v),
        postgres: String(pgVersion[0]?.v),
        kafkaBroker: pomProperty('infra/kafka/pom.xml', 'kafka.version'),
        kafkaConnect: await worker.version(),
        debeziumMariadbConnector: plugins['io.debezium.connector.mariadb.MariaDbConnector'] ?? 'missing',
        debeziumJdbcSinkConnector: plugins['io.debezium.connector.jdbc.JdbcSinkConnector'] ?? 'missing',
        java: 'the `java` on PATH (scripts/debezium.sh)',
      },
      warmUpChangesPerStart: warmUpChanges,
      startedByThisRun: {
        broker: startedBroker,
        mariadbBinlogServer: startedMariadb,
        connectWorker: startedWorker,
      },
      settings,
      pipelines: {
        empsync: {
          processes:
            `node ${empsyncEntry} relay mysql, node ${empsyncEntry} sink postgres (child processes, defaults)`,
          database: names.empsyncDatabase,
          RELAY_BATCH_SIZE: effective.RELAY_BATCH_SIZE,
          RELAY_POLL_INTERVAL_MS: effective.RELAY_POLL_INTERVAL_MS,
          SINK_MAX_BATCH: effective.SINK_MAX_BATCH,
          SINK_CONCURRENCY: effective.SINK_CONCURRENCY,
          KAFKA_PARTITIONS: effective.KAFKA_PARTITIONS,
          topic: env.KAFKA_TOPIC,
        },
        debezium: {
          processes: 'one Kafka Connect worker JVM (standalone, scripts/debezium.sh)',
          database: names.debeziumDatabase,
          worker: {
            converters: 'org.apache.kafka.connect.json.JsonConverter, schemas.enable=true (key and value)',
            'connector.client.config.override.policy': 'All',
            heap: process.env.DEBEZIUM_CONNECT_HEAP || '1g',
          },
          source: connectors.source,
          sink: connectors.sink,
          topic: connectors.topic,
        },
      },
      phases,
      processes: { empsync: empsync.processes(), debezium: debezium.processes() },
      converged: {
        empsync: await convergence(contexts[0]!),
        debezium: await convergence(contexts[1]!),
      },
    };

    const file = publishReport('debezium', result, started);

    const { batch, singleRow, latency } = phases;
    const pair = (e: number, d: number) => `${e} / ${d}`;
    printTable('empsync / Debezium (medians of repeats)', [
      [
        `${settings.batchRows}-row tx, changes/s`,
        pair(batch.empsync.medianChangesPerSecond, batch.debezium.medianChangesPerSecond),
        `empsync ÷ Debezium ×${batch.ratioEmpsyncToDebezium}`,
      ],
      [
        '1-row tx, changes/s',
        pair(singleRow.empsync.medianChangesPerSecond, singleRow.debezium.medianChangesPerSecond),
        `empsync ÷ Debezium ×${singleRow.ratioEmpsyncToDebezium}`,
      ],
      [
        'latency p50, ms',
        pair(latency.empsync.p50Ms, latency.debezium.p50Ms),
        `at ${settings.latencyRate}/s`,
      ],
      ['latency p99, ms', pair(latency.empsync.p99Ms, latency.debezium.p99Ms)],
      ['latency p99.9, ms', pair(latency.empsync.p999Ms, latency.debezium.p999Ms)],
    ]);
    log(`written to ${file}`);
  } finally {
    await cleanUp.run();
  }
}

await main();
