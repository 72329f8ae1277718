// Versioned schema of the MySQL store: the contract's `employes` table with its sync columns, the
// capture triggers writing the outbox, tombstones, sink offsets and the conflict log.
// Runs on MariaDB 10.11 and MySQL 8.4. Ids born here are positive (AUTO_INCREMENT); negative ids are
// reserved for rows born in PostgreSQL, so an explicit id from the sink never moves the counter.
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { mysqlPortableCheck } from './column-types.ts';
import { lockedCapture } from '../../capture/mysql/triggers.ts';
import { employesTable } from '../../tables/employes.ts';
import { declaredSchema } from '../../tables/table-schema.ts';

// HLC tick in microseconds: max(now, previous + 1). NOW(6) reads the session time zone, and
// UNIX_TIMESTAMP reads it back the same way, so the value is the true epoch whatever the zone.
const nowMicros = 'CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)';

const outboxColumns =
  'event_id, op, employe_id, row_version, base_version, row_origin, nom, prenom, email, poste, salaire, department, date_embauche, created_at, updated_at';
const outboxValues = (op: string, ref: 'NEW' | 'OLD', version: string, base: string) =>
  `UUID(), '${op}', ${ref}.id, ${version}, ${base}, 'mysql', ${ref}.nom, ${ref}.prenom, ${ref}.email, ${ref}.poste, ${ref}.salaire, ${ref}.department, ${ref}.date_embauche, ${ref}.created_at, ${ref}.updated_at`;

// Every table names its character set and collation: without them a table takes the database's default,
// which is the server's when the database was made by someone else (the mysql image's MYSQL_DATABASE makes it
// with MySQL 8.4's utf8mb4_0900_ai_ci: case- and accent-insensitive). utf8mb4_bin compares code points, as
// MariaDB does locally and PostgreSQL does (docs/type-mapping.md, "Comparison rules").
export const tableCollation = 'utf8mb4_bin';
const tableOptions = `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${tableCollation}`;

// The version a change replaced ("what it saw"): a sink tells a concurrent change from a later one by it.
const tombstoneOf = (id: string) => `COALESCE((SELECT t.version FROM employes_tombstones t WHERE t.id = ${id}), 0)`;

const statements001 = [
  `CREATE TABLE IF NOT EXISTS employes (
     id INT NOT NULL AUTO_INCREMENT,
     nom VARCHAR(100) NOT NULL,
     prenom VARCHAR(100) NOT NULL,
     email VARCHAR(255) NOT NULL,
     poste VARCHAR(100) NOT NULL,
     salaire DECIMAL(10,2) NOT NULL,
     department VARCHAR(100) NOT NULL,
     date_embauche DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     sync_version BIGINT NOT NULL DEFAULT 0,
     sync_origin VARCHAR(16) NOT NULL DEFAULT 'mysql',
     PRIMARY KEY (id),
     UNIQUE KEY employes_email_key (email),
     KEY employes_department_idx (department)
   ) ${tableOptions}`,
  `CREATE TABLE IF NOT EXISTS employes_outbox (
     seq BIGINT NOT NULL AUTO_INCREMENT,
     event_id CHAR(36) NOT NULL,
     op CHAR(1) NOT NULL,
     employe_id INT NOT NULL,
     row_version BIGINT NOT NULL,
     base_version BIGINT NOT NULL,
     row_origin VARCHAR(16) NOT NULL,
     nom VARCHAR(100) NOT NULL,
     prenom VARCHAR(100) NOT NULL,
     email VARCHAR(255) NOT NULL,
     poste VARCHAR(100) NOT NULL,
     salaire DECIMAL(10,2) NOT NULL,
     department VARCHAR(100) NOT NULL,
     date_embauche DATETIME(6) NOT NULL,
     created_at DATETIME(6) NOT NULL,
     updated_at DATETIME(6) NOT NULL,
     captured_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (seq)
   ) ${tableOptions}`,
  `CREATE TABLE IF NOT EXISTS employes_tombstones (
     id INT NOT NULL,
     version BIGINT NOT NULL,
     origin VARCHAR(16) NOT NULL,
     deleted_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (id)
   ) ${tableOptions}`,
  `CREATE TABLE IF NOT EXISTS sync_offsets (
     consumer_group VARCHAR(200) NOT NULL,
     topic VARCHAR(249) NOT NULL,
     kafka_partition INT NOT NULL,
     next_offset BIGINT NOT NULL,
     updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (consumer_group, topic, kafka_partition)
   ) ${tableOptions}`,
  `CREATE TABLE IF NOT EXISTS sync_conflicts (
     id BIGINT NOT NULL AUTO_INCREMENT,
     employe_id INT NOT NULL,
     kind VARCHAR(16) NOT NULL,
     outcome VARCHAR(32) NOT NULL,
     policy VARCHAR(32) NOT NULL,
     local_version BIGINT NOT NULL,
     local_origin VARCHAR(16) NOT NULL,
     incoming_version BIGINT NOT NULL,
     incoming_origin VARCHAR(16) NOT NULL,
     incoming_row JSON NOT NULL,
     event_id CHAR(36) NOT NULL,
     detected_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (id),
     KEY sync_conflicts_employe_idx (employe_id)
   ) ${tableOptions}`,
  `CREATE TABLE IF NOT EXISTS sync_backfill (
     name VARCHAR(64) NOT NULL,
     last_id INT NULL,
     done TINYINT NOT NULL DEFAULT 0,
     updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (name)
   ) ${tableOptions}`,
  ...captureTriggers(false),
];

