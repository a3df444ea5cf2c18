/**
 * Amazon Cognito user pool tokens, verified the way Cognito's developer guide asks:
 * RS256 signature by a key of the pool's JWKS (chosen by `kid`), `iss` exactly the pool's
 * (either of its two issuer forms),
 * `exp`, `token_use` one the deployment accepts, and the app client: `aud` of an ID token,
 * `client_id` of an access token (which has no `aud`). Roles come from `cognito:groups`
 * only; `role`/`roles` claims (a pre token generation trigger could add them) are ignored.
 */
import { decodeJwt, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import {
  ADMIN_ROLE,
  AuthError,
  type Identity,
  identityFromClaims,
  type JwksCacheOptions,
  jwksKey,
} from './auth.ts';
import { DEFAULT_CLOCK_TOLERANCE_SECONDS } from './token-expiry.ts';

export const COGNITO_TOKEN_USES = ['access', 'id', 'any'] as const;
/** Which Cognito tokens are accepted: `access`, `id`, or `any` (both). */
export type CognitoTokenUseSetting = (typeof COGNITO_TOKEN_USES)[number];

export interface CognitoIssuer {
  readonly iss: string;
  /** `<iss>/.well-known/jwks.json`, or the local override. */
  readonly jwksUrl: string;
}

export interface CognitoSettings {
  readonly userPoolId: string;
  /** The `iss` values of the pool's tokens, compared exactly, each with its JWKS. */
  readonly issuers: readonly CognitoIssuer[];
  /** App client ids: `aud` of an ID token or `client_id` of an access token must be one of them. */
  readonly clientIds: readonly string[];
  readonly tokenUse: CognitoTokenUseSetting;
  /** Members of this group get the admin role. */
  readonly adminGroup: string;
}

/** Cognito signs user pool tokens with RS256 only. */
export const COGNITO_ALGORITHMS = ['RS256'];

/** `us-east-1_AbC123`: the region, an underscore, letters and digits. */
const USER_POOL_ID = /^([a-z]{2}(?:-[a-z]+)+-\d{1,2})_[0-9A-Za-z]{1,50}$/;

/** App client ids as Cognito's API defines them: 1-128 word characters or `+`. */
export const COGNITO_CLIENT_ID = /^[\w+]{1,128}$/;

/** The region a pool id names, or undefined when it is not a pool id. */
export function userPoolRegion(userPoolId: string): string | undefined {
  return USER_POOL_ID.exec(userPoolId)?.[1];
}

/**
 * The pool's issuers: the original `https://cognito-idp.<region>.amazonaws.com/<pool id>`
 * and the `issuer-cognito-idp.` form a pool gets with the UPDATED issuer configuration.
 * Both name this pool and only it, so tokens of either are accepted, each verified with
 * the keys published under its own issuer (or `localJwksUrl`, for tests and local runs).
 */
export function cognitoIssuers(userPoolId: string, localJwksUrl?: string): CognitoIssuer[] {
  const region = userPoolRegion(userPoolId);
  if (!region) throw new Error(`"${userPoolId}" is not a Cognito user pool id (region_id).`);
  // The partition's DNS suffix: amazonaws.com.cn in the China regions.
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return ['cognito-idp', 'issuer-cognito-idp'].map((host) => {
    const iss = `https://${host}.${region}.${domain}/${userPoolId}`;
    return { iss, jwksUrl: localJwksUrl ?? `${iss}/.well-known/jwks.json` };
  });
}

/** The key set of each issuer, cached per container (see JWKS_CACHE_DEFAULTS). */
export type CognitoKeys = ReadonlyMap<string, JWTVerifyGetKey>;

export function cognitoKeys(settings: CognitoSettings, options: JwksCacheOptions = {}): CognitoKeys {
  const byUrl = new Map<string, JWTVerifyGetKey>();
  const byIssuer = new Map<string, JWTVerifyGetKey>();
  for (const { iss, jwksUrl } of settings.issuers) {
    let keys = byUrl.get(jwksUrl);
    if (!keys) {
      const key = jwksKey(jwksUrl, options);
      if (key.kind !== 'jwks') throw new Error('unreachable: jwksKey returns a key set');
      keys = key.keys;
      byUrl.set(jwksUrl, keys);
    }
    byIssuer.set(iss, keys);
  }
  return byIssuer;
}

/**
 * Cognito names the signing key in every token; without a `kid` a JWKS holding several
 * keys (as Cognito's does) would leave the choice to the token, so none is refused early.
 */
function requireKid(keys: JWTVerifyGetKey): JWTVerifyGetKey {
  return (header, token) => {
    if (typeof header.kid !== 'string' || header.kid === '') {
      throw new AuthError('token header has no kid');
    }
    return keys(header, token);
  };
}

export async function verifyCognitoToken(
  token: string,
  keys: CognitoKeys,
  settings: CognitoSettings,
  clockToleranceSeconds = DEFAULT_CLOCK_TOLERANCE_SECONDS,
): Promise<Identity> {
  // The key set is chosen by the claimed `iss`, among the pool's own issuers only;
  // jwtVerify then checks the signature and compares `iss` again.
  const issuerKeys = keysOfClaimedIssuer(token, keys);
  let payload: JWTPayload;
  try {
    const result = await jwtVerify(token, requireKid(issuerKeys), {
      algorithms: COGNITO_ALGORITHMS,
      issuer: [...keys.keys()],
      clockTolerance: clockToleranceSeconds,
      requiredClaims: ['sub', 'exp', 'token_use'],
    });
    payload = result.payload;
  } catch (error) {
    if (error instanceof AuthError) throw error;
    // jose's messages name the failed check and never echo the token.
    throw new AuthError(error instanceof Error ? error.message : 'token rejected');
  }
  checkTokenUseAndClient(payload, settings);
  return identityFromClaims(payload, rolesOfGroups(payload, settings.adminGroup));
}

function keysOfClaimedIssuer(token: string, keys: CognitoKeys): JWTVerifyGetKey {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch (error) {
    throw new AuthError(error instanceof Error ? error.message : 'token is not a JWT');
  }
  const issuerKeys = typeof iss === 'string' ? keys.get(iss) : undefined;
  if (!issuerKeys) throw new AuthError('unexpected "iss" claim value: not this user pool');
  return issuerKeys;
}

function checkTokenUseAndClient(payload: JWTPayload, settings: CognitoSettings): void {
  const tokenUse = payload.token_use;
  if (tokenUse !== 'id' && tokenUse !== 'access') {
    throw new AuthError('token_use is neither "id" nor "access"');
  }
  if (settings.tokenUse !== 'any' && tokenUse !== settings.tokenUse) {
    throw new AuthError(`${tokenUse} tokens are not accepted here (${settings.tokenUse} tokens are)`);
  }
  // An ID token names its app client in `aud`, an access token in `client_id`.
  const claim = tokenUse === 'id' ? 'aud' : 'client_id';
  const clientId = payload[claim];
  if (typeof clientId !== 'string') throw new AuthError(`${tokenUse} token has no ${claim}`);
  if (!settings.clientIds.includes(clientId)) {
    throw new AuthError(`${tokenUse} token ${claim} is not an accepted app client`);
  }
}

/**
 * `cognito:groups` as roles: members of the admin group get the admin role, the only role
 * the backend checks. Other groups are not carried: they would mean nothing here, and a
 * user in many groups would overflow the authorizer's 8 KB result and fail the handshake.
 */
export function rolesOfGroups(payload: JWTPayload, adminGroup: string): string[] {
  const groups = payload['cognito:groups'];
  if (groups === undefined) return [];
  if (!Array.isArray(groups) || !groups.every((group) => typeof group === 'string')) {
    throw new AuthError('cognito:groups is not a list of group names');
  }
  return groups.includes(adminGroup) ? [ADMIN_ROLE] : [];
}
