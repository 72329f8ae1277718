// The fault suite: every case of fault-cases.ts through one runner. Each case gets fresh databases on
// private servers, its own topics, the apply log, and `empsync all` (or its stages apart) as child
// processes; three writers (GraphQL API, plain SQL on MySQL, plain SQL on PostgreSQL) run before,
// during and after the fault. Then: both stores equal row by row and column by column, every
// acknowledged write present, no (id, version) applied twice. One JSON line per case, and a table.
// EMPSYNC_FAULTS=quick (default, `npm test`): a subset with small loads; =full: every case, longer faults;
// EMPSYNC_FAULTS_ONLY=<part of a name>[,…]: those cases alone.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createLogger } from '../../src/logger.ts';
import { startRole } from '../../src/roles/roles.ts';
import { closeStores, createStores, type Stores } from '../../src/store/create-stores.ts';
import { findDoubleApplies, findLostWrites, waitForConvergence } from '../support/assertions.ts';
import { installApplyLog } from '../support/fault-apply-log.ts';
import { deleteCaseTopics, dropCaseDatabases, faultConfig, FaultServers, LoggedRoles } from '../support/fault-stack.ts';
import { Workload } from '../support/fault-workload.ts';
import { freePort } from '../support/role-processes.ts';
import { faultCases } from './fault-cases.ts';
import { Pipeline, type FaultCase, type FaultContext, type FaultMode } from './fault-context.ts';

const mode: FaultMode = process.env.EMPSYNC_FAULTS === 'full' ? 'full' : 'quick';
/** Writers pause paceMs between operations; warm-up and tail: acknowledged writes per writer before the fault and after its heal. */
const load = mode === 'quick' ? { paceMs: 60, warmup: 15, tail: 15 } : { paceMs: 15, warmup: 150, tail: 100 };
const convergeTimeoutMs = mode === 'quick' ? 90_000 : 180_000;
/** EMPSYNC_FAULTS_ONLY=<part of a case name>[,<another>] runs the matching cases alone (whatever the mode's selection). */
const only = process.env.EMPSYNC_FAULTS_ONLY;
const selected = faultCases.filter((fault) =>
  only ? only.split(',').some((part) => fault.name.includes(part)) : mode === 'full' || fault.quick,
);
const servers = new FaultServers();
const runDirectory = join('.cache', 'faults', `${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const silent = createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' });

interface CaseResult {
  case: string;
  writesAcknowledged: number;
  rowsCompared: number;
  lost: number;
  appliedTwice: number;
  healSeconds: number | null;
  faultSeconds: number | null;
  uncertainRows: number;
  failedAttempts: number;
  passed: boolean;
  [fact: string]: unknown;
}
const results: CaseResult[] = [];

const slugOf = (name: string) => name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
const seconds = (ms: number) => Math.round(ms / 100) / 10;
const json = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** The first rows that differ between the stores (id and both versions of the row), for the report. */
async function firstDifferences(stores: Stores, limit = 3): Promise<unknown[]> {
  const [mysql, postgres] = await Promise.all([stores.mysql.employees.dump(), stores.postgres.employees.dump()]);
  const byId = new Map(postgres.map((row) => [row.id, row]));
  const differences: unknown[] = [];
  for (const row of mysql) {
    const other = byId.get(row.id);
    byId.delete(row.id);
    if (json(other) !== json(row)) differences.push({ id: row.id, mysql: row, postgres: other ?? null });
  }
  for (const row of byId.values()) differences.push({ id: row.id, mysql: null, postgres: row });
  return differences.slice(0, limit);
}

async function runCase(fault: FaultCase, t: TestContext): Promise<void> {
  const slug = slugOf(fault.name);
  const httpPort = await freePort();
  const config = faultConfig(fault.name, servers, { kafka: fault.kafka, httpPort, overrides: { CONFLICT_POLICY: fault.policy ?? 'newer-wins' } });
  const roles = new LoggedRoles(config, runDirectory, slug);
  const workDirectory = await mkdtemp(join(tmpdir(), `empsync-fault-${slug}-`));
  const facts: Record<string, unknown> = {};
  const problems: string[] = [];
  const result: CaseResult = {
    case: fault.name,
    writesAcknowledged: 0,
    rowsCompared: 0,
    lost: 0,
    appliedTwice: 0,
    healSeconds: null,
    faultSeconds: null,
    uncertainRows: 0,
    failedAttempts: 0,
    passed: false,
  };
  let workload: Workload | undefined;
  let pipeline: Pipeline | undefined;
  let stores: Stores | undefined;
  t.diagnostic(`log: ${roles.logFile}`);
  try {
    await dropCaseDatabases(config);
    const migrated = await startRole('migrate', { config, logger: silent });
    try {
      await installApplyLog(migrated.stores);
    } finally {
      await migrated.stop();
    }
    pipeline = new Pipeline(fault.pipeline ?? 'all', roles, httpPort);
    await pipeline.start();
    workload = new Workload(
      { api: `http://127.0.0.1:${httpPort}/graphql`, mysql: config.MYSQL_URL, postgres: config.POSTGRES_URL },
      { paceMs: load.paceMs, chain: fault.chain ?? 3 },
    );
    const ctx: FaultContext = { fault, mode, config, servers, roles, pipeline, workload, workDirectory, facts };
    if (fault.sharedRows) await workload.createSharedRows(fault.sharedRows);
    workload.start();
    await workload.progress(load.warmup, 60_000);
    roles.note(`inject: ${fault.name}`);
    const injectedAt = Date.now();
    await fault.inject(ctx);
    roles.note(`heal: ${fault.name}`);
    await fault.heal(ctx);
    const healedAt = Date.now();
    result.faultSeconds = seconds(healedAt - injectedAt);
    const crashed = pipeline.crashed();
    if (crashed.length) throw new Error(`${crashed.join('; ')}. What it printed:\n${roles.errorExcerpt()}`);
    // Writes go through again after the heal (the write path recovered), then stop.
    await workload.progress(load.tail, 120_000);
    await workload.stop();
    roles.note('writers stopped');
    stores = createStores(config);
    try {
      result.rowsCompared = Math.max(0, await waitForConvergence(stores, convergeTimeoutMs));
      result.healSeconds = seconds(Date.now() - healedAt);
    } catch (error) {
      problems.push((error as Error).message);
      facts.firstDifferences = await firstDifferences(stores);
    }
    const { compared, lost, unexpected } = await findLostWrites(stores, workload.expectations());
    facts.expectedRowsChecked = compared;
    result.lost = lost.length;
    if (lost.length) problems.push(`${lost.length} acknowledged writes lost or different, e.g. ${json(lost.slice(0, 3))}`);
    if (unexpected.length) problems.push(`${unexpected.length} rows no write explains, e.g. ${json(unexpected.slice(0, 3))}`);
    const twice = await findDoubleApplies(stores);
    result.appliedTwice = twice.length;
    if (twice.length) problems.push(`${twice.length} (id, version) applied more than once, e.g. ${json(twice.slice(0, 3))}`);
    facts.conflicts = (await Promise.all([stores.mysql.conflicts.list(100_000), stores.postgres.conflicts.list(100_000)])).flat().length;
    if (fault.verify) problems.push(...(await fault.verify(ctx, stores)));
    problems.push(...workload.anomalies.slice(0, 5));
  } catch (error) {
    problems.push(`case stopped: ${(error as Error).stack ?? String(error)}`);
    const crashed = pipeline?.crashed() ?? [];
    if (crashed.length && !problems.some((p) => p.includes('died'))) problems.push(`${crashed.join('; ')}. What it printed:\n${roles.errorExcerpt()}`);
  } finally {
    if (workload) {
      result.writesAcknowledged = workload.acknowledged;
      result.uncertainRows = workload.uncertainRows;
      result.failedAttempts = Object.values(workload.writers).reduce((sum, w) => sum + w.failedAttempts, 0);
      await workload.close();
    }
    await roles.killAll();
    if (stores) await closeStores(stores);
    await servers.ensureRunning().catch((error: unknown) => problems.push(`servers not back after the case: ${String(error)}`));
    if (fault.kafka === 'shared') await deleteCaseTopics(config).catch(() => undefined);
    await rm(workDirectory, { recursive: true, force: true });
  }
  result.passed = problems.length === 0;
  Object.assign(result, facts);
  results.push(result);
  t.diagnostic(json(result));
  assert.deepEqual(problems, [], `see ${roles.logFile}`);
}

