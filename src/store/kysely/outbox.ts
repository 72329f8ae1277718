// The relay's side of a store, the same in both dialects where it can be: reading and emptying
// sync_outbox, parking rows, the log the relay publishes to, backfill runs and re-publishes. What differs —
// a row as JSON, a new event id, the relay lease, the dead-letter upsert — each store provides.
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { TableSchema } from '../../tables/table-schema.ts';
import { parseJsonExact } from '../../tables/values.ts';
import type { OutboxPort, RelayLease, SnapshotRun } from '../ports.ts';
import { changeEventId } from '../event-id.ts';
import { storedTimestamp } from '../row-format.ts';
import type { Database } from '../schema.ts';
import type { CapturedChange, DeadLetterRecord, StoreName } from '../types.ts';

/** The lowest id either store can hold (INT): a scan that starts "after nothing" starts here. */
export const lowestId = -2147483648;

export abstract class KyselyOutbox implements OutboxPort {
  readonly name: StoreName;
  protected readonly db: Kysely<Database>;
  /** Emits 'write' after this process queues changes: wakes the in-process relay at once. */
  protected readonly localWrites: EventEmitter;

  constructor(name: StoreName, db: Kysely<Database>, localWrites: EventEmitter) {
    this.name = name;
    this.db = db;
    this.localWrites = localWrites;
  }

  abstract acquireLease(): Promise<RelayLease | null>;

  abstract leaseHolder(): Promise<string | null>;
  /** The dialect's expression for a new random event id (a UUID). */
  protected abstract readonly newEventId: RawBuilder<string>;
  /** The dialect's expression of a row of `schema`'s table (aliased `t`) as JSON, with the schema's columns. */
  protected abstract rowJson(schema: TableSchema): RawBuilder<string>;
  /** The dialect's hybrid-clock tick: the current time in microseconds since the epoch. */
  protected abstract readonly nowMicros: RawBuilder<string>;
  /** Runs `work` with the sink's session marker set: the capture triggers neither stamp nor capture. */
  protected abstract readonly asSink: <T>(trx: Kysely<Database>, work: () => Promise<T>) => Promise<T>;
  /** Parks these records in sync_dead_letters; a record parked before (same source key) is counted again. */
  protected abstract upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void>;

  async read(limit: number): Promise<CapturedChange[]> {
    const rows = await this.db.selectFrom('sync_outbox').selectAll().orderBy('seq').limit(limit).execute();
    return rows.map((raw) => ({
      seq: BigInt(raw.seq),
      // The capture triggers write no id (src/store/event-id.ts); rows written before them, and the
      // re-publishes written here, carry theirs.
      eventId: raw.event_id ?? changeEventId(this.name, raw.table_name, raw.op, Number(raw.row_id), BigInt(raw.row_version)),
      table: raw.table_name,
      op: raw.op,
      id: Number(raw.row_id),
      version: BigInt(raw.row_version),
      baseVersion: BigInt(raw.base_version),
      origin: raw.row_origin as StoreName,
      raw: raw.row_json === null ? null : (parseJsonExact(raw.row_json) as Record<string, unknown>),
      capturedAt: storedTimestamp(raw.captured_at),
    }));
  }