/**
 * Capture. @sync_origin is set only by the sink's session: its writes carry the event's version and
 * origin and are not captured again (loop prevention). With `seen` (migration 004), a local change
 * keeps sync_seen_version — the newest PostgreSQL version the row includes — and a tombstone keeps the
 * deleted row's, so a late duplicate of a PostgreSQL change the row already went past is not taken
 * for a concurrent one.
 */
function captureTriggers(seen: boolean): string[] {
  const tombstone = (id: string, version: string, seenVersion: string) =>
    seen
      ? `INSERT INTO employes_tombstones (id, version, origin, seen_version) VALUES (${id}, ${version}, 'mysql', ${seenVersion})
           ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version)), origin = VALUES(origin),
                                   seen_version = GREATEST(seen_version, VALUES(seen_version));`
      : `INSERT INTO employes_tombstones (id, version, origin) VALUES (${id}, ${version}, 'mysql')
           ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version)), origin = VALUES(origin);`;
  const seenOnInsert = seen
    ? `SET NEW.sync_seen_version = COALESCE((SELECT t.seen_version FROM employes_tombstones t WHERE t.id = NEW.id), 0);`
    : '';
  return [
    `DROP TRIGGER IF EXISTS employes_before_insert`,
    `CREATE TRIGGER employes_before_insert BEFORE INSERT ON employes FOR EACH ROW
     BEGIN
       IF @sync_origin IS NULL THEN
         SET NEW.sync_version = GREATEST(${nowMicros},
           COALESCE((SELECT t.version + 1 FROM employes_tombstones t WHERE t.id = NEW.id), 0));
         SET NEW.sync_origin = 'mysql';
         SET NEW.updated_at = NOW(6);
         ${seenOnInsert}
       END IF;
     END`,
    `DROP TRIGGER IF EXISTS employes_after_insert`,
    `CREATE TRIGGER employes_after_insert AFTER INSERT ON employes FOR EACH ROW
     BEGIN
       IF @sync_origin IS NULL THEN
         INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('c', 'NEW', 'NEW.sync_version', tombstoneOf('NEW.id'))});
       END IF;
     END`,
    `DROP TRIGGER IF EXISTS employes_before_update`,
    `CREATE TRIGGER employes_before_update BEFORE UPDATE ON employes FOR EACH ROW
     BEGIN
       IF @sync_origin IS NULL THEN
         SET NEW.sync_version = GREATEST(${nowMicros}, OLD.sync_version + 1);
         SET NEW.sync_origin = 'mysql';
         SET NEW.updated_at = NOW(6);
       END IF;
     END`,
    `DROP TRIGGER IF EXISTS employes_after_update`,
    // An update that changes the id is a delete of the old id and a create of the new one.
    `CREATE TRIGGER employes_after_update AFTER UPDATE ON employes FOR EACH ROW
     BEGIN
       IF @sync_origin IS NULL THEN
         IF NEW.id <> OLD.id THEN
           INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('d', 'OLD', 'NEW.sync_version', 'OLD.sync_version')});
           ${tombstone('OLD.id', 'NEW.sync_version', 'OLD.sync_seen_version')}
           INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('c', 'NEW', 'NEW.sync_version', '0')});
         ELSE
           INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('u', 'NEW', 'NEW.sync_version', 'OLD.sync_version')});
         END IF;
       END IF;
     END`,
    `DROP TRIGGER IF EXISTS employes_after_delete`,
    `CREATE TRIGGER employes_after_delete AFTER DELETE ON employes FOR EACH ROW
     BEGIN
       DECLARE delete_version BIGINT;
       IF @sync_origin IS NULL THEN
         SET delete_version = GREATEST(${nowMicros}, OLD.sync_version + 1);
         INSERT INTO employes_outbox (${outboxColumns}) VALUES (${outboxValues('d', 'OLD', 'delete_version', 'OLD.sync_version')});
         ${tombstone('OLD.id', 'delete_version', 'OLD.sync_seen_version')}
       END IF;
     END`,
  ];
}

