// The operator fields (what /console is built on) over HTTP against the real `all` role with
// authentication on: who may read and act, syncSchema's columns per engine, syncStatusUpdates as a live
// SSE stream under the stream limits, checkDrift's rows and columns, resolveConflict's refusals.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { dropTestDatabases, testConfig, waitFor } from '../support/test-env.ts';
import { employeInput, startApi, type RunningApi } from './api-client.ts';

const keys = { reader: 'operator-reader-key-000000001', writer: 'operator-writer-key-000000001', admin: 'operator-admin-key-0000000001' };
const config = testConfig('api_operator', {
  AUTH_API_KEYS: `${keys.reader}:reader,${keys.writer}:writer,${keys.admin}:admin`,
  DRIFT_SETTLE_MS: '200',
  DRIFT_CHECK_INTERVAL_MS: '1000',
  SSE_MAX_STREAMS_PER_CALLER: '2',
});
const as = (role: keyof typeof keys) => ({ 'x-api-key': keys[role] });
let api: RunningApi;

interface StatusUpdate {
  directions: {
    direction: string;
    appliedEvents: number;
    relayActiveHere: boolean;
    sinkRunningHere: boolean;
    relayLeaseHolder: string | null;
    sinkGroupMembers: { clientId: string; host: string; partitions: string[] }[] | null;
  }[];
}

/** Opens syncStatusUpdates over SSE; `updates()` reads the next `count` payloads (or throws at the deadline). */
async function openStatusStream(headers: Record<string, string>, interval = 0.5) {
  const controller = new AbortController();
  const response = await fetch(api.url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: `subscription { syncStatusUpdates(intervalSeconds: ${interval}) { directions { direction appliedEvents relayActiveHere sinkRunningHere relayLeaseHolder sinkGroupMembers { clientId host partitions } } } }` }),
    signal: controller.signal,
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return {
    response,
    close: () => controller.abort(),
    async next(): Promise<{ data?: { syncStatusUpdates: StatusUpdate }; errors?: { extensions: { code: string } }[] }> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (data) return JSON.parse(data);
          continue;
        }
        const chunk = await reader.read();
        if (chunk.done) throw new Error('the stream ended');
        buffer += chunk.value;
      }
    },
  };
}

