// Reconcile's side of a store, the same in both dialects: rows in
// canonical form by id range or by id, tombstones, and the one repair that is a local write (a delete the
// capture carries). The content checksum of a chunk is the engine's own SQL: each dialect gives the row
// hash expression (src/store/<dialect>/reconcile.ts).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { TableSchema } from '../../tables/table-schema.ts';
import { canonicalInstant, canonicalValue } from '../../tables/values.ts';
import type { ChunkChecksum, DriftRecord, ReconcilePort } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { Divergence, StoreName, SyncedRow } from '../types.ts';

export abstract class KyselyReconcile implements ReconcilePort {
  readonly name: StoreName;
  protected readonly db: Kysely<Database>;

  constructor(name: StoreName, db: Kysely<Database>) {
    this.name = name;
    this.db = db;
  }

  /**
   * One query: per chunk of ids, the row count (as text) and the XOR of the rows' 64-bit hashes (as the
   * text of a signed or unsigned 64-bit integer), columns `chunk`, `row_count`, `hash`.
   */
  protected abstract checksumQuery(schema: TableSchema, chunkRows: number): RawBuilder<{ chunk: string | number; row_count: string | number; hash: string | null }>;

  async checksums(schema: TableSchema, chunkRows: number): Promise<Map<number, ChunkChecksum>> {
    const { rows } = await this.checksumQuery(schema, chunkRows).execute(this.db);
    return new Map(rows.map((r) => [Number(r.chunk), { rows: Number(r.row_count), hash: BigInt.asUintN(64, BigInt(r.hash ?? 0)) }]));
  }

  rowsBetween(schema: TableSchema, from: number, to: number): Promise<SyncedRow[]> {
    return this.#rows(schema, sql`id >= ${from} AND id < ${to}`);
  }

  rowsById(schema: TableSchema, ids: readonly number[]): Promise<SyncedRow[]> {
    return ids.length ? this.#rows(schema, sql`id IN (${sql.join([...ids])})`) : Promise.resolve([]);
  }

  dump(schema: TableSchema): Promise<SyncedRow[]> {
    return this.#rows(schema, sql`1 = 1`);
  }

  async #rows(schema: TableSchema, where: RawBuilder<unknown>): Promise<SyncedRow[]> {
    const columns = schema.columns.map((c) => sql.ref(c.name));
    const { rows } = await sql<Record<string, unknown>>`
      SELECT id, sync_version, sync_origin, ${sql.join(columns)} FROM ${sql.table(schema.table.name)} WHERE ${where} ORDER BY id`.execute(this.db);
    return rows.map((raw) => ({
      id: Number(raw['id']),
      version: BigInt(raw['sync_version'] as string),
      origin: raw['sync_origin'] as StoreName,
      values: Object.fromEntries(schema.columns.map((c) => [c.name, canonicalValue(c.type, raw[c.name])])),
    }));
  }

  async tombstones(table: string, ids: readonly number[]): Promise<Map<number, bigint>> {
    if (ids.length === 0) return new Map();
    const { rows } = await sql<{ id: number; version: string }>`
      SELECT id, version FROM sync_tombstones WHERE table_name = ${table} AND id IN (${sql.join([...ids])})`.execute(this.db);
    return new Map(rows.map((r) => [Number(r.id), BigInt(r.version)]));
  }

  async deleteRows(table: string, rows: readonly { id: number; version: bigint }[]): Promise<number> {
    if (rows.length === 0) return 0;
    const which = sql.join(
      rows.map((r) => sql`(id = ${r.id} AND sync_version = ${r.version.toString()})`),
      sql` OR `,
    );
    const result = await sql`DELETE FROM ${sql.table(table)} WHERE ${which}`.execute(this.db);
    return Number(result.numAffectedRows ?? 0n);
  }

  async recordDrift(record: DriftRecord): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await sql`DELETE FROM sync_drift`.execute(trx);
      if (record.tables.length === 0) return;
      const at = record.lastPassAt.replace('T', ' ').replace('Z', ''); // UTC: both stores' sessions are
      const divergences = (table: string) => JSON.stringify((record.divergences ?? []).filter((d) => d.table === table));
      await sql`INSERT INTO sync_drift (table_name, drift_rows, last_pass_at, pass_seconds, interval_ms, divergences) VALUES ${sql.join(
        record.tables.map((t) => sql`(${t.table}, ${t.rows}, ${at}, ${record.passSeconds}, ${record.intervalMs}, ${divergences(t.table)})`),
      )}`.execute(trx);
    });
  }

  async readDrift(): Promise<DriftRecord | null> {
    const { rows } = await sql<{ table_name: string; drift_rows: number; last_pass_at: Date | string; pass_seconds: number; interval_ms: number; divergences: string | null }>`
      SELECT table_name, drift_rows, last_pass_at, pass_seconds, interval_ms, divergences FROM sync_drift ORDER BY table_name`.execute(this.db);
    const first = rows[0];
    if (!first) return null;
    const at = first.last_pass_at instanceof Date ? first.last_pass_at.toISOString() : first.last_pass_at;
    return {
      tables: rows.map((r) => ({ table: r.table_name, rows: Number(r.drift_rows) })),
      divergences: rows.flatMap((r) => (r.divergences ? (JSON.parse(r.divergences) as Divergence[]) : [])),
      lastPassAt: canonicalInstant(at),
      passSeconds: Number(first.pass_seconds),
      intervalMs: Number(first.interval_ms),
    };
  }

  async count(table: string): Promise<number> {
    const { rows } = await sql<{ n: string | number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }
}
