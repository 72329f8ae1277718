// Reconcile: proves both stores hold the same content, table by table. Each engine hashes every row's
// id, version and synced columns (canonical text, the same bytes on both engines) and XORs the hashes
// per chunk of ids, in SQL, so only chunk checksums cross the network; rows are read only for the chunks
// whose checksums differ, and compared column by column. A difference is confirmed after a settle time
// (a change still in flight through the pipeline is not drift, nor a row with a change in an outbox). With `repair`, each divergence gets the
// repair its kind calls for (docs/guarantees.md, "Drift and repairs"), through the normal pipeline, and
// reconcile then waits until the repaired rows agree: what still differs is reported as unrepaired.
import { setTimeout as sleep } from 'node:timers/promises';
import type { OutboxPort, ReconcilePort } from '../store/ports.ts';
import type { StoreName, SyncedRow } from '../store/types.ts';
import type { TableSchema } from '../tables/table-schema.ts';
import type { Divergence, RepairAction } from '../store/types.ts';
import { otherStore } from '../tables/declaration.ts';

/**
 * - `missing`: a row on one side, neither row nor a newer tombstone on the other (the row is re-published);
 * - `deleted`: a row on one side, a tombstone at least as new on the other (the row is deleted);
 * - `version`: both rows, different versions (the newer is re-published);
 * - `content`: both rows at one version, different values (the row's origin store is authoritative: its
 *   row gets a new version and is re-published).
 */
// The shape of a divergence belongs to the store too (the drift check records its last pass's).
export type { Divergence, DivergenceKind, RepairAction } from '../store/types.ts';

export interface ReconcileCounts {
  compared: number;
  divergent: number;
  mysqlOnly: number;
  postgresOnly: number;
  versionMismatch: number;
  contentMismatch: number;
  /** Rows on one side whose deletion on the other side is newer (tombstone). */
  deletedMismatch: number;
  /** Differences that moved while they were confirmed (changes in flight): not counted as divergent. */
  inFlight: number;
  /** Repairs issued (re-published, re-stamped or deleted rows). */
  republished: number;
  /** Divergent rows that still differed when the repair's verification gave up. */
  unrepaired: number;
  chunks: number;
  chunksDiffering: number;
}

export interface ReconcileReport extends ReconcileCounts {
  /** The same counts for each synced table. */
  tables: Record<string, ReconcileCounts>;
  /** Columns left out of the sync (they cannot travel as they are): their values are not compared. */
  columnsLeftOut: { table: string; column: string; reason: string }[];
  /** The first divergences found (at most 100), for a person to look at. */
  sample: Divergence[];
  /** Hints about what a pattern of divergences means (a truncated table, a restored backup). */
  notes: string[];
  startedAt: string;
  seconds: number;
}

export type ReconcileStores = Record<StoreName, { reconcile: ReconcilePort; outbox: OutboxPort }>;

export interface ReconcileOptions {
  repair?: boolean;
  /** Ids per checksum chunk (default 1000). */
  chunkRows?: number;
  /** How long a difference must stay put to count as drift (default 2000 ms; 0: no confirmation). */
  settleMs?: number;
  /** How long a repair waits for the repaired rows to agree (default 60 s). */
  verifyTimeoutMs?: number;
  columnsLeftOut?: readonly { table: string; column: string; reason: string }[];
  /** Called between steps; lets a scheduled check pace itself (bounded cost). */
  pace?: () => Promise<void>;
}

const zero = (): ReconcileCounts => ({
  compared: 0,
  divergent: 0,
  mysqlOnly: 0,
  postgresOnly: 0,
  versionMismatch: 0,
  contentMismatch: 0,
  deletedMismatch: 0,
  inFlight: 0,
  republished: 0,
  unrepaired: 0,
  chunks: 0,
  chunksDiffering: 0,
});

