// The MySQL store (MySQL 8.4 or MariaDB 10.11): the write model of the API and one end of two-way
// sync. All MySQL-dialect SQL of empsync lives in this folder.
import type { EventEmitter } from 'node:events';
import { Kysely, MysqlDialect, sql, type Transaction } from 'kysely';
import { createConnection, createPool, type Connection } from 'mysql2';
import { databaseName } from '../../config.ts';
import {
  applyState,
  deadLetterValues,
  insertConflicts,
  KyselyStore,
  markDeadLettersReplayed,
  pickFields,
  KyselyApplyTransaction,
  waitForEvent,
  type ApplyState,
  type ApplyStateRow,
} from '../kysely-store.ts';
import { toSqlTimestamp } from '../row-format.ts';
import type { Database } from '../schema.ts';
import type { ApplyStateRequest, ApplyTransaction, RelayLease } from '../store.ts';
import type { ApplyPlan, DeadLetterRecord, EmployeeFields } from '../types.ts';
import { mysqlMigrations } from './migrations.ts';

export interface MysqlStoreOptions {
  url: string;
  poolSize: number;
}

export class MysqlStore extends KyselyStore {
  readonly name = 'mysql' as const;
  readonly #url: string;
  /** GET_LOCK names are server-wide: the database name keeps relays of different databases apart. */
  readonly #relayLockName: string;

  constructor(options: MysqlStoreOptions) {
    const pool = createPool({
      uri: options.url,
      connectionLimit: options.poolSize,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      decimalNumbers: false,
      charset: 'utf8mb4_bin',
    });
    // Timestamps are UTC on the wire and in the table.
    pool.on('connection', (connection) => {
      connection.query("SET time_zone = '+00:00'");
    });
    super(new Kysely<Database>({ dialect: new MysqlDialect({ pool }) }), mysqlMigrations);
    this.#url = options.url;
    this.#relayLockName = `empsync.relay.${databaseName(options.url)}`.slice(0, 64);
  }

  protected readonly newEventId = sql<string>`UUID()`;

  protected async insertRow(trx: Transaction<Database>, fields: EmployeeFields): Promise<number> {
    const result = await trx.insertInto('employes').values(pickFields(fields)).executeTakeFirstOrThrow();
    return Number(result.insertId);
  }

  protected upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void> {
    return upsertDeadLetters(trx, records);
  }

