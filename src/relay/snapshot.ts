// Snapshot: a table read in id-ordered chunks and published straight to its topic — a backfill, a
// re-publish into a new log, a resync. Nothing is written to the table or the outbox: the run's record in
// sync_backfill (its position, the last id published) is the only write, once per chunk, so a crash
// resumes after the last chunk Kafka acknowledged.
//
// Why no DBLog watermarks: every row carries the version its last change was captured with, and every
// sink applies a change only when its version is newer than what it holds for that row — a row or, once
// deleted, its tombstone (kept, never purged). A chunk row read at version v and published after a live
// change of that row (v' > v, through the outbox) is refused as stale wherever v' arrived first; a row
// deleted after the chunk read it meets its tombstone (v' > v). The final state of every row is its
// newest version whatever the order in which the snapshot and the live stream reach the sink — what
// DBLog's watermark windows buy a sink that has no version guard. No SQL here.
import { failpoint } from '../failpoints.ts';
import type { OutboxPort, SnapshotRun } from '../store/ports.ts';
import type { CapturedChange } from '../store/types.ts';
import type { SchemaSource } from '../tables/table-schema.ts';
import { rowsWithin } from './captured-change.ts';

export interface SnapshotOptions {
  outbox: OutboxPort;
  schemas: SchemaSource;
  /** Rows per chunk, at most. */
  chunkRows: number;
  /** Bytes per chunk, roughly (the rows' JSON): wide rows make smaller chunks. */
  chunkBytes: number;
  /** Carries the chunk's rows to Kafka (parking those the other engine cannot hold); resolves once acknowledged. */
  publish: (rows: CapturedChange[]) => Promise<void>;
  /** Aborted when the relay stops or loses its lease: the run stops after the chunk in flight. */
  signal: AbortSignal;
  /** After each chunk is published and recorded. */
  onChunk?: (run: SnapshotRun, rows: number) => void;
  /** Where the time went, added up across calls (seconds): waiting for reads, publishing, recording. */
  timings?: SnapshotTimings;
}

export interface SnapshotTimings {
  readWait: number;
  publish: number;
  record: number;
}

/**
 * Reads and publishes the rest of `run`, from the row after its recorded position; the next chunk is read,
 * and the last one's position recorded, while the current one is published. Resolves with the run as recorded last (done, or stopped by `signal`).
 */
export async function continueSnapshot(start: SnapshotRun, options: SnapshotOptions): Promise<SnapshotRun> {
  const { outbox, schemas, signal } = options;
  let run = { ...start };
  if (run.done) return run;
  // The first chunk is small: the size of the table's rows is not known yet.
  let limit = Math.min(options.chunkRows, 100);
  const read = (after: number | null, rows: number) => outbox.readSnapshotChunk(schemas.schema(run.table), after, rows);
  let next = read(run.lastId, limit);
  const timings = options.timings ?? { readWait: 0, publish: 0, record: 0 };
  let recording: Promise<void> = Promise.resolve();
  const since = (start: number) => (performance.now() - start) / 1000;
  while (!signal.aborted) {
    let started = performance.now();
    const chunk = await next;
    timings.readWait += since(started);
    const last = chunk.length < limit;
    if (chunk.length > 0) {
      // Size the next chunk on this one's bytes (each row's values, roughly as they travel).
      limit = rowsWithin(chunk, options.chunkRows, options.chunkBytes);
    }
    const lastId = chunk.length ? chunk[chunk.length - 1]!.id : run.lastId;
    next = last ? Promise.resolve([]) : read(lastId, limit);
    next.catch(() => undefined); // awaited on the next turn; a stop in between must not leave it unhandled
    started = performance.now();
    if (chunk.length) await options.publish(chunk);
    timings.publish += since(started);
    run = { ...run, lastId, published: run.published + chunk.length, done: last };
    // The position is recorded while the next chunk is published (each record after the one before: a
    // failed one stops the run, which resumes from the last recorded chunk).
    await recording;
    const recorded = run;
    const recordStarted = performance.now();
    recording = outbox.recordSnapshotProgress(recorded.run, recorded).then(() => {
      timings.record += since(recordStarted);
      options.onChunk?.(recorded, chunk.length);
      if (!recorded.done) failpoint('backfill.after-chunk');
    });
    recording.catch(() => undefined); // awaited on the next turn or at the end
    if (last) break;
  }
  await recording;
  return run;
}

