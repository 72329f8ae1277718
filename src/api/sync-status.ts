// syncStatus and syncConflicts: the health of two-way sync as this API process sees it. Backlogs are
// counted live in each store's outbox; lag, last apply and end-to-end latency come from this process's
// metrics (its sinks, since the process started); conflicts are read from both stores' sync_conflicts.
import type { Metrics } from '../metrics/metrics.ts';
import type { DriftStatus } from '../reconcile/drift-check.ts';
import type { SnapshotRun, StoredConflict } from '../store/ports.ts';
import type { StoreName } from '../store/types.ts';
import { requireRole } from './authentication.ts';
import { builder, type ApiContext } from './builder.ts';
import { badUserInput } from './employee-input.ts';
import { boundedStream, ticks } from './subscriptions.ts';
import { syncedTables } from '../tables/tables.ts';
import { GroupMembers, type GroupMember } from '../transport/group-members.ts';
import { sinkGroup } from '../transport/kafka.ts';
import './date-time-scalar.ts';

export const maxConflicts = 500;
const minStatusInterval = 0.5;

interface DirectionStatus {
  source: StoreName;
  target: StoreName;
  outboxBacklog: number;
  /** Changes the source's relay parked (values the target cannot store), waiting in the source. */
  parkedAtRelay: number;
  /** Events the target's sink parked (it could not apply them), waiting in the target. */
  parkedAtSink: number;
  consumerLag: number | null;
  lastAppliedAt: string | null;
  lag: { p50: number | null; p99: number | null; samples: number };
  /** Events this process's sink applied to the target since it started. */
  applied: number;
  relayActiveHere: boolean;
  sinkRunningHere: boolean;
  /** Events applied per second over the last minute, when Prometheus says (null: take the rate of `applied`). */
  throughput: number | null;
  /** Where throughput, lags and the last apply come from: Prometheus (every sink) or this process. */
  figuresFrom: 'prometheus' | 'process';
  /** Who holds the source's relay lease (null: no relay runs for it). */
  leaseHolder: string | null;
  /** The members of the target's sink groups (null: the broker could not say). */
  sinkMembers: GroupMember[] | null;
}

interface SyncStatus {
  directions: DirectionStatus[];
  dlqMessages: number;
  metricsSince: string;
  drift: DriftStatus | null;
  snapshots: (SnapshotRun & { source: StoreName })[];
}

/** Seconds between two recorded instants (ISO-8601), or null. */
const secondsBetween = (from: string | null, to: string) => (from ? Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000) : null);

interface Bucket {
  le: number;
  count: number;
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; a quantile in the +Inf bucket answers the highest finite bound. Null without samples.
 */
export function histogramQuantile(q: number, buckets: Bucket[]): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return previousBound;
      const inBucket = bucket.count - previousCount;
      if (inBucket === 0) return bucket.le;
      return previousBound + ((bucket.le - previousBound) * (rank - previousCount)) / inBucket;
    }
    previousBound = bucket.le;
    previousCount = bucket.count;
  }
  return previousBound;
}

async function directionStatus(
  metrics: Metrics,
  source: StoreName,
  target: StoreName,
  outboxBacklog: number,
  parked: { relay: number; sink: number },
  holders: { leaseHolder: string | null; sinkMembers: GroupMember[] | null },
  remote: RemoteFigures | null,
): Promise<DirectionStatus> {
  const [lag, lastApplied, endToEnd, applied, relayActive, sinkUp] = await Promise.all([
    metrics.consumerLag.get(),
    metrics.lastAppliedTimestamp.get(),
    metrics.endToEndLag.get(),
    metrics.applied.get(),
    metrics.relayActive.get(),
    metrics.sinkUp.get(),
  ]);
  const lagValues = lag.values.filter((v) => v.labels.store === target);
  const lastAppliedSeconds = lastApplied.values.find((v) => v.labels.store === target)?.value ?? 0;
  const buckets = endToEnd.values
    .filter((v) => v.metricName === 'empsync_end_to_end_lag_seconds_bucket' && v.labels.store === target)
    .map((v) => {
      // Bucket samples carry `le` beside the declared labels.
      const le = (v.labels as Record<string, string | number | undefined>)['le'];
      return { le: le === '+Inf' ? Infinity : Number(le), count: v.value };
    });
  return {
    source,
    target,
    outboxBacklog,
    parkedAtRelay: parked.relay,
    parkedAtSink: parked.sink,
    consumerLag: lagValues.length ? lagValues.reduce((sum, v) => sum + v.value, 0) : null,
    lastAppliedAt: lastAppliedSeconds > 0 ? new Date(lastAppliedSeconds * 1000).toISOString() : null,
    lag: {
      p50: histogramQuantile(0.5, buckets),
      p99: histogramQuantile(0.99, buckets),
      samples: buckets.reduce((max, b) => Math.max(max, b.count), 0),
    },
    applied: applied.values.filter((v) => v.labels.store === target).reduce((sum, v) => sum + v.value, 0),
    relayActiveHere: relayActive.values.some((v) => v.labels.store === source && v.value === 1),
    sinkRunningHere: sinkUp.values.some((v) => v.labels.store === target && v.value === 1),
    ...holders,
    throughput: null,
    figuresFrom: 'process' as const,
    // The sinks' own figures, from the Prometheus that scrapes them all, when there is one.
    ...(remote && {
      throughput: remote.throughput,
      consumerLag: remote.consumerLag,
      lastAppliedAt: remote.lastApplied ? new Date(remote.lastApplied * 1000).toISOString() : null,
      lag: { p50: remote.p50, p99: remote.p99, samples: remote.samples ?? 0 },
      figuresFrom: 'prometheus' as const,
    }),
  };
}

