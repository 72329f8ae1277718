// What the API tells about sync, over HTTP against the real `all` role: read-your-writes with
// waitForSync, the per-row syncState of both stores, syncStatus (backlog, lag, last apply, latency
// percentiles from the histogram) and the recorded conflicts of both stores, newest first.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { histogramQuantile } from '../../src/api/sync-status.ts';
import type { StoreName } from '../../src/store/types.ts';
import { dropTestDatabases, testConfig, waitFor } from '../support/test-env.ts';
import { employeInput, startApi, type RunningApi } from './api-client.ts';

const config = testConfig('api_sync_observability');
let api: RunningApi;

interface SyncState {
  version: string;
  origin: string;
  mysqlVersion: string | null;
  postgresVersion: string | null;
  inSync: boolean;
}
interface Direction {
  direction: string;
  source: string;
  target: string;
  outboxBacklog: number;
  consumerLag: number | null;
  lastAppliedAt: string | null;
  endToEndLagP50Seconds: number | null;
  endToEndLagP99Seconds: number | null;
  endToEndLagSamples: number;
}

const syncStateFields = 'syncState { version origin mysqlVersion postgresVersion inSync }';

describe('sync as the API shows it', () => {
  before(async () => {
    api = await startApi(config);
  });
  after(async () => {
    await api?.running.stop();
    await dropTestDatabases(config);
  });

  it('createEmploye(waitForSync: true) answers once PostgreSQL can read the row', async () => {
    for (let i = 0; i < 3; i++) {
      const created = await api.gql<{ createEmploye: { id: number; syncState: SyncState } }>(
        `mutation ($input: EmployeInput!) { createEmploye(input: $input, waitForSync: true) { id ${syncStateFields} } }`,
        { input: employeInput({ email: `ryw${i}@example.fr` }) },
      );
      assert.equal(created.errors, undefined, JSON.stringify(created.errors));
      const { id, syncState } = created.data!.createEmploye;
      assert.equal(syncState.mysqlVersion, syncState.version);
      assert.equal(syncState.postgresVersion, syncState.version, 'the mutation answered after the apply');
      assert.equal(syncState.inSync, true);
      const read = await api.gql<{ employeParId: { id: number } | null }>(
        `query ($id: Int!) { employeParId(id: $id) { id } }`,
        { id },
      );
      assert.deepEqual(read.data, { employeParId: { id } }, 'readable at once, no polling');
    }
  });

  it('updateEmploye and deleteEmploye wait the same way', async () => {
    const { data } = await api.gql<{ employes: { id: number; email: string }[] }>(
      `{ employes { id email } }`,
    );
    const { id, email } = data!.employes[0]!;
    const updated = await api.gql<{ updateEmploye: { syncState: SyncState } }>(
      `mutation ($id: Int!, $input: EmployeInput!) { updateEmploye(id: $id, input: $input, waitForSync: true) { ${syncStateFields} } }`,
      { id, input: employeInput({ email, poste: 'Architecte' }) },
    );
    assert.equal(updated.errors, undefined);
    assert.equal(updated.data!.updateEmploye.syncState.inSync, true);
    assert.equal((await api.running.stores.postgres.employees.find(id))?.poste, 'Architecte');
    const deleted = await api.gql(`mutation ($id: Int!) { deleteEmploye(id: $id, waitForSync: true) }`, {
      id,
    });
    assert.deepEqual(deleted.data, { deleteEmploye: true });
    assert.equal(
      await api.running.stores.postgres.employees.find(id),
      null,
      'gone from the read model at once',
    );
  });

  it('syncState compares the versions of both stores until a change without waitForSync arrives', async () => {
    const { data } = await api.gql<{ employes: { id: number }[] }>(`{ employes { id } }`);
    const id = data!.employes[0]!.id;
    const before = await api.gql<{ employeParId: { syncState: SyncState } }>(
      `query ($id: Int!) { employeParId(id: $id) { ${syncStateFields} } }`,
      { id },
    );
    assert.equal(before.data!.employeParId.syncState.inSync, true);
    // Without waiting, the answer of a write may come before the apply: syncState says which side has what.
    const { data: written } = await api.gql<{ updateEmploye: { syncState: SyncState } }>(
      `mutation ($id: Int!, $input: EmployeInput!) { updateEmploye(id: $id, input: $input) { ${syncStateFields} } }`,
      { id, input: employeInput({ email: 'ryw1@example.fr', poste: 'Nouveau' }) },
    );
    const state = written!.updateEmploye.syncState;
    assert.equal(state.mysqlVersion, state.version);
    assert.equal(state.inSync, state.postgresVersion === state.mysqlVersion);
    await waitFor('the update in PostgreSQL', async () => {
      const { data: now } = await api.gql<{ employeParId: { syncState: SyncState } }>(
        `query ($id: Int!) { employeParId(id: $id) { ${syncStateFields} } }`,
        { id },
      );
      return (
        now?.employeParId.syncState.inSync && now.employeParId.syncState.postgresVersion === state.version
      );
    });
  });

  it('syncStatus reports both directions from live counts and this process metrics', async () => {
    const query = `{ syncStatus { dlqMessages metricsSince directions { direction source target outboxBacklog consumerLag lastAppliedAt endToEndLagP50Seconds endToEndLagP99Seconds endToEndLagSamples } } }`;
    // The sinks report their lag every 5 s: wait for the first report.
    const status = await waitFor('a consumer lag report', async () => {
      const { data, errors } = await api.gql<{
        syncStatus: { dlqMessages: number; metricsSince: string; directions: Direction[] };
      }>(query);
      assert.equal(errors, undefined, JSON.stringify(errors));
      return data!.syncStatus.directions.every((d) => d.consumerLag !== null) ? data!.syncStatus : null;
    });
    assert.deepEqual(
      status.directions.map((d) => d.direction),
      ['mysql->postgres', 'postgres->mysql'],
    );
    assert.equal(status.dlqMessages, 0);
    assert.ok(Date.parse(status.metricsSince) <= Date.now());
    const toPostgres = status.directions[0]!;
    assert.ok(toPostgres.outboxBacklog >= 0);
    assert.ok(toPostgres.endToEndLagSamples >= 4, 'every applied event of this file is a sample');
    assert.ok(toPostgres.endToEndLagP50Seconds !== null && toPostgres.endToEndLagP50Seconds > 0);
    assert.ok(toPostgres.endToEndLagP99Seconds! >= toPostgres.endToEndLagP50Seconds);
    assert.ok(toPostgres.lastAppliedAt && Date.parse(toPostgres.lastAppliedAt) <= Date.now());
    const toMysql = status.directions[1]!;
    assert.equal(toMysql.endToEndLagSamples, 0, 'nothing was written in PostgreSQL');
    assert.equal(toMysql.endToEndLagP50Seconds, null);
  });

  it('syncConflicts lists the conflicts of both stores, newest first, with a bounded limit', async () => {
    const record = (store: StoreName, employeId: number, detectedAt: string) =>
      api.running.stores[store].db
        .insertInto('sync_conflicts')
        .values({
          employe_id: employeId,
          kind: 'update',
          outcome: 'local-kept',
          policy: 'newer-wins',
          local_version: '200',
          local_origin: store,
          incoming_version: '100',
          incoming_origin: store === 'mysql' ? 'postgres' : 'mysql',
          incoming_row: JSON.stringify({ id: employeId }),
          event_id: '00000000-0000-4000-8000-00000000000' + String(employeId),
          detected_at: detectedAt,
        })
        .execute();
    await record('mysql', 1, '2026-01-01 10:00:00.000001');
    await record('postgres', 2, '2026-01-01 11:00:00');
    await record('mysql', 3, '2026-01-01 12:00:00');
    const { data, errors } = await api.gql<{ syncConflicts: Record<string, unknown>[] }>(
      `{ syncConflicts { store employeId kind outcome policy localVersion incomingVersion localOrigin incomingOrigin detectedAt } }`,
    );
    assert.equal(errors, undefined, JSON.stringify(errors));
    assert.deepEqual(
      data!.syncConflicts.map((c) => [c.store, c.employeId]),
      [
        ['mysql', 3],
        ['postgres', 2],
        ['mysql', 1],
      ],
    );
    assert.deepEqual(data!.syncConflicts[1], {
      store: 'postgres',
      employeId: 2,
      kind: 'update',
      outcome: 'local-kept',
      policy: 'newer-wins',
      localVersion: '200',
      incomingVersion: '100',
      localOrigin: 'postgres',
      incomingOrigin: 'mysql',
      detectedAt: '2026-01-01T11:00:00.000000Z',
    });
    const two = await api.gql<{ syncConflicts: { employeId: number }[] }>(
      `{ syncConflicts(limit: 2) { employeId } }`,
    );
    assert.deepEqual(
      two.data!.syncConflicts.map((c) => c.employeId),
      [3, 2],
    );
    const tooMany = await api.gql(`{ syncConflicts(limit: 501) { employeId } }`);
    assert.equal(tooMany.errors?.[0]?.extensions?.field, 'limit');
  });

  it('syncStatus.snapshots follows a full resync from its request to its end', async () => {
    const { data: count } = await api.gql<{ employes: unknown[] }>(`{ employes { id } }`);
    const rows = count!.employes.length;
    const started = await api.gql<{ syncEmployes: string }>(`mutation { syncEmployes }`);
    assert.equal(started.errors, undefined, JSON.stringify(started.errors));
    const query = `{ syncStatus { snapshots { source run table done published total lastId startedAt updatedAt rowsPerSecond etaSeconds } } }`;
    interface Snapshot {
      source: string;
      run: string;
      table: string;
      done: boolean;
      published: number;
      total: number | null;
      lastId: number | null;
      startedAt: string;
      etaSeconds: number | null;
    }
    const finished = await waitFor('the resync snapshot to end', async () => {
      const { data, errors } = await api.gql<{ syncStatus: { snapshots: Snapshot[] } }>(query);
      assert.equal(errors, undefined, JSON.stringify(errors));
      const run = data!.syncStatus.snapshots.find((s) => s.run === 'resync:employes');
      return run?.done ? run : null;
    });
    assert.equal(finished.source, 'mysql');
    assert.equal(finished.table, 'employes');
    assert.equal(finished.total, rows);
    assert.equal(finished.published, rows, 'every row read and published once');
    assert.equal(finished.etaSeconds, 0);
    assert.ok(Date.parse(finished.startedAt) > 0);
  });
});

describe('histogramQuantile', () => {
  it('interpolates inside the bucket like Prometheus histogram_quantile', () => {
    const buckets = [
      { le: 0.1, count: 50 },
      { le: 0.5, count: 90 },
      { le: 1, count: 100 },
      { le: Infinity, count: 100 },
    ];
    assert.equal(histogramQuantile(0.5, buckets), 0.1);
    assert.ok(Math.abs(histogramQuantile(0.7, buckets)! - 0.3) < 1e-9);
    assert.ok(Math.abs(histogramQuantile(0.99, buckets)! - 0.95) < 1e-9);
    assert.equal(
      histogramQuantile(0.5, [
        { le: 0.1, count: 0 },
        { le: Infinity, count: 0 },
      ]),
      null,
    );
    assert.equal(
      histogramQuantile(0.99, [
        { le: 0.1, count: 1 },
        { le: Infinity, count: 10 },
      ]),
      0.1,
      '+Inf answers the highest bound',
    );
  });
});
