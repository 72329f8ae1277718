// Where a sink starts reading each partition: at the offset its database stored — the database is the
// truth, that is why offsets are stored there — as long as that offset belongs to the log being read
// and lies inside it. An offset of another log (a new cluster, a recreated topic) or outside the log
// (records removed by retention, a truncated log) is replaced by the start of the log: re-reading is
// safe, the version guard skips what is already there. Pure: no I/O.
import { ErrorCodes } from '../errors.ts';
import type { StoredOffset } from '../store/types.ts';

/** The offsets a partition holds now: [earliest, latest). */
export interface PartitionBounds {
  earliest: bigint;
  latest: bigint;
}

export interface StartFinding {
  code: typeof ErrorCodes.LOG_CHANGED | typeof ErrorCodes.OFFSET_OUT_OF_RANGE | typeof ErrorCodes.TOMBSTONES_EXPIRED;
  partition: number;
  storedOffset: bigint;
  storedLogId: string;
  startOffset: bigint;
  reason: 'log-changed' | 'below-log-start' | 'past-log-end' | 'tombstones-expired';
}

export interface StartPlan {
  /** Where to start each partition of the topic. */
  starts: { partition: number; offset: bigint }[];
  /** Stored offsets to overwrite before reading (their log is gone, or they lie outside it), with the new start. */
  resets: { partition: number; nextOffset: bigint }[];
  findings: StartFinding[];
}

/**
 * Decides the start of each partition (`bounds[p]` for partition p) from the stored offsets. A stored
 * offset without a log (stored by a version that did not record logs) is adopted when it fits the log.
 * With `tombstones` (the topic's delete.retention.ms and the time now), a partition whose sink was away
 * longer than tombstones are kept, while records it has not read wait, is reported: compaction may
 * have removed deletes it never saw.
 */
export function planStartPositions(
  logId: string,
  bounds: PartitionBounds[],
  stored: StoredOffset[],
  tombstones?: { retentionMs: number; now: number },
): StartPlan {
  const byPartition = new Map(stored.map((offset) => [offset.partition, offset]));
  const plan: StartPlan = { starts: [], resets: [], findings: [] };
  bounds.forEach(({ earliest, latest }, partition) => {
    const offset = byPartition.get(partition);
    if (!offset) {
      plan.starts.push({ partition, offset: earliest });
      return;
    }
    const finding = (code: StartFinding['code'], reason: StartFinding['reason']) =>
      plan.findings.push({ code, partition, storedOffset: offset.nextOffset, storedLogId: offset.logId, startOffset: earliest, reason });
    if (offset.logId !== '' && offset.logId !== logId) finding(ErrorCodes.LOG_CHANGED, 'log-changed');
    else if (offset.nextOffset < earliest) finding(ErrorCodes.OFFSET_OUT_OF_RANGE, 'below-log-start');
    else if (offset.nextOffset > latest) finding(ErrorCodes.OFFSET_OUT_OF_RANGE, 'past-log-end');
    else {
      plan.starts.push({ partition, offset: offset.nextOffset });
      if (offset.logId === '') plan.resets.push({ partition, nextOffset: offset.nextOffset }); // adopt: record its log
      const away = tombstones && offset.updatedAt ? tombstones.now - Date.parse(offset.updatedAt) : 0;
      if (tombstones && offset.nextOffset < latest && away > tombstones.retentionMs) {
        plan.findings.push({
          code: ErrorCodes.TOMBSTONES_EXPIRED,
          partition,
          storedOffset: offset.nextOffset,
          storedLogId: offset.logId,
          startOffset: offset.nextOffset,
          reason: 'tombstones-expired',
        });
      }
      return;
    }
    plan.starts.push({ partition, offset: earliest });
    plan.resets.push({ partition, nextOffset: earliest });
  });
  return plan;
}
