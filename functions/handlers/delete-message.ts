import { parseCommand } from '../core/commands.ts';
import { deleteMessageErrorCodes, deleteMessageSchema, recallMessage } from '../core/recall.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { log } from '../runtime/logger.ts';
import { messageRoute } from '../runtime/websocket.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(deleteMessageSchema, data, deleteMessageErrorCodes);
  const { userId } = await sender();
  return recallMessage(
    {
      messages: services.messages,
      groups: services.groups,
      rooms: services.rooms,
      presence: services.presence,
      registry: services.registry,
      notifier: services.notifier(callbackUrlFor(event.requestContext)),
      fanOutConcurrency: services.config.fanOutConcurrency,
      log: (message, details) => log('warn', message, details),
    },
    userId,
    input,
    event.requestContext.connectionId,
  );
});
