// Builds both stores from the config, and creates their databases when missing (first start). The first
// connections wait, within a bound, for a server that is still starting: in Docker Compose a database can
// report healthy a moment before it accepts the connections of another container.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { databaseName, type Config } from '../config.ts';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import { createMysqlDatabase } from './mysql/create-database.ts';
import { classifyMysqlError } from './mysql/errors.ts';
import { MysqlStore } from './mysql/mysql-store.ts';
import { createPostgresDatabase } from './postgres/create-database.ts';
import { classifyPostgresError } from './postgres/errors.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import type { ClassifyError } from './store-errors.ts';
import type { DatabaseTls } from './types.ts';

export interface Stores {
  mysql: MysqlStore;
  postgres: PostgresStore;
}


type TlsConfig = Pick<Config, 'MYSQL_TLS' | 'MYSQL_TLS_CA_FILE' | 'POSTGRES_TLS' | 'POSTGRES_TLS_CA_FILE'>;

/** The TLS options of each store from the config (undefined: no TLS asked for here). */
export function databaseTls(config: Partial<TlsConfig>): { mysql?: DatabaseTls; postgres?: DatabaseTls } {
  const tls = (enabled: boolean | undefined, caFile: string | undefined): DatabaseTls | undefined => {
    if (!enabled) return undefined;
    try {
      return { ...(caFile ? { ca: readFileSync(caFile, 'utf8') } : {}), rejectUnauthorized: true };
    } catch (error) {
      throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `cannot read the CA file ${caFile}: ${(error as Error).message}`, { cause: error });
    }
  };
  return { mysql: tls(config.MYSQL_TLS, config.MYSQL_TLS_CA_FILE), postgres: tls(config.POSTGRES_TLS, config.POSTGRES_TLS_CA_FILE) };
}

export function createStores(config: Config): Stores {
  const tls = databaseTls(config);
  return {
    mysql: new MysqlStore({ url: config.MYSQL_URL, poolSize: config.MYSQL_POOL_SIZE, ...(tls.mysql ? { tls: tls.mysql } : {}) }),
    postgres: new PostgresStore({ url: config.POSTGRES_URL, poolSize: config.POSTGRES_POOL_SIZE, ...(tls.postgres ? { tls: tls.postgres } : {}) }),
  };
}

export async function closeStores(stores: Stores): Promise<void> {
  await Promise.allSettled([stores.mysql.close(), stores.postgres.close()]);
}

const safeName = /^[A-Za-z0-9_]+$/;

export interface EnsureDatabasesOptions {
  /** How long, in all, the first connections may keep finding a server not (yet) accepting them. */
  waitForMs?: number;
}

/** 60 s: a database container's healthcheck runs every 5 s; a server that is not up by then is not starting. */
export const defaultDatabaseWaitMs = 60_000;

/**
 * CREATE DATABASE IF NOT EXISTS on both servers, connected without a database. A server that refuses or
 * drops the connection, or says it is starting, is tried again with backoff until `waitForMs` has passed;
 * then, or at once for any other error (a wrong password), EMPSYNC_DEPENDENCY_UNAVAILABLE names it.
 */
export async function ensureDatabases(
  config: Pick<Config, 'MYSQL_URL' | 'POSTGRES_URL'> & Partial<TlsConfig>,
  options: EnsureDatabasesOptions = {},
): Promise<void> {
  const mysqlName = databaseName(config.MYSQL_URL);
  const postgresName = databaseName(config.POSTGRES_URL);
  for (const name of [mysqlName, postgresName]) {
    if (!safeName.test(name)) {
      throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `database name "${name}" must match ${safeName}`);
    }
  }
  const deadline = Date.now() + (options.waitForMs ?? defaultDatabaseWaitMs);
  const tls = databaseTls(config);
  const mysqlServer = new URL(config.MYSQL_URL);
  mysqlServer.pathname = '/';
  await untilServerAnswers('mysql', mysqlServer.host, deadline, classifyMysqlError, (connectTimeout) =>
    createMysqlDatabase(mysqlServer.toString(), mysqlName, connectTimeout, tls.mysql),
  );
  const postgresServer = new URL(config.POSTGRES_URL);
  postgresServer.pathname = '/postgres';
  await untilServerAnswers('postgres', postgresServer.host, deadline, classifyPostgresError, (connectTimeout) =>
    createPostgresDatabase(postgresServer.toString(), postgresName, connectTimeout, tls.postgres),
  );
}

const serverNames = { mysql: 'MySQL', postgres: 'PostgreSQL' } as const;

/**
 * Runs `attempt` until it succeeds, fails with another error, or `deadline` passes (a last attempt is
 * made at the deadline). Waits 250 ms between attempts, doubling up to 4 s.
 */
async function untilServerAnswers(
  dependency: keyof typeof serverNames,
  host: string,
  deadline: number,
  classify: ClassifyError,
  attempt: (connectTimeoutMs: number) => Promise<void>,
): Promise<void> {
  const started = Date.now();
  for (let attempts = 1, delay = 250; ; attempts++, delay = Math.min(delay * 2, 4000)) {
    try {
      await attempt(Math.min(10_000, Math.max(1000, deadline - Date.now())));
      return;
    } catch (error) {
      // A server that is not accepting connections yet (or any more): socket errors, a lost connection, starting up.
      const transient = classify(error).kind === 'unreachable';
      if (!transient || Date.now() >= deadline) {
        const waited = transient
          ? ` (${attempts} attempts in ${((Date.now() - started) / 1000).toFixed(1)} s)`
          : '';
        throw new EmpsyncError(
          ErrorCodes.DEPENDENCY_UNAVAILABLE,
          `${serverNames[dependency]} is unreachable at ${host}${waited}: ${(error as Error).message}`,
          { cause: error, details: { dependency, attempts } },
        );
      }
      await sleep(Math.min(delay, deadline - Date.now()));
    }
  }
}
