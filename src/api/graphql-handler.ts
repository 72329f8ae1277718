// The GraphQL endpoint (/graphql): graphql-yoga serving the Pothos schema, with the API's plugins
// registered here in one place — query limits, CSRF prevention, introspection off in production,
// error masking and operation metrics. Mutations write MySQL; queries read PostgreSQL.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { ErrorCodes } from '../errors.ts';
import type { RequestHandler } from '../http/http-server.ts';
import type { GraphqlHandlerContext } from '../roles/roles.ts';
import type { EmployeeRow } from '../store/types.ts';
import type { ApiContext } from './builder.ts';
import { useCsrfPrevention } from './plugins/use-csrf-prevention.ts';
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

function employeeLoader(app: GraphqlHandlerContext): DataLoader<number, EmployeeRow | null> {
  return new DataLoader(async (ids) => {
    const rows = await app.stores.postgres.findEmployees(ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

export function createGraphqlHandler(context: GraphqlHandlerContext): RequestHandler {
  const { config, logger, metrics } = context;
  const schema = apiSchema();
  const production = config.NODE_ENV === 'production';
  const plugins: Plugin[] = [
    useCsrfPrevention(),
    useQueryLimits(),
    ...(production ? [useDisableIntrospection()] : []),
    useValidationErrorCodes(),
    useErrorMasking(logger) as Plugin,
    useOperationMetrics(metrics, schema),
  ];
  const yoga = createYoga<ServerContext, ApiContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: !production,
    landingPage: false,
    // Errors of execution are masked by useErrorMasking, which knows the request id; this backstop masks
    // what is thrown outside execution (a plugin, the context factory) and is not a GraphQLError.
    maskedErrors: {
      maskError: (error, message) =>
        error instanceof GraphQLError
          ? error
          : new GraphQLError(message, { extensions: { code: ErrorCodes.INTERNAL } }),
    },
    multipart: false,
    batching: false,
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
    context: ({ requestId }) => ({ app: context, requestId, employeeById: employeeLoader(context) }),
  });

  return async (req, res) => {
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
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const request = new Request(new URL(req.url ?? '/graphql', `http://${req.headers.host ?? 'localhost'}`), {
      method: req.method ?? 'GET',
      headers,
      ...(body ? { body: new Uint8Array(body) } : {}),
    });
    const response = await yoga.fetch(request, { requestId });
    const payload = Buffer.from(await response.arrayBuffer());
    const responseHeaders: Record<string, string> = { 'x-request-id': requestId };
    response.headers.forEach((value, name) => {
      if (name !== 'content-length') responseHeaders[name] = value;
    });
    res.writeHead(response.status, responseHeaders).end(payload);
  };
}
