// One program, several roles. Each role starts the stages it needs and returns how to stop them:
//   all      relay + sink for both stores, and the API (the default of `npm start`)
//   api      GraphQL + health + metrics (writes to MySQL, reads PostgreSQL)
//   relay    outbox → Kafka for one store or both       sink   Kafka → store for one store or both
//   migrate  databases, schema, role users and topics, then exit (--watch: stay up keeping the schema)
//   backfill  re-publish MySQL rows (every table), then exit
//   reconcile  compare both stores row by row (--repair re-publishes what differs), then exit
//   dlq      list or replay parked events (dead letters of both stores), then exit
//   schema   drop a column a DBA added, from both engines (capture first), then exit
//   status   asks a running API for the sync overview and exits 0 (healthy) or 1 (src/roles/status.ts); starts no stage
import type { Server } from 'node:http';
import { SchemaKeeper } from '../capture/schema-keeper.ts';
import type { Config } from '../config.ts';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { startHttpServer, stopHttpServer, type RequestHandler } from '../http/http-server.ts';
import { cachedReadiness, createReadinessProbe } from '../http/readiness.ts';
import { createMetrics, initialiseKnownSeries, type Metrics } from '../metrics/metrics.ts';
import { createGaugeRefresher } from '../metrics/refresh-gauges.ts';
import { createAuthenticator, type Authenticator } from '../api/authentication.ts';
import { serveConsole } from '../api/console/serve-console.ts';
import { DriftCheck, driftStatusOf, type DriftStatus } from '../reconcile/drift-check.ts';
import { reconcile, type ReconcileReport } from '../reconcile/reconcile.ts';
import { listDeadLetters, replayDeadLetters } from './dead-letters.ts';
import { followBackfill, progressBar, requestBackfill } from '../relay/backfill.ts';
import { Relay } from '../relay/relay.ts';
import { Sink } from '../sink/sink.ts';
import { closeStores, createStores, ensureDatabases, type Stores } from '../store/create-stores.ts';
import { storeNames, type ReplayResult, type StoreName, type StoredDeadLetter } from '../store/types.ts';
import { syncedTables } from '../tables/tables.ts';
import { ensureTopics, sinkGroup } from '../transport/kafka.ts';

export const roles = ['all', 'api', 'relay', 'sink', 'migrate', 'backfill', 'reconcile', 'dlq', 'schema', 'status'] as const;
export type Role = (typeof roles)[number];

export interface RunningRole {
  stores: Stores;
  /** The synced tables' schemas, kept up to date while the role runs. */
  schemas: SchemaKeeper;
  metrics: Metrics;
  relays: Relay[];
  sinks: Sink[];
  server: Server | null;
  /** The /metrics server when METRICS_PORT puts it apart. */
  metricsServer?: Server | null;
  /** What the reconcile role found (the caller prints it). */
  reconcileReport?: ReconcileReport;
  /** What the dlq role listed or replayed (the caller prints it). */
  deadLetterReport?: { list: StoredDeadLetter[] } | { replayed: ReplayResult[] };
  stop(): Promise<void>;
}

export interface RoleDependencies {
  config: Config;
  logger: Logger;
  /** Builds the GraphQL handler (src/api); absent in roles that serve no API. */
  createGraphqlHandler?: (context: GraphqlHandlerContext) => RequestHandler;
}

export interface GraphqlHandlerContext {
  config: Config;
  logger: Logger;
  stores: Stores;
  /** The synced tables' schemas: the API's extra employee fields follow them. */
  schemas: SchemaKeeper;
  metrics: Metrics;
  readiness: ReturnType<typeof createReadinessProbe>;
  /** Full resync: re-publishes every MySQL row of every table; resolves with the number of rows queued. */
  resync: () => Promise<number>;
  /** Resolves each request's principal (API keys, JWT); the process's one authenticator. */
  authenticator: Authenticator;
  /** Registers work to run when the role stops, before the HTTP server closes (ends open subscriptions). */
  onStop: (hook: () => Promise<void>) => void;
  /** The content drift check's last findings: this process's, else the last pass recorded in PostgreSQL (null: none). */
  drift: () => Promise<DriftStatus | null>;
  /** Parked events of both stores, and their replay (src/roles/dead-letters.ts). */
  deadLetters: {
    list: (options: { includeReplayed?: boolean; limit?: number }) => Promise<StoredDeadLetter[]>;
    replay: (selection: { all: true } | { keys: string[] }) => Promise<ReplayResult[]>;
  };
}

