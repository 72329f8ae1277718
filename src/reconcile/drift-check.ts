// The continuous drift check: a full content comparison of both stores (reconcile) on a schedule, in the
// `all` role and `empsync reconcile --watch`. Each pass costs what a reconcile costs (measured by
// `npm run bench:reconcile`); passes start DRIFT_CHECK_INTERVAL_MS apart. Its findings go to the
// empsync_drift_* metrics (alert EmpsyncDrift), the log (EMPSYNC_DRIFT), and GraphQL syncStatus.drift.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ErrorCodes } from '../errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { DriftRecord } from '../store/ports.ts';
import type { TableSchema } from '../tables/table-schema.ts';
import { reconcile, type Divergence, type DivergenceKind, type ReconcileReport, type ReconcileStores } from './reconcile.ts';

export interface DriftStatus {
  /** Whether this process runs the check. */
  enabled: boolean;
  intervalMs: number;
  /** Rows that differed (confirmed) at the last complete pass; after a repair, those left unrepaired. */
  rows: number | null;
  lastCompletePassAt: string | null;
  lastPassSeconds: number | null;
  tables: { table: string; rows: number }[];
  /** The divergent rows of the last complete pass (at most 100; none after a repair that left none). */
  divergences: Divergence[];
  /** The last pass's failure, when the last pass failed. */
  lastError: string | null;
}

/** The drift status as the last pass recorded it in PostgreSQL (for a process that runs no check). */
export function driftStatusOf(record: DriftRecord): DriftStatus {
  return {
    enabled: true,
    intervalMs: record.intervalMs,
    rows: record.tables.reduce((n, t) => n + t.rows, 0),
    lastCompletePassAt: record.lastPassAt,
    lastPassSeconds: record.passSeconds,
    tables: record.tables,
    divergences: record.divergences ?? [],
    lastError: null,
  };
}

export interface DriftCheckOptions {
  stores: ReconcileStores;
  /** The synced tables' schemas and the columns left out of the sync, as of now. */
  schemas: { readonly schemas: readonly TableSchema[]; readonly mismatches: readonly { table: string; column: string; reason: string }[] };
  metrics: Metrics;
  logger: Logger;
  intervalMs: number;
  repair: boolean;
  chunkRows: number;
  settleMs: number;
  verifyTimeoutMs: number;
}

const kinds: DivergenceKind[] = ['missing', 'deleted', 'version', 'content'];

export class DriftCheck {
  readonly #options: DriftCheckOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  #status: DriftStatus;

  constructor(options: DriftCheckOptions) {
    this.#options = options;
    this.#log = options.logger.child({ stage: 'drift-check' });
    this.#status = {
      enabled: false,
      intervalMs: options.intervalMs,
      rows: null,
      lastCompletePassAt: null,
      lastPassSeconds: null,
      tables: [],
      divergences: [],
      lastError: null,
    };
  }

  get status(): DriftStatus {
    return this.#status;
  }

  /** Runs a first pass at once, then one every interval (counted from the start of the previous one). */
  start(): void {
    this.#status.enabled = true;
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      const started = Date.now();
      this.#running = this.pass()
        .then(() => undefined)
        .catch(() => undefined)
        .finally(() => {
          this.#running = null;
          this.#schedule(Math.max(0, this.#options.intervalMs - (Date.now() - started)));
        });
    }, delayMs);
    this.#timer.unref();
  }

  /** One complete pass; updates the metrics and the status. */
  async pass(): Promise<ReconcileReport> {
    const { stores, schemas, metrics, repair, chunkRows, settleMs, verifyTimeoutMs } = this.#options;
    try {
      const report = await reconcile(stores, schemas.schemas, { repair, chunkRows, settleMs, verifyTimeoutMs, columnsLeftOut: schemas.mismatches });
      this.#record(report);
      return report;
    } catch (error) {
      metrics.driftPasses.inc({ outcome: 'failed' });
      this.#status = { ...this.#status, lastError: error instanceof Error ? error.message : String(error) };
      this.#log.warn({ err: error }, 'drift check pass failed: retried at the next interval');
      throw error;
    }
  }

  #record(report: ReconcileReport): void {
    const { metrics, repair, stores } = this.#options;
    // What is still divergent: everything found, or after a repair what it could not repair.
    const left = (counts: { divergent: number; unrepaired: number }) => (repair ? counts.unrepaired : counts.divergent);
    const tables = Object.entries(report.tables).map(([table, counts]) => ({ table, rows: left(counts) }));
    metrics.driftRows.reset();
    for (const [table, counts] of Object.entries(report.tables)) {
      const clean = repair && counts.unrepaired === 0;
      const byKind: Record<DivergenceKind, number> = {
        missing: counts.mysqlOnly + counts.postgresOnly - counts.deletedMismatch,
        deleted: counts.deletedMismatch,
        version: counts.versionMismatch,
        content: counts.contentMismatch,
      };
      for (const kind of kinds) metrics.driftRows.set({ table, kind }, clean ? 0 : byKind[kind]);
    }
    const rows = left(report);
    metrics.driftLastPass.set(Date.now() / 1000);
    metrics.driftPassSeconds.set(report.seconds);
    metrics.driftPasses.inc({ outcome: report.divergent === 0 ? 'clean' : repair && report.unrepaired === 0 ? 'repaired' : 'divergent' });
    this.#status = {
      ...this.#status,
      rows,
      tables,
      lastCompletePassAt: new Date().toISOString(),
      lastPassSeconds: report.seconds,
      divergences: repair && report.unrepaired === 0 ? [] : report.sample,
      lastError: null,
    };
    // Every process reads it from PostgreSQL (the API's syncStatus.drift), whichever runs the check.
    void stores.postgres.reconcile
      .recordDrift({
        tables,
        divergences: this.#status.divergences,
        lastPassAt: this.#status.lastCompletePassAt!,
        passSeconds: report.seconds,
        intervalMs: this.#options.intervalMs,
      })
      .catch((error: unknown) => this.#log.warn({ err: error }, 'could not record the drift check pass in PostgreSQL'));
    if (report.divergent > 0) {
      this.#log.warn(
        {
          code: ErrorCodes.DRIFT,
          divergent: report.divergent,
          repaired: repair ? report.divergent - report.unrepaired : 0,
          unrepaired: repair ? report.unrepaired : report.divergent,
          sample: report.sample.slice(0, 10),
          notes: report.notes,
        },
        repair ? 'the stores differed: repaired through the pipeline' : 'the stores differ: run `empsync reconcile --repair`',
      );
    }
  }

  /** Stops scheduling; a pass under way gets a second to end (the stores close under it otherwise). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#running) await Promise.race([this.#running, sleep(1000)]);
  }
}
