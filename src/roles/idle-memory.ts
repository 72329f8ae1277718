// Gives the memory of a bulk job back once the process is idle again.
//
// V8 keeps what a burst made it grow (a young generation of up to 2 × 64 MiB, old-space pages, pooled
// pages it does not unmap), so after a snapshot or a million-row transaction a relay or a sink stays at
// its peak resident size for the rest of its life. When the process has grown more than `growthMiB` above
// its footprint after the last trim (its start at first) and its event loop was idle (under 5 % busy)
// for a whole interval, one memory-reducing full collection runs — V8's own "last resort" collection,
// which shrinks the young generation and releases free pages to the system. It runs at most once per
// burst: a process that stays busy, or idle at its footprint, is never collected by it.
//
// `gc` comes from V8's `--expose-gc` flag set at run time and read from a fresh context, as Jest's
// `--logHeapUsage` does; a role then needs no node flag on its command line (Compose, `npm start`,
// `bin/empsync` alike).
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../logger.ts';

type Collect = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

const mib = 1024 * 1024;
const idleUtilisation = 0.05;

export interface IdleMemoryTrim {
  /** How many collections it ran. */
  readonly trims: number;
  stop(): void;
}

/**
 * Bounds how far the old generation grows past its live data between full collections (V8's
 * --heap-growing-percent, read at every collection, so setting it at start works; Node refuses it in
 * NODE_OPTIONS). 0 leaves V8's own factor. A bulk job then peaks lower for a few more collections.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}

export function startIdleMemoryTrim(intervalMs: number, logger: Logger, growthMiB = 32): IdleMemoryTrim {
  let trims = 0;
  if (intervalMs <= 0) return { trims, stop: () => undefined };
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as Collect;
  let footprint = process.memoryUsage.rss();
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    const rss = process.memoryUsage.rss();
    if (busy >= idleUtilisation || rss - footprint < growthMiB * mib) return;
    const started = performance.now();
    collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    footprint = process.memoryUsage.rss();
    trims++;
    last = performance.eventLoopUtilization();
    logger.info(
      { rssBeforeMiB: Math.round(rss / mib), rssAfterMiB: Math.round(footprint / mib), ms: Math.round(performance.now() - started) },
      'idle: memory of the last burst returned',
    );
  }, intervalMs);
  timer.unref();
  return {
    get trims() {
      return trims;
    },
    stop: () => clearInterval(timer),
  };
}
