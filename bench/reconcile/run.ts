// `npm run bench:reconcile`: the content comparison of both stores (empsync reconcile, the drift check)
// on 1,000,000 identical rows: how long a full comparison takes (target ≤ 30 s: `fullCompareSeconds`),
// how long it takes to find 50 rows changed behind the pipeline, and what the continuous check costs at
// its default interval (CPU of empsync and of both databases during a pass, divided by the interval;
// ceiling 5 % of one core).
//
// Environment: ROWS (default 1,000,000; QUICK=1: 200,000), REPEATS (default 3; QUICK=1: 1). The rows are
// written on both sides as the sink writes (not captured: no Kafka traffic), identical, and kept between
// runs (loaded again only when the count differs). Prints one JSON object on stdout, a table on stderr,
// and writes bench/results/reconcile-<timestamp>.json.
import { loadavg } from 'node:os';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.ts';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { quietLogger, testConfig } from '../../test/support/test-env.ts';
import { cpuSeconds, servicePids } from '../process-stats.ts';
import { insertMysqlRows, insertPostgresRows } from '../load-rows.ts';
import { publishReport } from '../results-file.ts';

const quick = process.env.QUICK === '1';
const rows = Number(process.env.ROWS ?? (quick ? 200_000 : 1_000_000));
const repeats = Number(process.env.REPEATS ?? (quick ? 1 : 3));
const defaultIntervalSeconds = loadConfig({}).DRIFT_CHECK_INTERVAL_MS / 1000;
const targetSeconds = 30;
const costCeiling = 0.05;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** CPU seconds of this process and of the database servers (every MariaDB and PostgreSQL process). */
function cpuNow(): { empsync: number; databases: number } {
  const { mariadb, postgres } = servicePids();
  const usage = process.cpuUsage();
  const databases = [...mariadb, ...postgres].map(cpuSeconds).filter((s) => Number.isFinite(s)).reduce((a, b) => a + b, 0);
  return { empsync: (usage.user + usage.system) / 1e6, databases };
}

async function load(running: RunningRole): Promise<void> {
  const { mysql, postgres } = running.stores;
  const [inMysql, inPostgres] = await Promise.all([mysql.reconcile.count('employes'), postgres.reconcile.count('employes')]);
  if (inMysql === rows && inPostgres === rows && (await sameContent(running))) {
    log(`${rows} identical rows already in both stores: kept`);
    return;
  }
  log(`loading ${rows} identical rows into both stores (as the sink writes: not captured)`);
  await sql`DELETE FROM employes`.execute(mysql.db);
  await sql`DELETE FROM employes`.execute(postgres.db);
  await insertMysqlRows(mysql.db, rows, (done) => log(`  ${done} / ${rows}`));
  await insertPostgresRows(postgres.db, rows);
  await sql`ANALYZE TABLE employes`.execute(mysql.db);
  await sql`VACUUM ANALYZE employes`.execute(postgres.db);
}

async function sameContent(running: RunningRole): Promise<boolean> {
  const report = await reconcile(running.stores, running.schemas.schemas, { settleMs: 0 });
  return report.divergent === 0;
}

async function main(): Promise<void> {
  const started = new Date();
  const config = testConfig('bench_reconcile', { DRIFT_CHECK_INTERVAL_MS: '0' });
  const running = await startRole('migrate', { config, logger: quietLogger(config) });
  try {
    await load(running);
    const schemas = running.schemas.schemas;
    const passes: { seconds: number; empsyncCpu: number; databaseCpu: number }[] = [];
    for (let i = 0; i < repeats; i++) {
      const before = cpuNow();
      const report = await reconcile(running.stores, schemas, { settleMs: 0 });
      const after = cpuNow();
      if (report.divergent !== 0 || report.compared !== rows) {
        throw new Error(`expected ${rows} identical rows, got compared ${report.compared}, divergent ${report.divergent}`);
      }
      passes.push({ seconds: report.seconds, empsyncCpu: after.empsync - before.empsync, databaseCpu: after.databases - before.databases });
      log(`full compare ${i + 1}/${repeats}: ${report.seconds.toFixed(2)} s (${report.chunks} chunks)`);
    }

    // 50 rows changed behind the pipeline, spread over the table: found, named, then put back.
    const changed = Array.from({ length: 50 }, (_, i) => 1 + Math.floor(((i + 0.5) * rows) / 50));
    await running.stores.postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`UPDATE employes SET prenom = 'Changé' WHERE id IN (${sql.join(changed)})`.execute(trx);
    });
    const found = await reconcile(running.stores, schemas, { settleMs: 0 });
    await running.stores.postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`UPDATE employes SET prenom = 'Prénom' WHERE id IN (${sql.join(changed)})`.execute(trx);
    });
    if (found.contentMismatch !== 50 || !found.sample.every((d) => d.columns.join() === 'prenom')) {
      throw new Error(`expected 50 rows differing in prenom, found ${found.contentMismatch}`);
    }
    log(`50 changed rows found in ${found.seconds.toFixed(2)} s (${found.chunksDiffering} chunks read row by row)`);

    const fullCompareSeconds = median(passes.map((p) => p.seconds));
    const cpuPerPass = median(passes.map((p) => p.empsyncCpu + p.databaseCpu));
    const continuousCost = cpuPerPass / defaultIntervalSeconds;
    const report = {
      bench: 'reconcile',
      startedAt: started.toISOString(),
      loadAverage: loadavg(),
      rows,
      repeats,
      fullCompareSeconds,
      fullCompareTargetSeconds: targetSeconds,
      fullCompareRatioToTarget: fullCompareSeconds / targetSeconds,
      rowsPerSecond: rows / fullCompareSeconds,
      passes,
      findFiftyChangedRowsSeconds: found.seconds,
      chunksReadRowByRow: found.chunksDiffering,
      continuousCheck: {
        intervalSeconds: defaultIntervalSeconds,
        cpuSecondsPerPass: cpuPerPass,
        empsyncCpuSecondsPerPass: median(passes.map((p) => p.empsyncCpu)),
        databaseCpuSecondsPerPass: median(passes.map((p) => p.databaseCpu)),
        fractionOfOneCore: continuousCost,
        ceiling: costCeiling,
        ratioToCeiling: continuousCost / costCeiling,
      },
      targets: {
        fullCompare: fullCompareSeconds <= targetSeconds ? 'pass' : 'MISS',
        continuousCost: continuousCost <= costCeiling ? 'pass' : 'MISS',
      },
    };
    const file = publishReport('reconcile', report, started);
    log(`full compare of ${rows} rows: ${fullCompareSeconds.toFixed(2)} s (median of ${repeats}; target ≤ ${targetSeconds} s: ${report.targets.fullCompare})`);
    log(`continuous check at ${defaultIntervalSeconds} s: ${cpuPerPass.toFixed(2)} CPU s per pass = ${(continuousCost * 100).toFixed(2)} % of one core (ceiling ${costCeiling * 100} %: ${report.targets.continuousCost})`);
    log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; written to ${file}`);
  } finally {
    await running.stop();
  }
}

await main();
