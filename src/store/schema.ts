// Kysely's view of the tables both stores share (same names and columns in MySQL and PostgreSQL).
// Drivers return BIGINT and DECIMAL as strings and timestamps as strings (see each store's pool).
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<string, string | undefined, string>;

export interface EmployesTable {
  id: Generated<number>;
  nom: string;
  prenom: string;
  email: string;
  poste: string;
  salaire: string;
  department: string;
  date_embauche: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  sync_version: ColumnType<string, string | undefined, string>;
  sync_origin: ColumnType<string, string | undefined, string>;
  /** The newest version made in the other store that the row's state includes (0: none known). */
  sync_seen_version: ColumnType<string, string | undefined, string>;
}

export interface OutboxTable {
  seq: Generated<string>;
  event_id: string;
  op: 'c' | 'u' | 'd' | 'r';
  employe_id: number;
  row_version: string;
  base_version: string;
  row_origin: string;
  // Null only in a delete re-published from a tombstone (after a log change): it carries no row.
  nom: string | null;
  prenom: string | null;
  email: string | null;
  poste: string | null;
  salaire: string | null;
  department: string | null;
  date_embauche: string | null;
  created_at: string | null;
  updated_at: string | null;
  captured_at: Timestamp;
}

export interface TombstonesTable {
  id: number;
  version: string;
  origin: string;
  /** The deleted row's sync_seen_version (or the other store's delete's own version). */
  seen_version: ColumnType<string, string | undefined, string>;
  deleted_at: Timestamp;
}

export interface SyncOffsetsTable {
  consumer_group: string;
  topic: string;
  kafka_partition: number;
  next_offset: string;
  /** `clusterId/topicId` of the log the offset indexes; '' when stored before offsets knew their log. */
  log_id: ColumnType<string, string | undefined, string>;
  updated_at: Timestamp;
}

export interface SyncDeadLettersTable {
  id: Generated<string>;
  stage: string;
  source_key: string;
  source: string;
  event_id: string | null;
  employe_id: number | null;
  op: string | null;
  row_version: string | null;
  row_origin: string | null;
  code: string;
  reason: string;
  payload: string;
  payload_encoding: string;
  status: ColumnType<string, string | undefined, string>;
  seen_count: ColumnType<number, number | undefined, number>;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  resolved_at: ColumnType<string | null, string | null | undefined, string | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
}

/** The log (`clusterId/topicId`) a store's relay last published a topic to. */
export interface SyncLogIdentityTable {
  topic: string;
  log_id: string;
  updated_at: Timestamp;
}

export interface SyncConflictsTable {
  id: Generated<string>;
  employe_id: number;
  kind: string;
  outcome: string;
  policy: string;
  local_version: string;
  local_origin: string;
  incoming_version: string;
  incoming_origin: string;
  incoming_row: unknown;
  event_id: string;
  detected_at: Timestamp;
}

export interface SyncBackfillTable {
  name: string;
  last_id: number | null;
  done: ColumnType<boolean | number, boolean | number | undefined, boolean | number>;
  updated_at: Timestamp;
}

export interface Database {
  employes: EmployesTable;
  employes_outbox: OutboxTable;
  employes_tombstones: TombstonesTable;
  sync_offsets: SyncOffsetsTable;
  sync_conflicts: SyncConflictsTable;
  sync_backfill: SyncBackfillTable;
  sync_dead_letters: SyncDeadLettersTable;
  sync_log_identity: SyncLogIdentityTable;
}
