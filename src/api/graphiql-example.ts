// What GraphiQL opens on (outside production): the published queries and two writes, one operation per
// tab with its variables, runnable as they are on a fresh stack (test/api/graphiql-example.test.ts runs
// every tab against the real API). One operation per tab, not one document of five: a tab runs with one
// click, and the compiled execution caches a document's first operation (see that test's todo).
import type { GraphiQLOptions } from 'graphql-yoga';

const introduction = `# empsync keeps employees identical in MySQL
# and PostgreSQL through Kafka. Queries read
# PostgreSQL (the read model); mutations write
# MySQL and, with waitForSync: true, answer once
# PostgreSQL has the change.
#
# One example per tab: on an empty stack, run
# CreateEmploye first. With authentication on,
# send a key in Headers: {"x-api-key": "…"}
# (writes need the role writer).
# Schema: the Docs button. Console: /console
`;

const employeInput = {
  nom: 'Lovelace',
  prenom: 'Ada',
  email: 'ada.lovelace@example.fr',
  poste: 'Analyste',
  salaire: 4200,
  department: 'R&D',
};

export interface GraphiqlExample {
  query: string;
  variables?: Record<string, unknown>;
}

/** The tabs, in the order GraphiQL shows them; each holds one named operation. */
export const graphiqlExamples: GraphiqlExample[] = [
  {
    query: `${introduction}
query Employes {
  employes(limit: 20) {
    id
    nom
    prenom
    poste
    department
  }
}
`,
  },
  {
    query: `query EmployeParId($id: Int!) {
  employeParId(id: $id) {
    id
    nom
    prenom
    email
    poste
    department
    dateEmbauche
    syncState { version origin inSync }
  }
}
`,
    variables: { id: 1 },
  },
  {
    query: `query EmployesParDepartment($department: String!) {
  employesParDepartment(department: $department) {
    id
    nom
    prenom
    poste
  }
}
`,
    variables: { department: employeInput.department },
  },
  {
    query: `# Run again, the same email is refused
# (CONFLICT): change it to create another one.
mutation CreateEmploye($input: EmployeInput!) {
  createEmploye(input: $input, waitForSync: true) {
    id
    nom
    prenom
    email
    syncState { version origin inSync }
  }
}
`,
    variables: { input: employeInput },
  },
  {
    query: `# Every field is set again (EmployeInput):
# here the poste and the salary change.
mutation UpdateEmploye($id: Int!, $input: EmployeInput!) {
  updateEmploye(id: $id, input: $input, waitForSync: true) {
    id
    poste
    syncState { version mysqlVersion postgresVersion inSync }
  }
}
`,
    variables: { id: 1, input: { ...employeInput, poste: 'Architecte', salaire: 4800 } },
  },
];

/** Yoga's `graphiql` option: the examples as the first tabs (query and variables); a new tab opens on the first. */
export const graphiqlOptions: GraphiQLOptions = {
  title: 'empsync GraphiQL',
  defaultQuery: graphiqlExamples[0]!.query,
  defaultTabs: graphiqlExamples.map(({ query, variables }) => ({
    query,
    variables: variables ? JSON.stringify(variables, null, 2) : null,
  })),
};
