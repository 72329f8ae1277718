// The API's published contract on a store: employees read and written as the contract names them (the
// one place below the API, with src/tables/employes.ts, that names their columns). Written once with
// Kysely's query builder; the PostgreSQL store runs the reads through its read batcher.
import type { EventEmitter } from 'node:events';
import { sql, type CompiledQuery, type Expression, type ExpressionBuilder, type Kysely, type SqlBool, type Transaction } from 'kysely';
import type { ColumnType } from '../../tables/column-types.ts';
import { canonicalValue } from '../../tables/values.ts';
import type { SchemaColumn } from '../../tables/table-schema.ts';
import type {
  EmployeeFilter,
  EmployeeListQuery,
  EmployeeOrder,
  EmployeePage,
  EmployeePageQuery,
  EmployeePort,
} from '../ports.ts';
import { employeeColumns, employeeViewColumns, fromRawRow, fromRawView, toSqlTimestamp } from '../row-format.ts';
import type { Database } from '../schema.ts';
import type { EmployeeFields, EmployeeRow, EmployeeView } from '../types.ts';

/** A built SELECT: what `readRows` needs to run it either way. */
export interface ReadQuery<O> {
  compile(): CompiledQuery<O>;
  execute(): Promise<O[]>;
}

export interface EmployeeAccess {
  db: Kysely<Database>;
  /** Inserts the row (its columns and values) and returns its id (each dialect gets it its own way). */
  insertRow(trx: Transaction<Database>, row: Record<string, unknown>): Promise<number>;
  /** A canonical value as this dialect's driver writes it into a column of `type`. */
  columnValue(type: ColumnType, value: string | null): unknown;

  /** Runs an API read (the PostgreSQL store batches them across requests). */
  readRows<O>(query: ReadQuery<O>): Promise<O[]>;
  /** Emits 'write' after a captured change: wakes the in-process relay at once. */
  localWrites: EventEmitter;
  /** The columns a DBA added to `employes` that both stores sync now (read with every row). */
  extraColumns: () => readonly SchemaColumn[];
  /** Reads these columns of rows by id, when the dialect has a faster way than the builder's IN list. */
  findRows?: (columns: readonly string[], ids: readonly number[]) => Promise<Raw[]>;
}

export type Raw = Record<string, unknown>;

export class KyselyEmployees implements EmployeePort {
  readonly #access: EmployeeAccess;

  constructor(access: EmployeeAccess) {
    this.#access = access;
  }

