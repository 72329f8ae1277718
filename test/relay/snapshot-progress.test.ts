// What `empsync backfill` shows while it follows a snapshot: rows, rate and ETA of its runs together.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { progressBar, snapshotProgress } from '../../src/relay/backfill.ts';
import type { SnapshotRun } from '../../src/store/ports.ts';

const run = (published: number, total: number | null, done = false): SnapshotRun => ({
  run: `backfill-mysql:t${published}`,
  table: 't',
  lastId: published || null,
  done,
  published,
  total,
  startedAt: null,
  updatedAt: '2026-12-07T00:00:00.000000Z',
});

describe('snapshot progress', () => {
  it('adds the runs up and measures the rate since following began', () => {
    const progress = snapshotProgress([run(300, 1000), run(100, 1000)], 0, 2000);
    assert.deepEqual(progress, { published: 400, total: 2000, done: false, rowsPerSecond: 200, etaSeconds: 8 });
  });

  it('knows no ETA before the first row, and none left once done', () => {
    assert.equal(snapshotProgress([run(0, 1000)], 0, 1000).etaSeconds, null);
    assert.equal(snapshotProgress([run(1000, 1000, true)], 0, 1000).etaSeconds, 0);
  });

  it('never counts less work than was published (rows inserted after the count)', () => {
    assert.equal(snapshotProgress([run(1200, 1000)], 0, 1000).total, 1200);
  });

  it('draws nothing when stderr is not a terminal, a bar with rate and ETA when it is', () => {
    const written: string[] = [];
    const stream = { isTTY: false, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    progressBar(stream)({ published: 1, total: 2, done: false, rowsPerSecond: 1, etaSeconds: 1 });
    assert.equal(written.length, 0, 'nothing drawn');
    const tty = { isTTY: true, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const bar = progressBar(tty);
    bar({ published: 500, total: 1000, done: false, rowsPerSecond: 250.4, etaSeconds: 2.1 });
    assert.match(written.at(-1)!, /^\r\[#{15}\.{15}\] 500\/1000 rows {2}250 rows\/s {2}ETA 3 s/);
    bar({ published: 1000, total: 1000, done: true, rowsPerSecond: 250, etaSeconds: 0 });
    assert.equal(written.at(-1), '\n', 'the finished bar ends its line');
  });
});