  async acquireRelayLease(): Promise<RelayLease | null> {
    const connection = createConnection({ uri: this.#url });
    const query = <T>(text: string, values: unknown[] = []) =>
      new Promise<T>((resolve, reject) =>
        connection.query(text, values, (error, result) => (error ? reject(error) : resolve(result as T))),
      );
    try {
      const rows = await query<{ got: number | null }[]>('SELECT GET_LOCK(?, 0) AS got', [this.#relayLockName]);
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

  async applyTransaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      await sql`SET @sync_origin = 'sink'`.execute(trx);
      try {
        return await work(new MysqlApplyTransaction(trx));
      } finally {
        // The pooled session goes back to the API, whose writes must be captured again.
        await sql`SET @sync_origin = NULL`.execute(trx);
      }
    });
  }
}

const idList = (ids: number[]) => sql.join(ids.map((id) => sql`${id}`));

// The upserts below (and the capture triggers) read the incoming row with VALUES(col). MySQL 8.4 deprecates
// it in favour of a row alias (`INSERT … VALUES (…) AS new … UPDATE c = new.c`) and answers warning 1287,
// but still runs it; MariaDB 10.11 has no row alias (a syntax error there). One statement for both engines
// keeps VALUES() until MySQL removes it (docs/docker.md, "MySQL 8.4 against the local MariaDB").

/** A record parked again (same source key) counts once more and is parked again if it was replayed. */
async function upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void> {
  if (records.length === 0) return;
  await trx
    .insertInto('sync_dead_letters')
    .values(records.map(deadLetterValues))
    .onDuplicateKeyUpdate({
      seen_count: sql`seen_count + 1`,
      last_seen_at: sql`NOW(6)`,
      code: sql`VALUES(code)`,
      reason: sql`VALUES(reason)`,
      status: 'parked',
      resolved_at: null,
    })
    .execute();
}

class MysqlApplyTransaction extends KyselyApplyTransaction {
  /** The batch's rows, the holders of its emails, its tombstones and its stored offsets, locked, in one statement. */
  async readState(request: ApplyStateRequest): Promise<ApplyState> {
    const { ids, emails, offsets } = request;
    const branches = [];
    if (ids.length || emails.length) {
      const byId = ids.length ? [sql`id IN (${idList(ids)})`] : [];
      const byEmail = emails.length ? [sql`email IN (${sql.join(emails.map((e) => sql`${e}`))})`] : [];
      branches.push(sql`(SELECT 'row' AS kind, id, sync_version AS version, sync_origin AS origin, email,
                                sync_seen_version AS seen
                         FROM employes WHERE ${sql.join([...byId, ...byEmail], sql` OR `)} FOR UPDATE)`);
    }
    if (ids.length) {
      branches.push(sql`(SELECT 'tombstone', id, version, origin, NULL, seen_version FROM employes_tombstones
                         WHERE id IN (${idList(ids)}) FOR UPDATE)`);
    }
    if (offsets?.partitions.length) {
      branches.push(sql`(SELECT 'offset', kafka_partition, next_offset, log_id, NULL, 0 FROM sync_offsets
                         WHERE consumer_group = ${offsets.consumerGroup} AND topic = ${offsets.topic}
                           AND kafka_partition IN (${idList(offsets.partitions)}) FOR UPDATE)`);
    }
    const { rows } = branches.length
      ? await sql<ApplyStateRow>`${sql.join(branches, sql` UNION ALL `)}`.execute(this.trx)
      : { rows: [] };
    return applyState(rows, request);
  }

  async write(plan: ApplyPlan): Promise<void> {
    const trx = this.trx;
    if (plan.displaced.length) await sql`DELETE FROM employes WHERE id IN (${idList(plan.displaced)})`.execute(trx);
    if (plan.parkEmails.length) {
      await sql`UPDATE employes SET email = CONCAT('#parked#', id) WHERE id IN (${idList(plan.parkEmails)})`.execute(trx);
    }
    if (plan.deletes.length) {
      await sql`DELETE FROM employes WHERE id IN (${idList(plan.deletes.map((d) => d.id))})`.execute(trx);
      const values = sql.join(
        plan.deletes.map((d) => sql`(${d.id}, ${d.version.toString()}, ${d.origin}, ${(plan.seen.get(d.id) ?? 0n).toString()})`),
      );
      await sql`
        INSERT INTO employes_tombstones (id, version, origin, seen_version) VALUES ${values}
        ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version)), origin = VALUES(origin),
          seen_version = GREATEST(seen_version, VALUES(seen_version))`.execute(trx);
    }
    for (let start = 0; start < plan.upserts.length; start += 1000) {
      const values = sql.join(
        plan.upserts
          .slice(start, start + 1000)
          .map(
            (r) =>
              sql`(${r.id}, ${r.nom}, ${r.prenom}, ${r.email}, ${r.poste}, ${r.salaire}, ${r.department},
                   ${toSqlTimestamp(r.dateEmbauche)}, ${toSqlTimestamp(r.createdAt)}, ${toSqlTimestamp(r.updatedAt)},
                   ${r.version.toString()}, ${r.origin}, ${(plan.seen.get(r.id) ?? 0n).toString()})`,
          ),
      );
      await sql`
        INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, date_embauche, created_at,
                              updated_at, sync_version, sync_origin, sync_seen_version) VALUES ${values}
        ON DUPLICATE KEY UPDATE nom = VALUES(nom), prenom = VALUES(prenom), email = VALUES(email),
          poste = VALUES(poste), salaire = VALUES(salaire), department = VALUES(department),
          date_embauche = VALUES(date_embauche), created_at = VALUES(created_at), updated_at = VALUES(updated_at),
          sync_version = VALUES(sync_version), sync_origin = VALUES(sync_origin),
          sync_seen_version = GREATEST(sync_seen_version, VALUES(sync_seen_version))`.execute(trx);
    }
    await insertConflicts(trx, plan.conflicts);
    await upsertDeadLetters(trx, plan.deadLetters);
    await markDeadLettersReplayed(trx, plan.replayedDeadLetters);
    if (plan.offsets.length) {
      const values = sql.join(
        plan.offsets.map(
          (o) => sql`(${plan.consumerGroup}, ${o.topic}, ${o.partition}, ${o.nextOffset.toString()}, ${plan.logId})`,
        ),
      );
      // Within one log an offset only grows; an offset of another log (a new cluster, a recreated topic) is replaced.
      await sql`
        INSERT INTO sync_offsets (consumer_group, topic, kafka_partition, next_offset, log_id) VALUES ${values}
        ON DUPLICATE KEY UPDATE
          next_offset = IF(log_id = VALUES(log_id), GREATEST(next_offset, VALUES(next_offset)), VALUES(next_offset)),
          log_id = VALUES(log_id), updated_at = NOW(6)`.execute(trx);
    }
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
