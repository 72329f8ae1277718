// Keeps each synced table's schema: at start and every SCHEMA_CHECK_INTERVAL_MS it reads both engines'
// catalogs, creates declared tables and columns that are missing, adds to the other engine a column a
// DBA added to one (when its type maps), and when the set of synced columns changes, generates the
// capture triggers again and fills a joining column's values on the side that lacks them (see
// #installCapture). What cannot be synced is reported — log code
// EMPSYNC_SCHEMA_MISMATCH, empsync_schema_mismatches, readiness degraded — never ignored in silence.
// Relays, sinks and the API read the current schema here and hear of changes without a restart.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, EmpsyncError, ErrorCodes } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ColumnValue, SchemaPort } from '../store/ports.ts';
import { otherStore, storeNames, type StoreName, type TableDeclaration } from '../tables/declaration.ts';
import { declaredSchema, reconcileSchema, tableSchema, type SchemaColumn, type SchemaFinding, type TableSchema } from '../tables/table-schema.ts';

export interface SchemaKeeperOptions {
  tables: readonly TableDeclaration[];
  stores: Record<StoreName, SchemaPort>;
  logger: Logger;
  metrics: Metrics;
  /** Change tables (create, add columns, generate capture, fill joining columns); false: only read the catalogs. */
  changes: boolean;
  /**
   * How long a synced column dropped from one engine stays out of the sync before it is added back there
   * from the other (ms): the time a DBA has to drop it from the second engine too (SCHEMA_DROP_GRACE_MS).
   */
  dropGraceMs: number;
}

/** How long a joining column's fill goes on while rows with a missing value are in flight (ms). */
const settleMs = 3000;

/** Rows per page when a joining column is compared and filled. */
const fillChunk = 5000;

export interface SchemaMismatch {
  table: string;
  column: string;
  reason: string;
}

export class SchemaKeeper extends EventEmitter<{ change: [schema: TableSchema, previous: TableSchema] }> {
  readonly #options: SchemaKeeperOptions;
  readonly #log: Logger;
  readonly #schemas = new Map<string, TableSchema>();
  #mismatches: SchemaMismatch[] = [];
  #unprepared = new Map<string, string[]>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #waiters: (() => void)[] = [];
  /** By table, its synced columns found gone from one engine: since when, and from which engine. */
  readonly #vanished = new Map<string, Map<string, { since: number; from: StoreName }>>();

  constructor(options: SchemaKeeperOptions) {
    super();
    this.#options = options;
    this.#log = options.logger.child({ stage: 'schema' });
    for (const table of options.tables) this.#schemas.set(table.name, declaredSchema(table));
  }

  /** The current schema of a table (its declaration until the catalogs were read). */
  schema(table: string): TableSchema {
    const schema = this.#schemas.get(table);
    if (!schema) throw new Error(`${table} is not a synced table`);
    return schema;
  }

  get schemas(): TableSchema[] {
    return [...this.#schemas.values()];
  }

  /** What cannot be synced as it is, as of the last check. */
  get mismatches(): readonly SchemaMismatch[] {
    return this.#mismatches;
  }

  /**
   * Without `changes`: what the last check found missing that only the schema's owner can make (a table,
   * its capture). A process that may not change the schema refuses to start while this is not empty.
   */
  get unprepared(): string[] {
    return [...this.#unprepared.values()].flat();
  }

  /**
   * Asks for a check and resolves as soon as a new schema is published or the check ends (not waiting
   * for a joining column's fill): what a relay or a sink meeting an unknown column waits for.
   */
  refresh(): Promise<void> {
    const published = new Promise<void>((resolve) => this.#waiters.push(resolve));
    void this.check()
      .catch(() => undefined)
      .finally(() => this.#wake());
    return published;
  }

  /** Makes `schema` the table's current one (an event for the API when it changed), and wakes the waiters. */
  #publish(schema: TableSchema): void {
    const previous = this.#schemas.get(schema.table.name)!;
    if (previous.version !== schema.version) {
      this.#schemas.set(schema.table.name, schema);
      this.emit('change', schema, previous);
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Drops a column a DBA added from both engines, capture first: MySQL's triggers name their columns, so a
   * plain DROP COLUMN there fails every write to the table until the next check generates them again.
   * A declared column is refused (remove it from the declaration first); so is one empsync does not sync.
   */
  async dropColumn(tableName: string, column: string): Promise<void> {
    const table = this.#options.tables.find((t) => t.name === tableName);
    if (!table) throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `${tableName} is not a synced table`);
    if (table.columns.some((c) => c.name === column)) {
      throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `${tableName}.${column} is declared: remove it from the declaration first`);
    }
    // Alone: a check running meanwhile would generate the capture with the column again.
    await this.#exclusive(async () => {
      await this.#checkAll();
      const schema = this.schema(tableName);
      if (!schema.columns.some((c) => c.name === column)) {
        throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `${tableName}.${column} is not a synced column`);
      }
      const { stores } = this.#options;
      await Promise.all(storeNames.map((store) => stores[store].installCapture(schema, [column])));
      // Relays, sinks and the API stop naming it before it is gone.
      this.#publish(tableSchema(table, schema.columns.filter((c) => c.name !== column)));
      await Promise.all(storeNames.map((store) => stores[store].dropColumn(tableName, column)));
      this.#log.warn({ table: tableName, column }, 'column dropped on both engines');
      await this.#checkAll();
    });
  }

