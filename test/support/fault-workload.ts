// The fault suite's workload: three writers at once, each owning its own rows — GraphQL mutations
// against the API, plain SQL on MySQL, plain SQL on PostgreSQL —, each keeping a model of what was
// acknowledged. A write that fails (the fault) is retried with the same absolute values until it is
// acknowledged; one never acknowledged leaves its row uncertain (both states accepted, that row only).
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { EmployeeFields } from '../../src/store/types.ts';
import type { ExpectedRow } from './assertions.ts';

export type WriterName = 'api' | 'mysql' | 'postgres';
export const writerNames: readonly WriterName[] = ['api', 'mysql', 'postgres'];

/** Where a writer's statements go. `insert` throws a DuplicateEmail when the email is taken. */
export interface WriteTarget {
  insert(fields: EmployeeFields): Promise<number>;
  /** False when no row has this id. */
  update(id: number, fields: EmployeeFields): Promise<boolean>;
  /** False when no row has this id. */
  delete(id: number): Promise<boolean>;
  findIdByEmail(email: string): Promise<number | null>;
  close(): Promise<void>;
}

export class DuplicateEmail extends Error {}

/** A pool of plain SQL sessions on MySQL (errors of sessions the server dropped are expected here). */
export function mysqlTarget(url: string): WriteTarget & { pool: mysql.Pool } {
  const pool = mysql.createPool({ uri: url, connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true, connectTimeout: 5000 });
  pool.on('connection', (connection) => connection.on('error', () => undefined));
  return {
    pool,
    async insert(fields) {
      try {
        const [result] = await pool.execute<mysql.ResultSetHeader>(
          'INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES (?, ?, ?, ?, ?, ?)',
          [fields.nom, fields.prenom, fields.email, fields.poste, fields.salaire, fields.department],
        );
        return result.insertId;
      } catch (error) {
        if ((error as { errno?: number }).errno === 1062) throw new DuplicateEmail(fields.email, { cause: error });
        throw error;
      }
    },
    async update(id, fields) {
      const [result] = await pool.execute<mysql.ResultSetHeader>(
        'UPDATE employes SET nom = ?, prenom = ?, email = ?, poste = ?, salaire = ?, department = ? WHERE id = ?',
        [fields.nom, fields.prenom, fields.email, fields.poste, fields.salaire, fields.department, id],
      );
      return result.affectedRows > 0;
    },
    async delete(id) {
      const [result] = await pool.execute<mysql.ResultSetHeader>('DELETE FROM employes WHERE id = ?', [id]);
      return result.affectedRows > 0;
    },
    async findIdByEmail(email) {
      const [rows] = await pool.execute<mysql.RowDataPacket[]>('SELECT id FROM employes WHERE email = ?', [email]);
      return rows.length ? Number(rows[0]!.id) : null;
    },
    close: () => pool.end().catch(() => undefined),
  };
}

