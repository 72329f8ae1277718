// What both stores do the same way, written once with Kysely's query builder (which renders each
// dialect's SQL). Dialect-specific work — capture schema, bulk apply, locks, wake-ups — stays in
// src/store/mysql/ and src/store/postgres/.
import { EventEmitter, once } from 'node:events';
import {
  sql,
  type CompiledQuery,
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type RawBuilder,
  type Selectable,
  type SelectQueryBuilder,
  type SqlBool,
  type Transaction,
} from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import {
  employeeColumns,
  employeeViewColumns,
  fromRawRow,
  fromRawView,
  storedTimestamp,
  toIsoTimestamp,
  toSqlTimestamp,
} from './row-format.ts';
import type { Database, OutboxTable } from './schema.ts';
import type {
  ApplyTransaction,
  ApplyStateRequest,
  BackfillProgress,
  DeadLetterQuery,
  EmployeeFilter,
  EmployeeListQuery,
  EmployeeOrder,
  EmployeePage,
  EmployeePageQuery,
  RelayLease,
  Store,
  StoredConflict,
} from './store.ts';
import type {
  ApplyPlan,
  ConflictRecord,
  DeadLetterRecord,
  DeadLetterStage,
  DeadLetterStatus,
  EmployeeFields,
  EmployeeRow,
  EmployeeView,
  OutboxRow,
  StoreName,
  StoredDeadLetter,
  StoredOffset,
  StoredVersion,
  Tombstone,
} from './types.ts';

export abstract class KyselyStore implements Store {
  abstract readonly name: StoreName;
  readonly db: Kysely<Database>;
  /** Emits 'write' after this process commits a captured change: wakes the in-process relay at once. */
  protected readonly localWrites = new EventEmitter();
  readonly #migrations: Record<string, Migration>;

  protected constructor(db: Kysely<Database>, migrations: Record<string, Migration>) {
    this.db = db;
    this.#migrations = migrations;
    this.localWrites.setMaxListeners(0);
  }

  abstract acquireRelayLease(): Promise<RelayLease | null>;
  /** The dialect's expression for a new random event id (a UUID). */
  protected abstract readonly newEventId: RawBuilder<string>;
  abstract applyTransaction<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T>;
  protected abstract insertRow(trx: Transaction<Database>, fields: EmployeeFields): Promise<number>;
  /** Parks these records in sync_dead_letters; a record parked before (same source key) is counted again. */
  protected abstract upsertDeadLetters(trx: Kysely<Database>, records: DeadLetterRecord[]): Promise<void>;

  /**
   * Runs a read of the API outside any transaction. The PostgreSQL store batches it with the reads of
   * the same shape issued in this event-loop turn, as a prepared statement (read-batcher.ts); MySQL
   * runs it as built.
   */
  protected readRows<O>(query: ReadQuery<O>): Promise<O[]> {
    return query.execute();
  }