const GroupMemberType = builder.objectRef<GroupMember>('SyncGroupMember').implement({
  description: 'A consumer of a sink group.',
  fields: (t) => ({
    clientId: t.exposeString('clientId'),
    host: t.exposeString('host'),
    partitions: t.exposeStringList('partitions', { description: 'Assigned partitions, as topic:partition.' }),
  }),
});

const DirectionStatusType = builder.objectRef<DirectionStatus>('SyncDirectionStatus').implement({
  description: 'One direction of two-way sync: changes captured in `source`, applied to `target`.',
  fields: (t) => ({
    direction: t.string({
      description: '"mysql->postgres" or "postgres->mysql".',
      resolve: (s) => `${s.source}->${s.target}`,
    }),
    source: t.exposeString('source'),
    target: t.exposeString('target'),
    outboxBacklog: t.exposeInt('outboxBacklog', {
      description: 'Captured changes of the source not yet published to Kafka (counted now).',
    }),
    parkedAtRelay: t.exposeInt('parkedAtRelay', {
      description: 'Changes of the source its relay parked: values the target cannot store (counted now; deadLetters lists them).',
    }),
    parkedAtSink: t.exposeInt('parkedAtSink', {
      description: "Events the target's sink parked: it could not apply them (counted now; deadLetters lists them).",
    }),
    consumerLag: t.int({
      nullable: true,
      description: "Messages between the target sink's position and the end of the topic, all partitions (null when this process runs no sink for the target).",
      resolve: (s) => s.consumerLag,
    }),
    lastAppliedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the sink of this process last applied a batch to the target (null: not since start).',
      resolve: (s) => s.lastAppliedAt,
    }),
    endToEndLagP50Seconds: t.float({
      nullable: true,
      description: 'Median source commit → applied delay since the process started (from histogram buckets).',
      resolve: (s) => s.lag.p50,
    }),
    endToEndLagP99Seconds: t.float({
      nullable: true,
      description: '99th percentile of the same delay (bucket precision).',
      resolve: (s) => s.lag.p99,
    }),
    endToEndLagSamples: t.int({
      description: 'Events behind the two percentiles.',
      resolve: (s) => s.lag.samples,
    }),
    throughputPerSecond: t.float({
      nullable: true,
      description: 'Events applied to the target per second over the last minute, by every sink (from Prometheus; null when the figures are this process\'s: take the rate of appliedEvents).',
      resolve: (s) => s.throughput,
    }),
    figuresFrom: t.string({
      description:
        '"prometheus": throughput, end-to-end lag (last 5 minutes), consumer lag and last apply cover every sink, read from PROMETHEUS_URL; "process": this process\'s own sinks since it started (empty in an api-only process without PROMETHEUS_URL).',
      resolve: (s) => s.figuresFrom,
    }),
    appliedEvents: t.float({
      description: "Events this process's sink applied to the target since it started (a counter: its rate is the throughput).",
      resolve: (s) => s.applied,
    }),
    relayActiveHere: t.boolean({
      description: "Whether this process holds the source's relay lease (one relay per store publishes; the others wait).",
      resolve: (s) => s.relayActiveHere,
    }),
    sinkRunningHere: t.boolean({
      description: 'Whether a sink of this process is consuming for the target (a member of its consumer group).',
      resolve: (s) => s.sinkRunningHere,
    }),
    relayLeaseHolder: t.string({
      nullable: true,
      description: "Who holds the source's relay lease, as the source database tells it (session, and the relay's host and pid where visible); null: no relay runs for the source.",
      resolve: (s) => s.leaseHolder,
    }),
    sinkGroupMembers: t.field({
      type: [GroupMemberType],
      nullable: true,
      description: "The members of the target's sink consumer groups, as the broker tells them (null: it could not say).",
      resolve: (s) => s.sinkMembers,
    }),
  }),
});

