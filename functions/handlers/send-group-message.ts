import { commandErrorCodes, parseCommand, sendGroupMessageSchema } from '../core/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(sendGroupMessageSchema, data, commandErrorCodes.sendGroupMessage);
  return services.chat(callbackUrlFor(event.requestContext)).sendGroupMessage(await sender(), input);
});