  async delete(seqs: bigint[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.db
      .deleteFrom('sync_outbox')
      .where(
        'seq',
        'in',
        seqs.map((seq) => seq.toString()),
      )
      .execute();
  }

  async backlog(): Promise<number> {
    const row = await this.db
      .selectFrom('sync_outbox')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async pendingIds(table: string, ids: readonly number[]): Promise<Set<number>> {
    if (ids.length === 0) return new Set();
    const { rows } = await sql<{ id: number }>`
      SELECT DISTINCT row_id AS id FROM sync_outbox WHERE table_name = ${table} AND row_id IN (${sql.join([...ids])})`.execute(this.db);
    return new Set(rows.map((r) => Number(r.id)));
  }

  async park(parked: { seq: bigint | null; deadLetter: DeadLetterRecord }[]): Promise<void> {
    if (parked.length === 0) return;
    const seqs = parked.flatMap((p) => (p.seq === null ? [] : [p.seq.toString()]));
    await this.db.transaction().execute(async (trx) => {
      await this.upsertDeadLetters(
        trx,
        parked.map((p) => p.deadLetter),
      );
      if (seqs.length) await trx.deleteFrom('sync_outbox').where('seq', 'in', seqs).execute();
    });
  }

  async readPublishedLog(topic: string): Promise<string | null> {
    const row = await this.db.selectFrom('sync_log_identity').select('log_id').where('topic', '=', topic).executeTakeFirst();
    return row?.log_id ?? null;
  }

  async adoptLog(topic: string, logId: string, resync: { run: string; table: string } | null): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('sync_log_identity').where('topic', '=', topic).execute();
      await trx.insertInto('sync_log_identity').values({ topic, log_id: logId }).execute();
      if (resync === null) return;
      // Rows follow in chunks (continueBackfill); deletes now: each tombstone re-published as a delete.
      await trx.deleteFrom('sync_backfill').where('name', '=', resync.run).execute();
      await trx.insertInto('sync_backfill').values(this.#newRun(resync.run, resync.table, null)).execute();
      await trx
        .insertInto('sync_outbox')
        .columns(['event_id', 'table_name', 'op', 'row_id', 'row_version', 'base_version', 'row_origin'])
        .expression(
          trx
            .selectFrom('sync_tombstones')
            .select([
              this.newEventId.as('event_id'),
              'table_name',
              sql.lit('d').as('op'),
              'id',
              'version',
              sql.ref('version').as('base_version'),
              'origin',
            ])
            .where('table_name', '=', resync.table)
            .orderBy('id'),
        )
        .execute();
    });
    if (resync !== null) {
      this.localWrites.emit('write');
      this.localWrites.emit('snapshot');
    }
  }

  onSnapshotRequested(listener: () => void): () => void {
    this.localWrites.on('snapshot', listener);
    return () => this.localWrites.off('snapshot', listener);
  }

