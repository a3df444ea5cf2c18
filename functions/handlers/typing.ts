import { parseCommand } from '../core/messaging/commands.ts';
import { sendTyping, typingErrorCodes, typingSchema } from '../core/typing/typing.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(typingSchema, data, typingErrorCodes);
  const { userId } = await sender();
  return sendTyping(services.typing(callbackUrlFor(event.requestContext)), userId, input);
});