export async function reconcile(stores: ReconcileStores, schemas: readonly TableSchema[], options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const started = performance.now();
  const report: ReconcileReport = {
    ...zero(),
    tables: {},
    columnsLeftOut: [...(options.columnsLeftOut ?? [])],
    sample: [],
    notes: [],
    startedAt: new Date().toISOString(),
    seconds: 0,
  };
  for (const schema of schemas) {
    const counts = await reconcileTable(stores, schema, report, options);
    report.tables[schema.table.name] = counts;
    for (const key of Object.keys(counts) as (keyof ReconcileCounts)[]) report[key] += counts[key];
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

async function reconcileTable(stores: ReconcileStores, schema: TableSchema, report: ReconcileReport, options: ReconcileOptions): Promise<ReconcileCounts> {
  const table = schema.table.name;
  const chunkRows = options.chunkRows ?? 1000;
  const counts = zero();
  const [mysqlChunks, postgresChunks] = await Promise.all([
    stores.mysql.reconcile.checksums(schema, chunkRows),
    stores.postgres.reconcile.checksums(schema, chunkRows),
  ]);
  const differing: number[] = [];
  for (const chunk of new Set([...mysqlChunks.keys(), ...postgresChunks.keys()])) {
    counts.chunks += 1;
    const m = mysqlChunks.get(chunk);
    const p = postgresChunks.get(chunk);
    if (m && p && m.rows === p.rows && m.hash === p.hash) counts.compared += m.rows;
    else differing.push(chunk);
  }
  counts.chunksDiffering = differing.length;
  differing.sort((a, b) => a - b);

  // Rows of the differing chunks, compared column by column.
  let candidates: Divergence[] = [];
  for (const chunk of differing) {
    await options.pace?.();
    const from = chunk * chunkRows;
    const to = from + chunkRows;
    const [mysqlRows, postgresRows] = await Promise.all([
      stores.mysql.reconcile.rowsBetween(schema, from, to),
      stores.postgres.reconcile.rowsBetween(schema, from, to),
    ]);
    counts.compared += new Set([...mysqlRows.map((r) => r.id), ...postgresRows.map((r) => r.id)]).size;
    candidates.push(...(await compareRows(stores, schema, mysqlRows, postgresRows)));
  }

  // Confirmation: a difference still there, with the same versions, after the settle time.
  const settleMs = options.settleMs ?? 2000;
  if (candidates.length && settleMs > 0) {
    await sleep(settleMs);
    const again = new Map((await compareIds(stores, schema, candidates.map((c) => c.id))).map((d) => [d.id, d]));
    // A row with a change still in either outbox is on its way, whatever its versions say now.
    const ids = candidates.map((c) => c.id);
    const [mysqlPending, postgresPending] = await Promise.all([
      stores.mysql.outbox.pendingIds(schema.table.name, ids),
      stores.postgres.outbox.pendingIds(schema.table.name, ids),
    ]);
    const confirmed = candidates.filter((c) => {
      const now = again.get(c.id);
      if (mysqlPending.has(c.id) || postgresPending.has(c.id)) return false;
      return now && now.mysqlVersion === c.mysqlVersion && now.postgresVersion === c.postgresVersion;
    });
    counts.inFlight = candidates.length - confirmed.length;
    candidates = confirmed.map((c) => again.get(c.id)!);
  }

  for (const d of candidates) {
    counts.divergent += 1;
    if (d.postgresVersion === null) counts.mysqlOnly += 1;
    if (d.mysqlVersion === null) counts.postgresOnly += 1;
    if (d.kind === 'version') counts.versionMismatch += 1;
    if (d.kind === 'content') counts.contentMismatch += 1;
    if (d.kind === 'deleted') counts.deletedMismatch += 1;
    if (report.sample.length < 100) report.sample.push(d);
  }
  const [mysqlCount, postgresCount] = [sum(mysqlChunks), sum(postgresChunks)];
  for (const [side, other, count, otherCount] of [
    ['MySQL', 'PostgreSQL', mysqlCount, postgresCount],
    ['PostgreSQL', 'MySQL', postgresCount, mysqlCount],
  ] as const) {
    if (count === 0 && otherCount > 0) {
      report.notes.push(
        `${table} is empty in ${side} and holds ${otherCount} rows in ${other}: a TRUNCATE or a restore in ${side} that the capture did not see? ` +
          `--repair copies the rows back from ${other}; to empty both, delete or truncate them in PostgreSQL (captured).`,
      );
    }
  }

  if (options.repair && candidates.length) {
    counts.republished = await repair(stores, schema, candidates);
    counts.unrepaired = await verify(stores, schema, candidates, options.verifyTimeoutMs ?? 60_000);
  }
  return counts;
}

const sum = (chunks: Map<number, { rows: number }>) => [...chunks.values()].reduce((n, c) => n + c.rows, 0);

/** The divergences among these rows (each list in id order), with the tombstones that decide one-sided rows. */
async function compareRows(stores: ReconcileStores, schema: TableSchema, mysqlRows: SyncedRow[], postgresRows: SyncedRow[]): Promise<Divergence[]> {
  const table = schema.table.name;
  const mysqlById = new Map(mysqlRows.map((r) => [r.id, r]));
  const postgresById = new Map(postgresRows.map((r) => [r.id, r]));
  const onlyIn: Record<StoreName, number[]> = {
    mysql: mysqlRows.filter((r) => !postgresById.has(r.id)).map((r) => r.id),
    postgres: postgresRows.filter((r) => !mysqlById.has(r.id)).map((r) => r.id),
  };
  // A row only in MySQL is decided by PostgreSQL's tombstone, and the other way round.
  const [postgresTombstones, mysqlTombstones] = await Promise.all([
    stores.postgres.reconcile.tombstones(table, onlyIn.mysql),
    stores.mysql.reconcile.tombstones(table, onlyIn.postgres),
  ]);
  const divergences: Divergence[] = [];
  const ids = [...new Set([...mysqlById.keys(), ...postgresById.keys()])].sort((a, b) => a - b);
  for (const id of ids) {
    const m = mysqlById.get(id);
    const p = postgresById.get(id);
    const base = { table, id, mysqlVersion: m?.version.toString() ?? null, postgresVersion: p?.version.toString() ?? null };
    if (m && p) {
      const columns = schema.columns.map((c) => c.name).filter((name) => (m.values[name] ?? null) !== (p.values[name] ?? null));
      if (m.version !== p.version) {
        divergences.push({ ...base, kind: 'version', columns, source: m.version > p.version ? 'mysql' : 'postgres', repair: 'republish' });
      } else if (columns.length) {
        // The origin store is authoritative at equal versions (both record it; MySQL's record if they disagree).
        divergences.push({ ...base, kind: 'content', columns, source: m.origin, repair: 'restamp' });
      }
      continue;
    }
    const row = (m ?? p)!;
    const holder: StoreName = m ? 'mysql' : 'postgres';
    const other: StoreName = m ? 'postgres' : 'mysql';
    const buried = (m ? postgresTombstones : mysqlTombstones).get(id);
    if (buried !== undefined && buried >= row.version) {
      divergences.push({ ...base, kind: 'deleted', columns: [], source: other, repair: 'delete' });
    } else {
      divergences.push({ ...base, kind: 'missing', columns: [], source: holder, repair: 'republish' });
    }
  }
  return divergences;
}

/** The divergences among these ids, read again from both stores. */
async function compareIds(stores: ReconcileStores, schema: TableSchema, ids: readonly number[]): Promise<Divergence[]> {
  const found: Divergence[] = [];
  for (let start = 0; start < ids.length; start += 1000) {
    const slice = ids.slice(start, start + 1000);
    const [mysqlRows, postgresRows] = await Promise.all([
      stores.mysql.reconcile.rowsById(schema, slice),
      stores.postgres.reconcile.rowsById(schema, slice),
    ]);
    found.push(...(await compareRows(stores, schema, mysqlRows, postgresRows)));
  }
  return found;
}

/** Issues each divergence's repair; returns how many rows were repaired. */
async function repair(stores: ReconcileStores, schema: TableSchema, divergences: readonly Divergence[]): Promise<number> {
  let repaired = 0;
  for (const side of ['mysql', 'postgres'] as const) {
    const of = (action: RepairAction) => divergences.filter((d) => d.source === side && d.repair === action);
    repaired += await stores[side].outbox.republish(schema, of('republish').map((d) => d.id));
    repaired += await stores[side].outbox.restamp(schema, of('restamp').map((d) => d.id));
    // A deletion that won: the row goes on the other side, as a local (captured) delete of the version seen.
    const holder = otherStore(side);
    const doomed = of('delete').map((d) => ({ id: d.id, version: BigInt((holder === 'mysql' ? d.mysqlVersion : d.postgresVersion)!) }));
    repaired += await stores[holder].reconcile.deleteRows(schema.table.name, doomed);
  }
  return repaired;
}

/** Waits until the repaired rows agree on both stores; returns how many still differ at the deadline. */
async function verify(stores: ReconcileStores, schema: TableSchema, divergences: readonly Divergence[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let ids = divergences.map((d) => d.id);
  for (;;) {
    ids = (await compareIds(stores, schema, ids)).map((d) => d.id);
    if (ids.length === 0 || Date.now() >= deadline) return ids.length;
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
  }
}
