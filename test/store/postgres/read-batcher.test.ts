// The API's reads batched across requests (src/store/postgres/read-batcher.ts), against the real
// PostgreSQL: reads of one shape issued together go out as one statement, and every read still gets
// exactly the rows, in exactly the order, it gets when run alone; a read that fails fails alone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { departments } from '../../../bench/api/seed-read-model.ts';
import type { Stores } from '../../../src/store/create-stores.ts';
import { ReadBatcher } from '../../../src/store/postgres/read-batcher.ts';
import type { EmployeeListQuery, EmployeePageQuery } from '../../../src/store/ports.ts';
import { seededStores, testConfig } from '../../support/test-env.ts';

const config = testConfig('store_read_batcher');
let stores: Stores;
let close: (() => Promise<void>) | undefined;
let pool: pg.Pool;
/** Every statement the batcher's pool was sent. */
const sent: string[] = [];

function batcher(maxReadsPerStatement = 32, maxPreparedStatements = 200): ReadBatcher {
  return new ReadBatcher(pool, { maxPreparedStatements, maxReadsPerStatement });
}

const pageOfIds =
  'SELECT id, salaire FROM employes WHERE department = $1 ORDER BY salaire DESC, id DESC LIMIT $2 OFFSET $3';

describe('PostgreSQL read batcher', () => {
  before(async () => {
    ({ stores, close } = await seededStores(config, 500));
    pool = new pg.Pool({ connectionString: config.POSTGRES_URL, max: 4 });
    const query = pool.query.bind(pool) as (
      config: pg.QueryConfig | string,
      values?: unknown[],
    ) => Promise<pg.QueryResult>;
    pool.query = ((config: pg.QueryConfig | string, values?: unknown[]) => {
      sent.push(typeof config === 'string' ? config : config.text);
      return query(config, values);
    }) as typeof pool.query;
  });
  after(async () => {
    await pool?.end();
    await close?.();
  });

  it('sends 16 reads of one shape issued together as one statement, each with its own rows in its own order', async () => {
    const reads = Array.from({ length: 16 }, (_, index) => [
      departments[index % departments.length],
      7,
      index * 2,
    ]);
    const alone = [];
    for (const values of reads) alone.push((await pool.query(pageOfIds, values)).rows);
    sent.length = 0;
    const reader = batcher();
    const together = await Promise.all(
      reads.map((values) => reader.read<{ id: number; salaire: string }>(pageOfIds, values)),
    );
    assert.equal(sent.length, 1, 'one statement for the 16 reads');
    assert.match(sent[0]!, /UNION ALL/);
    assert.deepEqual(
      together.map((rows) => rows.map(({ id, salaire }) => ({ id, salaire }))),
      alone,
    );
    assert.ok(together.every((rows) => rows.length === 7));
  });

  it('splits a batch larger than the statement limit, and keeps shapes apart', async () => {
    sent.length = 0;
    const reader = batcher(4);
    const count = 'SELECT count(*)::int AS n FROM employes WHERE department = $1';
    const [pages, counts] = await Promise.all([
      Promise.all(
        Array.from({ length: 10 }, (_, index) => reader.read<{ id: number }>(pageOfIds, ['IT', 5, index])),
      ),
      Promise.all(departments.map((department) => reader.read<{ n: number }>(count, [department]))),
    ]);
    assert.equal(sent.length, 3 + 3, '10 page reads in 4 + 4 + 2, 10 counts in 4 + 4 + 2');
    for (const [index, rows] of pages.entries()) {
      assert.deepEqual(
        rows.map((row) => row.id),
        (await pool.query(pageOfIds, ['IT', 5, index])).rows.map((row: { id: number }) => row.id),
      );
    }
    assert.deepEqual(
      counts.map(([row]) => row?.n),
      departments.map(() => 50),
    );
  });

  it('sends 13 reads as 8 + 4 + 1, so a shape has few batched texts to prepare', async () => {
    sent.length = 0;
    const reader = batcher();
    const pages = await Promise.all(
      Array.from({ length: 13 }, (_, index) => reader.read<{ id: number }>(pageOfIds, ['RH', 2, index])),
    );
    assert.deepEqual(
      sent.map((statement) => statement.split(' UNION ALL ').length).sort((a, b) => a - b),
      [1, 4, 8],
    );
    assert.ok(pages.every((rows) => rows.length === 2));
  });

  it('past the budget of prepared statements, reads run alone rather than as batches planned at every call', async () => {
    sent.length = 0;
    const reader = batcher(32, 1);
    await reader.read(pageOfIds, ['IT', 1, 0]);
    const pages = await Promise.all(
      [0, 1, 2].map((offset) => reader.read<{ id: number }>(pageOfIds, ['IT', 1, offset])),
    );
    assert.equal(sent.length, 4);
    assert.ok(sent.every((statement) => !statement.includes('UNION ALL')));
    assert.equal(new Set(pages.map(([row]) => row?.id)).size, 3);
  });

  it('a read whose value PostgreSQL refuses fails alone; the others of its batch are answered', async () => {
    const reader = batcher();
    const results = await Promise.allSettled([
      reader.read(pageOfIds, ['IT', 3, 0]),
      reader.read(pageOfIds, ['IT', 'not a number', 0]),
      reader.read(pageOfIds, ['RH', 3, 0]),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[0].status === 'fulfilled' && results[0].value.length, 3);
    assert.equal(results[1].status, 'rejected');
    assert.match(
      String(results[1].status === 'rejected' && results[1].reason),
      /invalid input syntax for type bigint/,
    );
    assert.equal(results[2].status === 'fulfilled' && results[2].value.length, 3);
  });

  it('runs a text with a string literal alone (its $n could be inside the literal)', async () => {
    sent.length = 0;
    const reader = batcher();
    const text = `SELECT $1::text || '$2' AS v`;
    const values = await Promise.all([
      reader.read<{ v: string }>(text, ['a']),
      reader.read<{ v: string }>(text, ['b']),
    ]);
    assert.deepEqual(
      values.map(([row]) => row?.v),
      ['a$2', 'b$2'],
    );
    assert.equal(sent.length, 2);
    assert.ok(sent.every((statement) => !statement.includes('UNION ALL')));
  });

  it("the store's list, page and count reads answer concurrently exactly as one at a time", async () => {
    const store = stores.postgres;
    const lists: EmployeeListQuery[] = [
      { limit: 20 },
      { limit: 20, offset: 40 },
      { limit: 15, orderBy: 'SALAIRE_DESC' },
      { limit: 10, orderBy: 'NOM_ASC', filter: { search: 'om1' } },
      { limit: 25, department: 'R&D', orderBy: 'ID_DESC' },
      { limit: 5, filter: { salaireMin: '3000.00', salaireMax: '6000.00', poste: 'Analyste' } },
    ];
    const pages: EmployeePageQuery[] = [
      { first: 20 },
      { first: 20, orderBy: 'SALAIRE_ASC', after: { id: 17, value: '4000.00' } },
      { first: 8, filter: { department: 'Ventes' }, orderBy: 'NOM_ASC', after: { id: 30, value: 'Nom30' } },
    ];
    const filters = [{}, { department: 'IT' }, { search: 'prenom4' }];
    const run = () =>
      Promise.all([
        Promise.all(lists.map((query) => store.employees.list(query))),
        Promise.all(pages.map((query) => store.employees.page(query))),
        Promise.all(filters.map((filter) => store.employees.countMatching(filter))),
      ]);
    const alone: Awaited<ReturnType<typeof run>> = [[], [], []];
    for (const query of lists) alone[0].push(await store.employees.list(query));
    for (const query of pages) alone[1].push(await store.employees.page(query));
    for (const filter of filters) alone[2].push(await store.employees.countMatching(filter));
    // Twice the same set at once, so every shape is batched with a copy of itself.
    const [first, second] = await Promise.all([run(), run()]);
    assert.deepEqual(first, alone);
    assert.deepEqual(second, alone);
    assert.ok(alone[0].every((rows) => rows.length > 0));
    assert.deepEqual(alone[2], [500, 50, 111]);
  });
});
