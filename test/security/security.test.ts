// The security suite (docs/security.md): each case sends what an attacker in the user's browser or on
// the same network would, and requires the documented refusal, its code, and that nothing was written.
// Covered so far: browser origins (CORS allow-list, CSRF), tokens (exp required, bounded lifetime, SSE
// ended at expiry, production rules on issuer, audience, JWKS and placeholders), /readyz (details to
// admins only, one dependency check per interval under a flood of probes), bounded work per request
// (rows, offset, SSE streams, a rate limit), /metrics apart and its labels bounded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { SignJWT, type JWTPayload } from 'jose';
import { loadConfig } from '../../src/config.ts';
import { employeInput, startApi, type RunningApi } from '../api/api-client.ts';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';
import type { AddressInfo } from 'node:net';

const keys = { writer: 'writer-key-0123456789abcdef', admin: 'admin-key-0123456789abcdef' };
const secret = 'an-hs256-secret-of-at-least-32-characters!';
const issuer = 'https://issuer.example.test';
const audience = 'empsync-api';
const allowedOrigin = 'https://app.example.test';
const config = testConfig('security', {
  AUTH_API_KEYS: `${keys.writer}:writer, ${keys.admin}:admin`,
  AUTH_JWT_SECRET: secret,
  AUTH_JWT_ISSUER: issuer,
  AUTH_JWT_AUDIENCE: audience,
  CORS_ORIGINS: allowedOrigin,
  READYZ_CACHE_MS: '2000',
});
let api: RunningApi;

const create = 'mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }';
const count = () => api.running.stores.mysql.employees.count();

function token(claims: JWTPayload, expiresIn: string | null) {
  const jwt = new SignJWT({ role: 'writer', ...claims }).setProtectedHeader({ alg: 'HS256' }).setIssuer(issuer).setAudience(audience).setIssuedAt();
  return (expiresIn === null ? jwt : jwt.setExpirationTime(expiresIn)).sign(new TextEncoder().encode(secret));
}

