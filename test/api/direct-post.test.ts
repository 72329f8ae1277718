// The direct path for plain JSON POSTs (src/api/direct-post.ts) must answer exactly as yoga would.
// Two API roles run side by side on the same databases, one with the direct path and one sending every
// request through yoga; the same requests go to both and the answers (status, content type, body,
// authentication challenge) must be the same. A second part checks which requests the direct path takes
// and which it hands to yoga, on a server that answers 599 for the ones it hands back.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createSchema, createYoga } from 'graphql-yoga';
import { seedReadModel } from '../../bench/api/seed-read-model.ts';
import { createDirectPost } from '../../src/api/direct-post.ts';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import { readBody } from '../../src/api/request-body.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const writerKey = 'direct-post-writer-key-0001';
const config = testConfig('api_direct_post', { AUTH_API_KEYS: `${writerKey}:writer` });

interface Exchange {
  name: string;
  body: string;
  headers?: Record<string, string>;
}

const json = (value: unknown) => JSON.stringify(value);
const asWriter = { 'x-api-key': writerKey };
const employe = 'id nom prenom email poste salaire salaireExact department dateEmbauche';
const input = { nom: 'Martin', prenom: 'Léa', email: 'lea.martin@example.fr', poste: 'Analyste', salaire: 1 };

const exchanges: Exchange[] = [
  {
    name: 'by id, no Accept',
    body: json({ query: `query($id: Int!) { employeParId(id: $id) { ${employe} } }`, variables: { id: 7 } }),
    headers: asWriter,
  },
  {
    name: 'unknown id',
    body: json({ query: `{ employeParId(id: 999999) { id } }` }),
    headers: { accept: 'application/json' },
  },
  {
    name: 'list, graphql-response+json',
    body: json({ query: `{ employes(limit: 5) { ${employe} } }` }),
    headers: { accept: 'application/graphql-response+json', ...asWriter },
  },
  {
    name: 'connection, */*',
    body: json({
      query: `{ employesConnection(first: 3, filter: { department: "IT" }) { totalCount edges { cursor node { id department } } } }`,
    }),
    headers: { accept: '*/*' },
  },
  {
    name: 'two operations, one named',
    body: json({
      query: 'query A { employes(limit: 1) { id } } query B { statsEmployes { department } }',
      operationName: 'B',
    }),
  },
  {
    name: 'two operations, none named',
    body: json({ query: 'query A { employes(limit: 1) { id } } query B { employes(limit: 2) { id } }' }),
  },
  {
    name: 'unknown field, graphql-response+json',
    body: json({ query: '{ employes { salary } }' }),
    headers: { accept: 'application/graphql-response+json' },
  },
  {
    name: 'unknown field, json',
    body: json({ query: '{ employes { salary } }' }),
    headers: { accept: 'application/json' },
  },
  { name: 'syntax error', body: json({ query: '{ employes { id }' }) },
  { name: 'too deep', body: json({ query: `{ employes ${'{ id '.repeat(12)}${'}'.repeat(12)} }` }) },
  {
    name: 'variable of the wrong type',
    body: json({ query: 'query($id: Int!) { employeParId(id: $id) { id } }', variables: { id: 'seven' } }),
  },
  {
    name: 'input field of the wrong type',
    body: json({
      query: 'mutation($i: EmployeInput!) { createEmploye(input: $i) { id } }',
      variables: { i: { ...input, salaire: 'beaucoup' } },
    }),
    headers: { 'x-api-key': writerKey },
  },
  { name: 'missing variable', body: json({ query: 'query($id: Int!) { employeParId(id: $id) { id } }' }) },
  { name: 'salary without a role', body: json({ query: '{ employes(limit: 1) { salaire } }' }) },
  {
    name: 'mutation without a role',
    body: json({
      query: 'mutation($i: EmployeInput!) { createEmploye(input: $i) { id } }',
      variables: { i: input },
    }),
  },
  {
    name: 'a key this server does not know',
    body: json({ query: '{ employes(limit: 1) { id } }' }),
    headers: { 'x-api-key': 'not-a-key-of-this-server' },
  },
  {
    name: 'mutation with a negative salary',
    body: json({
      query: 'mutation($i: EmployeInput!) { createEmploye(input: $i) { id } }',
      variables: { i: { ...input, salaire: -1 } },
    }),
    headers: { 'x-api-key': writerKey },
  },
  {
    name: 'update of an unknown id',
    body: json({ query: 'mutation { updateEmploye(id: 999999, input: { poste: "Chef" }) { id } }' }),
    headers: { 'x-api-key': writerKey },
  },
  { name: 'unexpected parameter', body: json({ query: '{ employes(limit: 1) { id } }', foo: 1 }) },
  { name: 'variables as an array', body: json({ query: '{ employes(limit: 1) { id } }', variables: [1] }) },
  { name: 'query not a string', body: json({ query: 42 }) },
  { name: 'a batch', body: json([{ query: '{ employes(limit: 1) { id } }' }]) },
  { name: 'not JSON', body: '{ "query": ' },
  {
    name: 'subscription asked for as JSON',
    body: json({ query: 'subscription { employeChanged { op } }' }),
    headers: { accept: 'application/json' },
  },
  {
    name: 'Accept that yoga cannot serve',
    body: json({ query: '{ employes(limit: 1) { id } }' }),
    headers: { accept: 'text/html' },
  },
  {
    name: 'charset in the content type',
    body: json({ query: '{ employes(limit: 2) { id } }' }),
    headers: { 'content-type': 'application/json; charset=utf-8' },
  },
];

