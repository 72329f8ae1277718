// syncStatus (and the console's overview) served by an `api` process that runs no sink, as in Compose:
// with PROMETHEUS_URL, throughput, end-to-end lag, consumer lag and the last apply are every sink's, read
// from a real Prometheus scraping the pipeline's process; when Prometheus does not answer, the API falls
// back on its own (empty) figures and says so.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { LocalPrometheus } from '../monitoring/local-prometheus.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('api_status_prometheus', { BACKFILL_ON_START: 'false', DRIFT_CHECK_INTERVAL_MS: '0' });
let pipeline: RunningRole;
let api: RunningRole | undefined;
let prometheus: LocalPrometheus;

interface Direction {
  direction: string;
  figuresFrom: string;
  throughputPerSecond: number | null;
  endToEndLagP50Seconds: number | null;
  endToEndLagP99Seconds: number | null;
  endToEndLagSamples: number;
  consumerLag: number | null;
  lastAppliedAt: string | null;
  appliedEvents: number;
}

async function directions(role: RunningRole): Promise<Direction[]> {
  const response = await fetch(`http://127.0.0.1:${(role.server!.address() as AddressInfo).port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `{ syncStatus { directions { direction figuresFrom throughputPerSecond endToEndLagP50Seconds endToEndLagP99Seconds endToEndLagSamples consumerLag lastAppliedAt appliedEvents } } }`,
    }),
  });
  const body = (await response.json()) as { data: { syncStatus: { directions: Direction[] } }; errors?: unknown };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data.syncStatus.directions;
}

describe('syncStatus of an api-only process, from Prometheus', () => {
  before(async () => {
    await dropTestDatabases(config);
    pipeline = await startRole('all', { config, logger: quietLogger(config), createGraphqlHandler });
    const address = `127.0.0.1:${(pipeline.server!.address() as AddressInfo).port}`;
    prometheus = await LocalPrometheus.start({ empsync: [address], 'kafka-jmx': [address] });
  });
  after(async () => {
    await api?.stop();
    await pipeline?.stop();
    await prometheus?.stop();
    await dropTestDatabases(config);
  });

  it('shows every sink’s throughput, lag and last apply, though its own process applies nothing', async () => {
    const apiConfig = { ...config, PROMETHEUS_URL: prometheus.base };
    api = await startRole('api', { config: apiConfig, logger: quietLogger(apiConfig), createGraphqlHandler });
    const { mysql } = pipeline.stores;
    // A steady trickle of changes for the rates to see.
    let writes = 0;
    const writer = setInterval(() => {
      void mysql.employees.insert({ nom: 'Trickle', prenom: 'Ada', email: `trickle.${writes++}@example.fr`, poste: 'Testeuse', salaire: '3000.00', department: 'QA' });
    }, 100);
    try {
      const forward = await waitFor(
        'every figure of mysql->postgres from Prometheus',
        async () => {
          const d = (await directions(api!)).find((x) => x.direction === 'mysql->postgres')!;
          return d.figuresFrom === 'prometheus' && (d.throughputPerSecond ?? 0) > 0 && d.endToEndLagP50Seconds !== null && d.lastAppliedAt !== null && d.consumerLag !== null ? d : null;
        },
        60_000,
      );
      assert.ok(forward.endToEndLagP99Seconds! >= forward.endToEndLagP50Seconds!);
      assert.ok(forward.endToEndLagSamples > 0);
      assert.equal(forward.appliedEvents, 0, 'this api process applied nothing itself');
      assert.ok(Date.now() - Date.parse(forward.lastAppliedAt!) < 60_000);
    } finally {
      clearInterval(writer);
    }
  });

  it('falls back on its own figures, and says so, when Prometheus does not answer', async () => {
    await prometheus.stop();
    await waitFor(
      'the fallback',
      async () => {
        const d = (await directions(api!)).find((x) => x.direction === 'mysql->postgres')!;
        return d.figuresFrom === 'process' && d.throughputPerSecond === null && d.lastAppliedAt === null;
      },
      20_000,
    );
  });
});
