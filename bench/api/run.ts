// `npm run bench:api`: read throughput and latency of the GraphQL API against PostGraphile, measured in
// the same run on the same PostgreSQL read model (100,000 employees). Each server runs in its own child
// process; autocannon runs in this one. The machine's cores are shared by all three, so the absolute
// numbers are those of this machine, and the ratio empsync / PostGraphile is the comparable figure.
//
// Environment: QUICK=1 (3 s runs, 1 repetition), DURATION (s), REPETITIONS, CONNECTIONS, ROWS,
// PROFILE=1 (also runs a CPU profile of empsync under the by-id load and summarises where time goes;
// PROFILE=list-20 or PROFILE=filtered-page profiles that workload instead).
// Prints one JSON object on stdout, a table on stderr, and writes bench/results/api-<timestamp>.json.
import { mkdtemp, readdir } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { Config } from '../../src/config.ts';
import { startRole } from '../../src/roles/roles.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../../test/support/test-env.ts';
import { cpuSeconds, servicePids } from '../process-stats.ts';
import { publishReport } from '../results-file.ts';
import { empsyncEntry } from '../child-process.ts';
import { summarizeCpuProfile, type ProfileSummary } from './cpu-profile.ts';
import {
  resolveScenario,
  scenarioNames,
  type Scenario,
  type ScenarioName,
  type ServerName,
} from './scenarios.ts';
import { seedReadModel } from './seed-read-model.ts';
import { ServerProcess } from './server-process.ts';

const quick = process.env.QUICK === '1';
const settings = {
  rows: Number(process.env.ROWS ?? 100_000),
  // Five short back-to-back pairs rather than three long ones (same 30 s per server and workload): on a
  // shared machine a slow spell then spoils one pair of five, and the medians shrug it off.
  durationSeconds: Number(process.env.DURATION ?? (quick ? 3 : 6)),
  warmupSeconds: quick ? 1 : 3,
  repetitions: Number(process.env.REPETITIONS ?? (quick ? 1 : 5)),
  connections: Number(process.env.CONNECTIONS ?? 16),
  pipelining: 1,
  poolSize: 10,
};
const targets = {
  byIdRequestsPerSecond: 5000,
  byIdP99Ms: 20,
  list20RequestsPerSecond: 2500,
  ratioToPostgraphile: 1.5,
};
const serverNames: readonly ServerName[] = ['empsync', 'postgraphile'];

interface RunResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** 2xx answers that carry GraphQL errors or a null root field instead of rows. */
  graphqlErrors: number;
  /** CPU milliseconds the server process spent per answered request. */
  serverCpuMsPerRequest: number;
  /** CPU milliseconds of all PostgreSQL processes per answered request (the same server for both). */
  postgresCpuMsPerRequest: number;
  /** CPU milliseconds of the bench process (autocannon) per answered request: it shares the two cores. */
  loadGeneratorCpuMsPerRequest: number;
}

/** Medians over the repetitions of one server on one scenario. */
interface ServerSummary {
  query: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPerRequest: number;
  postgresCpuMsPerRequest: number;
  loadGeneratorCpuMsPerRequest: number;
  /** Transport errors, timeouts, non-2xx answers and answers without rows, summed over the runs. */
  errors: number;
  runs: RunResult[];
}

interface ScenarioSummary {
  empsync: ServerSummary;
  postgraphile: ServerSummary;
  /**
   * The median over the repetitions of empsync's req/s over PostGraphile's in that repetition (the two
   * runs of a repetition are back to back, so a slow spell of the machine weighs on both): the figure the
   * targets are judged on.
   */
  ratio: number;
  /** empsync's req/s over PostGraphile's in each repetition. */
  pairedRatios: number[];
  /** empsync's median req/s over PostGraphile's median req/s (runs minutes apart; shown beside `ratio`). */
  ratioOfMedians: number;
}

const say = (line: string) => process.stderr.write(`[bench:api] ${line}\n`);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

function benchConfig(): Config {
  return testConfig('bench_api', {
    LOG_LEVEL: 'warn',
    KAFKA_TOPIC: 'bench-api-sync',
    KAFKA_DLQ_TOPIC: 'bench-api-sync.dlq',
    SINK_GROUP_PREFIX: 'bench-api',
  });
}

