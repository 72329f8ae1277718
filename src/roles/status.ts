// `empsync status`: a client of a running API, not a stage. It asks for the overview the operator
// console opens on (GraphQL `syncStatus`, and `/readyz`), prints it as aligned text or as the raw JSON,
// and says in its exit code whether sync is healthy, so a person or a cron job can act on it.
import { apiRoles, type Config } from '../config.ts';
import { describeError } from '../errors.ts';
import { urlHost } from './banner.ts';

export const statusUsage = 'status [--url <graphql url>] [--json]';

/** Exit codes of `empsync status`. */
export const StatusExit = { healthy: 0, unhealthy: 1, usage: 2 } as const;

/** The console's first view: both directions, the DLQ topic, the drift check and the snapshots. */
export const syncStatusQuery = `query EmpsyncStatus {
  syncStatus {
    directions { direction outboxBacklog parkedAtRelay parkedAtSink consumerLag lastAppliedAt endToEndLagP50Seconds endToEndLagP99Seconds endToEndLagSamples
                 relayLeaseHolder sinkGroupMembers { clientId host partitions } throughputPerSecond figuresFrom }
    dlqMessages
    drift { rows lastCompletePassAt lastError tables { table rows } }
    snapshots { source table done published total etaSeconds }
  }
}`;

export interface DirectionOverview {
  direction: string;
  outboxBacklog: number;
  parkedAtRelay: number;
  parkedAtSink: number;
  consumerLag: number | null;
  lastAppliedAt: string | null;
  endToEndLagP50Seconds: number | null;
  endToEndLagP99Seconds: number | null;
  endToEndLagSamples: number;
  /** Every sink's applied events per second (from Prometheus; null: not known here). */
  throughputPerSecond?: number | null;
  /** 'prometheus' (every sink) or 'process' (the API process's own sinks). */
  figuresFrom?: string;
  /** Who holds the source's relay lease (null: no relay runs for it). */
  relayLeaseHolder: string | null;
  /** The target's sink group members (null: the broker could not say). */
  sinkGroupMembers: { clientId: string; host: string; partitions: string[] }[] | null;
}

export interface SyncOverview {
  directions: DirectionOverview[];
  dlqMessages: number;
  drift: {
    rows: number | null;
    lastCompletePassAt: string | null;
    lastError: string | null;
    tables: { table: string; rows: number }[];
  } | null;
  snapshots: {
    source: string;
    table: string;
    done: boolean;
    published: number;
    total: number | null;
    etaSeconds: number | null;
  }[];
}

interface GraphqlBody {
  data?: { syncStatus?: SyncOverview | null } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

interface Readiness {
  status: string;
  ready: boolean;
  /** Present when the credential may read the details (admin, or authentication off outside production). */
  dependencies?: Record<string, { up: boolean; error?: string }>;
  schema?: { table: string; column: string; reason: string }[];
}

export interface StatusReport {
  url: string;
  /** /readyz's answer; null when it could not be read (the reason says why). */
  readiness: Readiness | null;
  /** The GraphQL answer as received; null when there was none. */
  body: GraphqlBody | null;
  /** Why sync is unhealthy; empty when it is healthy. */
  reasons: string[];
}

export interface StatusOptions {
  url: string;
  json: boolean;
}

/** `--url <graphql url>` (default: this config's API on the loopback) and `--json`; null on bad usage. */
export function parseStatusArguments(
  args: readonly string[],
  config: Pick<Config, 'HTTP_HOST' | 'HTTP_PORT'>,
): StatusOptions | null {
  const host = urlHost(config.HTTP_HOST, '127.0.0.1');
  let url = config.HTTP_PORT === 0 ? null : `http://${host}:${config.HTTP_PORT}/graphql`;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--json') json = true;
    else if (arg === '--url' && args[i + 1] !== undefined) url = args[++i]!;
    else if (arg.startsWith('--url=')) url = arg.slice('--url='.length);
    else return null;
  }
  if (url === null || !URL.canParse(url) || !['http:', 'https:'].includes(new URL(url).protocol)) return null;
  return { url, json };
}

/**
 * The credential `status` sends: EMPSYNC_TOKEN, else the API key of the lowest role in AUTH_API_KEYS
 * (reader suffices: the same environment as the API, as in Compose); none when authentication is off.
 */
export function statusCredential(
  config: Pick<Config, 'EMPSYNC_TOKEN' | 'AUTH_API_KEYS'>,
): string | undefined {
  if (config.EMPSYNC_TOKEN) return config.EMPSYNC_TOKEN;
  const keys = [...(config.AUTH_API_KEYS ?? [])].sort(
    (a, b) => apiRoles.indexOf(a.role) - apiRoles.indexOf(b.role),
  );
  return keys[0]?.key;
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

const timeoutMs = 10_000;

/** Why a request got no answer: the connection's own error (ECONNREFUSED…), else the message. */
function unreachable(url: string, error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | null)?.code;
  if (error instanceof Error && error.name === 'TimeoutError')
    return `API unreachable at ${url}: no answer within ${timeoutMs / 1000} s`;
  return `API unreachable at ${url}: ${typeof code === 'string' ? code : describeError(cause)}`;
}