  /** Runs `work` when no check runs, and holds the checks until it is done. */
  async #exclusive(work: () => Promise<void>): Promise<void> {
    while (this.#running) await this.#running.catch(() => undefined);
    this.#running = work().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Reads the catalogs and brings every table to its schema; resolves when done (errors surface here). */
  check(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#checkAll().finally(() => {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        void this.check().catch(() => undefined);
      }
    });
    return this.#running;
  }

  /** Checks again every `intervalMs` (a stage meeting an unknown column asks for one at once with `check`). */
  start(intervalMs: number): void {
    this.#timer ??= setInterval(() => {
      this.check().catch((error: unknown) => this.#log.warn({ err: describeError(error) }, 'schema check failed (retried)'));
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
  }

  async #checkAll(): Promise<void> {
    const { stores, changes } = this.#options;
    if (changes && !(await Promise.all(storeNames.map((store) => stores[store].readyForChanges()))).every(Boolean)) {
      // A restore under way or a migration not applied: changing tables now would race with it.
      this.#log.debug('a store is being restored or migrated: schema changes wait for the next check');
      return;
    }
    const mismatches: SchemaMismatch[] = [];
    for (const table of this.#options.tables) mismatches.push(...(await this.#checkTable(table)));
    const known = new Set(this.#mismatches.map((m) => `${m.table}.${m.column}: ${m.reason}`));
    for (const mismatch of mismatches) {
      if (known.has(`${mismatch.table}.${mismatch.column}: ${mismatch.reason}`)) continue;
      this.#log.error({ code: ErrorCodes.SCHEMA_MISMATCH, ...mismatch }, 'column left out of sync: it cannot travel as it is');
    }
    this.#mismatches = mismatches;
    for (const table of this.#options.tables) {
      this.#options.metrics.schemaMismatches.set({ table: table.name }, mismatches.filter((m) => m.table === table.name).length);
    }
  }

  async #checkTable(table: TableDeclaration): Promise<SchemaMismatch[]> {
    const { stores, changes, metrics } = this.#options;
    let { schema, findings } = await this.#read(table);
    if (changes) {
      const created = new Set<StoreName>();
      for (const store of storeNames) {
        if ((await stores[store].columns(table.name)) !== null) continue;
        await stores[store].createTable(table);
        created.add(store);
        this.#log.info({ table: table.name, store }, 'table created from its declaration');
      }
      // Columns this check adds to a store: empty there, so they join the sync like a new column.
      const added = new Set<string>();
      const adds = this.#heldBack(
        table.name,
        findings.filter((f): f is Extract<SchemaFinding, { kind: 'add' }> => f.kind === 'add'),
      );
      for (const add of adds) {
        if (created.has(add.store) && add.reason === 'declared') continue; // the new table has it
        try {
          await stores[add.store].addColumn(table.name, add.column);
          added.add(add.column.name);
          this.#log.warn(
            { table: table.name, store: add.store, column: add.column.name, reason: add.reason },
            add.reason === 'propagated' ? 'column found on the other side only: added here' : 'declared column added',
          );
        } catch (error) {
          // Another process may have added it first; the catalog read below tells.
          this.#log.debug({ err: describeError(error), column: add.column.name }, 'adding a column failed');
        }
      }
      if (adds.length || created.size) ({ schema, findings } = await this.#read(table));
      const ready = schema;
      await this.#installCapture(schema, added, () => this.#publish(ready));
    } else {
      schema = await this.#asCaptured(table, schema);
    }
    this.#publish(schema);
    metrics.schemaColumns.set({ table: table.name }, schema.columns.length);
    return findings.flatMap((f) => {
      if (f.kind === 'mismatch') return [{ table: table.name, column: f.column, reason: f.reason }];
      // Without DDL here, a column only the owner can add stays out of the sync until it does: said, not silent.
      if (!changes) return [{ table: table.name, column: f.column.name, reason: `missing in ${f.store}: waits for the schema's owner (\`empsync migrate --watch\`) to add it` }];
      return [];
    });
  }

  /**
   * The adds to make now. A synced column found on one engine only was dropped from the other: added back
   * at once, the DBA dropping it from both engines one after the other would see it come back on the
   * first (and then on the second) whenever a check runs between the two statements. So it leaves the
   * sync at once, and is added back (empty, then filled from the other side: nothing lost) only when it
   * is still on one engine after the grace period. A rename is a column gone and a new one on the same
   * engine: the new name waits with the old one (added to the other engine at once, it would make the
   * DBA's rename there fail, the name being taken). A column new on one side otherwise, or a declared
   * one, is added at once.
   */
  #heldBack(
    table: string,
    adds: Extract<SchemaFinding, { kind: 'add' }>[],
  ): Extract<SchemaFinding, { kind: 'add' }>[] {
    const synced = new Set(this.schema(table).columns.map((c) => c.name));
    const propagated = new Map(adds.filter((a) => a.reason === 'propagated').map((a) => [a.column.name, a.store]));
    const vanished = this.#vanished.get(table) ?? new Map<string, { since: number; from: StoreName }>();
    this.#vanished.set(table, vanished);
    const grace = this.#options.dropGraceMs;
    const now = Date.now();
    // Back on both engines, or gone from both: no longer waiting.
    for (const column of vanished.keys()) if (!propagated.has(column)) vanished.delete(column);
    // Synced columns gone from one engine (the add targets that engine), and since when.
    for (const [column, from] of propagated) {
      if (vanished.has(column) || !synced.has(column)) continue;
      vanished.set(column, { since: now, from });
      this.#log.warn(
        { table, column, droppedIn: from, graceMs: grace },
        'synced column dropped on one engine: out of the sync, and added back from the other after the grace period unless dropped there too',
      );
    }
    const waiting = (v: { since: number }) => now - v.since < grace;
    const goneFrom = new Set([...vanished.values()].filter(waiting).map((v) => v.from));
    return adds.filter((add) => {
      if (add.reason !== 'propagated') return true;
      const gone = vanished.get(add.column.name);
      if (gone) {
        if (waiting(gone)) return false;
        vanished.delete(add.column.name);
        return true;
      }
      // A column only on the engine a synced column just left: perhaps its new name (held as long).
      return !goneFrom.has(otherStore(add.store));
    });
  }

  /**
   * Without `changes`, the schema is what both stores' capture carries: a column joins the sync here when
   * the owner's process has generated the capture with it (and filled its values), as it does there.
   */
  async #asCaptured(table: TableDeclaration, schema: TableSchema): Promise<TableSchema> {
    const { stores } = this.#options;
    const captured = await Promise.all(storeNames.map((store) => stores[store].capturedColumns(table.name)));
    const missing = storeNames.filter((_, i) => captured[i] === null);
    this.#unprepared.set(table.name, missing.map((store) => `${table.name}: no capture in ${store}`));
    if (missing.length) return schema;
    const carried = schema.columns.filter((c) => captured.every((columns) => columns!.includes(c.name)));
    return carried.length === schema.columns.length ? schema : tableSchema(table, carried);
  }

  /**
   * Brings both stores' capture to `schema`. A column joining the sync (added by this check, or one the
   * capture of a store did not have) may hold values on one side only — written before capture knew it,
   * or the side it was found on — while the other side's rows hold nothing: carried as it is, a row
   * changed there would carry that nothing over the values. So capture first leaves joining columns out,
   * each joining column is then filled, row by row, on the side that lacks its value where both sides
   * hold the same version of the row (without a new version: no change to sync, no conflict), and only
   * then does capture carry it, followed by a last fill for what changed in between.
   */
  async #installCapture(schema: TableSchema, added: ReadonlySet<string>, publish: () => void): Promise<void> {
    const { stores } = this.#options;
    const table = schema.table.name;
    const names = schema.columns.map((c) => c.name);
    const captured = await Promise.all(storeNames.map((store) => stores[store].capturedColumns(table)));
    const joining = schema.columns.filter(
      (c) => added.has(c.name) || captured.some((columns) => columns !== null && !columns.includes(c.name)),
    );
    const current = (columns: string[] | null) => columns !== null && columns.join(',') === names.join(',');
    if (joining.length === 0 && captured.every(current)) return;
    const without = joining.map((c) => c.name);
    if (joining.length > 0) {
      await Promise.all(storeNames.map((store) => stores[store].installCapture(schema, without)));
      for (const column of joining) await this.#fill(table, column, settleMs);
    }
    await Promise.all(storeNames.map((store) => stores[store].installCapture(schema)));
    this.#log.info({ table, columns: names.length, schemaVersion: schema.version, joined: without }, 'capture generated');
    // Captured rows carry the column from now on: relays and sinks carry and write it at once.
    publish();
    // Changes captured before that, still in flight, carried no value of the column: filled once applied.
    for (const column of joining) await this.#fill(table, column, settleMs);
  }

  /**
   * Where both sides hold a row at the same version but different values of `column`, copies the value
   * over: to the side that holds none (the column is new there, or was left out of the change that
   * reached it), else from the store that made that version (the change reached the other side without
   * the column). Repeats while rows with different values are in flight (different versions), for at
   * most `settleMs`: a change in flight reaches the other side within the pipeline's latency, and under
   * steady writes some row is always in flight.
   */
  async #fill(table: string, column: SchemaColumn, settleMs: number): Promise<void> {
    const { stores } = this.#options;
    const deadline = Date.now() + settleMs;
    let filled = 0;
    for (;;) {
      let inFlight = 0;
      let after: number | null = null;
      for (;;) {
        const mysqlRows = await stores.mysql.columnValues(table, column, after, fillChunk);
        const last = mysqlRows.length === fillChunk ? mysqlRows[mysqlRows.length - 1]!.id : undefined;
        const postgresRows = await stores.postgres.columnValues(table, column, after, Number.MAX_SAFE_INTEGER, last);
        const other = new Map(postgresRows.map((r) => [r.id, r]));
        const toMysql: ColumnValue[] = [];
        const toPostgres: ColumnValue[] = [];
        for (const m of mysqlRows) {
          const p = other.get(m.id);
          if (!p || p.value === m.value) continue;
          if (p.version !== m.version) inFlight += 1;
          else if (m.value === null) toMysql.push(p);
          else if (p.value === null) toPostgres.push(m);
          // Both hold a value: the store that made this version holds the one written with it.
          else if (m.origin === 'mysql') toPostgres.push(m);
          else toMysql.push(p);
        }
        filled += await stores.mysql.fillColumn(table, column, toMysql);
        filled += await stores.postgres.fillColumn(table, column, toPostgres);
        if (last === undefined) break;
        after = last;
      }
      if (inFlight === 0 || Date.now() >= deadline) {
        this.#log.info({ table, column: column.name, filled, stillInFlight: inFlight }, 'column joined the sync: values filled on the side that lacked them');
        return;
      }
      await sleep(100);
    }
  }

  async #read(table: TableDeclaration) {
    const { stores } = this.#options;
    const [mysql, postgres] = await Promise.all([stores.mysql.columns(table.name), stores.postgres.columns(table.name)]);
    return reconcileSchema(table, { mysql: mysql ?? [], postgres: postgres ?? [] });
  }
}
