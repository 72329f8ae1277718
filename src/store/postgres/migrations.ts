// Versioned schema of the PostgreSQL store: the contract's `employes` table with its sync columns,
// capture triggers writing the outbox and waking the relay (NOTIFY), tombstones, sink offsets and
// the conflict log. Ids born here are negative (a descending sequence), so they never meet the
// positive AUTO_INCREMENT range of MySQL.
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { postgresPortableCheck } from './column-types.ts';
import { postgresCaptureTriggers } from '../../capture/postgres/triggers.ts';
import { employesTable } from '../../tables/employes.ts';
import { declaredSchema } from '../../tables/table-schema.ts';

export const outboxChannel = 'empsync_outbox';

const nowMicros = '(extract(epoch from clock_timestamp()) * 1000000)::bigint';
const outboxColumns =
  'event_id, op, employe_id, row_version, base_version, row_origin, nom, prenom, email, poste, salaire, department, date_embauche, created_at, updated_at';
const outboxValues = (op: string, ref: 'NEW' | 'OLD', version: string, base: string) =>
  `gen_random_uuid(), '${op}', ${ref}.id, ${version}, ${base}, 'postgres', ${ref}.nom, ${ref}.prenom, ${ref}.email, ${ref}.poste, ${ref}.salaire, ${ref}.department, ${ref}.date_embauche, ${ref}.created_at, ${ref}.updated_at`;

// The sink sets app.sync_origin for its transaction only (set_config(..., true)).
const isLocalWrite = `coalesce(current_setting('app.sync_origin', true), '') = ''`;

// The version a change replaced ("what it saw"): a sink tells a concurrent change from a later one by it.
const tombstoneOf = 'coalesce((SELECT t.version FROM employes_tombstones t WHERE t.id = NEW.id), 0)';

/**
 * Capture: stamps the version of local writes and writes the outbox. With `seen` (migration 005), a
 * local change keeps sync_seen_version — the newest MySQL version the row includes — and a tombstone
 * keeps the deleted row's, so a late duplicate of a MySQL change the row already went past is not
 * taken for a concurrent one.
 */
function captureFunctions(seen: boolean): string[] {
  const tombstone = (id: string, version: string) =>
    seen
      ? `INSERT INTO employes_tombstones (id, version, origin, seen_version) VALUES (${id}, ${version}, 'postgres', OLD.sync_seen_version)
           ON CONFLICT (id) DO UPDATE SET version = greatest(employes_tombstones.version, EXCLUDED.version),
                                          origin = EXCLUDED.origin,
                                          seen_version = greatest(employes_tombstones.seen_version, EXCLUDED.seen_version);`
      : `INSERT INTO employes_tombstones (id, version, origin) VALUES (${id}, ${version}, 'postgres')
           ON CONFLICT (id) DO UPDATE SET version = greatest(employes_tombstones.version, EXCLUDED.version),
                                          origin = EXCLUDED.origin;`;
  const seenOnInsert = seen
    ? `NEW.sync_seen_version := coalesce((SELECT t.seen_version FROM employes_tombstones t WHERE t.id = NEW.id), 0);`
    : '';
  return [
    `CREATE OR REPLACE FUNCTION empsync_stamp_version() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF ${isLocalWrite} THEN
         IF TG_OP = 'INSERT' THEN
           NEW.sync_version := greatest(${nowMicros},
             coalesce((SELECT t.version + 1 FROM employes_tombstones t WHERE t.id = NEW.id), 0));
           ${seenOnInsert}
         ELSE
           NEW.sync_version := greatest(${nowMicros}, OLD.sync_version + 1);
         END IF;
         NEW.sync_origin := 'postgres';
         NEW.updated_at := clock_timestamp();
       END IF;
       RETURN NEW;
     END $$`,
    `CREATE OR REPLACE FUNCTION empsync_capture_change() RETURNS trigger LANGUAGE plpgsql AS $$
     DECLARE delete_version bigint;
     BEGIN
       IF NOT (${isLocalWrite}) THEN
         RETURN NULL;
       END IF;
       IF TG_OP = 'INSERT' THEN
         INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('c', 'NEW', 'NEW.sync_version', tombstoneOf)});
       ELSIF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
         INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('u', 'NEW', 'NEW.sync_version', 'OLD.sync_version')});
       ELSIF TG_OP = 'UPDATE' THEN
         INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('d', 'OLD', 'NEW.sync_version', 'OLD.sync_version')});
         ${tombstone('OLD.id', 'NEW.sync_version')}
         INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('c', 'NEW', 'NEW.sync_version', '0')});
       ELSE
         delete_version := greatest(${nowMicros}, OLD.sync_version + 1);
         INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('d', 'OLD', 'delete_version', 'OLD.sync_version')});
         ${tombstone('OLD.id', 'delete_version')}
       END IF;
       RETURN NULL;
     END $$`,
  ];
}

