// The interface every store (MySQL, PostgreSQL) implements. Stages above it — capture, relay,
// sink, api — only speak this interface; dialect SQL lives in src/store/<dialect>/ alone.
import type {
  ApplyPlan,
  DeadLetterRecord,
  DeadLetterStage,
  DeadLetterStatus,
  EmployeeFields,
  EmployeeRow,
  EmployeeView,
  OutboxRow,
  StoreName,
  StoredDeadLetter,
  StoredOffset,
  StoredVersion,
  Tombstone,
} from './types.ts';

/** Leadership of the relay for one store: held on a dedicated session until released or lost. */
export interface RelayLease {
  /** Resolves when the session holding the lock is gone (the relay must stop publishing). */
  readonly lost: Promise<void>;
  /** Resolves when new outbox rows may be there, or after `timeoutMs`. */
  waitForWork(timeoutMs: number): Promise<void>;
  release(): Promise<void>;
}

export interface BackfillProgress {
  copied: number;
  lastId: number | null;
  done: boolean;
}

export interface EmployeeListQuery {
  department?: string;
  limit?: number;
  offset?: number;
  filter?: EmployeeFilter;
  orderBy?: EmployeeOrder;
}

/** Conditions on employees, all optional and combined with AND. */
export interface EmployeeFilter {
  department?: string;
  poste?: string;
  /** Case-insensitive substring of nom, prenom or email. */
  search?: string;
  /** Decimal strings ("1234.50"), inclusive bounds. */
  salaireMin?: string;
  salaireMax?: string;
  /** ISO-8601 instants, inclusive bounds on date_embauche. */
  embaucheAfter?: string;
  embaucheBefore?: string;
}

export const employeeOrders = ['ID_ASC', 'ID_DESC', 'SALAIRE_ASC', 'SALAIRE_DESC', 'NOM_ASC'] as const;
export type EmployeeOrder = (typeof employeeOrders)[number];

/** Where a keyset page starts: after the row with this id and this sort value (salaire or nom). */
export interface EmployeeKeyset {
  id: number;
  value?: string;
}

export interface EmployeePageQuery {
  filter?: EmployeeFilter;
  orderBy?: EmployeeOrder;
  first: number;
  after?: EmployeeKeyset;
}

export interface EmployeePage {
  rows: EmployeeView[];
  hasNextPage: boolean;
}

/** A row of a store's sync_conflicts table (the incoming row itself is left out). */
export interface StoredConflict {
  store: StoreName;
  employeId: number;
  kind: string;
  outcome: string;
  policy: string;
  localVersion: bigint;
  localOrigin: string;
  incomingVersion: bigint;
  incomingOrigin: string;
  detectedAt: string;
}

/** What a sink transaction locks and reads before deciding. */
export interface ApplyStateRequest {
  ids: number[];
  emails: string[];
  /** The stored offsets of these partitions (checked against the batch: the database is the truth). */
  offsets?: { consumerGroup: string; topic: string; partitions: number[] };
}

export interface ApplyTransaction {
  /**
   * Locks and returns the stored versions and tombstones of these ids, the holders of these emails,
   * and the stored offsets of these partitions.
   */
  readState(request: ApplyStateRequest): Promise<{
    rows: StoredVersion[];
    tombstones: Tombstone[];
    emailHolders: StoredVersion[];
    offsets: StoredOffset[];
  }>;
  write(plan: ApplyPlan): Promise<void>;
}

export interface DeadLetterQuery {
  status?: DeadLetterStatus;
  ids?: readonly bigint[];
  /** Keyset paging: only ids above this one. */
  afterId?: bigint;
  limit: number;
}

export interface Store {
  readonly name: StoreName;
  migrate(): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;

