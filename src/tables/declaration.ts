// A synced table, as data: its name, its topic, its columns with their logical types, nullability and
// defaults, its unique keys and indexes. Every stage derives what it needs from this — the stores their
// tables, capture triggers and upserts, the relay and sinks the event's row, the API its extra fields —
// so adding a table or a column is a change here, not in six places.
import type { ColumnType } from './column-types.ts';

export interface ColumnDeclaration {
  name: string;
  type: ColumnType;
  nullable: boolean;
  /** `now`: the current instant when the row is created; a literal: its canonical text. */
  default?: 'now' | { value: string };
  /**
   * `updated-at`: set to the current instant by every local write (capture stamps it); such a column
   * travels like any other, so both stores hold the same value.
   */
  role?: 'updated-at';
}

export interface IndexDeclaration {
  name: string;
  columns: string[];
}

/**
 * Every synced table has an INT key `id` (ids born in MySQL are positive, from AUTO_INCREMENT; ids born
 * in PostgreSQL negative, from a descending sequence: they never collide), and the sync columns
 * `sync_version`, `sync_origin`, `sync_seen_version`, which the declaration does not list.
 */
export interface TableDeclaration {
  name: string;
  /** The Kafka topic its changes travel on (the dead-letter topic is `<topic>.dlq`). */
  topic: string;
  columns: ColumnDeclaration[];
  /** Single-column unique keys (the version guard resolves two rows wanting one value). */
  unique: string[];
  indexes: IndexDeclaration[];
}

/** The two engines empsync keeps identical (the stores). */
export type StoreName = 'mysql' | 'postgres';
export const storeNames: readonly StoreName[] = ['mysql', 'postgres'];

/** The other engine of the pair. */
export const otherStore = (store: StoreName): StoreName => (store === 'mysql' ? 'postgres' : 'mysql');

export const keyColumn = 'id';
export const syncColumns = ['sync_version', 'sync_origin', 'sync_seen_version'] as const;

/** A table or column name empsync accepts (it is written into SQL as an identifier). */
export const identifierPattern = /^[a-z_][a-z0-9_]{0,62}$/;
