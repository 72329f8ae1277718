// The benchmarks start the way `npm start` does (issue "Performance", "Also"): every `bench:*` script goes
// through scripts/bench.sh, which installs what is missing and runs the benchmark on the pinned Node —
// the system's Node 20 cannot load TypeScript and died with ERR_UNKNOWN_FILE_EXTENSION on a fresh clone.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('npm run bench:*', () => {
  it('every benchmark script runs through scripts/bench.sh, never the system node', () => {
    const benches = Object.entries(scripts).filter(([name]) => name.startsWith('bench:'));
    assert.ok(benches.length >= 4);
    for (const [name, command] of benches) assert.equal(command, `bash scripts/bench.sh ${name.slice('bench:'.length)}`, name);
  });

  it('scripts/bench.sh refuses an unknown benchmark with its usage, before setting anything up', async () => {
    await assert.rejects(run('bash', ['scripts/bench.sh', 'nothing'], { cwd: root }), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr ?? '', /no benchmark bench\/nothing\/run\.ts/);
      return true;
    });
  });
});