describe('security: browser origins', () => {
  before(async () => {
    api = await startApi(config);
  });
  after(async () => {
    await api?.running.stop();
    await dropTestDatabases(config);
  });

  it('answers a preflight from another origin without any CORS grant, and one from the allowed origin with it', async () => {
    const preflight = (origin: string) =>
      fetch(api.url, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-api-key' },
      });
    const evil = await preflight('https://evil.example');
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    assert.equal(evil.headers.get('access-control-allow-credentials'), null);
    const allowed = await preflight(allowedOrigin);
    assert.equal(allowed.headers.get('access-control-allow-origin'), allowedOrigin);
    assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true');
  });

  it('gives a page of another origin no readable answer, and a form-style cross-site POST writes nothing', async () => {
    const before = await count();
    const read = await fetch(api.url, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json', 'x-api-key': keys.admin },
      body: JSON.stringify({ query: '{ employes(limit: 1) { id salaire } }' }),
    });
    assert.equal(read.headers.get('access-control-allow-origin'), null, 'the browser keeps the answer from the page');
    // What a page can send without a preflight: a "simple" content type. Refused before parsing.
    const form = await fetch(api.url, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'text/plain', 'x-api-key': keys.writer },
      body: JSON.stringify({ query: create, variables: { input: employeInput({ email: 'csrf@example.fr' }) } }),
    });
    assert.equal(form.status, 415);
    assert.equal(((await form.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(await count(), before, 'nothing written');
  });

  it('refuses a JWT without exp, and one valid for longer than AUTH_JWT_MAX_TTL_SECONDS, writing nothing', async () => {
    const before = await count();
    for (const [jwt, code] of [
      [await token({}, null), 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
      [await token({}, '2d'), 'TOKEN_TOO_LONG_LIVED'],
    ] as const) {
      const response = await api.gql(create, { input: employeInput({ email: `${code}@example.fr` }) }, { authorization: `Bearer ${jwt}` });
      assert.equal(response.status, 401, code);
      assert.equal(response.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
      assert.equal((response.errors?.[0]?.extensions as { reason?: string } | undefined)?.reason, code);
    }
    const good = await api.gql(create, { input: employeInput({ email: 'jwt.ok@example.fr' }) }, { authorization: `Bearer ${await token({}, '5m')}` });
    assert.equal(good.errors, undefined, 'a token with a bounded exp is taken');
    assert.equal(await count(), before + 1);
  });

  it('ends an SSE subscription when its token expires', async () => {
    const jwt = await token({ role: 'reader' }, '3s');
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${jwt}` },
      body: JSON.stringify({ query: 'subscription { employeChanged { op } }' }),
    });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const started = Date.now();
    for (;;) {
      const { done } = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the stream outlived its token by 15 s')), 18_000)),
      ]);
      if (done) break;
    }
    assert.ok(Date.now() - started >= 1500, 'it lived until the token expired');
  });

  it('/readyz tells anonymous callers ready or not, and only an admin why; a flood of probes checks once', async () => {
    const base = api.url.replace('/graphql', '');
    const anonymous = (await (await fetch(`${base}/readyz`)).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(anonymous).sort(), ['ready', 'status']);
    const writer = (await (await fetch(`${base}/readyz`, { headers: { 'x-api-key': keys.writer } })).json()) as Record<string, unknown>;
    assert.equal(writer['dependencies'], undefined, 'a writer is not an admin');
    const admin = (await (await fetch(`${base}/readyz`, { headers: { 'x-api-key': keys.admin } })).json()) as { dependencies?: Record<string, unknown> };
    assert.deepEqual(Object.keys(admin.dependencies ?? {}).sort(), ['kafka', 'mysql', 'postgres']);

    const checks = async () => (await api.running.metrics.readinessChecks.get()).values[0]?.value ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const before = await checks();
    const flood = await Promise.all(Array.from({ length: 50 }, () => fetch(`${base}/readyz`).then((r) => r.status)));
    assert.ok(flood.every((status) => status === 200));
    assert.equal((await checks()) - before, 1, '50 concurrent probes, one dependency check');
  });
});

describe('security: production settings refused at start-up, one line naming the variable', () => {
  const production = {
    NODE_ENV: 'production',
    AUTH_API_KEYS: `${keys.admin}:admin`,
  };
  const refused = (env: Record<string, string>, variable: string) => {
    assert.throws(() => loadConfig({ ...production, ...env }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'EMPSYNC_CONFIG_INVALID');
      assert.match(error.message, new RegExp(`^invalid ${variable}: `));
      return true;
    });
  };

  it('JWT on without an issuer or an audience', () => {
    refused({ AUTH_JWT_SECRET: secret }, 'AUTH_JWT_ISSUER');
    refused({ AUTH_JWT_SECRET: secret, AUTH_JWT_ISSUER: issuer }, 'AUTH_JWT_AUDIENCE');
    assert.doesNotThrow(() => loadConfig({ ...production, AUTH_JWT_SECRET: secret, AUTH_JWT_ISSUER: issuer, AUTH_JWT_AUDIENCE: audience }));
  });

  it('a JWKS over plain HTTP (allowed to a loopback address outside production only)', () => {
    refused({ AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json', AUTH_JWT_ISSUER: issuer, AUTH_JWT_AUDIENCE: audience }, 'AUTH_JWKS_URL');
    assert.throws(() => loadConfig({ AUTH_JWKS_URL: 'http://idp.example/jwks.json' }), /invalid AUTH_JWKS_URL/);
    assert.doesNotThrow(() => loadConfig({ AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json' }));
  });

  it('placeholder secrets and keys', () => {
    refused({ AUTH_API_KEYS: 'change-me-admin-key-00001:admin' }, 'AUTH_API_KEYS');
    refused({ AUTH_JWT_SECRET: 'change-me-change-me-change-me-change-me', AUTH_JWT_ISSUER: issuer, AUTH_JWT_AUDIENCE: audience }, 'AUTH_JWT_SECRET');
    assert.doesNotThrow(() => loadConfig({ AUTH_API_KEYS: 'change-me-admin-key-00001:admin' }), 'development takes them');
  });

  it('SASL to Kafka without its credentials, and PLAIN without TLS', () => {
    assert.throws(() => loadConfig({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' }), /^EmpsyncError: invalid KAFKA_SASL_USERNAME|invalid KAFKA_SASL_USERNAME/);
    assert.throws(() => loadConfig({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'u' }), /invalid KAFKA_SASL_PASSWORD/);
    refused({ KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_TLS');
    assert.doesNotThrow(() => loadConfig({ ...production, KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_TLS: 'true' }));
  });

  it('a CORS origin with a path', () => {
    assert.throws(() => loadConfig({ CORS_ORIGINS: 'https://app.example.test/page' }), /invalid CORS_ORIGINS/);
  });

  it('the command line says it in one line and exits 2', async () => {
    const child = spawn('node_modules/.bin/node', ['src/main.ts', 'api'], {
      env: { ...process.env, ...production, AUTH_JWT_SECRET: secret, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.equal(stderr.trim().split('\n').length, 1);
    assert.match(stderr, /invalid AUTH_JWT_ISSUER: is required in production when JWT is on/);
  });
});

describe('security: bounded work per request', () => {
  const bounds = testConfig('security_bounds', {
    AUTH_API_KEYS: `${keys.writer}:writer, ${keys.admin}:admin`,
    API_MAX_ROWS: '5',
    API_MAX_OFFSET: '100',
    API_MAX_QUERY_ROWS: '40',
    SSE_MAX_STREAMS_PER_CALLER: '2',
    METRICS_PORT: '0',
    METRICS_MAX_DEPARTMENTS: '3',
    METRICS_REFRESH_MS: '1',
  });
  let bounded: RunningApi;
  before(async () => {
    bounded = await startApi(bounds);
    for (let i = 0; i < 6; i++) {
      const created = await bounded.gql(create, { input: employeInput({ email: `bound${i}@example.fr`, department: `D${i % 5}` }) }, { 'x-api-key': keys.writer });
      assert.equal(created.errors, undefined);
    }
    await waitForRows(bounded, 6);
  });
  after(async () => {
    await bounded?.running.stop();
    await dropTestDatabases(bounds);
  });

  it('refuses a list without a page size past API_MAX_ROWS (TOO_MANY_ROWS), never a partial answer; pages still work', async () => {
    for (const query of ['{ employes { id } }', '{ employes(department: null) { id nom } }']) {
      const refused = await bounded.gql<{ employes: unknown[] }>(query);
      assert.equal(refused.errors?.[0]?.extensions?.code, 'TOO_MANY_ROWS', query);
      assert.equal(refused.data ?? null, null, 'no partial list');
    }
    const page = await bounded.gql<{ employes: unknown[] }>('{ employes(limit: 3, offset: 3) { id } }');
    assert.equal(page.errors, undefined);
    assert.equal(page.data!.employes.length, 3);
    const offset = await bounded.gql('{ employes(limit: 1, offset: 101) { id } }');
    assert.equal(offset.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  });

  it('counts the rows a request may read, aliases, fragments and per-row reads included (COST_LIMIT_EXCEEDED), before anything runs', async () => {
    const aliases = Array.from({ length: 15 }, (_, i) => `a${i}: employes { id syncState { version } }`).join(' ');
    for (const query of [`{ ${aliases} }`, `{ ...F } fragment F on Query { ${aliases} }`]) {
      const refused = await bounded.gql(query);
      assert.equal(refused.errors?.[0]?.extensions?.code, 'COST_LIMIT_EXCEEDED', query.slice(0, 40));
      assert.equal(refused.data ?? null, null);
    }
    // 5 rows × (1 + a syncState read each) = 10 rows: under the limit of 40.
    const one = await bounded.gql('{ employes(limit: 5) { id syncState { version } } }');
    assert.equal(one.errors, undefined, JSON.stringify(one.errors));
    const sized = await bounded.gql('query ($n: Int) { a: employes(limit: $n) { id } b: employes(limit: $n) { id } }', { n: 3 });
    assert.equal(sized.errors, undefined, 'page sizes given as variables are counted as given');
  });

  it('caps the SSE streams of one caller (TOO_MANY_STREAMS) and frees a slot when one closes', async () => {
    const open = () =>
      fetch(bounded.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-api-key': keys.writer },
        body: JSON.stringify({ query: 'subscription { employeChanged { op } }' }),
      });
    const first = await open();
    const second = await open();
    const third = await open();
    const text = await third.text();
    assert.match(text, /TOO_MANY_STREAMS/);
    await first.body!.cancel();
    // The slot comes back once the server sees the first stream closed.
    let fourth: Response | undefined;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const attempt = await open();
      const reader = attempt.body!.getReader();
      const chunk = await Promise.race([reader.read(), new Promise<null>((resolve) => setTimeout(() => resolve(null), 300))]);
      const seen = chunk && !chunk.done ? new TextDecoder().decode(chunk.value) : '';
      if (!/TOO_MANY_STREAMS/.test(seen)) {
        fourth = attempt;
        await reader.cancel();
        break;
      }
      await reader.cancel();
    }
    assert.ok(fourth, 'a closed stream frees its slot');
    await second.body!.cancel();
  });

  it('serves /metrics on METRICS_PORT only, with at most METRICS_MAX_DEPARTMENTS department labels', async () => {
    const base = bounded.url.replace('/graphql', '');
    assert.equal((await fetch(`${base}/metrics`)).status, 404, 'not on the API port');
    const { port } = bounded.running.metricsServer!.address() as AddressInfo;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const departments = [...text.matchAll(/^employees_by_department\{department="([^"]*)"\} (\d+)/gm)].map((m) => [m[1], Number(m[2])] as const);
    assert.equal(departments.length, 3);
    assert.ok(departments.some(([name]) => name === '(other)'));
    assert.equal(departments.reduce((sum, [, n]) => sum + n, 0), 6, 'every employee counted once');
  });
});

describe('security: a rate limit per caller', () => {
  const limited = testConfig('security_rate', { AUTH_API_KEYS: `${keys.writer}:writer`, API_RATE_LIMIT_PER_SECOND: '5' });
  let api5: RunningApi;
  before(async () => {
    api5 = await startApi(limited);
  });
  after(async () => {
    await api5?.running.stop();
    await dropTestDatabases(limited);
  });

  it('answers 429 RATE_LIMITED with Retry-After past the limit, and a refused mutation writes nothing', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a fresh window
    const before = await api5.running.stores.mysql.employees.count();
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(api5.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': keys.writer },
          body: JSON.stringify({ query: create, variables: { input: employeInput({ email: `rate${i}@example.fr` }) } }),
        }),
      ),
    );
    const refused = responses.filter((r) => r.status === 429);
    assert.ok(refused.length >= 6, `${refused.length} refused of 12`);
    for (const response of refused) {
      assert.ok(Number(response.headers.get('retry-after')) >= 1);
      assert.equal(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, 'RATE_LIMITED');
    }
    const accepted = responses.length - refused.length;
    assert.equal(await api5.running.stores.mysql.employees.count(), before + accepted, 'only the accepted mutations wrote');
  });
});

async function waitForRows(target: RunningApi, rows: number) {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    if ((await target.running.stores.postgres.employees.count()) >= rows) return;
  }
  throw new Error(`the read model did not reach ${rows} rows`);
}
