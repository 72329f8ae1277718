// Snapshot interleavings: a snapshot reads the source table in id-ordered chunks and publishes each row with
// the version it read, while live changes of the same rows keep flowing through the outbox — no watermark
// between the two, only the sinks' version guard and kept tombstones. Property-based: fast-check draws the
// rows the other store never saw, then a schedule of live writes on both stores placed between the
// snapshot's chunks (rows already published, rows read but not yet published, rows not read yet, rows born
// during the run; inserts, updates, deletes, an email freed and taken again, a row the other store takes
// over). The snapshot is paced by a lock the test holds on the run's record in sync_backfill: the relay
// publishes a chunk, then waits to record it, so each step of the schedule lands at a known position.
// After everything settles, both stores hold the same rows column by column (and reconcile agrees), every
// acknowledged write is there with its last value, no deleted row came back, and no (id, version) was
// applied twice. SNAPSHOT_RUNS sets the number of schedules (default 4; the reverse direction, a snapshot
// of PostgreSQL into MySQL, runs half as many).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admin } from '@platformatic/kafka';
import fc from 'fast-check';
import { sql, type ControlledTransaction, type Kysely } from 'kysely';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { requestBackfill, followBackfill } from '../../src/relay/backfill.ts';
import { sinkGroup, startRole, type RunningRole } from '../../src/roles/roles.ts';
import { closeStores, createStores, type Stores } from '../../src/store/create-stores.ts';
import type { Database } from '../../src/store/schema.ts';
import { storeNames, type EmployeeFields, type StoreName } from '../../src/store/types.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import { applyLogTable, assertNoDoubleApply, assertNoLoss, waitForConvergence } from '../support/assertions.ts';
import { installApplyLog } from '../support/fault-apply-log.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const chunkRows = 20;
const config = testConfig('snapshot_interleavings', {
  BACKFILL_CHUNK_SIZE: String(chunkRows),
  LOG_CHECK_INTERVAL_MS: '500',
  // No drift check: its repairs would mend a row the snapshot got wrong before the assertions look.
  DRIFT_CHECK_INTERVAL_MS: '0',
  // Each run requests its own snapshot; none at start-up.
  BACKFILL_ON_START: 'false',
});
const numRuns = Number(process.env.SNAPSHOT_RUNS ?? 4);
const table = 'employes';

let running: RunningRole;
/** The test's own connections (writers and the gate), apart from the role's pools. */
let clients: Stores;
let admin: Admin;
let runSerial = 0;
let emailSerial = 0;

// ---- what fast-check draws ----

const cents = fc.integer({ min: -9_999_999_999, max: 9_999_999_999 });
const salaire = cents.map((c) => `${c < 0 ? '-' : ''}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`);
const text = fc.string({ maxLength: 24 });
const values = fc.record({ nom: text, prenom: text, poste: text, salaire, department: text });
type Values = typeof values extends fc.Arbitrary<infer T> ? T : never;

/**
 * Where a source row stands in the snapshot when a write reaches it: `behind` its recorded position
 * (published), on the `frontier` (the next two chunks: read, perhaps published, not recorded), `ahead`
 * (not read yet), or `new` (born during the run).
 */
const targets = ['behind', 'frontier', 'ahead', 'new'] as const;
type Target = (typeof targets)[number];
const target = fc.constantFrom(...targets);

const sourceOp = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), values, reuseEmail: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('update' as const), target, pick: fc.nat(), values, newEmail: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), target, pick: fc.nat() }) },
);
type SourceOp = typeof sourceOp extends fc.Arbitrary<infer T> ? T : never;

/** The other store writes its own rows, rows the snapshot brought it, and rows the source wrote last once that write arrived. */
const otherOp = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), values }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('update' as const), pick: fc.nat(), values, newEmail: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('take-over' as const), pick: fc.nat(), values }) },
);
type OtherOp = typeof otherOp extends fc.Arbitrary<infer T> ? T : never;

/**
 * One step of a schedule: writes on both stores at once, with the snapshot `paused` (then let on by a
 * chunk or so), `held` (not let on), or `racing` (the writes run while it publishes freely).
 */
