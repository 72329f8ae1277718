// A sink's side of a store, the parts both dialects share: its stored offsets, and what the one locking
// read of a sink transaction returns, sorted for the version guard. Each store writes the read and the
// plan in its own SQL (src/store/<dialect>/apply.ts).
import type { Kysely } from 'kysely';
import type { ApplyPort, ApplyState, ApplyStateRequest, ApplyTransaction } from '../ports.ts';
import { toIsoTimestamp } from '../row-format.ts';
import type { Database } from '../schema.ts';
import type { ApplyPlan, StoreName, StoredOffset, SyncedRow } from '../types.ts';

/**
 * A row of the one locking read of a sink transaction: a row of the batch (`row`), a holder of a unique
 * value (`holder`, with its column and value), a tombstone, or a stored offset (partition as id, next
 * offset as version, log id as origin).
 */
export interface ApplyStateRow {
  kind: 'row' | 'holder' | 'tombstone' | 'offset';
  id: number | string;
  version: string | number | bigint;
  origin: string;
  seen: string | number | bigint | null;
  unique_column: string | null;
  unique_value: string | null;
}

/** The locked rows, holders, tombstones and offsets of a sink transaction, sorted into what the sink decides with. */
export function applyState(rows: ApplyStateRow[], request: ApplyStateRequest): ApplyState {
  const of = (kind: ApplyStateRow['kind']) => rows.filter((r) => r.kind === kind);
  const version = (r: ApplyStateRow) => ({
    id: Number(r.id),
    version: BigInt(r.version),
    origin: r.origin as StoreName,
    seen: BigInt(r.seen ?? 0),
  });
  return {
    rows: of('row').map(version),
    uniqueHolders: of('holder').map((r) => ({ ...version(r), column: r.unique_column ?? '', value: r.unique_value ?? '' })),
    tombstones: of('tombstone').map(version),
    offsets: storedOffsets(
      of('offset').map((r) => ({ kafka_partition: Number(r.id), next_offset: r.version, log_id: r.origin })),
      request.offsets?.topic ?? '',
    ),
  };
}

/** sync_offsets rows as StoredOffset. */
export function storedOffsets(
  rows: { kafka_partition: number; next_offset: string | number | bigint; log_id: string; updated_at?: string | Date }[],
  topic: string,
): StoredOffset[] {
  return rows.map((r) => ({
    topic,
    partition: Number(r.kafka_partition),
    nextOffset: BigInt(r.next_offset),
    logId: r.log_id,
    ...(r.updated_at === undefined ? {} : { updatedAt: toIsoTimestamp(r.updated_at) }),
  }));
}

/** The part of a sink transaction both dialects share; each store reads and writes its own way. */
export abstract class KyselyApplyTransaction implements ApplyTransaction {
  /** The transaction: kysely's, or one connection on which the store has run BEGIN itself. */
  protected readonly trx: Kysely<Database>;

  constructor(trx: Kysely<Database>) {
    this.trx = trx;
  }

  abstract readState(request: ApplyStateRequest): Promise<ApplyState>;
  abstract write(plan: ApplyPlan): Promise<void>;
}

export abstract class KyselyApply implements ApplyPort {
  readonly name: StoreName;
  protected readonly db: Kysely<Database>;

  constructor(name: StoreName, db: Kysely<Database>) {
    this.name = name;
    this.db = db;
  }

  abstract transaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T>;

  async readOffsets(consumerGroup: string, topic: string): Promise<StoredOffset[]> {
    const rows = await this.db
      .selectFrom('sync_offsets')
      .select(['kafka_partition', 'next_offset', 'log_id', 'updated_at'])
      .where('consumer_group', '=', consumerGroup)
      .where('topic', '=', topic)
      .execute();
    return storedOffsets(rows, topic);
  }

  async resetOffsets(
    consumerGroup: string,
    topic: string,
    logId: string,
    offsets: { partition: number; nextOffset: bigint }[],
  ): Promise<void> {
    if (offsets.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('sync_offsets')
        .where('consumer_group', '=', consumerGroup)
        .where('topic', '=', topic)
        .where(
          'kafka_partition',
          'in',
          offsets.map((o) => o.partition),
        )
        .execute();
      await trx
        .insertInto('sync_offsets')
        .values(
          offsets.map((o) => ({
            consumer_group: consumerGroup,
            topic,
            kafka_partition: o.partition,
            next_offset: o.nextOffset.toString(),
            log_id: logId,
          })),
        )
        .execute();
    });
  }

}

/** Upserts grouped by the columns they hold (an event written with an older or newer schema holds fewer or more). */
export function byColumns(rows: SyncedRow[]): SyncedRow[][] {
  const groups = new Map<string, SyncedRow[]>();
  for (const row of rows) {
    const key = Object.keys(row.values).join(',');
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return [...groups.values()];
}
