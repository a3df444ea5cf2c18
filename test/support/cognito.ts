/**
 * A stand-in for an Amazon Cognito user pool in tests: a JWKS served over HTTP on a free
 * loopback port (what `<issuer>/.well-known/jwks.json` serves: RSA keys with `kid`,
 * `alg: RS256`, `use: sig`) and ID and access tokens shaped like the pool's, claim for
 * claim, signed with those keys. Nothing here talks to AWS.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

export const TEST_USER_POOL_ID = 'us-east-1_TeStPoOl1';
export const TEST_ISSUER = `https://cognito-idp.us-east-1.amazonaws.com/${TEST_USER_POOL_ID}`;
/** The issuer of a pool with the UPDATED issuer configuration. */
export const TEST_UPDATED_ISSUER = `https://issuer-cognito-idp.us-east-1.amazonaws.com/${TEST_USER_POOL_ID}`;
export const TEST_CLIENT_ID = '3n4b5urk1ft4fl3mg5e62d9ado';
export const OTHER_CLIENT_ID = '7h1sc11en7w4sn0tc0nf1gur3d';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: PrivateKey;
  /** The public half as the JWKS lists it. */
  readonly jwk: JWK;
}

export async function rsaSigningKey(kid: string = randomUUID()): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

export interface LocalJwks {
  /** `http://127.0.0.1:<port>/<pool id>/.well-known/jwks.json` */
  readonly url: string;
  /** The keys served (two, as a Cognito pool has); tokens are signed with the first. */
  readonly keys: readonly SigningKey[];
  close(): Promise<void>;
}

export async function startLocalJwks(): Promise<LocalJwks> {
  const keys = [await rsaSigningKey(), await rsaSigningKey()];
  const body = JSON.stringify({ keys: keys.map((key) => key.jwk) });
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${TEST_USER_POOL_ID}/.well-known/jwks.json`,
    keys,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface CognitoTokenOptions {
  readonly sub?: string;
  readonly username?: string;
  readonly groups?: readonly string[];
  readonly clientId?: string;
  readonly issuer?: string;
  /** Seconds from now; negative for an expired token. @default 3600 */
  readonly expiresIn?: number;
  /** Claims to add, replace, or remove (value `undefined`). */
  readonly claims?: JWTPayload;
  /** Header fields to replace or remove (`kid: undefined`). */
  readonly header?: { readonly kid?: string | undefined };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function commonClaims(options: CognitoTokenOptions): JWTPayload {
  const iat = nowSeconds();
  return {
    sub: options.sub ?? randomUUID(),
    ...(options.groups ? { 'cognito:groups': [...options.groups] } : {}),
    iss: options.issuer ?? TEST_ISSUER,
    origin_jti: randomUUID(),
    event_id: randomUUID(),
    auth_time: iat,
    exp: iat + (options.expiresIn ?? 3600),
    iat,
    jti: randomUUID(),
  };
}

/** An access token as Cognito issues it after a user signs in: `client_id`, no `aud`. */
export function cognitoAccessTokenClaims(options: CognitoTokenOptions = {}): JWTPayload {
  return withOverrides(
    {
      ...commonClaims(options),
      client_id: options.clientId ?? TEST_CLIENT_ID,
      token_use: 'access',
      scope: 'aws.cognito.signin.user.admin',
      version: 2,
      username: options.username ?? 'ann',
    },
    options.claims,
  );
}

/** An ID token as Cognito issues it: `aud` = the app client id, `cognito:username`. */
export function cognitoIdTokenClaims(options: CognitoTokenOptions = {}): JWTPayload {
  return withOverrides(
    {
      ...commonClaims(options),
      aud: options.clientId ?? TEST_CLIENT_ID,
      token_use: 'id',
      'cognito:username': options.username ?? 'ann',
      email: `${options.username ?? 'ann'}@example.com`,
      email_verified: true,
    },
    options.claims,
  );
}

function withOverrides(claims: JWTPayload, overrides: JWTPayload = {}): JWTPayload {
  const merged: Record<string, unknown> = { ...claims, ...overrides };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return merged;
}

/** Signs like Cognito: RS256, a header of `kid` and `alg` only. */
export function signCognitoToken(
  claims: JWTPayload,
  key: SigningKey,
  header: CognitoTokenOptions['header'] = {},
): Promise<string> {
  const kid = 'kid' in header ? header.kid : key.kid;
  return new SignJWT(claims)
    .setProtectedHeader({ ...(kid === undefined ? {} : { kid }), alg: 'RS256' })
    .sign(key.privateKey);
}

export function cognitoAccessToken(key: SigningKey, options: CognitoTokenOptions = {}): Promise<string> {
  return signCognitoToken(cognitoAccessTokenClaims(options), key, options.header);
}

export function cognitoIdToken(key: SigningKey, options: CognitoTokenOptions = {}): Promise<string> {
  return signCognitoToken(cognitoIdTokenClaims(options), key, options.header);
}

/** The environment that points the handlers at the test pool and its local JWKS. */
export function cognitoEnvironment(
  jwks: LocalJwks,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    COGNITO_USER_POOL_ID: TEST_USER_POOL_ID,
    COGNITO_CLIENT_IDS: TEST_CLIENT_ID,
    COGNITO_JWKS_URL: jwks.url,
    ...extra,
  };
}
