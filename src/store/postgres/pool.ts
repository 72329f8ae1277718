// PostgreSQL connections of a store: values that must not lose precision stay text (BIGINT, NUMERIC,
// timestamps, dates, JSON — parsed exactly where needed), sessions in UTC, and clients whose server
// went away never end the process.
import pg from 'pg';
import type { DatabaseTls } from '../types.ts';

const keepString = (value: string) => value;
const textTypes = new Set([
  1114, // timestamp
  1184, // timestamptz
  1082, // date
  114, // json
  3802, // jsonb
]);

export const clientTypes = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => (textTypes.has(oid) ? keepString : pg.types.getTypeParser(oid, format)),
};

export function createPool(url: string, poolSize: number, tls?: DatabaseTls): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: clientTypes, options: '-c TimeZone=UTC', ...(tls ? { ssl: tls } : {}) });
  // A client whose server went away (a restart, a crash, a restore ending sessions) emits 'error':
  // on the pool while idle (the pool drops it), on the client itself while checked out between two
  // queries (pg-pool listens only to idle clients). Unheard, either ends the process. A query in
  // flight still gets its error; the next one opens a new connection, and its stage retries.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