const step = fc.record({
  mode: fc.constantFrom('paused', 'held', 'racing'),
  source: fc.array(sourceOp, { maxLength: 8 }),
  other: fc.array(otherOp, { maxLength: 4 }),
});
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/**
 * Writes every schedule makes in its first paused window (at drawn places among that step's writes), so
 * that every run has the snapshot overtaken on each side of its position: a row not read yet deleted, a
 * published row deleted, a row read but not yet published changed.
 */
const anchorOf = (kind: 'update' | 'delete', where: Target, pick: number): SourceOp =>
  kind === 'delete'
    ? { kind, target: where, pick }
    : { kind, target: where, pick, values: { nom: 'Frontier', prenom: 'F', poste: 'F', salaire: '1.00', department: 'F' }, newEmail: false };

const schedule = fc.record({
  rows: fc.integer({ min: 240, max: 400 }),
  seed: fc.array(values, { minLength: 1, maxLength: 8 }),
  anchorPicks: fc.tuple(fc.nat(), fc.nat(), fc.nat()),
  anchorPlaces: fc.tuple(fc.nat(), fc.nat(), fc.nat()),
  steps: fc.array(step, { minLength: 2, maxLength: 6 }),
});
type Schedule = typeof schedule extends fc.Arbitrary<infer T> ? T : never;

// ---- the model: what each row must end as ----

interface ModelRow {
  id: number;
  email: string;
  /** The last acknowledged state (null: deleted). */
  fields: EmployeeFields | null;
  /** The store allowed to write it: the first to write it in this run (null: a seed row nobody wrote yet). */
  owner: StoreName | null;
  bornIn: 'seed' | StoreName;
  /** A write of it is being made or checked now (neither store may start another). */
  busy: boolean;
  /** Deleted on the source: its email may be taken again there. */
  emailFree: boolean;
}

const fieldsOf = (v: Values, email: string): EmployeeFields => ({ ...v, email });
const freshEmail = (run: number, tag: string) => `r${run}.${tag}.${emailSerial++}@example.fr`;

/** Counts of writes made while the snapshot was unfinished, by kind and the position of their row. */
const coverage = new Map<string, number>();
const count = (key: string) => coverage.set(key, (coverage.get(key) ?? 0) + 1);

// ---- SQL of the test's writers ----

