// `npm start` as a newcomer runs it (scripts/start.sh, development, authentication off): it prints the
// console's URL, and a browser opened on that URL shows live numbers within seconds, then counts a change
// made through the API. The run uses this file's own databases, topic and port; Ctrl-C (SIGTERM) stops it.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { dropTestDatabases, testConfig, waitFor } from '../support/test-env.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ensureChromium = fileURLToPath(new URL('../../scripts/ensure-chromium.sh', import.meta.url));
const config = testConfig('scripts_start');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

let start: ChildProcess;
let output = '';
let browser: Browser;

describe('npm start, then the console it prints', () => {
  before(async () => {
    await promisify(execFile)('bash', [ensureChromium], { timeout: 600_000 });
    await dropTestDatabases(config);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HTTP_PORT: String(port),
      MYSQL_URL: config.MYSQL_URL,
      POSTGRES_URL: config.POSTGRES_URL,
      KAFKA_BROKERS: config.KAFKA_BROKERS.join(','),
      KAFKA_TOPIC: config.KAFKA_TOPIC,
      KAFKA_DLQ_TOPIC: config.KAFKA_DLQ_TOPIC,
      SINK_GROUP_PREFIX: config.SINK_GROUP_PREFIX,
      // The broker other tests share stays up when this run stops.
      EMPSYNC_KEEP_KAFKA: '1',
    };
    start = spawn('bash', ['scripts/start.sh'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    start.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    start.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  after(async () => {
    await browser?.close();
    if (start && start.exitCode === null) {
      const exited = once(start, 'exit');
      process.kill(-start.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
      if (start.exitCode === null) process.kill(-start.pid!, 'SIGKILL');
    }
    await dropTestDatabases(config);
  });

  it('prints the console URL; the console shows live numbers within seconds and counts a change', async () => {
    const consoleUrl = await waitFor('the console URL in what npm start prints', async () => /http:\/\/[^\s"']+\/console\b/.exec(output)?.[0], 180_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- npm start printed:\n${output.slice(-3000)}`);
    });
    const page = await browser.newPage();
    const opened = Date.now();
    await waitFor('the console page', async () => (await page.goto(consoleUrl).catch(() => null))?.ok(), 60_000);
    const applied = page.locator('section', { hasText: 'mysql → postgres' }).locator('dt:text-is("applied (this process)") + dd');
    await applied.waitFor({ timeout: 15_000 });
    await page.getByRole('status').filter({ hasText: /^Live/ }).waitFor({ timeout: 15_000 });
    const firstNumbers = (Date.now() - opened) / 1000;
    assert.ok(firstNumbers < 15, `live numbers after ${firstNumbers} s`);
    const before = Number((await applied.innerText()).replace(/,/g, ''));
    const graphql = consoleUrl.replace(/\/console$/, '/graphql');
    const response = await fetch(graphql, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }',
        variables: { input: { nom: 'Start', prenom: 'Ada', email: 'npm.start@example.fr', poste: 'Ingénieure', salaire: 4200, department: 'R&D' } },
      }),
    });
    assert.equal(((await response.json()) as { errors?: unknown }).errors, undefined);
    await waitFor('the change counted in the console', async () => Number((await applied.innerText()).replace(/,/g, '')) > before, 30_000);
    await page.close();
  });
});