const statements001 = [
  `CREATE SEQUENCE IF NOT EXISTS employes_id_seq AS integer
     INCREMENT BY -1 MINVALUE -2147483648 MAXVALUE -1 START WITH -1`,
  `CREATE TABLE IF NOT EXISTS employes (
     id integer PRIMARY KEY DEFAULT nextval('employes_id_seq'),
     nom varchar(100) NOT NULL,
     prenom varchar(100) NOT NULL,
     email varchar(255) NOT NULL,
     poste varchar(100) NOT NULL,
     salaire numeric(10,2) NOT NULL,
     department varchar(100) NOT NULL,
     date_embauche timestamptz(6) NOT NULL DEFAULT now(),
     created_at timestamptz(6) NOT NULL DEFAULT now(),
     updated_at timestamptz(6) NOT NULL DEFAULT now(),
     sync_version bigint NOT NULL DEFAULT 0,
     sync_origin varchar(16) NOT NULL DEFAULT 'postgres',
     CONSTRAINT employes_email_key UNIQUE (email)
   )`,
  `ALTER SEQUENCE employes_id_seq OWNED BY employes.id`,
  `CREATE INDEX IF NOT EXISTS employes_department_idx ON employes (department)`,
  `CREATE TABLE IF NOT EXISTS employes_outbox (
     seq bigserial PRIMARY KEY,
     event_id uuid NOT NULL,
     op char(1) NOT NULL,
     employe_id integer NOT NULL,
     row_version bigint NOT NULL,
     base_version bigint NOT NULL,
     row_origin varchar(16) NOT NULL,
     nom varchar(100) NOT NULL,
     prenom varchar(100) NOT NULL,
     email varchar(255) NOT NULL,
     poste varchar(100) NOT NULL,
     salaire numeric(10,2) NOT NULL,
     department varchar(100) NOT NULL,
     date_embauche timestamptz(6) NOT NULL,
     created_at timestamptz(6) NOT NULL,
     updated_at timestamptz(6) NOT NULL,
     captured_at timestamptz(6) NOT NULL DEFAULT clock_timestamp()
   )`,
  `CREATE TABLE IF NOT EXISTS employes_tombstones (
     id integer PRIMARY KEY,
     version bigint NOT NULL,
     origin varchar(16) NOT NULL,
     deleted_at timestamptz(6) NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS sync_offsets (
     consumer_group varchar(200) NOT NULL,
     topic varchar(249) NOT NULL,
     kafka_partition integer NOT NULL,
     next_offset bigint NOT NULL,
     updated_at timestamptz(6) NOT NULL DEFAULT now(),
     PRIMARY KEY (consumer_group, topic, kafka_partition)
   )`,
  `CREATE TABLE IF NOT EXISTS sync_conflicts (
     id bigserial PRIMARY KEY,
     employe_id integer NOT NULL,
     kind varchar(16) NOT NULL,
     outcome varchar(32) NOT NULL,
     policy varchar(32) NOT NULL,
     local_version bigint NOT NULL,
     local_origin varchar(16) NOT NULL,
     incoming_version bigint NOT NULL,
     incoming_origin varchar(16) NOT NULL,
     incoming_row jsonb NOT NULL,
     event_id uuid NOT NULL,
     detected_at timestamptz(6) NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX IF NOT EXISTS sync_conflicts_employe_idx ON sync_conflicts (employe_id)`,
  `CREATE TABLE IF NOT EXISTS sync_backfill (
     name varchar(64) PRIMARY KEY,
     last_id integer,
     done boolean NOT NULL DEFAULT false,
     updated_at timestamptz(6) NOT NULL DEFAULT now()
   )`,
  ...captureFunctions(false),
  `CREATE OR REPLACE FUNCTION empsync_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF ${isLocalWrite} THEN
       PERFORM pg_notify('${outboxChannel}', '');
     END IF;
     RETURN NULL;
   END $$`,
  `DROP TRIGGER IF EXISTS employes_stamp_version ON employes`,
  `CREATE TRIGGER employes_stamp_version BEFORE INSERT OR UPDATE ON employes
     FOR EACH ROW EXECUTE FUNCTION empsync_stamp_version()`,
  `DROP TRIGGER IF EXISTS employes_capture_change ON employes`,
  `CREATE TRIGGER employes_capture_change AFTER INSERT OR UPDATE OR DELETE ON employes
     FOR EACH ROW EXECUTE FUNCTION empsync_capture_change()`,
  `DROP TRIGGER IF EXISTS employes_notify_outbox ON employes`,
  `CREATE TRIGGER employes_notify_outbox AFTER INSERT OR UPDATE OR DELETE ON employes
     FOR EACH STATEMENT EXECUTE FUNCTION empsync_notify_outbox()`,
];

