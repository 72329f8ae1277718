// The write load, in MariaDB (forward phases) or PostgreSQL (reverse phases): multi-row
// transactions, concurrent single-row transactions, and single-row inserts paced at a fixed rate.
// The same writers fill the trigger-free copy (the ceiling) and the captured `employes` table (the
// pipeline), so the two rates compare like for like. Plain SQL on both sides, each INSERT its own
// autocommit transaction.
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import { employeeValues } from './bench-setup.ts';
import { median, quantile, round } from './statistics.ts';

const columns = '(nom, prenom, email, poste, salaire, department)';

/** One writer session: inserts rows in one autocommit statement, resolves with the first row's id. */
export interface WriterConnection {
  insert(table: string, rows: unknown[][]): Promise<number>;
  release(): void;
}

/** Where the writers write: hands out one session per writer. */
export type WriterPool = () => Promise<WriterConnection>;

export function mysqlWriters(pool: mysql.Pool): WriterPool {
  const placeholders = (rows: number) => Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?)').join(', ');
  return async () => {
    const connection = await pool.getConnection();
    return {
      async insert(table, rows) {
        const [result] = await connection.query(
          `INSERT INTO ${table} ${columns} VALUES ${placeholders(rows.length)}`,
          rows.flat(),
        );
        return (result as mysql.ResultSetHeader).insertId;
      },
      release: () => connection.release(),
    };
  };
}

/** PostgreSQL: ids come from the table's descending sequence (rows born there are negative). */
export function postgresWriters(pool: pg.Pool): WriterPool {
  const placeholders = (rows: number) =>
    Array.from(
      { length: rows },
      (_, r) => `(${Array.from({ length: 6 }, (_, c) => `$${r * 6 + c + 1}`).join(', ')})`,
    ).join(', ');
  return async () => {
    const client = await pool.connect();
    return {
      async insert(table, rows) {
        const { rows: ids } = await client.query<{ id: number }>(
          `INSERT INTO ${table} ${columns} VALUES ${placeholders(rows.length)} RETURNING id`,
          rows.flat(),
        );
        return ids[0]!.id;
      },
      release: () => client.release(),
    };
  };
}

export interface WriteResult {
  changes: number;
  transactions: number;
  seconds: number;
  changesPerSecond: number;
  commitP50Ms: number;
  commitP99Ms: number;
  /** performance.now() when the first transaction was sent and when the last one was acknowledged. */
  startedAt: number;
  endedAt: number;
}

export interface WriteLoad {
  table: string;
  changes: number;
  rowsPerTransaction: number;
  connections: number;
  /** Makes emails unique across phases and repeats. */
  tag: string;
}

/** Inserts `changes` rows, `rowsPerTransaction` per autocommit INSERT, from `connections` sessions at full speed. */
export async function writeTransactions(pool: WriterPool, load: WriteLoad): Promise<WriteResult> {
  const transactions = Math.ceil(load.changes / load.rowsPerTransaction);
  const commitMs: number[] = [];
  let next = 0;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: load.connections }, async () => {
      const connection = await pool();
      try {
        for (let t = next++; t < transactions; t = next++) {
          const first = t * load.rowsPerTransaction;
          const rows = Math.min(load.rowsPerTransaction, load.changes - first);
          const values = Array.from({ length: rows }, (_, i) => employeeValues(load.tag, first + i));
          const sent = performance.now();
          await connection.insert(load.table, values);
          commitMs.push(performance.now() - sent);
        }
      } finally {
        connection.release();
      }
    }),
  );
  const endedAt = performance.now();
  const seconds = (endedAt - startedAt) / 1000;
  return {
    changes: load.changes,
    transactions,
    seconds: round(seconds),
    changesPerSecond: round(load.changes / seconds, 0),
    commitP50Ms: round(median(commitMs), 2),
    commitP99Ms: round(quantile(commitMs, 0.99), 2),
    startedAt,
    endedAt,
  };
}

export interface PacedCommit {
  id: number;
  sentAt: number;
  ackAt: number;
}

/**
 * Single-row inserts into `employes` at `rate` per second for `seconds`, each committed on its own
 * (autocommit). Open loop: a late insert does not delay the schedule of the next ones, up to
 * `connections` in flight. `onCommit` sees each id as soon as the database acknowledges it.
 */
export async function writeAtRate(
  pool: WriterPool,
  options: { rate: number; seconds: number; connections: number; tag: string },
  onCommit: (commit: PacedCommit) => void,
): Promise<{ sent: number; behindScheduleMaxMs: number; commitP50Ms: number; commitP99Ms: number }> {
  const total = Math.round(options.rate * options.seconds);
  const intervalMs = 1000 / options.rate;
  const commitMs: number[] = [];
  let next = 0;
  let behindScheduleMaxMs = 0;
  const start = performance.now() + 20;
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      const connection = await pool();
      try {
        for (let n = next++; n < total; n = next++) {
          const due = start + n * intervalMs;
          const wait = due - performance.now();
          if (wait > 1) await sleep(wait);
          behindScheduleMaxMs = Math.max(behindScheduleMaxMs, performance.now() - due);
          const sentAt = performance.now();
          const id = await connection.insert('employes', [employeeValues(options.tag, n)]);
          const ackAt = performance.now();
          commitMs.push(ackAt - sentAt);
          onCommit({ id, sentAt, ackAt });
        }
      } finally {
        connection.release();
      }
    }),
  );
  return {
    sent: total,
    behindScheduleMaxMs: round(behindScheduleMaxMs, 1),
    commitP50Ms: round(median(commitMs), 2),
    commitP99Ms: round(quantile(commitMs, 0.99), 2),
  };
}
