// The operator console as a person uses it: headless Chromium (Debian's, driven by playwright-core) on
// /console of the real `all` role with authentication on. An anonymous visitor sees no data; a reader
// watches a change being counted; an admin replays a parked event, overrides a real conflict, checks and
// repairs drift and reads the schema. Each view is checked at desktop and phone width, with axe-core
// (no serious or critical violation), and saved as a screenshot (CONSOLE_SCREENSHOTS=<dir> keeps them:
// docs/console/ holds the current ones).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import type { EmployeeFields } from '../../src/store/types.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const ensureChromium = fileURLToPath(new URL('../../scripts/ensure-chromium.sh', import.meta.url));
const axeSource = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const keys = { reader: 'console-reader-key-0000000001', admin: 'console-admin-key-00000000001' };
const config = testConfig('api_console', {
  AUTH_API_KEYS: `${keys.reader}:reader,${keys.admin}:admin`,
  DRIFT_SETTLE_MS: '200',
  REPAIR_VERIFY_TIMEOUT_MS: '30000',
});

const fields = (email: string, poste = 'Ingénieure'): EmployeeFields => ({
  nom: 'Console',
  prenom: 'Ada',
  email,
  poste,
  salaire: '4200.00',
  department: 'R&D',
});

let running: RunningRole;
let browser: Browser;
let base: string;
let screenshots: string;

async function open(page: Page, view: string, key?: keyof typeof keys): Promise<void> {
  await page.goto(`${base}/console#${view}`);
  if (key) {
    await page.getByLabel('Credential value').fill(keys[key]);
    await page.getByRole('button', { name: 'Use' }).click();
  }
}

