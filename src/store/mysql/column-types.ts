// MySQL / MariaDB types of the logical column types (src/tables/column-types.ts), both ways: the type a
// declared or propagated column gets here, and the logical type of a column read from the catalog.
import type { ColumnType } from '../../tables/column-types.ts';
import type { ColumnDeclaration } from '../../tables/declaration.ts';
import { portableInstants } from '../../tables/values.ts';

export function mysqlType(type: ColumnType): string {
  switch (type.kind) {
    case 'smallint':
      return 'SMALLINT';
    case 'integer':
      return 'INT';
    case 'bigint':
      return 'BIGINT';
    case 'text':
      return type.length === null ? 'TEXT' : `VARCHAR(${type.length})`;
    case 'decimal':
      return `DECIMAL(${type.precision},${type.scale})`;
    case 'timestamp':
      return 'DATETIME(6)';
    case 'date':
      return 'DATE';
    case 'boolean':
      return 'TINYINT(1)';
    case 'double':
      return 'DOUBLE';
  }
}

/** A row of information_schema.COLUMNS. */
export interface MysqlCatalogColumn {
  name: string;
  dataType: string;
  columnType: string;
  length: number | null;
  precision: number | null;
  scale: number | null;
}

/** The logical type of a catalog column, or null (ENUM, SET, JSON, spatial, binary …: no counterpart). */
export function logicalType(column: MysqlCatalogColumn): ColumnType | null {
  switch (column.dataType.toLowerCase()) {
    case 'smallint':
      return { kind: 'smallint' };
    case 'int':
    case 'mediumint':
      return { kind: 'integer' };
    case 'bigint':
      return { kind: 'bigint' };
    case 'tinyint':
      return /^tinyint\(1\)/i.test(column.columnType) ? { kind: 'boolean' } : { kind: 'smallint' };
    case 'varchar':
    case 'char':
      return { kind: 'text', length: column.length };
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'tinytext':
      return { kind: 'text', length: null };
    case 'decimal':
      return { kind: 'decimal', precision: column.precision ?? 10, scale: column.scale ?? 0 };
    case 'datetime':
      return { kind: 'timestamp' };
    case 'date':
      return { kind: 'date' };
    case 'double':
      return { kind: 'double' };
    default:
      return null;
  }
}

/**
 * The CHECK that refuses here what PostgreSQL cannot hold (docs/type-mapping.md): U+0000 in text, and
 * instants before 1000 — MariaDB's zero date among them. Null when the type needs none.
 */
export function mysqlPortableCheck(column: Pick<ColumnDeclaration, 'name' | 'type'>): string | null {
  const ref = `\`${column.name}\``;
  if (column.type.kind === 'text') return `LOCATE(CHAR(0 USING utf8mb4), ${ref}) = 0`;
  if (column.type.kind === 'timestamp') return `${ref} >= '${portableInstants.min.slice(0, 19).replace('T', ' ')}'`;
  if (column.type.kind === 'date') return `${ref} >= '1000-01-01'`;
  return null;
}

/** The column's definition in CREATE TABLE / ADD COLUMN: type, nullability, default. */
export function mysqlColumnDefinition(column: ColumnDeclaration): string {
  const type = mysqlType(column.type);
  const fallback =
    column.default === 'now'
      ? column.type.kind === 'timestamp'
        ? ' DEFAULT CURRENT_TIMESTAMP(6)'
        : ''
      : column.default
        ? ` DEFAULT ${literal(column.type, column.default.value)}`
        : '';
  return `\`${column.name}\` ${type}${column.nullable ? ' NULL' : ' NOT NULL'}${fallback}`;
}

function literal(type: ColumnType, value: string): string {
  if (type.kind === 'boolean') return value === 'true' ? '1' : '0';
  if (['smallint', 'integer', 'bigint', 'decimal', 'double'].includes(type.kind)) return value;
  const text = type.kind === 'timestamp' ? value.replace('T', ' ').replace(/Z$/, '') : value;
  return `'${text.replace(/'/g, "''").replace(/\\/g, '\\\\')}'`;
}

/** A canonical value as mysql2 writes it into a column of `type`: DATETIME text without T and Z, booleans as 1/0. */
export function mysqlValue(type: ColumnType | undefined, value: string | null): string | number | null {
  if (value === null || !type) return value;
  if (type.kind === 'timestamp' && /^\d{4}-\d{2}-\d{2}T/.test(value)) return value.replace('T', ' ').replace(/Z$/, '');
  if (type.kind === 'boolean') return value === 'true' ? 1 : value === 'false' ? 0 : value;
  return value;
}
