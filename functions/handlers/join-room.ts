/** `join_room`: adds this connection to a room. */
import { parseRoomTarget } from '../core/rooms/rooms.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ event, data, services }) => {
  const input = parseRoomTarget(data);
  return services
    .roomService(callbackUrlFor(event.requestContext))
    .join(event.requestContext.connectionId, input);
});
