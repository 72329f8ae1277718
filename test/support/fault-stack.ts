// What one fault case runs on: private MariaDB and PostgreSQL servers (a fresh database pair per
// case), a private broker reached only through a TCP proxy the test controls (or the shared broker),
// and empsync roles as child processes whose logs go to one file per case.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { databaseName, loadConfig, type Config } from '../../src/config.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import {
  privateDatabase,
  startBroker,
  startPrivateDatabase,
  stopBroker,
  stopPrivateDatabase,
  type BrokerOptions,
  type PrivateDatabase,
} from './private-services.ts';
import { configEnv } from './role-processes.ts';
import { TcpProxy } from './tcp-proxy.ts';
import { waitFor } from './test-env.ts';

/** Ports of the fault suite alone (the infra test uses 13306/15432/19192, ensure-services 13316/15442). */
export const faultPorts = { mariadb: 13406, postgres: 15532, broker: 19292, controller: 19293, proxy: 19294 } as const;

/** The private servers of one test file; `broker` and `proxy` only when a case needs them. */
export class FaultServers {
  readonly mariadb: PrivateDatabase = privateDatabase('mariadb', faultPorts.mariadb);
  readonly postgres: PrivateDatabase = privateDatabase('postgres', faultPorts.postgres);
  /** The private broker advertises the proxy's port: its clients reach it only through the proxy. */
  readonly broker: BrokerOptions = { port: faultPorts.broker, controllerPort: faultPorts.controller, advertisedPort: faultPorts.proxy };
  proxy: TcpProxy | null = null;

  /** Fresh servers (wiped data directories); the broker and its proxy when `withBroker`. */
  async start(withBroker: boolean): Promise<void> {
    const starts: Promise<unknown>[] = [
      startPrivateDatabase(this.mariadb, { fresh: true }),
      startPrivateDatabase(this.postgres, { fresh: true }),
    ];
    if (withBroker) {
      this.proxy = await TcpProxy.start({ listenPort: faultPorts.proxy, targetHost: '127.0.0.1', targetPort: faultPorts.broker });
      starts.push(startBroker({ ...this.broker, fresh: true }));
    }
    const failed = (await Promise.allSettled(starts)).filter((r) => r.status === 'rejected');
    if (failed.length) throw new AggregateError(failed.map((r) => r.reason), 'private servers did not start');
  }

  /** After a case, whatever it did: every server up again (a no-op for running ones) and the proxy healed. */
  async ensureRunning(): Promise<void> {
    await Promise.all([startPrivateDatabase(this.mariadb), startPrivateDatabase(this.postgres)]);
    if (this.proxy) {
      this.proxy.heal();
      await startBroker(this.broker);
    }
  }

  /** Stops every server this file started (each on its own port: never the shared ones). */
  async stop(): Promise<void> {
    const results = await Promise.allSettled([
      stopPrivateDatabase(this.mariadb),
      stopPrivateDatabase(this.postgres),
      ...(this.proxy ? [stopBroker(this.broker), this.proxy.close()] : []),
    ]);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) throw new AggregateError(failed.map((r) => r.reason), 'clean-up of the private servers failed');
  }

  get brokerAddress(): string {
    return `127.0.0.1:${faultPorts.proxy}`;
  }
}

/** A case's config: its own databases on the private servers, its own topics and consumer groups. */
export function faultConfig(
  caseName: string,
  servers: FaultServers,
  options: { kafka: 'shared' | 'private'; httpPort: number; overrides?: Record<string, string> },
): Config {
  const slug = caseName.replace(/[^a-z0-9]+/gi, '_').toLowerCase();
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    HTTP_PORT: String(options.httpPort),
    MYSQL_URL: servers.mariadb.url(`fault_${slug}`.slice(0, 64)),
    POSTGRES_URL: servers.postgres.url(`fault_${slug}`.slice(0, 63)),
    KAFKA_BROKERS: options.kafka === 'private' ? servers.brokerAddress : (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'),
    KAFKA_TOPIC: `fault-${slug}-${process.pid}-sync`,
    KAFKA_DLQ_TOPIC: `fault-${slug}-${process.pid}-sync.dlq`,
    KAFKA_PARTITIONS: '3',
    SINK_GROUP_PREFIX: `fault-${slug}-${process.pid}`,
    RELAY_POLL_INTERVAL_MS: '50',
    LOG_CHECK_INTERVAL_MS: '1000',
    ...options.overrides,
  });
}

