// The PostgreSQL store: the read model of the API and the other end of two-way sync, as the ports each
// stage uses (src/store/ports.ts). All PostgreSQL-dialect SQL of empsync lives in this folder and in
// src/capture/postgres/.
import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import type pg from 'pg';
import type { SchemaColumn } from '../../tables/table-schema.ts';
import { KyselyConflicts } from '../kysely/conflicts.ts';
import { KyselyDeadLetters } from '../kysely/dead-letters.ts';
import { KyselyEmployees, type Raw, type ReadQuery } from '../kysely/employees.ts';
import { migrateToLatest, pendingMigrations } from '../kysely/migrate.ts';
import { PostgresReconcile } from './reconcile.ts';
import type { DatabaseTls } from '../types.ts';
import { localWritesEmitter } from '../local-writes.ts';
import type { Store } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { EmployeeFields } from '../types.ts';
import { PostgresApply } from './apply.ts';
import { classifyPostgresError } from './errors.ts';
import { withStoreErrors } from '../store-errors.ts';
import { postgresMigrations } from './migrations.ts';
import { PostgresOutbox } from './outbox.ts';
import { createPool } from './pool.ts';
import { ReadBatcher } from './read-batcher.ts';
import { PostgresSchema } from './schema.ts';
import { PostgresAccess } from './access.ts';

const maxPreparedStatements = 200;
const maxReadsPerStatement = 32;

export interface PostgresStoreOptions {
  url: string;
  poolSize: number;
  tls?: DatabaseTls;
}

export class PostgresStore implements Store {
  readonly name = 'postgres' as const;
  readonly db: Kysely<Database>;
  readonly outbox: PostgresOutbox;
  readonly apply: PostgresApply;
  readonly schema: PostgresSchema;
  readonly access: PostgresAccess;
  readonly reconcile: PostgresReconcile;
  readonly deadLetters: KyselyDeadLetters;
  readonly conflicts: KyselyConflicts;
  readonly employees: KyselyEmployees;
  readonly #pool: pg.Pool;
  readonly #reads: ReadBatcher;
  #employeeExtras: readonly SchemaColumn[] = [];

  constructor(options: PostgresStoreOptions) {
    this.#pool = createPool(options.url, options.poolSize, options.tls);
    this.db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: this.#pool }) });
    this.#reads = new ReadBatcher(this.#pool, { maxPreparedStatements, maxReadsPerStatement });
    const localWrites = localWritesEmitter();
    // Every port raises EmpsyncError (with `retryable`), never a driver error.
    const port = <T extends object>(implementation: T): T =>
      withStoreErrors(implementation, classifyPostgresError, 'postgres');
    this.outbox = port(new PostgresOutbox(this.db, localWrites, options.url, options.tls));
    this.apply = port(new PostgresApply(this.db));
    this.schema = port(new PostgresSchema(this.db));
    this.access = port(new PostgresAccess(this.db));
    this.reconcile = port(new PostgresReconcile(this.db));
    this.deadLetters = port(new KyselyDeadLetters('postgres', this.db));
    this.conflicts = port(new KyselyConflicts('postgres', this.db));
    this.employees = port(
      new KyselyEmployees({
        db: this.db,
        localWrites,
        insertRow: async (trx: Transaction<Database>, row: Record<string, unknown>) =>
          (
            await trx
              .insertInto('employes')
              .values(row as unknown as EmployeeFields)
              .returning('id')
              .executeTakeFirstOrThrow()
          ).id,
        columnValue: (_type, value) => value,
        readRows: (query) => this.#readRows(query),
        extraColumns: () => this.#employeeExtras,
        // employeParId (batched across requests by src/api/employee-loaders.ts): one prepared text for any number of ids.
        findRows: async (columns, ids) => {
          const text = `SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM employes WHERE id = ANY($1::int[])`;
          const name = `empsync_find_employees_${createHash('sha1').update(text).digest('hex').slice(0, 10)}`;
          const { rows } = await this.#pool.query<Raw>({ name, text, values: [ids] });
          return rows;
        },
      }),
    );
  }

  /** The columns a DBA added to `employes` that both stores sync now: API reads return them too. */
  useEmployeeExtras(columns: readonly SchemaColumn[]): void {
    this.#employeeExtras = columns;
  }

  /**
   * Runs an API read through the read batcher: reads of one shape issued in the same turn of the event
   * loop go out as one statement, and each shape (a filter combination and an order) runs as a named
   * prepared statement, parsed and planned once per connection as PostGraphile does. Past
   * `maxPreparedStatements` further shapes run unnamed, so no connection holds an unbounded number.
   */
  #readRows<O>(query: ReadQuery<O>): Promise<O[]> {
    const { sql: text, parameters } = query.compile();
    return this.#reads.read<O>(text, parameters);
  }

  migrate(): Promise<string[]> {
    return migrateToLatest(this.name, this.db, postgresMigrations);
  }

  pendingMigrations(): Promise<string[]> {
    return pendingMigrations(this.db, postgresMigrations);
  }

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
