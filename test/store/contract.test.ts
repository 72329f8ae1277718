// The store contract: one suite, run against every dialect (as kysely's tests loop over theirs), of what
// each narrow port of a store promises its stage — capture into the outbox, the sink's apply transaction,
// exact values through both engines, the schema keeper's catalog and capture, errors as EmpsyncError,
// dead letters and conflicts — against the real MariaDB and PostgreSQL. A dialect passes the same cases.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql, type RawBuilder } from 'kysely';
import { EmpsyncError, ErrorCodes, type ErrorCode } from '../../src/errors.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { planBatch, uniqueRequest, type PositionedEvent } from '../../src/sink/plan-batch.ts';
import { closeStores, createStores } from '../../src/store/create-stores.ts';
import type { ApplyState, Store } from '../../src/store/ports.ts';
import {
  storeNames,
  type ApplyPlan,
  type CapturedChange,
  type ChangeOp,
  type ConflictRecord,
  type DeadLetterRecord,
  type StoreName,
  type StoredOffset,
  type SyncedRow,
} from '../../src/store/types.ts';
import type { ColumnType } from '../../src/tables/column-types.ts';
import type { ColumnDeclaration, TableDeclaration } from '../../src/tables/declaration.ts';
import { declaredSchema, type SchemaColumn, type TableSchema } from '../../src/tables/table-schema.ts';
import {
  canonicalValue,
  portableInstants,
  unportableValue,
  type RowValues,
} from '../../src/tables/values.ts';
import type { ChangeEvent } from '../../src/transport/envelope.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

/** A second declared table holding one column of every logical type (SYNC_TABLES_FILE). */
const items: TableDeclaration = {
  name: 'contract_items',
  topic: `test-store_contract-${process.pid}-items`,
  columns: [
    { name: 'code', type: { kind: 'text', length: 50 }, nullable: false },
    { name: 'price', type: { kind: 'decimal', precision: 12, scale: 3 }, nullable: false },
    { name: 'seen_at', type: { kind: 'timestamp' }, nullable: true },
    { name: 'active', type: { kind: 'boolean' }, nullable: false },
    { name: 'big', type: { kind: 'bigint' }, nullable: false },
    { name: 'due', type: { kind: 'date' }, nullable: false },
    { name: 'ratio', type: { kind: 'double' }, nullable: false },
    { name: 'qty', type: { kind: 'integer' }, nullable: false },
    { name: 'level', type: { kind: 'smallint' }, nullable: true },
    { name: 'note', type: { kind: 'text', length: null }, nullable: true },
  ],
  unique: ['code'],
  indexes: [{ name: 'contract_items_due_idx', columns: ['due', 'id'] }],
};

/** A row of `items` in canonical text, with the edges of each type. */
const sample: RowValues = {
  code: 'cap-1',
  price: '12.500',
  seen_at: '2024-01-02T03:04:05.123456Z',
  active: 'true',
  big: '9223372036854775807',
  due: '2024-02-29',
  ratio: '0.1',
  qty: '42',
  level: '-32768',
  note: "l'été \\ 🦄",
};

/** A table the schema port creates itself (never declared: the schema keeper does not know it). */
const probe: TableDeclaration = {
  name: 'contract_probe',
  topic: 'contract-probe-unused',
  columns: [
    { name: 'label', type: { kind: 'text', length: 20 }, nullable: false },
    { name: 'joining', type: { kind: 'text', length: 40 }, nullable: true },
    { name: 'flag', type: { kind: 'boolean' }, nullable: true },
    { name: 'at', type: { kind: 'timestamp' }, nullable: true },
    { name: 'amount', type: { kind: 'decimal', precision: 8, scale: 2 }, nullable: true },
  ],
  unique: ['label'],
  indexes: [{ name: 'contract_probe_at_idx', columns: ['at'] }],
};
const addedColumn: ColumnDeclaration = { name: 'added', type: { kind: 'date' }, nullable: true };

const tableDirectory = mkdtempSync(join(tmpdir(), 'empsync-store-contract-'));
const tableFile = join(tableDirectory, 'tables.json');
writeFileSync(tableFile, JSON.stringify([items]));
const config = testConfig('store_contract', { SYNC_TABLES_FILE: tableFile });
const group = 'contract-sink';
const logId = 'contract-cluster/contract-topic';

let running: RunningRole;

before(async () => {
  await dropTestDatabases(config);
  running = await startRole('migrate', { config, logger: quietLogger(config) });
});
after(async () => {
  await running?.stop();
  rmSync(tableDirectory, { recursive: true, force: true });
});

/** A canonical value as an SQL literal both dialects read the same way (booleans as keywords, instants in UTC). */
function literal(type: ColumnType, value: string | null): RawBuilder<unknown> {
  if (value === null) return sql`NULL`;
  if (type.kind === 'boolean') return sql.raw(value === 'true' ? 'TRUE' : 'FALSE');
  if (type.kind === 'timestamp') return sql`${value.replace('T', ' ').replace('Z', '')}`;
  return sql`${value}`;
}

