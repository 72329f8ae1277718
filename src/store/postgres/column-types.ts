// PostgreSQL types of the logical column types (src/tables/column-types.ts), both ways: the type a
// declared or propagated column gets here, its array type for unnest(), and the logical type of a column
// read from the catalog.
import type { ColumnType } from '../../tables/column-types.ts';

export function postgresType(type: ColumnType): string {
  switch (type.kind) {
    case 'smallint':
      return 'smallint';
    case 'integer':
      return 'integer';
    case 'bigint':
      return 'bigint';
    case 'text':
      return type.length === null ? 'text' : `varchar(${type.length})`;
    case 'decimal':
      return `numeric(${type.precision},${type.scale})`;
    case 'timestamp':
      return 'timestamptz(6)';
    case 'date':
      return 'date';
    case 'boolean':
      return 'boolean';
    case 'double':
      return 'double precision';
  }
}

/** The element type to cast an unnest() array of this column's values to (lengths and scales left to the column). */
export function postgresArrayType(type: ColumnType): string {
  switch (type.kind) {
    case 'text':
      return 'text[]';
    case 'decimal':
      return 'numeric[]';
    case 'timestamp':
      return 'timestamptz[]';
    default:
      return `${postgresType(type)}[]`;
  }
}

/** A row of information_schema.columns. */
export interface PostgresCatalogColumn {
  name: string;
  dataType: string;
  length: number | null;
  precision: number | null;
  scale: number | null;
}

/** The logical type of a catalog column, or null (json, arrays, enums, intervals …: no counterpart). */
export function logicalType(column: PostgresCatalogColumn): ColumnType | null {
  switch (column.dataType) {
    case 'smallint':
      return { kind: 'smallint' };
    case 'integer':
      return { kind: 'integer' };
    case 'bigint':
      return { kind: 'bigint' };
    case 'character varying':
    case 'character':
      return { kind: 'text', length: column.length };
    case 'text':
      return { kind: 'text', length: null };
    case 'numeric':
      return column.precision === null ? null : { kind: 'decimal', precision: column.precision, scale: column.scale ?? 0 };
    case 'timestamp with time zone':
      return { kind: 'timestamp' };
    case 'date':
      return { kind: 'date' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'double precision':
      return { kind: 'double' };
    default:
      return null;
  }
}

/**
 * The CHECK that refuses here what MySQL cannot hold (docs/type-mapping.md): instants outside MySQL's
 * DATETIME range (±infinity, BC, years after 9999), dates likewise, NaN in numeric. Null when none.
 */
export function postgresPortableCheck(column: { name: string; type: ColumnType }): string | null {
  const ref = `"${column.name}"`;
  switch (column.type.kind) {
    case 'timestamp':
      return `${ref} BETWEEN '1000-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00'`;
    case 'date':
      return `${ref} BETWEEN '1000-01-01' AND '9999-12-31'`;
    case 'decimal': {
      const max = `${'9'.repeat(column.type.precision - column.type.scale) || '0'}${column.type.scale ? `.${'9'.repeat(column.type.scale)}` : ''}`;
      return `${ref} BETWEEN -${max} AND ${max}`;
    }
    case 'double':
      return `${ref} BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308`;
    default:
      return null;
  }
}

/** The column's definition in CREATE TABLE / ADD COLUMN: type, nullability, default. */
export function postgresColumnDefinition(column: { name: string; type: ColumnType; nullable: boolean; default?: 'now' | { value: string } }): string {
  const fallback =
    column.default === 'now'
      ? column.type.kind === 'timestamp' || column.type.kind === 'date'
        ? ' DEFAULT now()'
        : ''
      : column.default
        ? ` DEFAULT '${column.default.value.replace(/'/g, "''")}'`
        : '';
  return `"${column.name}" ${postgresType(column.type)}${column.nullable ? '' : ' NOT NULL'}${fallback}`;
}
