// Reads the children's /metrics (Prometheus text format): histograms are snapshotted before and
// after a phase, and the bucket deltas give counts, means and bucket-resolution quantiles.

export interface HistogramSnapshot {
  /** Upper bounds in ascending order, +Inf last, with cumulative counts. */
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

/** Parses the text exposition into `name{labels}` → value (labels kept as written, sorted by the exporter). */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The histogram `name` restricted to series whose labels include `match` (e.g. `store="postgres"`). */
export function readHistogram(samples: Map<string, number>, name: string, match: string): HistogramSnapshot {
  const buckets: { le: number; count: number }[] = [];
  let sum = 0;
  let count = 0;
  for (const [series, value] of samples) {
    if (!series.includes(match)) continue;
    if (series.startsWith(`${name}_bucket{`)) {
      const le = /le="([^"]+)"/.exec(series)?.[1];
      if (le !== undefined) buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: value });
    } else if (series.startsWith(`${name}_sum{`)) {
      sum = value;
    } else if (series.startsWith(`${name}_count{`)) {
      count = value;
    }
  }
  buckets.sort((a, b) => a.le - b.le);
  return { buckets, sum, count };
}

export function readGauge(samples: Map<string, number>, name: string, match: string): number | undefined {
  for (const [series, value] of samples) {
    if ((series === name || series.startsWith(`${name}{`)) && series.includes(match)) return value;
  }
  return undefined;
}

/** What was observed between two snapshots of one histogram. */
export function histogramDelta(before: HistogramSnapshot, after: HistogramSnapshot): HistogramSnapshot {
  const earlier = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (earlier.get(b.le) ?? 0) })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/**
 * The q-quantile by linear interpolation inside the bucket that holds it (as PromQL's
 * histogram_quantile): exact only to the bucket bounds. A quantile in the +Inf bucket answers the
 * highest finite bound, flagged by `beyondLastBucket`.
 */
export function histogramQuantile(
  histogram: HistogramSnapshot,
  q: number,
): { value: number; beyondLastBucket: boolean } {
  const total = histogram.buckets.at(-1)?.count ?? 0;
  if (total === 0) return { value: Number.NaN, beyondLastBucket: false };
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const { le, count } of histogram.buckets) {
    if (count >= rank) {
      if (le === Infinity) return { value: lowerBound, beyondLastBucket: true };
      const inBucket = count - lowerCount;
      const fraction = inBucket === 0 ? 0 : (rank - lowerCount) / inBucket;
      return { value: lowerBound + (le - lowerBound) * fraction, beyondLastBucket: false };
    }
    lowerBound = le;
    lowerCount = count;
  }
  return { value: lowerBound, beyondLastBucket: true };
}
