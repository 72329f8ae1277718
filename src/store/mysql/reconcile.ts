// Reconcile's checksums in MySQL / MariaDB: each row's synced columns as canonical text (the same bytes
// PostgreSQL's expression gives for the same content), length-prefixed so no two rows run together,
// MD5 of the whole, its first 64 bits, XOR-ed per chunk of ids (as pt-table-checksum does).
import { sql, type RawBuilder } from 'kysely';
import type { ColumnType } from '../../tables/column-types.ts';
import type { TableSchema } from '../../tables/table-schema.ts';
import { KyselyReconcile } from '../kysely/reconcile.ts';

/** A column's value as canonical text (src/tables/values.ts), in MySQL SQL. */
function canonicalText(ref: string, type: ColumnType): string {
  switch (type.kind) {
    case 'text':
      return ref;
    case 'timestamp':
      return `DATE_FORMAT(${ref}, '%Y-%m-%dT%H:%i:%s.%fZ')`;
    case 'date':
      return `DATE_FORMAT(${ref}, '%Y-%m-%d')`;
    case 'boolean':
      return `CASE WHEN ${ref} IS NULL THEN NULL WHEN ${ref} <> 0 THEN 'true' ELSE 'false' END`;
    default:
      return `CAST(${ref} AS CHAR)`;
  }
}

export function mysqlRowHash(schema: TableSchema): string {
  const parts = schema.columns.map((c) => {
    const text = canonicalText(`\`${c.name}\``, c.type);
    return `COALESCE(CONCAT(OCTET_LENGTH(${text}), ':', ${text}), '~')`;
  });
  return `MD5(CONCAT_WS('|', id, sync_version${parts.map((p) => `, ${p}`).join('')}))`;
}

export class MysqlReconcile extends KyselyReconcile {
  constructor(db: ConstructorParameters<typeof KyselyReconcile>[1]) {
    super('mysql', db);
  }

  protected checksumQuery(schema: TableSchema, chunkRows: number): RawBuilder<{ chunk: string; row_count: string; hash: string | null }> {
    const hash = sql.raw(`CAST(CONV(LEFT(${mysqlRowHash(schema)}, 16), 16, 10) AS UNSIGNED)`);
    return sql`
      SELECT CAST(FLOOR(id / ${sql.lit(chunkRows)}) AS CHAR) AS chunk, CAST(COUNT(*) AS CHAR) AS row_count,
             CAST(BIT_XOR(${hash}) AS CHAR) AS hash
        FROM ${sql.table(schema.table.name)} GROUP BY FLOOR(id / ${sql.lit(chunkRows)})`;
  }
}
