import { commandErrorCodes, parseCommand, sendGroupMessageSchema } from '../core/messaging/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { recordMessage } from '../runtime/metrics.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/s3.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(sendGroupMessageSchema, data, commandErrorCodes.sendGroupMessage);
  const result = await services
    .chat(callbackUrlFor(event.requestContext))
    .sendGroupMessage(await sender(), input);
  recordMessage('group', result);
  return result;
});
