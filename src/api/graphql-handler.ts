// The GraphQL endpoint (/graphql): graphql-yoga serving the Pothos schema, with the API's plugins
// registered here in one place — query limits, CSRF prevention, introspection off in production,
// authentication, error masking and operation metrics. Mutations write MySQL; queries read PostgreSQL;
// subscriptions stream over SSE from a Kafka consumer of this process.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setImmediate } from 'node:timers/promises';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCodes } from '../errors.ts';
import type { RequestHandler } from '../http/http-server.ts';
import type { GraphqlHandlerContext } from '../roles/roles.ts';
import type { ApiContext } from './builder.ts';
import { createDirectPost } from './direct-post.ts';
import { EmployeeChangeFeed } from './employee-change-feed.ts';
import { extraFields, withExtraFields, type ExtraField } from './extra-fields.ts';
import { graphiqlOptions } from './graphiql-example.ts';
import { requestEmployeeLoader, sharedEmployeeLoader } from './employee-loaders.ts';
import { useAuthentication } from './plugins/use-authentication.ts';
import { useCompiledExecution } from './plugins/use-compiled-execution.ts';
import { useCsrfPrevention } from './plugins/use-csrf-prevention.ts';
import { useListCost } from './plugins/use-list-cost.ts';
import { useDisableIntrospection } from './plugins/use-disable-introspection.ts';
import { useErrorMasking } from './plugins/use-error-masking.ts';
import { useOperationMetrics } from './plugins/use-operation-metrics.ts';
import { useQueryLimits } from './plugins/use-query-limits.ts';
import { useValidationErrorCodes } from './plugins/use-validation-error-codes.ts';
import { BodyTooLargeError, maxBodyBytes, readBody } from './request-body.ts';
import { apiSchema } from './schema.ts';

interface ServerContext {
  requestId: string;
}

const requestIdFormat = /^[\w.:-]{1,64}$/;

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && requestIdFormat.test(given) ? given : randomUUID();
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

export interface GraphqlHandlerOptions {
  /** Serve plain JSON POSTs on the direct path (direct-post.ts); false sends every request through yoga. */
  directPost?: boolean;
}

