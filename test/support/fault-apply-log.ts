// The apply log of the fault suite: test-only triggers in both stores that record every row a sink
// writes (an upsert of employes, a tombstone of a delete) with its version, so that a change applied
// twice shows as the same (id, version) twice (findDoubleApplies in assertions.ts). Lives in the
// table it audits' database: a dump and its restore carry it along.
import { sql } from 'kysely';
import type { Stores } from '../../src/store/create-stores.ts';
import { applyLogTable } from './assertions.ts';

/** A sink's email parking (`#parked#<id>`) rewrites a row without a new version: not an apply. */
const postgresStatements = [
  `CREATE TABLE ${applyLogTable} (id integer NOT NULL, version bigint NOT NULL, op char(1) NOT NULL,
     logged_at timestamptz(6) NOT NULL DEFAULT clock_timestamp())`,
  `CREATE FUNCTION test_log_row_apply() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF current_setting('app.sync_origin', true) = 'sink' AND NEW.email NOT LIKE '#parked#%' THEN
       INSERT INTO ${applyLogTable} (id, version, op) VALUES (NEW.id, NEW.sync_version, 'w');
     END IF;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER test_log_row_apply AFTER INSERT OR UPDATE ON employes FOR EACH ROW EXECUTE FUNCTION test_log_row_apply()`,
  `CREATE FUNCTION test_log_delete_apply() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF current_setting('app.sync_origin', true) = 'sink' THEN
       INSERT INTO ${applyLogTable} (id, version, op) VALUES (NEW.id, NEW.version, 'd');
     END IF;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER test_log_delete_apply AFTER INSERT OR UPDATE ON sync_tombstones FOR EACH ROW
     EXECUTE FUNCTION test_log_delete_apply()`,
];

const mysqlStatements = [
  `CREATE TABLE ${applyLogTable} (id INT NOT NULL, version BIGINT NOT NULL, op CHAR(1) NOT NULL,
     logged_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB`,
  ...['INSERT', 'UPDATE'].flatMap((event) => [
    `CREATE TRIGGER test_log_row_apply_${event.toLowerCase()} AFTER ${event} ON employes FOR EACH ROW
     BEGIN
       IF @sync_origin = 'sink' AND NEW.email NOT LIKE '#parked#%' THEN
         INSERT INTO ${applyLogTable} (id, version, op) VALUES (NEW.id, NEW.sync_version, 'w');
       END IF;
     END`,
    `CREATE TRIGGER test_log_delete_apply_${event.toLowerCase()} AFTER ${event} ON sync_tombstones FOR EACH ROW
     BEGIN
       IF @sync_origin = 'sink' THEN
         INSERT INTO ${applyLogTable} (id, version, op) VALUES (NEW.id, NEW.version, 'd');
       END IF;
     END`,
  ]),
];

/** Installs the apply log in both stores of a freshly migrated pair of databases. */
export async function installApplyLog(stores: Stores): Promise<void> {
  for (const statement of postgresStatements) await sql.raw(statement).execute(stores.postgres.db);
  for (const statement of mysqlStatements) await sql.raw(statement).execute(stores.mysql.db);
}
