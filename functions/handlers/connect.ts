/**
 * `$connect`: register the connection and schedule the welcome push. The token was
 * verified, and the `Origin` checked, by the `$connect` authorizer (authorizer.ts) before
 * this runs: the identity comes from `requestContext.authorizer`, never from the request.
 * API Gateway refuses posts until this returns, so the welcome is sent by the `welcome`
 * function, invoked asynchronously.
 * A user's first connection pushes `presence` `online` to their online peers (never to
 * this connection, which cannot be posted to yet). With `SESSION_MODE=single`, the user's
 * older connections are then kicked and closed.
 * Refusals: 401 when the event carries no valid authorizer context (the authorizer is not
 * attached: nothing is trusted then), 429 beyond `MAX_CONNECTIONS_PER_USER`; neither leaves
 * anything written. (403 for a refused `Origin` and 401 for a bad token come from the
 * authorizer, before this function is invoked.)
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import {
  CHAT_SUBPROTOCOL,
  type ConnectRequest,
  identityFromAuthorizer,
  offeredSubprotocols,
} from '../core/auth/auth.ts';
import { withAppEvents } from '../runtime/app-events.ts';
import { callbackUrlFor, getServices } from '../runtime/container.ts';
import { log, withLogContext } from '../runtime/logger.ts';
import { countMetric, Metric } from '../runtime/metrics.ts';
import { traced } from '../runtime/tracing.ts';
import type { WebSocketResult } from '../runtime/websocket.ts';
import type { WelcomeRequest } from './welcome.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export type ConnectEvent = APIGatewayProxyWebsocketEventV2 &
  ConnectRequest & { readonly requestContext: { readonly authorizer?: unknown } };

const unauthorized: WebSocketResult = { statusCode: 401, body: 'Unauthorized' };
const tooManyConnections: WebSocketResult = { statusCode: 429, body: 'Too many connections' };

export const handler = (event: ConnectEvent): Promise<WebSocketResult> => {
  const { connectionId, routeKey, requestId } = event.requestContext;
  return withLogContext({ routeKey, connectionId, requestId }, () => withAppEvents(() => connect(event)));
};

async function connect(event: ConnectEvent): Promise<WebSocketResult> {
  const { connectionId } = event.requestContext;
  /** Set once registration starts: a failure after it must undo it (see rollBack). */
  let registration: { userId: string; callbackUrl: string } | undefined;
  try {
    const services = getServices();
    const identity = identityFromAuthorizer(event.requestContext.authorizer);
    if (!identity) {
      log('error', 'connect refused: no valid authorizer context (is the authorizer attached to $connect?)', {
        connectionId,
      });
      countMetric(Metric.connectRefused, { Reason: 'token' });
      return unauthorized;
    }
    const callbackUrl = callbackUrlFor(event.requestContext);
    registration = { userId: identity.userId, callbackUrl };
    // The limit is part of the presence write (see ConnectionRegistry.open): refusing costs
    // a constant number of requests however many handshakes race.
    const record = await services
      .presenceRegistry(callbackUrl)
      .open(connectionId, identity, connectionLimit(services));
    if (!record) {
      registration = undefined;
      log('info', 'connect refused', { connectionId, userId: identity.userId, reason: 'connection limit' });
      countMetric(Metric.connectRefused, { Reason: 'limit' });
      return tooManyConnections;
    }
    if (services.config.sessionMode === 'single') {
      const { connectionIds } = await services
        .singleSession(callbackUrl)
        .kickOlder(identity.userId, connectionId, record.connectedAt);
      if (connectionIds.length > 0) {
        log('info', 'older sessions closed', {
          connectionId,
          userId: identity.userId,
          closed: connectionIds,
        });
      }
    }
    await scheduleWelcome({ connectionId, userId: identity.userId, callbackUrl });
    log('info', 'connected', { connectionId, userId: identity.userId });
    countMetric(Metric.connectAccepted);
    // Browsers drop the connection unless the response names one of the offered subprotocols.
    return offeredSubprotocols(event.headers).includes(CHAT_SUBPROTOCOL)
      ? { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': CHAT_SUBPROTOCOL } }
      : { statusCode: 200 };
  } catch (error) {
    log('error', 'connect failed', { connectionId, error });
    if (registration) await rollBack(connectionId, registration.userId, registration.callbackUrl);
    return { statusCode: 500, body: 'Internal server error' };
  }
}

/** `MAX_CONNECTIONS_PER_USER`; not applied with `SESSION_MODE=single`, which keeps one anyway. */
function connectionLimit(services: ReturnType<typeof getServices>): number {
  return services.config.sessionMode === 'single' ? 0 : services.config.maxConnectionsPerUser;
}

/**
 * A refused handshake gets no `$disconnect`, so a registration that a later step failed
 * would stay behind as a phantom connection: remove it (and say `offline` if it had
 * said `online`).
 */
async function rollBack(connectionId: string, userId: string, callbackUrl: string): Promise<void> {
  try {
    await getServices().presenceRegistry(callbackUrl).close(connectionId, userId);
  } catch (error) {
    log('error', 'connect rollback failed; the row expires with its TTL', { connectionId, error });
  }
}

let lambda: LambdaClient | undefined;

async function scheduleWelcome(request: WelcomeRequest): Promise<void> {
  const { config } = getServices();
  const functionName = config.welcomeFunctionName;
  if (!functionName) {
    log('warn', 'WELCOME_FUNCTION_NAME is not set; no welcome push', { connectionId: request.connectionId });
    return;
  }
  try {
    lambda ??= traced(new LambdaClient({ endpoint: config.lambdaEndpoint }));
    await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(request)),
      }),
    );
  } catch (error) {
    // The connection is usable without its greeting; do not refuse it for this.
    log('error', 'welcome invocation failed', { connectionId: request.connectionId, error });
  }
}
