// Capture in MySQL / MariaDB, generated from a table's schema: triggers that stamp each local write
// with its version (a hybrid logical clock: max(now, previous + 1)), origin and update time, and write
// the change — the row as JSON — into sync_outbox in the same transaction. The sink's session sets
// @sync_origin: its writes are neither stamped nor captured (loop prevention). MySQL has no row-to-JSON,
// so the triggers list the columns: they are generated again when the schema changes. They write no
// event id: the relay derives it from the change (src/store/event-id.ts).
import type { TableSchema } from '../../tables/table-schema.ts';
import { trailingSpaceMessage } from '../../tables/values.ts';

// HLC tick in microseconds. NOW(6) reads the session time zone and UNIX_TIMESTAMP reads it back the same
// way, so the value is the true epoch whatever the zone.
const nowMicros = 'CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)';

/**
 * The row as a JSON object of the schema's columns (`ref` names the row: NEW, OLD, or a table alias).
 * Numbers are written as their text: the relay then reads every value exactly with a plain JSON parse.
 */
export function mysqlRowJson(schema: TableSchema, ref: string): string {
  const value = (c: TableSchema['columns'][number]) => {
    const column = `${ref}.\`${c.name}\``;
    return ['text', 'timestamp', 'date'].includes(c.type.kind) ? column : `CAST(${column} AS CHAR)`;
  };
  return `JSON_OBJECT(${schema.columns.map((c) => `'${c.name}', ${value(c)}`).join(', ')})`;
}

/** The revision of what this file generates: a capture of another revision is generated again. */
export const mysqlCaptureRevision = 'mysql-5';

/** The tables the triggers of `table` write: locked with it while the triggers are replaced. */
export const captureTables = ['sync_outbox', 'sync_tombstones'] as const;

/**
 * The statements that (re)create the capture triggers of a table. MySQL cannot replace a trigger in
 * one statement: run them under LOCK TABLES (see lockedCapture) so no write slips between two triggers.
 */
