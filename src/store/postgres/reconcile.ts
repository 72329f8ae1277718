// Reconcile's checksums in PostgreSQL: each row's synced columns as canonical text (the same bytes
// MySQL's expression gives for the same content), length-prefixed so no two rows run together, MD5 of
// the whole, its first 64 bits as a bigint, XOR-ed per chunk of ids.
import { sql, type RawBuilder } from 'kysely';
import type { ColumnType } from '../../tables/column-types.ts';
import type { TableSchema } from '../../tables/table-schema.ts';
import { KyselyReconcile } from '../kysely/reconcile.ts';

/** A column's value as canonical text (src/tables/values.ts), in PostgreSQL SQL. */
function canonicalText(ref: string, type: ColumnType): string {
  switch (type.kind) {
    case 'text':
      return ref;
    case 'timestamp':
      return `to_char(${ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
    case 'date':
      return `to_char(${ref}, 'YYYY-MM-DD')`;
    case 'boolean':
      return `CASE WHEN ${ref} IS NULL THEN NULL WHEN ${ref} THEN 'true' ELSE 'false' END`;
    default:
      return `${ref}::text`;
  }
}

export function postgresRowHash(schema: TableSchema): string {
  const parts = schema.columns.map((c) => {
    const text = canonicalText(`"${c.name}"`, c.type);
    return `coalesce(octet_length(${text}) || ':' || ${text}, '~')`;
  });
  return `md5(concat_ws('|', id, sync_version${parts.map((p) => `, ${p}`).join('')}))`;
}

export class PostgresReconcile extends KyselyReconcile {
  constructor(db: ConstructorParameters<typeof KyselyReconcile>[1]) {
    super('postgres', db);
  }

  protected checksumQuery(schema: TableSchema, chunkRows: number): RawBuilder<{ chunk: string; row_count: string; hash: string | null }> {
    const hash = sql.raw(`('x' || left(${postgresRowHash(schema)}, 16))::bit(64)::bigint`);
    return sql`
      SELECT floor(id / ${sql.lit(chunkRows)}::numeric)::bigint::text AS chunk, count(*)::text AS row_count,
             bit_xor(${hash})::text AS hash
        FROM ${sql.table(schema.table.name)} GROUP BY 1`;
  }
}
