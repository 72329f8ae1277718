// The version guard of the sink, as a pure function: given a batch of events of one table and what the
// target store holds for those ids and for the values of the table's unique columns, decide what to write. A store then writes the plan in the
// same transaction that read the state (rows locked FOR UPDATE).
//
// The events of one id are judged one after the other, in log order, each against what the target
// would hold after the previous ones — exactly as if they were applied one by one — and only the
// last one that applies is written. Rules for one event against what the target holds:
// - nothing (no row, no tombstone): applied;
// - the same version from the same origin: the same change again (a replay or a duplicate): skipped;
// - born in the target store (its own change coming back): skipped, unless the target holds an
//   older version of its own or nothing at all — a database restored from an older dump gets its
//   own lost changes back from the log; never a conflict;
// - a re-publish ('r': backfill, resync, repair): applied when newer, never a conflict;
// - built on the version the target holds (baseVersion = stored): a later change: applied;
// - an older or equal version from the same origin: a replay or a reordering: skipped as stale;
// - a version of the other store the row already went past (at or below what the row has seen of
//   that store: a duplicate or a late delivery of a change it applied before changing the row
//   itself): skipped as stale, never a conflict;
// - otherwise the two changes are concurrent: a conflict, resolved by the policy and recorded;
// - a tombstone counts as the stored version, so a late update cannot resurrect a deleted row;
// - a row whose unique value (an email) another incoming row takes yields it by the same rules (the
//   newer holder keeps it).
import type { ChangeEvent } from '../transport/envelope.ts';
import type {
  ApplyPlan,
  ConflictRecord,
  DeadLetterRecord,
  PartitionOffset,
  StoreName,
  StoredVersion,
  SyncedRow,
  Tombstone,
  UniqueHolder,
} from '../store/types.ts';
import type { TableSchema } from '../tables/table-schema.ts';
import { incomingWins, type ConflictPolicy } from './conflict-policy.ts';

export interface PositionedEvent {
  event: ChangeEvent;
  partition: number;
  offset: bigint;
}

export interface CurrentState {
  rows: StoredVersion[];
  tombstones: Tombstone[];
  uniqueHolders: UniqueHolder[];
}

export interface PlanStats {
  /** The target's own changes coming back, skipped (loop prevention). */
  ownOrigin: number;
  /** Older, equal or losing versions, skipped. */
  stale: number;
  /** Applied in the plan but followed by a later change of the same row in the same batch. */
  superseded: number;
}

interface LocalState {
  version: bigint;
  origin: StoreName;
  /** True when the state is a row, false when it is a tombstone. */
  row: boolean;
  /** The newest version of the other store this state includes. */
  seen: bigint;
}

/** The events of each id in log order (offset order within a partition; version order if an id spans partitions). */
function eventsById(events: PositionedEvent[]): Map<number, PositionedEvent[]> {
  const byId = new Map<number, PositionedEvent[]>();
  for (const candidate of events) {
    const list = byId.get(candidate.event.row.id);
    if (list) list.push(candidate);
    else byId.set(candidate.event.row.id, [candidate]);
  }
  for (const list of byId.values()) {
    const onePartition = list.every((e) => e.partition === list[0]!.partition);
    list.sort((a, b) => {
      const [x, y] = onePartition ? [a.offset, b.offset] : [a.event.row.version, b.event.row.version];
      return x < y ? -1 : x > y ? 1 : a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0;
    });
  }
  return byId;
}

