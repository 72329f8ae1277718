// Builds both stores from the config, and creates their databases when missing (first start).
import mysql from 'mysql2/promise';
import pg from 'pg';
import { databaseName, type Config } from '../config.ts';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import { MysqlStore } from './mysql/mysql-store.ts';
import { PostgresStore } from './postgres/postgres-store.ts';

export interface Stores {
  mysql: MysqlStore;
  postgres: PostgresStore;
}

export function createStores(config: Config): Stores {
  return {
    mysql: new MysqlStore({ url: config.MYSQL_URL, poolSize: config.MYSQL_POOL_SIZE }),
    postgres: new PostgresStore({ url: config.POSTGRES_URL, poolSize: config.POSTGRES_POOL_SIZE }),
  };
}

export async function closeStores(stores: Stores): Promise<void> {
  await Promise.allSettled([stores.mysql.close(), stores.postgres.close()]);
}

const safeName = /^[A-Za-z0-9_]+$/;

/** CREATE DATABASE IF NOT EXISTS on both servers, connected without a database. */
export async function ensureDatabases(config: Pick<Config, 'MYSQL_URL' | 'POSTGRES_URL'>): Promise<void> {
  const mysqlName = databaseName(config.MYSQL_URL);
  const postgresName = databaseName(config.POSTGRES_URL);
  for (const name of [mysqlName, postgresName]) {
    if (!safeName.test(name)) {
      throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `database name "${name}" must match ${safeName}`);
    }
  }
  const mysqlServer = new URL(config.MYSQL_URL);
  mysqlServer.pathname = '/';
  try {
    const connection = await mysql.createConnection({ uri: mysqlServer.toString() });
    try {
      await connection.query(
        `CREATE DATABASE IF NOT EXISTS \`${mysqlName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      );
    } finally {
      await connection.end();
    }
  } catch (error) {
    throw new EmpsyncError(
      ErrorCodes.DEPENDENCY_UNAVAILABLE,
      `MySQL is unreachable at ${mysqlServer.host}: ${(error as Error).message}`,
      { cause: error, details: { dependency: 'mysql' } },
    );
  }
  const postgresServer = new URL(config.POSTGRES_URL);
  postgresServer.pathname = '/postgres';
  const client = new pg.Client({ connectionString: postgresServer.toString() });
  try {
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [postgresName]);
    if (!rowCount) await client.query(`CREATE DATABASE "${postgresName}"`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42P04') {
      throw new EmpsyncError(
        ErrorCodes.DEPENDENCY_UNAVAILABLE,
        `PostgreSQL is unreachable at ${postgresServer.host}: ${(error as Error).message}`,
        { cause: error, details: { dependency: 'postgres' } },
      );
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
