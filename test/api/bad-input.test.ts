// Bad input never reaches MySQL: each invalid write answers a stable code and leaves the row count as
// it was; oversized or abusive documents and cross-site style requests are refused before execution.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';
import { employeInput, startApi, type RunningApi } from './api-client.ts';

const config = testConfig('api_bad_input');
let api: RunningApi;

const create = `mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }`;
const update = `mutation ($id: Int!, $input: EmployeInput!) { updateEmploye(id: $id, input: $input) { id } }`;

async function assertRejected(
  query: string,
  variables: Record<string, unknown>,
  expected: { code: string; field?: string },
): Promise<void> {
  const before = await api.running.stores.mysql.employees.count();
  const { errors } = await api.gql(query, variables);
  assert.equal(errors?.length, 1, `one error for ${JSON.stringify(variables).slice(0, 80)}`);
  assert.equal(errors[0]!.extensions?.code, expected.code, errors[0]!.message);
  if (expected.field) assert.equal(errors[0]!.extensions?.field, expected.field);
  assert.equal(await api.running.stores.mysql.employees.count(), before, 'MySQL row count unchanged');
}

describe('GraphQL API: bad input and abusive requests', () => {
  let existingId: number;

  before(async () => {
    api = await startApi(config);
    const { data } = await api.gql<{ createEmploye: { id: number } }>(create, { input: employeInput() });
    existingId = data!.createEmploye.id;
    await api.gql(create, { input: employeInput({ email: 'other@example.fr' }) });
  });
  after(async () => {
    await api?.running.stop();
    await dropTestDatabases(config);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['a negative salary', { salaire: -1 }, 'salaire'],
    ['a salary over DECIMAL(10,2)', { salaire: 100_000_000 }, 'salaire'],
    ['a salary with three decimals', { salaire: 10.005 }, 'salaire'],
    ['a 10 KB name', { nom: 'x'.repeat(10 * 1024) }, 'nom'],
    ['a NUL byte', { prenom: 'Jean\u0000' }, 'prenom'],
    ['another control character', { poste: 'Dev\u001b[31m' }, 'poste'],
    ['an empty department', { department: '   ' }, 'department'],
    ['an invalid email', { email: 'not-an-email' }, 'email'],
    ['an email longer than its column', { email: `${'a'.repeat(250)}@example.fr` }, 'email'],
  ];
  for (const [what, overrides, field] of invalid) {
    it(`createEmploye refuses ${what} with BAD_USER_INPUT`, async () => {
      await assertRejected(
        create,
        { input: employeInput({ email: 'new@example.fr', ...overrides }) },
        {
          code: 'BAD_USER_INPUT',
          field,
        },
      );
    });
  }

  it('updateEmploye validates before writing', async () => {
    await assertRejected(
      update,
      { id: existingId, input: employeInput({ salaire: -5 }) },
      {
        code: 'BAD_USER_INPUT',
        field: 'salaire',
      },
    );
    const row = await api.running.stores.mysql.employees.find(existingId);
    assert.equal(row?.salaire, '1234.50');
  });

  it('a duplicate email answers CONFLICT on create and on update', async () => {
    await assertRejected(create, { input: employeInput() }, { code: 'CONFLICT', field: 'email' });
    await assertRejected(
      update,
      { id: existingId, input: employeInput({ email: 'other@example.fr' }) },
      {
        code: 'CONFLICT',
        field: 'email',
      },
    );
  });

  it('a variable of the wrong type is refused before execution with BAD_USER_INPUT', async () => {
    const { errors } = await api.gql(create, { input: employeInput({ salaire: 'beaucoup' }) });
    assert.equal(errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(errors[0]!.message, /salaire/);
  });

  it('refuses a query 50 levels deep (max depth 10)', async () => {
    const deep = `{ employes { ${'syncState { '.repeat(48)}version${' }'.repeat(48)} } }`;
    const { errors } = await api.gql(deep);
    const depthError = errors?.find((error) => /depth limit/i.test(error.message));
    assert.ok(depthError, JSON.stringify(errors).slice(0, 300));
    assert.equal(depthError.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.equal(
      (await api.gql(`{ employes { syncState { version } } }`)).errors,
      undefined,
      'a shallow query runs',
    );
  });

  it('refuses a document over 1000 tokens', async () => {
    const { errors } = await api.gql(`{ employes { ${'id '.repeat(1200)}} }`);
    assert.match(errors?.[0]?.message ?? '', /token limit/i);
    assert.equal(errors?.[0]?.extensions?.code, 'GRAPHQL_PARSE_FAILED');
  });

  it('refuses 1000 aliases', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: statsEmployes`).join(' ');
    const { errors } = await api.gql(`{ ${aliases} }`);
    assert.ok(errors?.length, 'rejected');
    assert.match(errors[0]!.message, /limit/i);
    const twenty = Array.from({ length: 20 }, (_, i) => `a${i}: statsEmployes`).join(' ');
    const { errors: aliasErrors } = await api.gql(`{ ${twenty} }`);
    assert.match(aliasErrors?.[0]?.message ?? '', /alias/i);
    assert.equal(aliasErrors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses a mutation sent with GET', async () => {
    const before = await api.running.stores.mysql.employees.count();
    const query = `mutation { createEmploye(input: { nom: "a", prenom: "b", email: "get@example.fr", poste: "p", salaire: 1, department: "IT" }) { id } }`;
    const response = await fetch(`${api.url}?query=${encodeURIComponent(query)}`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(response.status, 405);
    assert.equal(await api.running.stores.mysql.employees.count(), before);
  });

  it('refuses a cross-site style POST (form content type) before parsing', async () => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `query=${encodeURIComponent('mutation { deleteEmploye(id: 1) }')}`,
    });
    assert.equal(response.status, 415);
    assert.ok(await api.running.stores.mysql.employees.find(existingId));
  });

  it('refuses a body over 1 MB with 413, declared or chunked', async () => {
    const big = JSON.stringify({ query: `{ statsEmployes }`, variables: { pad: 'x'.repeat(1024 * 1024) } });
    const declared = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    assert.equal(declared.status, 413);
    const chunked = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
  });

  it('masks nothing that is meant for the caller: errors keep their message and code', async () => {
    const { errors } = await api.gql(`{ employes(limit: 5000) { id } }`);
    assert.equal(errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal(errors?.[0]?.extensions?.field, 'limit');
  });

  it('counts refused documents as operation="invalid", never under a name the client chose', async () => {
    await api.gql(`query Attacker${Date.now()} { nope }`);
    const metrics = await (await fetch(api.url.replace('/graphql', '/metrics'))).text();
    assert.match(metrics, /graphql_requests_total\{operation="invalid",success="false"\} \d+/);
    assert.doesNotMatch(metrics, /operation="Attacker/);
  });
});
