// What both stores do the same way, written once with Kysely's query builder (which renders each
// dialect's SQL). Dialect-specific work — capture schema, bulk apply, locks, wake-ups — stays in
// src/store/mysql/ and src/store/postgres/.
import { EventEmitter, once } from 'node:events';
import { sql, type Kysely, type Transaction } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import { employeeColumns, fromRawRow } from './row-format.ts';
import type { Database } from './schema.ts';
import type { ApplyTransaction, BackfillProgress, EmployeeListQuery, RelayLease, Store } from './store.ts';
import type { EmployeeFields, EmployeeRow, OutboxRow, PartitionOffset, StoreName } from './types.ts';

export abstract class KyselyStore implements Store {
  abstract readonly name: StoreName;
  readonly db: Kysely<Database>;
  /** Emits 'write' after this process commits a captured change: wakes the in-process relay at once. */
  protected readonly localWrites = new EventEmitter();
  readonly #migrations: Record<string, Migration>;

  protected constructor(db: Kysely<Database>, migrations: Record<string, Migration>) {
    this.db = db;
    this.#migrations = migrations;
    this.localWrites.setMaxListeners(0);
  }

  abstract acquireRelayLease(): Promise<RelayLease | null>;
  /** Copies rows with id > afterId (at most `chunk`, by id) into the outbox as re-publish events. */
  protected abstract copyToOutbox(trx: Transaction<Database>, afterId: number | null, chunk: number): Promise<CopiedChunk>;
  abstract applyTransaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T>;
  protected abstract insertRow(trx: Transaction<Database>, fields: EmployeeFields): Promise<number>;

