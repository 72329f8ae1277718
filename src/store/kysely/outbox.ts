// The relay's side of a store, the same in both dialects where it can be: reading and emptying
// sync_outbox, parking rows, the log the relay publishes to, backfill runs and re-publishes. What differs —
// a row as JSON, a new event id, the relay lease, the dead-letter upsert — each store provides.
import type { EventEmitter } from 'node:events';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { TableSchema } from '../../tables/table-schema.ts';
import { parseJsonExact } from '../../tables/values.ts';
import type { BackfillProgress, OutboxPort, RelayLease } from '../ports.ts';
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
      eventId: raw.event_id,
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

  async park(parked: { seq: bigint; deadLetter: DeadLetterRecord }[]): Promise<void> {
    if (parked.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await this.upsertDeadLetters(
        trx,
        parked.map((p) => p.deadLetter),
      );
      await trx
        .deleteFrom('sync_outbox')
        .where(
          'seq',
          'in',
          parked.map((p) => p.seq.toString()),
        )
        .execute();
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
      await trx.insertInto('sync_backfill').values({ name: resync.run, last_id: null, done: false }).execute();
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
    if (resync !== null) this.localWrites.emit('write');
  }

  async startBackfill(run: string, resume = true): Promise<'started' | 'resumed'> {
    return this.db.transaction().execute(async (trx) => {
      const state = await trx.selectFrom('sync_backfill').select(['done']).where('name', '=', run).forUpdate().executeTakeFirst();
      if (resume && state && !state.done) return 'resumed';
      await trx.deleteFrom('sync_backfill').where('name', '=', run).execute();
      await trx.insertInto('sync_backfill').values({ name: run, last_id: null, done: false }).execute();
      return 'started';
    });
  }

  async continueBackfill(run: string, schema: TableSchema, chunk: number): Promise<BackfillProgress> {
    const progress = await this.db.transaction().execute(async (trx) => {
      const state = await trx
        .selectFrom('sync_backfill')
        .select(['last_id', 'done'])
        .where('name', '=', run)
        .forUpdate()
        .executeTakeFirst();
      if (!state || Boolean(state.done)) return { copied: 0, lastId: state?.last_id ?? null, done: true };
      const table = sql.table(schema.table.name);
      const after = state.last_id ?? lowestId;
      const comparison = state.last_id === null ? sql`>=` : sql`>`;
      const { rows } = await sql<{ id: number }>`
        SELECT id FROM ${table} WHERE id ${comparison} ${after} ORDER BY id LIMIT ${chunk}`.execute(trx);
      if (rows.length === 0) {
        await trx.updateTable('sync_backfill').set({ done: true }).where('name', '=', run).execute();
        return { copied: 0, lastId: state.last_id, done: true };
      }
      const first = rows[0]!.id;
      const last = rows[rows.length - 1]!.id;
      await this.copyWhere(trx, schema, sql`t.id BETWEEN ${first} AND ${last}`);
      const done = rows.length < chunk;
      await trx.updateTable('sync_backfill').set({ last_id: last, done }).where('name', '=', run).execute();
      return { copied: rows.length, lastId: last, done };
    });
    if (progress.copied > 0) this.localWrites.emit('write');
    return progress;
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