  async migrate(): Promise<string[]> {
    const migrator = new Migrator({
      db: this.db,
      provider: { getMigrations: async () => this.#migrations },
      migrationTableName: 'empsync_migrations',
      migrationLockTableName: 'empsync_migrations_lock',
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      throw new EmpsyncError(ErrorCodes.MIGRATION_FAILED, `${this.name} migration failed: ${String(error)}`, {
        cause: error,
      });
    }
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async readOutbox(limit: number): Promise<OutboxRow[]> {
    const rows = await this.db.selectFrom('employes_outbox').selectAll().orderBy('seq').limit(limit).execute();
    return rows.map(outboxRowFromRaw);
  }

  async parkOutboxRows(parked: { seq: bigint; deadLetter: DeadLetterRecord }[]): Promise<void> {
    if (parked.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await this.upsertDeadLetters(
        trx,
        parked.map((p) => p.deadLetter),
      );
      await trx
        .deleteFrom('employes_outbox')
        .where(
          'seq',
          'in',
          parked.map((p) => p.seq.toString()),
        )
        .execute();
    });
  }

  async readPublishedLog(topic: string): Promise<string | null> {
    const row = await this.db.selectFrom('sync_log_identity').select('log_id').where('topic', '=', topic).executeTakeFirst();
    return row?.log_id ?? null;
  }

  async adoptLog(topic: string, logId: string, resyncRun: string | null): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('sync_log_identity').where('topic', '=', topic).execute();
      await trx.insertInto('sync_log_identity').values({ topic, log_id: logId }).execute();
      if (resyncRun === null) return;
      // Rows follow in chunks (continueBackfill); deletes now: each tombstone re-published as a delete.
      await trx.deleteFrom('sync_backfill').where('name', '=', resyncRun).execute();
      await trx.insertInto('sync_backfill').values({ name: resyncRun, last_id: null, done: false }).execute();
      await trx
        .insertInto('employes_outbox')
        .columns(['event_id', 'op', 'employe_id', 'row_version', 'base_version', 'row_origin'])
        .expression(
          trx
            .selectFrom('employes_tombstones')
            .select([
              this.newEventId.as('event_id'),
              sql.lit('d').as('op'),
              'id',
              'version',
              sql.ref('version').as('base_version'),
              'origin',
            ])
            .orderBy('id'),
        )
        .execute();
    });
    if (resyncRun !== null) this.localWrites.emit('write');
  }

  async unfinishedBackfill(run: string): Promise<boolean> {
    const state = await this.db.selectFrom('sync_backfill').select('done').where('name', '=', run).executeTakeFirst();
    return state !== undefined && !state.done;
  }

  async deleteOutbox(seqs: bigint[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.db
      .deleteFrom('employes_outbox')
      .where(
        'seq',
        'in',
        seqs.map((seq) => seq.toString()),
      )
      .execute();
  }

  async outboxBacklog(): Promise<number> {
    const row = await this.db
      .selectFrom('employes_outbox')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async startBackfill(run: string, resume = true): Promise<'started' | 'resumed'> {
    return this.db.transaction().execute(async (trx) => {
      const state = await trx
        .selectFrom('sync_backfill')
        .select(['done'])
        .where('name', '=', run)
        .forUpdate()
        .executeTakeFirst();
      if (resume && state && !state.done) return 'resumed';
      await trx.deleteFrom('sync_backfill').where('name', '=', run).execute();
      await trx.insertInto('sync_backfill').values({ name: run, last_id: null, done: false }).execute();
      return 'started';
    });
  }

  async continueBackfill(run: string, chunk: number): Promise<BackfillProgress> {
    const progress = await this.db.transaction().execute(async (trx) => {
      const state = await trx
        .selectFrom('sync_backfill')
        .select(['last_id', 'done'])
        .where('name', '=', run)
        .forUpdate()
        .executeTakeFirst();
      if (!state || Boolean(state.done)) return { copied: 0, lastId: state?.last_id ?? null, done: true };
      const { count, lastId } = await this.#copyChunkToOutbox(trx, state.last_id, chunk);
      const done = count < chunk;
      await trx
        .updateTable('sync_backfill')
        .set({ last_id: lastId ?? state.last_id, done, updated_at: undefined })
        .where('name', '=', run)
        .execute();
      return { copied: count, lastId: lastId ?? state.last_id, done };
    });
    if (progress.copied > 0) this.localWrites.emit('write');
    return progress;
  }

  /** Re-publishes these rows as they are now (op 'r'); returns how many exist. */
  async republish(ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    const copied = await this.db.transaction().execute((trx) =>
      this.#copyToOutbox(trx, (qb) => qb.where('id', 'in', [...ids])),
    );
    if (copied > 0) this.localWrites.emit('write');
    return copied;
  }

  /** (id, version) of up to `limit` rows with id > afterId, by id: what reconcile compares. */
  async listVersions(
    afterId: number | null,
    limit: number,
    upToId?: number,
  ): Promise<{ id: number; version: bigint }[]> {
    let query = this.db
      .selectFrom('employes')
      .select(['id', 'sync_version'])
      .where('id', afterId === null ? '>=' : '>', afterId ?? lowestId)
      .orderBy('id')
      .limit(limit);
    if (upToId !== undefined) query = query.where('id', '<=', upToId);
    const rows = await query.execute();
    return rows.map((r) => ({ id: r.id, version: BigInt(r.sync_version) }));
  }

  async #copyChunkToOutbox(trx: Transaction<Database>, afterId: number | null, chunk: number): Promise<CopiedChunk> {
    const ids = await trx
      .selectFrom('employes')
      .select('id')
      .where('id', afterId === null ? '>=' : '>', afterId ?? lowestId)
      .orderBy('id')
      .limit(chunk)
      .execute();
    if (ids.length === 0) return { count: 0, lastId: null };
    const first = ids[0]!.id;
    const lastId = ids[ids.length - 1]!.id;
    await this.#copyToOutbox(trx, (qb) => qb.where('id', '>=', first).where('id', '<=', lastId));
    return { count: ids.length, lastId };
  }

  /** INSERT … SELECT of the current rows into the outbox as re-publish ('r') events, in id order. */
  async #copyToOutbox(
    trx: Transaction<Database>,
    filter: (qb: SelectQueryBuilder<Database, 'employes', object>) => SelectQueryBuilder<Database, 'employes', object>,
  ): Promise<number> {
    const result = await trx
      .insertInto('employes_outbox')
      .columns([
        'event_id', 'op', 'employe_id', 'row_version', 'base_version', 'row_origin', 'nom', 'prenom', 'email', 'poste',
        'salaire', 'department', 'date_embauche', 'created_at', 'updated_at',
      ])
      .expression(
        filter(trx.selectFrom('employes'))
          .select([
            this.newEventId.as('event_id'),
            sql.lit('r').as('op'),
            'id', 'sync_version', sql.ref('sync_version').as('base_version'), 'sync_origin', 'nom', 'prenom', 'email',
            'poste', 'salaire', 'department', 'date_embauche', 'created_at', 'updated_at',
          ])
          .orderBy('id'),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n);
  }

  async readOffsets(consumerGroup: string, topic: string): Promise<StoredOffset[]> {
    const rows = await this.db
      .selectFrom('sync_offsets')
      .select(['kafka_partition', 'next_offset', 'log_id', 'updated_at'])
      .where('consumer_group', '=', consumerGroup)
      .where('topic', '=', topic)
      .execute();
    return storedOffsets(rows, topic).map((offset, i) => ({ ...offset, updatedAt: toIsoTimestamp(rows[i]!.updated_at) }));
  }

  async resetOffsets(
    consumerGroup: string,
    topic: string,
    logId: string,
    offsets: { partition: number; nextOffset: bigint }[],
  ): Promise<void> {
    if (offsets.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('sync_offsets')
        .where('consumer_group', '=', consumerGroup)
        .where('topic', '=', topic)
        .where(
          'kafka_partition',
          'in',
          offsets.map((o) => o.partition),
        )
        .execute();
      await trx
        .insertInto('sync_offsets')
        .values(
          offsets.map((o) => ({
            consumer_group: consumerGroup,
            topic,
            kafka_partition: o.partition,
            next_offset: o.nextOffset.toString(),
            log_id: logId,
          })),
        )
        .execute();
    });
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<StoredDeadLetter[]> {
    let builder = this.db
      .selectFrom('sync_dead_letters as l')
      .leftJoin('employes as e', 'e.id', 'l.employe_id')
      .selectAll('l')
      .select('e.sync_version as current_version')
      .orderBy('l.id')
      .limit(query.limit);
    if (query.status) builder = builder.where('l.status', '=', query.status);
    if (query.ids) {
      if (query.ids.length === 0) return [];
      builder = builder.where(
        'l.id',
        'in',
        query.ids.map((id) => id.toString()),
      );
    }
    if (query.afterId !== undefined) builder = builder.where('l.id', '>', query.afterId.toString());
    const rows = await builder.execute();
    return rows.map((r) => ({
      store: this.name,
      id: BigInt(r.id),
      stage: r.stage as DeadLetterStage,
      sourceKey: r.source_key,
      source: JSON.parse(r.source) as Record<string, string>,
      code: r.code,
      reason: r.reason,
      eventId: r.event_id,
      employeId: r.employe_id === null ? null : Number(r.employe_id),
      op: r.op as DeadLetterRecord['op'],
      version: r.row_version === null ? null : BigInt(r.row_version),
      origin: r.row_origin,
      payload: r.payload,
      payloadEncoding: r.payload_encoding === 'base64' ? 'base64' : 'utf8',
      status: r.status as DeadLetterStatus,
      seenCount: Number(r.seen_count),
      firstSeenAt: toIsoTimestamp(r.first_seen_at),
      lastSeenAt: toIsoTimestamp(r.last_seen_at),
      resolvedAt: r.resolved_at === null ? null : toIsoTimestamp(r.resolved_at),
      lastError: r.last_error,
      currentVersion: r.current_version === null ? null : BigInt(r.current_version),
    }));
  }

  async countDeadLetters(): Promise<{ stage: DeadLetterStage; parked: number }[]> {
    const rows = await this.db
      .selectFrom('sync_dead_letters')
      .select((eb) => ['stage', eb.fn.countAll<string | number>().as('n')])
      .where('status', '=', 'parked')
      .groupBy('stage')
      .execute();
    return rows.map((r) => ({ stage: r.stage as DeadLetterStage, parked: Number(r.n) }));
  }

  async resolveDeadLetter(id: bigint, outcome: { replayed: true } | { replayed: false; error: string }): Promise<void> {
    if (outcome.replayed) return markDeadLettersReplayed(this.db, [id]);
    await this.db
      .updateTable('sync_dead_letters')
      .set({ last_error: outcome.error.slice(0, 4000) })
      .where('id', '=', id.toString())
      .execute();
  }

  async insertEmployee(fields: EmployeeFields): Promise<EmployeeRow> {
    const row = await this.db.transaction().execute(async (trx) => {
      const id = await this.insertRow(trx, fields);
      return (await this.#select(trx).where('id', '=', id).executeTakeFirstOrThrow()) as EmployeeRowRaw;
    });
    this.localWrites.emit('write');
    return fromRawRow(row);
  }

  async updateEmployee(id: number, fields: EmployeeFields): Promise<EmployeeRow | null> {
    const row = await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('employes').set(pickFields(fields)).where('id', '=', id).execute();
      return this.#select(trx).where('id', '=', id).executeTakeFirst();
    });
    if (!row) return null;
    this.localWrites.emit('write');
    return fromRawRow(row);
  }

  async deleteEmployee(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('employes').where('id', '=', id).executeTakeFirst();
    const deleted = Number(result.numDeletedRows) > 0;
    if (deleted) this.localWrites.emit('write');
    return deleted;
  }

  async findEmployee(id: number): Promise<EmployeeView | null> {
    const [row] = await this.readRows(this.#selectView().where('id', '=', id));
    return row ? fromRawView(row) : null;
  }

  async findEmployees(ids: readonly number[]): Promise<EmployeeView[]> {
    if (ids.length === 0) return [];
    const rows = await this.#selectView()
      .where('id', 'in', [...ids])
      .execute();
    return rows.map(fromRawView);
  }

  async listEmployees(query: EmployeeListQuery = {}): Promise<EmployeeView[]> {
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
    return (await this.readRows(builder)).map(fromRawView);
  }

  async countByDepartment(): Promise<{ department: string; count: number }[]> {
    const rows = await this.db
      .selectFrom('employes')
      .select((eb) => ['department', eb.fn.countAll<string | number>().as('n')])
      .groupBy('department')
      .orderBy('department')
      .execute();
    return rows.map((r) => ({ department: r.department, count: Number(r.n) }));
  }

  async countEmployees(): Promise<number> {
    const row = await this.db
      .selectFrom('employes')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async pageEmployees(query: EmployeePageQuery): Promise<EmployeePage> {
    const sort = orderColumns[query.orderBy ?? 'ID_ASC'];
    const { after, filter } = query;
    let builder = this.#selectView().where((eb) => {
      const conditions = filter ? filterConditions(eb, filter) : [];
      if (after) {
        const comparison = sort.direction === 'asc' ? '>' : '<';
        const idAfter = eb('id', comparison, after.id);
        if (sort.column && after.value !== undefined) {
          const value = sort.column === 'salaire' ? eb.cast<string>(eb.val(after.value), 'decimal(10, 2)') : eb.val(after.value);
          conditions.push(
            eb.or([eb(sort.column, comparison, value), eb.and([eb(sort.column, '=', value), idAfter])]),
          );
        } else {
          conditions.push(idAfter);
        }
      }
      return eb.and(conditions);
    });
    if (sort.column) builder = builder.orderBy(sort.column, sort.direction);
    // One row more than asked tells whether another page follows.
    const rows = (await this.readRows(builder.orderBy('id', sort.direction).limit(query.first + 1))).map(fromRawView);
    return { rows: rows.slice(0, query.first), hasNextPage: rows.length > query.first };
  }

  async countMatchingEmployees(filter: EmployeeFilter = {}): Promise<number> {
    const [row] = await this.readRows(
      this.db
        .selectFrom('employes')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where((eb) => eb.and(filterConditions(eb, filter))),
    );
    return Number(row?.n ?? 0);
  }

  async listConflicts(limit: number): Promise<StoredConflict[]> {
    const rows = await this.db
      .selectFrom('sync_conflicts')
      .select([
        'employe_id',
        'kind',
        'outcome',
        'policy',
        'local_version',
        'local_origin',
        'incoming_version',
        'incoming_origin',
        'detected_at',
      ])
      .orderBy('detected_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      store: this.name,
      employeId: Number(r.employe_id),
      kind: r.kind,
      outcome: r.outcome,
      policy: r.policy,
      localVersion: BigInt(r.local_version),
      localOrigin: r.local_origin,
      incomingVersion: BigInt(r.incoming_version),
      incomingOrigin: r.incoming_origin,
      detectedAt: toIsoTimestamp(r.detected_at),
    }));
  }

  async dumpEmployees(): Promise<EmployeeRow[]> {
    return (await this.#select(this.db).orderBy('id').execute()).map(fromRawRow);
  }

  #select(db: Kysely<Database>) {
    return db.selectFrom('employes').select([...employeeColumns]);
  }

  #selectView() {
    return this.db.selectFrom('employes').select([...employeeViewColumns]);
  }
}

