// A sink's transaction in MySQL / MariaDB: the session marker its capture triggers skip on, the locking
// read (rows, holders of unique values, tombstones and offsets, in the lock order of an application's
// DELETE), and the plan's writes for any synced table.
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { insertConflicts } from '../kysely/conflicts.ts';
import { markDeadLettersReplayed } from '../kysely/dead-letters.ts';
import {
  applyState,
  byColumns,
  KyselyApply,
  KyselyApplyTransaction,
  type ApplyStateRow,
} from '../kysely/apply.ts';
import type { ApplyState, ApplyStateRequest, ApplyTransaction } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { ApplyPlan, SyncedRow } from '../types.ts';
import { upsertDeadLetters } from './dead-letters.ts';
import { mysqlValue } from './column-types.ts';
import { asSink } from './sink-session.ts';

const list = (values: readonly (number | string)[]) => sql.join(values);
/** `?, ?, …`: one placeholder per value. */
const placeholders = (count: number) => Array(count).fill('?').join(', ');
/** A MySQL identifier, quoted. */
const quote = (name: string) => `\`${name.replaceAll('`', '``')}\``;

export class MysqlApply extends KyselyApply {
  constructor(db: Kysely<Database>) {
    super('mysql', db);
  }

  async transaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T> {
    // The marker is cleared after: the pooled session goes back to the API, whose writes must be captured.
    return this.db.transaction().execute((trx) => asSink(trx, () => work(new MysqlApplyTransaction(trx))));
  }
}