export function createGraphqlHandler(
  context: GraphqlHandlerContext,
  options: GraphqlHandlerOptions = {},
): RequestHandler {
  const { config, logger, metrics } = context;
  const production = config.NODE_ENV === 'production';
  const { authenticator } = context;
  const changeFeed = new EmployeeChangeFeed(config, logger);
  // Open event streams end when the role stops, so the HTTP server can close. Their keep-alive sockets
  // become idle only after that, too late for the server's own closing of idle connections, and would
  // hold the stop until the client's keep-alive timeout: sockets of this endpoint serving no request are
  // closed here.
  const openStreams = new Set<() => void>();
  const sockets = new Map<Socket, number>();
  context.onStop(async () => {
    for (const end of openStreams) end();
    await changeFeed.close();
    await setImmediate();
    for (const [socket, inFlight] of sockets) if (inFlight === 0) socket.destroy();
  });
  const postgresEmployees = sharedEmployeeLoader((ids) => context.stores.postgres.employees.findMany(ids));
  const mysqlEmployees = sharedEmployeeLoader((ids) => context.stores.mysql.employees.findMany(ids));
  const build = (schema: GraphQLSchema, fields: readonly ExtraField[]) => {
    const plugins: Plugin[] = [
      // First, so its fix of variable errors happens before the masking and metrics plugins see them.
      useCompiledExecution(),
      useListCost({ maxRows: config.API_MAX_ROWS, maxQueryRows: config.API_MAX_QUERY_ROWS }),
      useCsrfPrevention(),
      useQueryLimits(),
      ...(production ? [useDisableIntrospection()] : []),
      useValidationErrorCodes(),
      useAuthentication(authenticator) as Plugin,
      useErrorMasking(logger) as Plugin,
      useOperationMetrics(metrics, schema),
    ];
    const yoga = createYoga<ServerContext, Omit<ApiContext, 'principal'>>({
      schema,
      graphqlEndpoint: '/graphql',
      // Opens on a runnable example of the published queries and writes (graphiql-example.ts).
      graphiql: production ? false : graphiqlOptions,
      // GraphiQL's page with its scripts and styles inlined (no CDN: the API may have no internet),
      // loaded on the first browser visit only, so production never loads the 9 MB bundle.
      renderGraphiQL: async (options) =>
        (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
      landingPage: false,
      // Errors of execution are masked by useErrorMasking, which knows the request id; this backstop masks
      // what is thrown outside execution (a plugin, the context factory) and is not a GraphQLError.
      maskedErrors: {
        maskError: (error, message) =>
          error instanceof GraphQLError
            ? error
            : new GraphQLError(message, { extensions: { code: ErrorCodes.INTERNAL } }),
      },
      // Cross-origin access only for the origins listed in CORS_ORIGINS (none by default): a page of any
      // other origin gets no CORS headers, so the browser keeps the answer from it.
      cors: (request) => {
        const origin = request.headers.get('origin');
        if (origin === null || !config.CORS_ORIGINS.includes(origin)) return false;
        return { origin: [origin], credentials: true, allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'x-graphql-csrf'], maxAge: 600 };
      },
      multipart: false,
      batching: false,
      // The body is read, with the 1 MB limit, before yoga sees it (readBody); yoga's own limit would wrap
      // every body in a stream pipeline again, which cost a third of its throughput.
      maxRequestBodySize: false,
      plugins,
      logging: {
        debug: (...args: unknown[]) => logger.debug({ yoga: args }, 'yoga'),
        info: (...args: unknown[]) => logger.info({ yoga: args }, 'yoga'),
        warn: (...args: unknown[]) => logger.warn({ yoga: args }, 'yoga'),
        error: (...args: unknown[]) =>
          args[0] instanceof Error
            ? logger.error({ err: args[0] }, 'yoga: request failed')
            : logger.error({ yoga: args }, 'yoga'),
      },
      context: ({ requestId }) => ({
        app: context,
        requestId,
        employeeById: requestEmployeeLoader(postgresEmployees),
        mysqlEmployeeById: requestEmployeeLoader(mysqlEmployees),
        changeFeed,
        extraFields: fields,
      }),
    });
    const directPost = options.directPost === false ? undefined : createDirectPost(yoga, '/graphql');
    return { yoga, directPost };
  };

  // Columns a DBA adds to employes become fields without a restart: a new schema, a new yoga, swapped
  // in between requests (a request keeps the schema it started with).
  const base = apiSchema();
  let current = build(base, []);
  let shownColumns = '';
  const follow = () => {
    const columns = context.schemas.schema('employes').columns.filter((c) => !c.declared);
    const key = columns.map((c) => `${c.name}:${JSON.stringify(c.type)}:${c.nullable}`).join(',');
    if (key === shownColumns) return;
    shownColumns = key;
    const { fields, skipped } = extraFields(base, columns);
    for (const column of skipped) {
      logger.warn(
        { column },
        'column not shown in GraphQL: its field name is taken by the published contract',
      );
    }
    current = build(withExtraFields(base, fields), fields);
    if (fields.length)
      logger.info(
        { fields: fields.map((f) => f.field) },
        'GraphQL schema extended with the columns found on both databases',
      );
  };
  follow();
  context.schemas.on('change', follow);
  context.onStop(async () => {
    context.schemas.off('change', follow);
  });

  // Requests per second per caller (its API key or token, else its address): 429 RATE_LIMITED past it.
  const rate = config.API_RATE_LIMIT_PER_SECOND ?? (production ? 100 : 0);
  const limiter = rate > 0 ? new RateLimiterMemory({ points: rate, duration: 1 }) : null;

  return async (req, res) => {
    if (limiter) {
      const refused = await limiter.consume(callerKey(req)).then(
        () => null,
        (rejection: RateLimiterRes) => Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)),
      );
      if (refused !== null) {
        const requestId = requestIdOf(req);
        sendJson(
          res,
          429,
          { errors: [{ message: `More than ${rate} requests per second: slow down.`, extensions: { code: ErrorCodes.RATE_LIMITED, requestId } }] },
          { 'retry-after': String(refused), 'x-request-id': requestId },
        );
        return;
      }
    }
    const socket = req.socket;
    if (!sockets.has(socket)) socket.once('close', () => sockets.delete(socket));
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    res.once('close', () => sockets.set(socket, Math.max((sockets.get(socket) ?? 1) - 1, 0)));
    const requestId = requestIdOf(req);
    let body: Buffer | undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      try {
        body = await readBody(req, maxBodyBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        const message = `The request body is larger than ${maxBodyBytes} bytes.`;
        sendJson(
          res,
          413,
          { errors: [{ message, extensions: { code: 'PAYLOAD_TOO_LARGE', requestId } }] },
          {
            connection: 'close',
            'x-request-id': requestId,
          },
        );
        return;
      }
    }
    const { yoga, directPost } = current;
    if (body && directPost && (await directPost.serve(req, res, body, requestId))) return;
    if (!/text\/event-stream|multipart\/mixed/.test(String(req.headers.accept ?? ''))) {
      // Plain request/response: yoga's Node adapter writes the response itself (no Request/Response copies).
      res.setHeader('x-request-id', requestId);
      if (body && body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
      await yoga(req, res, { requestId });
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    // Aborted when the client leaves: a subscription frees its slot at once (not at the next ping).
    const left = new AbortController();
    res.once('close', () => left.abort());
    const request = new Request(new URL(req.url ?? '/graphql', `http://${req.headers.host ?? 'localhost'}`), {
      method: req.method ?? 'GET',
      headers,
      signal: left.signal,
      ...(body ? { body: new Uint8Array(body) } : {}),
    });
    const response = await yoga.fetch(request, { requestId });
    const responseHeaders: Record<string, string> = { 'x-request-id': requestId };
    response.headers.forEach((value, name) => {
      if (name !== 'content-length') responseHeaders[name] = value;
    });
    const contentType = response.headers.get('content-type') ?? '';
    if (!response.body || !/^(text\/event-stream|multipart\/mixed)/.test(contentType)) {
      const payload = Buffer.from(await response.arrayBuffer());
      res.writeHead(response.status, responseHeaders).end(payload);
      return;
    }
    await streamResponse(response.body, res.writeHead(response.status, responseHeaders), openStreams);
  };
}

