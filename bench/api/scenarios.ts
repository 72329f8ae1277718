// The three read workloads of the API benchmark, each written once for empsync's schema and once for
// PostGraphile's generated one, asking for the same columns. Variables vary per request (random ids,
// departments in turn) so neither server answers the same row from a warm cache line every time.
import { departments } from './seed-read-model.ts';

export type ScenarioName = 'by-id' | 'list-20' | 'filtered-page';
export type ServerName = 'empsync' | 'postgraphile';

export interface Scenario {
  name: ScenarioName;
  /** The GraphQL document actually sent (the first candidate the server answered without errors). */
  query: string;
  /** Request bodies, cycled through by the load generator. */
  bodies: string[];
  /** Pulls the rows out of a response, to check the server answers real data before measuring. */
  rowsOf(data: Record<string, unknown>): unknown[];
}

interface Candidate {
  query: string;
  variables(index: number): Record<string, unknown>;
  rowsOf(data: Record<string, unknown>): unknown[];
}

const empsyncFields = 'id nom prenom email poste salaire department dateEmbauche';
// PostGraphile 5 (Amber) keeps `id` for the global node id and names the primary key column `rowId`;
// it maps numeric to BigFloat (a string) and timestamptz to Datetime. The same columns, then.
const postgraphileFields = 'rowId nom prenom email poste salaire department dateEmbauche';
const bodiesPerScenario = 2000;

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const field = (data: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
    data,
  );

function candidates(server: ServerName, scenario: ScenarioName, rows: number): Candidate[] {
  const randomId = () => ({ id: 1 + Math.floor(Math.random() * rows) });
  const department = (index: number) => ({ department: departments[index % departments.length] });
  if (server === 'empsync') {
    switch (scenario) {
      case 'by-id':
        return [
          {
            query: `query ById($id: Int!) { employeParId(id: $id) { ${empsyncFields} } }`,
            variables: randomId,
            rowsOf: (data) => [field(data, 'employeParId')].filter(Boolean),
          },
        ];
      case 'list-20':
        return [
          {
            query: `query List { employes(limit: 20) { ${empsyncFields} } }`,
            variables: () => ({}),
            rowsOf: (data) => list(field(data, 'employes')),
          },
        ];
      case 'filtered-page':
        return [
          {
            query: `query Filtered($department: String!) { employesConnection(first: 20, filter: { department: $department }) { edges { node { ${empsyncFields} } } } }`,
            variables: department,
            rowsOf: (data) => list(field(data, 'employesConnection', 'edges')),
          },
          {
            query: `query Filtered($department: String!) { employes(limit: 20, department: $department) { ${empsyncFields} } }`,
            variables: department,
            rowsOf: (data) => list(field(data, 'employes')),
          },
        ];
    }
  }
  switch (scenario) {
    case 'by-id':
      return [
        {
          query: `query ById($id: Int!) { employeByRowId(rowId: $id) { ${postgraphileFields} } }`,
          variables: randomId,
          rowsOf: (data) => [field(data, 'employeByRowId')].filter(Boolean),
        },
      ];
    case 'list-20':
      return [
        {
          query: `query List { allEmployes(first: 20, orderBy: PRIMARY_KEY_ASC) { nodes { ${postgraphileFields} } } }`,
          variables: () => ({}),
          rowsOf: (data) => list(field(data, 'allEmployes', 'nodes')),
        },
      ];
    case 'filtered-page':
      return [
        {
          query: `query Filtered($department: String!) { allEmployes(first: 20, orderBy: PRIMARY_KEY_ASC, condition: { department: $department }) { nodes { ${postgraphileFields} } } }`,
          variables: department,
          rowsOf: (data) => list(field(data, 'allEmployes', 'nodes')),
        },
      ];
  }
}

export const scenarioNames: readonly ScenarioName[] = ['by-id', 'list-20', 'filtered-page'];

/**
 * Picks the first candidate document the server answers with rows and no errors (empsync's filtered
 * page uses `employesConnection` once it exists, `employes(department:)` before).
 */
export async function resolveScenario(
  server: ServerName,
  scenario: ScenarioName,
  rows: number,
  post: (
    query: string,
    variables: Record<string, unknown>,
  ) => Promise<{ data?: Record<string, unknown>; errors?: unknown[] }>,
): Promise<Scenario> {
  const tried: string[] = [];
  for (const candidate of candidates(server, scenario, rows)) {
    const answer = await post(candidate.query, candidate.variables(0));
    const found = answer.data ? candidate.rowsOf(answer.data).length : 0;
    if (!answer.errors && found > 0) {
      const bodies = Array.from({ length: bodiesPerScenario }, (_, index) =>
        JSON.stringify({ query: candidate.query, variables: candidate.variables(index) }),
      );
      return { name: scenario, query: candidate.query, bodies, rowsOf: candidate.rowsOf };
    }
    tried.push(`${candidate.query} → ${JSON.stringify(answer).slice(0, 300)}`);
  }
  throw new Error(`${server} answers no ${scenario} query:\n${tried.join('\n')}`);
}
