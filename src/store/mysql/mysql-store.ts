// The MySQL store (MySQL 8.4 or MariaDB 10.11): the write model of the API and one end of two-way sync,
// as the ports each stage uses (src/store/ports.ts). All MySQL-dialect SQL of empsync lives in this folder
// and in src/capture/mysql/.
import { Kysely, MysqlDialect, sql, type Transaction } from 'kysely';
import { createPool } from 'mysql2';
import { databaseName } from '../../config.ts';
import type { SchemaColumn } from '../../tables/table-schema.ts';
import { KyselyConflicts } from '../kysely/conflicts.ts';
import { KyselyDeadLetters } from '../kysely/dead-letters.ts';
import { KyselyEmployees } from '../kysely/employees.ts';
import { migrateToLatest, pendingMigrations } from '../kysely/migrate.ts';
import { MysqlReconcile } from './reconcile.ts';
import type { DatabaseTls } from '../types.ts';
import { localWritesEmitter } from '../local-writes.ts';
import type { Store } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { EmployeeFields } from '../types.ts';
import { MysqlApply } from './apply.ts';
import { mysqlValue } from './column-types.ts';
import { classifyMysqlError } from './errors.ts';
import { withStoreErrors } from '../store-errors.ts';
import { mysqlMigrations } from './migrations.ts';
import { MysqlOutbox } from './outbox.ts';
import { MysqlSchema } from './schema.ts';
import { MysqlAccess } from './access.ts';

export interface MysqlStoreOptions {
  url: string;
  poolSize: number;
  tls?: DatabaseTls;
}

export class MysqlStore implements Store {
  readonly name = 'mysql' as const;
  readonly db: Kysely<Database>;
  readonly outbox: MysqlOutbox;
  readonly apply: MysqlApply;
  readonly schema: MysqlSchema;
  readonly access: MysqlAccess;
  readonly reconcile: MysqlReconcile;
  readonly deadLetters: KyselyDeadLetters;
  readonly conflicts: KyselyConflicts;
  readonly employees: KyselyEmployees;
  #employeeExtras: readonly SchemaColumn[] = [];

  constructor(options: MysqlStoreOptions) {
    const pool = createPool({
      uri: options.url,
      connectionLimit: options.poolSize,
      ...(options.tls ? { ssl: options.tls } : {}),
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      decimalNumbers: false,
      jsonStrings: true,
      charset: 'utf8mb4_bin',
      // mysql2 parses DOUBLE and FLOAT text into a JavaScript number through its own routine, which can
      // round the last digit: the server's text is kept, as for DECIMAL and BIGINT.
      typeCast: (field, next) => (field.type === 'DOUBLE' || field.type === 'FLOAT' ? field.string() : next()),
    });
    // Timestamps are UTC on the wire and in the table.
    pool.on('connection', (connection) => {
      connection.query("SET time_zone = '+00:00'");
    });
    this.db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
    const localWrites = localWritesEmitter();
    // Every port raises EmpsyncError (with `retryable`), never a driver error.
    const port = <T extends object>(implementation: T): T =>
      withStoreErrors(implementation, classifyMysqlError, 'mysql');
    this.outbox = port(
      new MysqlOutbox(
        this.db,
        localWrites,
        options.url,
        `empsync.relay.${databaseName(options.url)}`.slice(0, 64),
        options.tls,
      ),
    );
    this.apply = port(new MysqlApply(this.db));
    this.schema = port(new MysqlSchema(this.db));
    this.access = port(new MysqlAccess(this.db));
    this.reconcile = port(new MysqlReconcile(this.db));
    this.deadLetters = port(new KyselyDeadLetters('mysql', this.db));
    this.conflicts = port(new KyselyConflicts('mysql', this.db));
    this.employees = port(
      new KyselyEmployees({
        db: this.db,
        localWrites,
        insertRow: async (trx: Transaction<Database>, row: Record<string, unknown>) =>
          Number(
            (
              await trx
                .insertInto('employes')
                .values(row as unknown as EmployeeFields)
                .executeTakeFirstOrThrow()
            ).insertId,
          ),
        columnValue: mysqlValue,
        readRows: (query) => query.execute(),
        extraColumns: () => this.#employeeExtras,
      }),
    );
  }

  /** The columns a DBA added to `employes` that both stores sync now: API reads return them too. */
  useEmployeeExtras(columns: readonly SchemaColumn[]): void {
    this.#employeeExtras = columns;
  }

  migrate(): Promise<string[]> {
    return migrateToLatest(this.name, this.db, mysqlMigrations);
  }

  pendingMigrations(): Promise<string[]> {
    return pendingMigrations(this.db, mysqlMigrations);
  }

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