/** Writes a subscription's event stream as it comes, until it ends, the client leaves, or the role stops. */
async function streamResponse(
  body: ReadableStream<Uint8Array>,
  res: ServerResponse,
  openStreams: Set<() => void>,
): Promise<void> {
  const reader = body.getReader();
  // Cancelling the reader resolves a pending read only when the source next yields (yoga's keep-alive
  // ping, every 12 s): race the read against this stop signal so the response ends at once.
  let stop = () => {};
  const stopped = new Promise<{ done: true; value: undefined }>((resolve) => {
    stop = () => resolve({ done: true, value: undefined });
  });
  const end = () => {
    stop();
    void reader.cancel().catch(() => undefined);
  };
  openStreams.add(end);
  res.once('close', end);
  res.flushHeaders();
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), stopped]);
      if (done) break;
      res.write(value);
    }
  } finally {
    openStreams.delete(end);
    res.off('close', end);
    res.end();
  }
}

/** Whom a request counts against: a digest of its credential, else its client address. */
function callerKey(req: IncomingMessage): string {
  const credential = req.headers['x-api-key'] ?? req.headers.authorization;
  if (typeof credential === 'string' && credential) return `credential:${createHash('sha256').update(credential).digest('hex').slice(0, 16)}`;
  return `address:${req.socket.remoteAddress ?? 'unknown'}`;
}
