// A captured change, as the relay carries it: the raw JSON the capture triggers wrote becomes the row's
// canonical values, column by column with the table's current schema, and every value is checked
// against what both engines hold. No SQL here.
import type { SchemaColumn, TableSchema } from '../tables/table-schema.ts';
import { canonicalValue, unportableValue, type RowValues } from '../tables/values.ts';
import type { CapturedChange, OutboxRow } from '../store/types.ts';

export interface CarriedChange {
  change: OutboxRow;
  /** The columns the row holds, in schema order (what the event's schema version describes). */
  columns: string[];
  /** Why the row cannot be carried (the first offending column), or null. */
  unportable: string | null;
  /** Columns in the captured row that the schema does not know (yet). */
  unknown: string[];
}

export function carryChange(captured: CapturedChange, schema: TableSchema): CarriedChange {
  const values: RowValues = {};
  const columns: string[] = [];
  let unportable: string | null = null;
  const raw = captured.raw;
  if (raw !== null) {
    for (const column of schema.columns) {
      const given = raw[column.name];
      if (given === undefined) continue;
      const value = canonicalValue(column.type, given);
      values[column.name] = value;
      columns.push(column.name);
      if (unportable === null && captured.op !== 'd') unportable = checkValue(column, value, schema.table.unique.includes(column.name));
    }
  }
  // Every key matched a column (the common case) unless the row holds more keys than it gave values.
  const unknown = raw === null || Object.keys(raw).length === columns.length ? [] : Object.keys(raw).filter((name) => !(name in values));
  const change: OutboxRow = {
    seq: captured.seq,
    eventId: captured.eventId,
    table: captured.table,
    op: captured.op,
    baseVersion: captured.baseVersion,
    capturedAt: captured.capturedAt,
    row: { id: captured.id, version: captured.version, origin: captured.origin, values },
  };
  return { change, columns, unportable, unknown };
}

function checkValue(column: SchemaColumn, value: string | null, unique: boolean): string | null {
  const reason = unportableValue(column.type, value, column.nullable);
  if (reason !== null) return `${column.name} ${reason}`;
  // A row written before the capture refused it: the engines disagree on which row holds this value.
  if (unique && column.type.kind === 'text' && value?.endsWith(' ')) {
    return `${column.name} is unique and ends with a space: MySQL's PAD SPACE collation takes it for the value without it, PostgreSQL does not`;
  }
  return null;
}

/** A captured row's weight in memory, roughly: its values' characters and a little for each key. */
function capturedBytes(row: CapturedChange): number {
  let bytes = 64;
  for (const value of Object.values(row.raw ?? {})) bytes += 16 + (typeof value === 'string' ? value.length : 8);
  return bytes;
}

/** How many rows like these (their average weight) fit in `maxBytes`: at least 1, at most `maxRows`. */
export function rowsWithin(rows: readonly CapturedChange[], maxRows: number, maxBytes: number): number {
  if (rows.length === 0) return maxRows;
  const average = rows.reduce((sum, row) => sum + capturedBytes(row), 0) / rows.length;
  return Math.max(1, Math.min(maxRows, Math.floor(maxBytes / Math.max(1, average))));
}
