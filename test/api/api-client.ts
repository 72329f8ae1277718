// Starts the real `all` role (MariaDB, PostgreSQL, Kafka, HTTP on a random port) with the GraphQL
// handler, and talks to it over HTTP as any client would.
import type { AddressInfo } from 'node:net';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import type { Config } from '../../src/config.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { dropTestDatabases, quietLogger, waitFor } from '../support/test-env.ts';

export interface GraphqlError {
  message: string;
  extensions?: { code?: string; field?: string; requestId?: string; reason?: string; http?: unknown };
}

export interface GraphqlResponse<T> {
  status: number;
  data?: T | null;
  errors?: GraphqlError[];
}

export interface RunningApi {
  running: RunningRole;
  url: string;
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphqlResponse<T>>;
}

export async function startApi(config: Config): Promise<RunningApi> {
  await dropTestDatabases(config);
  const running = await startRole(
    'all',
    { config, logger: quietLogger(config), createGraphqlHandler },
    [],
  );
  const { port } = running.server!.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/graphql`;
  // MySQL's GET_LOCK is server-wide: while another process on this server holds the relay lease, this
  // one stands by. Start once it publishes, so the polls below measure the pipeline, not the standby.
  await waitFor(
    'the MySQL relay lease',
    async () =>
      (await running.metrics.relayActive.get()).values.some(
        (v) => v.labels.store === 'mysql' && v.value === 1,
      ),
    90_000,
  ).catch(async (error: unknown) => {
    await running.stop();
    throw error;
  });
  return {
    running,
    url,
    async gql<T>(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: T | null; errors?: GraphqlError[] };
      return { status: response.status, ...body };
    },
  };
}

export const employeFields = 'id nom prenom email poste salaire salaireExact department dateEmbauche';

export function employeInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    nom: 'Dupont',
    prenom: 'Jean',
    email: 'jean.dupont@example.fr',
    poste: 'Développeur',
    salaire: 1234.5,
    department: 'IT',
    ...overrides,
  };
}
