// CREATE DATABASE for the MySQL store on a first start: connected to the server without a database, with
// the explicit collation every empsync table uses.
import mysql from 'mysql2/promise';
import type { DatabaseTls } from '../types.ts';
import { tableCollation } from './migrations.ts';

/** Creates the database when it does not exist (asked first: a role's user may see it, not create it). */
export async function createMysqlDatabase(serverUrl: string, name: string, connectTimeout: number, tls?: DatabaseTls): Promise<void> {
  const connection = await mysql.createConnection({ uri: serverUrl, connectTimeout, ...(tls ? { ssl: tls } : {}) });
  try {
    const [found] = await connection.query<mysql.RowDataPacket[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
    if (found.length) return;
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE ${tableCollation}`);
  } finally {
    await connection.end();
  }
}
