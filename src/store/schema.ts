// Kysely's view of the tables both stores share (same names and columns in MySQL and PostgreSQL).
// Drivers return BIGINT and DECIMAL as strings and timestamps as strings (see each store's pool).
import type { ColumnType, Generated } from 'kysely';
import type { EmployeeFields } from './types.ts';

type Timestamp = ColumnType<string, string | undefined, string>;

/** employes as the API's published contract reads and writes it: the fields a client sets, then the rest. */
export interface EmployesTable extends Omit<EmployeeFields, 'extra'> {
  id: Generated<number>;
  date_embauche: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  sync_version: ColumnType<string, string | undefined, string>;
  sync_origin: ColumnType<string, string | undefined, string>;
  /** The newest version made in the other store that the row's state includes (0: none known). */
  sync_seen_version: ColumnType<string, string | undefined, string>;
}

/** One captured change of any synced table: the row as JSON (exact numbers: read as text). */
export interface SyncOutboxTable {
  seq: Generated<string>;
  /** Null when the capture triggers wrote the row: the relay derives the id (src/store/event-id.ts). */
  event_id: string | null;
  table_name: string;
  op: 'c' | 'u' | 'd' | 'r';
  row_id: number;
  row_version: string;
  base_version: string;
  row_origin: string;
  /** Null only in a delete re-published from a tombstone (after a log change): it carries no row. */
  row_json: string | null;
  captured_at: Timestamp;
}

export interface SyncTombstonesTable {
  table_name: string;
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
  table_name: ColumnType<string, string | undefined, string>;
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

/** The columns a table's capture triggers were last generated with. */
export interface SyncCaptureTable {
  table_name: string;
  schema_version: string;
  columns_json: string;
  installed_at: Timestamp;
}

/** The log (`clusterId/topicId`) a store's relay last published a topic to. */
export interface SyncLogIdentityTable {
  topic: string;
  log_id: string;
  updated_at: Timestamp;
}

export interface SyncConflictsTable {
  id: Generated<string>;
  table_name: ColumnType<string, string | undefined, string>;
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
  /** The table the run reads (null: a run recorded before snapshots, table in its name). */
  table_name: string | null;
  published: ColumnType<string | number, string | number | undefined, string | number>;
  /** The rows the table held when the run started (an estimate of the work). */
  total: ColumnType<string | number | null, string | number | null | undefined, string | number | null>;
  started_at: ColumnType<Date | string | null, Date | string | null | undefined, Date | string | null>;
}

export interface Database {
  employes: EmployesTable;
  sync_outbox: SyncOutboxTable;
  sync_tombstones: SyncTombstonesTable;
  sync_offsets: SyncOffsetsTable;
  sync_conflicts: SyncConflictsTable;
  sync_backfill: SyncBackfillTable;
  sync_dead_letters: SyncDeadLettersTable;
  sync_log_identity: SyncLogIdentityTable;
  sync_capture: SyncCaptureTable;
}
