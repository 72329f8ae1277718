// The schema keeper's side of the PostgreSQL store: the catalog of a synced table
// (information_schema), its creation from a declaration (ids from a descending sequence), new columns,
// and its capture triggers (replaced in one transaction).
import { sql, type Kysely } from 'kysely';
import { postgresCaptureRevision, postgresCaptureTriggers } from '../../capture/postgres/triggers.ts';
import type { ColumnDeclaration, TableDeclaration } from '../../tables/declaration.ts';
import type { LiveColumn, SchemaColumn, TableSchema } from '../../tables/table-schema.ts';
import { capturedColumns, columnValues, fillColumn, recordCapture } from '../kysely/capture-record.ts';
import { pendingMigrations } from '../kysely/migrate.ts';
import type { ColumnValue, SchemaPort } from '../ports.ts';
import type { Database } from '../schema.ts';
import { postgresMigrations } from './migrations.ts';
import { asSink } from './sink-session.ts';
import { logicalType, postgresColumnDefinition, postgresPortableCheck } from './column-types.ts';

export class PostgresSchema implements SchemaPort {
  readonly name = 'postgres' as const;
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async columns(table: string): Promise<LiveColumn[] | null> {
    const { rows } = await sql<{
      name: string;
      dataType: string;
      udt: string;
      length: number | null;
      precision: number | null;
      scale: number | null;
      nullable: string;
    }>`
      SELECT column_name AS name, data_type AS "dataType", udt_name AS udt, character_maximum_length AS length,
             numeric_precision AS precision, numeric_scale AS scale, is_nullable AS nullable
        FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = ${table}
       ORDER BY ordinal_position`.execute(this.#db);
    if (rows.length === 0) return null;
    return rows.map((r) => ({
      name: r.name,
      type: logicalType(r),
      engineType: r.dataType === 'USER-DEFINED' || r.dataType === 'ARRAY' ? r.udt : r.dataType,
      nullable: r.nullable === 'YES',
    }));
  }

  async readyForChanges(): Promise<boolean> {
    if ((await pendingMigrations(this.#db, postgresMigrations)).length > 0) return false;
    // pg_restore names its sessions: a restore of this database is under way.
    const { rows } = await sql<{ n: string }>`
      SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pg_restore'`.execute(this.#db);
    return Number(rows[0]!.n) === 0;
  }

  async createTable(table: TableDeclaration): Promise<void> {
    const sequence = `${table.name}_id_seq`;
    const checks = table.columns.flatMap((c) => {
      const check = postgresPortableCheck(c);
      return check ? [`CONSTRAINT ${table.name}_${c.name}_portable CHECK (${check})`] : [];
    });
    const definition = [
      `id integer PRIMARY KEY DEFAULT nextval('${sequence}')`,
      ...table.columns.map(postgresColumnDefinition),
      'sync_version bigint NOT NULL DEFAULT 0',
      "sync_origin varchar(16) NOT NULL DEFAULT 'postgres'",
      'sync_seen_version bigint NOT NULL DEFAULT 0',
      ...table.unique.map((c) => `CONSTRAINT ${table.name}_${c}_key UNIQUE ("${c}")`),
      ...checks,
    ];
    await this.#db.transaction().execute(async (trx) => {
      // Ids born here are negative, so they never meet MySQL's positive AUTO_INCREMENT range.
      await sql.raw(`CREATE SEQUENCE IF NOT EXISTS "${sequence}" AS integer INCREMENT BY -1 MINVALUE -2147483648 MAXVALUE -1 START WITH -1`).execute(trx);
      await sql.raw(`CREATE TABLE IF NOT EXISTS "${table.name}" (\n  ${definition.join(',\n  ')}\n)`).execute(trx);
      await sql.raw(`ALTER SEQUENCE "${sequence}" OWNED BY "${table.name}".id`).execute(trx);
      for (const index of table.indexes) {
        await sql.raw(`CREATE INDEX IF NOT EXISTS ${index.name} ON "${table.name}" (${index.columns.map((c) => `"${c}"`).join(', ')})`).execute(trx);
      }
    });
  }

  async addColumn(table: string, column: ColumnDeclaration): Promise<void> {
    const check = postgresPortableCheck(column);
    await this.#db.transaction().execute(async (trx) => {
      await sql.raw(`ALTER TABLE "${table}" ADD COLUMN IF NOT EXISTS ${postgresColumnDefinition(column)}`).execute(trx);
      if (check) await sql.raw(`ALTER TABLE "${table}" ADD CONSTRAINT ${table}_${column.name}_portable CHECK (${check}) NOT VALID`).execute(trx);
    });
  }

  async dropColumn(table: string, column: string): Promise<void> {
    // Its CHECK constraint goes with it.
    await sql.raw(`ALTER TABLE "${table}" DROP COLUMN IF EXISTS "${column}"`).execute(this.#db);
  }

  async installCapture(schema: TableSchema, without: readonly string[] = []): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      for (const statement of postgresCaptureTriggers(schema, without)) await sql.raw(statement).execute(trx);
      await recordCapture(
        trx,
        schema,
        schema.columns.filter((c) => !without.includes(c.name)).map((c) => c.name),
        postgresCaptureRevision,
      );
    });
  }

  capturedColumns(table: string): Promise<string[] | null> {
    return capturedColumns(this.#db, table, postgresCaptureRevision);
  }

  columnValues(table: string, column: SchemaColumn, afterId: number | null, limit: number, upToId?: number): Promise<ColumnValue[]> {
    return columnValues(this.#db, table, column, afterId, limit, upToId);
  }

  fillColumn(table: string, column: SchemaColumn, rows: readonly ColumnValue[]): Promise<number> {
    return fillColumn(this.#db, asSink, table, column, rows, (text) => text);
  }
}
