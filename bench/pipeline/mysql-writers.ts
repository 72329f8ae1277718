// The write load, in MariaDB: multi-row transactions, concurrent single-row transactions, and
// single-row inserts paced at a fixed rate. The same writers fill the trigger-free copy (the
// ceiling) and the captured `employes` table (the pipeline), so the two rates compare like for like.
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import { employeeValues } from './bench-setup.ts';
import { median, quantile, round } from './statistics.ts';

const columns = '(nom, prenom, email, poste, salaire, department)';

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
export async function writeTransactions(pool: mysql.Pool, load: WriteLoad): Promise<WriteResult> {
  const transactions = Math.ceil(load.changes / load.rowsPerTransaction);
  const placeholders = (rows: number) => Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?)').join(', ');
  const commitMs: number[] = [];
  let next = 0;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: load.connections }, async () => {
      const connection = await pool.getConnection();
      try {
        for (let t = next++; t < transactions; t = next++) {
          const first = t * load.rowsPerTransaction;
          const rows = Math.min(load.rowsPerTransaction, load.changes - first);
          const values = Array.from({ length: rows }, (_, i) => employeeValues(load.tag, first + i)).flat();
          const sent = performance.now();
          await connection.query(`INSERT INTO ${load.table} ${columns} VALUES ${placeholders(rows)}`, values);
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
 * `connections` in flight. `onCommit` sees each id as soon as MariaDB acknowledges it.
 */
export async function writeAtRate(
  pool: mysql.Pool,
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
      const connection = await pool.getConnection();
      try {
        for (let n = next++; n < total; n = next++) {
          const due = start + n * intervalMs;
          const wait = due - performance.now();
          if (wait > 1) await sleep(wait);
          behindScheduleMaxMs = Math.max(behindScheduleMaxMs, performance.now() - due);
          const sentAt = performance.now();
          const [result] = await connection.query(
            `INSERT INTO employes ${columns} VALUES (?, ?, ?, ?, ?, ?)`,
            employeeValues(options.tag, n),
          );
          const ackAt = performance.now();
          commitMs.push(ackAt - sentAt);
          onCommit({ id: (result as mysql.ResultSetHeader).insertId, sentAt, ackAt });
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
