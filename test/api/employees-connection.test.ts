// employesConnection and the filter/orderBy of employes, over HTTP against the real `all` role: keyset
// pages cover every row once in each order (ties on the sort key included), filters combine, bad
// arguments answer BAD_USER_INPUT. The store query itself is checked on both dialects.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EmployeeOrder } from '../../src/store/ports.ts';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';
import { employeInput, startApi, type RunningApi } from './api-client.ts';

const config = testConfig('api_connection');
let api: RunningApi;

interface Node {
  id: number;
  nom: string;
  salaireExact: string;
  department: string;
}
interface Connection {
  edges: { cursor: string; node: Node }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null; startCursor: string | null };
  totalCount: number;
}

const people = [
  { nom: 'Dupont', prenom: 'Jean', email: 'jean.dupont@example.fr', salaire: 3000, department: 'IT', poste: 'Dev' },
  { nom: 'Martin', prenom: 'Anne', email: 'anne.martin@example.fr', salaire: 4500, department: 'Sales', poste: 'Lead' },
  { nom: 'Petit', prenom: 'Luc', email: 'luc.petit@example.fr', salaire: 3000, department: 'IT', poste: 'Dev' },
  { nom: 'Roux', prenom: 'Marc', email: 'marc.roux@example.fr', salaire: 2500.5, department: 'Sales', poste: 'Rep' },
  { nom: 'dupré', prenom: 'Zoé', email: 'zoe@example.fr', salaire: 3000, department: 'HR', poste: 'Dev' },
  { nom: 'Bernard', prenom: 'Paul', email: 'paul_100%@example.fr', salaire: 6000, department: 'IT', poste: 'CTO' },
  { nom: 'Moreau', prenom: 'Lea', email: 'lea.moreau@example.fr', salaire: 1800, department: 'HR', poste: 'Rep' },
];
const total = people.length;
let ids: number[] = [];

const connection = `query ($first: Int, $after: String, $filter: EmployeFilter, $orderBy: EmployeOrder) {
  employesConnection(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    edges { cursor node { id nom salaireExact department } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}`;

async function page(variables: Record<string, unknown>): Promise<Connection> {
  const { data, errors } = await api.gql<{ employesConnection: Connection }>(connection, variables);
  assert.equal(errors, undefined, JSON.stringify(errors));
  return data!.employesConnection;
}

/** Follows endCursor until hasNextPage is false; returns the nodes in order. */
async function allPages(first: number, orderBy?: EmployeeOrder, filter?: Record<string, unknown>): Promise<Node[]> {
  const nodes: Node[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const result: Connection = await page({ first, after, orderBy, filter });
    assert.ok(result.edges.length <= first);
    assert.equal(result.pageInfo.hasPreviousPage, after !== null);
    nodes.push(...result.edges.map((edge) => edge.node));
    if (!result.pageInfo.hasNextPage) return nodes;
    assert.equal(result.pageInfo.endCursor, result.edges.at(-1)!.cursor);
    after = result.pageInfo.endCursor;
  }
  throw new Error('pagination does not end');
}

function sortedIds(order: EmployeeOrder): number[] {
  const rows = people.map((p, i) => ({ ...p, id: ids[i]! }));
  const compare: Record<EmployeeOrder, (a: (typeof rows)[0], b: (typeof rows)[0]) => number> = {
    ID_ASC: (a, b) => a.id - b.id,
    ID_DESC: (a, b) => b.id - a.id,
    SALAIRE_ASC: (a, b) => a.salaire - b.salaire || a.id - b.id,
    SALAIRE_DESC: (a, b) => b.salaire - a.salaire || b.id - a.id,
    NOM_ASC: (a, b) => (a.nom < b.nom ? -1 : a.nom > b.nom ? 1 : a.id - b.id),
  };
  return rows.sort(compare[order]).map((r) => r.id);
}