/** A pool of plain SQL sessions on PostgreSQL (the pool's own error event is expected when the server dies). */
export function postgresTarget(url: string): WriteTarget & { pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);
  return {
    pool,
    async insert(fields) {
      try {
        const { rows } = await pool.query<{ id: number }>(
          'INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
          [fields.nom, fields.prenom, fields.email, fields.poste, fields.salaire, fields.department],
        );
        return rows[0]!.id;
      } catch (error) {
        if ((error as { code?: string }).code === '23505' && /email/.test((error as { constraint?: string }).constraint ?? '')) {
          throw new DuplicateEmail(fields.email, { cause: error });
        }
        throw error;
      }
    },
    async update(id, fields) {
      const { rowCount } = await pool.query(
        'UPDATE employes SET nom = $1, prenom = $2, email = $3, poste = $4, salaire = $5, department = $6 WHERE id = $7',
        [fields.nom, fields.prenom, fields.email, fields.poste, fields.salaire, fields.department, id],
      );
      return (rowCount ?? 0) > 0;
    },
    async delete(id) {
      const { rowCount } = await pool.query('DELETE FROM employes WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    },
    async findIdByEmail(email) {
      const { rows } = await pool.query<{ id: number }>('SELECT id FROM employes WHERE email = $1', [email]);
      return rows[0]?.id ?? null;
    },
    close: () => pool.end().catch(() => undefined),
  };
}

const mutations = {
  create: 'mutation C($input: EmployeInput!) { createEmploye(input: $input) { id } }',
  update: 'mutation U($id: Int!, $input: EmployeInput!) { updateEmploye(id: $id, input: $input) { id } }',
  delete: 'mutation D($id: Int!) { deleteEmploye(id: $id) }',
};

/**
 * GraphQL mutations against the API at `url` (writes go to MySQL). An insert whose email is taken is
 * looked up in MySQL (`lookup`), where the API wrote it: the read model may not have it yet.
 */
export function apiTarget(url: string, lookup: WriteTarget): WriteTarget {
  const call = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { data?: T | null; errors?: { message: string; extensions?: { code?: string; field?: string } }[] };
    const [error] = body.errors ?? [];
    if (error) {
      if (error.extensions?.code === 'CONFLICT' && error.extensions.field === 'email') throw new DuplicateEmail(error.message);
      throw new Error(`${error.extensions?.code ?? 'GraphQL error'}: ${error.message}`);
    }
    if (!body.data) throw new Error(`HTTP ${response.status} without data`);
    return body.data;
  };
  const input = (fields: EmployeeFields) => ({ ...fields, salaire: Number(fields.salaire) });
  return {
    insert: async (fields) => (await call<{ createEmploye: { id: number } }>(mutations.create, { input: input(fields) })).createEmploye.id,
    update: async (id, fields) =>
      (await call<{ updateEmploye: { id: number } | null }>(mutations.update, { id, input: input(fields) })).updateEmploye !== null,
    delete: async (id) => (await call<{ deleteEmploye: boolean }>(mutations.delete, { id })).deleteEmploye,
    findIdByEmail: (email) => lookup.findIdByEmail(email),
    close: async () => undefined,
  };
}

/** One row a writer owns (or shares): its id once known, and the states it may be in (null: absent). */
interface TrackedRow {
  email: string;
  id: number | null;
  accepted: (EmployeeFields | null)[];
  /** Created elsewhere and changed by several writers: never deleted. */
  shared: boolean;
}

export interface WriterOptions {
  /** Pause between two operations (pacing the load, not waiting for an effect). */
  paceMs: number;
  /** Most updates of one row in a row (a chain of changes in quick succession). */
  chain: number;
  /** How long an operation in flight when the writer stops may still retry. */
  stopGraceMs?: number;
}

const postes = ['Dev', 'Ops', 'QA', 'Lead', 'Data'];
const departments = ['IT', 'RH', 'Finance', 'Ventes', 'R&D'];

/** A writer: inserts, chains of updates and deletes of its own rows, each retried until acknowledged. */
export class Writer {
  readonly name: WriterName;
  readonly #target: WriteTarget;
  readonly #options: WriterOptions;
  readonly #rows = new Map<string, TrackedRow>();
  #next = 0;
  #running: Promise<void> | null = null;
  #stopping = false;
  #stopRequestedAt = 0;
  #graceMs = Infinity;
  acknowledged = 0;
  failedAttempts = 0;
  lastError = '';
  /** Writes whose answer contradicts the model (an update or delete of a row that should be there). */
  readonly anomalies: string[] = [];

  constructor(name: WriterName, target: WriteTarget, options: WriterOptions) {
    this.name = name;
    this.#target = target;
    this.#options = options;
  }

  get running(): boolean {
    return this.#running !== null;
  }

  start(): void {
    this.#stopping = false;
    this.#graceMs = Infinity;
    this.#running ??= this.#loop().finally(() => (this.#running = null));
  }