/** What makes sync unhealthy in an answer of the API: refusals, parked events, drift. */
export function unhealthyReasons(readiness: Readiness | null, body: GraphqlBody | null): string[] {
  const reasons: string[] = [];
  if (readiness && !readiness.ready) {
    const down = Object.entries(readiness.dependencies ?? {}).filter(([, d]) => !d.up);
    reasons.push(
      down.length
        ? `API not ready: ${down.map(([name, d]) => `${name} down${d.error ? ` (${d.error})` : ''}`).join(', ')}`
        : 'API not ready (/readyz answers 503; an admin credential shows which dependency is down)',
    );
  } else if (readiness?.status === 'degraded') {
    const columns = (readiness.schema ?? []).map((p) => `${p.table}.${p.column} (${p.reason})`);
    reasons.push(
      `API degraded: ${columns.length ? `columns left out of sync: ${columns.join(', ')}` : 'a column of a synced table is left out of sync'}`,
    );
  }
  for (const error of body?.errors ?? []) {
    const code = error.extensions?.code;
    const hint =
      code === 'UNAUTHENTICATED' || code === 'FORBIDDEN'
        ? ' — set EMPSYNC_TOKEN to an API key or a token with the role reader'
        : '';
    reasons.push(`GraphQL error${code ? ` ${code}` : ''}: ${error.message}${hint}`);
  }
  const status = body?.data?.syncStatus;
  if (!status) {
    if (body && !body.errors?.length) reasons.push('GraphQL answered without syncStatus');
    return reasons;
  }
  for (const d of status.directions) {
    const [source, target] = d.direction.split('->');
    if (d.parkedAtRelay > 0)
      reasons.push(
        `${d.direction}: ${plural(d.parkedAtRelay, 'change')} parked at the ${source} relay (empsync dlq list)`,
      );
    if (d.parkedAtSink > 0)
      reasons.push(
        `${d.direction}: ${plural(d.parkedAtSink, 'event')} parked at the ${target} sink (empsync dlq list)`,
      );
  }
  // After every parked event: what stops the flow comes second in the list.
  for (const d of status.directions) {
    const [source, target] = d.direction.split('->');
    if (d.relayLeaseHolder === null) reasons.push(`${d.direction}: no relay runs for ${source} (its captured changes wait in its outbox)`);
    if (d.sinkGroupMembers?.length === 0) reasons.push(`${d.direction}: no sink consumes for ${target} (its consumer group has no member)`);
  }
  if (status.drift?.rows) {
    const tables = status.drift.tables.filter((t) => t.rows > 0).map((t) => `${t.table}: ${t.rows}`);
    reasons.push(
      `drift: ${plural(status.drift.rows, 'row')} differ between the stores at the last pass (${tables.join(', ')}; empsync reconcile)`,
    );
  }
  if (status.drift?.lastError) reasons.push(`drift check failed: ${status.drift.lastError}`);
  return reasons;
}

/** Asks the API at `url` (its GraphQL endpoint) for readiness and syncStatus, in parallel. */
export async function checkStatus(url: string, credential: string | undefined): Promise<StatusReport> {
  const headers: Record<string, string> = credential ? { authorization: `Bearer ${credential}` } : {};
  const request = async <T>(
    target: string,
    init: RequestInit & { headers?: Record<string, string> },
    read: (response: Response) => Promise<T>,
  ): Promise<T | string> => {
    try {
      const response = await fetch(target, {
        ...init,
        headers: { ...headers, ...init.headers },
        signal: AbortSignal.timeout(timeoutMs),
      });
      return await read(response);
    } catch (error) {
      return error instanceof SyntaxError ? `${target} did not answer JSON` : unreachable(url, error);
    }
  };
  const readyzUrl = new URL('readyz', url).href;
  const [readiness, body] = await Promise.all([
    request(readyzUrl, {}, async (response) => {
      if (response.status !== 200 && response.status !== 503)
        return `${readyzUrl} answered HTTP ${response.status}`;
      return (await response.json()) as Readiness;
    }),
    request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
        },
        body: JSON.stringify({ query: syncStatusQuery }),
      },
      async (response) => {
        const text = await response.text();
        try {
          return JSON.parse(text) as GraphqlBody;
        } catch {
          return `${url} answered HTTP ${response.status}, not GraphQL`;
        }
      },
    ),
  ]);
  // One unreachable API is one reason, not two.
  const failures = [...new Set([readiness, body].filter((r): r is string => typeof r === 'string'))];
  const report = {
    url,
    readiness: typeof readiness === 'string' ? null : readiness,
    body: typeof body === 'string' ? null : body,
  };
  return { ...report, reasons: [...failures, ...unhealthyReasons(report.readiness, report.body)] };
}

