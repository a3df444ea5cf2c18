/**
 * JWT verification in the `$connect` authorizer and on the HTTP API. HS256 with a shared
 * secret (from the environment or Secrets Manager) or asymmetric keys from a JWKS URL.
 * The algorithm list is pinned, so `alg: none` and algorithm confusion are refused.
 * Also: the identity the authorizer hands API Gateway (`authorizerContext`) and reading it
 * back from `requestContext.authorizer` on every later event (`identityFromAuthorizer`).
 */
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { isValidUserId } from '../shared/ids.ts';
import { DEFAULT_CLOCK_TOLERANCE_SECONDS } from './token-expiry.ts';

export { DEFAULT_CLOCK_TOLERANCE_SECONDS, tokenExpired } from './token-expiry.ts';

export interface Identity {
  readonly userId: string;
  readonly roles: readonly string[];
  /** The token's `exp`, epoch seconds. */
  readonly expiresAt: number;
}

export class AuthError extends Error {
  override name = 'AuthError';
}

export type VerificationKey =
  | { readonly kind: 'secret'; readonly secret: Uint8Array }
  | { readonly kind: 'jwks'; readonly keys: JWTVerifyGetKey };

export interface TokenVerifierOptions {
  readonly issuer?: string;
  readonly audience?: string;
  /** Seconds of clock skew tolerated on `exp`/`nbf`. @default 30 */
  readonly clockToleranceSeconds?: number;
}

/** Pinned: a token's `alg` header outside the list for the key kind is refused. */
export const HMAC_ALGORITHMS = ['HS256'];
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];

function rolesOf(payload: JWTPayload): string[] {
  const roles = new Set<string>();
  if (typeof payload.role === 'string') roles.add(payload.role);
  if (Array.isArray(payload.roles)) {
    for (const role of payload.roles) if (typeof role === 'string') roles.add(role);
  }
  return [...roles];
}

export function secretKey(secret: string): VerificationKey {
  return { kind: 'secret', secret: new TextEncoder().encode(secret) };
}

/**
 * JWKS caching, per container. A token whose `kid` is not in the cached set triggers a
 * refetch (key rotation: a new key works without a restart), at most once per cooldown so
 * forged `kid`s cannot make us hammer the IdP. The cached set is refetched after
 * `cacheMaxAge` anyway, so a key removed from the JWKS stops being accepted within that
 * time (at once if a rotation refetch happened since).
 */
export const JWKS_CACHE_DEFAULTS = {
  /** At most one refetch per 30 s. */
  cooldownDuration: 30_000,
  /** A fetched set is used for at most 10 minutes. */
  cacheMaxAge: 600_000,
  /** The IdP must answer within 5 s. */
  timeoutDuration: 5_000,
} as const;

export interface JwksCacheOptions {
  readonly cooldownDuration?: number;
  readonly cacheMaxAge?: number;
  readonly timeoutDuration?: number;
}

export function jwksKey(url: string, options: JwksCacheOptions = {}): VerificationKey {
  return { kind: 'jwks', keys: createRemoteJWKSet(new URL(url), { ...JWKS_CACHE_DEFAULTS, ...options }) };
}

export async function verifyToken(
  token: string,
  key: VerificationKey,
  options: TokenVerifierOptions = {},
): Promise<Identity> {
  let payload: JWTPayload;
  try {
    const verifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['sub', 'exp'],
    };
    const result =
      key.kind === 'secret'
        ? await jwtVerify(token, key.secret, { ...verifyOptions, algorithms: HMAC_ALGORITHMS })
        : await jwtVerify(token, key.keys, { ...verifyOptions, algorithms: ASYMMETRIC_ALGORITHMS });
    payload = result.payload;
  } catch (error) {
    // jose's messages name the failed check (expired, signature, claim) and never echo the token.
    throw new AuthError(error instanceof Error ? error.message : 'token rejected');
  }
  return identityFromClaims(payload, rolesOf(payload));
}

/**
 * The identity of a verified token's claims, with `roles` taken from wherever the issuer
 * puts them (`role`/`roles`, or Cognito's groups); throws AuthError when `sub`, a role or
 * `exp` cannot be carried safely.
 */
export function identityFromClaims(payload: JWTPayload, roles: readonly string[]): Identity {
  const userId = payload.sub;
  if (typeof userId !== 'string' || !isValidUserId(userId) || LONE_SURROGATE.test(userId)) {
    throw new AuthError('token subject is not a valid user id');
  }
  if (roles.some((role) => LONE_SURROGATE.test(role))) {
    throw new AuthError('token roles are not well-formed UTF-16');
  }
  const expiresAt = payload.exp;
  // What the authorizer context can carry back (`epochSecondsFromContext`): one rule for
  // WebSocket and HTTP, so no token is accepted on one and refused on the other.
  if (!Number.isSafeInteger(expiresAt) || (expiresAt as number) > MAX_EXP) {
    throw new AuthError('token exp is not whole epoch seconds of at most 12 digits');
  }
  return { userId, roles: [...roles], expiresAt: expiresAt as number };
}

