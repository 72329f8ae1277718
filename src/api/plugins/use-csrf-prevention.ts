// CSRF prevention: a browser can send a cross-site POST without a preflight only with a "simple"
// content type (form-urlencoded, multipart, text/plain). GraphQL POSTs must be JSON or GraphQL, so such
// requests are refused before parsing; GET may only carry queries (yoga refuses mutations via GET).
import type { Plugin } from 'graphql-yoga';

const acceptedPostTypes = ['application/json', 'application/graphql-response+json', 'application/graphql'];

export function useCsrfPrevention(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== 'POST') return;
      const contentType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (acceptedPostTypes.includes(contentType)) return;
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({
            errors: [
              {
                message: 'POST requests must have the content type application/json.',
                extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' },
              },
            ],
          }),
          { status: 415, headers: { 'content-type': 'application/json' } },
        ),
      );
    },
  };
}