const DriftTableType = builder.objectRef<{ table: string; rows: number }>('SyncDriftTable').implement({
  fields: (t) => ({
    table: t.exposeString('table'),
    rows: t.exposeInt('rows', { description: 'Rows of this table that differed at the last complete pass.' }),
  }),
});

export const DriftStatusType = builder.objectRef<DriftStatus>('SyncDrift').implement({
  description: 'The content drift check: both stores compared row by row and column by column, on a schedule.',
  fields: (t) => ({
    rows: t.int({
      nullable: true,
      description: 'Rows whose content differed (confirmed, not in flight) at the last complete pass; after a repair, those left unrepaired. Null before the first pass.',
      resolve: (d) => d.rows,
    }),
    lastCompletePassAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.lastCompletePassAt }),
    lastPassSeconds: t.float({ nullable: true, resolve: (d) => d.lastPassSeconds }),
    intervalSeconds: t.float({ resolve: (d) => d.intervalMs / 1000 }),
    tables: t.field({ type: [DriftTableType], resolve: (d) => d.tables }),
    lastError: t.string({ nullable: true, description: 'Why the last pass failed (it is retried at the next interval).', resolve: (d) => d.lastError }),
  }),
});

const SnapshotType = builder.objectRef<SnapshotRun & { source: StoreName }>('SyncSnapshot').implement({
  description:
    'A snapshot of a table (a backfill, a resync, a re-publish into a new log): read in id order from its source store by that store\'s relay and published; resumed after a crash where it stopped.',
  fields: (t) => ({
    source: t.exposeString('source', { description: 'The store whose table is read.' }),
    run: t.exposeString('run'),
    table: t.exposeString('table'),
    done: t.exposeBoolean('done'),
    published: t.exposeInt('published', { description: 'Rows read and published so far.' }),
    total: t.int({ nullable: true, description: 'Rows the table held when the snapshot started.', resolve: (r) => r.total }),
    lastId: t.int({ nullable: true, description: 'The highest id published so far: the snapshot resumes after it.', resolve: (r) => r.lastId }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.startedAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (r) => r.updatedAt }),
    rowsPerSecond: t.float({
      nullable: true,
      description: 'Rows published per second from its start to its last recorded chunk.',
      resolve: (r) => {
        const seconds = secondsBetween(r.startedAt, r.updatedAt);
        return seconds ? r.published / seconds : null;
      },
    }),
    etaSeconds: t.float({
      nullable: true,
      description: 'Seconds left at that rate (0 when done; null while unknown).',
      resolve: (r) => {
        if (r.done) return 0;
        const seconds = secondsBetween(r.startedAt, r.updatedAt);
        if (!seconds || r.total === null || r.published === 0) return null;
        return (Math.max(0, r.total - r.published) * seconds) / r.published;
      },
    }),
  }),
});

const SyncStatusType = builder.objectRef<SyncStatus>('SyncStatus').implement({
  description: 'Two-way sync as this API process sees it.',
  fields: (t) => ({
    directions: t.field({ type: [DirectionStatusType], resolve: (s) => s.directions }),
    dlqMessages: t.int({
      description: 'Messages parked in the DLQ topic, as of the last /metrics refresh (empsync_dlq_messages).',
      resolve: (s) => s.dlqMessages,
    }),
    metricsSince: t.field({
      type: 'DateTime',
      description: 'When this process started: lags and percentiles cover the time since.',
      resolve: (s) => s.metricsSince,
    }),
    drift: t.field({
      type: DriftStatusType,
      nullable: true,
      description: 'The content drift check: this process\'s, or the last pass a drift check (the `all` role, `empsync reconcile --watch`) recorded in PostgreSQL; null before any.',
      resolve: (s) => s.drift,
    }),
    snapshots: t.field({
      type: [SnapshotType],
      description: 'Snapshots of both stores, running and finished (the last of each kind per table).',
      resolve: (s) => s.snapshots,
    }),
  }),
});

