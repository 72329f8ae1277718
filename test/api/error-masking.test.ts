// Production behaviour of the API role: no introspection and no GraphiQL, and an error nobody planned
// for (here: the read model's pool is gone) reaches the caller only as "Unexpected error." with a code
// and the request id that finds its cause in the log.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { getIntrospectionQuery } from 'graphql';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';
import type { GraphqlError } from './api-client.ts';

// Production refuses to serve the API without credentials: one API key is enough here.
const config = testConfig('api_production', {
  NODE_ENV: 'production',
  AUTH_API_KEYS: 'production-test-key-0001:reader',
});
let running: RunningRole;
let url: string;

async function post(query: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { response, body: (await response.json()) as { data?: unknown; errors?: GraphqlError[] } };
}

describe('GraphQL API in production mode', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole(
      'api',
      { config, logger: quietLogger(config), createGraphqlHandler },
      [],
    );
    url = `http://127.0.0.1:${(running.server!.address() as AddressInfo).port}/graphql`;
  });
  after(async () => {
    await running?.stop();
    await dropTestDatabases(config);
  });

  it('refuses introspection', async () => {
    const { body } = await post(getIntrospectionQuery());
    assert.ok(body.errors?.some((error) => /introspection/i.test(error.message)));
    assert.equal(body.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('serves no GraphiQL page', async () => {
    const response = await fetch(url, { headers: { accept: 'text/html' } });
    assert.doesNotMatch(response.headers.get('content-type') ?? '', /text\/html/);
    await response.body?.cancel();
  });

  it('masks an unexpected error as INTERNAL_SERVER_ERROR with the request id (a table gone, say)', async () => {
    await sql`ALTER TABLE employes RENAME TO employes_away`.execute(running.stores.postgres.db);
    const { response, body } = await post(`{ employes { id } }`, { 'x-request-id': 'test-masking-1' }).finally(() =>
      sql`ALTER TABLE employes_away RENAME TO employes`.execute(running.stores.postgres.db),
    );
    assert.equal(response.headers.get('x-request-id'), 'test-masking-1');
    assert.equal(body.errors?.length, 1);
    assert.deepEqual(body.errors[0]!.message, 'Unexpected error.');
    assert.deepEqual(body.errors[0]!.extensions, {
      code: 'INTERNAL_SERVER_ERROR',
      requestId: 'test-masking-1',
    });
    const metrics = await (await fetch(url.replace('/graphql', '/metrics'))).text();
    assert.match(metrics, /graphql_requests_total\{operation="employes",success="false"\} 1/);
  });

  it('tells a database that does not answer by its code, retryable, without the driver text', async () => {
    await running.stores.postgres.close();
    const { body } = await post(`{ employes { id } }`, { 'x-request-id': 'test-masking-2' });
    assert.equal(body.errors?.length, 1);
    assert.equal(body.errors[0]!.message, 'A database is unavailable or busy: try again.');
    assert.deepEqual(body.errors[0]!.extensions, {
      code: 'EMPSYNC_DEPENDENCY_UNAVAILABLE',
      retryable: true,
      requestId: 'test-masking-2',
    });
  });
});
