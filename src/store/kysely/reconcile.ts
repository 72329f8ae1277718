// Reconcile's side of a store, the same in both dialects: (id, version) pairs by id range, whole rows in
// canonical form (for comparisons of content), row counts — for any synced table.
import { sql, type Kysely } from 'kysely';
import type { TableSchema } from '../../tables/table-schema.ts';
import { canonicalValue } from '../../tables/values.ts';
import type { ReconcilePort } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { StoreName, SyncedRow } from '../types.ts';
import { lowestId } from './outbox.ts';

export class KyselyReconcile implements ReconcilePort {
  readonly name: StoreName;
  readonly #db: Kysely<Database>;

  constructor(name: StoreName, db: Kysely<Database>) {
    this.name = name;
    this.#db = db;
  }

  async listVersions(table: string, afterId: number | null, limit: number, upToId?: number): Promise<{ id: number; version: bigint }[]> {
    const after = afterId === null ? sql`id >= ${lowestId}` : sql`id > ${afterId}`;
    const upTo = upToId === undefined ? sql`` : sql`AND id <= ${upToId}`;
    const { rows } = await sql<{ id: number; version: string }>`
      SELECT id, sync_version AS version FROM ${sql.table(table)} WHERE ${after} ${upTo} ORDER BY id LIMIT ${limit}`.execute(this.#db);
    return rows.map((r) => ({ id: Number(r.id), version: BigInt(r.version) }));
  }

  async dump(schema: TableSchema): Promise<SyncedRow[]> {
    const columns = schema.columns.map((c) => sql.ref(c.name));
    const { rows } = await sql<Record<string, unknown>>`
      SELECT id, sync_version, sync_origin, ${sql.join(columns)} FROM ${sql.table(schema.table.name)} ORDER BY id`.execute(this.#db);
    return rows.map((raw) => ({
      id: Number(raw['id']),
      version: BigInt(raw['sync_version'] as string),
      origin: raw['sync_origin'] as StoreName,
      values: Object.fromEntries(schema.columns.map((c) => [c.name, canonicalValue(c.type, raw[c.name])])),
    }));
  }

  async count(table: string): Promise<number> {
    const { rows } = await sql<{ n: string | number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(this.#db);
    return Number(rows[0]?.n ?? 0);
  }
}