/**
 * Databases, migrations, the synced tables (created, columns added, capture generated) and their topics,
 * then returns the schema keeper, its first check done. Idempotent. A process whose database users own
 * the schema (the `migrate` role's, or a single owner's account in development) makes these changes; one
 * connected as a role's user (src/store/privileges.ts) only checks them and stops with
 * EMPSYNC_NOT_MIGRATED when something is missing. `migrate` also creates the role users (DB_ROLE_PASSWORDS).
 */
export async function prepare(config: Config, stores: Stores, logger: Logger, metrics: Metrics, options: { roleUsers?: boolean } = {}): Promise<SchemaKeeper> {
  await ensureDatabases(config);
  const owner = (await Promise.all(storeNames.map((name) => stores[name].access.ownsSchema()))).every(Boolean);
  const notMigrated = (what: string) =>
    new EmpsyncError(ErrorCodes.NOT_MIGRATED, `${what}, and this process's database users may not change the schema: run \`empsync migrate\` with the owner's credentials first`);
  if (owner) {
    const applied = [...(await stores.mysql.migrate()), ...(await stores.postgres.migrate())];
    if (applied.length) logger.info({ applied }, 'migrations applied');
  } else {
    for (const name of storeNames) {
      const pending = await stores[name].pendingMigrations();
      if (pending.length) throw notMigrated(`${name}: ${pending.length} migration(s) not applied (${pending[0]}…)`);
    }
  }
  const tables = syncedTables(config);
  const keeper = new SchemaKeeper({
    tables,
    stores: { mysql: stores.mysql.schema, postgres: stores.postgres.schema },
    logger,
    metrics,
    changes: owner,
    dropGraceMs: config.SCHEMA_DROP_GRACE_MS,
  });
  await keeper.check();
  const unprepared = keeper.unprepared;
  if (unprepared.length) throw notMigrated(unprepared.join('; '));
  if (!owner) logger.info('database users without DDL: the schema is checked here, changed by `empsync migrate`');
  if (options.roleUsers && config.DB_ROLE_PASSWORDS?.length) {
    const users = config.DB_ROLE_PASSWORDS.map(({ role, password }) => ({ role, password, user: `${config.DB_ROLE_USER_PREFIX}${role}` }));
    if (!owner) throw notMigrated('role users cannot be created');
    for (const name of storeNames) await stores[name].access.ensureRoleUsers(users, tables.map((t) => t.name));
    logger.info({ users: users.map((u) => u.user) }, 'database users of the roles created, grants set');
  }
  await ensureTopics(config, tables.map((t) => t.topic));
  return keeper;
}

function parseStores(argument: string | undefined): StoreName[] {
  if (argument === undefined || argument === 'both') return [...storeNames];
  if ((storeNames as readonly string[]).includes(argument)) return [argument as StoreName];
  throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `unknown store "${argument}": use mysql, postgres or both`);
}

export const reconcileUsage = 'reconcile [--repair] [--watch]';

/** `reconcile` flags: --repair (repair and verify), --watch (a drift check every DRIFT_CHECK_INTERVAL_MS). */
function parseReconcileArguments(args: readonly string[]): { repair: boolean; watch: boolean } {
  const unknown = args.filter((a) => a !== '--repair' && a !== '--watch');
  if (unknown.length) throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `usage: empsync ${reconcileUsage}`);
  return { repair: args.includes('--repair'), watch: args.includes('--watch') };
}

export const migrateUsage = 'migrate [--watch]';

/** `migrate` flags: --watch (stay up, keeping the schema: the owner's process when roles run as their own users). */
function parseMigrateArguments(args: readonly string[]): { watch: boolean } {
  if (args.some((a) => a !== '--watch')) throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `usage: empsync ${migrateUsage}`);
  return { watch: args.includes('--watch') };
}

export const dlqUsage = 'dlq list [--all] | dlq replay --all | dlq replay --id <store>:<id>[,<store>:<id>…]';

/** `dlq` arguments: list (parked only, or --all) or replay (--all, or --id with comma-separated ids). */
function parseDlqArguments(args: readonly string[]): { list: { includeReplayed: boolean } } | { replay: { all: true } | { keys: string[] } } {
  const [command, flag, value] = args;
  if (command === 'list' && (flag === undefined || flag === '--all') && value === undefined) return { list: { includeReplayed: flag === '--all' } };
  if (command === 'replay' && flag === '--all' && value === undefined) return { replay: { all: true } };
  if (command === 'replay' && flag === '--id' && value) return { replay: { keys: value.split(',').filter(Boolean) } };
  throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `usage: empsync ${dlqUsage}`);
}

