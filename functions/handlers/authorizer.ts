/**
 * The Lambda REQUEST authorizer of the WebSocket API's `$connect` route: every token check
 * of the handshake happens here, once per connection, so no later route has to read who
 * the sender is from DynamoDB.
 *
 * - `Origin` outside `ALLOWED_ORIGINS` (checked before the token is read): a Deny policy,
 *   which API Gateway answers with 403.
 * - no token, or one that fails verification (signature, `alg`, `exp`/`nbf`, `iss`/`aud`,
 *   a `sub` that is no user id): `Error('Unauthorized')`, which API Gateway answers with 401.
 * - any other failure (the key cannot be fetched, say): the error propagates, 500.
 * - a valid token: an Allow policy for this `$connect` method ARN only, and a `context` of
 *   `{ userId, roles (JSON), tokenExpiresAt }` (functions/core/auth/auth.ts `authorizerContext`).
 *
 * API Gateway passes that context, with `principalId`, as `requestContext.authorizer` to
 * the integration of `$connect` and of every later message route and `$disconnect` of the
 * connection: "$context.authorizer.property — the stringified value of the specified
 * key-value pair of the context map returned from an API Gateway Lambda authorizer
 * function" (API Gateway Developer Guide, "WebSocket API mapping template reference"),
 * and "for the Lambda proxy integration, API Gateway passes the context object from a
 * Lambda authorizer directly to the backend Lambda function as part of the input event"
 * ("Output from an API Gateway Lambda authorizer"). Authorizers exist on `$connect` only
 * ("Control access to WebSocket APIs with AWS Lambda REQUEST authorizers").
 *
 * No identity source is configured (lib/function-specs.ts `webSocketAuthorizer`): API
 * Gateway would answer 401 without invoking this function unless every listed source were
 * present, and the token may come from any one of four places. WebSocket authorizers are
 * never cached (`AuthorizerResultTtlInSeconds` is for HTTP APIs only), so nothing is keyed
 * on them either. Tokens are never logged.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import {
  AuthError,
  authorizerContext,
  type ConnectRequest,
  headerValue,
  originAllowed,
  tokenFromConnectRequest,
} from '../core/auth/auth.ts';
import { getServices } from '../runtime/container.ts';
import { log, withLogContext } from '../runtime/logger.ts';
import { countMetric, Metric } from '../runtime/metrics.ts';
import { verifyConfiguredToken } from '../runtime/token-verifier.ts';

/** What API Gateway sends a WebSocket REQUEST authorizer: the `$connect` request and its method ARN. */
export type WebSocketAuthorizerEvent = Pick<APIGatewayRequestAuthorizerEvent, 'type' | 'methodArn'> &
  ConnectRequest & {
    readonly requestContext?: {
      readonly connectionId?: string;
      readonly requestId?: string;
      readonly routeKey?: string;
    };
  };

/** The message of the error API Gateway turns into 401 Unauthorized. */
export const UNAUTHORIZED = 'Unauthorized';

/** Principal of a Deny: there is no verified user to name. */
const ANONYMOUS = 'anonymous';

function policy(
  principalId: string,
  effect: 'Allow' | 'Deny',
  methodArn: string,
): Omit<APIGatewayAuthorizerResult, 'context'> {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      // The method ARN of this very `$connect` (…/{stage}/$connect); an Allow for a wider
      // or different resource would not match it and API Gateway would answer 403.
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
    },
  };
}

export const handler = (event: WebSocketAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const { connectionId, requestId } = event.requestContext ?? {};
  return withLogContext({ routeKey: '$connect', authorizer: true, connectionId, requestId }, () =>
    authorize(event),
  );
};

async function authorize(event: WebSocketAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const { config } = getServices();
  const origin = headerValue(event.headers, 'origin');
  if (!originAllowed(origin, config.allowedOrigins)) {
    log('info', 'connect refused', { reason: 'origin not allowed', origin });
    countMetric(Metric.connectRefused, { Reason: 'origin' });
    return policy(ANONYMOUS, 'Deny', event.methodArn);
  }
  const token = tokenFromConnectRequest(event);
  if (!token) {
    log('info', 'connect refused', { reason: 'no token' });
    countMetric(Metric.connectRefused, { Reason: 'token' });
    throw new Error(UNAUTHORIZED);
  }
  let identity: Awaited<ReturnType<typeof verifyConfiguredToken>>;
  try {
    identity = await verifyConfiguredToken(token);
  } catch (error) {
    if (!(error instanceof AuthError)) {
      log('error', 'token verification failed', { error });
      throw error;
    }
    // jose's messages name the failed check and never echo the token.
    log('info', 'connect refused', { reason: error.message });
    countMetric(Metric.connectRefused, { Reason: 'token' });
    throw new Error(UNAUTHORIZED);
  }
  log('info', 'connect authorized', { userId: identity.userId });
  return { ...policy(identity.userId, 'Allow', event.methodArn), context: authorizerContext(identity) };
}