  /** Stops starting operations; the one in flight retries at most `graceMs` (default stopGraceMs) more. */
  async stop(graceMs = this.#options.stopGraceMs ?? 60_000): Promise<void> {
    if (!this.#stopping) this.#stopRequestedAt = Date.now();
    this.#stopping = true;
    this.#graceMs = Math.min(this.#graceMs, graceMs);
    await this.#running;
  }

  /** Rows created elsewhere that this writer updates too. */
  share(rows: { id: number; fields: EmployeeFields }[]): void {
    for (const { id, fields } of rows) this.#rows.set(`shared:${id}`, { email: fields.email, id, accepted: [fields], shared: true });
  }

  /** What the stores must hold for this writer's rows. */
  expectations(): ExpectedRow[] {
    return [...this.#rows.values()].map(({ id, email, accepted }) => ({ id, email, accepted: [...accepted] }));
  }

  get uncertainRows(): number {
    return [...this.#rows.values()].filter((row) => row.accepted.length > 1).length;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const live = [...this.#rows.values()].filter((row) => row.id !== null && row.accepted.length === 1 && row.accepted[0] !== null);
      const owned = live.filter((row) => !row.shared);
      const draw = Math.random();
      if (owned.length < 5 || draw < 0.3) await this.#insert();
      else if (draw < 0.85) {
        const row = live[Math.floor(Math.random() * live.length)]!;
        const length = 1 + Math.floor(Math.random() * this.#options.chain);
        for (let i = 0; i < length && !this.#stopping && row.accepted.length === 1; i++) await this.#update(row);
      } else await this.#delete(owned[Math.floor(Math.random() * owned.length)]!);
      await sleep(this.#options.paceMs);
    }
  }

  #fields(n: number, version: number, email: string): EmployeeFields {
    return {
      nom: `Nom${n}v${version}`,
      prenom: `Prenom${Math.floor(Math.random() * 1000)}`,
      email,
      poste: postes[Math.floor(Math.random() * postes.length)]!,
      salaire: (Math.floor(Math.random() * 10_000_000) / 100).toFixed(2),
      department: departments[Math.floor(Math.random() * departments.length)]!,
    };
  }

  async #insert(): Promise<TrackedRow> {
    const n = this.#next++;
    const email = `${this.name}.${n}@faults.example`;
    const fields = this.#fields(n, 0, email);
    const row: TrackedRow = { email, id: null, accepted: [null, fields], shared: false };
    this.#rows.set(email, row);
    const id = await this.#attempt(async () => {
      try {
        return await this.#target.insert(fields);
      } catch (error) {
        if (!(error instanceof DuplicateEmail)) throw error;
        // An earlier attempt committed without its answer reaching us: the row is there.
        const found = await this.#target.findIdByEmail(email);
        if (found === null) throw error;
        return found;
      }
    });
    if (id !== undefined) {
      row.id = id;
      row.accepted = [fields];
    }
    return row;
  }

  async #update(row: TrackedRow): Promise<void> {
    const previous = row.accepted[0]!;
    const n = Number(/(\d+)@/.exec(row.email)?.[1] ?? 0);
    const version = Number(/v(\d+)$/.exec(previous.nom)?.[1] ?? 0) + 1;
    // Now and then a new email, still unique: email changes travel too.
    const email = !row.shared && Math.random() < 0.1 ? `${this.name}.${n}.v${version}@faults.example` : previous.email;
    const fields = this.#fields(n, version, email);
    row.accepted = [previous, fields];
    let first = true;
    const done = await this.#attempt(async () => {
      const found = await this.#target.update(row.id!, fields);
      if (!found && first) this.anomalies.push(`${this.name}: update of row ${row.id} found no row`);
      first = false;
      return true;
    });
    if (done) row.accepted = [fields];
  }

  async #delete(row: TrackedRow): Promise<void> {
    const previous = row.accepted[0]!;
    row.accepted = [previous, null];
    let first = true;
    const done = await this.#attempt(async () => {
      // A retry may find the row gone: its earlier attempt committed.
      const found = await this.#target.delete(row.id!);
      if (!found && first) this.anomalies.push(`${this.name}: delete of row ${row.id} found no row`);
      first = false;
      return true;
    });
    if (done) row.accepted = [null];
  }

  /** Runs `write` until it succeeds (counted as acknowledged), or the writer stops and its grace ends. */
  async #attempt<T>(write: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const value = await write();
        this.acknowledged++;
        return value;
      } catch (error) {
        this.failedAttempts++;
        this.lastError = (error as Error).message;
        if (this.#stopping && Date.now() - this.#stopRequestedAt >= this.#graceMs) return undefined;
        await sleep(Math.min(50 * 2 ** Math.min(attempt, 5), 1000));
      }
    }
  }
}

