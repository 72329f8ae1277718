// Capture in PostgreSQL, generated from a table's schema: a BEFORE trigger stamps each local write with
// its version (a hybrid logical clock: max(now, previous + 1)), origin and update time; an AFTER trigger
// writes the change — the row as JSON, every column the table has now (to_jsonb), so a column added by
// ALTER TABLE is captured at once — into sync_outbox in the same transaction. The sink marks its
// transaction (app.sync_origin): its writes are neither stamped nor captured (loop prevention). No event
// id is written: the relay derives it from the change (src/store/event-id.ts).
import type { TableSchema } from '../../tables/table-schema.ts';
import { trailingSpaceMessage } from '../../tables/values.ts';

const nowMicros = '(extract(epoch from clock_timestamp()) * 1000000)::bigint';
/** The sink sets app.sync_origin for its transaction only (set_config(..., true)). */
export const isLocalWrite = `coalesce(current_setting('app.sync_origin', true), '') = ''`;

/** The revision of what this file generates: a capture of another revision is generated again. */
export const postgresCaptureRevision = 'postgres-6';

/**
 * The statements that (re)create the capture functions and triggers of a table: one transaction, atomic.
 * Columns in `without` are left out of the captured row (a column joining the sync, until both sides
 * hold its values).
 */
export function postgresCaptureTriggers(schema: TableSchema, without: readonly string[] = []): string[] {
  const table = schema.table.name;
  const leftOut = ['id', 'sync_version', 'sync_origin', 'sync_seen_version', ...without].map((c) => ` - '${c}'`).join('');
  const tombstoneVersion = (id: string) => `(SELECT t.version FROM sync_tombstones t WHERE t.table_name = '${table}' AND t.id = ${id})`;
  const json = (ref: 'NEW' | 'OLD') => `to_jsonb(${ref})${leftOut}`;
  const outbox = (op: string, ref: 'NEW' | 'OLD', version: string, base: string) =>
    `INSERT INTO sync_outbox (table_name, op, row_id, row_version, base_version, row_origin, row_json)
       VALUES ('${table}', '${op}', ${ref}.id, ${version}, ${base}, 'postgres', ${json(ref)});`;
  const bury = (version: string) =>
    `INSERT INTO sync_tombstones (table_name, id, version, origin, seen_version) VALUES ('${table}', OLD.id, ${version}, 'postgres', OLD.sync_seen_version)
       ON CONFLICT (table_name, id) DO UPDATE SET version = greatest(sync_tombstones.version, EXCLUDED.version),
         origin = EXCLUDED.origin, seen_version = greatest(sync_tombstones.seen_version, EXCLUDED.seen_version);`;
  const uniqueText = schema.columns.filter((c) => c.type.kind === 'text' && schema.table.unique.includes(c.name));
  const refuseTrailingSpace = uniqueText
    .map(
      (c) => `IF NEW."${c.name}" LIKE '% ' AND (TG_OP = 'INSERT' OR NEW."${c.name}" IS DISTINCT FROM OLD."${c.name}") THEN
           RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = '${trailingSpaceMessage(table, c.name)}';
         END IF;`,
    )
    .join('\n         ');
  const stampUpdated = schema.columns
    .filter((c) => c.role === 'updated-at')
    .map((c) => `NEW."${c.name}" := clock_timestamp();`)
    .join(' ');
  return [
    // A row re-created under the id of a deleted one gets a version above its tombstone's and keeps what
    // the tombstone had seen: one read for both (two were 9 % of a single-row insert's rate).
    `CREATE OR REPLACE FUNCTION empsync_stamp_${table}() RETURNS trigger LANGUAGE plpgsql AS $$
     DECLARE buried_version bigint;
             buried_seen bigint;
     BEGIN
       IF ${isLocalWrite} THEN
         ${refuseTrailingSpace}
         IF TG_OP = 'INSERT' THEN
           SELECT t.version, t.seen_version INTO buried_version, buried_seen
             FROM sync_tombstones t WHERE t.table_name = '${table}' AND t.id = NEW.id;
           NEW.sync_version := greatest(${nowMicros}, coalesce(buried_version + 1, 0));
           NEW.sync_seen_version := coalesce(buried_seen, 0);
         ELSE
           NEW.sync_version := greatest(${nowMicros}, OLD.sync_version + 1);
         END IF;
         NEW.sync_origin := 'postgres';
         ${stampUpdated}
       END IF;
       RETURN NEW;
     END $$`,
    captureFunction(`empsync_capture_${table}`, `
       IF TG_OP = 'INSERT' THEN
         ${outbox('c', 'NEW', 'NEW.sync_version', `coalesce(${tombstoneVersion('NEW.id')}, 0)`)}
       ELSIF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
         ${outbox('u', 'NEW', 'NEW.sync_version', 'OLD.sync_version')}
       ELSIF TG_OP = 'UPDATE' THEN
         ${outbox('d', 'OLD', 'NEW.sync_version', 'OLD.sync_version')}
         ${bury('NEW.sync_version')}
         ${outbox('c', 'NEW', 'NEW.sync_version', '0')}
       ELSE
         delete_version := greatest(${nowMicros}, OLD.sync_version + 1);
         ${outbox('d', 'OLD', 'delete_version', 'OLD.sync_version')}
         ${bury('delete_version')}
       END IF;`),
    `DROP TRIGGER IF EXISTS ${table}_stamp_version ON "${table}"`,
    // WHEN: a sink's rows never enter PL/pgSQL (nor, AFTER, the trigger queue): a bulk apply pays nothing for capture.
    `CREATE TRIGGER ${table}_stamp_version BEFORE INSERT OR UPDATE ON "${table}"
       FOR EACH ROW WHEN (${isLocalWrite}) EXECUTE FUNCTION empsync_stamp_${table}()`,
    `DROP TRIGGER IF EXISTS ${table}_capture_change ON "${table}"`,
    `CREATE TRIGGER ${table}_capture_change AFTER INSERT OR UPDATE OR DELETE ON "${table}"
       FOR EACH ROW WHEN (${isLocalWrite}) EXECUTE FUNCTION empsync_capture_${table}()`,
    // TRUNCATE fires no row trigger: a statement trigger captures it as a versioned delete of every row
    // (one delete version above every row's), with tombstones, before the rows go.
    captureFunction(`empsync_truncate_${table}`, `
       SELECT greatest(${nowMicros}, coalesce(max(sync_version), 0) + 1) INTO delete_version FROM "${table}";
       INSERT INTO sync_outbox (table_name, op, row_id, row_version, base_version, row_origin, row_json)
         SELECT '${table}', 'd', t.id, delete_version, t.sync_version, 'postgres', to_jsonb(t)${leftOut}
           FROM "${table}" t ORDER BY t.id;
       INSERT INTO sync_tombstones (table_name, id, version, origin, seen_version)
         SELECT '${table}', t.id, delete_version, 'postgres', t.sync_seen_version FROM "${table}" t
         ON CONFLICT (table_name, id) DO UPDATE SET version = greatest(sync_tombstones.version, EXCLUDED.version),
           origin = EXCLUDED.origin, seen_version = greatest(sync_tombstones.seen_version, EXCLUDED.seen_version);`),
    `DROP TRIGGER IF EXISTS ${table}_capture_truncate ON "${table}"`,
    `CREATE TRIGGER ${table}_capture_truncate BEFORE TRUNCATE ON "${table}"
       FOR EACH STATEMENT EXECUTE FUNCTION empsync_truncate_${table}()`,
    // Writers wake the relay only while it sleeps (sync_relay_wakeup, migration 003).
    `DROP TRIGGER IF EXISTS ${table}_notify_outbox ON "${table}"`,
    `CREATE TRIGGER ${table}_notify_outbox AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "${table}"
       FOR EACH STATEMENT EXECUTE FUNCTION empsync_notify_outbox()`,
  ];
}

/** A trigger function that captures local writes only (the sink's are neither stamped nor captured). */
function captureFunction(name: string, body: string): string {
  return `CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
     DECLARE delete_version bigint;
     BEGIN
       IF NOT (${isLocalWrite}) THEN
         RETURN NULL;
       END IF;${body}
       RETURN NULL;
     END $$`;
}
