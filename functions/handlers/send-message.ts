import { commandErrorCodes, parseCommand, sendMessageSchema } from '../core/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(sendMessageSchema, data, commandErrorCodes.sendMessage);
  return services.chat(callbackUrlFor(event.requestContext)).sendMessage(await sender(), input);
});
