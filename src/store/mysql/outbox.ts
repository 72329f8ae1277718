// The relay's side of the MySQL store: rows as JSON for re-publishes (JSON_OBJECT over the schema's
// columns), event ids, parking, and the relay lease — a GET_LOCK held on a dedicated session.
import type { EventEmitter } from 'node:events';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { createConnection, type Connection } from 'mysql2';
import { mysqlRowJson } from '../../capture/mysql/triggers.ts';
import type { TableSchema } from '../../tables/table-schema.ts';
import { KyselyOutbox } from '../kysely/outbox.ts';
import { waitForEvent } from '../local-writes.ts';
import type { RelayLease } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { DeadLetterRecord } from '../types.ts';
import { upsertDeadLetters } from './dead-letters.ts';
import { asSink } from './sink-session.ts';
import type { DatabaseTls } from '../types.ts';

export class MysqlOutbox extends KyselyOutbox {
  readonly #url: string;
  readonly #tls: DatabaseTls | undefined;
  /** GET_LOCK names are server-wide: the database name keeps relays of different databases apart. */
  readonly #lockName: string;

  constructor(db: Kysely<Database>, localWrites: EventEmitter, url: string, lockName: string, tls?: DatabaseTls) {
    super('mysql', db, localWrites);
    this.#url = url;
    this.#tls = tls;
    this.#lockName = lockName;
  }

  protected readonly newEventId = sql<string>`UUID()`;
  protected readonly nowMicros = sql<string>`CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)`;

  protected readonly asSink = asSink;

  protected rowJson(schema: TableSchema): RawBuilder<string> {
    return sql.raw<string>(mysqlRowJson(schema, 't'));
  }

  protected upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void> {
    return upsertDeadLetters(trx, records);
  }

  async leaseHolder(): Promise<string | null> {
    const [lock] = (await sql<{ holder: number | null }>`SELECT IS_USED_LOCK(${this.#lockName}) AS holder`.execute(this.db)).rows;
    if (lock?.holder == null) return null;
    // The client's address shows only to a user that may see that connection (PROCESS, or the same user).
    const [session] = (await sql<{ host: string | null }>`SELECT HOST AS host FROM information_schema.PROCESSLIST WHERE ID = ${lock.holder}`.execute(this.db)).rows;
    return `connection ${lock.holder}${session?.host ? ` from ${session.host}` : ''}`;
  }

  async acquireLease(): Promise<RelayLease | null> {
    const connection = createConnection({ uri: this.#url, ...(this.#tls ? { ssl: this.#tls } : {}) });
    const query = <T>(text: string, values: unknown[] = []) =>
      new Promise<T>((resolve, reject) =>
        connection.query(text, values, (error, result) => (error ? reject(error) : resolve(result as T))),
      );
    try {
      const rows = await query<{ got: number | null }[]>('SELECT GET_LOCK(?, 0) AS got', [this.#lockName]);
      if (rows[0]?.got !== 1) {
        connection.destroy();
        return null;
      }
    } catch (error) {
      connection.destroy();
      throw error;
    }
    return new MysqlRelayLease(connection, query, this.localWrites);
  }
}

class MysqlRelayLease implements RelayLease {
  readonly lost: Promise<void>;
  readonly #connection: Connection;
  readonly #localWrites: EventEmitter;
  readonly #keepAlive: NodeJS.Timeout;
  #released = false;

  constructor(connection: Connection, query: (text: string) => Promise<unknown>, localWrites: EventEmitter) {
    this.#connection = connection;
    this.#localWrites = localWrites;
    this.lost = new Promise((resolve) => {
      connection.once('error', () => resolve());
      connection.once('end', () => resolve());
    });
    // A dead session loses the lock on the server: notice it within seconds and stop publishing.
    this.#keepAlive = setInterval(() => {
      query('SELECT 1').catch(() => connection.destroy());
    }, 2000);
    void this.lost.then(() => {
      clearInterval(this.#keepAlive);
      localWrites.emit('write'); // wakes a waiting relay, which then sees the lease is lost
    });
  }

  async waitForWork(timeoutMs: number): Promise<void> {
    await waitForEvent(this.#localWrites, 'write', timeoutMs);
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#keepAlive);
    await new Promise<void>((resolve) => this.#connection.end(() => resolve()));
  }
}