/** A local write (an application's INSERT, as any client would run it): captured by the triggers. */
async function insertLocally(store: Store, table: TableDeclaration, values: RowValues): Promise<number> {
  const columns = table.columns.filter((c) => c.name in values);
  await sql`INSERT INTO ${sql.table(table.name)} (${sql.join(columns.map((c) => sql.ref(c.name)))})
            VALUES (${sql.join(columns.map((c) => literal(c.type, values[c.name] ?? null)))})`.execute(
    store.db,
  );
  const key = table.unique[0]!;
  const { rows } = await sql<{ id: number }>`
    SELECT id FROM ${sql.table(table.name)} WHERE ${sql.ref(key)} = ${values[key]}`.execute(store.db);
  return Number(rows[0]!.id);
}

async function updateLocally(
  store: Store,
  table: TableDeclaration,
  id: number,
  values: RowValues,
): Promise<void> {
  const types = new Map(table.columns.map((c) => [c.name, c.type]));
  const sets = Object.entries(values).map(
    ([column, value]) => sql`${sql.ref(column)} = ${literal(types.get(column)!, value)}`,
  );
  await sql`UPDATE ${sql.table(table.name)} SET ${sql.join(sets)} WHERE id = ${id}`.execute(store.db);
}

async function drainOutbox(store: Store): Promise<void> {
  for (let changes = await store.outbox.read(500); changes.length; changes = await store.outbox.read(500)) {
    await store.outbox.delete(changes.map((c) => c.seq));
  }
}

/** The captured row's values in canonical text, and the columns it carries. */
function capturedValues(
  change: CapturedChange,
  schema: TableSchema,
): { columns: string[]; values: RowValues } {
  const raw = change.raw ?? {};
  return {
    columns: Object.keys(raw).sort(),
    values: Object.fromEntries(
      schema.columns.filter((c) => c.name in raw).map((c) => [c.name, canonicalValue(c.type, raw[c.name])]),
    ),
  };
}

function emptyPlan(schema: TableSchema, parts: Partial<ApplyPlan> = {}): ApplyPlan {
  return {
    schema,
    upserts: [],
    deletes: [],
    displaced: [],
    parkUnique: [],
    seen: new Map(),
    conflicts: [],
    deadLetters: [],
    replayedDeadLetters: [],
    offsets: [],
    logId,
    consumerGroup: group,
    ...parts,
  };
}

/**
 * What a sink does with a batch of partition 0 starting at `firstOffset`: in one transaction, the locking
 * read, the version guard (planBatch), the plan's writes and the next offset.
 */
async function applyAsTheSink(
  store: Store,
  schema: TableSchema,
  changes: { op: ChangeOp; row: SyncedRow; baseVersion: bigint }[],
  firstOffset: bigint,
): Promise<{ state: ApplyState; plan: ApplyPlan }> {
  const events: PositionedEvent[] = changes.map((change, i) => ({
    partition: 0,
    offset: firstOffset + BigInt(i),
    event: {
      eventId: randomUUID(),
      table: schema.table.name,
      schemaVersion: schema.version,
      committedAt: new Date().toISOString(),
      ...change,
    } satisfies ChangeEvent,
  }));
  return store.apply.transaction(async (tx) => {
    const state = await tx.readState({
      table: schema.table.name,
      ids: [...new Set(changes.map((c) => c.row.id))],
      unique: uniqueRequest(schema, changes),
      offsets: { consumerGroup: group, topic: schema.table.topic, partitions: [0] },
    });
    const { plan } = planBatch({
      schema,
      target: store.name,
      policy: 'newer-wins',
      consumerGroup: group,
      events,
      offsets: [
        { topic: schema.table.topic, partition: 0, nextOffset: firstOffset + BigInt(changes.length) },
      ],
      logId,
      current: state,
    });
    await tx.write(plan);
    return { state, plan };
  });
}

const withoutUpdatedAt = (offsets: StoredOffset[]) =>
  offsets.map(({ updatedAt: _updatedAt, ...offset }) => offset);

/** What `work` was refused with (fails when it went through). */
async function rejection(work: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  assert.fail(`${what}: expected the store to refuse it, it went through`);
}

/** The store's own error, with its code and retry flag, chaining the driver's error as its cause. */
function assertStoreError(
  error: unknown,
  code: ErrorCode,
  retryable: boolean,
  store: StoreName,
  what: string,
): void {
  assert.ok(error instanceof EmpsyncError, `${what}: an EmpsyncError, not a driver error: ${String(error)}`);
  assert.equal(error.code, code, `${what}: ${error.message}`);
  assert.equal(error.retryable, retryable, what);
  assert.equal(error.details['store'], store, what);
  assert.ok(error.cause !== undefined, `${what}: the driver error is chained as its cause`);
}

