// Servers of the fault tests' own, never the machine's shared ones: a MariaDB and a PostgreSQL a test
// may kill -9 or restore from a dump (scripts/private-db.sh), and Kafka brokers it may kill, wipe, or
// put behind a TCP proxy (scripts/kafka.sh with KAFKA_ADVERTISED_PORT, test/support/tcp-proxy.ts).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const scripts = fileURLToPath(new URL('../../scripts/', import.meta.url));

export type DatabaseEngine = 'mariadb' | 'postgres';

/** Where a private database server listens, and the URL of one of its databases. */
export interface PrivateDatabase {
  readonly engine: DatabaseEngine;
  readonly host: string;
  readonly port: number;
  /** `mysql://root@127.0.0.1:PORT/database` or `postgres://postgres@127.0.0.1:PORT/database`. */
  url(database: string): string;
}

const engines = {
  mariadb: { portVariable: 'PRIVATE_MARIADB_PORT', defaultPort: 13306, scheme: 'mysql', user: 'root' },
  postgres: {
    portVariable: 'PRIVATE_POSTGRES_PORT',
    defaultPort: 15432,
    scheme: 'postgres',
    user: 'postgres',
  },
} as const;

/** The private server of `engine` on `port` (default: PRIVATE_MARIADB_PORT / PRIVATE_POSTGRES_PORT, or 13306 / 15432). */
export function privateDatabase(engine: DatabaseEngine, port?: number): PrivateDatabase {
  const { portVariable, defaultPort, scheme, user } = engines[engine];
  const resolved = port ?? Number(process.env[portVariable] ?? defaultPort);
  refuseSharedPort(resolved);
  return {
    engine,
    host: '127.0.0.1',
    port: resolved,
    url: (database) => `${scheme}://${user}@127.0.0.1:${resolved}/${database}`,
  };
}

/** The machine's shared servers: a test may stop, kill or wipe only servers of its own. */
const sharedPorts = new Set([3306, 5432, 9092, 9093]);

function refuseSharedPort(port: number): void {
  if (sharedPorts.has(port))
    throw new Error(
      `port ${port} belongs to a shared server of the machine: give the private one a port of its own`,
    );
}

async function privateDb(server: PrivateDatabase, args: string[], environment: Record<string, string> = {}): Promise<void> {
  const { portVariable } = engines[server.engine];
  await run('bash', [`${scripts}private-db.sh`, server.engine, ...args], {
    env: { ...process.env, [portVariable]: String(server.port), ...environment },
  });
}

/**
 * Starts the server (`fresh`: on a wiped data directory) and resolves once it answers. `tlsDirectory`
 * (ca.pem, server.pem, server-key.pem): the server then requires TLS with that certificate.
 */
export async function startPrivateDatabase(
  server: PrivateDatabase,
  options: { fresh?: boolean; tlsDirectory?: string } = {},
): Promise<PrivateDatabase> {
  await privateDb(server, ['start', ...(options.fresh ? ['--fresh'] : [])], options.tlsDirectory ? { PRIVATE_DB_TLS_DIR: options.tlsDirectory } : {});
  return server;
}

/** A clean shutdown (open sessions are ended). */
export async function stopPrivateDatabase(server: PrivateDatabase): Promise<void> {
  await privateDb(server, ['stop']);
}

/** A crash: SIGKILL of the server and all its processes; the next start recovers. */
export async function killPrivateDatabase(server: PrivateDatabase): Promise<void> {
  await privateDb(server, ['kill']);
}

/** `private-db.sh <engine> dump|restore DATABASE FILE` on `server`, the engine's private server by default. */
function dumpCommand(engine: DatabaseEngine, command: 'dump' | 'restore') {
  return async (database: string, file: string, server = privateDatabase(engine)): Promise<void> => {
    if (server.engine !== engine)
      throw new Error(`${command} of ${engine} asked of a ${server.engine} server`);
    await privateDb(server, [command, database, file]);
  };
}

/** mariadb-dump of `database` (routines, triggers, one consistent snapshot) into `file`. */
export const dumpMariadb = dumpCommand('mariadb', 'dump');
/** Ends the other sessions of `database`, drops it, and recreates it from `file` (made by dumpMariadb). */
export const restoreMariadb = dumpCommand('mariadb', 'restore');
/** pg_dump -Fc of `database` into `file`. */
export const dumpPostgres = dumpCommand('postgres', 'dump');
/** Ends the other sessions of `database`, drops it, and recreates it from `file` (pg_restore --create). */
export const restorePostgres = dumpCommand('postgres', 'restore');

