// Backfill / full resync: a snapshot of every row of a table, read from one store by its relay and
// published straight to the table's topic (src/relay/snapshot.ts), resumable after a crash. Requesting one
// writes its record alone (sync_backfill); the store's active relay runs it — in this process or another —
// and the sinks' version guard applies only what the other side lacks.
import { setTimeout as sleep } from 'node:timers/promises';
import type { OutboxPort, SnapshotRun } from '../store/ports.ts';
import type { StoreName } from '../store/types.ts';

/** The name of a store's backfill run of a table (resumed under that name after a crash). */
export function backfillRun(store: StoreName, table: string): string {
  return `backfill-${store}:${table}`;
}

export interface BackfillRequest {
  run: string;
  table: string;
  state: 'started' | 'resumed';
}

/** Requests a snapshot of each table from `store` (an unfinished run of the same name is resumed unless `resume` is false). */
export async function requestBackfill(
  store: { name: StoreName; outbox: OutboxPort },
  tables: readonly string[],
  options: { run?: (table: string) => string; resume?: boolean } = {},
): Promise<BackfillRequest[]> {
  const requests: BackfillRequest[] = [];
  for (const table of tables) {
    const run = options.run?.(table) ?? backfillRun(store.name, table);
    requests.push({ run, table, state: await store.outbox.startBackfill(run, table, options.resume ?? true) });
  }
  return requests;
}

/**
 * Waits until every run of `runs` is done, reporting their progress together (`onProgress`) every
 * `intervalMs`; rejects when `signal` aborts. Resolves with the runs as recorded last.
 */
export async function followBackfill(
  outbox: OutboxPort,
  runs: readonly string[],
  options: { onProgress?: (progress: SnapshotProgress) => void; intervalMs?: number; signal?: AbortSignal } = {},
): Promise<SnapshotRun[]> {
  const startedAt = Date.now();
  for (;;) {
    const recorded = (await outbox.snapshotRuns()).filter((r) => runs.includes(r.run));
    const progress = snapshotProgress(recorded, startedAt);
    options.onProgress?.(progress);
    if (recorded.length === runs.length && recorded.every((r) => r.done)) return recorded;
    await sleep(options.intervalMs ?? 250, undefined, options.signal ? { signal: options.signal } : {});
  }
}

export interface SnapshotProgress {
  published: number;
  total: number;
  done: boolean;
  /** Rows per second since following began. */
  rowsPerSecond: number;
  /** Seconds left at that rate (null: unknown yet). */
  etaSeconds: number | null;
}

/** Progress of runs together, rate measured from `since` (ms since the epoch). */
export function snapshotProgress(runs: readonly SnapshotRun[], since: number, now = Date.now()): SnapshotProgress {
  const published = runs.reduce((sum, r) => sum + r.published, 0);
  const total = runs.reduce((sum, r) => sum + Math.max(r.total ?? 0, r.published), 0);
  const done = runs.length > 0 && runs.every((r) => r.done);
  const seconds = Math.max(0.001, (now - since) / 1000);
  const rowsPerSecond = published / seconds;
  const etaSeconds = done ? 0 : rowsPerSecond > 0 ? Math.max(0, total - published) / rowsPerSecond : null;
  return { published, total, done, rowsPerSecond, etaSeconds };
}

/** A one-line progress bar with rate and ETA for a terminal (stderr), or nothing when it is not a TTY. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): (progress: SnapshotProgress) => void {
  let ended = false;
  return ({ published, total, done, rowsPerSecond, etaSeconds }) => {
    if (!stream.isTTY || ended) return;
    const width = 30;
    const ratio = done ? 1 : total === 0 ? 0 : Math.min(1, published / total);
    const filled = Math.round(ratio * width);
    const eta = etaSeconds === null ? '--' : `${Math.ceil(etaSeconds)} s`;
    stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${published}/${total} rows  ${Math.round(rowsPerSecond)} rows/s  ETA ${eta}   `);
    if (done) {
      stream.write('\n');
      ended = true;
    }
  };
}