/** A local port nothing listens on (a server that does not answer). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Values both engines hold, by logical type, in the canonical text each engine gives back.
const dayMs = 86_400_000;
const epochMicros = (iso: string) => BigInt(Date.parse(iso)) * 1000n + BigInt(iso.slice(23, 26) || '0');

function formatDecimal(units: bigint, scale: number): string {
  const digits = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
  const whole = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return units < 0n ? `-${whole}` : whole;
}

function formatInstant(micros: bigint): string {
  const millis = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const rest = micros - millis * 1000n;
  return `${new Date(Number(millis)).toISOString().slice(0, 23)}${rest.toString().padStart(3, '0')}Z`;
}

const integerBounds = { smallint: 2n ** 15n, integer: 2n ** 31n, bigint: 2n ** 63n } as const;

function valueArbitrary(type: ColumnType): fc.Arbitrary<string> {
  switch (type.kind) {
    case 'text':
      return fc
        .string({ unit: 'binary', maxLength: type.length ?? 300 })
        .map((text) => text.replaceAll('\u0000', ''));
    case 'decimal': {
      const limit = 10n ** BigInt(type.precision) - 1n;
      return fc.bigInt({ min: -limit, max: limit }).map((units) => formatDecimal(units, type.scale));
    }
    case 'timestamp':
      return fc
        .bigInt({ min: epochMicros(portableInstants.min), max: epochMicros(portableInstants.max) })
        .map(formatInstant);
    case 'date':
      return fc
        .integer({ min: Date.parse('1000-01-01') / dayMs, max: Date.parse('9999-12-31') / dayMs })
        .map((day) => new Date(day * dayMs).toISOString().slice(0, 10));
    case 'boolean':
      return fc.constantFrom('true', 'false');
    case 'double':
      // Whole range (exponents), and everyday magnitudes with all 17 significant digits.
      return fc
        .oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        )
        .map(String);
    case 'smallint':
    case 'integer':
    case 'bigint': {
      const bound = integerBounds[type.kind];
      return fc.bigInt({ min: -bound, max: bound - 1n }).map(String);
    }
  }
}

/** Values at the edges of what both engines hold, by type (those a column cannot hold are dropped). */
function edgeValues(type: ColumnType): string[] {
  switch (type.kind) {
    case 'text':
      return [
        '',
        ' ',
        'trailing space ',
        "O'Brien \\ %_ ;--",
        'e\u0301 é \u00a0 \u200b',
        'tab\tnew\nline\r\u0001\u001f\u007f',
        '\uffff \u{10ffff} \u{1f984}',
        '🦄'.repeat(type.length ?? 5000),
      ];
    case 'decimal': {
      const limit = 10n ** BigInt(type.precision) - 1n;
      return [limit, -limit, 0n, 1n, -1n].map((units) => formatDecimal(units, type.scale));
    }
    case 'timestamp':
      return [
        portableInstants.min,
        portableInstants.max,
        '1582-10-10T12:00:00.000001Z',
        '1969-12-31T23:59:59.999999Z',
        '2024-02-29T23:59:59.999999Z',
      ];
    case 'date':
      return ['1000-01-01', '9999-12-31', '1582-10-10', '2000-02-29'];
    case 'boolean':
      return ['true', 'false'];
    case 'double':
      return [
        '93208.17121483317',
        '0.30000000000000004',
        '5e-324',
        '-2.2250738585072014e-308',
        '1.7976931348623157e+308',
        '123456789012345680000',
        '-0.1',
      ];
    case 'smallint':
    case 'integer':
    case 'bigint': {
      const bound = integerBounds[type.kind];
      return [String(-bound), String(bound - 1n), '0', '-1'];
    }
  }
}

function rowArbitrary(schema: TableSchema): fc.Arbitrary<RowValues> {
  return fc.record(
    Object.fromEntries(
      schema.columns.map((c) => [
        c.name,
        c.nullable ? fc.option(valueArbitrary(c.type), { nil: null }) : valueArbitrary(c.type),
      ]),
    ),
  );
}

/** Rows that together hold every edge value of every column (then one with every nullable column null). */
function edgeRows(schema: TableSchema): RowValues[] {
  const edges = new Map(
    schema.columns.map((c) => [
      c.name,
      edgeValues(c.type).filter((v) => unportableValue(c.type, v, c.nullable) === null),
    ]),
  );
  const count = Math.max(...[...edges.values()].map((values) => values.length));
  const rows = Array.from({ length: count }, (_, i) =>
    Object.fromEntries([...edges].map(([name, values]) => [name, values[i % values.length]!])),
  );
  return [
    ...rows,
    Object.fromEntries(schema.columns.map((c) => [c.name, c.nullable ? null : edges.get(c.name)![0]!])),
  ];
}

