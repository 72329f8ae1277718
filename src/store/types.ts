// Dialect-agnostic shapes shared by every stage: the employee row as both stores hold it, the outbox
// row that capture writes, and what a sink hands a store to apply.

export type StoreName = 'mysql' | 'postgres';
export const storeNames: readonly StoreName[] = ['mysql', 'postgres'];

/** The fields a client sets; salaire is a decimal string ("1234.50") so it never drifts through a float. */
export interface EmployeeFields {
  nom: string;
  prenom: string;
  email: string;
  poste: string;
  salaire: string;
  department: string;
}

/** An employee as the API reads it: the row without its bookkeeping timestamps. */
export interface EmployeeView extends EmployeeFields {
  id: number;
  /** ISO-8601 UTC with microseconds, like every timestamp here. */
  dateEmbauche: string;
  /** Hybrid logical clock in microseconds: max(now, previous + 1). Only grows. */
  version: bigint;
  /** The store where the change that produced this version was made. */
  origin: StoreName;
}

/** A full employee row, as sync copies it. */
export interface EmployeeRow extends EmployeeView {
  createdAt: string;
  updatedAt: string;
}

/** c: create, u: update, d: delete, r: re-publish of the current row (backfill, full resync). */
export type ChangeOp = 'c' | 'u' | 'd' | 'r';

/**
 * What a delete carries: the id, the delete's version and origin, and the row as it was before the
 * delete when it is known (a tombstone re-published after a log change carries no row).
 */
export type DeletedRow = Pick<EmployeeRow, 'id' | 'version' | 'origin'> & Partial<EmployeeRow>;

/** A change: a full row after a create, update or re-publish; the deleted row (maybe partial) for a delete. */
export type RowChange = { op: 'c' | 'u' | 'r'; row: EmployeeRow } | { op: 'd'; row: DeletedRow };

/** One captured change, written by the triggers in the same transaction as the change. */
export type OutboxRow = RowChange & {
  seq: bigint;
  eventId: string;
  /** The version this change replaced (0 for a new row): tells a concurrent change from a later one. */
  baseVersion: bigint;
  capturedAt: string;
};

/**
 * What a store holds for a row, for the version guard. `seen` is the newest version made in the
 * other store that this state includes (a two-store version vector, with `version`): a change from the
 * other store at or below it is one the row already went past, not a concurrent one.
 */
export interface StoredVersion {
  id: number;
  version: bigint;
  origin: StoreName;
  email: string;
  seen: bigint;
}

export interface Tombstone {
  id: number;
  version: bigint;
  origin: StoreName;
  seen: bigint;
}

export interface PartitionOffset {
  topic: string;
  partition: number;
  nextOffset: bigint;
}

/**
 * A consumed offset as a store keeps it: bound to the log it indexes (`clusterId/topicId`), so an
 * offset of a log that is gone (new cluster, recreated topic) is never read as one of the new log.
 * An empty logId was stored before offsets knew their log.
 */
export interface StoredOffset extends PartitionOffset {
  logId: string;
  /** When a sink last moved it (ISO-8601), when read for a sink's start. */
  updatedAt?: string;
}

/** The stage that parked an event: the relay (it could not carry the row) or a sink (it could not apply it). */
export type DeadLetterStage = 'relay' | 'sink';
export const deadLetterStages: readonly DeadLetterStage[] = ['relay', 'sink'];

/** An event a stage could not carry or apply, parked with its reason in a store's sync_dead_letters. */
export interface DeadLetterRecord {
  stage: DeadLetterStage;
  /** Unique per parked thing: `<topic>:<partition>:<offset>@<logId>` for a sink, `outbox:<eventId>` for a relay. */
  sourceKey: string;
  /** Where it came from, for a person: topic, partition, offset, log; or the outbox sequence. */
  source: Record<string, string>;
  code: string;
  reason: string;
  eventId: string | null;
  employeId: number | null;
  op: ChangeOp | null;
  version: bigint | null;
  origin: string | null;
  /** The event as it was: the message value (sink) or the outbox row as JSON (relay). */
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
}

export type DeadLetterStatus = 'parked' | 'replayed';

export interface StoredDeadLetter extends DeadLetterRecord {
  store: StoreName;
  id: bigint;
  status: DeadLetterStatus;
  seenCount: number;
  firstSeenAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
  /** Why the last replay did not go through (null when none failed). */
  lastError: string | null;
  /** The version the store holds now for this row (null: no row): a newer one supersedes the parked event. */
  currentVersion: bigint | null;
}

export type ConflictKind = 'update' | 'delete' | 'email';
export type ConflictOutcome = 'incoming-applied' | 'local-kept' | 'local-displaced';

export interface ConflictRecord {
  employeId: number;
  kind: ConflictKind;
  outcome: ConflictOutcome;
  policy: string;
  localVersion: bigint;
  localOrigin: StoreName;
  incomingVersion: bigint;
  incomingOrigin: StoreName;
  /** The incoming row (for a delete, what it carries: maybe only id, version and origin). */
  incomingRow: EmployeeRow | DeletedRow;
  eventId: string;
}

/** What the version guard decided for one batch; written by a store in one transaction. */
export interface ApplyPlan {
  upserts: EmployeeRow[];
  deletes: { id: number; version: bigint; origin: StoreName }[];
  /** Rows holding an email that an incoming newer row takes: removed without a tombstone. */
  displaced: number[];
  /** Incoming rows whose stored email another incoming row takes: their email is parked first. */
  parkEmails: number[];
  /** For each upserted or deleted id: the newest version of the other store its new state includes. */
  seen: Map<number, bigint>;
  conflicts: ConflictRecord[];
  /** Events parked in this transaction (the offsets pass them only together with their record). */
  deadLetters: DeadLetterRecord[];
  /** Parked events that this transaction replayed (marked replayed). */
  replayedDeadLetters: bigint[];
  offsets: PartitionOffset[];
  /** The log the offsets index (StoredOffset.logId). */
  logId: string;
  consumerGroup: string;
}

/** What replaying a parked event did. */
export type ReplayOutcome = 'applied' | 'superseded' | 'requeued' | 'gone' | 'failed';

export interface ReplayResult {
  store: StoreName;
  id: string;
  outcome: ReplayOutcome;
  /** Why it failed (it stays parked), or what happened. */
  detail: string;
}
