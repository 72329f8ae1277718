// Dialect-agnostic shapes shared by every stage: a synced row of any declared table, the change that
// capture writes, what a sink hands a store to apply, parked events; and the employee as the API's
// published contract reads and writes it.

import type { StoreName } from '../tables/declaration.ts';
import type { TableSchema } from '../tables/table-schema.ts';
import type { RowValues } from '../tables/values.ts';

export { storeNames, type StoreName } from '../tables/declaration.ts';

/** The fields a client sets; salaire is a decimal string ("1234.50") so it never drifts through a float. */
export interface EmployeeFields {
  nom: string;
  prenom: string;
  email: string;
  poste: string;
  salaire: string;
  department: string;
  /** Columns a DBA added besides the contract's, by column, in canonical text (null clears one); absent: unchanged. */
  extra?: RowValues;
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
  /** Columns a DBA added to both stores besides the contract's (canonical text by column), when there are any. */
  extra?: RowValues;
}

/** A full employee row, as sync copies it. */
export interface EmployeeRow extends EmployeeView {
  createdAt: string;
  updatedAt: string;
}

/** c: create, u: update, d: delete, r: re-publish of the current row (backfill, full resync). */
export type ChangeOp = 'c' | 'u' | 'd' | 'r';

/**
 * A synced row as it travels between the stages, whatever its table: its key, version and origin, and
 * its values by column in their canonical text (src/tables/values.ts). A row written with an older or a
 * newer schema holds fewer or more columns; only the columns it holds are written.
 */
export interface SyncedRow {
  id: number;
  /** Hybrid logical clock in microseconds: max(now, previous + 1). Only grows. */
  version: bigint;
  /** The store where the change that produced this version was made. */
  origin: StoreName;
  values: RowValues;
}

/** A change: the row after a create, update or re-publish; the row before a delete (no values: a tombstone re-published). */
export interface RowChange {
  op: ChangeOp;
  row: SyncedRow;
}

/**
 * One captured change, read from a store's sync_outbox: written by the capture triggers in the same
 * transaction as the change. `raw` holds the row's values as the trigger wrote them (JSON, numbers kept
 * exact); the relay turns them into canonical values with the table's schema.
 */
export interface CapturedChange {
  seq: bigint;
  eventId: string;
  table: string;
  op: ChangeOp;
  id: number;
  version: bigint;
  /** The version this change replaced (0 for a new row): tells a concurrent change from a later one. */
  baseVersion: bigint;
  origin: StoreName;
  /** Null for a delete re-published from a tombstone (after a log change): it carries no row. */
  raw: Record<string, unknown> | null;
  capturedAt: string;
}

/** A captured change with its canonical row, ready to publish (or to park). */
export interface OutboxRow extends RowChange {
  seq: bigint;
  eventId: string;
  table: string;
  baseVersion: bigint;
  capturedAt: string;
}

/**
 * What a store holds for a row, for the version guard. `seen` is the newest version made in the
 * other store that this state includes (a two-store version vector, with `version`): a change from the
 * other store at or below it is one the row already went past, not a concurrent one.
 */
export interface StoredVersion {
  id: number;
  version: bigint;
  origin: StoreName;
  seen: bigint;
}

/** A row holding a value of a unique column that an incoming row wants. */
export interface UniqueHolder extends StoredVersion {
  column: string;
  value: string;
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
  /** The synced table the event belongs to. */
  table: string;
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

/** `update`, `delete`, or the unique column two rows wanted (`email`). */
export type ConflictKind = string;
/** The sink's outcomes, and `operator-override`: an admin chose the side that wins (GraphQL resolveConflict). */
export type ConflictOutcome = 'incoming-applied' | 'local-kept' | 'local-displaced' | 'operator-override';

export interface ConflictRecord {
  table: string;
  employeId: number;
  kind: ConflictKind;
  outcome: ConflictOutcome;
  policy: string;
  localVersion: bigint;
  localOrigin: StoreName;
  incomingVersion: bigint;
  incomingOrigin: StoreName;
  /** The incoming row (for a delete, what it carries: maybe no values). */
  incomingRow: SyncedRow;
  eventId: string;
}

/** What the version guard decided for one batch of one table; written by a store in one transaction. */
export interface ApplyPlan {
  /** The table and the schema the sink read it with (column types for the writes). */
  schema: TableSchema;
  /** Rows to write; each writes only the columns it holds. */
  upserts: SyncedRow[];
  deletes: { id: number; version: bigint; origin: StoreName }[];
  /** Rows holding a unique value that an incoming newer row takes: removed without a tombstone. */
  displaced: number[];
  /** Incoming rows whose stored unique value another incoming row takes: that value is parked first. */
  parkUnique: { column: string; ids: number[] }[];
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

/** TLS to a database: the server's certificate verified, against the CA file when given (else the system's CAs). */
export interface DatabaseTls {
  ca?: string;
  rejectUnauthorized: true;
}

/** A row whose content differs between the stores, as the reconcile finds it (src/reconcile). */
export type DivergenceKind = 'missing' | 'deleted' | 'version' | 'content';
export type RepairAction = 'republish' | 'restamp' | 'delete';

export interface Divergence {
  table: string;
  id: number;
  kind: DivergenceKind;
  mysqlVersion: string | null;
  postgresVersion: string | null;
  /** The columns whose values differ (both rows exist). */
  columns: string[];
  /** The side whose state wins. */
  source: StoreName;
  /** What a repair does: re-publish or re-stamp the source's row, or delete the other side's row. */
  repair: RepairAction;
}
