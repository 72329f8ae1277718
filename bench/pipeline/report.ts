// The bench's two outputs: targets from the issue compared with pass/miss (a miss never fails the
// run), and a short human table on stderr beside the JSON on stdout.

export interface TargetCheck {
  name: string;
  target: string;
  measured: number;
  pass: boolean;
}

export function checkTargets(measured: {
  batchRate: number;
  singleRate: number;
  p99Ms: number;
}): TargetCheck[] {
  return [
    {
      name: 'throughput, 50-row transactions',
      target: '>= 20000 changes/s',
      measured: measured.batchRate,
      pass: measured.batchRate >= 20_000,
    },
    {
      name: 'throughput, single-row transactions',
      target: '>= 3000 changes/s',
      measured: measured.singleRate,
      pass: measured.singleRate >= 3000,
    },
    {
      name: 'p99 latency at 1000 changes/s',
      target: '<= 50 ms',
      measured: measured.p99Ms,
      pass: measured.p99Ms <= 50,
    },
  ];
}

/** Aligned rows of `label | value | note`, written to stderr. */
export function printTable(title: string, rows: [string, string | number, string?][]): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => String(value).length));
  process.stderr.write(`\n${title}\n`);
  for (const [label, value, note] of rows) {
    process.stderr.write(
      `  ${label.padEnd(width)}  ${String(value).padStart(valueWidth)}${note ? `  ${note}` : ''}\n`,
    );
  }
}

export type TableRow = [string, string | number, string?];

interface Percentiles {
  p50Ms: number | string;
  p99Ms: number | string;
  p999Ms: number | string;
}

const percentiles = (p: Percentiles) => `${p.p50Ms} / ${p.p99Ms} / ${p.p999Ms}`;

/** The rows every direction prints: its source's ceilings, the pipeline rates and the latency. */
export function directionRows(d: {
  prefix: string;
  source: string;
  connections: { single: number; batch: number };
  ceilings: { single: number; batch: number; capturedSingle: number; capturedBatch: number };
  batch: { rate: number; ofPlain: number; ofCaptured: number };
  singleRow: { rate: number; ofPlain: number; ofCaptured: number };
  latency: { polled: Percentiles; sinkHistogram: Percentiles };
  latencyNote: string;
}): TableRow[] {
  const ratios = (r: { ofPlain: number; ofCaptured: number }) =>
    `changes/s (×${r.ofPlain} of plain, ×${r.ofCaptured} of triggers ceiling)`;
  return [
    [`${d.source} ceiling, 1-row tx`, d.ceilings.single, `rows/s, ${d.connections.single} connections`],
    [`${d.source} ceiling, 50-row tx`, d.ceilings.batch, `rows/s, ${d.connections.batch} connections`],
    [`${d.source} + triggers, 1-row tx`, d.ceilings.capturedSingle, 'changes/s, no relay reading'],
    [`${d.source} + triggers, 50-row tx`, d.ceilings.capturedBatch, 'changes/s, no relay reading'],
    [`${d.prefix}pipeline, 50-row tx`, d.batch.rate, ratios(d.batch)],
    [`${d.prefix}pipeline, 1-row tx`, d.singleRow.rate, ratios(d.singleRow)],
    [`${d.prefix}latency p50 / p99 / p99.9`, percentiles(d.latency.polled), d.latencyNote],
    [`${d.prefix}sink histogram p50 / p99 / p99.9`, percentiles(d.latency.sinkHistogram), 'ms (bucket resolution)'],
  ];
}

/** `label CPU s / peak RSS MiB` of one child. */
export function processRow(label: string, p: { cpuSecondsTotal: number; peakRssMiB: number }): TableRow {
  return [`${label} CPU s / peak RSS MiB`, `${p.cpuSecondsTotal} / ${p.peakRssMiB}`];
}
