// The relay's side of the PostgreSQL store: rows as JSON for re-publishes (to_jsonb of the row), event
// ids, parking, and the relay lease — an advisory lock held on a dedicated session, which also LISTENs
// for writers' NOTIFY while the relay sleeps.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import pg from 'pg';
import type { TableSchema } from '../../tables/table-schema.ts';
import { KyselyOutbox } from '../kysely/outbox.ts';
import { waitForEvent } from '../local-writes.ts';
import type { RelayLease } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { CapturedChange, DeadLetterRecord } from '../types.ts';
import { upsertDeadLetters } from './dead-letters.ts';
import { asSink } from './sink-session.ts';
import { outboxChannel, relayWakeupTable } from './migrations.ts';
import { clientTypes } from './pool.ts';
import type { DatabaseTls } from '../types.ts';

// Hash of 'empsync.relay.postgres': one relay per database holds this session lock.
const relayLockKey = 0x656d7073;
/** Empty polls (their growing waits) after which the relay asks writers to NOTIFY it. */
const announceSleepAfterMs = 8;
const setRelayWaiting = `INSERT INTO ${relayWakeupTable} (id, waiting) VALUES (1, $1)
  ON CONFLICT (id) DO UPDATE SET waiting = EXCLUDED.waiting`;

export class PostgresOutbox extends KyselyOutbox {
  readonly #url: string;
  readonly #tls: DatabaseTls | undefined;

  constructor(db: Kysely<Database>, localWrites: EventEmitter, url: string, tls?: DatabaseTls) {
    super('postgres', db, localWrites);
    this.#url = url;
    this.#tls = tls;
  }

  protected readonly newEventId = sql<string>`gen_random_uuid()`;
  protected readonly nowMicros = sql<string>`(extract(epoch from clock_timestamp()) * 1000000)::bigint`;

  protected readonly asSink = asSink;

  protected rowJson(schema: TableSchema): RawBuilder<string> {
    return sql<string>`jsonb_build_object(${sql.join(schema.columns.map((c) => sql`${sql.lit(c.name)}, ${sql.ref(`t.${c.name}`)}`))})`;
  }

  protected upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void> {
    return upsertDeadLetters(trx, records);
  }

  /**
   * A chunk in primary-key order through the primary key, whatever the statistics say: a table just
   * loaded (not analysed yet) looks small, and the planner would scan and sort all of it for every chunk.
   */
  override async readSnapshotChunk(schema: TableSchema, after: number | null, limit: number): Promise<CapturedChange[]> {
    return this.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)`.execute(trx);
      return this.readChunk(trx, schema, after, limit);
    });
  }

  async leaseHolder(): Promise<string | null> {
    // A bigint advisory key shows as classid (high 32 bits) and objid (low 32 bits), objsubid 1.
    const { rows } = await sql<{ pid: number; application_name: string | null; client_addr: string | null }>`
      SELECT l.pid, a.application_name, host(a.client_addr) AS client_addr
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND l.classid = ${Math.floor(relayLockKey / 2 ** 32)} AND l.objid = ${relayLockKey % 2 ** 32}`.execute(this.db);
    const holder = rows[0];
    if (!holder) return null;
    return [holder.application_name || 'a session', `(pid ${holder.pid}${holder.client_addr ? ` from ${holder.client_addr}` : ''})`].join(' ');
  }

  async acquireLease(): Promise<RelayLease | null> {
    const client = new pg.Client({
      connectionString: this.#url,
      types: clientTypes,
      options: '-c TimeZone=UTC',
      // What leaseHolder() (and pg_stat_activity) shows of the relay holding the lease.
      application_name: `empsync relay ${hostname()} pid ${process.pid}`.slice(0, 63),
      ...(this.#tls ? { ssl: this.#tls } : {}),
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [relayLockKey]);
      if (!rows[0]?.got) {
        await client.end();
        return null;
      }
      await client.query(`LISTEN ${outboxChannel}`);
      // A new relay starts by reading the outbox: no writer needs to wake it yet.
      await client.query(setRelayWaiting, [false]);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return new PostgresRelayLease(client, this.localWrites);
  }
}

class PostgresRelayLease implements RelayLease {
  readonly lost: Promise<void>;
  readonly #client: pg.Client;
  readonly #wake = new EventEmitter();
  readonly #localWrites: EventEmitter;
  readonly #keepAlive: NodeJS.Timeout;
  readonly #onLocalWrite = () => this.#wake.emit('work');
  #released = false;
  /** What writers were last told (sync_relay_wakeup.waiting); false when the lease is taken. */
  #sleeping = false;

  constructor(client: pg.Client, localWrites: EventEmitter) {
    this.#client = client;
    this.#localWrites = localWrites;
    client.on('notification', () => this.#wake.emit('work'));
    localWrites.on('write', this.#onLocalWrite);
    this.lost = new Promise((resolve) => {
      client.once('error', () => resolve());
      client.once('end', () => resolve());
    });
    this.#keepAlive = setInterval(() => {
      client.query('SELECT 1').catch(() => client.end().catch(() => undefined));
    }, 2000);
    void this.lost.then(() => {
      clearInterval(this.#keepAlive);
      localWrites.off('write', this.#onLocalWrite);
      this.#wake.emit('work'); // wakes a waiting relay, which then sees the lease is lost
    });
  }

  /**
   * Sleeps until a NOTIFY, a write of this process or `timeoutMs`. Once the relay has found the outbox
   * empty for `announceSleepAfterMs`, it first tells writers it sleeps (they NOTIFY only then, see
   * migration 003) and returns at once: a change committed before writers could see that did not
   * notify, so the relay reads the outbox once more before it really sleeps. Woken, it tells writers
   * it is busy again (not awaited: the outbox is read on another connection meanwhile).
   */
  async waitForWork(timeoutMs: number): Promise<void> {
    if (!this.#sleeping && timeoutMs >= announceSleepAfterMs) {
      await this.#announce(true);
      return;
    }
    const woken = await waitForEvent(this.#wake, 'work', timeoutMs);
    if (woken && this.#sleeping) void this.#announce(false);
  }

  /** Writes the flag; on failure the relay still polls (the flag only spares writers their NOTIFY). */
  async #announce(sleeping: boolean): Promise<void> {
    this.#sleeping = sleeping;
    await this.#client.query(setRelayWaiting, [sleeping]).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#keepAlive);
    this.#localWrites.off('write', this.#onLocalWrite);
    await this.#client.end().catch(() => undefined);
  }
}