export async function startRole(role: Role, deps: RoleDependencies, args: readonly string[] = []): Promise<RunningRole> {
  // A client of the API (runStatus): it touches no database and no topic.
  if (role === 'status') throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, 'status starts no stage: run it with runStatus (src/roles/status.ts)');
  const argument = args[0];
  const { config, logger } = deps;
  const metrics = createMetrics();
  initialiseKnownSeries(metrics, syncedTables(config).flatMap((t) => t.unique));
  const stores = createStores(config);
  metrics.dbPoolSize.set({ store: 'mysql' }, config.MYSQL_POOL_SIZE);
  metrics.dbPoolSize.set({ store: 'postgres' }, config.POSTGRES_POOL_SIZE);
  const relays: Relay[] = [];
  const sinks: Sink[] = [];
  let server: Server | null = null;
  let schemas: SchemaKeeper | null = null;
  const stopHooks: (() => Promise<void>)[] = [];

  const metricsServers: Server[] = [];
  const stop = async () => {
    await Promise.allSettled(stopHooks.map((hook) => hook()));
    if (server) await stopHttpServer(server);
    await Promise.allSettled(metricsServers.map((s) => stopHttpServer(s)));
    await Promise.allSettled([...relays.map((r) => r.stop()), ...sinks.map((s) => s.stop())]);
    await schemas?.stop();
    await closeStores(stores);
  };

  try {
    const watch = role === 'migrate' && parseMigrateArguments(args).watch;
    const backfillSource = role === 'backfill' ? parseBackfillSource(args) : null;
    const keeper = await prepare(config, stores, logger, metrics, { roleUsers: role === 'migrate' });
    schemas = keeper;
    const running = { stores, schemas: keeper, metrics, relays, sinks, server, stop };
    // `migrate --watch` stays up as the schema's owner: the schema keeper below, with /metrics and /readyz.
    if (role === 'migrate' && !watch) return running;
    const flags = parseReconcileArguments(role === 'reconcile' ? args : []);
    const driftOptions = (repair: boolean) => ({
      repair,
      chunkRows: config.RECONCILE_CHUNK_ROWS,
      settleMs: config.DRIFT_SETTLE_MS,
      verifyTimeoutMs: config.REPAIR_VERIFY_TIMEOUT_MS,
    });
    if (role === 'reconcile' && !flags.watch) {
      const reconcileReport = await reconcile(stores, keeper.schemas, { ...driftOptions(flags.repair), columnsLeftOut: keeper.mismatches });
      return { ...running, reconcileReport };
    }
    if (role === 'dlq') {
      const command = parseDlqArguments(args);
      const deadLetterReport =
        'list' in command
          ? { list: await listDeadLetters(stores, command.list) }
          : { replayed: await replayDeadLetters(stores, keeper, config.CONFLICT_POLICY, command.replay) };
      return { ...running, deadLetterReport };
    }
    if (role === 'schema') {
      const [command, table, column, extra] = args;
      if (command !== 'drop-column' || !table || !column || extra !== undefined) {
        throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, 'usage: empsync schema drop-column <table> <column>');
      }
      await keeper.dropColumn(table, column);
      return running;
    }
    if (role === 'backfill') {
      await backfill(backfillSource!, { config, logger, metrics, stores, keeper, relays });
      return running;
    }

    // Catalogs are read again every SCHEMA_CHECK_INTERVAL_MS: a column a DBA adds flows without a restart.
    keeper.start(config.SCHEMA_CHECK_INTERVAL_MS);
    // The API's employees carry the columns found besides the contract's.
    const useExtras = () => {
      const extras = keeper.schema('employes').columns.filter((c) => !c.declared);
      stores.mysql.useEmployeeExtras(extras);
      stores.postgres.useEmployeeExtras(extras);
    };
    useExtras();
    keeper.on('change', useExtras);
    // Decided before any sink runs: a sink draining old events would make the read model look filled.
    if (role === 'all' && config.BACKFILL_ON_START) await backfillWhenReadModelEmpty(stores, keeper, logger);
    const relayStores = role === 'all' ? [...storeNames] : role === 'relay' ? parseStores(argument) : [];
    const sinkStores = role === 'all' ? [...storeNames] : role === 'sink' ? parseStores(argument) : [];
    for (const name of relayStores) {
      const relay = createRelay(config, stores[name], keeper, metrics, logger);
      relay.start();
      relays.push(relay);
    }
    for (const name of sinkStores) {
      for (const { table } of keeper.schemas) {
        const sink = new Sink({
          store: stores[name],
          table: table.name,
          schemas: keeper,
          kafka: config,
          metrics,
          logger,
          policy: config.CONFLICT_POLICY,
          consumerGroup: sinkGroup(config, name, table.topic, table.name),
          maxBatch: config.SINK_MAX_BATCH,
          maxBatchBytes: config.SINK_MAX_BATCH_BYTES,
          fetchMaxBytes: config.SINK_FETCH_MAX_BYTES,
          concurrency: config.SINK_CONCURRENCY,
          offsetCheckIntervalMs: config.LOG_CHECK_INTERVAL_MS,
        });
        await sink.start();
        sinks.push(sink);
      }
    }

    // The content drift check: in `all` (unless DRIFT_CHECK_INTERVAL_MS=0) and `reconcile --watch`.
    let drift: DriftCheck | null = null;
    if ((role === 'all' && config.DRIFT_CHECK_INTERVAL_MS > 0) || role === 'reconcile') {
      const check = new DriftCheck({
        stores,
        schemas: keeper,
        metrics,
        logger,
        intervalMs: config.DRIFT_CHECK_INTERVAL_MS || 300_000,
        ...driftOptions(role === 'reconcile' ? flags.repair : config.DRIFT_REPAIR),
      });
      check.start();
      drift = check;
      stopHooks.push(() => check.stop());
    }

    const readiness = cachedReadiness(createReadinessProbe(stores, config, metrics, keeper), config.READYZ_CACHE_MS, metrics);
    const serveApi = role === 'all' || role === 'api';
    // One authenticator per process, for the API and /readyz's details. It refuses, in production, an API
    // without credentials; a role that serves no API and has none needs none.
    const configured = Boolean(config.AUTH_API_KEYS?.length || config.AUTH_JWT_SECRET || config.AUTH_JWKS_URL);
    const authenticator = serveApi || configured ? createAuthenticator(config, logger) : null;
    const graphql =
      serveApi && deps.createGraphqlHandler
        ? deps.createGraphqlHandler({
            config,
            logger,
            stores,
            schemas: keeper,
            metrics,
            readiness,
            resync: async () => {
              // Requested here, read and published by MySQL's active relay; resolves with the rows it will publish.
              const tables = keeper.schemas.map((s) => s.table.name);
              const requested = await requestBackfill(stores.mysql, tables, { run: (table) => `resync:${table}`, resume: false });
              const runs = (await stores.mysql.outbox.snapshotRuns()).filter((r) => requested.some((q) => q.run === r.run));
              return runs.reduce((sum, r) => sum + (r.total ?? 0), 0);
            },
            authenticator: authenticator!,
            onStop: (hook) => stopHooks.push(hook),
            drift: async () => {
              if (drift?.status.lastCompletePassAt) return drift.status;
              const recorded = await stores.postgres.reconcile.readDrift();
              return recorded ? driftStatusOf(recorded) : (drift?.status ?? null);
            },
            deadLetters: {
              list: (options) => listDeadLetters(stores, options),
              replay: (selection) => replayDeadLetters(stores, keeper, config.CONFLICT_POLICY, selection),
            },
          })
        : undefined;
    const beforeScrape = createGaugeRefresher(stores, config, metrics, config.METRICS_REFRESH_MS, readiness, config.METRICS_MAX_DEPARTMENTS);
    // METRICS_PORT: /metrics on a port of its own (kept off the API's), with /healthz.
    const metricsApart = config.METRICS_PORT !== undefined && (config.METRICS_PORT === 0 || config.METRICS_PORT !== config.HTTP_PORT);
    server = await startHttpServer({
      host: config.HTTP_HOST,
      port: config.HTTP_PORT,
      metrics,
      logger,
      readiness,
      readinessDetails: readinessDetailsFor(config, authenticator),
      ...(metricsApart ? { serve: 'all-but-metrics' as const } : { beforeScrape }),
      ...(graphql ? { graphql, console: serveConsole } : {}),
    });
    if (metricsApart) {
      const metricsServer = await startHttpServer({ host: config.HTTP_HOST, port: config.METRICS_PORT!, metrics, logger, readiness, beforeScrape, serve: 'metrics' });
      metricsServers.push(metricsServer);
    }
    return { ...running, server, metricsServer: metricsServers[0] ?? null };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A new, empty read model catches up from MySQL without anyone having to ask, table by table (MySQL's relay reads and publishes it). */
async function backfillWhenReadModelEmpty(stores: Stores, schemas: SchemaKeeper, logger: Logger): Promise<void> {
  for (const schema of schemas.schemas) {
    const table = schema.table.name;
    const [inPostgres, inMysql] = await Promise.all([stores.postgres.reconcile.count(table), stores.mysql.reconcile.count(table)]);
    if (inPostgres > 0 || inMysql === 0) continue;
    const [request] = await requestBackfill(stores.mysql, [table]);
    logger.info({ ...request, rows: inMysql }, 'PostgreSQL table was empty: a snapshot of the MySQL table is requested (the relay reads and publishes it)');
  }
}

/** A store's relay, configured. */
function createRelay(config: Config, store: Stores[StoreName], schemas: SchemaKeeper, metrics: Metrics, logger: Logger): Relay {
  return new Relay({
    store,
    schemas,
    kafka: config,
    metrics,
    logger,
    batchSize: config.RELAY_BATCH_SIZE,
    pollIntervalMs: config.RELAY_POLL_INTERVAL_MS,
    logCheckIntervalMs: config.LOG_CHECK_INTERVAL_MS,
    backfillChunk: config.BACKFILL_CHUNK_SIZE,
    backfillChunkBytes: config.BACKFILL_CHUNK_BYTES,
    maxBatchBytes: config.RELAY_MAX_BATCH_BYTES,
    maxSendBytes: config.RELAY_MAX_SEND_BYTES,
  });
}

/** `backfill [mysql|postgres]`: the store whose tables are read (MySQL by default). */
function parseBackfillSource(args: readonly string[]): StoreName {
  const [source = 'mysql', extra] = args;
  if ((source !== 'mysql' && source !== 'postgres') || extra !== undefined) {
    throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, 'usage: empsync backfill [mysql|postgres]');
  }
  return source;
}