/**
 * Lone surrogates (ill-formed UTF-16) in a claim: DynamoDB stores UTF-8 and would turn them
 * into U+FFFD, so `"sg\ud800"` and `"sg\ufffd"` would be one user. Refused, as in bodies.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** The largest `exp` accepted: 12 digits of epoch seconds (the year 33658). */
const MAX_EXP = 999_999_999_999;

export const ADMIN_ROLE = 'admin';

export function isAdmin(roles: readonly string[]): boolean {
  return roles.includes(ADMIN_ROLE);
}

type HeaderMap = Readonly<Record<string, string | undefined>> | null | undefined;

function header(headers: HeaderMap, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

export interface ConnectRequest {
  readonly headers?: HeaderMap;
  readonly queryStringParameters?: HeaderMap;
}

/** Subprotocols the client offered (`Sec-WebSocket-Protocol`, comma-separated). */
export function offeredSubprotocols(headers: HeaderMap): string[] {
  const raw = header(headers, 'sec-websocket-protocol');
  return raw
    ? raw
        .split(',')
        .map((value) => value.trim())
        .filter(Boolean)
    : [];
}

export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';
export const CHAT_SUBPROTOCOL = 'chat';

/** The token from `?token=`, `Authorization: Bearer`, the legacy `websocket` header, or `bearer.<jwt>` subprotocol. */
export function tokenFromConnectRequest(request: ConnectRequest): string | undefined {
  const fromQuery = request.queryStringParameters?.token;
  if (fromQuery) return fromQuery;
  const fromAuthorization = bearerToken(header(request.headers, 'authorization'));
  if (fromAuthorization) return fromAuthorization;
  const legacy = header(request.headers, 'websocket')?.trim();
  if (legacy) return legacy;
  const subprotocol = offeredSubprotocols(request.headers).find((value) =>
    value.startsWith(BEARER_SUBPROTOCOL_PREFIX),
  );
  return subprotocol ? subprotocol.slice(BEARER_SUBPROTOCOL_PREFIX.length) : undefined;
}

export function bearerToken(authorization: string | undefined): string | undefined {
  const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

export { header as headerValue };

/**
 * `ALLOWED_ORIGINS`: a handshake whose `Origin` is present and not listed is refused.
 * Non-browser clients send no Origin and are let through: the check stops other web
 * sites from connecting with a user's token, the token itself authenticates everyone.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[] | undefined): boolean {
  if (!allowed || origin === undefined) return true;
  const normalized = origin.trim().replace(/\/+$/, '').toLowerCase();
  return allowed.some((entry) => entry.toLowerCase() === normalized);
}

/**
 * The `context` map the `$connect` authorizer returns. API Gateway allows only string,
 * number and boolean values there (no arrays or objects) and hands the map to the
 * integration of `$connect`, of every later route and of `$disconnect` of the connection
 * as `requestContext.authorizer`, numbers and booleans turned into strings, next to
 * `principalId` (and `integrationLatency`). So every value is a string already: roles as
 * a JSON array, the token's `exp` as decimal epoch seconds.
 */
export interface AuthorizerContext {
  readonly userId: string;
  /** JSON array of role names. */
  readonly roles: string;
  /** The token's `exp`, epoch seconds, in decimal. */
  readonly tokenExpiresAt: string;
  // API Gateway's context map type: string, number or boolean values.
  readonly [key: string]: string;
}

export function authorizerContext(identity: Identity): AuthorizerContext {
  return {
    userId: identity.userId,
    roles: JSON.stringify(identity.roles),
    tokenExpiresAt: String(identity.expiresAt),
  };
}

function rolesFromContext(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.every((role) => typeof role === 'string') ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[')) {
    try {
      return rolesFromContext(JSON.parse(trimmed) as unknown);
    } catch {
      return undefined;
    }
  }
  // A comma-separated list (an authorizer that does not use JSON).
  return trimmed
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
}

function epochSecondsFromContext(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !/^\d{1,12}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/**
 * The identity in an event's `requestContext.authorizer`, as `authorizerContext` wrote it
 * (values may arrive as strings or as their original types); undefined when it is missing
 * or malformed, which callers must treat as unauthenticated. Never read from a body.
 */
export function identityFromAuthorizer(authorizer: unknown): Identity | undefined {
  if (typeof authorizer !== 'object' || authorizer === null) return undefined;
  const fields = authorizer as Record<string, unknown>;
  const userId = fields.userId;
  if (typeof userId !== 'string' || !isValidUserId(userId)) return undefined;
  // principalId is what API Gateway itself records for the connection; it must agree.
  if (fields.principalId !== undefined && fields.principalId !== userId) return undefined;
  const roles = rolesFromContext(fields.roles);
  const expiresAt = epochSecondsFromContext(fields.tokenExpiresAt);
  if (!roles || expiresAt === undefined) return undefined;
  return { userId, roles, expiresAt };
}