type EmployeeRowRaw = Parameters<typeof fromRawRow>[0];

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

/** A built SELECT: what `readRows` needs to run it either way. */
export interface ReadQuery<O> {
  compile(): CompiledQuery<O>;
  execute(): Promise<O[]>;
}

export interface CopiedChunk {
  count: number;
  lastId: number | null;
}

/** The lowest id either store can hold (INT): a scan that starts "after nothing" starts here. */
const lowestId = -2147483648;

/** Only the client-settable columns: ids, versions and timestamps belong to the store. */
export function pickFields(fields: EmployeeFields): EmployeeFields {
  const { nom, prenom, email, poste, salaire, department } = fields;
  return { nom, prenom, email, poste, salaire, department };
}

/** The part of a sink transaction both dialects share; each store writes the plan its own way. */
export abstract class KyselyApplyTransaction implements ApplyTransaction {
  /** The transaction: kysely's, or one connection on which the store has run BEGIN itself. */
  protected readonly trx: Kysely<Database>;

  constructor(trx: Kysely<Database>) {
    this.trx = trx;
  }

  /** Locks and reads, in one statement, what the version guard and the offset check need. */
  abstract readState(request: ApplyStateRequest): Promise<ApplyState>;

  abstract write(plan: ApplyPlan): Promise<void>;
}