export const SyncConflictType = builder.objectRef<StoredConflict>('SyncConflict').implement({
  description: 'A concurrent change of one row on both sides, as recorded by the store it was applied to.',
  fields: (t) => ({
    store: t.exposeString('store', { description: 'The store whose sink met the conflict.' }),
    employeId: t.exposeInt('employeId'),
    kind: t.exposeString('kind', { description: 'update, delete or email.' }),
    outcome: t.exposeString('outcome', { description: 'incoming-applied, local-kept or local-displaced.' }),
    policy: t.exposeString('policy'),
    localVersion: t.string({ resolve: (c) => c.localVersion.toString() }),
    incomingVersion: t.string({ resolve: (c) => c.incomingVersion.toString() }),
    localOrigin: t.exposeString('localOrigin'),
    incomingOrigin: t.exposeString('incomingOrigin'),
    detectedAt: t.field({ type: 'DateTime', resolve: (c) => c.detectedAt }),
  }),
});


interface RemoteFigures {
  throughput: number | null;
  p50: number | null;
  p99: number | null;
  samples: number | null;
  lastApplied: number | null;
  consumerLag: number | null;
}

const remoteAnswers = new Map<string, { at: number; figures: Promise<RemoteFigures | null> }>();

/**
 * The target's sink figures over every process that runs one, from Prometheus (PROMETHEUS_URL): applied
 * events per second over the last minute, end-to-end lag percentiles and observations over the last 5
 * minutes, the last apply, the consumer lag. Null when Prometheus does not answer (the caller falls back
 * on this process's metrics). One set of queries per second per target, however many ask.
 */
function prometheusFigures(url: string, target: StoreName): Promise<RemoteFigures | null> {
  const key = `${url}|${target}`;
  const cached = remoteAnswers.get(key);
  if (cached && Date.now() - cached.at < 1000) return cached.figures;
  const selector = `{store="${target}"}`;
  const queries: Record<keyof RemoteFigures, string> = {
    throughput: `sum(rate(empsync_events_applied_total${selector}[1m]))`,
    p50: `histogram_quantile(0.5, sum by (le) (rate(empsync_end_to_end_lag_seconds_bucket${selector}[5m])))`,
    p99: `histogram_quantile(0.99, sum by (le) (rate(empsync_end_to_end_lag_seconds_bucket${selector}[5m])))`,
    samples: `sum(increase(empsync_end_to_end_lag_seconds_count${selector}[5m]))`,
    lastApplied: `max(empsync_last_applied_timestamp_seconds${selector})`,
    consumerLag: `sum(empsync_consumer_lag${selector})`,
  };
  const one = async (query: string): Promise<number | null> => {
    const response = await fetch(new URL(`/api/v1/query?query=${encodeURIComponent(query)}`, url), { signal: AbortSignal.timeout(2000) });
    if (!response.ok) throw new Error(`Prometheus answered HTTP ${response.status}`);
    const body = (await response.json()) as { data?: { result?: { value?: [number, string] }[] } };
    const value = Number(body.data?.result?.[0]?.value?.[1]);
    return Number.isFinite(value) ? value : null;
  };
  const figures = Promise.all(Object.entries(queries).map(async ([name, query]) => [name, await one(query)] as const)).then(
    (pairs) => {
      const found = Object.fromEntries(pairs) as unknown as RemoteFigures;
      return { ...found, samples: found.samples === null ? null : Math.round(found.samples) };
    },
    () => null,
  );
  remoteAnswers.set(key, { at: Date.now(), figures });
  return figures;
}

/** One broker view of the sink groups per API process (closed when it stops). */
const groupMembers = new WeakMap<object, GroupMembers>();

async function holders(ctx: ApiContext, source: StoreName, target: StoreName): Promise<{ leaseHolder: string | null; sinkMembers: GroupMember[] | null }> {
  const { config, stores } = ctx.app;
  let members = groupMembers.get(ctx.app);
  if (!members) {
    const created = new GroupMembers(config);
    groupMembers.set(ctx.app, (members = created));
    ctx.app.onStop(() => created.close());
  }
  const groups = syncedTables(config).map((table) => sinkGroup(config, target, table.topic, table.name));
  const [leaseHolder, sinkMembers] = await Promise.all([stores[source].outbox.leaseHolder().catch(() => null), members.of(groups)]);
  return { leaseHolder, sinkMembers };
}