async function insertRow(side: StoreName, fields: EmployeeFields): Promise<number> {
  const db = clients[side].db;
  const { nom, prenom, email, poste, salaire, department } = fields;
  if (side === 'mysql') {
    const result = await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
                             VALUES (${nom}, ${prenom}, ${email}, ${poste}, ${salaire}, ${department})`.execute(db);
    return Number(result.insertId);
  }
  const { rows } = await sql<{ id: number }>`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
                                             VALUES (${nom}, ${prenom}, ${email}, ${poste}, ${salaire}, ${department}) RETURNING id`.execute(db);
  return Number(rows[0]!.id);
}

async function updateRow(side: StoreName, id: number, fields: EmployeeFields): Promise<boolean> {
  const { nom, prenom, email, poste, salaire, department } = fields;
  const result = await sql`UPDATE employes SET nom = ${nom}, prenom = ${prenom}, email = ${email}, poste = ${poste},
                           salaire = ${salaire}, department = ${department} WHERE id = ${id}`.execute(clients[side].db);
  return result.numAffectedRows === 1n;
}

async function deleteRow(side: StoreName, id: number): Promise<boolean> {
  const result = await sql`DELETE FROM employes WHERE id = ${id}`.execute(clients[side].db);
  return result.numAffectedRows === 1n;
}

async function versionOf(side: StoreName, id: number): Promise<bigint | null> {
  const { rows } = await sql<{ v: string | number }>`SELECT sync_version AS v FROM employes WHERE id = ${id}`.execute(clients[side].db);
  return rows[0] ? BigInt(rows[0].v) : null;
}

/** Runs `work` as the sink writes: neither stamped nor captured (the marker never outlives the work on a pooled connection). */
async function asSink<T>(side: StoreName, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  if (side === 'postgres') {
    return clients.postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      return work(trx);
    });
  }
  return clients.mysql.db.connection().execute(async (session) => {
    await sql`SET @sync_origin = 'sink'`.execute(session);
    try {
      return await session.transaction().execute(work);
    } finally {
      await sql`SET @sync_origin = NULL`.execute(session);
    }
  });
}

/** Rows the other store never saw: written on `side` with versions a little in the past, not captured. */
async function seedRows(side: StoreName, run: number, rows: number, drawn: Values[]): Promise<ModelRow[]> {
  const base = BigInt(Date.now() - 60_000) * 1000n;
  const seeds = Array.from({ length: rows }, (_, i) => fieldsOf(drawn[i % drawn.length]!, freshEmail(run, 'seed')));
  const ids: number[] = [];
  await asSink(side, async (db) => {
    for (let start = 0; start < seeds.length; start += 100) {
      const tuples = seeds.slice(start, start + 100).map(
        (f, i) => sql`(${f.nom}, ${f.prenom}, ${f.email}, ${f.poste}, ${f.salaire}, ${f.department}, ${base + BigInt(start + i)}, ${side})`,
      );
      const insert = sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department, sync_version, sync_origin) VALUES ${sql.join(tuples)}`;
      if (side === 'postgres') {
        ids.push(...(await sql<{ id: number }>`${insert} RETURNING id`.execute(db)).rows.map((r) => Number(r.id)));
      }
      else await insert.execute(db);
    }
    if (side === 'mysql') {
      const { rows: found } = await sql<{ id: number; email: string }>`SELECT id, email FROM employes`.execute(db);
      const byEmail = new Map(found.map((r) => [r.email, Number(r.id)]));
      ids.push(...seeds.map((f) => byEmail.get(f.email)!));
    }
  });
  return seeds.map((fields, i) => ({ id: ids[i]!, email: fields.email, fields, owner: null, bornIn: 'seed', busy: false, emailFree: false }));
}

/** Empties both tables, their tombstones and the apply log without capture: the next run starts from nothing. */
async function clearStores(): Promise<void> {
  for (const side of storeNames) {
    await asSink(side, async (db) => {
      await sql`DELETE FROM employes`.execute(db);
      await sql`DELETE FROM sync_tombstones WHERE table_name = ${table}`.execute(db);
      await sql`DELETE FROM ${sql.table(applyLogTable)}`.execute(db);
    });
  }
}

// ---- settling ----

