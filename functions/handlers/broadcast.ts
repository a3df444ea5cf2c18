import { broadcastSchema, commandErrorCodes, parseCommand } from '../core/messaging/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(broadcastSchema, data, commandErrorCodes.broadcast);
  return services.chat(callbackUrlFor(event.requestContext)).broadcast(await sender(), input);
});