// ---- 004: what each row has seen of the other store (sync_seen_version), for the version guard ----

async function migrate004(db: Kysely<unknown>): Promise<void> {
  // Each step reads information_schema first: MySQL DDL is not transactional, so a half-run migration re-runs.
  const columnsOf = (table: string) =>
    existing(db, 'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', table);
  if (!(await columnsOf('employes')).has('sync_seen_version')) {
    await run(db, [`ALTER TABLE employes ADD COLUMN sync_seen_version BIGINT NOT NULL DEFAULT 0 AFTER sync_origin`]);
    // A row PostgreSQL wrote last holds PostgreSQL's version; rows MySQL wrote last start knowing none.
    await run(db, [`UPDATE employes SET sync_seen_version = sync_version WHERE sync_origin = 'postgres'`]);
  }
  // Gone once 005 moved the tombstones into sync_tombstones (a re-run of 004 after 005 skips it).
  const tombstones = await columnsOf('employes_tombstones');
  if (tombstones.size > 0 && !tombstones.has('seen_version')) {
    await run(db, [
      `ALTER TABLE employes_tombstones ADD COLUMN seen_version BIGINT NOT NULL DEFAULT 0`,
      `UPDATE employes_tombstones SET seen_version = version WHERE origin = 'postgres'`,
    ]);
  }
  await run(db, captureTriggers(true));
}

