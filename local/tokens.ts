/**
 * Development tokens: HS256 JWTs the local runtime's `$connect` accepts. Used by
 * `npm run token`, the startup banner and the tests.
 */
import { SignJWT } from 'jose';
import { DEVELOPMENT_JWT_SECRET } from './dev-secret.ts';

export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

export interface MintTokenOptions {
  /** `role` claim, e.g. `admin`. */
  readonly role?: string;
  readonly ttlSeconds?: number;
  /** Default: JWT_SECRET, else the development secret. */
  readonly secret?: string;
  /** Default: JWT_ISSUER / JWT_AUDIENCE when set (the runtime enforces them then). */
  readonly issuer?: string;
  readonly audience?: string;
}

function fromEnv(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

export function signingSecret(): string {
  return fromEnv('JWT_SECRET') ?? DEVELOPMENT_JWT_SECRET;
}

export async function mintToken(userId: string, options: MintTokenOptions = {}): Promise<string> {
  if (!userId.trim()) throw new Error('A user id is required.');
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    throw new Error('The TTL must be a positive integer.');
  const issuer = options.issuer ?? fromEnv('JWT_ISSUER');
  const audience = options.audience ?? fromEnv('JWT_AUDIENCE');
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT(options.role ? { role: options.role } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds);
  if (issuer) jwt = jwt.setIssuer(issuer);
  if (audience) jwt = jwt.setAudience(audience);
  return jwt.sign(new TextEncoder().encode(options.secret ?? signingSecret()));
}