export interface BrokerOptions {
  port: number;
  controllerPort: number;
  /** The port the broker tells clients to use (a TcpProxy's); `port` unless given. */
  advertisedPort?: number;
  /** On wiped storage: a new cluster id, no topics. */
  fresh?: boolean;
  /** A SASL_PLAINTEXT listener (SCRAM-SHA-256) on this port, with this one user (formatted on fresh storage). */
  scram?: { port: number; username: string; password: string };
  /** The StandardAuthorizer, nothing allowed without an ACL, User:ANONYMOUS (the PLAINTEXT listener) a super user. */
  acls?: boolean;
  /** An SSL listener on this port, with the broker's key and certificate chain in one PEM file. */
  ssl?: { port: number; keystore: string };
}

/** A private broker; `bootstrap` is the address its clients use (the advertised one). */
export interface PrivateBroker {
  readonly port: number;
  readonly controllerPort: number;
  readonly advertisedPort: number;
  readonly bootstrap: string;
}

async function kafka(broker: BrokerOptions, ...args: string[]): Promise<void> {
  refuseSharedPort(broker.port);
  refuseSharedPort(broker.controllerPort);
  await run('bash', [`${scripts}kafka.sh`, ...args], {
    env: {
      ...process.env,
      KAFKA_PORT: String(broker.port),
      KAFKA_CONTROLLER_PORT: String(broker.controllerPort),
      KAFKA_ADVERTISED_PORT: String(broker.advertisedPort ?? broker.port),
      KAFKA_JMX_EXPORTER_PORT: '0',
      KAFKA_HEAP: process.env.KAFKA_HEAP ?? '512m',
      ...(broker.scram
        ? { KAFKA_SASL_PORT: String(broker.scram.port), KAFKA_SCRAM_USERNAME: broker.scram.username, KAFKA_SCRAM_PASSWORD: broker.scram.password }
        : {}),
      ...(broker.acls ? { KAFKA_ACLS: 'true' } : {}),
      ...(broker.ssl ? { KAFKA_SSL_PORT: String(broker.ssl.port), KAFKA_SSL_KEYSTORE: broker.ssl.keystore } : {}),
    },
  });
}

/** Where `scripts/kafka.sh` put the distribution's tools (kafka-acls.sh, kafka-configs.sh) for its jars. */
export async function kafkaTools(): Promise<string> {
  const { stdout } = await run('bash', [`${scripts}kafka.sh`, 'bin']);
  return stdout.trim();
}

/** Runs deploy/kafka/acls.sh (the Compose broker's principals and ACLs) against a private broker's super-user listener. */
export async function setKafkaAcls(broker: BrokerOptions, environment: Record<string, string>): Promise<void> {
  await run('bash', [fileURLToPath(new URL('../../deploy/kafka/acls.sh', import.meta.url))], {
    env: { ...process.env, KAFKA_BIN: await kafkaTools(), ACL_BOOTSTRAP: `127.0.0.1:${broker.port}`, ...environment },
  });
}

/**
 * Starts a broker of the test's own (no JMX exporter) and resolves once it is ready. `fresh` first
 * kills the one a crashed run may have left on that port: kafka.sh would reuse a running broker as is.
 */
export async function startBroker(options: BrokerOptions): Promise<PrivateBroker> {
  if (options.fresh) await kafka(options, 'kill');
  await kafka(options, 'start', ...(options.fresh ? ['--fresh'] : []));
  const advertisedPort = options.advertisedPort ?? options.port;
  return {
    port: options.port,
    controllerPort: options.controllerPort,
    advertisedPort,
    bootstrap: `127.0.0.1:${advertisedPort}`,
  };
}

/** A clean shutdown. */
export async function stopBroker(broker: BrokerOptions): Promise<void> {
  await kafka(broker, 'stop');
}

/** A crash: SIGKILL of the broker; a start afterwards recovers its logs. */
export async function killBroker(broker: BrokerOptions): Promise<void> {
  await kafka(broker, 'kill');
}

/** The broker replaced by an empty one at the same address: new cluster id, no topics, offsets from 0. */
export function wipeAndStartBroker(broker: BrokerOptions): Promise<PrivateBroker> {
  return startBroker({ ...broker, fresh: true });
}
