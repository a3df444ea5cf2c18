import { parseCommand } from '../core/messaging/commands.ts';
import { editMessage, editMessageErrorCodes, editMessageSchema } from '../core/messaging/edit.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(editMessageSchema, data, editMessageErrorCodes);
  const { userId } = await sender();
  return editMessage(
    services.edits(callbackUrlFor(event.requestContext)),
    userId,
    input,
    event.requestContext.connectionId,
  );
});
