// The logical types a synced column can have, whatever the engine: what a value is, how it travels
// (one canonical text form per type) and what both engines can hold. Each store maps these to its own
// SQL types (src/store/<dialect>/column-types.ts), and back when it reads its catalog.
export type ColumnType =
  | { kind: 'smallint' }
  | { kind: 'integer' }
  | { kind: 'bigint' }
  | { kind: 'text'; length: number | null }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'timestamp' }
  | { kind: 'date' }
  | { kind: 'boolean' }
  | { kind: 'double' };

export type ColumnKind = ColumnType['kind'];

/** `varchar(100)`, `decimal(10,2)`, `timestamp`: a short, engine-neutral name, for messages and hashes. */
export function describeType(type: ColumnType): string {
  switch (type.kind) {
    case 'text':
      return type.length === null ? 'text' : `text(${type.length})`;
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
    default:
      return type.kind;
  }
}

/**
 * Whether values of `a` travel to a column of `b` unchanged: the same kind, and for text and decimals
 * room enough on the receiving side (the other way round a value could be refused or rounded).
 */
export function carriesInto(a: ColumnType, b: ColumnType): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'text' && b.kind === 'text') return b.length === null || (a.length !== null && a.length <= b.length);
  if (a.kind === 'decimal' && b.kind === 'decimal') {
    return b.scale >= a.scale && b.precision - b.scale >= a.precision - a.scale;
  }
  return true;
}

/** Both ways: a column whose values travel unchanged in both directions. */
export function sameType(a: ColumnType, b: ColumnType): boolean {
  return carriesInto(a, b) && carriesInto(b, a);
}
