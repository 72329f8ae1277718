// The bundle the Docker image and the benchmarks run (`npm run build`, scripts/build.mjs): built here,
// then run as the image runs it — `node dist/main.mjs migrate`, then `all` — against the real databases
// and broker: a write through the API reaches PostgreSQL, GraphiQL and the console serve their files,
// and SIGTERM stops it cleanly. What only the sources would have (a file read beside a module, a
// package loaded at run time) fails here first.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { configEnv, freePort, kill9 } from '../support/role-processes.ts';
import { dropTestDatabases, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('scripts_build', { BACKFILL_ON_START: 'false', DRIFT_CHECK_INTERVAL_MS: '0' });
const node = 'node_modules/.bin/node';
let port: number;
let role: ChildProcess | null = null;
let stderr = '';

function bundled(args: string[]): ChildProcess {
  const child = spawn(node, ['dist/main.mjs', ...args], {
    env: { ...process.env, ...configEnv(config), HTTP_PORT: String(port), LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return child;
}

async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string }[] }> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: T; errors?: { message: string }[] };
}

describe('the bundle (npm run build)', () => {
  before(async () => {
    await promisify(execFile)(node, ['scripts/build.mjs'], { timeout: 120_000 });
    port = await freePort();
    await dropTestDatabases(config);
  });
  after(async () => {
    if (role) await kill9(role);
    await dropTestDatabases(config);
  });

  it('is one program with its chunks and the console files, importing nothing from src/', () => {
    const files = readdirSync('dist');
    assert.ok(existsSync('dist/main.mjs'));
    for (const asset of ['index.html', 'console.js', 'console.css']) assert.ok(files.includes(asset), `dist/${asset}`);
    for (const file of files.filter((f) => f.endsWith('.mjs'))) {
      const text = readFileSync(join('dist', file), 'utf8');
      assert.doesNotMatch(text, /(from\s*|import\(\s*)["'][^"']*\.ts["']/, `dist/${file} imports a TypeScript source`);
    }
  });

  it('migrates, then runs the whole pipeline and the API as the image does', async () => {
    const migrate = bundled(['migrate']);
    const [code] = (await once(migrate, 'exit')) as [number | null];
    assert.equal(code, 0, `migrate exited ${code}: ${stderr}`);

    role = bundled(['all']);
    await waitFor('the bundled role ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200, 90_000);
    const created = await gql<{ createEmploye: { id: number } }>(
      `mutation ($input: EmployeInput!) { createEmploye(input: $input, waitForSync: true) { id } }`,
      { input: { nom: 'Bundle', prenom: 'Ada', email: `ada.${process.pid}@bundle.test`, poste: 'Dev', salaire: 4200.5, department: 'R&D' } },
    );
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
    const id = created.data!.createEmploye.id;
    const read = await gql<{ employeParId: { nom: string; salaire: number } | null }>(`{ employeParId(id: ${id}) { nom salaire } }`);
    assert.deepEqual(read.data?.employeParId, { nom: 'Bundle', salaire: 4200.5 }, 'read back from PostgreSQL');

    const graphiql = await fetch(`http://127.0.0.1:${port}/graphql`, { headers: { accept: 'text/html' } });
    assert.equal(graphiql.status, 200);
    assert.match(await graphiql.text(), /empsync GraphiQL/);
    for (const [path, type] of [
      ['/console/', /text\/html/],
      ['/console/console.js', /javascript/],
      ['/console/uplot.js', /javascript/],
    ] as const) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', type, path);
    }

    const exited = once(role, 'exit') as Promise<[number | null, string | null]>;
    role.kill('SIGTERM');
    const [stopCode] = await exited;
    role = null;
    assert.equal(stopCode, 0, `stopped cleanly: ${stderr}`);
  });
});
