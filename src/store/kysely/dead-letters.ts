// Parked events in a store's sync_dead_letters, the same in both dialects (Kysely's builder): listed with
// the version the store holds now for their row, counted by stage, marked replayed. Parking itself is an
// upsert, which each dialect writes its own way (upsertDeadLetters in its store folder).
import { sql, type Kysely } from 'kysely';
import type { DeadLetterPort, DeadLetterQuery } from '../ports.ts';
import { toIsoTimestamp, toSqlTimestamp } from '../row-format.ts';
import type { Database } from '../schema.ts';
import type { DeadLetterRecord, DeadLetterStage, DeadLetterStatus, StoreName, StoredDeadLetter } from '../types.ts';

export class KyselyDeadLetters implements DeadLetterPort {
  readonly name: StoreName;
  readonly #db: Kysely<Database>;

  constructor(name: StoreName, db: Kysely<Database>) {
    this.name = name;
    this.#db = db;
  }

  async list(query: DeadLetterQuery): Promise<StoredDeadLetter[]> {
    let builder = this.#db
      .selectFrom('sync_dead_letters as l')
      .selectAll('l')
      .orderBy('l.id')
      .limit(query.limit);
    if (query.status) builder = builder.where('l.status', '=', query.status);
    if (query.ids) {
      if (query.ids.length === 0) return [];
      builder = builder.where(
        'l.id',
        'in',
        query.ids.map((id) => id.toString()),
      );
    }
    if (query.afterId !== undefined) builder = builder.where('l.id', '>', query.afterId.toString());
    const rows = await builder.execute();
    const current = await this.#currentVersions(rows.map((r) => ({ table: r.table_name, id: r.employe_id })));
    return rows.map((r) => ({
      store: this.name,
      table: r.table_name,
      id: BigInt(r.id),
      stage: r.stage as DeadLetterStage,
      sourceKey: r.source_key,
      source: JSON.parse(r.source) as Record<string, string>,
      code: r.code,
      reason: r.reason,
      eventId: r.event_id,
      employeId: r.employe_id === null ? null : Number(r.employe_id),
      op: r.op as DeadLetterRecord['op'],
      version: r.row_version === null ? null : BigInt(r.row_version),
      origin: r.row_origin,
      payload: r.payload,
      payloadEncoding: r.payload_encoding === 'base64' ? 'base64' : 'utf8',
      status: r.status as DeadLetterStatus,
      seenCount: Number(r.seen_count),
      firstSeenAt: toIsoTimestamp(r.first_seen_at),
      lastSeenAt: toIsoTimestamp(r.last_seen_at),
      resolvedAt: r.resolved_at === null ? null : toIsoTimestamp(r.resolved_at),
      lastError: r.last_error,
      currentVersion: r.employe_id === null ? null : (current.get(`${r.table_name}:${r.employe_id}`) ?? null),
    }));
  }

  /** The version each letter's row holds now in its table (absent: no row). */
  async #currentVersions(rows: { table: string; id: number | null }[]): Promise<Map<string, bigint>> {
    const versions = new Map<string, bigint>();
    const byTable = new Map<string, number[]>();
    for (const { table, id } of rows) if (id !== null) byTable.set(table, [...(byTable.get(table) ?? []), id]);
    for (const [table, ids] of byTable) {
      const found = await sql<{ id: number; version: string }>`
        SELECT id, sync_version AS version FROM ${sql.table(table)} WHERE id IN (${sql.join(ids)})`
        .execute(this.#db)
        .catch(() => ({ rows: [] })); // a table no longer there: its rows have no version
      for (const row of found.rows) versions.set(`${table}:${row.id}`, BigInt(row.version));
    }
    return versions;
  }

  async count(): Promise<{ stage: DeadLetterStage; parked: number }[]> {
    const rows = await this.#db
      .selectFrom('sync_dead_letters')
      .select((eb) => ['stage', eb.fn.countAll<string | number>().as('n')])
      .where('status', '=', 'parked')
      .groupBy('stage')
      .execute();
    return rows.map((r) => ({ stage: r.stage as DeadLetterStage, parked: Number(r.n) }));
  }

  async resolve(id: bigint, outcome: { replayed: true } | { replayed: false; error: string }): Promise<void> {
    if (outcome.replayed) return markDeadLettersReplayed(this.#db, [id]);
    await this.#db
      .updateTable('sync_dead_letters')
      .set({ last_error: outcome.error.slice(0, 4000) })
      .where('id', '=', id.toString())
      .execute();
  }
}

/** The columns of a sync_dead_letters row for a record (same in both dialects). */
export function deadLetterValues(record: DeadLetterRecord) {
  return {
    table_name: record.table,
    stage: record.stage,
    source_key: record.sourceKey.slice(0, 400),
    source: JSON.stringify(record.source),
    event_id: record.eventId,
    employe_id: record.employeId,
    op: record.op,
    row_version: record.version?.toString() ?? null,
    row_origin: record.origin,
    code: record.code,
    reason: record.reason.slice(0, 4000),
    payload: record.payload,
    payload_encoding: record.payloadEncoding,
  };
}

/** Marks replayed dead letters (a sink transaction that applied them). */
export async function markDeadLettersReplayed(trx: Kysely<Database>, ids: bigint[]): Promise<void> {
  if (ids.length === 0) return;
  await trx
    .updateTable('sync_dead_letters')
    .set({ status: 'replayed', resolved_at: toSqlTimestamp(new Date().toISOString()), last_error: null })
    .where(
      'id',
      'in',
      ids.map((id) => id.toString()),
    )
    .execute();
}

