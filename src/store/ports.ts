// What a store offers each stage, one narrow port per stage: the relay reads and empties the outbox
// (OutboxPort), a sink applies batches (ApplyPort), the schema keeper reads catalogs and changes tables
// (SchemaPort), reconcile compares (ReconcilePort), operators list and replay parked events
// (DeadLetterPort), and the API reads and writes employees (EmployeePort: the published contract).
// Each stage receives only its port. Dialect SQL lives in src/store/<dialect>/ alone.
import type { Kysely } from 'kysely';
import type { ColumnDeclaration, TableDeclaration } from '../tables/declaration.ts';
import type { LiveColumn, SchemaColumn, TableSchema } from '../tables/table-schema.ts';
import type { RoleUser } from './privileges.ts';
import type { Database } from './schema.ts';
import type {
  ApplyPlan,
  Divergence,
  CapturedChange,
  ConflictRecord,
  DeadLetterRecord,
  DeadLetterStage,
  DeadLetterStatus,
  EmployeeFields,
  EmployeeRow,
  EmployeeView,
  StoreName,
  StoredDeadLetter,
  StoredOffset,
  StoredVersion,
  SyncedRow,
  Tombstone,
  UniqueHolder,
} from './types.ts';

/** Leadership of the relay for one store: held on a dedicated session until released or lost. */
export interface RelayLease {
  /** Resolves when the session holding the lock is gone (the relay must stop publishing). */
  readonly lost: Promise<void>;
  /** Resolves when new outbox rows may be there, or after `timeoutMs`. */
  waitForWork(timeoutMs: number): Promise<void>;
  release(): Promise<void>;
}

/** A snapshot run of a table (a backfill, a re-publish into a new log, a resync) as its store records it. */
export interface SnapshotRun {
  run: string;
  table: string;
  /** The highest id published so far (null: none yet); the run resumes after it. */
  lastId: number | null;
  done: boolean;
  /** Rows read and published so far. */
  published: number;
  /** The rows the table held when the run started (the work to do, estimated). */
  total: number | null;
  startedAt: string | null;
  updatedAt: string;
}

/** The relay's port: the outbox, the relay lease, the log the relay publishes to, backfills. */
export interface OutboxPort {
  readonly name: StoreName;
  /** The oldest captured changes of every table; values are kept as captured, so one unusual value never fails the read. */
  read(limit: number): Promise<CapturedChange[]>;
  delete(seqs: bigint[]): Promise<void>;
  backlog(): Promise<number>;
  /**
   * Parks rows the relay cannot carry in sync_dead_letters (stage relay), in one transaction: an outbox
   * row (`seq`) is removed with it; a snapshot's row (`seq` null) has none.
   */
  park(parked: { seq: bigint | null; deadLetter: DeadLetterRecord }[]): Promise<void>;
  acquireLease(): Promise<RelayLease | null>;
  /**
   * Who holds this store's relay lease now, as the database tells it to this session (its session id,
   * and the client's name and address where this user may see them), or null when no relay holds it.
   */
  leaseHolder(): Promise<string | null>;
  /** The log (`clusterId/topicId`) this store's relay last published `topic` to, or null. */
  readPublishedLog(topic: string): Promise<string | null>;
  /**
   * Records that the relay now publishes `topic` to log `logId`. With `resyncRun`, queues in the same
   * transaction a full re-publish of `table` into the new log: every tombstone as a delete now, every
   * row through the backfill run of that name (continued by continueBackfill).
   */
  adoptLog(topic: string, logId: string, resync: { run: string; table: string } | null): Promise<void>;
  /**
   * Requests a snapshot of `table` under `run` (the relay reads and publishes it), or keeps an unfinished
   * one of that name when `resume` (the default). Writes the run's record alone: nothing in the table or
   * the outbox.
   */
  startBackfill(run: string, table: string, resume?: boolean): Promise<'started' | 'resumed'>;
  /**
   * The next `limit` rows of `schema`'s table after id `after` (null: from the lowest), in id order, as
   * re-publish ('r') changes with their stored version and origin; read, never copied.
   */
  readSnapshotChunk(schema: TableSchema, after: number | null, limit: number): Promise<CapturedChange[]>;
  /** Records a run's position (the last id published) and count; `done` ends it. */
  recordSnapshotProgress(run: string, progress: { lastId: number | null; published: number; done: boolean }): Promise<void>;
  /** Calls `listener` whenever this process requests a snapshot (startBackfill, adoptLog); returns the unsubscribe. */
  onSnapshotRequested(listener: () => void): () => void;
  /** Every snapshot run the store records, finished or not. */
  snapshotRuns(): Promise<SnapshotRun[]>;
  /** True when the backfill run of that name was started and not finished (a crash interrupted it). */
  unfinishedBackfill(run: string): Promise<boolean>;
  /** Re-publishes these rows as they are now (op 'r', through the outbox); returns how many exist. */
  republish(schema: TableSchema, ids: readonly number[]): Promise<number>;
  /** Which of these rows of `table` have changes captured and not yet published (still in the outbox). */
  pendingIds(table: string, ids: readonly number[]): Promise<Set<number>>;
  /**
   * Gives these rows a new version, their content unchanged (neither stamped nor captured, as the sink
   * writes), and re-publishes them: the other store takes this side's content. Returns how many.
   */
  restamp(schema: TableSchema, ids: readonly number[]): Promise<number>;
}

