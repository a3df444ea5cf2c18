import { Token } from 'aws-cdk-lib';
import type * as cognito from 'aws-cdk-lib/aws-cognito';

/** Which Cognito tokens are accepted. */
export type CognitoTokenUse = 'access' | 'id' | 'any';

/**
 * Sign-in with an Amazon Cognito user pool: the functions that verify tokens accept the
 * pool's tokens issued to these app clients (signature from the pool's JWKS, `iss`,
 * `exp`, `token_use`, and `aud` of an ID token or `client_id` of an access token), and
 * `cognito:groups` become roles. Read by functions/runtime/config.ts as `COGNITO_*`.
 */
export interface CognitoSignInOptions {
  /**
   * The user pool, or its id (`us-east-1_AbCdEf123`, e.g. from context). The pool may be
   * in another region: the id names it.
   */
  readonly userPool: cognito.IUserPool | string;

  /** The app clients whose tokens are accepted, or their ids. At least one. */
  readonly clients: readonly (cognito.IUserPoolClient | string)[];

  /**
   * Which tokens are accepted: `access` tokens (meant for APIs), `id` tokens, or `any`.
   *
   * @default 'access'
   */
  readonly tokenUse?: CognitoTokenUse;

  /**
   * The pool group whose members get the admin role (broadcast, notify, the admin-only
   * lists). Other groups give no role.
   *
   * @default 'admin'
   */
  readonly adminGroup?: string;
}

const USER_POOL_ID = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}_[0-9A-Za-z]{1,50}$/;
const CLIENT_ID = /^[\w+]{1,128}$/;
const TOKEN_USES = ['access', 'id', 'any'];

function idOf(value: cognito.IUserPool | cognito.IUserPoolClient | string): string {
  if (typeof value === 'string') return value.trim();
  return 'userPoolClientId' in value ? value.userPoolClientId : value.userPoolId;
}

/** Tokens (e.g. a pool of this app) are only known at deploy time: check literals only. */
const literal = (value: string): boolean => !Token.isUnresolved(value);

/**
 * The `COGNITO_*` variables of the functions that verify tokens; throws an error naming
 * what was received and what to pass.
 */
export function cognitoEnvironment(options: CognitoSignInOptions): Record<string, string> {
  const userPoolId = idOf(options.userPool);
  if (literal(userPoolId) && !USER_POOL_ID.test(userPoolId)) {
    throw new Error(
      `cognito.userPool must be a user pool or its id, such as us-east-1_AbCdEf123; received "${userPoolId}" ` +
        '(context: -c cognitoUserPoolId=...).',
    );
  }
  const clientIds = options.clients.map(idOf).filter((id) => id !== '');
  if (clientIds.length === 0) {
    throw new Error(
      'cognito.clients is empty: pass the app clients (or their ids) whose tokens are accepted ' +
        '(context: -c cognitoClientIds=id1,id2).',
    );
  }
  const badClientId = clientIds.find((id) => literal(id) && !CLIENT_ID.test(id));
  if (badClientId !== undefined) {
    throw new Error(
      `cognito.clients holds "${badClientId}", which is not an app client id (1-128 letters, digits, _ or +).`,
    );
  }
  const tokenUse = options.tokenUse ?? 'access';
  if (!TOKEN_USES.includes(tokenUse)) {
    throw new Error(
      `cognito.tokenUse must be one of ${TOKEN_USES.join(', ')}; received "${tokenUse}" (context: -c cognitoTokenUse=...).`,
    );
  }
  if (options.adminGroup !== undefined && options.adminGroup.trim() === '') {
    throw new Error('cognito.adminGroup is empty; omit it for "admin" or name the pool group of admins.');
  }
  return {
    COGNITO_USER_POOL_ID: userPoolId,
    COGNITO_CLIENT_IDS: clientIds.join(','),
    COGNITO_TOKEN_USE: tokenUse,
    COGNITO_ADMIN_GROUP: options.adminGroup?.trim() ?? 'admin',
  };
}