const dash = '-';
const seconds = (value: number | null) =>
  value === null ? dash : `${value < 10 ? value.toFixed(3) : value.toFixed(1)} s`;
const count = (value: number | null) => (value === null ? dash : String(value));

/** One block of the overview: a title, then `label  value` lines aligned on one column. */
function block(title: string, rows: [string, string][]): string {
  return [title, ...rows.map(([label, value]) => `  ${label.padEnd(20)}${value}`.trimEnd())].join('\n');
}

/** The overview as aligned text: the API, one block per direction, DLQ, drift, snapshots, then the verdict. */
export function formatStatus(report: StatusReport): string {
  const { readiness } = report;
  const status = report.body?.data?.syncStatus;
  const blocks = [
    block(`empsync status  ${report.url}`, [['API', readiness ? readiness.status : 'unreachable']]),
  ];
  if (status) {
    for (const d of status.directions) {
      blocks.push(
        block(d.direction.replace('->', ' -> '), [
          ['outbox backlog', String(d.outboxBacklog)],
          ['parked at relay', String(d.parkedAtRelay)],
          ['parked at sink', String(d.parkedAtSink)],
          ['consumer lag', count(d.consumerLag)],
          ['throughput', d.throughputPerSecond == null ? dash : `${d.throughputPerSecond.toFixed(1)} events/s`],
          ['figures from', d.figuresFrom === 'prometheus' ? 'Prometheus (every sink)' : 'the API process'],
          ['relay lease', d.relayLeaseHolder ?? 'nobody'],
          [
            'sink members',
            d.sinkGroupMembers === null
              ? 'unknown (the broker did not answer)'
              : d.sinkGroupMembers.map((m) => `${m.clientId}@${m.host} (${plural(m.partitions.length, 'partition')})`).join(', ') || 'none',
          ],
          ['last applied', d.lastAppliedAt ?? dash],
          [
            'end-to-end lag',
            d.endToEndLagSamples
              ? `p50 ${seconds(d.endToEndLagP50Seconds)}  p99 ${seconds(d.endToEndLagP99Seconds)}  (${plural(d.endToEndLagSamples, 'event')})`
              : `${dash} (nothing applied by this process)`,
          ],
        ]),
      );
    }
    blocks.push(block('DLQ topic', [['messages', String(status.dlqMessages)]]));
    const drift = status.drift;
    blocks.push(
      block(
        'drift',
        drift
          ? [
              ['rows differing', count(drift.rows)],
              ['last complete pass', drift.lastCompletePassAt ?? dash],
              ['last error', drift.lastError ?? dash],
              ...drift.tables.map((t): [string, string] => [`  ${t.table}`, String(t.rows)]),
            ]
          : [['last complete pass', 'none yet']],
      ),
    );
    blocks.push(
      block(
        'snapshots',
        status.snapshots.length
          ? status.snapshots.map((s): [string, string] => [
              `${s.source} ${s.table}`,
              `${s.done ? 'done' : 'running'}  ${s.published}/${s.total ?? '?'} rows${s.done ? '' : `  ETA ${s.etaSeconds === null ? '--' : `${Math.ceil(s.etaSeconds)} s`}`}`,
            ])
          : [['none', '']],
      ),
    );
  }
  const verdict = report.reasons.length
    ? ['unhealthy:', ...report.reasons.map((r) => `  - ${r}`)].join('\n')
    : 'healthy';
  return `${[...blocks, verdict].join('\n\n')}\n`;
}

/** `empsync status [--url …] [--json]`: prints the overview, returns the exit code (StatusExit). */
export async function runStatus(
  config: Pick<Config, 'HTTP_HOST' | 'HTTP_PORT' | 'EMPSYNC_TOKEN' | 'AUTH_API_KEYS'>,
  args: readonly string[],
  output: { stdout: Pick<NodeJS.WriteStream, 'write'>; stderr: Pick<NodeJS.WriteStream, 'write'> } = process,
): Promise<number> {
  const options = parseStatusArguments(args, config);
  if (!options) {
    output.stderr.write(
      `usage: empsync ${statusUsage}\n  --url defaults to http://127.0.0.1:$HTTP_PORT/graphql (required when HTTP_PORT=0)\n`,
    );
    return StatusExit.usage;
  }
  const report = await checkStatus(options.url, statusCredential(config));
  if (options.json) {
    if (report.body) output.stdout.write(`${JSON.stringify(report.body, null, 2)}\n`);
    for (const reason of report.reasons) output.stderr.write(`empsync status: ${reason}\n`);
  } else {
    output.stdout.write(formatStatus(report));
  }
  return report.reasons.length ? StatusExit.unhealthy : StatusExit.healthy;
}