async function run(db: Kysely<unknown>, statements: string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

// ---- 002: nothing silently lost (offsets bound to their log, dead letters, portable values) ----

const outboxRowColumns = [
  'nom VARCHAR(100)', 'prenom VARCHAR(100)', 'email VARCHAR(255)', 'poste VARCHAR(100)', 'salaire DECIMAL(10,2)',
  'department VARCHAR(100)', 'date_embauche DATETIME(6)', 'created_at DATETIME(6)', 'updated_at DATETIME(6)',
];

const statements002 = [
  `CREATE TABLE IF NOT EXISTS sync_dead_letters (
     id BIGINT NOT NULL AUTO_INCREMENT,
     stage VARCHAR(8) NOT NULL,
     source_key VARCHAR(400) NOT NULL,
     source TEXT NOT NULL,
     event_id VARCHAR(64) NULL,
     employe_id INT NULL,
     op CHAR(1) NULL,
     row_version BIGINT NULL,
     row_origin VARCHAR(16) NULL,
     code VARCHAR(64) NOT NULL,
     reason TEXT NOT NULL,
     payload LONGTEXT NOT NULL,
     payload_encoding VARCHAR(8) NOT NULL,
     status VARCHAR(16) NOT NULL DEFAULT 'parked',
     seen_count INT NOT NULL DEFAULT 1,
     first_seen_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     last_seen_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     resolved_at DATETIME(6) NULL,
     last_error TEXT NULL,
     PRIMARY KEY (id),
     UNIQUE KEY sync_dead_letters_source_key (source_key),
     KEY sync_dead_letters_status_idx (status, id)
   ) ${tableOptions}`,
  `CREATE TABLE IF NOT EXISTS sync_log_identity (
     topic VARCHAR(249) NOT NULL,
     log_id VARCHAR(100) NOT NULL,
     updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (topic)
   ) ${tableOptions}`,
  // A delete re-published from a tombstone carries no row.
  `ALTER TABLE employes_outbox ${outboxRowColumns.map((column) => `MODIFY ${column} NULL`).join(', ')}`,
];

/** The CHECK each portable column needs here: MySQL holds U+0000 in text and, in MariaDB, zero dates. */
function portableChecks(): { name: string; check: string }[] {
  return employesTable('').columns.flatMap((column) => {
    const check = mysqlPortableCheck(column);
    return check === null ? [] : [{ name: `employes_${column.name}_portable`, check }];
  });
}

async function existing(db: Kysely<unknown>, query: string, table: string): Promise<Set<string>> {
  const { rows } = await sql.raw<{ name: string }>(query.replace('?', `'${table}'`)).execute(db);
  return new Set(rows.map((r) => r.name));
}

async function migrate002(db: Kysely<unknown>): Promise<void> {
  await run(db, statements002);
  // Each step checks what exists first: MySQL DDL is not transactional, so a half-run migration re-runs.
  const columns = await existing(
    db,
    'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    'sync_offsets',
  );
  if (!columns.has('log_id')) await run(db, [`ALTER TABLE sync_offsets ADD COLUMN log_id VARCHAR(100) NOT NULL DEFAULT ''`]);
  const constraints = await existing(
    db,
    `SELECT CONSTRAINT_NAME AS name FROM information_schema.TABLE_CONSTRAINTS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_TYPE = 'CHECK'`,
    'employes',
  );
  const missing = portableChecks().filter(({ name }) => !constraints.has(name));
  if (missing.length === 0) return;
  // MariaDB can add the constraints without judging the rows already there (those the relay parks);
  // MySQL checks them, and names the constraint an existing row breaks.
  const { rows } = await sql<{ version: string }>`SELECT VERSION() AS version`.execute(db);
  const mariadb = /mariadb/i.test(rows[0]?.version ?? '');
  const alter = `ALTER TABLE employes ${missing.map(({ name, check }) => `ADD CONSTRAINT ${name} CHECK (${check})`).join(', ')}`;
  // One session: the setting must hold for the ALTER that follows it.
  await db.connection().execute(async (session) => {
    if (mariadb) await sql`SET SESSION check_constraint_checks = 0`.execute(session);
    try {
      await run(session, [alter]);
    } finally {
      if (mariadb) await sql`SET SESSION check_constraint_checks = 1`.execute(session);
    }
  });
}

// ---- 003: explicit collations. Before 001 and 002 named theirs, six tables took the database default:
// utf8mb4_bin where ensureDatabases made the database, utf8mb4_0900_ai_ci where the mysql image did. ----

/**
 * The tables the migrations create (kysely's own bookkeeping tables aside): 003 brings each that exists to
 * tableCollation. employes_outbox and employes_tombstones were replaced by 005's shared tables.
 */
export const mysqlTables = [
  'employes',
  'employes_outbox',
  'employes_tombstones',
  'sync_offsets',
  'sync_conflicts',
  'sync_backfill',
  'sync_dead_letters',
  'sync_log_identity',
  'sync_outbox',
  'sync_tombstones',
  'sync_capture',
  'sync_drift',
] as const;

async function migrate003(db: Kysely<unknown>): Promise<void> {
  // Each step reads information_schema first: MySQL DDL is not transactional, so a half-run migration re-runs.
  const { rows } = await sql<{ collation: string }>`
    SELECT DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()`.execute(db);
  // The database default decides what a table created later without a collation gets.
  if (rows[0]?.collation !== tableCollation) {
    await run(db, [`ALTER DATABASE CHARACTER SET utf8mb4 COLLATE ${tableCollation}`]);
  }
  // CONVERT TO rewrites the table default and every text column; a table already right is left alone.
  for (const table of await tablesWithOtherCollation(db)) {
    await run(db, [`ALTER TABLE ${table} CONVERT TO CHARACTER SET utf8mb4 COLLATE ${tableCollation}`]);
  }
}

/** The tables of mysqlTables whose default collation, or one of whose text columns, is not tableCollation. */
export async function tablesWithOtherCollation(db: Kysely<unknown>): Promise<string[]> {
  const tables = sql.join(mysqlTables.map((table) => sql`${table}`));
  const { rows } = await sql<{ name: string }>`
    SELECT TABLE_NAME AS name FROM information_schema.TABLES
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${tables}) AND TABLE_COLLATION <> ${tableCollation}
    UNION
    SELECT TABLE_NAME FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${tables}) AND COLLATION_NAME <> ${tableCollation}`.execute(db);
  return rows.map((r) => r.name).sort();
}

// ---- 005: one outbox and one tombstone table for every synced table; capture generated from the schema ----

const statements005 = [
  `CREATE TABLE IF NOT EXISTS sync_outbox (
     seq BIGINT NOT NULL AUTO_INCREMENT,
     event_id CHAR(36) NOT NULL,
     table_name VARCHAR(64) NOT NULL,
     op CHAR(1) NOT NULL,
     row_id INT NOT NULL,
     row_version BIGINT NOT NULL,
     base_version BIGINT NOT NULL,
     row_origin VARCHAR(16) NOT NULL,
     row_json LONGTEXT NULL,
     captured_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (seq)
   ) ${tableOptions}`,
  `CREATE TABLE IF NOT EXISTS sync_tombstones (
     table_name VARCHAR(64) NOT NULL,
     id INT NOT NULL,
     version BIGINT NOT NULL,
     origin VARCHAR(16) NOT NULL,
     seen_version BIGINT NOT NULL DEFAULT 0,
     deleted_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (table_name, id)
   ) ${tableOptions}`,
  // The columns each table's capture triggers were last generated with (the schema keeper compares).
  `CREATE TABLE IF NOT EXISTS sync_capture (
     table_name VARCHAR(64) NOT NULL,
     schema_version VARCHAR(64) NOT NULL,
     columns_json TEXT NOT NULL,
     installed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (table_name)
   ) ${tableOptions}`,
];

/**
 * Moves employes' own outbox and tombstones into the shared ones and replaces its hand-written triggers
 * with the generated capture, all under LOCK TABLES: no write is captured by neither set of triggers.
 */
async function migrate005(db: Kysely<unknown>): Promise<void> {
  await run(db, statements005);
  for (const [table, column] of [
    ['sync_dead_letters', 'table_name'],
    ['sync_conflicts', 'table_name'],
  ] as const) {
    const columns = await existing(db, 'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', table);
    if (!columns.has(column)) await run(db, [`ALTER TABLE ${table} ADD COLUMN ${column} VARCHAR(64) NOT NULL DEFAULT 'employes'`]);
  }
  const tables = await existing(db, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?', 'employes_%');
  const schema = declaredSchema(employesTable(''));
  const legacy = ['employes_outbox', 'employes_tombstones'].filter((t) => tables.has(t));
  const json = `JSON_OBJECT(${schema.columns.map((c) => `'${c.name}', \`${c.name}\``).join(', ')})`;
  const [capture, ...rest] = lockedCapture(schema, legacy);
  const unlock = rest.pop()!;
  await db.connection().execute(async (session) => {
    await run(session, [capture!]);
    try {
      if (tables.has('employes_tombstones')) {
        await run(session, [
          `INSERT IGNORE INTO sync_tombstones (table_name, id, version, origin, seen_version, deleted_at)
           SELECT 'employes', id, version, origin, seen_version, deleted_at FROM employes_tombstones`,
        ]);
      }
      if (tables.has('employes_outbox')) {
        // Changes captured but not yet published keep their order.
        await run(session, [
          `INSERT INTO sync_outbox (event_id, table_name, op, row_id, row_version, base_version, row_origin, row_json, captured_at)
           SELECT event_id, 'employes', op, employe_id, row_version, base_version, row_origin,
                  IF(nom IS NULL, NULL, ${json}), captured_at
             FROM employes_outbox ORDER BY seq`,
        ]);
      }
      await run(session, rest);
    } finally {
      await run(session, [unlock]);
    }
  });
  if (legacy.length) await run(db, [`DROP TABLE IF EXISTS ${legacy.join(', ')}`]);
  // Re-publish runs into a new log are per table now.
  await run(db, [`UPDATE sync_backfill SET name = 'log-reset:employes' WHERE name = 'log-reset'`]);
}

// ---- 006: the drift check's last complete pass, per table, for every process to read ----

const statements006 = [
  `CREATE TABLE IF NOT EXISTS sync_drift (
     table_name VARCHAR(64) NOT NULL,
     drift_rows INT NOT NULL,
     last_pass_at DATETIME(6) NOT NULL,
     pass_seconds DOUBLE NOT NULL,
     interval_ms INT NOT NULL,
     PRIMARY KEY (table_name)
   ) ${tableOptions}`,
];

// ---- 007: snapshots that read the table (not copy it into the outbox): what each run covers and its progress ----

const snapshotColumns007: [string, string][] = [
  ['table_name', 'VARCHAR(64) NULL'],
  ['published', 'BIGINT NOT NULL DEFAULT 0'],
  ['total', 'BIGINT NULL'],
  ['started_at', 'DATETIME(6) NULL'],
];

async function migrate007(db: Kysely<unknown>): Promise<void> {
  // The columns it lacks only: MySQL DDL is not transactional, so a half-run migration re-runs.
  const columns = await existing(
    db,
    'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    'sync_backfill',
  );
  const missing = snapshotColumns007.filter(([name]) => !columns.has(name));
  if (missing.length) await run(db, [`ALTER TABLE sync_backfill ${missing.map(([name, type]) => `ADD COLUMN ${name} ${type}`).join(', ')}`]);
}

// ---- 008: the divergent rows of the drift check's last pass (the console shows them) ----

async function migrate008(db: Kysely<unknown>): Promise<void> {
  const columns = await existing(
    db,
    'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    'sync_drift',
  );
  if (!columns.has('divergences')) await run(db, ['ALTER TABLE sync_drift ADD COLUMN divergences LONGTEXT NULL']);
}

// ---- 009: the capture triggers write no event id (the relay derives it: src/store/event-id.ts) ----

async function migrate009(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ nullable: string }>`
    SELECT IS_NULLABLE AS nullable FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_outbox' AND COLUMN_NAME = 'event_id'`.execute(db);
  if (rows[0]?.nullable === 'NO') await run(db, ['ALTER TABLE sync_outbox MODIFY event_id CHAR(36) NULL']);
}

export const mysqlMigrations: Record<string, Migration> = {
  '001_employes_sync': { up: (db) => run(db, statements001) },
  '002_offsets_log_dead_letters_portable_values': { up: migrate002 },
  '003_explicit_collations': { up: migrate003 },
  '004_seen_versions': { up: migrate004 },
  '005_shared_outbox_generated_capture': { up: migrate005 },
  '006_drift_status': { up: (db) => run(db, statements006) },
  '007_snapshot_progress': { up: migrate007 },
  '008_drift_divergences': { up: migrate008 },
  '009_derived_event_ids': { up: migrate009 },
};
