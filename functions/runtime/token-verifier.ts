/**
 * Token verification for the functions that need it ($connect, the HTTP API), kept out
 * of the shared container so other bundles do not carry the Secrets Manager client. Those
 * that do import it (`import()`) only with JWT_SECRET_ID, so a cold start with another key
 * source does not evaluate it.
 */
import { type Identity, jwksKey, secretKey, type VerificationKey, verifyToken } from '../core/auth/auth.ts';
import { type CognitoKeys, cognitoKeys, verifyCognitoToken } from '../core/auth/cognito.ts';
import { type ChatConfig, ConfigError } from './config.ts';
import { getServices } from './container.ts';
import { traced } from './tracing.ts';

let key: Promise<VerificationKey> | undefined;
/** Built once per container: jose's remote key sets cache the keys they fetch. */
let poolKeys: CognitoKeys | undefined;

/** The key is fetched (Secrets Manager) or built (JWKS, which caches keys) once per container. */
function verificationKey(config: ChatConfig): Promise<VerificationKey> {
  key ??= resolveKey(config).catch((error: unknown) => {
    key = undefined; // a failed fetch is retried by the next invocation
    throw error;
  });
  return key;
}

async function resolveKey(config: ChatConfig): Promise<VerificationKey> {
  const source = config.jwt.key;
  if (!source) {
    throw new ConfigError(
      'No JWT key configured: set JWT_SECRET, JWT_SECRET_ID, JWKS_URL or COGNITO_USER_POOL_ID.',
    );
  }
  if (source.kind === 'secret') return secretKey(source.secret);
  if (source.kind === 'jwks') return jwksKey(source.url);
  if (source.kind === 'cognito') throw new ConfigError('Cognito keys are resolved per issuer (cognitoKeys).');
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const client = traced(new SecretsManagerClient({ endpoint: config.secretsManagerEndpoint }));
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: source.secretId }));
  if (!SecretString) throw new ConfigError(`Secret ${source.secretId} has no SecretString.`);
  return secretKey(secretFromString(SecretString));
}

/** A plain string, or JSON with a `secret` field. */
export function secretFromString(value: string): string {
  if (value.trimStart().startsWith('{')) {
    const parsed = JSON.parse(value) as { secret?: unknown };
    if (typeof parsed.secret === 'string' && parsed.secret) return parsed.secret;
    throw new ConfigError('The JWT secret is JSON without a "secret" field.');
  }
  return value;
}

/**
 * Verifies a token with the configured key, issuer and audience (or as a Cognito user pool
 * token); throws AuthError when it is refused.
 */
export async function verifyConfiguredToken(token: string): Promise<Identity> {
  const { config } = getServices();
  const source = config.jwt.key;
  if (source?.kind === 'cognito') {
    poolKeys ??= cognitoKeys(source.cognito);
    return verifyCognitoToken(token, poolKeys, source.cognito, config.jwt.clockToleranceSeconds);
  }
  return verifyToken(token, await verificationKey(config), {
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    clockToleranceSeconds: config.jwt.clockToleranceSeconds,
  });
}
