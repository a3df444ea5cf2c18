/**
 * `$disconnect` (best effort: it may never arrive, which is why rows carry a TTL).
 * A user's last connection closing pushes `presence` `offline` to their online peers.
 */
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import type { ConnectionRegistry } from '../core/connections.ts';
import { callbackUrlFor, getServices } from '../runtime/container.ts';
import { log } from '../runtime/logger.ts';
import type { WebSocketResult } from '../runtime/websocket.ts';

export const handler = async (event: APIGatewayProxyWebsocketEventV2): Promise<WebSocketResult> => {
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
    await registry.close(connectionId);
    log('info', 'disconnected', { connectionId });
  } catch (error) {
    log('error', 'disconnect cleanup failed', { connectionId, error });
  }
  return { statusCode: 200 };
};
