// The HTTP front of every role: /healthz (alive), /readyz (dependencies), /metrics (Prometheus),
// and /graphql with the operator console (/console) when the role serves the API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ReadinessProbe } from './readiness.ts';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  logger: Logger;
  readiness: ReadinessProbe;
  /** Whether the caller may read /readyz's details (by its credentials); otherwise it gets the status alone. */
  readinessDetails?: (headers: Headers) => Promise<boolean>;
  /** Serves /graphql (and its sub-paths) when set. */
  graphql?: RequestHandler;
  /** Serves the operator console, /console and its sub-paths, when set. */
  console?: RequestHandler;
  /** Called before every /metrics scrape (gauges computed from the databases). */
  beforeScrape?: () => Promise<void>;
  /** What this server answers: everything (default), everything but /metrics, or /metrics and /healthz. */
  serve?: 'all' | 'all-but-metrics' | 'metrics';
}

/** A request's headers as a fetch Headers (what the authenticator reads). */
function requestHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  return headers;
}

const knownEndpoints = new Set(['/graphql', '/healthz', '/readyz', '/metrics', '/console']);
const isConsolePath = (path: string) => path === '/console' || path.startsWith('/console/');

export async function startHttpServer(options: HttpServerOptions): Promise<Server> {
  const { metrics, readiness, graphql, logger } = options;
  const server = createServer((req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0]!;
    const endpoint = knownEndpoints.has(path) ? path : path.startsWith('/graphql') ? '/graphql' : isConsolePath(path) ? '/console' : 'other';
    res.once('finish', () => {
      metrics.apiResponseTime.observe(
        { endpoint, method: req.method ?? 'GET' },
        (performance.now() - started) / 1000,
      );
    });
    const fail = (error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'INTERNAL_SERVER_ERROR' }));
    };
    const serve = options.serve ?? 'all';
    const served = serve === 'all' || (serve === 'metrics' ? path === '/metrics' || path === '/healthz' : path !== '/metrics');
    try {
      if (!served) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND"}');
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else if (path === '/readyz') {
        const details = options.readinessDetails ? options.readinessDetails(requestHeaders(req)) : Promise.resolve(true);
        Promise.all([readiness(), details]).then(([report, detailed]) => {
          const status = report.ready ? (report.degraded ? 'degraded' : 'ready') : 'unavailable';
          res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(JSON.stringify(detailed ? { status, ...report } : { status, ready: report.ready }));
        }, fail);
      } else if (path === '/metrics') {
        (options.beforeScrape?.() ?? Promise.resolve())
          .catch((error: unknown) => logger.warn({ err: error }, 'metrics refresh failed'))
          .then(() => metrics.registry.metrics())
          .then((body) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
          }, fail);
      } else if (graphql && endpoint === '/graphql') {
        Promise.resolve(graphql(req, res)).catch(fail);
      } else if (options.console && isConsolePath(path)) {
        Promise.resolve(options.console(req, res)).catch(fail);
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND"}');
      }
    } catch (error) {
      fail(error);
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stops accepting, lets requests in flight finish, and cuts what is still open after `graceMs` (SSE streams). */
export async function stopHttpServer(server: Server, graceMs = 2000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), graceMs);
  cut.unref();
  await closed;
  clearTimeout(cut);
}
