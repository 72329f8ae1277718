// Reconcile: walks both stores by id range and compares (id, version); with `repair`, re-publishes
// each divergent row from the side that holds the newer version, through the normal pipeline (the
// sinks' version guard and tombstones decide, so a repair can never undo a newer change).
import type { Stores } from '../store/create-stores.ts';
import type { StoreName } from '../store/types.ts';

export interface Divergence {
  id: number;
  mysqlVersion: string | null;
  postgresVersion: string | null;
  /** The side whose row is re-published by a repair. */
  source: StoreName;
}

export interface ReconcileReport {
  compared: number;
  divergent: number;
  mysqlOnly: number;
  postgresOnly: number;
  versionMismatch: number;
  republished: number;
  /** The first divergences found (at most 100), for a person to look at. */
  sample: Divergence[];
}

export async function reconcile(stores: Stores, options: { repair?: boolean; pageSize?: number } = {}): Promise<ReconcileReport> {
  const pageSize = options.pageSize ?? 10_000;
  const report: ReconcileReport = {
    compared: 0, divergent: 0, mysqlOnly: 0, postgresOnly: 0, versionMismatch: 0, republished: 0, sample: [],
  };
  let after: number | null = null;
  for (;;) {
    const mysqlPage = await stores.mysql.listVersions(after, pageSize);
    const last = mysqlPage.length === pageSize ? mysqlPage[mysqlPage.length - 1]!.id : undefined;
    // The same id range on the other side (everything left when MySQL has no more rows).
    const postgresPage = await stores.postgres.listVersions(after, Number.MAX_SAFE_INTEGER, last);
    const mysqlVersions = new Map(mysqlPage.map((r) => [r.id, r.version]));
    const postgresVersions = new Map(postgresPage.map((r) => [r.id, r.version]));
    const repairFrom: Record<StoreName, number[]> = { mysql: [], postgres: [] };
    for (const id of [...new Set([...mysqlVersions.keys(), ...postgresVersions.keys()])].sort((a, b) => a - b)) {
      report.compared += 1;
      const m = mysqlVersions.get(id);
      const p = postgresVersions.get(id);
      if (m !== undefined && p !== undefined && m === p) continue;
      if (p === undefined) report.mysqlOnly += 1;
      else if (m === undefined) report.postgresOnly += 1;
      else report.versionMismatch += 1;
      const source: StoreName = p === undefined || (m !== undefined && m > p) ? 'mysql' : 'postgres';
      repairFrom[source].push(id);
      report.divergent += 1;
      if (report.sample.length < 100) {
        report.sample.push({ id, mysqlVersion: m?.toString() ?? null, postgresVersion: p?.toString() ?? null, source });
      }
    }
    if (options.repair) {
      report.republished += await stores.mysql.republish(repairFrom.mysql);
      report.republished += await stores.postgres.republish(repairFrom.postgres);
    }
    if (last === undefined) return report;
    after = last;
  }
}
