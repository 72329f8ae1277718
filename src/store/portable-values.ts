// The values both engines can hold, as data: each synced column's kind, and the range of each kind
// that MySQL 8.4 / MariaDB 10.11 and PostgreSQL 15 share. The stores render these rules as CHECK
// constraints (a value the other engine cannot hold is refused where it is written), and the relay
// checks every captured row against them before publishing (a row stored before the constraint
// existed is parked, not carried). docs/type-mapping.md is the table for people.
import type { DeletedRow, EmployeeRow } from './types.ts';

export type PortableKind = 'text' | 'decimal' | 'timestamp';

/** The synced employee columns whose values cross engines, by kind (SQL name → row field). */
export const portableColumns: readonly { column: string; field: keyof EmployeeRow; kind: PortableKind }[] = [
  { column: 'nom', field: 'nom', kind: 'text' },
  { column: 'prenom', field: 'prenom', kind: 'text' },
  { column: 'email', field: 'email', kind: 'text' },
  { column: 'poste', field: 'poste', kind: 'text' },
  { column: 'department', field: 'department', kind: 'text' },
  { column: 'salaire', field: 'salaire', kind: 'decimal' },
  { column: 'date_embauche', field: 'dateEmbauche', kind: 'timestamp' },
  { column: 'created_at', field: 'createdAt', kind: 'timestamp' },
  { column: 'updated_at', field: 'updatedAt', kind: 'timestamp' },
];

/** MySQL's DATETIME range (PostgreSQL's timestamptz is wider and has ±infinity): UTC, microseconds. */
export const portableTimestampRange = { min: '1000-01-01 00:00:00', max: '9999-12-31 23:59:59.999999' } as const;

/** DECIMAL(10,2) in both engines; PostgreSQL's numeric also has NaN, which MySQL lacks. */
export const portableDecimal = { precision: 10, scale: 2, max: '99999999.99' } as const;

const isoInstant = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z$/;
const decimalPattern = new RegExp(
  `^-?\\d{1,${portableDecimal.precision - portableDecimal.scale}}(\\.\\d{1,${portableDecimal.scale}})?$`,
);

/** Why `value` of a column of `kind` cannot be held by both engines, or null when it can. */
export function unportableValue(kind: PortableKind, value: unknown): string | null {
  if (typeof value !== 'string') return `is ${value === null ? 'null' : typeof value}, not a ${kind}`;
  switch (kind) {
    case 'text':
      // PostgreSQL text cannot hold U+0000; MySQL's utf8mb4 holds every other code point, as PostgreSQL does.
      return value.includes('\u0000') ? 'holds the character U+0000, which PostgreSQL text cannot store' : null;
    case 'decimal':
      return decimalPattern.test(value)
        ? null
        : `${JSON.stringify(value)} is not a DECIMAL(${portableDecimal.precision},${portableDecimal.scale}) both engines hold (NaN and infinities exist only in PostgreSQL)`;
    case 'timestamp': {
      const iso = `${portableTimestampRange.min.replace(' ', 'T')}.000000Z`;
      const max = `${portableTimestampRange.max.replace(' ', 'T')}Z`;
      const match = isoInstant.exec(value);
      const valid =
        match !== null &&
        value >= iso &&
        value <= max &&
        !Number.isNaN(Date.parse(value)) &&
        new Date(Date.parse(value)).toISOString().slice(0, 19) === value.slice(0, 19);
      return valid
        ? null
        : `${JSON.stringify(value)} is outside ${portableTimestampRange.min}..${portableTimestampRange.max} UTC, the instants MySQL's DATETIME holds`;
    }
  }
}

/**
 * Why a captured row cannot be carried to the other engine (the first offending column), or null.
 * A delete carries only its id, version and origin to the other side, so its values are not checked.
 */
export function unportableRow(op: string, row: EmployeeRow | DeletedRow): string | null {
  if (op === 'd') return null;
  for (const { column, field, kind } of portableColumns) {
    const reason = unportableValue(kind, row[field]);
    if (reason) return `${column} ${reason}`;
  }
  return null;
}