export interface ApplyState {
  rows: StoredVersion[];
  tombstones: Tombstone[];
  emailHolders: StoredVersion[];
  offsets: StoredOffset[];
}

/** A row of the one locking read of a sink transaction (each dialect writes it its own way). */
export interface ApplyStateRow {
  kind: 'row' | 'tombstone' | 'offset';
  /** Row id, or partition for an offset. */
  id: number | string;
  /** sync_version, tombstone version, or next offset. */
  version: string | number | bigint;
  /** Origin, or log id for an offset. */
  origin: string;
  email: string | null;
  /** sync_seen_version, or the tombstone's seen_version (0 for an offset). */
  seen: string | number | bigint | null;
}

/** The locked rows, tombstones and offsets of a sink transaction, sorted into what the sink decides with. */
export function applyState(rows: ApplyStateRow[], request: ApplyStateRequest): ApplyState {
  const of = (kind: ApplyStateRow['kind']) => rows.filter((r) => r.kind === kind);
  const versions = of('row').map((r) => ({
    id: Number(r.id),
    version: BigInt(r.version),
    origin: r.origin as StoreName,
    email: r.email ?? '',
    seen: BigInt(r.seen ?? 0),
  }));
  const ids = new Set(request.ids);
  const emails = new Set(request.emails);
  return {
    rows: versions.filter((v) => ids.has(v.id)),
    emailHolders: versions.filter((v) => emails.has(v.email)),
    tombstones: of('tombstone').map((t) => ({
      id: Number(t.id),
      version: BigInt(t.version),
      origin: t.origin as StoreName,
      seen: BigInt(t.seen ?? 0),
    })),
    offsets: storedOffsets(
      of('offset').map((r) => ({ kafka_partition: Number(r.id), next_offset: r.version, log_id: r.origin })),
      request.offsets?.topic ?? '',
    ),
  };
}