/** What a sink transaction locks and reads before deciding, for one table. */
export interface ApplyStateRequest {
  table: string;
  ids: number[];
  /** Values of unique columns the batch writes: their current holders are locked and returned. */
  unique: { column: string; values: string[] }[];
  /** The stored offsets of these partitions (checked against the batch: the database is the truth). */
  offsets?: { consumerGroup: string; topic: string; partitions: number[] };
}

export interface ApplyState {
  rows: StoredVersion[];
  tombstones: Tombstone[];
  uniqueHolders: UniqueHolder[];
  offsets: StoredOffset[];
}

export interface ApplyTransaction {
  /** Locks and returns, in one statement, what the version guard and the offset check need. */
  readState(request: ApplyStateRequest): Promise<ApplyState>;
  write(plan: ApplyPlan): Promise<void>;
}

/** The sink's port: its offsets, and transactions that apply a batch with them. */
export interface ApplyPort {
  readonly name: StoreName;
  /** The offsets this group applied, each with the log it indexes. */
  readOffsets(consumerGroup: string, topic: string): Promise<StoredOffset[]>;
  /** Overwrites the stored offsets of these partitions with offsets of log `logId` (a sink starting on a new log). */
  resetOffsets(consumerGroup: string, topic: string, logId: string, offsets: { partition: number; nextOffset: bigint }[]): Promise<void>;
  /** Runs `work` in one transaction with the sink's session marker set (its writes are not captured). */
  transaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T>;
}

/** The schema keeper's port: a table's catalog, its creation, new columns, and its capture triggers. */
export interface SchemaPort {
  readonly name: StoreName;
  /** The columns of `table` as this engine's catalog shows them (null: no such table). */
  columns(table: string): Promise<LiveColumn[] | null>;
  /**
   * Whether the schema keeper may change this store now: every migration applied, and no restore in
   * progress (a trigger created on a half-restored table would fire on the restore's own rows).
   */
  readyForChanges(): Promise<boolean>;
  /** CREATE TABLE IF NOT EXISTS from the declaration, with the key, the sync columns, unique keys and indexes. */
  createTable(table: TableDeclaration): Promise<void>;
  addColumn(table: string, column: ColumnDeclaration): Promise<void>;
  /** Drops a column (and the CHECK empsync gave it) when it exists. */
  dropColumn(table: string, column: string): Promise<void>;
  /**
   * (Re)creates the capture triggers of a table for its schema, atomically for writers, and records their
   * columns. Columns in `without` are left out of the captured rows (a column joining the sync, until
   * both sides hold its values).
   */
  installCapture(schema: TableSchema, without?: readonly string[]): Promise<void>;
  /** The columns the table's capture was last generated with here (null: never recorded). */
  capturedColumns(table: string): Promise<string[] | null>;
  /** (id, version, value in canonical text) of up to `limit` rows with afterId < id (<= upToId), in id order. */
  columnValues(table: string, column: SchemaColumn, afterId: number | null, limit: number, upToId?: number): Promise<ColumnValue[]>;
  /**
   * Writes `column` of these rows where the row still has that version, as the sink writes (neither
   * stamped nor captured: the row's version does not move). Returns how many.
   */
  fillColumn(table: string, column: SchemaColumn, rows: readonly ColumnValue[]): Promise<number>;
}

/** One row's value of one column, with the row's version and the store that made that version. */
export interface ColumnValue {
  id: number;
  version: bigint;
  origin: string;
  value: string | null;
}

