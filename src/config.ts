// The one validated configuration, parsed from the environment at start-up. A bad or missing value
// stops the process with one line naming the variable (every variable is listed with its default in .env.example).
import { z } from 'zod';
import { EmpsyncError, ErrorCodes } from './errors.ts';
import type { DatabaseRole } from './store/privileges.ts';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

export const apiRoles = ['reader', 'writer', 'admin'] as const;
export type ApiRole = (typeof apiRoles)[number];

/** A comma-separated list whose entries each match `pattern` (else `message`) and become `parse(entry)`. */
const commaList = <T>(pattern: RegExp, message: string, parse: (entry: string) => T) =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(pattern, message).transform(parse)));

// "key:role,key:role": API keys of at least 16 characters, each with one role.
const apiKeys = commaList(/^[^:\s]{16,}:(reader|writer|admin)$/, 'each entry must be key:role, a key of 16+ characters, role reader, writer or admin', (entry) => {
  const at = entry.lastIndexOf(':');
  return { key: entry.slice(0, at), role: entry.slice(at + 1) as ApiRole };
});

// "role:password,role:password": the database users `empsync migrate` creates for the runtime roles
// (src/store/privileges.ts), passwords of at least 16 characters.
const rolePasswords = commaList(
  /^(api|relay|sink|reconcile):[^,\s]{16,}$/,
  'each entry must be role:password, role api, relay, sink or reconcile, a password of 16+ characters',
  (entry) => {
    const at = entry.indexOf(':');
    return { role: entry.slice(0, at) as DatabaseRole, password: entry.slice(at + 1) };
  },
).refine((entries) => new Set(entries.map((e) => e.role)).size === entries.length, 'each role at most once');

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // auto: human-readable lines when stdout is a terminal, JSON lines otherwise (src/logger.ts).
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: port.default(8000),
  MYSQL_URL: url(['mysql:']).default('mysql://root@127.0.0.1:3306/entreprise'),
  MYSQL_POOL_SIZE: positiveInt.default(10),
  POSTGRES_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/entreprise'),
  POSTGRES_POOL_SIZE: positiveInt.default(10),
  // TLS to the databases (docs/security.md), the server's certificate verified against the CA file (else
  // the system's CAs). PostgreSQL also reads sslmode/sslrootcert from POSTGRES_URL.
  MYSQL_TLS: booleanFlag.default(false),
  MYSQL_TLS_CA_FILE: z.string().min(1).optional(),
  POSTGRES_TLS: booleanFlag.default(false),
  POSTGRES_TLS_CA_FILE: z.string().min(1).optional(),
  // Least privilege (docs/security.md): `empsync migrate` creates a database user per runtime role,
  // <prefix><role>, with only the grants it needs; each role then connects as its own user.
  DB_ROLE_PASSWORDS: rolePasswords.optional(),
  DB_ROLE_USER_PREFIX: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,20}$/, 'must be a letter then letters, digits or _ (at most 21)').default('empsync_'),
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform((value) => value.split(',').map((broker) => broker.trim()))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'each broker must be host:port')).min(1)),
  KAFKA_CLIENT_ID: z.string().min(1).default('empsync'),
  KAFKA_TOPIC: z.string().min(1).default('employes-sync'),
  KAFKA_DLQ_TOPIC: z.string().min(1).default('employes-sync.dlq'),
  // SASL and TLS to the brokers (docs/security.md): SCRAM-SHA-256/512 or PLAIN (PLAIN only with TLS in production).
  KAFKA_SASL_MECHANISM: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  KAFKA_TLS: booleanFlag.default(false),
  KAFKA_TLS_CA_FILE: z.string().min(1).optional(),
  KAFKA_PARTITIONS: positiveInt.default(6),
  KAFKA_REPLICATION_FACTOR: positiveInt.default(1),
  SINK_GROUP_PREFIX: z.string().min(1).default('empsync-sink'),
  SINK_MAX_BATCH: positiveInt.default(2000),
  // Memory bounded in bytes: a sink batch (and what waits to be applied: two batches), and one Kafka fetch.
  SINK_MAX_BATCH_BYTES: positiveInt.min(65_536).default(4 * 1024 * 1024),
  SINK_FETCH_MAX_BYTES: positiveInt.min(65_536).default(4 * 1024 * 1024),
  SINK_CONCURRENCY: positiveInt.default(1),
  RELAY_BATCH_SIZE: positiveInt.default(2000),
  RELAY_POLL_INTERVAL_MS: positiveInt.default(250),
  // The relay's outbox reads bounded in bytes too (wide rows make smaller batches).
  RELAY_MAX_BATCH_BYTES: positiveInt.min(65_536).default(4 * 1024 * 1024),
  // One produce request's bytes: Kafka refuses a record batch above the broker's message.max.bytes (1 MiB by default).
  RELAY_MAX_SEND_BYTES: positiveInt.min(16_384).default(512 * 1024),
  CONFLICT_POLICY: z.enum(['newer-wins', 'mysql-wins', 'postgres-wins']).default('newer-wins'),
  BACKFILL_ON_START: booleanFlag.default(true),
  BACKFILL_CHUNK_SIZE: positiveInt.default(1000),
  // A snapshot chunk's rows bounded in bytes too (wide rows make smaller chunks).
  BACKFILL_CHUNK_BYTES: positiveInt.min(65_536).default(4 * 1024 * 1024),
  // A long-running role idle for this long after a burst gives the burst's memory back (0: never).
  IDLE_MEMORY_TRIM_MS: z.coerce.number().int().min(0).default(5000),
  // How far V8 lets the old generation grow past its live data before a full collection, in percent
  // (0: V8's own, up to 4×). Node refuses this flag in NODE_OPTIONS, so the role sets it at start.
  HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(300).default(0),
  METRICS_REFRESH_MS: positiveInt.default(5000),
  LOG_CHECK_INTERVAL_MS: positiveInt.default(5000),
  // Synced tables beyond `employes`: a JSON file of declarations (docs/tables.md).
  SYNC_TABLES_FILE: z.string().min(1).optional(),
  SCHEMA_CHECK_INTERVAL_MS: positiveInt.default(2000),
  // A synced column dropped from one engine stays out of the sync this long before it is added back there
  // from the other: the time to drop it from both (docs/tables.md).
  SCHEMA_DROP_GRACE_MS: z.coerce.number().int().min(0).default(60_000),
  // Content drift check (docs/guarantees.md, "Drift and repairs"): a full content comparison every
  // interval in the `all` role and `reconcile --watch` (0: off in `all`).
  DRIFT_CHECK_INTERVAL_MS: z.coerce.number().int().min(0).default(300_000),
  DRIFT_REPAIR: booleanFlag.default(false),
  DRIFT_SETTLE_MS: z.coerce.number().int().min(0).default(2000),
  RECONCILE_CHUNK_ROWS: positiveInt.default(1000),
  REPAIR_VERIFY_TIMEOUT_MS: positiveInt.default(60_000),
  // Browser origins allowed to call the API cross-origin (docs/security.md): none by default.
  CORS_ORIGINS: z
    .string()
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'each origin must be scheme://host[:port], without a path')))
    .default([]),
  // Bounded work per request (docs/security.md): rows a list without a page size may return, the largest
  // offset, SSE streams open at once in total and per caller, requests per second per caller (0: off).
  API_MAX_ROWS: positiveInt.default(10_000),
  API_MAX_OFFSET: z.coerce.number().int().min(0).default(100_000),
  API_MAX_QUERY_ROWS: positiveInt.default(50_000),
  SSE_MAX_STREAMS: positiveInt.default(1000),
  SSE_MAX_STREAMS_PER_CALLER: positiveInt.default(20),
  // Unset: 100 per second per caller in production, off (0) otherwise.
  API_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(0).optional(),
  // /metrics on its own port (unset: on HTTP_PORT with the rest), and the most department labels.
  METRICS_PORT: port.optional(),
  METRICS_MAX_DEPARTMENTS: positiveInt.min(2).default(50),
  // How long /readyz reuses its last check (a flood of probes checks the dependencies once per interval).
  READYZ_CACHE_MS: z.coerce.number().int().min(0).default(1000),
  // Access control of the API (docs/api.md). Auth is on as soon as one credential source is set;
  // the API refuses to start in production without one.
  AUTH_API_KEYS: apiKeys.optional(),
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)').optional(),
  AUTH_JWKS_URL: url(['https:', 'http:']).optional(),
  // Where the API reads the pipeline's figures (throughput, end-to-end lag, consumer lag, last apply) when
  // its own process runs no sink: the Prometheus that scrapes every role (Compose: http://prometheus:9090).
  PROMETHEUS_URL: url(['http:', 'https:']).optional(),
  AUTH_JWT_MAX_TTL_SECONDS: positiveInt.default(86_400),
  AUTH_JWT_ISSUER: z.string().min(1).optional(),
  AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
  // The credential `empsync status` sends to the API: an API key or a bearer JWT with the role reader
  // (unset: the lowest-role key of AUTH_API_KEYS, if any).
  EMPSYNC_TOKEN: z.string().min(1).optional(),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Parses the environment; throws EMPSYNC_CONFIG_INVALID naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `invalid ${variable}: ${issue.message}`, {
      details: { variable },
    });
  }
  const problem = productionProblem(parsed.data);
  if (problem) {
    throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `invalid ${problem.variable}: ${problem.message}`, { details: { variable: problem.variable } });
  }
  return Object.freeze(parsed.data);
}