  async startBackfill(run: string, table: string, resume = true): Promise<'started' | 'resumed'> {
    // The rows the table holds now: the run's expected work, for its progress and ETA.
    const { rows } = await sql<{ n: string | number }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(this.db);
    const total = Number(rows[0]?.n ?? 0);
    const state = await this.db.transaction().execute(async (trx) => {
      const state = await trx.selectFrom('sync_backfill').select(['done']).where('name', '=', run).forUpdate().executeTakeFirst();
      if (resume && state && !state.done) return 'resumed';
      await trx.deleteFrom('sync_backfill').where('name', '=', run).execute();
      await trx.insertInto('sync_backfill').values(this.#newRun(run, table, total)).execute();
      return 'started';
    });
    this.localWrites.emit('snapshot');
    return state;
  }

  async readSnapshotChunk(schema: TableSchema, after: number | null, limit: number): Promise<CapturedChange[]> {
    return this.readChunk(this.db, schema, after, limit);
  }

  /** A snapshot chunk read on `db` (a dialect may first set up the session: see PostgresOutbox). */
  protected async readChunk(db: Kysely<Database>, schema: TableSchema, after: number | null, limit: number): Promise<CapturedChange[]> {
    const { rows } = await sql<{ id: number; version: string | number; origin: string; row_json: string }>`
      SELECT t.id, t.sync_version AS version, t.sync_origin AS origin, ${this.rowJson(schema)} AS row_json
        FROM ${sql.table(schema.table.name)} AS t
       WHERE t.id ${after === null ? sql`>=` : sql`>`} ${after ?? lowestId} ORDER BY t.id LIMIT ${limit}`.execute(db);
    const readAt = storedTimestamp(new Date());
    return rows.map((row) => ({
      seq: 0n,
      eventId: randomUUID(),
      table: schema.table.name,
      op: 'r',
      id: Number(row.id),
      version: BigInt(row.version),
      baseVersion: BigInt(row.version),
      origin: row.origin as StoreName,
      raw: parseJsonExact(row.row_json) as Record<string, unknown>,
      capturedAt: readAt,
    }));
  }

  async recordSnapshotProgress(run: string, progress: { lastId: number | null; published: number; done: boolean }): Promise<void> {
    await this.db
      .updateTable('sync_backfill')
      .set({ last_id: progress.lastId, published: progress.published, done: progress.done, updated_at: sql<string>`CURRENT_TIMESTAMP(6)` })
      .where('name', '=', run)
      .execute();
  }

  async snapshotRuns(): Promise<SnapshotRun[]> {
    const rows = await this.db.selectFrom('sync_backfill').selectAll().orderBy('name').execute();
    return rows.map((row) => ({
      run: row.name,
      // Runs recorded before snapshots name their table after a colon (log-reset:employes).
      table: row.table_name ?? row.name.slice(row.name.lastIndexOf(':') + 1),
      lastId: row.last_id === null ? null : Number(row.last_id),
      done: Boolean(row.done),
      published: Number(row.published ?? 0),
      total: row.total === null || row.total === undefined ? null : Number(row.total),
      startedAt: row.started_at ? storedTimestamp(row.started_at) : null,
      updatedAt: storedTimestamp(row.updated_at),
    }));
  }

  /** The record of a new run: nothing read yet. */
  #newRun(run: string, table: string, total: number | null) {
    return { name: run, table_name: table, last_id: null, done: false, published: 0, total, started_at: sql<string>`CURRENT_TIMESTAMP(6)`, updated_at: sql<string>`CURRENT_TIMESTAMP(6)` };
  }

  async unfinishedBackfill(run: string): Promise<boolean> {
    const state = await this.db.selectFrom('sync_backfill').select('done').where('name', '=', run).executeTakeFirst();
    return state !== undefined && !state.done;
  }

  async republish(schema: TableSchema, ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.republishWhere(schema, sql`t.id IN (${sql.join([...ids])})`);
  }

  async restamp(schema: TableSchema, ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    const which = sql`id IN (${sql.join([...ids])})`;
    const copied = await this.db.transaction().execute(async (trx) => {
      await this.asSink(trx, () =>
        sql`UPDATE ${sql.table(schema.table.name)} SET sync_version = GREATEST(${this.nowMicros}, sync_version + 1) WHERE ${which}`.execute(trx),
      );
      return this.copyWhere(trx, schema, sql`t.${which}`);
    });
    if (copied > 0) this.localWrites.emit('write');
    return copied;
  }

  /** Re-publishes the rows of the table (aliased `t`) matching `where`, as they are now; returns how many. */
  async republishWhere(schema: TableSchema, where: RawBuilder<unknown>): Promise<number> {
    const copied = await this.db.transaction().execute((trx) => this.copyWhere(trx, schema, where));
    if (copied > 0) this.localWrites.emit('write');
    return copied;
  }

  /**
   * INSERT … SELECT of the current rows matching `where` (on the table aliased `t`) into the outbox as
   * re-publish ('r') events, in id order; returns how many.
   */
  async copyWhere(trx: Kysely<Database>, schema: TableSchema, where: RawBuilder<unknown>): Promise<number> {
    const result = await sql`
      INSERT INTO sync_outbox (event_id, table_name, op, row_id, row_version, base_version, row_origin, row_json)
      SELECT ${this.newEventId}, ${schema.table.name}, 'r', t.id, t.sync_version, t.sync_version, t.sync_origin, ${this.rowJson(schema)}
        FROM ${sql.table(schema.table.name)} AS t WHERE ${where} ORDER BY t.id`.execute(trx);
    return Number(result.numAffectedRows ?? 0n);
  }
}
