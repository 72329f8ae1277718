// The PostgreSQL store: the read model of the API and the other end of two-way sync. All
// PostgreSQL-dialect SQL of empsync lives in this folder.
import { EventEmitter } from 'node:events';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import {
  deadLetterValues,
  insertConflicts,
  KyselyStore,
  markDeadLettersReplayed,
  pickFields,
  KyselyApplyTransaction,
  waitForEvent,
  applyState,
  type ApplyState,
  type ApplyStateRow,
  type ReadQuery,
} from '../kysely-store.ts';
import { employeeViewColumns, fromRawView, type RawEmployeeView } from '../row-format.ts';
import type { Database } from '../schema.ts';
import type { ApplyStateRequest, ApplyTransaction, RelayLease } from '../store.ts';
import type { ApplyPlan, DeadLetterRecord, EmployeeFields, EmployeeView } from '../types.ts';
import { outboxChannel, postgresMigrations, relayWakeupTable } from './migrations.ts';
import { ReadBatcher } from './read-batcher.ts';

const maxPreparedStatements = 200;
const maxReadsPerStatement = 32;

// Hash of 'empsync.relay.postgres': one relay per database holds this session lock.
const relayLockKey = 0x656d7073;
/** Empty polls (their growing waits) after which the relay asks writers to NOTIFY it. */
const announceSleepAfterMs = 8;
const setRelayWaiting = `INSERT INTO ${relayWakeupTable} (id, waiting) VALUES (1, $1)
  ON CONFLICT (id) DO UPDATE SET waiting = EXCLUDED.waiting`;

// BIGINT, NUMERIC and timestamps stay strings: no precision is lost in a JS number or Date.
const keepString = (value: string) => value;
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => {
    if (oid === 1114 || oid === 1184 || oid === 1082) return keepString;
    return pg.types.getTypeParser(oid, format);
  },
};

export interface PostgresStoreOptions {
  url: string;
  poolSize: number;
}

export class PostgresStore extends KyselyStore {
  readonly name = 'postgres' as const;
  readonly #url: string;
  readonly #pool: pg.Pool;

