// /healthz, /readyz and /metrics of every role: a missing dependency makes /readyz answer 503 and
// name it, while /healthz stays 200.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startHttpServer, stopHttpServer } from '../../src/http/http-server.ts';
import { createReadinessProbe } from '../../src/http/readiness.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { closeStores, createStores, ensureDatabases, type Stores } from '../../src/store/create-stores.ts';
import { quietLogger, testConfig } from '../support/test-env.ts';

describe('health endpoints', () => {
  let stores: Stores;
  let deadStores: Stores;
  before(async () => {
    const config = testConfig('readiness');
    await ensureDatabases(config);
    stores = createStores(config);
    // PostgreSQL on a closed port: the probe must name it, not hang.
    deadStores = createStores(testConfig('readiness', { POSTGRES_URL: 'postgres://postgres@127.0.0.1:1/x' }));
  });
  after(async () => {
    await closeStores(stores);
    await closeStores(deadStores);
  });

  async function serve(useStores: Stores, kafkaBrokers: string) {
    const config = testConfig('readiness', { KAFKA_BROKERS: kafkaBrokers });
    const metrics = createMetrics();
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      metrics,
      logger: quietLogger(config),
      readiness: createReadinessProbe(useStores, config, metrics, undefined, 1500),
    });
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, metrics };
  }

  it('answers 200 ready with all three dependencies up', async () => {
    const { server, url } = await serve(stores, process.env.KAFKA_BROKERS ?? '127.0.0.1:9092');
    try {
      const response = await fetch(`${url}/readyz`);
      const body = (await response.json()) as { ready: boolean; dependencies: Record<string, { up: boolean }> };
      assert.equal(response.status, 200);
      assert.deepEqual(Object.keys(body.dependencies).sort(), ['kafka', 'mysql', 'postgres']);
      assert.ok(Object.values(body.dependencies).every((d) => d.up));
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
    } finally {
      await stopHttpServer(server);
    }
  });

  it('answers 503 naming PostgreSQL and Kafka when they are unreachable; /healthz stays 200', async () => {
    const { server, url, metrics } = await serve(deadStores, '127.0.0.1:1');
    try {
      const response = await fetch(`${url}/readyz`);
      const body = (await response.json()) as { dependencies: Record<string, { up: boolean; error?: string }> };
      assert.equal(response.status, 503);
      assert.equal(body.dependencies.mysql?.up, true);
      assert.equal(body.dependencies.postgres?.up, false);
      assert.equal(body.dependencies.kafka?.up, false);
      assert.ok(body.dependencies.kafka?.error, 'the reason is given');
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const exposition = await (await fetch(`${url}/metrics`)).text();
      assert.match(exposition, /empsync_dependency_up\{dependency="kafka"\} 0/);
      assert.ok((await metrics.registry.getSingleMetricAsString('api_response_time_seconds')).includes('endpoint="/readyz"'));
    } finally {
      await stopHttpServer(server);
    }
  });
});