function empsyncEnv(config: Config): (port: number) => Record<string, string> {
  // NODE_ENV=development: no credentials needed (production requires them), and PostGraphile runs
  // without authentication too. The request path of a query is otherwise the same.
  return (port) => ({
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    MYSQL_URL: config.MYSQL_URL,
    POSTGRES_URL: config.POSTGRES_URL,
    POSTGRES_POOL_SIZE: String(settings.poolSize),
    KAFKA_BROKERS: config.KAFKA_BROKERS.join(','),
    KAFKA_TOPIC: config.KAFKA_TOPIC,
    KAFKA_DLQ_TOPIC: config.KAFKA_DLQ_TOPIC,
    BACKFILL_ON_START: 'false',
  });
}

async function startServer(
  name: ServerName,
  config: Config,
  nodeArgs: string[] = [],
): Promise<ServerProcess> {
  if (name === 'empsync')
    return ServerProcess.start(name, empsyncEntry, ['api'], empsyncEnv(config), nodeArgs);
  return ServerProcess.start(name, 'bench/api/postgraphile-server.ts', [], (port) => ({
    POSTGRES_URL: config.POSTGRES_URL,
    PORT: String(port),
    POOL_SIZE: String(settings.poolSize),
    NODE_ENV: 'production',
  }));
}

/** CPU seconds of each PostgreSQL process now (backends come and go with the servers' pools). */
function postgresCpu(): Map<number, number> {
  return new Map(servicePids().postgres.map((pid) => [pid, cpuSeconds(pid)]));
}

/** CPU seconds spent between two readings; a process that started in between counts from zero. */
function cpuSpentSince(before: Map<number, number>, after: Map<number, number>): number {
  let spent = 0;
  for (const [pid, seconds] of after) if (Number.isFinite(seconds)) spent += seconds - (before.get(pid) ?? 0);
  return spent;
}

/** `{"data":{"field":null` — the root field answered nothing (no employee, no page). */
const withoutRows = /^\{"data":\{"\w+":null/;

/**
 * One autocannon run. With `checkAnswers` (the warm-ups), every answer's body is read and checked; the
 * measured runs leave it off, since collecting bodies costs the load generator CPU it shares with the servers.
 */
async function load(
  server: ServerProcess,
  scenario: Scenario,
  durationSeconds: number,
  checkAnswers = false,
): Promise<RunResult> {
  let next = 0;
  let graphqlErrors = 0;
  const cpuBefore = await server.cpuSeconds();
  const postgresBefore = postgresCpu();
  const selfBefore = process.cpuUsage();
  const result = await autocannon({
    url: server.url,
    connections: settings.connections,
    pipelining: settings.pipelining,
    duration: durationSeconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        setupRequest: (request) => ({ ...request, body: scenario.bodies[next++ % scenario.bodies.length]! }),
        // Each answer must be data, with rows (checked alike for both servers).
        ...(checkAnswers && {
          onResponse: (status: number, body: string) => {
            if (status === 200 && (body.includes('"errors"') || withoutRows.test(body))) graphqlErrors++;
          },
        }),
      },
    ],
  });
  const cpuSeconds = (await server.cpuSeconds()) - cpuBefore;
  const postgresSeconds = cpuSpentSince(postgresBefore, postgresCpu());
  const self = process.cpuUsage(selfBefore);
  const perRequest = (seconds: number) =>
    result.requests.total ? round((seconds * 1000) / result.requests.total, 3) : Number.NaN;
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    graphqlErrors,
    serverCpuMsPerRequest: perRequest(cpuSeconds),
    postgresCpuMsPerRequest: perRequest(postgresSeconds),
    loadGeneratorCpuMsPerRequest: perRequest((self.user + self.system) / 1e6),
  };
}

function profiledScenario(profile: string, scenarios: Map<string, Scenario>): Scenario {
  const scenario = scenarios.get(`empsync ${profile === '1' ? 'by-id' : profile}`);
  if (!scenario) throw new Error(`PROFILE=${profile}: expected 1 or one of ${scenarioNames.join(', ')}`);
  return scenario;
}

