// The examples GraphiQL opens on are runnable as they stand: each tab's exact document, with its exact
// variables, runs against the real `all` role without an error and finds what the writes made; a
// browser opening /graphql gets them as its tabs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { chromium } from 'playwright-core';
import { graphiqlExamples, graphiqlOptions } from '../../src/api/graphiql-example.ts';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';
import { startApi, type RunningApi } from './api-client.ts';

const config = testConfig('api_graphiql_example');
let api: RunningApi;

interface Employe {
  id: number;
  poste?: string;
  email?: string;
  syncState?: { inSync: boolean };
}

/** The one operation of a tab's document: its name and kind. */
function operationOf(query: string): { name: string; type: string } {
  const operations = parse(query).definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  assert.equal(operations.length, 1, 'one operation per tab');
  return { name: operations[0]!.name!.value, type: operations[0]!.operation };
}

const tabs = graphiqlExamples.map((example) => ({ ...example, ...operationOf(example.query) }));
const tab = (name: string) => tabs.find((t) => t.name === name)!;

/** A tab as GraphiQL sends it: its document and its variables. */
async function run(query: string, variables: Record<string, unknown> | undefined, operationName?: string) {
  const response = await fetch(api.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
    },
    body: JSON.stringify({ query, variables, operationName }),
  });
  return {
    status: response.status,
    ...((await response.json()) as { data?: Record<string, unknown> | null; errors?: unknown[] }),
  };
}

describe('the GraphiQL examples', () => {
  before(async () => {
    api = await startApi(config);
  });
  after(async () => {
    await api?.running.stop();
    await dropTestDatabases(config);
  });

  it('are the published queries and both writes, one named operation per tab, the variables in each tab', () => {
    assert.deepEqual(
      tabs.map(({ name, type }) => `${type} ${name}`),
      [
        'query Employes',
        'query EmployeParId',
        'query EmployesParDepartment',
        'mutation CreateEmploye',
        'mutation UpdateEmploye',
      ],
    );
    assert.equal(
      graphiqlOptions.defaultQuery,
      graphiqlExamples[0]!.query,
      'a new tab opens on the first example',
    );
    assert.deepEqual(
      graphiqlOptions.defaultTabs?.map((t) => [t.query, t.variables ? JSON.parse(t.variables) : undefined]),
      graphiqlExamples.map((e) => [e.query, e.variables]),
    );
  });

  it('each tab runs as it stands without an error, the writes first as the first tab says, the reads finding them', async () => {
    const order = ['CreateEmploye', 'UpdateEmploye', 'Employes', 'EmployeParId', 'EmployesParDepartment'];
    const data: Record<string, Record<string, unknown>> = {};
    for (const name of order) {
      const { query, variables } = tab(name);
      const result = await run(query, variables);
      assert.equal(result.status, 200, name);
      assert.equal(result.errors, undefined, `${name}: ${JSON.stringify(result.errors)}`);
      data[name] = result.data!;
    }
    const created = data.CreateEmploye!.createEmploye as Employe;
    assert.equal(
      created.id,
      tab('EmployeParId').variables!.id,
      'the examples’ id is the row CreateEmploye makes on a fresh stack',
    );
    assert.equal(created.id, tab('UpdateEmploye').variables!.id);
    assert.equal(created.syncState?.inSync, true, 'waitForSync: true answered once PostgreSQL had it');
    const updated = data.UpdateEmploye!.updateEmploye as Employe;
    assert.equal(updated.poste, 'Architecte');
    assert.equal(updated.syncState?.inSync, true);
    assert.deepEqual(
      (data.Employes!.employes as Employe[]).map((e) => e.id),
      [created.id],
    );
    assert.equal((data.EmployeParId!.employeParId as Employe).poste, 'Architecte');
    assert.deepEqual(
      (data.EmployesParDepartment!.employesParDepartment as Employe[]).map((e) => e.id),
      [created.id],
    );
  });

  // @envelop/graphql-jit caches a compiled document by the parsed document alone (not by operationName),
  // and yoga's parser cache hands the same parsed document to every request of one text: the second
  // operation of a document ran the first. Documents of several operations now run on graphql-js
  // (src/api/plugins/use-compiled-execution.ts).
  it('runs the operation named by operationName in a document of several', async () => {
    const document = `${tab('Employes').query}\n${tab('EmployeParId').query}`;
    const employes = await run(document, {}, 'Employes');
    assert.ok(employes.data && 'employes' in employes.data, `answered ${JSON.stringify(employes)}`);
    const byId = await run(document, { id: tab('EmployeParId').variables!.id }, 'EmployeParId');
    assert.equal(byId.errors, undefined, JSON.stringify(byId.errors));
    assert.ok(byId.data && 'employeParId' in byId.data, `answered ${JSON.stringify(byId)}`);
    // And again in the first order: each name runs its own operation however often the text comes.
    const again = await run(document, {}, 'Employes');
    assert.ok(again.data && 'employes' in again.data, `answered ${JSON.stringify(again)}`);
  });

  it('is what a browser opening /graphql gets as its tabs', async () => {
    // Chromium as test/api/graphiql-browser.test.ts drives it (installed on a fresh machine by this script).
    await promisify(execFile)(
      'bash',
      [fileURLToPath(new URL('../../scripts/ensure-chromium.sh', import.meta.url))],
      { timeout: 600_000 },
    );
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(api.url);
      const editor = page.locator('.graphiql-query-editor').first();
      await editor.waitFor({ state: 'visible', timeout: 30_000 });
      assert.deepEqual(
        await page.locator('.graphiql-tab').allInnerTexts(),
        tabs.map((t) => t.name),
        'one tab per example, titled by its operation',
      );
      assert.match(
        (await editor.innerText()).replace(/\s+/g, ' '),
        /query Employes \{ employes\(limit: 20\)/,
        'the first tab is open',
      );
      // GraphiQL keeps its tabs in localStorage (written a moment after the page shows them): each with
      // the example's document and variables.
      await page.waitForFunction(() => localStorage.getItem('graphiql:tabState') !== null, undefined, { timeout: 10_000 });
      const stored = JSON.parse(
        (await page.evaluate(() => localStorage.getItem('graphiql:tabState'))) ?? '{}',
      ) as { tabs?: { query: string; variables: string | null }[] };
      assert.deepEqual(
        stored.tabs?.map((t) => [t.query, t.variables ? JSON.parse(t.variables) : undefined]),
        graphiqlExamples.map((e) => [e.query, e.variables]),
      );
    } finally {
      await browser.close();
    }
  });
});
