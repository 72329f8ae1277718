import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { v5 as uuidv5 } from 'uuid';
import { changeEventId, eventNamespace } from '../../src/store/event-id.ts';
import type { ChangeOp, StoreName } from '../../src/store/types.ts';

const change = fc.record({
  store: fc.constantFrom<StoreName>('mysql', 'postgres'),
  table: fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/),
  op: fc.constantFrom<ChangeOp>('c', 'u', 'd', 'r'),
  id: fc.integer({ min: -2147483648, max: 2147483647 }),
  version: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
});
const idOf = (c: { store: StoreName; table: string; op: ChangeOp; id: number; version: bigint }) => changeEventId(c.store, c.table, c.op, c.id, c.version);

test('an event id is a name-based UUID of the change, the same every time', () => {
  fc.assert(
    fc.property(change, (c) => {
      const id = idOf(c);
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(idOf({ ...c }), id);
      // RFC 9562's version 5, as the uuid package computes it.
      assert.equal(id, uuidv5(`${c.store}/${c.table}/${c.op}/${c.id}/${c.version}`, eventNamespace));
    }),
  );
  // A name longer than the reused buffer (a long table name) is hashed whole.
  const long = 'a'.repeat(600);
  assert.equal(changeEventId('postgres', long, 'c', 1, 2n), uuidv5(`postgres/${long}/c/1/2`, eventNamespace));
  // Fixed across releases: a change re-published by a newer empsync keeps its id.
  assert.equal(changeEventId('mysql', 'employes', 'u', 42, 1733600000000000n), changeEventId('mysql', 'employes', 'u', 42, 1733600000000000n));
});

test('two changes that differ in store, table, op, row or version have different ids', () => {
  fc.assert(
    fc.property(change, change, (a, b) => {
      const same = a.store === b.store && a.table === b.table && a.op === b.op && a.id === b.id && a.version === b.version;
      assert.equal(idOf(a) === idOf(b), same);
    }),
  );
  const base = { store: 'mysql' as const, table: 'employes', op: 'u' as const, id: 7, version: 100n };
  const ids = [base, { ...base, store: 'postgres' as const }, { ...base, table: 'employes2' }, { ...base, op: 'd' as const }, { ...base, id: 8 }, { ...base, version: 101n }].map(idOf);
  assert.equal(new Set(ids).size, ids.length);
});