/** The three writers of a case, started and stopped together or one by one. */
export class Workload {
  readonly writers: Record<WriterName, Writer>;
  /** The plain SQL pools of the writers, for a case's own reads (they survive kills and restores). */
  readonly sql: { mysql: mysql.Pool; postgres: pg.Pool };
  readonly #targets: WriteTarget[];

  constructor(urls: { api: string; mysql: string; postgres: string }, options: WriterOptions) {
    const targets = { mysql: mysqlTarget(urls.mysql), postgres: postgresTarget(urls.postgres) };
    const api = apiTarget(urls.api, targets.mysql);
    this.sql = { mysql: targets.mysql.pool, postgres: targets.postgres.pool };
    this.#targets = [api, targets.mysql, targets.postgres];
    this.writers = {
      api: new Writer('api', api, options),
      mysql: new Writer('mysql', targets.mysql, options),
      postgres: new Writer('postgres', targets.postgres, options),
    };
  }

  /**
   * Rows inserted by plain SQL in MySQL that the MySQL and PostgreSQL writers both update from now on,
   * once the pipeline has brought them to PostgreSQL.
   */
  async createSharedRows(count: number): Promise<{ id: number; fields: EmployeeFields }[]> {
    const target = this.#targets[1]!;
    const rows: { id: number; fields: EmployeeFields }[] = [];
    for (let i = 0; i < count; i++) {
      const fields: EmployeeFields = { nom: 'Shared0v0', prenom: 'Shared', email: `shared.${i}@faults.example`, poste: 'Dev', salaire: '1000.00', department: 'IT' };
      rows.push({ id: await target.insert(fields), fields });
    }
    // The PostgreSQL writer updates them too: only once they are there (else its first update finds none).
    const postgres = this.#targets[2]!;
    const deadline = Date.now() + 60_000;
    for (const { fields } of rows) {
      while ((await postgres.findIdByEmail(fields.email)) === null) {
        if (Date.now() > deadline) throw new Error(`shared row ${fields.email} did not reach PostgreSQL within 60 s`);
        await sleep(50);
      }
    }
    this.writers.mysql.share(rows);
    this.writers.postgres.share(rows);
    return rows;
  }

  start(): void {
    for (const writer of Object.values(this.writers)) writer.start();
  }

  async stop(names: readonly WriterName[] = writerNames, graceMs?: number): Promise<void> {
    await Promise.all(names.map((name) => this.writers[name].stop(graceMs)));
  }

  get acknowledged(): number {
    return Object.values(this.writers).reduce((sum, w) => sum + w.acknowledged, 0);
  }

  /** Resolves once every running writer has `count` more acknowledged writes than now (bounded). */
  async progress(count: number, timeoutMs: number): Promise<void> {
    const running = Object.values(this.writers).filter((w) => w.running);
    const targets = running.map((w) => [w, w.acknowledged + count] as const);
    const deadline = Date.now() + timeoutMs;
    while (targets.some(([w, target]) => w.running && w.acknowledged < target)) {
      if (Date.now() > deadline) {
        const behind = targets.filter(([w, target]) => w.acknowledged < target).map(([w]) => `${w.name} (last error: ${w.lastError})`);
        throw new Error(`writers made no progress within ${timeoutMs} ms: ${behind.join(', ')}`);
      }
      await sleep(50);
    }
  }

  /** Every row's accepted states; a row several writers share accepts what any of them left. */
  expectations(): ExpectedRow[] {
    const byKey = new Map<string, ExpectedRow>();
    for (const writer of Object.values(this.writers)) {
      for (const row of writer.expectations()) {
        const key = row.id === null ? `email:${row.email}` : `id:${row.id}`;
        const known = byKey.get(key);
        if (known) known.accepted.push(...row.accepted);
        else byKey.set(key, row);
      }
    }
    return [...byKey.values()];
  }

  get anomalies(): string[] {
    return Object.values(this.writers).flatMap((w) => w.anomalies);
  }

  get uncertainRows(): number {
    return Object.values(this.writers).reduce((sum, w) => sum + w.uncertainRows, 0);
  }

  /** Stops every writer (an operation in flight gives up at once) and closes the pools. */
  async close(): Promise<void> {
    await this.stop(writerNames, 0);
    await Promise.all(this.#targets.map((t) => t.close()));
  }
}
