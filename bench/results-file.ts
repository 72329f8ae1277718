// Every benchmark prints its JSON report on stdout and keeps a copy in bench/results/ (git-ignored),
// named after the benchmark and the time it started.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Writes `report` to stdout and to bench/results/<benchmark>-<time>.json; returns the file's path. */
export function publishReport(benchmark: string, report: unknown, started: Date): string {
  const text = `${JSON.stringify(report, null, 2)}\n`;
  process.stdout.write(text);
  const directory = fileURLToPath(new URL('results/', import.meta.url));
  mkdirSync(directory, { recursive: true });
  const file = `${directory}${benchmark}-${started.toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, text);
  return file;
}