  constructor(options: PostgresStoreOptions) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      types,
      options: '-c TimeZone=UTC',
    });
    // A client whose server went away (a restart, a crash, a restore ending sessions) emits 'error':
    // on the pool while idle (the pool drops it), on the client itself while checked out between two
    // queries (pg-pool listens only to idle clients). Unheard, either ends the process. A query in
    // flight still gets its error; the next one opens a new connection, and its stage retries.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    super(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), postgresMigrations);
    this.#url = options.url;
    this.#pool = pool;
    this.#reads = new ReadBatcher(pool, { maxPreparedStatements, maxReadsPerStatement });
  }

  protected readonly newEventId = sql<string>`gen_random_uuid()`;

  protected async insertRow(trx: Transaction<Database>, fields: EmployeeFields): Promise<number> {
    const row = await trx.insertInto('employes').values(pickFields(fields)).returning('id').executeTakeFirstOrThrow();
    return row.id;
  }

  readonly #reads: ReadBatcher;

  /**
   * Runs an API read through the read batcher: reads of one shape issued in the same turn of the event
   * loop go out as one statement, and each shape (a filter combination and an order) runs as a named
   * prepared statement, parsed and planned once per connection as PostGraphile does. Past
   * `maxPreparedStatements` further shapes run unnamed, so no connection holds an unbounded number.
   */
  protected override readRows<O>(query: ReadQuery<O>): Promise<O[]> {
    const { sql: text, parameters } = query.compile();
    return this.#reads.read<O>(text, parameters);
  }

  /** employeParId (batched across requests by src/api/employee-loaders.ts): one text for any number of ids. */
  override async findEmployees(ids: readonly number[]): Promise<EmployeeView[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.#pool.query<RawEmployeeView>({
      name: 'empsync_find_employees',
      text: `SELECT ${employeeViewColumns.join(', ')} FROM employes WHERE id = ANY($1::int[])`,
      values: [ids],
    });
    return rows.map(fromRawView);
  }

  protected upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void> {
    return upsertDeadLetters(trx, records);
  }

  async acquireRelayLease(): Promise<RelayLease | null> {
    const client = new pg.Client({ connectionString: this.#url, types, options: '-c TimeZone=UTC' });
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

  /**
   * The sink's transaction in four round trips: BEGIN with the marker, one locking read, the writes
   * (upsert and offsets in one statement), COMMIT. Small batches are made of little else.
   */
  async applyTransaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T> {
    return this.db.connection().execute(async (connection) => {
      // One simple-protocol query: BEGIN and the transaction-local marker the capture triggers skip on.
      // REPEATABLE READ: when the locking read waits for a local transaction that deletes or changes a
      // locked row, PostgreSQL then fails this one (40001, retried as transient) instead of going on with
      // a snapshot that lacks what that transaction wrote with it (the tombstone of a deleted row).
      await sql.raw(`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT set_config('app.sync_origin', 'sink', true)`).execute(connection);
      try {
        const result = await work(new PostgresApplyTransaction(connection));
        await sql.raw('COMMIT').execute(connection);
        return result;
      } catch (error) {
        await sql.raw('ROLLBACK').execute(connection).catch(() => undefined);
        throw error;
      }
    });
  }
}


/** A record parked again (same source key) counts once more and is parked again if it was replayed. */
async function upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void> {
  if (records.length === 0) return;
  await trx
    .insertInto('sync_dead_letters')
    .values(records.map(deadLetterValues))
    .onConflict((oc) =>
      oc.column('source_key').doUpdateSet((eb) => ({
        seen_count: sql`sync_dead_letters.seen_count + 1`,
        last_seen_at: sql`now()`,
        code: eb.ref('excluded.code'),
        reason: eb.ref('excluded.reason'),
        status: 'parked',
        resolved_at: null,
      })),
    )
    .execute();
}

/**
 * Ids born here come from a descending sequence, which explicit ids never move. Rows (and deletes) of
 * this store that the sink writes back — a database restored from a dump getting its own lost changes
 * from the log — may hold ids below the restored sequence: it is moved past them, or the next insert
 * would take an id that a row (or a tombstone) already has.
 */
async function moveIdSequencePast(trx: Kysely<Database>, plan: ApplyPlan): Promise<void> {
  const own = [...plan.upserts, ...plan.deletes].filter((r) => r.origin === 'postgres' && r.id < 0).map((r) => r.id);
  if (own.length === 0) return;
  await sql`
    SELECT setval('employes_id_seq', lowest.id, true)
      FROM (SELECT min(id) AS id FROM unnest(${own}::int[]) AS id) AS lowest, employes_id_seq AS seq
     WHERE lowest.id <= seq.last_value`.execute(trx);
}

class PostgresApplyTransaction extends KyselyApplyTransaction {
  /** The batch's rows, the holders of its emails, its tombstones and its stored offsets, locked, in one statement. */
  override async readState(request: ApplyStateRequest): Promise<ApplyState> {
    const { ids, emails } = request;
    const offsets = request.offsets ?? { consumerGroup: '', topic: '', partitions: [] };
    if (ids.length === 0 && emails.length === 0 && offsets.partitions.length === 0) return applyState([], request);
    const { rows } = await sql<ApplyStateRow>`
      WITH locked AS (
             SELECT id, sync_version, sync_origin, email, sync_seen_version FROM employes
              WHERE id = ANY(${ids}::int[]) OR email = ANY(${emails}::text[]) FOR UPDATE),
           buried AS (
             SELECT id, version, origin, seen_version FROM employes_tombstones WHERE id = ANY(${ids}::int[]) FOR UPDATE),
           positions AS (
             SELECT kafka_partition, next_offset, log_id FROM sync_offsets
              WHERE consumer_group = ${offsets.consumerGroup} AND topic = ${offsets.topic}
                AND kafka_partition = ANY(${offsets.partitions}::int[]) FOR UPDATE)
      SELECT 'row' AS kind, id, sync_version AS version, sync_origin AS origin, email, sync_seen_version AS seen FROM locked
      UNION ALL
      SELECT 'tombstone', id, version, origin, NULL, seen_version FROM buried
      UNION ALL
      SELECT 'offset', kafka_partition, next_offset, log_id, NULL, 0 FROM positions`.execute(this.trx);
    return applyState(rows, request);
  }

  async write(plan: ApplyPlan): Promise<void> {
    const trx = this.trx;
    if (plan.displaced.length) {
      await sql`DELETE FROM employes WHERE id = ANY(${plan.displaced}::int[])`.execute(trx);
    }
    if (plan.parkEmails.length) {
      await sql`UPDATE employes SET email = '#parked#' || id WHERE id = ANY(${plan.parkEmails}::int[])`.execute(trx);
    }
    if (plan.deletes.length) {
      const ids = plan.deletes.map((d) => d.id);
      await sql`DELETE FROM employes WHERE id = ANY(${ids}::int[])`.execute(trx);
      await sql`
        INSERT INTO employes_tombstones (id, version, origin, seen_version)
        SELECT * FROM unnest(${ids}::int[], ${plan.deletes.map((d) => d.version.toString())}::bigint[],
                             ${plan.deletes.map((d) => d.origin)}::text[],
                             ${plan.deletes.map((d) => (plan.seen.get(d.id) ?? 0n).toString())}::bigint[])
        ON CONFLICT (id) DO UPDATE SET version = greatest(employes_tombstones.version, EXCLUDED.version),
                                       origin = EXCLUDED.origin,
                                       seen_version = greatest(employes_tombstones.seen_version, EXCLUDED.seen_version)`.execute(trx);
    }
    await insertConflicts(trx, plan.conflicts);
    await upsertDeadLetters(trx, plan.deadLetters);
    await markDeadLettersReplayed(trx, plan.replayedDeadLetters);
    const rows = plan.upserts;
    const upsert = sql`
      INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, date_embauche, created_at,
                            updated_at, sync_version, sync_origin, sync_seen_version)
      SELECT * FROM unnest(
        ${rows.map((r) => r.id)}::int[], ${rows.map((r) => r.nom)}::text[], ${rows.map((r) => r.prenom)}::text[],
        ${rows.map((r) => r.email)}::text[], ${rows.map((r) => r.poste)}::text[],
        ${rows.map((r) => r.salaire)}::numeric[], ${rows.map((r) => r.department)}::text[],
        ${rows.map((r) => r.dateEmbauche)}::timestamptz[], ${rows.map((r) => r.createdAt)}::timestamptz[],
        ${rows.map((r) => r.updatedAt)}::timestamptz[], ${rows.map((r) => r.version.toString())}::bigint[],
        ${rows.map((r) => r.origin)}::text[], ${rows.map((r) => (plan.seen.get(r.id) ?? 0n).toString())}::bigint[])
      ON CONFLICT (id) DO UPDATE SET nom = EXCLUDED.nom, prenom = EXCLUDED.prenom, email = EXCLUDED.email,
        poste = EXCLUDED.poste, salaire = EXCLUDED.salaire, department = EXCLUDED.department,
        date_embauche = EXCLUDED.date_embauche, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
        sync_version = EXCLUDED.sync_version, sync_origin = EXCLUDED.sync_origin,
        sync_seen_version = greatest(employes.sync_seen_version, EXCLUDED.sync_seen_version)`;
    const offsets = plan.offsets;
    // Within one log an offset only grows; an offset of another log (a new cluster, a recreated topic) is replaced.
    const storeOffsets = sql`
      INSERT INTO sync_offsets (consumer_group, topic, kafka_partition, next_offset, log_id)
      SELECT ${plan.consumerGroup}, *, ${plan.logId} FROM unnest(${offsets.map((o) => o.topic)}::text[],
        ${offsets.map((o) => o.partition)}::int[], ${offsets.map((o) => o.nextOffset.toString())}::bigint[])
      ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE
        SET next_offset = CASE WHEN sync_offsets.log_id = EXCLUDED.log_id
                               THEN greatest(sync_offsets.next_offset, EXCLUDED.next_offset)
                               ELSE EXCLUDED.next_offset END,
            log_id = EXCLUDED.log_id, updated_at = now()`;
    // The upsert and the offsets in one statement (a data-modifying WITH): one round trip fewer.
    if (rows.length && offsets.length) await sql`WITH upserted AS (${upsert} RETURNING 1) ${storeOffsets}`.execute(trx);
    else if (rows.length) await upsert.execute(trx);
    else if (offsets.length) await storeOffsets.execute(trx);
    await moveIdSequencePast(trx, plan);
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
