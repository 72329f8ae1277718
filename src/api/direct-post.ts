// The direct path for the API's commonest request: a POST of JSON to /graphql from a client that is not a
// browser page of another origin. It runs the request through yoga's own pipeline (`getResultForParams`:
// every envelop plugin — limits, parser and validation cache, authentication, error masking, metrics —
// then `processRegularResult` for the status, headers and body), and only skips the conversion of the
// Node request into a Fetch `Request` with a body stream and of the `Response` back, which cost more than
// the GraphQL work itself (see docs/benchmarks.md, "API"). Any request it is not sure to answer exactly
// as yoga would — another method, path, content type or `Accept`, an `Origin` (CORS), parameters yoga
// would refuse, a subscription — goes to yoga unchanged; test/api/direct-post.test.ts compares both.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  isAsyncIterable,
  processRegularResult,
  type GraphQLParams,
  type YogaServerInstance,
} from 'graphql-yoga';

const jsonContentType = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;
const allowedParams = new Set(['query', 'variables', 'operationName', 'extensions']);

/** The media type yoga would answer with for this `Accept`, when it is one of the plain cases. */
function acceptedMediaType(accept: string | undefined): string | undefined {
  if (accept === undefined) return 'application/json';
  const normalised = accept
    .replace(/\s/g, '')
    .toLowerCase()
    .replace(/;charset=utf-8$/, '');
  if (normalised === 'application/json' || normalised === '*/*' || normalised === '')
    return 'application/json';
  if (normalised === 'application/graphql-response+json') return normalised;
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The GraphQL parameters of `body`, or undefined when yoga would have something to say about them. */
function paramsOf(body: Buffer): GraphQLParams | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isPlainObject(parsed) || typeof parsed.query !== 'string') return undefined;
  for (const key in parsed) if (!allowedParams.has(key)) return undefined;
  const { variables, operationName, extensions } = parsed;
  if (variables != null && !isPlainObject(variables)) return undefined;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  if (extensions != null && !isPlainObject(extensions)) return undefined;
  return parsed as GraphQLParams;
}

export interface DirectPost {
  /** Answers the request and returns true, or returns false without touching `res` (yoga's turn). */
  serve(req: IncomingMessage, res: ServerResponse, body: Buffer, requestId: string): Promise<boolean>;
}

export function createDirectPost<TUserContext extends Record<string, unknown>>(
  yoga: YogaServerInstance<{ requestId: string }, TUserContext>,
  graphqlEndpoint: string,
): DirectPost {
  return {
    async serve(req, res, body, requestId) {
      if (req.method !== 'POST' || req.url !== graphqlEndpoint || req.headers.origin !== undefined)
        return false;
      if (!jsonContentType.test(req.headers['content-type'] ?? '')) return false;
      const mediaType = acceptedMediaType(req.headers.accept);
      const params = mediaType && paramsOf(body);
      if (!mediaType || !params) return false;
      // Plugins read the caller's headers from the context's Fetch request; it needs no body here.
      const request = new yoga.fetchAPI.Request(`http://${req.headers.host ?? 'localhost'}${req.url}`, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
      });
      const serverContext = { requestId, req, res };
      const result = await yoga.getResultForParams({ params, request }, serverContext);
      // Never handed back to yoga once executed: a mutation must not run twice.
      if (!result) throw new Error('yoga returned no result for a GraphQL request');
      if (isAsyncIterable(result)) {
        // A subscription asked for as JSON: yoga answers 406 naming the streaming media types.
        await result[Symbol.asyncIterator]().return?.();
        return false;
      }
      const response = processRegularResult(result, yoga.fetchAPI, mediaType);
      const headers: Record<string, string> = { 'x-request-id': requestId };
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      res.writeHead(response.status, headers).end(await response.text());
      return true;
    },
  };
}