export function planBatch(input: {
  schema: TableSchema;
  target: StoreName;
  policy: ConflictPolicy;
  consumerGroup: string;
  events: PositionedEvent[];
  offsets: PartitionOffset[];
  logId: string;
  current: CurrentState;
  deadLetters?: DeadLetterRecord[];
  replayedDeadLetters?: bigint[];
}): { plan: ApplyPlan; stats: PlanStats } {
  const { target, policy, current } = input;
  const stats: PlanStats = { ownOrigin: 0, stale: 0, superseded: 0 };
  const stored = new Map(current.rows.map((row) => [row.id, row]));
  const tombstones = new Map(current.tombstones.map((t) => [t.id, t]));
  const conflicts: ConflictRecord[] = [];
  const upserts = new Map<number, { row: SyncedRow; eventId: string }>();
  const deletes: ApplyPlan['deletes'] = [];
  const seenById = new Map<number, bigint>();

  for (const [id, events] of eventsById(input.events)) {
    const row = stored.get(id);
    const tomb = tombstones.get(id);
    const newest = row && tomb ? (row.version >= tomb.version ? row : tomb) : (row ?? tomb);
    const seen = max(row?.seen ?? 0n, tomb?.seen ?? 0n);
    let local: LocalState | null = newest ? { version: newest.version, origin: newest.origin, row: newest === row, seen } : null;
    let seenAfter = seen;
    let last: ChangeEvent | null = null;
    for (const { event } of events) {
      const incoming = event.row;
      let apply: boolean;
      if (!local) {
        apply = true;
      } else if (incoming.origin === target && event.op !== 'r') {
        // Its own change coming back: only a target that lost it (restored from a dump) takes it.
        apply = local.origin === target && incoming.version > local.version;
        if (!apply) {
          stats.ownOrigin += 1;
          continue;
        }
      } else if (incoming.version === local.version && incoming.origin === local.origin) {
        apply = false; // the same change again
      } else if (event.op === 'r') {
        apply = incoming.version > local.version; // a re-publish (backfill, resync) never claims a conflict
      } else if (event.baseVersion === local.version) {
        apply = true; // built on exactly what the target holds: a later change, not a concurrent one
      } else if (incoming.origin === local.origin) {
        apply = incoming.version > local.version; // same writer, older: a replay or a reordering
      } else if (incoming.version <= local.seen) {
        apply = false; // the row already went past this change of the other store: a late duplicate
      } else {
        apply = incomingWins(policy, incoming, local);
        conflicts.push(conflictRecord(input.schema.table.name, event, local, event.op === 'd' || !local.row ? 'delete' : 'update', apply, policy));
      }
      if (!apply) {
        stats.stale += 1;
        continue;
      }
      if (last) stats.superseded += 1;
      last = event;
      if (incoming.origin !== target) seenAfter = max(seenAfter, incoming.version);
      local = { version: incoming.version, origin: incoming.origin, row: event.op !== 'd', seen: seenAfter };
    }
    if (!last) continue;
    seenById.set(id, seenAfter);
    if (last.op === 'd') deletes.push({ id, version: last.row.version, origin: last.row.origin });
    else upserts.set(id, { row: last.row, eventId: last.eventId });
  }

  // Unique columns: an incoming row may take a value that another row holds.
  const displaced: number[] = [];
  const parkUnique: ApplyPlan['parkUnique'] = [];
  const deletedIds = new Set(deletes.map((d) => d.id));
  for (const column of input.schema.table.unique) {
    const byValue = new Map<string, { row: SyncedRow; eventId: string }>();
    for (const candidate of [...upserts.values()].sort((a, b) => compareVersions(b.row, a.row))) {
      const value = candidate.row.values[column];
      if (value === null || value === undefined) continue;
      if (byValue.has(value)) {
        // Two incoming rows want one value: the newer keeps it; the other's later event will follow.
        upserts.delete(candidate.row.id);
        stats.stale += 1;
        continue;
      }
      byValue.set(value, candidate);
    }
    const parked: number[] = [];
    for (const holder of current.uniqueHolders) {
      if (holder.column !== column) continue;
      const taker = byValue.get(holder.value);
      if (!taker || taker.row.id === holder.id || deletedIds.has(holder.id) || displaced.includes(holder.id)) continue;
      if (!upserts.has(taker.row.id)) continue; // the taker lost its value to a newer incoming row above
      const holderIncoming = upserts.get(holder.id);
      const holderNext = holderIncoming?.row.values[column];
      if (holderIncoming && holderNext !== undefined && holderNext !== holder.value) {
        parked.push(holder.id); // the holder moves to another value in this same batch
        continue;
      }
      const takerWins = incomingWins(policy, taker.row, holder);
      if (holder.origin !== taker.row.origin) {
        conflicts.push({
          ...conflictRecord(input.schema.table.name, { eventId: taker.eventId, row: taker.row }, holder, column, takerWins, policy),
          outcome: takerWins ? 'local-displaced' : 'local-kept',
        });
      }
      if (takerWins) {
        displaced.push(holder.id);
      } else {
        upserts.delete(taker.row.id);
        stats.stale += 1;
      }
    }
    if (parked.length) parkUnique.push({ column, ids: parked });
  }

  return {
    plan: {
      schema: input.schema,
      upserts: [...upserts.values()].map((u) => u.row),
      deletes,
      displaced,
      parkUnique,
      seen: seenById,
      conflicts,
      deadLetters: input.deadLetters ?? [],
      replayedDeadLetters: input.replayedDeadLetters ?? [],
      offsets: input.offsets,
      logId: input.logId,
      consumerGroup: input.consumerGroup,
    },
    stats,
  };
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);

function compareVersions(a: SyncedRow, b: SyncedRow): number {
  return a.version === b.version ? 0 : a.version > b.version ? 1 : -1;
}

function conflictRecord(
  table: string,
  event: Pick<ChangeEvent, 'eventId' | 'row'>,
  local: { version: bigint; origin: StoreName },
  kind: ConflictRecord['kind'],
  incomingApplied: boolean,
  policy: ConflictPolicy,
): ConflictRecord {
  return {
    table,
    employeId: event.row.id,
    kind,
    outcome: incomingApplied ? 'incoming-applied' : 'local-kept',
    policy,
    localVersion: local.version,
    localOrigin: local.origin,
    incomingVersion: event.row.version,
    incomingOrigin: event.row.origin,
    incomingRow: event.row,
    eventId: event.eventId,
  };
}

/** The values of `row` whose columns `schema` holds (a column dropped here, or not yet known, is left out). */
export function knownValues(schema: TableSchema, values: SyncedRow['values']): SyncedRow['values'] {
  const known: SyncedRow['values'] = {};
  for (const column of schema.columns) {
    const value = values[column.name];
    if (value !== undefined) known[column.name] = value;
  }
  return known;
}

/** The values of the table's unique columns that these events write: their holders are read under lock. */
export function uniqueRequest(schema: TableSchema, events: readonly Pick<ChangeEvent, 'op' | 'row'>[]): { column: string; values: string[] }[] {
  return schema.table.unique.map((column) => ({
    column,
    values: [
      ...new Set(events.flatMap((e) => (e.op === 'd' || e.row.values[column] == null ? [] : [e.row.values[column]!]))),
    ],
  }));
}
