// Least privilege in the databases (docs/security.md): the database user each runtime role connects as,
// and what it may do. `empsync migrate`, run with the owner's credentials, creates these users (from
// DB_ROLE_PASSWORDS) and brings their grants to this table in both engines; only the owner changes the
// schema (tables, columns, capture triggers). Every role reads every empsync table (status, readiness,
// metrics, the migration check); it writes only the tables listed for it, and no role has DDL.
//
//   api        mutations into the synced tables (MySQL; a dead letter replayed by an admin applies in the
//              store that parked it, through the version guard), a resync queued in the outbox, and what an
//              admin asks from the console: a conflict override (a row re-stamped, recorded in
//              sync_conflicts) and a drift repair (re-stamped or re-published rows, captured deletes).
//   relay      the outbox it publishes and trims (and its wake-up flag, PostgreSQL), its backfill runs, the rows it parks, its log identity.
//   sink       the synced tables it applies to, tombstones, offsets, conflicts, dead letters, log identity.
//   reconcile  repairs (a row re-stamped, a captured delete, a re-publication) and the drift status.

export const databaseRoles = ['api', 'relay', 'sink', 'reconcile'] as const;
export type DatabaseRole = (typeof databaseRoles)[number];

/** A table an empsync role writes: a synced table (every declared one), or one of empsync's own. */
export type WrittenTable =
  | 'synced'
  | 'sync_relay_wakeup'
  | 'sync_outbox'
  | 'sync_tombstones'
  | 'sync_backfill'
  | 'sync_offsets'
  | 'sync_conflicts'
  | 'sync_dead_letters'
  | 'sync_log_identity'
  | 'sync_drift';

/** The tables each role inserts into, updates and deletes from (besides reading every table). */
export const writtenTables: Record<DatabaseRole, readonly WrittenTable[]> = {
  api: ['synced', 'sync_outbox', 'sync_tombstones', 'sync_backfill', 'sync_conflicts', 'sync_dead_letters'],
  relay: ['sync_outbox', 'sync_relay_wakeup', 'sync_backfill', 'sync_dead_letters', 'sync_log_identity'],
  sink: [
    'synced',
    'sync_outbox',
    'sync_tombstones',
    'sync_offsets',
    'sync_conflicts',
    'sync_dead_letters',
    'sync_log_identity',
  ],
  reconcile: ['synced', 'sync_outbox', 'sync_tombstones', 'sync_backfill', 'sync_drift'],
};

/** A role's database user, as `empsync migrate` creates it. */
export interface RoleUser {
  role: DatabaseRole;
  user: string;
  password: string;
}

/** The privileges a role's user holds on one table: SELECT everywhere, DML where it writes. */
export function tablePrivileges(
  role: DatabaseRole,
  table: string,
  syncedTables: readonly string[],
): ('SELECT' | 'INSERT' | 'UPDATE' | 'DELETE')[] {
  const group = syncedTables.includes(table) ? 'synced' : table;
  return (writtenTables[role] as readonly string[]).includes(group)
    ? ['SELECT', 'INSERT', 'UPDATE', 'DELETE']
    : ['SELECT'];
}

/** The privileges that make a user the schema's owner here: what migrations and the schema keeper run. */
export const ownerPrivileges = ['CREATE', 'ALTER', 'DROP', 'INDEX', 'TRIGGER'] as const;
