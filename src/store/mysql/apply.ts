// A sink's transaction in MySQL / MariaDB: the session marker its capture triggers skip on, the locking
// read (rows, holders of unique values, tombstones and offsets, never waiting in an order that deadlocks
// with an application's DELETE), and the plan's writes for any synced table.
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { insertConflicts } from '../kysely/conflicts.ts';
import { markDeadLettersReplayed } from '../kysely/dead-letters.ts';
import { applyState, byColumns, KyselyApply, KyselyApplyTransaction, type ApplyStateRow } from '../kysely/apply.ts';
import type { ApplyState, ApplyStateRequest, ApplyTransaction } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { ApplyPlan, SyncedRow } from '../types.ts';
import { upsertDeadLetters } from './dead-letters.ts';
import { mysqlValue } from './column-types.ts';
import { isLockNotGranted } from './errors.ts';
import { asSink } from './sink-session.ts';

const list = (values: readonly (number | string)[]) => sql.join(values);
/** `?, ?, …`: one placeholder per value. */
const placeholders = (count: number) => Array(count).fill('?').join(', ');
/** A MySQL identifier, quoted. */
const quote = (name: string) => `\`${name.replaceAll('`', '``')}\``;

export class MysqlApply extends KyselyApply {
  /** A holder of a unique value was locked by another transaction: the next read waits for holders carefully. */
  holderLocked = false;

  constructor(db: Kysely<Database>) {
    super('mysql', db);
  }

  async transaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T> {
    // The marker is cleared after: the pooled session goes back to the API, whose writes must be captured.
    return this.db.transaction().execute((trx) => asSink(trx, () => work(new MysqlApplyTransaction(trx, this))));
  }
}

class MysqlApplyTransaction extends KyselyApplyTransaction {
  readonly #apply: MysqlApply;

  constructor(trx: Kysely<Database>, apply: MysqlApply) {
    super(trx);
    this.#apply = apply;
  }