/**
 * `empsync backfill`: requests a snapshot of every synced table of `source` and follows it to the end
 * (a progress bar with rate and ETA on a terminal, a log line every few seconds otherwise). A relay of
 * that store runs here meanwhile: it reads and publishes the snapshot if no other process leads; if one
 * does, that leader runs it (it picks requested runs up at its next log check) and this one stands by.
 */
async function backfill(
  source: StoreName,
  context: { config: Config; logger: Logger; metrics: Metrics; stores: Stores; keeper: SchemaKeeper; relays: Relay[] },
): Promise<void> {
  const { config, logger, metrics, stores, keeper, relays } = context;
  const tables = keeper.schemas.map((s) => s.table.name);
  const requests = await requestBackfill(stores[source], tables);
  logger.info({ source, runs: requests }, 'snapshot requested: the relay reads the tables and publishes every row');
  const relay = createRelay(config, stores[source], keeper, metrics, logger);
  relays.push(relay);
  relay.start();
  const bar = progressBar();
  let loggedAt = 0;
  const runs = await followBackfill(stores[source].outbox, requests.map((r) => r.run), {
    onProgress: (progress) => {
      bar(progress);
      if (process.stderr.isTTY || Date.now() - loggedAt < 5000) return;
      loggedAt = Date.now();
      logger.info({ ...progress, rowsPerSecond: Math.round(progress.rowsPerSecond) }, 'snapshot progress');
    },
  });
  logger.info({ source, runs: runs.map((r) => ({ run: r.run, table: r.table, published: r.published })) }, 'snapshot published');
}

/**
 * Who may read /readyz's details (which dependency failed and why): an admin credential when
 * authentication is on; everyone with it off outside production (the authenticator then makes everyone
 * an admin); no one in production without credentials (a role such as a sink). Everyone else gets the
 * status alone.
 */
function readinessDetailsFor(config: Config, authenticator: Authenticator | null): (headers: Headers) => Promise<boolean> {
  if (!authenticator) return async () => config.NODE_ENV !== 'production';
  return async (headers) => {
    try {
      return (await authenticator.authenticate(headers)).role === 'admin';
    } catch {
      return false;
    }
  };
}