async function topicEnds(): Promise<Map<number, bigint>> {
  const partitions = Array.from({ length: config.KAFKA_PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
  const [topic] = await admin.listOffsets({ topics: [{ name: config.KAFKA_TOPIC, partitions }] });
  return new Map(topic!.partitions.map((p) => [p.partitionIndex, p.offset]));
}

/**
 * Waits until nothing is on its way: every snapshot done, both outboxes empty, and every event in the
 * topic consumed by both sinks (their offsets, stored with what they applied, at the end of the log).
 */
async function waitForQuiet(timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'snapshots done, outboxes empty and every published event consumed by both sinks',
    async () => {
      for (const side of storeNames) {
        if ((await running.stores[side].outbox.snapshotRuns()).some((r) => !r.done)) return false;
        if ((await running.stores[side].outbox.backlog()) > 0) return false;
      }
      const ends = await topicEnds();
      for (const side of storeNames) {
        const group = sinkGroup(config, side, config.KAFKA_TOPIC, table);
        const stored = new Map((await running.stores[side].apply.readOffsets(group, config.KAFKA_TOPIC)).map((o) => [o.partition, o.nextOffset]));
        for (const [partition, end] of ends) if ((stored.get(partition) ?? 0n) < end) return false;
      }
      return true;
    },
    timeoutMs,
  );
}

// ---- the gate: a lock on the run's record paces the snapshot ----

interface Position {
  lastId: number | null;
  published: number;
  done: boolean;
}

/**
 * Holds the run's row of sync_backfill locked: the relay publishes the chunk it has, then waits to record
 * it (the next chunk is already read). While held, rows up to the recorded position were published; the
 * next two chunks were read, perhaps published; the rest was not read yet.
 */
class SnapshotGate {
  readonly #source: StoreName;
  readonly #run: string;
  #held: ControlledTransaction<Database> | null = null;
  position: Position = { lastId: null, published: 0, done: false };

  constructor(source: StoreName, run: string) {
    this.#source = source;
    this.#run = run;
  }

  /** True while the snapshot is held between two chunks, unfinished. */
  get pausing(): boolean {
    return this.#held !== null && !this.position.done;
  }

  async close(): Promise<Position> {
    const trx = await clients[this.#source].db.startTransaction().execute();
    this.#held = trx;
    const { rows } = await sql<{ last_id: number | null; published: string | number; done: number | boolean }>`
      SELECT last_id, published, done FROM sync_backfill WHERE name = ${this.#run} FOR UPDATE`.execute(trx);
    const row = rows[0];
    assert.ok(row, `run ${this.#run} recorded`);
    this.position = { lastId: row.last_id === null ? null : Number(row.last_id), published: Number(row.published), done: Boolean(row.done) };
    return this.position;
  }

  async open(): Promise<void> {
    const trx = this.#held;
    this.#held = null;
    await trx?.commit().execute();
  }

  /** Lets the snapshot publish and record at least one more chunk (or finish) — `during` runs meanwhile — then holds it again. */
  async advance(during?: () => Promise<void>): Promise<Position> {
    const before = this.position;
    await this.open();
    await during?.();
    await waitFor(`snapshot ${this.#run} past ${before.published} rows`, async () => {
      const now = (await running.stores[this.#source].outbox.snapshotRuns()).find((r) => r.run === this.#run);
      return now && (now.done || now.published > before.published);
    });
    return this.close();
  }
}

/** Runs both writers at once; fails with the first failure once neither is still writing. */
async function together(...writers: (() => Promise<void>)[]): Promise<void> {
  const results = await Promise.allSettled(writers.map((w) => w()));
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

// ---- one schedule ----

async function runSchedule(source: StoreName, s: Schedule): Promise<void> {
  const other: StoreName = source === 'mysql' ? 'postgres' : 'mysql';
  const run = ++runSerial;
  const t0 = Date.now();
  await waitForQuiet();
  await clearStores();

  const model = new Map<number, ModelRow>();
  for (const row of await seedRows(source, run, s.rows, s.seed)) model.set(row.id, row);
  assert.equal(await running.stores[other].employees.count(), 0, `${other} never saw the seeded rows`);

  const [request] = await requestBackfill(running.stores[source], [table], { run: () => `interleave-${source}-${run}:${table}`, resume: false });
  assert.equal(request?.state, 'started');
  const gate = new SnapshotGate(source, request.run);
  try {
    // Held from the first recorded chunk on.
    if ((await gate.close()).lastId === null) await gate.advance();

    /** The source's rows in the snapshot's order, by where they stand. */
    const classify = (): Record<Target, ModelRow[]> => {
      const { lastId } = gate.position;
      const rows = [...model.values()].filter((r) => r.fields !== null && r.bornIn !== other).sort((a, b) => a.id - b.id);
      const after = rows.filter((r) => lastId === null || r.id > lastId);
      const frontier = new Set(after.slice(0, 2 * chunkRows).map((r) => r.id));
      return {
        behind: rows.filter((r) => lastId !== null && r.id <= lastId),
        frontier: after.filter((r) => frontier.has(r.id)),
        ahead: after.filter((r) => !frontier.has(r.id)),
        new: rows.filter((r) => r.bornIn === source),
      };
    };
    const writable = (r: ModelRow, side: StoreName) => !r.busy && r.fields !== null && (r.owner === null || r.owner === side);

    /** One source write; returns where its row stood (null: no row to write). */
    const applySourceOp = async (op: SourceOp): Promise<Target | null> => {
      const pausing = gate.pausing;
      if (op.kind === 'insert') {
        const reused = op.reuseEmail ? [...model.values()].find((r) => r.emailFree) : undefined;
        if (reused) reused.emailFree = false;
        const fields = fieldsOf(op.values, reused?.email ?? freshEmail(run, source));
        const id = await insertRow(source, fields);
        model.set(id, { id, email: fields.email, fields, owner: source, bornIn: source, busy: false, emailFree: false });
        if (pausing) count(`${source}:insert${reused ? ':reused-email' : ''}`);
        return 'new';
      }
      const classes = classify();
      const where = classes[op.target].some((r) => writable(r, source)) ? op.target : targets.find((t) => classes[t].some((r) => writable(r, source)));
      if (!where) return null;
      const candidates = classes[where].filter((r) => writable(r, source));
      const row = candidates[op.pick % candidates.length]!;
      row.busy = true;
      row.owner = source;
      try {
        if (op.kind === 'update') {
          const fields = fieldsOf(op.values, op.newEmail ? freshEmail(run, source) : row.email);
          assert.ok(await updateRow(source, row.id, fields), `update of ${row.id} on ${source}`);
          row.fields = fields;
          row.email = fields.email;
        } else {
          assert.ok(await deleteRow(source, row.id), `delete of ${row.id} on ${source}`);
          row.fields = null;
          row.emailFree = true;
        }
      } finally {
        row.busy = false;
      }
      if (pausing) count(`${source}:${op.kind}:${where}`);
      return where;
    };

    /** One write on the other store: its own rows, seed rows the snapshot published, a row the source wrote last. */
    const applyOtherOp = async (op: OtherOp): Promise<void> => {
      const pausing = gate.pausing;
      if (op.kind === 'insert') {
        const fields = fieldsOf(op.values, freshEmail(run, other));
        const id = await insertRow(other, fields);
        model.set(id, { id, email: fields.email, fields, owner: other, bornIn: other, busy: false, emailFree: false });
        if (pausing) count(`${other}:insert`);
        return;
      }
      const { lastId } = gate.position;
      const candidates =
        op.kind === 'take-over'
          ? [...model.values()].filter((r) => !r.busy && r.fields !== null && r.owner === source)
          : [...model.values()].filter((r) => writable(r, other) && (r.owner === other || (r.bornIn === 'seed' && lastId !== null && r.id <= lastId)));
      const row = candidates[op.pick % Math.max(1, candidates.length)];
      if (!row) return;
      const previousOwner = row.owner;
      row.busy = true;
      row.owner = other;
      let written = false;
      try {
        if (op.kind === 'take-over') {
          // Only once the source's last write has arrived: a change built on it, not a concurrent one.
          const [here, there] = await Promise.all([versionOf(other, row.id), versionOf(source, row.id)]);
          if (here === null || here !== there) return;
        }
        if (op.kind === 'delete') {
          written = await deleteRow(other, row.id);
          if (written) row.fields = null;
        } else {
          const fields = fieldsOf(op.values, op.kind === 'update' && op.newEmail ? freshEmail(run, other) : row.email);
          written = await updateRow(other, row.id, fields);
          if (written) {
            row.fields = fields;
            row.email = fields.email;
          }
        }
        if (written && pausing) count(`${other}:${op.kind}`);
      } finally {
        // Not written (a seed row that has not arrived there yet): its owner stays who it was.
        if (!written) row.owner = previousOwner;
        row.busy = false;
      }
    };

    // Made in the first step, which is paused, among its drawn writes.
    const anchored = new Set<SourceOp>([
      anchorOf('delete', 'ahead', s.anchorPicks[0]),
      anchorOf('delete', 'behind', s.anchorPicks[1]),
      anchorOf('update', 'frontier', s.anchorPicks[2]),
    ]);
    const writes = (sourceOps: readonly SourceOp[], otherOps: readonly OtherOp[]) =>
      together(
        async () => {
          for (const op of sourceOps) {
            const reached = await applySourceOp(op);
            if (anchored.has(op)) assert.equal(reached, op.kind === 'insert' ? 'new' : op.target, `anchored ${op.kind} reached a row ${op.kind === 'insert' ? '' : op.target}`);
          }
        },
        async () => {
          for (const op of otherOps) await applyOtherOp(op);
        },
      );

    // The first step is paused and makes the anchored writes among its own.
    const firstOps = [...s.steps[0]!.source];
    [...anchored].forEach((op, i) => firstOps.splice(s.anchorPlaces[i]! % (firstOps.length + 1), 0, op));
    const steps: Step[] = [{ ...s.steps[0]!, mode: 'paused', source: firstOps }, ...s.steps.slice(1)];
    for (const { mode, source: sourceOps, other: otherOps } of steps) {
      if (mode === 'racing') {
        await gate.advance(() => writes(sourceOps, otherOps));
        continue;
      }
      await writes(sourceOps, otherOps);
      if (mode === 'paused') await gate.advance();
    }
    await gate.open();

    const [finished] = await followBackfill(running.stores[source].outbox, [request.run], { intervalMs: 50, signal: AbortSignal.timeout(60_000) });
    assert.equal(finished?.done, true);
    await waitForQuiet();
    // Nothing is on its way any more: what differs now stays different.
    await waitForConvergence(running.stores, 5_000);

    // Every acknowledged write there with its last value, on both sides; no row that no write explains.
    await assertNoLoss(running.stores, [...model.values()].map((r) => ({ id: r.id, email: r.email, accepted: [r.fields] })));
    for (const side of storeNames) {
      const present = new Set((await running.stores[side].employees.dump()).map((r) => r.id));
      const resurrected = [...model.values()].filter((r) => r.fields === null && present.has(r.id)).map((r) => r.id);
      assert.deepEqual(resurrected, [], `deleted rows back in ${side}`);
    }
    const report = await reconcile(running.stores, running.schemas.schemas, { settleMs: 0 });
    assert.equal(report.divergent, 0, `reconcile: ${JSON.stringify(report.sample.slice(0, 5))}`);
    assert.equal(report.compared, [...model.values()].filter((r) => r.fields !== null).length);
    await assertNoDoubleApply(running.stores);
    if (process.env.DEBUG_SNAP) console.log('run', run, source, s.rows, model.size, Date.now() - t0);
  } finally {
    await gate.open();
  }
}

/** The snapshot really was overtaken while it ran: on each side of its position, in every run. */
function assertCoverage(source: StoreName, runs: number): void {
  for (const key of [`${source}:delete:ahead`, `${source}:delete:behind`, `${source}:update:frontier`]) {
    assert.ok((coverage.get(key) ?? 0) >= runs, `${key}: ${coverage.get(key) ?? 0} writes while the snapshot was held`);
  }
}

describe('snapshot interleaved with live writes', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
    await installApplyLog(running.stores);
    clients = createStores(config);
    admin = new Admin(baseClientOptions(config, 'test-snapshot-interleavings'));
  });
  after(async () => {
    if (clients) await closeStores(clients);
    await running?.stop();
    if (admin) {
      await admin.deleteTopics({ topics: [config.KAFKA_TOPIC, config.KAFKA_DLQ_TOPIC] }).catch(() => undefined);
      await admin.close().catch(() => undefined);
    }
    await dropTestDatabases(config);
  });

  it('a MySQL snapshot racing writes on both stores: both end equal, every write kept, nothing resurrected or applied twice', async () => {
    coverage.clear();
    await fc.assert(fc.asyncProperty(schedule, (s) => runSchedule('mysql', s)), { numRuns });
    assertCoverage('mysql', numRuns);
  });

  it('the reverse direction: a PostgreSQL snapshot racing writes on both stores', async () => {
    coverage.clear();
    const runs = Math.max(1, Math.ceil(numRuns / 2));
    await fc.assert(fc.asyncProperty(schedule, (s) => runSchedule('postgres', s)), { numRuns: runs });
    assertCoverage('postgres', runs);
  });
});