const placeholder = /change-?me|placeholder|replace-?me|your-?(secret|key)/i;
const loopback = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * What the API's credentials must hold beyond their shape (docs/security.md): JWKS over HTTPS (plain
 * HTTP only to a loopback address outside production); in production, no placeholder secret or key, and
 * a JWT's issuer and audience both named.
 */
function productionProblem(config: z.infer<typeof configSchema>): { variable: string; message: string } | null {
  const production = config.NODE_ENV === 'production';
  if (config.AUTH_JWKS_URL) {
    const url = new URL(config.AUTH_JWKS_URL);
    if (url.protocol !== 'https:' && (production || !loopback.has(url.hostname))) {
      return { variable: 'AUTH_JWKS_URL', message: 'must be an https:// URL (plain http only to a loopback address, outside production)' };
    }
  }
  for (const store of ['MYSQL', 'POSTGRES'] as const) {
    if (config[`${store}_TLS_CA_FILE`] && !config[`${store}_TLS`]) {
      return { variable: `${store}_TLS`, message: `must be true with ${store}_TLS_CA_FILE (the CA file is used for TLS only)` };
    }
  }
  if (config.KAFKA_SASL_MECHANISM && (!config.KAFKA_SASL_USERNAME || !config.KAFKA_SASL_PASSWORD)) {
    return { variable: config.KAFKA_SASL_USERNAME ? 'KAFKA_SASL_PASSWORD' : 'KAFKA_SASL_USERNAME', message: `is required with KAFKA_SASL_MECHANISM=${config.KAFKA_SASL_MECHANISM}` };
  }
  if (!production) return null;
  if (config.KAFKA_SASL_MECHANISM === 'PLAIN' && !config.KAFKA_TLS) {
    return { variable: 'KAFKA_TLS', message: 'must be true with KAFKA_SASL_MECHANISM=PLAIN in production (the password would cross in clear)' };
  }
  if (config.AUTH_JWT_SECRET && placeholder.test(config.AUTH_JWT_SECRET)) {
    return { variable: 'AUTH_JWT_SECRET', message: 'is a placeholder: set a secret of your own in production' };
  }
  if (config.DB_ROLE_PASSWORDS?.some(({ password }) => placeholder.test(password))) {
    return { variable: 'DB_ROLE_PASSWORDS', message: 'holds a placeholder password (change-me…): set passwords of your own in production' };
  }
  if (config.AUTH_API_KEYS?.some(({ key }) => placeholder.test(key))) {
    return { variable: 'AUTH_API_KEYS', message: 'holds a placeholder key (change-me…): set keys of your own in production' };
  }
  if (config.AUTH_JWT_SECRET || config.AUTH_JWKS_URL) {
    if (!config.AUTH_JWT_ISSUER) return { variable: 'AUTH_JWT_ISSUER', message: 'is required in production when JWT is on (tokens of any issuer would pass)' };
    if (!config.AUTH_JWT_AUDIENCE) return { variable: 'AUTH_JWT_AUDIENCE', message: 'is required in production when JWT is on (tokens for any audience would pass)' };
  }
  return null;
}

/** The database name in a connection URL (the path without its slash). */
export function databaseName(connectionUrl: string): string {
  return decodeURIComponent(new URL(connectionUrl).pathname.replace(/^\//, ''));
}
