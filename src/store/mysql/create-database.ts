// CREATE DATABASE for the MySQL store on a first start: connected to the server without a database, with
// the explicit collation every empsync table uses.
import mysql from 'mysql2/promise';
import { tableCollation } from './migrations.ts';

export async function createMysqlDatabase(serverUrl: string, name: string, connectTimeout: number): Promise<void> {
  const connection = await mysql.createConnection({ uri: serverUrl, connectTimeout });
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE ${tableCollation}`);
  } finally {
    await connection.end();
  }
}
