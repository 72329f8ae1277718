// The PostgreSQL side of the bench: the batch-upsert ceiling (what the sink's write could reach on
// its own), and the probes that see changes arrive (stored sink offsets, per-id arrival; the
// ArrivalWatcher takes the probe of either store, mysql-probes.ts has MariaDB's).
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { employeeValues } from './bench-setup.ts';
import { median, quantile, round } from './statistics.ts';

const upsertSql = `
  INSERT INTO bench_plain (id, nom, prenom, email, poste, salaire, department, date_embauche, created_at,
                           updated_at, sync_version, sync_origin)
  SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::text[],
                       $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::bigint[], $12::text[])
  ON CONFLICT (id) DO UPDATE SET nom = EXCLUDED.nom, prenom = EXCLUDED.prenom, email = EXCLUDED.email,
    poste = EXCLUDED.poste, salaire = EXCLUDED.salaire, department = EXCLUDED.department,
    date_embauche = EXCLUDED.date_embauche, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
    sync_version = EXCLUDED.sync_version, sync_origin = EXCLUDED.sync_origin`;

/**
 * Rows per second of the sink's upsert statement alone (INSERT … SELECT FROM unnest … ON CONFLICT DO
 * UPDATE, one transaction per batch, one session like the sink), into the trigger-free copy. The
 * parameter arrays are built before the clock starts: this is the database's ceiling, not the client's.
 */
export async function upsertCeiling(
  client: pg.Client,
  options: { rows: number; batch: number; firstId: number; tag: string },
): Promise<{ rows: number; seconds: number; rowsPerSecond: number; batchP50Ms: number; batchP99Ms: number }> {
  const batches: unknown[][] = [];
  const now = new Date().toISOString();
  for (let start = 0; start < options.rows; start += options.batch) {
    const size = Math.min(options.batch, options.rows - start);
    const rows = Array.from({ length: size }, (_, i) => {
      const n = options.firstId + start + i;
      return [n, ...employeeValues(options.tag, n)] as const;
    });
    batches.push([
      rows.map((r) => r[0]),
      ...[1, 2, 3, 4, 5, 6].map((column) => rows.map((r) => r[column])),
      rows.map(() => now),
      rows.map(() => now),
      rows.map(() => now),
      rows.map((r) => String(1_700_000_000_000_000 + r[0])),
      rows.map(() => 'mysql'),
    ]);
  }
  const batchMs: number[] = [];
  const started = performance.now();
  for (const parameters of batches) {
    const t = performance.now();
    await client.query('BEGIN');
    await client.query(upsertSql, parameters);
    await client.query('COMMIT');
    batchMs.push(performance.now() - t);
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    rows: options.rows,
    seconds: round(seconds),
    rowsPerSecond: round(options.rows / seconds, 0),
    batchP50Ms: round(median(batchMs), 1),
    batchP99Ms: round(quantile(batchMs, 0.99), 1),
  };
}

/** Messages the sink has applied (its offsets, stored in the same transaction as the rows). */
export async function appliedMessages(client: pg.Client, group: string, topic: string): Promise<number> {
  const { rows } = await client.query<{ n: string | null }>(
    'SELECT sum(next_offset) AS n FROM sync_offsets WHERE consumer_group = $1 AND topic = $2',
    [group, topic],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Polls until the sink's stored offsets reach `target`; resolves with performance.now() at that poll. */
export async function waitForApplied(
  client: pg.Client,
  group: string,
  topic: string,
  target: number,
  options: { intervalMs: number; timeoutMs: number },
): Promise<number> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const applied = await appliedMessages(client, group, topic);
    const seenAt = performance.now();
    if (applied >= target) return seenAt;
    if (seenAt > deadline)
      throw new Error(`the sink applied ${applied} of ${target} messages before the deadline`);
    await sleep(options.intervalMs);
  }
}

/** Which of `ids` are in `employes`: the arrival probe of one destination store. */
export type PresentIds = (ids: number[]) => Promise<number[]>;

/** The PostgreSQL probe of ArrivalWatcher (forward direction). */
export function postgresPresent(client: pg.Client): PresentIds {
  return async (ids) =>
    (await client.query<{ id: number }>('SELECT id FROM employes WHERE id = ANY($1::int[])', [ids])).rows.map(
      (r) => r.id,
    );
}

/**
 * Watches ids arrive in the destination store: every `intervalMs`, asks which of the
 * committed-but-unseen ids are there (a primary-key lookup of a few dozen ids, `present`) and
 * records commit → seen for each.
 */
export class ArrivalWatcher {
  readonly latenciesMs: number[] = [];
  /** When each measured change was committed (performance.now()), in the order of latenciesMs. */
  readonly committedAt: number[] = [];
  readonly #present: PresentIds;
  readonly #intervalMs: number;
  readonly #pending = new Map<number, number>();
  readonly #pollGapsMs: number[] = [];
  #running = false;
  #loop: Promise<void> | null = null;

  constructor(present: PresentIds, intervalMs: number) {
    this.#present = present;
    this.#intervalMs = intervalMs;
  }

  get pending(): number {
    return this.#pending.size;
  }

  expect(id: number, committedAt: number): void {
    this.#pending.set(id, committedAt);
  }

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Keeps polling until every expected id was seen or `timeoutMs` passed, then stops. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.#pending.size > 0 && performance.now() < deadline) await sleep(5);
    this.#running = false;
    await this.#loop;
  }

  /** p50, p99 and max latency per second of commit time: shows whether the tail is steady or comes in bursts. */
  perSecond(origin: number): { second: number; p50Ms: number; p99Ms: number; maxMs: number }[] {
    const buckets = new Map<number, number[]>();
    this.latenciesMs.forEach((latency, i) => {
      const second = Math.floor((this.committedAt[i]! - origin) / 1000);
      buckets.set(second, [...(buckets.get(second) ?? []), latency]);
    });
    return [...buckets]
      .sort(([a], [b]) => a - b)
      .map(([second, values]) => ({
        second,
        p50Ms: round(median(values), 1),
        p99Ms: round(quantile(values, 0.99), 1),
        maxMs: round(quantile(values, 1), 1),
      }));
  }

  /** Median and p99 time between two polls: the resolution of the per-row latencies. */
  pollGaps(): { p50Ms: number; p99Ms: number } {
    return { p50Ms: round(median(this.#pollGapsMs), 2), p99Ms: round(quantile(this.#pollGapsMs, 0.99), 2) };
  }

  async #run(): Promise<void> {
    let previous = performance.now();
    while (this.#running) {
      const started = performance.now();
      this.#pollGapsMs.push(started - previous);
      previous = started;
      if (this.#pending.size > 0) {
        const rows = await this.#present([...this.#pending.keys()]);
        const seenAt = performance.now();
        for (const id of rows) {
          const committedAt = this.#pending.get(id);
          if (committedAt === undefined) continue;
          this.latenciesMs.push(seenAt - committedAt);
          this.committedAt.push(committedAt);
          this.#pending.delete(id);
        }
      }
      const rest = this.#intervalMs - (performance.now() - started);
      await sleep(Math.max(rest, 0.5));
    }
  }
}
