// The continuous drift check in the `all` role: a value changed behind the pipeline shows in
// empsync_drift_rows (by table and kind), in /metrics, and in GraphQL syncStatus.drift within a pass;
// `reconcile --watch --repair` in another process repairs it, and the next pass of `all` is clean.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { startApi, type RunningApi } from '../api/api-client.ts';
import { assertStoresEqual, waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('drift_check', { DRIFT_CHECK_INTERVAL_MS: '700', DRIFT_SETTLE_MS: '200' });
let api: RunningApi;
let watcher: RunningRole | undefined;

interface Drift {
  rows: number | null;
  lastCompletePassAt: string | null;
  lastPassSeconds: number | null;
  intervalSeconds: number;
  tables: { table: string; rows: number }[];
  lastError: string | null;
}

const drift = async () => {
  const response = await api.gql<{ syncStatus: { drift: Drift | null } }>(
    '{ syncStatus { drift { rows lastCompletePassAt lastPassSeconds intervalSeconds tables { table rows } lastError } } }',
  );
  assert.equal(response.errors, undefined, JSON.stringify(response.errors));
  return response.data!.syncStatus.drift;
};

const driftRowsMetric = async (url: string) => {
  const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
  return Object.fromEntries(
    [...text.matchAll(/^empsync_drift_rows\{table="(\w+)",kind="(\w+)"\} (\d+)/gm)].map((m) => [`${m[1]}/${m[2]}`, Number(m[3])]),
  );
};

describe('the continuous drift check', () => {
  before(async () => {
    api = await startApi(config);
    for (let i = 0; i < 5; i++) {
      await api.running.stores.mysql.employees.insert({ nom: `D${i}`, prenom: 'P', email: `drift${i}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'D' });
    }
    await waitForConvergence(api.running.stores);
  });
  after(async () => {
    await watcher?.stop();
    await api?.running.stop();
    await dropTestDatabases(config);
  });

  it('reports clean passes on agreeing stores', async () => {
    await waitFor('a clean pass after the rows synced', async () => {
      const d = await drift();
      return d?.rows === 0 && d.lastCompletePassAt !== null;
    });
    const d = (await drift())!;
    assert.equal(d.intervalSeconds, 0.7);
    assert.deepEqual(d.tables, [{ table: 'employes', rows: 0 }]);
    assert.ok(d.lastPassSeconds !== null && d.lastPassSeconds >= 0);
  });

  it('shows a value changed behind the pipeline in the gauge, /metrics and syncStatus, and reconcile --watch --repair repairs it', async () => {
    const [row] = await api.running.stores.mysql.employees.dump();
    await api.running.stores.postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`UPDATE employes SET poste = 'Changé en douce' WHERE id = ${row!.id}`.execute(trx);
    });
    await waitFor('the drift reported', async () => (await drift())?.rows === 1);
    assert.deepEqual((await drift())!.tables, [{ table: 'employes', rows: 1 }]);
    const metric = await driftRowsMetric(api.url);
    assert.equal(metric['employes/content'], 1);
    assert.equal(metric['employes/missing'], 0);
    const passTime = Date.parse((await drift())!.lastCompletePassAt!);

    // A second process watches and repairs; the pipeline of `all` carries the repair.
    const watchConfig = testConfig('drift_check', { DRIFT_CHECK_INTERVAL_MS: '700', DRIFT_SETTLE_MS: '200' });
    watcher = await startRole('reconcile', { config: watchConfig, logger: quietLogger(watchConfig) }, ['--watch', '--repair']);
    const { port } = watcher.server!.address() as AddressInfo;
    await waitFor('the watcher repaired', async () =>
      (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).includes('empsync_drift_passes_total{outcome="repaired"} 1'),
    );
    await waitFor('the next pass of `all` is clean', async () => {
      const d = await drift();
      return d?.rows === 0 && Date.parse(d.lastCompletePassAt!) > passTime;
    });
    assert.equal((await api.running.stores.postgres.employees.find(row!.id))?.poste, row!.poste);
    await assertStoresEqual(api.running.stores);
  });

  it('an API process that runs no check shows the last pass another process recorded', async () => {
    const apiConfig = testConfig('drift_check', { DRIFT_CHECK_INTERVAL_MS: '0' });
    const apiOnly = await startRole('api', { config: apiConfig, logger: quietLogger(apiConfig), createGraphqlHandler }, []);
    try {
      const { port } = apiOnly.server!.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query: '{ syncStatus { drift { rows lastCompletePassAt tables { table rows } } } }' }),
      });
      const body = (await response.json()) as { errors?: unknown; data: { syncStatus: { drift: { rows: number; lastCompletePassAt: string; tables: unknown[] } | null } } };
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      const shown = body.data.syncStatus.drift;
      assert.ok(shown, JSON.stringify(body));
      assert.equal(shown.rows, 0);
      assert.deepEqual(shown.tables, [{ table: 'employes', rows: 0 }]);
      assert.ok(Date.now() - Date.parse(shown.lastCompletePassAt) < 60_000);
    } finally {
      await apiOnly.stop();
    }
  });
});
