/**
 * `$disconnect` (best effort: it may never arrive, which is why rows carry a TTL).
 * A user's last connection closing pushes `presence` `offline` to their online peers.
 * The user id comes from the deleted row or, when the row is already gone (TTL), from the
 * `$connect` authorizer's context, which API Gateway passes to `$disconnect` too; so the
 * presence entry is cleaned either way.
 */
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { identityFromAuthorizer } from '../core/auth/auth.ts';
import type { ConnectionRegistry } from '../core/connections/connections.ts';
import { withAppEvents } from '../runtime/app-events.ts';
import { callbackUrlFor, getServices } from '../runtime/container.ts';
import { log } from '../runtime/logger.ts';
import { authorizerOf, type WebSocketResult } from '../runtime/websocket.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = (event: APIGatewayProxyWebsocketEventV2): Promise<WebSocketResult> =>
  withAppEvents(() => disconnect(event));

async function disconnect(event: APIGatewayProxyWebsocketEventV2): Promise<WebSocketResult> {
  const { connectionId } = event.requestContext;
  try {
    const services = getServices();
    let registry: ConnectionRegistry;
    try {
      registry = services.presenceRegistry(callbackUrlFor(event.requestContext));
    } catch (error) {
      // Without a Management API endpoint there is no one to tell; still clean up.
      log('warn', 'no callback URL: closing without a presence push', { connectionId, error });
      registry = services.registry;
    }
    const userId = identityFromAuthorizer(authorizerOf(event))?.userId;
    await registry.close(connectionId, userId);
    log('info', 'disconnected', { connectionId, userId });
  } catch (error) {
    log('error', 'disconnect cleanup failed', { connectionId, error });
  }
  return { statusCode: 200 };
}