  // capture → relay
  /** The oldest captured changes; values are kept as stored, so one unusual value never fails the read. */
  readOutbox(limit: number): Promise<OutboxRow[]>;
  deleteOutbox(seqs: bigint[]): Promise<void>;
  /** Moves outbox rows the relay cannot carry into sync_dead_letters (stage relay), in one transaction. */
  parkOutboxRows(parked: { seq: bigint; deadLetter: DeadLetterRecord }[]): Promise<void>;
  /** The log (`clusterId/topicId`) this store's relay last published `topic` to, or null. */
  readPublishedLog(topic: string): Promise<string | null>;
  /**
   * Records that the relay now publishes `topic` to log `logId`. With `resyncRun`, queues in the same
   * transaction a full re-publish of the store into the new log: every tombstone as a delete now,
   * every row through the backfill run of that name (continued by continueBackfill).
   */
  adoptLog(topic: string, logId: string, resyncRun: string | null): Promise<void>;
  /** True when the backfill run of that name was started and not finished (a crash interrupted it). */
  unfinishedBackfill(run: string): Promise<boolean>;
  outboxBacklog(): Promise<number>;
  acquireRelayLease(): Promise<RelayLease | null>;
  /**
   * Starts a backfill run, or resumes an unfinished one when `resume` (the default). Its progress is
   * kept in the store, so a crash resumes where the last committed chunk ended.
   */
  startBackfill(run: string, resume?: boolean): Promise<'started' | 'resumed'>;
  /** Re-publishes these rows as they are now (op 'r', through the outbox); returns how many exist. */
  republish(ids: readonly number[]): Promise<number>;
  /** (id, version) of up to `limit` rows with afterId < id (<= upToId), in id order: what reconcile compares. */
  listVersions(afterId: number | null, limit: number, upToId?: number): Promise<{ id: number; version: bigint }[]>;
  /** Copies the next `chunk` rows of the run into the outbox and records the progress, in one transaction. */
  continueBackfill(run: string, chunk: number): Promise<BackfillProgress>;

  // sink
  /** The offsets this group applied, each with the log it indexes. */
  readOffsets(consumerGroup: string, topic: string): Promise<StoredOffset[]>;
  /** Overwrites the stored offsets of these partitions with offsets of log `logId` (a sink starting on a new log). */
  resetOffsets(consumerGroup: string, topic: string, logId: string, offsets: { partition: number; nextOffset: bigint }[]): Promise<void>;
  /** Runs `work` in one transaction with the sink's session marker set (its writes are not captured). */
  applyTransaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T>;

  // api (MySQL is the write model, PostgreSQL the read model; both can do both)
  insertEmployee(fields: EmployeeFields): Promise<EmployeeRow>;
  updateEmployee(id: number, fields: EmployeeFields): Promise<EmployeeRow | null>;
  deleteEmployee(id: number): Promise<boolean>;
  findEmployee(id: number): Promise<EmployeeView | null>;
  findEmployees(ids: readonly number[]): Promise<EmployeeView[]>;
  listEmployees(query?: EmployeeListQuery): Promise<EmployeeView[]>;
  countByDepartment(): Promise<{ department: string; count: number }[]>;
  countEmployees(): Promise<number>;
  /** One keyset page of the employees matching `filter`, in `orderBy` order (ID_ASC by default). */
  pageEmployees(query: EmployeePageQuery): Promise<EmployeePage>;
  countMatchingEmployees(filter?: EmployeeFilter): Promise<number>;
  /** The newest rows of sync_conflicts first. */
  listConflicts(limit: number): Promise<StoredConflict[]>;

  // dead letters: events a stage parked in this store (the relay's it could not carry, the sink's it could not apply)
  listDeadLetters(query: DeadLetterQuery): Promise<StoredDeadLetter[]>;
  /** Parked (not yet replayed) dead letters, by stage. */
  countDeadLetters(): Promise<{ stage: DeadLetterStage; parked: number }[]>;
  /** Marks a dead letter replayed, or records why its replay did not go through (it stays parked). */
  resolveDeadLetter(id: bigint, outcome: { replayed: true } | { replayed: false; error: string }): Promise<void>;
  /** Every row ordered by id, for comparisons and reconcile. */
  dumpEmployees(): Promise<EmployeeRow[]>;
}
