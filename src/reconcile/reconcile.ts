// Reconcile: walks both stores by id range, table by table, and compares (id, version), naming the columns
// the schema keeper left out of the sync (their values differ by nature); with `repair`,
// re-publishes each divergent row from the side that holds the newer version, through the normal
// pipeline (the sinks' version guard and tombstones decide, so a repair can never undo a newer change).
import type { ReconcilePort, OutboxPort } from '../store/ports.ts';
import type { StoreName } from '../store/types.ts';
import type { TableSchema } from '../tables/table-schema.ts';

export interface Divergence {
  table: string;
  id: number;
  mysqlVersion: string | null;
  postgresVersion: string | null;
  /** The side whose row is re-published by a repair. */
  source: StoreName;
}

export interface ReconcileCounts {
  compared: number;
  divergent: number;
  mysqlOnly: number;
  postgresOnly: number;
  versionMismatch: number;
  republished: number;
}

export interface ReconcileReport extends ReconcileCounts {
  /** The same counts for each synced table. */
  tables: Record<string, ReconcileCounts>;
  /** Columns left out of the sync (they cannot travel as they are): their values are not compared. */
  columnsLeftOut: { table: string; column: string; reason: string }[];
  /** The first divergences found (at most 100), for a person to look at. */
  sample: Divergence[];
}

type ReconcileStores = Record<StoreName, { reconcile: ReconcilePort; outbox: OutboxPort }>;

const zero = (): ReconcileCounts => ({ compared: 0, divergent: 0, mysqlOnly: 0, postgresOnly: 0, versionMismatch: 0, republished: 0 });

export async function reconcile(
  stores: ReconcileStores,
  schemas: readonly TableSchema[],
  options: { repair?: boolean; pageSize?: number; columnsLeftOut?: readonly { table: string; column: string; reason: string }[] } = {},
): Promise<ReconcileReport> {
  const report: ReconcileReport = { ...zero(), tables: {}, columnsLeftOut: [...(options.columnsLeftOut ?? [])], sample: [] };
  for (const schema of schemas) {
    const counts = await reconcileTable(stores, schema, report.sample, options);
    report.tables[schema.table.name] = counts;
    for (const key of Object.keys(counts) as (keyof ReconcileCounts)[]) report[key] += counts[key];
  }
  return report;
}

async function reconcileTable(
  stores: ReconcileStores,
  schema: TableSchema,
  sample: Divergence[],
  options: { repair?: boolean; pageSize?: number },
): Promise<ReconcileCounts> {
  const table = schema.table.name;
  const pageSize = options.pageSize ?? 10_000;
  const counts = zero();
  let after: number | null = null;
  for (;;) {
    const mysqlPage = await stores.mysql.reconcile.listVersions(table, after, pageSize);
    const last = mysqlPage.length === pageSize ? mysqlPage[mysqlPage.length - 1]!.id : undefined;
    // The same id range on the other side (everything left when MySQL has no more rows).
    const postgresPage = await stores.postgres.reconcile.listVersions(table, after, Number.MAX_SAFE_INTEGER, last);
    const mysqlVersions = new Map(mysqlPage.map((r) => [r.id, r.version]));
    const postgresVersions = new Map(postgresPage.map((r) => [r.id, r.version]));
    const repairFrom: Record<StoreName, number[]> = { mysql: [], postgres: [] };
    for (const id of [...new Set([...mysqlVersions.keys(), ...postgresVersions.keys()])].sort((a, b) => a - b)) {
      counts.compared += 1;
      const m = mysqlVersions.get(id);
      const p = postgresVersions.get(id);
      if (m !== undefined && p !== undefined && m === p) continue;
      if (p === undefined) counts.mysqlOnly += 1;
      else if (m === undefined) counts.postgresOnly += 1;
      else counts.versionMismatch += 1;
      const source: StoreName = p === undefined || (m !== undefined && m > p) ? 'mysql' : 'postgres';
      repairFrom[source].push(id);
      counts.divergent += 1;
      if (sample.length < 100) {
        sample.push({ table, id, mysqlVersion: m?.toString() ?? null, postgresVersion: p?.toString() ?? null, source });
      }
    }
    if (options.repair) {
      counts.republished += await stores.mysql.outbox.republish(schema, repairFrom.mysql);
      counts.republished += await stores.postgres.outbox.republish(schema, repairFrom.postgres);
    }
    if (last === undefined) return counts;
    after = last;
  }
}
