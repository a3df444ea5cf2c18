import { parseCommand } from '../core/messaging/commands.ts';
import { react, reactErrorCodes, reactSchema } from '../core/reactions/reactions.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(reactSchema, data, reactErrorCodes);
  const { userId } = await sender();
  return react(
    services.reactions(callbackUrlFor(event.requestContext)),
    userId,
    input,
    'added',
    event.requestContext.connectionId,
  );
});
