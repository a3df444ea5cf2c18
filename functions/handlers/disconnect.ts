/** `$disconnect` (best effort: it may never arrive, which is why rows carry a TTL). */
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { getServices } from '../runtime/container.ts';
import { log } from '../runtime/logger.ts';
import type { WebSocketResult } from '../runtime/websocket.ts';

export const handler = async (event: APIGatewayProxyWebsocketEventV2): Promise<WebSocketResult> => {
  const { connectionId } = event.requestContext;
  try {
    await getServices().registry.close(connectionId);
    log('info', 'disconnected', { connectionId });
  } catch (error) {
    log('error', 'disconnect cleanup failed', { connectionId, error });
  }
  return { statusCode: 200 };
};