/** sync_offsets rows as StoredOffset. */
export function storedOffsets(
  rows: { kafka_partition: number; next_offset: string | number | bigint; log_id: string }[],
  topic: string,
): StoredOffset[] {
  return rows.map((r) => ({ topic, partition: Number(r.kafka_partition), nextOffset: BigInt(r.next_offset), logId: r.log_id }));
}

/** Appends the batch's conflicts to sync_conflicts (same builder query in both dialects). */
export async function insertConflicts(trx: Kysely<Database>, conflicts: ConflictRecord[]): Promise<void> {
  if (conflicts.length === 0) return;
  await trx
    .insertInto('sync_conflicts')
    .values(
      conflicts.map((c) => ({
        employe_id: c.employeId,
        kind: c.kind,
        outcome: c.outcome,
        policy: c.policy,
        local_version: c.localVersion.toString(),
        local_origin: c.localOrigin,
        incoming_version: c.incomingVersion.toString(),
        incoming_origin: c.incomingOrigin,
        incoming_row: JSON.stringify(c.incomingRow, bigintJson),
        event_id: c.eventId,
      })),
    )
    .execute();
}

/** The columns of a sync_dead_letters row for a record (same in both dialects). */
export function deadLetterValues(record: DeadLetterRecord) {
  return {
    stage: record.stage,
    source_key: record.sourceKey.slice(0, 400),
    source: JSON.stringify(record.source),
    event_id: record.eventId,
    employe_id: record.employeId,
    op: record.op,
    row_version: record.version?.toString() ?? null,
    row_origin: record.origin,
    code: record.code,
    reason: record.reason.slice(0, 4000),
    payload: record.payload,
    payload_encoding: record.payloadEncoding,
  };
}

