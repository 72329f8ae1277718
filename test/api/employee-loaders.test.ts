// Loading employees by id across requests (src/api/employee-loaders.ts) against the real PostgreSQL
// store: the ids of requests handled in one turn of the event loop go out as one query, each request
// still gets its own rows, and a request's cache is its own.
import assert from 'node:assert/strict';
import { setImmediate } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { requestEmployeeLoader, sharedEmployeeLoader } from '../../src/api/employee-loaders.ts';
import type { Stores } from '../../src/store/create-stores.ts';
import { seededStores, testConfig } from '../support/test-env.ts';

const config = testConfig('api_employee_loaders');
let stores: Stores;
let close: (() => Promise<void>) | undefined;
const queries: number[][] = [];

/** The real store's read, recording the ids of every query it makes. */
const find = (ids: readonly number[]) => {
  queries.push([...ids]);
  return stores.postgres.employees.findMany(ids);
};

describe('employee loaders', () => {
  before(async () => {
    ({ stores, close } = await seededStores(config, 200));
  });
  after(() => close?.());

  it('sends the ids of 50 requests of the same turn as one query, and each request gets its own row', async () => {
    queries.length = 0;
    const shared = sharedEmployeeLoader(find);
    const ids = Array.from({ length: 50 }, (_, index) => 1 + index * 3);
    const rows = await Promise.all(ids.map((id) => requestEmployeeLoader(shared).load(id)));
    assert.deepEqual(
      rows.map((row) => row?.id),
      ids,
    );
    assert.deepEqual(
      rows.map((row) => row?.email),
      ids.map((id) => `employe${id}@bench.example`),
    );
    assert.equal(queries.length, 1);
    assert.deepEqual(queries[0], ids);
  });

  it('answers null for an id that is not there, beside the ones that are', async () => {
    const shared = sharedEmployeeLoader(find);
    const [missing, present] = await Promise.all([
      requestEmployeeLoader(shared).load(999_999),
      requestEmployeeLoader(shared).load(5),
    ]);
    assert.equal(missing, null);
    assert.equal(present?.id, 5);
  });

  it('does not keep rows between requests: a later request sees the change', async () => {
    queries.length = 0;
    const shared = sharedEmployeeLoader(find);
    const before = await requestEmployeeLoader(shared).load(10);
    assert.ok(before);
    assert.notEqual(before.poste, 'Architecte');
    await stores.postgres.employees.update(10, { ...before, poste: 'Architecte' });
    assert.equal((await requestEmployeeLoader(shared).load(10))?.poste, 'Architecte');
    assert.equal(queries.length, 2);
  });

  it('asks once per request for an id a document loads twice', async () => {
    queries.length = 0;
    const shared = sharedEmployeeLoader(find);
    const request = requestEmployeeLoader(shared);
    const [first, second] = await Promise.all([request.load(20), request.load(20)]);
    assert.equal(first, second);
    await setImmediate();
    assert.equal(await request.load(20), first, 'cached for the rest of the request');
    assert.deepEqual(queries, [[20]]);
  });

  it('makes one query per turn when requests come in different turns', async () => {
    queries.length = 0;
    const shared = sharedEmployeeLoader(find);
    await requestEmployeeLoader(shared).load(30);
    await requestEmployeeLoader(shared).load(31);
    assert.deepEqual(queries, [[30], [31]]);
  });
});