async function profileEmpsync(config: Config, scenario: Scenario): Promise<ProfileSummary> {
  const directory = await mkdtemp(join(tmpdir(), 'empsync-bench-api-profile-'));
  const server = await startServer('empsync', config, ['--cpu-prof', `--cpu-prof-dir=${directory}`]);
  const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);
  let window;
  try {
    await load(server, scenario, settings.warmupSeconds);
    const fromMicros = monotonicMicros();
    await load(server, scenario, settings.durationSeconds);
    window = { fromMicros, toMicros: monotonicMicros() };
  } finally {
    await server.stop();
  }
  const file = (await readdir(directory)).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no CPU profile written in ${directory}`);
  say(`CPU profile: ${join(directory, file)}`);
  return summarizeCpuProfile(join(directory, file), window);
}

async function main(): Promise<void> {
  const config = benchConfig();
  const loadBefore = loadavg().map((value) => round(value));
  say(
    `${settings.rows} rows, ${settings.repetitions} × ${settings.durationSeconds} s per run, ${settings.connections} connections, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'})`,
  );
  await dropTestDatabases(config);
  const migrate = await startRole('migrate', { config, logger: quietLogger(config) });
  await migrate.stop();
  const seed = await seedReadModel(config.POSTGRES_URL, settings.rows);
  say(`seeded ${seed.rows} rows in ${round(seed.seconds)} s (outbox rows: ${seed.outboxRows})`);
  if (seed.outboxRows !== 0) throw new Error('the seed was captured by the outbox triggers');

  const servers = new Map<ServerName, ServerProcess>();
  const runs = new Map<string, RunResult[]>();
  const scenarios = new Map<string, Scenario>();
  try {
    for (const name of serverNames) servers.set(name, await startServer(name, config));
    for (const name of serverNames) {
      const server = servers.get(name)!;
      for (const scenarioName of scenarioNames) {
        const scenario = await resolveScenario(name, scenarioName, settings.rows, (query, variables) =>
          server.post<Record<string, unknown>>(query, variables),
        );
        scenarios.set(`${name} ${scenarioName}`, scenario);
        const warmup = await load(server, scenario, settings.warmupSeconds, true);
        const wrong = warmup.errors + warmup.non2xx + warmup.graphqlErrors;
        if (wrong > 0)
          throw new Error(
            `${name} ${scenarioName}: ${wrong} of ${warmup.requests} warm-up answers were not rows`,
          );
        say(`warm-up ${name} ${scenarioName}: ${warmup.requests} answers checked, all rows`);
      }
    }
    for (let repetition = 0; repetition < settings.repetitions; repetition++) {
      for (const scenarioName of scenarioNames) {
        // Alternate which server goes first, so neither always runs on a warmer (or hotter) machine.
        const order = repetition % 2 === 0 ? serverNames : [...serverNames].reverse();
        for (const name of order) {
          const key = `${name} ${scenarioName}`;
          const result = await load(servers.get(name)!, scenarios.get(key)!, settings.durationSeconds);
          say(
            `run ${repetition + 1}/${settings.repetitions} ${key}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.serverCpuMsPerRequest} ms CPU/request (PostgreSQL ${result.postgresCpuMsPerRequest})${result.errors + result.non2xx + result.graphqlErrors ? `, ${result.errors} errors, ${result.non2xx} non-2xx, ${result.graphqlErrors} answers without rows` : ''}`,
          );
          runs.set(key, [...(runs.get(key) ?? []), result]);
        }
      }
    }
  } finally {
    for (const server of servers.values()) await server.stop();
  }

  const profile = process.env.PROFILE
    ? await profileEmpsync(config, profiledScenario(process.env.PROFILE, scenarios))
    : undefined;

  const summarize = (name: ServerName, scenarioName: ScenarioName): ServerSummary => {
    const results = runs.get(`${name} ${scenarioName}`)!;
    return {
      query: scenarios.get(`${name} ${scenarioName}`)!.query,
      requestsPerSecond: round(median(results.map((r) => r.requestsPerSecond)), 0),
      p50Ms: median(results.map((r) => r.p50Ms)),
      p99Ms: median(results.map((r) => r.p99Ms)),
      serverCpuMsPerRequest: median(results.map((r) => r.serverCpuMsPerRequest)),
      postgresCpuMsPerRequest: median(results.map((r) => r.postgresCpuMsPerRequest)),
      loadGeneratorCpuMsPerRequest: median(results.map((r) => r.loadGeneratorCpuMsPerRequest)),
      errors: results.reduce((sum, r) => sum + r.errors + r.non2xx + r.graphqlErrors, 0),
      runs: results,
    };
  };
  const summary = {} as Record<ScenarioName, ScenarioSummary>;
  for (const scenarioName of scenarioNames) {
    const empsync = summarize('empsync', scenarioName);
    const postgraphile = summarize('postgraphile', scenarioName);
    const pairedRatios = empsync.runs.map(
      (run, index) => run.requestsPerSecond / postgraphile.runs[index]!.requestsPerSecond,
    );
    summary[scenarioName] = {
      empsync,
      postgraphile,
      ratio: round(median(pairedRatios)),
      pairedRatios: pairedRatios.map((value) => round(value)),
      ratioOfMedians: round(empsync.requestsPerSecond / postgraphile.requestsPerSecond),
    };
  }

  const verdict = (pass: boolean) => (pass ? 'pass' : 'miss');
  const checks = {
    byIdThroughput: verdict(summary['by-id'].empsync.requestsPerSecond >= targets.byIdRequestsPerSecond),
    byIdP99: verdict(summary['by-id'].empsync.p99Ms <= targets.byIdP99Ms),
    list20Throughput: verdict(
      summary['list-20'].empsync.requestsPerSecond >= targets.list20RequestsPerSecond,
    ),
    byIdRatio: verdict(summary['by-id'].ratio >= targets.ratioToPostgraphile),
    list20Ratio: verdict(summary['list-20'].ratio >= targets.ratioToPostgraphile),
  };
  const report = {
    benchmark: 'api',
    at: new Date().toISOString(),
    machine: {
      cpus: availableParallelism(),
      model: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      // 1/5/15-minute load averages: anything else running on the machine skews the absolute numbers.
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg().map((value) => round(value)),
    },
    setup: {
      ...settings,
      layout:
        'empsync (api role) and PostGraphile 5 each in a child process; autocannon in the bench process; all share the machine',
      empsync: 'NODE_ENV=development (no auth), POSTGRES_POOL_SIZE=10',
      postgraphile: 'PostGraphile 5 Amber preset, grafserv on node:http, pg pool of 10',
    },
    seed,
    scenarios: summary,
    targets,
    checks,
    ...(profile ? { profile } : {}),
  };

  const lines = [
    'scenario        server        req/s    p50 ms  p99 ms  CPU ms/req  PostgreSQL CPU ms/req  autocannon CPU ms/req',
    ...scenarioNames.flatMap((scenarioName) =>
      serverNames.map((name) => {
        const s = summary[scenarioName][name];
        return `${scenarioName.padEnd(15)} ${name.padEnd(12)} ${String(s.requestsPerSecond).padStart(7)} ${String(s.p50Ms).padStart(8)} ${String(s.p99Ms).padStart(7)} ${String(s.serverCpuMsPerRequest).padStart(10)} ${String(s.postgresCpuMsPerRequest).padStart(22)} ${String(s.loadGeneratorCpuMsPerRequest).padStart(22)}`;
      }),
    ),
    ...scenarioNames.map(
      (scenarioName) =>
        `ratio empsync/PostGraphile ${scenarioName}: ${summary[scenarioName].ratio} (median of the repetitions: ${summary[scenarioName].pairedRatios.join(', ')}; ratio of the medians ${summary[scenarioName].ratioOfMedians})`,
    ),
    `load average before ${loadBefore.join(' ')}, after ${report.machine.loadAverageAfter.join(' ')} (${availableParallelism()} CPUs)`,
    `targets: ${Object.entries(checks)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ')}`,
    ...(profile
      ? [`empsync CPU by package (${process.env.PROFILE === '1' ? 'by-id' : process.env.PROFILE}):`, ...profile.byPackage.map((s) => `  ${s.percent}% ${s.name}`)]
      : []),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);

  say(`written ${publishReport('api', report, new Date(report.at))}`);
  await dropTestDatabases(config);
}

await main();