/** Drops the case's databases on the private servers (the first role start creates them again). */
export async function dropCaseDatabases(config: Config): Promise<void> {
  const mysqlServer = new URL(config.MYSQL_URL);
  mysqlServer.pathname = '/';
  const connection = await mysql.createConnection({ uri: mysqlServer.toString() });
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${databaseName(config.MYSQL_URL)}\``);
  } finally {
    await connection.end();
  }
  const postgresServer = new URL(config.POSTGRES_URL);
  postgresServer.pathname = '/postgres';
  const client = new pg.Client({ connectionString: postgresServer.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${databaseName(config.POSTGRES_URL)}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Deletes the case's topics (left on a shared broker otherwise); missing ones are fine. */
export async function deleteCaseTopics(config: Config): Promise<void> {
  const admin = new Admin({ ...baseClientOptions(config, 'fault-cleanup'), retries: 0 });
  try {
    const existing = new Set(await admin.listTopics());
    const topics = [config.KAFKA_TOPIC, config.KAFKA_DLQ_TOPIC].filter((t) => existing.has(t));
    if (topics.length) await admin.deleteTopics({ topics });
  } finally {
    await admin.close().catch(() => undefined);
  }
}

export interface RoleExit {
  code: number | null;
  signal: string | null;
  ms: number;
}

/** empsync roles of one case as child processes, every line they print appended to one log file. */
export class LoggedRoles {
  readonly #config: Config;
  readonly logFile: string;
  readonly #children = new Set<ChildProcess>();
  /** Children the test itself stopped or killed: their exit is no crash. */
  readonly #stoppedByTest = new WeakSet<ChildProcess>();

  constructor(config: Config, logDirectory: string, caseName: string) {
    this.#config = config;
    mkdirSync(logDirectory, { recursive: true });
    this.logFile = join(logDirectory, `${caseName}.log`);
    appendFileSync(this.logFile, '');
  }

  /** A line of the test's own in the log, to read the processes' lines against the fault's timeline. */
  note(message: string): void {
    appendFileSync(this.logFile, `${JSON.stringify({ time: Date.now(), test: message })}\n`);
  }

  /** `node src/main.ts ...args`: the case's config, its own HTTP port unless `extraEnv` says otherwise. */
  spawn(args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
    const log = openSync(this.logFile, 'a');
    try {
      const child = spawn('node_modules/.bin/node', ['src/main.ts', ...args], {
        env: { ...process.env, ...configEnv(this.#config), ...extraEnv },
        stdio: ['ignore', log, log],
      });
      this.note(`spawned pid ${child.pid}: empsync ${args.join(' ')} ${JSON.stringify(extraEnv)}`);
      this.#children.add(child);
      child.once('exit', (code, signal) => {
        this.#children.delete(child);
        this.note(`pid ${child.pid} (empsync ${args.join(' ')}) exited: code ${code}, signal ${signal}`);
      });
      return child;
    } finally {
      closeSync(log);
    }
  }

  /** Sends `signal` and waits for the exit: its code or signal, and how long it took. */
  async stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<RoleExit> {
    const started = Date.now();
    this.#stoppedByTest.add(child);
    if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode, ms: 0 };
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    child.kill(signal);
    const [code, exitSignal] = await exited;
    return { code, signal: exitSignal, ms: Date.now() - started };
  }

  /** True when the child exited without the test stopping it (a crash). */
  crashed(child: ChildProcess): boolean {
    return (child.exitCode !== null || child.signalCode !== null) && !this.#stoppedByTest.has(child);
  }

  /** What the processes printed that is no log line (an uncaught error's stack), and their first fatal or error lines. */
  errorExcerpt(lines = 12): string {
    const text = readFileSync(this.logFile, 'utf8').split('\n');
    const raw = text.filter((line) => line.trim() && !line.startsWith('{'));
    const errors = text.filter((line) => /^\{"level":(50|60)/.test(line));
    return [...raw.slice(0, lines), ...errors.slice(0, 3).map((line) => line.slice(0, 600))].join('\n');
  }

  /** SIGKILL of every child still running. */
  async killAll(): Promise<void> {
    await Promise.all([...this.#children].map((child) => this.stop(child, 'SIGKILL')));
  }
}

/** Resolves once the role's /readyz answers 200 (its databases and Kafka answer). */
export async function waitForReady(httpPort: number, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    `empsync on port ${httpPort} to be ready`,
    async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(5000) })).status === 200,
    timeoutMs,
  );
}
