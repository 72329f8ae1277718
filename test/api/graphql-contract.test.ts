// The published design's GraphQL contract, over HTTP against the real `all` role: mutations land in
// MariaDB, travel through Kafka, and queries read them back from PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildClientSchema, getIntrospectionQuery, printType, type IntrospectionQuery } from 'graphql';
import { dropTestDatabases, testConfig, waitFor } from '../support/test-env.ts';
import { employeFields, employeInput, startApi, type RunningApi } from './api-client.ts';

interface Employe {
  id: number;
  nom: string;
  prenom: string;
  email: string;
  poste: string;
  salaire: number;
  salaireExact: string;
  department: string;
  dateEmbauche: string;
}

const config = testConfig('api_contract');
let api: RunningApi;

const byId = `query ($id: Int!) { employeParId(id: $id) { ${employeFields} } }`;
const create = `mutation ($input: EmployeInput!) { createEmploye(input: $input) { ${employeFields} } }`;
const update = `mutation ($id: Int!, $input: EmployeInput!) { updateEmploye(id: $id, input: $input) { ${employeFields} } }`;
const remove = `mutation ($id: Int!) { deleteEmploye(id: $id) }`;

async function readFromPostgres(id: number, check: (row: Employe) => boolean = () => true): Promise<Employe> {
  return waitFor(`employe ${id} in PostgreSQL`, async () => {
    const { data } = await api.gql<{ employeParId: Employe | null }>(byId, { id });
    const row = data?.employeParId;
    return row && check(row) ? row : null;
  });
}

