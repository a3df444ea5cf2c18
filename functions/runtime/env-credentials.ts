/**
 * The AWS SDK's default credential provider in the Lambda bundles only: the bundling
 * (lib/constructs/chat-function.ts, `LAMBDA_BUNDLE_ALIASES`) substitutes this module for
 * `@aws-sdk/credential-provider-node`, which every SDK client imports for its default.
 *
 * Lambda hands a function its execution role's credentials in the environment
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), where the SDK's
 * default chain looks first, so in Lambda the chain ends there. Its other links (SSO,
 * shared config files, `credential_process`, web identity, container and instance
 * metadata) find nothing in Lambda, yet bring the STS and SSO clients and their providers,
 * about 120 KB of minified code that Node would parse on every cold start.
 *
 * The local runtime and the tests import the TypeScript sources, not the bundles: there
 * the SDK's full default chain applies (e.g. a profile for an external DynamoDB).
 */

/** What the SDK expects from a credential provider (`AwsCredentialIdentity`). */
export interface EnvironmentCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
  readonly credentialScope?: string;
  readonly accountId?: string;
}

/**
 * The SDK calls this with the client's configuration and uses the returned provider
 * whenever a client is built without `credentials`.
 */
export function defaultProvider(_init?: unknown): () => Promise<EnvironmentCredentials> {
  return async () => credentialsFromEnvironment(process.env);
}

/** The standard credential variables; an error naming them when the key pair is missing. */
export function credentialsFromEnvironment(env: NodeJS.ProcessEnv): EnvironmentCredentials {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(
      'No AWS credentials: this bundle reads them from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ' +
        '(and AWS_SESSION_TOKEN), which Lambda sets from the execution role.',
    );
  }
  const { AWS_SESSION_TOKEN, AWS_CREDENTIAL_EXPIRATION, AWS_CREDENTIAL_SCOPE, AWS_ACCOUNT_ID } = env;
  return {
    accessKeyId,
    secretAccessKey,
    ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}),
    ...(AWS_CREDENTIAL_EXPIRATION ? { expiration: new Date(AWS_CREDENTIAL_EXPIRATION) } : {}),
    ...(AWS_CREDENTIAL_SCOPE ? { credentialScope: AWS_CREDENTIAL_SCOPE } : {}),
    ...(AWS_ACCOUNT_ID ? { accountId: AWS_ACCOUNT_ID } : {}),
  };
}
