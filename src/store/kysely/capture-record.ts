// The schema keeper's side of a store that is the same in both dialects: which columns a table's capture
// triggers were generated with (sync_capture: a column that joins the sync later is one the captured rows
// lacked), and one column's values by id range, to fill a joining column on the side that lacks them
// (fillColumn writes them).
import { sql, type Kysely } from 'kysely';
import type { SchemaColumn, TableSchema } from '../../tables/table-schema.ts';
import { canonicalValue } from '../../tables/values.ts';
import type { ColumnValue } from '../ports.ts';
import type { Database } from '../schema.ts';
import { lowestId } from './outbox.ts';

/** The highest id either store can hold (INT). */
const highestId = 2147483647;

/**
 * Records the columns a table's capture was generated with, and the revision of the generator (a capture
 * made by an earlier generator is generated again at the next check).
 */
export async function recordCapture(db: Kysely<Database>, schema: TableSchema, columns: readonly string[], revision: string): Promise<void> {
  await db.deleteFrom('sync_capture').where('table_name', '=', schema.table.name).execute();
  await db
    .insertInto('sync_capture')
    .values({ table_name: schema.table.name, schema_version: `${schema.version}@${revision}`, columns_json: JSON.stringify(columns) })
    .execute();
}

export async function columnValues(
  db: Kysely<Database>,
  table: string,
  column: SchemaColumn,
  afterId: number | null,
  limit: number,
  upToId?: number,
): Promise<ColumnValue[]> {
  const from = afterId === null ? sql`id >= ${lowestId}` : sql`id > ${afterId}`;
  const upTo = upToId === undefined || upToId > highestId ? sql`` : sql`AND id <= ${upToId}`;
  const { rows } = await sql<{ id: number; version: string | number; origin: string; value: unknown }>`
    SELECT id, sync_version AS version, sync_origin AS origin, ${sql.ref(column.name)} AS value FROM ${sql.table(table)}
     WHERE ${from} ${upTo} ORDER BY id LIMIT ${limit}`.execute(db);
  return rows.map((r) => ({ id: Number(r.id), version: BigInt(r.version), origin: r.origin, value: canonicalValue(column.type, r.value) }));
}

/** The columns of the table's capture, or null when there is none, or one of another generator revision. */
export async function capturedColumns(db: Kysely<Database>, table: string, revision: string): Promise<string[] | null> {
  const row = await db.selectFrom('sync_capture').select(['columns_json', 'schema_version']).where('table_name', '=', table).executeTakeFirst();
  if (!row || !row.schema_version.endsWith(`@${revision}`)) return null;
  return JSON.parse(row.columns_json) as string[];
}

/**
 * Writes `column` of these rows where the row still has that version, under the dialect's sink marker
 * (neither stamped nor captured: the row keeps its version). `value` gives the driver's parameter.
 */
export async function fillColumn(
  db: Kysely<Database>,
  asSink: <T>(trx: Kysely<Database>, work: () => Promise<T>) => Promise<T>,
  table: string,
  column: SchemaColumn,
  rows: readonly ColumnValue[],
  value: (text: string | null) => unknown,
): Promise<number> {
  if (rows.length === 0) return 0;
  return db.transaction().execute((trx) =>
    asSink(trx, async () => {
      let filled = 0;
      for (const row of rows) {
        const result = await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column.name)} = ${value(row.value)}
                                  WHERE id = ${row.id} AND sync_version = ${row.version.toString()}`.execute(trx);
        filled += Number(result.numAffectedRows ?? 0n);
      }
      return filled;
    }),
  );
}
