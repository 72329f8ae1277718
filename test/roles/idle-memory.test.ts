// A long-running role gives a burst's memory back once idle, and never collects while it is busy.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startIdleMemoryTrim } from '../../src/roles/idle-memory.ts';
import { waitFor } from '../support/test-env.ts';

const logger = createLogger(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), 'test');
const mib = 1024 * 1024;

/** What a snapshot does to a worker's heap: many short-lived rows and buffers, then nothing. */
function burst(): void {
  let rows: unknown[] = [];
  for (let round = 0; round < 20; round++) {
    rows = [];
    for (let i = 0; i < 50_000; i++) rows.push({ id: i, nom: `nom-${i}`, payload: JSON.stringify({ i, text: 'x'.repeat(64) }), bytes: Buffer.alloc(128, i) });
  }
  assert.ok(rows.length > 0);
}

test('an idle process returns to its footprint after a burst; IDLE_MEMORY_TRIM_MS=0 never collects', async () => {
  assert.equal(loadConfig({ NODE_ENV: 'test' }).IDLE_MEMORY_TRIM_MS, 5000);
  const off = startIdleMemoryTrim(0, logger);
  const trim = startIdleMemoryTrim(200, logger, 16);
  const before = process.memoryUsage.rss();
  burst();
  const peak = process.memoryUsage.rss();
  assert.ok(peak - before > 64 * mib, `the burst grew the process by ${Math.round((peak - before) / mib)} MiB`);
  await waitFor('a trim once the process is idle', async () => trim.trims === 1, 10_000);
  const after = process.memoryUsage.rss();
  assert.ok(after < peak - 64 * mib, `resident ${Math.round(peak / mib)} → ${Math.round(after / mib)} MiB`);
  // At its new footprint it stays as it is: one collection per burst.
  await sleep(1000);
  assert.equal(trim.trims, 1);
  assert.equal(off.trims, 0);
  trim.stop();
  off.stop();
});

test('a busy process is not collected, however much it grew', async () => {
  const trim = startIdleMemoryTrim(100, logger, 1);
  const busyUntil = Date.now() + 1500;
  const keep: Buffer[] = [];
  while (Date.now() < busyUntil) {
    keep.push(Buffer.alloc(64 * 1024));
    if (keep.length > 2000) keep.length = 0;
    const spin = Date.now() + 20;
    while (Date.now() < spin);
    await yieldToLoop();
  }
  assert.equal(trim.trims, 0, 'no collection while the event loop was busy');
  trim.stop();
});

/** The largest heap a churn over a 30 MiB live set reaches in a fresh process with HEAP_GROWING_PERCENT=`percent`. */
async function peakHeapMiB(percent: number): Promise<number> {
  const script = `
    const { limitHeapGrowth } = await import(${JSON.stringify(new URL('../../src/roles/idle-memory.ts', import.meta.url).href)});
    limitHeapGrowth(${percent});
    const live = [];
    for (let i = 0; i < 200_000; i++) live.push({ i, s: 'x'.repeat(100) + i });
    let peak = 0;
    for (let round = 0; round < 200; round++) {
      const garbage = [];
      for (let i = 0; i < 20_000; i++) garbage.push({ i, s: 'y'.repeat(50) + i, a: [i, i + 1] });
      peak = Math.max(peak, process.memoryUsage().heapTotal);
    }
    console.log(Math.round(peak / 1048576), live.length);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=16', '--input-type=module', '-e', script]);
  return Number(stdout.split(' ')[0]);
}

test('HEAP_GROWING_PERCENT keeps the old generation near its live data (V8 refuses the flag in NODE_OPTIONS)', async () => {
  assert.equal(loadConfig({ NODE_ENV: 'test' }).HEAP_GROWING_PERCENT, 0);
  assert.throws(() => loadConfig({ NODE_ENV: 'test', HEAP_GROWING_PERCENT: '-1' }), /HEAP_GROWING_PERCENT/);
  const [free, bounded] = [await peakHeapMiB(0), await peakHeapMiB(20)];
  assert.ok(bounded < free * 0.7, `peak heap ${bounded} MiB with 20 %, ${free} MiB with V8's own growth`);
});
