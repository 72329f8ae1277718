// Batches between the databases and Kafka are bounded in bytes as well as in rows: how many captured
// rows fit a byte budget, from the weight of the rows just read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rowsWithin } from '../../src/relay/captured-change.ts';
import type { CapturedChange } from '../../src/store/types.ts';

const row = (text: string): CapturedChange => ({
  seq: 1n,
  eventId: '0b6f3e43-7d1e-4b8e-9a4f-1c2d3e4f5a6b',
  table: 'employes',
  op: 'c',
  id: 1,
  version: 1n,
  baseVersion: 0n,
  origin: 'mysql',
  raw: { nom: text, prenom: 'P' },
  capturedAt: '2026-01-01T00:00:00.000000Z',
});

describe('rowsWithin (batches bounded in bytes)', () => {
  it('keeps the row limit for small rows', () => {
    assert.equal(rowsWithin([row('a'), row('b')], 2000, 4 * 1024 * 1024), 2000);
  });

  it('shrinks the batch when rows are wide, never below one row', () => {
    const wide = row('x'.repeat(1024 * 1024));
    assert.equal(rowsWithin([wide], 2000, 4 * 1024 * 1024), 3, 'three 1 MiB rows fit in 4 MiB with their overhead');
    assert.equal(rowsWithin([row('x'.repeat(16 * 1024 * 1024))], 2000, 4 * 1024 * 1024), 1, 'a row above the budget goes alone');
  });

  it('starts from the row limit when nothing was read yet', () => {
    assert.equal(rowsWithin([], 500, 1024), 500);
  });
});