  async migrate(): Promise<string[]> {
    const migrator = new Migrator({
      db: this.db,
      provider: { getMigrations: async () => this.#migrations },
      migrationTableName: 'empsync_migrations',
      migrationLockTableName: 'empsync_migrations_lock',
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      throw new EmpsyncError(ErrorCodes.MIGRATION_FAILED, `${this.name} migration failed: ${String(error)}`, {
        cause: error,
      });
    }
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async readOutbox(limit: number): Promise<OutboxRow[]> {
    const rows = await this.db.selectFrom('employes_outbox').selectAll().orderBy('seq').limit(limit).execute();
    return rows.map((raw) => {
      const row = fromRawRow({
        ...raw,
        id: raw.employe_id,
        sync_version: raw.row_version,
        sync_origin: raw.row_origin,
      });
      return {
        seq: BigInt(raw.seq),
        eventId: raw.event_id,
        op: raw.op,
        row,
        baseVersion: BigInt(raw.base_version),
        capturedAt: fromRawRow({ ...raw, id: 0, sync_version: 0, sync_origin: raw.row_origin, created_at: raw.captured_at })
          .createdAt,
      };
    });
  }

  async deleteOutbox(seqs: bigint[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.db
      .deleteFrom('employes_outbox')
      .where(
        'seq',
        'in',
        seqs.map((seq) => seq.toString()),
      )
      .execute();
  }

  async outboxBacklog(): Promise<number> {
    const row = await this.db
      .selectFrom('employes_outbox')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async startBackfill(run: string, resume = true): Promise<'started' | 'resumed'> {
    return this.db.transaction().execute(async (trx) => {
      const state = await trx
        .selectFrom('sync_backfill')
        .select(['done'])
        .where('name', '=', run)
        .forUpdate()
        .executeTakeFirst();
      if (resume && state && !state.done) return 'resumed';
      await trx.deleteFrom('sync_backfill').where('name', '=', run).execute();
      await trx.insertInto('sync_backfill').values({ name: run, last_id: null, done: false }).execute();
      return 'started';
    });
  }

  async continueBackfill(run: string, chunk: number): Promise<BackfillProgress> {
    const progress = await this.db.transaction().execute(async (trx) => {
      const state = await trx
        .selectFrom('sync_backfill')
        .select(['last_id', 'done'])
        .where('name', '=', run)
        .forUpdate()
        .executeTakeFirst();
      if (!state || Boolean(state.done)) return { copied: 0, lastId: state?.last_id ?? null, done: true };
      const { count, lastId } = await this.copyToOutbox(trx, state.last_id, chunk);
      const done = count < chunk;
      await trx
        .updateTable('sync_backfill')
        .set({ last_id: lastId ?? state.last_id, done, updated_at: undefined })
        .where('name', '=', run)
        .execute();
      return { copied: count, lastId: lastId ?? state.last_id, done };
    });
    if (progress.copied > 0) this.localWrites.emit('write');
    return progress;
  }

  async readOffsets(consumerGroup: string, topic: string): Promise<PartitionOffset[]> {
    const rows = await this.db
      .selectFrom('sync_offsets')
      .select(['kafka_partition', 'next_offset'])
      .where('consumer_group', '=', consumerGroup)
      .where('topic', '=', topic)
      .execute();
    return rows.map((r) => ({ topic, partition: r.kafka_partition, nextOffset: BigInt(r.next_offset) }));
  }

  async insertEmployee(fields: EmployeeFields): Promise<EmployeeRow> {
    const row = await this.db.transaction().execute(async (trx) => {
      const id = await this.insertRow(trx, fields);
      return (await this.#select(trx).where('id', '=', id).executeTakeFirstOrThrow()) as EmployeeRowRaw;
    });
    this.localWrites.emit('write');
    return fromRawRow(row);
  }

  async updateEmployee(id: number, fields: EmployeeFields): Promise<EmployeeRow | null> {
    const row = await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('employes').set(pickFields(fields)).where('id', '=', id).execute();
      return this.#select(trx).where('id', '=', id).executeTakeFirst();
    });
    if (!row) return null;
    this.localWrites.emit('write');
    return fromRawRow(row);
  }

  async deleteEmployee(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('employes').where('id', '=', id).executeTakeFirst();
    const deleted = Number(result.numDeletedRows) > 0;
    if (deleted) this.localWrites.emit('write');
    return deleted;
  }

  async findEmployee(id: number): Promise<EmployeeRow | null> {
    const row = await this.#select(this.db).where('id', '=', id).executeTakeFirst();
    return row ? fromRawRow(row) : null;
  }

  async findEmployees(ids: readonly number[]): Promise<EmployeeRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.#select(this.db)
      .where('id', 'in', [...ids])
      .execute();
    return rows.map(fromRawRow);
  }

  async listEmployees(query: EmployeeListQuery = {}): Promise<EmployeeRow[]> {
    let builder = this.#select(this.db).orderBy('id');
    if (query.department !== undefined) builder = builder.where('department', '=', query.department);
    if (query.limit !== undefined) builder = builder.limit(query.limit);
    if (query.offset !== undefined) builder = builder.offset(query.offset);
    return (await builder.execute()).map(fromRawRow);
  }

  async countByDepartment(): Promise<{ department: string; count: number }[]> {
    const rows = await this.db
      .selectFrom('employes')
      .select((eb) => ['department', eb.fn.countAll<string | number>().as('n')])
      .groupBy('department')
      .orderBy('department')
      .execute();
    return rows.map((r) => ({ department: r.department, count: Number(r.n) }));
  }

  async countEmployees(): Promise<number> {
    const row = await this.db
      .selectFrom('employes')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async dumpEmployees(): Promise<EmployeeRow[]> {
    return this.listEmployees();
  }

  #select(db: Kysely<Database>) {
    return db.selectFrom('employes').select([...employeeColumns]);
  }
}

type EmployeeRowRaw = Parameters<typeof fromRawRow>[0];

export interface CopiedChunk {
  count: number;
  lastId: number | null;
}

/** Below every id either store can hold. */
export const belowLowestId = -2147483649;

/** Only the client-settable columns: ids, versions and timestamps belong to the store. */
export function pickFields(fields: EmployeeFields): EmployeeFields {
  const { nom, prenom, email, poste, salaire, department } = fields;
  return { nom, prenom, email, poste, salaire, department };
}

/** JSON.stringify replacer for rows that hold bigint versions. */
export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Resolves on the first `event`, on `until`, or after `timeoutMs`, whichever comes first. */
export async function waitForEvent(
  emitter: EventEmitter,
  event: string,
  timeoutMs: number,
  until: Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    await Promise.race([once(emitter, event, { signal: controller.signal }), until]);
  } catch {
    // timed out: the caller polls as a backstop for writes made by other processes
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
