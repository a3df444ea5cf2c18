/** `send_room_message`: the sending connection must be in the room; stored, then fanned out. */
import { parseRoomMessage } from '../core/rooms/rooms.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { recordMessage } from '../runtime/metrics.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/s3.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services }) => {
  const input = parseRoomMessage(data);
  const result = await services
    .roomService(callbackUrlFor(event.requestContext))
    .send(event.requestContext.connectionId, input);
  recordMessage('room', result);
  return result;
});
