// Access control over HTTP against the real `all` role: API keys, HS256 JWTs and JWTs signed by a key
// of a JWKS URL (served here by a small local server), the roles reader < writer < admin, and the start-up
// rules (production refuses to serve the API without credentials; auth off warns on every start).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { pino } from 'pino';
import { createAuthenticator, roleOfClaims } from '../../src/api/authentication.ts';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import { loadConfig } from '../../src/config.ts';
import { isEmpsyncError } from '../../src/errors.ts';
import { startRole } from '../../src/roles/roles.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';
import { employeInput, startApi, type RunningApi } from './api-client.ts';

const keys = {
  reader: 'reader-key-0123456789abcdef',
  writer: 'writer-key-0123456789abcdef',
  admin: 'admin-key-0123456789abcdef',
};
const jwtSecret = 'an-hs256-secret-of-at-least-32-characters!';
const issuer = 'https://issuer.example.test';

let jwksServer: Server;
let jwksUrl: string;
let privateKey: CryptoKey;
let api: RunningApi;
let config: ReturnType<typeof testConfig>;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const create = `mutation ($input: EmployeInput!, $wait: Boolean) { createEmploye(input: $input, waitForSync: $wait) { id } }`;

async function hs256(claims: JWTPayload, options: { secret?: string; expiresIn?: string; issuer?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(options.issuer ?? issuer)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(new TextEncoder().encode(options.secret ?? jwtSecret));
}

async function rs256(claims: JWTPayload) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuer(issuer)
    .setExpirationTime('5m')
    .sign(privateKey);
}