describe('employesConnection and the filters of employes', () => {
  before(async () => {
    api = await startApi(config);
    for (const person of people) {
      const { data, errors } = await api.gql<{ createEmploye: { id: number } }>(
        `mutation ($input: EmployeInput!) { createEmploye(input: $input, waitForSync: true) { id } }`,
        { input: employeInput(person) },
      );
      assert.equal(errors, undefined, JSON.stringify(errors));
      ids.push(data!.createEmploye.id);
    }
    ids = [...ids];
    assert.equal(await api.running.stores.postgres.employees.count(), total, 'waitForSync: every row is readable');
  });
  after(async () => {
    await api?.running.stop();
    await dropTestDatabases(config);
  });

  for (const order of ['ID_ASC', 'ID_DESC', 'SALAIRE_ASC', 'SALAIRE_DESC', 'NOM_ASC'] as const) {
    it(`walks every row exactly once in ${order} order, pages of 2`, async () => {
      const nodes = await allPages(2, order);
      // NOM_ASC follows the database collation: compare with the store's own order rather than JS's.
      const expected =
        order === 'NOM_ASC'
          ? (await api.running.stores.postgres.employees.list({ orderBy: 'NOM_ASC' })).map((r) => r.id)
          : sortedIds(order);
      assert.deepEqual(
        nodes.map((n) => n.id),
        expected,
      );
    });
  }

  it('pages the same way on MySQL and PostgreSQL (the store query is dialect-agnostic)', async () => {
    for (const orderBy of ['SALAIRE_DESC', 'ID_ASC'] as const) {
      const walk = async (store: 'mysql' | 'postgres') => {
        const seen: number[] = [];
        let after: { id: number; value?: string } | undefined;
        for (;;) {
          const result = await api.running.stores[store].employees.page({ first: 3, orderBy, ...(after ? { after } : {}) });
          seen.push(...result.rows.map((r) => r.id));
          const last = result.rows.at(-1);
          if (!result.hasNextPage || !last) return seen;
          after = { id: last.id, ...(orderBy === 'SALAIRE_DESC' ? { value: last.salaire } : {}) };
        }
      };
      assert.deepEqual(await walk('mysql'), sortedIds(orderBy));
      assert.deepEqual(await walk('postgres'), sortedIds(orderBy));
    }
    const filter = { search: 'DUP', salaireMin: '2000.00' };
    assert.equal(await api.running.stores.mysql.employees.countMatching(filter), 2);
    assert.equal(await api.running.stores.postgres.employees.countMatching(filter), 2);
  });

  it('counts every matching row in totalCount, whatever the page', async () => {
    const first = await page({ first: 3 });
    assert.equal(first.totalCount, total);
    assert.equal(first.pageInfo.hasNextPage, true);
    assert.equal(first.pageInfo.startCursor, first.edges[0]!.cursor);
    const sales = await page({ first: 1, filter: { department: 'Sales' } });
    assert.equal(sales.totalCount, 2);
  });

  it('filters by search (case-insensitive, wildcards literal), poste, salary and hiring date', async () => {
    const noms = async (filter: Record<string, unknown>) => (await allPages(100, 'NOM_ASC', filter)).map((n) => n.nom).sort();
    assert.deepEqual(await noms({ search: 'DUP' }), ['Dupont', 'dupré']);
    assert.deepEqual(await noms({ search: 'ZOE@' }), ['dupré'], 'email matches too');
    assert.deepEqual(await noms({ search: '_100%' }), ['Bernard'], '% and _ are matched literally');
    assert.deepEqual(await noms({ search: '%' }), ['Bernard']);
    assert.deepEqual(await noms({ poste: 'Dev', department: 'IT' }), ['Dupont', 'Petit']);
    assert.deepEqual(await noms({ salaireMin: 3000, salaireMax: 4500 }), ['Dupont', 'Martin', 'Petit', 'dupré']);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    assert.deepEqual(await noms({ embaucheAfter: future }), []);
    assert.equal((await noms({ embaucheBefore: future, embaucheAfter: '2000-01-01T00:00:00Z' })).length, total);
  });

  it('accepts filter and orderBy on employes too', async () => {
    const { data, errors } = await api.gql<{ employes: Node[] }>(
      `{ employes(filter: { department: "IT" }, orderBy: SALAIRE_DESC) { id salaireExact } }`,
    );
    assert.equal(errors, undefined);
    assert.deepEqual(
      data!.employes.map((n) => n.salaireExact),
      ['6000.00', '3000.00', '3000.00'],
    );
    const limited = await api.gql<{ employes: Node[] }>(`{ employes(orderBy: ID_DESC, limit: 2) { id } }`);
    assert.deepEqual(
      limited.data!.employes.map((n) => n.id),
      sortedIds('ID_DESC').slice(0, 2),
    );
  });

  it('refuses a page over 100, a foreign cursor and a cursor of another order with BAD_USER_INPUT', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ first: 101 }, 'first'],
      [{ first: 0 }, 'first'],
      [{ after: 'not-a-cursor' }, 'after'],
      [{ after: (await page({ first: 1, orderBy: 'ID_ASC' })).pageInfo.endCursor, orderBy: 'NOM_ASC' }, 'after'],
      [{ filter: { search: 'x'.repeat(101) } }, 'filter.search'],
      [{ filter: { salaireMin: -1 } }, 'filter.salaireMin'],
    ];
    for (const [variables, field] of cases) {
      const { errors } = await api.gql(connection, variables);
      assert.equal(errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(variables));
      assert.equal(errors?.[0]?.extensions?.field, field);
    }
  });
});
