// CREATE DATABASE for the PostgreSQL store on a first start, connected to the server's `postgres` database.
import pg from 'pg';
import type { DatabaseTls } from '../types.ts';

export async function createPostgresDatabase(serverUrl: string, name: string, connectTimeout: number, tls?: DatabaseTls): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: connectTimeout, ...(tls ? { ssl: tls } : {}) });
  try {
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name}"`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42P04') throw error; // duplicate_database: another process created it first
  } finally {
    await client.end().catch(() => undefined);
  }
}