// A department's page in id order (employesConnection, employes with a department filter) reads its 20
// rows from one index range instead of filtering the primary key's scan. InnoDB's secondary indexes end
// with the primary key already, so MySQL's (department) index needs no counterpart.
const statements002 = [
  `CREATE INDEX IF NOT EXISTS employes_department_id_idx ON employes (department, id)`,
  `DROP INDEX IF EXISTS employes_department_idx`,
];

async function run(db: Kysely<unknown>, statements: string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

// Writers wake the relay (NOTIFY) only while it sleeps. PostgreSQL serialises the commits of all
// notifying transactions on one lock: with a NOTIFY per statement, 8 sessions committed 1,500–1,900
// single-row inserts/s instead of 3,900–4,500 without it (this machine). The relay sets `waiting` when
// it has found the outbox empty for a while and clears it when woken (PostgresRelayLease), so writers
// pay for a NOTIFY only when one is needed. Unlogged: after a crash the row is gone, writers do not
// notify, and the relay (which polls as a backstop) writes it again.
export const relayWakeupTable = 'sync_relay_wakeup';
const statements003 = [
  `CREATE UNLOGGED TABLE IF NOT EXISTS ${relayWakeupTable} (
     id smallint PRIMARY KEY CHECK (id = 1),
     waiting boolean NOT NULL
   )`,
  `CREATE OR REPLACE FUNCTION empsync_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF ${isLocalWrite} AND EXISTS (SELECT 1 FROM ${relayWakeupTable} WHERE waiting) THEN
       PERFORM pg_notify('${outboxChannel}', '');
     END IF;
     RETURN NULL;
   END $$`,
];

// ---- 004: nothing silently lost (offsets bound to their log, dead letters, portable values) ----

/**
 * The CHECK each portable column needs here: PostgreSQL's timestamptz reaches past MySQL's DATETIME
 * (±infinity, BC, years after 9999) and its numeric has NaN. NOT VALID: rows already there are not
 * judged (the relay parks those), new writes are. A constraint already there is kept: the schema keeper
 * of a running process creates `employes` from its declaration, checks included, when the table is gone
 * (a database rebuilt by hand while it runs), and this migration may run after it.
 */
const portableChecks = employesTable('').columns.flatMap((column) => {
  const check = postgresPortableCheck(column);
  return check === null
    ? []
    : [
        `DO $empsync$ BEGIN
           ALTER TABLE employes ADD CONSTRAINT employes_${column.name}_portable CHECK (${check}) NOT VALID;
         EXCEPTION WHEN duplicate_object THEN NULL;
         END $empsync$`,
      ];
});

const outboxRowColumns = ['nom', 'prenom', 'email', 'poste', 'salaire', 'department', 'date_embauche', 'created_at', 'updated_at'];

const statements004 = [
  `ALTER TABLE sync_offsets ADD COLUMN IF NOT EXISTS log_id varchar(100) NOT NULL DEFAULT ''`,
  `CREATE TABLE IF NOT EXISTS sync_dead_letters (
     id bigserial PRIMARY KEY,
     stage varchar(8) NOT NULL,
     source_key varchar(400) NOT NULL UNIQUE,
     source text NOT NULL,
     event_id varchar(64),
     employe_id integer,
     op char(1),
     row_version bigint,
     row_origin varchar(16),
     code varchar(64) NOT NULL,
     reason text NOT NULL,
     payload text NOT NULL,
     payload_encoding varchar(8) NOT NULL,
     status varchar(16) NOT NULL DEFAULT 'parked',
     seen_count integer NOT NULL DEFAULT 1,
     first_seen_at timestamptz(6) NOT NULL DEFAULT now(),
     last_seen_at timestamptz(6) NOT NULL DEFAULT now(),
     resolved_at timestamptz(6),
     last_error text
   )`,
  `CREATE INDEX IF NOT EXISTS sync_dead_letters_status_idx ON sync_dead_letters (status, id)`,
  `CREATE TABLE IF NOT EXISTS sync_log_identity (
     topic varchar(249) PRIMARY KEY,
     log_id varchar(100) NOT NULL,
     updated_at timestamptz(6) NOT NULL DEFAULT now()
   )`,
  // A delete re-published from a tombstone carries no row.
  `ALTER TABLE employes_outbox ${outboxRowColumns.map((column) => `ALTER COLUMN ${column} DROP NOT NULL`).join(', ')}`,
  ...portableChecks,
];

// ---- 005: what each row has seen of the other store (sync_seen_version), for the version guard ----

const statements005 = [
  `ALTER TABLE employes ADD COLUMN IF NOT EXISTS sync_seen_version bigint NOT NULL DEFAULT 0`,
  // A row MySQL wrote last holds MySQL's version; rows PostgreSQL wrote last start knowing none.
  `UPDATE employes SET sync_seen_version = sync_version WHERE sync_origin = 'mysql'`,
  `ALTER TABLE employes_tombstones ADD COLUMN IF NOT EXISTS seen_version bigint NOT NULL DEFAULT 0`,
  `UPDATE employes_tombstones SET seen_version = version WHERE origin = 'mysql'`,
  ...captureFunctions(true),
];

// ---- 006: one outbox and one tombstone table for every synced table; capture generated from the schema ----
// One transaction: changes are captured by the old triggers or by the new ones, never by neither.

const employesSchema = declaredSchema(employesTable(''));
const statements006 = [
  `CREATE TABLE IF NOT EXISTS sync_outbox (
     seq bigserial PRIMARY KEY,
     event_id uuid NOT NULL,
     table_name varchar(64) NOT NULL,
     op char(1) NOT NULL,
     row_id integer NOT NULL,
     row_version bigint NOT NULL,
     base_version bigint NOT NULL,
     row_origin varchar(16) NOT NULL,
     row_json jsonb,
     captured_at timestamptz(6) NOT NULL DEFAULT clock_timestamp()
   )`,
  `CREATE TABLE IF NOT EXISTS sync_tombstones (
     table_name varchar(64) NOT NULL,
     id integer NOT NULL,
     version bigint NOT NULL,
     origin varchar(16) NOT NULL,
     seen_version bigint NOT NULL DEFAULT 0,
     deleted_at timestamptz(6) NOT NULL DEFAULT now(),
     PRIMARY KEY (table_name, id)
   )`,
  // The columns each table's capture triggers were last generated with (the schema keeper compares).
  `CREATE TABLE IF NOT EXISTS sync_capture (
     table_name varchar(64) PRIMARY KEY,
     schema_version varchar(64) NOT NULL,
     columns_json text NOT NULL,
     installed_at timestamptz(6) NOT NULL DEFAULT now()
   )`,
  `ALTER TABLE sync_dead_letters ADD COLUMN IF NOT EXISTS table_name varchar(64) NOT NULL DEFAULT 'employes'`,
  `ALTER TABLE sync_conflicts ADD COLUMN IF NOT EXISTS table_name varchar(64) NOT NULL DEFAULT 'employes'`,
  `LOCK TABLE employes IN SHARE ROW EXCLUSIVE MODE`,
  `INSERT INTO sync_tombstones (table_name, id, version, origin, seen_version, deleted_at)
   SELECT 'employes', id, version, origin, seen_version, deleted_at FROM employes_tombstones
   ON CONFLICT DO NOTHING`,
  // Changes captured but not yet published keep their order.
  `INSERT INTO sync_outbox (event_id, table_name, op, row_id, row_version, base_version, row_origin, row_json, captured_at)
   SELECT event_id, 'employes', op, employe_id, row_version, base_version, row_origin,
          CASE WHEN nom IS NULL THEN NULL
               ELSE jsonb_build_object(${employesSchema.columns.map((c) => `'${c.name}', ${c.name}`).join(', ')}) END,
          captured_at
     FROM employes_outbox ORDER BY seq`,
  `DROP TRIGGER IF EXISTS employes_stamp_version ON employes`,
  `DROP TRIGGER IF EXISTS employes_capture_change ON employes`,
  ...postgresCaptureTriggers(employesSchema),
  `DROP FUNCTION IF EXISTS empsync_stamp_version()`,
  `DROP FUNCTION IF EXISTS empsync_capture_change()`,
  `DROP TABLE IF EXISTS employes_outbox, employes_tombstones`,
  // Re-publish runs into a new log are per table now.
  `UPDATE sync_backfill SET name = 'log-reset:employes' WHERE name = 'log-reset'`,
];

// ---- 007: the drift check's last complete pass, per table, for every process to read (the API) ----

const statements007 = [
  `CREATE TABLE IF NOT EXISTS sync_drift (
     table_name varchar(64) PRIMARY KEY,
     drift_rows integer NOT NULL,
     last_pass_at timestamptz(6) NOT NULL,
     pass_seconds double precision NOT NULL,
     interval_ms integer NOT NULL
   )`,
];

// ---- 008: snapshots that read the table (not copy it into the outbox): what each run covers and its progress ----

const statements008 = [
  `ALTER TABLE sync_backfill
     ADD COLUMN IF NOT EXISTS table_name varchar(64),
     ADD COLUMN IF NOT EXISTS published bigint NOT NULL DEFAULT 0,
     ADD COLUMN IF NOT EXISTS total bigint,
     ADD COLUMN IF NOT EXISTS started_at timestamptz(6)`,
];

// ---- 009: the divergent rows of the drift check's last pass (the console shows them) ----

const statements009 = [`ALTER TABLE sync_drift ADD COLUMN IF NOT EXISTS divergences text`];

// ---- 010: the capture triggers write no event id (the relay derives it: src/store/event-id.ts) ----

const statements010 = [`ALTER TABLE sync_outbox ALTER COLUMN event_id DROP NOT NULL`];

export const postgresMigrations: Record<string, Migration> = {
  '001_employes_sync': { up: (db) => run(db, statements001) },
  '002_department_id_index': { up: (db) => run(db, statements002) },
  '003_notify_only_a_sleeping_relay': { up: (db) => run(db, statements003) },
  '004_offsets_log_dead_letters_portable_values': { up: (db) => run(db, statements004) },
  '005_seen_versions': { up: (db) => run(db, statements005) },
  '006_shared_outbox_generated_capture': { up: (db) => run(db, statements006) },
  '007_drift_status': { up: (db) => run(db, statements007) },
  '008_snapshot_progress': { up: (db) => run(db, statements008) },
  '009_drift_divergences': { up: (db) => run(db, statements009) },
  '010_derived_event_ids': { up: (db) => run(db, statements010) },
};
