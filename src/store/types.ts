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

/** One captured change, written by the triggers in the same transaction as the change. */
export interface OutboxRow {
  seq: bigint;
  eventId: string;
  op: ChangeOp;
  /** The row after the change; for a delete, the row before it (with the delete's version). */
  row: EmployeeRow;
  /** The version this change replaced (0 for a new row): tells a concurrent change from a later one. */
  baseVersion: bigint;
  capturedAt: string;
}

export interface StoredVersion {
  id: number;
  version: bigint;
  origin: StoreName;
  email: string;
}

export interface Tombstone {
  id: number;
  version: bigint;
  origin: StoreName;
}

export interface PartitionOffset {
  topic: string;
  partition: number;
  nextOffset: bigint;
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
  incomingRow: EmployeeRow;
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
  conflicts: ConflictRecord[];
  offsets: PartitionOffset[];
  consumerGroup: string;
}