/** The table of the run, in Markdown (docs/guarantees.md takes the full mode's). */
function summaryTable(): string[] {
  const header = '| case | writes acknowledged | rows compared | lost | applied twice | heal → equal (s) | fault (s) | uncertain rows | result |';
  return [
    header,
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...results.map(
      (r) =>
        `| ${r.case} | ${r.writesAcknowledged} | ${r.rowsCompared} | ${r.lost} | ${r.appliedTwice} | ${r.healSeconds ?? '—'} | ${r.faultSeconds ?? '—'} | ${r.uncertainRows} | ${r.passed ? 'pass' : 'FAIL'} |`,
    ),
  ];
}

describe(`fault suite (${mode} mode)`, () => {
  const started = Date.now();
  before(async () => {
    mkdirSync(runDirectory, { recursive: true });
    await servers.start(selected.some((fault) => fault.kafka === 'private'));
  }, { timeout: 300_000 });
  after(async () => {
    await servers.stop();
  }, { timeout: 300_000 });

  for (const fault of faultCases) {
    const skip = selected.includes(fault) ? false : only ? `not "${only}"` : 'full mode only (EMPSYNC_FAULTS=full)';
    it(fault.name, { skip, timeout: 9 * 60_000 }, (t) => runCase(fault, t));
  }

  it('summary', (t) => {
    const table = summaryTable();
    const minutes = Math.round((Date.now() - started) / 6000) / 10;
    writeFileSync(join(runDirectory, 'results.jsonl'), results.map((r) => json(r)).join('\n') + '\n');
    writeFileSync(join(runDirectory, 'summary.md'), `${mode} mode, ${minutes} min\n\n${table.join('\n')}\n`);
    t.diagnostic(`${mode} mode: ${results.length} cases in ${minutes} min (results: ${runDirectory})`);
    for (const line of table) t.diagnostic(line);
  });
});
