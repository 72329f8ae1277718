// The version guard of the sink, as a pure function: given a batch of events and what the target
// store holds for those ids and emails, decide what to write. A store then writes the plan in the
// same transaction that read the state (rows locked FOR UPDATE).
//
// Rules, per id (the newest event of the batch per id only):
// - events born in the target store are its own changes coming back: skipped (loop prevention);
// - an event built on the stored version (baseVersion = stored) is a later change: applied;
// - an older or equal version from the same origin is a replay: skipped as stale;
// - otherwise the two changes are concurrent: a conflict, resolved by the policy and recorded;
// - a tombstone counts as the stored version, so a late update cannot resurrect a deleted row;
// - a row whose email another incoming row takes yields it by the same rules (newer holder keeps it).
import type { EmployeeChangedEvent } from '../transport/envelope.ts';
import type {
  ApplyPlan,
  ConflictRecord,
  EmployeeRow,
  PartitionOffset,
  StoreName,
  StoredVersion,
  Tombstone,
} from '../store/types.ts';
import { incomingWins, type ConflictPolicy } from './conflict-policy.ts';

export interface PositionedEvent {
  event: EmployeeChangedEvent;
  partition: number;
  offset: bigint;
}

export interface CurrentState {
  rows: StoredVersion[];
  tombstones: Tombstone[];
  emailHolders: StoredVersion[];
}

export interface PlanStats {
  ownOrigin: number;
  stale: number;
  superseded: number;
}

/**
 * The newest event per id; ties (same version) keep the later offset. When a batch holds a chain of
 * changes of one row (each built on the previous one), the kept event takes the base of the first,
 * so "did it see what the target holds" is still answered exactly.
 */
export function newestPerId(events: PositionedEvent[]): PositionedEvent[] {
  const byId = new Map<number, PositionedEvent>();
  for (const candidate of [...events].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0))) {
    const current = byId.get(candidate.event.row.id);
    if (!current) {
      byId.set(candidate.event.row.id, candidate);
    } else if (candidate.event.row.version >= current.event.row.version) {
      const chained = candidate.event.baseVersion === current.event.row.version;
      byId.set(candidate.event.row.id, {
        ...candidate,
        event: { ...candidate.event, baseVersion: chained ? current.event.baseVersion : candidate.event.baseVersion },
      });
    }
  }
  return [...byId.values()];
}

export function planBatch(input: {
  target: StoreName;
  policy: ConflictPolicy;
  consumerGroup: string;
  events: PositionedEvent[];
  offsets: PartitionOffset[];
  current: CurrentState;
}): { plan: ApplyPlan; stats: PlanStats } {
  const { target, policy, current } = input;
  const stats: PlanStats = { ownOrigin: 0, stale: 0, superseded: 0 };
  const stored = new Map(current.rows.map((row) => [row.id, row]));
  const tombstones = new Map(current.tombstones.map((t) => [t.id, t]));
  const conflicts: ConflictRecord[] = [];
  const upserts = new Map<number, { row: EmployeeRow; eventId: string }>();
  const deletes: ApplyPlan['deletes'] = [];

  // The target's own changes coming back are dropped first (loop prevention), so they never join a chain.
  // Re-publishes ('r': backfill, resync, reconcile) are kept: they may restore a row the target lost,
  // and the sink's writes are never captured, so they cannot loop.
  const remote = input.events.filter((e) => e.event.row.origin !== target || e.event.op === 'r');
  stats.ownOrigin = input.events.length - remote.length;
  const newest = newestPerId(remote);
  stats.superseded = remote.length - newest.length;

  for (const { event } of newest) {
    const incoming = event.row;
    const row = stored.get(incoming.id);
    const tomb = tombstones.get(incoming.id);
    const local = row && tomb ? (row.version >= tomb.version ? row : tomb) : (row ?? tomb);
    let apply: boolean;
    if (!local) {
      apply = true;
    } else if (incoming.version === local.version && incoming.origin === local.origin) {
      apply = false; // the same change again
    } else if (event.op === 'r') {
      apply = incoming.version > local.version; // a re-publish (backfill, resync) never claims a conflict
    } else if (event.baseVersion === local.version) {
      apply = true; // built on exactly what we hold: a later change, not a concurrent one
    } else if (incoming.origin === local.origin) {
      apply = incoming.version > local.version; // same writer, older: a replay or a reordering
    } else {
      apply = incomingWins(policy, incoming, local);
      conflicts.push(conflictRecord(event, local, event.op === 'd' || !row ? 'delete' : 'update', apply, policy));
    }
    if (!apply) {
      stats.stale += 1;
      continue;
    }
    if (event.op === 'd') deletes.push({ id: incoming.id, version: incoming.version, origin: incoming.origin });
    else upserts.set(incoming.id, { row: incoming, eventId: event.eventId });
  }

  // Email uniqueness: an incoming row may take an email that another row holds.
  const displaced: number[] = [];
  const parkEmails: number[] = [];
  const deletedIds = new Set(deletes.map((d) => d.id));
  const byEmail = new Map<string, { row: EmployeeRow; eventId: string }>();
  for (const candidate of [...upserts.values()].sort((a, b) => compareVersions(b.row, a.row))) {
    const other = byEmail.get(candidate.row.email);
    if (other) {
      // Two incoming rows want one email: the newer keeps it; the other's later event will follow.
      upserts.delete(candidate.row.id);
      stats.stale += 1;
      continue;
    }
    byEmail.set(candidate.row.email, candidate);
  }
  for (const holder of current.emailHolders) {
    const taker = byEmail.get(holder.email);
    if (!taker || taker.row.id === holder.id || deletedIds.has(holder.id)) continue;
    const holderIncoming = upserts.get(holder.id);
    if (holderIncoming && holderIncoming.row.email !== holder.email) {
      parkEmails.push(holder.id); // the holder moves to another email in this same batch
      continue;
    }
    const takerWins = incomingWins(policy, taker.row, holder);
    if (holder.origin !== taker.row.origin) {
      conflicts.push({
        ...conflictRecord({ eventId: taker.eventId, row: taker.row }, holder, 'email', takerWins, policy),
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

  return {
    plan: {
      upserts: [...upserts.values()].map((u) => u.row),
      deletes,
      displaced,
      parkEmails,
      conflicts,
      offsets: input.offsets,
      consumerGroup: input.consumerGroup,
    },
    stats,
  };
}

function compareVersions(a: EmployeeRow, b: EmployeeRow): number {
  return a.version === b.version ? 0 : a.version > b.version ? 1 : -1;
}

function conflictRecord(
  event: Pick<EmployeeChangedEvent, 'eventId' | 'row'>,
  local: { version: bigint; origin: StoreName },
  kind: ConflictRecord['kind'],
  incomingApplied: boolean,
  policy: ConflictPolicy,
): ConflictRecord {
  return {
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