describe('operator fields (the console API)', () => {
  before(async () => {
    api = await startApi(config);
  });
  after(async () => {
    await api?.running.stop();
    await dropTestDatabases(config);
  });

  it('syncSchema lists every column with its type in each engine; readers only', async () => {
    const anonymous = await api.gql('{ syncSchema { table } }');
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    const { data, errors } = await api.gql<{ syncSchema: { table: string; columns: { name: string; type: string | null; mysql: { engineType: string } | null; postgres: { engineType: string } | null }[]; mismatches: unknown[] }[] }>(
      '{ syncSchema { table schemaVersion columns { name type mysql { engineType nullable } postgres { engineType nullable } } mismatches { column reason } } }',
      {},
      as('reader'),
    );
    assert.equal(errors, undefined);
    const employes = data!.syncSchema.find((t) => t.table === 'employes')!;
    const salaire = employes.columns.find((c) => c.name === 'salaire')!;
    assert.equal(salaire.type, 'decimal');
    assert.match(salaire.mysql!.engineType, /^decimal\(/);
    assert.match(salaire.postgres!.engineType, /^numeric/);
    assert.ok(employes.columns.some((c) => c.name === 'sync_version' && c.type === null), 'the sync columns are shown, as not synced');
    assert.deepEqual(employes.mismatches, []);
  });

  it('syncStatusUpdates streams the status live, counts applied events, and holds to the stream limits', async () => {
    const refused = await openStatusStream({});
    assert.equal((await refused.next()).errors?.[0]?.extensions.code, 'UNAUTHENTICATED');
    refused.close();
    const tooFast = await api.gql('subscription { syncStatusUpdates(intervalSeconds: 0.01) { dlqMessages } }', {}, { ...as('reader') });
    assert.equal(tooFast.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');

    const stream = await openStatusStream(as('reader'));
    assert.match(stream.response.headers.get('content-type') ?? '', /text\/event-stream/);
    const first = (await stream.next()).data!.syncStatusUpdates;
    const forward = () => first.directions.find((d) => d.direction === 'mysql->postgres')!;
    assert.equal(forward().relayActiveHere, true);
    assert.equal(forward().sinkRunningHere, true);
    // Who holds the lease and who consumes, as MySQL and the broker tell it.
    assert.match(forward().relayLeaseHolder ?? '', /^connection \d+/);
    const reverse = first.directions.find((d) => d.direction === 'postgres->mysql')!;
    assert.match(reverse.relayLeaseHolder ?? '', /^empsync relay .+ pid \d+ \(pid \d+/);
    const consumers = forward().sinkGroupMembers ?? [];
    assert.equal(consumers.length, 1, 'the one sink of PostgreSQL in its group');
    assert.equal(consumers[0]!.partitions.length, 3, 'holding the three partitions');
    const created = await api.gql('mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }', { input: employeInput({ email: 'live@example.fr' }) }, as('writer'));
    assert.equal(created.errors, undefined);
    const later = await waitFor(
      'an update that counts the applied change',
      async () => {
        const update = (await stream.next()).data!.syncStatusUpdates.directions.find((d) => d.direction === 'mysql->postgres')!;
        return update.appliedEvents > forward().appliedEvents ? update : null;
      },
      20_000,
    );
    assert.ok(later.appliedEvents >= forward().appliedEvents + 1);

    // A second stream is admitted, a third one for the same caller is not (SSE_MAX_STREAMS_PER_CALLER=2).
    const second = await openStatusStream(as('reader'));
    assert.ok((await second.next()).data);
    const third = await openStatusStream(as('reader'));
    assert.equal(third.response.status, 429);
    third.close();
    stream.close();
    second.close();
    // Closed streams free their slots.
    await waitFor('a slot free again', async () => {
      const again = await openStatusStream(as('reader'));
      const ok = again.response.status === 200 && (await again.next()).data !== undefined;
      again.close();
      return ok;
    });
  });

  it('checkDrift is for admins, and names the drifted row and its columns', async () => {
    const { mysql, postgres } = api.running.stores;
    const row = await mysql.employees.insert({ nom: 'Derive', prenom: 'Ada', email: 'drift.api@example.fr', poste: 'Analyste', salaire: '3000.00', department: 'Audit' });
    await waitFor('the row in PostgreSQL', () => postgres.employees.find(row.id));
    const reader = await api.gql('mutation { checkDrift { divergent } }', {}, as('reader'));
    assert.equal(reader.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    await postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`UPDATE employes SET poste = 'Behind', department = 'Elsewhere' WHERE id = ${row.id}`.execute(trx);
    });
    // The scheduled pass (every second here) records the row and its columns for every reader.
    const scheduled = await waitFor('a scheduled pass naming the drifted row', async () => {
      const { data } = await api.gql<{ syncStatus: { drift: { divergences: { id: number; kind: string; columns: string[] }[] } | null } }>(
        '{ syncStatus { drift { divergences { id kind columns } } } }',
        {},
        as('reader'),
      );
      return data?.syncStatus.drift?.divergences.find((d) => d.id === row.id);
    });
    assert.deepEqual([scheduled.kind, [...scheduled.columns].sort()], ['content', ['department', 'poste']]);
    assert.deepEqual((await postgres.reconcile.readDrift())?.divergences?.map((d) => d.id), [row.id], 'recorded in PostgreSQL for an api-only process');
    const { data, errors } = await api.gql<{ checkDrift: { divergent: number; divergences: { id: number; kind: string; columns: string[]; repair: string }[] } }>(
      'mutation { checkDrift { divergent divergences { id kind columns repair source } } }',
      {},
      as('admin'),
    );
    assert.equal(errors, undefined);
    assert.equal(data!.checkDrift.divergent, 1);
    assert.deepEqual(data!.checkDrift.divergences.map((d) => [d.id, d.kind, [...d.columns].sort(), d.repair]), [[row.id, 'content', ['department', 'poste'], 'restamp']]);
    const repaired = await api.gql<{ checkDrift: { repaired: number; unrepaired: number } }>('mutation { checkDrift(repair: true) { repaired unrepaired } }', {}, as('admin'));
    assert.deepEqual(repaired.data?.checkDrift, { repaired: 1, unrepaired: 0 });
    assert.equal((await postgres.employees.find(row.id))?.poste, 'Analyste');
  });

  it('resolveConflict is for admins; an unknown store or row is refused with its code and nothing written', async () => {
    const overrides = async () => [...(await api.running.stores.mysql.conflicts.list(50)), ...(await api.running.stores.postgres.conflicts.list(50))].filter((c) => c.outcome === 'operator-override').length;
    const before = await overrides();
    const writer = await api.gql('mutation { resolveConflict(employeId: 1, keep: "mysql") { version } }', {}, as('writer'));
    assert.equal(writer.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const store = await api.gql('mutation { resolveConflict(employeId: 1, keep: "oracle") { version } }', {}, as('admin'));
    assert.equal(store.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const missing = await api.gql('mutation { resolveConflict(employeId: 987654, keep: "postgres") { version } }', {}, as('admin'));
    assert.equal(missing.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    assert.equal(await overrides(), before);
  });
});