export function mysqlCaptureTriggers(schema: TableSchema): string[] {
  const table = schema.table.name;
  const json = (ref: 'NEW' | 'OLD') => mysqlRowJson(schema, ref);
  const tombstoneVersion = (id: string) => `(SELECT t.version FROM sync_tombstones t WHERE t.table_name = '${table}' AND t.id = ${id})`;
  const outbox = (op: string, ref: 'NEW' | 'OLD', version: string, base: string) =>
    `INSERT INTO sync_outbox (table_name, op, row_id, row_version, base_version, row_origin, row_json)
       VALUES ('${table}', '${op}', ${ref}.id, ${version}, ${base}, 'mysql', ${json(ref)});`;
  const bury = (id: string, version: string) =>
    `INSERT INTO sync_tombstones (table_name, id, version, origin, seen_version) VALUES ('${table}', ${id}, ${version}, 'mysql', OLD.sync_seen_version)
       ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version)), origin = VALUES(origin),
                               seen_version = GREATEST(seen_version, VALUES(seen_version));`;
  const stampUpdated = schema.columns
    .filter((c) => c.role === 'updated-at')
    .map((c) => `SET NEW.\`${c.name}\` = UTC_TIMESTAMP(6);`)
    .join(' ');
  // DATETIME has no time zone: empsync keeps UTC in it. A writer whose session is in another zone wrote
  // its local time (NOW(), CURRENT_TIMESTAMP defaults, or a literal read in its zone, as MySQL's
  // TIMESTAMP type reads one): it is turned into UTC before the row is stored and captured. CONVERT_TZ
  // leaves values outside 1970–2038 as they are; those are shifted by the session's current offset.
  const offset = 'TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())';
  const instants = schema.columns.filter((c) => c.type.kind === 'timestamp');
  const toUtc = (onlyChanged: boolean) =>
    instants.length === 0
      ? ''
      : `IF ${offset} <> 0 THEN
           ${instants
             .map((c) => {
               const ref = `NEW.\`${c.name}\``;
               const convert = `SET ${ref} = IF(${ref} BETWEEN '1970-01-02' AND '2038-01-18', CONVERT_TZ(${ref}, @@session.time_zone, '+00:00'), ${ref} - INTERVAL ${offset} SECOND);`;
               return onlyChanged ? `IF NOT (${ref} <=> OLD.\`${c.name}\`) THEN ${convert} END IF;` : convert;
             })
             .join('\n           ')}
         END IF;`;
  // A unique text value ending with a space is equal to the same text without it for MySQL's PAD SPACE
  // collation and different for PostgreSQL's: the two engines would disagree on which row is "the same".
  const uniqueText = schema.columns.filter((c) => c.type.kind === 'text' && schema.table.unique.includes(c.name));
  const refuseTrailingSpace = (onlyChanged: boolean) =>
    uniqueText
      .map((c) => {
        const ref = `NEW.\`${c.name}\``;
        // Compared as bytes: PAD SPACE takes 'a ' for 'a'.
        const changed = onlyChanged ? ` AND NOT (CAST(${ref} AS BINARY) <=> CAST(OLD.\`${c.name}\` AS BINARY))` : '';
        return `IF ${ref} LIKE '% '${changed} THEN
           SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '${trailingSpaceMessage(table, c.name)}';
         END IF;`;
      })
      .join('\n         ');
  const trigger = (name: string, timing: string, body: string) => [
    `DROP TRIGGER IF EXISTS ${table}_${name}`,
    `CREATE TRIGGER ${table}_${name} ${timing} ON \`${table}\` FOR EACH ROW
     BEGIN
       ${body}
     END`,
  ];
  return [
    // A row re-created under the id of a deleted one gets a version above its tombstone's. An id the
    // table generates (AUTO_INCREMENT: NEW.id is still 0 before the insert) was never deleted: the
    // tombstone lookups, a quarter of the trigger's cost, are made only for ids the writer gives.
    // (One aggregate read for both values: no row gives NULLs, without the warning SELECT … INTO gives.)
    ...trigger(
      'before_insert',
      'BEFORE INSERT',
      `DECLARE buried_version BIGINT DEFAULT NULL;
       DECLARE buried_seen BIGINT DEFAULT NULL;
       IF @sync_origin IS NULL THEN
         IF NEW.id IS NOT NULL AND NEW.id <> 0 THEN
           SELECT MAX(t.version), MAX(t.seen_version) INTO buried_version, buried_seen
             FROM sync_tombstones t WHERE t.table_name = '${table}' AND t.id = NEW.id;
         END IF;
         SET NEW.sync_version = GREATEST(${nowMicros}, COALESCE(buried_version + 1, 0));
         SET NEW.sync_origin = 'mysql';
         SET NEW.sync_seen_version = COALESCE(buried_seen, 0);
         ${refuseTrailingSpace(false)}
         ${toUtc(false)}
         ${stampUpdated}
       END IF;`,
    ),
    ...trigger(
      'after_insert',
      'AFTER INSERT',
      `IF @sync_origin IS NULL THEN
         ${outbox('c', 'NEW', 'NEW.sync_version', `COALESCE(${tombstoneVersion('NEW.id')}, 0)`)}
       END IF;`,
    ),
    ...trigger(
      'before_update',
      'BEFORE UPDATE',
      `IF @sync_origin IS NULL THEN
         SET NEW.sync_version = GREATEST(${nowMicros}, OLD.sync_version + 1);
         SET NEW.sync_origin = 'mysql';
         ${refuseTrailingSpace(true)}
         ${toUtc(true)}
         ${stampUpdated}
       END IF;`,
    ),
    // An update that changes the id is a delete of the old id and a create of the new one.
    ...trigger(
      'after_update',
      'AFTER UPDATE',
      `IF @sync_origin IS NULL THEN
         IF NEW.id <> OLD.id THEN
           ${outbox('d', 'OLD', 'NEW.sync_version', 'OLD.sync_version')}
           ${bury('OLD.id', 'NEW.sync_version')}
           ${outbox('c', 'NEW', 'NEW.sync_version', '0')}
         ELSE
           ${outbox('u', 'NEW', 'NEW.sync_version', 'OLD.sync_version')}
         END IF;
       END IF;`,
    ),
    ...trigger(
      'after_delete',
      'AFTER DELETE',
      `DECLARE delete_version BIGINT;
       IF @sync_origin IS NULL THEN
         SET delete_version = GREATEST(${nowMicros}, OLD.sync_version + 1);
         ${outbox('d', 'OLD', 'delete_version', 'OLD.sync_version')}
         ${bury('OLD.id', 'delete_version')}
       END IF;`,
    ),
  ];
}

/** The capture triggers wrapped in LOCK TABLES: writers wait the few milliseconds it takes. */
export function lockedCapture(schema: TableSchema, alsoLock: readonly string[] = []): string[] {
  const locks = [schema.table.name, ...captureTables, ...alsoLock].map((t) => `\`${t}\` WRITE`).join(', ');
  return [`LOCK TABLES ${locks}`, ...mysqlCaptureTriggers(schema), 'UNLOCK TABLES'];
}