  async readState(request: ApplyStateRequest): Promise<ApplyState> {
    const { ids, unique, offsets } = request;
    const table = quote(request.table);
    const byValue = unique.filter((u) => u.values.length > 0);
    // Locks are taken so that an application's DELETE (its row through the primary key, then the row's
    // unique index entries, then — its capture trigger — its tombstone) and the sink never each wait for
    // a lock the other holds (InnoDB error 1213, which usually rolls the application's statement back):
    // the sink waits only through the primary key, while it holds nothing else.
    // 1. The batch's rows, through the primary key in id order, with their unique values: a value one of
    //    them holds has no other holder, and keeps it while the row is locked.
    const rows = ids.length
      ? await this.#select<ApplyStateRow & Record<string, unknown>>([
          {
            text: `SELECT 'row' AS kind, id, sync_version AS version, sync_origin AS origin, sync_seen_version AS seen,
                          NULL AS unique_column, NULL AS unique_value${byValue.map((u, i) => `, ${quote(u.column)} AS u${i}`).join('')}
                     FROM ${table} WHERE id IN (${placeholders(ids.length)}) FOR UPDATE`,
            parameters: ids,
          },
        ])
      : [];
    const holders: ApplyStateRow[] = [];
    const others: { column: string; values: string[] }[] = [];
    byValue.forEach(({ column, values }, i) => {
      const heldHere = new Map(rows.filter((r) => r[`u${i}`] != null).map((r) => [String(r[`u${i}`]), r]));
      const rest: string[] = [];
      for (const value of values) {
        const row = heldHere.get(value);
        if (row) holders.push({ ...row, kind: 'holder', unique_column: column, unique_value: value });
        else rest.push(value);
      }
      if (rest.length) others.push({ column, values: rest });
    });
    // 2. The holders of the other values. A locking read through a unique index locks the entry, then
    //    the row: it must not wait for a row another transaction holds. Without waiting (NOWAIT) when it
    //    can; else (the transaction is then tried again) their holders, found by a consistent read, are
    //    locked through the primary key first, and the index read then waits only for a row that took
    //    one of the values since.
    const careful = others.length > 0 && this.#apply.holderLocked;
    if (careful) {
      const found = await this.#select<{ id: number }>(
        others.map(({ column, values }) => ({
          text: `SELECT id FROM ${table} WHERE ${quote(column)} IN (${placeholders(values.length)})`,
          parameters: values,
        })),
      );
      if (found.length) {
        const locked = [...new Set(found.map((f) => Number(f.id)))].sort((a, b) => a - b);
        await this.#select([
          {
            text: `SELECT id FROM ${table} WHERE id IN (${placeholders(locked.length)}) FOR UPDATE`,
            parameters: locked,
          },
        ]);
      }
    }
    const selects: { text: string; parameters: readonly unknown[] }[] = others.map(({ column, values }) => ({
      text: `SELECT 'holder' AS kind, id, sync_version AS version, sync_origin AS origin, sync_seen_version AS seen,
                    ? AS unique_column, ${quote(column)} AS unique_value
               FROM ${table} WHERE ${quote(column)} IN (${placeholders(values.length)}) FOR UPDATE${careful ? '' : ' NOWAIT'}`,
      parameters: [column, ...values],
    }));
    // 3. Then the tombstones and the offsets.
    if (ids.length) {
      selects.push({
        text: `SELECT 'tombstone' AS kind, id, version, origin, seen_version AS seen, NULL AS unique_column, NULL AS unique_value
                 FROM sync_tombstones WHERE table_name = ? AND id IN (${placeholders(ids.length)}) FOR UPDATE`,
        parameters: [request.table, ...ids],
      });
    }
    if (offsets?.partitions.length) {
      selects.push({
        text: `SELECT 'offset' AS kind, kafka_partition AS id, next_offset AS version, log_id AS origin, 0 AS seen, NULL AS unique_column, NULL AS unique_value
                 FROM sync_offsets WHERE consumer_group = ? AND topic = ? AND kafka_partition IN (${placeholders(offsets.partitions.length)}) FOR UPDATE`,
        parameters: [offsets.consumerGroup, offsets.topic, ...offsets.partitions],
      });
    }
    let rest: ApplyStateRow[] = [];
    try {
      rest = selects.length ? await this.#select<ApplyStateRow>(selects) : [];
    } catch (error) {
      // A holder is locked by another transaction: this one is rolled back (the index entry the read
      // locked stays locked until then) and tried again, carefully, by the sink.
      if (!careful && others.length && isLockNotGranted(error)) this.#apply.holderLocked = true;
      throw error;
    }
    if (careful) this.#apply.holderLocked = false;
    const state = applyState([...rows, ...holders, ...rest], request);
    this.#present.set(request.table, new Set(state.rows.map((r) => r.id)));
    return state;
  }

  /** One statement: the SELECTs as a UNION ALL (each parenthesised, with its own FOR UPDATE: both engines accept it). */
  async #select<R>(selects: readonly { text: string; parameters: readonly unknown[] }[]): Promise<R[]> {
    const text = selects.length === 1 ? selects[0]!.text : selects.map((s) => `(${s.text})`).join(' UNION ALL ');
    const { rows } = await this.trx.executeQuery<R>(CompiledQuery.raw(text, selects.flatMap((s) => s.parameters)));
    return rows;
  }

  async write(plan: ApplyPlan): Promise<void> {
    const trx = this.trx;
    const name = plan.schema.table.name;
    const table = sql.table(name);
    if (plan.displaced.length) await sql`DELETE FROM ${table} WHERE id IN (${list(plan.displaced)})`.execute(trx);
    for (const { column, ids } of plan.parkUnique) {
      if (ids.length) await sql`UPDATE ${table} SET ${sql.ref(column)} = CONCAT('#parked#', id) WHERE id IN (${list(ids)})`.execute(trx);
    }
    if (plan.deletes.length) {
      await sql`DELETE FROM ${table} WHERE id IN (${list(plan.deletes.map((d) => d.id))})`.execute(trx);
      const values = sql.join(
        plan.deletes.map(
          (d) => sql`(${name}, ${d.id}, ${d.version.toString()}, ${d.origin}, ${(plan.seen.get(d.id) ?? 0n).toString()})`,
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
        plan.offsets.map((o) => sql`(${plan.consumerGroup}, ${o.topic}, ${o.partition}, ${o.nextOffset.toString()}, ${plan.logId})`),
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
    const names = [...['id', ...columns].map(quote), 'sync_version', 'sync_origin', 'sync_seen_version'].join(', ');
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
          for (let i = 0; i < columns.length; i++) parameters.push(mysqlValue(types[i], r.values[columns[i]!] ?? null));
          parameters.push(r.version.toString(), r.origin, (plan.seen.get(r.id) ?? 0n).toString());
        }
        const text = insert + Array(chunk.length).fill(tuple).join(', ') + (present ? ` ON DUPLICATE KEY UPDATE ${updates}` : '');
        await this.trx.executeQuery(CompiledQuery.raw(text, parameters));
      }
    }
  }

  /** The ids of these rows the table holds: from the locking read when it ran, else read (locked) now. */
  async #existing(table: string, rows: SyncedRow[]): Promise<Set<number>> {
    if (this.#present.get(table)) return this.#present.get(table)!;
    const { rows: found } = await sql<{ id: number }>`
      SELECT id FROM ${sql.table(table)} WHERE id IN (${list(rows.map((r) => r.id))}) FOR UPDATE`.execute(this.trx);
    return new Set(found.map((r) => Number(r.id)));
  }

  /** By table: the ids the locking read found (rows that exist now, in this transaction). */
  readonly #present = new Map<string, Set<number>>();
}
