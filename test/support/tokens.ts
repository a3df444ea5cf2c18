/**
 * Tokens with exactly the claims a test wants — including the ones `mintToken` never
 * makes (expired, no `sub`, no `exp`, another algorithm, unsigned) — to probe what the
 * backend refuses.
 */
import { type JWTPayload, SignJWT } from 'jose';

const nowSeconds = () => Math.floor(Date.now() / 1000);

export interface SignOptions {
  readonly secret: string;
  /** Default HS256. */
  readonly alg?: 'HS256' | 'HS384' | 'HS512';
}

/** Signs `claims` as they are (no defaults added). */
export function signClaims(claims: JWTPayload, { secret, alg = 'HS256' }: SignOptions): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

/** The claims of an ordinary token for `userId`, valid for an hour; spread and override. */
export function claimsFor(userId: string, extra: JWTPayload = {}): JWTPayload {
  const iat = nowSeconds();
  return { sub: userId, iat, exp: iat + 3600, ...extra };
}

/** An `alg: none` token: header and payload, an empty signature. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** Seconds since the epoch, `offsetSeconds` from now. */
export function epochSecondsFromNow(offsetSeconds: number): number {
  return nowSeconds() + offsetSeconds;
}