describe('GraphQL API access control', () => {
  before(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    config = testConfig('api_access_control', {
      AUTH_API_KEYS: `${keys.reader}:reader, ${keys.writer}:writer, ${keys.admin}:admin`,
      AUTH_JWT_SECRET: jwtSecret,
      AUTH_JWKS_URL: jwksUrl,
      AUTH_JWT_ISSUER: issuer,
    });
    api = await startApi(config);
    const seeded = await api.gql(create, { input: employeInput({ email: 'seed@example.fr' }), wait: true }, bearer(keys.writer));
    assert.equal(seeded.errors, undefined);
  });
  after(async () => {
    await api?.running.stop();
    await dropTestDatabases(config);
    jwksServer?.close();
  });

  it('lets anonymous callers read employees without the salary', async () => {
    const { status, errors } = await api.gql(`{ employes { id nom department } statsEmployes }`);
    assert.equal(status, 200);
    assert.equal(errors, undefined);
  });

  it('refuses the salary to anonymous callers with UNAUTHENTICATED (401) and serves it to a reader', async () => {
    const anonymous = await api.gql(`{ employes(limit: 1) { id salaire } }`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    assert.equal(anonymous.errors?.[0]?.extensions?.http, undefined, 'the http extension stays internal');
    const filtered = await api.gql(`{ employes(filter: { salaireMin: 1000 }) { id } }`);
    assert.equal(filtered.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'filtering by salary reveals it');
    const reader = await api.gql(`{ employes(limit: 1) { id salaire salaireExact } }`, undefined, { 'x-api-key': keys.reader });
    assert.equal(reader.status, 200);
    assert.equal(reader.errors, undefined);
  });

  it('refuses writes to anonymous callers (401) and to readers (FORBIDDEN, 403); a writer writes', async () => {
    const before = await api.running.stores.mysql.employees.count();
    const anonymous = await api.gql(create, { input: employeInput() });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    const reader = await api.gql(create, { input: employeInput() }, bearer(keys.reader));
    assert.equal(reader.status, 403);
    assert.equal(reader.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    assert.equal(await api.running.stores.mysql.employees.count(), before, 'nothing written');
    const writer = await api.gql<{ createEmploye: { id: number } }>(create, { input: employeInput() }, bearer(keys.writer));
    assert.equal(writer.errors, undefined);
    assert.ok(writer.data!.createEmploye.id > 0);
  });

  it('keeps syncEmployes to admins and healthCheck to readers', async () => {
    const writer = await api.gql(`mutation { syncEmployes }`, undefined, bearer(keys.writer));
    assert.equal(writer.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const admin = await api.gql<{ syncEmployes: string }>(`mutation { syncEmployes }`, undefined, bearer(keys.admin));
    assert.equal(admin.errors, undefined);
    assert.match(admin.data!.syncEmployes, /re-published/);
    assert.equal((await api.gql(`mutation { healthCheck }`)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    assert.equal((await api.gql(`mutation { healthCheck }`, undefined, bearer(keys.reader))).errors, undefined);
  });

  it('keeps dead letters and their replay to admins', async () => {
    for (const key of [keys.reader, keys.writer]) {
      const list = await api.gql(`{ deadLetters { id payload } }`, undefined, bearer(key));
      assert.equal(list.errors?.[0]?.extensions?.code, 'FORBIDDEN');
      const replay = await api.gql(`mutation { replayDeadLetters(all: true) { id } }`, undefined, bearer(key));
      assert.equal(replay.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    }
    const admin = await api.gql<{ deadLetters: unknown[] }>(`{ deadLetters { id } }`, undefined, bearer(keys.admin));
    assert.deepEqual(admin, { status: 200, data: { deadLetters: [] } });
    const unknown = await api.gql(`mutation { replayDeadLetters(ids: ["mysql:424242"]) { id } }`, undefined, bearer(keys.admin));
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    const malformed = await api.gql(`mutation { replayDeadLetters(ids: ["42"]) { id } }`, undefined, bearer(keys.admin));
    assert.equal(malformed.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const neither = await api.gql(`mutation { replayDeadLetters { id } }`, undefined, bearer(keys.admin));
    assert.equal(neither.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  });

  it('answers UNAUTHENTICATED (401) for an unknown key or a malformed header, even on public fields', async () => {
    for (const headers of [{ 'x-api-key': 'not-a-known-key-at-all' }, bearer('nope'), { authorization: 'Basic abc' }]) {
      const { status, errors } = await api.gql(`{ statsEmployes }`, undefined, headers);
      assert.equal(status, 401, JSON.stringify(headers));
      assert.equal(errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    }
  });

  it('accepts HS256 tokens with a role claim, and refuses expired, forged or foreign-issuer ones', async () => {
    const writer = await api.gql(create, { input: employeInput({ email: 'jwt.writer@example.fr' }) }, bearer(await hs256({ role: 'writer' })));
    assert.equal(writer.errors, undefined);
    const expired = await api.gql(`{ statsEmployes }`, undefined, bearer(await hs256({ role: 'admin' }, { expiresIn: '-1m' })));
    assert.equal(expired.status, 401);
    assert.equal(expired.errors?.[0]?.extensions?.reason, 'ERR_JWT_EXPIRED');
    const forged = await api.gql(`{ statsEmployes }`, undefined, bearer(await hs256({ role: 'admin' }, { secret: `${jwtSecret}-forged` })));
    assert.equal(forged.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    const foreign = await api.gql(`{ statsEmployes }`, undefined, bearer(await hs256({ role: 'admin' }, { issuer: 'https://evil.test' })));
    assert.equal(foreign.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    const noRole = await api.gql(create, { input: employeInput({ email: 'norole@example.fr' }) }, bearer(await hs256({ sub: 'someone' })));
    assert.equal(noRole.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });

  it('accepts tokens signed by a key of the JWKS URL, with the highest known role of `roles`', async () => {
    const token = await rs256({ sub: 'svc', roles: ['unknown', 'reader'] });
    const read = await api.gql(`{ employes(limit: 1) { salaire } }`, undefined, bearer(token));
    assert.equal(read.errors, undefined);
    const write = await api.gql(create, { input: employeInput({ email: 'jwks@example.fr' }) }, bearer(token));
    assert.equal(write.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const admin = await api.gql(`mutation { syncEmployes }`, undefined, bearer(await rs256({ roles: ['admin'] })));
    assert.equal(admin.errors, undefined);
  });
});

describe('access control start-up rules', () => {
  it('refuses to serve the API in production without credentials, naming the variable', async () => {
    const production = testConfig('api_no_credentials', { NODE_ENV: 'production' });
    await assert.rejects(
      startRole('api', { config: production, logger: quietLogger(production), createGraphqlHandler }),
      (error) => isEmpsyncError(error, 'EMPSYNC_CONFIG_INVALID') && /AUTH_API_KEYS/.test(error.message) && error.details['variable'] === 'AUTH_API_KEYS',
    );
    await dropTestDatabases(production);
  });

  it('warns on every start while authentication is off', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    for (let start = 0; start < 2; start++) {
      const authenticator = createAuthenticator(loadConfig({ NODE_ENV: 'development' }), logger);
      assert.equal(authenticator.enabled, false);
    }
    const warnings = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((l) => l.level === 40);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!.msg, /authentication is OFF/);
  });

  it('validates AUTH_* variables at start-up', () => {
    for (const [variable, value] of [
      ['AUTH_API_KEYS', 'short:reader'],
      ['AUTH_API_KEYS', 'a-long-enough-key-123:superuser'],
      ['AUTH_JWT_SECRET', 'too-short'],
      ['AUTH_JWKS_URL', 'ftp://keys.example'],
    ] as const) {
      assert.throws(
        () => loadConfig({ [variable]: value }),
        (error) => isEmpsyncError(error, 'EMPSYNC_CONFIG_INVALID') && error.message.startsWith(`invalid ${variable}`),
      );
    }
    assert.deepEqual(loadConfig({ AUTH_API_KEYS: 'a-long-enough-key-123:writer' }).AUTH_API_KEYS, [
      { key: 'a-long-enough-key-123', role: 'writer' },
    ]);
  });

  it('takes the highest known role of the role and roles claims', () => {
    assert.equal(roleOfClaims({ role: 'writer', roles: ['reader'] }), 'writer');
    assert.equal(roleOfClaims({ roles: ['admin', 'reader'] }), 'admin');
    assert.equal(roleOfClaims({ roles: 'reader' }), 'reader');
    assert.equal(roleOfClaims({ role: 'root' }), null);
  });
});
