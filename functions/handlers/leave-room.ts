/** `leave_room`: removes this connection from a room (also when it was not in it). */
import { parseRoomTarget } from '../core/rooms/rooms.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ event, data, services }) => {
  const input = parseRoomTarget(data);
  return services
    .roomService(callbackUrlFor(event.requestContext))
    .leave(event.requestContext.connectionId, input);
});
