// Access control of the API. A caller presents an API key or a JWT (HS256 secret or a JWKS URL) and gets
// one role: reader < writer < admin. Anonymous callers may read employees without their salary; the
// salary, the sync diagnostics and healthCheck need reader, the writes writer, syncEmployes admin.
import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { ApiRole, Config } from '../config.ts';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import type { Logger } from '../logger.ts';

export type AuthConfig = Pick<
  Config,
  'NODE_ENV' | 'AUTH_API_KEYS' | 'AUTH_JWT_SECRET' | 'AUTH_JWKS_URL' | 'AUTH_JWT_ISSUER' | 'AUTH_JWT_AUDIENCE' | 'AUTH_JWT_MAX_TTL_SECONDS'
>;

/** Who is calling. With auth off every caller is `auth-off` with the admin role. */
export interface Principal {
  via: 'api-key' | 'jwt' | 'anonymous' | 'auth-off';
  role: ApiRole | null;
  /** The JWT subject, or a short fingerprint of the API key (never the key itself). */
  subject: string | null;
  /** When the credential stops being valid (a JWT's exp, in ms since the epoch); absent: it does not expire. */
  expiresAt?: number;
}

export interface Authenticator {
  readonly enabled: boolean;
  /** Resolves the principal of a request; throws UNAUTHENTICATED for a credential that does not verify. */
  authenticate(headers: Headers): Promise<Principal>;
}

const roleRank: Record<ApiRole, number> = { reader: 1, writer: 2, admin: 3 };
const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function unauthenticated(message: string, reason?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCodes.UNAUTHENTICATED,
      ...(reason ? { reason } : {}),
      http: { status: 401, headers: { 'www-authenticate': 'Bearer' } },
    },
  });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCodes.FORBIDDEN, http: { status: 403 } } });
}

/** Throws UNAUTHENTICATED (no credential) or FORBIDDEN (a role below `needed`) unless `principal` may go on. */
export function requireRole(principal: Principal, needed: ApiRole, what: string): void {
  if (principal.role !== null && roleRank[principal.role] >= roleRank[needed]) return;
  if (principal.via === 'anonymous') {
    throw unauthenticated(`${what} needs the role ${needed}: send an API key or a bearer token.`);
  }
  throw forbidden(`${what} needs the role ${needed}; this credential has ${principal.role ?? 'no role'}.`);
}

/** The highest known role named by the `role` (string) or `roles` (array) claim. */
export function roleOfClaims(payload: JWTPayload): ApiRole | null {
  const claimed = [payload['role'], ...(Array.isArray(payload['roles']) ? payload['roles'] : [payload['roles']])];
  let best: ApiRole | null = null;
  for (const value of claimed) {
    if (typeof value !== 'string' || !(value in roleRank)) continue;
    const role = value as ApiRole;
    if (best === null || roleRank[role] > roleRank[best]) best = role;
  }
  return best;
}

function credentialOf(headers: Headers): string | null {
  const apiKey = headers.get('x-api-key');
  if (apiKey) return apiKey.trim();
  const authorization = headers.get('authorization');
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".', 'MALFORMED_AUTHORIZATION');
  return match[1]!;
}

/**
 * Builds the authenticator from the config. Throws EMPSYNC_CONFIG_INVALID in production when no
 * credential source is configured; logs a warning on every start when auth is off.
 */
export function createAuthenticator(config: AuthConfig, logger: Logger): Authenticator {
  const keys = new Map((config.AUTH_API_KEYS ?? []).map(({ key, role }) => [sha256(key), role]));
  const secret = config.AUTH_JWT_SECRET ? new TextEncoder().encode(config.AUTH_JWT_SECRET) : null;
  const jwks = config.AUTH_JWKS_URL ? createRemoteJWKSet(new URL(config.AUTH_JWKS_URL)) : null;
  const enabled = keys.size > 0 || secret !== null || jwks !== null;

  if (!enabled) {
    if (config.NODE_ENV === 'production') {
      throw new EmpsyncError(
        ErrorCodes.CONFIG_INVALID,
        'invalid AUTH_API_KEYS: the API needs credentials when NODE_ENV=production (set AUTH_API_KEYS, AUTH_JWT_SECRET or AUTH_JWKS_URL)',
        { details: { variable: 'AUTH_API_KEYS' } },
      );
    }
    logger.warn(
      'API authentication is OFF: anyone can write and read salaries. Set AUTH_API_KEYS, AUTH_JWT_SECRET or AUTH_JWKS_URL to turn it on.',
    );
    return { enabled, authenticate: async () => ({ via: 'auth-off', role: 'admin', subject: null }) };
  }
  logger.info(
    { apiKeys: keys.size, jwtSecret: secret !== null, jwks: config.AUTH_JWKS_URL ?? null },
    'API authentication is on',
  );

  // Every token expires (exp required), and none lives longer than AUTH_JWT_MAX_TTL_SECONDS from now.
  const claimChecks = {
    requiredClaims: ['exp'],
    ...(config.AUTH_JWT_ISSUER ? { issuer: config.AUTH_JWT_ISSUER } : {}),
    ...(config.AUTH_JWT_AUDIENCE ? { audience: config.AUTH_JWT_AUDIENCE } : {}),
  };
  const maxTtlSeconds = config.AUTH_JWT_MAX_TTL_SECONDS ?? 86_400;

  async function verifyJwt(token: string): Promise<Principal> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthenticated('Unknown API key or malformed token.', 'INVALID_CREDENTIAL');
    }
    try {
      const { payload } =
        alg === 'HS256' && secret
          ? await jwtVerify(token, secret, { ...claimChecks, algorithms: ['HS256'] })
          : jwks && alg !== 'HS256'
            ? await jwtVerify(token, jwks, { ...claimChecks, algorithms: asymmetricAlgorithms })
            : (() => {
                throw unauthenticated(`Tokens signed with ${alg ?? 'no algorithm'} are not accepted.`, 'ALGORITHM_REFUSED');
              })();
      if (payload.exp! - Date.now() / 1000 > maxTtlSeconds) {
        throw unauthenticated(`Tokens valid for more than ${maxTtlSeconds} s are not accepted.`, 'TOKEN_TOO_LONG_LIVED');
      }
      return { via: 'jwt', role: roleOfClaims(payload), subject: payload.sub ?? null, expiresAt: payload.exp! * 1000 };
    } catch (error) {
      if (error instanceof GraphQLError) throw error;
      // A token that does not verify is the caller's problem; a JWKS that cannot be fetched is ours.
      if (error instanceof joseErrors.JOSEError && !(error instanceof joseErrors.JWKSTimeout)) {
        throw unauthenticated('Invalid or expired token.', error.code);
      }
      throw error;
    }
  }

  return {
    enabled,
    async authenticate(headers) {
      const credential = credentialOf(headers);
      if (credential === null) return { via: 'anonymous', role: null, subject: null };
      const digest = sha256(credential);
      const keyRole = keys.get(digest);
      if (keyRole) return { via: 'api-key', role: keyRole, subject: `key:${digest.slice(0, 8)}` };
      if (credential.split('.').length === 3 && (secret || jwks)) return verifyJwt(credential);
      throw unauthenticated('Unknown API key or malformed token.', 'INVALID_CREDENTIAL');
    },
  };
}