for (const dialect of storeNames) {
  describe(dialect, () => {
    const other: StoreName = dialect === 'mysql' ? 'postgres' : 'mysql';
    /** Ids born in the other store: positive from MySQL, negative from PostgreSQL. */
    const otherId = (n: number) => (other === 'mysql' ? n : -n);
    let store: Store;
    let schema: TableSchema;
    before(() => {
      store = running.stores[dialect];
      schema = running.schemas.schema(items.name);
    });

    it('the declared table has the declared columns, in order', () => {
      assert.deepEqual(
        schema.columns.map((c) => [c.name, c.type, c.nullable]),
        items.columns.map((c) => [c.name, c.type, c.nullable]),
      );
    });

    it('capture: local inserts, updates and deletes of any table reach the outbox with every column', async () => {
      await drainOutbox(store);
      const employee = await store.employees.insert({
        nom: 'Ñom',
        prenom: 'P',
        email: `capture.${dialect}@x`,
        poste: 'Dev',
        salaire: '1234.50',
        department: 'IT',
      });
      const id = await insertLocally(store, items, sample);
      const changes: RowValues = { price: '13.250', active: 'false', seen_at: null, note: 'changed' };
      const updated: RowValues = { ...sample, ...changes };
      await updateLocally(store, items, id, changes);
      await sql`DELETE FROM contract_items WHERE id = ${id}`.execute(store.db);

      const outbox = await store.outbox.read(100);
      assert.deepEqual(
        outbox.map((c) => [c.table, c.op, c.id, c.origin]),
        [
          ['employes', 'c', employee.id, dialect],
          ['contract_items', 'c', id, dialect],
          ['contract_items', 'u', id, dialect],
          ['contract_items', 'd', id, dialect],
        ],
      );
      const [employeeChange, created, changed, deleted] = outbox as [
        CapturedChange,
        CapturedChange,
        CapturedChange,
        CapturedChange,
      ];
      assert.ok(
        outbox.every((c, i) => i === 0 || c.seq > outbox[i - 1]!.seq),
        'seqs grow',
      );
      assert.equal(new Set(outbox.map((c) => c.eventId)).size, 4, 'each change has its own event id');
      // The triggers write no id: the relay's read derives one, the same at every read (a re-publish after a crash).
      const stored = await sql<{ event_id: string | null }>`SELECT event_id FROM sync_outbox ORDER BY seq`.execute(store.db);
      assert.deepEqual(stored.rows.map((r) => r.event_id), [null, null, null, null]);
      assert.deepEqual((await store.outbox.read(100)).map((c) => c.eventId), outbox.map((c) => c.eventId), 'the same ids when read again');
      assert.ok(outbox.every((c) => /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(c.eventId)), 'name-based UUIDs');

      assert.equal(employeeChange.version, employee.version);
      assert.equal(employeeChange.baseVersion, 0n);
      const employesSchema = running.schemas.schema('employes');
      assert.deepEqual(capturedValues(employeeChange, employesSchema), {
        columns: employesSchema.columns.map((c) => c.name).sort(),
        values: {
          nom: 'Ñom',
          prenom: 'P',
          email: `capture.${dialect}@x`,
          poste: 'Dev',
          salaire: '1234.50',
          department: 'IT',
          date_embauche: employee.dateEmbauche,
          created_at: employee.createdAt,
          updated_at: employee.updatedAt,
        },
      });

      assert.equal(created.baseVersion, 0n, 'a new row replaces nothing');
      assert.ok(changed.version > created.version && deleted.version > changed.version, 'versions grow');
      assert.equal(changed.baseVersion, created.version);
      assert.equal(deleted.baseVersion, changed.version);
      const everyColumn = items.columns.map((c) => c.name).sort();
      assert.deepEqual(capturedValues(created, schema), { columns: everyColumn, values: sample });
      assert.deepEqual(capturedValues(changed, schema), { columns: everyColumn, values: updated });
      assert.deepEqual(
        capturedValues(deleted, schema),
        { columns: everyColumn, values: updated },
        'a delete carries the old row',
      );

      assert.equal(await store.outbox.backlog(), 4);
      await store.outbox.delete([employeeChange.seq, created.seq]);
      assert.equal(await store.outbox.backlog(), 2);
      assert.deepEqual(
        (await store.outbox.read(100)).map((c) => c.seq),
        [changed.seq, deleted.seq],
      );
      await store.outbox.delete([changed.seq, deleted.seq]);
      assert.equal(await store.outbox.backlog(), 0);
    });

    it('capture: a row re-created under the id of a deleted one is versioned above its tombstone and based on it', async () => {
      const employee = await store.employees.insert({ nom: 'N', prenom: 'P', email: `reborn.${dialect}@x`, poste: 'Dev', salaire: '1.00', department: 'IT' });
      await sql`DELETE FROM employes WHERE id = ${employee.id}`.execute(store.db);
      await drainOutbox(store);
      // As if the delete came from a store whose clock runs a day ahead, having seen version 12345.
      await sql`UPDATE sync_tombstones SET version = version + 86400000000, seen_version = 12345
        WHERE table_name = 'employes' AND id = ${employee.id}`.execute(store.db);
      const buried = await sql<{ version: string; seen: string }>`SELECT version, seen_version AS seen FROM sync_tombstones
        WHERE table_name = 'employes' AND id = ${employee.id}`.execute(store.db);
      const tombstone = BigInt(buried.rows[0]!.version);
      // A writer gives the id (a restore, a script): the capture looks the tombstone up.
      await sql`INSERT INTO employes (id, nom, prenom, email, poste, salaire, department)
        VALUES (${employee.id}, 'N', 'Reborn', ${`reborn.${dialect}@x`}, 'Dev', 2, 'IT')`.execute(store.db);
      const [reborn] = await store.outbox.read(10);
      assert.deepEqual([reborn?.op, reborn?.id], ['c', employee.id]);
      assert.ok(reborn!.version > tombstone, `version ${reborn!.version} above the tombstone's ${tombstone}`);
      assert.equal(reborn!.baseVersion, tombstone, 'based on the delete it follows');
      const stored = await sql<{ seen: string }>`SELECT sync_seen_version AS seen FROM employes WHERE id = ${employee.id}`.execute(store.db);
      assert.equal(String(stored.rows[0]!.seen), String(buried.rows[0]!.seen), 'it saw what the deleted row had seen');
      await drainOutbox(store);
    });

    it('apply: a sink transaction writes rows of the other store exactly, uncaptured, with its offsets', async () => {
      await drainOutbox(store);
      const base = BigInt(Date.now()) * 1000n;
      const a: SyncedRow = {
        id: otherId(101),
        version: base + 1n,
        origin: other,
        values: { ...sample, code: 'apply-a' },
      };
      const b: SyncedRow = {
        id: otherId(102),
        version: base + 2n,
        origin: other,
        values: {
          ...sample,
          code: 'apply-b',
          price: '-0.001',
          seen_at: null,
          active: 'false',
          big: '-9223372036854775808',
          level: null,
          note: null,
        },
      };
      await applyAsTheSink(
        store,
        schema,
        [a, b].map((row) => ({ op: 'c', row, baseVersion: 0n })),
        0n,
      );
      const written = (await store.reconcile.dump(schema)).filter((r) => r.id === a.id || r.id === b.id);
      assert.deepEqual(
        written,
        [a, b].sort((x, y) => x.id - y.id),
      );
      assert.equal(await store.outbox.backlog(), 0, "the sink's writes are not captured");
      assert.deepEqual(withoutUpdatedAt(await store.apply.readOffsets(group, items.topic)), [
        { topic: items.topic, partition: 0, nextOffset: 2n, logId },
      ]);
      assert.match(
        (await store.apply.readOffsets(group, items.topic))[0]!.updatedAt ?? '',
        /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/,
      );

      // The locking read returns the row, the holder of a taken unique value, and the offsets.
      const state = await store.apply.transaction((tx) =>
        tx.readState({
          table: items.name,
          ids: [a.id],
          unique: [{ column: 'code', values: ['apply-a', 'nobody-holds-this'] }],
          offsets: { consumerGroup: group, topic: items.topic, partitions: [0, 1] },
        }),
      );
      const stored = { id: a.id, version: a.version, origin: other, seen: a.version };
      assert.deepEqual(state, {
        rows: [stored],
        tombstones: [],
        uniqueHolders: [{ ...stored, column: 'code', value: 'apply-a' }],
        offsets: [{ topic: items.topic, partition: 0, nextOffset: 2n, logId }],
      });

      // A delete leaves a tombstone the next locking read sees.
      await applyAsTheSink(
        store,
        schema,
        [{ op: 'd', row: { ...b, version: base + 3n }, baseVersion: b.version }],
        2n,
      );
      const afterDelete = await store.apply.transaction((tx) =>
        tx.readState({ table: items.name, ids: [b.id], unique: [] }),
      );
      assert.deepEqual(afterDelete.rows, []);
      assert.deepEqual(afterDelete.tombstones, [
        { id: b.id, version: base + 3n, origin: other, seen: base + 3n },
      ]);
      assert.equal(
        (await store.reconcile.dump(schema)).some((r) => r.id === b.id),
        false,
      );
      assert.equal(await store.outbox.backlog(), 0, "the sink's delete is not captured");
      assert.equal((await store.apply.readOffsets(group, items.topic))[0]!.nextOffset, 3n);

      // The session goes back to local writers: their changes are captured again, built on the sink's version.
      await updateLocally(store, items, a.id, { qty: '7' });
      const [local] = await store.outbox.read(10);
      assert.deepEqual(
        [local?.op, local?.id, local?.origin, local?.baseVersion],
        ['u', a.id, dialect, a.version],
      );
      assert.ok(local!.version > a.version);
      await drainOutbox(store);

      // A newer incoming row taking a's code displaces a: removed without a tombstone.
      const c: SyncedRow = {
        id: otherId(103),
        version: local!.version + 10n,
        origin: other,
        values: { ...sample, code: 'apply-a' },
      };
      const { plan } = await applyAsTheSink(store, schema, [{ op: 'c', row: c, baseVersion: 0n }], 3n);
      assert.deepEqual(plan.displaced, [a.id]);
      const rows = (await store.reconcile.dump(schema)).filter((r) => [a.id, c.id].includes(r.id));
      assert.deepEqual(rows, [c]);
      const displaced = await store.apply.transaction((tx) =>
        tx.readState({ table: items.name, ids: [a.id], unique: [] }),
      );
      assert.deepEqual(displaced, { rows: [], tombstones: [], uniqueHolders: [], offsets: [] });
    });

    it('values: whatever both engines hold comes back from dump and capture as the very text written', async () => {
      await drainOutbox(store);
      const id = otherId(500);
      let version = BigInt(Date.now()) * 1000n;
      await fc.assert(
        fc.asyncProperty(rowArbitrary(schema), async (generated) => {
          const values: RowValues = { ...generated }; // fc.record builds objects without a prototype
          for (const column of schema.columns) {
            assert.equal(
              unportableValue(column.type, values[column.name] ?? null, column.nullable),
              null,
              `${column.name} is portable`,
            );
          }
          version += 1n;
          const row: SyncedRow = { id, version, origin: other, values };
          await store.apply.transaction(async (tx) => {
            await tx.readState({ table: items.name, ids: [id], unique: [] });
            await tx.write(emptyPlan(schema, { upserts: [row] }));
          });
          const [stored] = (await store.reconcile.dump(schema)).filter((r) => r.id === id);
          assert.deepEqual(stored, row);
          // And a local write of the same values is captured with them, exactly (what the relay carries).
          await updateLocally(store, items, id, values);
          const changes = await store.outbox.read(10);
          assert.equal(changes.length, 1);
          assert.deepEqual(capturedValues(changes[0]!, schema).values, values);
          await store.outbox.delete([changes[0]!.seq]);
        }),
        { numRuns: 50, examples: edgeRows(schema).map((row) => [row]) },
      );
      await store.apply.transaction((tx) =>
        tx.write(emptyPlan(schema, { deletes: [{ id, version: version + 1n, origin: other }] })),
      );
    });

    it('schema: catalog, new and dropped columns, capture with columns left out, column values and fills', async () => {
      const port = store.schema;
      assert.equal(await port.columns(probe.name), null, 'no such table yet');
      await port.createTable(probe);
      await port.createTable(probe); // IF NOT EXISTS: the keeper of another process may have created it
      const live = await port.columns(probe.name);
      assert.deepEqual(
        live?.map((c) => [c.name, c.type, c.nullable]),
        [
          ['id', { kind: 'integer' }, false],
          ...probe.columns.map((c) => [c.name, c.type, c.nullable]),
          ['sync_version', { kind: 'bigint' }, false],
          ['sync_origin', { kind: 'text', length: 16 }, false],
          ['sync_seen_version', { kind: 'bigint' }, false],
        ],
      );
      const itemColumns = await port.columns(items.name);
      for (const column of items.columns) {
        assert.deepEqual(itemColumns?.find((c) => c.name === column.name)?.type, column.type, column.name);
      }

      await port.addColumn(probe.name, addedColumn);
      const added = (await port.columns(probe.name))?.find((c) => c.name === addedColumn.name);
      assert.deepEqual([added?.type, added?.nullable], [addedColumn.type, true]);

      const probeSchema = declaredSchema({ ...probe, columns: [...probe.columns, addedColumn] });
      const everyColumn = probeSchema.columns.map((c) => c.name);
      assert.equal(await port.capturedColumns(probe.name), null, 'never captured yet');
      await drainOutbox(store);
      await port.installCapture(probeSchema, ['joining', 'added']);
      assert.deepEqual(await port.capturedColumns(probe.name), ['label', 'flag', 'at', 'amount']);
      const first = await insertLocally(store, probe, { label: 'p1', joining: 'j1', added: '2024-01-01' });
      const [withoutJoining] = await store.outbox.read(10);
      assert.deepEqual(Object.keys(withoutJoining?.raw ?? {}).sort(), ['amount', 'at', 'flag', 'label']);

      await port.installCapture(probeSchema);
      assert.deepEqual(await port.capturedColumns(probe.name), everyColumn);
      const second = await insertLocally(store, probe, { label: 'p2', joining: 'j2' });
      const third = await insertLocally(store, probe, { label: 'p3', joining: 'j3' });
      const [, withJoining] = await store.outbox.read(10);
      assert.deepEqual(Object.keys(withJoining?.raw ?? {}).sort(), [...everyColumn].sort());
      await drainOutbox(store);

      const joining = probeSchema.columns.find((c) => c.name === 'joining')!;
      const versionsOf = async () => (await store.reconcile.dump(probeSchema)).map(({ id, version }) => ({ id, version }));
      const versions = await versionsOf();
      const byId = [first, second, third].sort((x, y) => x - y);
      assert.deepEqual(
        versions.map((v) => v.id),
        byId,
      );
      const labels = new Map([
        [first, 'j1'],
        [second, 'j2'],
        [third, 'j3'],
      ]);
      const expected = versions.map((v) => ({
        id: v.id,
        version: v.version,
        origin: dialect,
        value: labels.get(v.id)!,
      }));
      const page = await port.columnValues(probe.name, joining, null, 2);
      assert.deepEqual(page, expected.slice(0, 2));
      assert.deepEqual(await port.columnValues(probe.name, joining, page[1]!.id, 2), expected.slice(2));
      assert.deepEqual(await port.columnValues(probe.name, joining, null, 10, byId[0]), expected.slice(0, 1));

      // A fill writes where the version still matches, and is neither stamped nor captured.
      const [target, stale] = expected as [(typeof expected)[number], (typeof expected)[number]];
      const filled = await port.fillColumn(probe.name, joining, [
        { ...target, value: 'filled' },
        { ...stale, version: stale.version - 1n, value: 'too late' },
      ]);
      assert.equal(filled, 1);
      const fills: [string, string][] = [
        ['flag', 'true'],
        ['at', '2024-01-02T03:04:05.123456Z'],
        ['amount', '-123456.78'],
        ['added', '2024-02-29'],
      ];
      for (const [name, value] of fills) {
        const column: SchemaColumn = probeSchema.columns.find((c) => c.name === name)!;
        assert.equal(await port.fillColumn(probe.name, column, [{ ...target, value }]), 1, name);
        assert.deepEqual(await port.columnValues(probe.name, column, null, 1), [{ ...target, value }], name);
      }
      assert.deepEqual(
        (await port.columnValues(probe.name, joining, null, 10)).map((v) => v.value),
        ['filled', ...expected.slice(1).map((v) => v.value)],
      );
      assert.deepEqual(await versionsOf(), versions, 'versions did not move');
      assert.equal(await store.outbox.backlog(), 0, 'fills are not captured');

      // A column dropped as the schema keeper drops one: capture leaves it out, then it goes with its CHECK.
      await port.installCapture(probeSchema, ['added']);
      await port.dropColumn(probe.name, 'added');
      await port.dropColumn(probe.name, 'added'); // gone already: nothing to do
      assert.equal(
        (await port.columns(probe.name))?.some((c) => c.name === 'added'),
        false,
      );
      await insertLocally(store, probe, {
        label: 'p4',
        joining: 'j4',
        at: '0999-12-31T00:00:00.000000Z',
      }).then(
        () => assert.fail('the CHECK of a column that stays still holds'),
        (error: unknown) => assert.ok(error),
      );
      await insertLocally(store, probe, { label: 'p4', joining: 'j4' });
      const [afterDrop] = await store.outbox.read(10);
      assert.deepEqual(Object.keys(afterDrop?.raw ?? {}).sort(), [
        'amount',
        'at',
        'flag',
        'joining',
        'label',
      ]);
      await drainOutbox(store);
    });

    it('errors: a taken unique value raises CONFLICT, a refused value EMPSYNC_APPLY_REJECTED, never a driver error', async () => {
      const fields = {
        nom: 'N',
        prenom: 'P',
        email: `duplicate.${dialect}@x`,
        poste: 'Dev',
        salaire: '1.00',
        department: 'IT',
      };
      await store.employees.insert(fields);
      assertStoreError(
        await rejection(store.employees.insert(fields), 'a duplicate email'),
        ErrorCodes.CONFLICT,
        false,
        dialect,
        'a duplicate email',
      );

      const version = BigInt(Date.now()) * 1000n;
      const holder: SyncedRow = {
        id: otherId(901),
        version,
        origin: other,
        values: { ...sample, code: 'held-code' },
      };
      await store.apply.transaction((tx) => tx.write(emptyPlan(schema, { upserts: [holder] })));
      const offsetsBefore = await store.apply.readOffsets(group, items.topic);
      const refused: { what: string; values: RowValues; code: ErrorCode }[] = [
        {
          what: 'a text longer than its column',
          values: { code: 'x'.repeat(51) },
          code: ErrorCodes.APPLY_REJECTED,
        },
        { what: 'a text holding U+0000', values: { code: 'a\u0000b' }, code: ErrorCodes.APPLY_REJECTED },
        {
          what: 'a unique value another row holds',
          values: { code: 'held-code' },
          code: ErrorCodes.CONFLICT,
        },
      ];
      for (const { what, values, code } of refused) {
        const row: SyncedRow = {
          id: otherId(900),
          version: version + 1n,
          origin: other,
          values: { ...sample, ...values },
        };
        const write = store.apply.transaction(async (tx) => {
          await tx.readState({ table: items.name, ids: [row.id], unique: [] });
          await tx.write(
            emptyPlan(schema, {
              upserts: [row],
              offsets: [{ topic: items.topic, partition: 0, nextOffset: 100n }],
            }),
          );
        });
        assertStoreError(await rejection(write, what), code, false, dialect, what);
        // Nothing of the transaction stays: no row, the offsets where they were.
        assert.equal(
          (await store.reconcile.dump(schema)).some((r) => r.id === row.id),
          false,
          what,
        );
        assert.deepEqual(
          withoutUpdatedAt(await store.apply.readOffsets(group, items.topic)),
          withoutUpdatedAt(offsetsBefore),
          what,
        );
      }
    });

    it("a unique value equal to a held one only under the engine's collation never overwrites the row holding it", async () => {
      // MySQL's utf8mb4_bin ignores trailing spaces ('pad' = 'pad '), PostgreSQL does not
      // (docs/type-mapping.md): a store either holds both rows or refuses the second with its error.
      const version = BigInt(Date.now()) * 1000n;
      const holder: SyncedRow = {
        id: otherId(950),
        version,
        origin: other,
        values: { ...sample, code: 'pad' },
      };
      const taker: SyncedRow = {
        id: otherId(951),
        version: version + 1n,
        origin: other,
        values: { ...sample, code: 'pad ' },
      };
      await applyAsTheSink(store, schema, [{ op: 'c', row: holder, baseVersion: 0n }], 200n);
      const outcome = await applyAsTheSink(
        store,
        schema,
        [{ op: 'c', row: taker, baseVersion: 0n }],
        201n,
      ).then(
        () => null,
        (error: unknown) => error,
      );
      const rows = (await store.reconcile.dump(schema)).filter(
        (r) => r.id === holder.id || r.id === taker.id,
      );
      if (outcome === null) {
        assert.deepEqual(
          rows,
          [holder, taker].sort((x, y) => x.id - y.id),
          'both rows, each as written',
        );
      } else {
        assertStoreError(outcome, ErrorCodes.CONFLICT, false, dialect, 'the second row refused');
        assert.deepEqual(rows, [holder], 'the holder untouched');
      }
    });

    it('errors: a server that does not answer raises EMPSYNC_DEPENDENCY_UNAVAILABLE, retryable, from every port', async () => {
      const port = await closedPort();
      const unreachable = createStores(
        testConfig('store_contract_unreachable', {
          MYSQL_URL: `mysql://root@127.0.0.1:${port}/empsync_test_unreachable`,
          POSTGRES_URL: `postgres://postgres@127.0.0.1:${port}/empsync_test_unreachable`,
        }),
      );
      try {
        const away: Store = unreachable[dialect];
        const calls: [string, () => Promise<unknown>][] = [
          [
            'employees.insert',
            () =>
              away.employees.insert({
                nom: 'N',
                prenom: 'P',
                email: 'away@x',
                poste: 'Dev',
                salaire: '1.00',
                department: 'IT',
              }),
          ],
          [
            'apply.transaction',
            () => away.apply.transaction((tx) => tx.readState({ table: items.name, ids: [1], unique: [] })),
          ],
          // Every port, not only the writes: no driver error leaves a store.
          ['employees.delete', () => away.employees.delete(1)],
          ['employees.find', () => away.employees.find(1)],
          ['employees.count', () => away.employees.count()],
          ['outbox.read', () => away.outbox.read(10)],
          ['outbox.backlog', () => away.outbox.backlog()],
          ['apply.readOffsets', () => away.apply.readOffsets('g', 't')],
          ['schema.columns', () => away.schema.columns(items.name)],
          ['reconcile.count', () => away.reconcile.count(items.name)],
          ['deadLetters.count', () => away.deadLetters.count()],
          ['conflicts.list', () => away.conflicts.list(10)],
        ];
        for (const [what, call] of calls) {
          assertStoreError(
            await rejection(call(), what),
            ErrorCodes.DEPENDENCY_UNAVAILABLE,
            true,
            dialect,
            what,
          );
        }
      } finally {
        await closeStores(unreachable);
      }
    });

    it('dead letters and conflicts: a plan parks events and records conflicts, listed with their table', async () => {
      const version = BigInt(Date.now()) * 1000n;
      const row: SyncedRow = {
        id: otherId(700),
        version,
        origin: other,
        values: { ...sample, code: 'parked-row' },
      };
      const deadLetter: DeadLetterRecord = {
        stage: 'sink',
        table: items.name,
        sourceKey: `${items.topic}:0:41@${logId}`,
        source: { topic: items.topic, partition: '0', offset: '41', log: logId },
        code: ErrorCodes.EVENT_INVALID,
        reason: 'not an envelope',
        eventId: randomUUID(),
        employeId: row.id,
        op: 'u',
        version: version + 5n,
        origin: other,
        payload: '{"not":"an envelope"}',
        payloadEncoding: 'utf8',
      };
      const conflict: ConflictRecord = {
        table: items.name,
        employeId: row.id,
        kind: 'update',
        outcome: 'incoming-applied',
        policy: 'newer-wins',
        localVersion: version - 1n,
        localOrigin: dialect,
        incomingVersion: version,
        incomingOrigin: other,
        incomingRow: row,
        eventId: randomUUID(),
      };
      await store.apply.transaction((tx) =>
        tx.write(emptyPlan(schema, { upserts: [row], deadLetters: [deadLetter], conflicts: [conflict] })),
      );

      const [letter] = await store.deadLetters.list({ limit: 100 });
      assert.ok(letter);
      assert.deepEqual(
        { ...letter, id: undefined, firstSeenAt: undefined, lastSeenAt: undefined },
        {
          ...deadLetter,
          store: dialect,
          id: undefined,
          status: 'parked',
          seenCount: 1,
          firstSeenAt: undefined,
          lastSeenAt: undefined,
          resolvedAt: null,
          lastError: null,
          currentVersion: version,
        },
      );
      assert.deepEqual(await store.deadLetters.count(), [{ stage: 'sink', parked: 1 }]);
      const [recorded] = await store.conflicts.list(10);
      assert.match(recorded?.detectedAt ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      assert.deepEqual(
        { ...recorded, detectedAt: '' },
        {
          store: dialect,
          table: items.name,
          employeId: row.id,
          kind: 'update',
          outcome: 'incoming-applied',
          policy: 'newer-wins',
          localVersion: conflict.localVersion,
          localOrigin: dialect,
          incomingVersion: version,
          incomingOrigin: other,
          detectedAt: '',
        },
      );

      // Parked again (the same source): counted again, still one letter.
      await store.apply.transaction((tx) =>
        tx.write(emptyPlan(schema, { deadLetters: [{ ...deadLetter, reason: 'still not one' }] })),
      );
      const again = await store.deadLetters.list({ limit: 100, status: 'parked' });
      assert.deepEqual(
        again.map((l) => [l.id, l.seenCount, l.reason]),
        [[letter.id, 2, 'still not one']],
      );
      await store.deadLetters.resolve(letter.id, { replayed: false, error: 'replay refused' });
      assert.equal(
        (await store.deadLetters.list({ ids: [letter.id], limit: 1 }))[0]?.lastError,
        'replay refused',
      );
      await store.deadLetters.resolve(letter.id, { replayed: true });
      const [replayed] = await store.deadLetters.list({ ids: [letter.id], limit: 1 });
      assert.deepEqual(
        [replayed?.status, replayed?.lastError, typeof replayed?.resolvedAt],
        ['replayed', null, 'string'],
      );
      assert.deepEqual(await store.deadLetters.count(), []);

      // The relay parks an outbox row it cannot carry: moved into the dead letters in one transaction.
      await drainOutbox(store);
      await insertLocally(store, items, { ...sample, code: 'relay-parked' });
      const [captured] = await store.outbox.read(10);
      assert.ok(captured);
      await store.outbox.park([
        {
          seq: captured.seq,
          deadLetter: {
            ...deadLetter,
            stage: 'relay',
            sourceKey: `outbox:${captured.eventId}`,
            source: { outbox: captured.seq.toString() },
            code: ErrorCodes.VALUE_NOT_PORTABLE,
            eventId: captured.eventId,
            employeId: captured.id,
            op: captured.op,
            version: captured.version,
            origin: captured.origin,
          },
        },
      ]);
      assert.equal(await store.outbox.backlog(), 0);
      assert.deepEqual(await store.deadLetters.count(), [{ stage: 'relay', parked: 1 }]);
      const [relayLetter] = await store.deadLetters.list({ status: 'parked', limit: 10 });
      assert.deepEqual(
        [relayLetter?.table, relayLetter?.stage, relayLetter?.employeId, relayLetter?.currentVersion],
        [items.name, 'relay', captured.id, captured.version],
      );
    });
  });
}