describe('GraphQL contract (published design)', () => {
  before(async () => {
    api = await startApi(config);
  });
  after(async () => {
    await api?.running.stop();
    await dropTestDatabases(config);
  });

  it('exposes the contract types with their exact nullability', async () => {
    const { data } = await api.gql<IntrospectionQuery>(getIntrospectionQuery());
    const schema = buildClientSchema(data!);
    const employe = printType(schema.getType('EmployeType')!);
    for (const line of [
      'id: Int!',
      'nom: String!',
      'prenom: String!',
      'email: String!',
      'poste: String!',
      'salaire: Float!',
      'department: String!',
      'dateEmbauche: DateTime!',
    ]) {
      assert.ok(employe.includes(line), `EmployeType has ${line}`);
    }
    // The contract's operations keep their exact types and required arguments; new operations and
    // optional arguments may be added beside them.
    const fields = (name: 'getQueryType' | 'getMutationType', contract: string[]) =>
      Object.fromEntries(
        Object.values(schema[name]()!.getFields())
          .filter((f) => contract.includes(f.name))
          .map((f) => [
            f.name,
            `${f.type}(${f.args
              .filter((a) => `${a.type}`.endsWith('!'))
              .map((a) => `${a.name}: ${a.type}`)
              .join(', ')})`,
          ]),
      );
    assert.deepEqual(fields('getQueryType', ['employes', 'employeParId', 'employesParDepartment', 'statsEmployes']), {
      employes: '[EmployeType!]!()',
      employeParId: 'EmployeType(id: Int!)',
      employesParDepartment: '[EmployeType!]!(department: String!)',
      statsEmployes: 'String!()',
    });
    assert.deepEqual(
      fields('getMutationType', ['createEmploye', 'updateEmploye', 'deleteEmploye', 'syncEmployes', 'healthCheck']),
      {
        createEmploye: 'EmployeType!(input: EmployeInput!)',
        updateEmploye: 'EmployeType(id: Int!, input: EmployeInput!)',
        deleteEmploye: 'Boolean!(id: Int!)',
        syncEmployes: 'String!()',
        healthCheck: 'String!()',
      },
    );
  });

  it('createEmploye writes MySQL and employeParId reads it back from PostgreSQL', async () => {
    const created = await api.gql<{ createEmploye: Employe }>(create, { input: employeInput() });
    assert.equal(created.errors, undefined);
    const row = created.data!.createEmploye;
    assert.ok(row.id > 0);
    assert.ok(await api.running.stores.mysql.employees.find(row.id), 'the row is in MySQL');
    const read = await readFromPostgres(row.id);
    assert.equal(read.salaire, 1234.5);
    assert.equal(read.salaireExact, '1234.50');
    assert.equal(read.nom, 'Dupont');
    assert.equal(read.poste, 'Développeur');
    assert.match(read.dateEmbauche, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
    assert.ok(!Number.isNaN(Date.parse(read.dateEmbauche)));
  });

  it('updateEmploye changes a row (visible in PostgreSQL) and answers null for an unknown id', async () => {
    const { data } = await api.gql<{ createEmploye: Employe }>(create, {
      input: employeInput({ email: 'anne.martin@example.fr', nom: 'Martin', department: 'Sales' }),
    });
    const id = data!.createEmploye.id;
    const updated = await api.gql<{ updateEmploye: Employe | null }>(update, {
      id,
      input: employeInput({
        email: 'anne.martin@example.fr',
        nom: 'Martin',
        poste: 'Lead',
        salaire: 5000.05,
        department: 'Sales',
      }),
    });
    assert.equal(updated.errors, undefined);
    assert.equal(updated.data!.updateEmploye!.poste, 'Lead');
    const read = await readFromPostgres(id, (row) => row.poste === 'Lead');
    assert.equal(read.salaire, 5000.05);
    const unknown = await api.gql<{ updateEmploye: Employe | null }>(update, {
      id: 987_654_321,
      input: employeInput({ email: 'nobody@example.fr' }),
    });
    assert.equal(unknown.errors, undefined);
    assert.equal(unknown.data!.updateEmploye, null);
  });

  it('deleteEmploye answers true, then false once the row is gone', async () => {
    const { data } = await api.gql<{ createEmploye: Employe }>(create, {
      input: employeInput({ email: 'luc.petit@example.fr', nom: 'Petit' }),
    });
    const id = data!.createEmploye.id;
    await readFromPostgres(id);
    assert.deepEqual((await api.gql(remove, { id })).data, { deleteEmploye: true });
    assert.deepEqual((await api.gql(remove, { id })).data, { deleteEmploye: false });
    await waitFor('delete in PostgreSQL', async () => {
      const { data: after } = await api.gql<{ employeParId: Employe | null }>(byId, { id });
      return after !== undefined && after?.employeParId === null;
    });
  });

  it('employes, employesParDepartment and statsEmployes read the PostgreSQL read model', async () => {
    await api.gql(create, {
      input: employeInput({ email: 'marc.roux@example.fr', nom: 'Roux', department: 'Sales' }),
    });
    const list = await waitFor('three rows in PostgreSQL', async () => {
      const { data } = await api.gql<{ employes: Employe[] }>(`{ employes { ${employeFields} } }`);
      return data && data.employes.length === 3 ? data.employes : null;
    });
    assert.deepEqual(
      list.map((r) => r.id),
      [...list.map((r) => r.id)].sort((a, b) => a - b),
    );
    const sales = await api.gql<{ employesParDepartment: Employe[] }>(
      `query ($d: String!) { employesParDepartment(department: $d) { email department } }`,
      { d: 'Sales' },
    );
    assert.deepEqual(sales.data!.employesParDepartment.map((r) => r.email).sort(), [
      'anne.martin@example.fr',
      'marc.roux@example.fr',
    ]);
    const page = await api.gql<{ employes: Employe[] }>(`{ employes(limit: 1, offset: 1) { id } }`);
    assert.deepEqual(
      page.data!.employes.map((r) => r.id),
      [list[1]!.id],
    );
    const stats = await api.gql<{ statsEmployes: string }>(`{ statsEmployes }`);
    assert.deepEqual(stats.data!.statsEmployes.split('\n'), ['Total: 3', 'IT: 1', 'Sales: 2']);
  });

  it('several employeParId in one request each get their row (or null)', async () => {
    const { data } = await api.gql<{ employes: Employe[] }>(`{ employes { id } }`);
    const [first, second] = data!.employes;
    const both = await api.gql<Record<string, Employe | null>>(
      `query ($a: Int!, $b: Int!, $c: Int!) { a: employeParId(id: $a) { id } b: employeParId(id: $b) { id } c: employeParId(id: $c) { id } }`,
      { a: first!.id, b: second!.id, c: -42 },
    );
    assert.deepEqual(both.data, { a: { id: first!.id }, b: { id: second!.id }, c: null });
  });

  it('serves GraphiQL outside production', async () => {
    const response = await fetch(api.url, { headers: { accept: 'text/html' } });
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await response.text(), /graphiql/i);
  });

  it('healthCheck reports mysql, postgres and kafka as up', async () => {
    const { data } = await api.gql<{ healthCheck: string }>(`mutation { healthCheck }`);
    assert.deepEqual(data!.healthCheck.split('\n').sort(), ['kafka: up', 'mysql: up', 'postgres: up']);
  });

  it('syncEmployes re-publishes every row and says how many', async () => {
    const { data, errors } = await api.gql<{ syncEmployes: string }>(`mutation { syncEmployes }`);
    assert.equal(errors, undefined);
    assert.match(data!.syncEmployes, /\b3\b/);
  });

  it('counts executed operations in graphql_requests_total with bounded labels', async () => {
    await api.gql(`query MyDashboard { statsEmployes }`);
    const metrics = await (await fetch(api.url.replace('/graphql', '/metrics'))).text();
    assert.match(metrics, /graphql_requests_total\{operation="createEmploye",success="true"\} \d+/);
    assert.match(metrics, /graphql_requests_total\{operation="statsEmployes",success="true"\} \d+/);
    assert.match(metrics, /graphql_response_time_seconds_count\{operation="employeParId"\} \d+/);
    assert.doesNotMatch(metrics, /operation="MyDashboard"/);
  });
});
