// The interface every store (MySQL, PostgreSQL) implements. Stages above it — capture, relay,
// sink, api — only speak this interface; dialect SQL lives in src/store/<dialect>/ alone.
import type {
  ApplyPlan,
  EmployeeFields,
  EmployeeRow,
  OutboxRow,
  PartitionOffset,
  StoreName,
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
}

export interface ApplyTransaction {
  /** Locks and returns the stored versions and tombstones of these ids, and the holders of these emails. */
  readCurrent(
    ids: number[],
    emails: string[],
  ): Promise<{ rows: StoredVersion[]; tombstones: Tombstone[]; emailHolders: StoredVersion[] }>;
  write(plan: ApplyPlan): Promise<void>;
}

export interface Store {
  readonly name: StoreName;
  migrate(): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;

  // capture → relay
  readOutbox(limit: number): Promise<OutboxRow[]>;
  deleteOutbox(seqs: bigint[]): Promise<void>;
  outboxBacklog(): Promise<number>;
  acquireRelayLease(): Promise<RelayLease | null>;
  /**
   * Starts a backfill run, or resumes an unfinished one when `resume` (the default). Its progress is
   * kept in the store, so a crash resumes where the last committed chunk ended.
   */
  startBackfill(run: string, resume?: boolean): Promise<'started' | 'resumed'>;
  /** Copies the next `chunk` rows of the run into the outbox and records the progress, in one transaction. */
  continueBackfill(run: string, chunk: number): Promise<BackfillProgress>;

  // sink
  readOffsets(consumerGroup: string, topic: string): Promise<PartitionOffset[]>;
  /** Runs `work` in one transaction with the sink's session marker set (its writes are not captured). */
  applyTransaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T>;

  // api (MySQL is the write model, PostgreSQL the read model; both can do both)
  insertEmployee(fields: EmployeeFields): Promise<EmployeeRow>;
  updateEmployee(id: number, fields: EmployeeFields): Promise<EmployeeRow | null>;
  deleteEmployee(id: number): Promise<boolean>;
  findEmployee(id: number): Promise<EmployeeRow | null>;
  findEmployees(ids: readonly number[]): Promise<EmployeeRow[]>;
  listEmployees(query?: EmployeeListQuery): Promise<EmployeeRow[]>;
  countByDepartment(): Promise<{ department: string; count: number }[]>;
  countEmployees(): Promise<number>;
  /** Every row ordered by id, for comparisons and reconcile. */
  dumpEmployees(): Promise<EmployeeRow[]>;
}
