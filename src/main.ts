// Command line entry: `empsync <role> [store]`. Parses the config once, starts the role, prints where
// it listens (a banner on a terminal, a log line always), and stops every stage cleanly on SIGINT/SIGTERM.
import { loadConfig, type Config } from './config.ts';
import { describeError, isEmpsyncError } from './errors.ts';
import { createLogger } from './logger.ts';
import { formatBanner, roleUrls } from './roles/banner.ts';
import { limitHeapGrowth, startIdleMemoryTrim } from './roles/idle-memory.ts';
import type { Role } from './roles/roles.ts';
import { runStatus } from './roles/status.ts';
import { bigintJson } from './store/kysely/conflicts.ts';

const usage = `usage: empsync <role> [store]
  all                 relay + sink for both stores, and the API (default)
  api                 GraphQL API, /healthz, /readyz, /metrics
  relay [store]       outbox → Kafka for mysql, postgres or both (default both)
  sink [store]        Kafka → database for mysql, postgres or both (default both)
  migrate             create databases, run migrations, create topics, then exit
  backfill            re-publish every MySQL row of every synced table (resumable), then exit
  reconcile [--repair] [--watch]
                      compare both stores' content, row by row and column by column (JSON report on
                      stdout; exit 3 when rows differ, or still differ after --repair); --repair repairs
                      each divergence through the pipeline and verifies it; --watch runs the check every
                      DRIFT_CHECK_INTERVAL_MS and serves its metrics
  dlq list [--all]    parked events of both stores (JSON on stdout); --all includes replayed ones
  dlq replay --all | --id <store>:<id>[,…]
                      re-inject parked events through their stage (exit 3 when one still fails)
  schema drop-column <table> <column>
                      drop a column a DBA added, on both databases, capture first
  status [--url <graphql url>] [--json]
                      ask a running API for the sync overview (directions, DLQ, drift, snapshots) and
                      print it as text (--json: the raw GraphQL answer); --url defaults to
                      http://127.0.0.1:$HTTP_PORT/graphql, the credential is EMPSYNC_TOKEN (else a key of
                      AUTH_API_KEYS); exit 0 healthy, 1 unhealthy (API unreachable, not ready or degraded, a
                      GraphQL error, parked events, drift rows or a failed drift check; reasons printed),
                      2 bad usage`;

/** The config, or null after one line on stderr naming the bad variable. */
function loadConfigOrExplain(): Config | null {
  try {
    return loadConfig();
  } catch (error) {
    process.stderr.write(`empsync: ${describeError(error)}\n`);
    return null;
  }
}

async function main(argv: string[]): Promise<number> {
  const [roleArgument = 'all', ...roleArguments] = argv;
  // `status` is a client of a running API: it loads none of the stages (Kafka, both database drivers,
  // Kysely: a second or more of start-up on a busy machine).
  if (roleArgument === 'status') {
    const config = loadConfigOrExplain();
    return config ? runStatus(config, roleArguments) : 2;
  }
  const { roles, startRole } = await import('./roles/roles.ts');
  if (roleArgument === '--help' || roleArgument === '-h' || !(roles as readonly string[]).includes(roleArgument)) {
    process.stderr.write(`${usage}\n`);
    return roleArgument === '--help' || roleArgument === '-h' ? 0 : 2;
  }
  const role = roleArgument as Role;
  const config = loadConfigOrExplain();
  if (!config) return 2;
  limitHeapGrowth(config.HEAP_GROWING_PERCENT);
  const logger = createLogger(config, role);
  // Only the roles that serve the API load it (GraphQL, Yoga, Pothos: tens of MiB a relay or a sink never uses).
  const createGraphqlHandler = role === 'all' || role === 'api' ? (await import('./api/graphql-handler.ts')).createGraphqlHandler : undefined;
  let running;
  try {
    running = await startRole(role, { config, logger, ...(createGraphqlHandler ? { createGraphqlHandler } : {}) }, roleArguments);
  } catch (error) {
    const reason = isEmpsyncError(error) ? `${error.code}: ${error.message}` : describeError(error);
    logger.fatal({ err: error }, 'start failed');
    process.stderr.write(`empsync: cannot start the ${role} role — ${reason}\n`);
    return 1;
  }
  const oneShot = role === 'migrate' || role === 'backfill' || role === 'dlq' || role === 'schema' || (role === 'reconcile' && !roleArguments.includes('--watch'));
  if (oneShot) {
    await running.stop();
    const dlq = running.deadLetterReport;
    if (dlq) {
      process.stdout.write(`${JSON.stringify('list' in dlq ? dlq.list : dlq.replayed, bigintJson, 2)}\n`);
      return 'replayed' in dlq && dlq.replayed.some((r) => r.outcome === 'failed') ? 3 : 0;
    }
    const report = running.reconcileReport;
    if (!report) return 0;
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    // Divergences left as they are (no --repair) or still there after the repair's verification, or
    // columns left out of the sync, exit 3, so a scheduled check can alert on them.
    const repaired = roleArguments.includes('--repair');
    return (repaired ? report.unrepaired : report.divergent) > 0 || report.columnsLeftOut.length > 0 ? 3 : 0;
  }
  const urls = roleUrls(role, config, running);
  logger.info(urls, `empsync ${role} running`);
  // On a terminal a person reads the URLs once; elsewhere the log line above carries them.
  if (process.stdout.isTTY) process.stdout.write(formatBanner(role, urls, config.NODE_ENV === 'production'));
  const trim = startIdleMemoryTrim(config.IDLE_MEMORY_TRIM_MS, logger);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  const forced = setTimeout(() => {
    logger.error('stages did not stop within 15 s: exiting');
    process.exit(1);
  }, 15_000);
  forced.unref();
  trim.stop();
  await running.stop();
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
