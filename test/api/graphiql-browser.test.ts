// GraphiQL as a person uses it: headless Chromium (Debian's, driven by playwright-core) opens /graphql
// of the real `all` role, types a query into the editor, presses the run button and reads the seeded
// rows in the result pane. The page must work offline: GraphiQL's assets are served by the API itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const ensureChromium = fileURLToPath(new URL('../../scripts/ensure-chromium.sh', import.meta.url));
const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const config = testConfig('api_graphiql');
const query = '{ employes { id nom email } }';
const seeded = ['Ada', 'Grace', 'Barbara'].map((prenom) => ({
  nom: 'Navigateur',
  prenom,
  email: `${prenom.toLowerCase()}.navigateur@example.fr`,
  poste: 'Ingénieure',
  salaire: '4200.00',
  department: 'R&D',
}));

let running: RunningRole;
let browser: Browser;
let pageUrl: string;
let screenshots: string;

describe('GraphiQL in a headless browser', () => {
  before(async () => {
    // Installing Chromium (first run on a fresh machine) takes a few minutes.
    await promisify(execFile)('bash', [ensureChromium], { timeout: 600_000 });
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config), createGraphqlHandler });
    const { port } = running.server!.address() as AddressInfo;
    pageUrl = `http://127.0.0.1:${port}/graphql`;
    const ids: number[] = [];
    for (const employee of seeded) ids.push((await running.stores.mysql.employees.insert(employee)).id);
    await waitFor(
      'the seeded employees in PostgreSQL',
      async () => (await running.stores.postgres.employees.findMany(ids)).length === ids.length,
      60_000,
    );
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    screenshots = await mkdtemp(join(tmpdir(), 'empsync-graphiql-'));
  });
  after(async () => {
    await browser?.close();
    await running?.stop();
    await dropTestDatabases(config);
  });

  it('runs a query typed into the editor and shows the rows from PostgreSQL', async (t) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const external: string[] = [];
    page.on('request', (request) => {
      const { hostname, protocol } = new URL(request.url());
      if (protocol.startsWith('http') && hostname !== '127.0.0.1') external.push(request.url());
    });
    const screenshot = join(screenshots, 'graphiql-result.png');
    try {
      const response = await page.goto(pageUrl);
      assert.equal(response?.status(), 200);
      assert.match(response.headers()['content-type'] ?? '', /text\/html/);
      const html = await response.text();
      assert.doesNotMatch(
        html,
        /<(script|link)[^>]+(src|href)=["']?https?:/i,
        'GraphiQL must not load its scripts or styles from a CDN (there may be no internet): serve them with @graphql-yoga/render-graphiql',
      );

      // As a person pasting a query: click into the editor, select what is there, paste over it. (Typed
      // key by key, the editor's bracket auto-closing raced the keystrokes and sometimes left a "}" too
      // many before the cursor.)
      const editor = page.locator('.graphiql-query-editor').first();
      await editor.waitFor({ state: 'visible', timeout: 30_000 });
      await editor.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.insertText(query);
      // Whatever the editor added after the cursor (a closing bracket of its own) goes.
      await page.keyboard.press('Shift+ControlOrMeta+End');
      await page.keyboard.press('Delete');
      // The editor paints its lines on a later animation frame: what it shows right after the Delete can
      // still be the text before it, so wait (bounded) until it shows exactly the query.
      const lines = editor.locator('.view-lines');
      const shows = async () => (await lines.innerText()).replace(/\s+/g, ' ').trim();
      await waitFor('the editor to show the query', async () => (await shows()) === query, 10_000).catch(
        async (error: unknown) => {
          assert.equal(await shows(), query, String(error));
        },
      );
      // GraphiQL reads the operation's name from the editor a moment after a change (debounced) and
      // runs with the name it last read: the tab opened on the example "Employes", and a run before the
      // read asks for that operation in an anonymous document. The tab's title shows the name read, as
      // a person sees it: wait until it no longer names the example.
      const activeTab = page.locator('.graphiql-tab-active').first();
      await waitFor('GraphiQL to read the pasted operation', async () => !(await activeTab.innerText()).includes('Employes'), 10_000);
      await page
        .getByRole('button', { name: /execute query/i })
        .first()
        .click();

      const result = page.locator('.graphiql-response').first();
      await result.getByText(seeded[0]!.email).first().waitFor({ timeout: 30_000 });
      const shown = await result.innerText();
      for (const { email } of seeded) assert.ok(shown.includes(email), `the result pane shows ${email}`);
      assert.deepEqual(external, [], 'the page loads nothing from outside the API (no CDN)');
    } finally {
      await page.screenshot({ path: screenshot, fullPage: true }).catch(() => undefined);
      t.diagnostic(`screenshot: ${screenshot}`);
      await page.close();
    }
    assert.ok((await stat(screenshot)).size > 0, 'a screenshot was written');
  });
});
