// The MariaDB side of the reverse direction (PostgreSQL → MySQL): the probes that see rows born in
// PostgreSQL arrive. Those rows have negative ids (PostgreSQL's descending sequence), so their count
// is a primary-key range scan of `id < 0`.
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import type { PresentIds } from './postgres-probes.ts';

/** Rows of `employes` born in PostgreSQL (negative ids) that MariaDB holds now. */
export async function rowsFromPostgres(pool: mysql.Pool): Promise<number> {
  const [rows] = await pool.query('SELECT COUNT(*) AS n FROM employes WHERE id < 0');
  return Number((rows as { n: number | string }[])[0]?.n ?? 0);
}

/** Polls until MariaDB holds `target` rows born in PostgreSQL; resolves with performance.now() at that poll. */
export async function waitForRows(
  pool: mysql.Pool,
  target: number,
  options: { intervalMs: number; timeoutMs: number },
): Promise<number> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const arrived = await rowsFromPostgres(pool);
    const seenAt = performance.now();
    if (arrived >= target) return seenAt;
    if (seenAt > deadline)
      throw new Error(`MariaDB holds ${arrived} of ${target} rows from PostgreSQL after the deadline`);
    await sleep(options.intervalMs);
  }
}

/** The MariaDB probe of ArrivalWatcher (reverse direction). */
export function mysqlPresent(pool: mysql.Pool): PresentIds {
  return async (ids) => {
    const [rows] = await pool.query('SELECT id FROM employes WHERE id IN (?)', [ids]);
    return (rows as { id: number }[]).map((r) => r.id);
  };
}
