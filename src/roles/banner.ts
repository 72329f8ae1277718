// Where a running role can be reached: the URLs of its HTTP servers as they listen (HTTP_PORT=0 picks a
// port), written once at start in the log line "empsync <role> running" and, on a terminal, as a banner.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.ts';
import type { Role } from './roles.ts';

export interface RoleUrls {
  /** The operator console (the API roles only). */
  console?: string;
  /** GraphQL, with GraphiQL in a browser outside production (the API roles only). */
  graphql?: string;
  /** Prometheus metrics: on the API's port, or METRICS_PORT's server when it is apart. */
  metrics: string;
  readyz: string;
}

/** HTTP_HOST as the host of a URL: a wildcard address becomes `wildcard`, an IPv6 literal gets brackets. */
export function urlHost(host: string, wildcard = 'localhost'): string {
  return host === '0.0.0.0' || host === '::' ? wildcard : host.includes(':') ? `[${host}]` : host;
}

/** Where a server listens, as a person types it into a browser (its real port: HTTP_PORT=0 picks one). */
function baseUrl(host: string, server: Server | null | undefined, fallbackPort: number): string {
  const address = server?.address();
  const port = address && typeof address === 'object' ? (address as AddressInfo).port : fallbackPort;
  return `http://${urlHost(host)}:${port}`;
}

export function roleUrls(
  role: Role,
  config: Pick<Config, 'HTTP_HOST' | 'HTTP_PORT' | 'METRICS_PORT'>,
  servers: { server: Server | null; metricsServer?: Server | null },
): RoleUrls {
  const base = baseUrl(config.HTTP_HOST, servers.server, config.HTTP_PORT);
  const metricsBase = servers.metricsServer
    ? baseUrl(config.HTTP_HOST, servers.metricsServer, config.METRICS_PORT ?? config.HTTP_PORT)
    : base;
  const api =
    role === 'all' || role === 'api' ? { console: `${base}/console`, graphql: `${base}/graphql` } : {};
  return { ...api, metrics: `${metricsBase}/metrics`, readyz: `${base}/readyz` };
}

/** The banner of a running role: a few aligned lines a person reads once (GraphiQL is off in production). */
export function formatBanner(role: Role, urls: RoleUrls, production: boolean): string {
  const rows: [string, string | undefined][] = [
    ['console', urls.console],
    [production ? 'GraphQL' : 'GraphiQL', urls.graphql],
    ['metrics', urls.metrics],
    ['ready', urls.readyz],
  ];
  const lines = rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([label, url]) => `  ${label.padEnd(10)}${url}`);
  return `\nempsync ${role} is running (Ctrl-C stops it)\n${lines.join('\n')}\n\n`;
}