/** Marks replayed dead letters (a sink transaction that applied them). */
export async function markDeadLettersReplayed(trx: Kysely<Database>, ids: bigint[]): Promise<void> {
  if (ids.length === 0) return;
  await trx
    .updateTable('sync_dead_letters')
    .set({ status: 'replayed', resolved_at: toSqlTimestamp(new Date().toISOString()), last_error: null })
    .where(
      'id',
      'in',
      ids.map((id) => id.toString()),
    )
    .execute();
}

/** JSON.stringify replacer for rows that hold bigint versions. */
export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Resolves true on the first `event`, false after `timeoutMs`. (A relay lease emits its event when its
 * session is lost, rather than this racing a long-lived `lost` promise: every race would leave a
 * reaction on that promise until it settles, one more per idle poll.)
 */
export async function waitForEvent(emitter: EventEmitter, event: string, timeoutMs: number): Promise<boolean> {
  try {
    await once(emitter, event, { signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    // timed out: the caller polls as a backstop for writes made by other processes
    return false;
  }
}

/** An outbox row as the relay reads it; values are kept as stored (see storedTimestamp), so reading never fails on one. */
function outboxRowFromRaw(raw: Selectable<OutboxTable>): OutboxRow {
  const common = {
    seq: BigInt(raw.seq),
    eventId: raw.event_id,
    baseVersion: BigInt(raw.base_version),
    capturedAt: storedTimestamp(raw.captured_at),
  };
  const version = BigInt(raw.row_version);
  const origin = raw.row_origin as StoreName;
  if (raw.nom === null) {
    // A delete re-published from a tombstone: no row, only what a delete needs.
    return { ...common, op: 'd', row: { id: raw.employe_id, version, origin } };
  }
  const row = fromRawRow({
    id: raw.employe_id,
    nom: raw.nom,
    prenom: raw.prenom ?? '',
    email: raw.email ?? '',
    poste: raw.poste ?? '',
    salaire: raw.salaire ?? '',
    department: raw.department ?? '',
    date_embauche: raw.date_embauche ?? '',
    created_at: raw.created_at ?? '',
    updated_at: raw.updated_at ?? '',
    sync_version: raw.row_version,
    sync_origin: raw.row_origin,
  });
  return raw.op === 'd' ? { ...common, op: 'd', row } : { ...common, op: raw.op, row };
}