/** Reconcile's port: content checksums by chunk of ids, whole rows in canonical form, tombstones, repairs. */
export interface ReconcilePort {
  readonly name: StoreName;
  /**
   * For each chunk of ids (chunk k holds k·chunkRows <= id < (k+1)·chunkRows) that has rows: how many,
   * and the XOR of a 64-bit hash of each row's id, version and synced columns in canonical text —
   * computed by the engine, the same bytes on both engines for the same content.
   */
  checksums(schema: TableSchema, chunkRows: number): Promise<Map<number, ChunkChecksum>>;
  /** The rows with from <= id < to, in id order, with the schema's columns in canonical form. */
  rowsBetween(schema: TableSchema, from: number, to: number): Promise<SyncedRow[]>;
  /** These rows (those that exist), with the schema's columns in canonical form. */
  rowsById(schema: TableSchema, ids: readonly number[]): Promise<SyncedRow[]>;
  /** The tombstones of these ids: id → version of the delete. */
  tombstones(table: string, ids: readonly number[]): Promise<Map<number, bigint>>;
  /**
   * Deletes these rows where they still have that version, as a local write (captured: the delete
   * travels to the other store with a new version). Returns how many.
   */
  deleteRows(table: string, rows: readonly { id: number; version: bigint }[]): Promise<number>;
  /** Every row of the table, in id order, with the schema's columns in canonical form. */
  dump(schema: TableSchema): Promise<SyncedRow[]>;
  count(table: string): Promise<number>;
  /** Records the drift check's last complete pass (replacing the previous record). */
  recordDrift(record: DriftRecord): Promise<void>;
  /** The last complete pass a drift check recorded here, or null. */
  readDrift(): Promise<DriftRecord | null>;
}

/** A complete drift check pass: rows still differing per table, when it ended, how long it took. */
export interface DriftRecord {
  tables: { table: string; rows: number }[];
  /** The divergent rows the pass found (at most 100 in all), as the reconcile report's sample (none: not recorded). */
  divergences?: Divergence[];
  lastPassAt: string;
  passSeconds: number;
  intervalMs: number;
}

/** One chunk of ids: its row count and the XOR of its rows' 64-bit hashes (unsigned). */
export interface ChunkChecksum {
  rows: number;
  hash: bigint;
}

export interface DeadLetterQuery {
  status?: DeadLetterStatus;
  ids?: readonly bigint[];
  /** Keyset paging: only ids above this one. */
  afterId?: bigint;
  limit: number;
}

/** Parked events of this store: the relay's it could not carry, the sink's it could not apply. */
export interface DeadLetterPort {
  readonly name: StoreName;
  list(query: DeadLetterQuery): Promise<StoredDeadLetter[]>;
  /** Parked (not yet replayed) dead letters, by stage. */
  count(): Promise<{ stage: DeadLetterStage; parked: number }[]>;
  /** Marks a dead letter replayed, or records why its replay did not go through (it stays parked). */
  resolve(id: bigint, outcome: { replayed: true } | { replayed: false; error: string }): Promise<void>;
}

/** A row of a store's sync_conflicts table (the incoming row itself is left out). */
export interface StoredConflict {
  store: StoreName;
  table: string;
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

export interface ConflictPort {
  /** The newest rows of sync_conflicts first. */
  list(limit: number): Promise<StoredConflict[]>;
  /** Appends one conflict record (an operator's override of a conflict's outcome). */
  record(conflict: ConflictRecord): Promise<void>;
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

/**
 * The API's port: employees as the published contract reads and writes them. Views carry the columns
 * a DBA added (`extra`, canonical text) besides the contract's fields.
 */
export interface EmployeePort {
  insert(fields: EmployeeFields): Promise<EmployeeRow>;
  update(id: number, fields: EmployeeFields): Promise<EmployeeRow | null>;
  delete(id: number): Promise<boolean>;
  find(id: number): Promise<EmployeeView | null>;
  findMany(ids: readonly number[]): Promise<EmployeeView[]>;
  list(query?: EmployeeListQuery): Promise<EmployeeView[]>;
  /** One keyset page of the employees matching `filter`, in `orderBy` order (ID_ASC by default). */
  page(query: EmployeePageQuery): Promise<EmployeePage>;
  countByDepartment(): Promise<{ department: string; count: number }[]>;
  count(): Promise<number>;
  countMatching(filter?: EmployeeFilter): Promise<number>;
  /** Every row ordered by id, for comparisons and tests. */
  dump(): Promise<EmployeeRow[]>;
}

/** Who may change the schema here, and the per-role database users (src/store/privileges.ts). */
export interface AccessPort {
  readonly name: StoreName;
  /** Whether the connected user may run the migrations and the schema keeper's DDL here. */
  ownsSchema(): Promise<boolean>;
  /** Creates the role users that are missing, sets their passwords, and brings their grants to src/store/privileges.ts. */
  ensureRoleUsers(users: readonly RoleUser[], syncedTables: readonly string[]): Promise<void>;
}

/** A store: one database, its ports, and what every role does with it. */
export interface Store {
  readonly name: StoreName;
  /** The query builder on the store's pool (tests and migrations). */
  readonly db: Kysely<Database>;
  migrate(): Promise<string[]>;
  /** The migrations not applied yet (read only: what a role that may not migrate checks at start). */
  pendingMigrations(): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
  readonly outbox: OutboxPort;
  readonly apply: ApplyPort;
  readonly schema: SchemaPort;
  readonly access: AccessPort;
  readonly reconcile: ReconcilePort;
  readonly deadLetters: DeadLetterPort;
  readonly conflicts: ConflictPort;
  readonly employees: EmployeePort;
}
