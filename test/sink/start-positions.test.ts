import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planStartPositions } from '../../src/sink/start-positions.ts';
import { offsetProblem } from '../../src/sink/sink.ts';

const log = 'cluster-a/topic-1';
const stored = (partition: number, nextOffset: bigint, logId = log) => ({ topic: 't', partition, nextOffset, logId });
const bounds = (...pairs: [number, number][]) => pairs.map(([earliest, latest]) => ({ earliest: BigInt(earliest), latest: BigInt(latest) }));

describe('planStartPositions (where a sink starts each partition)', () => {
  it('starts at the offsets the database stored for this log', () => {
    const plan = planStartPositions(log, bounds([0, 50], [0, 80]), [stored(0, 40n), stored(1, 80n)]);
    assert.deepEqual(plan.starts, [
      { partition: 0, offset: 40n },
      { partition: 1, offset: 80n },
    ]);
    assert.deepEqual(plan.resets, []);
    assert.deepEqual(plan.findings, []);
  });

  it('reads a partition without a stored offset from its start', () => {
    const plan = planStartPositions(log, bounds([5, 50]), []);
    assert.deepEqual(plan.starts, [{ partition: 0, offset: 5n }]);
  });

  it('replaces offsets of another log (new cluster, recreated topic) by the start of the new log, and says so', () => {
    const plan = planStartPositions(log, bounds([0, 3], [0, 0]), [stored(0, 900n, 'cluster-a/topic-0'), stored(1, 12n, 'cluster-b/topic-9')]);
    assert.deepEqual(plan.starts.map((s) => s.offset), [0n, 0n]);
    assert.deepEqual(plan.resets, [
      { partition: 0, nextOffset: 0n },
      { partition: 1, nextOffset: 0n },
    ]);
    assert.deepEqual(plan.findings.map((f) => [f.code, f.reason]), [
      ['EMPSYNC_LOG_CHANGED', 'log-changed'],
      ['EMPSYNC_LOG_CHANGED', 'log-changed'],
    ]);
  });

  it('replaces offsets outside the log, below its start or past its end', () => {
    const plan = planStartPositions(log, bounds([100, 200], [0, 10]), [stored(0, 50n), stored(1, 11n)]);
    assert.deepEqual(plan.starts.map((s) => s.offset), [100n, 0n]);
    assert.deepEqual(plan.findings.map((f) => f.reason), ['below-log-start', 'past-log-end']);
  });

  it('reports a sink away longer than the topic keeps tombstones, when records wait for it', () => {
    const day = 24 * 60 * 60 * 1000;
    const now = Date.parse('2026-11-29T12:00:00Z');
    const old = { ...stored(0, 5n), updatedAt: '2026-11-27T12:00:00.000000Z' };
    const recent = { ...stored(1, 5n), updatedAt: '2026-11-29T11:00:00.000000Z' };
    const idle = { ...stored(2, 9n), updatedAt: '2026-11-20T12:00:00.000000Z' };
    const plan = planStartPositions(log, bounds([0, 9], [0, 9], [0, 9]), [old, recent, idle], { retentionMs: day, now });
    assert.deepEqual(plan.findings.map((f) => [f.partition, f.code, f.reason]), [[0, 'EMPSYNC_TOMBSTONES_EXPIRED', 'tombstones-expired']]);
    assert.deepEqual(plan.starts.map((s) => s.offset), [5n, 5n, 9n], 'it still reads from where it stopped');
  });

  it('adopts an offset stored before offsets knew their log when it fits the log', () => {
    const plan = planStartPositions(log, bounds([0, 10]), [stored(0, 7n, '')]);
    assert.deepEqual(plan.starts, [{ partition: 0, offset: 7n }]);
    assert.deepEqual(plan.resets, [{ partition: 0, nextOffset: 7n }]);
    assert.deepEqual(plan.findings, []);
  });
});

describe('offsetProblem (the database is the truth)', () => {
  it('is fine while the database holds at least what the sink applied, in the same log', () => {
    assert.equal(offsetProblem(log, new Map([[0, 10n]]), [stored(0, 12n)]), null);
  });
  it('sees a database gone back (restored from a dump): the sink must seek back', () => {
    assert.equal(offsetProblem(log, new Map([[0, 10n]]), [stored(0, 4n)])?.code, 'EMPSYNC_OFFSETS_REWOUND');
    assert.equal(offsetProblem(log, new Map([[0, 10n]]), [])?.code, 'EMPSYNC_OFFSETS_REWOUND');
  });
  it('sees offsets of another log (another member moved to a new log)', () => {
    assert.equal(offsetProblem(log, new Map(), [stored(2, 1n, 'cluster-b/x')])?.code, 'EMPSYNC_LOG_CHANGED');
  });
  it('checks only the partitions asked for', () => {
    assert.equal(offsetProblem(log, new Map([[0, 10n]]), [stored(0, 1n)], [1]), null);
  });
});