async function snap(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** axe-core in the page (pages that run it bypass the console's CSP to inject it): no serious or critical violation. */
async function assertAccessible(page: Page, what: string): Promise<void> {
  await page.addScriptTag({ content: await readFile(axeSource, 'utf8') });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: Document) => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> } }).axe;
    const result = await axe.run(document);
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${what}: ${JSON.stringify(serious)}`);
}

describe('the operator console in a headless browser', () => {
  before(async () => {
    await promisify(execFile)('bash', [ensureChromium], { timeout: 600_000 });
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config), createGraphqlHandler });
    base = `http://127.0.0.1:${(running.server!.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
    screenshots = process.env.CONSOLE_SCREENSHOTS ?? (await mkdtemp(join(tmpdir(), 'empsync-console-')));
    await mkdir(screenshots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await running?.stop();
    await dropTestDatabases(config);
  });

  it('serves its own files with a strict policy, and shows an anonymous visitor no data', async () => {
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && request.url().startsWith('http')) external.push(request.url());
    });
    const response = await page.goto(`${base}/console`);
    assert.equal(response?.status(), 200);
    assert.match(response!.headers()['content-security-policy'] ?? '', /default-src 'none'/);
    assert.equal(response!.headers()['x-frame-options'], 'DENY');
    await page.getByRole('status').filter({ hasText: 'UNAUTHENTICATED' }).waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), /outbox backlog|→/);
    assert.deepEqual(external, [], 'no CDN: every asset comes from the API');
    // The data is the API's: without a credential, nothing.
    const anonymous = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ syncStatus { dlqMessages } }' }),
    });
    assert.equal(((await anonymous.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, 'UNAUTHENTICATED');
    await page.close();
  });

  it('overview: a reader sees a change counted, live', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    const streams: string[] = [];
    page.on('request', (request) => {
      if (request.headers()['accept'] === 'text/event-stream') streams.push(request.postData() ?? '');
    });
    await open(page, 'overview', 'reader');
    const applied = page.locator('section', { hasText: 'mysql → postgres' }).locator('dt:text-is("applied (this process)") + dd');
    await applied.waitFor();
    const before = Number((await applied.innerText()).replace(/,/g, ''));
    const row = await running.stores.mysql.employees.insert(fields('overview@example.fr'));
    await waitFor('PostgreSQL holds the new row', () => running.stores.postgres.employees.find(row.id));
    await waitFor('the console counts the applied change', async () => Number((await applied.innerText()).replace(/,/g, '')) > before, 20_000);
    assert.equal(await page.locator('.chart canvas').count() >= 2, true, 'a chart per direction');
    // Live over one SSE subscription, not by polling.
    assert.ok(streams.some((body) => body.includes('syncStatusUpdates')), 'the overview subscribes to syncStatusUpdates');
    assert.match(await page.getByRole('status').innerText(), /^Live/);
    await assertAccessible(page, 'overview');
    await snap(page, 'overview');
    // A reader cannot act: the dead letters need admin.
    await open(page, 'dead-letters');
    await page.getByRole('status').filter({ hasText: 'FORBIDDEN' }).waitFor();
    await page.close();
  });

  it('dead letters: an admin inspects a parked event and replays it, and sees the outcome', async () => {
    const { mysql, postgres } = running.stores;
    const row = await mysql.employees.insert(fields('parked@example.fr'));
    await waitFor('the row in PostgreSQL', () => postgres.employees.find(row.id));
    await sql`ALTER TABLE employes ADD CONSTRAINT test_console_rejected CHECK (poste <> 'Rejected')`.execute(postgres.db);
    const updated = await mysql.employees.update(row.id, fields('parked@example.fr', 'Rejected'));
    await waitFor('the update parked', async () => (await postgres.deadLetters.list({ limit: 10 })).length === 1);
    await sql`ALTER TABLE employes DROP CONSTRAINT test_console_rejected`.execute(postgres.db);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    await open(page, 'dead-letters', 'admin');
    const letter = page.locator('tbody tr[data-id^="postgres:"]').first();
    await letter.waitFor();
    assert.match(await letter.innerText(), /EMPSYNC_APPLY_REJECTED/);
    await letter.getByRole('button', { name: 'Inspect' }).click();
    await page.locator('pre', { hasText: 'Rejected' }).waitFor();
    await assertAccessible(page, 'dead letters');
    await snap(page, 'dead-letters');
    await letter.getByRole('button', { name: /^Replay postgres:/ }).click();
    await page.getByRole('status').filter({ hasText: 'applied' }).waitFor();
    assert.equal((await postgres.employees.find(row.id))?.poste, 'Rejected');
    assert.equal((await postgres.employees.find(row.id))?.version, updated!.version);
    await page.getByText('0 parked events').waitFor();
    await page.close();
  });

  it('conflicts: a real conflict shows both rows side by side, and an admin overrides its outcome', async () => {
    const { mysql, postgres } = running.stores;
    const row = await mysql.employees.insert(fields('conflict@example.fr'));
    await waitFor('the row in PostgreSQL', () => postgres.employees.find(row.id));
    // Both sides change the row before either change reaches the other: PostgreSQL's sink waits on a
    // transaction holding the row while MySQL's change is in flight; that transaction changes it too.
    const pool = new pg.Pool({ connectionString: config.POSTGRES_URL, max: 2 });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT id FROM employes WHERE id = $1 FOR UPDATE', [row.id]);
      await mysql.employees.update(row.id, fields('conflict@example.fr', 'Changed in MySQL'));
      await waitFor('the PostgreSQL sink waiting on the row', async () => {
        const { rows } = await pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
        return rows.length > 0;
      });
      await client.query(`UPDATE employes SET poste = 'Changed in PostgreSQL' WHERE id = $1`, [row.id]);
      await client.query('COMMIT');
    } finally {
      client.release();
      await pool.end();
    }
    await waitFor('the conflict recorded', async () => [...(await mysql.conflicts.list(10)), ...(await postgres.conflicts.list(10))].some((c) => c.employeId === row.id));
    await waitFor('both stores settled', async () => (await mysql.employees.find(row.id))?.version === (await postgres.employees.find(row.id))?.version);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    await open(page, 'conflicts', 'admin');
    const card = page.locator('section', { hasText: `Employee ${row.id} —` }).first();
    await card.waitFor();
    assert.match(await card.innerText(), /MySQL[\s\S]*PostgreSQL/);
    await assertAccessible(page, 'conflicts');
    await snap(page, 'conflicts');
    // Keep the side that lost, whichever it was.
    const now = await mysql.employees.find(row.id);
    const keep = now?.poste === 'Changed in MySQL' ? 'PostgreSQL' : 'MySQL';
    const keptStore = keep === 'MySQL' ? mysql : postgres;
    const keptPoste = (await keptStore.employees.find(row.id))!.poste;
    await card.getByRole('button', { name: `Keep ${keep}'s row for ${row.id}` }).click();
    await page.getByRole('status').filter({ hasText: 'kept' }).waitFor();
    await waitFor('the kept row on both sides', async () => (await mysql.employees.find(row.id))?.poste === keptPoste && (await postgres.employees.find(row.id))?.poste === keptPoste, 20_000);
    const recorded = [...(await mysql.conflicts.list(20)), ...(await postgres.conflicts.list(20))].filter((c) => c.outcome === 'operator-override');
    assert.equal(recorded.length, 1);
    assert.match(recorded[0]!.policy, /^operator:/);
    await page.close();
  });

  it('drift: an admin checks, sees the drifted row and column, repairs it; the schema view lists both engines', async () => {
    const { mysql, postgres } = running.stores;
    const row = await mysql.employees.insert(fields('drift@example.fr'));
    await waitFor('the row in PostgreSQL', () => postgres.employees.find(row.id));
    // Changed behind the pipeline (as the sink writes, so nothing is captured).
    await postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`UPDATE employes SET poste = 'Drifted' WHERE id = ${row.id}`.execute(trx);
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    await open(page, 'drift', 'admin');
    await page.getByRole('button', { name: 'Check now' }).click();
    const drifted = page.locator('tbody tr', { hasText: String(row.id) }).filter({ hasText: 'poste' });
    await drifted.waitFor({ timeout: 30_000 });
    await assertAccessible(page, 'drift');
    await snap(page, 'drift');
    await page.getByRole('button', { name: 'Repair' }).click();
    await page.getByRole('status').filter({ hasText: 'Repair done' }).waitFor({ timeout: 60_000 });
    assert.match(await page.getByRole('status').innerText(), /0 still differ/);
    assert.equal((await postgres.employees.find(row.id))?.poste, 'Ingénieure');

    await open(page, 'schema');
    await page.locator('h3', { hasText: 'employes' }).waitFor();
    const email = page.locator('tr', { has: page.locator('th', { hasText: /^email$/ }) });
    assert.match(await email.innerText(), /email\s+text\s+varchar\(255\) not null\s+character varying not null/);
    await assertAccessible(page, 'schema');
    await snap(page, 'schema');
    await page.close();
  });

  it('fits a phone: no horizontal scrolling of the page, views readable', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, bypassCSP: true });
    for (const view of ['overview', 'dead-letters', 'conflicts', 'drift', 'schema']) {
      await open(page, view, view === 'overview' ? 'admin' : undefined);
      await page.locator('main h2').first().waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `${view}: the page scrolls sideways by ${overflow}px at phone width`);
      if (view === 'overview' || view === 'conflicts') await snap(page, `${view}-phone`);
    }
    await assertAccessible(page, 'phone');
    await page.close();
  });
});
