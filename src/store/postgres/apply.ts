// A sink's transaction in PostgreSQL, in four round trips: BEGIN (REPEATABLE READ) with the marker its
// capture triggers skip on, one locking read (rows, holders of unique values, tombstones and offsets: one
// statement), the writes (upserts from unnest() arrays and the offsets in one statement when it can),
// COMMIT — for any synced table. Every array is bound as its text (./array-literal.ts).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { insertConflicts } from '../kysely/conflicts.ts';
import { markDeadLettersReplayed } from '../kysely/dead-letters.ts';
import { applyState, byColumns, KyselyApply, KyselyApplyTransaction, type ApplyStateRow } from '../kysely/apply.ts';
import type { ApplyState, ApplyStateRequest, ApplyTransaction } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { ApplyPlan, SyncedRow } from '../types.ts';
import { arrayLiteral } from './array-literal.ts';
import { postgresArrayType } from './column-types.ts';
import { upsertDeadLetters } from './dead-letters.ts';

export class PostgresApply extends KyselyApply {
  constructor(db: Kysely<Database>) {
    super('postgres', db);
  }

  transaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T> {
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

class PostgresApplyTransaction extends KyselyApplyTransaction {
  async readState(request: ApplyStateRequest): Promise<ApplyState> {
    const { unique } = request;
    // Ascending: rows are locked in the order of their ids, as an index scan would lock them.
    const ids = arrayLiteral([...new Set(request.ids)].sort((a, b) => a - b));
    const offsets = request.offsets ?? { consumerGroup: '', topic: '', partitions: [] };
    const table = sql.table(request.table);
    const holders = unique.filter((u) => u.values.length);
    if (request.ids.length === 0 && holders.length === 0 && offsets.partitions.length === 0) return applyState([], request);
    // Each key is looked up through the table's index, one probe per key (a LATERAL sub-select with a
    // locking clause is never flattened into a join): the plan does not depend on the statistics. With
    // `= ANY(array)` a table that was never analysed, or that grew since (a snapshot into an empty table,
    // the tombstones of a TRUNCATE), was read whole for every batch — 30 ms a 2,000-row batch at 300,000
    // rows for the holders of a unique value, 100 ms at 1,100,000 tombstones (docs/benchmarks.md).
    const heldValues = holders.map(({ column }, i) => sql`, ${sql.ref(column)}::text AS ${sql.id(`u${i}`)}`);
    const locks: RawBuilder<unknown>[] = [
      sql`locked AS (SELECT r.* FROM unnest(${ids}::int[]) AS k(id) CROSS JOIN LATERAL
                       (SELECT id, sync_version, sync_origin, sync_seen_version${sql.join(heldValues, sql``)}
                          FROM ${table} WHERE id = k.id FOR UPDATE) AS r)`,
      sql`buried AS (SELECT t.* FROM unnest(${ids}::int[]) AS k(id) CROSS JOIN LATERAL
                       (SELECT id, version, origin, seen_version FROM sync_tombstones
                         WHERE table_name = ${request.table} AND id = k.id FOR UPDATE) AS t)`,
      sql`positions AS (SELECT kafka_partition, next_offset, log_id FROM sync_offsets
                         WHERE consumer_group = ${offsets.consumerGroup} AND topic = ${offsets.topic}
                           AND kafka_partition = ANY(${arrayLiteral(offsets.partitions)}::int[]) FOR UPDATE)`,
      // A value that a locked row of the batch holds (byte for byte) has no other holder: it is taken from
      // that row, not looked up again (a batch of updates keeping their values reads no unique index).
      ...holders.map(({ column, values }, i) => {
        const held = sql.ref(`locked.u${i}`);
        return sql`${sql.id(`holders${i}`)} AS (
          SELECT h.* FROM unnest(${arrayLiteral(values)}::text[]) AS k(value) CROSS JOIN LATERAL
                          (SELECT id, sync_version, sync_origin, sync_seen_version, ${sql.ref(column)}::text AS value
                             FROM ${table} WHERE ${sql.ref(column)} = k.value FOR UPDATE) AS h
           WHERE NOT EXISTS (SELECT FROM locked WHERE ${held} COLLATE "C" = k.value COLLATE "C")
          UNION ALL
          SELECT id, sync_version, sync_origin, sync_seen_version, ${held} FROM locked
           WHERE ${held} COLLATE "C" IN (SELECT value COLLATE "C" FROM unnest(${arrayLiteral(values)}::text[]) AS v(value)))`;
      }),
    ];
    const selects: RawBuilder<unknown>[] = [
      sql`SELECT 'row' AS kind, id, sync_version AS version, sync_origin AS origin, sync_seen_version AS seen,
                 NULL::text AS unique_column, NULL::text AS unique_value FROM locked`,
      sql`SELECT 'tombstone', id, version, origin, seen_version, NULL, NULL FROM buried`,
      sql`SELECT 'offset', kafka_partition, next_offset, log_id, 0, NULL, NULL FROM positions`,
      ...holders.map(
        ({ column }, i) => sql`SELECT 'holder', id, sync_version, sync_origin, sync_seen_version, ${column}::text, value FROM ${sql.id(`holders${i}`)}`,
      ),
    ];
    const { rows } = await sql<ApplyStateRow>`WITH ${sql.join(locks)} ${sql.join(selects, sql` UNION ALL `)}`.execute(this.trx);
    return applyState(rows, request);
  }

  async write(plan: ApplyPlan): Promise<void> {
    const trx = this.trx;
    const name = plan.schema.table.name;
    const table = sql.table(name);
    if (plan.displaced.length) await sql`DELETE FROM ${table} WHERE id = ANY(${arrayLiteral(plan.displaced)}::int[])`.execute(trx);
    for (const { column, ids } of plan.parkUnique) {
      if (ids.length) await sql`UPDATE ${table} SET ${sql.ref(column)} = '#parked#' || id WHERE id = ANY(${arrayLiteral(ids)}::int[])`.execute(trx);
    }
    if (plan.deletes.length) {
      const ids = arrayLiteral(plan.deletes.map((d) => d.id));
      await sql`DELETE FROM ${table} WHERE id = ANY(${ids}::int[])`.execute(trx);
      await sql`
        INSERT INTO sync_tombstones (table_name, id, version, origin, seen_version)
        SELECT ${name}, * FROM unnest(${ids}::int[], ${arrayLiteral(plan.deletes.map((d) => d.version.toString()))}::bigint[],
                                      ${arrayLiteral(plan.deletes.map((d) => d.origin))}::text[],
                                      ${arrayLiteral(plan.deletes.map((d) => (plan.seen.get(d.id) ?? 0n).toString()))}::bigint[])
        ON CONFLICT (table_name, id) DO UPDATE SET version = greatest(sync_tombstones.version, EXCLUDED.version),
          origin = EXCLUDED.origin, seen_version = greatest(sync_tombstones.seen_version, EXCLUDED.seen_version)`.execute(trx);
    }
    await insertConflicts(trx, plan.conflicts);
    await upsertDeadLetters(trx, plan.deadLetters);
    await markDeadLettersReplayed(trx, plan.replayedDeadLetters);
    const groups = byColumns(plan.upserts);
    const offsets = plan.offsets;
    // Within one log an offset only grows; an offset of another log (a new cluster, a recreated topic) is replaced.
    const storeOffsets = sql`
      INSERT INTO sync_offsets (consumer_group, topic, kafka_partition, next_offset, log_id)
      SELECT ${plan.consumerGroup}, *, ${plan.logId} FROM unnest(${arrayLiteral(offsets.map((o) => o.topic))}::text[],
        ${arrayLiteral(offsets.map((o) => o.partition))}::int[], ${arrayLiteral(offsets.map((o) => o.nextOffset.toString()))}::bigint[])
      ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE
        SET next_offset = CASE WHEN sync_offsets.log_id = EXCLUDED.log_id
                               THEN greatest(sync_offsets.next_offset, EXCLUDED.next_offset)
                               ELSE EXCLUDED.next_offset END,
            log_id = EXCLUDED.log_id, updated_at = now()`;
    // One upsert and the offsets in one statement (a data-modifying WITH): one round trip fewer.
    if (groups.length === 1 && offsets.length) {
      await sql`WITH upserted AS (${upsert(plan, groups[0]!)} RETURNING 1) ${storeOffsets}`.execute(trx);
    } else {
      for (const rows of groups) await upsert(plan, rows).execute(trx);
      if (offsets.length) await storeOffsets.execute(trx);
    }
    await moveIdSequencePast(trx, plan);
  }
}

/** An upsert of rows holding the same columns, from one unnest() array per column: each writes only what it holds. */
function upsert(plan: ApplyPlan, rows: SyncedRow[]): RawBuilder<unknown> {
  const name = plan.schema.table.name;
  const columns = Object.keys(rows[0]!.values);
  const types = new Map(plan.schema.columns.map((c) => [c.name, c.type]));
  const arrays = [
    sql`${arrayLiteral(rows.map((r) => r.id))}::int[]`,
    ...columns.map((c) => {
      const type = types.get(c);
      return sql`${arrayLiteral(rows.map((r) => r.values[c]))}::${sql.raw(type ? postgresArrayType(type) : 'text[]')}`;
    }),
    sql`${arrayLiteral(rows.map((r) => r.version.toString()))}::bigint[]`,
    sql`${arrayLiteral(rows.map((r) => r.origin))}::text[]`,
    sql`${arrayLiteral(rows.map((r) => (plan.seen.get(r.id) ?? 0n).toString()))}::bigint[]`,
  ];
  const names = sql.join([...['id', ...columns].map((c) => sql.ref(c)), sql`sync_version`, sql`sync_origin`, sql`sync_seen_version`]);
  const updates = sql.join([
    ...columns.map((c) => sql`${sql.ref(c)} = EXCLUDED.${sql.ref(c)}`),
    sql`sync_version = EXCLUDED.sync_version`,
    sql`sync_origin = EXCLUDED.sync_origin`,
    sql`sync_seen_version = greatest(${sql.table(name)}.sync_seen_version, EXCLUDED.sync_seen_version)`,
  ]);
  return sql`INSERT INTO ${sql.table(name)} (${names}) SELECT * FROM unnest(${sql.join(arrays)})
             ON CONFLICT (id) DO UPDATE SET ${updates}`;
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
  const sequence = `${plan.schema.table.name}_id_seq`;
  await sql`
    SELECT setval(${sequence}, lowest.id, true)
      FROM (SELECT min(id) AS id FROM unnest(${arrayLiteral(own)}::int[]) AS id) AS lowest, ${sql.table(sequence)} AS seq
     WHERE lowest.id <= seq.last_value`.execute(trx);
}