/** Backlogs and parked events counted now, lags from this process's metrics, drift and snapshots. */
async function readSyncStatus(ctx: ApiContext): Promise<SyncStatus> {
  const url = ctx.app.config.PROMETHEUS_URL;
  const { stores, metrics } = ctx.app;
  // Started with the counts, not after them: the lease holders, the sink groups and Prometheus answer apart.
  const elsewhere = {
    mysql: Promise.all([holders(ctx, 'mysql', 'postgres'), url ? prometheusFigures(url, 'postgres') : null]),
    postgres: Promise.all([holders(ctx, 'postgres', 'mysql'), url ? prometheusFigures(url, 'mysql') : null]),
  };
  const [mysqlBacklog, postgresBacklog, dlq, mysqlParked, postgresParked, mysqlSnapshots, postgresSnapshots] = await Promise.all([
    stores.mysql.outbox.backlog(),
    stores.postgres.outbox.backlog(),
    metrics.dlqSize.get(),
    stores.mysql.deadLetters.count(),
    stores.postgres.deadLetters.count(),
    stores.mysql.outbox.snapshotRuns(),
    stores.postgres.outbox.snapshotRuns(),
  ]);
  const parked = (list: typeof mysqlParked, stage: string) => list.find((p) => p.stage === stage)?.parked ?? 0;
  return {
    directions: await Promise.all([
      directionStatus(metrics, 'mysql', 'postgres', mysqlBacklog, { relay: parked(mysqlParked, 'relay'), sink: parked(postgresParked, 'sink') }, ...(await elsewhere.mysql)),
      directionStatus(metrics, 'postgres', 'mysql', postgresBacklog, { relay: parked(postgresParked, 'relay'), sink: parked(mysqlParked, 'sink') }, ...(await elsewhere.postgres)),
    ]),
    dlqMessages: dlq.values[0]?.value ?? 0,
    metricsSince: new Date(performance.timeOrigin).toISOString(),
    drift: await ctx.app.drift(),
    snapshots: [
      ...mysqlSnapshots.map((r) => ({ ...r, source: 'mysql' as const })),
      ...postgresSnapshots.map((r) => ({ ...r, source: 'postgres' as const })),
    ],
  };
}

builder.queryFields((t) => ({
  syncStatus: t.field({
    type: SyncStatusType,
    description: 'Backlog, lag and DLQ of both sync directions. Needs the role reader.',
    resolve: async (_root, _args, ctx) => {
      requireRole(ctx.principal, 'reader', 'syncStatus');
      return readSyncStatus(ctx);
    },
  }),
  syncConflicts: t.field({
    type: [SyncConflictType],
    description: `Recorded conflicts of both stores, newest first (limit 1–${maxConflicts}). Needs the role reader.`,
    args: { limit: t.arg.int({ required: false, defaultValue: 50 }) },
    resolve: async (_root, args, ctx) => {
      requireRole(ctx.principal, 'reader', 'syncConflicts');
      const limit = args.limit ?? 50;
      if (limit < 1 || limit > maxConflicts) throw badUserInput('limit', `limit must be between 1 and ${maxConflicts}.`);
      const [inMysql, inPostgres] = await Promise.all([
        ctx.app.stores.mysql.conflicts.list(limit),
        ctx.app.stores.postgres.conflicts.list(limit),
      ]);
      return [...inMysql, ...inPostgres]
        .sort((a, b) => (a.detectedAt < b.detectedAt ? 1 : a.detectedAt > b.detectedAt ? -1 : 0))
        .slice(0, limit);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  syncStatusUpdates: t.field({
    type: SyncStatusType,
    description: `syncStatus now and then every intervalSeconds (${minStatusInterval}–60 s, default 2) over SSE: what the console's overview shows live. Needs the role reader; counts as an open subscription.`,
    args: { intervalSeconds: t.arg.float({ required: false, defaultValue: 2 }) },
    subscribe: (_root, args, ctx) => {
      requireRole(ctx.principal, 'reader', 'syncStatusUpdates');
      const interval = args.intervalSeconds ?? 2;
      if (!(interval >= minStatusInterval && interval <= 60)) throw badUserInput('intervalSeconds', `intervalSeconds must be between ${minStatusInterval} and 60.`);
      return boundedStream(ctx, ticks(interval * 1000));
    },
    resolve: (_tick, _args, ctx) => readSyncStatus(ctx),
  }),
}));
