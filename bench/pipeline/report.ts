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
