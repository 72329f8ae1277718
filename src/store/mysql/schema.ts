// The schema keeper's side of the MySQL store: the catalog of a synced table (information_schema),
// its creation from a declaration, new columns, and its capture triggers (replaced under LOCK TABLES).
import { sql, type Kysely } from 'kysely';
import { lockedCapture, mysqlCaptureRevision } from '../../capture/mysql/triggers.ts';
import type { ColumnDeclaration, TableDeclaration } from '../../tables/declaration.ts';
import type { LiveColumn, SchemaColumn, TableSchema } from '../../tables/table-schema.ts';
import { capturedColumns, columnValues, fillColumn, recordCapture } from '../kysely/capture-record.ts';
import { pendingMigrations } from '../kysely/migrate.ts';
import type { ColumnValue, SchemaPort } from '../ports.ts';
import type { Database } from '../schema.ts';
import { asSink } from './sink-session.ts';
import { logicalType, mysqlColumnDefinition, mysqlPortableCheck, mysqlValue } from './column-types.ts';
import { mysqlMigrations, tableCollation } from './migrations.ts';

const tableOptions = `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${tableCollation}`;

export class MysqlSchema implements SchemaPort {
  readonly name = 'mysql' as const;
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async columns(table: string): Promise<LiveColumn[] | null> {
    const { rows } = await sql<{
      name: string;
      dataType: string;
      columnType: string;
      length: number | string | null;
      precision: number | string | null;
      scale: number | string | null;
      nullable: string;
    }>`
      SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType,
             CHARACTER_MAXIMUM_LENGTH AS length, NUMERIC_PRECISION AS \`precision\`, NUMERIC_SCALE AS scale,
             IS_NULLABLE AS nullable
        FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table}
       ORDER BY ORDINAL_POSITION`.execute(this.#db);
    if (rows.length === 0) return null;
    const number = (value: number | string | null) => (value === null ? null : Number(value));
    return rows.map((r) => ({
      name: r.name,
      type: logicalType({ name: r.name, dataType: r.dataType, columnType: r.columnType, length: number(r.length), precision: number(r.precision), scale: number(r.scale) }),
      engineType: r.columnType,
      nullable: r.nullable === 'YES',
    }));
  }

  async readyForChanges(): Promise<boolean> {
    if ((await pendingMigrations(this.#db, mysqlMigrations)).length > 0) return false;
    return true;
  }

  async createTable(table: TableDeclaration): Promise<void> {
    const checks = table.columns.flatMap((c) => {
      const check = mysqlPortableCheck(c);
      return check ? [`CONSTRAINT ${table.name}_${c.name}_portable CHECK (${check})`] : [];
    });
    const definition = [
      'id INT NOT NULL AUTO_INCREMENT',
      ...table.columns.map(mysqlColumnDefinition),
      'sync_version BIGINT NOT NULL DEFAULT 0',
      "sync_origin VARCHAR(16) NOT NULL DEFAULT 'mysql'",
      'sync_seen_version BIGINT NOT NULL DEFAULT 0',
      'PRIMARY KEY (id)',
      ...table.unique.map((c) => `UNIQUE KEY ${table.name}_${c}_key (\`${c}\`)`),
      ...table.indexes.map((i) => `KEY ${i.name} (${i.columns.map((c) => `\`${c}\``).join(', ')})`),
      ...checks,
    ];
    await sql.raw(`CREATE TABLE IF NOT EXISTS \`${table.name}\` (\n  ${definition.join(',\n  ')}\n) ${tableOptions}`).execute(this.#db);
  }

  async addColumn(table: string, column: ColumnDeclaration): Promise<void> {
    const check = mysqlPortableCheck(column);
    const constraint = check ? `, ADD CONSTRAINT ${table}_${column.name}_portable CHECK (${check})` : '';
    await sql.raw(`ALTER TABLE \`${table}\` ADD COLUMN ${mysqlColumnDefinition(column)}${constraint}`).execute(this.#db);
  }

  async dropColumn(table: string, column: string): Promise<void> {
    const { rows } = await sql<{ name: string }>`
      SELECT CONSTRAINT_NAME AS name FROM information_schema.TABLE_CONSTRAINTS
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} AND CONSTRAINT_NAME = ${`${table}_${column}_portable`}`.execute(this.#db);
    const columns = await this.columns(table);
    if (!columns?.some((c) => c.name === column)) return;
    // MySQL refuses to drop a column a CHECK constraint names: the constraint goes in the same statement.
    const constraint = rows.length ? `DROP CONSTRAINT \`${table}_${column}_portable\`, ` : '';
    await sql.raw(`ALTER TABLE \`${table}\` ${constraint}DROP COLUMN \`${column}\``).execute(this.#db);
  }

  async installCapture(schema: TableSchema, without: readonly string[] = []): Promise<void> {
    const captured = { ...schema, columns: schema.columns.filter((c) => !without.includes(c.name)) };
    const [lock, ...statements] = lockedCapture(captured);
    const unlock = statements.pop()!;
    // One session: LOCK TABLES holds for the statements that follow it.
    await this.#db.connection().execute(async (session) => {
      await sql.raw(lock!).execute(session);
      try {
        for (const statement of statements) await sql.raw(statement).execute(session);
      } finally {
        await sql.raw(unlock).execute(session);
      }
    });
    await recordCapture(
      this.#db,
      schema,
      captured.columns.map((c) => c.name),
      mysqlCaptureRevision,
    );
  }

  capturedColumns(table: string): Promise<string[] | null> {
    return capturedColumns(this.#db, table, mysqlCaptureRevision);
  }

  columnValues(table: string, column: SchemaColumn, afterId: number | null, limit: number, upToId?: number): Promise<ColumnValue[]> {
    return columnValues(this.#db, table, column, afterId, limit, upToId);
  }

  fillColumn(table: string, column: SchemaColumn, rows: readonly ColumnValue[]): Promise<number> {
    return fillColumn(this.#db, asSink, table, column, rows, (text) => mysqlValue(column.type, text));
  }
}