  get #db() {
    return this.#access.db;
  }

  /** The contract's fields and the extra columns the write sets (those both stores sync now). */
  #columns(fields: EmployeeFields): Record<string, unknown> {
    const row: Record<string, unknown> = { ...pickFields(fields) };
    for (const [column, value] of Object.entries(fields.extra ?? {})) {
      const known = this.#access.extraColumns().find((c) => c.name === column);
      if (known) row[column] = this.#access.columnValue(known.type, value);
    }
    return row;
  }

  async insert(fields: EmployeeFields): Promise<EmployeeRow> {
    const row = await this.#db.transaction().execute(async (trx) => {
      const id = await this.#access.insertRow(trx, this.#columns(fields));
      return this.#select(trx).where('id', '=', id).executeTakeFirstOrThrow();
    });
    this.#access.localWrites.emit('write');
    return this.#row(row);
  }

  async update(id: number, fields: EmployeeFields): Promise<EmployeeRow | null> {
    const row = await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('employes')
        .set(this.#columns(fields) as unknown as EmployeeFields)
        .where('id', '=', id)
        .execute();
      return this.#select(trx).where('id', '=', id).executeTakeFirst();
    });
    if (!row) return null;
    this.#access.localWrites.emit('write');
    return this.#row(row);
  }

  async delete(id: number): Promise<boolean> {
    const result = await this.#db.deleteFrom('employes').where('id', '=', id).executeTakeFirst();
    const deleted = Number(result.numDeletedRows) > 0;
    if (deleted) this.#access.localWrites.emit('write');
    return deleted;
  }

  async find(id: number): Promise<EmployeeView | null> {
    const [row] = await this.#access.readRows(this.#selectView().where('id', '=', id));
    return row ? this.#view(row) : null;
  }

  async findMany(ids: readonly number[]): Promise<EmployeeView[]> {
    if (ids.length === 0) return [];
    const rows = this.#access.findRows
      ? await this.#access.findRows([...employeeViewColumns, ...this.#access.extraColumns().map((c) => c.name)], ids)
      : await this.#selectView()
          .where('id', 'in', [...ids])
          .execute();
    return rows.map((r) => this.#view(r));
  }

  async list(query: EmployeeListQuery = {}): Promise<EmployeeView[]> {
    let builder = this.#selectView();
    if (query.filter) {
      const filter = query.filter;
      builder = builder.where((eb) => eb.and(filterConditions(eb, filter)));
    }
    const sort = orderColumns[query.orderBy ?? 'ID_ASC'];
    if (sort.column) builder = builder.orderBy(sort.column, sort.direction);
    builder = builder.orderBy('id', sort.direction);
    if (query.department !== undefined) builder = builder.where('department', '=', query.department);
    if (query.limit !== undefined) builder = builder.limit(query.limit);
    if (query.offset !== undefined) builder = builder.offset(query.offset);
    return (await this.#access.readRows(builder)).map((r) => this.#view(r));
  }

  async countByDepartment(): Promise<{ department: string; count: number }[]> {
    const rows = await this.#db
      .selectFrom('employes')
      .select((eb) => ['department', eb.fn.countAll<string | number>().as('n')])
      .groupBy('department')
      .orderBy('department')
      .execute();
    return rows.map((r) => ({ department: r.department, count: Number(r.n) }));
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('employes')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async page(query: EmployeePageQuery): Promise<EmployeePage> {
    const sort = orderColumns[query.orderBy ?? 'ID_ASC'];
    const { after, filter } = query;
    let builder = this.#selectView().where((eb) => {
      const conditions = filter ? filterConditions(eb, filter) : [];
      if (after) {
        const comparison = sort.direction === 'asc' ? '>' : '<';
        const idAfter = eb('id', comparison, after.id);
        if (sort.column && after.value !== undefined) {
          const value = sort.column === 'salaire' ? eb.cast<string>(eb.val(after.value), 'decimal(10, 2)') : eb.val(after.value);
          conditions.push(eb.or([eb(sort.column, comparison, value), eb.and([eb(sort.column, '=', value), idAfter])]));
        } else {
          conditions.push(idAfter);
        }
      }
      return eb.and(conditions);
    });
    if (sort.column) builder = builder.orderBy(sort.column, sort.direction);
    // One row more than asked tells whether another page follows.
    const rows = (await this.#access.readRows(builder.orderBy('id', sort.direction).limit(query.first + 1))).map((r) => this.#view(r));
    return { rows: rows.slice(0, query.first), hasNextPage: rows.length > query.first };
  }

  async countMatching(filter: EmployeeFilter = {}): Promise<number> {
    const [row] = await this.#access.readRows(
      this.#db
        .selectFrom('employes')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where((eb) => eb.and(filterConditions(eb, filter))),
    );
    return Number(row?.n ?? 0);
  }

  async dump(): Promise<EmployeeRow[]> {
    return (await this.#select(this.#db).orderBy('id').execute()).map((r) => this.#row(r));
  }

  /** Every contract column and the extra ones. */
  #select(db: Kysely<Database>) {
    return db
      .selectFrom('employes')
      .select([...employeeColumns])
      .select(this.#extras());
  }

  #selectView() {
    return this.#db
      .selectFrom('employes')
      .select([...employeeViewColumns])
      .select(this.#extras());
  }

  #extras() {
    return this.#access.extraColumns().map((c) => sql<unknown>`${sql.ref(c.name)}`.as(c.name));
  }

  #extraValues(raw: Raw): Record<string, string | null> | undefined {
    const extras = this.#access.extraColumns();
    if (extras.length === 0) return undefined;
    return Object.fromEntries(extras.map((c) => [c.name, canonicalValue(c.type, raw[c.name])]));
  }

  #view(raw: Raw): EmployeeView {
    const extra = this.#extraValues(raw);
    return { ...fromRawView(raw as unknown as Parameters<typeof fromRawView>[0]), ...(extra ? { extra } : {}) };
  }

  #row(raw: Raw): EmployeeRow {
    const extra = this.#extraValues(raw);
    return { ...fromRawRow(raw as unknown as Parameters<typeof fromRawRow>[0]), ...(extra ? { extra } : {}) };
  }
}

/** The sort key of each order; the id breaks ties (and is the key of ID_*) so keyset pages never overlap. */
const orderColumns: Record<EmployeeOrder, { column: 'salaire' | 'nom' | null; direction: 'asc' | 'desc' }> = {
  ID_ASC: { column: null, direction: 'asc' },
  ID_DESC: { column: null, direction: 'desc' },
  SALAIRE_ASC: { column: 'salaire', direction: 'asc' },
  SALAIRE_DESC: { column: 'salaire', direction: 'desc' },
  NOM_ASC: { column: 'nom', direction: 'asc' },
};

/** LIKE treats % and _ as wildcards and a backslash as the escape (the default of both dialects): match them literally. */
function likeContains(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function filterConditions(eb: ExpressionBuilder<Database, 'employes'>, filter: EmployeeFilter): Expression<SqlBool>[] {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.department !== undefined) conditions.push(eb('department', '=', filter.department));
  if (filter.poste !== undefined) conditions.push(eb('poste', '=', filter.poste));
  if (filter.search !== undefined && filter.search !== '') {
    const pattern = likeContains(filter.search);
    conditions.push(
      eb.or(
        (['nom', 'prenom', 'email'] as const).map((column) => eb(eb.fn<string>('lower', [eb.ref(column)]), 'like', pattern)),
      ),
    );
  }
  const decimal = (value: string) => eb.cast<string>(eb.val(value), 'decimal(10, 2)');
  if (filter.salaireMin !== undefined) conditions.push(eb('salaire', '>=', decimal(filter.salaireMin)));
  if (filter.salaireMax !== undefined) conditions.push(eb('salaire', '<=', decimal(filter.salaireMax)));
  if (filter.embaucheAfter !== undefined)
    conditions.push(eb('date_embauche', '>=', toSqlTimestamp(filter.embaucheAfter)));
  if (filter.embaucheBefore !== undefined)
    conditions.push(eb('date_embauche', '<=', toSqlTimestamp(filter.embaucheBefore)));
  return conditions;
}


/** Only the client-settable columns: ids, versions and timestamps belong to the store. */
export function pickFields(fields: EmployeeFields): EmployeeFields {
  const { nom, prenom, email, poste, salaire, department } = fields;
  return { nom, prenom, email, poste, salaire, department };
}
