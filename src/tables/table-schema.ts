// The effective schema of a synced table: its declared columns, plus the columns a DBA added to both
// engines with types that travel (found by reading each engine's catalog). What is found on one side
// only, or with types that cannot travel, is a finding: propagated to the other engine where the type
// maps, reported otherwise — never silently ignored. The schema's version (a hash of its columns)
// travels with every event, so a sink knows which shape a change was written with.
import { createHash } from 'node:crypto';
import { carriesInto, describeType, sameType, type ColumnType } from './column-types.ts';
import type { ColumnDeclaration, StoreName, TableDeclaration } from './declaration.ts';

export interface SchemaColumn extends ColumnDeclaration {
  /** False for a column found in both engines' catalogs but not declared. */
  declared: boolean;
}

export interface TableSchema {
  table: TableDeclaration;
  /** The synced columns (not the key, not the sync columns): declared first, then found ones by name. */
  columns: SchemaColumn[];
  /** A short hash of the columns' names and types: the schema version an event carries. */
  version: string;
}

/** A column as an engine's catalog shows it: its logical type, or null when no logical type maps it. */
export interface LiveColumn {
  name: string;
  type: ColumnType | null;
  /** The engine's own name of the type, for reports ("enum('a','b')", "jsonb"). */
  engineType: string;
  nullable: boolean;
}

export type SchemaFinding =
  /** A declared column, or one found on the other side, that this store lacks and can get. */
  | { kind: 'add'; store: StoreName; column: SchemaColumn; reason: 'declared' | 'propagated' }
  /** A column that cannot be synced as it is; it is left out of the schema and reported. */
  | { kind: 'mismatch'; column: string; reason: string };

export function schemaVersion(columns: readonly Pick<SchemaColumn, 'name' | 'type' | 'nullable'>[]): string {
  const text = columns.map((c) => `${c.name} ${describeType(c.type)}${c.nullable ? ' null' : ''}`).join(';');
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

export function tableSchema(table: TableDeclaration, columns: SchemaColumn[]): TableSchema {
  return { table, columns, version: schemaVersion(columns) };
}

/** The schema of a table as declared, before any catalog was read. */
export function declaredSchema(table: TableDeclaration): TableSchema {
  return tableSchema(
    table,
    table.columns.map((c) => ({ ...c, declared: true })),
  );
}

const reserved = new Set(['id', 'sync_version', 'sync_origin', 'sync_seen_version']);

/**
 * The effective schema from both engines' catalogs (a missing table is an empty list), and what to do:
 * declared columns missing somewhere are added; a column found on one side only is added to the other
 * when its type maps (nullable there: existing rows have no value yet), reported otherwise; columns on
 * both sides join the schema when their types travel both ways.
 */
export function reconcileSchema(
  table: TableDeclaration,
  live: Record<StoreName, LiveColumn[]>,
): { schema: TableSchema; findings: SchemaFinding[] } {
  const findings: SchemaFinding[] = [];
  const byName = (store: StoreName) => new Map(live[store].map((c) => [c.name, c]));
  const sides = { mysql: byName('mysql'), postgres: byName('postgres') };
  const columns: SchemaColumn[] = [];
  const declared = new Set(table.columns.map((c) => c.name));
  for (const column of table.columns) {
    const present = (['mysql', 'postgres'] as const).map((store) => [store, sides[store].get(column.name)] as const);
    let usable = true;
    for (const [store, found] of present) {
      if (!found) {
        findings.push({ kind: 'add', store, column: { ...column, declared: true }, reason: 'declared' });
      } else if (!found.type || !sameType(found.type, column.type)) {
        usable = false;
        findings.push({
          kind: 'mismatch',
          column: column.name,
          reason: `${store} holds ${column.name} as ${found.engineType}, declared ${describeType(column.type)}`,
        });
      }
    }
    if (usable) columns.push({ ...column, declared: true });
  }
  const extras = new Set([...sides.mysql.keys(), ...sides.postgres.keys()].filter((name) => !declared.has(name) && !reserved.has(name)));
  for (const name of [...extras].sort()) {
    const [mysql, postgres] = [sides.mysql.get(name), sides.postgres.get(name)];
    if (mysql && postgres) {
      if (mysql.type && postgres.type && sameType(mysql.type, postgres.type)) {
        columns.push({ name, type: mysql.type, nullable: mysql.nullable || postgres.nullable, declared: false });
      } else {
        findings.push({
          kind: 'mismatch',
          column: name,
          reason: `${name} is ${mysql.engineType} in MySQL and ${postgres.engineType} in PostgreSQL: values cannot travel unchanged`,
        });
      }
      continue;
    }
    const [store, found] = mysql ? (['postgres', mysql] as const) : (['mysql', postgres!] as const);
    if (found.type && carriesInto(found.type, found.type)) {
      // Added nullable on the other side: its existing rows get their values when they next change or
      // when the column's rows are re-published.
      findings.push({ kind: 'add', store, column: { name, type: found.type, nullable: true, declared: false }, reason: 'propagated' });
    } else {
      findings.push({
        kind: 'mismatch',
        column: name,
        reason: `${name} exists only in ${store === 'mysql' ? 'PostgreSQL' : 'MySQL'}, as ${found.engineType}, which has no counterpart in the other engine`,
      });
    }
  }
  return { schema: tableSchema(table, columns), findings };
}

/** Where a stage reads a table's current schema (the schema keeper), and asks for a fresh read. */
export interface SchemaSource {
  schema(table: string): TableSchema;
  readonly schemas: readonly TableSchema[];
  /** Reads both catalogs again now, and brings the tables to their schema (fills included). */
  check(): Promise<void>;
  /** Asks for a check; resolves once a new schema is published or the check ends (a stage met an unknown column). */
  refresh(): Promise<void>;
}

const subsetVersions = new Map<string, string>();

/**
 * The schema version of the columns a row holds: the schema's own when it holds them all, else the hash
 * of the subset (a row captured before a column was added, or written with an older schema).
 */
export function rowSchemaVersion(schema: TableSchema, columns: readonly string[]): string {
  if (columns.length === schema.columns.length) return schema.version;
  const key = `${schema.version}:${columns.join(',')}`;
  let version = subsetVersions.get(key);
  if (version === undefined) {
    const held = new Set(columns);
    version = schemaVersion(schema.columns.filter((c) => held.has(c.name)));
    if (subsetVersions.size > 1000) subsetVersions.clear();
    subsetVersions.set(key, version);
  }
  return version;
}