class MysqlApplyTransaction extends KyselyApplyTransaction {
  async readState(request: ApplyStateRequest): Promise<ApplyState> {
    const { ids, unique, offsets } = request;
    const table = quote(request.table);
    const byValue = unique.filter((u) => u.values.length > 0);
    // Locks are taken in the order an application's DELETE takes them — the row through the primary
    // key, then its unique index entries, then (its capture trigger) its tombstone — so that neither
    // waits for a lock the other holds while holding one the other waits for (InnoDB error 1213, which
    // usually rolls the application's statement back). One statement per step: the optimizer reads
    // a UNION's single-key branches ("const" tables) before it runs any branch, so the branches of one
    // statement are not taken in their written order.
    // 1. The rows holding the batch's unique values now, without a lock (a consistent read)…
    const holders = byValue.length
      ? await this.#select<{ id: number }>(
          byValue.map(({ column, values }) => ({
            text: `SELECT id FROM ${table} WHERE ${quote(column)} IN (${placeholders(values.length)})`,
            parameters: values,
          })),
        )
      : [];
    // 2. …locked with the batch's rows through the primary key, in id order;
    const locked = [...new Set([...ids, ...holders.map((h) => Number(h.id))])].sort((a, b) => a - b);
    const rows = locked.length
      ? await this.#select<ApplyStateRow>([
          {
            text: `SELECT 'row' AS kind, id, sync_version AS version, sync_origin AS origin, sync_seen_version AS seen,
                          NULL AS unique_column, NULL AS unique_value
                     FROM ${table} WHERE id IN (${placeholders(locked.length)}) FOR UPDATE`,
            parameters: locked,
          },
        ])
      : [];
    // 3. the unique index read under lock: a row that took a value after step 1 is found here;
    const held = byValue.length
      ? await this.#select<ApplyStateRow>(
          byValue.map(({ column, values }) => ({
            text: `SELECT 'holder' AS kind, id, sync_version AS version, sync_origin AS origin, sync_seen_version AS seen,
                          ? AS unique_column, ${quote(column)} AS unique_value
                     FROM ${table} WHERE ${quote(column)} IN (${placeholders(values.length)}) FOR UPDATE`,
            parameters: [column, ...values],
          })),
        )
      : [];
    // 4. then the tombstones and the offsets.
    const rest: { text: string; parameters: readonly unknown[] }[] = [];
    if (ids.length) {
      rest.push({
        text: `SELECT 'tombstone' AS kind, id, version, origin, seen_version AS seen, NULL AS unique_column, NULL AS unique_value
                 FROM sync_tombstones WHERE table_name = ? AND id IN (${placeholders(ids.length)}) FOR UPDATE`,
        parameters: [request.table, ...ids],
      });
    }
    if (offsets?.partitions.length) {
      rest.push({
        text: `SELECT 'offset' AS kind, kafka_partition AS id, next_offset AS version, log_id AS origin, 0 AS seen, NULL AS unique_column, NULL AS unique_value
                 FROM sync_offsets WHERE consumer_group = ? AND topic = ? AND kafka_partition IN (${placeholders(offsets.partitions.length)}) FOR UPDATE`,
        parameters: [offsets.consumerGroup, offsets.topic, ...offsets.partitions],
      });
    }
    const others = rest.length ? await this.#select<ApplyStateRow>(rest) : [];
    // The holders locked as rows in step 2 are not rows of the batch.
    const requested = new Set(ids);
    const state = applyState(
      [...rows.filter((r) => requested.has(Number(r.id))), ...held, ...others],
      request,
    );
    this.#present.set(request.table, new Set(state.rows.map((r) => r.id)));
    return state;
  }

  /** One statement: the SELECTs as a UNION ALL (each parenthesised, with its own FOR UPDATE: both engines accept it). */
  async #select<R>(selects: readonly { text: string; parameters: readonly unknown[] }[]): Promise<R[]> {
    const text =
      selects.length === 1 ? selects[0]!.text : selects.map((s) => `(${s.text})`).join(' UNION ALL ');
    const { rows } = await this.trx.executeQuery<R>(
      CompiledQuery.raw(
        text,
        selects.flatMap((s) => s.parameters),
      ),
    );
    return rows;
  }

  async write(plan: ApplyPlan): Promise<void> {
    const trx = this.trx;
    const name = plan.schema.table.name;
    const table = sql.table(name);
    if (plan.displaced.length)
      await sql`DELETE FROM ${table} WHERE id IN (${list(plan.displaced)})`.execute(trx);
    for (const { column, ids } of plan.parkUnique) {
      if (ids.length)
        await sql`UPDATE ${table} SET ${sql.ref(column)} = CONCAT('#parked#', id) WHERE id IN (${list(ids)})`.execute(
          trx,
        );
    }
    if (plan.deletes.length) {
      await sql`DELETE FROM ${table} WHERE id IN (${list(plan.deletes.map((d) => d.id))})`.execute(trx);
      const values = sql.join(
        plan.deletes.map(
          (d) =>
            sql`(${name}, ${d.id}, ${d.version.toString()}, ${d.origin}, ${(plan.seen.get(d.id) ?? 0n).toString()})`,
        ),
      );
      await sql`
        INSERT INTO sync_tombstones (table_name, id, version, origin, seen_version) VALUES ${values}
        ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version)), origin = VALUES(origin),
          seen_version = GREATEST(seen_version, VALUES(seen_version))`.execute(trx);
    }
    for (const rows of byColumns(plan.upserts)) await this.#upsert(plan, rows);
    await insertConflicts(trx, plan.conflicts);
    await upsertDeadLetters(trx, plan.deadLetters);
    await markDeadLettersReplayed(trx, plan.replayedDeadLetters);
    if (plan.offsets.length) {
      const values = sql.join(
        plan.offsets.map(
          (o) =>
            sql`(${plan.consumerGroup}, ${o.topic}, ${o.partition}, ${o.nextOffset.toString()}, ${plan.logId})`,
        ),
      );
      // Within one log an offset only grows; an offset of another log (a new cluster, a recreated topic) is replaced.
      await sql`
        INSERT INTO sync_offsets (consumer_group, topic, kafka_partition, next_offset, log_id) VALUES ${values}
        ON DUPLICATE KEY UPDATE
          next_offset = IF(log_id = VALUES(log_id), GREATEST(next_offset, VALUES(next_offset)), VALUES(next_offset)),
          log_id = VALUES(log_id), updated_at = NOW(6)`.execute(trx);
    }
  }

  /**
   * Rows holding the same columns, 1000 per statement: each writes only what it holds. Rows that exist
   * (the locking read saw them) are upserted; new rows are plainly inserted, because MySQL's ON DUPLICATE
   * KEY UPDATE also fires on a unique key other than the id, and would then overwrite the row holding
   * the value (say an email equal under the collation) instead of refusing the new one.
   */
  async #upsert(plan: ApplyPlan, rows: SyncedRow[]): Promise<void> {
    const existing = await this.#existing(plan.schema.table.name, rows);
    const columns = Object.keys(rows[0]!.values);
    const types = columns.map((c) => plan.schema.columns.find((column) => column.name === c)?.type);
    // Written as text with placeholders rather than one kysely node per value: a batch of 2,000 rows
    // of 10 columns would otherwise build and compile 20,000 nodes (a fifth of the sink's CPU).
    const names = [...['id', ...columns].map(quote), 'sync_version', 'sync_origin', 'sync_seen_version'].join(
      ', ',
    );
    // VALUES(): deprecated in MySQL 8.0.20 but still supported by 8.4 (warning 1287); MariaDB has no row alias.
    const updates = [
      ...columns.map((c) => `${quote(c)} = VALUES(${quote(c)})`),
      'sync_version = VALUES(sync_version)',
      'sync_origin = VALUES(sync_origin)',
      'sync_seen_version = GREATEST(sync_seen_version, VALUES(sync_seen_version))',
    ].join(', ');
    const tuple = `(${placeholders(columns.length + 4)})`;
    const insert = `INSERT INTO ${quote(plan.schema.table.name)} (${names}) VALUES `;
    for (const [present, group] of [
      [true, rows.filter((r) => existing.has(r.id))],
      [false, rows.filter((r) => !existing.has(r.id))],
    ] as const) {
      for (let start = 0; start < group.length; start += 1000) {
        const chunk = group.slice(start, start + 1000);
        const parameters: unknown[] = [];
        for (const r of chunk) {
          parameters.push(r.id);
          for (let i = 0; i < columns.length; i++)
            parameters.push(mysqlValue(types[i], r.values[columns[i]!] ?? null));
          parameters.push(r.version.toString(), r.origin, (plan.seen.get(r.id) ?? 0n).toString());
        }
        const text =
          insert +
          Array(chunk.length).fill(tuple).join(', ') +
          (present ? ` ON DUPLICATE KEY UPDATE ${updates}` : '');
        await this.trx.executeQuery(CompiledQuery.raw(text, parameters));
      }
    }
  }

  /** The ids of these rows the table holds: from the locking read when it ran, else read (locked) now. */
  async #existing(table: string, rows: SyncedRow[]): Promise<Set<number>> {
    if (this.#present.get(table)) return this.#present.get(table)!;
    const { rows: found } = await sql<{ id: number }>`
      SELECT id FROM ${sql.table(table)} WHERE id IN (${list(rows.map((r) => r.id))}) FOR UPDATE`.execute(
      this.trx,
    );
    return new Set(found.map((r) => Number(r.id)));
  }

  /** By table: the ids the locking read found (rows that exist now, in this transaction). */
  readonly #present = new Map<string, Set<number>>();
}
