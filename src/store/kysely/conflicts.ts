// The conflict log (sync_conflicts), the same in both dialects: a sink appends the conflicts of a batch
// in its transaction; the API lists the newest.
import type { Kysely } from 'kysely';
import type { ConflictPort, StoredConflict } from '../ports.ts';
import { toIsoTimestamp } from '../row-format.ts';
import type { Database } from '../schema.ts';
import type { ConflictRecord, StoreName } from '../types.ts';

export class KyselyConflicts implements ConflictPort {
  readonly #name: StoreName;
  readonly #db: Kysely<Database>;

  constructor(name: StoreName, db: Kysely<Database>) {
    this.#name = name;
    this.#db = db;
  }

  async list(limit: number): Promise<StoredConflict[]> {
    const rows = await this.#db
      .selectFrom('sync_conflicts')
      .select([
        'table_name',
        'employe_id',
        'kind',
        'outcome',
        'policy',
        'local_version',
        'local_origin',
        'incoming_version',
        'incoming_origin',
        'detected_at',
      ])
      .orderBy('detected_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      store: this.#name,
      table: r.table_name,
      employeId: Number(r.employe_id),
      kind: r.kind,
      outcome: r.outcome,
      policy: r.policy,
      localVersion: BigInt(r.local_version),
      localOrigin: r.local_origin,
      incomingVersion: BigInt(r.incoming_version),
      incomingOrigin: r.incoming_origin,
      detectedAt: toIsoTimestamp(r.detected_at),
    }));
  }

  record(conflict: ConflictRecord): Promise<void> {
    return insertConflicts(this.#db, [conflict]);
  }
}

/** Appends the batch's conflicts to sync_conflicts (same builder query in both dialects). */
export async function insertConflicts(trx: Kysely<Database>, conflicts: ConflictRecord[]): Promise<void> {
  if (conflicts.length === 0) return;
  await trx
    .insertInto('sync_conflicts')
    .values(
      conflicts.map((c) => ({
        table_name: c.table,
        employe_id: c.employeId,
        kind: c.kind,
        outcome: c.outcome,
        policy: c.policy,
        local_version: c.localVersion.toString(),
        local_origin: c.localOrigin,
        incoming_version: c.incomingVersion.toString(),
        incoming_origin: c.incomingOrigin,
        incoming_row: JSON.stringify(c.incomingRow, bigintJson),
        event_id: c.eventId,
      })),
    )
    .execute();
}

/** JSON.stringify replacer for rows that hold bigint versions. */
export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