async function exchange(url: string, { body, headers = {} }: Exchange) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'direct-post-test', ...headers },
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    challenge: response.headers.get('www-authenticate'),
    accept: response.headers.get('accept'),
    requestId: response.headers.get('x-request-id'),
    body: text.startsWith('{') ? (JSON.parse(text) as unknown) : text,
  };
}

async function startApiRole(directPost: boolean): Promise<{ running: RunningRole; url: string }> {
  const running = await startRole(
    'api',
    {
      config,
      logger: quietLogger(config),
      createGraphqlHandler: (context) => createGraphqlHandler(context, { directPost }),
    },
    undefined,
  );
  return { running, url: `http://127.0.0.1:${(running.server!.address() as AddressInfo).port}/graphql` };
}

describe('the direct path for JSON POSTs answers as yoga does', () => {
  let direct: { running: RunningRole; url: string };
  let viaYoga: { running: RunningRole; url: string };

  before(async () => {
    await dropTestDatabases(config);
    direct = await startApiRole(true);
    viaYoga = await startApiRole(false);
    await seedReadModel(config.POSTGRES_URL, 40);
  });
  after(async () => {
    await direct?.running.stop();
    await viaYoga?.running.stop();
    await dropTestDatabases(config);
  });

  for (const request of exchanges) {
    it(request.name, async () => {
      const [fromDirect, fromYoga] = [
        await exchange(direct.url, request),
        await exchange(viaYoga.url, request),
      ];
      assert.deepEqual(fromDirect, fromYoga);
    });
  }

  it('answers rows with salaries to a writer, so the comparison above compares data too', async () => {
    const { body } = await exchange(direct.url, exchanges[0]!);
    const { employeParId } = (body as { data: { employeParId: { id: number; salaireExact: string } } }).data;
    assert.equal(employeParId.id, 7);
    assert.match(employeParId.salaireExact, /^\d+\.\d{2}$/);
  });

  it('writes nothing for the refused mutations: MySQL holds no employee', async () => {
    assert.equal(await direct.running.stores.mysql.employees.count(), 0);
  });
});

describe('which requests the direct path takes', () => {
  let server: Server;
  let url: string;
  const yoga = createYoga<{ requestId: string }>({
    schema: createSchema({
      typeDefs: 'type Query { hello: String } type Subscription { ticks: Int }',
      resolvers: {
        Query: { hello: () => 'world' },
        Subscription: {
          ticks: {
            subscribe: async function* () {
              yield { ticks: 1 };
            },
          },
        },
      },
    }),
    maxRequestBodySize: false,
    logging: false,
  });
  const directPost = createDirectPost(yoga, '/graphql');

  before(async () => {
    server = createServer((req, res) => {
      void (async () => {
        const body = await readBody(req);
        if (!(await directPost.serve(req, res, body, 'test'))) res.writeHead(599).end();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const cases: [string, { path?: string; headers?: Record<string, string>; body?: string }, number][] = [
    ['a plain query', {}, 200],
    [
      'Accept application/graphql-response+json',
      { headers: { accept: 'application/graphql-response+json' } },
      200,
    ],
    ['another path', { path: '/graphql?x=1' }, 599],
    ['an Origin (CORS headers are yoga’s)', { headers: { origin: 'http://example.org' } }, 599],
    ['a GraphQL content type', { headers: { 'content-type': 'application/graphql' } }, 599],
    ['Accept text/event-stream', { headers: { accept: 'text/event-stream' } }, 599],
    ['Accept with a q-value', { headers: { accept: 'application/json;q=0.9' } }, 599],
    ['a subscription', { body: json({ query: 'subscription { ticks }' }) }, 599],
    ['an unexpected parameter', { body: json({ query: '{ hello }', other: 1 }) }, 599],
  ];
  for (const [name, request, status] of cases) {
    it(`${status === 200 ? 'serves' : 'hands to yoga'} ${name}`, async () => {
      const response = await fetch(`${url}${request.path ?? '/graphql'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...request.headers },
        body: request.body ?? json({ query: '{ hello }' }),
      });
      assert.equal(response.status, status);
      if (status === 200) assert.deepEqual(await response.json(), { data: { hello: 'world' } });
    });
  }
});
