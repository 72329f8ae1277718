// Backfill / full resync: re-publishes every row of a table from one store through its outbox (op 'r'),
// chunked by id, resumable after a crash. The relay carries the rows to Kafka like any other change,
// and the sink's version guard applies only what the other side lacks.
import { failpoint } from '../failpoints.ts';
import type { OutboxPort, ReconcilePort } from '../store/ports.ts';
import type { StoreName } from '../store/types.ts';
import type { TableSchema } from '../tables/table-schema.ts';

export interface BackfillReport {
  run: string;
  table: string;
  state: 'started' | 'resumed';
  copied: number;
  total: number;
}

/** The name of a store's backfill run of a table (resumed under that name after a crash). */
export function backfillRun(store: StoreName, table: string): string {
  return `backfill-${store}:${table}`;
}

export async function runBackfill(
  store: { name: StoreName; outbox: OutboxPort; reconcile: ReconcilePort },
  schema: TableSchema,
  options: { run?: string; chunk?: number; resume?: boolean; onProgress?: (copied: number, total: number) => void } = {},
): Promise<BackfillReport> {
  const table = schema.table.name;
  const run = options.run ?? backfillRun(store.name, table);
  const chunk = options.chunk ?? 5000;
  const state = await store.outbox.startBackfill(run, options.resume ?? true);
  const total = await store.reconcile.count(table);
  let copied = 0;
  for (;;) {
    const progress = await store.outbox.continueBackfill(run, schema, chunk);
    copied += progress.copied;
    options.onProgress?.(copied, total);
    if (progress.done) break;
    failpoint('backfill.after-chunk');
  }
  return { run, table, state, copied, total };
}

/** A one-line progress bar for a terminal (stderr), or nothing when it is not a TTY. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): (done: number, total: number) => void {
  return (done, total) => {
    if (!stream.isTTY) return;
    const width = 30;
    const ratio = total === 0 ? 1 : Math.min(1, done / total);
    const filled = Math.round(ratio * width);
    stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} rows`);
    if (ratio >= 1) stream.write('\n');
  };
}
