// Authentication: resolves the caller's principal (API key, JWT, or anonymous) once per request and puts
// it in the context, where resolvers check roles with requireRole. A credential that is present but does
// not verify stops the request at once with UNAUTHENTICATED (HTTP 401).
import type { Plugin } from 'graphql-yoga';
import type { Authenticator, Principal } from '../authentication.ts';

export function useAuthentication(authenticator: Authenticator): Plugin<{ principal: Principal }> {
  return {
    async onContextBuilding({ context, extendContext }) {
      const request = (context as { request?: Request }).request;
      const principal = await authenticator.authenticate(request?.headers ?? new Headers());
      extendContext({ principal });
    },
  };
}
