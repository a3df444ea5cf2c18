import { parseCommand } from '../core/messaging/commands.ts';
import { deleteMessageErrorCodes, deleteMessageSchema, recallMessage } from '../core/messaging/recall.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(deleteMessageSchema, data, deleteMessageErrorCodes);
  const { userId } = await sender();
  return recallMessage(
    services.recall(callbackUrlFor(event.requestContext)),
    userId,
    input,
    event.requestContext.connectionId,
  );
});
